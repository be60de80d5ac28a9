//! Everything that can go wrong when a group admin manages robots, and its
//! one mapping to HTTP. (Calls to the webhook itself answer in DingTalk's
//! shape instead: `dingtalk::Refusal`.)

use axum::http::StatusCode;
use tram_chat::error::ChatError;
use tram_platform::{ApiError, Msg};

#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error("robot name missing or too long")]
    InvalidName,
    #[error("the avatar is not an http(s) address")]
    InvalidAvatar,
    #[error("too many keywords, or one too long")]
    InvalidKeywords,
    #[error("not an IP address or CIDR range: {0}")]
    InvalidIpRule(String),
    #[error("a robot needs at least one security setting")]
    NoSecurity,
    #[error("no such robot in this group")]
    NotFound,
    #[error("a date is not YYYY-MM-DD, or a code not a number")]
    InvalidFilter,
    #[error("the callback address is not an http(s) address")]
    InvalidCallbackUrl,
    #[error("only custom robots can receive @mentions")]
    NotCustom,
    #[error("the robot has no outgoing settings")]
    NoOutgoing,
    #[error("not a scope: {0}")]
    InvalidScope(String),
    #[error("button {0} is not valid")]
    InvalidButton(usize),
    #[error("button {0} needs the robot's {1} scope")]
    ButtonNeedsScope(usize, &'static str),
    #[error("the robot is stopped or may not post")]
    CannotPost,
    #[error("not a button that calls the robot back")]
    NotAButton,
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<BotError> for ApiError {
    fn from(err: BotError) -> ApiError {
        use BotError::*;
        let e = |status, code, key| ApiError::new(status, code, Msg::new(key));
        match err {
            InvalidName => e(
                StatusCode::BAD_REQUEST,
                "invalid_name",
                "bots.error.invalid_name",
            )
            .field("name", Msg::new("bots.error.invalid_name")),
            InvalidAvatar => e(
                StatusCode::BAD_REQUEST,
                "invalid_avatar",
                "bots.error.invalid_avatar",
            )
            .field("avatar_url", Msg::new("bots.error.invalid_avatar")),
            InvalidKeywords => e(
                StatusCode::BAD_REQUEST,
                "invalid_keywords",
                "bots.error.invalid_keywords",
            )
            .field("keywords", Msg::new("bots.error.invalid_keywords")),
            InvalidIpRule(entry) => {
                let msg = Msg::new("bots.error.invalid_ip").arg("entry", entry);
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_ip", msg.clone())
                    .field("ip_allowlist", msg)
            }
            NoSecurity => e(
                StatusCode::BAD_REQUEST,
                "no_security",
                "bots.error.no_security",
            ),
            NotFound => e(StatusCode::NOT_FOUND, "not_found", "bots.error.not_found"),
            InvalidFilter => e(
                StatusCode::BAD_REQUEST,
                "invalid_filter",
                "bots.error.invalid_filter",
            )
            .field("from", Msg::new("bots.error.invalid_filter")),
            InvalidCallbackUrl => e(
                StatusCode::BAD_REQUEST,
                "invalid_callback_url",
                "bots.outgoing.error.invalid_url",
            )
            .field("callback_url", Msg::new("bots.outgoing.error.invalid_url")),
            NotCustom => e(
                StatusCode::BAD_REQUEST,
                "not_custom",
                "bots.outgoing.error.not_custom",
            ),
            NoOutgoing => e(
                StatusCode::NOT_FOUND,
                "no_outgoing",
                "bots.outgoing.error.none",
            ),
            InvalidScope(name) => {
                let msg = Msg::new("bots.outgoing.error.invalid_scope").arg("scope", name);
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_scope", msg.clone())
                    .field("scopes", msg)
            }
            InvalidButton(n) => {
                let msg = Msg::new("bots.outgoing.error.invalid_button").arg("n", n.to_string());
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_button", msg.clone())
                    .field("buttons", msg)
            }
            ButtonNeedsScope(n, scope) => {
                let msg = Msg::new("bots.outgoing.error.button_scope")
                    .arg("n", n.to_string())
                    .arg("scope", scope);
                ApiError::new(StatusCode::BAD_REQUEST, "button_needs_scope", msg.clone())
                    .field("buttons", msg)
            }
            CannotPost => e(
                StatusCode::BAD_REQUEST,
                "cannot_post",
                "bots.outgoing.error.cannot_post",
            ),
            NotAButton => e(
                StatusCode::BAD_REQUEST,
                "not_a_button",
                "bots.outgoing.error.not_a_button",
            ),
            Chat(inner) => inner.into(),
            Database(inner) => ApiError::internal(inner),
        }
    }
}

pub type BotResult<T> = Result<T, BotError>;
