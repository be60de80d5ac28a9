//! The assistant's pages: `/assistant` for org admins (the queue of
//! unanswered questions with a form to answer each, and the knowledge base
//! with forms to add, edit and delete entries and the ratings of each), and
//! `/assistant/entries/{id}`, one entry as any member of the org reads it
//! (the assistant's citations link here). The forms post to the JSON API.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tram_org::web::OrgMember;
use tram_platform::web::{render, PageContext};
use tram_platform::{ApiError, AppState};

use crate::assistant::knowledge::{self, Entry, EntryKind};
use crate::assistant::queue::{self, Question};
use crate::assistant::AssistantError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/assistant", get(admin_page))
        .route("/assistant/entries/{entry_id}", get(entry_page))
}

#[derive(Template)]
#[template(path = "assistant.html")]
struct AdminPage {
    ctx: PageContext,
    questions: Vec<Question>,
    entries: Vec<Entry>,
}

impl AdminPage {
    fn kind_label(&self, entry: &Entry) -> &'static str {
        kind_label(&self.ctx, entry.kind)
    }

    fn kind_value(&self, entry: &Entry) -> &'static str {
        entry.kind.as_str()
    }

    fn phrasing_lines(&self, entry: &Entry) -> String {
        entry.phrasings.join("\n")
    }
}

fn kind_label(ctx: &PageContext, kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Faq => ctx.t("assistant.page.faq"),
        EntryKind::Doc => ctx.t("assistant.page.doc"),
    }
}

async fn admin_page(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
) -> Response {
    let loaded = async {
        member.require_admin()?;
        let questions = queue::list(&state, &member.org.id).await?;
        let entries = knowledge::list(&state.db, &member.org.id).await?;
        Ok::<_, AssistantError>((questions, entries))
    }
    .await;
    match loaded {
        Ok((questions, entries)) => render(&AdminPage {
            ctx,
            questions,
            entries,
        }),
        Err(err) => ApiError::from(err).into_response(),
    }
}

#[derive(Template)]
#[template(path = "assistant_entry.html")]
struct EntryPage {
    ctx: PageContext,
    entry: Entry,
}

impl EntryPage {
    fn kind_label(&self) -> &'static str {
        kind_label(&self.ctx, self.entry.kind)
    }
}

async fn entry_page(
    State(state): State<AppState>,
    ctx: PageContext,
    member: OrgMember,
    Path(entry_id): Path<String>,
) -> Response {
    match knowledge::get(&state.db, &member.org.id, &entry_id).await {
        Ok(entry) => render(&EntryPage { ctx, entry }),
        Err(err) => ApiError::from(err).into_response(),
    }
}
