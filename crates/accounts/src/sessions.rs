//! Devices and sessions. A device is one browser (or app) of one user,
//! recognised by a long-lived random key in the `tram_device` cookie; it is
//! what 2FA trusts and what org admins approve. A session is one login on a
//! device. Removing a device ends its sessions at once: the next request
//! that carries one of them finds nothing and is refused.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sqlx::{AnyConnection, Row};
use tram_platform::audit::{self, kind};
use tram_platform::crypto::{hash_token, random_token};
use tram_platform::db::new_id;
use tram_platform::remembered::Remembered;
use tram_platform::web::ClientInfo;
use tram_platform::AppState;

use crate::error::{AccountError, AccountResult};
use crate::users::User;

/// The logged-in user of a request.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: String,
    pub display_name: String,
    pub locale: String,
    pub is_server_admin: bool,
    pub session_id: String,
    pub device_id: String,
    /// The organisation this session is working in.
    pub org_id: Option<String>,
}

/// How a session was started (shown in the device list and the audit log).
#[derive(Debug, Clone, Copy)]
pub enum LoginMethod {
    Password,
    Qr,
    Registration,
}

impl LoginMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginMethod::Password => "password",
            LoginMethod::Qr => "qr",
            LoginMethod::Registration => "registration",
        }
    }
}

pub struct NewSession {
    /// Give this to the client; it is not stored.
    pub token: String,
    pub session_id: String,
    pub device_id: String,
    pub new_device: bool,
}

/// Finds or registers the device, then starts a session on it, and records
/// both in the audit log. `trusted` marks the device as having passed the
/// second factor.
pub async fn start(
    conn: &mut AnyConnection,
    now: i64,
    ttl_ms: i64,
    user: &User,
    device_key: &str,
    method: LoginMethod,
    client: &ClientInfo,
    trusted: bool,
) -> AccountResult<NewSession> {
    let key_hash = hash_token(device_key);
    let existing = sqlx::query("SELECT id FROM devices WHERE user_id = $1 AND key_hash = $2")
        .bind(&user.id)
        .bind(&key_hash)
        .fetch_optional(&mut *conn)
        .await?;
    let (device_id, new_device) = match existing {
        Some(row) => {
            let id: String = row.try_get("id")?;
            sqlx::query(
                "UPDATE devices SET last_ip = $1, last_active_at = $2, user_agent = $3, \
                 trusted_at = CASE WHEN $4 = 1 AND trusted_at IS NULL THEN $2 ELSE trusted_at END WHERE id = $5",
            )
            .bind(&client.ip)
            .bind(now)
            .bind(&client.user_agent)
            .bind(trusted as i64)
            .bind(&id)
            .execute(&mut *conn)
            .await?;
            (id, false)
        }
        None => {
            let id = new_id();
            let (browser, os) = client.browser_and_os();
            sqlx::query(
                "INSERT INTO devices (id, user_id, key_hash, browser, os, user_agent, first_ip, last_ip, trusted_at, created_at, last_active_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $9)",
            )
            .bind(&id)
            .bind(&user.id)
            .bind(&key_hash)
            .bind(&browser)
            .bind(&os)
            .bind(&client.user_agent)
            .bind(&client.ip)
            .bind(trusted.then_some(now))
            .bind(now)
            .execute(&mut *conn)
            .await?;
            audit::record(
                conn,
                now,
                audit::NewEvent {
                    kind: kind::DEVICE_ADDED,
                    user_id: Some(&user.id),
                    ip: Some(&client.ip),
                    user_agent: Some(&client.user_agent),
                    detail: serde_json::json!({ "device_id": id, "browser": browser, "os": os }),
                    ..Default::default()
                },
            )
            .await?;
            (id, true)
        }
    };
    let token = random_token(32);
    let session_id = new_id();
    sqlx::query(
        "INSERT INTO sessions (id, token_hash, user_id, device_id, method, ip, user_agent, created_at, last_active_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
    )
    .bind(&session_id)
    .bind(hash_token(&token))
    .bind(&user.id)
    .bind(&device_id)
    .bind(method.as_str())
    .bind(&client.ip)
    .bind(&client.user_agent)
    .bind(now)
    .bind(now + ttl_ms)
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        now,
        audit::NewEvent {
            kind: kind::LOGIN_SUCCESS,
            user_id: Some(&user.id),
            ip: Some(&client.ip),
            user_agent: Some(&client.user_agent),
            detail: serde_json::json!({ "method": method.as_str(), "device_id": device_id }),
            ..Default::default()
        },
    )
    .await?;
    Ok(NewSession {
        token,
        session_id,
        device_id,
        new_device,
    })
}

