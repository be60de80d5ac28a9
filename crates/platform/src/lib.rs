//! Platform pieces every domain stands on: configuration, the database,
//! time, secrets, translations, errors, notifications (SMS, e-mail, the
//! development outbox), the event bus, the audit log and the web shell.
//! Nothing here knows about a particular domain.

pub mod audit;
pub mod blobs;
pub mod bus;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod extensions;
pub mod group_commit;
pub mod i18n;
pub mod jobs;
pub mod notify;
pub mod remembered;
pub mod search;
pub mod web;

use std::ops::Deref;
use std::sync::Arc;

pub use error::{ApiError, ApiResult, Msg};

/// Everything a request handler or job needs, cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

pub struct Services {
    pub config: config::Config,
    pub db: db::Db,
    pub clock: clock::Clock,
    pub keys: crypto::SecretKey,
    pub notifier: notify::Notifier,
    pub bus: bus::Bus,
    /// File contents under `<data dir>/blobs/`.
    pub blobs: blobs::Blobs,
    /// Full-text indexes under `<data dir>/search/`.
    pub indexes: search::Indexes,
    pub shutdown: Shutdown,
    /// Per-server values of the domains (their write queues, caches).
    pub extensions: extensions::Extensions,
}

/// Tells long-lived connections (WebSockets, event streams) that the server
/// is stopping, so they close and clients reconnect elsewhere; the job
/// runner hands back the jobs it has claimed and not started.
#[derive(Clone)]
pub struct Shutdown(tokio::sync::watch::Sender<bool>);

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown(tokio::sync::watch::channel(false).0)
    }
}

impl Shutdown {
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }

    /// Whether the server is stopping.
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the server is stopping.
    pub async fn wait(&self) {
        let mut receiver = self.0.subscribe();
        let _ = receiver.wait_for(|stopping| *stopping).await;
    }
}

impl AppState {
    pub fn new(services: Services) -> AppState {
        AppState(Arc::new(services))
    }
}

impl Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}
