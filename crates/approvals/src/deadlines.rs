//! Deadlines of approval tasks, run by the job runner: a reminder (a chat
//! notice) before the deadline, and at the deadline the task moves to the approver's
//! delegate. Both jobs are enqueued with the task (same transaction) and
//! complete in the transaction of their effect, so after a restart or with
//! several nodes each fires once.

use serde_json::json;
use sqlx::Row;
use tram_platform::args;
use tram_platform::db::BatchedTx;
use tram_platform::jobs::{self, Job, JobResult, NewJob, Runner};
use tram_platform::AppState;

use crate::delegates::Delegates;
use crate::error::{ApprovalError, ApprovalResult};
use crate::instances::{insert_task, trail};

pub const TIMEOUT_JOB: &str = "approval.timeout";
pub const REMINDER_JOB: &str = "approval.reminder";
/// How long before the deadline the approver is reminded (half the time
/// when the deadline is nearer than twice this).
pub const REMIND_BEFORE_MS: i64 = 2 * 3_600_000;

/// Queues a task's reminder and timeout.
pub fn schedule(tx: &mut BatchedTx, task_id: &str, due: i64, now: i64) {
    enqueue(tx, task_id, due, now, false)
}

/// Replaces a task's reminder and timeout (a task set aside and taken up
/// again gets a new deadline).
pub fn reschedule(tx: &mut BatchedTx, task_id: &str, due: i64, now: i64) {
    enqueue(tx, task_id, due, now, true)
}

fn enqueue(tx: &mut BatchedTx, task_id: &str, due: i64, now: i64, replace: bool) {
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
    let timeout = NewJob::new(
        TIMEOUT_JOB,
        format!("{TIMEOUT_JOB}:{task_id}"),
        payload,
        due,
    )
    .retried(5, 10_000);
    for job in [reminder, timeout] {
        if replace {
            jobs::queue_replacing(tx, &job, now);
        } else {
            jobs::queue(tx, &job, now);
        }
    }
    // Every task that starts waiting for its approver is announced to them.
    crate::notices::task_created(tx, task_id, due, now)
}

/// Adds the approvals' job handlers to the server's runner.
pub fn register(runner: Runner) -> Runner {
    runner
        .handle(TIMEOUT_JOB, on_timeout)
        .handle(REMINDER_JOB, on_reminder)
        .handle(crate::notices::NOTICE_JOB, crate::notices::on_notice)
}

fn task_id(job: &Job) -> Result<String, String> {
    job.payload["task_id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "job without a task id".to_string())
}

async fn on_timeout(state: AppState, job: Job) -> JobResult {
    let task = task_id(&job)?;
    time_out(&state, &job, &task)
        .await
        .map_err(|e| e.to_string())
}

async fn on_reminder(state: AppState, job: Job) -> JobResult {
    let task = task_id(&job)?;
    remind(&state, &job, &task).await.map_err(|e| e.to_string())
}

/// A task's deadline passed: if it is still undecided it moves to the
/// approver's delegate (who gets a deadline of their own); with no
/// delegate it stays and the trail records it as overdue. Completes the job
/// in the same transaction.
pub async fn time_out(state: &AppState, job: &Job, task_id: &str) -> ApprovalResult<()> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_batched().await?;
    let Some(task) = pending_task(&mut tx, task_id, now).await? else {
        return done(tx, job, now).await;
    };
    let delegate = Delegates::load(&state.db, &task.org_id, [task.assignee_id.as_str()])
        .await?
        .of(&state.db, &task.assignee_id, now)
        .await?
        .map(|(delegate, _)| delegate)
        .filter(|d| d != &task.assignee_id && d != &task.submitter_id);
    match delegate {
        Some(delegate) => {
            tx.push(
                "UPDATE approval_tasks SET status = 'moved', decided_at = $1 WHERE id = $2 AND status = 'pending'",
                args![now, task_id],
            );
            let due = now + (task.due_at - task.created_at).max(3_600_000);
            let new_task = insert_task(
                &mut tx,
                &task.org_id,
                &task.instance_id,
                task.step_index as usize,
                &task.node_id,
                "approve",
                &delegate,
                Some(&task.assignee_id),
                "pending",
                Some(due),
                now,
            );
            schedule(&mut tx, &new_task, due, now);
            trail(
                &mut tx,
                &task.instance_id,
                now,
                None,
                "delegated",
                None,
                json!({ "from": task.assignee_id, "to": delegate, "why": "timeout" }),
            );
        }
        None => {
            trail(
                &mut tx,
                &task.instance_id,
                now,
                None,
                "overdue",
                None,
                json!({ "approver": task.assignee_id }),
            );
        }
    }
    done(tx, job, now).await
}

/// Reminds the approver of a task still undecided before its deadline.
pub async fn remind(state: &AppState, job: &Job, task_id: &str) -> ApprovalResult<()> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_batched().await?;
    if let Some(task) = pending_task(&mut tx, task_id, now).await? {
        trail(
            &mut tx,
            &task.instance_id,
            now,
            None,
            "reminded",
            None,
            json!({ "approver": task.assignee_id }),
        );
        crate::notices::reminder(&mut tx, task_id, &job.key, now);
    }
    done(tx, job, now).await
}

/// Completes a job in the transaction of its effect, then commits both.
async fn done(mut tx: BatchedTx, job: &Job, now: i64) -> ApprovalResult<()> {
    jobs::complete_batched(&mut tx, job, now)
        .await
        .map_err(|lost| ApprovalError::Database(sqlx::Error::Protocol(lost.to_string())))?;
    tx.commit().await?;
    Ok(())
}

struct PendingTask {
    org_id: String,
    instance_id: String,
    submitter_id: String,
    assignee_id: String,
    step_index: i64,
    node_id: String,
    due_at: i64,
    created_at: i64,
}

/// The task, if it is still pending on a pending request (whose row is
/// then locked until the transaction ends).
async fn pending_task(
    tx: &mut BatchedTx,
    task_id: &str,
    now: i64,
) -> ApprovalResult<Option<PendingTask>> {
    let Some(row) = sqlx::query(
        "SELECT org_id, instance_id, assignee_id, step_index, node_id, due_at, created_at FROM approval_tasks \
         WHERE id = $1 AND status = 'pending' AND kind = 'approve'",
    )
    .bind(task_id)
    .fetch_optional(tx.conn().await?)
    .await?
    else {
        return Ok(None);
    };
    let instance_id: String = row.try_get("instance_id")?;
    let locked = sqlx::query(
        "UPDATE approval_instances SET updated_at = $1 WHERE id = $2 AND status = 'pending' RETURNING submitter_id",
    )
    .bind(now)
    .bind(&instance_id)
    .fetch_optional(tx.conn().await?)
    .await?;
    let Some(locked) = locked else {
        return Ok(None);
    };
    // Decided while we waited for the lock?
    let still: Option<String> = sqlx::query("SELECT status FROM approval_tasks WHERE id = $1")
        .bind(task_id)
        .fetch_optional(tx.conn().await?)
        .await?
        .map(|r| r.try_get("status"))
        .transpose()?;
    if still.as_deref() != Some("pending") {
        return Ok(None);
    }
    Ok(Some(PendingTask {
        org_id: row.try_get("org_id")?,
        instance_id,
        submitter_id: locked.try_get("submitter_id")?,
        assignee_id: row.try_get("assignee_id")?,
        step_index: row.try_get("step_index")?,
        node_id: row.try_get("node_id")?,
        due_at: row.try_get::<Option<i64>, _>("due_at")?.unwrap_or(now),
        created_at: row.try_get("created_at")?,
    }))
}
