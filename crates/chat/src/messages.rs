//! Messages: text and Markdown with @mentions and replies, edits, recall
//! within a time limit, history by sequence cursors, read marks and
//! receipts. Every message gets the next sequence number of its
//! conversation in the same transaction that stores it, so history has no
//! gaps and no duplicates, and a client can resume from the last number it
//! saw. A message comes from a member, or from a robot of a group (text,
//! Markdown or a card), through the same path.

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};
use tram_platform::db::{is_unique_violation, new_id, Db};
use tram_platform::AppState;

use crate::cards::Card;
use crate::conversations::Participant;
use crate::error::{ChatError, ChatResult};
use crate::markdown;

pub const MAX_BODY_CHARS: usize = 8000;
/// Default recall window: 24 hours.
pub const DEFAULT_RECALL_SECS: i64 = 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    Text,
    Markdown,
    Image,
    File,
    System,
    /// A link, button or feed card (robots).
    Card,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Markdown => "markdown",
            MessageKind::Image => "image",
            MessageKind::File => "file",
            MessageKind::System => "system",
            MessageKind::Card => "card",
        }
    }

    fn parse(text: &str) -> ChatResult<MessageKind> {
        match text {
            "text" => Ok(MessageKind::Text),
            "markdown" => Ok(MessageKind::Markdown),
            "image" => Ok(MessageKind::Image),
            "file" => Ok(MessageKind::File),
            "system" => Ok(MessageKind::System),
            "card" => Ok(MessageKind::Card),
            _ => Err(ChatError::InvalidKind),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplyPreview {
    pub id: String,
    pub seq: i64,
    pub sender_name: Option<String>,
    /// The start of the quoted message (empty if it was recalled).
    pub excerpt: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    pub id: String,
    pub conversation_id: String,
    pub seq: i64,
    /// The member who sent it (none for robots and the system).
    pub sender_id: Option<String>,
    /// The member's name, or the robot's name when it sent the message.
    pub sender_name: Option<String>,
    /// The robot that sent it.
    pub robot_id: Option<String>,
    /// The robot's picture (an http(s) address), if it has one.
    pub sender_avatar: Option<String>,
    pub kind: MessageKind,
    /// The text or Markdown source (for a card, its words as plain text);
    /// empty once recalled.
    pub body: String,
    /// The card of a `card` message (gone once recalled).
    pub card: Option<Card>,
    /// Safe HTML for display (Markdown rendered, text escaped).
    pub html: String,
    /// User ids mentioned.
    pub mentions: Vec<String>,
    pub mention_all: bool,
    pub reply_to: Option<ReplyPreview>,
    /// The image or file of an `image` or `file` message (gone once
    /// recalled).
    pub attachment: Option<Attachment>,
    /// The sender's idempotency key, if it sent one.
    pub client_id: Option<String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub recalled: bool,
}

/// Plain text as HTML: escaped, line breaks kept.
fn escape(text: &str) -> String {
    crate::cards::escape(text).replace('\n', "<br>")
}

pub fn render_html(kind: MessageKind, body: &str) -> String {
    match kind {
        MessageKind::Markdown => markdown::render(body),
        _ => escape(body),
    }
}

/// The HTML of a message as stored: robots write DingTalk's Markdown
/// subset, and cards render from their JSON. `robot_id` is the robot, or
/// `notice:{service}` for a work notice (whose cards may act).
pub(crate) fn display_html(
    kind: MessageKind,
    body: &str,
    card: Option<&Card>,
    robot_id: Option<&str>,
) -> String {
    let from_robot = robot_id.is_some();
    match (kind, card) {
        (MessageKind::Card, Some(card)) => {
            card.to_html(robot_id.is_some_and(|r| r.starts_with(NOTICE_AUTHOR_PREFIX)))
        }
        (MessageKind::Card, None) => escape(body),
        (MessageKind::Markdown, _) if from_robot => markdown::render_robot(body),
        _ => render_html(kind, body),
    }
}

const MESSAGE_SELECT: &str = "SELECT m.id, m.conversation_id, m.seq, m.sender_id, COALESCE(u.display_name, m.author_name) AS sender_name, \
     m.robot_id, m.author_avatar, m.card, m.kind, m.body, \
     m.mentions, m.mention_all, m.reply_to, m.attachment_id, m.client_id, m.created_at, m.edited_at, m.recalled_at, \
     r.seq AS reply_seq, r.body AS reply_body, r.recalled_at AS reply_recalled, COALESCE(ru.display_name, r.author_name) AS reply_sender, \
     a.file_name, a.content_type, a.size_bytes \
     FROM messages m LEFT JOIN users u ON u.id = m.sender_id LEFT JOIN attachments a ON a.id = m.attachment_id \
     LEFT JOIN messages r ON r.id = m.reply_to LEFT JOIN users ru ON ru.id = r.sender_id";

fn message_from_row(row: &sqlx::any::AnyRow) -> ChatResult<Message> {
    let kind = MessageKind::parse(&row.try_get::<String, _>("kind")?)?;
    let recalled = row.try_get::<Option<i64>, _>("recalled_at")?.is_some();
    let body: String = if recalled {
        String::new()
    } else {
        row.try_get("body")?
    };
    let reply_to = match row.try_get::<Option<String>, _>("reply_to")? {
        Some(id) => {
            let reply_recalled = row.try_get::<Option<i64>, _>("reply_recalled")?.is_some();
            let reply_body: Option<String> = row.try_get("reply_body")?;
            Some(ReplyPreview {
                id,
                seq: row
                    .try_get::<Option<i64>, _>("reply_seq")?
                    .unwrap_or_default(),
                sender_name: row.try_get("reply_sender")?,
                excerpt: if reply_recalled {
                    String::new()
                } else {
                    reply_body.unwrap_or_default().chars().take(120).collect()
                },
            })
        }
        None => None,
    };
    let mentions: String = row.try_get("mentions")?;
    let attachment = match row.try_get::<Option<String>, _>("attachment_id")? {
        Some(id) if !recalled => Some(Attachment {
            url: format!("/api/v1/attachments/{id}"),
            id,
            file_name: row
                .try_get::<Option<String>, _>("file_name")?
                .unwrap_or_default(),
            content_type: row
                .try_get::<Option<String>, _>("content_type")?
                .unwrap_or_default(),
            size_bytes: row
                .try_get::<Option<i64>, _>("size_bytes")?
                .unwrap_or_default(),
        }),
        _ => None,
    };
    let robot_id: Option<String> = row.try_get("robot_id")?;
    let card: Option<Card> = match row.try_get::<Option<String>, _>("card")? {
        Some(json) if !recalled => serde_json::from_str(&json).ok(),
        _ => None,
    };
    Ok(Message {
        id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
        seq: row.try_get("seq")?,
        sender_id: row.try_get("sender_id")?,
        sender_name: row.try_get("sender_name")?,
        sender_avatar: row.try_get("author_avatar")?,
        html: if recalled {
            String::new()
        } else {
            display_html(kind, &body, card.as_ref(), robot_id.as_deref())
        },
        robot_id,
        kind,
        body,
        card,
        mentions: serde_json::from_str(&mentions).unwrap_or_default(),
        mention_all: row.try_get::<i64, _>("mention_all")? != 0,
        reply_to,
        attachment,
        client_id: row.try_get("client_id")?,
        created_at: row.try_get("created_at")?,
        edited_at: row.try_get("edited_at")?,
        recalled,
    })
}

pub async fn get(db: &Db, conversation_id: &str, message_id: &str) -> ChatResult<Message> {
    let row = sqlx::query(&format!(
        "{MESSAGE_SELECT} WHERE m.id = $1 AND m.conversation_id = $2"
    ))
    .bind(message_id)
    .bind(conversation_id)
    .fetch_optional(db.read())
    .await?
    .ok_or(ChatError::NotFound)?;
    message_from_row(&row)
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attachment {
    pub id: String,
    /// As the uploader named it (display it as text, never as HTML).
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Where to download it.
    pub url: String,
}

/// An upload to store with its message.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub id: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
}

/// What a sender sends.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewMessage {
    #[serde(default = "default_kind")]
    pub kind: MessageKind,
    pub body: String,
    /// User ids to @mention (they must be in the conversation).
    #[serde(default)]
    pub mentions: Vec<String>,
    /// @all: notify everyone in the group.
    #[serde(default)]
    pub mention_all: bool,
    /// Robot ids to @mention (robots of the group). Each mentioned robot
    /// gets a `robot.mention` job, enqueued with the message.
    #[serde(default)]
    pub robot_mentions: Vec<String>,
    /// The id of the message this one replies to.
    pub reply_to: Option<String>,
    /// Idempotency key: sending the same key twice stores one message.
    pub client_id: Option<String>,
}

fn default_kind() -> MessageKind {
    MessageKind::Text
}

pub(crate) fn check_body(body: &str, has_attachment: bool) -> ChatResult<()> {
    let chars = body.chars().count();
    if chars > MAX_BODY_CHARS || (body.trim().is_empty() && !has_attachment) {
        return Err(ChatError::InvalidBody);
    }
    Ok(())
}

/// Stores a message with the next sequence number; an already-seen
/// `client_id` returns the message stored the first time.
pub async fn send(state: &AppState, sender: &Participant, new: NewMessage) -> ChatResult<Message> {
    if matches!(
        new.kind,
        MessageKind::System | MessageKind::Image | MessageKind::File | MessageKind::Card
    ) {
        return Err(ChatError::InvalidKind);
    }
    send_with(state, sender, new, None).await
}

/// Stores a message, and with it (in the same transaction) the record of
/// its uploaded file, if any.
pub async fn send_with(
    state: &AppState,
    sender: &Participant,
    new: NewMessage,
    attachment: Option<&NewAttachment>,
) -> ChatResult<Message> {
    if sender.is_notice {
        return Err(ChatError::NoticeReadOnly);
    }
    store(state, &Author::Member(sender), new, attachment, None, None).await
}

/// A robot of a group, as the sender of its messages. Its name and picture
/// are kept with each message, so history shows who sent it even after the
/// robot is renamed or removed.
#[derive(Debug, Clone)]
pub struct RobotAuthor {
    pub conversation_id: String,
    pub robot_id: String,
    pub name: String,
    /// An http(s) address; anything else is not shown.
    pub avatar_url: Option<String>,
}

/// Work a sender does inside the transaction that stores its message (a
/// robot call's log entry and rate limit), so the two commit together or
/// not at all. An `Err` stores nothing.
pub trait InStoreTransaction: Send + Sync {
    fn run<'a>(
        &'a self,
        conn: &'a mut AnyConnection,
        message_id: &'a str,
        now: i64,
    ) -> StoreWork<'a>;
}

