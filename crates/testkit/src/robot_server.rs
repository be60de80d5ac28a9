//! `RobotServer`: a developer's server behind a DingTalk outgoing robot.
//! It takes the callbacks Tram POSTs, keeps each one, checks its `sign`
//! header on its own (Base64 of HMAC-SHA256 keyed by the app secret over
//! `timestamp + "\n" + appSecret`, as DingTalk documents it for outgoing
//! robots), and answers as the test configured it: a DingTalk message in
//! the body, an empty 200, an error status, or slowly.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::http::LocalServer;

/// One callback as it arrived.
#[derive(Debug, Clone)]
pub struct RobotRequest {
    pub path: String,
    pub timestamp: Option<String>,
    pub sign: Option<String>,
    /// The `sign` header is right for the app secret the test set.
    pub sign_ok: bool,
    pub content_type: Option<String>,
    pub body: Value,
}

/// How the stand-in answers a callback.
#[derive(Debug, Clone)]
pub enum RobotReply {
    /// 200 with this JSON (a DingTalk message, or anything else).
    Json(Value),
    /// 200 with an empty body: no reply.
    Empty,
    /// This status and an empty body.
    Status(u16),
    /// Waits this long, then answers 200 with an empty body.
    Slow(Duration),
}

struct Shared {
    secret: Mutex<Option<String>>,
    requests: Mutex<Vec<RobotRequest>>,
    queued: Mutex<VecDeque<RobotReply>>,
    default: Mutex<RobotReply>,
}

pub struct RobotServer {
    server: LocalServer,
    shared: Arc<Shared>,
}

impl RobotServer {
    /// A stand-in that answers every callback with an empty 200.
    pub async fn start() -> RobotServer {
        let shared = Arc::new(Shared {
            secret: Mutex::new(None),
            requests: Mutex::new(Vec::new()),
            queued: Mutex::new(VecDeque::new()),
            default: Mutex::new(RobotReply::Empty),
        });
        let router = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        RobotServer {
            server: LocalServer::start(router).await,
            shared,
        }
    }

    /// The address to give Tram as the robot's callback.
    pub fn callback_url(&self) -> String {
        format!("{}/dingtalk/callback", self.server.base_url())
    }

    /// The app secret Tram issued (signatures are checked against it).
    pub fn set_secret(&self, secret: &str) {
        *self.shared.secret.lock().expect("stand-in lock") = Some(secret.to_string());
    }

    /// Answers every later callback this way (after any queued answers).
    pub fn reply_always(&self, reply: RobotReply) {
        *self.shared.default.lock().expect("stand-in lock") = reply;
    }

    /// Answers the next callback this way (queued in order).
    pub fn reply_next(&self, reply: RobotReply) {
        self.shared
            .queued
            .lock()
            .expect("stand-in lock")
            .push_back(reply);
    }

    /// Callbacks received so far, oldest first.
    pub fn requests(&self) -> Vec<RobotRequest> {
        self.shared.requests.lock().expect("stand-in lock").clone()
    }

    /// Waits until `n` callbacks arrived (or `within` passed) and returns
    /// them.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<RobotRequest> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let requests = self.requests();
            if requests.len() >= n || tokio::time::Instant::now() >= deadline {
                return requests;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// DingTalk's outgoing signature, computed here independently of Tram.
pub fn outgoing_sign(secret: &str, timestamp: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{timestamp}\n{secret}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let timestamp = header(&headers, "timestamp");
    let sign = header(&headers, "sign");
    let secret = shared.secret.lock().expect("stand-in lock").clone();
    let sign_ok = match (&secret, &timestamp, &sign) {
        (Some(secret), Some(ts), Some(sign)) => outgoing_sign(secret, ts) == *sign,
        _ => false,
    };
    shared
        .requests
        .lock()
        .expect("stand-in lock")
        .push(RobotRequest {
            path: uri.path().to_string(),
            timestamp,
            sign,
            sign_ok,
            content_type: header(&headers, "content-type"),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
    let reply = shared
        .queued
        .lock()
        .expect("stand-in lock")
        .pop_front()
        .unwrap_or_else(|| shared.default.lock().expect("stand-in lock").clone());
    match reply {
        RobotReply::Json(value) => axum::Json(value).into_response(),
        RobotReply::Empty => StatusCode::OK.into_response(),
        RobotReply::Status(code) => StatusCode::from_u16(code)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
        RobotReply::Slow(wait) => {
            tokio::time::sleep(wait).await;
            StatusCode::OK.into_response()
        }
    }
}
