//! Live delivery. Changes are committed first, then announced on the bus:
//! `chat.conv.<id>` carries events of one conversation, `chat.user.<id>`
//! tells a user's sockets that their conversations changed. A socket never
//! trusts the bus for completeness: it sends each conversation's messages
//! in sequence order, and when an announcement skips a number it waits a
//! moment for the missing one (concurrent senders announce in the order
//! they finish, not the order they committed) and then reads what is still
//! missing from the database.
//!
//! A new message is serialised once, by its sender, and its announcement
//! is forwarded to every socket as it is: a follower reads only the few
//! fields it needs to order it and to decide on a notification.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{BoxStream, SelectAll};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tram_platform::AppState;

use crate::conversations;
use crate::error::ChatError;
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
    Message {
        conversation_id: String,
        message: Message,
    },
    /// An edited or recalled message.
    MessageUpdated {
        conversation_id: String,
        message: Message,
    },
    /// Someone's read mark moved.
    Read {
        conversation_id: String,
        user_id: String,
        read_seq: i64,
    },
    /// The conversation's name, members, announcement or existence changed:
    /// fetch it again.
    ConversationChanged { conversation_id: String },
    /// The message just sent should notify this user now (sound, desktop
    /// notification): their do-not-disturb settings allow it.
    Notify {
        conversation_id: String,
        message_id: String,
        mention: bool,
    },
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
    state
        .bus
        .publish(&conversation_topic(conversation_id), event.to_bytes())
        .await;
}

/// Announces a new message to its conversation's sockets (on every node).
pub async fn announce_message(state: &AppState, message: &Message) {
    let event = Event::Message {
        conversation_id: message.conversation_id.clone(),
        message: message.clone(),
    };
    announce(state, &message.conversation_id, &event).await;
}

/// Announces a changed message (edited, recalled, a notice's card
/// replaced) to its conversation's sockets.
pub async fn announce_update(state: &AppState, message: &Message) {
    let event = Event::MessageUpdated {
        conversation_id: message.conversation_id.clone(),
        message: message.clone(),
    };
    announce(state, &message.conversation_id, &event).await;
}

/// Starts a bus payload that holds several new messages of one
/// conversation (then, per message: its frame's length as 4 bytes,
/// big-endian, and the frame). JSON never starts with a zero byte.
const BATCH_MAGIC: &[u8] = b"\0tram-messages\0";
/// Largest batch payload (NATS refuses payloads over 1 MiB by default).
const MAX_BATCH_PAYLOAD: usize = 512 * 1024;

/// Announces new messages of one conversation, in order, as few bus
/// payloads: a follower then gets them with one wake-up and sends them to
/// its client in one write, instead of one of each per message.
pub async fn announce_messages(state: &AppState, conversation_id: &str, messages: &[Message]) {
    let topic = conversation_topic(conversation_id);
    let mut payload = Vec::new();
    let mut count = 0;
    for message in messages {
        let frame = Event::Message {
            conversation_id: conversation_id.to_string(),
            message: message.clone(),
        }
        .to_bytes();
        if count > 0 && payload.len() + 4 + frame.len() > MAX_BATCH_PAYLOAD {
            state
                .bus
                .publish(&topic, Bytes::from(std::mem::take(&mut payload)))
                .await;
            count = 0;
        }
        if count == 0 {
            payload.extend_from_slice(BATCH_MAGIC);
        }
        payload.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        payload.extend_from_slice(&frame);
        count += 1;
    }
    if count > 0 {
        state.bus.publish(&topic, Bytes::from(payload)).await;
    }
}

/// The frames of a batch payload (slices of it, no copies); `None` for
/// any other payload, or a batch cut short.
fn batch_frames(payload: &Bytes) -> Option<Vec<Bytes>> {
    let mut rest = payload.strip_prefix(BATCH_MAGIC)?;
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let (length, tail) = rest.split_first_chunk::<4>()?;
        let length = u32::from_be_bytes(*length) as usize;
        if tail.len() < length {
            return None;
        }
        let start = payload.len() - tail.len();
        frames.push(payload.slice(start..start + length));
        rest = &tail[length..];
    }
    Some(frames)
}

