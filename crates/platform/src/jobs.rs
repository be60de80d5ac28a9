//! Durable jobs: work to do at a time, kept in the database and run once
//! across every node.
//!
//! A job is a row with a kind, a unique key, a JSON payload and the time
//! it is due. Each node's runner polls for due jobs and takes one by
//! setting a lease on it (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite
//! has one writer), so two nodes never hold the same job. A node that dies
//! mid-job loses its lease when it expires and another node takes the job
//! again: handlers therefore make their effect idempotent, or write it in
//! the same transaction as [`complete_in`], which only succeeds while the
//! lease is still theirs.
//!
//! The unique key makes enqueueing idempotent too: "the 09:15 run of
//! schedule X on 2026-11-25" is enqueued by whoever gets there first and
//! ignored by everyone after.
//!
//! A handler that fails is retried with exponential backoff (from the
//! job's `retry_base_ms`) until `max_attempts`; then the job is kept as
//! failed with its last error.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use sqlx::Row;

use crate::db::{self, escape_like, new_id, Arg, Backend, BatchedTx, Db, Tx};
use crate::AppState;

/// Finished jobs are kept this long (for their keys and the log), then
/// pruned.
const KEEP_FINISHED_MS: i64 = 30 * 86_400_000;
/// Longest wait between two attempts of a failing job.
const MAX_BACKOFF_MS: i64 = 3_600_000;
/// Most jobs a runner claims at once (see [`Runner::run_due`]).
const CLAIM_AT_MOST: usize = 16;

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    /// Unique across all jobs: a second job with the same key is ignored.
    pub key: String,
    pub payload: Value,
    /// Unix milliseconds.
    pub run_at: i64,
    /// Attempts before the job is given up (at least 1).
    pub max_attempts: i64,
    /// Wait before the second attempt; doubled for each one after.
    pub retry_base_ms: i64,
}

impl NewJob {
    /// A job tried once.
    pub fn new(kind: &str, key: impl Into<String>, payload: Value, run_at: i64) -> NewJob {
        NewJob {
            kind: kind.to_string(),
            key: key.into(),
            payload,
            run_at,
            max_attempts: 1,
            retry_base_ms: 1_000,
        }
    }

    /// Tries up to `attempts` times, waiting `base_ms`, then twice that, …
    pub fn retried(mut self, attempts: i64, base_ms: i64) -> NewJob {
        self.max_attempts = attempts.max(1);
        self.retry_base_ms = base_ms.max(1);
        self
    }
}

/// A job a runner holds the lease of.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub key: String,
    pub payload: Value,
    pub run_at: i64,
    /// This attempt's number, from 1.
    pub attempt: i64,
    pub max_attempts: i64,
    /// Proves the lease is still this runner's when the job completes.
    pub lease: String,
}

impl Job {
    /// True when this is the last attempt the job gets.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}

/// What became of a job (for pages that show a log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    Pending,
    Running,
    Done,
    Failed,
}

#[derive(Debug, Clone)]
pub struct JobStatus {
    pub key: String,
    pub state: JobState,
    pub attempts: i64,
    pub run_at: i64,
    pub last_error: Option<String>,
    pub finished_at: Option<i64>,
}

/// A handler's answer: `Err` is retried (if attempts remain) and its text
/// kept as the job's last error.
pub type JobResult = Result<(), String>;

type Handler = Arc<dyn Fn(AppState, Job) -> BoxFuture<'static, JobResult> + Send + Sync>;

/// Enqueues a job; false when a job with its key already exists.
pub async fn enqueue(db: &Db, job: &NewJob, now: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let inserted = enqueue_in(&mut tx, job, now).await?;
    tx.commit().await?;
    Ok(inserted)
}

const INSERT_JOB: &str =
    "INSERT INTO jobs (id, kind, job_key, payload, run_at, attempts, max_attempts, \
     retry_base_ms, created_at) VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8) \
     ON CONFLICT (job_key) DO NOTHING";

