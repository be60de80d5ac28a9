//! What a group admin sends for a scheduled or check-in robot, its
//! checks (every field at once, each with its own message), and the
//! errors of schedules with their one mapping to HTTP.

use serde::Deserialize;
use tram_platform::{ApiError, AppState, Msg};

use super::when::{self, Rule, RuleError};
use super::{MAX_BODY_CHARS, MAX_REMIND_MIN};
use crate::error::BotError;
use crate::robots::{flexible_bool, RobotKind, MAX_NAME_CHARS};

/// What a group admin sets in the three steps (and when editing).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ScheduleInput {
    /// Step 1: name and picture.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// Step 2: `daily`, `weekdays`, `days` or `cron`.
    #[serde(default)]
    pub rule: String,
    /// `HH:MM` in the org's time zone (not for `cron`).
    #[serde(default)]
    pub time: String,
    /// ISO weekdays (1 = Monday … 7 = Sunday) for `days`: a list, or `1,3,5`.
    #[serde(default, deserialize_with = "text_or_list")]
    pub days: String,
    /// 5 fields: minute hour day-of-month month day-of-week.
    #[serde(default)]
    pub cron: String,
    /// Step 3: `text` or `markdown`.
    #[serde(default)]
    pub body_kind: String,
    #[serde(default)]
    pub body: String,
    /// Members to @mention (user ids of the group).
    #[serde(default)]
    pub mentions: Vec<String>,
    #[serde(default, deserialize_with = "flexible_bool")]
    pub mention_all: bool,
    /// `late` (post once, late) or `skip`; empty for the server's default.
    #[serde(default)]
    pub missed: String,
    /// Check-in robots: minutes after each run to remind who has not
    /// checked in (empty: no reminder).
    #[serde(default, deserialize_with = "text_or_list")]
    pub remind_after_min: String,
}

/// A list of texts (checkboxes) or one text, as one comma-separated text.
fn text_or_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<serde_json::Value>),
        Text(String),
        Number(i64),
    }
    let plain = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Ok(match Option::<Either>::deserialize(d)? {
        Some(Either::List(list)) => list.iter().map(plain).collect::<Vec<_>>().join(","),
        Some(Either::Text(text)) => text,
        Some(Either::Number(n)) => n.to_string(),
        None => String::new(),
    })
}

