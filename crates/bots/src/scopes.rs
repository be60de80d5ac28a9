//! A robot's scopes (least privilege). A robot is bound to its one group
//! (`robots.conversation_id`: its token and sessions work there only) and
//! may do only what its scopes allow:
//!
//! - `post`: post through its webhook (`/robot/send`) and session webhooks;
//! - `receive`: get @mention callbacks (outgoing robots);
//! - `read_members`: list the group's members (`GET /robot/members`);
//! - `start_forms`: carry buttons that open Tram pages.
//!
//! A robot whose scopes were never set has the defaults: `post`, plus
//! `receive` while it has outgoing settings (today's behaviour). A call
//! outside its scopes is refused with DingTalk's "no permission" code and
//! logged; changes are audited.

use serde::{Deserialize, Serialize};
use tram_chat::conversations::Participant;
use tram_platform::audit::{self, kind, NewEvent};
use tram_platform::web::client::ClientInfo;
use tram_platform::AppState;

use crate::error::{BotError, BotResult};
use crate::robots::{self, RobotWebhook};

/// What a robot may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Post,
    Receive,
    ReadMembers,
    StartForms,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::Post,
        Scope::Receive,
        Scope::ReadMembers,
        Scope::StartForms,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Post => "post",
            Scope::Receive => "receive",
            Scope::ReadMembers => "read_members",
            Scope::StartForms => "start_forms",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == text.trim())
    }
}

/// The scopes in force: the stored ones, or the defaults.
pub fn effective(stored: Option<&[String]>, has_outgoing: bool) -> Vec<Scope> {
    match stored {
        Some(list) => {
            let mut scopes: Vec<Scope> = list.iter().filter_map(|s| Scope::parse(s)).collect();
            scopes.sort_by_key(|s| s.as_str());
            scopes.dedup();
            scopes
        }
        None if has_outgoing => vec![Scope::Post, Scope::Receive],
        None => vec![Scope::Post],
    }
}

/// Reads `scopes` from the column's JSON (NULL: never set).
pub fn from_column(text: Option<&str>) -> Option<Vec<String>> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

/// What an admin sets: the scopes by name (a list, or form fields).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ScopeSettings {
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// Sets a robot's scopes (group admins); unknown names are refused.
pub async fn set(
    state: &AppState,
    actor: &Participant,
    client: &ClientInfo,
    robot_id: &str,
    settings: &ScopeSettings,
) -> BotResult<RobotWebhook> {
    actor.require_admin()?;
    let robot = robots::get(&state.db, &actor.conversation_id, robot_id).await?;
    let mut scopes = Vec::new();
    for name in settings.scopes.iter().filter(|s| !s.trim().is_empty()) {
        let scope = Scope::parse(name).ok_or_else(|| BotError::InvalidScope(name.clone()))?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    let names: Vec<&str> = Scope::ALL
        .into_iter()
        .filter(|s| scopes.contains(s))
        .map(Scope::as_str)
        .collect();
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE robots SET scopes = $1, updated_at = $2 WHERE id = $3")
        .bind(serde_json::to_string(&names).expect("strings serialise"))
        .bind(now)
        .bind(robot_id)
        .execute(&mut *tx)
        .await?;
    let detail = serde_json::json!({
        "robot_id": robot_id, "robot": robot.name, "conversation_id": actor.conversation_id,
        "scopes": names, "previous_scopes": robot.scopes,
    });
    audit::record(
        &mut tx,
        now,
        NewEvent {
            kind: kind::ROBOT_CHANGED,
            org_id: Some(&actor.org_id),
            user_id: None,
            actor_id: Some(&actor.user_id),
            ip: Some(&client.ip),
            user_agent: Some(&client.user_agent),
            detail,
        },
    )
    .await?;
    tx.commit().await?;
    robots::get(&state.db, &actor.conversation_id, robot_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_outgoing_settings() {
        assert_eq!(effective(None, false), vec![Scope::Post]);
        assert_eq!(effective(None, true), vec![Scope::Post, Scope::Receive]);
        let set = vec!["read_members".to_string(), "bogus".to_string()];
        assert_eq!(
            effective(Some(set.as_slice()), true),
            vec![Scope::ReadMembers]
        );
        assert_eq!(effective(Some(&[][..]), true), Vec::<Scope>::new());
    }
}
