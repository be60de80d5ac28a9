//! HTTP for scheduled and check-in robots: the JSON API under
//! `/api/v1/conversations/{id}/scheduled-robots` (group admins: create,
//! preview the next runs, edit, pause/resume, delete, run log), the
//! check-in endpoint and per-run roster (members of the group), and their
//! pages: the schedules section of the group panel (with the three-step
//! wizard, driven by `static/robots-schedule.js`) and a check-in run's page.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::TimeZone;
use serde::{Deserialize, Serialize};
use tram_chat::conversations::{self, ConversationSummary, Participant};
use tram_org::web::OrgMember;
use tram_platform::error::ErrorBody;
use tram_platform::web::ClientInfo;
use tram_platform::web::{render, PageContext};
use tram_platform::{ApiError, ApiResult, AppState};
use utoipa::{OpenApi, ToSchema};

use crate::robots::{flexible_bool, RobotKind};
use crate::schedule::checkin::{self, Entry};
use crate::schedule::runs::{self, Run};
use crate::schedule::{self, Schedule, ScheduleError, ScheduleInput, ScheduleResult};

pub fn routes() -> Router<AppState> {
    let base = "/api/v1/conversations/{id}/scheduled-robots";
    Router::new()
        .route(base, get(list).post(create))
        .route(&format!("{base}/preview"), post(preview))
        .route(&format!("{base}/{{robot_id}}"), put(update).delete(remove))
        .route(&format!("{base}/{{robot_id}}/paused"), put(set_paused))
        .route(&format!("{base}/{{robot_id}}/runs"), get(run_log))
        .route(
            "/api/v1/conversations/{id}/checkins/{robot_id}/{due}",
            get(roster).post(check_in),
        )
        .route("/chat/{id}/robots/schedules", get(section))
        .route("/chat/{id}/checkins/{robot_id}/{due}", get(run_page))
}

async fn member_of(state: &AppState, member: &OrgMember, id: &str) -> ScheduleResult<Participant> {
    Ok(conversations::participant(&state.db, &member.org.id, id, &member.auth.user_id).await?)
}

async fn admin(state: &AppState, member: &OrgMember, id: &str) -> ScheduleResult<Participant> {
    let me = member_of(state, member, id).await?;
    me.require_admin()?;
    Ok(me)
}

#[derive(OpenApi)]
#[openapi(
    paths(list, create, update, set_paused, remove, run_log, preview, roster, check_in),
    components(schemas(Schedule, ScheduleInput, NewSchedule, Paused, RemovedSchedule, Run, Preview, RunRoster, Entry, CheckedIn)),
    tags((name = "scheduled robots", description = "Scheduled and check-in robots of a group. See docs/robots.md."))
)]
pub struct ScheduleApi;

#[derive(Deserialize, ToSchema)]
struct NewSchedule {
    /// `scheduled` (default) or `checkin`.
    #[serde(default)]
    kind: String,
    #[serde(flatten)]
    input: ScheduleInput,
}

