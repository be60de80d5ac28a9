//! Settings: profile and language, password and two-factor
//! authentication, devices and sessions.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use tram_platform::i18n::Locale;
use tram_platform::web::page::render_with_status;
use tram_platform::web::{cookies, render, ClientInfo, FormErrors, PageContext};
use tram_platform::{ApiError, AppState};

use crate::login;
use crate::sessions::{self, Actor, AuthUser, DeviceView};
use crate::totp::{self, Enrolment};
use crate::users::{self, User};

fn refused(err: impl Into<ApiError>, locale: Locale) -> (axum::http::StatusCode, FormErrors) {
    let err = err.into();
    (err.status, FormErrors::from_error(&err, locale))
}

#[derive(Template)]
#[template(path = "settings_profile.html")]
struct ProfilePage {
    ctx: PageContext,
    user: User,
    errors: FormErrors,
    saved: bool,
}

pub async fn profile(State(state): State<AppState>, ctx: PageContext, auth: AuthUser) -> Response {
    match users::get(&state.db, &auth.user_id).await {
        Ok(user) => render(&ProfilePage {
            ctx,
            user,
            errors: FormErrors::none(),
            saved: false,
        }),
        Err(err) => ApiError::from(err).into_response(),
    }
}

#[derive(Deserialize)]
pub struct ProfileForm {
    display_name: String,
    locale: String,
}

pub async fn save_profile(
    State(state): State<AppState>,
    mut ctx: PageContext,
    auth: AuthUser,
    jar: CookieJar,
    Form(form): Form<ProfileForm>,
) -> Response {
    let result = users::update_profile(
        &state,
        state.clock.now_ms(),
        &auth.user_id,
        &form.display_name,
        &form.locale,
    )
    .await;
    let user = match users::get(&state.db, &auth.user_id).await {
        Ok(user) => user,
        Err(err) => return ApiError::from(err).into_response(),
    };
    match result {
        Ok(()) => {
            // Speak the new language from this page on.
            let locale = Locale::parse(&user.locale).unwrap_or_default();
            ctx.locale = locale;
            if let Some(badge) = ctx.shell.user.as_mut() {
                badge.display_name = user.display_name.clone();
            }
            let mut lang = cookies::build(
                cookies::LANG,
                locale.tag().to_string(),
                Some(365 * 86_400),
                state.config.secure_cookies(),
            );
            lang.set_http_only(false);
            (
                jar.add(lang),
                render(&ProfilePage {
                    ctx,
                    user,
                    errors: FormErrors::none(),
                    saved: true,
                }),
            )
                .into_response()
        }
        Err(err) => {
            let (status, errors) = refused(err, ctx.locale);
            render_with_status(
                status,
                &ProfilePage {
                    ctx,
                    user,
                    errors,
                    saved: false,
                },
            )
        }
    }
}

#[derive(Template)]
#[template(path = "settings_security.html")]
struct SecurityPage {
    ctx: PageContext,
    user: User,
    recovery_left: i64,
    enrolment: Option<Enrolment>,
    recovery_codes: Vec<String>,
    errors: FormErrors,
    /// Which form the errors belong to: `password`, `enrol` or `disable`.
    errors_for: String,
    notice: String,
}

async fn security_page(
    state: &AppState,
    ctx: PageContext,
    auth: &AuthUser,
) -> Result<SecurityPage, ApiError> {
    let user = users::get(&state.db, &auth.user_id).await?;
    let recovery_left = if user.two_factor_enabled {
        totp::recovery_codes_left(state, &auth.user_id).await?
    } else {
        0
    };
    Ok(SecurityPage {
        ctx,
        user,
        recovery_left,
        enrolment: None,
        recovery_codes: Vec::new(),
        errors: FormErrors::none(),
        errors_for: String::new(),
        notice: String::new(),
    })
}

