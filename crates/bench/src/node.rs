//! Runs the real `tram` binary as a child process with a fresh data
//! directory (and, when asked, a fresh PostgreSQL database), the way an
//! operator would start it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use sqlx::Connection;

/// Where the database lives for one run.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    /// A server URL such as `postgres://postgres@127.0.0.1:5432/test`; each
    /// node gets a database of its own created on it.
    Postgres(String),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }
}

pub struct TramNode {
    child: Child,
    pub base: String,
    pub data_dir: PathBuf,
    /// The PostgreSQL server and the database made for this node, dropped
    /// with it.
    database: Option<(String, String)>,
    /// How long from spawning the process until `/healthz` answered 200.
    pub started_in: Duration,
}

/// The `tram` binary: `$TRAM_BIN`, or the one built next to this program.
pub fn tram_binary() -> anyhow::Result<PathBuf> {
    if let Ok(path) = std::env::var("TRAM_BIN") {
        return Ok(PathBuf::from(path));
    }
    let here = std::env::current_exe()?;
    let path = here.with_file_name("tram");
    if !path.exists() {
        bail!(
            "{} not found: build it with `cargo build --release -p tram` or set TRAM_BIN",
            path.display()
        );
    }
    Ok(path)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn fresh_postgres(server: &str, name: &str) -> anyhow::Result<String> {
    let mut conn = sqlx::PgConnection::connect(server)
        .await
        .with_context(|| format!("connecting to {server}"))?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await?;
    let mut url = reqwest::Url::parse(server)?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

fn drop_postgres(server: &str, name: &str) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    runtime.block_on(async {
        if let Ok(mut conn) = sqlx::PgConnection::connect(server).await {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        }
    });
}

impl TramNode {
    /// Starts `tram serve` with `settings` (TOML) in a new directory under
    /// the system temp dir and waits until it is healthy.
    pub async fn start(name: &str, backend: &Backend, settings: &str) -> anyhow::Result<TramNode> {
        let data_dir =
            std::env::temp_dir().join(format!("tram-bench-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir)?;
        let mut config = settings.to_string();
        let mut database = None;
        if let Backend::Postgres(server) = backend {
            let db = format!(
                "tram_bench_{}_{}",
                std::process::id(),
                name.replace('-', "_")
            );
            let url = fresh_postgres(server, &db).await?;
            config = format!("database_url = \"{url}\"\n{config}");
            database = Some((server.clone(), db));
        }
        let mut node = TramNode::spawn(&data_dir, &config).await?;
        node.database = database;
        Ok(node)
    }

    async fn spawn(data_dir: &Path, config: &str) -> anyhow::Result<TramNode> {
        let config_file = data_dir.join("bench.toml");
        std::fs::write(&config_file, config)?;
        let port = free_port()?;
        let log = std::fs::File::create(data_dir.join("tram.log"))?;
        let began = Instant::now();
        let child = Command::new(tram_binary()?)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--config")
            .arg(&config_file)
            // TRAM_BENCH_LOG sets the server's log filter (default: warn).
            .env(
                "TRAM_LOG",
                std::env::var("TRAM_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting tram")?;
        let base = format!("http://127.0.0.1:{port}");
        let mut node = TramNode {
            child,
            base,
            data_dir: data_dir.to_path_buf(),
            database: None,
            started_in: Duration::ZERO,
        };
        let http = reqwest::Client::new();
        loop {
            if let Ok(response) = http.get(format!("{}/healthz", node.base)).send().await {
                if response.status() == 200 {
                    break;
                }
            }
            if let Some(status) = node.child.try_wait()? {
                bail!(
                    "tram exited with {status}; see {}",
                    data_dir.join("tram.log").display()
                );
            }
            if began.elapsed() > Duration::from_secs(60) {
                bail!("tram did not become healthy within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        node.started_in = began.elapsed();
        Ok(node)
    }

    /// Resident memory of the server process, in KiB (Linux).
    /// A count (`SELECT COUNT(*) …`) read from the node's database beside
    /// the running server.
    pub async fn count(&self, sql: &str) -> anyhow::Result<i64> {
        let url = match &self.database {
            Some((server, name)) => {
                let mut url = reqwest::Url::parse(server)?;
                url.set_path(&format!("/{name}"));
                url.to_string()
            }
            None => format!("sqlite:{}?mode=ro", self.data_dir.join("tram.db").display()),
        };
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&url)
            .await
            .with_context(|| format!("reading {url}"))?;
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await?;
        conn.close().await?;
        Ok(n)
    }

    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        rss_kib(self.child.id())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// CPU time (user + system) a process has used so far, in seconds (Linux).
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("malformed /proc/<pid>/stat")?
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields.get(11).context("no utime")?.parse::<u64>()?
        + fields.get(12).context("no stime")?.parse::<u64>()?;
    // SAFETY: sysconf only reads a system constant.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok(ticks as f64 / per_second)
}

/// CPU time the whole machine has been busy so far (all processes, kernel
/// included), in seconds: to tell what else ran during a measurement.
pub fn machine_busy_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("cpu "))
        .context("no cpu line in /proc/stat")?
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal …
    let busy: u64 = fields
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    // SAFETY: sysconf only reads a system constant.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok(busy as f64 / per_second)
}

/// Raises this process's open-file limit to its hard limit; children
/// (the servers) inherit it. Thousands of sockets need thousands of fds on
/// both ends.
pub fn raise_fd_limit() -> anyhow::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            bail!("getrlimit: {}", std::io::Error::last_os_error());
        }
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            bail!("setrlimit: {}", std::io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur)
}

pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/<pid>/status")
}

impl Drop for TramNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // TRAM_BENCH_KEEP=1 keeps the data directory (and tram.log) for a look.
        if std::env::var_os("TRAM_BENCH_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.data_dir);
            if let Some((server, name)) = self.database.take() {
                // Drop runs inside the bench's runtime, which must not block
                // on itself: a thread of its own does the SQL.
                let _ = std::thread::spawn(move || drop_postgres(&server, &name)).join();
            }
        }
    }
}

/// A node that was stopped with its data kept, to be started again.
pub struct StoppedNode {
    data_dir: PathBuf,
    config: String,
}

impl TramNode {
    /// Stops the server (as a crash would) and keeps its data directory.
    pub async fn stop_keeping_data(mut self) -> anyhow::Result<StoppedNode> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let config = std::fs::read_to_string(self.data_dir.join("bench.toml"))?;
        // Taken out so that dropping `self` removes nothing.
        let data_dir = std::mem::take(&mut self.data_dir);
        Ok(StoppedNode { data_dir, config })
    }

    /// Starts a stopped node again on its data and configuration.
    pub async fn restart(stopped: StoppedNode) -> anyhow::Result<TramNode> {
        TramNode::spawn(&stopped.data_dir, &stopped.config).await
    }
}
