//! Calling an outgoing robot's server. When a member @mentions a custom
//! robot with outgoing settings, the `robot.mention` job enqueues a
//! `robot.outgoing` job (retried with backoff, `bots.outgoing_attempts`
//! from `bots.outgoing_retry_base_ms`), and this POSTs DingTalk's callback
//! JSON to the robot's address with the `timestamp` and `sign` headers
//! (Base64 HMAC-SHA256 keyed by the app secret over
//! `timestamp + "\n" + appSecret`), waiting `bots.outgoing_timeout_ms`.
//!
//! A connection error, a timeout or a non-2xx answer fails the attempt
//! (the job runner tries again later); a 2xx answer whose body is a
//! DingTalk message (`msgtype` text, markdown, actionCard, …) is posted to
//! the group through the webhook's own path. Every attempt is a row of the
//! call log (direction `out`, with its number).

use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tram_chat::conversations;
use tram_chat::messages::{self, InStoreTransaction, Message, StoreWork};
use tram_platform::jobs::{self, Job, JobResult, NewJob, Runner};
use tram_platform::AppState;

use super::session;
use super::settings::{self, StoredOutgoing};
use crate::calls::{self, CallRecord};
use crate::dingtalk::{self, Refusal};
use crate::robots::StoredRobot;
use crate::scopes::Scope;
use crate::security;
use crate::webhook::{self, MAX_BODY_BYTES};

/// The job kind of one callback to a robot's server.
pub const OUTGOING_JOB: &str = "robot.outgoing";

/// What a `robot.outgoing` job carries (no secrets: the session token is
/// made per attempt).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Callback {
    pub robot_id: String,
    pub conversation_id: String,
    /// The message that @mentioned the robot (or the card clicked).
    pub message_id: String,
    /// A click on a callback button of the robot's card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub click: Option<Click>,
}

/// A member's click on a card's callback button.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Click {
    pub index: usize,
    pub value: String,
    pub user_id: String,
    pub at: i64,
}

pub fn register(runner: Runner) -> Runner {
    runner.handle(OUTGOING_JOB, handle)
}

/// Enqueues the callback for a mention, if the robot has outgoing settings
/// (once per message and robot, whoever asks twice).
pub(crate) async fn enqueue_mention(
    state: &AppState,
    robot: &StoredRobot,
    message_id: &str,
) -> Result<(), String> {
    let outgoing = settings::stored(&state.db, &robot.id)
        .await
        .map_err(|e| e.to_string())?;
    if outgoing.is_none() {
        return Ok(());
    }
    // Without `receive`, the robot is not told about mentions.
    if !robot.may(Scope::Receive) {
        tracing::debug!(robot = %robot.id, "mention of a robot without the receive scope");
        return Ok(());
    }
    let bots = &state.config.bots;
    let payload = Callback {
        robot_id: robot.id.clone(),
        conversation_id: robot.conversation_id.clone(),
        message_id: message_id.to_string(),
        click: None,
    };
    let job = NewJob::new(
        OUTGOING_JOB,
        format!("{OUTGOING_JOB}:mention:{message_id}:{}", robot.id),
        serde_json::to_value(&payload).expect("callback serialises"),
        state.clock.now_ms(),
    )
    .retried(bots.outgoing_attempts, bots.outgoing_retry_base_ms);
    jobs::enqueue(&state.db, &job, state.clock.now_ms())
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Enqueues the callback for a click on a card's callback button (each
/// click is its own job).
pub(crate) async fn enqueue_click(
    state: &AppState,
    robot: &StoredRobot,
    card: &Message,
    index: usize,
    value: &str,
    user_id: &str,
) -> Result<(), sqlx::Error> {
    let bots = &state.config.bots;
    let now = state.clock.now_ms();
    let payload = Callback {
        robot_id: robot.id.clone(),
        conversation_id: robot.conversation_id.clone(),
        message_id: card.id.clone(),
        click: Some(Click {
            index,
            value: value.to_string(),
            user_id: user_id.to_string(),
            at: now,
        }),
    };
    let job = NewJob::new(
        OUTGOING_JOB,
        format!(
            "{OUTGOING_JOB}:button:{}:{index}:{}",
            card.id,
            tram_platform::db::new_id()
        ),
        serde_json::to_value(&payload).expect("callback serialises"),
        now,
    )
    .retried(bots.outgoing_attempts, bots.outgoing_retry_base_ms);
    jobs::enqueue(&state.db, &job, now).await?;
    Ok(())
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            // A callback address is where the admin said; no detours.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("an HTTP client with rustls")
    })
}

