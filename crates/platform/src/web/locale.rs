//! The language of a request: the `tram_lang` cookie (set by the language
//! switch and at login from the user's saved choice), else the browser's
//! Accept-Language, else Traditional Chinese.

use axum::extract::{Query, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::cookies;
use crate::i18n::{Locale, REQUEST_LOCALE};

pub fn negotiate(headers: &axum::http::HeaderMap) -> Locale {
    let jar = CookieJar::from_headers(headers);
    if let Some(locale) = jar
        .get(cookies::LANG)
        .and_then(|c| Locale::parse(c.value()))
    {
        return locale;
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Locale::from_accept_language)
        .unwrap_or_default()
}

/// Middleware: puts the locale in the request extensions and in scope for
/// error responses.
pub async fn layer(mut request: Request, next: Next) -> Response {
    let locale = negotiate(request.headers());
    request.extensions_mut().insert(locale);
    REQUEST_LOCALE.scope(locale, next.run(request)).await
}

#[derive(Deserialize)]
pub struct SwitchQuery {
    pub lang: String,
    #[serde(default)]
    pub next: String,
}

/// `GET /lang?lang=en&next=/login`: remembers the choice in a cookie.
pub async fn switch(Query(query): Query<SwitchQuery>) -> Response {
    let locale = Locale::parse(&query.lang).unwrap_or_default();
    // Only local paths, so the switch cannot be used as an open redirect.
    let next = if query.next.starts_with('/') && !query.next.starts_with("//") {
        query.next
    } else {
        "/".to_string()
    };
    let mut cookie = cookies::build(
        cookies::LANG,
        locale.tag().to_string(),
        Some(365 * 86400),
        false,
    );
    cookie.set_http_only(false);
    (CookieJar::new().add(cookie), Redirect::to(&next)).into_response()
}
