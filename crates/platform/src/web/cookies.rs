//! Cookie names and the one way this server writes a cookie.

use axum_extra::extract::cookie::{Cookie, SameSite};

pub const SESSION: &str = "tram_session";
pub const DEVICE: &str = "tram_device";
pub const CSRF: &str = "tram_csrf";
pub const LANG: &str = "tram_lang";
pub const MFA: &str = "tram_mfa";
pub const QR: &str = "tram_qr";

/// An HttpOnly, SameSite=Lax cookie for the whole site. `max_age_secs`
/// `None` makes a browser-session cookie.
pub fn build(
    name: &'static str,
    value: String,
    max_age_secs: Option<i64>,
    secure: bool,
) -> Cookie<'static> {
    let mut cookie = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .build();
    if let Some(secs) = max_age_secs {
        cookie.set_max_age(time_duration(secs));
    }
    cookie
}

/// A cookie that tells the browser to forget `name`.
pub fn removal(name: &'static str) -> Cookie<'static> {
    let mut cookie = Cookie::build((name, "")).path("/").build();
    cookie.make_removal();
    cookie
}

fn time_duration(secs: i64) -> time::Duration {
    time::Duration::seconds(secs)
}
