//! Logging in: password check with throttling, the second-factor step for
//! devices that have not passed it, and the start of a session. The same
//! answer, taking the same time, whether or not the account exists.

use serde::Serialize;
use sqlx::Row;
use tram_platform::audit::{self, kind};
use tram_platform::crypto::{hash_token, random_token};
use tram_platform::db::new_id;
use tram_platform::web::ClientInfo;
use tram_platform::AppState;

use crate::contact::parse_identifier;
use crate::error::{AccountError, AccountResult};
use crate::sessions::{self, LoginMethod, NewSession};
use crate::throttle;
use crate::totp;
use crate::users::{self, User};

const CHALLENGE_TTL_MS: i64 = 5 * 60_000;
const CHALLENGE_MAX_FAILURES: i64 = 5;

pub enum LoginOutcome {
    LoggedIn {
        user: User,
        session: NewSession,
    },
    /// The password (or QR) was right, but this device must pass 2FA; the
    /// token identifies this half-finished login.
    SecondFactor {
        challenge_token: String,
    },
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LoginResult {
    /// `logged_in` or `second_factor_required`.
    pub status: String,
    /// Session token for clients that do not keep cookies (send it as
    /// `Authorization: Bearer …`). Browsers get it as a cookie as well.
    pub token: Option<String>,
    /// For `second_factor_required`: pass it to `/api/v1/login/2fa`.
    pub challenge_token: Option<String>,
    pub user: Option<User>,
}

pub fn passwords(state: &AppState) -> crate::password::Passwords {
    let s = &state.config.security;
    crate::password::Passwords::shared(s.argon2_memory_kib, s.argon2_iterations, s.argon2_lanes)
}

pub async fn with_password(
    state: &AppState,
    identifier: &str,
    password: &str,
    device_key: &str,
    client: &ClientInfo,
) -> AccountResult<LoginOutcome> {
    let contact = parse_identifier(identifier).map_err(|_| AccountError::BadCredentials)?;
    let account_key = throttle::account_key(state, contact.value());
    let ip_key = throttle::ip_key(&client.ip);
    throttle::check(state, &[&account_key, &ip_key]).await?;

    let found = users::find_for_login(&state.db, &contact).await?;
    let stored_hash = found.as_ref().and_then(|(_, hash)| hash.as_deref());
    let ok = passwords(state).verify(password, stored_hash).await;
    let user = match found {
        Some((user, _)) if ok => user,
        other => {
            let user_id = other.map(|(user, _)| user.id);
            record_failure(
                state,
                &contact,
                &account_key,
                &ip_key,
                user_id.as_deref(),
                client,
            )
            .await?;
            return Err(AccountError::BadCredentials);
        }
    };
    throttle::clear(state, &account_key).await?;
    complete(state, user, LoginMethod::Password, device_key, client).await
}

async fn record_failure(
    state: &AppState,
    contact: &crate::contact::Contact,
    account_key: &str,
    ip_key: &str,
    user_id: Option<&str>,
    client: &ClientInfo,
) -> AccountResult<()> {
    let rules = &state.config.security;
    let locked =
        throttle::record_failure(state, account_key, rules.login_failures_before_lock).await?;
    throttle::record_failure(state, ip_key, rules.login_failures_per_ip_before_lock).await?;
    let now = state.clock.now_ms();
    let mut conn = state.db.write().acquire().await?;
    let event = |kind, detail| audit::NewEvent {
        kind,
        user_id,
        ip: Some(&client.ip),
        user_agent: Some(&client.user_agent),
        detail,
        ..Default::default()
    };
    let masked = tram_platform::notify::mask_destination(contact.value());
    audit::record(
        &mut conn,
        now,
        event(
            kind::LOGIN_FAILURE,
            serde_json::json!({ "method": "password", "to": masked }),
        ),
    )
    .await?;
    if let Some(until) = locked {
        audit::record(
            &mut conn,
            now,
            event(kind::LOGIN_LOCKED, serde_json::json!({ "until": until })),
        )
        .await?;
    }
    Ok(())
}

/// After the first factor: asks for the second where needed, else starts
/// the session.
pub async fn complete(
    state: &AppState,
    user: User,
    method: LoginMethod,
    device_key: &str,
    client: &ClientInfo,
) -> AccountResult<LoginOutcome> {
    let now = state.clock.now_ms();
    if user.two_factor_enabled && !sessions::device_trusted(state, &user.id, device_key).await? {
        let token = random_token(32);
        sqlx::query(
            "INSERT INTO login_challenges (id, token_hash, user_id, method, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(new_id())
        .bind(hash_token(&token))
        .bind(&user.id)
        .bind(method.as_str())
        .bind(now)
        .bind(now + CHALLENGE_TTL_MS)
        .execute(state.db.write())
        .await?;
        return Ok(LoginOutcome::SecondFactor {
            challenge_token: token,
        });
    }
    let session = start_session(state, &user, method, device_key, client, false).await?;
    Ok(LoginOutcome::LoggedIn { user, session })
}

pub async fn start_session(
    state: &AppState,
    user: &User,
    method: LoginMethod,
    device_key: &str,
    client: &ClientInfo,
    trusted: bool,
) -> AccountResult<NewSession> {
    let now = state.clock.now_ms();
    let ttl = state.config.security.session_ttl_days * 86_400_000;
    let mut tx = state.db.begin().await?;
    let session =
        sessions::start(&mut tx, now, ttl, user, device_key, method, client, trusted).await?;
    tx.commit().await?;
    Ok(session)
}

/// The second step: a TOTP code or a recovery code for the challenge.
pub async fn second_factor(
    state: &AppState,
    challenge_token: &str,
    code: &str,
    device_key: &str,
    client: &ClientInfo,
) -> AccountResult<(User, NewSession)> {
    let now = state.clock.now_ms();
    let row = sqlx::query("SELECT id, user_id, method, failed_attempts, expires_at FROM login_challenges WHERE token_hash = $1")
        .bind(hash_token(challenge_token))
        .fetch_optional(state.db.read())
        .await?
        .ok_or(AccountError::ChallengeExpired)?;
    let id: String = row.try_get("id")?;
    let user_id: String = row.try_get("user_id")?;
    let method: String = row.try_get("method")?;
    if now >= row.try_get::<i64, _>("expires_at")?
        || row.try_get::<i64, _>("failed_attempts")? >= CHALLENGE_MAX_FAILURES
    {
        return Err(AccountError::ChallengeExpired);
    }
    if let Err(err) = totp::verify_any(state, &user_id, code, client).await {
        sqlx::query(
            "UPDATE login_challenges SET failed_attempts = failed_attempts + 1 WHERE id = $1",
        )
        .bind(&id)
        .execute(state.db.write())
        .await?;
        return Err(err);
    }
    let used = sqlx::query("DELETE FROM login_challenges WHERE id = $1")
        .bind(&id)
        .execute(state.db.write())
        .await?;
    if used.rows_affected() != 1 {
        return Err(AccountError::ChallengeExpired);
    }
    let user = users::get(&state.db, &user_id).await?;
    let method = match method.as_str() {
        "qr" => LoginMethod::Qr,
        _ => LoginMethod::Password,
    };
    let session = start_session(state, &user, method, device_key, client, true).await?;
    Ok((user, session))
}

/// Checks the password of a logged-in user again (before a sensitive
/// change). Wrong answers count towards the account's lock like logins.
pub async fn recheck_password(
    state: &AppState,
    user_id: &str,
    password: &str,
) -> AccountResult<()> {
    let key = format!("user:{user_id}");
    throttle::check(state, &[&key]).await?;
    let stored = users::password_hash(&state.db, user_id).await?;
    if !passwords(state).verify(password, stored.as_deref()).await {
        throttle::record_failure(
            state,
            &key,
            state.config.security.login_failures_before_lock,
        )
        .await?;
        return Err(AccountError::BadCredentials);
    }
    Ok(())
}

/// Changes the password of a logged-in user; their other sessions end.
pub async fn change_password(
    state: &AppState,
    auth: &sessions::AuthUser,
    current: &str,
    new: &str,
    client: &ClientInfo,
) -> AccountResult<()> {
    crate::password::Passwords::check_policy(new)?;
    recheck_password(state, &auth.user_id, current).await?;
    let hash = passwords(state).hash(new).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    users::set_password_hash(&mut tx, now, &auth.user_id, &hash).await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
        .bind(&auth.user_id)
        .bind(&auth.session_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        now,
        password_event(&auth.user_id, client, "change"),
    )
    .await?;
    tx.commit().await?;
    crate::sessions::forget_known(state);
    Ok(())
}

/// Sets a new password with a reset code; every session of the account ends.
pub async fn reset_password(
    state: &AppState,
    contact: &crate::contact::Contact,
    code: &str,
    new: &str,
    client: &ClientInfo,
) -> AccountResult<()> {
    crate::password::Passwords::check_policy(new)?;
    crate::codes::consume(
        state,
        crate::codes::Purpose::ResetPassword,
        contact.value(),
        code,
        client,
    )
    .await?;
    let (user, _) = users::find_for_login(&state.db, contact)
        .await?
        .ok_or(AccountError::CodeInvalid)?;
    let hash = passwords(state).hash(new).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    users::set_password_hash(&mut tx, now, &user.id, &hash).await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(&user.id)
        .execute(&mut *tx)
        .await?;
    audit::record(&mut tx, now, password_event(&user.id, client, "reset")).await?;
    tx.commit().await?;
    crate::sessions::forget_known(state);
    throttle::clear(state, &throttle::account_key(state, contact.value())).await?;
    Ok(())
}

fn password_event<'a>(user_id: &'a str, client: &'a ClientInfo, how: &str) -> audit::NewEvent<'a> {
    audit::NewEvent {
        kind: kind::PASSWORD_CHANGED,
        user_id: Some(user_id),
        ip: Some(&client.ip),
        user_agent: Some(&client.user_agent),
        detail: serde_json::json!({ "how": how }),
        ..Default::default()
    }
}
