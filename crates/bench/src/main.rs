//! `tram-bench`: Tram's benchmark program. It starts the real `tram`
//! binary (built next to it; `$TRAM_BIN` overrides) and measures it over
//! loopback the way clients use it. Results go to stdout as Markdown, ready
//! for docs/benchmarks.md.
//!
//! ```sh
//! cargo build --release -p tram -p tram-bench
//! target/release/tram-bench foundation
//! target/release/tram-bench foundation --postgres postgres://postgres@127.0.0.1:5432/test
//! target/release/tram-bench fanout [--members 1000] [--rate 100] [--seconds 30]
//! target/release/tram-bench idle-sockets [--sockets 5000]
//! target/release/tram-bench search [--messages 1000000]
//! target/release/tram-bench ingest [--members 100] [--rates 1000,2000,3000] [--seconds 10]
//! target/release/tram-bench assistant
//! target/release/tram-bench approvals [--instances 10000] [--clients 16] [--follow-notices 300]
//! ```

mod approvals;
mod assistant;
mod baseline;
mod fanout;
mod foundation;
mod idle;
mod ingest;
mod node;
mod org;
mod poster;
mod receivers;
mod search;
mod stats;

use clap::{Parser, Subcommand};

use crate::node::Backend;

#[derive(Parser)]
#[command(
    name = "tram-bench",
    about = "Measures a real tram server over loopback"
)]
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
    /// Chat fan-out: one group, every member's socket receiving every
    /// message; latency, throughput and losses, against a bare broadcast
    /// server on the same machine.
    Fanout {
        /// Members of the group, each with a session and a socket.
        #[arg(long, default_value_t = 1000)]
        members: usize,
        /// Messages posted per second.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        #[arg(long, default_value_t = 30.0)]
        seconds: f64,
    },
    /// Server memory per idle, authenticated WebSocket.
    IdleSockets {
        #[arg(long, default_value_t = 5000)]
        sockets: usize,
        /// Distinct users the sockets belong to (default: one per socket).
        #[arg(long)]
        users: Option<usize>,
    },
    /// Robot webhook ingest with signing on: signed DingTalk messages to
    /// `/robot/send` at each rate, delivered to a group whose members all
    /// have a socket, against a bare signature-checking endpoint.
    Ingest {
        #[arg(long, default_value_t = 100)]
        members: usize,
        /// Offered messages per second, one run each.
        #[arg(long, value_delimiter = ',', default_value = "1000,2000,3000")]
        rates: Vec<f64>,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
    /// The AI assistant on the sample knowledge base: top-1 correctness,
    /// correct refusals, latency (offline, no LLM).
    Assistant,
    /// Approval throughput: a three-node flow with a condition branch,
    /// instances submitted and approved to the archive by concurrent
    /// clients; completed instances/s and approve latency.
    Approvals {
        #[arg(long, default_value_t = 10_000)]
        instances: usize,
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// How long to follow the work-notice queue after the last request
        /// is archived (0: not at all).
        #[arg(long, default_value_t = 300)]
        follow_notices: u64,
    },
    /// The baseline server `fanout` runs as its child (not for direct use).
    #[command(hide = true)]
    BaselineServer,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::BaselineServer = cli.command {
        return baseline::serve().await;
    }
    node::raise_fd_limit()?;
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
        Command::Search {
            messages,
            groups,
            member_of,
            queries,
        } => {
            anyhow::ensure!(
                messages > 0 && groups > 0 && member_of <= groups && queries > 0,
                "need messages, groups and queries"
            );
            search::run(
                &backend,
                &search::Options {
                    messages,
                    groups,
                    member_of,
                    queries,
                },
            )
            .await
        }
        Command::Fanout {
            members,
            rate,
            seconds,
        } => {
            anyhow::ensure!(
                members >= 2 && rate > 0.0 && seconds > 0.0,
                "need two members and a positive rate and duration"
            );
            fanout::run(
                &backend,
                &fanout::Options {
                    members,
                    rate,
                    seconds,
                },
            )
            .await
        }
        Command::IdleSockets { sockets, users } => {
            let users = users.unwrap_or(sockets);
            idle::run(&backend, &idle::Options { sockets, users }).await
        }
        Command::Ingest {
            members,
            rates,
            seconds,
        } => {
            anyhow::ensure!(
                members >= 2
                    && !rates.is_empty()
                    && rates.iter().all(|r| *r > 0.0)
                    && seconds > 0.0,
                "need two members and positive rates and duration"
            );
            ingest::run(
                &backend,
                &ingest::Options {
                    members,
                    rates,
                    seconds,
                },
            )
            .await
        }
        Command::Assistant => assistant::run(&backend).await,
        Command::Approvals {
            instances,
            clients,
            follow_notices,
        } => {
            anyhow::ensure!(instances > 0 && clients > 0, "need instances and clients");
            let options = approvals::Options {
                instances,
                clients,
                follow_notices: std::time::Duration::from_secs(follow_notices),
            };
            approvals::run(&backend, &options).await
        }
        Command::BaselineServer => unreachable!("handled above"),
    }
}
