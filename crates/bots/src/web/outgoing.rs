//! The outgoing settings of a custom robot in the management JSON API
//! (group admins): set the callback address (the first time, the app
//! secret comes back once), issue a new app secret, remove the settings.
//! And the group's robot directory for its members' @ picker.

use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Serialize;
use tram_chat::conversations::{self, Participant};
use tram_org::web::OrgMember;
use tram_platform::error::ErrorBody;
use tram_platform::web::ClientInfo;
use tram_platform::{ApiResult, AppState};
use utoipa::ToSchema;

use crate::error::{BotError, BotResult};
use crate::outgoing::settings;
use crate::outgoing::{Outgoing, OutgoingSettings};
use crate::robots::RobotWebhook;
use crate::scopes::{self, ScopeSettings};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/conversations/{id}/robots/{robot_id}/outgoing",
            put(set).get(details).delete(remove),
        )
        .route(
            "/api/v1/conversations/{id}/robots/{robot_id}/outgoing/secret",
            post(reissue_secret),
        )
        .route("/api/v1/conversations/{id}/robot-directory", get(directory))
        .route(
            "/api/v1/conversations/{id}/robots/{robot_id}/scopes",
            put(set_scopes),
        )
}

/// Set what a robot may do (group admins): `post`, `receive`,
/// `read_members`, `start_forms`. Audited.
#[utoipa::path(put, path = "/api/v1/conversations/{id}/robots/{robot_id}/scopes", tag = "robots",
    params(("id" = String, Path), ("robot_id" = String, Path)), request_body = ScopeSettings,
    responses((status = 200, body = RobotWebhook), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_scopes(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path((id, robot_id)): Path<(String, String)>,
    Json(body): Json<ScopeSettings>,
) -> ApiResult<Json<RobotWebhook>> {
    let me = admin(&state, &member, &id).await?;
    Ok(Json(
        scopes::set(&state, &me, &client, &robot_id, &body).await?,
    ))
}

/// A robot a member may @mention.
#[derive(Serialize, ToSchema)]
pub struct MentionableRobot {
    pub id: String,
    pub name: String,
    pub avatar_url: Option<String>,
}

/// The group's robots that are on, for the @ picker (any member).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/robot-directory", tag = "robots",
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<MentionableRobot>), (status = 403, body = ErrorBody)))]
pub async fn directory(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<MentionableRobot>>> {
    let me = conversations::participant(&state.db, &member.org.id, &id, &member.auth.user_id)
        .await
        .map_err(BotError::from)?;
    let robots = crate::robots::list(&state.db, &me.conversation_id).await?;
    Ok(Json(
        robots
            .into_iter()
            .filter(|r| r.enabled)
            .map(|r| MentionableRobot {
                id: r.id,
                name: r.name,
                avatar_url: r.avatar_url,
            })
            .collect(),
    ))
}

async fn admin(state: &AppState, member: &OrgMember, id: &str) -> BotResult<Participant> {
    let me =
        conversations::participant(&state.db, &member.org.id, id, &member.auth.user_id).await?;
    me.require_admin()?;
    Ok(me)
}

/// Outgoing settings, with the app secret when one was just issued (shown
/// once).
#[derive(Serialize, ToSchema)]
pub struct IssuedOutgoing {
    pub outgoing: Option<Outgoing>,
    /// Signs Tram's callbacks (`timestamp` and `sign` headers).
    pub app_secret: Option<String>,
}

/// Set a custom robot's callback address (group admins). The first time,
/// the answer carries the app secret, once.
#[utoipa::path(put, path = "/api/v1/conversations/{id}/robots/{robot_id}/outgoing", tag = "robots",
    params(("id" = String, Path), ("robot_id" = String, Path)), request_body = OutgoingSettings,
    responses((status = 200, body = IssuedOutgoing), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path((id, robot_id)): Path<(String, String)>,
    Json(body): Json<OutgoingSettings>,
) -> ApiResult<Json<IssuedOutgoing>> {
    let me = admin(&state, &member, &id).await?;
    let (outgoing, app_secret) = settings::set(&state, &me, &client, &robot_id, &body).await?;
    Ok(Json(IssuedOutgoing {
        outgoing: Some(outgoing),
        app_secret,
    }))
}

/// A robot's outgoing settings (404 `no_outgoing` when it has none).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/robots/{robot_id}/outgoing", tag = "robots",
    params(("id" = String, Path), ("robot_id" = String, Path)),
    responses((status = 200, body = Outgoing), (status = 404, body = ErrorBody)))]
pub async fn details(
    State(state): State<AppState>,
    member: OrgMember,
    Path((id, robot_id)): Path<(String, String)>,
) -> ApiResult<Json<Outgoing>> {
    let me = admin(&state, &member, &id).await?;
    let outgoing = settings::get(&state.db, &me, &robot_id)
        .await?
        .ok_or(BotError::NoOutgoing)?;
    Ok(Json(outgoing))
}

/// Issue a new app secret; callbacks are signed with it from now on.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/robots/{robot_id}/outgoing/secret", tag = "robots",
    params(("id" = String, Path), ("robot_id" = String, Path)),
    responses((status = 200, body = IssuedOutgoing), (status = 404, body = ErrorBody)))]
pub async fn reissue_secret(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path((id, robot_id)): Path<(String, String)>,
) -> ApiResult<Json<IssuedOutgoing>> {
    let me = admin(&state, &member, &id).await?;
    let secret = settings::reissue_secret(&state, &me, &client, &robot_id).await?;
    Ok(Json(IssuedOutgoing {
        outgoing: settings::get(&state.db, &me, &robot_id).await?,
        app_secret: Some(secret),
    }))
}

/// Remove the outgoing settings: @mentions no longer call the robot's
/// server, and its session webhooks stop working.
#[utoipa::path(delete, path = "/api/v1/conversations/{id}/robots/{robot_id}/outgoing", tag = "robots",
    params(("id" = String, Path), ("robot_id" = String, Path)),
    responses((status = 200, body = IssuedOutgoing), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path((id, robot_id)): Path<(String, String)>,
) -> ApiResult<Json<IssuedOutgoing>> {
    let me = admin(&state, &member, &id).await?;
    settings::remove(&state, &me, &client, &robot_id).await?;
    Ok(Json(IssuedOutgoing {
        outgoing: None,
        app_secret: None,
    }))
}