fn insert_args(job: &NewJob, now: i64) -> Vec<Arg> {
    crate::args![
        new_id(),
        job.kind.as_str(),
        job.key.as_str(),
        job.payload.to_string(),
        job.run_at,
        job.max_attempts.max(1),
        job.retry_base_ms.max(1),
        now,
    ]
}

/// Enqueues a job inside the caller's transaction, so the job exists if
/// and only if the caller's change does.
pub async fn enqueue_in(tx: &mut Tx, job: &NewJob, now: i64) -> Result<bool, sqlx::Error> {
    let result = db::bind(sqlx::query(INSERT_JOB), insert_args(job, now))
        .execute(&mut **tx)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Queues a job with the writes of a batched transaction (as
/// [`enqueue_in`]; a job whose key exists is left as it is).
pub fn queue(tx: &mut BatchedTx, job: &NewJob, now: i64) {
    tx.push(INSERT_JOB, insert_args(job, now));
}

const DELETE_REPLACEABLE: &str = "DELETE FROM jobs WHERE job_key = $1 \
     AND (finished_at IS NOT NULL OR lease_until IS NULL OR lease_until < $2)";

/// Queues a job in place of any earlier job with its key that is not
/// running (finished, or waiting): the same work, due again.
pub fn queue_replacing(tx: &mut BatchedTx, job: &NewJob, now: i64) {
    tx.push(DELETE_REPLACEABLE, crate::args![job.key.as_str(), now]);
    queue(tx, job, now);
}

/// Removes jobs not yet started whose key begins with `prefix` (a schedule
/// that changed or was deleted); returns how many.
pub async fn cancel_pending(tx: &mut Tx, prefix: &str, now: i64) -> Result<u64, sqlx::Error> {
    let pattern = format!("{}%", escape_like(prefix));
    let result = sqlx::query(
        "DELETE FROM jobs WHERE job_key LIKE $1 ESCAPE '\\' AND finished_at IS NULL \
         AND (lease_until IS NULL OR lease_until < $2)",
    )
    .bind(pattern)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(result.rows_affected())
}

const COMPLETE: &str = "UPDATE jobs SET finished_at = $1, failed = 0, lease_until = NULL \
     WHERE id = $2 AND lease = $3 AND finished_at IS NULL";

/// Marks a job done inside the caller's transaction. Fails (and the caller
/// should roll back) when the lease is no longer this runner's: another
/// node has taken the job after the lease ran out.
pub async fn complete_in(tx: &mut Tx, job: &Job, now: i64) -> Result<(), LeaseLost> {
    let result = sqlx::query(COMPLETE)
        .bind(now)
        .bind(&job.id)
        .bind(&job.lease)
        .execute(&mut **tx)
        .await
        .map_err(|_| LeaseLost)?;
    lease_held(result.rows_affected())
}

/// [`complete_in`] for a batched transaction (the queued writes go with it).
pub async fn complete_batched(tx: &mut BatchedTx, job: &Job, now: i64) -> Result<(), LeaseLost> {
    let reply = tx
        .query(
            COMPLETE,
            crate::args![now, job.id.as_str(), job.lease.as_str()],
        )
        .await
        .map_err(|_| LeaseLost)?;
    lease_held(reply.rows_affected)
}

fn lease_held(rows_affected: u64) -> Result<(), LeaseLost> {
    if rows_affected == 1 {
        Ok(())
    } else {
        Err(LeaseLost)
    }
}

/// The job's lease ran out and another runner may hold it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseLost;

impl std::fmt::Display for LeaseLost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the job's lease was lost")
    }
}

/// The state of the job with this key, if there is one.
pub async fn status(db: &Db, key: &str, now: i64) -> Result<Option<JobStatus>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT job_key, run_at, attempts, lease_until, finished_at, failed, last_error \
         FROM jobs WHERE job_key = $1",
    )
    .bind(key)
    .fetch_optional(db.read())
    .await?;
    row.map(|row| status_of(&row, now)).transpose()
}

