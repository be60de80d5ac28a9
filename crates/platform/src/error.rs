//! The one shape every failure takes on the wire: an HTTP status, a stable
//! machine-readable code, and a message in the user's language (plus
//! per-field messages for forms). Each domain has its own error enum and
//! converts it into [`ApiError`] in exactly one `From` impl.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::i18n::{self, Locale};

/// A user-facing message: an i18n key and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Msg {
    pub fn new(key: &'static str) -> Msg {
        Msg {
            key,
            args: Vec::new(),
        }
    }

    pub fn arg(mut self, name: &'static str, value: impl ToString) -> Msg {
        self.args.push((name, value.to_string()));
        self
    }

    pub fn render(&self, locale: Locale) -> String {
        locale.tf(self.key, &self.args)
    }
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: Msg,
    /// Per-field messages, by field name (form keys may be dynamic).
    pub fields: Vec<(std::borrow::Cow<'static, str>, Msg)>,
    pub retry_after_secs: Option<i64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: Msg) -> ApiError {
        ApiError {
            status,
            code,
            message,
            fields: Vec::new(),
            retry_after_secs: None,
        }
    }

    pub fn bad_request(code: &'static str, key: &'static str) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, Msg::new(key))
    }

    pub fn field(mut self, name: impl Into<std::borrow::Cow<'static, str>>, msg: Msg) -> ApiError {
        self.fields.push((name.into(), msg));
        self
    }

    pub fn retry_after(mut self, secs: i64) -> ApiError {
        self.retry_after_secs = Some(secs.max(1));
        self
    }

    pub fn unauthenticated() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            Msg::new("error.unauthenticated"),
        )
    }

    pub fn forbidden() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            Msg::new("error.forbidden"),
        )
    }

    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            Msg::new("error.not_found"),
        )
    }

    /// An unexpected failure: logged here (the caller must not put secrets
    /// in it), shown to the user only as "something went wrong".
    pub fn internal(err: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %err, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            Msg::new("error.internal"),
        )
    }

    /// The message in `locale`.
    pub fn message(&self, locale: Locale) -> String {
        self.message.render(locale)
    }

    /// The message for one form field, if there is one.
    pub fn field_message(&self, name: &str, locale: Locale) -> Option<String> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| m.render(locale))
    }

    pub fn to_json(&self, locale: Locale) -> serde_json::Value {
        let fields: serde_json::Map<String, serde_json::Value> = self
            .fields
            .iter()
            .map(|(n, m)| (n.to_string(), m.render(locale).into()))
            .collect();
        let mut error = json!({
            "code": self.code,
            "message": self.message(locale),
        });
        if !fields.is_empty() {
            error["fields"] = fields.into();
        }
        if let Some(secs) = self.retry_after_secs {
            error["retry_after_secs"] = secs.into();
        }
        json!({ "error": error })
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> ApiError {
        ApiError::internal(err)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.code, self.status)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.to_json(i18n::current());
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert("retry-after", value);
            }
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The JSON body of every error response (for the API documentation).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `code_expired`.
    pub code: String,
    /// Human-readable message in the request's language.
    pub message: String,
    /// Per-field messages for form input, keyed by field name.
    #[schema(value_type = Option<Object>)]
    pub fields: Option<serde_json::Value>,
    pub retry_after_secs: Option<i64>,
}
