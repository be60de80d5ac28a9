//! Interactive cards over HTTP: a group admin sends a composed card as one
//! of the group's robots; a member's click on a callback button (session
//! and CSRF token, like every API call from the page) is handed to the
//! robot's server.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use tram_chat::conversations::{self, Participant};
use tram_chat::messages::Message;
use tram_org::web::OrgMember;
use tram_platform::error::ErrorBody;
use tram_platform::{ApiResult, AppState};
use utoipa::ToSchema;

use crate::error::{BotError, BotResult};
use crate::interactive::{self, ComposedCard};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/conversations/{id}/robot-cards", post(send_card))
        .route(
            "/api/v1/conversations/{id}/messages/{message_id}/buttons/{index}",
            post(click),
        )
}

async fn member_of(state: &AppState, member: &OrgMember, id: &str) -> BotResult<Participant> {
    conversations::participant(&state.db, &member.org.id, id, &member.auth.user_id)
        .await
        .map_err(BotError::from)
}

/// Send a card composed without code as one of the group's robots (group
/// admins). Buttons: `url` (http/https), `page` (a path beginning with
/// `/` plus `key=value` lines; scope `start_forms`) or `callback` (an
/// outgoing robot with scope `receive`).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/robot-cards", tag = "robots",
    params(("id" = String, Path)), request_body = ComposedCard,
    responses((status = 200, body = Message), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn send_card(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
    Json(body): Json<ComposedCard>,
) -> ApiResult<Json<Message>> {
    let me = member_of(&state, &member, &id).await?;
    Ok(Json(interactive::send_card(&state, &me, &body).await?))
}

#[derive(Serialize, ToSchema)]
pub struct Clicked {
    pub ok: bool,
}

/// Click a card's callback button (members of the group): the robot's
/// server gets a signed callback, and its answer is posted to the group.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages/{message_id}/buttons/{index}", tag = "robots",
    params(("id" = String, Path), ("message_id" = String, Path), ("index" = usize, Path)),
    responses((status = 200, body = Clicked), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn click(
    State(state): State<AppState>,
    member: OrgMember,
    Path((id, message_id, index)): Path<(String, String, usize)>,
) -> ApiResult<Json<Clicked>> {
    let me = member_of(&state, &member, &id).await?;
    interactive::click(&state, &me, &message_id, index).await?;
    Ok(Json(Clicked { ok: true }))
}
