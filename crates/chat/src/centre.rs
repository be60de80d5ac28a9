//! The notification centre: what arrived while I was in quiet time. It is
//! computed when asked (unread messages in my conversations, each judged by
//! the do-not-disturb settings I had when it was sent), so sending a
//! message writes nothing per recipient. Reading a conversation clears its
//! entries.

use serde::Serialize;
use tram_platform::db::Db;

use crate::conversations;
use crate::error::ChatResult;
use crate::live::{delivery_of, MessageHead};
use crate::messages::{self, Message};
use crate::quiet::{Delivery, QuietHours};
use crate::settings::{self, NotificationSettings};

/// Unread messages looked at per conversation (the newest ones).
const PER_CONVERSATION: i64 = 100;
/// Most entries listed.
const MAX_ENTRIES: usize = 200;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QuietArrival {
    pub conversation_id: String,
    pub conversation_name: String,
    pub message: Message,
}

/// Messages that arrived during my quiet time and that I have not read,
/// newest first.
pub async fn list(db: &Db, org_id: &str, user_id: &str) -> ChatResult<Vec<QuietArrival>> {
    let mut unread = Vec::new();
    for conversation in conversations::list(db, org_id, user_id).await? {
        if conversation.unread == 0 {
            continue;
        }
        let me = conversations::participant(db, org_id, &conversation.id, user_id).await?;
        // The newest page, not the first one after my read mark: with more
        // unread than a page, what arrived last is what the centre is for.
        let mut page = messages::history(db, &me, None, None, PER_CONVERSATION).await?;
        page.retain(|m| m.seq > conversation.read_seq);
        unread.push((conversation, page));
    }
    let oldest = unread
        .iter()
        .flat_map(|(_, page)| page.first())
        .map(|m| m.created_at)
        .min();
    let Some(oldest) = oldest else {
        return Ok(Vec::new());
    };
    // Each message is judged by the settings in force when it arrived.
    let versions: Vec<(i64, NotificationSettings, Option<QuietHours>)> =
        settings::history(db, user_id, oldest)
            .await?
            .into_iter()
            .map(|(from, s)| {
                let quiet = s.quiet_hours();
                (from, s, quiet)
            })
            .collect();
    let defaults = NotificationSettings::default();
    let mut out = Vec::new();
    for (conversation, page) in unread {
        for message in page {
            let (settings, quiet) = versions
                .iter()
                .rev()
                .find(|(from, _, _)| *from <= message.created_at)
                .map(|(_, s, q)| (s, q.as_ref()))
                .unwrap_or((&defaults, None));
            if delivery_of(
                user_id,
                settings,
                quiet,
                conversation.muted,
                &MessageHead::of(&message),
            ) == Some(Delivery::Quiet)
            {
                out.push(QuietArrival {
                    conversation_id: conversation.id.clone(),
                    conversation_name: conversation.title.clone(),
                    message,
                });
            }
        }
    }
    out.sort_by(|a, b| b.message.created_at.cmp(&a.message.created_at));
    out.truncate(MAX_ENTRIES);
    Ok(out)
}
