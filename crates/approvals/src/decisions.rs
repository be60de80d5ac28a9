//! Decisions on approval requests: approve, reject, and the submitter's
//! withdrawal. Every action locks the request's row first, so two
//! approvers acting at the same moment are taken one after the other: the
//! first decides, the second is told it was already decided, and the same
//! action sent twice takes effect once.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;
use tram_org::members::Membership;
use tram_platform::args;
use tram_platform::db::{BatchedTx, Reply};
use tram_platform::AppState;

use crate::delegates::Delegates;
use crate::error::{ApprovalError, ApprovalResult};
use crate::flow::SignMode;
use crate::instances::{
    approvers_from, enter_step, get, insert_task, json_column, json_text, trail, Entering, Instance,
};
use crate::route::{self, Step};
use crate::{deadlines, directory, form, templates};

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
    let row = state
        .db
        .read_row(
            "SELECT t.instance_id, t.assignee_id, t.step_index, t.kind, i.steps, \
             (SELECT COUNT(*) FROM approval_delegates d WHERE d.org_id = t.org_id) AS delegates_named \
             FROM approval_tasks t JOIN approval_instances i ON i.id = t.instance_id WHERE t.id = $1 AND t.org_id = $2",
            args![task_id, me.org_id.as_str()],
        )
        .await?
        .ok_or(ApprovalError::NotFound)?;
    let instance_id: String = row.try_get("instance_id")?;
    if row.try_get::<String>("assignee_id")? != me.user_id
        || row.try_get::<String>("kind")? != "approve"
    {
        return Err(ApprovalError::NotYourTask);
    }
    let step_index: i64 = row.try_get("step_index")?;
    // Who may get the next tasks, as the steps stand now (re-read under
    // the lock below; an approver added meanwhile is looked up then).
    let delegates = if row.try_get::<i64>("delegates_named")? == 0 {
        Delegates::nobody(&me.org_id)
    } else {
        let steps: Vec<Step> = json_column(&row, "steps")?;
        Delegates::load(
            &state.db,
            &me.org_id,
            approvers_from(&steps, step_index as usize + 1),
        )
        .await?
    };
    let now = state.clock.now_ms();
    let decided = state
        .db
        .in_writer_lane(record_decision(
            state.clone(),
            me.clone(),
            Decided {
                task_id: task_id.to_string(),
                instance_id: instance_id.clone(),
                step_index,
                decision,
                comment,
                now,
            },
            delegates,
        ))
        .await?;
    if !decided {
        // A repeat of the decision already taken is answered, not refused.
        let status: String = state
            .db
            .read_row(
                "SELECT status FROM approval_tasks WHERE id = $1",
                args![task_id],
            )
            .await?
            .ok_or(ApprovalError::NotFound)?
            .try_get("status")?;
        if status != decision.status() {
            return Err(ApprovalError::AlreadyDecided);
        }
    }
    get(&state.db, me, &instance_id).await
}

/// A decision on a task, as checked before its transaction.
struct Decided {
    task_id: String,
    instance_id: String,
    step_index: i64,
    decision: Decision,
    comment: Option<String>,
    now: i64,
}

