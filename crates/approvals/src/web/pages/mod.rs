//! The approval pages (server-rendered, zh-HK by default): the member's
//! home (`/approvals`: forms to submit, "my submissions" with where each
//! stands, the inbox tabs with bulk approve), the request form, a
//! request's page with the viewer's actions and its print view, the
//! admins' template pages, and the delegate setting. Every page calls the
//! same service functions as the JSON API, so both refuse the same things.

mod admin;
mod designer_rows;
mod form_page;
mod request;
mod stats_page;
pub mod values;

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tram_org::web::OrgMember;
use tram_platform::web::page::render_with_status;
use tram_platform::web::{render, FormErrors, PageContext};
use tram_platform::{ApiError, AppState};

use crate::decisions::{self, Decision};
use crate::delegates::{self, DelegateSetting};
use crate::error::{ApprovalError, ApprovalResult};
use crate::instances::{self, Listed};
use crate::route::Step;
use crate::templates::{self, Template as ApprovalTemplate};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/approvals", get(home))
        .route("/approvals/bulk", post(bulk))
        .route(
            "/approvals/new/{template}",
            get(form_page::new).post(form_page::submit),
        )
        .route("/approvals/{id}", get(request::show))
        .route("/approvals/{id}/act", post(request::act))
        .route("/approvals/{id}/withdraw", post(request::withdraw))
        .route(
            "/approvals/{id}/resubmit",
            get(form_page::resubmit_form).post(form_page::resubmit),
        )
        .route("/approvals/{id}/print", get(request::print))
        .route("/approvals/{id}/files/{file}", get(request::file))
        .route("/approvals/admin/stats", get(stats_page::show))
        .route("/approvals/admin/templates", get(admin::list))
        .route(
            "/approvals/admin/templates/gallery",
            post(admin::add_gallery),
        )
        .route(
            "/approvals/admin/templates/{id}/enabled",
            post(admin::set_enabled),
        )
        .route(
            "/approvals/admin/templates/{id}",
            get(admin::designer).post(admin::save),
        )
        .route("/settings/approvals", get(delegate).post(save_delegate))
}

/// An error as a page: the status with the message (not-found stays a
/// plain 404 whatever the id).
pub(crate) fn error_page(err: ApprovalError) -> Response {
    ApiError::from(err).into_response()
}

pub(crate) fn refused(err: ApprovalError, ctx: &PageContext) -> (StatusCode, FormErrors) {
    let err = ApiError::from(err);
    (err.status, FormErrors::from_error(&err, ctx.locale))
}

pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Member and department names of the org, by id.
pub(crate) async fn names(
    state: &AppState,
    org_id: &str,
) -> ApprovalResult<HashMap<String, String>> {
    let mut names: HashMap<String, String> = tram_org::members::list(&state.db, org_id)
        .await?
        .into_iter()
        .map(|m| (m.user_id, m.display_name))
        .collect();
    for d in tram_org::departments::list(&state.db, org_id).await? {
        names.insert(d.id, d.name);
    }
    Ok(names)
}

/// The org's members as (id, name), for person pickers.
pub(crate) async fn people(
    state: &AppState,
    org_id: &str,
) -> ApprovalResult<Vec<(String, String)>> {
    Ok(tram_org::members::list(&state.db, org_id)
        .await?
        .into_iter()
        .map(|m| (m.user_id, m.display_name))
        .collect())
}

pub(crate) fn name_of(names: &HashMap<String, String>, id: &str) -> String {
    names.get(id).cloned().unwrap_or_else(|| id.to_string())
}

/// Where a request stands: the current step's name and its approvers.
pub(crate) fn standing(steps: &[Step], step_index: i64, names: &HashMap<String, String>) -> String {
    match steps.get(step_index.max(0) as usize) {
        Some(Step::Approve {
            name, approvers, ..
        }) => {
            let who: Vec<String> = approvers.iter().map(|a| name_of(names, a)).collect();
            format!("{name}: {}", who.join(", "))
        }
        Some(Step::Cc { name, .. }) => name.clone(),
        None => String::new(),
    }
}

/// One line of a list on the home page.
struct Line {
    listed: Listed,
    submitter: String,
    /// The current step and approvers (pending requests).
    standing: String,
}

#[derive(Template)]
#[template(path = "approvals_home.html")]
struct HomePage {
    ctx: PageContext,
    forms: Vec<ApprovalTemplate>,
    mine: Vec<Line>,
    tab: String,
    inbox: Vec<Line>,
    notice: String,
    errors: FormErrors,
}

impl HomePage {
    fn status(&self, status: &str) -> &'static str {
        self.ctx.t(&format!("approvals_pages.status.{status}"))
    }
}

#[derive(Deserialize, Default)]
pub struct HomeQuery {
    #[serde(rename = "box", default)]
    which: Option<String>,
    #[serde(default)]
    done: Option<usize>,
}

async fn home_page(
    state: &AppState,
    ctx: PageContext,
    member: &OrgMember,
    which: &str,
    notice: String,
    errors: FormErrors,
) -> ApprovalResult<HomePage> {
    let me = &member.membership;
    let names = names(state, &me.org_id).await?;
    let forms = templates::list(&state.db, &me.org_id)
        .await?
        .into_iter()
        .filter(|t| t.enabled)
        .collect();
    let which = match which {
        "done" | "cc" => which,
        _ => "pending",
    };
    let mut lines = Vec::new();
    for (list, with_standing) in [
        (instances::submitted_by_me(&state.db, me, 50).await?, true),
        (instances::inbox(&state.db, me, which, 100).await?, false),
    ] {
        let mut out = Vec::new();
        for listed in list {
            // "My submissions" says where each stands: read each request
            // (the page lists at most 50).
            let standing = if with_standing && listed.status == "pending" {
                let instance = instances::get(&state.db, me, &listed.instance_id).await?;
                standing(&instance.steps, instance.step_index, &names)
            } else {
                String::new()
            };
            out.push(Line {
                submitter: name_of(&names, &listed.submitter_id),
                listed,
                standing,
            });
        }
        lines.push(out);
    }
    let inbox = lines.pop().unwrap_or_default();
    let mine = lines.pop().unwrap_or_default();
    Ok(HomePage {
        ctx,
        forms,
        mine,
        tab: which.to_string(),
        inbox,
        notice,
        errors,
    })
}

