//! The accounts JSON API under `/api/v1/`. Handlers are thin: parse, call
//! the service, shape the answer (and set cookies for browsers).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use axum_extra::extract::cookie::CookieJar;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tram_platform::error::ErrorBody;
use tram_platform::i18n::Locale;
use tram_platform::web::{cookies, ClientInfo};
use tram_platform::{ApiResult, AppState};
use utoipa::{OpenApi, ToSchema};

use super::auth::{device_cookie, device_key, login_cookies};
use crate::codes::{self, CodeSent, Purpose};
use crate::contact::{parse_email, parse_mobile, Channel, Contact};
use crate::login::{self, LoginOutcome, LoginResult};
use crate::qr::{self, NewTicket, ScanView, TicketStatus};
use crate::sessions::{self, Actor, AuthUser, DeviceView};
use crate::totp::{self, Enrolment};
use crate::users::{self, User};
use crate::AccountError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/codes", post(send_code))
        .route("/api/v1/login", post(password_login))
        .route("/api/v1/login/2fa", post(second_factor))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/password/reset", post(reset_password))
        .route("/api/v1/me", get(me).patch(update_me))
        .route("/api/v1/me/password", post(change_password))
        .route("/api/v1/qr/tickets", post(create_ticket))
        .route("/api/v1/qr/tickets/{id}", get(ticket_status))
        .route("/api/v1/qr/tickets/{id}/events", get(ticket_events))
        .route("/api/v1/qr/tickets/{id}/login", post(ticket_login))
        .route(
            "/api/v1/qr/scan/{token}",
            get(scan_ticket).post(decide_ticket),
        )
        .route("/api/v1/2fa/totp/enroll", post(totp_enroll))
        .route("/api/v1/2fa/totp/confirm", post(totp_confirm))
        .route("/api/v1/2fa/totp/disable", post(totp_disable))
        .route("/api/v1/devices", get(list_devices))
        .route(
            "/api/v1/devices/{id}",
            patch(rename_device).delete(remove_device),
        )
        .route("/api/v1/sessions/{id}", delete(remove_session))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        send_code, password_login, second_factor, logout, reset_password, me, update_me, change_password,
        create_ticket, ticket_status, ticket_events, ticket_login, scan_ticket, decide_ticket,
        totp_enroll, totp_confirm, totp_disable, list_devices, rename_device, remove_device, remove_session
    ),
    components(schemas(ErrorBody, User, CodeSent, LoginResult, NewTicket, TicketStatus, ScanView, Enrolment, DeviceView, Channel, Purpose)),
    tags((name = "accounts", description = "Verification codes, login (password, QR, 2FA), devices and sessions"))
)]
pub struct AccountsApi;

#[derive(Debug, Deserialize, ToSchema)]
pub struct SendCodeRequest {
    pub purpose: Purpose,
    /// `sms` (needs a mobile number) or `email`.
    pub channel: Channel,
    /// The mobile number (any common spelling; +852 assumed) or e-mail.
    pub destination: String,
}

/// Parses a destination for the given channel (a phone for SMS, an e-mail
/// address for e-mail).
pub fn parse_destination(channel: Channel, destination: &str) -> Result<Contact, AccountError> {
    match channel {
        Channel::Sms => parse_mobile(destination).map(Contact::Phone),
        Channel::Email => parse_email(destination).map(Contact::Email),
    }
}

