//! Approval requests: submitted against a template's current version,
//! routed once at submission (`route::plan`), then carried step by step
//! (`decisions` as approvers act, `deadlines` as time passes). This module
//! creates requests and their tasks and reads them back.

use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sqlx::any::AnyRow;
use sqlx::Row;
use tram_org::members::Membership;
use tram_platform::args;
use tram_platform::db::{new_id, Backend, BatchedTx, Db, Row as DbRow};
use tram_platform::AppState;

use crate::delegates::Delegates;
use crate::error::{ApprovalError, ApprovalResult};
use crate::form::{self, FieldError, FieldKind};
use crate::route::{self, RouteNote, Step};
use crate::templates;
use crate::{deadlines, directory};

/// A request as the people involved see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Instance {
    pub id: String,
    pub template_id: String,
    pub template_version: i64,
    pub submitter_id: String,
    pub title: String,
    #[schema(value_type = Object)]
    pub values: Map<String, Value>,
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<Step>,
    pub step_index: i64,
    /// pending, approved, rejected, withdrawn.
    pub status: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub tasks: Vec<Task>,
    pub trail: Vec<TrailEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Task {
    pub id: String,
    pub step_index: i64,
    pub node_id: String,
    /// approve, or cc.
    pub kind: String,
    pub assignee_id: String,
    /// The approver it was moved from (delegate).
    pub moved_from: Option<String>,
    pub status: String,
    pub comment: Option<String>,
    pub due_at: Option<i64>,
    pub decided_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrailEntry {
    pub at: i64,
    pub actor_id: Option<String>,
    pub action: String,
    pub comment: Option<String>,
    #[schema(value_type = Object)]
    pub detail: Value,
}

/// Submits a request on the template's current version.
pub async fn submit(
    state: &AppState,
    me: &Membership,
    template_id: &str,
    values: &Value,
) -> ApprovalResult<Instance> {
    let template = templates::get(&state.db, &me.org_id, template_id, None).await?;
    if !template.enabled {
        return Err(ApprovalError::TemplateDisabled);
    }
    let values = form::validate(&template.fields, values).map_err(ApprovalError::InvalidValues)?;
    let directory = directory::load(&state.db, &me.org_id, &me.user_id, &template, &values).await?;
    check_people(&template.fields, &values, &directory.members)?;
    let steps = route::plan(&template.flow, &values, &directory);
    let delegates = Delegates::load(&state.db, &me.org_id, approvers_from(&steps, 0)).await?;
    let id = new_id();
    let request = NewRequest {
        id: id.clone(),
        template,
        values,
        steps,
        now: state.clock.now_ms(),
    };
    state
        .db
        .in_writer_lane(record_request(
            state.clone(),
            me.clone(),
            request,
            delegates,
        ))
        .await?;
    get(&state.db, me, &id).await
}

/// A request checked and routed, ready to be stored.
struct NewRequest {
    id: String,
    template: templates::Template,
    values: Map<String, Value>,
    steps: Vec<Step>,
    now: i64,
}

/// The transaction of a submission: the request, its first tasks.
async fn record_request(
    state: AppState,
    me: Membership,
    r: NewRequest,
    mut delegates: Delegates,
) -> ApprovalResult<()> {
    let (id, now) = (r.id.as_str(), r.now);
    let mut tx = state.db.begin_batched().await?;
    tx.push(
        "INSERT INTO approval_instances (id, org_id, template_id, template_version, submitter_id, title, form_values, steps, \
         step_index, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 'pending', $9, $9)",
        args![
            id,
            me.org_id.as_str(),
            r.template.id.as_str(),
            r.template.version,
            me.user_id.as_str(),
            r.template.name.as_str(),
            serde_json::to_string(&r.values).expect("values serialise"),
            serde_json::to_string(&r.steps).expect("steps serialise"),
            now,
        ],
    );
    crate::files::claim(&mut tx, &me, id, &r.template.fields, &r.values).await?;
    trail(
        &mut tx,
        id,
        now,
        Some(&me.user_id),
        "submitted",
        None,
        json!({ "version": r.template.version }),
    );
    let entering = Entering {
        db: &state.db,
        org_id: &me.org_id,
        instance_id: id,
        steps: &r.steps,
        set_aside: false,
        now,
    };
    enter_step(&mut tx, &entering, &mut delegates, 0).await?;
    tx.commit().await?;
    Ok(())
}

/// Everyone who may be given an approval task from step `index` on.
pub(crate) fn approvers_from(steps: &[Step], index: usize) -> impl Iterator<Item = &str> {
    steps
        .iter()
        .skip(index)
        .flat_map(|step| match step {
            Step::Approve { approvers, .. } => approvers.as_slice(),
            Step::Cc { .. } => &[],
        })
        .map(String::as_str)
}

/// Person fields must name members; department fields are checked by the
/// org when shown.
pub(crate) fn check_people(
    fields: &[form::Field],
    values: &Map<String, Value>,
    members: &std::collections::HashSet<String>,
) -> ApprovalResult<()> {
    let errors: Vec<FieldError> = fields
        .iter()
        .filter(|f| matches!(f.kind, FieldKind::Person))
        .filter_map(|f| {
            let id = values.get(&f.key)?.as_str()?;
            (!members.contains(id)).then(|| FieldError {
                field: f.key.clone(),
                code: "not_a_member",
                args: Vec::new(),
            })
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApprovalError::InvalidValues(errors))
    }
}

/// The request whose steps are entered, and when.
pub(crate) struct Entering<'a> {
    pub db: &'a Db,
    pub org_id: &'a str,
    pub instance_id: &'a str,
    pub steps: &'a [Step],
    /// Whether approvers may be waiting on the request, set aside by an
    /// approver added before them (加簽).
    pub set_aside: bool,
    pub now: i64,
}

