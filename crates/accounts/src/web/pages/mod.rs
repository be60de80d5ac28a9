//! The accounts pages: login (password and QR), the second factor, logout,
//! forgotten password, the phone's QR confirmation, and the settings pages
//! (profile, security, devices). Handlers call the same services as the
//! JSON API; a refused form is shown again with its messages.

mod login;
mod qr;
mod settings;

use axum::routing::{get, post};
use axum::Router;
use tram_platform::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login::page).post(login::submit))
        .route(
            "/login/2fa",
            get(login::second_factor_page).post(login::second_factor_submit),
        )
        .route("/logout", post(login::logout))
        .route(
            "/forgot",
            get(login::forgot_page).post(login::forgot_submit),
        )
        .route("/qr/{token}", get(qr::confirm_page).post(qr::decide))
        .route(
            "/settings/profile",
            get(settings::profile).post(settings::save_profile),
        )
        .route("/settings/security", get(settings::security))
        .route(
            "/settings/security/password",
            post(settings::change_password),
        )
        .route(
            "/settings/security/2fa/begin",
            post(settings::begin_two_factor),
        )
        .route(
            "/settings/security/2fa/confirm",
            post(settings::confirm_two_factor),
        )
        .route(
            "/settings/security/2fa/disable",
            post(settings::disable_two_factor),
        )
        .route("/settings/devices", get(settings::devices))
        .route(
            "/settings/devices/{id}/rename",
            post(settings::rename_device),
        )
        .route(
            "/settings/devices/{id}/remove",
            post(settings::remove_device),
        )
        .route(
            "/settings/devices/sessions/{id}/remove",
            post(settings::remove_session),
        )
}

/// A local path to go to after logging in (never another site).
pub fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") {
        next.to_string()
    } else {
        "/".to_string()
    }
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/settings/devices"), "/settings/devices");
        assert_eq!(safe_next("//evil.example"), "/");
        assert_eq!(safe_next("https://evil.example"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next(""), "/");
    }
}
