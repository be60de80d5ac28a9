//! Session webhooks: each callback carries a `sessionWebhook`, a Tram
//! address `/robot/sendBySession?session=<token>` through which the
//! robot's server may answer in the group until `sessionWebhookExpiredTime`
//! (90 minutes after the callback, as DingTalk's own). The token is random,
//! kept only as its SHA-256, and bound to its robot and group; an unknown
//! or expired one is refused with DingTalk's 300001 "session 不存在".

use sqlx::Row;
use tram_chat::messages::Message;
use tram_platform::crypto::hash_token;
use tram_platform::AppState;

use crate::dingtalk::{self, Refusal};
use crate::robots::{self, StoredRobot};
use crate::scopes::Scope;
use crate::security;
use crate::webhook;

/// How long a session webhook works (DingTalk's: 90 minutes).
pub const SESSION_VALID_MS: i64 = 90 * 60_000;

/// A session just opened: the token (for the address) and its end.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub expires_at: i64,
}

/// Opens a session for a robot's reply about `message_id`.
pub(crate) async fn open(
    state: &AppState,
    robot: &StoredRobot,
    message_id: &str,
) -> Result<Session, sqlx::Error> {
    let token = security::new_access_token();
    let now = state.clock.now_ms();
    let expires_at = now + SESSION_VALID_MS;
    sqlx::query(
        "INSERT INTO robot_sessions (token_hash, robot_id, conversation_id, message_id, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(hash_token(&token))
    .bind(&robot.id)
    .bind(&robot.conversation_id)
    .bind(message_id)
    .bind(expires_at)
    .bind(now)
    .execute(state.db.write())
    .await?;
    // Expired sessions are of no use to anyone: drop them as we go.
    sqlx::query("DELETE FROM robot_sessions WHERE expires_at < $1")
        .bind(now - SESSION_VALID_MS)
        .execute(state.db.write())
        .await?;
    Ok(Session { token, expires_at })
}

/// The address a robot's server POSTs its reply to.
pub fn webhook_url(state: &AppState, token: &str) -> String {
    format!(
        "{}/robot/sendBySession?session={token}",
        state.config.public_url()
    )
}

/// One POST to `/robot/sendBySession`.
pub struct SessionCall<'a> {
    pub session: Option<&'a str>,
    pub ip: &'a str,
    pub body: &'a [u8],
}

/// Posts a reply through a session webhook; every call is logged.
pub async fn receive(state: &AppState, call: &SessionCall<'_>) -> Result<Message, Refusal> {
    let (robot, expires_at) = match find(state, call.session).await {
        Ok(found) => found,
        Err(refusal) => {
            let msgtype = msgtype(call.body);
            webhook::log_refusal(state, None, call.ip, msgtype.as_deref(), &refusal).await;
            return Err(refusal);
        }
    };
    let result = async {
        // An expired session is refused like an unknown one, but its
        // refusal shows in the robot's group's log.
        if expires_at <= state.clock.now_ms() {
            return Err(Refusal::SessionExpired);
        }
        if !robot.enabled {
            return Err(Refusal::RobotStopped);
        }
        if !robot.may(Scope::Post) {
            return Err(Refusal::NoPermission);
        }
        let post = dingtalk::parse(call.body)?;
        webhook::admit_and_post(state, &robot, post, call.ip).await
    }
    .await;
    if let Err(refusal) = &result {
        let msgtype = msgtype(call.body);
        webhook::log_refusal(state, Some(&robot), call.ip, msgtype.as_deref(), refusal).await;
    }
    result
}

fn msgtype(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .as_ref()
        .and_then(dingtalk::msgtype_of)
}

/// The robot of a session and when the session ends.
async fn find(state: &AppState, session: Option<&str>) -> Result<(StoredRobot, i64), Refusal> {
    let token = session
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Refusal::MissingParam("session".into()))?;
    let busy = |err: &dyn std::fmt::Display| {
        tracing::error!(error = %err, "robot session lookup failed");
        Refusal::Busy
    };
    let row = sqlx::query(
        "SELECT robot_id, conversation_id, expires_at FROM robot_sessions WHERE token_hash = $1",
    )
    .bind(hash_token(token))
    .fetch_optional(state.db.read())
    .await
    .map_err(|e| busy(&e))?
    .ok_or(Refusal::SessionExpired)?;
    let robot_id: String = row.try_get("robot_id").map_err(|e| busy(&e))?;
    let conversation_id: String = row.try_get("conversation_id").map_err(|e| busy(&e))?;
    let expires_at: i64 = row.try_get("expires_at").map_err(|e| busy(&e))?;
    let robot = robots::by_id(&state.db, &robot_id)
        .await
        .map_err(|e| busy(&e))?
        // A robot moved to another group does not answer in the old one.
        .filter(|r| r.conversation_id == conversation_id)
        .ok_or(Refusal::SessionExpired)?;
    Ok((robot, expires_at))
}
