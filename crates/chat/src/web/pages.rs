//! The chat pages: `/chat` (conversation list, message pane, composer) and
//! `/chat/{id}`, the fragments the page reloads when the live stream says
//! something changed (the list, a conversation's settings panel), and
//! Settings > Notifications. Messages themselves are drawn by
//! `static/chat.js` from the JSON API and the WebSocket, so there is one
//! renderer for history and live messages alike.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tram_accounts::AuthUser;
use tram_org::members::{self, Member};
use tram_org::web::OrgMember;
use tram_platform::web::{render, PageContext};
use tram_platform::{ApiError, AppState};

use crate::conversations::{self, ConversationMember, ConversationSummary, GroupRole};
use crate::error::human_size;
use crate::quiet::QuietPeriod;
use crate::settings::{self, NotificationSettings};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/chat", get(chat))
        .route("/chat/{id}", get(chat_open))
        .route("/chat/fragments/list", get(list_fragment))
        .route("/chat/{id}/panel", get(panel_fragment))
        .route("/settings/notifications", get(notification_settings))
}

/// The conversation open in the pane (its messages and members the script
/// fetches, so live changes and the first paint share one path).
struct OpenConversation {
    summary: ConversationSummary,
}

#[derive(Template)]
#[template(path = "chat.html")]
struct ChatPage {
    ctx: PageContext,
    me: String,
    conversations: Vec<ConversationSummary>,
    open_id: String,
    open: Option<OpenConversation>,
    /// Org members other than me (for new groups).
    colleagues: Vec<Member>,
    /// The upload limit, so the page refuses a larger file before sending
    /// it, in the words the server would use.
    max_upload_bytes: u64,
    too_large: String,
}

#[derive(Template)]
#[template(path = "chat_list.html")]
struct ChatList {
    ctx: PageContext,
    conversations: Vec<ConversationSummary>,
    open_id: String,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    open: String,
}

fn colleagues_of(all: Vec<Member>, me: &str) -> Vec<Member> {
    all.into_iter().filter(|m| m.user_id != me).collect()
}

async fn chat_page(
    state: &AppState,
    ctx: PageContext,
    member: &OrgMember,
    open_id: Option<String>,
) -> Result<ChatPage, ApiError> {
    let me = member.auth.user_id.clone();
    let conversations = conversations::list(&state.db, &member.org.id, &me).await?;
    let open = match &open_id {
        Some(id) => {
            let participant =
                conversations::participant(&state.db, &member.org.id, id, &me).await?;
            Some(OpenConversation {
                summary: conversations::summary(&state.db, &participant).await?,
            })
        }
        None => None,
    };
    let colleagues = colleagues_of(members::list(&state.db, &member.org.id).await?, &me);
    let max_upload_bytes = state.config.chat.max_upload_bytes;
    let too_large = ctx.tf("chat.error.too_large", "max", &human_size(max_upload_bytes));
    Ok(ChatPage {
        ctx,
        me,
        conversations,
        open_id: open_id.unwrap_or_default(),
        open,
        colleagues,
        max_upload_bytes,
        too_large,
    })
}

/// The chat page's security policy: the server's, except that pictures
/// may also come from http(s) addresses elsewhere, because robots' cards,
/// Markdown and avatars point at them. Scripts still come only from here.
const CHAT_PAGE_CSP: &str = "default-src 'self'; img-src 'self' data: https: http:; style-src 'self' 'unsafe-inline'; script-src 'self'; \
     connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'";

fn with_remote_pictures(mut response: Response) -> Response {
    response.headers_mut().insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static(CHAT_PAGE_CSP),
    );
    response
}

async fn chat(State(state): State<AppState>, ctx: PageContext, member: OrgMember) -> Response {
    match chat_page(&state, ctx, &member, None).await {
        Ok(page) => with_remote_pictures(render(&page)),
        Err(err) => err.into_response(),
    }
}

async fn chat_open(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Path(id): Path<String>,
) -> Response {
    match chat_page(&state, ctx, &member, Some(id)).await {
        Ok(page) => with_remote_pictures(render(&page)),
        Err(err) => err.into_response(),
    }
}

