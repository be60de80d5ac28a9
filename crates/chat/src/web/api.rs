//! The chat JSON API under `/api/v1/`: conversations, members, messages
//! (send, edit, recall, history by sequence cursors, read marks, receipts)
//! and notification settings. Every change is committed, then announced.

use axum::extract::{Path, Query, State};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tram_org::web::OrgMember;
use tram_platform::error::ErrorBody;
use tram_platform::{ApiResult, AppState};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::conversations::{self, ConversationMember, ConversationSummary, GroupRole, Participant};
use crate::error::ChatResult;
use crate::live::{self, Event};
use crate::messages::{self, Message, MessageKind, NewMessage, Receipt, ReplyPreview};
use crate::settings::{self, NotificationSettings};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/conversations", get(list).post(create_group))
        .route("/api/v1/conversations/direct", post(open_direct))
        .route("/api/v1/conversations/{id}", get(details).delete(dissolve))
        .route("/api/v1/conversations/{id}/name", put(rename))
        .route("/api/v1/conversations/{id}/announcement", put(announce))
        .route("/api/v1/conversations/{id}/members", post(add_members))
        .route(
            "/api/v1/conversations/{id}/members/{user_id}",
            delete(remove_member),
        )
        .route(
            "/api/v1/conversations/{id}/members/{user_id}/role",
            put(set_role),
        )
        .route("/api/v1/conversations/{id}/leave", post(leave))
        .route("/api/v1/conversations/{id}/join", post(join))
        .route("/api/v1/conversations/{id}/mute", put(mute))
        .route("/api/v1/conversations/{id}/read", post(mark_read))
        .route(
            "/api/v1/conversations/{id}/messages",
            get(history).post(send),
        )
        .route(
            "/api/v1/conversations/{id}/messages/{message_id}",
            axum::routing::patch(edit),
        )
        .route(
            "/api/v1/conversations/{id}/messages/{message_id}/recall",
            post(recall),
        )
        .route(
            "/api/v1/conversations/{id}/messages/{message_id}/receipt",
            get(receipt),
        )
        .route(
            "/api/v1/me/notifications",
            get(get_settings).put(put_settings),
        )
        .route("/api/v1/me/notification-centre", get(centre))
        .route("/api/v1/chat/search", get(search))
}

#[derive(OpenApi)]
#[openapi(
    paths(list, create_group, open_direct, details, dissolve, rename, announce, add_members, remove_member, set_role,
          leave, join, mute, mark_read, history, send, edit, recall, receipt, get_settings, put_settings, centre, search,
          super::files::upload, super::files::download),
    components(schemas(ConversationSummary, ConversationMember, GroupRole, Message, MessageKind, NewMessage, ReplyPreview,
                       Receipt, NotificationSettings, crate::quiet::QuietPeriod, crate::messages::Attachment,
                       crate::centre::QuietArrival, crate::search::SearchResult, crate::cards::Card, crate::cards::CardButton,
                       crate::cards::FeedItem)),
    tags((name = "chat", description = "Conversations, members, messages, read receipts, notification settings. \
        Live events arrive over the WebSocket at /api/v1/ws (docs/websocket.md)."))
)]
pub struct ChatApi;

async fn me(state: &AppState, member: &OrgMember, id: &str) -> ChatResult<Participant> {
    conversations::participant(&state.db, &member.org.id, id, &member.auth.user_id).await
}

#[derive(Serialize, ToSchema)]
pub struct Done {
    pub ok: bool,
}

fn done() -> Json<Done> {
    Json(Done { ok: true })
}

