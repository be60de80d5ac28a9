//! Members rate the assistant's answers helpful or not: one rating per
//! member per answer, which they may change. Admins see the totals per
//! knowledge base entry (the entry the answer cited first).

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tram_chat::conversations;
use tram_platform::AppState;

use super::{AssistantError, AssistantResult};

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct RatingRequest {
    pub helpful: bool,
}

/// The ratings of one answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Ratings {
    pub message_id: String,
    pub helpful: i64,
    pub not_helpful: i64,
    /// The caller's own rating.
    pub mine: Option<bool>,
}

/// Rates the answer `message_id` (a member of its group, in its org).
pub async fn rate(
    state: &AppState,
    org_id: &str,
    user_id: &str,
    message_id: &str,
    helpful: bool,
) -> AssistantResult<Ratings> {
    let conversation_id = answer_group(state, org_id, message_id).await?;
    // Only the group's members see the answer, so only they rate it.
    conversations::participant(&state.db, org_id, &conversation_id, user_id)
        .await
        .map_err(|_| AssistantError::NotFound)?;
    sqlx::query(
        "INSERT INTO kb_ratings (message_id, user_id, helpful, rated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (message_id, user_id) DO UPDATE SET helpful = EXCLUDED.helpful, rated_at = EXCLUDED.rated_at",
    )
    .bind(message_id)
    .bind(user_id)
    .bind(i64::from(helpful))
    .bind(state.clock.now_ms())
    .execute(state.db.write())
    .await?;
    totals(state, message_id, user_id).await
}

/// The ratings of an answer, as a member of its group sees them.
pub async fn get(
    state: &AppState,
    org_id: &str,
    user_id: &str,
    message_id: &str,
) -> AssistantResult<Ratings> {
    let conversation_id = answer_group(state, org_id, message_id).await?;
    conversations::participant(&state.db, org_id, &conversation_id, user_id)
        .await
        .map_err(|_| AssistantError::NotFound)?;
    totals(state, message_id, user_id).await
}

async fn answer_group(state: &AppState, org_id: &str, message_id: &str) -> AssistantResult<String> {
    let row =
        sqlx::query("SELECT conversation_id FROM kb_answers WHERE message_id = $1 AND org_id = $2")
            .bind(message_id)
            .bind(org_id)
            .fetch_optional(state.db.read())
            .await?
            .ok_or(AssistantError::NotFound)?;
    Ok(row.try_get("conversation_id")?)
}

async fn totals(state: &AppState, message_id: &str, user_id: &str) -> AssistantResult<Ratings> {
    let row = sqlx::query(
        "SELECT COUNT(CASE WHEN helpful = 1 THEN 1 END) AS helpful, COUNT(*) AS total, \
         MAX(CASE WHEN user_id = $2 THEN helpful + 1 ELSE 0 END) AS mine \
         FROM kb_ratings WHERE message_id = $1",
    )
    .bind(message_id)
    .bind(user_id)
    .fetch_one(state.db.read())
    .await?;
    let helpful: i64 = row.try_get("helpful")?;
    let total: i64 = row.try_get("total")?;
    let mine: Option<i64> = row.try_get("mine")?;
    Ok(Ratings {
        message_id: message_id.to_string(),
        helpful,
        not_helpful: total - helpful,
        mine: match mine {
            Some(2) => Some(true),
            Some(1) => Some(false),
            _ => None,
        },
    })
}
