//! The AI assistant robot (`RobotKind::Assistant`): a group admin adds it to
//! a group; members @mention it with a question, and it answers from the
//! org's knowledge base, citing the entries it used, or says it does not
//! know and puts the question in the org admins' queue. An admin's answer
//! goes to the asker in the group and becomes an FAQ.
//!
//! `knowledge` keeps the knowledge base (FAQ pairs, documents split into
//! passages) and its change log, `retrieve` indexes it and finds passages
//! with a confidence rule, `answer` turns a mention into a reply, `llm`
//! optionally words the reply with an OpenAI-compatible model, `queue` is
//! the admins' queue of unanswered questions, `ratings` members' ratings of
//! answers, `robot` adds the assistant to a group.

pub mod answer;
pub mod knowledge;
pub mod llm;
pub mod queue;
pub mod ratings;
pub mod retrieve;
pub mod robot;

use axum::http::StatusCode;
use tram_chat::error::ChatError;
use tram_org::error::OrgError;
use tram_platform::{ApiError, Msg};

#[derive(Debug, thiserror::Error)]
pub enum AssistantError {
    #[error("question or title missing or too long")]
    InvalidQuestion,
    #[error("answer or text missing or too long")]
    InvalidAnswer,
    #[error("not a knowledge base entry kind")]
    InvalidKind,
    #[error("no such entry, question or answer in this org")]
    NotFound,
    #[error("this question has been answered already")]
    AlreadyAnswered,
    #[error("search index: {0}")]
    Index(String),
    #[error(transparent)]
    Org(#[from] OrgError),
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<AssistantError> for ApiError {
    fn from(err: AssistantError) -> ApiError {
        use AssistantError::*;
        let e = |status, code, key| ApiError::new(status, code, Msg::new(key));
        match err {
            InvalidQuestion => e(
                StatusCode::BAD_REQUEST,
                "invalid_question",
                "assistant.error.invalid_question",
            )
            .field("question", Msg::new("assistant.error.invalid_question")),
            InvalidAnswer => e(
                StatusCode::BAD_REQUEST,
                "invalid_answer",
                "assistant.error.invalid_answer",
            )
            .field("answer", Msg::new("assistant.error.invalid_answer")),
            InvalidKind => e(
                StatusCode::BAD_REQUEST,
                "invalid_kind",
                "assistant.error.invalid_kind",
            ),
            NotFound => e(
                StatusCode::NOT_FOUND,
                "not_found",
                "assistant.error.not_found",
            ),
            AlreadyAnswered => e(
                StatusCode::CONFLICT,
                "already_answered",
                "assistant.error.already_answered",
            ),
            Index(inner) => ApiError::internal(inner),
            Org(inner) => inner.into(),
            Chat(inner) => inner.into(),
            Database(inner) => ApiError::internal(inner),
        }
    }
}

pub type AssistantResult<T> = Result<T, AssistantError>;
