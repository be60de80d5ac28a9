//! Notification settings (Settings > Notifications): quiet periods in the
//! user's time zone, and who may get through them.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tram_platform::db::Db;
use tram_platform::AppState;

use crate::error::{ChatError, ChatResult};
use crate::quiet::{QuietHours, QuietPeriod};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NotificationSettings {
    /// Quiet hours on or off.
    pub enabled: bool,
    /// IANA zone the periods are read in (default Asia/Hong_Kong).
    pub time_zone: String,
    pub periods: Vec<QuietPeriod>,
    /// @mentions of me still notify during quiet hours and in muted chats.
    pub allow_mentions: bool,
    /// User ids whose messages always notify.
    pub allow_from: Vec<String>,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        NotificationSettings {
            enabled: false,
            time_zone: "Asia/Hong_Kong".into(),
            periods: Vec::new(),
            allow_mentions: true,
            allow_from: Vec::new(),
        }
    }
}

impl NotificationSettings {
    /// The quiet-hours rule, if switched on.
    pub fn quiet_hours(&self) -> Option<QuietHours> {
        if !self.enabled {
            return None;
        }
        QuietHours::new(&self.time_zone, &self.periods).ok()
    }
}

const COLUMNS: &str = "enabled, time_zone, periods, allow_mentions, allow_from";

fn from_row(row: &sqlx::any::AnyRow) -> ChatResult<NotificationSettings> {
    Ok(NotificationSettings {
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        time_zone: row.try_get("time_zone")?,
        periods: serde_json::from_str(&row.try_get::<String, _>("periods")?).unwrap_or_default(),
        allow_mentions: row.try_get::<i64, _>("allow_mentions")? != 0,
        allow_from: serde_json::from_str(&row.try_get::<String, _>("allow_from")?)
            .unwrap_or_default(),
    })
}

pub async fn get(db: &Db, user_id: &str) -> ChatResult<NotificationSettings> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM quiet_hours WHERE user_id = $1"
    ))
    .bind(user_id)
    .fetch_optional(db.read())
    .await?;
    match row {
        Some(row) => from_row(&row),
        None => Ok(NotificationSettings::default()),
    }
}

/// The settings in force at each moment since `since` (ms), oldest first:
/// (from when, settings). Before the first entry, the defaults applied.
pub async fn history(
    db: &Db,
    user_id: &str,
    since: i64,
) -> ChatResult<Vec<(i64, NotificationSettings)>> {
    let rows = sqlx::query(&format!(
        "SELECT valid_from, {COLUMNS} FROM quiet_hours_history WHERE user_id = $1 AND valid_from >= \
         COALESCE((SELECT MAX(valid_from) FROM quiet_hours_history WHERE user_id = $1 AND valid_from <= $2), $2) \
         ORDER BY valid_from"
    ))
    .bind(user_id)
    .bind(since)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("valid_from")?, from_row(row)?)))
        .collect()
}

/// Validates and saves; bad periods or zones are refused and nothing changes.
pub async fn set(
    state: &AppState,
    user_id: &str,
    settings: &NotificationSettings,
) -> ChatResult<()> {
    QuietHours::new(&settings.time_zone, &settings.periods).map_err(ChatError::Quiet)?;
    if settings.allow_from.len() > 100 {
        return Err(ChatError::Quiet(crate::quiet::QuietError::TooMany));
    }
    let now = state.clock.now_ms();
    let periods = serde_json::to_string(&settings.periods).expect("periods serialise");
    let allow_from = serde_json::to_string(&settings.allow_from).expect("ids serialise");
    let mut tx = state.db.begin().await?;
    for sql in [
        "INSERT INTO quiet_hours (user_id, enabled, time_zone, periods, allow_mentions, allow_from, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (user_id) DO UPDATE SET enabled = $2, time_zone = $3, periods = $4, allow_mentions = $5, allow_from = $6, updated_at = $7",
        "INSERT INTO quiet_hours_history (user_id, enabled, time_zone, periods, allow_mentions, allow_from, valid_from) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (user_id, valid_from) DO UPDATE SET enabled = $2, time_zone = $3, periods = $4, allow_mentions = $5, allow_from = $6",
    ] {
        sqlx::query(sql)
            .bind(user_id)
            .bind(settings.enabled as i64)
            .bind(&settings.time_zone)
            .bind(&periods)
            .bind(settings.allow_mentions as i64)
            .bind(&allow_from)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}
