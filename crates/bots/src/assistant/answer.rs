//! A member @mentioned the assistant: the question is the message without
//! its @mentions; the reply quotes the question, @mentions the asker and
//! gives the answer with its citations (links to the entries), or says the
//! assistant does not know and queues the question for the org's admins.
//! A retried job changes nothing: the reply carries an idempotency key and
//! the queue holds one entry per message.

use tram_chat::live;
use tram_chat::messages::{self, Message, MessageKind, NewMessage, RobotAuthor};
use tram_platform::i18n::Locale;
use tram_platform::AppState;

use super::llm::Llm;
use super::retrieve::{self, Found};
use super::AssistantResult;
use crate::robots::StoredRobot;

/// Passages given to the language model.
const LLM_PASSAGES: usize = 3;

/// An entry an answer is based on.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Citation {
    pub entry_id: String,
    pub title: String,
}

/// What the assistant says to a question.
#[derive(Debug, Clone)]
pub enum Reply {
    Answer {
        text: String,
        /// The first is the entry the answer came from.
        citations: Vec<Citation>,
        /// Worded by the language model (else quoted from the base).
        from_llm: bool,
    },
    DontKnow,
}

/// The question in a message addressed to the assistant: its text without
/// the leading `@Name` mentions.
pub fn question_of(body: &str, robot_name: &str) -> String {
    let mut text = body.replace(&format!("@{robot_name}"), " ");
    // Other @mentions at the start (`@Alice @AI 助理 …`) are not the question.
    loop {
        let trimmed = text.trim_start();
        if let Some(rest) = trimmed.strip_prefix('@') {
            match rest.find(char::is_whitespace) {
                Some(end) => text = rest[end..].to_string(),
                None => return String::new(),
            }
        } else {
            return trimmed.trim_end().to_string();
        }
    }
}

/// Retrieval, the confidence rule, and the answer's wording: the one path
/// every question takes (a @mention, the evaluation).
pub async fn decide(state: &AppState, org_id: &str, question: &str) -> AssistantResult<Reply> {
    let found = retrieve::retrieve(state, org_id, question).await?;
    if tracing::enabled!(tracing::Level::DEBUG) {
        // What the confidence rule saw, for tuning it (docs/benchmarks.md).
        let top: Vec<String> = found
            .iter()
            .take(3)
            .map(|f| {
                format!(
                    "{} s={:.2} c={:.2} support={:.2}",
                    f.entry.title,
                    f.score,
                    f.coverage,
                    f.support()
                )
            })
            .collect();
        let words = retrieve::content_words(question);
        tracing::debug!(question, ?words, ?top, "assistant retrieval");
    }
    let Some(best) = found.first().filter(|f| f.confident()) else {
        return Ok(Reply::DontKnow);
    };
    let supporting: Vec<&Found> = found
        .iter()
        .filter(|f| f.confident())
        .take(LLM_PASSAGES)
        .collect();
    let mut citations: Vec<Citation> = Vec::new();
    for f in &supporting {
        if !citations.iter().any(|c| c.entry_id == f.entry.id) {
            citations.push(Citation {
                entry_id: f.entry.id.clone(),
                title: f.entry.title.clone(),
            });
        }
    }
    if let Some(llm) = Llm::configured(&state.config.assistant) {
        let passages: Vec<(String, String)> = supporting
            .iter()
            .map(|f| (f.entry.title.clone(), f.passage.clone()))
            .collect();
        match llm.answer(&passages, question).await {
            Ok(text) => {
                return Ok(Reply::Answer {
                    text,
                    citations,
                    from_llm: true,
                })
            }
            Err(err) => {
                tracing::warn!(error = %err, "LLM unavailable; answering from the knowledge base")
            }
        }
    }
    Ok(Reply::Answer {
        text: best.passage.clone(),
        citations,
        from_llm: false,
    })
}

/// Where a member reads an entry.
pub fn entry_url(state: &AppState, entry_id: &str) -> String {
    format!("{}/assistant/entries/{entry_id}", state.config.public_url())
}

/// Markdown link text with its brackets made harmless.
fn link_text(title: &str) -> String {
    title.replace(['[', ']'], " ")
}

/// The language to reply in: English to a question in Latin letters only,
/// else the default (zh-HK).
pub fn reply_locale(question: &str) -> Locale {
    if !question.is_empty() && question.is_ascii() {
        Locale::En
    } else {
        Locale::default()
    }
}

