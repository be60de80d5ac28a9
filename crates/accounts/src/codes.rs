//! Verification codes sent by SMS or e-mail: 6 digits, valid for 10
//! minutes, 5 wrong tries, resend after a 60-second cooldown, and limits per
//! destination and per client address (all configurable, those are the
//! defaults). Only a keyed hash of a code is stored.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tram_platform::audit::{self, kind};
use tram_platform::crypto::{constant_time_eq, random_digits};
use tram_platform::db::new_id;
use tram_platform::i18n::Locale;
use tram_platform::notify::{mask_destination, EmailMessage, SmsMessage};
use tram_platform::web::ClientInfo;
use tram_platform::AppState;

use crate::contact::Contact;
use crate::error::{AccountError, AccountResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Register,
    ResetPassword,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::ResetPassword => "reset_password",
        }
    }
}

const HOUR_MS: i64 = 3_600_000;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CodeSent {
    /// `sms` or `email`.
    pub channel: String,
    /// The destination, masked.
    pub sent_to: String,
    /// Seconds until another code may be requested.
    pub resend_after_secs: i64,
    /// Seconds the code stays valid.
    pub expires_in_secs: i64,
}

/// What the code message says. `None` for the code: the destination already
/// has an account (registration), so the message says that instead of
/// giving a code, and the answer to the requester is the same either way.
fn message_text(
    locale: Locale,
    purpose: Purpose,
    code: Option<&str>,
    minutes: i64,
) -> (String, String) {
    let subject = locale.t("accounts.code.subject").to_string();
    let body = match (purpose, code) {
        (_, Some(code)) => locale.tf(
            "accounts.code.body",
            &[("code", code.to_string()), ("minutes", minutes.to_string())],
        ),
        (Purpose::Register, None) => locale.t("accounts.code.already_registered").to_string(),
        (Purpose::ResetPassword, None) => locale.t("accounts.code.no_account").to_string(),
    };
    (subject, body)
}

