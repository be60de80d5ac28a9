//! `TwilioStandIn`: answers `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`
//! the way Twilio's Programmable Messaging API documents it: HTTP Basic auth
//! with the Account SID and Auth Token, a form body with `To`, `From` and
//! `Body`, `201 Created` with the Message resource as JSON, and errors as
//! `{code, message, more_info, status}` with Twilio's error codes.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde_json::json;

use crate::http::LocalServer;

/// A message the stand-in accepted.
#[derive(Debug, Clone)]
pub struct TwilioMessage {
    /// The `SM…` id it answered with.
    pub sid: String,
    pub to: String,
    pub from: String,
    pub body: String,
}

pub struct TwilioStandIn {
    server: LocalServer,
    state: Arc<StandInState>,
}

struct StandInState {
    account_sid: String,
    auth_token: String,
    messages: Mutex<Vec<TwilioMessage>>,
    fail_next: Mutex<Option<TwilioError>>,
}

#[derive(Debug, Clone)]
struct TwilioError {
    status: u16,
    code: u32,
    message: String,
}

impl TwilioStandIn {
    /// A stand-in for the account `account_sid` whose Auth Token is `auth_token`.
    pub async fn start(account_sid: &str, auth_token: &str) -> TwilioStandIn {
        let state = Arc::new(StandInState {
            account_sid: account_sid.to_string(),
            auth_token: auth_token.to_string(),
            messages: Mutex::new(Vec::new()),
            fail_next: Mutex::new(None),
        });
        let router = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        TwilioStandIn {
            server: LocalServer::start(router).await,
            state,
        }
    }

    /// Where a client aims instead of `https://api.twilio.com`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Messages accepted so far, oldest first.
    pub fn messages(&self) -> Vec<TwilioMessage> {
        self.state.messages.lock().expect("stand-in lock").clone()
    }

    /// The next request, whatever it holds, is answered with this Twilio
    /// error (e.g. `429, 20429, "Too Many Requests"`).
    pub fn fail_next(&self, status: u16, code: u32, message: &str) {
        *self.state.fail_next.lock().expect("stand-in lock") = Some(TwilioError {
            status,
            code,
            message: message.to_string(),
        });
    }
}

async fn handle(
    State(state): State<Arc<StandInState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(failure) = state.fail_next.lock().expect("stand-in lock").take() {
        return error(failure.status, failure.code, &failure.message);
    }
    let path = uri.path();
    let Some(path_sid) = path
        .strip_prefix("/2010-04-01/Accounts/")
        .and_then(|rest| rest.strip_suffix("/Messages.json"))
        .filter(|sid| !sid.contains('/'))
    else {
        return error(
            404,
            20404,
            &format!("The requested resource {path} was not found"),
        );
    };
    if method != Method::POST {
        return error(405, 20004, "Method not allowed");
    }
    // Credentials of one account do not open another account's resources.
    let authenticated = basic_credentials(&headers).is_some_and(|(sid, token)| {
        sid == state.account_sid && token == state.auth_token && path_sid == state.account_sid
    });
    if !authenticated {
        let mut response = error(401, 20003, "Authenticate");
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"Twilio API\""),
        );
        return response;
    }

    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    // Twilio reads parameters only from a form body; anything else counts
    // as no parameters at all.
    let params: Vec<(String, String)> = if is_form {
        serde_urlencoded::from_bytes(&body).unwrap_or_default()
    } else {
        Vec::new()
    };
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .filter(|value| !value.is_empty())
    };

    let Some(to) = param("To") else {
        return error(400, 21604, "A 'To' phone number is required.");
    };
    if !is_e164(&to) {
        return error(400, 21211, &format!("Invalid 'To' Phone Number: {to}"));
    }
    let Some(from) = param("From") else {
        return error(
            400,
            21603,
            "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
        );
    };
    if !is_e164(&from) && !is_alphanumeric_sender(&from) {
        return error(
            400,
            21212,
            &format!("The 'From' number {from} is not a valid phone number, shortcode, or alphanumeric sender ID."),
        );
    }
    let Some(text) = param("Body") else {
        return error(400, 21602, "Message body is required.");
    };
    if text.chars().count() > 1600 {
        return error(
            400,
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        );
    }

    let sid = format!("SM{:032x}", rand::random::<u128>());
    let now = chrono::Utc::now().to_rfc2822();
    let resource = json!({
        "account_sid": state.account_sid,
        "api_version": "2010-04-01",
        "body": text,
        "date_created": now,
        "date_sent": null,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": from,
        "messaging_service_sid": null,
        "num_media": "0",
        "num_segments": "1",
        "price": null,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {
            "media": format!("/2010-04-01/Accounts/{}/Messages/{sid}/Media.json", state.account_sid),
        },
        "to": to,
        "uri": format!("/2010-04-01/Accounts/{}/Messages/{sid}.json", state.account_sid),
    });
    state
        .messages
        .lock()
        .expect("stand-in lock")
        .push(TwilioMessage {
            sid,
            to,
            from,
            body: text,
        });
    (StatusCode::CREATED, Json(resource)).into_response()
}

