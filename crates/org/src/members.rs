//! Members of an organisation: roles, titles, departments and managers.
//! Rules: admins manage members; only owners grant or take away the owner
//! and admin roles' powers over owners; an org always keeps one owner; the
//! manager chain never loops (the approval module walks it).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sqlx::{AnyConnection, Row};
use tram_platform::args;
use tram_platform::audit::{self, kind};
use tram_platform::db::{placeholders, Arg, Db};
use tram_platform::remembered::Remembered;
use tram_platform::web::ClientInfo;
use tram_platform::AppState;

use crate::error::{OrgError, OrgResult};
use crate::orgs::{org_from_row, Org};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(text: &str) -> OrgResult<Role> {
        match text {
            "owner" => Ok(Role::Owner),
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            _ => Err(OrgError::InvalidRole),
        }
    }

    pub fn is_admin(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

/// A user's place in one org: what `OrgMember` requests carry.
#[derive(Debug, Clone)]
pub struct Membership {
    pub org_id: String,
    pub user_id: String,
    pub role: Role,
}

impl Membership {
    pub fn require_admin(&self) -> OrgResult<()> {
        if self.role.is_admin() {
            Ok(())
        } else {
            Err(OrgError::AdminOnly)
        }
    }
}

pub async fn membership(db: &Db, org_id: &str, user_id: &str) -> OrgResult<Option<Membership>> {
    let row = sqlx::query("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .fetch_optional(db.read())
        .await?;
    match row {
        Some(row) => Ok(Some(Membership {
            org_id: org_id.to_string(),
            user_id: user_id.to_string(),
            role: Role::parse(&row.try_get::<String, _>("role")?)?,
        })),
        None => Ok(None),
    }
}

/// The member's place in the org, and the org, in one read (every
/// org-scoped request needs both).
pub async fn membership_with_org(
    db: &Db,
    org_id: &str,
    user_id: &str,
) -> OrgResult<Option<(Membership, Org)>> {
    let row = sqlx::query(
        "SELECT m.role, o.id, o.name, o.time_zone, o.require_device_approval, o.created_at \
         FROM memberships m JOIN orgs o ON o.id = m.org_id WHERE m.org_id = $1 AND m.user_id = $2",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_optional(db.read())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let membership = Membership {
        org_id: org_id.to_string(),
        user_id: user_id.to_string(),
        role: Role::parse(&row.try_get::<String, _>("role")?)?,
    };
    Ok(Some((membership, org_from_row(&row)?)))
}

/// Memberships with their org by (org, user), remembered on a node that
/// is the only one (see `tram_platform::remembered`).
struct KnownMembers(Remembered<(String, String), (Membership, Org)>);

/// How long a node trusts what it read about a membership, at most.
const KEEP_MEMBERSHIP_FOR: Duration = Duration::from_secs(30);

fn known(state: &AppState) -> Arc<KnownMembers> {
    state
        .extensions
        .get_or_init(|| KnownMembers(Remembered::for_db(&state.db, KEEP_MEMBERSHIP_FOR)))
}

/// As [`membership_with_org`], remembered for a while (the read of every
/// org-scoped request).
pub async fn membership_with_org_known(
    state: &AppState,
    org_id: &str,
    user_id: &str,
) -> OrgResult<Option<(Membership, Org)>> {
    let known = known(state);
    let key = (org_id.to_string(), user_id.to_string());
    if let Some(found) = known.0.get(&key) {
        return Ok(Some(found));
    }
    let since = known.0.generation();
    let found = membership_with_org(&state.db, org_id, user_id).await?;
    if let Some(found) = &found {
        known.0.put(since, key, found.clone());
    }
    Ok(found)
}

/// Forgets every remembered membership: called after a change to a
/// member's role or place in an org, or to the org, commits.
pub fn forget_known(state: &AppState) {
    known(state).0.forget_all();
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Member {
    pub user_id: String,
    pub display_name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub role: Role,
    pub title: Option<String>,
    pub department_id: Option<String>,
    pub department_name: Option<String>,
    pub manager_user_id: Option<String>,
    pub manager_name: Option<String>,
    pub two_factor_enabled: bool,
    pub joined_at: i64,
}

const MEMBER_SELECT: &str = "SELECT m.user_id, u.display_name, u.phone, u.email, m.role, m.title, m.department_id, \
     d.name AS department_name, m.manager_user_id, mu.display_name AS manager_name, u.totp_enabled_at, m.joined_at \
     FROM memberships m JOIN users u ON u.id = m.user_id \
     LEFT JOIN departments d ON d.id = m.department_id \
     LEFT JOIN users mu ON mu.id = m.manager_user_id";

fn member_from_row(row: &sqlx::any::AnyRow) -> OrgResult<Member> {
    Ok(Member {
        user_id: row.try_get("user_id")?,
        display_name: row.try_get("display_name")?,
        phone: row.try_get("phone")?,
        email: row.try_get("email")?,
        role: Role::parse(&row.try_get::<String, _>("role")?)?,
        title: row.try_get("title")?,
        department_id: row.try_get("department_id")?,
        department_name: row.try_get("department_name")?,
        manager_user_id: row.try_get("manager_user_id")?,
        manager_name: row.try_get("manager_name")?,
        two_factor_enabled: row.try_get::<Option<i64>, _>("totp_enabled_at")?.is_some(),
        joined_at: row.try_get("joined_at")?,
    })
}

pub async fn list(db: &Db, org_id: &str) -> OrgResult<Vec<Member>> {
    let rows = sqlx::query(&format!(
        "{MEMBER_SELECT} WHERE m.org_id = $1 ORDER BY u.display_name, m.user_id"
    ))
    .bind(org_id)
    .fetch_all(db.read())
    .await?;
    rows.iter().map(member_from_row).collect()
}

pub async fn get(db: &Db, org_id: &str, user_id: &str) -> OrgResult<Member> {
    let row = sqlx::query(&format!(
        "{MEMBER_SELECT} WHERE m.org_id = $1 AND m.user_id = $2"
    ))
    .bind(org_id)
    .bind(user_id)
    .fetch_optional(db.read())
    .await?
    .ok_or(OrgError::NotMember)?;
    member_from_row(&row)
}

/// Adds a user to an org (registration with an invitation, or joining later).
pub async fn join(
    conn: &mut AnyConnection,
    now: i64,
    org_id: &str,
    user_id: &str,
    role: Role,
    client: &ClientInfo,
) -> OrgResult<()> {
    let result = sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(role.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await;
    match result {
        Ok(_) => {}
        Err(e) if tram_platform::db::is_unique_violation(&e) => {
            return Err(OrgError::AlreadyMember)
        }
        Err(e) => return Err(e.into()),
    }
    audit::record(
        conn,
        now,
        audit::NewEvent {
            kind: kind::MEMBER_JOINED,
            org_id: Some(org_id),
            user_id: Some(user_id),
            ip: Some(&client.ip),
            user_agent: Some(&client.user_agent),
            detail: serde_json::json!({ "role": role.as_str() }),
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}

async fn owner_count(conn: &mut AnyConnection, org_id: &str) -> OrgResult<i64> {
    let row =
        sqlx::query("SELECT COUNT(*) AS n FROM memberships WHERE org_id = $1 AND role = 'owner'")
            .bind(org_id)
            .fetch_one(conn)
            .await?;
    Ok(row.try_get("n")?)
}

async fn role_of(conn: &mut AnyConnection, org_id: &str, user_id: &str) -> OrgResult<Role> {
    let row = sqlx::query("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .fetch_optional(conn)
        .await?
        .ok_or(OrgError::NotMember)?;
    Role::parse(&row.try_get::<String, _>("role")?)
}

/// Changes a member's role. Admins may move people between member and
/// admin; only owners may make or unmake owners; the last owner stays.
pub async fn set_role(
    state: &AppState,
    actor: &Membership,
    user_id: &str,
    role: Role,
    client: &ClientInfo,
) -> OrgResult<()> {
    actor.require_admin()?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let current = role_of(&mut tx, &actor.org_id, user_id).await?;
    if (current == Role::Owner || role == Role::Owner) && actor.role != Role::Owner {
        return Err(OrgError::OwnerOnly);
    }
    if current == Role::Owner
        && role != Role::Owner
        && owner_count(&mut tx, &actor.org_id).await? <= 1
    {
        return Err(OrgError::LastOwner);
    }
    if current == role {
        return Ok(());
    }
    sqlx::query("UPDATE memberships SET role = $1 WHERE org_id = $2 AND user_id = $3")
        .bind(role.as_str())
        .bind(&actor.org_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        now,
        admin_event(
            kind::ROLE_CHANGED,
            actor,
            user_id,
            client,
            serde_json::json!({ "from": current.as_str(), "to": role.as_str() }),
        ),
    )
    .await?;
    tx.commit().await?;
    forget_known(state);
    Ok(())
}

/// Sets (or clears) a member's manager. The chain upwards may not return
/// to the member.
pub async fn set_manager(
    state: &AppState,
    actor: &Membership,
    user_id: &str,
    manager_id: Option<&str>,
    client: &ClientInfo,
) -> OrgResult<()> {
    actor.require_admin()?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    role_of(&mut tx, &actor.org_id, user_id).await?;
    if let Some(manager) = manager_id {
        role_of(&mut tx, &actor.org_id, manager).await?;
        // Walk up from the new manager; meeting the member means a loop.
        let mut cursor = Some(manager.to_string());
        let mut steps = 0;
        while let Some(current) = cursor {
            if current == user_id {
                return Err(OrgError::ManagerCycle);
            }
            steps += 1;
            if steps > 1000 {
                return Err(OrgError::ManagerCycle);
            }
            cursor = sqlx::query(
                "SELECT manager_user_id FROM memberships WHERE org_id = $1 AND user_id = $2",
            )
            .bind(&actor.org_id)
            .bind(&current)
            .fetch_optional(&mut *tx)
            .await?
            .and_then(|r| {
                r.try_get::<Option<String>, _>("manager_user_id")
                    .ok()
                    .flatten()
            });
        }
    }
    sqlx::query("UPDATE memberships SET manager_user_id = $1 WHERE org_id = $2 AND user_id = $3")
        .bind(manager_id)
        .bind(&actor.org_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        now,
        admin_event(
            kind::MANAGER_CHANGED,
            actor,
            user_id,
            client,
            serde_json::json!({ "manager_user_id": manager_id }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Places a member in a department (or none) with a job title.
pub async fn set_placement(
    state: &AppState,
    actor: &Membership,
    user_id: &str,
    department_id: Option<&str>,
    title: Option<&str>,
    client: &ClientInfo,
) -> OrgResult<()> {
    actor.require_admin()?;
    let now = state.clock.now_ms();
    let title = title.map(str::trim).filter(|t| !t.is_empty());
    if title.map(|t| t.chars().count() > 64).unwrap_or(false) {
        return Err(OrgError::InvalidDepartmentName);
    }
    let mut tx = state.db.begin().await?;
    role_of(&mut tx, &actor.org_id, user_id).await?;
    if let Some(dept) = department_id {
        let found = sqlx::query("SELECT id FROM departments WHERE id = $1 AND org_id = $2")
            .bind(dept)
            .bind(&actor.org_id)
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            return Err(OrgError::NotFound);
        }
    }
    sqlx::query(
        "UPDATE memberships SET department_id = $1, title = $2 WHERE org_id = $3 AND user_id = $4",
    )
    .bind(department_id)
    .bind(title)
    .bind(&actor.org_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        now,
        admin_event(
            kind::DEPARTMENT_CHANGED,
            actor,
            user_id,
            client,
            serde_json::json!({ "department_id": department_id, "title": title }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a member from the org and ends their sessions working in it.
pub async fn remove(
    state: &AppState,
    actor: &Membership,
    user_id: &str,
    client: &ClientInfo,
) -> OrgResult<()> {
    actor.require_admin()?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let current = role_of(&mut tx, &actor.org_id, user_id).await?;
    if current == Role::Owner {
        if actor.role != Role::Owner {
            return Err(OrgError::OwnerOnly);
        }
        if owner_count(&mut tx, &actor.org_id).await? <= 1 {
            return Err(OrgError::LastOwner);
        }
    }
    if current == Role::Admin && actor.role != Role::Owner && actor.user_id != user_id {
        return Err(OrgError::OwnerOnly);
    }
    for statement in [
        "UPDATE memberships SET manager_user_id = NULL WHERE org_id = $1 AND manager_user_id = $2",
        "UPDATE departments SET head_user_id = NULL WHERE org_id = $1 AND head_user_id = $2",
        "DELETE FROM memberships WHERE org_id = $1 AND user_id = $2",
        "UPDATE sessions SET org_id = NULL WHERE org_id = $1 AND user_id = $2",
    ] {
        sqlx::query(statement)
            .bind(&actor.org_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    }
    audit::record(
        &mut tx,
        now,
        admin_event(
            kind::MEMBER_REMOVED,
            actor,
            user_id,
            client,
            serde_json::json!({}),
        ),
    )
    .await?;
    tx.commit().await?;
    forget_known(state);
    tram_accounts::sessions::forget_known(state);
    Ok(())
}

/// Managers upwards from the member: `[manager, manager's manager, …]`, at
/// most `levels` long, ending before one who has left the org.
pub async fn manager_chain(
    db: &Db,
    org_id: &str,
    user_id: &str,
    levels: usize,
) -> OrgResult<Vec<String>> {
    Ok(managers_above(db, org_id, user_id, levels)
        .await?
        .into_iter()
        .take_while(|link| link.member)
        .map(|link| link.user_id)
        .collect())
}

/// One manager above a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLink {
    pub user_id: String,
    /// Still a member of the org. One who has left ends the chain (who
    /// managed them is no longer known).
    pub member: bool,
}

/// The member's managers upwards, nearest first, at most `levels` of them,
/// stopping at a loop back to someone already in the chain: one read
/// (the approval module routes "N levels up" by it).
pub async fn managers_above(
    db: &Db,
    org_id: &str,
    user_id: &str,
    levels: usize,
) -> OrgResult<Vec<ChainLink>> {
    let rows = db
        .read_rows(
            "WITH RECURSIVE chain (depth, user_id, member, next) AS ( \
               SELECT 0, m.user_id, 1, m.manager_user_id FROM memberships m WHERE m.org_id = $1 AND m.user_id = $2 \
               UNION ALL \
               SELECT c.depth + 1, c.next, CASE WHEN m.user_id IS NULL THEN 0 ELSE 1 END, m.manager_user_id \
               FROM chain c LEFT JOIN memberships m ON m.org_id = $1 AND m.user_id = c.next \
               WHERE c.next IS NOT NULL AND c.depth < $3) \
             SELECT user_id, CAST(member AS BIGINT) AS member FROM chain WHERE depth > 0 ORDER BY depth",
            args![org_id, user_id, levels as i64],
        )
        .await?;
    let mut chain: Vec<ChainLink> = Vec::new();
    for row in rows {
        let link = ChainLink {
            user_id: row.try_get("user_id")?,
            member: row.try_get::<i64>("member")? == 1,
        };
        if link.user_id == user_id || chain.iter().any(|c| c.user_id == link.user_id) {
            break;
        }
        chain.push(link);
    }
    Ok(chain)
}

/// Those of `users` who are members of the org, with their roles — and,
/// with `and_admins`, every admin and owner too: `(user_id, role)`, one
/// read.
pub async fn roles_of(
    db: &Db,
    org_id: &str,
    users: &[&str],
    and_admins: bool,
) -> OrgResult<Vec<(String, Role)>> {
    let mut who = Vec::new();
    if and_admins {
        who.push("role IN ('owner', 'admin')".to_string());
    }
    if !users.is_empty() {
        who.push(format!("user_id IN ({})", placeholders(2, users.len())));
    }
    if who.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT user_id, role FROM memberships WHERE org_id = $1 AND ({})",
        who.join(" OR ")
    );
    let mut args = args![org_id];
    args.extend(users.iter().map(|u| Arg::from(*u)));
    db.read_rows(&sql, args)
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.try_get("user_id")?,
                Role::parse(&row.try_get::<String>("role")?)?,
            ))
        })
        .collect()
}

pub(crate) fn admin_event<'a>(
    kind: &'a str,
    actor: &'a Membership,
    user_id: &'a str,
    client: &'a ClientInfo,
    detail: serde_json::Value,
) -> audit::NewEvent<'a> {
    audit::NewEvent {
        kind,
        org_id: Some(&actor.org_id),
        user_id: Some(user_id),
        actor_id: Some(&actor.user_id),
        ip: Some(&client.ip),
        user_agent: Some(&client.user_agent),
        detail,
    }
}