/// My conversations, most recently active first, with unread counts.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "chat", responses((status = 200, body = Vec<ConversationSummary>)))]
async fn list(
    State(state): State<AppState>,
    member: OrgMember,
) -> ApiResult<Json<Vec<ConversationSummary>>> {
    Ok(Json(
        conversations::list(&state.db, &member.org.id, &member.auth.user_id).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct NewGroup {
    pub name: String,
    /// Org members to add (the creator becomes the owner).
    #[serde(default)]
    pub member_ids: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConversationRef {
    pub conversation_id: String,
}

/// Create a group.
#[utoipa::path(post, path = "/api/v1/conversations", tag = "chat", request_body = NewGroup,
    responses((status = 200, body = ConversationRef), (status = 400, body = ErrorBody)))]
async fn create_group(
    State(state): State<AppState>,
    member: OrgMember,
    Json(body): Json<NewGroup>,
) -> ApiResult<Json<ConversationRef>> {
    let id = conversations::create_group(
        &state,
        &member.org.id,
        &member.auth.user_id,
        &body.name,
        &body.member_ids,
    )
    .await?;
    let mut users = body.member_ids.clone();
    users.push(member.auth.user_id.clone());
    live::announce_to_users(&state, &users, &id).await;
    Ok(Json(ConversationRef {
        conversation_id: id,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct DirectRequest {
    pub user_id: String,
}

/// Open (or create) the 1:1 chat with a colleague.
#[utoipa::path(post, path = "/api/v1/conversations/direct", tag = "chat", request_body = DirectRequest,
    responses((status = 200, body = ConversationRef), (status = 400, body = ErrorBody)))]
async fn open_direct(
    State(state): State<AppState>,
    member: OrgMember,
    Json(body): Json<DirectRequest>,
) -> ApiResult<Json<ConversationRef>> {
    let id =
        conversations::direct(&state, &member.org.id, &member.auth.user_id, &body.user_id).await?;
    live::announce_to_users(
        &state,
        &[member.auth.user_id.clone(), body.user_id.clone()],
        &id,
    )
    .await;
    Ok(Json(ConversationRef {
        conversation_id: id,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct ConversationDetails {
    pub conversation: ConversationSummary,
    pub members: Vec<ConversationMember>,
}

/// One conversation with its members (members only).
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "chat", params(("id" = String, Path)),
    responses((status = 200, body = ConversationDetails), (status = 404, body = ErrorBody)))]
async fn details(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
) -> ApiResult<Json<ConversationDetails>> {
    let me = me(&state, &member, &id).await?;
    Ok(Json(ConversationDetails {
        conversation: conversations::summary(&state.db, &me).await?,
        members: conversations::members(&state.db, &id).await?,
    }))
}

async fn changed(state: &AppState, id: &str) {
    live::announce(
        state,
        id,
        &Event::ConversationChanged {
            conversation_id: id.to_string(),
        },
    )
    .await;
}

/// Dissolve a group (owner).
#[utoipa::path(delete, path = "/api/v1/conversations/{id}", tag = "chat", params(("id" = String, Path)),
    responses((status = 200, body = Done), (status = 403, body = ErrorBody)))]
async fn dissolve(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
) -> ApiResult<Json<Done>> {
    let me = me(&state, &member, &id).await?;
    let users = conversations::member_ids(&state.db, &id).await?;
    conversations::dissolve(&state, &me).await?;
    changed(&state, &id).await;
    live::announce_to_users(&state, &users, &id).await;
    Ok(done())
}

#[derive(Deserialize, ToSchema)]
pub struct NameRequest {
    pub name: String,
}

/// Rename a group (group admins).
#[utoipa::path(put, path = "/api/v1/conversations/{id}/name", tag = "chat", params(("id" = String, Path)), request_body = NameRequest,
    responses((status = 200, body = Done), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn rename(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
    Json(body): Json<NameRequest>,
) -> ApiResult<Json<Done>> {
    let me = me(&state, &member, &id).await?;
    conversations::rename(&state, &me, &body.name).await?;
    changed(&state, &id).await;
    Ok(done())
}

#[derive(Deserialize, ToSchema)]
pub struct AnnouncementRequest {
    /// Empty clears the announcement.
    pub text: String,
}

/// Pin a group announcement (group admins).
#[utoipa::path(put, path = "/api/v1/conversations/{id}/announcement", tag = "chat", params(("id" = String, Path)),
    request_body = AnnouncementRequest, responses((status = 200, body = Done), (status = 403, body = ErrorBody)))]
async fn announce(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
    Json(body): Json<AnnouncementRequest>,
) -> ApiResult<Json<Done>> {
    let me = me(&state, &member, &id).await?;
    conversations::set_announcement(&state, &me, &body.text).await?;
    changed(&state, &id).await;
    Ok(done())
}

#[derive(Deserialize, ToSchema)]
pub struct MembersRequest {
    pub user_ids: Vec<String>,
}

/// Add org members to a group (group admins).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/members", tag = "chat", params(("id" = String, Path)),
    request_body = MembersRequest, responses((status = 200, body = Done), (status = 403, body = ErrorBody)))]
async fn add_members(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
    Json(body): Json<MembersRequest>,
) -> ApiResult<Json<Done>> {
    let me = me(&state, &member, &id).await?;
    let added = conversations::add_members(&state, &me, &body.user_ids).await?;
    changed(&state, &id).await;
    live::announce_to_users(&state, &added, &id).await;
    Ok(done())
}

/// Remove someone from a group (group admins; admins only by the owner).
#[utoipa::path(delete, path = "/api/v1/conversations/{id}/members/{user_id}", tag = "chat",
    params(("id" = String, Path), ("user_id" = String, Path)), responses((status = 200, body = Done), (status = 403, body = ErrorBody)))]
async fn remove_member(
    State(state): State<AppState>,
    member: OrgMember,
    Path((id, user_id)): Path<(String, String)>,
) -> ApiResult<Json<Done>> {
    let me = me(&state, &member, &id).await?;
    conversations::remove_member(&state, &me, &user_id).await?;
    changed(&state, &id).await;
    live::announce_to_users(&state, &[user_id], &id).await;
    Ok(done())
}

