//! The OpenAPI 3 document (generated from the handlers' annotations in
//! each domain) at `/api/openapi.json`, browsable at `/api/docs`.

use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use tram_platform::AppState;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tram API",
        description = "JSON API of Tram. Browsers authenticate with the session cookie and send the \
        `tram_csrf` cookie's value in `X-CSRF-Token` on every state-changing request; other clients send \
        `Authorization: Bearer <token>` (the `token` of a login answer) and need no CSRF token."
    ),
    paths(crate::home::healthz, crate::home::outbox_api),
    components(schemas(tram_platform::notify::OutboxEntry))
)]
struct ShellApi;

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ShellApi::openapi();
    doc.merge(tram_accounts::web::api::AccountsApi::openapi());
    doc.merge(tram_org::web::api::OrgApi::openapi());
    doc.merge(tram_chat::web::api::ChatApi::openapi());
    doc.merge(tram_bots::web::api::RobotsApi::openapi());
    doc.merge(tram_approvals::web::api::ApprovalsApi::openapi());
    doc.merge(tram_bots::web::schedule::ScheduleApi::openapi());
    doc.merge(tram_bots::web::assistant::AssistantApi::openapi());
    doc
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(|| async { Json(document()) }))
        .route("/api/docs", get(docs))
}

async fn docs() -> impl IntoResponse {
    Html(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Tram API</title>\
         <link rel=\"stylesheet\" href=\"/static/swagger-ui.css\"></head><body><div id=\"swagger-ui\"></div>\
         <script src=\"/static/swagger-ui-bundle.js\"></script><script src=\"/static/swagger-init.js\"></script></body></html>",
    )
}
