//! A request's page (`/approvals/{id}`): its values formatted, its steps
//! with who and how each stands, the full trail, and the actions the
//! viewer may take (an approver: approve/reject with a comment, transfer,
//! add an approver before/after, return; the submitter: withdraw, or
//! resubmit a returned one). Finished requests are read-only. The print
//! view lays the same out for A4.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use tram_org::web::OrgMember;
use tram_platform::web::page::render_with_status;
use tram_platform::web::{FormErrors, PageContext};
use tram_platform::AppState;

use super::values::{self, ShownTable};
use super::{error_page, name_of, names, people, refused, see_other};
use crate::decisions::{self, AddPosition, Decision};
use crate::error::{ApprovalError, ApprovalResult};
use crate::flow::SignMode;
use crate::form::FieldKind;
use crate::instances::{self, Instance};
use crate::route::Step;
use crate::templates;

/// One value, formatted.
pub struct Shown {
    pub label: String,
    pub text: String,
    pub table: Option<ShownTable>,
    /// An attachment field's files.
    pub files: Vec<ShownFile>,
}

/// A file on the request, as a download link.
pub struct ShownFile {
    pub href: String,
    pub name: String,
    pub size: String,
}

/// A size as people read it: `820 B`, `12.3 KB`, `4.0 MB`.
fn size_text(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

pub struct TaskView {
    pub who: String,
    pub status: String,
    pub comment: String,
    pub decided_at: String,
    /// Whose task it was before it moved (a delegate took it).
    pub moved_from: String,
}

pub struct StepView {
    pub name: String,
    pub cc: bool,
    /// 會簽 / 或簽 (several approvers).
    pub mode: String,
    pub approvers: String,
    /// `done`, `current` or `waiting`.
    pub state: &'static str,
    pub tasks: Vec<TaskView>,
}

pub struct TrailView {
    pub at: String,
    pub who: String,
    pub action: String,
    pub comment: String,
}

#[derive(Template)]
#[template(path = "approvals_request.html")]
struct RequestPage {
    ctx: PageContext,
    instance: Instance,
    template_name: String,
    submitter: String,
    status: String,
    shown: Vec<Shown>,
    steps: Vec<StepView>,
    trail: Vec<TrailView>,
    /// The viewer's pending approval task.
    my_task: String,
    /// `approve` or `reject` when opened from a notice's button for the
    /// viewer's pending task (`?task=…&decision=…`): that action is shown
    /// as chosen, nothing is submitted.
    preselect: String,
    /// The chosen action's button label.
    preselect_label: String,
    /// Opened from a notice's button for a task no longer waiting for the
    /// viewer.
    task_gone: bool,
    can_withdraw: bool,
    can_resubmit: bool,
    people: Vec<(String, String)>,
    errors: FormErrors,
}

#[derive(Template)]
#[template(path = "approvals_print.html")]
struct PrintPage {
    ctx: PageContext,
    instance: Instance,
    template_name: String,
    submitter: String,
    status: String,
    shown: Vec<Shown>,
    steps: Vec<StepView>,
    trail: Vec<TrailView>,
    printed_at: String,
}

struct Parts {
    instance: Instance,
    template_name: String,
    submitter: String,
    status: String,
    shown: Vec<Shown>,
    steps: Vec<StepView>,
    trail: Vec<TrailView>,
}

fn steps(ctx: &PageContext, instance: &Instance, names: &HashMap<String, String>) -> Vec<StepView> {
    instance
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let i = i as i64;
            let (name, cc, people, mode) = match step {
                Step::Approve {
                    name,
                    approvers,
                    mode,
                    ..
                } => {
                    let mode = match (approvers.len() > 1, mode) {
                        (false, _) => "",
                        (true, SignMode::Countersign) => "approvals_pages.mode.countersign",
                        (true, SignMode::OrSign) => "approvals_pages.mode.or_sign",
                    };
                    (name, false, approvers, mode)
                }
                Step::Cc {
                    name, recipients, ..
                } => (name, true, recipients, ""),
            };
            let state = match (instance.status.as_str(), i.cmp(&instance.step_index)) {
                ("approved", _) | (_, std::cmp::Ordering::Less) => "done",
                ("pending" | "returned", std::cmp::Ordering::Equal) => "current",
                // Rejected or withdrawn: the step it stopped at is over.
                (_, std::cmp::Ordering::Equal) => "done",
                _ => "waiting",
            };
            let tasks = instance
                .tasks
                .iter()
                .filter(|t| t.step_index == i)
                .map(|t| TaskView {
                    who: name_of(names, &t.assignee_id),
                    status: ctx
                        .t(&format!("approvals_pages.task.{}", t.status))
                        .to_string(),
                    comment: t.comment.clone().unwrap_or_default(),
                    decided_at: t.decided_at.map(|at| ctx.time(at)).unwrap_or_default(),
                    moved_from: t
                        .moved_from
                        .as_deref()
                        .map(|from| name_of(names, from))
                        .unwrap_or_default(),
                })
                .collect();
            StepView {
                name: name.clone(),
                cc,
                mode: if mode.is_empty() {
                    String::new()
                } else {
                    ctx.t(mode).to_string()
                },
                approvers: people
                    .iter()
                    .map(|p| name_of(names, p))
                    .collect::<Vec<_>>()
                    .join(", "),
                state,
                tasks,
            }
        })
        .collect()
}