/// Tells a user's sockets that their notification settings changed.
pub async fn announce_settings(state: &AppState, user_id: &str) {
    state
        .bus
        .publish(&user_topic(user_id), Event::SettingsChanged.to_bytes())
        .await;
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
    message: &MessageHead,
) -> Option<Delivery> {
    // A robot's message notifies like a member's (its id never matches a
    // person's, so it is nobody's own message and in nobody's allow list).
    let sender = message
        .sender_id
        .as_deref()
        .or(message.robot_id.as_deref())?;
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
    Resume {
        cursors: HashMap<String, i64>,
    },
    Ping,
}

/// What a socket sends: an event of its own, or a frame serialised once
/// for every follower (a new message, forwarded as announced).
#[derive(Debug)]
pub enum Outgoing {
    Event(Event),
    Frame(Bytes),
}

impl From<Event> for Outgoing {
    fn from(event: Event) -> Outgoing {
        Outgoing::Event(event)
    }
}

/// The fields of an announced new message that a follower looks at.
#[derive(Debug, Deserialize)]
struct Announced {
    #[serde(rename = "type")]
    kind: String,
    message: Option<Arc<MessageHead>>,
}

/// Announcements this worker thread has read lately. Every follower on a
/// node receives the same payload (one shared `Bytes`), so reading it once
/// per thread rather than once per socket spares a big group ~1,000
/// parses per message.
const RECENTLY_READ: usize = 4;

/// A payload as read: one announcement, or a batch of new messages (each
/// frame with what it announces).
#[derive(Clone)]
enum Reading {
    One(Option<Arc<Announced>>),
    Batch(Arc<Vec<(Bytes, Option<Arc<Announced>>)>>),
}

thread_local! {
    static READ: RefCell<Vec<(Bytes, Reading)>> = const { RefCell::new(Vec::new()) };
}

fn parse_announcement(frame: &[u8]) -> Option<Arc<Announced>> {
    serde_json::from_slice::<Announced>(frame)
        .ok()
        .map(Arc::new)
}

fn read_announcement(payload: &Bytes) -> Reading {
    READ.with(|read| {
        let mut read = read.borrow_mut();
        // The cache holds its own clone of each payload, so an address in it
        // cannot have been freed and reused: same address and length means
        // the same (immutable) bytes.
        if let Some((_, reading)) = read
            .iter()
            .find(|(seen, _)| seen.as_ptr() == payload.as_ptr() && seen.len() == payload.len())
        {
            return reading.clone();
        }
        let reading = match batch_frames(payload) {
            Some(frames) => Reading::Batch(Arc::new(
                frames
                    .into_iter()
                    .map(|frame| {
                        let announced = parse_announcement(&frame);
                        (frame, announced)
                    })
                    .collect(),
            )),
            None => Reading::One(parse_announcement(payload)),
        };
        if read.len() == RECENTLY_READ {
            read.remove(0);
        }
        read.push((payload.clone(), reading.clone()));
        reading
    })
}

/// What delivery decisions need of a message.
#[derive(Debug, Deserialize)]
pub struct MessageHead {
    pub id: String,
    pub seq: i64,
    pub sender_id: Option<String>,
    /// Set when a robot sent it (then `sender_id` is empty).
    #[serde(default)]
    pub robot_id: Option<String>,
    pub mentions: Vec<String>,
    pub mention_all: bool,
    pub recalled: bool,
    pub created_at: i64,
}

impl MessageHead {
    pub fn of(message: &Message) -> MessageHead {
        MessageHead {
            id: message.id.clone(),
            seq: message.seq,
            sender_id: message.sender_id.clone(),
            robot_id: message.robot_id.clone(),
            mentions: message.mentions.clone(),
            mention_all: message.mention_all,
            recalled: message.recalled,
            created_at: message.created_at,
        }
    }
}

