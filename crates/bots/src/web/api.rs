//! The robot management JSON API under `/api/v1/conversations/{id}/`
//! (group admins): robots, their credentials, and the log of their calls.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tram_chat::conversations::{self, Participant};
use tram_org::web::OrgMember;
use tram_platform::error::ErrorBody;
use tram_platform::web::ClientInfo;
use tram_platform::{ApiResult, AppState};
use utoipa::{OpenApi, ToSchema};

use crate::calls::{self, CallFilter, RobotCall};
use crate::error::BotResult;
use crate::robots::{self, Issued, NewRobot, RobotSettings, RobotWebhook};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/conversations/{id}/robots", get(list).post(create))
        .route(
            "/api/v1/conversations/{id}/robots/{robot_id}",
            get(details).put(update).delete(remove),
        )
        .route(
            "/api/v1/conversations/{id}/robots/{robot_id}/enabled",
            put(set_enabled),
        )
        .route(
            "/api/v1/conversations/{id}/robots/{robot_id}/token",
            post(reissue_token),
        )
        .route(
            "/api/v1/conversations/{id}/robots/{robot_id}/secret",
            post(reissue_secret).delete(remove_secret),
        )
        .route("/api/v1/conversations/{id}/robot-calls", get(call_log))
        .merge(super::outgoing::routes())
        .merge(super::cards::routes())
}

#[derive(OpenApi)]
#[openapi(
    paths(list, create, details, update, remove, set_enabled, reissue_token, reissue_secret, remove_secret, call_log,
          super::webhook::send, super::webhook::send_by_session,
          super::outgoing::set, super::outgoing::details, super::outgoing::reissue_secret, super::outgoing::remove, super::outgoing::directory, super::outgoing::set_scopes, super::webhook::members,
          super::cards::send_card, super::cards::click),
    components(schemas(RobotWebhook, RobotSettings, NewRobot, IssuedRobot, EnabledRequest, RobotCall, Removed,
                       super::webhook::DingTalkAnswer, crate::outgoing::Outgoing, crate::outgoing::OutgoingSettings,
                       super::outgoing::IssuedOutgoing, super::outgoing::MentionableRobot, crate::scopes::Scope, crate::scopes::ScopeSettings,
                       super::webhook::MembersAnswer, crate::webhook::RobotMember, crate::interactive::ComposedCard, crate::interactive::ButtonSpec,
                       super::cards::Clicked)),
    tags((name = "robots", description = "Custom webhook robots of a group (group admins), and the DingTalk-compatible \
        webhook they post to. See docs/robots.md."))
)]
pub struct RobotsApi;

/// The caller's place in the group, checked before anything else; robots
/// are for the group's admins only.
async fn admin(state: &AppState, member: &OrgMember, id: &str) -> BotResult<Participant> {
    let me =
        conversations::participant(&state.db, &member.org.id, id, &member.auth.user_id).await?;
    me.require_admin()?;
    Ok(me)
}

/// Where robots post: the configured public address, else the address
/// this request came to.
pub fn webhook_base(state: &AppState, headers: &HeaderMap) -> String {
    if !state.config.public_url.is_empty() {
        return state.config.public_url();
    }
    match headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && !h.contains(['/', ' ']))
    {
        Some(host) => format!("http://{host}"),
        None => state.config.public_url(),
    }
}

/// A robot with the credentials just issued; shown once.
#[derive(Serialize, ToSchema)]
pub struct IssuedRobot {
    pub robot: RobotWebhook,
    /// `…/robot/send?access_token=…` (new token only).
    pub webhook_url: Option<String>,
    pub access_token: Option<String>,
    /// The signing secret `SEC…` (new secret only).
    pub secret: Option<String>,
}

fn issued(state: &AppState, headers: &HeaderMap, issued: Issued) -> Json<IssuedRobot> {
    let webhook_url = issued.access_token.as_ref().map(|t| {
        format!(
            "{}/robot/send?access_token={t}",
            webhook_base(state, headers)
        )
    });
    Json(IssuedRobot {
        robot: issued.robot,
        webhook_url,
        access_token: issued.access_token,
        secret: issued.secret,
    })
}

/// The robots of a group (group admins).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/robots", tag = "robots", params(("id" = String, Path)),
    responses((status = 200, body = Vec<RobotWebhook>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<RobotWebhook>>> {
    let me = admin(&state, &member, &id).await?;
    Ok(Json(robots::list(&state.db, &me.conversation_id).await?))
}

/// Add a custom robot to a group (group admins). At least one security
/// setting is required: keywords, signing, or an IP allow-list. The
/// answer holds the webhook address (and the secret) once.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/robots", tag = "robots", params(("id" = String, Path)), request_body = NewRobot,
    responses((status = 200, body = IssuedRobot), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<NewRobot>,
) -> ApiResult<Json<IssuedRobot>> {
    let me = admin(&state, &member, &id).await?;
    let made = robots::create(&state, &me, &client, &body).await?;
    Ok(issued(&state, &headers, made))
}

/// One robot of a group (group admins).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/robots/{robot_id}", tag = "robots",
    params(("id" = String, Path), ("robot_id" = String, Path)), responses((status = 200, body = RobotWebhook), (status = 404, body = ErrorBody)))]