/// Starts step `index` and every step after it that needs no one (CC
/// steps, automatically approved ones); archives the request after the
/// last.
pub(crate) async fn enter_step(
    tx: &mut BatchedTx,
    at: &Entering<'_>,
    delegates: &mut Delegates,
    mut index: usize,
) -> ApprovalResult<()> {
    let (id, now) = (at.instance_id, at.now);
    while let Some(step) = at.steps.get(index) {
        match step {
            Step::Cc {
                node_id,
                recipients,
                ..
            } => {
                for user in recipients {
                    insert_task(
                        tx, at.org_id, id, index, node_id, "cc", user, None, "cc", None, now,
                    );
                }
                trail(
                    tx,
                    id,
                    now,
                    None,
                    "cc",
                    None,
                    json!({ "node": node_id, "to": recipients }),
                );
            }
            Step::Approve {
                node_id,
                approvers,
                note,
                ..
            } if approvers.is_empty() || *note == Some(RouteNote::AutoApproved) => {
                trail(
                    tx,
                    id,
                    now,
                    None,
                    "auto_approved",
                    None,
                    json!({ "node": node_id }),
                );
            }
            Step::Approve {
                node_id,
                approvers,
                deadline_hours,
                note,
                ..
            } => {
                let due = now + i64::from(*deadline_hours) * 3_600_000;
                // Approvers set aside by an approver added before them
                // (加簽) take up their tasks again instead of new ones.
                let waiting = if at.set_aside {
                    tx.query(
                        "SELECT id FROM approval_tasks WHERE instance_id = $1 AND step_index = $2 AND status = 'waiting'",
                        args![id, index as i64],
                    )
                    .await?
                    .rows
                } else {
                    Vec::new()
                };
                if !waiting.is_empty() {
                    for row in waiting {
                        let task: String = row.try_get("id")?;
                        tx.push(
                            "UPDATE approval_tasks SET status = 'pending', due_at = $1 WHERE id = $2",
                            args![due, task.as_str()],
                        );
                        deadlines::reschedule(tx, &task, due, now);
                    }
                } else {
                    for user in approvers {
                        assign(tx, at, delegates, index, node_id, user, due).await?;
                    }
                }
                trail(
                    tx,
                    id,
                    now,
                    None,
                    "routed",
                    None,
                    json!({ "node": node_id, "to": approvers, "note": note }),
                );
                tx.push(
                    "UPDATE approval_instances SET step_index = $1, updated_at = $2 WHERE id = $3",
                    args![index as i64, now, id],
                );
                return Ok(());
            }
        }
        index += 1;
    }
    tx.push(
        "UPDATE approval_instances SET status = 'approved', step_index = $1, finished_at = $2, updated_at = $2 WHERE id = $3",
        args![index as i64, now, id],
    );
    trail(tx, id, now, None, "archived", None, json!({}));
    Ok(())
}

