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
            Chat(inner) => inner.into(),
            Database(inner) => ApiError::internal(inner),
        }
    }
}

pub type BotResult<T> = Result<T, BotError>;
