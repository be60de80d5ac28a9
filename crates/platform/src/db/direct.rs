//! SQLite connections Tram runs statements on directly, without sqlx:
//! the writer lane's own connection (see `lane`), and the direct readers.
//!
//! sqlx runs every SQLite connection on a thread of its own, so each
//! statement is a trip from the caller's thread to the connection's and
//! back, made while the transaction holds the one writer. The lane
//! therefore opens a connection of its own and runs its transactions'
//! statements on it directly, on the lane's thread: a trip becomes a
//! function call. (Measured, that took a decision's hold on the writer
//! from 0.6 to 0.54 ms; most of the rest is SQLite writing the log.)
//!
//! The pool's write connection stays the lock: a transaction on the lane
//! holds it (idle) from `BEGIN` to `COMMIT`, so the lane never writes at
//! the same time as a writer on the pool, and no writer meets
//! `SQLITE_BUSY`.
//!
//! The direct readers ([`DirectReaders`]) do the same for short reads:
//! a point read through sqlx's pool costs two trips to a connection's
//! thread (the query, and the connection's return to the pool), several
//! times what SQLite spends answering it. A direct reader runs it on the
//! caller's thread. In WAL mode a reader waits for no writer, so such a
//! read takes as long as SQLite takes, tens of microseconds for a lookup
//! by key — short enough to run on the async runtime's threads, and only
//! reads of that kind belong here (see [`super::Db::read_rows`]).

use std::borrow::Cow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, TryLockError};

use rusqlite::types::ValueRef;
use rusqlite::{ffi, Connection, OpenFlags};
use sqlx::error::{DatabaseError, ErrorKind};

use super::row::{Row, Value};
use super::{Arg, Reply};

pub(crate) struct DirectWriter {
    conn: Mutex<Connection>,
    /// Set by the checkpoint thread when the log has grown long enough to
    /// be started again (see `checkpoint`).
    finish_log: Arc<AtomicBool>,
}

impl DirectWriter {
    /// Opens the database file with the settings of the pool's
    /// connections.
    pub(crate) fn open(
        path: &Path,
        finish_log: Arc<AtomicBool>,
    ) -> Result<DirectWriter, sqlx::Error> {
        Ok(DirectWriter {
            conn: Mutex::new(open(path, "")?),
            finish_log,
        })
    }

    /// After a commit, while the lane still holds the writer: when the
    /// checkpoint thread has asked for it, copies the rest of the log into
    /// the database, so that the next write transaction starts the log
    /// again (see `checkpoint`).
    pub(crate) fn finish_log_if_asked(&self) {
        if !self.finish_log.swap(false, Ordering::SeqCst) {
            return;
        }
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(err) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %err, "finishing a WAL checkpoint on the writer lane failed");
        }
    }

    /// Runs the statements in order; a reply for each. Stops at the first
    /// that fails (the caller's transaction then rolls back).
    pub(crate) fn run(&self, statements: &[(String, Vec<Arg>)]) -> Result<Vec<Reply>, sqlx::Error> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        statements
            .iter()
            .map(|(sql, args)| run_one(&conn, sql, args).map_err(into_sqlx))
            .collect()
    }

    /// Undoes an open transaction, if there is one (after a failure, or a
    /// transaction dropped before its commit).
    pub(crate) fn roll_back(&self) {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if !conn.is_autocommit() {
            if let Err(err) = conn.execute_batch("ROLLBACK") {
                tracing::error!(error = %err, "rolling back on the writer lane failed");
            }
        }
    }
}

/// A few read-only connections, each used by one caller at a time (see
/// the module).
pub(crate) struct DirectReaders {
    conns: Vec<Mutex<Connection>>,
    /// Where the next caller starts looking for a free connection.
    next: AtomicUsize,
}

impl DirectReaders {
    pub(crate) fn open(path: &Path, count: usize) -> Result<DirectReaders, sqlx::Error> {
        let conns = (0..count)
            .map(|_| open(path, "PRAGMA query_only = ON;").map(Mutex::new))
            .collect::<Result<_, _>>()?;
        Ok(DirectReaders {
            conns,
            next: AtomicUsize::new(0),
        })
    }

    /// Runs one read on a free connection; `None` when every connection is
    /// in use (the caller reads through the pool instead).
    pub(crate) fn try_read(
        &self,
        sql: &str,
        args: &[Arg],
    ) -> Option<Result<Vec<Row>, sqlx::Error>> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..self.conns.len()).find_map(|i| {
            let conn = match self.conns[(start + i) % self.conns.len()].try_lock() {
                Ok(conn) => conn,
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => return None,
            };
            Some(
                run_one(&conn, sql, args)
                    .map(|reply| reply.rows)
                    .map_err(into_sqlx),
            )
        })
    }
}

/// A connection with the settings of the pool's connections, and `extra`.
fn open(path: &Path, extra: &str) -> Result<Connection, sqlx::Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(into_sqlx)?;
    conn.execute_batch(super::SQLITE_SETTINGS)
        .map_err(into_sqlx)?;
    conn.execute_batch(extra).map_err(into_sqlx)?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

fn run_one(conn: &Connection, sql: &str, args: &[Arg]) -> rusqlite::Result<Reply> {
    let mut statement = conn.prepare_cached(sql)?;
    // `$n` is a named parameter to SQLite: bind each by its number.
    for index in 1..=statement.parameter_count() {
        let Some(number) = statement
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
        else {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "parameter {index} of {sql:?} is not $n"
            )));
        };
        let arg = args
            .get(number - 1)
            .ok_or(rusqlite::Error::InvalidParameterCount(number, args.len()))?;
        match arg {
            Arg::Int(v) => statement.raw_bind_parameter(index, v)?,
            Arg::Text(v) => statement.raw_bind_parameter(index, v)?,
        }
    }
    let columns: Arc<[String]> = statement
        .column_names()
        .into_iter()
        .map(str::to_string)
        .collect();
    let writes = !statement.readonly();
    let mut rows = Vec::new();
    let mut results = statement.raw_query();
    while let Some(row) = results.next()? {
        let mut values = Vec::with_capacity(columns.len());
        for index in 0..columns.len() {
            values.push(match row.get_ref(index)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(v) => Value::Int(v),
                ValueRef::Real(v) => Value::Real(v),
                ValueRef::Text(v) => Value::Text(String::from_utf8_lossy(v).into_owned()),
                ValueRef::Blob(v) => Value::Blob(v.to_vec()),
            });
        }
        rows.push(Row::new(columns.clone(), values));
    }
    drop(results);
    Ok(Reply {
        rows,
        rows_affected: if writes { conn.changes() } else { 0 },
    })
}

/// A SQLite error as sqlx reports one, so callers see the same errors
/// (a unique violation is one) whichever connection ran the statement.
pub(crate) fn into_sqlx(err: rusqlite::Error) -> sqlx::Error {
    match err {
        rusqlite::Error::SqliteFailure(code, message) => {
            sqlx::Error::Database(Box::new(SqliteFailure {
                message: message.unwrap_or_else(|| code.to_string()),
                extended: code.extended_code,
            }))
        }
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

#[derive(Debug)]
struct SqliteFailure {
    message: String,
    extended: i32,
}

impl std::fmt::Display for SqliteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SqliteFailure {}

impl DatabaseError for SqliteFailure {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(self.extended.to_string().into())
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        match self.extended {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}
