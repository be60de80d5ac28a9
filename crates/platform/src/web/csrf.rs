//! CSRF protection (double-submit): every browser gets a random token in the
//! `tram_csrf` cookie; a state-changing request must echo it in the
//! `X-CSRF-Token` header (htmx and fetch do) or a `_csrf` form field. A
//! cross-site page can make the browser send the cookie but cannot read it,
//! so it cannot echo it.
//!
//! Exempt: safe methods, clients that authenticate with a bearer token and
//! carry no session cookie (no ambient authority to abuse), and the paths a
//! router declares public machine endpoints (e.g. webhook receivers).

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;

use super::cookies;
use crate::crypto::{constant_time_eq, random_token};
use crate::{ApiError, AppState, Msg};

/// The token of the current request, for templates to put in forms.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

/// Path prefixes that machines call without a browser (no CSRF check).
#[derive(Clone, Default)]
pub struct CsrfExempt(pub Vec<&'static str>);

const MAX_FORM_BYTES: usize = 1 << 20;

pub async fn guard(
    State((state, exempt)): State<(AppState, CsrfExempt)>,
    request: Request,
    next: Next,
) -> Response {
    let jar = CookieJar::from_headers(request.headers());
    let existing = jar.get(cookies::CSRF).map(|c| c.value().to_string());
    let token = existing.clone().unwrap_or_else(|| random_token(24));
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(CsrfToken(token.clone()));

    let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let path = parts.uri.path().to_string();
    let bearer_only = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.starts_with("Bearer "))
        .unwrap_or(false)
        && jar.get(cookies::SESSION).is_none();
    let exempt_path = exempt.0.iter().any(|prefix| path.starts_with(prefix));

    let mut body = body;
    if unsafe_method && !bearer_only && !exempt_path {
        let header_token = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| ct.starts_with("application/x-www-form-urlencoded"))
            .unwrap_or(false);
        let sent = match header_token {
            Some(t) => Some(t),
            None if is_form => {
                let bytes = match to_bytes(body, MAX_FORM_BYTES).await {
                    Ok(bytes) => bytes,
                    Err(_) => {
                        return ApiError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "too_large",
                            Msg::new("error.bad_request"),
                        )
                        .into_response()
                    }
                };
                let field = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
                    .ok()
                    .and_then(|pairs| {
                        pairs
                            .into_iter()
                            .find(|(k, _)| k == "_csrf")
                            .map(|(_, v)| v)
                    });
                body = Body::from(bytes);
                field
            }
            None => None,
        };
        let valid = match (&existing, &sent) {
            (Some(cookie), Some(sent)) => constant_time_eq(cookie, sent),
            _ => false,
        };
        if !valid {
            tracing::info!(path = %path, "request refused: missing or wrong CSRF token");
            return ApiError::new(StatusCode::FORBIDDEN, "csrf_failed", Msg::new("error.csrf"))
                .into_response();
        }
    }

    let mut response = next.run(Request::from_parts(parts, body)).await;
    if existing.is_none() {
        let cookie = cookies::build(
            cookies::CSRF,
            token,
            Some(365 * 86400),
            state.config.secure_cookies(),
        );
        if let Ok(value) = cookie.to_string().parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}