/// Gives an approval task to `user` — or, while they are out of office,
/// to their delegate — with its deadline and reminder jobs.
async fn assign(
    tx: &mut BatchedTx,
    at: &Entering<'_>,
    delegates: &mut Delegates,
    step_index: usize,
    node_id: &str,
    user: &str,
    due: i64,
) -> ApprovalResult<String> {
    let (instance_id, now) = (at.instance_id, at.now);
    let (assignee, moved_from) = match delegates.of(at.db, user, now).await? {
        Some((delegate, true)) => (delegate, Some(user)),
        _ => (user.to_string(), None),
    };
    let task_id = insert_task(
        tx,
        at.org_id,
        instance_id,
        step_index,
        node_id,
        "approve",
        &assignee,
        moved_from,
        "pending",
        Some(due),
        now,
    );
    if let Some(from) = moved_from {
        trail(
            tx,
            instance_id,
            now,
            None,
            "delegated",
            None,
            json!({ "from": from, "to": assignee, "why": "away" }),
        );
    }
    deadlines::schedule(tx, &task_id, due, now);
    Ok(task_id)
}

/// Queues a new task; returns its id.
#[allow(clippy::too_many_arguments)]
pub(crate) fn insert_task(
    tx: &mut BatchedTx,
    org_id: &str,
    instance_id: &str,
    step_index: usize,
    node_id: &str,
    kind: &str,
    assignee: &str,
    moved_from: Option<&str>,
    status: &str,
    due_at: Option<i64>,
    now: i64,
) -> String {
    let id = new_id();
    tx.push(
        "INSERT INTO approval_tasks (id, instance_id, org_id, step_index, node_id, kind, assignee_id, moved_from, status, due_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        args![
            id.as_str(),
            instance_id,
            org_id,
            step_index as i64,
            node_id,
            kind,
            assignee,
            moved_from,
            status,
            due_at,
            now,
        ],
    );
    id
}

/// Queues a trail entry, and the notice it calls for (if any), which goes
/// out once the change commits.
pub(crate) fn trail(
    tx: &mut BatchedTx,
    instance_id: &str,
    at: i64,
    actor: Option<&str>,
    action: &str,
    comment: Option<&str>,
    detail: Value,
) {
    let id = new_id();
    crate::notices::trail_entry(tx, &id, instance_id, actor, action, &detail, at);
    tx.push(
        "INSERT INTO approval_trail (id, instance_id, at, actor_id, action, comment, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![
            id.as_str(),
            instance_id,
            at,
            actor,
            action,
            comment,
            detail.to_string(),
        ],
    );
}

/// A request, for its submitter, anyone with a task on it, and org admins;
/// `NotFound` for everyone else (whatever the id). One read: the tasks and
/// the trail come as JSON arrays beside the request's row.
pub async fn get(db: &Db, me: &Membership, instance_id: &str) -> ApprovalResult<Instance> {
    static SQLITE: OnceLock<String> = OnceLock::new();
    static POSTGRES: OnceLock<String> = OnceLock::new();
    let sql = match db.backend() {
        Backend::Sqlite => SQLITE.get_or_init(|| instance_query("json_group_array", "json_object")),
        Backend::Postgres => {
            POSTGRES.get_or_init(|| instance_query("json_agg", "json_build_object"))
        }
    };
    let row = db
        .read_row(sql, args![instance_id, me.org_id.as_str()])
        .await?
        .ok_or(ApprovalError::NotFound)?;
    let tasks: Vec<Task> = json_column(&row, "tasks")?;
    let submitter: String = row.try_get("submitter_id")?;
    let involved = submitter == me.user_id || tasks.iter().any(|t| t.assignee_id == me.user_id);
    if !involved && !me.role.is_admin() {
        return Err(ApprovalError::NotFound);
    }
    let values = match json_column(&row, "form_values")? {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let steps: Vec<Step> = json_column(&row, "steps")?;
    let trail: Vec<StoredTrailEntry> = json_column(&row, "trail")?;
    Ok(Instance {
        id: row.try_get("id")?,
        template_id: row.try_get("template_id")?,
        template_version: row.try_get("template_version")?,
        submitter_id: submitter,
        title: row.try_get("title")?,
        values,
        steps,
        step_index: row.try_get("step_index")?,
        status: row.try_get("status")?,
        created_at: row.try_get("created_at")?,
        finished_at: row.try_get("finished_at")?,
        tasks,
        trail: trail
            .into_iter()
            .map(StoredTrailEntry::into_entry)
            .collect(),
    })
}

/// A column holding JSON text, decoded.
pub(crate) fn json_column<T: DeserializeOwned>(row: &DbRow, column: &str) -> ApprovalResult<T> {
    json_text(&row.try_get::<String>(column)?)
}

/// JSON text read from a column (by [`json_column`], or from an sqlx
/// row).
pub(crate) fn json_text<T: DeserializeOwned>(text: &str) -> ApprovalResult<T> {
    Ok(serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))?)
}

