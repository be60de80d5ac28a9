//! The `tram` command.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use serde::Serialize;
use tram_platform::config::Config;

#[derive(Parser)]
#[command(
    name = "tram",
    version,
    about = "Tram: a self-hosted workplace platform for Hong Kong teams"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    ///
    /// Every setting can also come from a TOML file (--config) or from
    /// TRAM_* environment variables (nested keys with a double underscore,
    /// e.g. TRAM_SMTP__HOST). Flags override the environment, which
    /// overrides the file. Settings: listen, data_dir, database_url
    /// (sqlite://… or postgres://…), public_url, dev_mode, secret_key,
    /// trusted_proxies, sms.{provider,api_base,account_id,account_secret,
    /// sender,template_code,region}, smtp.{host,port,tls,username,password,
    /// from}, security.* (see docs/ARCHITECTURE.md).
    Serve(ServeArgs),
}

#[derive(clap::Args, Serialize)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080] [env: TRAM_LISTEN]
    #[arg(long, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<SocketAddr>,
    /// Directory for the embedded database and files [default: ./tram-data] [env: TRAM_DATA_DIR]
    #[arg(long, value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
    /// TOML configuration file
    #[arg(long, value_name = "FILE", env = "TRAM_CONFIG")]
    #[serde(skip)]
    config: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRAM_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    match cli.command {
        Command::Serve(args) => {
            let config = Config::load(args.config.as_deref(), &args)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(tram::serve(config))
        }
    }
}
