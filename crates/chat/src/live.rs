//! Live delivery. Changes are committed first, then announced on the bus:
//! `chat.conv.<id>` carries events of one conversation, `chat.user.<id>`
//! tells a user's sockets that their conversations changed. A socket never
//! trusts the bus for completeness: it sends each conversation's messages
//! in sequence order, and when an announcement skips a number it reads the
//! missing ones from the database first.

use std::collections::HashMap;

use bytes::Bytes;
use futures::stream::{BoxStream, SelectAll};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tram_platform::AppState;

use crate::conversations;
use crate::messages::{self, Message};
use crate::quiet::{decide, Delivery, Incoming, QuietHours, Recipient};
use crate::settings::NotificationSettings;

pub fn conversation_topic(id: &str) -> String {
    format!("chat.conv.{id}")
}

pub fn user_topic(id: &str) -> String {
    format!("chat.user.{id}")
}

/// What a socket receives. The tag is `type`; see docs/websocket.md.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Sent once after connecting (and resuming): the conversations and
    /// their last sequence numbers.
    Ready { conversations: Vec<(String, i64)> },
    /// A new message, in sequence order per conversation.
    Message { conversation_id: String, message: Message },
    /// An edited or recalled message.
    MessageUpdated { conversation_id: String, message: Message },
    /// Someone's read mark moved.
    Read { conversation_id: String, user_id: String, read_seq: i64 },
    /// The conversation's name, members, announcement or existence changed:
    /// fetch it again.
    ConversationChanged { conversation_id: String },
    /// The message just sent should notify this user now (sound, desktop
    /// notification): their do-not-disturb settings allow it.
    Notify { conversation_id: String, message_id: String, mention: bool },
    /// (Bus only) the user's notification settings changed.
    SettingsChanged,
    /// The answer to a client `ping`.
    Pong,
    /// A frame the server did not understand.
    Error { message: String },
}

impl Event {
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).expect("events serialise"))
    }
}

pub async fn announce(state: &AppState, conversation_id: &str, event: &Event) {
    state.bus.publish(&conversation_topic(conversation_id), event.to_bytes()).await;
}

/// Tells a user's sockets that their notification settings changed.
pub async fn announce_settings(state: &AppState, user_id: &str) {
    state.bus.publish(&user_topic(user_id), Event::SettingsChanged.to_bytes()).await;
}

/// Tells each user's sockets to look at their conversation list again.
pub async fn announce_to_users(state: &AppState, users: &[String], conversation_id: &str) {
    let event = Event::ConversationChanged {
        conversation_id: conversation_id.to_string(),
    }
    .to_bytes();
    for user in users {
        state.bus.publish(&user_topic(user), event.clone()).await;
    }
}

/// How a message reaches `user_id` under their settings at the time it was
/// sent; `None` for their own messages, recalled ones and system notes.
pub fn delivery_of(
    user_id: &str,
    settings: &NotificationSettings,
    quiet: Option<&QuietHours>,
    conversation_muted: bool,
    message: &Message,
) -> Option<Delivery> {
    // A robot's message notifies like a member's (its id never matches a
    // person's, so it is nobody's own message and in nobody's allow list).
    let sender = message.sender_id.as_deref().or(message.robot_id.as_deref())?;
    if sender == user_id || message.recalled {
        return None;
    }
    let recipient = Recipient {
        user_id,
        quiet,
        conversation_muted,
        allow_mentions: settings.allow_mentions,
        allow_from: &settings.allow_from,
    };
    let incoming = Incoming {
        sender_id: sender,
        mentions_recipient: message.mentions.iter().any(|m| m == user_id),
        mentions_all: message.mention_all,
    };
    let at = chrono::DateTime::from_timestamp_millis(message.created_at).unwrap_or_default();
    Some(decide(&recipient, &incoming, at))
}

/// What a client sends over the socket.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Resume: the last sequence number seen per conversation.
    Resume { cursors: HashMap<String, i64> },
    Ping,
}

/// One socket's view: the conversations it follows, the last sequence
/// number it has sent of each, and what it needs to decide notifications
/// without asking the database per message (the user's quiet hours and
/// muted conversations, refreshed when they change).
pub struct Follower {
    state: AppState,
    org_id: String,
    user_id: String,
    sent: HashMap<String, i64>,
    muted: HashMap<String, bool>,
    settings: NotificationSettings,
    quiet: Option<QuietHours>,
    streams: SelectAll<BoxStream<'static, (String, Bytes)>>,
}

const CATCH_UP_PAGE: i64 = 200;

impl Follower {
    pub async fn start(state: AppState, org_id: String, user_id: String) -> Follower {
        let settings = crate::settings::get(&state.db, &user_id).await.unwrap_or_default();
        let mut follower = Follower {
            quiet: settings.quiet_hours(),
            settings,
            state,
            org_id,
            user_id,
            sent: HashMap::new(),
            muted: HashMap::new(),
            streams: SelectAll::new(),
        };
        let user_stream = follower.state.bus.subscribe(&user_topic(&follower.user_id)).await;
        follower.streams.push(user_stream.map(|b| (String::new(), b)).boxed());
        follower
    }