/// Why a schedule was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// Fields to fix, each with its message.
    #[error("invalid fields: {0:?}")]
    Invalid(Vec<(&'static str, Msg)>),
    #[error("already checked in")]
    AlreadyCheckedIn,
    #[error("not in this check-in")]
    NotInRun,
    #[error(transparent)]
    Bot(#[from] BotError),
}

impl From<sqlx::Error> for ScheduleError {
    fn from(e: sqlx::Error) -> Self {
        ScheduleError::Bot(BotError::Database(e))
    }
}

impl From<tram_chat::error::ChatError> for ScheduleError {
    fn from(e: tram_chat::error::ChatError) -> Self {
        ScheduleError::Bot(BotError::Chat(e))
    }
}

impl From<ScheduleError> for ApiError {
    fn from(err: ScheduleError) -> ApiError {
        use axum::http::StatusCode;
        match err {
            ScheduleError::Invalid(fields) => {
                let first = fields
                    .first()
                    .map(|(_, m)| m.clone())
                    .unwrap_or_else(|| Msg::new("robots_schedule.error.invalid"));
                let mut e = ApiError::new(StatusCode::BAD_REQUEST, "invalid_schedule", first);
                for (name, msg) in fields {
                    e = e.field(name, msg);
                }
                e
            }
            ScheduleError::AlreadyCheckedIn => ApiError::new(
                StatusCode::CONFLICT,
                "already_checked_in",
                Msg::new("robots_schedule.error.already_checked_in"),
            ),
            ScheduleError::NotInRun => ApiError::new(
                StatusCode::FORBIDDEN,
                "not_in_checkin",
                Msg::new("robots_schedule.error.not_in_run"),
            ),
            ScheduleError::Bot(inner) => inner.into(),
        }
    }
}

pub type ScheduleResult<T> = Result<T, ScheduleError>;

/// An input that passed every check.
pub(crate) struct Checked {
    pub(crate) name: String,
    pub(crate) avatar_url: Option<String>,
    pub(crate) rule: String,
    pub(crate) time: String,
    pub(crate) days: String,
    pub(crate) cron: String,
    pub(crate) body_kind: String,
    pub(crate) body: String,
    pub(crate) mentions: Vec<String>,
    pub(crate) missed: String,
    pub(crate) remind_after_min: Option<i64>,
}

fn rule_error(fields: &mut Vec<(&'static str, Msg)>, err: RuleError) {
    match err {
        RuleError::Time => fields.push(("time", Msg::new("robots_schedule.error.time"))),
        RuleError::Days => fields.push(("days", Msg::new("robots_schedule.error.days"))),
        RuleError::Cron(detail) => fields.push((
            "cron",
            Msg::new("robots_schedule.error.cron").arg("detail", detail),
        )),
        RuleError::Never => fields.push(("cron", Msg::new("robots_schedule.error.never"))),
    }
}

/// Checks the "when" step alone (the preview uses it too).
pub fn check_rule(input: &ScheduleInput) -> ScheduleResult<(Rule, when::Cron)> {
    let mut fields = Vec::new();
    match Rule::from_parts(input.rule.trim(), &input.time, &input.days, &input.cron) {
        Ok(rule) => match rule.to_cron() {
            Ok(cron) => return Ok((rule, cron)),
            Err(e) => rule_error(&mut fields, e),
        },
        Err(RuleError::Cron(_)) if !matches!(input.rule.trim(), "cron") => {
            fields.push(("rule", Msg::new("robots_schedule.error.rule")))
        }
        Err(e) => rule_error(&mut fields, e),
    }
    Err(ScheduleError::Invalid(fields))
}

pub(crate) async fn check(
    state: &AppState,
    conversation_id: &str,
    kind: RobotKind,
    input: &ScheduleInput,
) -> ScheduleResult<Checked> {
    let mut fields: Vec<(&'static str, Msg)> = Vec::new();
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        fields.push(("name", Msg::new("bots.error.invalid_name")));
    }
    let avatar_url = match input.avatar_url.as_deref().map(str::trim) {
        Some(url) if !url.is_empty() => {
            let safe = tram_chat::cards::safe_picture(url);
            if safe.is_none() {
                fields.push(("avatar_url", Msg::new("bots.error.invalid_avatar")));
            }
            safe
        }
        _ => None,
    };
    let rule = match check_rule(input) {
        Ok((rule, _)) => Some(rule),
        Err(ScheduleError::Invalid(mut more)) => {
            fields.append(&mut more);
            None
        }
        Err(other) => return Err(other),
    };
    let body_kind = match input.body_kind.trim() {
        "" | "text" => "text",
        "markdown" => "markdown",
        _ => {
            fields.push(("body_kind", Msg::new("robots_schedule.error.body_kind")));
            "text"
        }
    };
    let body = input.body.trim();
    if body.is_empty() || body.chars().count() > MAX_BODY_CHARS {
        fields.push((
            "body",
            Msg::new("robots_schedule.error.body").arg("max", MAX_BODY_CHARS),
        ));
    }
    let mut mentions = input.mentions.clone();
    mentions.sort();
    mentions.dedup();
    if !mentions.is_empty() {
        let members = tram_chat::conversations::member_ids(&state.db, conversation_id).await?;
        if mentions.iter().any(|m| !members.contains(m)) {
            fields.push(("mentions", Msg::new("robots_schedule.error.mentions")));
        }
    }
    let missed = match input.missed.trim() {
        "" => state.config.bots.schedule_missed_default.clone(),
        "late" => "late".to_string(),
        "skip" => "skip".to_string(),
        _ => {
            fields.push(("missed", Msg::new("robots_schedule.error.missed")));
            String::new()
        }
    };
    let remind_after_min = match input.remind_after_min.trim() {
        "" => None,
        text => match text.parse::<i64>() {
            Ok(n) if (1..=MAX_REMIND_MIN).contains(&n) && kind == RobotKind::Checkin => Some(n),
            _ => {
                fields.push((
                    "remind_after_min",
                    Msg::new("robots_schedule.error.remind").arg("max", MAX_REMIND_MIN),
                ));
                None
            }
        },
    };
    if !fields.is_empty() {
        return Err(ScheduleError::Invalid(fields));
    }
    let rule = rule.expect("checked");
    let (rule_kind, time, days, cron) = match &rule {
        Rule::Daily(h, m) => (
            "daily",
            format!("{h:02}:{m:02}"),
            String::new(),
            String::new(),
        ),
        Rule::Weekdays(h, m) => (
            "weekdays",
            format!("{h:02}:{m:02}"),
            String::new(),
            String::new(),
        ),
        Rule::Days(d, h, m) => {
            let list: Vec<String> = d.iter().map(u32::to_string).collect();
            (
                "days",
                format!("{h:02}:{m:02}"),
                list.join(","),
                String::new(),
            )
        }
        Rule::Cron(text) => (
            "cron",
            String::new(),
            String::new(),
            text.split_whitespace().collect::<Vec<_>>().join(" "),
        ),
    };
    Ok(Checked {
        name: name.to_string(),
        avatar_url,
        rule: rule_kind.to_string(),
        time,
        days,
        cron,
        body_kind: body_kind.to_string(),
        body: body.to_string(),
        mentions,
        missed,
        remind_after_min,
    })
}

impl Checked {
    pub(crate) fn cron_next(&self, tz: chrono_tz::Tz, now: i64) -> Option<i64> {
        Rule::from_parts(&self.rule, &self.time, &self.days, &self.cron)
            .ok()?
            .to_cron()
            .ok()?
            .next_after(tz, now)
    }
}
