//! First-run setup, registration (phone or e-mail, with a verification
//! code; optionally a new company or an invitation) and joining by link.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use tram_accounts::codes::{self, Purpose};
use tram_accounts::contact::Channel;
use tram_accounts::web::api::parse_destination;
use tram_accounts::web::{device_key, login_cookies};
use tram_accounts::AuthUser;
use tram_platform::web::page::render_with_status;
use tram_platform::web::{render, ClientInfo, FormErrors, PageContext};
use tram_platform::{ApiError, AppState};

use super::optional;
use crate::invitations;
use crate::onboarding::{self, Onboarded, RegisterInput, SetupInput};
use crate::web::api::contact_from;

fn logged_in(state: &AppState, jar: CookieJar, headers: &HeaderMap, done: Onboarded) -> Response {
    let device = device_key(headers);
    (
        login_cookies(state, jar, &done.session, &device, &done.user.locale),
        Redirect::to("/"),
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    ctx: PageContext,
    form: SetupForm,
    errors: FormErrors,
}

#[derive(Deserialize, Default)]
pub struct SetupForm {
    #[serde(default)]
    org_name: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    password: String,
}

pub async fn setup_page(State(state): State<AppState>, ctx: PageContext) -> Response {
    match onboarding::setup_needed(&state).await {
        Ok(true) => render(&SetupPage {
            ctx,
            form: SetupForm::default(),
            errors: FormErrors::none(),
        }),
        Ok(false) => Redirect::to("/").into_response(),
        Err(err) => ApiError::from(err).into_response(),
    }
}

pub async fn setup_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    client: ClientInfo,
    headers: HeaderMap,
    jar: CookieJar,
    Form(mut form): Form<SetupForm>,
) -> Response {
    let result = async {
        let contact = contact_from(Some(&form.email), Some(&form.phone))?;
        let input = SetupInput {
            org_name: &form.org_name,
            display_name: &form.display_name,
            contact,
            password: &form.password,
            locale: ctx.locale,
        };
        onboarding::first_run(&state, input, &device_key(&headers).key, &client)
            .await
            .map_err(ApiError::from)
    }
    .await;
    match result {
        Ok(done) => logged_in(&state, jar, &headers, done),
        Err(err) => {
            form.password.clear();
            let errors = FormErrors::from_error(&err, ctx.locale);
            render_with_status(err.status, &SetupPage { ctx, form, errors })
        }
    }
}

/// Country calling codes offered next to the phone field (+852 first).
const COUNTRY_CODES: &[(&str, &str)] = &[
    ("+852", "香港 Hong Kong +852"),
    ("+853", "澳門 Macau +853"),
    ("+86", "中國內地 Mainland China +86"),
    ("+886", "台灣 Taiwan +886"),
    ("+65", "Singapore +65"),
    ("+60", "Malaysia +60"),
    ("+81", "日本 Japan +81"),
    ("+82", "한국 Korea +82"),
    ("+44", "United Kingdom +44"),
    ("+1", "USA / Canada +1"),
    ("+61", "Australia +61"),
];

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    ctx: PageContext,
    form: RegisterForm,
    /// Step 2: the code was sent.
    code_sent: bool,
    sent_to: String,
    cooldown: i64,
    joining: String,
    countries: &'static [(&'static str, &'static str)],
    errors: FormErrors,
}

#[derive(Deserialize, Default, Clone)]
pub struct RegisterForm {
    #[serde(default)]
    channel: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    company_name: String,
    #[serde(default)]
    invitation: String,
}

impl RegisterForm {
    fn channel(&self) -> Channel {
        if self.channel == "email" {
            Channel::Email
        } else {
            Channel::Sms
        }
    }

    /// The destination as typed: the e-mail, or the number with its
    /// country code unless the number already has one.
    fn destination(&self) -> String {
        match self.channel() {
            Channel::Email => self.email.trim().to_string(),
            Channel::Sms if self.phone.trim().starts_with('+') => self.phone.trim().to_string(),
            Channel::Sms => format!(
                "{}{}",
                if self.country.is_empty() {
                    "+852"
                } else {
                    &self.country
                },
                self.phone.trim()
            ),
        }
    }
}

