//! An org's knowledge base: FAQ pairs (a question, its answer, and other
//! ways people ask it) and documents (pasted Markdown or plain text, split
//! into passages). Org admins manage it; any member of the org may read an
//! entry (answers link to the entries they cite). Every change writes a
//! row to `kb_changes` in its own transaction, which the search index
//! follows (see `retrieve`).

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tram_platform::db::{new_id, placeholders, Db};
use tram_platform::AppState;

use super::{AssistantError, AssistantResult};

/// Longest FAQ question or document title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest FAQ answer, in characters.
pub const MAX_ANSWER_CHARS: usize = 4000;
/// Longest document, in characters.
pub const MAX_DOCUMENT_CHARS: usize = 100_000;
/// Most alternative phrasings of one FAQ question.
pub const MAX_PHRASINGS: usize = 20;
/// A document is cut into at most this many passages (the index deletes
/// an entry's passages by id, up to this number).
pub const MAX_PASSAGES: usize = 400;
/// A passage grows paragraph by paragraph up to about this many characters.
const PASSAGE_CHARS: usize = 400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    Faq,
    Doc,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Faq => "faq",
            EntryKind::Doc => "doc",
        }
    }

    fn parse(text: &str) -> EntryKind {
        if text == "doc" {
            EntryKind::Doc
        } else {
            EntryKind::Faq
        }
    }
}

/// A knowledge base entry, with how members rated the answers citing it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Entry {
    pub id: String,
    pub kind: EntryKind,
    /// An FAQ's question, or a document's title.
    pub title: String,
    /// An FAQ's answer, or a document's text.
    pub body: String,
    /// Other ways of asking an FAQ's question.
    pub phrasings: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Ratings of answers that cited this entry first.
    pub helpful: i64,
    pub not_helpful: i64,
}

/// What an admin writes.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewEntry {
    pub kind: EntryKind,
    pub title: String,
    pub body: String,
    /// A list, or text with one phrasing per line (FAQ only).
    #[serde(default, deserialize_with = "lines")]
    pub phrasings: Vec<String>,
}

fn lines<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Option::<Either>::deserialize(d)? {
        Some(Either::List(list)) => list,
        Some(Either::Text(text)) => text.lines().map(str::to_string).collect(),
        None => Vec::new(),
    })
}

/// The entry as it will be stored: trimmed and within limits.
pub fn checked(new: &NewEntry) -> AssistantResult<NewEntry> {
    let title = new.title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        return Err(AssistantError::InvalidQuestion);
    }
    let body = new.body.trim();
    let max = match new.kind {
        EntryKind::Faq => MAX_ANSWER_CHARS,
        EntryKind::Doc => MAX_DOCUMENT_CHARS,
    };
    if body.is_empty() || body.chars().count() > max {
        return Err(AssistantError::InvalidAnswer);
    }
    let mut phrasings: Vec<String> = new
        .phrasings
        .iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    phrasings.dedup();
    if (new.kind == EntryKind::Doc && !phrasings.is_empty())
        || phrasings.len() > MAX_PHRASINGS
        || phrasings
            .iter()
            .any(|p| p.chars().count() > MAX_TITLE_CHARS)
    {
        return Err(AssistantError::InvalidQuestion);
    }
    Ok(NewEntry {
        kind: new.kind,
        title: title.to_string(),
        body: body.to_string(),
        phrasings,
    })
}

/// A document's passages: paragraphs (split at blank lines and headings)
/// joined up to about [`PASSAGE_CHARS`]; a long paragraph is cut at
/// sentence ends. An FAQ is one passage, its answer.
pub fn passages(kind: EntryKind, body: &str) -> Vec<String> {
    if kind == EntryKind::Faq {
        return vec![body.to_string()];
    }
    let mut paragraphs: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in body.lines() {
        let heading = line.trim_start().starts_with('#');
        if (line.trim().is_empty() || heading) && !current.trim().is_empty() {
            paragraphs.push(std::mem::take(&mut current));
        }
        if !line.trim().is_empty() {
            current.push_str(line.trim());
            current.push('\n');
        }
    }
    if !current.trim().is_empty() {
        paragraphs.push(current);
    }
    let mut out: Vec<String> = Vec::new();
    let mut passage = String::new();
    for paragraph in paragraphs
        .iter()
        .flat_map(|p| sentences_within(p, PASSAGE_CHARS))
    {
        let heading = paragraph.starts_with('#');
        if !passage.is_empty()
            && (heading || passage.chars().count() + paragraph.chars().count() > PASSAGE_CHARS)
        {
            out.push(std::mem::take(&mut passage).trim().to_string());
        }
        passage.push_str(&paragraph);
    }
    if !passage.trim().is_empty() {
        out.push(passage.trim().to_string());
    }
    out.truncate(MAX_PASSAGES);
    out
}