#[derive(Deserialize, ToSchema)]
pub struct RoleRequest {
    pub role: GroupRole,
}

/// Set a group role (owner; `owner` hands the group over).
#[utoipa::path(put, path = "/api/v1/conversations/{id}/members/{user_id}/role", tag = "chat",
    params(("id" = String, Path), ("user_id" = String, Path)), request_body = RoleRequest,
    responses((status = 200, body = Done), (status = 403, body = ErrorBody)))]
async fn set_role(
    State(state): State<AppState>,
    member: OrgMember,
    Path((id, user_id)): Path<(String, String)>,
    Json(body): Json<RoleRequest>,
) -> ApiResult<Json<Done>> {
    let me = me(&state, &member, &id).await?;
    conversations::set_role(&state, &me, &user_id, body.role).await?;
    changed(&state, &id).await;
    Ok(done())
}

/// Leave a group (not the owner: hand it over first).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/leave", tag = "chat", params(("id" = String, Path)),
    responses((status = 200, body = Done), (status = 409, body = ErrorBody)))]
async fn leave(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
) -> ApiResult<Json<Done>> {
    let me = me(&state, &member, &id).await?;
    conversations::leave(&state, &me).await?;
    changed(&state, &id).await;
    live::announce_to_users(&state, &[member.auth.user_id.clone()], &id).await;
    Ok(done())
}

/// Join a group of my organisation by its link.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/join", tag = "chat", params(("id" = String, Path)),
    responses((status = 200, body = Done), (status = 404, body = ErrorBody)))]
async fn join(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
) -> ApiResult<Json<Done>> {
    if conversations::join(&state, &member.org.id, &id, &member.auth.user_id).await? {
        changed(&state, &id).await;
        live::announce_to_users(&state, &[member.auth.user_id.clone()], &id).await;
    }
    Ok(done())
}

#[derive(Deserialize, ToSchema)]
pub struct MuteRequest {
    pub muted: bool,
}

/// Mute or unmute a conversation for me.
#[utoipa::path(put, path = "/api/v1/conversations/{id}/mute", tag = "chat", params(("id" = String, Path)), request_body = MuteRequest,
    responses((status = 200, body = Done), (status = 404, body = ErrorBody)))]
async fn mute(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
    Json(body): Json<MuteRequest>,
) -> ApiResult<Json<Done>> {
    let me = me(&state, &member, &id).await?;
    conversations::set_muted(&state, &me, body.muted).await?;
    live::announce_to_users(&state, &[member.auth.user_id.clone()], &id).await;
    Ok(done())
}

#[derive(Deserialize, ToSchema)]
pub struct ReadRequest {
    /// I have read everything up to this sequence number.
    pub seq: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ReadMark {
    pub read_seq: i64,
}

/// Move my read mark forward.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/read", tag = "chat", params(("id" = String, Path)), request_body = ReadRequest,
    responses((status = 200, body = ReadMark), (status = 404, body = ErrorBody)))]
async fn mark_read(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
    Json(body): Json<ReadRequest>,
) -> ApiResult<Json<ReadMark>> {
    let me = me(&state, &member, &id).await?;
    let read_seq = messages::mark_read(&state, &me, body.seq).await?;
    let event = Event::Read {
        conversation_id: id.clone(),
        user_id: member.auth.user_id.clone(),
        read_seq,
    };
    live::announce(&state, &id, &event).await;
    Ok(Json(ReadMark { read_seq }))
}

#[derive(Deserialize, IntoParams)]
pub struct HistoryQuery {
    /// Messages with a sequence number below this (scrolling back).
    pub before: Option<i64>,
    /// Messages with a sequence number above this (catching up).
    pub after: Option<i64>,
    /// This message and the ones on either side (opening a search result).
    pub around: Option<i64>,
    /// At most this many (1-200, default 50).
    pub limit: Option<i64>,
}

/// History in sequence order: the newest page, or `before`/`after`/`around`
/// a cursor.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "chat", params(("id" = String, Path), HistoryQuery),
    responses((status = 200, body = Vec<Message>), (status = 404, body = ErrorBody)))]
