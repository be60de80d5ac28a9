//! Custom webhook robots (`RobotWebhook`): a group admin adds one to a
//! group with a name, a picture and security settings (keywords, a
//! signing secret, an IP allow-list; at least one), and gets its access
//! token once. The token is kept only as its SHA-256 and found by it; the
//! secret is sealed under the server key, because checking a signature
//! needs it. Admins disable and enable robots, issue a new token or secret
//! (the old one stops working at once) and remove them; each change is in
//! the audit log.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tram_chat::conversations::Participant;
use tram_platform::audit::{self, kind, NewEvent};
use tram_platform::crypto::hash_token;
use tram_platform::db::{new_id, Db};
use tram_platform::web::client::ClientInfo;
use tram_platform::AppState;

use crate::error::{BotError, BotResult};
use crate::security;

/// Longest robot name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// A robot as its group's admins see it (never its token or secret).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RobotWebhook {
    pub id: String,
    pub conversation_id: String,
    /// What the robot is (see [`RobotKind`]).
    pub kind: RobotKind,
    pub name: String,
    /// An http(s) picture address.
    pub avatar_url: Option<String>,
    /// The message must contain one of these.
    pub keywords: Vec<String>,
    /// Addresses and CIDR ranges allowed to call (empty: any).
    pub ip_allowlist: Vec<String>,
    /// Calls must be signed with the robot's secret.
    pub signing: bool,
    pub enabled: bool,
    pub created_by: String,
    pub created_by_name: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The last accepted message.
    pub last_call_at: Option<i64>,
    /// Where Tram calls when a member @mentions the robot (outgoing
    /// robots; see `outgoing`).
    pub callback_url: Option<String>,
    /// What the robot may do (see `scopes`).
    pub scopes: Vec<crate::scopes::Scope>,
}

/// What an admin sets on a robot.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct RobotSettings {
    pub name: String,
    /// An http(s) picture address; empty for none.
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// Up to 10 custom keywords (a list, or text with one per line).
    #[serde(default, deserialize_with = "list_or_lines")]
    pub keywords: Vec<String>,
    /// IP addresses or CIDR ranges, e.g. `203.0.113.0/24` (a list, or
    /// text with one per line).
    #[serde(default, deserialize_with = "list_or_lines")]
    pub ip_allowlist: Vec<String>,
}

/// A new robot: its settings, and whether calls must be signed.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewRobot {
    #[serde(flatten)]
    pub settings: RobotSettings,
    /// Generate a signing secret (`SEC…`).
    #[serde(default, deserialize_with = "flexible_bool")]
    pub signing: bool,
}

/// Credentials handed out once: on creation, and when reissued.
#[derive(Debug, Clone)]
pub struct Issued {
    pub robot: RobotWebhook,
    pub access_token: Option<String>,
    pub secret: Option<String>,
}

/// What a robot is: a custom robot (webhook in, and optionally an
/// outgoing callback on @mention), a scheduled robot, a check-in robot, or
/// the org's AI assistant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RobotKind {
    Custom,
    Scheduled,
    Checkin,
    Assistant,
}

impl RobotKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RobotKind::Custom => "custom",
            RobotKind::Scheduled => "scheduled",
            RobotKind::Checkin => "checkin",
            RobotKind::Assistant => "assistant",
        }
    }

    pub fn parse(text: &str) -> RobotKind {
        match text {
            "scheduled" => RobotKind::Scheduled,
            "checkin" => RobotKind::Checkin,
            "assistant" => RobotKind::Assistant,
            _ => RobotKind::Custom,
        }
    }
}

/// A robot as the webhook needs it (with its sealed secret).
#[derive(Debug, Clone)]
pub(crate) struct StoredRobot {
    pub id: String,
    pub org_id: String,
    pub conversation_id: String,
    pub kind: RobotKind,
    pub name: String,
    pub avatar_url: Option<String>,
    pub keywords: Vec<String>,
    pub ip_allowlist: Vec<String>,
    pub secret_sealed: Option<String>,
    pub enabled: bool,
    /// What the robot may do (stored or default).
    pub scopes: Vec<crate::scopes::Scope>,
}

impl StoredRobot {
    pub fn may(&self, scope: crate::scopes::Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// A list of texts, or one text with an entry per line (or comma), as a
/// page's text area sends it.
fn list_or_lines<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Option::<Either>::deserialize(deserializer)? {
        Some(Either::List(list)) => list,
        Some(Either::Text(text)) => text
            .split(['\n', ',', '，'])
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => Vec::new(),
    })
}

