//! Receiving a robot's message: the checks DingTalk makes, in order (the
//! token, the robot being on, the caller's address, the signature, the
//! message itself, the keywords, the rate limit), then the message goes
//! into the group through chat's send path, with its @mentions resolved
//! to members. Every call is logged, whatever the answer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use tram_chat::error::ChatError;
use tram_chat::messages::{self, InStoreTransaction, Message, NewMessage, RobotAuthor, StoreWork};
use tram_platform::AppState;

use crate::calls::{self, CallRecord};
use crate::dingtalk::{self, At, Refusal, RobotPost};
use crate::robots::{self, StoredRobot};
use crate::scopes::Scope;
use crate::security::{self, SignatureError};

/// Largest body a robot may POST.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// One request to `/robot/send`, as it arrived.
#[derive(Debug, Clone, Default)]
pub struct Call<'a> {
    pub access_token: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub sign: Option<&'a str>,
    /// The caller's address (through trusted proxies).
    pub ip: &'a str,
    pub body: &'a [u8],
}

/// Runs a call and logs it; the message when it was posted.
pub async fn receive(state: &AppState, call: &Call<'_>) -> Result<Message, Refusal> {
    let msgtype = serde_json::from_slice::<serde_json::Value>(call.body)
        .ok()
        .as_ref()
        .and_then(dingtalk::msgtype_of);
    let robot = match find_robot(state, call).await {
        Ok(robot) => robot,
        Err(refusal) => {
            log_refusal(state, None, call.ip, msgtype.as_deref(), &refusal).await;
            return Err(refusal);
        }
    };
    let result = deliver(state, &robot, call).await;
    if let Err(refusal) = &result {
        log_refusal(state, Some(&robot), call.ip, msgtype.as_deref(), refusal).await;
    }
    result
}

pub(crate) async fn find_robot(state: &AppState, call: &Call<'_>) -> Result<StoredRobot, Refusal> {
    let token = call
        .access_token
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Refusal::MissingParam("access_token".into()))?;
    match robots::by_token(&state.db, token).await {
        // The AI assistant speaks only for itself: no webhook posts as it.
        Ok(Some(robot)) if robot.kind == robots::RobotKind::Assistant => Err(Refusal::UnknownToken),
        Ok(Some(robot)) => Ok(robot),
        Ok(None) => Err(Refusal::UnknownToken),
        Err(err) => {
            tracing::error!(error = %err, "robot lookup failed");
            Err(Refusal::Busy)
        }
    }
}

pub(crate) async fn log_refusal(
    state: &AppState,
    robot: Option<&StoredRobot>,
    ip: &str,
    msgtype: Option<&str>,
    refusal: &Refusal,
) {
    let errmsg = refusal.errmsg();
    let record = CallRecord {
        robot_id: robot.map(|r| r.id.as_str()),
        robot_name: robot.map(|r| r.name.as_str()),
        conversation_id: robot.map(|r| r.conversation_id.as_str()),
        ip,
        msgtype,
        errcode: refusal.errcode(),
        errmsg: &errmsg,
        ..CallRecord::default()
    };
    if let Err(err) = calls::record(state, &record).await {
        tracing::warn!(error = %err, "could not log a robot call");
    }
}

/// The security checks and the message, for a known robot.
async fn deliver(
    state: &AppState,
    robot: &StoredRobot,
    call: &Call<'_>,
) -> Result<Message, Refusal> {
    authenticate(state, robot, call, Scope::Post)?;
    let post = dingtalk::parse(call.body)?;
    let texts: Vec<&str> = post.texts.iter().map(String::as_str).collect();
    if !security::has_keyword(&robot.keywords, &texts) {
        return Err(Refusal::KeywordMissing);
    }
    admit_and_post(state, robot, post, call.ip).await
}

