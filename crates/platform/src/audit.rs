//! The security audit log: who did what, to whom, from where, and when.
//! Domains record events inside the same transaction as the change they
//! describe, so an event exists exactly when its change does.

use sqlx::AnyConnection;

use crate::db::new_id;

/// What happened. The names are stable: filters and exports use them.
pub mod kind {
    pub const REGISTER: &str = "register";
    pub const LOGIN_SUCCESS: &str = "login.success";
    pub const LOGIN_FAILURE: &str = "login.failure";
    pub const LOGIN_LOCKED: &str = "login.locked";
    pub const LOGOUT: &str = "logout";
    pub const CODE_SENT: &str = "code.sent";
    pub const CODE_FAILED: &str = "code.failed";
    pub const PASSWORD_CHANGED: &str = "password.changed";
    pub const TWO_FACTOR_ENABLED: &str = "2fa.enabled";
    pub const TWO_FACTOR_DISABLED: &str = "2fa.disabled";
    pub const TWO_FACTOR_FAILURE: &str = "2fa.failure";
    pub const RECOVERY_CODE_USED: &str = "2fa.recovery_used";
    pub const DEVICE_ADDED: &str = "device.added";
    pub const DEVICE_RENAMED: &str = "device.renamed";
    pub const DEVICE_REMOVED: &str = "device.removed";
    pub const DEVICE_APPROVED: &str = "device.approved";
    pub const DEVICE_REJECTED: &str = "device.rejected";
    pub const REMOTE_LOGOUT: &str = "session.remote_logout";
    pub const QR_CONFIRMED: &str = "qr.confirmed";
    pub const QR_REJECTED: &str = "qr.rejected";
    pub const ORG_CREATED: &str = "org.created";
    pub const ORG_POLICY_CHANGED: &str = "org.policy_changed";
    pub const MEMBER_JOINED: &str = "member.joined";
    pub const MEMBER_INVITED: &str = "member.invited";
    pub const MEMBER_REMOVED: &str = "member.removed";
    pub const ROLE_CHANGED: &str = "member.role_changed";
    pub const MANAGER_CHANGED: &str = "member.manager_changed";
    pub const DEPARTMENT_CHANGED: &str = "department.changed";
    pub const ROBOT_CREATED: &str = "robot.created";
    pub const ROBOT_CHANGED: &str = "robot.changed";
    pub const ROBOT_TOKEN_RESET: &str = "robot.token_reset";
    pub const ROBOT_SECRET_RESET: &str = "robot.secret_reset";
    pub const ROBOT_DELETED: &str = "robot.deleted";

    pub const ALL: &[&str] = &[
        REGISTER,
        LOGIN_SUCCESS,
        LOGIN_FAILURE,
        LOGIN_LOCKED,
        LOGOUT,
        CODE_SENT,
        CODE_FAILED,
        PASSWORD_CHANGED,
        TWO_FACTOR_ENABLED,
        TWO_FACTOR_DISABLED,
        TWO_FACTOR_FAILURE,
        RECOVERY_CODE_USED,
        DEVICE_ADDED,
        DEVICE_RENAMED,
        DEVICE_REMOVED,
        DEVICE_APPROVED,
        DEVICE_REJECTED,
        REMOTE_LOGOUT,
        QR_CONFIRMED,
        QR_REJECTED,
        ORG_CREATED,
        ORG_POLICY_CHANGED,
        MEMBER_JOINED,
        MEMBER_INVITED,
        MEMBER_REMOVED,
        ROLE_CHANGED,
        MANAGER_CHANGED,
        DEPARTMENT_CHANGED,
        ROBOT_CREATED,
        ROBOT_CHANGED,
        ROBOT_TOKEN_RESET,
        ROBOT_SECRET_RESET,
        ROBOT_DELETED,
    ];
}

/// One event to record. `user_id` is the person the event is about (for a
/// failed login of an unknown account: none); `actor_id` who caused it when
/// that is someone else (an admin); `org_id` set for events inside one org.
#[derive(Debug, Default, Clone)]
pub struct NewEvent<'a> {
    pub kind: &'a str,
    pub org_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub actor_id: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// Free-form facts (never secrets): e.g. the masked destination of a code.
    pub detail: serde_json::Value,
}

pub async fn record(
    conn: &mut AnyConnection,
    at_ms: i64,
    event: NewEvent<'_>,
) -> Result<(), sqlx::Error> {
    let detail = if event.detail.is_null() {
        "{}".to_string()
    } else {
        event.detail.to_string()
    };
    sqlx::query(
        "INSERT INTO audit_events (id, org_id, user_id, actor_id, kind, ip, user_agent, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new_id())
    .bind(event.org_id)
    .bind(event.user_id)
    .bind(event.actor_id)
    .bind(event.kind)
    .bind(event.ip)
    .bind(event.user_agent.map(|ua| ua.chars().take(300).collect::<String>()))
    .bind(detail)
    .bind(at_ms)
    .execute(conn)
    .await?;
    Ok(())
}
