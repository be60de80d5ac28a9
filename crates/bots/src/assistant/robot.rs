//! Adding the assistant to a group (group admins): a robot of kind
//! `assistant`, one per group, answering @mentions. It has no webhook: its
//! access token is random and never shown (the column wants one).

use tram_chat::conversations::Participant;
use tram_platform::audit::{self, kind, NewEvent};
use tram_platform::crypto::hash_token;
use tram_platform::db::new_id;
use tram_platform::i18n::Locale;
use tram_platform::web::client::ClientInfo;
use tram_platform::AppState;

use crate::error::BotResult;
use crate::robots::{self, RobotKind, RobotWebhook};
use crate::security;

/// Adds the assistant to the actor's group, or returns the one it has.
pub async fn add(
    state: &AppState,
    actor: &Participant,
    client: &ClientInfo,
) -> BotResult<RobotWebhook> {
    actor.require_admin()?;
    let existing = robots::list(&state.db, &actor.conversation_id).await?;
    if let Some(robot) = existing
        .into_iter()
        .find(|r| r.kind == RobotKind::Assistant)
    {
        return Ok(robot);
    }
    let id = new_id();
    let name = Locale::default().t("assistant.robot_name");
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO robots (id, org_id, conversation_id, kind, name, token_hash, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, 'assistant', $4, $5, $6, $7, $7)",
    )
    .bind(&id)
    .bind(&actor.org_id)
    .bind(&actor.conversation_id)
    .bind(name)
    .bind(hash_token(&security::new_access_token()))
    .bind(&actor.user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let event = NewEvent {
        kind: kind::ROBOT_CREATED,
        org_id: Some(&actor.org_id),
        user_id: None,
        actor_id: Some(&actor.user_id),
        ip: Some(&client.ip),
        user_agent: Some(&client.user_agent),
        detail: serde_json::json!({ "robot_id": id, "robot": name, "conversation_id": actor.conversation_id, "kind": "assistant" }),
    };
    audit::record(&mut tx, now, event).await?;
    tx.commit().await?;
    robots::get(&state.db, &actor.conversation_id, &id).await
}