    /// Follows every conversation of the user (and stops following those it
    /// left); returns (id, last seq) of each.
    pub async fn sync_conversations(&mut self) -> Vec<(String, i64)> {
        let list = conversations::list(&self.state.db, &self.org_id, &self.user_id)
            .await
            .unwrap_or_default();
        let current: Vec<&str> = list.iter().map(|c| c.id.as_str()).collect();
        self.sent.retain(|id, _| current.contains(&id.as_str()));
        let mut out = Vec::with_capacity(list.len());
        for conversation in list {
            self.muted.insert(conversation.id.clone(), conversation.muted);
            if !self.sent.contains_key(&conversation.id) {
                let id = conversation.id.clone();
                let stream = self.state.bus.subscribe(&conversation_topic(&id)).await;
                self.streams.push(stream.map(move |b| (id.clone(), b)).boxed());
                // New followers start at the present; `resume` moves back.
                self.sent.insert(conversation.id.clone(), conversation.last_seq);
            }
            out.push((conversation.id, conversation.last_seq));
        }
        out
    }

    /// Moves cursors back to what the client has seen and returns the
    /// messages it missed, in order.
    pub async fn resume(&mut self, cursors: HashMap<String, i64>) -> Vec<Event> {
        let mut events = Vec::new();
        for (conversation_id, seen) in cursors {
            if let Some(sent) = self.sent.get_mut(&conversation_id) {
                *sent = seen.clamp(0, *sent);
                events.extend(self.catch_up(&conversation_id).await);
            }
        }
        events
    }

    /// Everything after the cursor, from the database.
    async fn catch_up(&mut self, conversation_id: &str) -> Vec<Event> {
        let Ok(me) = conversations::participant(&self.state.db, &self.org_id, conversation_id, &self.user_id).await else {
            self.sent.remove(conversation_id);
            return Vec::new();
        };
        let mut events = Vec::new();
        loop {
            let after = self.sent.get(conversation_id).copied().unwrap_or(0);
            let page = messages::history(&self.state.db, &me, None, Some(after), CATCH_UP_PAGE)
                .await
                .unwrap_or_default();
            let full = page.len() as i64 == CATCH_UP_PAGE;
            for message in page {
                self.sent.insert(conversation_id.to_string(), message.seq);
                events.push(Event::Message {
                    conversation_id: conversation_id.to_string(),
                    message,
                });
            }
            if !full {
                return events;
            }
        }
    }

    /// The notification a new message deserves, if any.
    fn notification(&self, conversation_id: &str, message: &Message) -> Option<Event> {
        let muted = self.muted.get(conversation_id).copied().unwrap_or(false);
        let delivery = delivery_of(&self.user_id, &self.settings, self.quiet.as_ref(), muted, message)?;
        let mention = message.mention_all || message.mentions.iter().any(|m| m == &self.user_id);
        (delivery == Delivery::Notify).then(|| Event::Notify {
            conversation_id: conversation_id.to_string(),
            message_id: message.id.clone(),
            mention,
        })
    }

    /// New messages as events, each followed by its notification if due.
    fn deliver(&self, conversation_id: &str, messages: Vec<Event>) -> Vec<Event> {
        let mut out = Vec::with_capacity(messages.len() * 2);
        for event in messages {
            let notify = match &event {
                Event::Message { message, .. } => self.notification(conversation_id, message),
                _ => None,
            };
            out.push(event);
            out.extend(notify);
        }
        out
    }

    /// Waits for the next announcement and turns it into what the client
    /// must receive (possibly several events, possibly none); `None` when
    /// the bus has closed.
    pub async fn next(&mut self) -> Option<Vec<Event>> {
        let (conversation_id, payload) = self.streams.next().await?;
        let Ok(event) = serde_json::from_slice::<Event>(&payload) else {
            return Some(Vec::new());
        };
        if conversation_id.is_empty() {
            return Some(self.on_user_event(event).await);
        }
        let Some(&sent) = self.sent.get(&conversation_id) else {
            // A conversation we no longer follow.
            return Some(Vec::new());
        };
        match event {
            Event::Message { message, .. } => {
                if message.seq <= sent {
                    return Some(Vec::new());
                }
                if message.seq == sent + 1 {
                    self.sent.insert(conversation_id.clone(), message.seq);
                    let events = vec![Event::Message { conversation_id: conversation_id.clone(), message }];
                    return Some(self.deliver(&conversation_id, events));
                }
                // A gap: the database fills it, in order.
                let events = self.catch_up(&conversation_id).await;
                Some(self.deliver(&conversation_id, events))
            }
            other => Some(vec![other]),
        }
    }

    async fn on_user_event(&mut self, event: Event) -> Vec<Event> {
        match event {
            Event::SettingsChanged => {
                self.settings = crate::settings::get(&self.state.db, &self.user_id).await.unwrap_or_default();
                self.quiet = self.settings.quiet_hours();
                Vec::new()
            }
            other => {
                // Our conversation list (or a mute) changed.
                let before: Vec<String> = self.sent.keys().cloned().collect();
                self.sync_conversations().await;
                let mut out = vec![other];
                for id in self.sent.keys().filter(|id| !before.contains(id)) {
                    out.push(Event::ConversationChanged { conversation_id: id.clone() });
                }
                out
            }
        }
    }
}
