//! The robot pages: the robots section of a group's settings panel (a
//! fragment the chat page loads into the panel; `static/robots.js` shows a
//! new webhook address or secret once), and the group's call log with its
//! filters. Group admins only.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tram_chat::conversations::{self, ConversationSummary, Participant};
use tram_org::web::OrgMember;
use tram_platform::web::page::render_with_status;
use tram_platform::web::{render, FormErrors, PageContext};
use tram_platform::{ApiError, AppState};

use crate::calls::{self, CallFilter, RobotCall};
use crate::error::{BotError, BotResult};
use crate::robots::{self, RobotKind, RobotWebhook};
use crate::security::{MAX_IP_RULES, MAX_KEYWORDS};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/chat/{id}/robots", get(section))
        .route("/chat/{id}/robots/log", get(log_page))
}

async fn admin(state: &AppState, member: &OrgMember, id: &str) -> BotResult<Participant> {
    let me =
        conversations::participant(&state.db, &member.org.id, id, &member.auth.user_id).await?;
    me.require_admin()?;
    Ok(me)
}

#[derive(Template)]
#[template(path = "robots_section.html")]
struct RobotsSection {
    ctx: PageContext,
    conversation_id: String,
    robots: Vec<RobotWebhook>,
    max_keywords: usize,
    max_ip_rules: usize,
}

impl RobotsSection {
    fn lines(&self, list: &[String]) -> String {
        list.join("\n")
    }

    fn scope_choices(&self) -> Vec<(&'static str, &'static str)> {
        crate::scopes::Scope::ALL
            .into_iter()
            .map(|s| {
                (
                    s.as_str(),
                    self.ctx.t(&format!("bots.outgoing.scope.{}", s.as_str())),
                )
            })
            .collect()
    }

    fn has_scope(&self, robot: &RobotWebhook, scope: &str) -> bool {
        robot.scopes.iter().any(|s| s.as_str() == scope)
    }

    fn scope_names(&self, robot: &RobotWebhook) -> String {
        robot
            .scopes
            .iter()
            .map(|s| self.ctx.t(&format!("bots.outgoing.scope.{}", s.as_str())))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Only custom robots can get outgoing settings.
    fn is_custom(&self, robot: &RobotWebhook) -> bool {
        robot.kind == crate::robots::RobotKind::Custom
    }

    /// Whether the group has its AI assistant (else the section offers it).
    fn has_assistant(&self) -> bool {
        self.robots.iter().any(|r| self.is_assistant(r))
    }

    /// The assistant has no webhook, keywords or secret to manage.
    fn is_assistant(&self, robot: &RobotWebhook) -> bool {
        robot.kind == crate::robots::RobotKind::Assistant
    }
}

/// The robots of a group with the forms to manage them.
async fn section(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let me = admin(&state, &member, &id).await?;
        // Scheduled and check-in robots have their own section (no webhook).
        let robots = robots::list(&state.db, &me.conversation_id)
            .await?
            .into_iter()
            .filter(|r| !matches!(r.kind, RobotKind::Scheduled | RobotKind::Checkin))
            .collect();
        Ok::<_, BotError>(RobotsSection {
            ctx,
            conversation_id: me.conversation_id,
            robots,
            max_keywords: MAX_KEYWORDS,
            max_ip_rules: MAX_IP_RULES,
        })
    }
    .await;
    match result {
        Ok(section) => render(&section),
        Err(err) => ApiError::from(err).into_response(),
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct LogQuery {
    #[serde(default)]
    robot_id: String,
    /// `ok`, `failed` or empty.
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    errcode: String,
    /// `YYYY-MM-DD`, Hong Kong time.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    before: String,
}

#[derive(Template)]
#[template(path = "robot_calls.html")]
struct CallLogPage {
    ctx: PageContext,
    conversation: ConversationSummary,
    robots: Vec<RobotWebhook>,
    calls: Vec<RobotCall>,
    query: LogQuery,
    next_before: String,
    errors: FormErrors,
    retention: i64,
}

impl CallLogPage {
    fn retention_days(&self) -> String {
        self.retention.to_string()
    }

    fn outcomes(&self) -> [(&'static str, &'static str); 3] {
        [
            ("", self.ctx.t("bots.page.log.all")),
            ("ok", self.ctx.t("bots.page.log.ok")),
            ("failed", self.ctx.t("bots.page.log.failed")),
        ]
    }
}

fn hk_midnight(date: &str) -> BotResult<Option<i64>> {
    tram_platform::clock::hk_midnight(date).map_err(|_| BotError::InvalidFilter)
}

fn optional(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

const PAGE: i64 = 100;

/// The calls to a group's robots, newest first, with filters.
async fn log_page(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Path(id): Path<String>,
    Query(query): Query<LogQuery>,
) -> Response {
    let me = match admin(&state, &member, &id).await {
        Ok(me) => me,
        Err(err) => return ApiError::from(err).into_response(),
    };
    let loaded = async {
        let conversation = conversations::summary(&state.db, &me).await?;
        let robots = robots::list(&state.db, &me.conversation_id).await?;
        Ok::<_, BotError>((conversation, robots))
    }
    .await;
    let (conversation, robots) = match loaded {
        Ok(loaded) => loaded,
        Err(err) => return ApiError::from(err).into_response(),
    };
    let filter = (|| {
        let errcode = match optional(&query.errcode) {
            Some(code) => Some(code.parse::<i64>().map_err(|_| BotError::InvalidFilter)?),
            None => None,
        };
        Ok::<_, BotError>(CallFilter {
            robot_id: optional(&query.robot_id),
            outcome: optional(&query.outcome),
            errcode,
            from: hk_midnight(&query.from)?,
            to: hk_midnight(&query.to)?.map(|t| t + 86_400_000),
            before: optional(&query.before),
            limit: Some(PAGE),
        })
    })();
    let filter = match filter {
        Ok(filter) => filter,
        Err(err) => {
            let errors = FormErrors::from_error(&ApiError::from(err), ctx.locale);
            let retention = state.config.bots.log_retention_days;
            let page = CallLogPage {
                ctx,
                conversation,
                robots,
                calls: Vec::new(),
                query,
                next_before: String::new(),
                errors,
                retention,
            };
            return render_with_status(StatusCode::BAD_REQUEST, &page);
        }
    };
    match calls::list(&state.db, &me.conversation_id, &filter).await {
        Ok(calls) => {
            let next_before = if calls.len() as i64 == PAGE {
                calls.last().map(|c| c.id.clone()).unwrap_or_default()
            } else {
                String::new()
            };
            let retention = state.config.bots.log_retention_days;
            render(&CallLogPage {
                ctx,
                conversation,
                robots,
                calls,
                query,
                next_before,
                errors: FormErrors::none(),
                retention,
            })
        }
        Err(err) => ApiError::from(err).into_response(),
    }
}
