//! Invitations: a link or code that lets someone join an organisation with
//! a given role. Only a hash of the code is stored; the link is shown once,
//! when it is made.

use serde::Serialize;
use sqlx::{AnyConnection, Row};
use tram_platform::audit::{self, kind};
use tram_platform::crypto::{hash_token, random_token};
use tram_platform::db::{new_id, Db};
use tram_platform::web::ClientInfo;
use tram_platform::AppState;

use crate::error::{OrgError, OrgResult};
use crate::members::{Membership, Role};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Invitation {
    pub id: String,
    pub role: Role,
    pub note: Option<String>,
    pub max_uses: i64,
    pub uses: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NewInvitation {
    pub invitation: Invitation,
    /// The code to type at registration (shown once).
    pub code: String,
    /// `…/join/<code>`: opens registration (or joining) for this org.
    pub link: String,
}

pub async fn create(
    state: &AppState,
    actor: &Membership,
    role: Role,
    max_uses: i64,
    valid_days: i64,
    note: Option<&str>,
    client: &ClientInfo,
) -> OrgResult<NewInvitation> {
    actor.require_admin()?;
    if role == Role::Owner || (role == Role::Admin && actor.role != Role::Owner) {
        return Err(OrgError::OwnerOnly);
    }
    let max_uses = max_uses.clamp(1, 1000);
    let valid_days = valid_days.clamp(1, 90);
    let note = note
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(200).collect::<String>());
    let now = state.clock.now_ms();
    let code = random_token(9);
    let id = new_id();
    let expires_at = now + valid_days * 86_400_000;
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO invitations (id, org_id, code_hash, role, created_by, note, max_uses, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(&actor.org_id)
    .bind(hash_token(&code))
    .bind(role.as_str())
    .bind(&actor.user_id)
    .bind(&note)
    .bind(max_uses)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        now,
        audit::NewEvent {
            kind: kind::MEMBER_INVITED,
            org_id: Some(&actor.org_id),
            actor_id: Some(&actor.user_id),
            ip: Some(&client.ip),
            user_agent: Some(&client.user_agent),
            detail: serde_json::json!({ "invitation_id": id, "role": role.as_str(), "max_uses": max_uses }),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(NewInvitation {
        link: format!("{}/join/{}", state.config.public_url(), code),
        code,
        invitation: Invitation {
            id,
            role,
            note,
            max_uses,
            uses: 0,
            created_at: now,
            expires_at,
            revoked: false,
        },
    })
}

/// The org an invitation code leads to, if the code can still be used.
pub async fn peek(db: &Db, now: i64, code: &str) -> OrgResult<(String, String)> {
    let row = sqlx::query(
        "SELECT i.org_id, o.name FROM invitations i JOIN orgs o ON o.id = i.org_id \
         WHERE i.code_hash = $1 AND i.revoked_at IS NULL AND i.expires_at > $2 AND i.uses < i.max_uses",
    )
    .bind(hash_token(code.trim()))
    .bind(now)
    .fetch_optional(db.read())
    .await?
    .ok_or(OrgError::InvitationInvalid)?;
    Ok((row.try_get("org_id")?, row.try_get("name")?))
}

/// Uses one seat of the invitation; returns the org and role it grants.
pub async fn redeem(conn: &mut AnyConnection, now: i64, code: &str) -> OrgResult<(String, Role)> {
    let row = sqlx::query(
        "UPDATE invitations SET uses = uses + 1 \
         WHERE code_hash = $1 AND revoked_at IS NULL AND expires_at > $2 AND uses < max_uses RETURNING org_id, role",
    )
    .bind(hash_token(code.trim()))
    .bind(now)
    .fetch_optional(conn)
    .await?
    .ok_or(OrgError::InvitationInvalid)?;
    Ok((
        row.try_get("org_id")?,
        Role::parse(&row.try_get::<String, _>("role")?)?,
    ))
}

pub async fn list(db: &Db, org_id: &str) -> OrgResult<Vec<Invitation>> {
    let rows = sqlx::query(
        "SELECT id, role, note, max_uses, uses, created_at, expires_at, revoked_at FROM invitations \
         WHERE org_id = $1 ORDER BY created_at DESC",
    )
    .bind(org_id)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Invitation {
                id: r.try_get("id")?,
                role: Role::parse(&r.try_get::<String, _>("role")?)?,
                note: r.try_get("note")?,
                max_uses: r.try_get("max_uses")?,
                uses: r.try_get("uses")?,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
                revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
            })
        })
        .collect()
}

pub async fn revoke(state: &AppState, actor: &Membership, id: &str) -> OrgResult<()> {
    actor.require_admin()?;
    let done = sqlx::query("UPDATE invitations SET revoked_at = $1 WHERE id = $2 AND org_id = $3 AND revoked_at IS NULL")
        .bind(state.clock.now_ms())
        .bind(id)
        .bind(&actor.org_id)
        .execute(state.db.write())
        .await?;
    if done.rows_affected() == 0 {
        return Err(OrgError::NotFound);
    }
    Ok(())
}
