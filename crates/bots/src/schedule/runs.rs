//! Running a schedule's occurrence, exactly once across the cluster.
//!
//! The job `robot.schedule:{robot}:{due}` posts with `client_id` = the job
//! key, so a repost (the lease ran out after the post but before the job
//! was completed, and another runner took it) returns the stored message
//! instead of posting again. Then one transaction completes the job (only
//! while the lease is still ours), logs the run and enqueues the next
//! occurrence. The next one is always the next occurrence after *now*:
//! however long the server was down, one job existed, so at most one late
//! post is made (or, with the "skip" policy, none, and a skipped run is
//! logged).

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tram_chat::messages::{self, MessageKind, NewMessage, RobotAuthor};
use tram_platform::db::Db;
use tram_platform::jobs::{self, Job, JobResult, Runner};
use tram_platform::AppState;

use super::{checkin, org_zone, Schedule, RUN_JOB};
use crate::robots::RobotKind;

/// The payload of a run job (and of a check-in reminder).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Due {
    pub robot_id: String,
    pub due: i64,
}

/// Adds the schedule jobs to the server's runner.
pub fn register(runner: Runner) -> Runner {
    runner
        .handle(RUN_JOB, run)
        .handle(checkin::REMIND_JOB, checkin::remind)
}

/// One line of a robot's run log.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Run {
    pub due_at: i64,
    /// `posted`, `late`, `skipped` or `failed`.
    pub outcome: String,
    pub message_id: Option<String>,
    pub ran_at: i64,
}

/// A robot's runs, newest first.
pub async fn log(db: &Db, robot_id: &str, limit: i64) -> Result<Vec<Run>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT due_at, outcome, message_id, ran_at FROM robot_runs WHERE robot_id = $1 \
         ORDER BY due_at DESC LIMIT $2",
    )
    .bind(robot_id)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Run {
                due_at: row.try_get("due_at")?,
                outcome: row.try_get("outcome")?,
                message_id: row.try_get("message_id")?,
                ran_at: row.try_get("ran_at")?,
            })
        })
        .collect()
}

pub(crate) fn author(s: &Schedule) -> RobotAuthor {
    RobotAuthor {
        conversation_id: s.conversation_id.clone(),
        robot_id: s.robot_id.clone(),
        name: s.name.clone(),
        avatar_url: s.avatar_url.clone(),
    }
}

/// The message of a scheduled robot's run.
fn message(s: &Schedule, client_id: &str) -> NewMessage {
    NewMessage {
        kind: if s.body_kind == "markdown" {
            MessageKind::Markdown
        } else {
            MessageKind::Text
        },
        body: s.body.clone(),
        mentions: s.mentions.clone(),
        mention_all: s.mention_all,
        robot_mentions: Vec::new(),
        reply_to: None,
        client_id: Some(client_id.to_string()),
    }
}

async fn run(state: AppState, job: Job) -> JobResult {
    let due: Due =
        serde_json::from_value(job.payload.clone()).map_err(|e| format!("unreadable run: {e}"))?;
    let schedule = super::by_robot(&state.db, &due.robot_id)
        .await
        .map_err(|e| e.to_string())?;
    // Removed, paused, or changed since this job was planned (the change
    // planned its own): nothing to do.
    let Some(s) = schedule.filter(|s| !s.paused && s.next_due == Some(due.due)) else {
        return Ok(());
    };
    let now = state.clock.now_ms();
    let grace_ms = state.config.bots.schedule_grace_secs.max(0) * 1_000;
    let late = now > due.due + grace_ms;
    let tz = org_zone(&state, &s.org_id).await;
    let next = s
        .cron()
        .ok()
        .and_then(|c| c.next_after(tz, now.max(due.due)));

    let mut roster = Vec::new();
    let mut posted_message = None;
    // A robot stopped through the robots API skips its runs but keeps its
    // schedule, so starting it again needs nothing more.
    let (outcome, message_id) = if !s.enabled || (late && s.missed == "skip") {
        ("skipped", None)
    } else {
        let posted = match s.kind {
            RobotKind::Checkin => {
                roster = tram_chat::conversations::member_ids(&state.db, &s.conversation_id)
                    .await
                    .map_err(|e| e.to_string())?;
                checkin::post_card(&state, &s, due.due, &job.key).await
            }
            _ => messages::send_as_robot(&state, &author(&s), message(&s, &job.key), None).await,
        };
        match posted {
            Ok(m) => {
                let id = m.id.clone();
                posted_message = Some(m);
                (if late { "late" } else { "posted" }, Some(id))
            }
            // Retried while attempts remain; then logged as failed and the
            // schedule goes on.
            Err(e) if !job.is_last_attempt() => return Err(e.to_string()),
            Err(e) => {
                tracing::warn!(robot = %s.robot_id, error = %e, "scheduled post failed");
                ("failed", None)
            }
        }
    };

    let mut tx = state.db.begin().await.map_err(|e| e.to_string())?;
    jobs::complete_in(&mut tx, &job, now)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query(
        "INSERT INTO robot_runs (robot_id, due_at, outcome, message_id, ran_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (robot_id, due_at) DO NOTHING",
    )
    .bind(&s.robot_id)
    .bind(due.due)
    .bind(outcome)
    .bind(&message_id)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| e.to_string())?;
    if s.kind == RobotKind::Checkin && message_id.is_some() {
        checkin::open_in(&mut tx, &s, due.due, &roster, now)
            .await
            .map_err(|e| e.to_string())?;
    }
    // Compare-and-set: only the run the schedule still expects plans the
    // next one (an edit meanwhile planned its own).
    let moved = sqlx::query(
        "UPDATE robot_schedules SET next_due = $1 WHERE robot_id = $2 AND next_due = $3",
    )
    .bind(next)
    .bind(&s.robot_id)
    .bind(due.due)
    .execute(&mut *tx)
    .await
    .map_err(|e| e.to_string())?;
    if moved.rows_affected() == 1 {
        if let Some(next) = next {
            jobs::enqueue_in(&mut tx, &super::run_job(&s.robot_id, next), now)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    // After the commit: a runner that lost the job leaves this to the one
    // that completes it.
    if let Some(message) = posted_message {
        tram_chat::live::announce_message(&state, &message).await;
    }
    Ok(())
}
