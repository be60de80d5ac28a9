//! Pages and endpoints of the shell itself: the home page, health check,
//! language switch, static files and the development outbox.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use tram_accounts::AuthUser;
use tram_platform::notify::{list_outbox, OutboxEntry};
use tram_platform::web::{assets, locale, render, PageContext};
use tram_platform::{ApiError, ApiResult, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/healthz", get(healthz))
        .route("/lang", get(locale::switch))
        .route("/static/{file}", get(assets::serve))
        .route("/admin/outbox", get(outbox_page))
        .route("/api/v1/dev/outbox", get(outbox_api))
}

/// 200 when the database answers, 503 when it does not.
#[utoipa::path(get, path = "/healthz", tag = "shell", responses((status = 200, description = "ok"), (status = 503, description = "database unreachable")))]
pub async fn healthz(State(state): State<AppState>) -> Response {
    if state.db.ping().await {
        (StatusCode::OK, "ok").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    ctx: PageContext,
    two_factor_enabled: bool,
}

async fn home(
    State(state): State<AppState>,
    ctx: PageContext,
    auth: Option<AuthUser>,
) -> ApiResult<Response> {
    if tram_org::onboarding::setup_needed(&state).await? {
        return Ok(Redirect::to("/setup").into_response());
    }
    let Some(auth) = auth else {
        return Ok(Redirect::to("/login").into_response());
    };
    let user = tram_accounts::users::get(&state.db, &auth.user_id).await?;
    Ok(render(&HomePage {
        ctx,
        two_factor_enabled: user.two_factor_enabled,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct OutboxQuery {
    /// Only messages to this destination (E.164 phone or e-mail).
    pub to: Option<String>,
}

fn outbox_allowed(state: &AppState, auth: &AuthUser) -> Result<(), ApiError> {
    if !state.config.dev_mode {
        return Err(ApiError::not_found());
    }
    if !auth.is_server_admin {
        return Err(ApiError::forbidden());
    }
    Ok(())
}

/// Development mode only: SMS and e-mail the server sent, newest first
/// (server admins).
#[utoipa::path(get, path = "/api/v1/dev/outbox", tag = "shell", params(OutboxQuery),
    responses((status = 200, body = Vec<OutboxEntry>), (status = 403), (status = 404)))]
pub async fn outbox_api(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(query): Query<OutboxQuery>,
) -> ApiResult<Json<Vec<OutboxEntry>>> {
    outbox_allowed(&state, &auth)?;
    Ok(Json(
        list_outbox(&state.db, query.to.as_deref(), 200).await?,
    ))
}

#[derive(Template)]
#[template(path = "outbox.html")]
struct OutboxPage {
    ctx: PageContext,
    entries: Vec<OutboxEntry>,
}

async fn outbox_page(
    State(state): State<AppState>,
    ctx: PageContext,
    auth: AuthUser,
) -> ApiResult<Response> {
    outbox_allowed(&state, &auth)?;
    let entries = list_outbox(&state.db, None, 200).await?;
    Ok(render(&OutboxPage { ctx, entries }))
}