/// DingTalk's checks of a call with a robot's token (stopped, allow-list,
/// signature), then the robot's scope for what it asks.
pub(crate) fn authenticate(
    state: &AppState,
    robot: &StoredRobot,
    call: &Call<'_>,
    scope: Scope,
) -> Result<(), Refusal> {
    if !robot.enabled {
        return Err(Refusal::RobotStopped);
    }
    if !security::ip_allowed(&robot.ip_allowlist, call.ip) {
        return Err(Refusal::IpNotAllowed(call.ip.to_string()));
    }
    if let Some(sealed) = &robot.secret_sealed {
        let secret = state.keys.open(sealed).and_then(|s| String::from_utf8(s).ok()).ok_or_else(|| {
            tracing::error!(robot = %robot.id, "robot secret does not open with the server key");
            Refusal::Busy
        })?;
        security::verify_signature(&secret, call.timestamp, call.sign, state.clock.now_ms())
            .map_err(|e| match e {
                SignatureError::Mismatch => Refusal::SignMismatch,
                SignatureError::Timestamp => Refusal::InvalidTimestamp,
            })?;
    }
    if !robot.may(scope) {
        return Err(Refusal::NoPermission);
    }
    Ok(())
}

/// A group member as `/robot/members` lists them.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RobotMember {
    /// The Tram user id (what `atUserIds` takes).
    pub userid: String,
    pub name: String,
}

/// `GET /robot/members` (a Tram extension): the robot's group's members,
/// for a robot with the `read_members` scope. The same checks as
/// `/robot/send` (token, stopped, allow-list, signature); logged.
pub async fn members(state: &AppState, call: &Call<'_>) -> Result<Vec<RobotMember>, Refusal> {
    const KIND: &str = "read_members";
    let robot = match find_robot(state, call).await {
        Ok(robot) => robot,
        Err(refusal) => {
            log_refusal(state, None, call.ip, Some(KIND), &refusal).await;
            return Err(refusal);
        }
    };
    let result = async {
        authenticate(state, &robot, call, Scope::ReadMembers)?;
        let members = tram_chat::conversations::members(&state.db, &robot.conversation_id)
            .await
            .map_err(chat_refusal)?;
        Ok(members
            .into_iter()
            .map(|m| RobotMember {
                userid: m.user_id,
                name: m.display_name,
            })
            .collect::<Vec<_>>())
    }
    .await;
    // A read counts against the robot's per-minute limit like a post.
    let result = match result {
        Ok(members) => {
            let record = CallRecord {
                robot_id: Some(&robot.id),
                robot_name: Some(&robot.name),
                conversation_id: Some(&robot.conversation_id),
                ip: call.ip,
                msgtype: Some(KIND),
                errcode: 0,
                errmsg: "ok",
                ..CallRecord::default()
            };
            let limit = state.config.bots.rate_limit_per_minute.max(1);
            match calls::admit(state, &record, limit).await {
                Ok(Some(_)) => Ok(members),
                Ok(None) => Err(Refusal::TooFast(limit)),
                Err(err) => {
                    tracing::error!(error = %err, "robot rate limit check failed");
                    Err(Refusal::Busy)
                }
            }
        }
        Err(refusal) => Err(refusal),
    };
    if let Err(refusal) = &result {
        log_refusal(state, Some(&robot), call.ip, Some(KIND), refusal).await;
    }
    result
}

/// A parsed message from a robot that passed its checks (a `/robot/send`
/// call, or a reply through a session webhook): checked whole, counted
/// against the rate limit, logged, posted through chat's send path and
/// announced to the group's open pages. Most go through the group commit
/// (`ingest`); one that quotes a message or carries a client id goes alone.
pub(crate) async fn admit_and_post(
    state: &AppState,
    robot: &StoredRobot,
    post: RobotPost,
    ip: &str,
) -> Result<Message, Refusal> {
    // The message is checked whole before it counts against the limit.
    let card = check_post(&post)?;
    let msgtype = post.msgtype.clone();
    let (author, new) = compose(state, robot, post).await;
    match tram_chat::robot_batch::draft(&state.db, &author, new.clone(), card.clone())
        .await
        .map_err(chat_refusal)?
    {
        Some(draft) => crate::ingest::post(state, robot, draft, ip, &msgtype).await,
        None => {
            let message = post_admitted(state, robot, &author, new, card, ip, &msgtype).await?;
            tram_chat::live::announce_message(state, &message).await;
            Ok(message)
        }
    }
}

/// A drafted call written on its own (its batch failed as a whole), and
/// announced.
pub(crate) async fn admit_alone(
    state: &AppState,
    robot: &StoredRobot,
    draft: tram_chat::robot_batch::RobotDraft,
    ip: &str,
    msgtype: &str,
) -> Result<Message, Refusal> {
    let new = NewMessage {
        kind: draft.kind,
        body: draft.body,
        mentions: draft.mentions,
        mention_all: draft.mention_all,
        robot_mentions: Vec::new(),
        reply_to: None,
        client_id: None,
    };
    let message = post_admitted(state, robot, &draft.author, new, draft.card, ip, msgtype).await?;
    tram_chat::live::announce_message(state, &message).await;
    Ok(message)
}

