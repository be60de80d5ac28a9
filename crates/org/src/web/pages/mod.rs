//! The organisation pages: first-run setup, registration, joining by
//! invitation, my organisations, the contacts directory, and the admin
//! pages (members and invitations, departments, devices, audit log).

mod admin;
mod onboarding;
mod orgs;

use axum::routing::{get, post};
use axum::Router;
use tram_platform::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/setup",
            get(onboarding::setup_page).post(onboarding::setup_submit),
        )
        .route(
            "/register",
            get(onboarding::register_page).post(onboarding::register_submit),
        )
        .route("/register/code", post(onboarding::register_code))
        .route(
            "/join/{code}",
            get(onboarding::join_page).post(onboarding::join_submit),
        )
        .route("/orgs", get(orgs::page).post(orgs::create))
        .route("/orgs/join", post(orgs::join))
        .route("/orgs/{id}/switch", post(orgs::switch))
        .route("/contacts", get(orgs::contacts))
        .route("/admin/members", get(admin::members))
        .route("/admin/invitations", post(admin::create_invitation))
        .route(
            "/admin/invitations/{id}/revoke",
            post(admin::revoke_invitation),
        )
        .route("/admin/members/{user_id}", get(admin::member))
        .route("/admin/members/{user_id}/role", post(admin::set_role))
        .route("/admin/members/{user_id}/manager", post(admin::set_manager))
        .route(
            "/admin/members/{user_id}/placement",
            post(admin::set_placement),
        )
        .route(
            "/admin/members/{user_id}/remove",
            post(admin::remove_member),
        )
        .route(
            "/admin/members/{user_id}/devices/{device_id}/remove",
            post(admin::remove_device),
        )
        .route(
            "/admin/members/{user_id}/sessions/{session_id}/remove",
            post(admin::remove_session),
        )
        .route(
            "/admin/departments",
            get(admin::departments).post(admin::create_department),
        )
        .route("/admin/departments/{id}", post(admin::update_department))
        .route(
            "/admin/departments/{id}/delete",
            post(admin::delete_department),
        )
        .route("/admin/devices", get(admin::devices))
        .route("/admin/devices/policy", post(admin::set_policy))
        .route(
            "/admin/devices/{device_id}/{decision}",
            post(admin::decide_device),
        )
        .route("/admin/audit", get(admin::audit))
}

/// An optional form field: empty means absent.
fn optional(value: &str) -> Option<&str> {
    let value = value.trim();
    (!value.is_empty()).then_some(value)
}
