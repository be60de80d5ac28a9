//! The phone's side of QR login: who is asking, confirm or reject.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use tram_platform::web::page::render_with_status;
use tram_platform::web::{render, ClientInfo, PageContext};
use tram_platform::{ApiError, AppState};

use crate::qr::{self, ScanView};
use crate::sessions::AuthUser;

#[derive(Template)]
#[template(path = "qr_confirm.html")]
struct ConfirmPage {
    ctx: PageContext,
    token: String,
    view: ScanView,
}

#[derive(Template)]
#[template(path = "qr_result.html")]
struct ResultPage {
    ctx: PageContext,
    /// `confirmed`, `rejected`, or empty with an error message.
    outcome: String,
    error: String,
}

pub async fn confirm_page(
    State(state): State<AppState>,
    ctx: PageContext,
    _phone: AuthUser,
    Path(token): Path<String>,
) -> Response {
    match qr::scan(&state, &token).await {
        Ok(view) if matches!(view.status.as_str(), "pending" | "scanned") => {
            render(&ConfirmPage { ctx, token, view })
        }
        Ok(view) => {
            let key = if view.status == "expired" {
                "accounts.error.qr_expired"
            } else {
                "accounts.error.qr_used"
            };
            let error = ctx.t(key).to_string();
            render(&ResultPage {
                ctx,
                outcome: String::new(),
                error,
            })
        }
        Err(err) => {
            let err = ApiError::from(err);
            let error = err.message(ctx.locale);
            render_with_status(
                err.status,
                &ResultPage {
                    ctx,
                    outcome: String::new(),
                    error,
                },
            )
        }
    }
}

#[derive(Deserialize)]
pub struct DecisionForm {
    /// `approve` or `reject`.
    decision: String,
}

pub async fn decide(
    State(state): State<AppState>,
    ctx: PageContext,
    phone: AuthUser,
    client: ClientInfo,
    Path(token): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let approve = form.decision == "approve";
    match qr::decide(&state, &token, &phone, approve, &client).await {
        Ok(()) => {
            let outcome = if approve { "confirmed" } else { "rejected" }.to_string();
            render(&ResultPage {
                ctx,
                outcome,
                error: String::new(),
            })
        }
        Err(err) => {
            let err = ApiError::from(err);
            let error = err.message(ctx.locale);
            render_with_status(
                err.status,
                &ResultPage {
                    ctx,
                    outcome: String::new(),
                    error,
                },
            )
        }
    }
}
