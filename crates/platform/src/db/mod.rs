//! The database handle: one SQL dialect written for both SQLite and
//! PostgreSQL through sqlx's `Any` driver.
//!
//! Queries use `$1, $2, …` placeholders, which both backends accept. Columns
//! avoid types the two disagree on: times are `BIGINT` Unix milliseconds,
//! ids are `TEXT`, flags are nullable timestamps or `BIGINT` 0/1.
//!
//! SQLite allows one writer at a time, so on SQLite writes go through a pool
//! of one connection (no `SQLITE_BUSY` between our own writers) while reads
//! use a wider pool; on PostgreSQL both handles are the same pool. An
//! in-memory SQLite database (`sqlite::memory:`, for tests) lives in its
//! one write connection, which then serves the reads too.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

mod batch;
mod checkpoint;
mod direct;
mod lane;
mod row;
pub use batch::{bind, Arg, BatchedTx, Query, Reply};
pub use row::{FromValue, Row, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    backend: Backend,
    read: AnyPool,
    write: AnyPool,
    /// SQLite on a file: the thread write transactions run on (see
    /// `lane`).
    lane: Option<std::sync::Arc<lane::WriterLane>>,
    /// SQLite on a file: connections for short reads on the caller's
    /// thread (see [`Db::read_rows`]).
    readers: Option<std::sync::Arc<direct::DirectReaders>>,
    /// SQLite on a file: the thread that checkpoints the write-ahead log.
    _checkpointer: Option<std::sync::Arc<checkpoint::Checkpointer>>,
}

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

impl Db {
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        Db::connect_with_log_limit(url, checkpoint::RESTART_LOG_AT_PAGES).await
    }

    /// [`Db::connect`], with the write-ahead log started again (SQLite) at
    /// `restart_log_at_pages` (see `checkpoint`).
    async fn connect_with_log_limit(
        url: &str,
        restart_log_at_pages: u32,
    ) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let options = AnyConnectOptions::from_str(url)?;
        match backend {
            Backend::Sqlite => {
                let write = sqlite_pool(1).connect_with(options.clone()).await?;
                // The file SQLite opened; none for an in-memory database,
                // which every connection would see afresh (and connections
                // of our own would each open a file of its name): there
                // the one write connection does everything.
                let file: String =
                    sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                        .fetch_one(&write)
                        .await?;
                if file.is_empty() {
                    return Ok(Db {
                        backend,
                        read: write.clone(),
                        write,
                        lane: None,
                        readers: None,
                        _checkpointer: None,
                    });
                }
                // WAL must be on before readers open their connections.
                let read = sqlite_pool(8).connect_with(options).await?;
                let file = std::path::Path::new(&file);
                let finish_log = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                let lane = lane::WriterLane::start(file, finish_log.clone())?;
                let checkpointer = checkpoint::Checkpointer::start(
                    file,
                    write.clone(),
                    finish_log,
                    restart_log_at_pages,
                )?;
                let readers = direct::DirectReaders::open(file, DIRECT_READERS)?;
                Ok(Db {
                    backend,
                    read,
                    write,
                    lane: Some(std::sync::Arc::new(lane)),
                    readers: Some(std::sync::Arc::new(readers)),
                    _checkpointer: Some(std::sync::Arc::new(checkpointer)),
                })
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?;
                Ok(Db {
                    backend,
                    read: pool.clone(),
                    write: pool,
                    lane: None,
                    readers: None,
                    _checkpointer: None,
                })
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Pool for queries that only read.
    pub fn read(&self) -> &AnyPool {
        &self.read
    }

    /// The rows of a short read: a lookup by key or through an index, of
    /// a few rows. On SQLite it runs on the caller's thread, on a
    /// connection of its own (`direct`; through the read pool when all of
    /// those are in use), so it must be short: a listing or a search goes
    /// through [`Db::read`]. On PostgreSQL, the pool.
    pub async fn read_rows(&self, sql: &str, args: Vec<Arg>) -> Result<Vec<Row>, sqlx::Error> {
        if let Some(rows) = self.readers.as_ref().and_then(|r| r.try_read(sql, &args)) {
            return rows;
        }
        self.pooled_rows(sql, args).await
    }

    /// The rows of any read, through the read pool, as [`Row`]s.
    pub async fn pooled_rows(&self, sql: &str, args: Vec<Arg>) -> Result<Vec<Row>, sqlx::Error> {
        let mut rows = batch::Rows::default();
        let mut results = bind(sqlx::query(sql), args).fetch(&self.read);
        while let Some(row) = futures::TryStreamExt::try_next(&mut results).await? {
            rows.push(&row)?;
        }
        Ok(rows.take())
    }

    /// The first row of a short read ([`Db::read_rows`]), if any.
    pub async fn read_row(&self, sql: &str, args: Vec<Arg>) -> Result<Option<Row>, sqlx::Error> {
        Ok(self.read_rows(sql, args).await?.into_iter().next())
    }

    /// Pool for statements that write (outside a transaction).
    pub fn write(&self) -> &AnyPool {
        &self.write
    }

    /// A transaction on the writer: everything in it commits or nothing does.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.write.begin().await
    }

    /// A transaction on the writer whose queued writes travel together
    /// (see [`BatchedTx`]).
    pub async fn begin_batched(&self) -> Result<BatchedTx, sqlx::Error> {
        BatchedTx::begin(self).await
    }

    /// The writer lane, when it exists (SQLite).
    pub(crate) fn lane(&self) -> Option<&std::sync::Arc<lane::WriterLane>> {
        self.lane.as_ref()
    }

    /// Runs `work` — a write transaction, from `begin` to `commit` — where
    /// holding the writer costs least: on SQLite the writer's own thread
    /// (see `lane`), on PostgreSQL right here. A [`BatchedTx`] begun there
    /// runs its statements on the lane's own connection, so it must make
    /// them through `push`, `query` and `query_each` (not `conn`).
    pub async fn in_writer_lane<F, T>(&self, work: F) -> T
    where
        F: std::future::Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        match &self.lane {
            Some(lane) => lane.run(work).await,
            None => work.await,
        }
    }

    pub async fn migrate(
        &self,
        sqlite: &Migrator,
        postgres: &Migrator,
    ) -> Result<(), sqlx::migrate::MigrateError> {
        match self.backend {
            Backend::Sqlite => sqlite.run(&self.write).await,
            Backend::Postgres => postgres.run(&self.write).await,
        }
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.read).await.is_ok()
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

