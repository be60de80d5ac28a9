//! Transactions whose statements travel together.
//!
//! On SQLite every statement sqlx runs is a trip to the connection's own
//! thread and back, and the trips (two thread switches each), not SQLite,
//! are what a busy writer spends its time on — while holding the one
//! write connection. A [`BatchedTx`] queues the writes whose results
//! nobody reads (inserts of new rows, updates whose effect is already
//! known) and sends them with the next statement whose result matters, as
//! one script: on SQLite `BEGIN` goes with the first trip, the queued
//! writes with the next, and `COMMIT` with the last, so a transaction of
//! a dozen statements takes two or three trips. PostgreSQL takes no
//! parameters in a multi-statement query, so there the statements run one
//! after another inside an ordinary transaction.
//!
//! Begun on the writer lane (SQLite), a `BatchedTx` runs its statements on
//! the lane's own connection (`direct`): no trips at all, only calls; the
//! pool's write connection is held as the lock meanwhile.
//!
//! Statements run in the order they were given, so the transaction reads
//! its own writes. A `BatchedTx` dropped before [`BatchedTx::commit`]
//! rolls back (on SQLite, a task sends `ROLLBACK` before the connection
//! goes back to the pool).

use std::sync::Arc;

use futures::TryStreamExt;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Either, Executor};

use super::lane::{WriterHold, WriterLane};
use super::row::Row;
use super::{Backend, Db, Tx};

/// One bound value of a queued statement. Nulls keep their type: a
/// PostgreSQL parameter is typed by what is bound to it.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(Some(v))
    }
}

impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Arg {
        Arg::Int(v)
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(Some(v.to_string()))
    }
}

impl From<&String> for Arg {
    fn from(v: &String) -> Arg {
        Arg::Text(Some(v.clone()))
    }
}

impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(Some(v))
    }
}

impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Arg {
        Arg::Text(v.map(str::to_string))
    }
}

impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Arg {
        Arg::Text(v)
    }
}

/// The arguments of one statement: `args![a, b, c]`.
#[macro_export]
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        vec![$($crate::db::Arg::from($value)),*]
    };
}

/// A transaction on the writer with a queue of writes (see the module).
pub struct BatchedTx {
    inner: Inner,
    queued: Vec<(String, Vec<Arg>)>,
}

enum Inner {
    /// `open`: `BEGIN` has been sent, and `COMMIT` has not succeeded.
    Sqlite {
        conn: PoolConnection<Any>,
        open: bool,
    },
    /// On the writer lane: the statements run on the lane's connection;
    /// the pool's write connection (unused) is held as the lock.
    Direct {
        lane: Arc<WriterLane>,
        _writer: WriterHold,
        open: bool,
    },
    Postgres(Tx),
    /// Committed.
    Done,
}

/// What one statement gave back.
pub struct Reply {
    pub rows: Vec<Row>,
    pub rows_affected: u64,
}

impl Reply {
    /// The statement's only row, if it returned one.
    pub fn row(self) -> Option<Row> {
        self.rows.into_iter().next()
    }
}

impl BatchedTx {
    pub async fn begin(db: &Db) -> Result<BatchedTx, sqlx::Error> {
        let on_lane = db.lane().filter(|lane| lane.is_here());
        let inner = match (db.backend(), on_lane) {
            (Backend::Sqlite, Some(lane)) => Inner::Direct {
                lane: lane.clone(),
                _writer: lane.hold_writer(db).await?,
                open: false,
            },
            (Backend::Sqlite, None) => Inner::Sqlite {
                conn: db.write().acquire().await?,
                open: false,
            },
            (Backend::Postgres, _) => Inner::Postgres(db.begin().await?),
        };
        let queued = match inner {
            Inner::Postgres(_) => Vec::new(),
            // Goes with the first trip, taking the write lock at once: the
            // connection is ours alone.
            _ => vec![("BEGIN IMMEDIATE".into(), Vec::new())],
        };
        Ok(BatchedTx { inner, queued })
    }

    /// Queues a write (placeholders `$1…` as everywhere) to go with the
    /// transaction's next statement that answers, or its commit.
    pub fn push(&mut self, sql: impl Into<String>, args: Vec<Arg>) {
        self.queued.push((sql.into(), args));
    }

