//! Everything that can go wrong in accounts, and its one mapping to HTTP.

use axum::http::StatusCode;
use tram_platform::{ApiError, Msg};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("invalid phone number")]
    InvalidPhone,
    #[error("not a mobile number")]
    NotMobile,
    #[error("invalid e-mail address")]
    InvalidEmail,
    #[error("password too short or too long")]
    WeakPassword,
    #[error("display name missing or too long")]
    InvalidName,
    #[error("code must be resent later")]
    ResendTooSoon { wait_secs: i64 },
    #[error("too many codes")]
    CodeRateLimited { retry_after_secs: i64 },
    #[error("code could not be delivered")]
    CodeDeliveryFailed,
    #[error("wrong code")]
    CodeWrong { attempts_left: i64 },
    #[error("no valid code")]
    CodeInvalid,
    #[error("code expired")]
    CodeExpired,
    #[error("too many wrong codes")]
    CodeTooManyAttempts,
    #[error("account already exists")]
    AccountExists,
    #[error("wrong account or password")]
    BadCredentials,
    #[error("locked")]
    Locked { retry_after_secs: i64 },
    #[error("second factor required")]
    SecondFactorRequired,
    #[error("wrong second factor")]
    TotpWrong,
    #[error("second factor already in use")]
    TotpReplayed,
    #[error("2FA not enabled")]
    TotpNotEnabled,
    #[error("2FA already enabled")]
    TotpAlreadyEnabled,
    #[error("no pending 2FA enrolment")]
    TotpNotPending,
    #[error("login step expired")]
    ChallengeExpired,
    #[error("QR ticket expired")]
    QrExpired,
    #[error("QR ticket already used or decided")]
    QrUsed,
    #[error("QR ticket belongs to another browser")]
    QrWrongBrowser,
    #[error("QR ticket not confirmed yet")]
    QrPending,
    #[error("QR ticket rejected")]
    QrRejected,
    #[error("not found")]
    NotFound,
    #[error("not logged in")]
    Unauthenticated,
    #[error("forbidden")]
    Forbidden,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<AccountError> for ApiError {
    fn from(err: AccountError) -> ApiError {
        use AccountError::*;
        let bad = |code, key| ApiError::new(StatusCode::BAD_REQUEST, code, Msg::new(key));
        match err {
            InvalidPhone => bad("invalid_phone", "accounts.error.invalid_phone")
                .field("phone", Msg::new("accounts.error.invalid_phone")),
            NotMobile => bad("not_mobile", "accounts.error.not_mobile")
                .field("phone", Msg::new("accounts.error.not_mobile")),
            InvalidEmail => bad("invalid_email", "accounts.error.invalid_email")
                .field("email", Msg::new("accounts.error.invalid_email")),
            WeakPassword => bad("weak_password", "accounts.error.weak_password")
                .field("password", Msg::new("accounts.error.weak_password")),
            InvalidName => bad("invalid_name", "accounts.error.invalid_name")
                .field("display_name", Msg::new("accounts.error.invalid_name")),
            ResendTooSoon { wait_secs } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "resend_too_soon",
                Msg::new("accounts.error.resend_too_soon").arg("seconds", wait_secs),
            )
            .retry_after(wait_secs),
            CodeRateLimited { retry_after_secs } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                Msg::new("accounts.error.code_rate_limited")
                    .arg("minutes", (retry_after_secs + 59) / 60),
            )
            .retry_after(retry_after_secs),
            CodeDeliveryFailed => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "delivery_failed",
                Msg::new("accounts.error.delivery_failed"),
            ),
            CodeWrong { attempts_left } => bad("code_wrong", "accounts.error.code_wrong").field(
                "code",
                Msg::new("accounts.error.code_wrong_left").arg("left", attempts_left),
            ),
            CodeInvalid => bad("code_invalid", "accounts.error.code_invalid")
                .field("code", Msg::new("accounts.error.code_invalid")),
            CodeExpired => bad("code_expired", "accounts.error.code_expired")
                .field("code", Msg::new("accounts.error.code_expired")),
            CodeTooManyAttempts => bad("code_attempts_exceeded", "accounts.error.code_attempts")
                .field("code", Msg::new("accounts.error.code_attempts")),
            AccountExists => ApiError::new(
                StatusCode::CONFLICT,
                "account_exists",
                Msg::new("accounts.error.account_exists"),
            ),
            BadCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad_credentials",
                Msg::new("accounts.error.bad_credentials"),
            ),
            Locked { retry_after_secs } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "locked",
                Msg::new("accounts.error.locked").arg("minutes", (retry_after_secs + 59) / 60),
            )
            .retry_after(retry_after_secs),
            SecondFactorRequired => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "second_factor_required",
                Msg::new("accounts.error.second_factor_required"),
            ),
            TotpWrong => bad("totp_wrong", "accounts.error.totp_wrong")
                .field("code", Msg::new("accounts.error.totp_wrong")),
            TotpReplayed => bad("totp_replayed", "accounts.error.totp_replayed")
                .field("code", Msg::new("accounts.error.totp_replayed")),
            TotpNotEnabled => bad("totp_not_enabled", "accounts.error.totp_not_enabled"),
            TotpAlreadyEnabled => ApiError::new(
                StatusCode::CONFLICT,
                "totp_already_enabled",
                Msg::new("accounts.error.totp_already_enabled"),
            ),
            TotpNotPending => bad("totp_not_pending", "accounts.error.totp_not_pending"),
            ChallengeExpired => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "challenge_expired",
                Msg::new("accounts.error.challenge_expired"),
            ),
            QrExpired => ApiError::new(
                StatusCode::GONE,
                "qr_expired",
                Msg::new("accounts.error.qr_expired"),
            ),
            QrUsed => ApiError::new(
                StatusCode::CONFLICT,
                "qr_used",
                Msg::new("accounts.error.qr_used"),
            ),
            QrWrongBrowser => ApiError::new(
                StatusCode::FORBIDDEN,
                "qr_wrong_browser",
                Msg::new("accounts.error.qr_wrong_browser"),
            ),
            QrPending => ApiError::new(
                StatusCode::CONFLICT,
                "qr_pending",
                Msg::new("accounts.error.qr_pending"),
            ),
            QrRejected => ApiError::new(
                StatusCode::FORBIDDEN,
                "qr_rejected",
                Msg::new("accounts.error.qr_rejected"),
            ),
            NotFound => ApiError::not_found(),
            Unauthenticated => ApiError::unauthenticated(),
            Forbidden => ApiError::forbidden(),
            Database(e) => ApiError::internal(e),
            Internal(e) => ApiError::internal(e),
        }
    }
}

pub type AccountResult<T> = Result<T, AccountError>;