/// `true`/`false`, also as the text a page's form sends.
pub fn flexible_bool<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Bool(bool),
        Text(String),
    }
    match Either::deserialize(deserializer)? {
        Either::Bool(b) => Ok(b),
        Either::Text(t) => match t.trim() {
            "true" | "1" | "on" => Ok(true),
            "false" | "0" | "" => Ok(false),
            _ => Err(serde::de::Error::custom("expected true or false")),
        },
    }
}

struct Checked {
    name: String,
    avatar_url: Option<String>,
    keywords: Vec<String>,
    ip_allowlist: Vec<String>,
}

fn check(settings: &RobotSettings) -> BotResult<Checked> {
    let name = settings.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(BotError::InvalidName);
    }
    let avatar_url = match settings
        .avatar_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        Some(url) => Some(tram_chat::cards::safe_picture(url).ok_or(BotError::InvalidAvatar)?),
        None => None,
    };
    let keywords =
        security::clean_keywords(&settings.keywords).map_err(|_| BotError::InvalidKeywords)?;
    let ip_allowlist =
        security::clean_ip_rules(&settings.ip_allowlist).map_err(BotError::InvalidIpRule)?;
    Ok(Checked {
        name: name.to_string(),
        avatar_url,
        keywords,
        ip_allowlist,
    })
}

fn json_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

fn to_json(list: &[String]) -> String {
    serde_json::to_string(list).expect("strings serialise")
}

const ROBOT_SELECT: &str = "SELECT r.id, r.org_id, r.conversation_id, r.kind, r.name, r.avatar_url, r.keywords, r.ip_allowlist, r.secret_sealed, r.disabled_at, \
     r.created_by, u.display_name AS created_by_name, r.created_at, r.updated_at, r.last_call_at, r.scopes, o.callback_url \
     FROM robots r LEFT JOIN users u ON u.id = r.created_by LEFT JOIN robot_outgoing o ON o.robot_id = r.id";

fn robot_from_row(row: &sqlx::any::AnyRow) -> BotResult<RobotWebhook> {
    Ok(RobotWebhook {
        id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
        kind: RobotKind::parse(&row.try_get::<String, _>("kind")?),
        name: row.try_get("name")?,
        avatar_url: row.try_get("avatar_url")?,
        keywords: json_list(&row.try_get::<String, _>("keywords")?),
        ip_allowlist: json_list(&row.try_get::<String, _>("ip_allowlist")?),
        signing: row.try_get::<Option<String>, _>("secret_sealed")?.is_some(),
        enabled: row.try_get::<Option<i64>, _>("disabled_at")?.is_none(),
        created_by: row.try_get("created_by")?,
        created_by_name: row.try_get("created_by_name")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        last_call_at: row.try_get("last_call_at")?,
        callback_url: row.try_get("callback_url")?,
        scopes: scopes_of(row)?,
    })
}

/// The robots of a group, oldest first.
pub async fn list(db: &Db, conversation_id: &str) -> BotResult<Vec<RobotWebhook>> {
    let rows = sqlx::query(&format!(
        "{ROBOT_SELECT} WHERE r.conversation_id = $1 ORDER BY r.created_at, r.id"
    ))
    .bind(conversation_id)
    .fetch_all(db.read())
    .await?;
    rows.iter().map(robot_from_row).collect()
}

/// One robot of a group (`NotFound` for another group's robot).
pub async fn get(db: &Db, conversation_id: &str, robot_id: &str) -> BotResult<RobotWebhook> {
    let row = sqlx::query(&format!(
        "{ROBOT_SELECT} WHERE r.id = $1 AND r.conversation_id = $2"
    ))
    .bind(robot_id)
    .bind(conversation_id)
    .fetch_optional(db.read())
    .await?
    .ok_or(BotError::NotFound)?;
    robot_from_row(&row)
}

/// The robot an access token belongs to.
pub(crate) async fn by_token(db: &Db, token: &str) -> BotResult<Option<StoredRobot>> {
    let row = sqlx::query(&format!("{ROBOT_SELECT} WHERE r.token_hash = $1"))
        .bind(hash_token(token))
        .fetch_optional(db.read())
        .await?;
    row.as_ref().map(stored_from_row).transpose()
}

/// A robot by its id, whatever its group.
pub(crate) async fn by_id(db: &Db, robot_id: &str) -> BotResult<Option<StoredRobot>> {
    let row = sqlx::query(&format!("{ROBOT_SELECT} WHERE r.id = $1"))
        .bind(robot_id)
        .fetch_optional(db.read())
        .await?;
    row.as_ref().map(stored_from_row).transpose()
}