async fn parts(
    state: &AppState,
    ctx: &PageContext,
    member: &OrgMember,
    id: &str,
) -> ApprovalResult<Parts> {
    let instance = instances::get(&state.db, &member.membership, id).await?;
    let template = templates::get(
        &state.db,
        &member.org.id,
        &instance.template_id,
        Some(instance.template_version),
    )
    .await?;
    let names = names(state, &member.org.id).await?;
    let has_files = template
        .fields
        .iter()
        .any(|f| matches!(f.kind, FieldKind::Attachment));
    let files = if has_files {
        crate::files::names_on_request(state, &instance.id).await?
    } else {
        HashMap::new()
    };
    let shown = template
        .fields
        .iter()
        .filter_map(|field| {
            let value = instance.values.get(&field.key)?;
            Some(match &field.kind {
                FieldKind::Table { columns } => Shown {
                    label: field.label.clone(),
                    text: String::new(),
                    table: Some(values::display_table(columns, value, &names)),
                    files: Vec::new(),
                },
                FieldKind::Attachment => Shown {
                    label: field.label.clone(),
                    text: String::new(),
                    table: None,
                    files: value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|id| files.get(id.as_str()?))
                        .map(|f| ShownFile {
                            href: format!("/approvals/{}/files/{}", instance.id, f.id),
                            name: f.file_name.clone(),
                            size: size_text(f.size_bytes),
                        })
                        .collect(),
                },
                _ => Shown {
                    label: field.label.clone(),
                    text: values::display(field, value, &names),
                    table: None,
                    files: Vec::new(),
                },
            })
        })
        .collect();
    let trail = instance
        .trail
        .iter()
        .map(|entry| TrailView {
            at: ctx.time(entry.at),
            who: entry
                .actor_id
                .as_deref()
                .map(|a| name_of(&names, a))
                .unwrap_or_else(|| ctx.t("approvals_pages.trail.system").to_string()),
            action: ctx
                .t(&format!("approvals_pages.trail.{}", entry.action))
                .to_string(),
            comment: entry.comment.clone().unwrap_or_default(),
        })
        .collect();
    Ok(Parts {
        steps: steps(ctx, &instance, &names),
        template_name: template.name,
        submitter: name_of(&names, &instance.submitter_id),
        status: ctx
            .t(&format!("approvals_pages.status.{}", instance.status))
            .to_string(),
        shown,
        trail,
        instance,
    })
}

async fn request_page(
    state: &AppState,
    ctx: PageContext,
    member: &OrgMember,
    id: &str,
    errors: FormErrors,
    chosen: &Chosen,
) -> ApprovalResult<RequestPage> {
    let p = parts(state, &ctx, member, id).await?;
    let me = &member.membership.user_id;
    let my_task = p
        .instance
        .tasks
        .iter()
        .find(|t| &t.assignee_id == me && t.kind == "approve" && t.status == "pending")
        .map(|t| t.id.clone())
        .unwrap_or_default();
    let mine = &p.instance.submitter_id == me;
    let asked = chosen.task.as_deref().filter(|t| !t.is_empty());
    let for_my_task = asked.is_some() && asked == Some(my_task.as_str());
    let preselect = match chosen.decision.as_deref() {
        Some(d @ ("approve" | "reject")) if for_my_task => d.to_string(),
        _ => String::new(),
    };
    let preselect_label = if preselect.is_empty() {
        String::new()
    } else {
        ctx.t(&format!("approvals_pages.request.{preselect}"))
            .to_string()
    };
    Ok(RequestPage {
        preselect,
        preselect_label,
        task_gone: asked.is_some() && !for_my_task,
        can_withdraw: mine && matches!(p.instance.status.as_str(), "pending" | "returned"),
        can_resubmit: mine && p.instance.status == "returned",
        people: people(state, &member.org.id).await?,
        my_task,
        ctx,
        instance: p.instance,
        template_name: p.template_name,
        submitter: p.submitter,
        status: p.status,
        shown: p.shown,
        steps: p.steps,
        trail: p.trail,
        errors,
    })
}