async fn handle(state: AppState, job: Job) -> JobResult {
    let callback: Callback = serde_json::from_value(job.payload.clone())
        .map_err(|e| format!("unreadable callback job: {e}"))?;
    let robot = crate::robots::by_id(&state.db, &callback.robot_id)
        .await
        .map_err(|e| e.to_string())?;
    // Removed, stopped or moved since: nothing to do.
    let Some(robot) = robot.filter(|r| {
        r.enabled && r.conversation_id == callback.conversation_id && r.may(Scope::Receive)
    }) else {
        return Ok(());
    };
    let Some(outgoing) = settings::stored(&state.db, &robot.id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    let message = match messages::get(&state.db, &robot.conversation_id, &callback.message_id).await
    {
        Ok(message) if !message.recalled => message,
        // Recalled or gone: the robot is not told about it.
        Ok(_) | Err(tram_chat::error::ChatError::NotFound) => return Ok(()),
        Err(err) => return Err(err.to_string()),
    };
    let body = match &callback.click {
        Some(click) => click_payload(&state, &robot, &message, click).await?,
        None => mention_payload(&state, &robot, &message).await?,
    };
    call(&state, &robot, &outgoing, &body, job.attempt).await
}

/// DingTalk's callback JSON for a member's message that @mentions the
/// robot, with a fresh session webhook.
async fn mention_payload(
    state: &AppState,
    robot: &StoredRobot,
    message: &Message,
) -> Result<Value, String> {
    let sender_id = message.sender_id.clone().unwrap_or_default();
    let sender =
        conversations::participant(&state.db, &robot.org_id, &robot.conversation_id, &sender_id)
            .await
            .ok();
    let title = match &sender {
        Some(p) => conversations::summary(&state.db, p)
            .await
            .map(|s| s.title)
            .unwrap_or_default(),
        None => String::new(),
    };
    let session = session::open(state, robot, &message.id)
        .await
        .map_err(|e| e.to_string())?;
    let mut at_users = vec![json!({ "dingtalkId": robot.id })];
    at_users.extend(
        message
            .mentions
            .iter()
            .map(|id| json!({ "dingtalkId": id, "staffId": id })),
    );
    Ok(json!({
        "msgtype": "text",
        "text": { "content": without_mention(&message.body, &robot.name) },
        "msgId": message.id,
        "createAt": message.created_at,
        "conversationType": "2",
        "conversationId": robot.conversation_id,
        "conversationTitle": title,
        "senderId": sender_id,
        "senderNick": message.sender_name.clone().unwrap_or_default(),
        "senderStaffId": sender_id,
        "senderCorpId": robot.org_id,
        "chatbotCorpId": robot.org_id,
        "chatbotUserId": robot.id,
        "robotCode": robot.id,
        "atUsers": at_users,
        "isAdmin": sender.as_ref().is_some_and(|p| p.role.is_admin()),
        "isInAtList": true,
        "sessionWebhook": session::webhook_url(state, &session.token),
        "sessionWebhookExpiredTime": session.expires_at,
    }))
}

/// The callback for a click on a card's callback button: DingTalk's
/// callback fields where they apply (conversation, sender, robot, session
/// webhook), `msgtype` `actionCallback` with the button's `value`, its
/// `buttonIndex` and `buttonTitle`, and the card's id as `msgId` and
/// `outTrackId` (a Tram extension; docs/robots.md).
async fn click_payload(
    state: &AppState,
    robot: &StoredRobot,
    card: &Message,
    click: &Click,
) -> Result<Value, String> {
    let member = conversations::participant(
        &state.db,
        &robot.org_id,
        &robot.conversation_id,
        &click.user_id,
    )
    .await
    .ok();
    let (title, nick) = match &member {
        Some(p) => {
            let title = conversations::summary(&state.db, p)
                .await
                .map(|s| s.title)
                .unwrap_or_default();
            let nick = conversations::members(&state.db, &robot.conversation_id)
                .await
                .unwrap_or_default()
                .into_iter()
                .find(|m| m.user_id == click.user_id)
                .map(|m| m.display_name)
                .unwrap_or_default();
            (title, nick)
        }
        None => (String::new(), String::new()),
    };
    let button_title = match &card.card {
        Some(tram_chat::cards::Card::Action { buttons, .. }) => buttons
            .get(click.index)
            .map(|b| b.title.clone())
            .unwrap_or_default(),
        _ => String::new(),
    };
    let session = session::open(state, robot, &card.id)
        .await
        .map_err(|e| e.to_string())?;
    Ok(json!({
        "msgtype": "actionCallback",
        "actionCallback": {
            "value": click.value,
            "buttonIndex": click.index,
            "buttonTitle": button_title,
        },
        "msgId": card.id,
        "outTrackId": card.id,
        "createAt": click.at,
        "conversationType": "2",
        "conversationId": robot.conversation_id,
        "conversationTitle": title,
        "senderId": click.user_id,
        "senderStaffId": click.user_id,
        "senderNick": nick,
        "senderCorpId": robot.org_id,
        "chatbotCorpId": robot.org_id,
        "chatbotUserId": robot.id,
        "robotCode": robot.id,
        "isAdmin": member.as_ref().is_some_and(|p| p.role.is_admin()),
        "sessionWebhook": session::webhook_url(state, &session.token),
        "sessionWebhookExpiredTime": session.expires_at,
    }))
}

/// The message's text without the robot's `@name`, as DingTalk gives it
/// (the space after the name stays: DingTalk sends `" 你好"`).
pub fn without_mention(body: &str, robot_name: &str) -> String {
    body.replace(&format!("@{robot_name}"), "")
}

/// One attempt at POSTing `body` to the robot's server, logged; a reply in
/// the answer is posted to the group.
pub(crate) async fn call(
    state: &AppState,
    robot: &StoredRobot,
    outgoing: &StoredOutgoing,
    body: &Value,
    attempt: i64,
) -> JobResult {
    let secret = state
        .keys
        .open(&outgoing.app_secret_sealed)
        .and_then(|s| String::from_utf8(s).ok())
        .ok_or_else(|| "the app secret does not open with the server key".to_string())?;
    let timestamp = state.clock.now_ms().to_string();
    let sign = security::signature(&secret, &timestamp);
    let timeout = Duration::from_millis(state.config.bots.outgoing_timeout_ms.max(1));
    let sent = client()
        .post(&outgoing.callback_url)
        .header("timestamp", &timestamp)
        .header("sign", &sign)
        .json(body)
        .timeout(timeout)
        .send()
        .await;
    let outcome = match sent {
        Ok(response) if response.status().is_success() => match response.bytes().await {
            Ok(bytes) => Ok(bytes),
            Err(err) => Err(describe(&err)),
        },
        Ok(response) => Err(format!("HTTP {}", response.status().as_u16())),
        Err(err) => Err(describe(&err)),
    };
    let host = url::Url::parse(&outgoing.callback_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let msgtype = body.get("msgtype").and_then(Value::as_str);
    let errmsg = match &outcome {
        Ok(_) => "ok".to_string(),
        Err(reason) => reason.clone(),
    };
    let record = CallRecord {
        robot_id: Some(&robot.id),
        robot_name: Some(&robot.name),
        conversation_id: Some(&robot.conversation_id),
        ip: &host,
        msgtype,
        errcode: if outcome.is_ok() { 0 } else { -1 },
        errmsg: &errmsg,
        outgoing: true,
        attempt: Some(attempt),
    };
    let call_id = calls::record(state, &record)
        .await
        .map_err(|e| e.to_string())?;
    let bytes = outcome?;
    if let Err(refusal) = post_reply(state, robot, &bytes, &call_id).await {
        // The server answered: its reply was unusable, which retrying
        // would not change.
        let errmsg = format!("reply refused: {}", refusal.errmsg());
        if let Err(err) = calls::finish(&state.db, &call_id, None, refusal.errcode(), &errmsg).await
        {
            tracing::warn!(error = %err, "could not complete a robot call's log entry");
        }
    }
    Ok(())
}

fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".into()
    } else if err.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}

