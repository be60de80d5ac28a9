//! Login by password or QR code, the second factor, logout, and resetting
//! a forgotten password.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use tram_platform::web::page::render_with_status;
use tram_platform::web::{cookies, render, ClientInfo, FormErrors, PageContext};
use tram_platform::{ApiError, AppState};

use super::{encode, safe_next};
use crate::codes::{self, Purpose};
use crate::contact::Channel;
use crate::login::{self, LoginOutcome};
use crate::qr::{self, NewTicket};
use crate::sessions::{self, AuthUser};
use crate::web::api::parse_destination;
use crate::web::auth::{device_cookie, device_key, login_cookies};

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    reset: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    ctx: PageContext,
    next: String,
    identifier: String,
    errors: FormErrors,
    notice: String,
    ticket: Option<NewTicket>,
}

pub async fn page(
    State(state): State<AppState>,
    ctx: PageContext,
    auth: Option<AuthUser>,
    client: ClientInfo,
    jar: CookieJar,
    Query(q): Query<LoginQuery>,
) -> Response {
    let next = safe_next(&q.next);
    if auth.is_some() {
        return Redirect::to(&next).into_response();
    }
    let notice = if q.reset == "1" {
        ctx.t("accounts.page.login.reset_done").to_string()
    } else {
        String::new()
    };
    let mut jar = jar;
    let ticket = if q.mode == "qr" {
        match qr::create(&state, &client).await {
            Ok(ticket) => {
                let ttl = state.config.security.qr_ticket_ttl_secs;
                jar = jar.add(cookies::build(
                    cookies::QR,
                    ticket.browser_key.clone(),
                    Some(ttl),
                    state.config.secure_cookies(),
                ));
                Some(ticket)
            }
            Err(err) => return ApiError::from(err).into_response(),
        }
    } else {
        None
    };
    let page = LoginPage {
        ctx,
        next,
        identifier: String::new(),
        errors: FormErrors::none(),
        notice,
        ticket,
    };
    (jar, render(&page)).into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    identifier: String,
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn submit(
    State(state): State<AppState>,
    ctx: PageContext,
    client: ClientInfo,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(&form.next);
    let device = device_key(&headers);
    match login::with_password(
        &state,
        &form.identifier,
        &form.password,
        &device.key,
        &client,
    )
    .await
    {
        Ok(outcome) => after_first_factor(&state, jar, &headers, outcome, &next),
        Err(err) => {
            let err = ApiError::from(err);
            let errors = FormErrors::from_error(&err, ctx.locale);
            let page = LoginPage {
                ctx,
                next,
                identifier: form.identifier,
                errors,
                notice: String::new(),
                ticket: None,
            };
            render_with_status(err.status, &page)
        }
    }
}

/// Cookies and the next page after a password or QR login.
pub fn after_first_factor(
    state: &AppState,
    jar: CookieJar,
    headers: &HeaderMap,
    outcome: LoginOutcome,
    next: &str,
) -> Response {
    let device = device_key(headers);
    match outcome {
        LoginOutcome::LoggedIn { user, session } => (
            login_cookies(state, jar, &session, &device, &user.locale),
            Redirect::to(next),
        )
            .into_response(),
        LoginOutcome::SecondFactor { challenge_token } => {
            let jar = device_cookie(state, jar, &device).add(cookies::build(
                cookies::MFA,
                challenge_token,
                Some(300),
                state.config.secure_cookies(),
            ));
            (
                jar,
                Redirect::to(&format!("/login/2fa?next={}", encode(next))),
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "login_2fa.html")]
struct SecondFactorPage {
    ctx: PageContext,
    next: String,
    errors: FormErrors,
}

pub async fn second_factor_page(
    ctx: PageContext,
    jar: CookieJar,
    Query(q): Query<LoginQuery>,
) -> Response {
    if jar.get(cookies::MFA).is_none() {
        return Redirect::to("/login").into_response();
    }
    render(&SecondFactorPage {
        ctx,
        next: safe_next(&q.next),
        errors: FormErrors::none(),
    })
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
    #[serde(default)]
    next: String,
}

pub async fn second_factor_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    client: ClientInfo,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<CodeForm>,
) -> Response {
    let next = safe_next(&form.next);
    let Some(token) = jar.get(cookies::MFA).map(|c| c.value().to_string()) else {
        return Redirect::to("/login").into_response();
    };
    let device = device_key(&headers);
    match login::second_factor(&state, &token, &form.code, &device.key, &client).await {
        Ok((user, session)) => (
            login_cookies(&state, jar, &session, &device, &user.locale),
            Redirect::to(&next),
        )
            .into_response(),
        Err(crate::AccountError::ChallengeExpired) => (
            jar.remove(cookies::removal(cookies::MFA)),
            Redirect::to("/login"),
        )
            .into_response(),
        Err(err) => {
            let err = ApiError::from(err);
            let errors = FormErrors::from_error(&err, ctx.locale);
            render_with_status(err.status, &SecondFactorPage { ctx, next, errors })
        }
    }
}

pub async fn logout(
    State(state): State<AppState>,
    auth: Option<AuthUser>,
    client: ClientInfo,
    jar: CookieJar,
) -> Response {
    if let Some(auth) = auth {
        if let Err(err) = sessions::end(&state, &auth, &client).await {
            return ApiError::from(err).into_response();
        }
    }
    (
        jar.remove(cookies::removal(cookies::SESSION)),
        Redirect::to("/login"),
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage {
    ctx: PageContext,
    channel: String,
    destination: String,
    code_sent: bool,
    cooldown: i64,
    sent_to: String,
    errors: FormErrors,
}

pub async fn forgot_page(ctx: PageContext) -> Response {
    render(&ForgotPage {
        ctx,
        channel: "email".into(),
        destination: String::new(),
        code_sent: false,
        cooldown: 0,
        sent_to: String::new(),
        errors: FormErrors::none(),
    })
}

#[derive(Deserialize)]
pub struct ForgotForm {
    /// `send` (step 1, also resend) or `reset` (step 2).
    step: String,
    channel: Channel,
    destination: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    new_password: String,
}

pub async fn forgot_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    client: ClientInfo,
    Form(form): Form<ForgotForm>,
) -> Response {
    let channel = form.channel.as_str().to_string();
    let mut page = ForgotPage {
        channel,
        destination: form.destination.clone(),
        code_sent: form.step == "reset",
        cooldown: 0,
        sent_to: String::new(),
        errors: FormErrors::none(),
        ctx,
    };
    let result = match parse_destination(form.channel, &form.destination) {
        Err(e) => Err(e),
        Ok(contact) if form.step == "reset" => {
            login::reset_password(&state, &contact, &form.code, &form.new_password, &client)
                .await
                .map(|_| None)
        }
        Ok(contact) => codes::send(
            &state,
            Purpose::ResetPassword,
            &contact,
            page.ctx.locale,
            &client,
        )
        .await
        .map(Some),
    };
    match result {
        Ok(None) => Redirect::to("/login?reset=1").into_response(),
        Ok(Some(sent)) => {
            page.code_sent = true;
            page.cooldown = sent.resend_after_secs;
            page.sent_to = sent.sent_to;
            render(&page)
        }
        Err(err) => {
            let err = ApiError::from(err);
            page.errors = FormErrors::from_error(&err, page.ctx.locale);
            render_with_status(err.status, &page)
        }
    }
}