/// One call's message with its log entry and rate limit in its own
/// transaction.
async fn post_admitted(
    state: &AppState,
    robot: &StoredRobot,
    author: &RobotAuthor,
    new: NewMessage,
    card: Option<tram_chat::cards::Card>,
    ip: &str,
    msgtype: &str,
) -> Result<Message, Refusal> {
    let limit = state.config.bots.rate_limit_per_minute.max(1);
    let admission = Admission {
        call: CallRecord {
            robot_id: Some(&robot.id),
            robot_name: Some(&robot.name),
            conversation_id: Some(&robot.conversation_id),
            ip,
            msgtype: Some(msgtype),
            errcode: 0,
            errmsg: "ok",
            ..CallRecord::default()
        },
        limit,
        over_limit: AtomicBool::new(false),
    };
    match messages::send_as_robot_with(state, author, new, card, Some(&admission)).await {
        Ok(message) => Ok(message),
        Err(_) if admission.over_limit.load(Ordering::Relaxed) => Err(Refusal::TooFast(limit)),
        Err(err) => Err(chat_refusal(err)),
    }
}

/// The call's log entry and its place under the rate limit, written in the
/// transaction that stores its message: an accepted call and its message
/// commit together, and a call over the limit stores nothing.
struct Admission<'a> {
    call: CallRecord<'a>,
    limit: i64,
    over_limit: AtomicBool,
}

impl InStoreTransaction for Admission<'_> {
    fn run<'a>(
        &'a self,
        conn: &'a mut sqlx::AnyConnection,
        message_id: &'a str,
        now: i64,
    ) -> StoreWork<'a> {
        Box::pin(async move {
            match calls::admit_in(conn, &self.call, self.limit, Some(message_id), now).await? {
                Some(_) => Ok(()),
                None => {
                    self.over_limit.store(true, Ordering::Relaxed);
                    Err(ChatError::Declined)
                }
            }
        })
    }
}

/// A parsed message checked whole: its length, and its card (links safe).
pub(crate) fn check_post(post: &RobotPost) -> Result<Option<tram_chat::cards::Card>, Refusal> {
    if post.body.chars().count() > messages::MAX_BODY_CHARS {
        return Err(Refusal::InvalidParam("content".into()));
    }
    match post.card.clone() {
        Some(card) => Ok(Some(card.checked().map_err(chat_refusal)?)),
        None => Ok(None),
    }
}

fn chat_refusal(err: ChatError) -> Refusal {
    match err {
        ChatError::UnsafeLink => Refusal::UnsafeLink,
        ChatError::InvalidCard => Refusal::InvalidParam("card".into()),
        ChatError::InvalidBody => Refusal::InvalidParam("content".into()),
        ChatError::Dissolved | ChatError::NotFound | ChatError::NotAGroup => {
            Refusal::GroupDissolved
        }
        other => {
            tracing::error!(error = %other, "robot message not stored");
            Refusal::Busy
        }
    }
}

/// Posts a checked message as the robot (no rate limit or log of its
/// own: the caller accounts for it).
pub(crate) async fn post_message(
    state: &AppState,
    robot: &StoredRobot,
    post: RobotPost,
    card: Option<tram_chat::cards::Card>,
    in_transaction: Option<&dyn InStoreTransaction>,
) -> Result<Message, Refusal> {
    let (author, new) = compose(state, robot, post).await;
    messages::send_as_robot_with(state, &author, new, card, in_transaction)
        .await
        .map_err(chat_refusal)
}

/// The robot as the author of `post`, and the message: its @mentions
/// resolved to group members and shown by name.
async fn compose(
    state: &AppState,
    robot: &StoredRobot,
    post: RobotPost,
) -> (RobotAuthor, NewMessage) {
    let (mentions, names) =
        resolve_mentions(state, &robot.org_id, &robot.conversation_id, &post.at).await;
    let body = if post.card.is_some() {
        post.body
    } else {
        name_mentions(&post.body, &names)
    };
    let author = RobotAuthor {
        conversation_id: robot.conversation_id.clone(),
        robot_id: robot.id.clone(),
        name: robot.name.clone(),
        avatar_url: robot.avatar_url.clone(),
    };
    let new = NewMessage {
        kind: post.kind,
        body,
        mentions,
        mention_all: post.at.all,
        robot_mentions: Vec::new(),
        reply_to: None,
        client_id: None,
    };
    (author, new)
}