/// What [`InStoreTransaction::run`] returns.
pub type StoreWork<'a> = futures::future::BoxFuture<'a, ChatResult<()>>;

/// Stores a robot's message in its group: text, Markdown, or a card (with
/// `kind` `card`; the body is then the card's words, for search). Mentions
/// and @all work as a member's do, and so does quoting (`reply_to`).
pub async fn send_as_robot(
    state: &AppState,
    robot: &RobotAuthor,
    new: NewMessage,
    card: Option<Card>,
) -> ChatResult<Message> {
    send_as_robot_with(state, robot, new, card, None).await
}

/// [`send_as_robot`], with work done in the message's own transaction.
pub async fn send_as_robot_with(
    state: &AppState,
    robot: &RobotAuthor,
    new: NewMessage,
    card: Option<Card>,
    in_transaction: Option<&dyn InStoreTransaction>,
) -> ChatResult<Message> {
    let card = check_robot_message(&new, card)?;
    store(
        state,
        &Author::Robot(robot),
        new,
        None,
        card.as_ref(),
        in_transaction,
    )
    .await
}

/// The start of `robot_id` of a work notice: `notice:<service>`. Robots'
/// ids are generated and never start so.
pub(crate) const NOTICE_AUTHOR_PREFIX: &str = "notice:";