/// Sends a new code to `contact`. The same answer whether or not an account
/// exists there, so this cannot be used to find out who is registered.
pub async fn send(
    state: &AppState,
    purpose: Purpose,
    contact: &Contact,
    locale: Locale,
    client: &ClientInfo,
) -> AccountResult<CodeSent> {
    let rules = &state.config.security;
    let now = state.clock.now_ms();
    let destination = contact.value();

    // Cooldown and per-hour limits, counted from what was actually sent.
    let row = sqlx::query(
        "SELECT MAX(created_at) AS last, COUNT(*) AS n FROM verification_codes \
         WHERE destination = $1 AND created_at > $2",
    )
    .bind(destination)
    .bind(now - HOUR_MS)
    .fetch_one(state.db.read())
    .await?;
    let last: Option<i64> = row.try_get("last")?;
    let sent_last_hour: i64 = row.try_get("n")?;
    if let Some(last) = last {
        let wait = (last + rules.code_resend_cooldown_secs * 1000 - now + 999) / 1000;
        if wait > 0 {
            return Err(AccountError::ResendTooSoon { wait_secs: wait });
        }
    }
    if sent_last_hour >= rules.codes_per_destination_per_hour {
        let oldest = oldest_in_window(state, "destination", destination, now).await?;
        return Err(AccountError::CodeRateLimited {
            retry_after_secs: (oldest + HOUR_MS - now) / 1000 + 1,
        });
    }
    let from_ip: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM verification_codes WHERE ip = $1 AND created_at > $2",
    )
    .bind(&client.ip)
    .bind(now - HOUR_MS)
    .fetch_one(state.db.read())
    .await?
    .try_get("n")?;
    if from_ip >= rules.codes_per_ip_per_hour {
        let oldest = oldest_in_window(state, "ip", &client.ip, now).await?;
        return Err(AccountError::CodeRateLimited {
            retry_after_secs: (oldest + HOUR_MS - now) / 1000 + 1,
        });
    }

    let account = crate::users::find_for_login(&state.db, contact)
        .await?
        .map(|(user, _)| user.id);
    let gives_code = match purpose {
        Purpose::Register => account.is_none(),
        Purpose::ResetPassword => account.is_some(),
    };
    let code = random_digits(6);
    let code_hash = state
        .keys
        .keyed_hash("verification-code", &format!("{destination}:{code}"));

    let mut tx = state.db.begin().await?;
    sqlx::query(
        "UPDATE verification_codes SET invalidated_at = $1 \
         WHERE destination = $2 AND purpose = $3 AND consumed_at IS NULL AND invalidated_at IS NULL",
    )
    .bind(now)
    .bind(destination)
    .bind(purpose.as_str())
    .execute(&mut *tx)
    .await?;
    let id = new_id();
    sqlx::query(
        "INSERT INTO verification_codes (id, purpose, channel, destination, code_hash, ip, created_at, expires_at, invalidated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(purpose.as_str())
    .bind(contact.channel().as_str())
    .bind(destination)
    .bind(&code_hash)
    .bind(&client.ip)
    .bind(now)
    .bind(now + rules.code_ttl_secs * 1000)
    // A row that holds no usable code still counts for cooldown and limits.
    .bind(if gives_code { None } else { Some(now) })
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        now,
        audit::NewEvent {
            kind: kind::CODE_SENT,
            user_id: account.as_deref(),
            ip: Some(&client.ip),
            user_agent: Some(&client.user_agent),
            detail: serde_json::json!({
                "purpose": purpose.as_str(),
                "channel": contact.channel().as_str(),
                "to": mask_destination(destination),
            }),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;

    let minutes = rules.code_ttl_secs / 60;
    let (subject, text) = message_text(
        locale,
        purpose,
        gives_code.then_some(code.as_str()),
        minutes,
    );
    let delivered = match contact {
        Contact::Phone(phone) => {
            state
                .notifier
                .send_sms(SmsMessage {
                    to: phone.clone(),
                    text: format!("[Tram] {text}"),
                    code: gives_code.then(|| code.clone()),
                })
                .await
        }
        Contact::Email(email) => {
            state
                .notifier
                .send_email(EmailMessage {
                    to: email.clone(),
                    subject,
                    text,
                })
                .await
        }
    };
    if let Err(err) = delivered {
        tracing::warn!(error = %err, to = %mask_destination(destination), "verification code not delivered");
        // The code never reached anyone: take it back so it does not count
        // against the user's cooldown.
        sqlx::query("DELETE FROM verification_codes WHERE id = $1")
            .bind(&id)
            .execute(state.db.write())
            .await?;
        return Err(AccountError::CodeDeliveryFailed);
    }
    Ok(CodeSent {
        channel: contact.channel().as_str().into(),
        sent_to: mask_destination(destination),
        resend_after_secs: rules.code_resend_cooldown_secs,
        expires_in_secs: rules.code_ttl_secs,
    })
}

async fn oldest_in_window(
    state: &AppState,
    column: &str,
    value: &str,
    now: i64,
) -> AccountResult<i64> {
    let row = sqlx::query(&format!(
        "SELECT MIN(created_at) AS oldest FROM verification_codes WHERE {column} = $1 AND created_at > $2"
    ))
    .bind(value)
    .bind(now - HOUR_MS)
    .fetch_one(state.db.read())
    .await?;
    Ok(row.try_get::<Option<i64>, _>("oldest")?.unwrap_or(now))
}

/// Checks `code` for `destination` and, if right, uses it up (atomically:
/// two requests with the same code cannot both succeed). A wrong code
/// counts against the code's tries; the sixth try fails even when right.
pub async fn consume(
    state: &AppState,
    purpose: Purpose,
    destination: &str,
    code: &str,
    client: &ClientInfo,
) -> AccountResult<()> {
    let now = state.clock.now_ms();
    let rules = &state.config.security;
    let row = sqlx::query(
        "SELECT id, code_hash, failed_attempts, expires_at FROM verification_codes \
         WHERE destination = $1 AND purpose = $2 AND consumed_at IS NULL AND invalidated_at IS NULL \
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(destination)
    .bind(purpose.as_str())
    .fetch_optional(state.db.read())
    .await?;
    let Some(row) = row else {
        return Err(AccountError::CodeInvalid);
    };
    let id: String = row.try_get("id")?;
    let stored: String = row.try_get("code_hash")?;
    let failed: i64 = row.try_get("failed_attempts")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    if now >= expires_at {
        return Err(AccountError::CodeExpired);
    }
    if failed >= rules.code_max_attempts {
        return Err(AccountError::CodeTooManyAttempts);
    }
    let code = code.trim();
    let offered = state
        .keys
        .keyed_hash("verification-code", &format!("{destination}:{code}"));
    if !constant_time_eq(&stored, &offered) {
        let failed = failed + 1;
        let mut tx = state.db.begin().await?;
        sqlx::query(
            "UPDATE verification_codes SET failed_attempts = failed_attempts + 1 WHERE id = $1",
        )
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            now,
            audit::NewEvent {
                kind: kind::CODE_FAILED,
                ip: Some(&client.ip),
                user_agent: Some(&client.user_agent),
                detail: serde_json::json!({ "purpose": purpose.as_str(), "to": mask_destination(destination), "attempt": failed }),
                ..Default::default()
            },
        )
        .await?;
        tx.commit().await?;
        if failed >= rules.code_max_attempts {
            return Err(AccountError::CodeTooManyAttempts);
        }
        return Err(AccountError::CodeWrong {
            attempts_left: rules.code_max_attempts - failed,
        });
    }
    let used = sqlx::query(
        "UPDATE verification_codes SET consumed_at = $1 \
         WHERE id = $2 AND consumed_at IS NULL AND invalidated_at IS NULL AND failed_attempts < $3",
    )
    .bind(now)
    .bind(&id)
    .bind(rules.code_max_attempts)
    .execute(state.db.write())
    .await?;
    if used.rows_affected() != 1 {
        return Err(AccountError::CodeInvalid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_code_or_say_the_account_exists() {
        let (_, body) = message_text(Locale::En, Purpose::Register, Some("123456"), 10);
        assert!(body.contains("123456") && body.contains("10"));
        let (_, body) = message_text(Locale::En, Purpose::Register, None, 10);
        assert!(!body.chars().any(|c| c.is_ascii_digit()));
    }
}
