//! Two-factor authentication with TOTP (RFC 6238: SHA-1, 6 digits, 30 s,
//! one step of clock drift either way) and single-use recovery codes. The
//! seed is stored sealed under the server key; a code, once accepted, can
//! never be accepted again (the last used time step is kept).

use data_encoding::BASE32_NOPAD;
use rand::RngCore;
use serde::Serialize;
use sqlx::Row;
use totp_rs::{Algorithm, TOTP};
use tram_platform::audit::{self, kind};
use tram_platform::crypto::constant_time_eq;
use tram_platform::web::ClientInfo;
use tram_platform::AppState;

use crate::error::{AccountError, AccountResult};

const STEP_SECS: u64 = 30;
const RECOVERY_CODES: usize = 10;

fn totp_for(secret: &[u8], account: &str) -> AccountResult<TOTP> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECS,
        secret.to_vec(),
        Some("Tram".into()),
        account.to_string(),
    )
    .map_err(|e| AccountError::Internal(format!("totp: {e}")))
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Enrolment {
    /// Base32 seed, for typing into an authenticator app by hand.
    pub secret: String,
    /// `otpauth://totp/…` for the QR code.
    pub otpauth_url: String,
    /// The same URL as an SVG QR code.
    pub qr_svg: String,
}

/// Starts enrolment: a new seed, kept pending until a code from it is
/// confirmed. Calling again replaces the pending seed.
pub async fn begin(
    state: &AppState,
    user_id: &str,
    account_label: &str,
) -> AccountResult<Enrolment> {
    let row = sqlx::query("SELECT totp_enabled_at FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(state.db.read())
        .await?;
    if row.try_get::<Option<i64>, _>("totp_enabled_at")?.is_some() {
        return Err(AccountError::TotpAlreadyEnabled);
    }
    let mut secret = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let totp = totp_for(&secret, account_label)?;
    let url = totp.get_url();
    sqlx::query("UPDATE users SET totp_pending_secret = $1 WHERE id = $2")
        .bind(state.keys.seal(&secret))
        .bind(user_id)
        .execute(state.db.write())
        .await?;
    Ok(Enrolment {
        secret: BASE32_NOPAD.encode(&secret),
        qr_svg: crate::qr::svg(&url),
        otpauth_url: url,
    })
}

/// Finishes enrolment with a code from the app; returns the recovery codes
/// (shown once, stored only as keyed hashes).
pub async fn confirm(
    state: &AppState,
    user_id: &str,
    code: &str,
    client: &ClientInfo,
) -> AccountResult<Vec<String>> {
    let now = state.clock.now_ms();
    let row = sqlx::query("SELECT totp_pending_secret, totp_enabled_at FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(state.db.read())
        .await?;
    if row.try_get::<Option<i64>, _>("totp_enabled_at")?.is_some() {
        return Err(AccountError::TotpAlreadyEnabled);
    }
    let sealed: Option<String> = row.try_get("totp_pending_secret")?;
    let secret = sealed
        .and_then(|s| state.keys.open(&s))
        .ok_or(AccountError::TotpNotPending)?;
    let step =
        matching_step(&secret, code, state.clock.now_secs())?.ok_or(AccountError::TotpWrong)?;
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();

    let mut tx = state.db.begin().await?;
    sqlx::query(
        "UPDATE users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, totp_enabled_at = $1, \
         totp_last_step = $2, updated_at = $1 WHERE id = $3",
    )
    .bind(now)
    .bind(step)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    for code in &codes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user_id)
            .bind(recovery_hash(state, code))
            .execute(&mut *tx)
            .await?;
    }
    audit::record(
        &mut tx,
        now,
        event(kind::TWO_FACTOR_ENABLED, user_id, client),
    )
    .await?;
    tx.commit().await?;
    Ok(codes)
}

/// Turns 2FA off (the caller has re-checked the password). Devices stay
/// trusted; there is nothing left to trust them for.
pub async fn disable(state: &AppState, user_id: &str, client: &ClientInfo) -> AccountResult<()> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let changed = sqlx::query(
        "UPDATE users SET totp_secret = NULL, totp_pending_secret = NULL, totp_enabled_at = NULL, updated_at = $1 \
         WHERE id = $2 AND totp_enabled_at IS NOT NULL",
    )
    .bind(now)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    if changed.rows_affected() == 0 {
        return Err(AccountError::TotpNotEnabled);
    }
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        now,
        event(kind::TWO_FACTOR_DISABLED, user_id, client),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Checks a TOTP code (6 digits) or a recovery code (`xxxx-xxxx`) for a
/// login. Each can be used once.
pub async fn verify_any(
    state: &AppState,
    user_id: &str,
    code: &str,
    client: &ClientInfo,
) -> AccountResult<()> {
    let code = code.trim();
    let result = if code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()) {
        verify_totp(state, user_id, code).await
    } else {
        use_recovery_code(state, user_id, code, client).await
    };
    if let Err(err @ (AccountError::TotpWrong | AccountError::TotpReplayed)) = &result {
        let mut conn = state.db.write().acquire().await?;
        let mut failure = event(kind::TWO_FACTOR_FAILURE, user_id, client);
        failure.detail = serde_json::json!({ "reason": if matches!(err, AccountError::TotpReplayed) { "replayed" } else { "wrong" } });
        audit::record(&mut conn, state.clock.now_ms(), failure).await?;
    }
    result
}

