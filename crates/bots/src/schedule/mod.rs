//! Scheduled robots (post a message at set times) and check-in robots
//! (post a "please check in" card at set times, remind who has not).
//!
//! This module owns the schedules: a robot row of kind `scheduled` or
//! `checkin` (no webhook: its token hash is a value no token hashes to)
//! plus its `robot_schedules` row, made, changed, paused and removed by the
//! group's admins. Each live schedule keeps exactly one pending job for
//! its next occurrence (`robot.schedule:{robot_id}:{due_ms}`), enqueued in
//! the same transaction as the change; every change first cancels the
//! pending one. `when` turns rules into times, `runs` runs the jobs,
//! `checkin` records check-ins, `input` checks what admins send.

pub mod checkin;
pub mod input;
pub mod runs;
pub mod when;

use serde::Serialize;
use sqlx::Row;
use tram_chat::conversations::Participant;
use tram_platform::audit::{self, kind, NewEvent};
use tram_platform::db::{new_id, Db, Tx};
use tram_platform::jobs::{self, NewJob};
use tram_platform::web::client::ClientInfo;
use tram_platform::{AppState, Msg};

use crate::error::BotError;
use crate::robots::RobotKind;
use input::check;
pub use input::{check_rule, ScheduleError, ScheduleInput, ScheduleResult};
use when::{Rule, RuleError};

/// The job that runs one occurrence of a schedule.
pub const RUN_JOB: &str = "robot.schedule";
/// Longest message a schedule posts, in characters.
pub const MAX_BODY_CHARS: usize = 4000;
/// Longest wait before a check-in reminder.
pub const MAX_REMIND_MIN: i64 = 24 * 60;

/// A schedule as its group's admins see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Schedule {
    pub robot_id: String,
    pub conversation_id: String,
    #[serde(skip)]
    pub org_id: String,
    pub kind: RobotKind,
    pub name: String,
    pub avatar_url: Option<String>,
    pub rule: String,
    pub time: String,
    pub days: String,
    pub cron: String,
    pub body_kind: String,
    pub body: String,
    pub mentions: Vec<String>,
    pub mention_all: bool,
    pub missed: String,
    pub remind_after_min: Option<i64>,
    pub paused: bool,
    /// The robot itself is stopped (as custom robots are).
    pub enabled: bool,
    /// When it runs next (Unix ms); none while paused.
    pub next_due: Option<i64>,
    pub updated_at: i64,
}

impl Schedule {
    /// The rule as a cron, as it was checked when saved.
    pub fn cron(&self) -> Result<when::Cron, RuleError> {
        Rule::from_parts(&self.rule, &self.time, &self.days, &self.cron)?.to_cron()
    }
}

/// The org's time zone (orgs have one; Hong Kong by default).
pub async fn org_zone(state: &AppState, org_id: &str) -> chrono_tz::Tz {
    match tram_org::orgs::get(&state.db, org_id).await {
        Ok(org) => when::zone(&org.time_zone),
        Err(_) => chrono_tz::Asia::Hong_Kong,
    }
}

/// The job key prefix of one robot's runs.
pub fn job_prefix(robot_id: &str) -> String {
    format!("{RUN_JOB}:{robot_id}:")
}

/// Cancels the pending run and enqueues the one at `due` (if any);
/// records it as the schedule's next.
pub(crate) async fn replan_in(
    tx: &mut Tx,
    robot_id: &str,
    due: Option<i64>,
    now: i64,
) -> Result<(), sqlx::Error> {
    jobs::cancel_pending(tx, &job_prefix(robot_id), now).await?;
    sqlx::query("UPDATE robot_schedules SET next_due = $1 WHERE robot_id = $2")
        .bind(due)
        .bind(robot_id)
        .execute(&mut **tx)
        .await?;
    if let Some(due) = due {
        jobs::enqueue_in(tx, &run_job(robot_id, due), now).await?;
    }
    Ok(())
}

