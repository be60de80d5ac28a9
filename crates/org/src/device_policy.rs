//! The "only registered devices" policy (登入裝置管理). When an org turns it
//! on, a device reaches the org only once an admin has approved it. Devices
//! in use when the policy is switched on are approved then, and owners'
//! devices always pass, so that switching it on can never lock everyone out.

use serde::Serialize;
use sqlx::Row;
use tram_platform::audit::{self, kind};
use tram_platform::web::ClientInfo;
use tram_platform::AppState;

use crate::error::{OrgError, OrgResult};
use crate::members::{Membership, Role};

/// Refuses a device that the org's policy does not (yet) admit; the first
/// attempt files the request for an admin.
pub async fn admit(
    state: &AppState,
    membership: &Membership,
    device_id: &str,
    require_approval: bool,
) -> OrgResult<()> {
    if !require_approval || membership.role == Role::Owner {
        return Ok(());
    }
    let row =
        sqlx::query("SELECT status FROM device_approvals WHERE org_id = $1 AND device_id = $2")
            .bind(&membership.org_id)
            .bind(device_id)
            .fetch_optional(state.db.read())
            .await?;
    match row
        .map(|r| r.try_get::<String, _>("status"))
        .transpose()?
        .as_deref()
    {
        Some("approved") => Ok(()),
        Some("rejected") => Err(OrgError::DeviceRejected),
        Some(_) => Err(OrgError::DevicePending),
        None => {
            sqlx::query(
                "INSERT INTO device_approvals (org_id, device_id, status, requested_at) VALUES ($1, $2, 'pending', $3) \
                 ON CONFLICT (org_id, device_id) DO NOTHING",
            )
            .bind(&membership.org_id)
            .bind(device_id)
            .bind(state.clock.now_ms())
            .execute(state.db.write())
            .await?;
            Err(OrgError::DevicePending)
        }
    }
}

pub async fn set_policy(
    state: &AppState,
    actor: &Membership,
    require: bool,
    client: &ClientInfo,
) -> OrgResult<()> {
    actor.require_admin()?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE orgs SET require_device_approval = $1 WHERE id = $2")
        .bind(require as i64)
        .bind(&actor.org_id)
        .execute(&mut *tx)
        .await?;
    if require {
        sqlx::query(
            "INSERT INTO device_approvals (org_id, device_id, status, requested_at, decided_by, decided_at) \
             SELECT DISTINCT $1, s.device_id, 'approved', $2, $3, $2 FROM sessions s \
             JOIN memberships m ON m.user_id = s.user_id AND m.org_id = $1 WHERE s.expires_at > $2 \
             ON CONFLICT (org_id, device_id) DO NOTHING",
        )
        .bind(&actor.org_id)
        .bind(now)
        .bind(&actor.user_id)
        .execute(&mut *tx)
        .await?;
    }
    audit::record(
        &mut tx,
        now,
        audit::NewEvent {
            kind: kind::ORG_POLICY_CHANGED,
            org_id: Some(&actor.org_id),
            actor_id: Some(&actor.user_id),
            ip: Some(&client.ip),
            user_agent: Some(&client.user_agent),
            detail: serde_json::json!({ "require_device_approval": require }),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    crate::members::forget_known(state);
    Ok(())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeviceRequest {
    pub device_id: String,
    pub user_id: String,
    pub user_name: String,
    pub browser: String,
    pub os: String,
    pub ip: String,
    pub requested_at: i64,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
}

/// Devices that asked to reach the org, pending ones first.
pub async fn requests(state: &AppState, actor: &Membership) -> OrgResult<Vec<DeviceRequest>> {
    actor.require_admin()?;
    let rows = sqlx::query(
        "SELECT a.device_id, d.user_id, u.display_name, d.browser, d.os, d.last_ip, a.requested_at, a.status \
         FROM device_approvals a JOIN devices d ON d.id = a.device_id JOIN users u ON u.id = d.user_id \
         JOIN memberships m ON m.user_id = d.user_id AND m.org_id = a.org_id \
         WHERE a.org_id = $1 ORDER BY CASE a.status WHEN 'pending' THEN 0 ELSE 1 END, a.requested_at DESC",
    )
    .bind(&actor.org_id)
    .fetch_all(state.db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DeviceRequest {
                device_id: r.try_get("device_id")?,
                user_id: r.try_get("user_id")?,
                user_name: r.try_get("display_name")?,
                browser: r.try_get("browser")?,
                os: r.try_get("os")?,
                ip: r.try_get("last_ip")?,
                requested_at: r.try_get("requested_at")?,
                status: r.try_get("status")?,
            })
        })
        .collect()
}

pub async fn decide(
    state: &AppState,
    actor: &Membership,
    device_id: &str,
    approve: bool,
    client: &ClientInfo,
) -> OrgResult<()> {
    actor.require_admin()?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let row = sqlx::query(
        "SELECT d.user_id FROM device_approvals a JOIN devices d ON d.id = a.device_id \
         JOIN memberships m ON m.user_id = d.user_id AND m.org_id = a.org_id WHERE a.org_id = $1 AND a.device_id = $2",
    )
    .bind(&actor.org_id)
    .bind(device_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(OrgError::NotFound)?;
    let owner: String = row.try_get("user_id")?;
    sqlx::query("UPDATE device_approvals SET status = $1, decided_by = $2, decided_at = $3 WHERE org_id = $4 AND device_id = $5")
        .bind(if approve { "approved" } else { "rejected" })
        .bind(&actor.user_id)
        .bind(now)
        .bind(&actor.org_id)
        .bind(device_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        now,
        crate::members::admin_event(
            if approve {
                kind::DEVICE_APPROVED
            } else {
                kind::DEVICE_REJECTED
            },
            actor,
            &owner,
            client,
            serde_json::json!({ "device_id": device_id }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
