//! The test kit: starts a real Tram server in-process on 127.0.0.1:0 with
//! its own database (a temporary SQLite file, or a fresh PostgreSQL
//! database when `TRAM_TEST_DATABASE_URL` is set), and gives tests HTTP
//! clients that behave like browsers (own cookie jar, CSRF header).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use serde_json::{json, Value};
use tram::Server;
use tram_platform::clock::Clock;
use tram_platform::config::Config;
pub use tram_testkit::browser::Client;
pub use tram_testkit::find_code;

pub const PASSWORD: &str = "correct horse battery";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub struct TestServer {
    pub server: Server,
    pub clock: Clock,
    pub base: String,
    dir: PathBuf,
}

/// Which database the suite runs on, announced once so a run says so.
fn backend() -> Option<String> {
    static ANNOUNCED: OnceLock<Option<String>> = OnceLock::new();
    ANNOUNCED
        .get_or_init(|| {
            let url = std::env::var("TRAM_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty());
            match &url {
                Some(_) => eprintln!("integration tests: PostgreSQL (TRAM_TEST_DATABASE_URL)"),
                None => eprintln!("integration tests: SQLite (set TRAM_TEST_DATABASE_URL to run them on PostgreSQL)"),
            }
            url
        })
        .clone()
}

/// A fresh PostgreSQL database for one test server.
async fn fresh_postgres(base_url: &str, name: &str) -> String {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(base_url)
        .await
        .expect("connect to TRAM_TEST_DATABASE_URL");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(base_url).unwrap();
    url.set_path(&format!("/{name}"));
    url.to_string()
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// Starts a server after `adjust` has changed the test configuration.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("tram-it-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = Config::default();
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.data_dir = dir.clone();
        config.dev_mode = true;
        // Cheaper hashing keeps the suite fast; the benchmark measures the
        // production parameters.
        config.security.argon2_memory_kib = 1024;
        config.security.argon2_iterations = 1;
        if let Some(base) = backend() {
            config.database_url =
                fresh_postgres(&base, &format!("tram_it_{}_{n}", std::process::id())).await;
        }
        if let Ok(nats) = std::env::var("TRAM_TEST_NATS_URL") {
            config.bus_url = nats;
        }
        // Nodes of a cluster share the key (codes are keyed hashes).
        config.secret_key = "5f".repeat(32);
        adjust(&mut config);
        let clock = Clock::system();
        let server = Server::start(config, clock.clone())
            .await
            .expect("server starts");
        let base = server.url();
        TestServer {
            server,
            clock,
            base,
            dir,
        }
    }

    pub fn state(&self) -> &tram_platform::AppState {
        &self.server.state
    }

    /// A new "browser": its own cookie jar.
    pub fn client(&self) -> Client {
        Client::new(&self.base)
    }

    pub fn advance(&self, secs: u64) {
        self.clock.advance(std::time::Duration::from_secs(secs));
    }

    /// The newest message the server sent to `destination` (dev outbox).
    pub async fn last_message(&self, destination: &str) -> Option<String> {
        tram_platform::notify::list_outbox(&self.state().db, Some(destination), 1)
            .await
            .unwrap()
            .into_iter()
            .next()
            .map(|m| m.body)
    }

    /// The 6-digit code in the newest message to `destination`.
    pub async fn last_code(&self, destination: &str) -> String {
        let body = self
            .last_message(destination)
            .await
            .expect("a message was sent");
        find_code(&body).unwrap_or_else(|| panic!("no code in {body:?}"))
    }

    pub async fn count(&self, sql: &str) -> i64 {
        use sqlx::Row;
        sqlx::query(sql)
            .fetch_one(self.state().db.read())
            .await
            .unwrap()
            .try_get::<i64, _>(0)
            .unwrap()
    }

    /// First-run setup: returns the owner's logged-in client.
    pub async fn setup(&self) -> Client {
        let owner = self.client();
        let res = owner
            .post(
                "/api/v1/setup",
                json!({ "org_name": "港鐵貿易有限公司", "display_name": "陳大文", "email": "owner@example.com", "password": PASSWORD }),
            )
            .await;
        assert_eq!(
            res.status(),
            200,
            "setup: {}",
            res.text().await.unwrap_or_default()
        );
        owner
    }

    /// Registers a new account by e-mail (optionally joining with an
    /// invitation, or creating a company) and returns its logged-in client.
    pub async fn register_email(
        &self,
        email: &str,
        name: &str,
        company: Option<&str>,
        invitation: Option<&str>,
    ) -> Client {
        let client = self.client();
        let res = client
            .post(
                "/api/v1/codes",
                json!({ "purpose": "register", "channel": "email", "destination": email }),
            )
            .await;
        assert_eq!(
            res.status(),
            200,
            "send code: {}",
            res.text().await.unwrap_or_default()
        );
        let code = self.last_code(email).await;
        let res = client
            .post(
                "/api/v1/register",
                json!({ "channel": "email", "destination": email, "code": code, "display_name": name,
                        "password": PASSWORD, "company_name": company, "invitation_code": invitation }),
            )
            .await;
        assert_eq!(
            res.status(),
            200,
            "register: {}",
            res.text().await.unwrap_or_default()
        );
        client
    }

    /// An invitation code of the owner's org.
    pub async fn invite(&self, admin: &Client, role: &str) -> String {
        let res = admin
            .post("/api/v1/org/invitations", json!({ "role": role }))
            .await;
        assert_eq!(res.status(), 200);
        res.json::<Value>().await.unwrap()["code"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn stop(self) {
        self.server.stop().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// A second node beside this one: same database, same secret key, same
    /// bus (so it needs PostgreSQL and NATS), its own address and data
    /// directory.
    pub async fn second_node(&self) -> TestServer {
        let mut config = self.server.state.config.clone();
        config.listen = "127.0.0.1:0".parse().unwrap();
        // Each node has its own data directory (search index, files).
        config.data_dir = self.dir.join("second-node");
        let server = Server::start(config, self.clock.clone())
            .await
            .expect("second node starts");
        TestServer {
            base: server.url(),
            server,
            clock: self.clock.clone(),
            dir: self.dir.clone(),
        }
    }

    /// Stops the server and starts it again on the same address, database
    /// and data directory (a restart; clients keep their cookies).
    pub async fn restart(self) -> TestServer {
        let mut config = self.server.state.config.clone();
        config.listen = self.server.addr;
        let clock = self.clock.clone();
        self.server.stop().await;
        let server = Server::start(config, clock.clone())
            .await
            .expect("server restarts");
        TestServer {
            base: server.url(),
            server,
            clock,
            dir: self.dir,
        }
    }
}

/// Whether this run can start a cluster (PostgreSQL and NATS are set).
pub fn cluster_available() -> bool {
    backend().is_some() && std::env::var("TRAM_TEST_NATS_URL").is_ok()
}

pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}
