//! The Tram server: builds the platform services from configuration,
//! applies migrations, composes every domain's routes behind the shared
//! middleware (language, CSRF, session, page shell) and serves them.

mod home;
mod openapi;
mod shell;

use std::net::SocketAddr;

use anyhow::Context;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;
use tram_platform::bus::Bus;
use tram_platform::clock::Clock;
use tram_platform::config::Config;
use tram_platform::crypto::SecretKey;
use tram_platform::db::Db;
use tram_platform::notify::Notifier;
use tram_platform::web::csrf::{self, CsrfExempt};
use tram_platform::web::locale;
use tram_platform::{AppState, Services};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// Builds the services: data directory, key, database (migrated), bus,
/// notifier.
pub async fn build_state(config: Config, clock: Clock) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let keys = if config.secret_key.is_empty() {
        SecretKey::load_or_create(&config.data_dir.join("secret.key"))?
    } else {
        SecretKey::from_hex(&config.secret_key)?
    };
    let db = Db::connect(&config.database_url())
        .await
        .context("cannot open the database")?;
    db.migrate(&SQLITE_MIGRATIONS, &POSTGRES_MIGRATIONS)
        .await
        .context("cannot apply database migrations")?;
    let notifier = Notifier::from_config(&config, &db, &clock)?;
    let bus = Bus::from_url(&config.bus_url)
        .await
        .with_context(|| format!("cannot connect to the event bus at {}", config.bus_url))?;
    let data_dir = config.data_dir.clone();
    Ok(AppState::new(Services {
        config,
        db,
        clock,
        keys,
        notifier,
        bus,
        blobs: tram_platform::blobs::Blobs::new(data_dir.join("blobs")),
        indexes: tram_platform::search::Indexes::new(data_dir.join("search")),
        shutdown: tram_platform::Shutdown::default(),
        extensions: Default::default(),
    }))
}

/// Every route of the server behind the shared middleware.
pub fn router(state: AppState) -> Router {
    let exempt = CsrfExempt(tram_bots::web::CSRF_EXEMPT.to_vec());
    let limited = Router::new()
        .merge(tram_accounts::web::api::routes())
        .merge(tram_accounts::web::pages::routes())
        .merge(tram_org::web::api::routes())
        .merge(tram_org::web::pages::routes())
        .merge(tram_chat::web::api::routes())
        .merge(tram_chat::web::socket::routes())
        .merge(tram_chat::web::files::routes())
        .merge(tram_chat::web::pages::routes())
        .merge(tram_bots::web::api::routes())
        .merge(tram_bots::web::assistant::routes())
        .merge(tram_bots::web::assistant_pages::routes())
        .merge(tram_bots::web::webhook::routes())
        .merge(tram_bots::web::pages::routes())
        .merge(tram_approvals::web::api::routes())
        .merge(tram_approvals::web::pages::routes())
        .merge(tram_bots::web::schedule::routes())
        .merge(home::routes())
        .merge(openapi::routes())
        // Uploads have their own limit (chat.max_upload_bytes), checked
        // as they stream in.
        .layer(RequestBodyLimitLayer::new(16 * 1024 * 1024));
    Router::new()
        .merge(limited)
        .merge(tram_chat::web::files::upload_routes())
        .merge(tram_approvals::web::api::upload_routes())
        .layer(from_fn_with_state(state.clone(), shell::layer))
        .layer(from_fn_with_state(
            state.clone(),
            tram_accounts::web::authenticate,
        ))
        .layer(from_fn_with_state((state.clone(), exempt), csrf::guard))
        .layer(from_fn(locale::layer))
        .layer(from_fn(shell::security_headers))
        // Spans name the path only: query strings carry credentials (a
        // robot's access_token and sign) that must not reach the logs.
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<axum::body::Body>| {
            tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
        }))
        .with_state(state)
}

/// The handlers of every kind of durable job (crates/platform/src/jobs.rs).
pub fn job_runner() -> tram_platform::jobs::Runner {
    let runner = tram_platform::jobs::Runner::new();
    let runner = tram_approvals::deadlines::register(runner);
    let runner = tram_bots::mention::register(runner);
    tram_bots::schedule::runs::register(runner)
}

/// A running server (used by `serve` and by the integration tests).
pub struct Server {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    indexer: tokio::task::JoinHandle<()>,
    pruner: tokio::task::JoinHandle<()>,
    /// Keeps the assistant's knowledge index following its change log.
    knowledge: tokio::task::JoinHandle<()>,
    jobs: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn start(config: Config, clock: Clock) -> anyhow::Result<Server> {
        let listen = config.listen;
        let state = build_state(config, clock).await?;
        match tram_chat::attachments::sweep(&state).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "removed files no message refers to"),
            Err(err) => tracing::warn!(error = %err, "could not sweep unreferenced files"),
        }
        match tram_approvals::files::sweep(&state).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "removed approval files no request claimed"),
            Err(err) => tracing::warn!(error = %err, "could not sweep approval files"),
        }
        let indexer = tram_chat::search::spawn_indexer(state.clone());
        let pruner = tram_bots::calls::spawn_pruner(state.clone());
        let knowledge = tram_bots::assistant::retrieve::spawn_indexer(state.clone());
        let jobs = job_runner().spawn(state.clone());
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            // Chat frames are small and must leave at once: no Nagle delay
            // waiting for the client's (possibly delayed) ACK.
            let listener = listener.tap_io(|tcp| {
                if let Err(err) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %err, "TCP_NODELAY");
                }
            });
            if let Err(err) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(error = %err, "server stopped");
            }
        });
        Ok(Server {
            addr,
            state,
            shutdown: Some(tx),
            task,
            indexer,
            pruner,
            knowledge,
            jobs,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets requests in flight finish, closes the database.
    pub async fn stop(mut self) {
        self.state.shutdown.trigger();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Open streams (SSE) would hold a graceful shutdown forever.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), &mut self.task).await;
        self.task.abort();
        // The indexer finishes its round and lets go of the index.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), &mut self.indexer).await;
        self.indexer.abort();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), &mut self.pruner).await;
        self.pruner.abort();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), &mut self.knowledge).await;
        self.knowledge.abort();
        // A job in flight finishes (its lease would hand it to another
        // node otherwise, after the lease runs out).
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), &mut self.jobs).await;
        self.jobs.abort();
        self.state.indexes.close();
        self.state.db.close().await;
    }
}

/// `tram serve`: runs until Ctrl-C or SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    if config.dev_mode {
        tracing::warn!("development mode: SMS and e-mail are copied to /admin/outbox; set dev_mode = false in production");
    }
    let server = Server::start(config, Clock::system()).await?;
    tracing::info!(url = %server.state.config.public_url(), listen = %server.addr, "Tram is listening");
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.stop().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