/// What a robot may send: text, Markdown, or a card (checked) with `kind`
/// `card`. A robot may quote a message of its group (the assistant answers
/// the question it was asked); it cannot @mention robots.
pub(crate) fn check_robot_message(
    new: &NewMessage,
    card: Option<Card>,
) -> ChatResult<Option<Card>> {
    let card = match (new.kind, card) {
        (MessageKind::Card, Some(card)) => Some(card.checked()?),
        (MessageKind::Text | MessageKind::Markdown, None) => None,
        _ => return Err(ChatError::InvalidKind),
    };
    if !new.robot_mentions.is_empty() {
        return Err(ChatError::InvalidKind);
    }
    Ok(card)
}

/// One of Tram's own services, as the sender of a work notice (see
/// `notices`). Stored like a robot's message: `robot_id` holds
/// `notice:<service>`, so delivery, do-not-disturb and idempotency keys
/// work as they do for robots, and `author_name` the sender's name.
#[derive(Debug, Clone)]
pub(crate) struct NoticeAuthor {
    pub conversation_id: String,
    pub sender_key: String,
    pub name: String,
}

/// Stores a work notice (text, Markdown or a card) in a member's notice
/// conversation; `notices::post` is the way in.
pub(crate) async fn send_as_notice(
    state: &AppState,
    author: &NoticeAuthor,
    new: NewMessage,
    card: Option<Card>,
) -> ChatResult<Message> {
    let card = match (new.kind, card) {
        (MessageKind::Card, Some(card)) => Some(card.checked_from_service()?),
        (MessageKind::Text | MessageKind::Markdown, None) => None,
        _ => return Err(ChatError::InvalidKind),
    };
    if new.reply_to.is_some() || !new.robot_mentions.is_empty() || !new.mentions.is_empty() {
        return Err(ChatError::InvalidKind);
    }
    store(
        state,
        &Author::Notice(author),
        new,
        None,
        card.as_ref(),
        None,
    )
    .await
}