/// `text` in pieces of at most about `max` characters, cut after a
/// sentence end where possible.
fn sentences_within(text: &str, max: usize) -> Vec<String> {
    if text.chars().count() <= max {
        return vec![text.to_string()];
    }
    let mut pieces = Vec::new();
    let mut piece = String::new();
    for c in text.chars() {
        piece.push(c);
        let end = matches!(c, '。' | '！' | '？' | '!' | '?' | '；' | '\n') || c == '.';
        if (end && piece.chars().count() >= max / 2) || piece.chars().count() >= max {
            pieces.push(std::mem::take(&mut piece));
        }
    }
    if !piece.trim().is_empty() {
        pieces.push(piece);
    }
    pieces
}

/// Logs that an entry changed (inside the transaction that changes it).
async fn log_change(
    conn: &mut sqlx::AnyConnection,
    org_id: &str,
    entry_id: &str,
    now: i64,
) -> AssistantResult<()> {
    sqlx::query("INSERT INTO kb_changes (entry_id, org_id, changed_at) VALUES ($1, $2, $3)")
        .bind(entry_id)
        .bind(org_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Stores a checked entry inside a transaction (also used when an admin's
/// answer to a queued question becomes an FAQ).
pub async fn insert(
    conn: &mut sqlx::AnyConnection,
    org_id: &str,
    author: &str,
    entry: &NewEntry,
    now: i64,
) -> AssistantResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO kb_entries (id, org_id, kind, title, body, phrasings, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(entry.kind.as_str())
    .bind(&entry.title)
    .bind(&entry.body)
    .bind(serde_json::to_string(&entry.phrasings).expect("strings serialise"))
    .bind(author)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    log_change(conn, org_id, &id, now).await?;
    Ok(id)
}

/// Adds an entry to the org's knowledge base (the caller checked that the
/// author is an org admin).
pub async fn create(
    state: &AppState,
    org_id: &str,
    author: &str,
    new: &NewEntry,
) -> AssistantResult<Entry> {
    let entry = checked(new)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let id = insert(&mut tx, org_id, author, &entry, now).await?;
    tx.commit().await?;
    get(&state.db, org_id, &id).await
}

/// Replaces an entry's kind, title, text and phrasings.
pub async fn update(
    state: &AppState,
    org_id: &str,
    entry_id: &str,
    new: &NewEntry,
) -> AssistantResult<Entry> {
    let entry = checked(new)?;
    get(&state.db, org_id, entry_id).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "UPDATE kb_entries SET kind = $1, title = $2, body = $3, phrasings = $4, updated_at = $5 \
         WHERE id = $6 AND org_id = $7",
    )
    .bind(entry.kind.as_str())
    .bind(&entry.title)
    .bind(&entry.body)
    .bind(serde_json::to_string(&entry.phrasings).expect("strings serialise"))
    .bind(now)
    .bind(entry_id)
    .bind(org_id)
    .execute(&mut *tx)
    .await?;
    log_change(&mut tx, org_id, entry_id, now).await?;
    tx.commit().await?;
    get(&state.db, org_id, entry_id).await
}

/// Removes an entry; answers that cited it keep their text.
pub async fn delete(state: &AppState, org_id: &str, entry_id: &str) -> AssistantResult<()> {
    get(&state.db, org_id, entry_id).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query("DELETE FROM kb_entries WHERE id = $1 AND org_id = $2")
        .bind(entry_id)
        .bind(org_id)
        .execute(&mut *tx)
        .await?;
    log_change(&mut tx, org_id, entry_id, now).await?;
    tx.commit().await?;
    Ok(())
}

const ENTRY_SELECT: &str = "SELECT e.id, e.kind, e.title, e.body, e.phrasings, e.created_at, e.updated_at, \
     (SELECT COUNT(*) FROM kb_ratings r JOIN kb_answers a ON a.message_id = r.message_id WHERE a.entry_id = e.id AND r.helpful = 1) AS helpful, \
     (SELECT COUNT(*) FROM kb_ratings r JOIN kb_answers a ON a.message_id = r.message_id WHERE a.entry_id = e.id AND r.helpful = 0) AS not_helpful \
     FROM kb_entries e";

fn from_row(row: &sqlx::any::AnyRow) -> AssistantResult<Entry> {
    Ok(Entry {
        id: row.try_get("id")?,
        kind: EntryKind::parse(&row.try_get::<String, _>("kind")?),
        title: row.try_get("title")?,
        body: row.try_get("body")?,
        phrasings: serde_json::from_str(&row.try_get::<String, _>("phrasings")?)
            .unwrap_or_default(),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        helpful: row.try_get("helpful")?,
        not_helpful: row.try_get("not_helpful")?,
    })
}

/// One entry of the org (`NotFound` for another org's).
pub async fn get(db: &Db, org_id: &str, entry_id: &str) -> AssistantResult<Entry> {
    let row = sqlx::query(&format!("{ENTRY_SELECT} WHERE e.id = $1 AND e.org_id = $2"))
        .bind(entry_id)
        .bind(org_id)
        .fetch_optional(db.read())
        .await?
        .ok_or(AssistantError::NotFound)?;
    from_row(&row)
}

/// Several entries by id, whatever their org (the index decided the org).
pub async fn by_ids(db: &Db, ids: &[String]) -> AssistantResult<Vec<Entry>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "{ENTRY_SELECT} WHERE e.id IN ({})",
        placeholders(1, ids.len())
    );
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(id);
    }
    query
        .fetch_all(db.read())
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// The org's entries, FAQ first, most recently changed first.
pub async fn list(db: &Db, org_id: &str) -> AssistantResult<Vec<Entry>> {
    let rows = sqlx::query(&format!(
        "{ENTRY_SELECT} WHERE e.org_id = $1 ORDER BY e.kind DESC, e.updated_at DESC, e.id"
    ))
    .bind(org_id)
    .fetch_all(db.read())
    .await?;
    rows.iter().map(from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_at_headings_and_stay_short() {
        let long = "員工每年可享有年假。".repeat(80);
        let doc = format!(
            "# 假期\n年假十四日。\n\n病假按勞工處規定。\n\n# 強積金\n僱主供款5%。\n\n{long}"
        );
        let parts = passages(EntryKind::Doc, &doc);
        assert!(
            parts[0].starts_with("# 假期") && parts[0].contains("病假"),
            "{parts:?}"
        );
        assert!(parts[1].starts_with("# 強積金"), "{parts:?}");
        assert!(
            parts.iter().all(|p| p.chars().count() <= 2 * PASSAGE_CHARS),
            "{parts:?}"
        );
        assert!(parts.len() >= 4, "{parts:?}");
        assert_eq!(passages(EntryKind::Faq, "答案"), vec!["答案".to_string()]);
    }

    #[test]
    fn empty_or_oversized_entries_are_refused() {
        let entry = |title: &str, body: &str| NewEntry {
            kind: EntryKind::Faq,
            title: title.into(),
            body: body.into(),
            phrasings: vec!["  ".into(), "another way".into()],
        };
        assert!(matches!(
            checked(&entry(" ", "a")),
            Err(AssistantError::InvalidQuestion)
        ));
        assert!(matches!(
            checked(&entry("q", " \n")),
            Err(AssistantError::InvalidAnswer)
        ));
        let ok = checked(&entry(" q ", " a ")).unwrap();
        assert_eq!((ok.title.as_str(), ok.phrasings.len()), ("q", 1));
    }
}