/// Messages of one conversation that arrived ahead of a missing one, and
/// when to stop waiting for it and read the database instead.
struct Gap {
    due: tokio::time::Instant,
    ahead: BTreeMap<i64, (Bytes, Arc<MessageHead>)>,
}

/// How long a follower waits for a missing announcement before reading
/// the database. Concurrent sends of one conversation finish (and
/// announce) out of order by microseconds to milliseconds; waiting a
/// little spares every follower of a busy group a query per reordering.
const REORDER_WAIT: Duration = Duration::from_millis(250);
/// After a failed catch-up (the database was unreachable), try again.
const RETRY_WAIT: Duration = Duration::from_secs(1);

/// One socket's view: the conversations it follows, the last sequence
/// number it has sent of each, and what it needs to decide notifications
/// without asking the database per message (the user's quiet hours and
/// muted conversations, refreshed when they change).
///
/// [`Follower::next`] is cancel-safe: whatever it has taken from the bus
/// it keeps (in `outbox`, `gaps` or the `stale` marks) until it has been
/// returned, and it moves a cursor only after the reads that justify it,
/// so a socket that interrupts it (a ping, the session check) loses
/// nothing.
pub struct Follower {
    state: AppState,
    org_id: String,
    user_id: String,
    sent: HashMap<String, i64>,
    muted: HashMap<String, bool>,
    settings: NotificationSettings,
    quiet: Option<QuietHours>,
    streams: SelectAll<BoxStream<'static, (String, Bytes)>>,
    gaps: HashMap<String, Gap>,
    outbox: Vec<Outgoing>,
    settings_stale: bool,
    list_stale: Option<ListChange>,
}

/// The conversation list must be read again (the user was added, removed,
/// muted a chat, …). The events that said so go to the client after the
/// re-read, so a client that reacts to them finds the socket following.
struct ListChange {
    followed_before: Vec<String>,
    events: Vec<Event>,
}

const CATCH_UP_PAGE: i64 = 200;

impl Follower {
    pub async fn start(state: AppState, org_id: String, user_id: String) -> Follower {
        let settings = crate::settings::get(&state.db, &user_id)
            .await
            .unwrap_or_default();
        let mut follower = Follower {
            quiet: settings.quiet_hours(),
            settings,
            state,
            org_id,
            user_id,
            sent: HashMap::new(),
            muted: HashMap::new(),
            streams: SelectAll::new(),
            gaps: HashMap::new(),
            outbox: Vec::new(),
            settings_stale: false,
            list_stale: None,
        };
        let user_stream = follower
            .state
            .bus
            .subscribe(&user_topic(&follower.user_id))
            .await;
        follower
            .streams
            .push(user_stream.map(|b| (String::new(), b)).boxed());
        follower
    }

    /// Follows every conversation of the user (and stops following those it
    /// left); returns (id, last seq) of each.
    pub async fn sync_conversations(&mut self) -> Vec<(String, i64)> {
        self.follow_conversations(false).await.0
    }

    /// Follows the member's conversations. At connect a new follower starts
    /// at the present (the client resumes from its own cursors); one that
    /// appears later (made, joined, a first work notice) starts at the
    /// member's read mark, so what was posted into it before this socket
    /// noticed it still arrives live: those are returned to be caught up.
    async fn follow_conversations(&mut self, later: bool) -> (Vec<(String, i64)>, Vec<String>) {
        let list = conversations::list(&self.state.db, &self.org_id, &self.user_id)
            .await
            .unwrap_or_default();
        let current: Vec<&str> = list.iter().map(|c| c.id.as_str()).collect();
        self.sent.retain(|id, _| current.contains(&id.as_str()));
        self.gaps.retain(|id, _| current.contains(&id.as_str()));
        let mut out = Vec::with_capacity(list.len());
        let mut behind = Vec::new();
        for conversation in list {
            self.muted
                .insert(conversation.id.clone(), conversation.muted);
            if !self.sent.contains_key(&conversation.id) {
                let id = conversation.id.clone();
                let stream = self.state.bus.subscribe(&conversation_topic(&id)).await;
                self.streams
                    .push(stream.map(move |b| (id.clone(), b)).boxed());
                let start = if later {
                    conversation.read_seq.clamp(0, conversation.last_seq)
                } else {
                    conversation.last_seq
                };
                // Read after subscribing: a message stored between the
                // list and the subscription is found here, one stored
                // after it arrives on the bus.
                if later {
                    behind.push(conversation.id.clone());
                }
                self.sent.insert(conversation.id.clone(), start);
            }
            out.push((conversation.id, conversation.last_seq));
        }
        (out, behind)
    }

