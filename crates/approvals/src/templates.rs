//! Approval templates: a form and a flow, designed by org admins. Every
//! change is a new version; a request keeps the version it was submitted
//! under, so editing a template never changes a request in flight.

use serde::{Deserialize, Serialize};
use tram_org::members::Membership;
use tram_platform::args;
use tram_platform::db::{new_id, Db, Row as DbRow};
use tram_platform::AppState;

use crate::error::{ApprovalError, ApprovalResult};
use crate::flow::{self, Flow, Node, Who};
use crate::form::{self, Field};

pub const CATEGORIES: &[&str] = &["leave", "expense", "purchase", "travel", "custom"];

/// What an admin designs.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct TemplateDesign {
    pub name: String,
    pub category: String,
    #[serde(default)]
    pub description: String,
    pub fields: Vec<Field>,
    pub flow: Flow,
}

/// A template at one version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Template {
    pub id: String,
    pub name: String,
    pub category: String,
    pub description: String,
    pub version: i64,
    pub enabled: bool,
    pub fields: Vec<Field>,
    pub flow: Flow,
    pub updated_at: i64,
}

/// Checks a design against the org: names, the form, the flow, and that
/// every person the flow names is a member.
async fn check(db: &Db, org_id: &str, design: &TemplateDesign) -> ApprovalResult<()> {
    let name = design.name.trim();
    if name.is_empty() || name.chars().count() > 64 || design.description.chars().count() > 500 {
        return Err(ApprovalError::InvalidName);
    }
    if !CATEGORIES.contains(&design.category.as_str()) {
        return Err(ApprovalError::InvalidCategory);
    }
    form::check_design(&design.fields).map_err(|e| ApprovalError::InvalidForm {
        field: e.field,
        problem: e.problem,
    })?;
    let keys: Vec<&str> = design.fields.iter().map(|f| f.key.as_str()).collect();
    flow::check(&design.flow, &keys).map_err(|e| ApprovalError::InvalidFlow {
        node: e.node,
        problem: e.problem,
    })?;
    let members: std::collections::HashSet<String> = tram_org::members::list(db, org_id)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    let mut named = Vec::new();
    persons(&design.flow.nodes, &mut named);
    if let Some((node, _)) = named.into_iter().find(|(_, user)| !members.contains(*user)) {
        return Err(ApprovalError::InvalidFlow {
            node: node.to_string(),
            problem: "not_a_member",
        });
    }
    Ok(())
}

/// (node id, user id) of every person a flow names.
fn persons<'a>(nodes: &'a [Node], out: &mut Vec<(&'a str, &'a str)>) {
    for node in nodes {
        match node {
            Node::Approver {
                id, approvers: who, ..
            }
            | Node::Cc {
                id,
                recipients: who,
                ..
            } => {
                for w in who {
                    if let Who::Person { user_id } = w {
                        out.push((id, user_id));
                    }
                }
            }
            Node::Branch {
                branches, default, ..
            } => {
                for branch in branches {
                    persons(&branch.nodes, out);
                }
                persons(default, out);
            }
        }
    }
}

pub async fn create(
    state: &AppState,
    actor: &Membership,
    design: &TemplateDesign,
) -> ApprovalResult<Template> {
    actor
        .require_admin()
        .map_err(|_| ApprovalError::AdminOnly)?;
    check(&state.db, &actor.org_id, design).await?;
    let id = new_id();
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO approval_templates (id, org_id, name, category, description, version, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7)",
    )
    .bind(&id)
    .bind(&actor.org_id)
    .bind(design.name.trim())
    .bind(&design.category)
    .bind(design.description.trim())
    .bind(&actor.user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    insert_version(&mut tx, &id, 1, design, &actor.user_id, now).await?;
    tx.commit().await?;
    get(&state.db, &actor.org_id, &id, None).await
}