/// The conversation list alone, for the page to swap in when unread counts
/// or the order change.
async fn list_fragment(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Query(q): Query<ListQuery>,
) -> Response {
    match conversations::list(&state.db, &member.org.id, &member.auth.user_id).await {
        Ok(conversations) => render(&ChatList {
            ctx,
            conversations,
            open_id: q.open,
        }),
        Err(err) => ApiError::from(err).into_response(),
    }
}

#[derive(Template)]
#[template(path = "chat_panel.html")]
struct ChatPanel {
    ctx: PageContext,
    me: String,
    conversation: ConversationSummary,
    members: Vec<ConversationMember>,
    /// Org members who are not in the conversation (to add).
    others: Vec<Member>,
}

impl ChatPanel {
    fn is_group(&self) -> bool {
        self.conversation.kind == "group"
    }

    fn can_manage(&self) -> bool {
        self.is_group() && self.conversation.my_role.is_admin()
    }

    fn is_owner(&self) -> bool {
        self.is_group() && self.conversation.my_role == GroupRole::Owner
    }

    /// Admins remove members; only the owner removes admins; nobody the owner.
    fn can_remove(&self, member: &ConversationMember) -> bool {
        member.user_id != self.me
            && match member.role {
                GroupRole::Owner => false,
                GroupRole::Admin => self.is_owner(),
                GroupRole::Member => self.can_manage(),
            }
    }

    fn roles(&self) -> [GroupRole; 3] {
        [GroupRole::Owner, GroupRole::Admin, GroupRole::Member]
    }

    fn role_label(&self, role: &str) -> &'static str {
        self.ctx.t(&format!("chat.page.role.{role}"))
    }
}

/// A conversation's details and settings: members and their roles, and
/// for group admins the forms to rename, announce, add and remove.
async fn panel_fragment(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let me = conversations::participant(&state.db, &member.org.id, &id, &member.auth.user_id)
            .await?;
        let conversation = conversations::summary(&state.db, &me).await?;
        let in_conversation = conversations::members(&state.db, &id).await?;
        let others = members::list(&state.db, &member.org.id)
            .await?
            .into_iter()
            .filter(|m| !in_conversation.iter().any(|c| c.user_id == m.user_id))
            .collect();
        Ok::<_, ApiError>(ChatPanel {
            ctx,
            me: member.auth.user_id.clone(),
            conversation,
            members: in_conversation,
            others,
        })
    }
    .await;
    match result {
        Ok(panel) => render(&panel),
        Err(err) => err.into_response(),
    }
}

#[derive(Template)]
#[template(path = "settings_notifications.html")]
struct NotificationsPage {
    ctx: PageContext,
    settings: NotificationSettings,
    /// People who may be let through quiet hours (my current org's members).
    colleagues: Vec<Member>,
}

impl NotificationsPage {
    /// ISO weekdays with their short names.
    fn weekdays(&self) -> Vec<(u8, &'static str)> {
        (1..=7)
            .map(|d| (d, self.ctx.t(&format!("chat.page.quiet.day{d}"))))
            .collect()
    }

    /// The row a new period starts from (weekday evenings).
    fn blank_period(&self) -> QuietPeriod {
        QuietPeriod {
            days: vec![1, 2, 3, 4, 5],
            start: "19:00".into(),
            end: "09:00".into(),
        }
    }

    fn zones(&self) -> &'static [&'static str] {
        &SUGGESTED_ZONES
    }

    fn allowed(&self, user_id: &str) -> bool {
        self.settings.allow_from.iter().any(|id| id == user_id)
    }
}

/// Common zones offered in the time-zone field; any IANA name is accepted.
const SUGGESTED_ZONES: [&str; 10] = [
    "Asia/Hong_Kong",
    "Asia/Macau",
    "Asia/Shanghai",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
];

async fn notification_settings(
    State(state): State<AppState>,
    ctx: PageContext,
    auth: AuthUser,
) -> Response {
    let result = async {
        let settings = settings::get(&state.db, &auth.user_id).await?;
        let colleagues = match tram_org::web::access::current_membership(&state, &auth).await? {
            Some(membership) => colleagues_of(
                members::list(&state.db, &membership.org_id).await?,
                &auth.user_id,
            ),
            None => Vec::new(),
        };
        Ok::<_, ApiError>(NotificationsPage {
            ctx,
            settings,
            colleagues,
        })
    }
    .await;
    match result {
        Ok(page) => render(&page),
        Err(err) => err.into_response(),
    }
}