/// What [`resolve`] read about a live session; remembered on a node that
/// is the only one (see `tram_platform::remembered`).
#[derive(Clone)]
struct LiveSession {
    user: AuthUser,
    last_active: i64,
    expires_at: i64,
}

/// Sessions by token hash.
struct KnownSessions(Remembered<String, LiveSession>);

/// How long a node trusts what it read about a session, at most.
const KEEP_SESSION_FOR: Duration = Duration::from_secs(30);

fn known(state: &AppState) -> Arc<KnownSessions> {
    state
        .extensions
        .get_or_init(|| KnownSessions(Remembered::for_db(&state.db, KEEP_SESSION_FOR)))
}

/// Forgets every remembered session: called after a change to sessions
/// or to what a session shows of its user commits.
pub fn forget_known(state: &AppState) {
    known(state).0.forget_all();
}

/// The user behind a session token, if the session is alive. Refreshes the
/// session's and device's "last active" at most once a minute.
pub async fn resolve(state: &AppState, token: &str) -> AccountResult<Option<AuthUser>> {
    let now = state.clock.now_ms();
    let idle_ms = state.config.security.session_idle_days * 86_400_000;
    let hash = hash_token(token);
    let known = known(state);
    let live = match known.0.get(&hash) {
        Some(live) => live,
        None => {
            let since = known.0.generation();
            let Some(live) = read_session(state, &hash).await? else {
                return Ok(None);
            };
            known.0.put(since, hash.clone(), live.clone());
            live
        }
    };
    if now >= live.expires_at || now - live.last_active > idle_ms {
        return Ok(None);
    }
    let session = live.user;
    if now - live.last_active > 60_000 {
        sqlx::query("UPDATE sessions SET last_active_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&session.session_id)
            .execute(state.db.write())
            .await?;
        sqlx::query("UPDATE devices SET last_active_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&session.device_id)
            .execute(state.db.write())
            .await?;
        known.0.update(&hash, |live| live.last_active = now);
    }
    Ok(Some(session))
}

async fn read_session(state: &AppState, token_hash: &str) -> AccountResult<Option<LiveSession>> {
    let row = sqlx::query(
        "SELECT s.id, s.device_id, s.org_id, s.last_active_at, s.expires_at, u.id AS user_id, u.display_name, u.locale, u.is_server_admin \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND u.disabled_at IS NULL",
    )
    .bind(token_hash)
    .fetch_optional(state.db.read())
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(LiveSession {
        user: AuthUser {
            user_id: row.try_get("user_id")?,
            display_name: row.try_get("display_name")?,
            locale: row.try_get("locale")?,
            is_server_admin: row.try_get::<i64, _>("is_server_admin")? != 0,
            session_id: row.try_get("id")?,
            device_id: row.try_get("device_id")?,
            org_id: row.try_get("org_id")?,
        },
        last_active: row.try_get("last_active_at")?,
        expires_at: row.try_get("expires_at")?,
    }))
}

pub async fn set_current_org(
    state: &AppState,
    session_id: &str,
    org_id: &str,
) -> AccountResult<()> {
    sqlx::query("UPDATE sessions SET org_id = $1 WHERE id = $2")
        .bind(org_id)
        .bind(session_id)
        .execute(state.db.write())
        .await?;
    forget_known(state);
    Ok(())
}

/// Ends the caller's own session (log out).
pub async fn end(state: &AppState, session: &AuthUser, client: &ClientInfo) -> AccountResult<()> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query("DELETE FROM sessions WHERE id = $1")
        .bind(&session.session_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        now,
        audit::NewEvent {
            kind: kind::LOGOUT,
            user_id: Some(&session.user_id),
            ip: Some(&client.ip),
            user_agent: Some(&client.user_agent),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    forget_known(state);
    Ok(())
}

/// Whether this browser has passed the user's second factor before.
pub async fn device_trusted(
    state: &AppState,
    user_id: &str,
    device_key: &str,
) -> AccountResult<bool> {
    let row = sqlx::query("SELECT trusted_at FROM devices WHERE user_id = $1 AND key_hash = $2")
        .bind(user_id)
        .bind(hash_token(device_key))
        .fetch_optional(state.db.read())
        .await?;
    Ok(match row {
        Some(row) => row.try_get::<Option<i64>, _>("trusted_at")?.is_some(),
        None => false,
    })
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub id: String,
    pub method: String,
    pub ip: String,
    pub created_at: i64,
    pub last_active_at: i64,
    /// The session making this request.
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeviceView {
    pub id: String,
    /// The name the user gave it, if any.
    pub name: Option<String>,
    pub browser: String,
    pub os: String,
    pub last_ip: String,
    pub created_at: i64,
    pub last_active_at: i64,
    /// Passed the second factor (2FA will not be asked again here).
    pub trusted: bool,
    /// The device making this request.
    pub current: bool,
    pub sessions: Vec<SessionView>,
}

/// A user's devices, most recently active first, each with its sessions.
/// `viewer` marks the caller's own device and session.
pub async fn list_devices(
    state: &AppState,
    user_id: &str,
    viewer: Option<&AuthUser>,
) -> AccountResult<Vec<DeviceView>> {
    let devices = sqlx::query(
        "SELECT id, name, browser, os, last_ip, created_at, last_active_at, trusted_at FROM devices \
         WHERE user_id = $1 ORDER BY last_active_at DESC",
    )
    .bind(user_id)
    .fetch_all(state.db.read())
    .await?;
    let sessions = sqlx::query(
        "SELECT id, device_id, method, ip, created_at, last_active_at FROM sessions \
         WHERE user_id = $1 AND expires_at > $2 ORDER BY last_active_at DESC",
    )
    .bind(user_id)
    .bind(state.clock.now_ms())
    .fetch_all(state.db.read())
    .await?;
    let mut out = Vec::with_capacity(devices.len());
    for row in devices {
        let id: String = row.try_get("id")?;
        let mut views = Vec::new();
        for s in sessions.iter() {
            if s.try_get::<String, _>("device_id")? == id {
                let sid: String = s.try_get("id")?;
                views.push(SessionView {
                    current: viewer.map(|v| v.session_id == sid).unwrap_or(false),
                    id: sid,
                    method: s.try_get("method")?,
                    ip: s.try_get("ip")?,
                    created_at: s.try_get("created_at")?,
                    last_active_at: s.try_get("last_active_at")?,
                });
            }
        }
        out.push(DeviceView {
            current: viewer.map(|v| v.device_id == id).unwrap_or(false),
            name: row.try_get("name")?,
            browser: row.try_get("browser")?,
            os: row.try_get("os")?,
            last_ip: row.try_get("last_ip")?,
            created_at: row.try_get("created_at")?,
            last_active_at: row.try_get("last_active_at")?,
            trusted: row.try_get::<Option<i64>, _>("trusted_at")?.is_some(),
            sessions: views,
            id,
        });
    }
    Ok(out)
}

/// Who is acting on a user's devices: the user, or an admin of their org.
pub struct Actor<'a> {
    pub user_id: &'a str,
    pub org_id: Option<&'a str>,
    pub client: &'a ClientInfo,
}

pub async fn rename_device(
    state: &AppState,
    owner_id: &str,
    device_id: &str,
    name: &str,
    actor: &Actor<'_>,
) -> AccountResult<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(AccountError::InvalidName);
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let updated = sqlx::query("UPDATE devices SET name = $1 WHERE id = $2 AND user_id = $3")
        .bind(name)
        .bind(device_id)
        .bind(owner_id)
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(AccountError::NotFound);
    }
    record_device_event(
        &mut tx,
        now,
        kind::DEVICE_RENAMED,
        owner_id,
        device_id,
        actor,
        serde_json::json!({ "name": name }),
    )
    .await?;
    tx.commit().await?;
    forget_known(state);
    Ok(())
}

