//! Deadlines of approval tasks, run by the job runner: a reminder before
//! the deadline, and at the deadline the task moves to the approver's
//! delegate. Both jobs are enqueued with the task (same transaction) and
//! complete in the transaction of their effect, so after a restart or with
//! several nodes each fires once.

use serde_json::json;
use tram_platform::db::Tx;
use tram_platform::jobs::{self, Job, JobResult, NewJob, Runner};
use tram_platform::AppState;

use crate::instances;

pub const TIMEOUT_JOB: &str = "approval.timeout";
pub const REMINDER_JOB: &str = "approval.reminder";
/// How long before the deadline the approver is reminded (half the time
/// when the deadline is nearer than twice this).
pub const REMIND_BEFORE_MS: i64 = 2 * 3_600_000;

/// Enqueues a task's reminder and timeout.
pub async fn schedule(tx: &mut Tx, task_id: &str, due: i64, now: i64) -> Result<(), sqlx::Error> {
    let remind_at = if due - now > 2 * REMIND_BEFORE_MS {
        due - REMIND_BEFORE_MS
    } else {
        now + (due - now) / 2
    };
    let payload = json!({ "task_id": task_id });
    let reminder = NewJob::new(
        REMINDER_JOB,
        format!("{REMINDER_JOB}:{task_id}"),
        payload.clone(),
        remind_at,
    );
    jobs::enqueue_in(tx, &reminder, now).await?;
    let timeout = NewJob::new(
        TIMEOUT_JOB,
        format!("{TIMEOUT_JOB}:{task_id}"),
        payload,
        due,
    )
    .retried(5, 10_000);
    jobs::enqueue_in(tx, &timeout, now).await?;
    Ok(())
}

/// Adds the approvals' job handlers to the server's runner.
pub fn register(runner: Runner) -> Runner {
    runner
        .handle(TIMEOUT_JOB, on_timeout)
        .handle(REMINDER_JOB, on_reminder)
}

fn task_id(job: &Job) -> Result<String, String> {
    job.payload["task_id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "job without a task id".to_string())
}

async fn on_timeout(state: AppState, job: Job) -> JobResult {
    let task = task_id(&job)?;
    instances::time_out(&state, &job, &task)
        .await
        .map_err(|e| e.to_string())
}

async fn on_reminder(state: AppState, job: Job) -> JobResult {
    let task = task_id(&job)?;
    instances::remind(&state, &job, &task)
        .await
        .map_err(|e| e.to_string())
}