/// The reply's Markdown: the @mention, the answer, the sources.
pub fn render(state: &AppState, locale: Locale, asker_name: &str, reply: &Reply) -> String {
    match reply {
        Reply::Answer {
            text, citations, ..
        } => {
            let sources: Vec<String> = citations
                .iter()
                .enumerate()
                .map(|(n, c)| {
                    format!(
                        "[{}] [{}]({})",
                        n + 1,
                        link_text(&c.title),
                        entry_url(state, &c.entry_id)
                    )
                })
                .collect();
            format!(
                "@{asker_name} {text}\n\n{} {}",
                locale.t("assistant.reply.sources"),
                sources.join(" ")
            )
        }
        Reply::DontKnow => format!("@{asker_name} {}", locale.t("assistant.reply.dont_know")),
    }
}

/// Posts the assistant's message in its group, quoting `reply_to` and
/// @mentioning `asker_id`, once per `client_id`.
pub(crate) async fn post(
    state: &AppState,
    robot: &StoredRobot,
    body: String,
    asker_id: &str,
    reply_to: Option<String>,
    client_id: String,
) -> AssistantResult<Message> {
    let author = RobotAuthor {
        conversation_id: robot.conversation_id.clone(),
        robot_id: robot.id.clone(),
        name: robot.name.clone(),
        avatar_url: robot.avatar_url.clone(),
    };
    let new = NewMessage {
        kind: MessageKind::Markdown,
        body,
        mentions: vec![asker_id.to_string()],
        mention_all: false,
        robot_mentions: Vec::new(),
        reply_to,
        client_id: Some(client_id),
    };
    let message = messages::send_as_robot(state, &author, new, None).await?;
    // Shown live in the group, like any message (a retried job announces
    // the same message again; clients place a message once).
    live::announce_message(state, &message).await;
    Ok(message)
}

/// Records the assistant's answer message (for ratings), once.
pub async fn record_answer(
    state: &AppState,
    org_id: &str,
    message: &Message,
    entry_id: Option<&str>,
) -> AssistantResult<()> {
    sqlx::query(
        "INSERT INTO kb_answers (message_id, org_id, conversation_id, entry_id, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(&message.id)
    .bind(org_id)
    .bind(&message.conversation_id)
    .bind(entry_id)
    .bind(message.created_at)
    .execute(state.db.write())
    .await?;
    Ok(())
}

/// Answers the member's message `message_id` that @mentioned `robot`.
pub(crate) async fn on_mention(
    state: &AppState,
    robot: &StoredRobot,
    message_id: &str,
) -> AssistantResult<()> {
    let asked = messages::get(&state.db, &robot.conversation_id, message_id).await?;
    let Some(asker_id) = asked.sender_id.clone() else {
        return Ok(());
    };
    if asked.recalled {
        return Ok(());
    }
    let question = question_of(&asked.body, &robot.name);
    let asker_name = asked.sender_name.clone().unwrap_or_default();
    let client_id = format!("assistant:{message_id}");
    if question.is_empty() {
        let body = format!(
            "@{asker_name} {}",
            Locale::default().t("assistant.reply.ask_me")
        );
        post(state, robot, body, &asker_id, Some(asked.id), client_id).await?;
        return Ok(());
    }
    let reply = decide(state, &robot.org_id, &question).await?;
    if let Reply::DontKnow = reply {
        // Queued before the reply says so (a retried job queues it once).
        super::queue::add(state, robot, &asked, &asker_id, &question).await?;
    }
    let body = render(state, reply_locale(&question), &asker_name, &reply);
    let sent = post(
        state,
        robot,
        body,
        &asker_id,
        Some(asked.id.clone()),
        client_id,
    )
    .await?;
    if let Reply::Answer { citations, .. } = &reply {
        let first = citations.first().map(|c| c.entry_id.as_str());
        record_answer(state, &robot.org_id, &sent, first).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::question_of;

    #[test]
    fn the_question_is_the_message_without_its_mentions() {
        assert_eq!(
            question_of("@AI 助理 上季營收是多少?", "AI 助理"),
            "上季營收是多少?"
        );
        assert_eq!(
            question_of("@Bob @AI 助理  how many days of leave?", "AI 助理"),
            "how many days of leave?"
        );
        assert_eq!(
            question_of("請問 @AI 助理 幾時出糧", "AI 助理"),
            "請問   幾時出糧"
        );
        assert_eq!(question_of("@AI 助理", "AI 助理"), "");
    }
}