/// Saves a new version of a template (admins).
pub async fn update(
    state: &AppState,
    actor: &Membership,
    id: &str,
    design: &TemplateDesign,
) -> ApprovalResult<Template> {
    actor
        .require_admin()
        .map_err(|_| ApprovalError::AdminOnly)?;
    let current = get(&state.db, &actor.org_id, id, None).await?;
    check(&state.db, &actor.org_id, design).await?;
    let now = state.clock.now_ms();
    let version = current.version + 1;
    let mut tx = state.db.begin().await?;
    let updated = sqlx::query(
        "UPDATE approval_templates SET name = $1, category = $2, description = $3, version = $4, updated_at = $5 \
         WHERE id = $6 AND org_id = $7 AND version = $8",
    )
    .bind(design.name.trim())
    .bind(&design.category)
    .bind(design.description.trim())
    .bind(version)
    .bind(now)
    .bind(id)
    .bind(&actor.org_id)
    .bind(current.version)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() != 1 {
        // Another admin saved a version meanwhile.
        return Err(ApprovalError::AlreadyDecided);
    }
    insert_version(&mut tx, id, version, design, &actor.user_id, now).await?;
    tx.commit().await?;
    get(&state.db, &actor.org_id, id, None).await
}

async fn insert_version(
    tx: &mut tram_platform::db::Tx,
    id: &str,
    version: i64,
    design: &TemplateDesign,
    by: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO approval_template_versions (template_id, version, fields, flow, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(version)
    .bind(serde_json::to_string(&design.fields).expect("fields serialise"))
    .bind(serde_json::to_string(&design.flow).expect("flows serialise"))
    .bind(by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Switches a template off or on (admins); requests in flight go on.
pub async fn set_enabled(
    state: &AppState,
    actor: &Membership,
    id: &str,
    enabled: bool,
) -> ApprovalResult<()> {
    actor
        .require_admin()
        .map_err(|_| ApprovalError::AdminOnly)?;
    let now = state.clock.now_ms();
    let result = sqlx::query("UPDATE approval_templates SET disabled_at = $1, updated_at = $2 WHERE id = $3 AND org_id = $4")
        .bind((!enabled).then_some(now))
        .bind(now)
        .bind(id)
        .bind(&actor.org_id)
        .execute(state.db.write())
        .await?;
    if result.rows_affected() == 0 {
        return Err(ApprovalError::NotFound);
    }
    Ok(())
}

/// A template of the org, at `version` (default: the current one).
pub async fn get(
    db: &Db,
    org_id: &str,
    id: &str,
    version: Option<i64>,
) -> ApprovalResult<Template> {
    let row = db
        .read_row(
            "SELECT t.id, t.name, t.category, t.description, t.version AS current, t.disabled_at, t.updated_at, \
             v.version, v.fields, v.flow FROM approval_templates t \
             JOIN approval_template_versions v ON v.template_id = t.id AND v.version = COALESCE($3, t.version) \
             WHERE t.id = $1 AND t.org_id = $2",
            args![id, org_id, version],
        )
        .await?
        .ok_or(ApprovalError::NotFound)?;
    template_from_row(&row)
}

fn template_from_row(row: &DbRow) -> ApprovalResult<Template> {
    let fields: String = row.try_get("fields")?;
    let flow: String = row.try_get("flow")?;
    Ok(Template {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        category: row.try_get("category")?,
        description: row.try_get("description")?,
        version: row.try_get("version")?,
        enabled: row.try_get::<Option<i64>>("disabled_at")?.is_none(),
        fields: serde_json::from_str(&fields).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        flow: serde_json::from_str(&flow).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The org's templates at their current versions, by name.
pub async fn list(db: &Db, org_id: &str) -> ApprovalResult<Vec<Template>> {
    let rows = db
        .pooled_rows(
            "SELECT t.id, t.name, t.category, t.description, t.version AS current, t.disabled_at, t.updated_at, \
             v.version, v.fields, v.flow FROM approval_templates t \
             JOIN approval_template_versions v ON v.template_id = t.id AND v.version = t.version \
             WHERE t.org_id = $1 ORDER BY t.name, t.id",
            args![org_id],
        )
        .await?;
    rows.iter().map(template_from_row).collect()
}