/// The scheduled and check-in robots of a group (group admins).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/scheduled-robots", tag = "scheduled robots", params(("id" = String, Path)),
    responses((status = 200, body = Vec<Schedule>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Schedule>>> {
    let me = admin(&state, &member, &id).await?;
    Ok(Json(schedule::list(&state.db, &me.conversation_id).await?))
}

/// Add a scheduled (`kind` `scheduled`) or check-in (`checkin`) robot (group admins).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/scheduled-robots", tag = "scheduled robots", params(("id" = String, Path)), request_body = NewSchedule,
    responses((status = 200, body = Schedule), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path(id): Path<String>,
    Json(body): Json<NewSchedule>,
) -> ApiResult<Json<Schedule>> {
    let me = admin(&state, &member, &id).await?;
    let kind = match body.kind.as_str() {
        "checkin" => RobotKind::Checkin,
        _ => RobotKind::Scheduled,
    };
    Ok(Json(
        schedule::create(&state, &me, &client, kind, &body.input).await?,
    ))
}

/// Change a scheduled robot; its pending run is replaced (group admins).
#[utoipa::path(put, path = "/api/v1/conversations/{id}/scheduled-robots/{robot_id}", tag = "scheduled robots", params(("id" = String, Path), ("robot_id" = String, Path)), request_body = ScheduleInput,
    responses((status = 200, body = Schedule), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path((id, robot_id)): Path<(String, String)>,
    Json(body): Json<ScheduleInput>,
) -> ApiResult<Json<Schedule>> {
    let me = admin(&state, &member, &id).await?;
    Ok(Json(
        schedule::update(&state, &me, &client, &robot_id, &body).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
struct Paused {
    #[serde(deserialize_with = "flexible_bool")]
    paused: bool,
}

/// Pause or resume a scheduled robot (group admins).
#[utoipa::path(put, path = "/api/v1/conversations/{id}/scheduled-robots/{robot_id}/paused", tag = "scheduled robots", params(("id" = String, Path), ("robot_id" = String, Path)), request_body = Paused,
    responses((status = 200, body = Schedule), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_paused(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path((id, robot_id)): Path<(String, String)>,
    Json(body): Json<Paused>,
) -> ApiResult<Json<Schedule>> {
    let me = admin(&state, &member, &id).await?;
    Ok(Json(
        schedule::set_paused(&state, &me, &client, &robot_id, body.paused).await?,
    ))
}

#[derive(Serialize, ToSchema)]
struct RemovedSchedule {
    removed: bool,
}

/// Remove a scheduled robot and its pending run (group admins).
#[utoipa::path(delete, path = "/api/v1/conversations/{id}/scheduled-robots/{robot_id}", tag = "scheduled robots", params(("id" = String, Path), ("robot_id" = String, Path)),
    responses((status = 200, body = RemovedSchedule), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path((id, robot_id)): Path<(String, String)>,
) -> ApiResult<Json<RemovedSchedule>> {
    let me = admin(&state, &member, &id).await?;
    schedule::delete(&state, &me, &client, &robot_id).await?;
    Ok(Json(RemovedSchedule { removed: true }))
}

/// A scheduled robot's runs, newest first (group admins).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/scheduled-robots/{robot_id}/runs", tag = "scheduled robots", params(("id" = String, Path), ("robot_id" = String, Path)),
    responses((status = 200, body = Vec<Run>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn run_log(
    State(state): State<AppState>,
    member: OrgMember,
    Path((id, robot_id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<Run>>> {
    let me = admin(&state, &member, &id).await?;
    schedule::get(&state.db, &me.conversation_id, &robot_id).await?;
    Ok(Json(
        runs::log(&state.db, &robot_id, 100)
            .await
            .map_err(ScheduleError::from)?,
    ))
}

#[derive(Serialize, ToSchema)]
struct Preview {
    time_zone: String,
    /// Unix ms.
    runs: Vec<i64>,
    /// The same, in the org's zone, e.g. `2026-11-30 (Mon) 09:15`.
    labels: Vec<String>,
}

/// The next 3 runs of a rule (step 2 of the wizard), in the org's zone.
/// The next 3 runs of a rule in the org's time zone (group admins).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/scheduled-robots/preview", tag = "scheduled robots", params(("id" = String, Path)), request_body = ScheduleInput,
    responses((status = 200, body = Preview), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn preview(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
    Json(input): Json<ScheduleInput>,
) -> ApiResult<Json<Preview>> {
    let me = admin(&state, &member, &id).await?;
    let (_, cron) = schedule::check_rule(&input)?;
    let tz = schedule::org_zone(&state, &me.org_id).await;
    let runs = cron.upcoming(tz, state.clock.now_ms(), 3);
    let labels = runs.iter().map(|ms| local_label(tz, *ms)).collect();
    Ok(Json(Preview {
        time_zone: tz.name().to_string(),
        runs,
        labels,
    }))
}

fn local_label(tz: chrono_tz::Tz, ms: i64) -> String {
    tz.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d (%a) %H:%M").to_string())
        .unwrap_or_default()
}

fn parse_due(due: &str) -> ScheduleResult<i64> {
    due.parse()
        .map_err(|_| crate::error::BotError::NotFound.into())
}

#[derive(Serialize, ToSchema)]
struct RunRoster {
    entries: Vec<Entry>,
}

/// Who of a check-in run has checked in (group members).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/checkins/{robot_id}/{due}", tag = "scheduled robots", params(("id" = String, Path), ("robot_id" = String, Path), ("due" = i64, Path)),
    responses((status = 200, body = RunRoster), (status = 404, body = ErrorBody)))]
async fn roster(
    State(state): State<AppState>,
    member: OrgMember,
    Path((id, robot_id, due)): Path<(String, String, String)>,
) -> ApiResult<Json<RunRoster>> {
    let me = member_of(&state, &member, &id).await?;
    let (_, entries) = checkin::run_of(&state.db, &me, &robot_id, parse_due(&due)?).await?;
    Ok(Json(RunRoster { entries }))
}

#[derive(Serialize, ToSchema)]
struct CheckedIn {
    checked_at: i64,
}

/// Check in to a run, once (group members at the time of the run).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/checkins/{robot_id}/{due}", tag = "scheduled robots", params(("id" = String, Path), ("robot_id" = String, Path), ("due" = i64, Path)),
    responses((status = 200, body = CheckedIn), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn check_in(
    State(state): State<AppState>,
    member: OrgMember,
    Path((id, robot_id, due)): Path<(String, String, String)>,
) -> ApiResult<Json<CheckedIn>> {
    let me = member_of(&state, &member, &id).await?;
    let checked_at = checkin::check_in(&state, &me, &robot_id, parse_due(&due)?).await?;
    Ok(Json(CheckedIn { checked_at }))
}

/// One schedule with what the section shows of it.
struct Row {
    s: Schedule,
    next: String,
    runs: Vec<Run>,
}

#[derive(Template)]
#[template(path = "robots_schedule_section.html")]
struct Section {
    ctx: PageContext,
    conversation_id: String,
    time_zone: String,
    rows: Vec<Row>,
    members: Vec<conversations::ConversationMember>,
    missed_default: String,
}

impl Section {
    fn label(&self, ms: &i64) -> String {
        local_label(schedule::when::zone(&self.time_zone), *ms)
    }

    fn has_day(&self, s: &Schedule, day: &u32) -> bool {
        s.days.split(',').any(|d| d == day.to_string())
    }

    fn weekdays(&self) -> Vec<(u32, &'static str)> {
        (1..=7)
            .map(|d| {
                let key = [
                    "",
                    "robots_schedule.day.1",
                    "robots_schedule.day.2",
                    "robots_schedule.day.3",
                    "robots_schedule.day.4",
                    "robots_schedule.day.5",
                    "robots_schedule.day.6",
                    "robots_schedule.day.7",
                ][d as usize];
                (d, self.ctx.t(key))
            })
            .collect()
    }

    fn rules(&self) -> Vec<(&'static str, &'static str)> {
        ["daily", "weekdays", "days", "cron"]
            .into_iter()
            .map(|r| {
                let key = match r {
                    "daily" => "robots_schedule.page.rule.daily",
                    "weekdays" => "robots_schedule.page.rule.weekdays",
                    "days" => "robots_schedule.page.rule.days",
                    _ => "robots_schedule.page.rule.cron",
                };
                (r, self.ctx.t(key))
            })
            .collect()
    }

    fn outcome(&self, outcome: &str) -> &'static str {
        match outcome {
            "posted" => self.ctx.t("robots_schedule.page.outcome.posted"),
            "late" => self.ctx.t("robots_schedule.page.outcome.late"),
            "skipped" => self.ctx.t("robots_schedule.page.outcome.skipped"),
            _ => self.ctx.t("robots_schedule.page.outcome.failed"),
        }
    }
}

/// The schedules section of the group panel (group admins).
async fn section(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let me = admin(&state, &member, &id).await?;
        let tz = schedule::org_zone(&state, &me.org_id).await;
        let mut rows = Vec::new();
        for s in schedule::list(&state.db, &me.conversation_id).await? {
            let runs = runs::log(&state.db, &s.robot_id, 10).await?;
            let next = s.next_due.map(|ms| local_label(tz, ms)).unwrap_or_default();
            rows.push(Row { s, next, runs });
        }
        let members = conversations::members(&state.db, &me.conversation_id).await?;
        Ok::<_, ScheduleError>(Section {
            ctx,
            conversation_id: me.conversation_id,
            time_zone: tz.name().to_string(),
            rows,
            members,
            missed_default: state.config.bots.schedule_missed_default.clone(),
        })
    }
    .await;
    match result {
        Ok(section) => render(&section),
        Err(err) => ApiError::from(err).into_response(),
    }
}

#[derive(Template)]
#[template(path = "robot_checkin.html")]
struct RunPage {
    ctx: PageContext,
    conversation: ConversationSummary,
    s: Schedule,
    due: i64,
    due_label: String,
    entries: Vec<Entry>,
    me: String,
    done: usize,
}

impl RunPage {
    fn at(&self, e: &Entry) -> String {
        e.checked_at.map(|ms| self.ctx.time(ms)).unwrap_or_default()
    }
}

/// A check-in run: who has checked in and who has not, and the button.
async fn run_page(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Path((id, robot_id, due)): Path<(String, String, String)>,
) -> Response {
    let result = async {
        let me = member_of(&state, &member, &id).await?;
        let due = parse_due(&due)?;
        let (s, entries) = checkin::run_of(&state.db, &me, &robot_id, due).await?;
        let conversation = conversations::summary(&state.db, &me).await?;
        let tz = schedule::org_zone(&state, &me.org_id).await;
        Ok::<_, ScheduleError>(RunPage {
            ctx,
            conversation,
            done: entries.iter().filter(|e| e.checked_at.is_some()).count(),
            s,
            due,
            due_label: local_label(tz, due),
            entries,
            me: me.user_id,
        })
    }
    .await;
    match result {
        Ok(page) => render(&page),
        Err(err) => ApiError::from(err).into_response(),
    }
}