/// A phone number as DingTalk clients write it, in E.164: local Hong Kong
/// numbers (`91234567`), any `+`-prefixed number (`+852-91234567`), and
/// mainland numbers without their country code (`13800000000`).
pub fn mention_phone(raw: &str) -> Option<String> {
    use tram_accounts::contact::parse_mobile;
    if let Ok(e164) = parse_mobile(raw) {
        return Some(e164);
    }
    if raw.trim_start().starts_with('+') {
        return None;
    }
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if digits.len() == 11 && digits.starts_with('1') {
        return parse_mobile(&format!("+86{digits}")).ok();
    }
    // A country code without its `+` (`85291234567`).
    parse_mobile(&format!("+{digits}")).ok()
}

/// The group members an `at` block names: user ids (members of the group)
/// and phone numbers (members of the org, by their E.164 number), with
/// the text each was written as and the name to show instead.
async fn resolve_mentions(
    state: &AppState,
    org_id: &str,
    conversation_id: &str,
    at: &At,
) -> (Vec<String>, Vec<(String, String)>) {
    if at.mobiles.is_empty() && at.user_ids.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let members = tram_chat::conversations::members(&state.db, conversation_id)
        .await
        .unwrap_or_default();
    let mut ids = Vec::new();
    let mut names = Vec::new();
    for user_id in &at.user_ids {
        if let Some(m) = members.iter().find(|m| &m.user_id == user_id) {
            ids.push(m.user_id.clone());
            names.push((user_id.clone(), m.display_name.clone()));
        }
    }
    if !at.mobiles.is_empty() {
        let by_phone: HashMap<String, (String, String)> =
            tram_org::members::list(&state.db, org_id)
                .await
                .unwrap_or_default()
                .into_iter()
                .filter_map(|m| Some((m.phone?, (m.user_id, m.display_name))))
                .collect();
        for raw in &at.mobiles {
            let Some((user_id, name)) = mention_phone(raw).and_then(|p| by_phone.get(&p).cloned())
            else {
                continue;
            };
            if members.iter().any(|m| m.user_id == user_id) {
                ids.push(user_id);
                names.push((raw.trim().to_string(), name));
            }
        }
    }
    (ids, names)
}

/// Shows `@91234567` as `@陳大文` for the numbers and ids that were
/// resolved, as DingTalk does (not inside a longer number).
fn name_mentions(body: &str, names: &[(String, String)]) -> String {
    let mut out = body.to_string();
    for (written, name) in names.iter().filter(|(w, _)| !w.is_empty()) {
        let needle = format!("@{written}");
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(at) = rest.find(&needle) {
            let after = &rest[at + needle.len()..];
            result.push_str(&rest[..at]);
            if after.starts_with(|c: char| c.is_ascii_alphanumeric()) {
                result.push_str(&needle);
            } else {
                result.push('@');
                result.push_str(name);
            }
            rest = after;
        }
        result.push_str(rest);
        out = result;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_as_clients_write_them() {
        assert_eq!(mention_phone("91234567").as_deref(), Some("+85291234567"));
        assert_eq!(
            mention_phone("+852-9123-4567").as_deref(),
            Some("+85291234567")
        );
        assert_eq!(
            mention_phone("85291234567").as_deref(),
            Some("+85291234567")
        );
        assert_eq!(
            mention_phone("13800138000").as_deref(),
            Some("+8613800138000")
        );
        assert_eq!(
            mention_phone("+86-13800138000").as_deref(),
            Some("+8613800138000")
        );
        assert_eq!(mention_phone("hello"), None);
    }

    #[test]
    fn mentions_show_names() {
        let names = vec![("91234567".to_string(), "陳大文".to_string())];
        assert_eq!(
            name_mentions("請 @91234567 確認", &names),
            "請 @陳大文 確認"
        );
        assert_eq!(
            name_mentions("@912345678 @91234567", &names),
            "@912345678 @陳大文"
        );
    }
}
