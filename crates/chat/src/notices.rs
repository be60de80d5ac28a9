//! Work notices (工作通知): each member has one notice conversation per org,
//! made on first use, where Tram's own services (approvals today) post
//! text or cards under a named sender such as "審批". The member reads and
//! clicks; they cannot write there. A notice is an ordinary message of that
//! conversation, so it is listed in the chat list, numbered, searchable,
//! and delivered live with the member's do-not-disturb rules like a
//! robot's message.

use sqlx::Row;
use tram_platform::db::{is_unique_violation, new_id};
use tram_platform::i18n::Locale;
use tram_platform::AppState;

use crate::cards::Card;
use crate::conversations::{add_member, GroupRole};
use crate::error::{ChatError, ChatResult};
use crate::live;
use crate::messages::{self, Message, NewMessage, NoticeAuthor};

/// The conversation kind of work notices.
pub const KIND: &str = "notice";

/// Who posts a notice: a service key (stable, e.g. `approvals`) and the
/// name members see (e.g. "審批").
#[derive(Debug, Clone)]
pub struct Sender<'a> {
    pub key: &'a str,
    pub name: &'a str,
}

impl Sender<'_> {
    /// What its notices carry as `robot_id` (`notice:<service>`).
    fn robot_id(&self) -> String {
        format!("{}{}", messages::NOTICE_AUTHOR_PREFIX, self.key)
    }
}

fn notice_key(org_id: &str, user_id: &str) -> String {
    format!("notice:{org_id}:{user_id}")
}

/// The member's notice conversation in the org, if it was made.
async fn existing(state: &AppState, org_id: &str, user_id: &str) -> ChatResult<Option<String>> {
    let row = sqlx::query("SELECT id FROM conversations WHERE direct_key = $1")
        .bind(notice_key(org_id, user_id))
        .fetch_optional(state.db.read())
        .await?;
    Ok(row.map(|r| r.try_get("id")).transpose()?)
}

/// The member's notice conversation in the org, made on first use (and
/// announced to their open pages then, so it joins their chat list).
pub async fn conversation(state: &AppState, org_id: &str, user_id: &str) -> ChatResult<String> {
    if let Some(id) = existing(state, org_id, user_id).await? {
        return Ok(id);
    }
    let key = notice_key(org_id, user_id);
    // The title is in the member's language when the conversation is made.
    let locale = tram_accounts::users::get(&state.db, user_id)
        .await
        .ok()
        .and_then(|u| Locale::parse(&u.locale))
        .unwrap_or_default();
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query("SELECT 1 AS x FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(ChatError::NotInOrg)?;
    let id = new_id();
    let created = sqlx::query(
        "INSERT INTO conversations (id, org_id, kind, name, direct_key, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(KIND)
    .bind(locale.t("notices.title"))
    .bind(&key)
    .bind(user_id)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match created {
        Ok(_) => {}
        // Two services posted the first notice at once: use the winner.
        Err(e) if is_unique_violation(&e) => {
            drop(tx);
            let row = sqlx::query("SELECT id FROM conversations WHERE direct_key = $1")
                .bind(&key)
                .fetch_one(state.db.read())
                .await?;
            return Ok(row.try_get("id")?);
        }
        Err(e) => return Err(e.into()),
    }
    add_member(&mut tx, now, &id, user_id, GroupRole::Member).await?;
    tx.commit().await?;
    live::announce_to_users(state, &[user_id.to_string()], &id).await;
    Ok(id)
}

/// Posts a notice to a member: `new.kind` text or Markdown (no card), or
/// `card` with a card. `new.client_id` is the idempotency key: posting the
/// same key again (a retried job) returns the first message and stores
/// nothing. Delivered live to the member's open pages.
pub async fn post(
    state: &AppState,
    org_id: &str,
    user_id: &str,
    sender: &Sender<'_>,
    new: NewMessage,
    card: Option<Card>,
) -> ChatResult<Message> {
    let conversation_id = conversation(state, org_id, user_id).await?;
    let author = NoticeAuthor {
        conversation_id: conversation_id.clone(),
        sender_key: sender.robot_id(),
        name: sender.name.to_string(),
    };
    let message = messages::send_as_notice(state, &author, new, card).await?;
    live::announce_message(state, &message).await;
    Ok(message)
}

/// Those of the messages `message_ids` that are `sender`'s notices in
/// the member's notice conversation, not recalled, with their cards.
pub async fn cards(
    state: &AppState,
    org_id: &str,
    user_id: &str,
    sender: &Sender<'_>,
    message_ids: &[String],
) -> ChatResult<Vec<(String, Card)>> {
    if message_ids.is_empty() {
        return Ok(Vec::new());
    }
    let Some(conversation_id) = existing(state, org_id, user_id).await? else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "SELECT id, card FROM messages WHERE conversation_id = $1 AND robot_id = $2 \
         AND id IN ({}) AND recalled_at IS NULL AND card IS NOT NULL",
        tram_platform::db::placeholders(3, message_ids.len())
    );
    let mut query = sqlx::query(&sql)
        .bind(&conversation_id)
        .bind(sender.robot_id());
    for id in message_ids {
        query = query.bind(id);
    }
    Ok(with_cards(&query.fetch_all(state.db.read()).await?))
}

fn with_cards(rows: &[sqlx::any::AnyRow]) -> Vec<(String, Card)> {
    rows.iter()
        .filter_map(|row| {
            let id: String = row.try_get("id").ok()?;
            let card: String = row.try_get("card").ok()?;
            Some((id, serde_json::from_str(&card).ok()?))
        })
        .collect()
}

/// Replaces the card of one of `sender`'s notices (a request was decided:
/// its buttons give way to the outcome). Everyone who has the
/// conversation open sees the new card at once.
pub async fn replace_card(
    state: &AppState,
    org_id: &str,
    user_id: &str,
    sender: &Sender<'_>,
    message_id: &str,
    card: Card,
) -> ChatResult<Message> {
    let card = card.checked_from_service()?;
    let conversation_id = existing(state, org_id, user_id)
        .await?
        .ok_or(ChatError::NotFound)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let changed = sqlx::query(
        "UPDATE messages SET card = $1, body = $2 WHERE id = $3 AND conversation_id = $4 \
         AND robot_id = $5 AND recalled_at IS NULL",
    )
    .bind(serde_json::to_string(&card).expect("cards serialise"))
    .bind(card.summary())
    .bind(message_id)
    .bind(&conversation_id)
    .bind(sender.robot_id())
    .execute(&mut *tx)
    .await?;
    if changed.rows_affected() == 0 {
        return Err(ChatError::NotFound);
    }
    crate::search::log_change(&mut tx, message_id, now).await?;
    tx.commit().await?;
    let message = messages::get(&state.db, &conversation_id, message_id).await?;
    live::announce_update(state, &message).await;
    Ok(message)
}
