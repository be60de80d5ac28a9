//! The admins' queue: questions the assistant could not answer, with who
//! asked, where and when. An org admin's answer is posted in the original
//! group as the assistant, quoting the question and @mentioning the asker
//! (their notification), and joins the knowledge base as an FAQ, so the
//! same question is answered from it next time.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tram_chat::messages::Message;
use tram_platform::db::new_id;
use tram_platform::AppState;

use super::answer::{self, Citation, Reply};
use super::knowledge::{self, EntryKind, NewEntry, MAX_ANSWER_CHARS};
use super::{AssistantError, AssistantResult};
use crate::robots::{self, StoredRobot};

/// A queued question.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Question {
    pub id: String,
    pub question: String,
    pub asker_id: Option<String>,
    pub asker_name: Option<String>,
    pub conversation_id: String,
    pub group_name: Option<String>,
    pub created_at: i64,
    pub answered_at: Option<i64>,
    pub answer: Option<String>,
    /// The FAQ the answer became.
    pub entry_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct AnswerRequest {
    pub answer: String,
}

/// Queues a question (once per message).
pub(crate) async fn add(
    state: &AppState,
    robot: &StoredRobot,
    asked: &Message,
    asker_id: &str,
    question: &str,
) -> AssistantResult<()> {
    sqlx::query(
        "INSERT INTO kb_questions (id, org_id, robot_id, conversation_id, message_id, asker_id, question, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(new_id())
    .bind(&robot.org_id)
    .bind(&robot.id)
    .bind(&robot.conversation_id)
    .bind(&asked.id)
    .bind(asker_id)
    .bind(question)
    .bind(state.clock.now_ms())
    .execute(state.db.write())
    .await?;
    Ok(())
}

const QUESTION_SELECT: &str = "SELECT q.id, q.question, q.asker_id, u.display_name AS asker_name, q.conversation_id, \
     c.name AS group_name, q.created_at, q.answered_at, q.answer, q.entry_id, q.robot_id, q.message_id \
     FROM kb_questions q LEFT JOIN users u ON u.id = q.asker_id LEFT JOIN conversations c ON c.id = q.conversation_id";

fn from_row(row: &sqlx::any::AnyRow) -> AssistantResult<Question> {
    Ok(Question {
        id: row.try_get("id")?,
        question: row.try_get("question")?,
        asker_id: row.try_get("asker_id")?,
        asker_name: row.try_get("asker_name")?,
        conversation_id: row.try_get("conversation_id")?,
        group_name: row.try_get("group_name")?,
        created_at: row.try_get("created_at")?,
        answered_at: row.try_get("answered_at")?,
        answer: row.try_get("answer")?,
        entry_id: row.try_get("entry_id")?,
    })
}

/// The org's questions: unanswered first (oldest first), then answered
/// ones, newest first.
pub async fn list(state: &AppState, org_id: &str) -> AssistantResult<Vec<Question>> {
    let rows = sqlx::query(&format!(
        "{QUESTION_SELECT} WHERE q.org_id = $1 \
         ORDER BY CASE WHEN q.answered_at IS NULL THEN 0 ELSE 1 END, \
         CASE WHEN q.answered_at IS NULL THEN q.created_at ELSE -q.answered_at END, q.id"
    ))
    .bind(org_id)
    .fetch_all(state.db.read())
    .await?;
    rows.iter().map(from_row).collect()
}

/// An org admin answers a queued question.
pub async fn answer(
    state: &AppState,
    org_id: &str,
    admin_id: &str,
    question_id: &str,
    text: &str,
) -> AssistantResult<Question> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_ANSWER_CHARS {
        return Err(AssistantError::InvalidAnswer);
    }
    let row = sqlx::query(&format!(
        "{QUESTION_SELECT} WHERE q.id = $1 AND q.org_id = $2"
    ))
    .bind(question_id)
    .bind(org_id)
    .fetch_optional(state.db.read())
    .await?
    .ok_or(AssistantError::NotFound)?;
    let queued = from_row(&row)?;
    let robot_id: Option<String> = row.try_get("robot_id")?;
    let message_id: String = row.try_get("message_id")?;
    let faq = knowledge::checked(&NewEntry {
        kind: EntryKind::Faq,
        title: queued
            .question
            .chars()
            .take(knowledge::MAX_TITLE_CHARS)
            .collect(),
        body: text.to_string(),
        phrasings: Vec::new(),
    })?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    // Only the first answer counts, even when two admins answer at once.
    let claimed = sqlx::query(
        "UPDATE kb_questions SET answered_at = $1, answered_by = $2, answer = $3 \
         WHERE id = $4 AND answered_at IS NULL",
    )
    .bind(now)
    .bind(admin_id)
    .bind(text)
    .bind(question_id)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() != 1 {
        return Err(AssistantError::AlreadyAnswered);
    }
    let entry_id = knowledge::insert(&mut tx, org_id, admin_id, &faq, now).await?;
    sqlx::query("UPDATE kb_questions SET entry_id = $1 WHERE id = $2")
        .bind(&entry_id)
        .bind(question_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    notify(state, &queued, robot_id, &message_id, &entry_id, text).await;
    let row = sqlx::query(&format!("{QUESTION_SELECT} WHERE q.id = $1"))
        .bind(question_id)
        .fetch_one(state.db.read())
        .await?;
    from_row(&row)
}

/// Tells the asker in the group, as the assistant. The answer is stored
/// whatever happens here: a robot removed or a group dissolved since only
/// means there is no one to tell there.
async fn notify(
    state: &AppState,
    queued: &Question,
    robot_id: Option<String>,
    message_id: &str,
    entry_id: &str,
    text: &str,
) {
    let Some(asker_id) = &queued.asker_id else {
        return;
    };
    let robot = match robot_id {
        Some(id) => robots::by_id(&state.db, &id).await.ok().flatten(),
        None => None,
    };
    let Some(robot) = robot.filter(|r| r.enabled && r.conversation_id == queued.conversation_id)
    else {
        return;
    };
    let reply = Reply::Answer {
        text: text.to_string(),
        citations: vec![Citation {
            entry_id: entry_id.to_string(),
            title: queued.question.clone(),
        }],
        from_llm: false,
    };
    let locale = answer::reply_locale(&queued.question);
    let body = answer::render(
        state,
        locale,
        queued.asker_name.as_deref().unwrap_or(""),
        &reply,
    );
    let posted = answer::post(
        state,
        &robot,
        body,
        asker_id,
        Some(message_id.to_string()),
        format!("assistant-queue:{}", queued.id),
    )
    .await;
    match posted {
        Ok(message) => {
            if let Err(err) =
                answer::record_answer(state, &robot.org_id, &message, Some(entry_id)).await
            {
                tracing::warn!(error = %err, "could not record the assistant's answer");
            }
        }
        Err(err) => tracing::warn!(error = %err, "could not post an admin's answer"),
    }
}
