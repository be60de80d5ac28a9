//! Conversations and their members: 1:1 chats (one per pair of people in
//! an org) and groups with owner, admins and members, a name, a pinned
//! announcement; members join, are removed, leave; the owner dissolves.

use serde::Serialize;
use sqlx::{AnyConnection, Row};
use tram_platform::db::{is_unique_violation, new_id, Db};
use tram_platform::AppState;

use crate::error::{ChatError, ChatResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupRole {
    Owner,
    Admin,
    Member,
}

impl GroupRole {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupRole::Owner => "owner",
            GroupRole::Admin => "admin",
            GroupRole::Member => "member",
        }
    }

    pub fn parse(text: &str) -> ChatResult<GroupRole> {
        match text {
            "owner" => Ok(GroupRole::Owner),
            "admin" => Ok(GroupRole::Admin),
            "member" => Ok(GroupRole::Member),
            _ => Err(ChatError::InvalidRole),
        }
    }

    pub fn is_admin(self) -> bool {
        matches!(self, GroupRole::Owner | GroupRole::Admin)
    }
}

/// A caller's place in a conversation, checked before anything is read.
#[derive(Debug, Clone)]
pub struct Participant {
    pub conversation_id: String,
    pub org_id: String,
    pub user_id: String,
    pub role: GroupRole,
    pub is_group: bool,
    /// A work-notice conversation (`notices`): services post, the member
    /// only reads.
    pub is_notice: bool,
    pub read_seq: i64,
}

impl Participant {
    pub fn require_admin(&self) -> ChatResult<()> {
        if !self.is_group {
            return Err(ChatError::NotAGroup);
        }
        if self.role.is_admin() {
            Ok(())
        } else {
            Err(ChatError::AdminOnly)
        }
    }
}

/// The caller's membership of a live conversation of their org; a stranger
/// (even one who guessed the id) gets `NotMember`, which answers 404.
pub async fn participant(
    db: &Db,
    org_id: &str,
    conversation_id: &str,
    user_id: &str,
) -> ChatResult<Participant> {
    let row = sqlx::query(
        "SELECT c.org_id, c.kind, c.dissolved_at, m.role, m.read_seq FROM conversations c \
         JOIN conversation_members m ON m.conversation_id = c.id \
         WHERE c.id = $1 AND m.user_id = $2 AND c.org_id = $3",
    )
    .bind(conversation_id)
    .bind(user_id)
    .bind(org_id)
    .fetch_optional(db.read())
    .await?
    .ok_or(ChatError::NotMember)?;
    if row.try_get::<Option<i64>, _>("dissolved_at")?.is_some() {
        return Err(ChatError::Dissolved);
    }
    let kind: String = row.try_get("kind")?;
    Ok(Participant {
        conversation_id: conversation_id.to_string(),
        org_id: row.try_get("org_id")?,
        user_id: user_id.to_string(),
        role: GroupRole::parse(&row.try_get::<String, _>("role")?)?,
        is_group: kind == "group",
        is_notice: kind == "notice",
        read_seq: row.try_get("read_seq")?,
    })
}

fn check_name(name: &str) -> ChatResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ChatError::InvalidName);
    }
    Ok(name.to_string())
}

