//! Everything that can go wrong in chat, and its one mapping to HTTP.

use axum::http::StatusCode;
use tram_platform::{ApiError, Msg};

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("not a member of this conversation")]
    NotMember,
    #[error("group admins only")]
    AdminOnly,
    #[error("group owner only")]
    OwnerOnly,
    #[error("the group was dissolved")]
    Dissolved,
    #[error("not possible in a 1:1 chat")]
    NotAGroup,
    #[error("group name missing or too long")]
    InvalidName,
    #[error("message empty or too long")]
    InvalidBody,
    #[error("unknown message kind")]
    InvalidKind,
    #[error("the person is not in the organisation")]
    NotInOrg,
    #[error("cannot chat with yourself")]
    SelfChat,
    #[error("only the sender may do this")]
    NotSender,
    #[error("too late to recall")]
    RecallExpired,
    #[error("message recalled")]
    Recalled,
    #[error("the owner must hand over the group before leaving")]
    OwnerCannotLeave,
    #[error("unknown role")]
    InvalidRole,
    #[error("the replied-to message is not in this conversation")]
    BadReply,
    #[error("the sender's own check refused the message")]
    Declined,
    #[error("card without a title, or too long or too many")]
    InvalidCard,
    #[error("a link or picture is not an http(s) address")]
    UnsafeLink,
    #[error("quiet hours: {0}")]
    Quiet(crate::quiet::QuietError),
    #[error("file larger than {max} bytes")]
    TooLarge { max: u64 },
    #[error("empty file")]
    EmptyFile,
    #[error("file name missing")]
    InvalidFileName,
    #[error("upload interrupted: {0}")]
    UploadInterrupted(String),
    #[error("blob storage: {0}")]
    Storage(String),
    #[error("search words missing or too long")]
    InvalidQuery,
    #[error("search index: {0}")]
    Index(String),
    #[error("work notices cannot be answered")]
    NoticeReadOnly,
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<ChatError> for ApiError {
    fn from(err: ChatError) -> ApiError {
        use ChatError::*;
        let e = |status, code, key| ApiError::new(status, code, Msg::new(key));
        match err {
            // Not a member looks exactly like "no such conversation", so ids
            // cannot be probed.
            NotMember | NotFound => e(StatusCode::NOT_FOUND, "not_found", "chat.error.not_found"),
            AdminOnly => e(StatusCode::FORBIDDEN, "admin_only", "chat.error.admin_only"),
            OwnerOnly => e(StatusCode::FORBIDDEN, "owner_only", "chat.error.owner_only"),
            Dissolved => e(StatusCode::GONE, "dissolved", "chat.error.dissolved"),
            NoticeReadOnly => e(
                StatusCode::FORBIDDEN,
                "notice_read_only",
                "notices.error.read_only",
            ),
            NotAGroup => e(
                StatusCode::BAD_REQUEST,
                "not_a_group",
                "chat.error.not_a_group",
            ),
            InvalidName => e(
                StatusCode::BAD_REQUEST,
                "invalid_name",
                "chat.error.invalid_name",
            )
            .field("name", Msg::new("chat.error.invalid_name")),
            InvalidBody => e(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "chat.error.invalid_body",
            )
            .field("body", Msg::new("chat.error.invalid_body")),
            InvalidKind => e(
                StatusCode::BAD_REQUEST,
                "invalid_kind",
                "chat.error.invalid_kind",
            ),
            NotInOrg => e(
                StatusCode::BAD_REQUEST,
                "not_in_org",
                "chat.error.not_in_org",
            ),
            SelfChat => e(StatusCode::BAD_REQUEST, "self_chat", "chat.error.self_chat"),
            NotSender => e(StatusCode::FORBIDDEN, "not_sender", "chat.error.not_sender"),
            RecallExpired => e(
                StatusCode::FORBIDDEN,
                "recall_expired",
                "chat.error.recall_expired",
            ),
            Recalled => e(StatusCode::GONE, "recalled", "chat.error.recalled"),
            OwnerCannotLeave => e(
                StatusCode::CONFLICT,
                "owner_cannot_leave",
                "chat.error.owner_cannot_leave",
            ),
            InvalidRole => e(
                StatusCode::BAD_REQUEST,
                "invalid_role",
                "chat.error.invalid_role",
            ),
            BadReply => e(StatusCode::BAD_REQUEST, "bad_reply", "chat.error.bad_reply"),
            InvalidCard => e(
                StatusCode::BAD_REQUEST,
                "invalid_card",
                "chat.error.invalid_card",
            ),
            // Senders that decline (robots over their rate limit) answer
            // in their own terms before this mapping is reached.
            Declined => e(
                StatusCode::TOO_MANY_REQUESTS,
                "declined",
                "chat.error.declined",
            ),
            UnsafeLink => e(
                StatusCode::BAD_REQUEST,
                "unsafe_link",
                "chat.error.unsafe_link",
            ),
            Quiet(inner) => {
                let key = match inner {
                    crate::quiet::QuietError::BadTime => "chat.error.quiet_time",
                    crate::quiet::QuietError::BadDay => "chat.error.quiet_day",
                    crate::quiet::QuietError::BadTimeZone => "chat.error.quiet_zone",
                    crate::quiet::QuietError::TooMany => "chat.error.quiet_too_many",
                };
                let field = if key == "chat.error.quiet_zone" {
                    "time_zone"
                } else {
                    "periods"
                };
                e(StatusCode::BAD_REQUEST, "invalid_quiet_hours", key).field(field, Msg::new(key))
            }
            TooLarge { max } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                Msg::new("chat.error.too_large").arg("max", human_size(max)),
            ),
            EmptyFile => e(
                StatusCode::BAD_REQUEST,
                "empty_file",
                "chat.error.empty_file",
            ),
            InvalidFileName => e(
                StatusCode::BAD_REQUEST,
                "invalid_file_name",
                "chat.error.invalid_file_name",
            )
            .field("name", Msg::new("chat.error.invalid_file_name")),
            UploadInterrupted(_) => e(
                StatusCode::BAD_REQUEST,
                "upload_interrupted",
                "chat.error.upload_interrupted",
            ),
            Storage(inner) => ApiError::internal(inner),
            InvalidQuery => e(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "chat.error.invalid_query",
            )
            .field("q", Msg::new("chat.error.invalid_query")),
            Index(inner) => ApiError::internal(inner),
            Database(inner) => ApiError::internal(inner),
        }
    }
}

/// "20 MiB", "512 KiB", "100 bytes".
pub fn human_size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else if bytes >= KIB {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

pub type ChatResult<T> = Result<T, ChatError>;