    /// Moves cursors back to what the client has seen and returns the
    /// messages it missed, in order.
    pub async fn resume(&mut self, cursors: HashMap<String, i64>) -> Vec<Outgoing> {
        for (conversation_id, seen) in cursors {
            if let Some(sent) = self.sent.get_mut(&conversation_id) {
                *sent = seen.clamp(0, *sent);
                self.catch_up(&conversation_id).await;
            }
        }
        std::mem::take(&mut self.outbox)
    }

    /// Reads everything after the cursor from the database, then sends it
    /// and whatever had arrived ahead. The cursor moves only once every
    /// page has been read.
    async fn catch_up(&mut self, conversation_id: &str) {
        let Some(&from) = self.sent.get(conversation_id) else {
            return;
        };
        let read = async {
            let me = conversations::participant(
                &self.state.db,
                &self.org_id,
                conversation_id,
                &self.user_id,
            )
            .await?;
            let mut missed = Vec::new();
            let mut after = from;
            loop {
                let page = messages::history(&self.state.db, &me, None, Some(after), CATCH_UP_PAGE)
                    .await?;
                let full = page.len() as i64 == CATCH_UP_PAGE;
                after = page.last().map_or(after, |m| m.seq);
                missed.extend(page);
                if !full {
                    return Ok::<_, ChatError>(missed);
                }
            }
        };
        match read.await {
            Ok(missed) => {
                for message in missed {
                    self.sent.insert(conversation_id.to_string(), message.seq);
                    let notify = self.notification(conversation_id, &MessageHead::of(&message));
                    self.outbox.push(
                        Event::Message {
                            conversation_id: conversation_id.to_string(),
                            message,
                        }
                        .into(),
                    );
                    self.outbox.extend(notify.map(Outgoing::Event));
                }
                self.release_ahead(conversation_id);
            }
            Err(ChatError::NotMember | ChatError::Dissolved) => {
                // Gone from the conversation: stop following it.
                self.sent.remove(conversation_id);
                self.gaps.remove(conversation_id);
            }
            Err(err) => {
                tracing::warn!(error = %err, conversation_id, "catching up a socket failed; retrying");
                let gap = self
                    .gaps
                    .entry(conversation_id.to_string())
                    .or_insert_with(|| Gap {
                        due: tokio::time::Instant::now(),
                        ahead: BTreeMap::new(),
                    });
                gap.due = tokio::time::Instant::now() + RETRY_WAIT;
            }
        }
    }

    /// Sends the messages held back for `conversation_id` that now follow
    /// the cursor; keeps waiting if a gap remains.
    fn release_ahead(&mut self, conversation_id: &str) {
        let Some(gap) = self.gaps.get_mut(conversation_id) else {
            return;
        };
        let mut sent = self.sent.get(conversation_id).copied().unwrap_or(0);
        let mut released = Vec::new();
        while let Some(entry) = gap.ahead.first_entry() {
            match *entry.key() {
                seq if seq <= sent => {
                    entry.remove();
                }
                seq if seq == sent + 1 => {
                    released.push(entry.remove());
                    sent = seq;
                }
                _ => break,
            }
        }
        if gap.ahead.is_empty() {
            self.gaps.remove(conversation_id);
        } else {
            gap.due = tokio::time::Instant::now() + REORDER_WAIT;
        }
        self.sent.insert(conversation_id.to_string(), sent);
        for (frame, head) in released {
            self.send_frame(conversation_id, frame, &head);
        }
    }