/// Jobs whose key begins with `prefix`, newest first.
pub async fn list(
    db: &Db,
    prefix: &str,
    limit: i64,
    now: i64,
) -> Result<Vec<JobStatus>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT job_key, run_at, attempts, lease_until, finished_at, failed, last_error \
         FROM jobs WHERE job_key LIKE $1 ESCAPE '\\' ORDER BY run_at DESC LIMIT $2",
    )
    .bind(format!("{}%", escape_like(prefix)))
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    rows.iter().map(|row| status_of(row, now)).collect()
}

fn status_of(row: &sqlx::any::AnyRow, now: i64) -> Result<JobStatus, sqlx::Error> {
    let finished_at: Option<i64> = row.try_get("finished_at")?;
    let lease_until: Option<i64> = row.try_get("lease_until")?;
    let state = match (finished_at, row.try_get::<i64, _>("failed")? != 0) {
        (Some(_), true) => JobState::Failed,
        (Some(_), false) => JobState::Done,
        (None, _) if lease_until.is_some_and(|until| until >= now) => JobState::Running,
        (None, _) => JobState::Pending,
    };
    Ok(JobStatus {
        key: row.try_get("job_key")?,
        state,
        attempts: row.try_get("attempts")?,
        run_at: row.try_get("run_at")?,
        last_error: row.try_get("last_error")?,
        finished_at,
    })
}

/// Takes the next due job, if any, with a lease until `now + lease_ms`.
pub async fn claim(db: &Db, now: i64, lease_ms: i64) -> Result<Option<Job>, sqlx::Error> {
    Ok(claim_some(db, now, lease_ms, 1).await?.pop())
}

