//! Who is asking: the session middleware (cookie or bearer token), the
//! `AuthUser` extractor, the device key, and the cookies a login sets.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use tram_platform::crypto::random_token;
use tram_platform::web::{cookies, wants_html};
use tram_platform::{ApiError, AppState};

use crate::sessions::{self, AuthUser, NewSession};

fn session_token(headers: &HeaderMap) -> Option<String> {
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_string());
    }
    CookieJar::from_headers(headers)
        .get(cookies::SESSION)
        .map(|c| c.value().to_string())
}

/// Middleware: resolves the session (if any) and puts the `AuthUser` in
/// the request extensions. A dead or unknown session is simply absent.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(token) = session_token(request.headers()) {
        match sessions::resolve(&state, &token).await {
            Ok(Some(user)) => {
                request.extensions_mut().insert(user);
            }
            Ok(None) => {}
            Err(err) => return ApiError::from(err).into_response(),
        }
    }
    next.run(request).await
}

/// Rejection for pages and APIs that need a login: pages redirect to the
/// login page (and come back afterwards), APIs answer 401.
pub struct LoginRequired {
    html: bool,
    back_to: String,
}

impl IntoResponse for LoginRequired {
    fn into_response(self) -> Response {
        if self.html {
            let next =
                url::form_urlencoded::byte_serialize(self.back_to.as_bytes()).collect::<String>();
            Redirect::to(&format!("/login?next={next}")).into_response()
        } else {
            ApiError::unauthenticated().into_response()
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = LoginRequired;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AuthUser>()
            .cloned()
            .ok_or_else(|| LoginRequired {
                html: wants_html(&parts.headers) && !parts.uri.path().starts_with("/api/"),
                back_to: parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_else(|| "/".into()),
            })
    }
}

/// This browser's device key: from the `tram_device` cookie or the
/// `X-Tram-Device` header; `fresh` when we just made one up (the response
/// must then set the cookie).
pub struct DeviceKey {
    pub key: String,
    pub fresh: bool,
}

pub fn device_key(headers: &HeaderMap) -> DeviceKey {
    let from_header = headers
        .get("x-tram-device")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() >= 16 && v.len() <= 128);
    if let Some(key) = from_header {
        return DeviceKey {
            key: key.to_string(),
            fresh: false,
        };
    }
    match CookieJar::from_headers(headers).get(cookies::DEVICE) {
        Some(c) if c.value().len() >= 16 => DeviceKey {
            key: c.value().to_string(),
            fresh: false,
        },
        _ => DeviceKey {
            key: random_token(32),
            fresh: true,
        },
    }
}

/// Cookies for a new session: the session itself, the device key if new,
/// and the user's language; the half-finished-login cookie is cleared.
pub fn login_cookies(
    state: &AppState,
    jar: CookieJar,
    session: &NewSession,
    device: &DeviceKey,
    locale: &str,
) -> CookieJar {
    let secure = state.config.secure_cookies();
    let ttl = state.config.security.session_ttl_days * 86_400;
    let mut jar = jar
        .add(cookies::build(
            cookies::SESSION,
            session.token.clone(),
            Some(ttl),
            secure,
        ))
        .remove(cookies::removal(cookies::MFA));
    if device.fresh {
        jar = jar.add(cookies::build(
            cookies::DEVICE,
            device.key.clone(),
            Some(2 * 365 * 86_400),
            secure,
        ));
    }
    let mut lang = cookies::build(
        cookies::LANG,
        locale.to_string(),
        Some(365 * 86_400),
        secure,
    );
    lang.set_http_only(false);
    jar.add(lang)
}

/// The device-key cookie alone (for a login that stopped at 2FA: the
/// second step must come from the same device).
pub fn device_cookie(state: &AppState, jar: CookieJar, device: &DeviceKey) -> CookieJar {
    if device.fresh {
        jar.add(cookies::build(
            cookies::DEVICE,
            device.key.clone(),
            Some(2 * 365 * 86_400),
            state.config.secure_cookies(),
        ))
    } else {
        jar
    }
}

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for AuthUser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<AuthUser>().cloned())
    }
}
