//! The audit log as an org admin reads it: events inside the org, and the
//! account-level events (logins, 2FA, devices) of its current members.

use serde::Serialize;
use sqlx::Row;
use tram_platform::db::Db;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    pub id: String,
    pub kind: String,
    pub org_id: Option<String>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// Which events an org admin asked to see.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::IntoParams)]
pub struct AuditFilter {
    /// Exact event kind, or a prefix ending in `.` (e.g. `login.`).
    pub kind: Option<String>,
    /// Events about this user.
    pub user_id: Option<String>,
    /// Unix milliseconds, inclusive.
    pub from: Option<i64>,
    /// Unix milliseconds, exclusive.
    pub to: Option<i64>,
    /// Events older than this id (for paging).
    pub before: Option<String>,
    pub limit: Option<i64>,
}

/// Events an admin of `org_id` may read: those inside the org, and the
/// account-level events (logins, 2FA, devices) of its current members.
pub async fn list(
    db: &Db,
    org_id: &str,
    filter: &AuditFilter,
) -> Result<Vec<AuditEvent>, sqlx::Error> {
    let limit = filter.limit.unwrap_or(100).clamp(1, 500);
    let kind = filter.kind.clone().unwrap_or_default();
    let kind_prefix = kind.ends_with('.');
    let rows = sqlx::query(
        "SELECT e.id, e.kind, e.org_id, e.user_id, u.display_name AS user_name, e.actor_id, \
                a.display_name AS actor_name, e.ip, e.user_agent, e.detail, e.created_at \
         FROM audit_events e \
         LEFT JOIN users u ON u.id = e.user_id \
         LEFT JOIN users a ON a.id = e.actor_id \
         WHERE (e.org_id = $1 OR (e.org_id IS NULL AND e.user_id IN \
                (SELECT user_id FROM memberships WHERE org_id = $1))) \
           AND ($2 = '' OR e.kind = $2 OR ($3 = 1 AND e.kind LIKE $4)) \
           AND ($5 = '' OR e.user_id = $5) \
           AND e.created_at >= $6 AND e.created_at < $7 \
           AND ($8 = '' OR e.id < $8) \
         ORDER BY e.id DESC LIMIT $9",
    )
    .bind(org_id)
    .bind(&kind)
    .bind(kind_prefix as i64)
    .bind(format!("{kind}%"))
    .bind(filter.user_id.clone().unwrap_or_default())
    .bind(filter.from.unwrap_or(0))
    .bind(filter.to.unwrap_or(i64::MAX))
    .bind(filter.before.clone().unwrap_or_default())
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    rows.into_iter()
        .map(|row| {
            let detail: String = row.try_get("detail")?;
            Ok(AuditEvent {
                id: row.try_get("id")?,
                kind: row.try_get("kind")?,
                org_id: row.try_get("org_id")?,
                user_id: row.try_get("user_id")?,
                user_name: row.try_get("user_name")?,
                actor_id: row.try_get("actor_id")?,
                actor_name: row.try_get("actor_name")?,
                ip: row.try_get("ip")?,
                user_agent: row.try_get("user_agent")?,
                detail: serde_json::from_str(&detail).unwrap_or_default(),
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}