fn stored_from_row(row: &sqlx::any::AnyRow) -> BotResult<StoredRobot> {
    Ok(StoredRobot {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        conversation_id: row.try_get("conversation_id")?,
        kind: RobotKind::parse(&row.try_get::<String, _>("kind")?),
        name: row.try_get("name")?,
        avatar_url: row.try_get("avatar_url")?,
        keywords: json_list(&row.try_get::<String, _>("keywords")?),
        ip_allowlist: json_list(&row.try_get::<String, _>("ip_allowlist")?),
        secret_sealed: row.try_get("secret_sealed")?,
        enabled: row.try_get::<Option<i64>, _>("disabled_at")?.is_none(),
        scopes: scopes_of(row)?,
    })
}

fn scopes_of(row: &sqlx::any::AnyRow) -> Result<Vec<crate::scopes::Scope>, sqlx::Error> {
    let stored = crate::scopes::from_column(row.try_get::<Option<String>, _>("scopes")?.as_deref());
    let has_outgoing = row.try_get::<Option<String>, _>("callback_url")?.is_some();
    Ok(crate::scopes::effective(stored.as_deref(), has_outgoing))
}

fn event<'a>(
    kind: &'a str,
    actor: &'a Participant,
    client: &'a ClientInfo,
    detail: serde_json::Value,
) -> NewEvent<'a> {
    NewEvent {
        kind,
        org_id: Some(&actor.org_id),
        user_id: None,
        actor_id: Some(&actor.user_id),
        ip: Some(&client.ip),
        user_agent: Some(&client.user_agent),
        detail,
    }
}

fn detail(robot_id: &str, name: &str, conversation_id: &str) -> serde_json::Value {
    serde_json::json!({ "robot_id": robot_id, "robot": name, "conversation_id": conversation_id })
}