/// The request's row with its tasks and trail aggregated as JSON text,
/// written with the backend's JSON functions (array, object); both
/// backends take `ORDER BY` inside the aggregate.
fn instance_query(array: &str, object: &str) -> String {
    format!(
        "SELECT i.id, i.template_id, i.template_version, i.submitter_id, i.title, i.form_values, i.steps, i.step_index, \
         i.status, i.created_at, i.finished_at, \
         (SELECT COALESCE(CAST({array}({object}('id', t.id, 'step_index', t.step_index, 'node_id', t.node_id, \
            'kind', t.kind, 'assignee_id', t.assignee_id, 'moved_from', t.moved_from, 'status', t.status, \
            'comment', t.comment, 'due_at', t.due_at, 'decided_at', t.decided_at) \
            ORDER BY t.step_index, t.created_at, t.id) AS TEXT), '[]') \
          FROM approval_tasks t WHERE t.instance_id = i.id) AS tasks, \
         (SELECT COALESCE(CAST({array}({object}('at', r.at, 'actor_id', r.actor_id, 'action', r.action, \
            'comment', r.comment, 'detail', r.detail) ORDER BY r.at, r.id) AS TEXT), '[]') \
          FROM approval_trail r WHERE r.instance_id = i.id) AS trail \
         FROM approval_instances i WHERE i.id = $1 AND i.org_id = $2"
    )
}

/// A trail entry as stored: its detail is JSON text.
#[derive(Deserialize)]
struct StoredTrailEntry {
    at: i64,
    actor_id: Option<String>,
    action: String,
    comment: Option<String>,
    detail: String,
}

impl StoredTrailEntry {
    fn into_entry(self) -> TrailEntry {
        TrailEntry {
            at: self.at,
            actor_id: self.actor_id,
            action: self.action,
            comment: self.comment,
            detail: serde_json::from_str(&self.detail).unwrap_or(Value::Null),
        }
    }
}

/// One line of "my submissions" or an inbox.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Listed {
    pub instance_id: String,
    pub title: String,
    pub submitter_id: String,
    pub status: String,
    pub created_at: i64,
    /// The task (inbox lists only).
    pub task_id: Option<String>,
    pub task_status: Option<String>,
}

/// The member's own requests, newest first.
pub async fn submitted_by_me(db: &Db, me: &Membership, limit: i64) -> ApprovalResult<Vec<Listed>> {
    let rows = sqlx::query(
        "SELECT id AS instance_id, title, submitter_id, status, created_at, CAST(NULL AS TEXT) AS task_id, CAST(NULL AS TEXT) AS task_status \
         FROM approval_instances WHERE org_id = $1 AND submitter_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3",
    )
    .bind(&me.org_id)
    .bind(&me.user_id)
    .bind(limit.clamp(1, 500))
    .fetch_all(db.read())
    .await?;
    rows.iter().map(listed_from_row).collect()
}

/// The member's tasks: `pending` (to decide), `done` (decided), or `cc`.
pub async fn inbox(
    db: &Db,
    me: &Membership,
    which: &str,
    limit: i64,
) -> ApprovalResult<Vec<Listed>> {
    let filter = match which {
        "pending" => "t.kind = 'approve' AND t.status = 'pending'",
        "done" => "t.kind = 'approve' AND t.status IN ('approved', 'rejected')",
        "cc" => "t.kind = 'cc'",
        _ => return Err(ApprovalError::NotFound),
    };
    let rows = sqlx::query(&format!(
        "SELECT i.id AS instance_id, i.title, i.submitter_id, i.status, i.created_at, t.id AS task_id, t.status AS task_status \
         FROM approval_tasks t JOIN approval_instances i ON i.id = t.instance_id \
         WHERE t.org_id = $1 AND t.assignee_id = $2 AND {filter} ORDER BY t.created_at DESC, t.id DESC LIMIT $3"
    ))
    .bind(&me.org_id)
    .bind(&me.user_id)
    .bind(limit.clamp(1, 500))
    .fetch_all(db.read())
    .await?;
    rows.iter().map(listed_from_row).collect()
}

fn listed_from_row(r: &AnyRow) -> ApprovalResult<Listed> {
    Ok(Listed {
        instance_id: r.try_get("instance_id")?,
        title: r.try_get("title")?,
        submitter_id: r.try_get("submitter_id")?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
        task_id: r.try_get("task_id")?,
        task_status: r.try_get("task_status")?,
    })
}