/// The transaction of a decision; false (and nothing changed) when the
/// task or its request was no longer pending.
async fn record_decision(
    state: AppState,
    me: Membership,
    d: Decided,
    mut delegates: Delegates,
) -> ApprovalResult<bool> {
    let (instance_id, now) = (d.instance_id.as_str(), d.now);
    let mut tx = state.db.begin_batched().await?;
    // Locks the request (actions on it run one at a time, on every node),
    // then, in a statement of its own (so that on PostgreSQL it sees what
    // the action before it committed): the decision, and the tasks of the
    // step that still wait. One trip on SQLite.
    let mut replies = tx
        .query_each(vec![
            (
                "UPDATE approval_instances SET updated_at = $1 WHERE id = $2 AND status = 'pending' RETURNING steps".into(),
                args![now, instance_id],
            ),
            (
                "UPDATE approval_tasks SET status = $1, comment = $2, decided_at = $3 WHERE id = $4 AND status = 'pending' RETURNING \
                 (SELECT COUNT(*) FROM approval_tasks WHERE instance_id = $5 AND step_index = $6 AND status = 'pending' AND id <> $4) AS others, \
                 (SELECT COUNT(*) FROM approval_tasks WHERE instance_id = $5 AND status = 'waiting') AS set_aside".into(),
                args![d.decision.status(), d.comment.as_deref(), now, d.task_id.as_str(), instance_id, d.step_index],
            ),
        ])
        .await?
        .into_iter()
        .map(Reply::row);
    let (locked, decided) = (replies.next().flatten(), replies.next().flatten());
    let (Some(locked), Some(decided)) = (locked, decided) else {
        return Ok(false);
    };
    let steps: Vec<Step> = json_text(&locked.try_get::<String>("steps")?)?;
    let mode = match steps.get(d.step_index as usize) {
        Some(Step::Approve { mode, .. }) => *mode,
        _ => SignMode::Countersign,
    };
    trail(
        &mut tx,
        instance_id,
        now,
        Some(&me.user_id),
        d.decision.status(),
        d.comment.as_deref(),
        json!({ "step": d.step_index }),
    );
    match d.decision {
        Decision::Reject => {
            cancel_pending(&mut tx, instance_id, now);
            finish(&mut tx, instance_id, "rejected", now);
        }
        Decision::Approve => {
            if mode == SignMode::OrSign {
                cancel_pending(&mut tx, instance_id, now);
            }
            let others: i64 = decided.try_get("others")?;
            if others == 0 || mode == SignMode::OrSign {
                let entering = Entering {
                    db: &state.db,
                    org_id: &me.org_id,
                    instance_id,
                    steps: &steps,
                    set_aside: decided.try_get::<i64>("set_aside")? > 0,
                    now,
                };
                let next = d.step_index as usize + 1;
                enter_step(&mut tx, &entering, &mut delegates, next).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// Cancels the request's tasks still waiting for their approvers.
pub(crate) fn cancel_pending(tx: &mut BatchedTx, instance_id: &str, now: i64) {
    tx.push(
        "UPDATE approval_tasks SET status = 'cancelled', decided_at = $1 WHERE instance_id = $2 AND status IN ('pending', 'waiting')",
        args![now, instance_id],
    );
}

pub(crate) fn finish(tx: &mut BatchedTx, instance_id: &str, status: &str, now: i64) {
    tx.push(
        "UPDATE approval_instances SET status = $1, finished_at = $2, updated_at = $2 WHERE id = $3",
        args![status, now, instance_id],
    );
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
    let mut tx = state.db.begin_batched().await?;
    let locked = sqlx::query(
        "UPDATE approval_instances SET updated_at = $1 WHERE id = $2 AND status = 'pending' AND submitter_id = $3",
    )
    .bind(now)
    .bind(instance_id)
    .bind(&me.user_id)
    .execute(tx.conn().await?)
    .await?;
    if locked.rows_affected() == 0 {
        return Err(ApprovalError::Finished);
    }
    cancel_pending(&mut tx, instance_id, now);
    finish(&mut tx, instance_id, "withdrawn", now);
    trail(
        &mut tx,
        instance_id,
        now,
        Some(&me.user_id),
        "withdrawn",
        None,
        json!({}),
    );
    tx.commit().await?;
    get(&state.db, me, instance_id).await
}

/// The caller's pending approval task, with its request locked until the
/// transaction ends.
struct HeldTask {
    instance_id: String,
    submitter_id: String,
    step_index: i64,
    node_id: String,
    due_at: Option<i64>,
    steps: Vec<Step>,
}

async fn hold_my_task(
    tx: &mut BatchedTx,
    me: &Membership,
    task_id: &str,
    now: i64,
) -> ApprovalResult<HeldTask> {
    let row = sqlx::query(
        "SELECT instance_id, assignee_id, step_index, node_id, kind, due_at FROM approval_tasks WHERE id = $1 AND org_id = $2",
    )
    .bind(task_id)
    .bind(&me.org_id)
    .fetch_optional(tx.conn().await?)
    .await?
    .ok_or(ApprovalError::NotFound)?;
    if row.try_get::<String, _>("assignee_id")? != me.user_id
        || row.try_get::<String, _>("kind")? != "approve"
    {
        return Err(ApprovalError::NotYourTask);
    }
    let instance_id: String = row.try_get("instance_id")?;
    let locked = sqlx::query(
        "UPDATE approval_instances SET updated_at = $1 WHERE id = $2 AND status = 'pending' RETURNING steps, submitter_id",
    )
    .bind(now)
    .bind(&instance_id)
    .fetch_optional(tx.conn().await?)
    .await?
    .ok_or(ApprovalError::AlreadyDecided)?;
    let status: String = sqlx::query("SELECT status FROM approval_tasks WHERE id = $1")
        .bind(task_id)
        .fetch_one(tx.conn().await?)
        .await?
        .try_get("status")?;
    if status != "pending" {
        return Err(ApprovalError::AlreadyDecided);
    }
    Ok(HeldTask {
        instance_id,
        submitter_id: locked.try_get("submitter_id")?,
        step_index: row.try_get("step_index")?,
        node_id: row.try_get("node_id")?,
        due_at: row.try_get("due_at")?,
        steps: json_text(&locked.try_get::<String, _>("steps")?)?,
    })
}

/// Someone else in the org who may take a task: not the caller, not the
/// submitter.
async fn check_colleague(
    state: &AppState,
    me: &Membership,
    held: &HeldTask,
    user: &str,
) -> ApprovalResult<()> {
    if user == me.user_id || user == held.submitter_id {
        return Err(ApprovalError::InvalidAssignee);
    }
    if tram_org::members::membership(&state.db, &me.org_id, user)
        .await?
        .is_none()
    {
        return Err(ApprovalError::InvalidAssignee);
    }
    Ok(())
}

/// Hands the caller's task to another member (轉交), with its deadline.
pub async fn transfer(
    state: &AppState,
    me: &Membership,
    task_id: &str,
    to: &str,
    comment: Option<&str>,
) -> ApprovalResult<Instance> {
    let comment = clean_comment(comment)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_batched().await?;
    let held = hold_my_task(&mut tx, me, task_id, now).await?;
    check_colleague(state, me, &held, to).await?;
    tx.push(
        "UPDATE approval_tasks SET status = 'moved', comment = $1, decided_at = $2 WHERE id = $3",
        args![comment.as_deref(), now, task_id],
    );
    let due = held.due_at.unwrap_or(now).max(now + 3_600_000);
    let new_task = insert_task(
        &mut tx,
        &me.org_id,
        &held.instance_id,
        held.step_index as usize,
        &held.node_id,
        "approve",
        to,
        Some(&me.user_id),
        "pending",
        Some(due),
        now,
    );
    deadlines::schedule(&mut tx, &new_task, due, now);
    trail(
        &mut tx,
        &held.instance_id,
        now,
        Some(&me.user_id),
        "transferred",
        comment.as_deref(),
        json!({ "to": to }),
    );
    tx.commit().await?;
    get(&state.db, me, &held.instance_id).await
}

/// Where an added approver (加簽) goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AddPosition {
    /// They decide first; then the caller (and the step's other approvers).
    Before,
    /// They decide after the caller's step.
    After,
}

/// Adds an approver before or after the caller's step (加簽).
pub async fn add_approver(
    state: &AppState,
    me: &Membership,
    task_id: &str,
    who: &str,
    position: AddPosition,
    comment: Option<&str>,
) -> ApprovalResult<Instance> {
    let comment = clean_comment(comment)?;
    // Read before the transaction: an approver added before the caller
    // gets a task at once, and may be away.
    let mut delegates = Delegates::load(
        &state.db,
        &me.org_id,
        (position == AddPosition::Before).then_some(who),
    )
    .await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_batched().await?;
    let mut held = hold_my_task(&mut tx, me, task_id, now).await?;
    check_colleague(state, me, &held, who).await?;
    let added = Step::Approve {
        node_id: format!("{}+{}", held.node_id, held.steps.len()),
        name: "加簽".into(),
        approvers: vec![who.to_string()],
        mode: SignMode::Countersign,
        deadline_hours: crate::flow::DEFAULT_DEADLINE_HOURS,
        note: None,
    };
    let at = match position {
        AddPosition::After => held.step_index as usize + 1,
        AddPosition::Before => held.step_index as usize,
    };
    held.steps.insert(at, added);
    tx.push(
        "UPDATE approval_instances SET steps = $1 WHERE id = $2",
        args![
            serde_json::to_string(&held.steps).expect("steps serialise"),
            held.instance_id.as_str(),
        ],
    );
    if position == AddPosition::Before {
        // The step's approvers wait for the added one, one index later.
        tx.push(
            "UPDATE approval_tasks SET step_index = step_index + 1, \
             status = CASE WHEN status = 'pending' THEN 'waiting' ELSE status END \
             WHERE instance_id = $1 AND step_index = $2",
            args![held.instance_id.as_str(), held.step_index],
        );
        let entering = Entering {
            db: &state.db,
            org_id: &me.org_id,
            instance_id: &held.instance_id,
            steps: &held.steps,
            set_aside: true,
            now,
        };
        enter_step(&mut tx, &entering, &mut delegates, at).await?;
    }
    let action = match position {
        AddPosition::Before => "added_before",
        AddPosition::After => "added_after",
    };
    trail(
        &mut tx,
        &held.instance_id,
        now,
        Some(&me.user_id),
        action,
        comment.as_deref(),
        json!({ "who": who }),
    );
    tx.commit().await?;
    get(&state.db, me, &held.instance_id).await
}

/// Returns the request to its submitter (退回) to change and resubmit.
pub async fn return_to_submitter(
    state: &AppState,
    me: &Membership,
    task_id: &str,
    comment: Option<&str>,
) -> ApprovalResult<Instance> {
    let comment = clean_comment(comment)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_batched().await?;
    let held = hold_my_task(&mut tx, me, task_id, now).await?;
    tx.push(
        "UPDATE approval_tasks SET status = 'returned', comment = $1, decided_at = $2 WHERE id = $3",
        args![comment.as_deref(), now, task_id],
    );
    cancel_pending(&mut tx, &held.instance_id, now);
    tx.push(
        "UPDATE approval_instances SET status = 'returned', updated_at = $1 WHERE id = $2",
        args![now, held.instance_id.as_str()],
    );
    trail(
        &mut tx,
        &held.instance_id,
        now,
        Some(&me.user_id),
        "returned",
        comment.as_deref(),
        json!({}),
    );
    tx.commit().await?;
    get(&state.db, me, &held.instance_id).await
}

/// The submitter sends a returned request again, with changed values; it
/// is checked and routed afresh on the version it was first submitted
/// under.
pub async fn resubmit(
    state: &AppState,
    me: &Membership,
    instance_id: &str,
    values: &serde_json::Value,
) -> ApprovalResult<Instance> {
    let current = get(&state.db, me, instance_id).await?;
    if current.submitter_id != me.user_id {
        return Err(ApprovalError::NotSubmitter);
    }
    if current.status != "returned" {
        return Err(ApprovalError::Finished);
    }
    let template = templates::get(
        &state.db,
        &me.org_id,
        &current.template_id,
        Some(current.template_version),
    )
    .await?;
    let values = form::validate(&template.fields, values).map_err(ApprovalError::InvalidValues)?;
    let directory = directory::load(&state.db, &me.org_id, &me.user_id, &template, &values).await?;
    crate::instances::check_people(&template.fields, &values, &directory.members)?;
    let steps = route::plan(&template.flow, &values, &directory);
    let mut delegates = Delegates::load(&state.db, &me.org_id, approvers_from(&steps, 0)).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin_batched().await?;
    let locked = sqlx::query(
        "UPDATE approval_instances SET form_values = $1, steps = $2, step_index = 0, status = 'pending', updated_at = $3 \
         WHERE id = $4 AND status = 'returned' AND submitter_id = $5",
    )
    .bind(serde_json::to_string(&values).expect("values serialise"))
    .bind(serde_json::to_string(&steps).expect("steps serialise"))
    .bind(now)
    .bind(instance_id)
    .bind(&me.user_id)
    .execute(tx.conn().await?)
    .await?;
    if locked.rows_affected() == 0 {
        return Err(ApprovalError::Finished);
    }
    crate::files::claim(&mut tx, me, instance_id, &template.fields, &values).await?;
    // Earlier rounds' tasks stay in the history, out of the way of this one.
    tx.push(
        "UPDATE approval_tasks SET step_index = -1 - step_index WHERE instance_id = $1 AND step_index >= 0",
        args![instance_id],
    );
    trail(
        &mut tx,
        instance_id,
        now,
        Some(&me.user_id),
        "resubmitted",
        None,
        json!({}),
    );
    let entering = Entering {
        db: &state.db,
        org_id: &me.org_id,
        instance_id,
        steps: &steps,
        set_aside: false,
        now,
    };
    enter_step(&mut tx, &entering, &mut delegates, 0).await?;
    tx.commit().await?;
    crate::files::drop_unnamed(state, instance_id, &template.fields, &values).await?;
    get(&state.db, me, instance_id).await
}