    fn send_frame(&mut self, conversation_id: &str, frame: Bytes, head: &MessageHead) {
        let notify = self.notification(conversation_id, head);
        self.outbox.push(Outgoing::Frame(frame));
        self.outbox.extend(notify.map(Outgoing::Event));
    }

    /// The notification a new message deserves, if any.
    fn notification(&self, conversation_id: &str, message: &MessageHead) -> Option<Event> {
        let muted = self.muted.get(conversation_id).copied().unwrap_or(false);
        let delivery = delivery_of(
            &self.user_id,
            &self.settings,
            self.quiet.as_ref(),
            muted,
            message,
        )?;
        let mention = message.mention_all || message.mentions.iter().any(|m| m == &self.user_id);
        (delivery == Delivery::Notify).then(|| Event::Notify {
            conversation_id: conversation_id.to_string(),
            message_id: message.id.clone(),
            mention,
        })
    }

    /// What the client must receive next (one or more frames); `None` when
    /// the bus has closed. Cancel-safe (see the type's documentation).
    pub async fn next(&mut self) -> Option<Vec<Outgoing>> {
        loop {
            if !self.outbox.is_empty() {
                return Some(std::mem::take(&mut self.outbox));
            }
            if self.settings_stale {
                self.settings = crate::settings::get(&self.state.db, &self.user_id)
                    .await
                    .unwrap_or_default();
                self.quiet = self.settings.quiet_hours();
                self.settings_stale = false;
                continue;
            }
            if self.list_stale.is_some() {
                let (_, behind) = self.follow_conversations(true).await;
                let change = self.list_stale.take().expect("checked above");
                self.outbox
                    .extend(change.events.into_iter().map(Outgoing::Event));
                for id in self
                    .sent
                    .keys()
                    .filter(|id| !change.followed_before.contains(id))
                {
                    self.outbox.push(
                        Event::ConversationChanged {
                            conversation_id: id.clone(),
                        }
                        .into(),
                    );
                }
                // The page learns of the conversation first, then of what
                // was already posted into it.
                for id in behind {
                    self.catch_up(&id).await;
                }
                continue;
            }
            let now = tokio::time::Instant::now();
            if let Some(id) = self
                .gaps
                .iter()
                .find(|(_, gap)| gap.due <= now)
                .map(|(id, _)| id.clone())
            {
                self.catch_up(&id).await;
                continue;
            }
            let item = match self.gaps.values().map(|gap| gap.due).min() {
                Some(due) => tokio::select! {
                    item = self.streams.next() => item,
                    _ = tokio::time::sleep_until(due) => continue,
                },
                None => self.streams.next().await,
            };
            let (conversation_id, payload) = item?;
            self.take(conversation_id, payload);
        }
    }

    /// Files one announcement: straight into the outbox when it is the
    /// next message, held back when it is ahead of one, or marked as work
    /// for `next`. Never waits, so nothing taken from the bus is lost to a
    /// cancelled `next`.
    fn take(&mut self, conversation_id: String, payload: Bytes) {
        if conversation_id.is_empty() {
            return self.take_user_event(&payload);
        }
        if !self.sent.contains_key(&conversation_id) {
            // A conversation we no longer follow.
            return;
        }
        match read_announcement(&payload) {
            Reading::One(Some(announced)) => self.take_one(&conversation_id, payload, &announced),
            Reading::One(None) => {}
            Reading::Batch(frames) => {
                for (frame, announced) in frames.iter() {
                    if let Some(announced) = announced {
                        self.take_one(&conversation_id, frame.clone(), announced);
                    }
                }
            }
        }
    }