async fn history(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<Vec<Message>>> {
    let me = me(&state, &member, &id).await?;
    let cursor = messages::Cursor {
        before: q.before,
        after: q.after,
        around: q.around,
    };
    Ok(Json(
        messages::page(&state.db, &me, cursor, q.limit.unwrap_or(50)).await?,
    ))
}

/// Send a message (text or Markdown, with @mentions, a reply or an attachment).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "chat", params(("id" = String, Path)), request_body = NewMessage,
    responses((status = 200, body = Message), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn send(
    State(state): State<AppState>,
    member: OrgMember,
    Path(id): Path<String>,
    Json(body): Json<NewMessage>,
) -> ApiResult<Json<Message>> {
    let me = me(&state, &member, &id).await?;
    let message = messages::send(&state, &me, body).await?;
    live::announce_message(&state, &message).await;
    Ok(Json(message))
}

#[derive(Deserialize, ToSchema)]
pub struct EditRequest {
    pub body: String,
}

/// Edit my message.
#[utoipa::path(patch, path = "/api/v1/conversations/{id}/messages/{message_id}", tag = "chat",
    params(("id" = String, Path), ("message_id" = String, Path)), request_body = EditRequest,
    responses((status = 200, body = Message), (status = 403, body = ErrorBody)))]
async fn edit(
    State(state): State<AppState>,
    member: OrgMember,
    Path((id, message_id)): Path<(String, String)>,
    Json(body): Json<EditRequest>,
) -> ApiResult<Json<Message>> {
    let me = me(&state, &member, &id).await?;
    let message = messages::edit(&state, &me, &message_id, &body.body).await?;
    live::announce_update(&state, &message).await;
    Ok(Json(message))
}

/// Recall my message within the recall window (default 24 h): its content
/// is removed for everyone.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages/{message_id}/recall", tag = "chat",
    params(("id" = String, Path), ("message_id" = String, Path)), responses((status = 200, body = Message), (status = 403, body = ErrorBody)))]
async fn recall(
    State(state): State<AppState>,
    member: OrgMember,
    Path((id, message_id)): Path<(String, String)>,
) -> ApiResult<Json<Message>> {
    let me = me(&state, &member, &id).await?;
    let message = messages::recall(
        &state,
        &me,
        &message_id,
        state.config.chat.recall_window_secs,
    )
    .await?;
    live::announce_update(&state, &message).await;
    Ok(Json(message))
}

/// Who has read a message ("read by 3 of 5").
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages/{message_id}/receipt", tag = "chat",
    params(("id" = String, Path), ("message_id" = String, Path)), responses((status = 200, body = Receipt), (status = 404, body = ErrorBody)))]
async fn receipt(
    State(state): State<AppState>,
    member: OrgMember,
    Path((id, message_id)): Path<(String, String)>,
) -> ApiResult<Json<Receipt>> {
    let me = me(&state, &member, &id).await?;
    Ok(Json(messages::receipt(&state.db, &me, &message_id).await?))
}

/// My notification settings (quiet hours).
#[utoipa::path(get, path = "/api/v1/me/notifications", tag = "chat", responses((status = 200, body = NotificationSettings)))]
async fn get_settings(
    State(state): State<AppState>,
    auth: tram_accounts::AuthUser,
) -> ApiResult<Json<NotificationSettings>> {
    Ok(Json(settings::get(&state.db, &auth.user_id).await?))
}

/// Save my notification settings; invalid periods or zones change nothing.
#[utoipa::path(put, path = "/api/v1/me/notifications", tag = "chat", request_body = NotificationSettings,
    responses((status = 200, body = NotificationSettings), (status = 400, body = ErrorBody)))]
async fn put_settings(
    State(state): State<AppState>,
    auth: tram_accounts::AuthUser,
    Json(body): Json<NotificationSettings>,
) -> ApiResult<Json<NotificationSettings>> {
    settings::set(&state, &auth.user_id, &body).await?;
    live::announce_settings(&state, &auth.user_id).await;
    Ok(Json(settings::get(&state.db, &auth.user_id).await?))
}

/// What arrived while I was in quiet time and is still unread, newest first.
#[utoipa::path(get, path = "/api/v1/me/notification-centre", tag = "chat",
    responses((status = 200, body = Vec<crate::centre::QuietArrival>)))]
async fn centre(
    State(state): State<AppState>,
    member: OrgMember,
) -> ApiResult<Json<Vec<crate::centre::QuietArrival>>> {
    Ok(Json(
        crate::centre::list(&state.db, &member.org.id, &member.auth.user_id).await?,
    ))
}

#[derive(Deserialize, IntoParams)]
pub struct SearchQuery {
    /// Words to find (Chinese or English; every word must occur).
    pub q: String,
    /// At most this many results (1-50, default 20).
    pub limit: Option<usize>,
}

/// Search the messages of every conversation I am in, newest first.
#[utoipa::path(get, path = "/api/v1/chat/search", tag = "chat", params(SearchQuery),
    responses((status = 200, body = Vec<crate::search::SearchResult>), (status = 400, body = ErrorBody)))]
async fn search(
    State(state): State<AppState>,
    member: OrgMember,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<Vec<crate::search::SearchResult>>> {
    let results = crate::search::search(
        &state,
        &member.org.id,
        &member.auth.user_id,
        &q.q,
        q.limit.unwrap_or(20),
    )
    .await?;
    Ok(Json(results))
}
