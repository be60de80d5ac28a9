//! Check-in robots (打卡機器人): each run posts a card with a "check in"
//! button that opens the run's page, where each member of the group (as
//! it was at the run) checks in once; the page shows who has and who has
//! not. A reminder job (`robot.checkin.remind:{robot}:{due}`, enqueued in
//! the transaction that completes the run) posts once, @mentioning those
//! who have not; chat's do-not-disturb rules apply to those mentions as to
//! any other.
//!
//! The card does not update live: its button opens the run's page, which
//! is always current.

use sqlx::Row;
use tram_chat::cards::{ButtonAction, Card, CardButton};
use tram_chat::conversations::Participant;
use tram_chat::messages::{self, Message, MessageKind, NewMessage};
use tram_platform::db::{Db, Tx};
use tram_platform::i18n::Locale;
use tram_platform::jobs::{self, Job, JobResult, NewJob};
use tram_platform::AppState;

use super::runs::{author, Due};
use super::{Schedule, ScheduleError, ScheduleResult};
use crate::error::BotError;
use crate::robots::RobotKind;

/// The reminder job of one check-in run.
pub const REMIND_JOB: &str = "robot.checkin.remind";

pub fn remind_prefix(robot_id: &str) -> String {
    format!("{REMIND_JOB}:{robot_id}:")
}

/// Where a run's page is.
pub fn run_path(conversation_id: &str, robot_id: &str, due: i64) -> String {
    format!("/chat/{conversation_id}/checkins/{robot_id}/{due}")
}

/// Posts the run's card (idempotent through `client_id`). Group messages
/// are in the org's language, Hong Kong Chinese by default.
pub(crate) async fn post_card(
    state: &AppState,
    s: &Schedule,
    due: i64,
    client_id: &str,
) -> Result<Message, tram_chat::error::ChatError> {
    let locale = Locale::default();
    // A same-origin page: right whatever address the member reached us at.
    let url = run_path(&s.conversation_id, &s.robot_id, due);
    let card = Card::Action {
        title: locale.t("robots_schedule.checkin.title").to_string(),
        text: s.body.clone(),
        buttons: vec![CardButton {
            title: locale.t("robots_schedule.checkin.button").to_string(),
            url,
            action: ButtonAction::Page,
        }],
        horizontal: false,
    };
    let new = NewMessage {
        kind: MessageKind::Card,
        body: s.body.clone(),
        mentions: s.mentions.clone(),
        mention_all: s.mention_all,
        robot_mentions: Vec::new(),
        reply_to: None,
        client_id: Some(client_id.to_string()),
    };
    messages::send_as_robot(state, &author(s), new, Some(card)).await
}

/// Opens a run: the roster of members, and its reminder (if set).
pub(crate) async fn open_in(
    tx: &mut Tx,
    s: &Schedule,
    due: i64,
    roster: &[String],
    now: i64,
) -> Result<(), sqlx::Error> {
    for user_id in roster {
        sqlx::query(
            "INSERT INTO robot_checkins (robot_id, due_at, user_id) VALUES ($1, $2, $3) \
             ON CONFLICT (robot_id, due_at, user_id) DO NOTHING",
        )
        .bind(&s.robot_id)
        .bind(due)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    }
    if let Some(minutes) = s.remind_after_min {
        let job = NewJob::new(
            REMIND_JOB,
            format!("{}{due}", remind_prefix(&s.robot_id)),
            serde_json::json!({ "robot_id": s.robot_id, "due": due }),
            due + minutes * 60_000,
        )
        .retried(3, 30_000);
        jobs::enqueue_in(tx, &job, now).await?;
    }
    Ok(())
}

/// One member's place in a run.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Entry {
    pub user_id: String,
    pub display_name: String,
    pub checked_at: Option<i64>,
}

/// Everyone of a run, those who checked in first (in order), then the rest.
pub async fn roster(db: &Db, robot_id: &str, due: i64) -> Result<Vec<Entry>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.user_id, u.display_name, c.checked_at FROM robot_checkins c JOIN users u ON u.id = c.user_id \
         WHERE c.robot_id = $1 AND c.due_at = $2 \
         ORDER BY CASE WHEN c.checked_at IS NULL THEN 1 ELSE 0 END, c.checked_at, u.display_name",
    )
    .bind(robot_id)
    .bind(due)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Entry {
                user_id: row.try_get("user_id")?,
                display_name: row.try_get("display_name")?,
                checked_at: row.try_get("checked_at")?,
            })
        })
        .collect()
}

/// The check-in robot of the member's group, and the run exists.
pub async fn run_of(
    db: &Db,
    me: &Participant,
    robot_id: &str,
    due: i64,
) -> ScheduleResult<(Schedule, Vec<Entry>)> {
    let s = super::get(db, &me.conversation_id, robot_id).await?;
    if s.kind != RobotKind::Checkin {
        return Err(BotError::NotFound.into());
    }
    let entries = roster(db, robot_id, due).await?;
    if entries.is_empty() {
        return Err(BotError::NotFound.into());
    }
    Ok((s, entries))
}

/// A member checks in to a run, once.
pub async fn check_in(
    state: &AppState,
    me: &Participant,
    robot_id: &str,
    due: i64,
) -> ScheduleResult<i64> {
    let (_, entries) = run_of(&state.db, me, robot_id, due).await?;
    let Some(mine) = entries.iter().find(|e| e.user_id == me.user_id) else {
        return Err(ScheduleError::NotInRun);
    };
    if mine.checked_at.is_some() {
        return Err(ScheduleError::AlreadyCheckedIn);
    }
    let now = state.clock.now_ms();
    // Conditional: two clicks at once record the first.
    let done = sqlx::query(
        "UPDATE robot_checkins SET checked_at = $1 WHERE robot_id = $2 AND due_at = $3 \
         AND user_id = $4 AND checked_at IS NULL",
    )
    .bind(now)
    .bind(robot_id)
    .bind(due)
    .bind(&me.user_id)
    .execute(state.db.write())
    .await?;
    if done.rows_affected() == 0 {
        return Err(ScheduleError::AlreadyCheckedIn);
    }
    Ok(now)
}

/// The reminder: @mentions, once, those of the run who have not checked in.
pub(crate) async fn remind(state: AppState, job: Job) -> JobResult {
    let due: Due = serde_json::from_value(job.payload.clone())
        .map_err(|e| format!("unreadable reminder: {e}"))?;
    let Some(s) = super::by_robot(&state.db, &due.robot_id)
        .await
        .map_err(|e| e.to_string())?
        .filter(|s| s.enabled)
    else {
        return Ok(());
    };
    let missing: Vec<Entry> = roster(&state.db, &s.robot_id, due.due)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|e| e.checked_at.is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = missing
        .iter()
        .map(|e| format!("@{}", e.display_name))
        .collect();
    let body = Locale::default().tf(
        "robots_schedule.checkin.reminder",
        &[("names", names.join(" "))],
    );
    let new = NewMessage {
        kind: MessageKind::Text,
        body,
        mentions: missing.into_iter().map(|e| e.user_id).collect(),
        mention_all: false,
        robot_mentions: Vec::new(),
        reply_to: None,
        // Once, however often the job is retried or taken over.
        client_id: Some(job.key.clone()),
    };
    let message = messages::send_as_robot(&state, &author(&s), new, None)
        .await
        .map_err(|e| e.to_string())?;
    tram_chat::live::announce_message(&state, &message).await;
    Ok(())
}
