//! The web shell shared by every domain: who the client is (address,
//! browser), CSRF protection, the request's language, the page frame
//! (layout, navigation) and static files.

pub mod assets;
pub mod client;
pub mod cookies;
pub mod csrf;
pub mod form;
pub mod locale;
pub mod page;

pub use client::ClientInfo;
pub use csrf::CsrfToken;
pub use form::FormErrors;
pub use page::{render, NavItem, OrgBadge, PageContext, Shell, UserBadge};

use axum::http::HeaderMap;

/// True when the request came from htmx (it wants a fragment or a redirect
/// header rather than a full page).
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

/// True when the client prefers HTML (a browser navigating) over JSON.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .map(|accept| accept.contains("text/html"))
        .unwrap_or(false)
}