async fn details(
    State(state): State<AppState>,
    member: OrgMember,
    Path((id, robot_id)): Path<(String, String)>,
) -> ApiResult<Json<RobotWebhook>> {
    let me = admin(&state, &member, &id).await?;
    Ok(Json(
        robots::get(&state.db, &me.conversation_id, &robot_id).await?,
    ))
}

/// Change a robot's name, picture, keywords and IP allow-list.
#[utoipa::path(put, path = "/api/v1/conversations/{id}/robots/{robot_id}", tag = "robots",
    params(("id" = String, Path), ("robot_id" = String, Path)), request_body = RobotSettings,
    responses((status = 200, body = RobotWebhook), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path((id, robot_id)): Path<(String, String)>,
    Json(body): Json<RobotSettings>,
) -> ApiResult<Json<RobotWebhook>> {
    let me = admin(&state, &member, &id).await?;
    Ok(Json(
        robots::update(&state, &me, &client, &robot_id, &body).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct EnabledRequest {
    /// `false` stops the robot: its calls are refused (400102).
    #[serde(deserialize_with = "crate::robots::flexible_bool")]
    #[schema(value_type = bool)]
    pub enabled: bool,
}

/// Stop or restart a robot.
#[utoipa::path(put, path = "/api/v1/conversations/{id}/robots/{robot_id}/enabled", tag = "robots",
    params(("id" = String, Path), ("robot_id" = String, Path)), request_body = EnabledRequest,
    responses((status = 200, body = RobotWebhook), (status = 404, body = ErrorBody)))]
async fn set_enabled(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path((id, robot_id)): Path<(String, String)>,
    Json(body): Json<EnabledRequest>,
) -> ApiResult<Json<RobotWebhook>> {
    let me = admin(&state, &member, &id).await?;
    Ok(Json(
        robots::set_enabled(&state, &me, &client, &robot_id, body.enabled).await?,
    ))
}

/// Issue a new webhook address (access token); the old one stops working.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/robots/{robot_id}/token", tag = "robots",
    params(("id" = String, Path), ("robot_id" = String, Path)), responses((status = 200, body = IssuedRobot), (status = 404, body = ErrorBody)))]
async fn reissue_token(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    headers: HeaderMap,
    Path((id, robot_id)): Path<(String, String)>,
) -> ApiResult<Json<IssuedRobot>> {
    let me = admin(&state, &member, &id).await?;
    let made = robots::reissue_token(&state, &me, &client, &robot_id).await?;
    Ok(issued(&state, &headers, made))
}

/// Turn signing on with a new secret, or replace the secret.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/robots/{robot_id}/secret", tag = "robots",
    params(("id" = String, Path), ("robot_id" = String, Path)), responses((status = 200, body = IssuedRobot), (status = 404, body = ErrorBody)))]
async fn reissue_secret(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    headers: HeaderMap,
    Path((id, robot_id)): Path<(String, String)>,
) -> ApiResult<Json<IssuedRobot>> {
    let me = admin(&state, &member, &id).await?;
    let made = robots::reissue_secret(&state, &me, &client, &robot_id).await?;
    Ok(issued(&state, &headers, made))
}

/// Turn signing off (another security setting must remain).
#[utoipa::path(delete, path = "/api/v1/conversations/{id}/robots/{robot_id}/secret", tag = "robots",
    params(("id" = String, Path), ("robot_id" = String, Path)),
    responses((status = 200, body = RobotWebhook), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove_secret(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path((id, robot_id)): Path<(String, String)>,
) -> ApiResult<Json<RobotWebhook>> {
    let me = admin(&state, &member, &id).await?;
    Ok(Json(
        robots::remove_secret(&state, &me, &client, &robot_id).await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct Removed {
    pub ok: bool,
}

/// Remove a robot; its messages stay.
#[utoipa::path(delete, path = "/api/v1/conversations/{id}/robots/{robot_id}", tag = "robots",
    params(("id" = String, Path), ("robot_id" = String, Path)), responses((status = 200, body = Removed), (status = 404, body = ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path((id, robot_id)): Path<(String, String)>,
) -> ApiResult<Json<Removed>> {
    let me = admin(&state, &member, &id).await?;
    robots::delete(&state, &me, &client, &robot_id).await?;
    Ok(Json(Removed { ok: true }))
}

/// The calls made to a group's robots, newest first, filtered (group
/// admins).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/robot-calls", tag = "robots", params(("id" = String, Path), CallFilter),
    responses((status = 200, body = Vec<RobotCall>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn call_log(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
    Query(filter): Query<CallFilter>,
) -> ApiResult<Json<Vec<RobotCall>>> {
    let me = admin(&state, &member, &id).await?;
    Ok(Json(
        calls::list(&state.db, &me.conversation_id, &filter).await?,
    ))
}