/// Forgets a device: its sessions end now and 2FA will be asked again.
pub async fn remove_device(
    state: &AppState,
    owner_id: &str,
    device_id: &str,
    actor: &Actor<'_>,
) -> AccountResult<()> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let ended = sqlx::query("DELETE FROM sessions WHERE device_id = $1 AND user_id = $2")
        .bind(device_id)
        .bind(owner_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let removed = sqlx::query("DELETE FROM devices WHERE id = $1 AND user_id = $2")
        .bind(device_id)
        .bind(owner_id)
        .execute(&mut *tx)
        .await?;
    if removed.rows_affected() == 0 {
        return Err(AccountError::NotFound);
    }
    record_device_event(
        &mut tx,
        now,
        kind::DEVICE_REMOVED,
        owner_id,
        device_id,
        actor,
        serde_json::json!({}),
    )
    .await?;
    if ended > 0 {
        record_device_event(
            &mut tx,
            now,
            kind::REMOTE_LOGOUT,
            owner_id,
            device_id,
            actor,
            serde_json::json!({ "sessions": ended }),
        )
        .await?;
    }
    tx.commit().await?;
    forget_known(state);
    Ok(())
}

/// Ends one session of a user (remote logout of that login only).
pub async fn remove_session(
    state: &AppState,
    owner_id: &str,
    session_id: &str,
    actor: &Actor<'_>,
) -> AccountResult<()> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let row =
        sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2 RETURNING device_id")
            .bind(session_id)
            .bind(owner_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(AccountError::NotFound)?;
    let device_id: String = row.try_get("device_id")?;
    record_device_event(
        &mut tx,
        now,
        kind::REMOTE_LOGOUT,
        owner_id,
        &device_id,
        actor,
        serde_json::json!({ "session_id": session_id }),
    )
    .await?;
    tx.commit().await?;
    forget_known(state);
    Ok(())
}

async fn record_device_event(
    conn: &mut AnyConnection,
    now: i64,
    event: &str,
    owner_id: &str,
    device_id: &str,
    actor: &Actor<'_>,
    mut detail: serde_json::Value,
) -> AccountResult<()> {
    detail["device_id"] = device_id.into();
    audit::record(
        conn,
        now,
        audit::NewEvent {
            kind: event,
            org_id: actor.org_id,
            user_id: Some(owner_id),
            actor_id: Some(actor.user_id),
            ip: Some(&actor.client.ip),
            user_agent: Some(&actor.client.user_agent),
            detail,
        },
    )
    .await?;
    Ok(())
}

/// Marks a device as having passed the second factor.
pub async fn trust_device(state: &AppState, device_id: &str) -> AccountResult<()> {
    sqlx::query("UPDATE devices SET trusted_at = $1 WHERE id = $2 AND trusted_at IS NULL")
        .bind(state.clock.now_ms())
        .bind(device_id)
        .execute(state.db.write())
        .await?;
    Ok(())
}