async fn ensure_org_member(
    conn: &mut AnyConnection,
    org_id: &str,
    user_id: &str,
) -> ChatResult<()> {
    sqlx::query("SELECT 1 AS x FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .fetch_optional(conn)
        .await?
        .ok_or(ChatError::NotInOrg)?;
    Ok(())
}

pub(crate) async fn add_member(
    conn: &mut AnyConnection,
    now: i64,
    conversation_id: &str,
    user_id: &str,
    role: GroupRole,
) -> ChatResult<bool> {
    let result = sqlx::query(
        "INSERT INTO conversation_members (conversation_id, user_id, role, read_seq, joined_at) \
         SELECT $1, $2, $3, last_seq, $4 FROM conversations WHERE id = $1",
    )
    .bind(conversation_id)
    .bind(user_id)
    .bind(role.as_str())
    .bind(now)
    .execute(conn)
    .await;
    match result {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The 1:1 chat between two members of an org (made on first use).
pub async fn direct(state: &AppState, org_id: &str, me: &str, other: &str) -> ChatResult<String> {
    if me == other {
        return Err(ChatError::SelfChat);
    }
    let (a, b) = if me < other { (me, other) } else { (other, me) };
    let key = format!("{org_id}:{a}:{b}");
    if let Some(row) = sqlx::query("SELECT id FROM conversations WHERE direct_key = $1")
        .bind(&key)
        .fetch_optional(state.db.read())
        .await?
    {
        return Ok(row.try_get("id")?);
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    ensure_org_member(&mut tx, org_id, other).await?;
    let id = new_id();
    let created = sqlx::query(
        "INSERT INTO conversations (id, org_id, kind, direct_key, created_by, created_at) VALUES ($1, $2, 'direct', $3, $4, $5)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(&key)
    .bind(me)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match created {
        Ok(_) => {}
        // Both people opened the chat at once: use the one that won.
        Err(e) if is_unique_violation(&e) => {
            drop(tx);
            let row = sqlx::query("SELECT id FROM conversations WHERE direct_key = $1")
                .bind(&key)
                .fetch_one(state.db.read())
                .await?;
            return Ok(row.try_get("id")?);
        }
        Err(e) => return Err(e.into()),
    }
    add_member(&mut tx, now, &id, me, GroupRole::Member).await?;
    add_member(&mut tx, now, &id, other, GroupRole::Member).await?;
    tx.commit().await?;
    Ok(id)
}

/// A new group with the creator as owner and the given org members.
pub async fn create_group(
    state: &AppState,
    org_id: &str,
    owner: &str,
    name: &str,
    members: &[String],
) -> ChatResult<String> {
    let name = check_name(name)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    for member in members {
        ensure_org_member(&mut tx, org_id, member).await?;
    }
    let id = new_id();
    sqlx::query("INSERT INTO conversations (id, org_id, kind, name, created_by, created_at) VALUES ($1, $2, 'group', $3, $4, $5)")
        .bind(&id)
        .bind(org_id)
        .bind(&name)
        .bind(owner)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    add_member(&mut tx, now, &id, owner, GroupRole::Owner).await?;
    for member in members.iter().filter(|m| m.as_str() != owner) {
        add_member(&mut tx, now, &id, member, GroupRole::Member).await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// Adds org members to a group (admins); returns who was newly added.
pub async fn add_members(
    state: &AppState,
    actor: &Participant,
    users: &[String],
) -> ChatResult<Vec<String>> {
    actor.require_admin()?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut added = Vec::new();
    for user in users {
        ensure_org_member(&mut tx, &actor.org_id, user).await?;
        if add_member(
            &mut tx,
            now,
            &actor.conversation_id,
            user,
            GroupRole::Member,
        )
        .await?
        {
            added.push(user.clone());
        }
    }
    tx.commit().await?;
    Ok(added)
}

/// Joins a group of one's org by its id (an invitation link to the group).
pub async fn join(
    state: &AppState,
    org_id: &str,
    conversation_id: &str,
    user_id: &str,
) -> ChatResult<bool> {
    let row =
        sqlx::query("SELECT kind, dissolved_at FROM conversations WHERE id = $1 AND org_id = $2")
            .bind(conversation_id)
            .bind(org_id)
            .fetch_optional(state.db.read())
            .await?
            .ok_or(ChatError::NotFound)?;
    if row.try_get::<String, _>("kind")? != "group" {
        return Err(ChatError::NotFound);
    }
    if row.try_get::<Option<i64>, _>("dissolved_at")?.is_some() {
        return Err(ChatError::Dissolved);
    }
    let mut tx = state.db.begin().await?;
    let added = add_member(
        &mut tx,
        state.clock.now_ms(),
        conversation_id,
        user_id,
        GroupRole::Member,
    )
    .await?;
    tx.commit().await?;
    Ok(added)
}

async fn role_of(db: &Db, conversation_id: &str, user_id: &str) -> ChatResult<GroupRole> {
    let row = sqlx::query(
        "SELECT role FROM conversation_members WHERE conversation_id = $1 AND user_id = $2",
    )
    .bind(conversation_id)
    .bind(user_id)
    .fetch_optional(db.read())
    .await?
    .ok_or(ChatError::NotFound)?;
    GroupRole::parse(&row.try_get::<String, _>("role")?)
}

/// Removes someone from a group: admins remove members, only the owner
/// removes admins, nobody removes the owner.
pub async fn remove_member(state: &AppState, actor: &Participant, user_id: &str) -> ChatResult<()> {
    actor.require_admin()?;
    let target = role_of(&state.db, &actor.conversation_id, user_id).await?;
    if target == GroupRole::Owner || (target == GroupRole::Admin && actor.role != GroupRole::Owner)
    {
        return Err(ChatError::OwnerOnly);
    }
    sqlx::query("DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2")
        .bind(&actor.conversation_id)
        .bind(user_id)
        .execute(state.db.write())
        .await?;
    Ok(())
}

pub async fn leave(state: &AppState, me: &Participant) -> ChatResult<()> {
    if !me.is_group {
        return Err(ChatError::NotAGroup);
    }
    if me.role == GroupRole::Owner {
        return Err(ChatError::OwnerCannotLeave);
    }
    sqlx::query("DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2")
        .bind(&me.conversation_id)
        .bind(&me.user_id)
        .execute(state.db.write())
        .await?;
    Ok(())
}

/// Sets a member's group role; the owner may hand ownership over (and
/// becomes an admin).
pub async fn set_role(
    state: &AppState,
    actor: &Participant,
    user_id: &str,
    role: GroupRole,
) -> ChatResult<()> {
    if actor.role != GroupRole::Owner {
        return Err(if actor.is_group {
            ChatError::OwnerOnly
        } else {
            ChatError::NotAGroup
        });
    }
    role_of(&state.db, &actor.conversation_id, user_id).await?;
    let mut tx = state.db.begin().await?;
    if role == GroupRole::Owner && user_id != actor.user_id {
        sqlx::query("UPDATE conversation_members SET role = 'admin' WHERE conversation_id = $1 AND user_id = $2")
            .bind(&actor.conversation_id)
            .bind(&actor.user_id)
            .execute(&mut *tx)
            .await?;
    } else if user_id == actor.user_id {
        // The owner stays owner until ownership is handed to someone else.
        return Err(ChatError::OwnerCannotLeave);
    }
    sqlx::query(
        "UPDATE conversation_members SET role = $1 WHERE conversation_id = $2 AND user_id = $3",
    )
    .bind(role.as_str())
    .bind(&actor.conversation_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn rename(state: &AppState, actor: &Participant, name: &str) -> ChatResult<String> {
    actor.require_admin()?;
    let name = check_name(name)?;
    sqlx::query("UPDATE conversations SET name = $1 WHERE id = $2")
        .bind(&name)
        .bind(&actor.conversation_id)
        .execute(state.db.write())
        .await?;
    Ok(name)
}

/// Pins (or, with an empty text, clears) the group announcement.
pub async fn set_announcement(
    state: &AppState,
    actor: &Participant,
    text: &str,
) -> ChatResult<Option<String>> {
    actor.require_admin()?;
    let text = text.trim();
    if text.chars().count() > 2000 {
        return Err(ChatError::InvalidBody);
    }
    let value = (!text.is_empty()).then(|| text.to_string());
    sqlx::query("UPDATE conversations SET announcement = $1, announcement_by = $2, announcement_at = $3 WHERE id = $4")
        .bind(&value)
        .bind(&actor.user_id)
        .bind(state.clock.now_ms())
        .bind(&actor.conversation_id)
        .execute(state.db.write())
        .await?;
    Ok(value)
}

/// Dissolves a group (owner): nobody can read or post any more.
pub async fn dissolve(state: &AppState, actor: &Participant) -> ChatResult<()> {
    if !actor.is_group {
        return Err(ChatError::NotAGroup);
    }
    if actor.role != GroupRole::Owner {
        return Err(ChatError::OwnerOnly);
    }
    sqlx::query("UPDATE conversations SET dissolved_at = $1 WHERE id = $2")
        .bind(state.clock.now_ms())
        .bind(&actor.conversation_id)
        .execute(state.db.write())
        .await?;
    Ok(())
}

pub async fn member_ids(db: &Db, conversation_id: &str) -> ChatResult<Vec<String>> {
    let rows = sqlx::query("SELECT user_id FROM conversation_members WHERE conversation_id = $1")
        .bind(conversation_id)
        .fetch_all(db.read())
        .await?;
    rows.iter().map(|r| Ok(r.try_get("user_id")?)).collect()
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConversationMember {
    pub user_id: String,
    pub display_name: String,
    pub role: GroupRole,
    pub read_seq: i64,
}

pub async fn members(db: &Db, conversation_id: &str) -> ChatResult<Vec<ConversationMember>> {
    let rows = sqlx::query(
        "SELECT m.user_id, u.display_name, m.role, m.read_seq FROM conversation_members m JOIN users u ON u.id = m.user_id \
         WHERE m.conversation_id = $1 ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, u.display_name",
    )
    .bind(conversation_id)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ConversationMember {
                user_id: r.try_get("user_id")?,
                display_name: r.try_get("display_name")?,
                role: GroupRole::parse(&r.try_get::<String, _>("role")?)?,
                read_seq: r.try_get("read_seq")?,
            })
        })
        .collect()
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConversationSummary {
    pub id: String,
    /// `direct`, `group` or `notice` (work notices).
    pub kind: String,
    /// The group name (or the work-notice conversation's), or for a 1:1
    /// chat the other person's name.
    pub title: String,
    pub announcement: Option<String>,
    pub my_role: GroupRole,
    pub muted: bool,
    pub last_seq: i64,
    pub read_seq: i64,
    /// Messages after my read mark.
    pub unread: i64,
    pub member_count: i64,
    pub last_message_at: Option<i64>,
}

const SUMMARY_SELECT: &str = "SELECT c.id, c.kind, c.name, c.announcement, c.last_seq, c.last_message_at, c.created_at, \
     m.role, m.muted, m.read_seq, \
     (SELECT COUNT(*) FROM conversation_members x WHERE x.conversation_id = c.id) AS member_count, \
     (SELECT u.display_name FROM conversation_members o JOIN users u ON u.id = o.user_id \
        WHERE o.conversation_id = c.id AND o.user_id <> m.user_id ORDER BY o.user_id LIMIT 1) AS other_name \
     FROM conversations c JOIN conversation_members m ON m.conversation_id = c.id";

fn summary_from_row(row: &sqlx::any::AnyRow) -> ChatResult<ConversationSummary> {
    let kind: String = row.try_get("kind")?;
    let title = if kind == "group" || kind == "notice" {
        row.try_get::<Option<String>, _>("name")?
            .unwrap_or_default()
    } else {
        row.try_get::<Option<String>, _>("other_name")?
            .unwrap_or_default()
    };
    let last_seq: i64 = row.try_get("last_seq")?;
    let read_seq: i64 = row.try_get("read_seq")?;
    Ok(ConversationSummary {
        id: row.try_get("id")?,
        kind,
        title,
        announcement: row.try_get("announcement")?,
        my_role: GroupRole::parse(&row.try_get::<String, _>("role")?)?,
        muted: row.try_get::<i64, _>("muted")? != 0,
        last_seq,
        read_seq,
        unread: (last_seq - read_seq).max(0),
        member_count: row.try_get("member_count")?,
        last_message_at: row.try_get("last_message_at")?,
    })
}

/// My conversations in an org, most recently active first.
pub async fn list(db: &Db, org_id: &str, user_id: &str) -> ChatResult<Vec<ConversationSummary>> {
    let rows = sqlx::query(&format!(
        "{SUMMARY_SELECT} WHERE m.user_id = $1 AND c.org_id = $2 AND c.dissolved_at IS NULL \
         ORDER BY COALESCE(c.last_message_at, c.created_at) DESC, c.id DESC"
    ))
    .bind(user_id)
    .bind(org_id)
    .fetch_all(db.read())
    .await?;
    rows.iter().map(summary_from_row).collect()
}

pub async fn summary(db: &Db, me: &Participant) -> ChatResult<ConversationSummary> {
    let row = sqlx::query(&format!(
        "{SUMMARY_SELECT} WHERE m.user_id = $1 AND c.id = $2"
    ))
    .bind(&me.user_id)
    .bind(&me.conversation_id)
    .fetch_one(db.read())
    .await?;
    summary_from_row(&row)
}

pub async fn set_muted(state: &AppState, me: &Participant, muted: bool) -> ChatResult<()> {
    sqlx::query(
        "UPDATE conversation_members SET muted = $1 WHERE conversation_id = $2 AND user_id = $3",
    )
    .bind(muted as i64)
    .bind(&me.conversation_id)
    .bind(&me.user_id)
    .execute(state.db.write())
    .await?;
    Ok(())
}
