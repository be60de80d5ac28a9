//! Delegates (代理人): each member may name someone to take their approval
//! tasks — those still undecided at their deadline, and, during an
//! out-of-office period, every new one at once.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tram_org::members::Membership;
use tram_platform::db::Db;
use tram_platform::AppState;

use crate::error::{ApprovalError, ApprovalResult};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct DelegateSetting {
    /// Who takes the tasks; `null` to name no one.
    pub delegate_id: Option<String>,
    /// Out of office from/until (Unix ms); both or neither.
    #[serde(default)]
    pub away_from: Option<i64>,
    #[serde(default)]
    pub away_until: Option<i64>,
}

pub async fn get(db: &Db, me: &Membership) -> ApprovalResult<DelegateSetting> {
    let row = sqlx::query(
        "SELECT delegate_id, away_from, away_until FROM approval_delegates WHERE org_id = $1 AND user_id = $2",
    )
    .bind(&me.org_id)
    .bind(&me.user_id)
    .fetch_optional(db.read())
    .await?;
    Ok(match row {
        Some(row) => DelegateSetting {
            delegate_id: row.try_get("delegate_id")?,
            away_from: row.try_get("away_from")?,
            away_until: row.try_get("away_until")?,
        },
        None => DelegateSetting {
            delegate_id: None,
            away_from: None,
            away_until: None,
        },
    })
}

/// Names (or clears) the member's delegate and out-of-office period.
pub async fn set(
    state: &AppState,
    me: &Membership,
    setting: &DelegateSetting,
) -> ApprovalResult<DelegateSetting> {
    let Some(delegate) = &setting.delegate_id else {
        sqlx::query("DELETE FROM approval_delegates WHERE org_id = $1 AND user_id = $2")
            .bind(&me.org_id)
            .bind(&me.user_id)
            .execute(state.db.write())
            .await?;
        return get(&state.db, me).await;
    };
    let period_ok = match (setting.away_from, setting.away_until) {
        (None, None) => true,
        (Some(from), Some(until)) => from < until,
        _ => false,
    };
    if !period_ok {
        return Err(ApprovalError::InvalidDelegate("away"));
    }
    if delegate == &me.user_id
        || tram_org::members::membership(&state.db, &me.org_id, delegate)
            .await?
            .is_none()
    {
        return Err(ApprovalError::InvalidDelegate("delegate_id"));
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query("DELETE FROM approval_delegates WHERE org_id = $1 AND user_id = $2")
        .bind(&me.org_id)
        .bind(&me.user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO approval_delegates (org_id, user_id, delegate_id, away_from, away_until, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&me.org_id)
    .bind(&me.user_id)
    .bind(delegate)
    .bind(setting.away_from)
    .bind(setting.away_until)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    get(&state.db, me).await
}

/// The member's delegate, if one is named and still in the org; and
/// whether the member is out of office at `now`.
pub async fn of(
    conn: &mut sqlx::AnyConnection,
    db: &Db,
    org_id: &str,
    user_id: &str,
    now: i64,
) -> ApprovalResult<Option<(String, bool)>> {
    let row = sqlx::query(
        "SELECT delegate_id, away_from, away_until FROM approval_delegates WHERE org_id = $1 AND user_id = $2",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let delegate: String = row.try_get("delegate_id")?;
    // A delegate who has left the org takes nothing.
    if tram_org::members::membership(db, org_id, &delegate)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    let from: Option<i64> = row.try_get("away_from")?;
    let until: Option<i64> = row.try_get("away_until")?;
    let away = matches!((from, until), (Some(f), Some(u)) if f <= now && now < u);
    Ok(Some((delegate, away)))
}