/// Takes up to `at_most` due jobs, earliest first, under one lease until
/// `now + lease_ms`: one write for all of them.
pub async fn claim_some(
    db: &Db,
    now: i64,
    lease_ms: i64,
    at_most: usize,
) -> Result<Vec<Job>, sqlx::Error> {
    let lock = match db.backend() {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    // The jobs are picked in a `WITH` of their own: PostgreSQL runs it
    // once, where a subquery in `IN (…)` may run again for each row and
    // claim past the limit.
    let sql = format!(
        "WITH picked AS (SELECT id FROM jobs WHERE finished_at IS NULL AND run_at <= $3 \
                         AND (lease_until IS NULL OR lease_until < $3) \
                         ORDER BY run_at LIMIT $4 {lock}) \
         UPDATE jobs SET lease = $1, lease_until = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM picked) \
         AND finished_at IS NULL AND (lease_until IS NULL OR lease_until < $3) \
         RETURNING id, kind, job_key, payload, run_at, attempts, max_attempts, lease"
    );
    let rows = sqlx::query(&sql)
        .bind(new_id())
        .bind(now + lease_ms)
        .bind(now)
        .bind(at_most as i64)
        .fetch_all(db.write())
        .await?;
    let mut jobs = rows
        .iter()
        .map(|row| {
            let payload: String = row.try_get("payload")?;
            Ok(Job {
                id: row.try_get("id")?,
                kind: row.try_get("kind")?,
                key: row.try_get("job_key")?,
                payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
                run_at: row.try_get("run_at")?,
                attempt: row.try_get("attempts")?,
                max_attempts: row.try_get("max_attempts")?,
                lease: row.try_get("lease")?,
            })
        })
        .collect::<Result<Vec<Job>, sqlx::Error>>()?;
    // `RETURNING` keeps no order: run them as they fell due.
    jobs.sort_by(|a, b| a.run_at.cmp(&b.run_at).then_with(|| a.id.cmp(&b.id)));
    Ok(jobs)
}

/// Hands back claimed jobs that were not started (their attempt is not
/// counted): the next claim, here or on another node, takes them.
async fn release(db: &Db, jobs: &[&Job]) -> Result<(), sqlx::Error> {
    update_held(
        db,
        "lease_until = NULL, attempts = attempts - 1",
        Vec::new(),
        jobs,
    )
    .await
}

/// Marks the jobs done (those whose handlers did not already), in one
/// write.
async fn complete_all(db: &Db, jobs: &[&Job], now: i64) -> Result<(), sqlx::Error> {
    update_held(
        db,
        "finished_at = $1, failed = 0, lease_until = NULL",
        crate::args![now],
        jobs,
    )
    .await
}

/// `UPDATE jobs SET {set}` (its `$n` numbered from 1, bound to `args`)
/// on those of `jobs` — claimed together, under one lease — that are not
/// finished and whose lease is still that one.
async fn update_held(
    db: &Db,
    set: &str,
    mut args: Vec<Arg>,
    jobs: &[&Job],
) -> Result<(), sqlx::Error> {
    let Some(first) = jobs.first() else {
        return Ok(());
    };
    let sql = format!(
        "UPDATE jobs SET {set} WHERE lease = ${} AND finished_at IS NULL AND id IN ({})",
        args.len() + 1,
        db::placeholders(args.len() + 2, jobs.len())
    );
    args.push(Arg::from(first.lease.as_str()));
    args.extend(jobs.iter().map(|job| Arg::from(job.id.as_str())));
    db::bind(sqlx::query(&sql), args)
        .execute(db.write())
        .await?;
    Ok(())
}

/// Records a handler's failure: the job is retried later, or, after its
/// last attempt, kept as failed.
async fn fail(db: &Db, job: &Job, error: &str, now: i64) -> Result<(), sqlx::Error> {
    if job.is_last_attempt() {
        sqlx::query(
            "UPDATE jobs SET finished_at = $1, failed = 1, lease_until = NULL, \
             last_error = $2 WHERE id = $3 AND lease = $4 AND finished_at IS NULL",
        )
        .bind(now)
        .bind(error)
        .bind(&job.id)
        .bind(&job.lease)
        .execute(db.write())
        .await?;
        return Ok(());
    }
    let row = sqlx::query("SELECT retry_base_ms FROM jobs WHERE id = $1")
        .bind(&job.id)
        .fetch_one(db.read())
        .await?;
    let base: i64 = row.try_get("retry_base_ms")?;
    sqlx::query(
        "UPDATE jobs SET run_at = $1, lease_until = NULL, last_error = $2 \
         WHERE id = $3 AND lease = $4 AND finished_at IS NULL",
    )
    .bind(now + backoff_ms(base, job.attempt))
    .bind(error)
    .bind(&job.id)
    .bind(&job.lease)
    .execute(db.write())
    .await?;
    Ok(())
}

/// The wait after failed attempt `attempt` (from 1): base, 2×base, 4×base, …
pub fn backoff_ms(base: i64, attempt: i64) -> i64 {
    let doublings = (attempt - 1).clamp(0, 30) as u32;
    base.max(1)
        .saturating_mul(1_i64 << doublings)
        .min(MAX_BACKOFF_MS)
}

/// Deletes finished jobs older than the keeping period.
pub async fn prune(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let result = sqlx::query("DELETE FROM jobs WHERE finished_at IS NOT NULL AND finished_at < $1")
        .bind(now - KEEP_FINISHED_MS)
        .execute(db.write())
        .await?;
    Ok(result.rows_affected())
}

/// The handlers of each kind of job, run by [`Runner::spawn`].
#[derive(Default, Clone)]
pub struct Runner {
    handlers: HashMap<String, Handler>,
}

impl Runner {
    pub fn new() -> Runner {
        Runner::default()
    }

    /// Runs jobs of `kind` with `handler`.
    pub fn handle<F, Fut>(mut self, kind: &str, handler: F) -> Runner
    where
        F: Fn(AppState, Job) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = JobResult> + Send + 'static,
    {
        let handler: Handler = Arc::new(
            move |state: AppState, job: Job| -> BoxFuture<'static, JobResult> {
                Box::pin(handler(state, job))
            },
        );
        self.handlers.insert(kind.to_string(), handler);
        self
    }

    /// Runs every due job it can claim, one after another; returns how
    /// many it ran. (The polling loop calls this; tests may too.)
    ///
    /// Jobs are claimed [`CLAIM_AT_MOST`] at a time under one lease, and
    /// those that succeed are marked done together after the batch: two
    /// writes for the batch instead of two a job, which matters when the
    /// writer is busy (SQLite has one). A job starts only while at least
    /// half the lease is left, and its handler may run until the lease
    /// ends; the batch's jobs not started by then are handed back. When
    /// the server is stopping, the job in hand finishes, the rest are
    /// handed back, and no more are claimed.
    pub async fn run_due(&self, state: &AppState) -> Result<usize, sqlx::Error> {
        let lease_ms = state.config.jobs.lease_secs.max(1) * 1_000;
        let mut ran = 0;
        loop {
            if state.shutdown.is_triggered() {
                return Ok(ran);
            }
            let claimed_at = state.clock.now_ms();
            let batch = claim_some(&state.db, claimed_at, lease_ms, CLAIM_AT_MOST).await?;
            if batch.is_empty() {
                return Ok(ran);
            }
            let lease_until = claimed_at + lease_ms;
            let mut done: Vec<&Job> = Vec::new();
            for (index, job) in batch.iter().enumerate() {
                let left_ms = lease_until - state.clock.now_ms();
                if left_ms < lease_ms / 2 || state.shutdown.is_triggered() {
                    let rest: Vec<&Job> = batch[index..].iter().collect();
                    release(&state.db, &rest).await?;
                    break;
                }
                match self.run_one(state, job, left_ms).await {
                    Ok(()) => done.push(job),
                    Err(error) => {
                        tracing::warn!(kind = %job.kind, key = %job.key, attempt = job.attempt, error = %error, "job failed");
                        fail(&state.db, job, &error, state.clock.now_ms()).await?;
                    }
                }
                ran += 1;
            }
            complete_all(&state.db, &done, state.clock.now_ms()).await?;
        }
    }

    /// Runs one job's handler, for at most `for_ms`.
    async fn run_one(&self, state: &AppState, job: &Job, for_ms: i64) -> JobResult {
        let Some(handler) = self.handlers.get(&job.kind) else {
            return Err(format!("no handler for jobs of kind {}", job.kind));
        };
        let run = handler(state.clone(), job.clone());
        match tokio::time::timeout(Duration::from_millis(for_ms.max(1) as u64), run).await {
            Ok(result) => result,
            Err(_) => Err("timed out".to_string()),
        }
    }

    /// Polls for due jobs every `jobs.poll_ms` until the server stops.
    pub fn spawn(self, state: AppState) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let poll = Duration::from_millis(state.config.jobs.poll_ms.max(10));
            let mut last_prune = 0_i64;
            loop {
                // Waits first: a node that just started lets its own
                // start-up finish before taking work.
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = state.shutdown.wait() => return,
                }
                if let Err(err) = self.run_due(&state).await {
                    tracing::warn!(error = %err, "could not run due jobs");
                }
                let now = state.clock.now_ms();
                if now - last_prune > 3_600_000 {
                    last_prune = now;
                    if let Err(err) = prune(&state.db, now).await {
                        tracing::warn!(error = %err, "could not prune finished jobs");
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff_ms(1_000, 1), 1_000);
        assert_eq!(backoff_ms(1_000, 2), 2_000);
        assert_eq!(backoff_ms(1_000, 4), 8_000);
        assert_eq!(backoff_ms(1_000, 40), MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(0, 1), 1);
    }
}
