//! Decisions on approval requests: approve, reject, and the submitter's
//! withdrawal. Every action locks the request's row first, so two
//! approvers acting at the same moment are taken one after the other: the
//! first decides, the second is told it was already decided, and the same
//! action sent twice takes effect once.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;
use tram_org::members::Membership;
use tram_platform::db::Tx;
use tram_platform::AppState;

use crate::error::{ApprovalError, ApprovalResult};
use crate::flow::SignMode;
use crate::instances::{enter_step, get, trail, Instance};
use crate::route::Step;

/// Longest comment on a decision.
pub const MAX_COMMENT_CHARS: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    fn status(self) -> &'static str {
        match self {
            Decision::Approve => "approved",
            Decision::Reject => "rejected",
        }
    }
}

fn clean_comment(comment: Option<&str>) -> ApprovalResult<Option<String>> {
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    if comment.is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS) {
        return Err(ApprovalError::InvalidComment);
    }
    Ok(comment.map(str::to_string))
}

/// The approver of a task approves or rejects it. Sending the same
/// decision again changes nothing and answers as the first time did.
pub async fn act(
    state: &AppState,
    me: &Membership,
    task_id: &str,
    decision: Decision,
    comment: Option<&str>,
) -> ApprovalResult<Instance> {
    let comment = clean_comment(comment)?;
    let row = sqlx::query(
        "SELECT instance_id, assignee_id, step_index, kind, status FROM approval_tasks WHERE id = $1 AND org_id = $2",
    )
    .bind(task_id)
    .bind(&me.org_id)
    .fetch_optional(state.db.read())
    .await?
    .ok_or(ApprovalError::NotFound)?;
    let instance_id: String = row.try_get("instance_id")?;
    if row.try_get::<String, _>("assignee_id")? != me.user_id
        || row.try_get::<String, _>("kind")? != "approve"
    {
        return Err(ApprovalError::NotYourTask);
    }
    let step_index: i64 = row.try_get("step_index")?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    // Locks the request: actions on it run one at a time, on every node.
    let locked = sqlx::query(
        "UPDATE approval_instances SET updated_at = $1 WHERE id = $2 AND status = 'pending' RETURNING steps",
    )
    .bind(now)
    .bind(&instance_id)
    .fetch_optional(&mut *tx)
    .await?;
    let decided = sqlx::query(
        "UPDATE approval_tasks SET status = $1, comment = $2, decided_at = $3 WHERE id = $4 AND status = 'pending'",
    )
    .bind(decision.status())
    .bind(&comment)
    .bind(now)
    .bind(task_id)
    .execute(&mut *tx)
    .await?;
    let Some(locked) = locked.filter(|_| decided.rows_affected() == 1) else {
        drop(tx);
        // A repeat of the decision already taken is answered, not refused.
        let status: String = sqlx::query("SELECT status FROM approval_tasks WHERE id = $1")
            .bind(task_id)
            .fetch_one(state.db.read())
            .await?
            .try_get("status")?;
        return if status == decision.status() {
            get(&state.db, me, &instance_id).await
        } else {
            Err(ApprovalError::AlreadyDecided)
        };
    };
    let steps: Vec<Step> = serde_json::from_str(&locked.try_get::<String, _>("steps")?)
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let mode = match steps.get(step_index as usize) {
        Some(Step::Approve { mode, .. }) => *mode,
        _ => SignMode::Countersign,
    };
    trail(
        &mut tx,
        &instance_id,
        now,
        Some(&me.user_id),
        decision.status(),
        comment.as_deref(),
        json!({ "step": step_index }),
    )
    .await?;
    match decision {
        Decision::Reject => {
            cancel_pending(&mut tx, &instance_id, now).await?;
            finish(&mut tx, &instance_id, "rejected", now).await?;
        }
        Decision::Approve => {
            if mode == SignMode::OrSign {
                cancel_pending(&mut tx, &instance_id, now).await?;
            }
            let waiting: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM approval_tasks WHERE instance_id = $1 AND step_index = $2 AND status = 'pending'",
            )
            .bind(&instance_id)
            .bind(step_index)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
            if waiting == 0 {
                enter_step(
                    &mut tx,
                    &state.db,
                    &me.org_id,
                    &instance_id,
                    &steps,
                    step_index as usize + 1,
                    now,
                )
                .await?;
            }
        }
    }
    tx.commit().await?;
    get(&state.db, me, &instance_id).await
}

pub(crate) async fn cancel_pending(
    tx: &mut Tx,
    instance_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE approval_tasks SET status = 'cancelled', decided_at = $1 WHERE instance_id = $2 AND status = 'pending'",
    )
    .bind(now)
    .bind(instance_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) async fn finish(
    tx: &mut Tx,
    instance_id: &str,
    status: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE approval_instances SET status = $1, finished_at = $2, updated_at = $2 WHERE id = $3")
        .bind(status)
        .bind(now)
        .bind(instance_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The submitter withdraws a request that is not finished.
pub async fn withdraw(
    state: &AppState,
    me: &Membership,
    instance_id: &str,
) -> ApprovalResult<Instance> {
    let current = get(&state.db, me, instance_id).await?;
    if current.submitter_id != me.user_id {
        return Err(ApprovalError::NotSubmitter);
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let locked = sqlx::query(
        "UPDATE approval_instances SET updated_at = $1 WHERE id = $2 AND status = 'pending' AND submitter_id = $3",
    )
    .bind(now)
    .bind(instance_id)
    .bind(&me.user_id)
    .execute(&mut *tx)
    .await?;
    if locked.rows_affected() == 0 {
        return Err(ApprovalError::Finished);
    }
    cancel_pending(&mut tx, instance_id, now).await?;
    finish(&mut tx, instance_id, "withdrawn", now).await?;
    trail(
        &mut tx,
        instance_id,
        now,
        Some(&me.user_id),
        "withdrawn",
        None,
        json!({}),
    )
    .await?;
    tx.commit().await?;
    get(&state.db, me, instance_id).await
}