    /// Files one announcement of a followed conversation (see `take`).
    fn take_one(&mut self, conversation_id: &str, payload: Bytes, announced: &Announced) {
        let Some(&sent) = self.sent.get(conversation_id) else {
            return;
        };
        match (announced.kind.as_str(), &announced.message) {
            ("message", Some(head)) => {
                let head = head.clone();
                if head.seq <= sent {
                    return;
                }
                if head.seq == sent + 1 {
                    self.sent.insert(conversation_id.to_string(), head.seq);
                    self.send_frame(conversation_id, payload, &head);
                    self.release_ahead(conversation_id);
                    return;
                }
                // Ahead of a missing one: wait for it a moment.
                self.gaps
                    .entry(conversation_id.to_string())
                    .or_insert_with(|| Gap {
                        due: tokio::time::Instant::now() + REORDER_WAIT,
                        ahead: BTreeMap::new(),
                    })
                    .ahead
                    .insert(head.seq, (payload, head));
            }
            _ => {
                if let Ok(event) = serde_json::from_slice::<Event>(&payload) {
                    self.outbox.push(event.into());
                }
            }
        }
    }

    fn take_user_event(&mut self, payload: &[u8]) {
        match serde_json::from_slice::<Event>(payload) {
            Ok(Event::SettingsChanged) => self.settings_stale = true,
            Ok(other) => {
                // Our conversation list (or a mute) changed.
                let followed = &self.sent;
                self.list_stale
                    .get_or_insert_with(|| ListChange {
                        followed_before: followed.keys().cloned().collect(),
                        events: Vec::new(),
                    })
                    .events
                    .push(other);
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announcement(seq: i64) -> Bytes {
        Bytes::from(format!(
            r#"{{"type":"message","conversation_id":"c","message":{{"id":"m{seq}","seq":{seq},"sender_id":"u","mentions":[],"mention_all":false,"recalled":false,"created_at":0,"body":"hi"}}}}"#
        ))
    }

    fn one(payload: &Bytes) -> Option<Arc<Announced>> {
        match read_announcement(payload) {
            Reading::One(announced) => announced,
            Reading::Batch(_) => panic!("not a batch"),
        }
    }

    #[test]
    fn a_payload_shared_by_many_followers_is_read_once_per_thread() {
        let payload = announcement(7);
        let first = one(&payload).expect("parses");
        let again = one(&payload.clone()).expect("parses");
        assert!(
            Arc::ptr_eq(&first, &again),
            "the same bytes are not parsed twice"
        );
        assert_eq!(first.message.as_ref().map(|m| m.seq), Some(7));
        // Equal text in another buffer is another payload: read on its own.
        let copy = announcement(7);
        assert!(!Arc::ptr_eq(&first, &one(&copy).unwrap()));
        // The cache keeps a few, then forgets the oldest.
        for seq in 0..RECENTLY_READ as i64 {
            one(&announcement(100 + seq));
        }
        assert!(!Arc::ptr_eq(&first, &one(&payload).unwrap()));
        assert!(one(&Bytes::from_static(b"not json")).is_none());
    }

    fn batch_of(frames: &[Bytes]) -> Bytes {
        let mut payload = BATCH_MAGIC.to_vec();
        for frame in frames {
            payload.extend_from_slice(&(frame.len() as u32).to_be_bytes());
            payload.extend_from_slice(frame);
        }
        Bytes::from(payload)
    }

    #[test]
    fn a_batch_payload_splits_into_its_frames_without_copies() {
        let frames = [announcement(1), announcement(2), announcement(3)];
        let payload = batch_of(&frames);
        let Reading::Batch(read) = read_announcement(&payload) else {
            panic!("a batch");
        };
        assert_eq!(read.len(), 3);
        for (i, (frame, announced)) in read.iter().enumerate() {
            assert_eq!(frame, &frames[i], "each frame as announced");
            assert_eq!(
                announced.as_ref().unwrap().message.as_ref().unwrap().seq,
                i as i64 + 1
            );
            let inside = payload.as_ptr_range();
            assert!(inside.contains(&frame.as_ptr()), "a slice of the payload");
        }
        // Cut short: not a batch (and not JSON either).
        let cut = payload.slice(..payload.len() - 5);
        assert!(batch_frames(&cut).is_none());
        assert!(matches!(read_announcement(&cut), Reading::One(None)));
    }
}