/// Posts the message in a callback's answer, if there is one (an empty
/// body or JSON without `msgtype` means "no reply").
async fn post_reply(
    state: &AppState,
    robot: &StoredRobot,
    bytes: &[u8],
    call_id: &str,
) -> Result<(), Refusal> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Refusal::InvalidParam("json".into()));
    }
    let has_message = serde_json::from_slice::<Value>(bytes)
        .ok()
        .as_ref()
        .and_then(dingtalk::msgtype_of)
        .is_some();
    if !has_message {
        return Ok(());
    }
    let post = dingtalk::parse(bytes)?;
    let card = webhook::check_post(&post)?;
    // The call's log entry names the message in the message's own
    // transaction: whoever sees the answer sees the completed entry.
    let finish = FinishCall { call_id };
    let message = webhook::post_message(state, robot, post, card, Some(&finish)).await?;
    tram_chat::live::announce_message(state, &message).await;
    Ok(())
}

/// Completes an outgoing call's log entry with the message its answer
/// posted.
struct FinishCall<'a> {
    call_id: &'a str,
}

impl InStoreTransaction for FinishCall<'_> {
    fn run<'a>(
        &'a self,
        conn: &'a mut sqlx::AnyConnection,
        message_id: &'a str,
        _now: i64,
    ) -> StoreWork<'a> {
        Box::pin(async move {
            calls::finish_in(conn, self.call_id, Some(message_id), 0, "ok").await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_robot_name_leaves_the_text() {
        assert_eq!(
            without_mention("@報表機器人 上季營收", "報表機器人"),
            " 上季營收"
        );
        assert_eq!(without_mention("請 @Bot 幫忙", "Bot"), "請  幫忙");
    }
}