/// `(username, password)` from an `Authorization: Basic …` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("Basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// `+` then up to 15 digits, the first not 0 (ITU-T E.164).
fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

/// Up to 11 letters, digits and spaces with at least one letter.
fn is_alphanumeric_sender(sender: &str) -> bool {
    (1..=11).contains(&sender.len())
        && sender
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b' ')
        && sender.bytes().any(|b| b.is_ascii_alphabetic())
}

fn error(status: u16, code: u32, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16(),
    });
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "AC0123456789abcdef0123456789abcdef";

    async fn post(
        stand_in: &TwilioStandIn,
        sid: &str,
        token: &str,
        form: &[(&str, &str)],
    ) -> (u16, serde_json::Value) {
        let response = reqwest::Client::new()
            .post(format!(
                "{}/2010-04-01/Accounts/{sid}/Messages.json",
                stand_in.base_url()
            ))
            .basic_auth(sid, Some(token))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    #[tokio::test]
    async fn accepts_a_valid_message_and_records_it() {
        let twilio = TwilioStandIn::start(SID, "token").await;
        let (status, body) = post(
            &twilio,
            SID,
            "token",
            &[
                ("To", "+85291234567"),
                ("From", "+15005550006"),
                ("Body", "碼 123456"),
            ],
        )
        .await;
        assert_eq!(status, 201);
        assert_eq!(body["status"], "queued");
        assert!(body["sid"].as_str().unwrap().starts_with("SM"));
        let kept = twilio.messages();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].body, "碼 123456");
        assert_eq!(kept[0].sid, body["sid"].as_str().unwrap());
    }

    #[tokio::test]
    async fn answers_with_twilio_error_codes() {
        let twilio = TwilioStandIn::start(SID, "token").await;
        let (status, body) = post(&twilio, SID, "wrong", &[]).await;
        assert_eq!((status, body["code"].as_u64()), (401, Some(20003)));
        assert_eq!(
            body["more_info"],
            "https://www.twilio.com/docs/errors/20003"
        );

        let (status, body) = post(&twilio, SID, "token", &[("Body", "x")]).await;
        assert_eq!((status, body["code"].as_u64()), (400, Some(21604)));

        let (_, body) = post(
            &twilio,
            SID,
            "token",
            &[("To", "91234567"), ("From", "+15005550006"), ("Body", "x")],
        )
        .await;
        assert_eq!(body["code"].as_u64(), Some(21211));

        let (_, body) = post(
            &twilio,
            SID,
            "token",
            &[("To", "+85291234567"), ("From", "+15005550006")],
        )
        .await;
        assert_eq!(body["code"].as_u64(), Some(21602));

        twilio.fail_next(429, 20429, "Too Many Requests");
        let (status, body) = post(
            &twilio,
            SID,
            "token",
            &[("To", "+85291234567"), ("From", "Tram"), ("Body", "x")],
        )
        .await;
        assert_eq!((status, body["code"].as_u64()), (429, Some(20429)));
        assert!(twilio.messages().is_empty());
    }
}