async fn register_page_for(state: &AppState, ctx: PageContext, form: RegisterForm) -> RegisterPage {
    let joining = match optional(&form.invitation) {
        Some(code) => invitations::peek(&state.db, state.clock.now_ms(), code)
            .await
            .map(|(_, name)| name)
            .unwrap_or_default(),
        None => String::new(),
    };
    RegisterPage {
        ctx,
        form,
        code_sent: false,
        sent_to: String::new(),
        cooldown: 0,
        joining,
        countries: COUNTRY_CODES,
        errors: FormErrors::none(),
    }
}

pub async fn register_page(
    State(state): State<AppState>,
    ctx: PageContext,
    Query(form): Query<RegisterForm>,
) -> Response {
    let page = register_page_for(&state, ctx, form).await;
    render(&page)
}

/// Step 1 (and "send again", and "switch to e-mail"): send a code.
pub async fn register_code(
    State(state): State<AppState>,
    ctx: PageContext,
    client: ClientInfo,
    Form(form): Form<RegisterForm>,
) -> Response {
    let locale = ctx.locale;
    let mut page = register_page_for(&state, ctx, form).await;
    let result = match parse_destination(page.form.channel(), &page.form.destination()) {
        Ok(contact) => codes::send(&state, Purpose::Register, &contact, locale, &client).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(sent) => {
            page.code_sent = true;
            page.sent_to = sent.sent_to;
            page.cooldown = sent.resend_after_secs;
            render(&page)
        }
        Err(err) => {
            let err = ApiError::from(err);
            // A refused resend keeps the user on step 2.
            page.code_sent = err.code == "resend_too_soon";
            page.errors = FormErrors::from_error(&err, locale);
            render_with_status(err.status, &page)
        }
    }
}

/// Step 2: the code and the account details.
pub async fn register_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    client: ClientInfo,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<RegisterForm>,
) -> Response {
    let locale = ctx.locale;
    let result = async {
        let contact = parse_destination(form.channel(), &form.destination())?;
        let input = RegisterInput {
            contact,
            code: &form.code,
            display_name: &form.display_name,
            password: &form.password,
            company_name: optional(&form.company_name),
            invitation_code: optional(&form.invitation),
            locale,
        };
        onboarding::register(&state, input, &device_key(&headers).key, &client)
            .await
            .map_err(ApiError::from)
    }
    .await;
    match result {
        Ok(done) => logged_in(&state, jar, &headers, done),
        Err(err) => {
            let mut form = form;
            form.password.clear();
            let mut page = register_page_for(&state, ctx, form).await;
            page.code_sent = true;
            page.errors = FormErrors::from_error(&err, locale);
            render_with_status(err.status, &page)
        }
    }
}

#[derive(Template)]
#[template(path = "join.html")]
struct JoinPage {
    ctx: PageContext,
    code: String,
    org_name: String,
    error: String,
}

pub async fn join_page(
    State(state): State<AppState>,
    ctx: PageContext,
    auth: Option<AuthUser>,
    Path(code): Path<String>,
) -> Response {
    if auth.is_none() {
        let code: String = url::form_urlencoded::byte_serialize(code.as_bytes()).collect();
        return Redirect::to(&format!("/register?invitation={code}")).into_response();
    }
    match invitations::peek(&state.db, state.clock.now_ms(), &code).await {
        Ok((_, org_name)) => render(&JoinPage {
            ctx,
            code,
            org_name,
            error: String::new(),
        }),
        Err(err) => {
            let err = ApiError::from(err);
            let error = err.message(ctx.locale);
            render_with_status(
                err.status,
                &JoinPage {
                    ctx,
                    code,
                    org_name: String::new(),
                    error,
                },
            )
        }
    }
}

pub async fn join_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    auth: AuthUser,
    client: ClientInfo,
    Path(code): Path<String>,
) -> Response {
    match onboarding::join(&state, &auth.user_id, &code, &client).await {
        Ok(org_id) => {
            match tram_accounts::sessions::set_current_org(&state, &auth.session_id, &org_id).await
            {
                Ok(()) => Redirect::to("/").into_response(),
                Err(err) => ApiError::from(err).into_response(),
            }
        }
        Err(err) => {
            let err = ApiError::from(err);
            let error = err.message(ctx.locale);
            render_with_status(
                err.status,
                &JoinPage {
                    ctx,
                    code,
                    org_name: String::new(),
                    error,
                },
            )
        }
    }
}
