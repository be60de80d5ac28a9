//! The AI assistant's JSON API: adding it to a group (group admins), the
//! org's knowledge base and queue of unanswered questions (org admins;
//! members may read one entry, which answers link to), and ratings of
//! answers (members of the answer's group). Everything is looked up within
//! the caller's org, so another org's ids are simply not found.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use tram_chat::conversations;
use tram_org::web::OrgMember;
use tram_platform::error::ErrorBody;
use tram_platform::web::ClientInfo;
use tram_platform::{ApiResult, AppState};
use utoipa::OpenApi;

use super::api::Removed;
use crate::assistant::knowledge::{self, Entry, EntryKind, NewEntry};
use crate::assistant::queue::{self, AnswerRequest, Question};
use crate::assistant::ratings::{self, RatingRequest, Ratings};
use crate::assistant::{robot, AssistantResult};
use crate::robots::RobotWebhook;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/conversations/{id}/assistant", post(add_assistant))
        .route("/api/v1/assistant/entries", get(list).post(create))
        .route(
            "/api/v1/assistant/entries/{entry_id}",
            get(details).put(update).delete(remove),
        )
        .route("/api/v1/assistant/questions", get(questions))
        .route(
            "/api/v1/assistant/questions/{question_id}/answer",
            post(answer),
        )
        .route(
            "/api/v1/assistant/answers/{message_id}/rating",
            get(rating).put(rate),
        )
}

#[derive(OpenApi)]
#[openapi(
    paths(add_assistant, list, create, details, update, remove, questions, answer, rating, rate),
    components(schemas(Entry, EntryKind, NewEntry, Question, AnswerRequest, Ratings, RatingRequest)),
    tags((name = "assistant", description = "The AI assistant robot, the org's knowledge base and its queue of \
        unanswered questions. See docs/robots.md."))
)]
pub struct AssistantApi;

fn org_admin(member: &OrgMember) -> AssistantResult<()> {
    Ok(member.require_admin()?)
}

/// Add the AI assistant to a group (group admins); a group has one.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/assistant", tag = "assistant", params(("id" = String, Path)),
    responses((status = 200, body = RobotWebhook), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn add_assistant(
    State(state): State<AppState>,
    member: OrgMember,
    client: ClientInfo,
    Path(id): Path<String>,
) -> ApiResult<Json<RobotWebhook>> {
    let me = conversations::participant(&state.db, &member.org.id, &id, &member.auth.user_id)
        .await
        .map_err(crate::error::BotError::from)?;
    Ok(Json(robot::add(&state, &me, &client).await?))
}

/// The org's knowledge base, with the ratings of answers citing each entry
/// (org admins).
#[utoipa::path(get, path = "/api/v1/assistant/entries", tag = "assistant",
    responses((status = 200, body = Vec<Entry>), (status = 403, body = ErrorBody)))]
async fn list(State(state): State<AppState>, member: OrgMember) -> ApiResult<Json<Vec<Entry>>> {
    org_admin(&member)?;
    Ok(Json(knowledge::list(&state.db, &member.org.id).await?))
}

/// Add an FAQ or a document (org admins).
#[utoipa::path(post, path = "/api/v1/assistant/entries", tag = "assistant", request_body = NewEntry,
    responses((status = 200, body = Entry), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    member: OrgMember,
    Json(body): Json<NewEntry>,
) -> ApiResult<Json<Entry>> {
    org_admin(&member)?;
    let entry = knowledge::create(&state, &member.org.id, &member.auth.user_id, &body).await?;
    Ok(Json(entry))
}

/// One entry (any member of the org: answers link here).
#[utoipa::path(get, path = "/api/v1/assistant/entries/{entry_id}", tag = "assistant", params(("entry_id" = String, Path)),
    responses((status = 200, body = Entry), (status = 404, body = ErrorBody)))]
async fn details(
    State(state): State<AppState>,
    member: OrgMember,
    Path(entry_id): Path<String>,
) -> ApiResult<Json<Entry>> {
    Ok(Json(
        knowledge::get(&state.db, &member.org.id, &entry_id).await?,
    ))
}

/// Change an entry (org admins).
#[utoipa::path(put, path = "/api/v1/assistant/entries/{entry_id}", tag = "assistant", params(("entry_id" = String, Path)),
    request_body = NewEntry, responses((status = 200, body = Entry), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    member: OrgMember,
    Path(entry_id): Path<String>,
    Json(body): Json<NewEntry>,
) -> ApiResult<Json<Entry>> {
    org_admin(&member)?;
    Ok(Json(
        knowledge::update(&state, &member.org.id, &entry_id, &body).await?,
    ))
}

/// Remove an entry (org admins).
#[utoipa::path(delete, path = "/api/v1/assistant/entries/{entry_id}", tag = "assistant", params(("entry_id" = String, Path)),
    responses((status = 200, body = Removed), (status = 404, body = ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    member: OrgMember,
    Path(entry_id): Path<String>,
) -> ApiResult<Json<Removed>> {
    org_admin(&member)?;
    knowledge::delete(&state, &member.org.id, &entry_id).await?;
    Ok(Json(Removed { ok: true }))
}

/// Questions the assistant could not answer: unanswered first (org admins).
#[utoipa::path(get, path = "/api/v1/assistant/questions", tag = "assistant",
    responses((status = 200, body = Vec<Question>), (status = 403, body = ErrorBody)))]
async fn questions(
    State(state): State<AppState>,
    member: OrgMember,
) -> ApiResult<Json<Vec<Question>>> {
    org_admin(&member)?;
    Ok(Json(queue::list(&state, &member.org.id).await?))
}

/// Answer a queued question (org admins): the assistant tells the asker in
/// the group, and the pair becomes an FAQ.
#[utoipa::path(post, path = "/api/v1/assistant/questions/{question_id}/answer", tag = "assistant",
    params(("question_id" = String, Path)), request_body = AnswerRequest,
    responses((status = 200, body = Question), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn answer(
    State(state): State<AppState>,
    member: OrgMember,
    Path(question_id): Path<String>,
    Json(body): Json<AnswerRequest>,
) -> ApiResult<Json<Question>> {
    org_admin(&member)?;
    let answered = queue::answer(
        &state,
        &member.org.id,
        &member.auth.user_id,
        &question_id,
        &body.answer,
    )
    .await?;
    Ok(Json(answered))
}

/// The ratings of one of the assistant's answers (members of its group).
#[utoipa::path(get, path = "/api/v1/assistant/answers/{message_id}/rating", tag = "assistant",
    params(("message_id" = String, Path)), responses((status = 200, body = Ratings), (status = 404, body = ErrorBody)))]
async fn rating(
    State(state): State<AppState>,
    member: OrgMember,
    Path(message_id): Path<String>,
) -> ApiResult<Json<Ratings>> {
    let totals = ratings::get(&state, &member.org.id, &member.auth.user_id, &message_id).await?;
    Ok(Json(totals))
}

/// Rate an answer helpful or not; rating again replaces the rating.
#[utoipa::path(put, path = "/api/v1/assistant/answers/{message_id}/rating", tag = "assistant",
    params(("message_id" = String, Path)), request_body = RatingRequest,
    responses((status = 200, body = Ratings), (status = 404, body = ErrorBody)))]
async fn rate(
    State(state): State<AppState>,
    member: OrgMember,
    Path(message_id): Path<String>,
    Json(body): Json<RatingRequest>,
) -> ApiResult<Json<Ratings>> {
    let totals = ratings::rate(
        &state,
        &member.org.id,
        &member.auth.user_id,
        &message_id,
        body.helpful,
    )
    .await?;
    Ok(Json(totals))
}
