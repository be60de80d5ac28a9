//! Transactions whose writes travel together.
//!
//! On SQLite every statement sqlx runs is a trip to the connection's own
//! thread and back, and the trips (two thread switches each), not SQLite,
//! are what a busy writer spends its time on. A [`BatchedTx`] queues the
//! writes whose results nobody reads (inserts of new rows, updates whose
//! effect is already known) and sends them as one script: one trip for the
//! lot on SQLite. PostgreSQL takes no parameters in a multi-statement
//! query, so there they run one after another as before.
//!
//! Queued statements run before anything else the transaction does:
//! [`BatchedTx::conn`] sends them before handing out the connection for a
//! read or a write whose result matters, and [`BatchedTx::commit`] before
//! committing. So the transaction reads its own writes, in order.

use sqlx::AnyConnection;

use super::{Db, Tx};

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
    tx: Tx,
    queued: Vec<(String, Vec<Arg>)>,
}

impl BatchedTx {
    pub async fn begin(db: &Db) -> Result<BatchedTx, sqlx::Error> {
        Ok(BatchedTx {
            tx: db.begin().await?,
            queued: Vec::new(),
        })
    }

    /// Queues a write (placeholders `$1…` as everywhere) to run before the
    /// transaction's next read and before it commits.
    pub fn push(&mut self, sql: impl Into<String>, args: Vec<Arg>) {
        self.queued.push((sql.into(), args));
    }

    /// Sends the queued writes.
    pub async fn flush(&mut self) -> Result<(), sqlx::Error> {
        if self.queued.is_empty() {
            return Ok(());
        }
        let queued = std::mem::take(&mut self.queued);
        if self.tx.backend_name() == "SQLite" {
            let (script, args) = script(&queued);
            bind(sqlx::query(&script), args)
                .execute(&mut *self.tx)
                .await?;
        } else {
            for (sql, args) in queued {
                bind(sqlx::query(&sql), args).execute(&mut *self.tx).await?;
            }
        }
        Ok(())
    }

    /// The transaction's connection, for a statement whose result matters;
    /// the queued writes run first.
    pub async fn conn(&mut self) -> Result<&mut AnyConnection, sqlx::Error> {
        self.flush().await?;
        Ok(&mut self.tx)
    }

    /// The underlying transaction, for code written against [`Tx`]; the
    /// queued writes run first.
    pub async fn tx(&mut self) -> Result<&mut Tx, sqlx::Error> {
        self.flush().await?;
        Ok(&mut self.tx)
    }

    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        self.flush().await?;
        self.tx.commit().await
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
