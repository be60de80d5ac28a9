//! `/robot/send`: DingTalk's custom-robot endpoint. No session and no CSRF
//! token (the server exempts the path): the access token in the query is
//! the credential. Every answer is HTTP 200 with DingTalk's
//! `{"errcode":…,"errmsg":…}`, as DingTalk answers.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use tram_platform::web::ClientInfo;
use tram_platform::AppState;
use utoipa::ToSchema;

use crate::dingtalk::Refusal;
use crate::outgoing::session::{self, SessionCall};
use crate::webhook::{self, Call, MAX_BODY_BYTES};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/robot/send", post(send).get(not_post))
        .route("/robot/sendBySession", post(send_by_session).get(not_post))
        .route("/robot/members", get(members))
}

/// DingTalk's answer: 0 and "ok", or a code and its reason.
#[derive(Debug, Serialize, ToSchema)]
pub struct DingTalkAnswer {
    pub errcode: i64,
    pub errmsg: String,
}

fn answer(result: Result<(), Refusal>) -> Json<DingTalkAnswer> {
    match result {
        Ok(()) => Json(DingTalkAnswer {
            errcode: 0,
            errmsg: "ok".into(),
        }),
        Err(refusal) => Json(DingTalkAnswer {
            errcode: refusal.errcode(),
            errmsg: refusal.errmsg(),
        }),
    }
}

/// The query parameters, percent-decoded (`+` is a space, as in forms:
/// DingTalk's clients encode the signature with `quote_plus`).
fn params(query: Option<&str>) -> Vec<(String, String)> {
    query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Post a message to a group as its robot (DingTalk-compatible).
///
/// The body is DingTalk's custom-robot JSON: `msgtype` `text`, `markdown`,
/// `link`, `actionCard` (one button: `singleTitle`/`singleURL`; several:
/// `btns` with `btnOrientation`) or `feedCard` (`links`), with an optional
/// `at` (`atMobiles`, `atUserIds`, `isAtAll`). With signing on, add
/// `timestamp` (ms) and `sign` = URL-encoded Base64 of HMAC-SHA256, keyed
/// by the secret, of `timestamp + "\n" + secret`. The answer is always
/// HTTP 200; `errcode` 0 means accepted (docs/robots.md lists the others).
#[utoipa::path(post, path = "/robot/send", tag = "robots",
    params(("access_token" = String, Query, description = "The robot's token, from its webhook address"),
           ("timestamp" = Option<String>, Query, description = "Unix milliseconds (signing)"),
           ("sign" = Option<String>, Query, description = "The signature (signing)")),
    request_body(content = Object, content_type = "application/json", description = "DingTalk robot message"),
    responses((status = 200, body = DingTalkAnswer)))]
pub async fn send(
    State(state): State<AppState>,
    client: ClientInfo,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Json<DingTalkAnswer> {
    let params = params(query.as_deref());
    if body.len() > MAX_BODY_BYTES {
        return answer(Err(Refusal::MissingParam("json".into())));
    }
    let call = Call {
        access_token: param(&params, "access_token"),
        timestamp: param(&params, "timestamp"),
        sign: param(&params, "sign"),
        ip: &client.ip,
        body: &body,
    };
    // Posted and announced, or refused (and logged).
    answer(webhook::receive(&state, &call).await.map(|_| ()))
}

/// DingTalk answers a GET with 43002 "需要POST请求".
async fn not_post() -> Json<DingTalkAnswer> {
    answer(Err(Refusal::NotPost))
}

/// Answer an outgoing robot's callback in the group (DingTalk-compatible
/// `sessionWebhook`).
///
/// The address comes in each callback's `sessionWebhook` and works until
/// its `sessionWebhookExpiredTime` (90 minutes). The body is the same
/// message JSON as `/robot/send`'s. An unknown or expired session is
/// refused with 300001 "session 不存在".
#[utoipa::path(post, path = "/robot/sendBySession", tag = "robots",
    params(("session" = String, Query, description = "The session token, from the callback's sessionWebhook")),
    request_body(content = Object, content_type = "application/json", description = "DingTalk robot message"),
    responses((status = 200, body = DingTalkAnswer)))]
pub async fn send_by_session(
    State(state): State<AppState>,
    client: ClientInfo,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Json<DingTalkAnswer> {
    let params = params(query.as_deref());
    if body.len() > MAX_BODY_BYTES {
        return answer(Err(Refusal::MissingParam("json".into())));
    }
    let call = SessionCall {
        session: param(&params, "session"),
        ip: &client.ip,
        body: &body,
    };
    answer(session::receive(&state, &call).await.map(|_| ()))
}

/// The members of a robot's group (Tram extension).
#[derive(Debug, Serialize, ToSchema)]
pub struct MembersAnswer {
    pub errcode: i64,
    pub errmsg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<webhook::RobotMember>>,
}

/// List the members of the robot's group (Tram extension; scope
/// `read_members`).
///
/// Authenticated like `/robot/send`: `access_token`, and with signing on
/// `timestamp` and `sign`. Answers HTTP 200 with `errcode` 0 and
/// `members` (`userid`, `name`), or DingTalk's codes (60011 without the
/// scope).
#[utoipa::path(get, path = "/robot/members", tag = "robots",
    params(("access_token" = String, Query, description = "The robot's token"),
           ("timestamp" = Option<String>, Query, description = "Unix milliseconds (signing)"),
           ("sign" = Option<String>, Query, description = "The signature (signing)")),
    responses((status = 200, body = MembersAnswer)))]
pub async fn members(
    State(state): State<AppState>,
    client: ClientInfo,
    RawQuery(query): RawQuery,
) -> Json<MembersAnswer> {
    let params = params(query.as_deref());
    let call = Call {
        access_token: param(&params, "access_token"),
        timestamp: param(&params, "timestamp"),
        sign: param(&params, "sign"),
        ip: &client.ip,
        body: &[],
    };
    match webhook::members(&state, &call).await {
        Ok(members) => Json(MembersAnswer {
            errcode: 0,
            errmsg: "ok".into(),
            members: Some(members),
        }),
        Err(refusal) => Json(MembersAnswer {
            errcode: refusal.errcode(),
            errmsg: refusal.errmsg(),
            members: None,
        }),
    }
}
