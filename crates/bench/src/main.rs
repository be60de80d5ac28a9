//! `tram-bench`: Tram's benchmark program. It starts the real `tram`
//! binary (built next to it; `$TRAM_BIN` overrides) and measures it over
//! loopback the way clients use it. Results go to stdout as Markdown, ready
//! for docs/benchmarks.md.
//!
//! ```sh
//! cargo build --release -p tram -p tram-bench
//! target/release/tram-bench foundation
//! target/release/tram-bench foundation --postgres postgres://postgres@127.0.0.1:5432/test
//! target/release/tram-bench search [--messages 1000000]
//! ```

mod foundation;
mod node;
mod org;
mod search;
mod stats;

use clap::{Parser, Subcommand};

use crate::node::Backend;

#[derive(Parser)]
#[command(name = "tram-bench", about = "Measures a real tram server over loopback")]
struct Cli {
    /// Run against PostgreSQL at this server URL (a fresh database is
    /// created per node) instead of SQLite.
    #[arg(long, global = true, value_name = "URL")]
    postgres: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Cold start, idle memory, password logins, QR login latency.
    Foundation {
        #[arg(long, default_value_t = 5)]
        starts: usize,
        #[arg(long, default_value_t = 200)]
        logins: usize,
        #[arg(long, default_value_t = 4)]
        login_workers: usize,
        #[arg(long, default_value_t = 50)]
        qr_logins: usize,
    },
    /// Message search latency over a large mixed Chinese/English history
    /// (SQLite).
    Search {
        #[arg(long, default_value_t = 1_000_000)]
        messages: usize,
        #[arg(long, default_value_t = 200)]
        groups: usize,
        /// Groups the searcher belongs to.
        #[arg(long, default_value_t = 50)]
        member_of: usize,
        #[arg(long, default_value_t = 1000)]
        queries: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let backend = match cli.postgres {
        Some(url) => Backend::Postgres(url),
        None => Backend::Sqlite,
    };
    println!(
        "(machine: {} CPUs; tram binary {})\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        node::tram_binary()?.display()
    );
    match cli.command {
        Command::Foundation {
            starts,
            logins,
            login_workers,
            qr_logins,
        } => {
            foundation::run(
                &backend,
                &foundation::Options {
                    starts,
                    logins,
                    login_workers,
                    qr_logins,
                },
            )
            .await
        }
        Command::Search { messages, groups, member_of, queries } => {
            anyhow::ensure!(messages > 0 && groups > 0 && member_of <= groups && queries > 0, "need messages, groups and queries");
            search::run(&backend, &search::Options { messages, groups, member_of, queries }).await
        }
    }
}