    /// Runs one statement after the queued writes; its rows and count.
    pub async fn query(&mut self, sql: &str, args: Vec<Arg>) -> Result<Reply, sqlx::Error> {
        let mut replies = self.query_each(vec![(sql.to_string(), args)]).await?;
        Ok(replies.pop().expect("one reply per statement"))
    }

    /// Runs statements, after the queued writes, in one trip on SQLite;
    /// one reply per statement, in order.
    pub async fn query_each(
        &mut self,
        statements: Vec<(String, Vec<Arg>)>,
    ) -> Result<Vec<Reply>, sqlx::Error> {
        let wanted = statements.len();
        self.queued.extend(statements);
        let mut replies = self.send().await?;
        Ok(replies.split_off(replies.len() - wanted))
    }

    /// Sends the queued writes.
    pub async fn flush(&mut self) -> Result<(), sqlx::Error> {
        self.send().await.map(drop)
    }

    /// The transaction's connection, for code that runs its own queries;
    /// the queued writes go first. Not on the writer lane, whose statements
    /// go through `push` and `query`.
    pub async fn conn(&mut self) -> Result<&mut AnyConnection, sqlx::Error> {
        self.flush().await?;
        match &mut self.inner {
            Inner::Sqlite { conn, .. } => Ok(conn),
            Inner::Postgres(tx) => Ok(tx),
            Inner::Direct { .. } => Err(sqlx::Error::Protocol(
                "a transaction on the writer lane runs its statements through query and push"
                    .into(),
            )),
            Inner::Done => Err(finished()),
        }
    }

    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        if let Inner::Sqlite { .. } | Inner::Direct { .. } = self.inner {
            self.queued.push(("COMMIT".into(), Vec::new()));
        }
        self.send().await?;
        if let Inner::Direct { lane, .. } = &self.inner {
            lane.direct().finish_log_if_asked();
        }
        match std::mem::replace(&mut self.inner, Inner::Done) {
            Inner::Postgres(tx) => tx.commit().await,
            // Committed with the last trip; the connection goes back to
            // the pool as it drops.
            Inner::Sqlite { .. } | Inner::Direct { .. } | Inner::Done => Ok(()),
        }
    }

    /// Sends every queued statement; a reply for each.
    ///
    /// sqlx 0.8 marks queries of several statements with bound arguments
    /// as deprecated (launchbadge/sqlx#3108) while its SQLite driver runs
    /// them, binding `$n` across the whole script; the test
    /// `batched_writes_run_in_order_and_all_or_nothing` holds it to that.
    #[allow(deprecated)]
    async fn send(&mut self) -> Result<Vec<Reply>, sqlx::Error> {
        if self.queued.is_empty() {
            return Ok(Vec::new());
        }
        let queued = std::mem::take(&mut self.queued);
        match &mut self.inner {
            Inner::Sqlite { conn, open } => {
                // The first trip carries `BEGIN`.
                *open = true;
                let (script, args) = script(&queued);
                let mut replies = Vec::with_capacity(queued.len());
                let mut rows = Rows::default();
                let mut results = bind(sqlx::query(&script), args).fetch_many(&mut **conn);
                while let Some(item) = results.try_next().await? {
                    match item {
                        Either::Left(done) => replies.push(Reply {
                            rows: rows.take(),
                            rows_affected: done.rows_affected(),
                        }),
                        Either::Right(row) => rows.push(&row)?,
                    }
                }
                Ok(replies)
            }
            Inner::Direct { lane, open, .. } => {
                *open = true;
                lane.direct().run(&queued)
            }
            Inner::Postgres(tx) => {
                let mut replies = Vec::with_capacity(queued.len());
                for (sql, args) in queued {
                    let mut rows = Rows::default();
                    let mut rows_affected = 0;
                    let mut results = bind(sqlx::query(&sql), args).fetch_many(&mut **tx);
                    while let Some(item) = results.try_next().await? {
                        match item {
                            Either::Left(done) => rows_affected += done.rows_affected(),
                            Either::Right(row) => rows.push(&row)?,
                        }
                    }
                    replies.push(Reply {
                        rows: rows.take(),
                        rows_affected,
                    });
                }
                Ok(replies)
            }
            Inner::Done => Err(finished()),
        }
    }
}

