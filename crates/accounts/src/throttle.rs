//! Failed-login tracking. Each failure for an account (keyed by the
//! identifier typed, so unknown accounts are throttled exactly like real
//! ones) or from an address counts; past a threshold the key is locked, and
//! every further failure doubles the lock, up to an hour. A success clears
//! the account's count. Counts older than an hour start again.

use sqlx::Row;
use tram_platform::AppState;

use crate::error::{AccountError, AccountResult};

const WINDOW_MS: i64 = 3_600_000;
const MAX_LOCK_MS: i64 = 3_600_000;

pub fn account_key(state: &AppState, identifier: &str) -> String {
    format!(
        "acct:{}",
        state.keys.keyed_hash("login-throttle", identifier)
    )
}

pub fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

/// Refuses with `Locked` while any of `keys` is locked.
pub async fn check(state: &AppState, keys: &[&str]) -> AccountResult<()> {
    let now = state.clock.now_ms();
    for key in keys {
        let row = sqlx::query("SELECT locked_until FROM login_throttle WHERE throttle_key = $1")
            .bind(*key)
            .fetch_optional(state.db.read())
            .await?;
        if let Some(row) = row {
            let until: i64 = row.try_get("locked_until")?;
            if until > now {
                return Err(AccountError::Locked {
                    retry_after_secs: (until - now + 999) / 1000,
                });
            }
        }
    }
    Ok(())
}

/// Counts a failure for `key`; returns the lock end if this failure locked it.
pub async fn record_failure(
    state: &AppState,
    key: &str,
    threshold: i64,
) -> AccountResult<Option<i64>> {
    let now = state.clock.now_ms();
    let base_ms = state.config.security.login_lock_secs * 1000;
    let mut tx = state.db.begin().await?;
    let row =
        sqlx::query("SELECT failures, last_failure_at FROM login_throttle WHERE throttle_key = $1")
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
    let failures = match row {
        Some(row) => {
            let failures: i64 = row.try_get("failures")?;
            let last: i64 = row.try_get("last_failure_at")?;
            if now - last > WINDOW_MS {
                1
            } else {
                failures + 1
            }
        }
        None => 1,
    };
    let locked_until = if failures >= threshold {
        let doublings = (failures - threshold).min(20) as u32;
        Some(now + (base_ms.saturating_mul(1i64 << doublings)).min(MAX_LOCK_MS))
    } else {
        None
    };
    sqlx::query(
        "INSERT INTO login_throttle (throttle_key, failures, last_failure_at, locked_until) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (throttle_key) DO UPDATE SET failures = $2, last_failure_at = $3, locked_until = $4",
    )
    .bind(key)
    .bind(failures)
    .bind(now)
    .bind(locked_until.unwrap_or(0))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(locked_until)
}

pub async fn clear(state: &AppState, key: &str) -> AccountResult<()> {
    sqlx::query("DELETE FROM login_throttle WHERE throttle_key = $1")
        .bind(key)
        .execute(state.db.write())
        .await?;
    Ok(())
}