async fn verify_totp(state: &AppState, user_id: &str, code: &str) -> AccountResult<()> {
    let row =
        sqlx::query("SELECT totp_secret FROM users WHERE id = $1 AND totp_enabled_at IS NOT NULL")
            .bind(user_id)
            .fetch_optional(state.db.read())
            .await?
            .ok_or(AccountError::TotpNotEnabled)?;
    let sealed: Option<String> = row.try_get("totp_secret")?;
    let secret = sealed.and_then(|s| state.keys.open(&s)).ok_or_else(|| {
        AccountError::Internal("TOTP seed does not open with this server key".into())
    })?;
    let step =
        matching_step(&secret, code, state.clock.now_secs())?.ok_or(AccountError::TotpWrong)?;
    // Only a step later than any used before is accepted: a code seen once
    // (shoulder-surfed, phished, sent twice) is worthless afterwards.
    let advanced =
        sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1")
            .bind(step)
            .bind(user_id)
            .execute(state.db.write())
            .await?;
    if advanced.rows_affected() != 1 {
        return Err(AccountError::TotpReplayed);
    }
    Ok(())
}

async fn use_recovery_code(
    state: &AppState,
    user_id: &str,
    code: &str,
    client: &ClientInfo,
) -> AccountResult<()> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let used = sqlx::query("UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL")
        .bind(now)
        .bind(user_id)
        .bind(recovery_hash(state, code))
        .execute(&mut *tx)
        .await?;
    if used.rows_affected() != 1 {
        return Err(AccountError::TotpWrong);
    }
    audit::record(
        &mut tx,
        now,
        event(kind::RECOVERY_CODE_USED, user_id, client),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Recovery codes a user has left.
pub async fn recovery_codes_left(state: &AppState, user_id: &str) -> AccountResult<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(state.db.read())
    .await?;
    Ok(row.try_get("n")?)
}

/// The time step (within one step of `now`) whose code is `code`.
fn matching_step(secret: &[u8], code: &str, now_secs: i64) -> AccountResult<Option<i64>> {
    let totp = totp_for(secret, "check")?;
    let code = code.trim();
    let current = now_secs.max(0) as u64 / STEP_SECS;
    for step in [current.saturating_sub(1), current, current + 1] {
        if constant_time_eq(&totp.generate(step * STEP_SECS), code) {
            return Ok(Some(step as i64));
        }
    }
    Ok(None)
}

fn new_recovery_code() -> String {
    let mut bytes = [0u8; 5];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let text = BASE32_NOPAD.encode(&bytes).to_lowercase();
    format!("{}-{}", &text[..4], &text[4..8])
}

fn recovery_hash(state: &AppState, code: &str) -> String {
    let normalised: String = code
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| *c != ' ')
        .collect();
    state.keys.keyed_hash("recovery-code", &normalised)
}

fn event<'a>(kind: &'a str, user_id: &'a str, client: &'a ClientInfo) -> audit::NewEvent<'a> {
    audit::NewEvent {
        kind,
        user_id: Some(user_id),
        ip: Some(&client.ip),
        user_agent: Some(&client.user_agent),
        ..Default::default()
    }
}

/// The code an authenticator app shows for `secret_base32` at `unix_secs`
/// (used by tests and the benchmark to play the phone).
pub fn code_at(secret_base32: &str, unix_secs: i64) -> Option<String> {
    let secret = BASE32_NOPAD.decode(secret_base32.as_bytes()).ok()?;
    let totp = totp_for(&secret, "check").ok()?;
    Some(totp.generate(unix_secs.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_codes_within_one_step_only() {
        let secret = [42u8; 20];
        let totp = totp_for(&secret, "t").unwrap();
        let now = 1_700_000_000i64;
        let at = |t: i64| totp.generate(t as u64);
        assert_eq!(
            matching_step(&secret, &at(now), now).unwrap(),
            Some(now / 30)
        );
        assert_eq!(
            matching_step(&secret, &at(now - 30), now).unwrap(),
            Some(now / 30 - 1)
        );
        assert_eq!(
            matching_step(&secret, &at(now + 30), now).unwrap(),
            Some(now / 30 + 1)
        );
        assert_eq!(matching_step(&secret, &at(now - 90), now).unwrap(), None);
    }

    #[test]
    fn rfc6238_reference_vector() {
        // RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits); the
        // 6-digit code is its last six digits.
        let secret = b"12345678901234567890";
        let totp = TOTP::new_unchecked(
            Algorithm::SHA1,
            6,
            1,
            30,
            secret.to_vec(),
            None,
            String::new(),
        );
        assert_eq!(totp.generate(59), "287082");
    }

    #[test]
    fn recovery_codes_look_right() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 9);
        assert_eq!(&code[4..5], "-");
    }
}