/// Who a message is from.
enum Author<'a> {
    Member(&'a Participant),
    Robot(&'a RobotAuthor),
    Notice(&'a NoticeAuthor),
}

impl Author<'_> {
    fn conversation_id(&self) -> &str {
        match self {
            Author::Member(p) => &p.conversation_id,
            Author::Robot(r) => &r.conversation_id,
            Author::Notice(n) => &n.conversation_id,
        }
    }

    fn user_id(&self) -> Option<&str> {
        match self {
            Author::Member(p) => Some(&p.user_id),
            Author::Robot(_) | Author::Notice(_) => None,
        }
    }

    /// Who a `client_id` belongs to: a member, or a robot.
    fn idempotency_owner(&self) -> (&'static str, &str) {
        match self {
            Author::Member(p) => ("sender_id", &p.user_id),
            Author::Robot(r) => ("robot_id", &r.robot_id),
            Author::Notice(n) => ("robot_id", &n.sender_key),
        }
    }
}

/// Most robots one message may @mention.
const MAX_ROBOT_MENTIONS: usize = 10;

/// The job kind enqueued for each robot a member's message @mentions.
pub const ROBOT_MENTION_JOB: &str = "robot.mention";

/// The one way a message is stored: checked, numbered, logged for search.
async fn store(
    state: &AppState,
    author: &Author<'_>,
    new: NewMessage,
    attachment: Option<&NewAttachment>,
    card: Option<&Card>,
    in_transaction: Option<&dyn InStoreTransaction>,
) -> ChatResult<Message> {
    check_body(&new.body, attachment.is_some())?;
    let conversation_id = author.conversation_id().to_string();
    if let Some(client_id) = &new.client_id {
        if let Some(existing) = by_client_id(&state.db, &conversation_id, author, client_id).await?
        {
            return Ok(existing);
        }
    }
    let is_group = match author {
        Author::Member(p) => p.is_group,
        Author::Robot(_) => {
            // Robots live in groups only; the group must still exist.
            let row = sqlx::query("SELECT kind, dissolved_at FROM conversations WHERE id = $1")
                .bind(&conversation_id)
                .fetch_optional(state.db.read())
                .await?
                .ok_or(ChatError::NotFound)?;
            if row.try_get::<Option<i64>, _>("dissolved_at")?.is_some() {
                return Err(ChatError::Dissolved);
            }
            if row.try_get::<String, _>("kind")? != "group" {
                return Err(ChatError::NotAGroup);
            }
            true
        }
        Author::Notice(_) => false,
    };
    // Most messages mention no one; a group's member list can be long.
    let members = if new.mentions.is_empty() {
        Vec::new()
    } else {
        crate::conversations::member_ids(&state.db, &conversation_id).await?
    };
    let mut mentions: Vec<String> = new
        .mentions
        .iter()
        .filter(|m| members.contains(m))
        .cloned()
        .collect();
    mentions.sort();
    mentions.dedup();
    let mention_all = new.mention_all && is_group;
    // Which robots these are is the bots' business: the job's handler
    // ignores an id that is not an enabled robot of this group.
    let mut robot_mentions = if is_group {
        new.robot_mentions.clone()
    } else {
        Vec::new()
    };
    robot_mentions.sort();
    robot_mentions.dedup();
    if robot_mentions.len() > MAX_ROBOT_MENTIONS || robot_mentions.iter().any(|id| id.len() > 64) {
        return Err(ChatError::InvalidBody);
    }
    if let Some(reply) = &new.reply_to {
        sqlx::query("SELECT 1 AS x FROM messages WHERE id = $1 AND conversation_id = $2")
            .bind(reply)
            .bind(&conversation_id)
            .fetch_optional(state.db.read())
            .await?
            .ok_or(ChatError::BadReply)?;
    }
    let (robot_id, author_name, author_avatar) = match author {
        Author::Member(_) => (None, None, None),
        Author::Robot(r) => (
            Some(r.robot_id.clone()),
            Some(r.name.clone()),
            r.avatar_url.as_deref().and_then(crate::cards::safe_picture),
        ),
        Author::Notice(n) => (Some(n.sender_key.clone()), Some(n.name.clone()), None),
    };
    let card_json = card.map(|c| serde_json::to_string(c).expect("cards serialise"));
    let now = state.clock.now_ms();
    let id = new_id();
    let mut tx = state.db.begin().await?;
    // The sender's work first: a robot call locks its robot's row before
    // the group's, the order the batched path (`robot_batch`) takes them.
    if let Some(work) = in_transaction {
        work.run(&mut tx, &id, now).await?;
    }
    let seq = next_seq(&mut tx, &conversation_id, now).await?;
    if let Some(a) = attachment {
        sqlx::query(
            "INSERT INTO attachments (id, org_id, uploader_id, file_name, content_type, size_bytes, sha256, created_at) \
             VALUES ($1, (SELECT org_id FROM conversations WHERE id = $2), $3, $4, $5, $6, $7, $8)",
        )
        .bind(&a.id)
        .bind(&conversation_id)
        .bind(author.user_id())
        .bind(&a.file_name)
        .bind(&a.content_type)
        .bind(a.size_bytes)
        .bind(&a.sha256)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    let inserted = sqlx::query(
        "INSERT INTO messages (id, conversation_id, seq, sender_id, kind, body, mentions, mention_all, reply_to, attachment_id, client_id, created_at, \
         robot_id, author_name, author_avatar, card) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(&id)
    .bind(&conversation_id)
    .bind(seq)
    .bind(author.user_id())
    .bind(new.kind.as_str())
    .bind(&new.body)
    .bind(serde_json::to_string(&mentions).expect("strings serialise"))
    .bind(mention_all as i64)
    .bind(&new.reply_to)
    .bind(attachment.map(|a| &a.id))
    .bind(&new.client_id)
    .bind(now)
    .bind(&robot_id)
    .bind(&author_name)
    .bind(&author_avatar)
    .bind(&card_json)
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) && new.client_id.is_some() => {
            drop(tx);
            let client_id = new.client_id.as_deref().unwrap_or_default();
            return by_client_id(&state.db, &conversation_id, author, client_id)
                .await?
                .ok_or(ChatError::NotFound);
        }
        Err(e) => return Err(e.into()),
    }
    crate::search::log_change(&mut tx, &id, now).await?;
    for robot_id in &robot_mentions {
        let job = tram_platform::jobs::NewJob::new(
            ROBOT_MENTION_JOB,
            format!("{ROBOT_MENTION_JOB}:{id}:{robot_id}"),
            serde_json::json!({
                "message_id": id,
                "conversation_id": conversation_id,
                "robot_id": robot_id,
            }),
            now,
        );
        tram_platform::jobs::enqueue_in(&mut tx, &job, now).await?;
    }
    if let Some(user_id) = author.user_id() {
        // The sender has read everything up to their own message.
        sqlx::query("UPDATE conversation_members SET read_seq = $1 WHERE conversation_id = $2 AND user_id = $3 AND read_seq < $1")
            .bind(seq)
            .bind(&conversation_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    get(&state.db, &conversation_id, &id).await
}

async fn next_seq(conn: &mut AnyConnection, conversation_id: &str, now: i64) -> ChatResult<i64> {
    let row = sqlx::query(
        "UPDATE conversations SET last_seq = last_seq + 1, last_message_at = $1 WHERE id = $2 AND dissolved_at IS NULL RETURNING last_seq",
    )
    .bind(now)
    .bind(conversation_id)
    .fetch_optional(conn)
    .await?
    .ok_or(ChatError::Dissolved)?;
    Ok(row.try_get("last_seq")?)
}

async fn by_client_id(
    db: &Db,
    conversation_id: &str,
    author: &Author<'_>,
    client_id: &str,
) -> ChatResult<Option<Message>> {
    let (column, owner) = author.idempotency_owner();
    let row = sqlx::query(&format!(
        "{MESSAGE_SELECT} WHERE m.conversation_id = $1 AND m.{column} = $2 AND m.client_id = $3"
    ))
    .bind(conversation_id)
    .bind(owner)
    .bind(client_id)
    .fetch_optional(db.read())
    .await?;
    row.as_ref().map(message_from_row).transpose()
}

/// The sender changes the text of a message (not once it was recalled).
pub async fn edit(
    state: &AppState,
    me: &Participant,
    message_id: &str,
    body: &str,
) -> ChatResult<Message> {
    check_body(body, false)?;
    let current = get(&state.db, &me.conversation_id, message_id).await?;
    if current.sender_id.as_deref() != Some(me.user_id.as_str()) {
        return Err(ChatError::NotSender);
    }
    if current.recalled {
        return Err(ChatError::Recalled);
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "UPDATE messages SET body = $1, edited_at = $2 WHERE id = $3 AND recalled_at IS NULL",
    )
    .bind(body)
    .bind(now)
    .bind(message_id)
    .execute(&mut *tx)
    .await?;
    crate::search::log_change(&mut tx, message_id, now).await?;
    tx.commit().await?;
    get(&state.db, &me.conversation_id, message_id).await
}

/// The sender takes a message back within the recall window: its content is
/// removed for everyone (the row stays so sequence numbers keep no gaps).
pub async fn recall(
    state: &AppState,
    me: &Participant,
    message_id: &str,
    window_secs: i64,
) -> ChatResult<Message> {
    let current = get(&state.db, &me.conversation_id, message_id).await?;
    if current.sender_id.as_deref() != Some(me.user_id.as_str()) {
        return Err(ChatError::NotSender);
    }
    if current.recalled {
        return Ok(current);
    }
    let now = state.clock.now_ms();
    if now - current.created_at > window_secs * 1000 {
        return Err(ChatError::RecallExpired);
    }
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE messages SET recalled_at = $1, body = '', card = NULL, attachment_id = NULL WHERE id = $2")
        .bind(now)
        .bind(message_id)
        .execute(&mut *tx)
        .await?;
    if let Some(attachment) = &current.attachment {
        sqlx::query("DELETE FROM attachments WHERE id = $1")
            .bind(&attachment.id)
            .execute(&mut *tx)
            .await?;
    }
    crate::search::log_change(&mut tx, message_id, now).await?;
    tx.commit().await?;
    if let Some(attachment) = &current.attachment {
        // The content goes for everyone: the file too.
        if let Err(err) = state.blobs.delete(&attachment.id).await {
            tracing::warn!(error = %err, "recalled attachment not removed; the sweep will retry");
        }
    }
    get(&state.db, &me.conversation_id, message_id).await
}

/// Where a page of history starts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cursor {
    /// Messages before this sequence number (scrolling up).
    pub before: Option<i64>,
    /// Messages after this one (catching up).
    pub after: Option<i64>,
    /// Messages around this one (opening a search result in context).
    pub around: Option<i64>,
}

/// A page of history, at most `limit`, in sequence order: `before` a
/// sequence number, `after` one, `around` one (it and the messages on
/// either side), or the newest.
pub async fn page(
    db: &Db,
    me: &Participant,
    cursor: Cursor,
    limit: i64,
) -> ChatResult<Vec<Message>> {
    let limit = limit.clamp(1, 200);
    match cursor.around {
        Some(around) if cursor.before.is_none() && cursor.after.is_none() => {
            let older = (limit + 1) / 2;
            let mut messages = history(db, me, Some(around + 1), None, older).await?;
            messages.extend(history(db, me, None, Some(around), limit - older).await?);
            Ok(messages)
        }
        _ => history(db, me, cursor.before, cursor.after, limit).await,
    }
}

/// A page of history: `before` a sequence number (scrolling up, newest of
/// the page last) or `after` one (catching up), at most `limit`, in order.
pub async fn history(
    db: &Db,
    me: &Participant,
    before: Option<i64>,
    after: Option<i64>,
    limit: i64,
) -> ChatResult<Vec<Message>> {
    let limit = limit.clamp(1, 200);
    let rows = match (before, after) {
        (_, Some(after)) => {
            sqlx::query(&format!("{MESSAGE_SELECT} WHERE m.conversation_id = $1 AND m.seq > $2 ORDER BY m.seq ASC LIMIT $3"))
                .bind(&me.conversation_id)
                .bind(after)
                .bind(limit)
                .fetch_all(db.read())
                .await?
        }
        (before, None) => {
            let mut rows = sqlx::query(&format!(
                "{MESSAGE_SELECT} WHERE m.conversation_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3"
            ))
            .bind(&me.conversation_id)
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(db.read())
            .await?;
            rows.reverse();
            rows
        }
    };
    rows.iter().map(message_from_row).collect()
}

/// Moves my read mark forward (never back); returns the new mark.
pub async fn mark_read(state: &AppState, me: &Participant, seq: i64) -> ChatResult<i64> {
    sqlx::query(
        "UPDATE conversation_members SET read_seq = $1 WHERE conversation_id = $2 AND user_id = $3 AND read_seq < $1 \
         AND $1 <= (SELECT last_seq FROM conversations WHERE id = $2)",
    )
    .bind(seq)
    .bind(&me.conversation_id)
    .bind(&me.user_id)
    .execute(state.db.write())
    .await?;
    let row = sqlx::query(
        "SELECT read_seq FROM conversation_members WHERE conversation_id = $1 AND user_id = $2",
    )
    .bind(&me.conversation_id)
    .bind(&me.user_id)
    .fetch_one(state.db.read())
    .await?;
    Ok(row.try_get("read_seq")?)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Receipt {
    pub seq: i64,
    /// Members other than the sender who have read it.
    pub read_by: Vec<String>,
    /// Members other than the sender.
    pub recipients: i64,
}

/// "Read by 3 of 5": who (other than the sender) has read up to `seq`.
pub async fn receipt(db: &Db, me: &Participant, message_id: &str) -> ChatResult<Receipt> {
    let message = get(db, &me.conversation_id, message_id).await?;
    let sender = message.sender_id.unwrap_or_default();
    let rows = sqlx::query("SELECT user_id, read_seq FROM conversation_members WHERE conversation_id = $1 AND user_id <> $2")
        .bind(&me.conversation_id)
        .bind(&sender)
        .fetch_all(db.read())
        .await?;
    let mut read_by = Vec::new();
    for row in &rows {
        if row.try_get::<i64, _>("read_seq")? >= message.seq {
            read_by.push(row.try_get("user_id")?);
        }
    }
    Ok(Receipt {
        seq: message.seq,
        read_by,
        recipients: rows.len() as i64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_markdown_rendered() {
        assert_eq!(
            render_html(MessageKind::Text, "<b>a</b>\nb"),
            "&lt;b&gt;a&lt;/b&gt;<br>b"
        );
        assert_eq!(
            render_html(MessageKind::Markdown, "*a*"),
            "<p><em>a</em></p>\n"
        );
    }
}