/// Adds a robot to the actor's group (group admins).
pub async fn create(
    state: &AppState,
    actor: &Participant,
    client: &ClientInfo,
    new: &NewRobot,
) -> BotResult<Issued> {
    actor.require_admin()?;
    let checked = check(&new.settings)?;
    if checked.keywords.is_empty() && checked.ip_allowlist.is_empty() && !new.signing {
        return Err(BotError::NoSecurity);
    }
    let token = security::new_access_token();
    let secret = new.signing.then(security::new_secret);
    let sealed = secret.as_ref().map(|s| state.keys.seal(s.as_bytes()));
    let id = new_id();
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO robots (id, org_id, conversation_id, name, avatar_url, token_hash, secret_sealed, keywords, ip_allowlist, \
         created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
    )
    .bind(&id)
    .bind(&actor.org_id)
    .bind(&actor.conversation_id)
    .bind(&checked.name)
    .bind(&checked.avatar_url)
    .bind(hash_token(&token))
    .bind(&sealed)
    .bind(to_json(&checked.keywords))
    .bind(to_json(&checked.ip_allowlist))
    .bind(&actor.user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let facts = detail(&id, &checked.name, &actor.conversation_id);
    audit::record(
        &mut tx,
        now,
        event(kind::ROBOT_CREATED, actor, client, facts),
    )
    .await?;
    tx.commit().await?;
    Ok(Issued {
        robot: get(&state.db, &actor.conversation_id, &id).await?,
        access_token: Some(token),
        secret,
    })
}

/// Changes a robot's name, picture, keywords and allow-list (group admins).
pub async fn update(
    state: &AppState,
    actor: &Participant,
    client: &ClientInfo,
    robot_id: &str,
    settings: &RobotSettings,
) -> BotResult<RobotWebhook> {
    actor.require_admin()?;
    let current = get(&state.db, &actor.conversation_id, robot_id).await?;
    let checked = check(settings)?;
    if checked.keywords.is_empty() && checked.ip_allowlist.is_empty() && !current.signing {
        return Err(BotError::NoSecurity);
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE robots SET name = $1, avatar_url = $2, keywords = $3, ip_allowlist = $4, updated_at = $5 WHERE id = $6")
        .bind(&checked.name)
        .bind(&checked.avatar_url)
        .bind(to_json(&checked.keywords))
        .bind(to_json(&checked.ip_allowlist))
        .bind(now)
        .bind(robot_id)
        .execute(&mut *tx)
        .await?;
    let mut facts = detail(robot_id, &checked.name, &actor.conversation_id);
    facts["keywords"] = serde_json::json!(checked.keywords);
    facts["ip_allowlist"] = serde_json::json!(checked.ip_allowlist);
    audit::record(
        &mut tx,
        now,
        event(kind::ROBOT_CHANGED, actor, client, facts),
    )
    .await?;
    tx.commit().await?;
    get(&state.db, &actor.conversation_id, robot_id).await
}

/// Stops or restarts a robot (group admins).
pub async fn set_enabled(
    state: &AppState,
    actor: &Participant,
    client: &ClientInfo,
    robot_id: &str,
    enabled: bool,
) -> BotResult<RobotWebhook> {
    actor.require_admin()?;
    let current = get(&state.db, &actor.conversation_id, robot_id).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE robots SET disabled_at = $1, updated_at = $2 WHERE id = $3")
        .bind((!enabled).then_some(now))
        .bind(now)
        .bind(robot_id)
        .execute(&mut *tx)
        .await?;
    let mut facts = detail(robot_id, &current.name, &actor.conversation_id);
    facts["enabled"] = serde_json::json!(enabled);
    audit::record(
        &mut tx,
        now,
        event(kind::ROBOT_CHANGED, actor, client, facts),
    )
    .await?;
    tx.commit().await?;
    get(&state.db, &actor.conversation_id, robot_id).await
}

/// Issues a new access token; the old one is refused from now on.
pub async fn reissue_token(
    state: &AppState,
    actor: &Participant,
    client: &ClientInfo,
    robot_id: &str,
) -> BotResult<Issued> {
    actor.require_admin()?;
    let current = get(&state.db, &actor.conversation_id, robot_id).await?;
    let token = security::new_access_token();
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE robots SET token_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash_token(&token))
        .bind(now)
        .bind(robot_id)
        .execute(&mut *tx)
        .await?;
    let facts = detail(robot_id, &current.name, &actor.conversation_id);
    audit::record(
        &mut tx,
        now,
        event(kind::ROBOT_TOKEN_RESET, actor, client, facts),
    )
    .await?;
    tx.commit().await?;
    Ok(Issued {
        robot: get(&state.db, &actor.conversation_id, robot_id).await?,
        access_token: Some(token),
        secret: None,
    })
}

/// Turns signing on with a new secret, or replaces the secret; calls
/// signed with the old one are refused from now on.
pub async fn reissue_secret(
    state: &AppState,
    actor: &Participant,
    client: &ClientInfo,
    robot_id: &str,
) -> BotResult<Issued> {
    actor.require_admin()?;
    let current = get(&state.db, &actor.conversation_id, robot_id).await?;
    let secret = security::new_secret();
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE robots SET secret_sealed = $1, updated_at = $2 WHERE id = $3")
        .bind(state.keys.seal(secret.as_bytes()))
        .bind(now)
        .bind(robot_id)
        .execute(&mut *tx)
        .await?;
    let facts = detail(robot_id, &current.name, &actor.conversation_id);
    audit::record(
        &mut tx,
        now,
        event(kind::ROBOT_SECRET_RESET, actor, client, facts),
    )
    .await?;
    tx.commit().await?;
    Ok(Issued {
        robot: get(&state.db, &actor.conversation_id, robot_id).await?,
        access_token: None,
        secret: Some(secret),
    })
}

/// Turns signing off (only while another security setting remains).
pub async fn remove_secret(
    state: &AppState,
    actor: &Participant,
    client: &ClientInfo,
    robot_id: &str,
) -> BotResult<RobotWebhook> {
    actor.require_admin()?;
    let current = get(&state.db, &actor.conversation_id, robot_id).await?;
    if current.keywords.is_empty() && current.ip_allowlist.is_empty() {
        return Err(BotError::NoSecurity);
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE robots SET secret_sealed = NULL, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(robot_id)
        .execute(&mut *tx)
        .await?;
    let mut facts = detail(robot_id, &current.name, &actor.conversation_id);
    facts["signing"] = serde_json::json!(false);
    audit::record(
        &mut tx,
        now,
        event(kind::ROBOT_CHANGED, actor, client, facts),
    )
    .await?;
    tx.commit().await?;
    get(&state.db, &actor.conversation_id, robot_id).await
}

/// Removes a robot; its messages stay, under the name they were sent with.
pub async fn delete(
    state: &AppState,
    actor: &Participant,
    client: &ClientInfo,
    robot_id: &str,
) -> BotResult<()> {
    actor.require_admin()?;
    let current = get(&state.db, &actor.conversation_id, robot_id).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query("DELETE FROM robots WHERE id = $1")
        .bind(robot_id)
        .execute(&mut *tx)
        .await?;
    let facts = detail(robot_id, &current.name, &actor.conversation_id);
    audit::record(
        &mut tx,
        now,
        event(kind::ROBOT_DELETED, actor, client, facts),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