/// Every SQLite connection's settings (the pools' and the writer lane's).
/// Checkpoints run on a thread of their own (`checkpoint`), not in commits.
const SQLITE_SETTINGS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
     PRAGMA wal_autocheckpoint = 0;";

/// Direct readers on SQLite: one for each of the runtime's threads and a
/// few to spare for `spawn_blocking` callers.
const DIRECT_READERS: usize = 4;

fn sqlite_pool(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        // A local file does not drop its connection: no ping before each
        // use (on SQLite a ping is another trip to the driver's thread).
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(SQLITE_SETTINGS).await?;
                Ok(())
            })
        })
}

/// True when `err` is a unique-constraint violation (the row already exists).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}

/// `text` as a `LIKE` pattern that matches it literally (used with
/// `ESCAPE '\'`).
pub fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// `count` numbered placeholders from `$first`, for an `IN (…)` list:
/// `placeholders(2, 3)` is `$2, $3, $4`.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `VALUES` rows of a multi-row insert: `rows` groups of `columns`
/// numbered placeholders, `($1, $2), ($3, $4)`.
pub fn value_rows(rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for column in 0..columns {
            if column > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(row * columns + column + 1).to_string());
        }
        out.push(')');
    }
    out
}

/// A new random id (UUIDv7: time-ordered, so indexes stay compact).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::Db;
    use crate::args;

    /// An in-memory database cannot be shared with connections of Tram's
    /// own (each would open a file of its name), nor between the pool's
    /// connections: its one write connection serves the writer lane's
    /// transactions and the short reads, which see each other's writes.
    #[tokio::test]
    async fn an_in_memory_database_is_served_by_its_write_connection_alone() {
        let db = Db::connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE t (v TEXT)")
            .execute(db.write())
            .await
            .unwrap();
        let lane_db = db.clone();
        db.in_writer_lane(async move {
            let mut tx = lane_db.begin_batched().await.unwrap();
            tx.push("INSERT INTO t (v) VALUES ($1)", args!["kept"]);
            tx.commit().await.unwrap();
        })
        .await;
        let row = db.read_row("SELECT v FROM t", args![]).await.unwrap();
        assert_eq!(row.unwrap().try_get::<String>("v").unwrap(), "kept");
        db.close().await;
    }

    #[test]
    fn like_patterns_match_literally() {
        assert_eq!(super::escape_like("a_b%c\\"), "a\\_b\\%c\\\\");
    }

    #[test]
    fn value_rows_number_every_placeholder() {
        assert_eq!(super::value_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::value_rows(1, 1), "($1)");
    }

    #[test]
    fn placeholders_count_on_from_the_first() {
        assert_eq!(super::placeholders(2, 3), "$2, $3, $4");
        assert_eq!(super::placeholders(1, 1), "$1");
        assert_eq!(super::placeholders(1, 0), "");
    }
}