pub async fn security(State(state): State<AppState>, ctx: PageContext, auth: AuthUser) -> Response {
    match security_page(&state, ctx, &auth).await {
        Ok(page) => render(&page),
        Err(err) => err.into_response(),
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    ctx: PageContext,
    auth: AuthUser,
    client: ClientInfo,
    Form(form): Form<PasswordForm>,
) -> Response {
    let locale = ctx.locale;
    let result = login::change_password(
        &state,
        &auth,
        &form.current_password,
        &form.new_password,
        &client,
    )
    .await;
    let mut page = match security_page(&state, ctx, &auth).await {
        Ok(page) => page,
        Err(err) => return err.into_response(),
    };
    match result {
        Ok(()) => {
            page.notice = page
                .ctx
                .t("accounts.page.security.password_changed")
                .to_string();
            render(&page)
        }
        Err(err) => {
            let (status, errors) = refused(err, locale);
            page.errors = errors;
            page.errors_for = "password".into();
            render_with_status(status, &page)
        }
    }
}

pub async fn begin_two_factor(
    State(state): State<AppState>,
    ctx: PageContext,
    auth: AuthUser,
) -> Response {
    let mut page = match security_page(&state, ctx, &auth).await {
        Ok(page) => page,
        Err(err) => return err.into_response(),
    };
    let label = page
        .user
        .email
        .clone()
        .or(page.user.phone.clone())
        .unwrap_or(page.user.display_name.clone());
    match totp::begin(&state, &auth.user_id, &label).await {
        Ok(enrolment) => {
            page.enrolment = Some(enrolment);
            render(&page)
        }
        Err(err) => ApiError::from(err).into_response(),
    }
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    code: String,
    /// The secret shown with the form, so a refused code can show it again.
    #[serde(default)]
    secret: String,
    #[serde(default)]
    otpauth_url: String,
}

pub async fn confirm_two_factor(
    State(state): State<AppState>,
    ctx: PageContext,
    auth: AuthUser,
    client: ClientInfo,
    Form(form): Form<ConfirmForm>,
) -> Response {
    let locale = ctx.locale;
    let result = totp::confirm(&state, &auth.user_id, &form.code, &client).await;
    if result.is_ok() {
        if let Err(err) = sessions::trust_device(&state, &auth.device_id).await {
            return ApiError::from(err).into_response();
        }
    }
    let mut page = match security_page(&state, ctx, &auth).await {
        Ok(page) => page,
        Err(err) => return err.into_response(),
    };
    match result {
        Ok(codes) => {
            page.recovery_codes = codes;
            render(&page)
        }
        Err(err) => {
            let (status, errors) = refused(err, locale);
            page.errors = errors;
            page.errors_for = "enrol".into();
            if !form.secret.is_empty() {
                page.enrolment = Some(Enrolment {
                    qr_svg: crate::qr::svg(&form.otpauth_url),
                    secret: form.secret,
                    otpauth_url: form.otpauth_url,
                });
            }
            render_with_status(status, &page)
        }
    }
}

#[derive(Deserialize)]
pub struct DisableForm {
    password: String,
}

pub async fn disable_two_factor(
    State(state): State<AppState>,
    ctx: PageContext,
    auth: AuthUser,
    client: ClientInfo,
    Form(form): Form<DisableForm>,
) -> Response {
    let locale = ctx.locale;
    let result = match login::recheck_password(&state, &auth.user_id, &form.password).await {
        Ok(()) => totp::disable(&state, &auth.user_id, &client).await,
        Err(err) => Err(err),
    };
    let mut page = match security_page(&state, ctx, &auth).await {
        Ok(page) => page,
        Err(err) => return err.into_response(),
    };
    match result {
        Ok(()) => {
            page.notice = page
                .ctx
                .t("accounts.page.security.two_factor_off_done")
                .to_string();
            render(&page)
        }
        Err(err) => {
            let (status, errors) = refused(err, locale);
            page.errors = errors;
            page.errors_for = "disable".into();
            render_with_status(status, &page)
        }
    }
}

#[derive(Template)]
#[template(path = "settings_devices.html")]
struct DevicesPage {
    ctx: PageContext,
    devices: Vec<DeviceView>,
    errors: FormErrors,
}

pub async fn devices(State(state): State<AppState>, ctx: PageContext, auth: AuthUser) -> Response {
    match sessions::list_devices(&state, &auth.user_id, Some(&auth)).await {
        Ok(devices) => render(&DevicesPage {
            ctx,
            devices,
            errors: FormErrors::none(),
        }),
        Err(err) => ApiError::from(err).into_response(),
    }
}

async fn devices_after(
    state: &AppState,
    ctx: PageContext,
    auth: &AuthUser,
    result: Result<(), crate::AccountError>,
) -> Response {
    let locale = ctx.locale;
    match result {
        Ok(()) => Redirect::to("/settings/devices").into_response(),
        Err(err) => {
            let (status, errors) = refused(err, locale);
            match sessions::list_devices(state, &auth.user_id, Some(auth)).await {
                Ok(devices) => render_with_status(
                    status,
                    &DevicesPage {
                        ctx,
                        devices,
                        errors,
                    },
                ),
                Err(err) => ApiError::from(err).into_response(),
            }
        }
    }
}

#[derive(Deserialize)]
pub struct RenameForm {
    name: String,
}

pub async fn rename_device(
    State(state): State<AppState>,
    ctx: PageContext,
    auth: AuthUser,
    client: ClientInfo,
    Path(id): Path<String>,
    Form(form): Form<RenameForm>,
) -> Response {
    let actor = Actor {
        user_id: &auth.user_id,
        org_id: None,
        client: &client,
    };
    let result = sessions::rename_device(&state, &auth.user_id, &id, &form.name, &actor).await;
    devices_after(&state, ctx, &auth, result).await
}

pub async fn remove_device(
    State(state): State<AppState>,
    ctx: PageContext,
    auth: AuthUser,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Response {
    let actor = Actor {
        user_id: &auth.user_id,
        org_id: None,
        client: &client,
    };
    let result = sessions::remove_device(&state, &auth.user_id, &id, &actor).await;
    if result.is_ok() && id == auth.device_id {
        // This browser was the device: it is logged out now.
        return Redirect::to("/login").into_response();
    }
    devices_after(&state, ctx, &auth, result).await
}

pub async fn remove_session(
    State(state): State<AppState>,
    ctx: PageContext,
    auth: AuthUser,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Response {
    let actor = Actor {
        user_id: &auth.user_id,
        org_id: None,
        client: &client,
    };
    let result = sessions::remove_session(&state, &auth.user_id, &id, &actor).await;
    if result.is_ok() && id == auth.session_id {
        return Redirect::to("/login").into_response();
    }
    devices_after(&state, ctx, &auth, result).await
}