async fn home(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Query(query): Query<HomeQuery>,
) -> Response {
    let notice = match query.done {
        Some(n) => ctx.tf("approvals_pages.bulk.done", "count", &n.to_string()),
        None => String::new(),
    };
    let which = query.which.unwrap_or_default();
    match home_page(&state, ctx, &member, &which, notice, FormErrors::none()).await {
        Ok(page) => render(&page),
        Err(err) => error_page(err),
    }
}

/// Approves the ticked inbox tasks, each on its own (as the JSON API's
/// batch does); tasks another approver decided meanwhile are skipped.
async fn bulk(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let tasks: Vec<&String> = pairs
        .iter()
        .filter(|(k, _)| k == "task_id")
        .map(|(_, v)| v)
        .collect();
    let comment = pairs
        .iter()
        .find(|(k, _)| k == "comment")
        .map(|(_, v)| v.trim())
        .filter(|c| !c.is_empty());
    if tasks.is_empty() || tasks.len() > 100 {
        let errors = FormErrors::from_error(
            &ApiError::bad_request("invalid_batch", "approvals.error.invalid_batch"),
            ctx.locale,
        );
        return match home_page(&state, ctx, &member, "pending", String::new(), errors).await {
            Ok(page) => render_with_status(StatusCode::BAD_REQUEST, &page),
            Err(err) => error_page(err),
        };
    }
    let mut done = 0;
    for task in tasks {
        let result =
            decisions::act(&state, &member.membership, task, Decision::Approve, comment).await;
        if result.is_ok() {
            done += 1;
        }
    }
    see_other(&format!("/approvals?done={done}"))
}

#[derive(Template)]
#[template(path = "approvals_delegate.html")]
struct DelegatePage {
    ctx: PageContext,
    people: Vec<(String, String)>,
    delegate_id: String,
    away_from: String,
    away_until: String,
    /// The org's zone (IANA name), in which the period is typed and shown.
    time_zone: String,
    errors: FormErrors,
    saved: bool,
}

/// A stored instant as the value of a `datetime-local` input, in the
/// org's zone.
fn local_input(zone: chrono_tz::Tz, ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.with_timezone(&zone).format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

/// A `datetime-local` input's value, a wall-clock time in the org's zone,
/// as Unix ms (a time skipped when clocks go forward is the end of the
/// gap; one repeated when they go back, the first).
fn parse_local(zone: chrono_tz::Tz, text: &str) -> Result<Option<i64>, ()> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").map_err(|_| ())?;
    tram_platform::clock::local_instant(zone, naive)
        .map(Some)
        .ok_or(())
}

async fn delegate(State(state): State<AppState>, ctx: PageContext, member: OrgMember) -> Response {
    let result = async {
        let setting = delegates::get(&state.db, &member.membership).await?;
        let zone = tram_platform::clock::zone(&member.org.time_zone);
        Ok::<_, ApprovalError>(DelegatePage {
            people: people(&state, &member.org.id).await?,
            delegate_id: setting.delegate_id.unwrap_or_default(),
            away_from: local_input(zone, setting.away_from),
            away_until: local_input(zone, setting.away_until),
            time_zone: zone.name().to_string(),
            ctx,
            errors: FormErrors::none(),
            saved: false,
        })
    }
    .await;
    match result {
        Ok(page) => render(&page),
        Err(err) => error_page(err),
    }
}

#[derive(Deserialize)]
pub struct DelegateForm {
    #[serde(default)]
    delegate_id: String,
    #[serde(default)]
    away_from: String,
    #[serde(default)]
    away_until: String,
}

async fn save_delegate(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Form(form): Form<DelegateForm>,
) -> Response {
    let zone = tram_platform::clock::zone(&member.org.time_zone);
    let result = match (
        parse_local(zone, &form.away_from),
        parse_local(zone, &form.away_until),
    ) {
        (Ok(away_from), Ok(away_until)) => {
            let delegate_id = Some(form.delegate_id.trim().to_string()).filter(|d| !d.is_empty());
            let setting = DelegateSetting {
                delegate_id,
                away_from,
                away_until,
            };
            delegates::set(&state, &member.membership, &setting)
                .await
                .map(|_| ())
        }
        (Err(()), _) => Err(ApprovalError::InvalidDelegate("away_from")),
        (_, Err(())) => Err(ApprovalError::InvalidDelegate("away_until")),
    };
    let people = match people(&state, &member.org.id).await {
        Ok(people) => people,
        Err(err) => return error_page(err),
    };
    let (status, errors, saved) = match result {
        Ok(()) => (StatusCode::OK, FormErrors::none(), true),
        Err(err) => {
            let (status, errors) = refused(err, &ctx);
            (status, errors, false)
        }
    };
    render_with_status(
        status,
        &DelegatePage {
            ctx,
            people,
            delegate_id: form.delegate_id,
            away_from: form.away_from,
            away_until: form.away_until,
            time_zone: zone.name().to_string(),
            errors,
            saved,
        },
    )
}