/// Send a 6-digit verification code by SMS or e-mail.
///
/// The answer is the same whether or not an account exists at the
/// destination. Limits: one code per 60 s per destination, 5 per hour per
/// destination, 30 per hour per client address.
#[utoipa::path(post, path = "/api/v1/codes", tag = "accounts", request_body = SendCodeRequest,
    responses((status = 200, body = CodeSent), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn send_code(
    State(state): State<AppState>,
    locale: LocaleExt,
    client: ClientInfo,
    Json(body): Json<SendCodeRequest>,
) -> ApiResult<Json<CodeSent>> {
    let contact = parse_destination(body.channel, &body.destination)?;
    Ok(Json(
        codes::send(&state, body.purpose, &contact, locale.0, &client).await?,
    ))
}

/// The request's locale as an extractor.
pub struct LocaleExt(pub Locale);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for LocaleExt {
    type Rejection = Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Infallible> {
        Ok(LocaleExt(
            parts
                .extensions
                .get::<Locale>()
                .copied()
                .unwrap_or_default(),
        ))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Mobile number or e-mail address.
    pub identifier: String,
    pub password: String,
}

/// Turns a login outcome into the JSON answer plus cookies.
pub fn login_response(
    state: &AppState,
    jar: CookieJar,
    headers: &HeaderMap,
    outcome: LoginOutcome,
) -> Response {
    let device = device_key(headers);
    match outcome {
        LoginOutcome::LoggedIn { user, session } => {
            let jar = login_cookies(state, jar, &session, &device, &user.locale);
            let body = LoginResult {
                status: "logged_in".into(),
                token: Some(session.token),
                challenge_token: None,
                user: Some(user),
            };
            (jar, Json(body)).into_response()
        }
        LoginOutcome::SecondFactor { challenge_token } => {
            let jar = device_cookie(state, jar, &device).add(cookies::build(
                cookies::MFA,
                challenge_token.clone(),
                Some(300),
                state.config.secure_cookies(),
            ));
            let body = LoginResult {
                status: "second_factor_required".into(),
                token: None,
                challenge_token: Some(challenge_token),
                user: None,
            };
            (jar, Json(body)).into_response()
        }
    }
}

/// Log in with a mobile number or e-mail address and a password.
///
/// Wrong account and wrong password give the same answer. After 5 failures
/// the account is locked for a minute, doubling with each further failure
/// (up to an hour). With 2FA on and an untrusted device the answer is
/// `second_factor_required` with a `challenge_token`.
#[utoipa::path(post, path = "/api/v1/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = LoginResult), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn password_login(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    jar: CookieJar,
    Json(body): Json<LoginRequest>,
) -> ApiResult<Response> {
    let device = device_key(&headers);
    let outcome = login::with_password(
        &state,
        &body.identifier,
        &body.password,
        &device.key,
        &client,
    )
    .await?;
    Ok(login_response(&state, jar, &headers, outcome))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SecondFactorRequest {
    /// A 6-digit TOTP code or a recovery code (`xxxx-xxxx`).
    pub code: String,
    /// From the login answer; browsers may rely on the `tram_mfa` cookie.
    pub challenge_token: Option<String>,
}

/// Finish a login with the second factor. The device is then trusted.
#[utoipa::path(post, path = "/api/v1/login/2fa", tag = "accounts", request_body = SecondFactorRequest,
    responses((status = 200, body = LoginResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn second_factor(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    jar: CookieJar,
    Json(body): Json<SecondFactorRequest>,
) -> ApiResult<Response> {
    let token = body
        .challenge_token
        .or_else(|| jar.get(cookies::MFA).map(|c| c.value().to_string()))
        .ok_or(AccountError::ChallengeExpired)?;
    let device = device_key(&headers);
    let (user, session) =
        login::second_factor(&state, &token, &body.code, &device.key, &client).await?;
    Ok(login_response(
        &state,
        jar,
        &headers,
        LoginOutcome::LoggedIn { user, session },
    ))
}

#[derive(Serialize, ToSchema)]
pub struct Done {
    pub ok: bool,
}

fn done() -> Json<Done> {
    Json(Done { ok: true })
}

/// End this session.
#[utoipa::path(post, path = "/api/v1/logout", tag = "accounts", responses((status = 200, body = Done), (status = 401, body = ErrorBody)))]
async fn logout(
    State(state): State<AppState>,
    user: AuthUser,
    client: ClientInfo,
    jar: CookieJar,
) -> ApiResult<Response> {
    sessions::end(&state, &user, &client).await?;
    Ok((jar.remove(cookies::removal(cookies::SESSION)), done()).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetPasswordRequest {
    pub channel: Channel,
    pub destination: String,
    pub code: String,
    pub new_password: String,
}

/// Set a new password with a `reset_password` code. Every session of the
/// account ends.
#[utoipa::path(post, path = "/api/v1/password/reset", tag = "accounts", request_body = ResetPasswordRequest,
    responses((status = 200, body = Done), (status = 400, body = ErrorBody)))]
async fn reset_password(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<ResetPasswordRequest>,
) -> ApiResult<Json<Done>> {
    let contact = parse_destination(body.channel, &body.destination)?;
    crate::login::reset_password(&state, &contact, &body.code, &body.new_password, &client).await?;
    Ok(done())
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub user: User,
    /// The organisation this session works in.
    pub org_id: Option<String>,
    pub session_id: String,
    pub device_id: String,
}

/// The logged-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, auth: AuthUser) -> ApiResult<Json<Me>> {
    let user = users::get(&state.db, &auth.user_id).await?;
    Ok(Json(Me {
        user,
        org_id: auth.org_id,
        session_id: auth.session_id,
        device_id: auth.device_id,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateMe {
    pub display_name: String,
    /// `zh-HK`, `en` or `zh-CN`.
    pub locale: String,
}

/// Change display name and language.
#[utoipa::path(patch, path = "/api/v1/me", tag = "accounts", request_body = UpdateMe, responses((status = 200, body = User), (status = 400, body = ErrorBody)))]
async fn update_me(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(body): Json<UpdateMe>,
) -> ApiResult<Json<User>> {
    users::update_profile(
        &state,
        state.clock.now_ms(),
        &auth.user_id,
        &body.display_name,
        &body.locale,
    )
    .await?;
    Ok(Json(users::get(&state.db, &auth.user_id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

/// Change the password (the current one is checked). Other sessions end.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "accounts", request_body = ChangePassword, responses((status = 200, body = Done), (status = 400, body = ErrorBody)))]
async fn change_password(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientInfo,
    Json(body): Json<ChangePassword>,
) -> ApiResult<Json<Done>> {
    crate::login::change_password(
        &state,
        &auth,
        &body.current_password,
        &body.new_password,
        &client,
    )
    .await?;
    Ok(done())
}

/// Start a QR login: returns the ticket and its QR code, and binds it to
/// this browser (the `tram_qr` cookie).
#[utoipa::path(post, path = "/api/v1/qr/tickets", tag = "accounts", responses((status = 200, body = NewTicket)))]
async fn create_ticket(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
) -> ApiResult<Response> {
    let ticket = qr::create(&state, &client).await?;
    let ttl = state.config.security.qr_ticket_ttl_secs;
    let jar = jar.add(cookies::build(
        cookies::QR,
        ticket.browser_key.clone(),
        Some(ttl),
        state.config.secure_cookies(),
    ));
    Ok((jar, Json(ticket)).into_response())
}

fn browser_key(headers: &HeaderMap, jar: &CookieJar) -> Result<String, AccountError> {
    headers
        .get("x-qr-browser-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| jar.get(cookies::QR).map(|c| c.value().to_string()))
        .ok_or(AccountError::QrWrongBrowser)
}

/// Poll a QR ticket (only the browser that created it may).
#[utoipa::path(get, path = "/api/v1/qr/tickets/{id}", tag = "accounts", params(("id" = String, Path)),
    responses((status = 200, body = TicketStatus), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn ticket_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
) -> ApiResult<Json<TicketStatus>> {
    let key = browser_key(&headers, &jar)?;
    Ok(Json(qr::status(&state, &id, &key).await?))
}

/// Server-sent events for a QR ticket: an event `status` with the new
/// status (`scanned`, `confirmed`, `rejected`, `expired`) whenever it
/// changes. The stream ends when the ticket is decided or expires.
#[utoipa::path(get, path = "/api/v1/qr/tickets/{id}/events", tag = "accounts", params(("id" = String, Path)),
    responses((status = 200, description = "text/event-stream of `status` events"), (status = 403, body = ErrorBody)))]
async fn ticket_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
) -> ApiResult<Response> {
    let key = browser_key(&headers, &jar)?;
    // Checked once up front so a wrong browser gets a clear refusal.
    qr::status(&state, &id, &key).await?;
    let hints = state.bus.subscribe(&qr::topic(&id)).await;
    let watch = TicketWatch {
        state: state.clone(),
        id,
        key,
        last: String::new(),
        done: false,
        hints,
    };
    let stream = futures::stream::unfold(watch, |mut w| async move {
        if w.done {
            return None;
        }
        loop {
            let status = match qr::status(&w.state, &w.id, &w.key).await {
                Ok(s) => s.status,
                Err(_) => "expired".to_string(),
            };
            if status != w.last {
                w.done = matches!(
                    status.as_str(),
                    "confirmed" | "rejected" | "expired" | "used"
                );
                w.last = status.clone();
                return Some((
                    Ok::<_, Infallible>(Event::default().event("status").data(status)),
                    w,
                ));
            }
            // The bus is a hint; the database is read again after each hint
            // or every half second, so a lost hint costs at most that.
            tokio::select! {
                _ = tokio::time::timeout(Duration::from_millis(500), w.hints.next()) => {}
                _ = w.state.shutdown.wait() => return None,
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

struct TicketWatch {
    state: AppState,
    id: String,
    key: String,
    last: String,
    done: bool,
    hints: futures::stream::BoxStream<'static, bytes::Bytes>,
}

/// Exchange a confirmed QR ticket for a session (once, from the browser
/// that created it).
#[utoipa::path(post, path = "/api/v1/qr/tickets/{id}/login", tag = "accounts", params(("id" = String, Path)),
    responses((status = 200, body = LoginResult), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 410, body = ErrorBody)))]
async fn ticket_login(
    State(state): State<AppState>,
    Path(id): Path<String>,
    client: ClientInfo,
    headers: HeaderMap,
    jar: CookieJar,
) -> ApiResult<Response> {
    let key = browser_key(&headers, &jar)?;
    let device = device_key(&headers);
    let outcome = qr::exchange(&state, &id, &key, &device.key, &client).await?;
    let jar = jar.remove(cookies::removal(cookies::QR));
    Ok(login_response(&state, jar, &headers, outcome))
}

/// The phone's view of a scanned QR code (requires the phone to be logged in).
#[utoipa::path(get, path = "/api/v1/qr/scan/{token}", tag = "accounts", params(("token" = String, Path)),
    responses((status = 200, body = ScanView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn scan_ticket(
    State(state): State<AppState>,
    _phone: AuthUser,
    Path(token): Path<String>,
) -> ApiResult<Json<ScanView>> {
    Ok(Json(qr::scan(&state, &token).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Decision {
    /// `true` to log the browser in, `false` to refuse.
    pub approve: bool,
}

/// Confirm or reject a QR login from the logged-in phone.
#[utoipa::path(post, path = "/api/v1/qr/scan/{token}", tag = "accounts", params(("token" = String, Path)), request_body = Decision,
    responses((status = 200, body = Done), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 410, body = ErrorBody)))]
async fn decide_ticket(
    State(state): State<AppState>,
    phone: AuthUser,
    client: ClientInfo,
    Path(token): Path<String>,
    Json(body): Json<Decision>,
) -> ApiResult<Json<Done>> {
    qr::decide(&state, &token, &phone, body.approve, &client).await?;
    Ok(done())
}

/// Start TOTP enrolment: a new secret, its otpauth URL and QR code.
#[utoipa::path(post, path = "/api/v1/2fa/totp/enroll", tag = "accounts", responses((status = 200, body = Enrolment), (status = 409, body = ErrorBody)))]
async fn totp_enroll(State(state): State<AppState>, auth: AuthUser) -> ApiResult<Json<Enrolment>> {
    let user = users::get(&state.db, &auth.user_id).await?;
    let label = user
        .email
        .clone()
        .or(user.phone.clone())
        .unwrap_or(user.display_name.clone());
    Ok(Json(totp::begin(&state, &auth.user_id, &label).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TotpCode {
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Shown once: each works once instead of a TOTP code.
    pub recovery_codes: Vec<String>,
}

/// Finish enrolment with a code from the authenticator app; turns 2FA on
/// and returns 10 recovery codes. This device becomes trusted.
#[utoipa::path(post, path = "/api/v1/2fa/totp/confirm", tag = "accounts", request_body = TotpCode,
    responses((status = 200, body = RecoveryCodes), (status = 400, body = ErrorBody)))]
async fn totp_confirm(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientInfo,
    Json(body): Json<TotpCode>,
) -> ApiResult<Json<RecoveryCodes>> {
    let codes = totp::confirm(&state, &auth.user_id, &body.code, &client).await?;
    sessions::trust_device(&state, &auth.device_id).await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordCheck {
    pub password: String,
}

/// Turn 2FA off (the password is checked again).
#[utoipa::path(post, path = "/api/v1/2fa/totp/disable", tag = "accounts", request_body = PasswordCheck,
    responses((status = 200, body = Done), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn totp_disable(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientInfo,
    Json(body): Json<PasswordCheck>,
) -> ApiResult<Json<Done>> {
    crate::login::recheck_password(&state, &auth.user_id, &body.password).await?;
    totp::disable(&state, &auth.user_id, &client).await?;
    Ok(done())
}

/// My devices, each with its sessions.
#[utoipa::path(get, path = "/api/v1/devices", tag = "accounts", responses((status = 200, body = Vec<DeviceView>), (status = 401, body = ErrorBody)))]
async fn list_devices(
    State(state): State<AppState>,
    auth: AuthUser,
) -> ApiResult<Json<Vec<DeviceView>>> {
    Ok(Json(
        sessions::list_devices(&state, &auth.user_id, Some(&auth)).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RenameDevice {
    pub name: String,
}

/// Rename one of my devices.
#[utoipa::path(patch, path = "/api/v1/devices/{id}", tag = "accounts", params(("id" = String, Path)), request_body = RenameDevice,
    responses((status = 200, body = Done), (status = 404, body = ErrorBody)))]
async fn rename_device(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientInfo,
    Path(id): Path<String>,
    Json(body): Json<RenameDevice>,
) -> ApiResult<Json<Done>> {
    let actor = Actor {
        user_id: &auth.user_id,
        org_id: None,
        client: &client,
    };
    sessions::rename_device(&state, &auth.user_id, &id, &body.name, &actor).await?;
    Ok(done())
}

/// Remove one of my devices: its sessions end at once (remote logout).
#[utoipa::path(delete, path = "/api/v1/devices/{id}", tag = "accounts", params(("id" = String, Path)),
    responses((status = 200, body = Done), (status = 404, body = ErrorBody)))]
async fn remove_device(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientInfo,
    Path(id): Path<String>,
) -> ApiResult<Json<Done>> {
    let actor = Actor {
        user_id: &auth.user_id,
        org_id: None,
        client: &client,
    };
    sessions::remove_device(&state, &auth.user_id, &id, &actor).await?;
    Ok(done())
}

/// End one of my sessions.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "accounts", params(("id" = String, Path)),
    responses((status = 200, body = Done), (status = 404, body = ErrorBody)))]
async fn remove_session(
    State(state): State<AppState>,
    auth: AuthUser,
    client: ClientInfo,
    Path(id): Path<String>,
) -> ApiResult<Json<Done>> {
    let actor = Actor {
        user_id: &auth.user_id,
        org_id: None,
        client: &client,
    };
    sessions::remove_session(&state, &auth.user_id, &id, &actor).await?;
    Ok(done())
}