/// What a notice's button asks of the request page: which task and which
/// decision the click meant.
#[derive(Debug, Default, Deserialize)]
pub struct Chosen {
    task: Option<String>,
    decision: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Path(id): Path<String>,
    Query(chosen): Query<Chosen>,
) -> Response {
    match request_page(&state, ctx, &member, &id, FormErrors::none(), &chosen).await {
        Ok(page) => render_with_status(StatusCode::OK, &page),
        Err(err) => error_page(err),
    }
}

pub async fn print(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Path(id): Path<String>,
) -> Response {
    match parts(&state, &ctx, &member, &id).await {
        Ok(p) => render_with_status(
            StatusCode::OK,
            &PrintPage {
                printed_at: ctx.time(state.clock.now_ms()),
                ctx,
                instance: p.instance,
                template_name: p.template_name,
                submitter: p.submitter,
                status: p.status,
                shown: p.shown,
                steps: p.steps,
                trail: p.trail,
            },
        ),
        Err(err) => error_page(err),
    }
}

#[derive(Deserialize)]
pub struct ActForm {
    task_id: String,
    /// approve, reject, transfer, add_before, add_after, return.
    action: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    user_id: String,
}

/// Re-renders the request with the refusal, or goes back to it.
async fn after(
    state: &AppState,
    ctx: PageContext,
    member: &OrgMember,
    id: &str,
    result: ApprovalResult<()>,
) -> Response {
    match result {
        Ok(()) => see_other(&format!("/approvals/{id}")),
        Err(ApprovalError::NotFound) => error_page(ApprovalError::NotFound),
        Err(err) => {
            let (status, errors) = refused(err, &ctx);
            match request_page(state, ctx, member, id, errors, &Chosen::default()).await {
                Ok(page) => render_with_status(status, &page),
                Err(err) => error_page(err),
            }
        }
    }
}

pub async fn act(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Path(id): Path<String>,
    Form(form): Form<ActForm>,
) -> Response {
    let me = &member.membership;
    let comment = Some(form.comment.trim()).filter(|c| !c.is_empty());
    let task = form.task_id.as_str();
    let user = form.user_id.trim();
    // The task must belong to this request: the page never acts on a
    // task of another request through this one's address.
    let belongs = match instances::get(&state.db, me, &id).await {
        Ok(instance) => instance.tasks.iter().any(|t| t.id == task),
        Err(err) => return error_page(err),
    };
    let result = if !belongs {
        Err(ApprovalError::NotYourTask)
    } else {
        match form.action.as_str() {
            "approve" => decisions::act(&state, me, task, Decision::Approve, comment).await,
            "reject" => decisions::act(&state, me, task, Decision::Reject, comment).await,
            "transfer" => decisions::transfer(&state, me, task, user, comment).await,
            "add_before" => {
                decisions::add_approver(&state, me, task, user, AddPosition::Before, comment).await
            }
            "add_after" => {
                decisions::add_approver(&state, me, task, user, AddPosition::After, comment).await
            }
            "return" => decisions::return_to_submitter(&state, me, task, comment).await,
            _ => Err(ApprovalError::NotYourTask),
        }
        .map(|_| ())
    };
    after(&state, ctx, &member, &id, result).await
}

pub async fn withdraw(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Path(id): Path<String>,
) -> Response {
    let result = decisions::withdraw(&state, &member.membership, &id)
        .await
        .map(|_| ());
    after(&state, ctx, &member, &id, result).await
}

/// A file on a request, for whoever may see the request (everyone else:
/// 404, as for the request itself).
pub async fn file(
    State(state): State<AppState>,
    member: OrgMember,
    Path((id, file_id)): Path<(String, String)>,
) -> Response {
    match crate::files::open(&state, &member.membership, &id, &file_id).await {
        // Always a download (never shown inline by the browser).
        Ok((file, handle)) => {
            tram_chat::web::files::file_response(handle, None, file.size_bytes, &file.file_name)
        }
        Err(err) => error_page(err),
    }
}
