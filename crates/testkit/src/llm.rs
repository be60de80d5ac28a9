//! `LlmStandIn`: answers `POST /v1/chat/completions` in OpenAI's chat
//! completions wire format. It requires `Authorization: Bearer <key>`
//! (401 with OpenAI's error object otherwise), a JSON body with `model` and
//! a non-empty `messages` array of `{role, content}` (400 otherwise),
//! records every accepted request, and answers a `chat.completion` object
//! whose one choice carries the configured text. It can be told to fail
//! (an HTTP status) or to be slow (to exercise timeouts).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Json;
use serde_json::{json, Value};

use crate::http::LocalServer;

/// A request the stand-in accepted: the model and the messages sent.
#[derive(Debug, Clone)]
pub struct LlmRequest {
    pub model: String,
    /// `(role, content)` in order.
    pub messages: Vec<(String, String)>,
}

pub struct LlmStandIn {
    server: LocalServer,
    state: Arc<StandInState>,
}

struct StandInState {
    api_key: String,
    reply: Mutex<String>,
    fail_with: Mutex<Option<u16>>,
    delay: Mutex<Duration>,
    requests: Mutex<Vec<LlmRequest>>,
}

impl LlmStandIn {
    /// A stand-in accepting `api_key`, answering "OK" until told otherwise.
    pub async fn start(api_key: &str) -> LlmStandIn {
        let state = Arc::new(StandInState {
            api_key: api_key.to_string(),
            reply: Mutex::new("OK".into()),
            fail_with: Mutex::new(None),
            delay: Mutex::new(Duration::ZERO),
            requests: Mutex::new(Vec::new()),
        });
        let router = axum::Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(state.clone());
        LlmStandIn {
            server: LocalServer::start(router).await,
            state,
        }
    }

    /// What to configure as the base URL (`…/v1`).
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.server.base_url())
    }

    /// The text of the next answers.
    pub fn reply_with(&self, text: &str) {
        *self.state.reply.lock().unwrap() = text.to_string();
    }

    /// Answer with this HTTP status (and OpenAI's error object) from now
    /// on; `None` to answer normally again.
    pub fn fail_with(&self, status: Option<u16>) {
        *self.state.fail_with.lock().unwrap() = status;
    }

    /// Wait this long before answering.
    pub fn delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    /// The requests accepted so far.
    pub fn requests(&self) -> Vec<LlmRequest> {
        self.state.requests.lock().unwrap().clone()
    }
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body =
        json!({ "error": { "message": message, "type": kind, "param": null, "code": null } });
    (status, Json(body)).into_response()
}

async fn completions(
    State(state): State<Arc<StandInState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let delay = *state.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(state.api_key.as_str()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "Incorrect API key provided.",
        );
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "We could not parse the JSON body of your request.",
        );
    };
    let model = request["model"].as_str().unwrap_or_default().to_string();
    let messages: Option<Vec<(String, String)>> = request["messages"].as_array().map(|list| {
        list.iter()
            .filter_map(|m| {
                Some((
                    m["role"].as_str()?.to_string(),
                    m["content"].as_str()?.to_string(),
                ))
            })
            .collect()
    });
    let Some(messages) = messages.filter(|m| !m.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "'messages' is a required property",
        );
    };
    if model.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "you must provide a model parameter",
        );
    }
    if let Some(status) = *state.fail_with.lock().unwrap() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return error(
            status,
            "server_error",
            "The server had an error while processing your request.",
        );
    }
    state.requests.lock().unwrap().push(LlmRequest {
        model: model.clone(),
        messages,
    });
    let reply = state.reply.lock().unwrap().clone();
    Json(json!({
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": reply },
            "finish_reason": "stop"
        }],
        "usage": { "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0 }
    }))
    .into_response()
}
