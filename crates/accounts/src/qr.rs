//! Logging in by QR code (掃碼登入). The login page asks for a ticket and
//! shows a QR code of its scan URL; a phone that is already logged in opens
//! that URL, sees which browser is asking, from where and when, and confirms
//! or rejects. The waiting browser hears of the decision over the bus (SSE)
//! and exchanges the ticket for a session. A ticket lives two minutes,
//! works once, and only for the browser that asked for it (which holds a
//! key in the `tram_qr` cookie that the phone never sees).

use serde::Serialize;
use sqlx::Row;
use tram_platform::audit::{self, kind};
use tram_platform::crypto::{constant_time_eq, hash_token, random_token};
use tram_platform::db::new_id;
use tram_platform::web::{client::browser_and_os, ClientInfo};
use tram_platform::AppState;

use crate::error::{AccountError, AccountResult};
use crate::login::{self, LoginOutcome};
use crate::sessions::{AuthUser, LoginMethod};

pub fn svg(data: &str) -> String {
    qrcode::QrCode::new(data.as_bytes())
        .map(|code| {
            code.render::<qrcode::render::svg::Color>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default()
}

pub fn topic(ticket_id: &str) -> String {
    format!("qr.{ticket_id}")
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NewTicket {
    pub ticket_id: String,
    /// What the QR code encodes: the phone opens this page.
    pub scan_url: String,
    pub qr_svg: String,
    pub expires_at: i64,
    /// Proof that a later request comes from the browser that asked; sent
    /// back as the `tram_qr` cookie or the `X-QR-Browser-Key` header.
    pub browser_key: String,
}

pub async fn create(state: &AppState, client: &ClientInfo) -> AccountResult<NewTicket> {
    let now = state.clock.now_ms();
    let id = new_id();
    let scan_token = random_token(24);
    let browser_key = random_token(24);
    let expires_at = now + state.config.security.qr_ticket_ttl_secs * 1000;
    sqlx::query(
        "INSERT INTO qr_tickets (id, scan_token_hash, browser_key_hash, ip, user_agent, status, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)",
    )
    .bind(&id)
    .bind(hash_token(&scan_token))
    .bind(hash_token(&browser_key))
    .bind(&client.ip)
    .bind(&client.user_agent)
    .bind(now)
    .bind(expires_at)
    .execute(state.db.write())
    .await?;
    let scan_url = format!("{}/qr/{}", state.config.public_url(), scan_token);
    Ok(NewTicket {
        ticket_id: id,
        qr_svg: svg(&scan_url),
        scan_url,
        expires_at,
        browser_key,
    })
}

/// Where a ticket stands, as its browser sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TicketStatus {
    /// `pending`, `scanned`, `confirmed`, `rejected`, `expired` or `used`.
    pub status: String,
    pub expires_at: i64,
}

struct Ticket {
    id: String,
    browser_key_hash: String,
    status: String,
    user_id: Option<String>,
    ip: String,
    user_agent: String,
    created_at: i64,
    expires_at: i64,
}

async fn load(state: &AppState, column: &str, value: &str) -> AccountResult<Ticket> {
    let row = sqlx::query(&format!(
        "SELECT id, browser_key_hash, status, user_id, ip, user_agent, created_at, expires_at FROM qr_tickets WHERE {column} = $1"
    ))
    .bind(value)
    .fetch_optional(state.db.read())
    .await?
    .ok_or(AccountError::NotFound)?;
    Ok(Ticket {
        id: row.try_get("id")?,
        browser_key_hash: row.try_get("browser_key_hash")?,
        status: row.try_get("status")?,
        user_id: row.try_get("user_id")?,
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn effective_status(ticket: &Ticket, now: i64) -> String {
    let open = matches!(ticket.status.as_str(), "pending" | "scanned" | "confirmed");
    if open && now >= ticket.expires_at {
        "expired".into()
    } else {
        ticket.status.clone()
    }
}

async fn load_for_browser(
    state: &AppState,
    ticket_id: &str,
    browser_key: &str,
) -> AccountResult<Ticket> {
    let ticket = load(state, "id", ticket_id).await?;
    if !constant_time_eq(&ticket.browser_key_hash, &hash_token(browser_key)) {
        return Err(AccountError::QrWrongBrowser);
    }
    Ok(ticket)
}

pub async fn status(
    state: &AppState,
    ticket_id: &str,
    browser_key: &str,
) -> AccountResult<TicketStatus> {
    let ticket = load_for_browser(state, ticket_id, browser_key).await?;
    Ok(TicketStatus {
        status: effective_status(&ticket, state.clock.now_ms()),
        expires_at: ticket.expires_at,
    })
}

/// What the phone is shown before it decides.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScanView {
    pub browser: String,
    pub os: String,
    pub ip: String,
    pub requested_at: i64,
    pub expires_at: i64,
    pub status: String,
}

/// The phone opened the scan URL: show it the request, and tell the
/// waiting browser that it was scanned.
pub async fn scan(state: &AppState, scan_token: &str) -> AccountResult<ScanView> {
    let ticket = load(state, "scan_token_hash", &hash_token(scan_token)).await?;
    let now = state.clock.now_ms();
    let status = effective_status(&ticket, now);
    if status == "pending" {
        sqlx::query(
            "UPDATE qr_tickets SET status = 'scanned' WHERE id = $1 AND status = 'pending'",
        )
        .bind(&ticket.id)
        .execute(state.db.write())
        .await?;
        state
            .bus
            .publish(&topic(&ticket.id), b"scanned".to_vec())
            .await;
    }
    let (browser, os) = browser_and_os(&ticket.user_agent);
    Ok(ScanView {
        browser,
        os,
        ip: ticket.ip,
        requested_at: ticket.created_at,
        expires_at: ticket.expires_at,
        status: if status == "pending" {
            "scanned".into()
        } else {
            status
        },
    })
}

/// The logged-in phone confirms (or rejects) the login.
pub async fn decide(
    state: &AppState,
    scan_token: &str,
    phone: &AuthUser,
    approve: bool,
    client: &ClientInfo,
) -> AccountResult<()> {
    let ticket = load(state, "scan_token_hash", &hash_token(scan_token)).await?;
    let now = state.clock.now_ms();
    match effective_status(&ticket, now).as_str() {
        "pending" | "scanned" => {}
        "expired" => return Err(AccountError::QrExpired),
        _ => return Err(AccountError::QrUsed),
    }
    let new_status = if approve { "confirmed" } else { "rejected" };
    let mut tx = state.db.begin().await?;
    let changed = sqlx::query(
        "UPDATE qr_tickets SET status = $1, user_id = $2, decided_at = $3 \
         WHERE id = $4 AND status IN ('pending', 'scanned') AND expires_at > $3",
    )
    .bind(new_status)
    .bind(&phone.user_id)
    .bind(now)
    .bind(&ticket.id)
    .execute(&mut *tx)
    .await?;
    if changed.rows_affected() != 1 {
        return Err(AccountError::QrUsed);
    }
    let (browser, os) = browser_and_os(&ticket.user_agent);
    audit::record(
        &mut tx,
        now,
        audit::NewEvent {
            kind: if approve {
                kind::QR_CONFIRMED
            } else {
                kind::QR_REJECTED
            },
            user_id: Some(&phone.user_id),
            ip: Some(&client.ip),
            user_agent: Some(&client.user_agent),
            detail: serde_json::json!({ "browser": browser, "os": os, "browser_ip": ticket.ip }),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    state
        .bus
        .publish(&topic(&ticket.id), new_status.as_bytes().to_vec())
        .await;
    Ok(())
}

/// The waiting browser trades its confirmed ticket for a session (once).
pub async fn exchange(
    state: &AppState,
    ticket_id: &str,
    browser_key: &str,
    device_key: &str,
    client: &ClientInfo,
) -> AccountResult<LoginOutcome> {
    let ticket = load_for_browser(state, ticket_id, browser_key).await?;
    let now = state.clock.now_ms();
    match effective_status(&ticket, now).as_str() {
        "confirmed" => {}
        "pending" | "scanned" => return Err(AccountError::QrPending),
        "rejected" => return Err(AccountError::QrRejected),
        "expired" => return Err(AccountError::QrExpired),
        _ => return Err(AccountError::QrUsed),
    }
    let used = sqlx::query(
        "UPDATE qr_tickets SET status = 'used', consumed_at = $1 WHERE id = $2 AND status = 'confirmed' AND expires_at > $1",
    )
    .bind(now)
    .bind(&ticket.id)
    .execute(state.db.write())
    .await?;
    if used.rows_affected() != 1 {
        return Err(AccountError::QrUsed);
    }
    let user_id = ticket.user_id.ok_or(AccountError::QrUsed)?;
    let user = crate::users::get(&state.db, &user_id).await?;
    login::complete(state, user, LoginMethod::Qr, device_key, client).await
}