/// The rows of one statement as they arrive from sqlx, sharing one list
/// of column names.
#[derive(Default)]
pub(crate) struct Rows {
    columns: Option<Arc<[String]>>,
    rows: Vec<Row>,
}

impl Rows {
    pub(crate) fn push(&mut self, row: &sqlx::any::AnyRow) -> Result<(), sqlx::Error> {
        let columns = self.columns.get_or_insert_with(|| Row::any_columns(row));
        self.rows.push(Row::from_any(row, columns)?);
        Ok(())
    }

    /// The rows so far; the next statement's start afresh.
    pub(crate) fn take(&mut self) -> Vec<Row> {
        self.columns = None;
        std::mem::take(&mut self.rows)
    }
}

fn finished() -> sqlx::Error {
    sqlx::Error::Protocol("the transaction has ended".into())
}

impl Drop for BatchedTx {
    fn drop(&mut self) {
        if let Inner::Direct {
            lane, open: true, ..
        } = &self.inner
        {
            // Undone before the writer (held until this drop ends) goes
            // back to the pool.
            lane.direct().roll_back();
        }
        if let Inner::Sqlite { open: true, .. } = self.inner {
            if let Inner::Sqlite { mut conn, .. } = std::mem::replace(&mut self.inner, Inner::Done)
            {
                // Not committed: undone before anyone else gets the writer
                // (which stays with this task until then).
                tokio::spawn(async move {
                    if conn.execute("ROLLBACK").await.is_err() {
                        conn.close_on_drop();
                    }
                });
            }
        }
    }
}

/// A query through the `Any` driver.
pub type Query<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds `args` to `query`, in order.
pub fn bind(mut query: Query<'_>, args: Vec<Arg>) -> Query<'_> {
    for arg in args {
        query = match arg {
            Arg::Int(v) => query.bind(v),
            Arg::Text(v) => query.bind(v),
        };
    }
    query
}

/// The statements as one script with one argument list: each statement's
/// `$n` becomes `$n` plus the number of arguments before it (SQLite binds
/// `$n` to the n-th argument of the whole script).
fn script(statements: &[(String, Vec<Arg>)]) -> (String, Vec<Arg>) {
    let mut sql = String::new();
    let mut args = Vec::new();
    for (statement, statement_args) in statements {
        sql.push_str(&shift_placeholders(statement, args.len()));
        sql.push_str(";\n");
        args.extend(statement_args.iter().cloned());
    }
    (sql, args)
}

/// `sql` with every placeholder `$n` outside quotes renumbered `$n+by`.
fn shift_placeholders(sql: &str, by: usize) -> String {
    if by == 0 {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut n = 0usize;
                while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                    n = n * 10 + d as usize;
                    chars.next();
                }
                out.push('$');
                out.push_str(&(n + by).to_string());
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_shift_outside_quotes_only() {
        assert_eq!(
            shift_placeholders("UPDATE t SET a = $1, b = '$2' WHERE c = $12", 3),
            "UPDATE t SET a = $4, b = '$2' WHERE c = $15"
        );
        assert_eq!(
            shift_placeholders("SELECT \"$1\", $1", 1),
            "SELECT \"$1\", $2"
        );
        assert_eq!(shift_placeholders("SELECT $1", 0), "SELECT $1");
    }

    #[test]
    fn a_script_numbers_arguments_across_statements() {
        let (sql, args) = script(&[
            ("INSERT INTO t VALUES ($1, $2)".into(), args![1_i64, "a"]),
            (
                "UPDATE u SET x = $2 WHERE id = $1".into(),
                args!["k", None::<i64>],
            ),
        ]);
        assert_eq!(
            sql,
            "INSERT INTO t VALUES ($1, $2);\nUPDATE u SET x = $4 WHERE id = $3;\n"
        );
        assert_eq!(
            args,
            vec![
                Arg::Int(Some(1)),
                Arg::Text(Some("a".into())),
                Arg::Text(Some("k".into())),
                Arg::Int(None)
            ]
        );
    }
}