/// The job of one occurrence: a few retries (a post that failed for a
/// passing reason), 30 s apart and more.
pub(crate) fn run_job(robot_id: &str, due: i64) -> NewJob {
    NewJob::new(
        RUN_JOB,
        format!("{}{due}", job_prefix(robot_id)),
        serde_json::json!({ "robot_id": robot_id, "due": due }),
        due,
    )
    .retried(3, 30_000)
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

/// Adds a scheduled or check-in robot to the actor's group (group admins).
pub async fn create(
    state: &AppState,
    actor: &Participant,
    client: &ClientInfo,
    kind: RobotKind,
    input: &ScheduleInput,
) -> ScheduleResult<Schedule> {
    actor.require_admin()?;
    if !matches!(kind, RobotKind::Scheduled | RobotKind::Checkin) {
        return Err(BotError::NotFound.into());
    }
    let c = check(state, &actor.conversation_id, kind, input).await?;
    let now = state.clock.now_ms();
    let next = c
        .cron_next(org_zone(state, &actor.org_id).await, now)
        .ok_or_else(|| {
            ScheduleError::Invalid(vec![("cron", Msg::new("robots_schedule.error.never"))])
        })?;
    let id = new_id();
    let mut tx = state.db.begin().await?;
    // No webhook: a token hash no SHA-256 hex can equal.
    sqlx::query(
        "INSERT INTO robots (id, org_id, conversation_id, kind, name, avatar_url, token_hash, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(&id)
    .bind(&actor.org_id)
    .bind(&actor.conversation_id)
    .bind(kind.as_str())
    .bind(&c.name)
    .bind(&c.avatar_url)
    .bind(format!("none:{id}"))
    .bind(&actor.user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO robot_schedules (robot_id, rule_kind, at_time, days, cron, body_kind, body, mentions, mention_all, missed, \
         remind_after_min, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&id)
    .bind(&c.rule)
    .bind(&c.time)
    .bind(&c.days)
    .bind(&c.cron)
    .bind(&c.body_kind)
    .bind(&c.body)
    .bind(serde_json::to_string(&c.mentions).expect("strings serialise"))
    .bind(input.mention_all as i64)
    .bind(&c.missed)
    .bind(c.remind_after_min)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    replan_in(&mut tx, &id, Some(next), now).await?;
    let facts = serde_json::json!({ "robot_id": id, "robot": c.name, "kind": kind.as_str(),
        "conversation_id": actor.conversation_id, "rule": c.rule, "time": c.time, "days": c.days, "cron": c.cron });
    audit::record(
        &mut tx,
        now,
        event(kind::ROBOT_CREATED, actor, client, facts),
    )
    .await?;
    tx.commit().await?;
    get(&state.db, &actor.conversation_id, &id).await
}

/// Changes a schedule; the pending run is replaced by the new rule's next.
pub async fn update(
    state: &AppState,
    actor: &Participant,
    client: &ClientInfo,
    robot_id: &str,
    input: &ScheduleInput,
) -> ScheduleResult<Schedule> {
    actor.require_admin()?;
    let current = get(&state.db, &actor.conversation_id, robot_id).await?;
    let c = check(state, &actor.conversation_id, current.kind, input).await?;
    let now = state.clock.now_ms();
    let next = if current.paused {
        None
    } else {
        c.cron_next(org_zone(state, &actor.org_id).await, now)
    };
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE robots SET name = $1, avatar_url = $2, updated_at = $3 WHERE id = $4")
        .bind(&c.name)
        .bind(&c.avatar_url)
        .bind(now)
        .bind(robot_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE robot_schedules SET rule_kind = $1, at_time = $2, days = $3, cron = $4, body_kind = $5, body = $6, \
         mentions = $7, mention_all = $8, missed = $9, remind_after_min = $10, updated_at = $11 WHERE robot_id = $12",
    )
    .bind(&c.rule)
    .bind(&c.time)
    .bind(&c.days)
    .bind(&c.cron)
    .bind(&c.body_kind)
    .bind(&c.body)
    .bind(serde_json::to_string(&c.mentions).expect("strings serialise"))
    .bind(input.mention_all as i64)
    .bind(&c.missed)
    .bind(c.remind_after_min)
    .bind(now)
    .bind(robot_id)
    .execute(&mut *tx)
    .await?;
    replan_in(&mut tx, robot_id, next, now).await?;
    let facts = serde_json::json!({ "robot_id": robot_id, "robot": c.name, "conversation_id": actor.conversation_id,
        "rule": c.rule, "time": c.time, "days": c.days, "cron": c.cron });
    audit::record(
        &mut tx,
        now,
        event(kind::ROBOT_CHANGED, actor, client, facts),
    )
    .await?;
    tx.commit().await?;
    get(&state.db, &actor.conversation_id, robot_id).await
}

/// Pauses (no pending run) or resumes (the next future occurrence).
pub async fn set_paused(
    state: &AppState,
    actor: &Participant,
    client: &ClientInfo,
    robot_id: &str,
    paused: bool,
) -> ScheduleResult<Schedule> {
    actor.require_admin()?;
    let current = get(&state.db, &actor.conversation_id, robot_id).await?;
    let now = state.clock.now_ms();
    let tz = org_zone(state, &actor.org_id).await;
    let next = if paused {
        None
    } else {
        current.cron().ok().and_then(|c| c.next_after(tz, now))
    };
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE robot_schedules SET paused_at = $1, updated_at = $2 WHERE robot_id = $3")
        .bind(paused.then_some(now))
        .bind(now)
        .bind(robot_id)
        .execute(&mut *tx)
        .await?;
    replan_in(&mut tx, robot_id, next, now).await?;
    let facts = serde_json::json!({ "robot_id": robot_id, "robot": current.name,
        "conversation_id": actor.conversation_id, "paused": paused });
    audit::record(
        &mut tx,
        now,
        event(kind::ROBOT_CHANGED, actor, client, facts),
    )
    .await?;
    tx.commit().await?;
    get(&state.db, &actor.conversation_id, robot_id).await
}

/// Removes a scheduled or check-in robot and its pending run; its
/// messages stay.
pub async fn delete(
    state: &AppState,
    actor: &Participant,
    client: &ClientInfo,
    robot_id: &str,
) -> ScheduleResult<()> {
    actor.require_admin()?;
    let current = get(&state.db, &actor.conversation_id, robot_id).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    jobs::cancel_pending(&mut tx, &job_prefix(robot_id), now).await?;
    jobs::cancel_pending(&mut tx, &checkin::remind_prefix(robot_id), now).await?;
    sqlx::query("DELETE FROM robots WHERE id = $1")
        .bind(robot_id)
        .execute(&mut *tx)
        .await?;
    let facts = serde_json::json!({ "robot_id": robot_id, "robot": current.name,
        "conversation_id": actor.conversation_id });
    audit::record(
        &mut tx,
        now,
        event(kind::ROBOT_DELETED, actor, client, facts),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

const SELECT: &str = "SELECT r.id, r.org_id, r.conversation_id, r.kind, r.name, r.avatar_url, r.disabled_at, \
     s.rule_kind, s.at_time, s.days, s.cron, s.body_kind, s.body, s.mentions, s.mention_all, s.missed, \
     s.remind_after_min, s.paused_at, s.next_due, s.updated_at \
     FROM robots r JOIN robot_schedules s ON s.robot_id = r.id";

fn from_row(row: &sqlx::any::AnyRow) -> Result<Schedule, sqlx::Error> {
    Ok(Schedule {
        robot_id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        conversation_id: row.try_get("conversation_id")?,
        kind: RobotKind::parse(&row.try_get::<String, _>("kind")?),
        name: row.try_get("name")?,
        avatar_url: row.try_get("avatar_url")?,
        rule: row.try_get("rule_kind")?,
        time: row.try_get("at_time")?,
        days: row.try_get("days")?,
        cron: row.try_get("cron")?,
        body_kind: row.try_get("body_kind")?,
        body: row.try_get("body")?,
        mentions: serde_json::from_str(&row.try_get::<String, _>("mentions")?).unwrap_or_default(),
        mention_all: row.try_get::<i64, _>("mention_all")? != 0,
        missed: row.try_get("missed")?,
        remind_after_min: row.try_get("remind_after_min")?,
        paused: row.try_get::<Option<i64>, _>("paused_at")?.is_some(),
        enabled: row.try_get::<Option<i64>, _>("disabled_at")?.is_none(),
        next_due: row.try_get("next_due")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The scheduled and check-in robots of a group, oldest first.
pub async fn list(db: &Db, conversation_id: &str) -> ScheduleResult<Vec<Schedule>> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE r.conversation_id = $1 ORDER BY r.created_at, r.id"
    ))
    .bind(conversation_id)
    .fetch_all(db.read())
    .await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// One schedule of a group (`NotFound` for another group's robot).
pub async fn get(db: &Db, conversation_id: &str, robot_id: &str) -> ScheduleResult<Schedule> {
    let row = sqlx::query(&format!(
        "{SELECT} WHERE r.id = $1 AND r.conversation_id = $2"
    ))
    .bind(robot_id)
    .bind(conversation_id)
    .fetch_optional(db.read())
    .await?
    .ok_or(BotError::NotFound)?;
    Ok(from_row(&row)?)
}

/// A schedule by its robot id, whatever its group (the job handlers).
pub async fn by_robot(db: &Db, robot_id: &str) -> Result<Option<Schedule>, sqlx::Error> {
    let row = sqlx::query(&format!("{SELECT} WHERE r.id = $1"))
        .bind(robot_id)
        .fetch_optional(db.write())
        .await?;
    row.as_ref().map(from_row).transpose()
}
