//! Organisations: a company (or team) and its policies.

use serde::Serialize;
use sqlx::{AnyConnection, Row};
use tram_platform::audit::{self, kind};
use tram_platform::db::{new_id, Db};
use tram_platform::web::ClientInfo;

use crate::error::{OrgError, OrgResult};
use crate::members::Role;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub time_zone: String,
    /// New devices need an admin's approval before they reach the org.
    pub require_device_approval: bool,
    pub created_at: i64,
}

pub(crate) fn org_from_row(row: &sqlx::any::AnyRow) -> Result<Org, sqlx::Error> {
    Ok(Org {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        time_zone: row.try_get("time_zone")?,
        require_device_approval: row.try_get::<i64, _>("require_device_approval")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

pub fn check_name(name: &str) -> OrgResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(OrgError::InvalidOrgName);
    }
    Ok(name.to_string())
}

/// Creates an organisation with `owner_id` as its owner.
pub async fn create(
    conn: &mut AnyConnection,
    now: i64,
    name: &str,
    owner_id: &str,
    client: &ClientInfo,
) -> OrgResult<Org> {
    let name = check_name(name)?;
    let id = new_id();
    sqlx::query("INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&id)
        .bind(&name)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&id)
    .bind(owner_id)
    .bind(Role::Owner.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        now,
        audit::NewEvent {
            kind: kind::ORG_CREATED,
            org_id: Some(&id),
            user_id: Some(owner_id),
            actor_id: Some(owner_id),
            ip: Some(&client.ip),
            user_agent: Some(&client.user_agent),
            detail: serde_json::json!({ "name": name }),
        },
    )
    .await?;
    Ok(Org {
        id,
        name,
        time_zone: "Asia/Hong_Kong".into(),
        require_device_approval: false,
        created_at: now,
    })
}

pub async fn get(db: &Db, id: &str) -> OrgResult<Org> {
    let row = sqlx::query(
        "SELECT id, name, time_zone, require_device_approval, created_at FROM orgs WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.read())
    .await?
    .ok_or(OrgError::NotFound)?;
    Ok(org_from_row(&row)?)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MyOrg {
    pub id: String,
    pub name: String,
    pub role: String,
}

/// The organisations a user belongs to, oldest membership first.
pub async fn list_for_user(db: &Db, user_id: &str) -> OrgResult<Vec<MyOrg>> {
    let rows = sqlx::query(
        "SELECT o.id, o.name, m.role FROM memberships m JOIN orgs o ON o.id = m.org_id \
         WHERE m.user_id = $1 ORDER BY m.joined_at, o.id",
    )
    .bind(user_id)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MyOrg {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                role: r.try_get("role")?,
            })
        })
        .collect()
}
