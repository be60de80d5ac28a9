//! Departments: a tree per organisation, each with an optional head (the
//! approval module routes "department head" by it).

use serde::Serialize;
use sqlx::Row;
use tram_platform::args;
use tram_platform::audit;
use tram_platform::db::{new_id, Db};
use tram_platform::web::ClientInfo;
use tram_platform::AppState;

use crate::error::{OrgError, OrgResult};
use crate::members::Membership;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Department {
    pub id: String,
    pub parent_id: Option<String>,
    pub name: String,
    pub head_user_id: Option<String>,
    pub head_name: Option<String>,
    pub member_count: i64,
}

fn check_name(name: &str) -> OrgResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(OrgError::InvalidDepartmentName);
    }
    Ok(name.to_string())
}

/// All departments of the org, parents before children, siblings by name.
pub async fn list(db: &Db, org_id: &str) -> OrgResult<Vec<Department>> {
    let rows = sqlx::query(
        "SELECT d.id, d.parent_id, d.name, d.head_user_id, u.display_name AS head_name, \
         (SELECT COUNT(*) FROM memberships m WHERE m.department_id = d.id) AS member_count \
         FROM departments d LEFT JOIN users u ON u.id = d.head_user_id WHERE d.org_id = $1 ORDER BY d.name, d.id",
    )
    .bind(org_id)
    .fetch_all(db.read())
    .await?;
    let all: Vec<Department> = rows
        .iter()
        .map(|r| {
            Ok(Department {
                id: r.try_get("id")?,
                parent_id: r.try_get("parent_id")?,
                name: r.try_get("name")?,
                head_user_id: r.try_get("head_user_id")?,
                head_name: r.try_get("head_name")?,
                member_count: r.try_get("member_count")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(tree_order(all))
}

/// Orders departments depth-first (parents before their children).
fn tree_order(all: Vec<Department>) -> Vec<Department> {
    fn visit(parent: Option<&str>, all: &[Department], out: &mut Vec<Department>) {
        for d in all.iter().filter(|d| d.parent_id.as_deref() == parent) {
            out.push(d.clone());
            visit(Some(&d.id), all, out);
        }
    }
    let mut out = Vec::with_capacity(all.len());
    visit(None, &all, &mut out);
    out
}

/// Depth of each department in the tree (0 for top level), in list order.
pub fn depths(departments: &[Department]) -> Vec<usize> {
    departments
        .iter()
        .map(|d| {
            let mut depth = 0;
            let mut parent = d.parent_id.clone();
            while let Some(p) = parent {
                depth += 1;
                parent = departments
                    .iter()
                    .find(|x| x.id == p)
                    .and_then(|x| x.parent_id.clone());
                if depth > departments.len() {
                    break;
                }
            }
            depth
        })
        .collect()
}

async fn ensure_in_org(
    db: &mut sqlx::AnyConnection,
    org_id: &str,
    id: &str,
) -> OrgResult<Option<String>> {
    let row = sqlx::query("SELECT parent_id FROM departments WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .fetch_optional(db)
        .await?
        .ok_or(OrgError::NotFound)?;
    Ok(row.try_get("parent_id")?)
}

pub struct DepartmentInput<'a> {
    pub name: &'a str,
    pub parent_id: Option<&'a str>,
    pub head_user_id: Option<&'a str>,
}

pub async fn create(
    state: &AppState,
    actor: &Membership,
    input: DepartmentInput<'_>,
    client: &ClientInfo,
) -> OrgResult<Department> {
    actor.require_admin()?;
    let name = check_name(input.name)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    if let Some(parent) = input.parent_id {
        ensure_in_org(&mut tx, &actor.org_id, parent).await?;
    }
    if let Some(head) = input.head_user_id {
        ensure_member(&mut tx, &actor.org_id, head).await?;
    }
    let id = new_id();
    sqlx::query("INSERT INTO departments (id, org_id, parent_id, name, head_user_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&id)
        .bind(&actor.org_id)
        .bind(input.parent_id)
        .bind(&name)
        .bind(input.head_user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    record(
        &mut tx,
        now,
        actor,
        client,
        serde_json::json!({ "department_id": id, "created": name }),
    )
    .await?;
    tx.commit().await?;
    Ok(Department {
        id,
        parent_id: input.parent_id.map(str::to_string),
        name,
        head_user_id: input.head_user_id.map(str::to_string),
        head_name: None,
        member_count: 0,
    })
}

/// Renames, moves and sets the head of a department in one change.
pub async fn update(
    state: &AppState,
    actor: &Membership,
    id: &str,
    input: DepartmentInput<'_>,
    client: &ClientInfo,
) -> OrgResult<()> {
    actor.require_admin()?;
    let name = check_name(input.name)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    ensure_in_org(&mut tx, &actor.org_id, id).await?;
    // Moving under itself or a descendant would cut the branch off the tree.
    let mut cursor = input.parent_id.map(str::to_string);
    while let Some(current) = cursor {
        if current == id {
            return Err(OrgError::DepartmentCycle);
        }
        cursor = ensure_in_org(&mut tx, &actor.org_id, &current).await?;
    }
    if let Some(head) = input.head_user_id {
        ensure_member(&mut tx, &actor.org_id, head).await?;
    }
    sqlx::query("UPDATE departments SET name = $1, parent_id = $2, head_user_id = $3 WHERE id = $4 AND org_id = $5")
        .bind(&name)
        .bind(input.parent_id)
        .bind(input.head_user_id)
        .bind(id)
        .bind(&actor.org_id)
        .execute(&mut *tx)
        .await?;
    record(
        &mut tx,
        now,
        actor,
        client,
        serde_json::json!({ "department_id": id, "name": name, "parent_id": input.parent_id, "head_user_id": input.head_user_id }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes an empty department (no members, no sub-departments).
pub async fn delete(
    state: &AppState,
    actor: &Membership,
    id: &str,
    client: &ClientInfo,
) -> OrgResult<()> {
    actor.require_admin()?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    ensure_in_org(&mut tx, &actor.org_id, id).await?;
    let used: i64 = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM memberships WHERE department_id = $1) + (SELECT COUNT(*) FROM departments WHERE parent_id = $1) AS n",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?
    .try_get("n")?;
    if used > 0 {
        return Err(OrgError::DepartmentNotEmpty);
    }
    sqlx::query("DELETE FROM departments WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    record(
        &mut tx,
        now,
        actor,
        client,
        serde_json::json!({ "department_id": id, "deleted": true }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The head of the member's department, or of the nearest department above
/// it that has one.
pub async fn head_for(db: &Db, org_id: &str, user_id: &str) -> OrgResult<Option<String>> {
    Ok(chain_of(db, org_id, user_id)
        .await?
        .into_iter()
        .find_map(|link| link.head))
}

/// One department above a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartmentLink {
    pub id: String,
    pub head: Option<String>,
}

/// The member's department and those above it, nearest first, with their
/// heads: one read.
pub async fn chain_of(db: &Db, org_id: &str, user_id: &str) -> OrgResult<Vec<DepartmentLink>> {
    let rows = db
        .read_rows(
            "WITH RECURSIVE up (depth, id, head, parent) AS ( \
               SELECT 0, d.id, d.head_user_id, d.parent_id FROM memberships m \
               JOIN departments d ON d.id = m.department_id AND d.org_id = m.org_id \
               WHERE m.org_id = $1 AND m.user_id = $2 \
               UNION ALL \
               SELECT u.depth + 1, d.id, d.head_user_id, d.parent_id FROM up u \
               JOIN departments d ON d.id = u.parent AND d.org_id = $1 WHERE u.depth < 100) \
             SELECT id, head FROM up ORDER BY depth",
            args![org_id, user_id],
        )
        .await?;
    let mut chain: Vec<DepartmentLink> = Vec::new();
    for row in rows {
        let link = DepartmentLink {
            id: row.try_get("id")?,
            head: row.try_get("head")?,
        };
        // The org keeps departments free of loops; should one appear, the
        // chain stops where it comes round.
        if chain.iter().any(|known| known.id == link.id) {
            break;
        }
        chain.push(link);
    }
    Ok(chain)
}

async fn ensure_member(
    conn: &mut sqlx::AnyConnection,
    org_id: &str,
    user_id: &str,
) -> OrgResult<()> {
    sqlx::query("SELECT 1 AS x FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .fetch_optional(conn)
        .await?
        .ok_or(OrgError::NotMember)?;
    Ok(())
}

async fn record(
    conn: &mut sqlx::AnyConnection,
    now: i64,
    actor: &Membership,
    client: &ClientInfo,
    detail: serde_json::Value,
) -> OrgResult<()> {
    audit::record(
        conn,
        now,
        audit::NewEvent {
            kind: audit::kind::DEPARTMENT_CHANGED,
            org_id: Some(&actor.org_id),
            actor_id: Some(&actor.user_id),
            ip: Some(&client.ip),
            user_agent: Some(&client.user_agent),
            detail,
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}
