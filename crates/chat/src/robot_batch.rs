//! Robot messages stored many at a time: the webhook's group commit hands
//! chat every message that arrived while the last batch was being written,
//! inside its own transaction (which also holds the calls' log entries).
//! Each group's sequence numbers are taken with one statement, the
//! messages and their search-log entries are inserted with one statement
//! each, and the stored messages are built from what was written instead
//! of being read back. The rules are those of a single robot message
//! (`messages::send_as_robot`); what this path does not take (a quoted
//! message, an idempotency key) goes through that one.

use sqlx::{AnyConnection, Row};
use tram_platform::db::{value_rows, Db};

use crate::cards::Card;
use crate::error::{ChatError, ChatResult};
use crate::messages::{
    check_body, check_robot_message, display_html, Message, MessageKind, NewMessage, RobotAuthor,
};

/// Rows per insert statement (16 values each).
const ROWS_PER_INSERT: usize = 64;

/// A robot's message checked and ready to store with others.
#[derive(Debug, Clone)]
pub struct RobotDraft {
    /// Chosen before storing, so the call's log entry can name it.
    pub id: String,
    pub author: RobotAuthor,
    pub kind: MessageKind,
    pub body: String,
    pub card: Option<Card>,
    pub mentions: Vec<String>,
    pub mention_all: bool,
}

/// Checks a robot's message as `send_as_robot` would; `Ok(None)` when it
/// needs the single path (it quotes a message or carries a client id).
pub async fn draft(
    db: &Db,
    author: &RobotAuthor,
    new: NewMessage,
    card: Option<Card>,
) -> ChatResult<Option<RobotDraft>> {
    if new.reply_to.is_some() || new.client_id.is_some() {
        return Ok(None);
    }
    let card = check_robot_message(&new, card)?;
    check_body(&new.body, false)?;
    let mut mentions = if new.mentions.is_empty() {
        Vec::new()
    } else {
        let members = crate::conversations::member_ids(db, &author.conversation_id).await?;
        new.mentions
            .into_iter()
            .filter(|m| members.contains(m))
            .collect()
    };
    mentions.sort();
    mentions.dedup();
    Ok(Some(RobotDraft {
        id: tram_platform::db::new_id(),
        author: RobotAuthor {
            avatar_url: author
                .avatar_url
                .as_deref()
                .and_then(crate::cards::safe_picture),
            ..author.clone()
        },
        kind: new.kind,
        body: new.body,
        card,
        mentions,
        // Robots post in groups only (the sequence statement checks).
        mention_all: new.mention_all,
    }))
}

/// Stores the drafts in `conn`'s transaction, in order, and returns the
/// stored messages in the same order. Fails as a whole (`Dissolved`) when
/// one of the groups is gone; the caller then sends each on its own.
pub async fn store(
    conn: &mut AnyConnection,
    drafts: &[RobotDraft],
    now: i64,
) -> ChatResult<Vec<Message>> {
    // Sequence numbers, one statement per group, groups in id order (the
    // order in which concurrent writers lock their rows).
    let mut groups: Vec<&str> = drafts
        .iter()
        .map(|d| d.author.conversation_id.as_str())
        .collect();
    groups.sort_unstable();
    groups.dedup();
    let mut next_seq = std::collections::HashMap::with_capacity(groups.len());
    for group in groups {
        let count = drafts
            .iter()
            .filter(|d| d.author.conversation_id == group)
            .count() as i64;
        let last: i64 = sqlx::query(
            "UPDATE conversations SET last_seq = last_seq + $1, last_message_at = $2 \
             WHERE id = $3 AND dissolved_at IS NULL AND kind = 'group' RETURNING last_seq",
        )
        .bind(count)
        .bind(now)
        .bind(group)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(ChatError::Dissolved)?
        .try_get("last_seq")?;
        next_seq.insert(group, last - count + 1);
    }
    let mut messages = Vec::with_capacity(drafts.len());
    for draft in drafts {
        let seq = next_seq
            .get_mut(draft.author.conversation_id.as_str())
            .expect("every group was numbered");
        messages.push(message_of(draft, *seq, now));
        *seq += 1;
    }
    for (drafts, messages) in drafts
        .chunks(ROWS_PER_INSERT)
        .zip(messages.chunks(ROWS_PER_INSERT))
    {
        insert(&mut *conn, drafts, messages).await?;
    }
    let ids: Vec<&str> = drafts.iter().map(|d| d.id.as_str()).collect();
    crate::search::log_changes(conn, &ids, now).await?;
    Ok(messages)
}

async fn insert(
    conn: &mut AnyConnection,
    drafts: &[RobotDraft],
    messages: &[Message],
) -> ChatResult<()> {
    let sql = format!(
        "INSERT INTO messages (id, conversation_id, seq, sender_id, kind, body, mentions, mention_all, reply_to, attachment_id, \
         client_id, created_at, robot_id, author_name, author_avatar, card) VALUES {}",
        value_rows(drafts.len(), 16)
    );
    let mut query = sqlx::query(&sql);
    for (draft, message) in drafts.iter().zip(messages) {
        query = query
            .bind(&draft.id)
            .bind(&draft.author.conversation_id)
            .bind(message.seq)
            .bind(None::<String>)
            .bind(draft.kind.as_str())
            .bind(&draft.body)
            .bind(serde_json::to_string(&draft.mentions).expect("strings serialise"))
            .bind(draft.mention_all as i64)
            .bind(None::<String>)
            .bind(None::<String>)
            .bind(None::<String>)
            .bind(message.created_at)
            .bind(&draft.author.robot_id)
            .bind(&draft.author.name)
            .bind(&draft.author.avatar_url)
            .bind(
                draft
                    .card
                    .as_ref()
                    .map(|c| serde_json::to_string(c).expect("cards serialise")),
            );
    }
    query.execute(conn).await?;
    Ok(())
}

/// The message as `messages::get` would read it back.
fn message_of(draft: &RobotDraft, seq: i64, now: i64) -> Message {
    Message {
        id: draft.id.clone(),
        conversation_id: draft.author.conversation_id.clone(),
        seq,
        sender_id: None,
        sender_name: Some(draft.author.name.clone()),
        robot_id: Some(draft.author.robot_id.clone()),
        sender_avatar: draft.author.avatar_url.clone(),
        kind: draft.kind,
        html: display_html(
            draft.kind,
            &draft.body,
            draft.card.as_ref(),
            Some(&draft.author.robot_id),
        ),
        body: draft.body.clone(),
        card: draft.card.clone(),
        mentions: draft.mentions.clone(),
        mention_all: draft.mention_all,
        reply_to: None,
        attachment: None,
        client_id: None,
        created_at: now,
        edited_at: None,
        recalled: false,
    }
}
