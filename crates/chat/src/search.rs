//! Message search. Each node keeps a full-text index of messages under its
//! data directory (`search/messages`), fed from the `message_changes` log
//! that every send, edit and recall writes in its own transaction. A search
//! first brings the index up to date (so a message is findable as soon as
//! its send has returned), then asks it only about the conversations the
//! searcher belongs to, and reads the hits back from the database, which
//! decides what is shown.

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;
use sqlx::Row;
use tram_platform::search::{fold_char, words, TextDoc, TextIndex};
use tram_platform::AppState;

use crate::conversations;
use crate::error::{ChatError, ChatResult};

/// The name of the message index under `<data dir>/search/`.
pub const INDEX: &str = "messages";
/// Changes read from the log at a time.
const BATCH: i64 = 2000;
/// While catching up, changes staged between index commits.
const COMMIT_EVERY: usize = 100_000;
/// Most results one search returns.
pub const MAX_RESULTS: usize = 50;

/// Logs that a message was created or changed (inside the transaction that
/// changes it).
pub async fn log_change(
    conn: &mut sqlx::AnyConnection,
    message_id: &str,
    now: i64,
) -> ChatResult<()> {
    sqlx::query("INSERT INTO message_changes (message_id, changed_at) VALUES ($1, $2)")
        .bind(message_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// [`log_change`] for several messages at once.
pub async fn log_changes(
    conn: &mut sqlx::AnyConnection,
    message_ids: &[&str],
    now: i64,
) -> ChatResult<()> {
    if message_ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO message_changes (message_id, changed_at) VALUES {}",
        tram_platform::db::value_rows(message_ids.len(), 2)
    );
    let mut query = sqlx::query(&sql);
    for id in message_ids {
        query = query.bind(*id).bind(now);
    }
    query.execute(conn).await?;
    Ok(())
}

fn index(state: &AppState) -> ChatResult<std::sync::Arc<TextIndex>> {
    state
        .indexes
        .get(INDEX)
        .map_err(|e| ChatError::Index(e.to_string()))
}

/// Brings this node's index up to date with the change log; returns how
/// many changes it read.
pub async fn sync(state: &AppState) -> ChatResult<usize> {
    let index = index(state)?;
    let mut follower = index.follower.lock().await;
    let mut total = 0;
    let mut cursor = index
        .cursor()
        .map_err(|e| ChatError::Index(e.to_string()))?;
    let mut staged_since_commit = 0;
    loop {
        let rows = sqlx::query(
            "SELECT c.id AS change_id, c.message_id, m.conversation_id, m.kind, m.body, m.created_at, m.recalled_at, \
             a.file_name FROM message_changes c LEFT JOIN messages m ON m.id = c.message_id \
             LEFT JOIN attachments a ON a.id = m.attachment_id \
             WHERE c.id > $1 ORDER BY c.id LIMIT $2",
        )
        .bind(cursor)
        .bind(BATCH)
        .fetch_all(state.db.read())
        .await?;
        if rows.is_empty() {
            break;
        }
        let mut ids = Vec::with_capacity(rows.len());
        // The latest state of each message read; later rows win.
        let mut latest: HashMap<String, Option<TextDoc>> = HashMap::new();
        for row in &rows {
            ids.push(row.try_get::<i64, _>("change_id")?);
            let message_id: String = row.try_get("message_id")?;
            let conversation: Option<String> = row.try_get("conversation_id")?;
            let recalled = row.try_get::<Option<i64>, _>("recalled_at")?.is_some();
            let kind: Option<String> = row.try_get("kind")?;
            let doc = match conversation {
                Some(scope) if !recalled && kind.as_deref() != Some("system") => {
                    let body: String = row.try_get("body")?;
                    let file_name: Option<String> = row.try_get("file_name")?;
                    let text = match file_name {
                        Some(name) => format!("{body}\n{name}"),
                        None => body,
                    };
                    Some(TextDoc {
                        id: message_id.clone(),
                        scope,
                        at: row.try_get("created_at")?,
                        text,
                    })
                }
                _ => None,
            };
            latest.insert(message_id, doc);
        }
        let last_read = *ids.last().expect("rows is not empty");
        let new_cursor = follower.advance(cursor, &ids, Instant::now());
        let mut upserts = Vec::new();
        let mut deletes = Vec::new();
        for (id, doc) in latest {
            match doc {
                Some(doc) => upserts.push(doc),
                None => deletes.push(id),
            }
        }
        staged_since_commit += rows.len();
        total += rows.len();
        // Stop at a gap (it is read again next time) or at the end; while
        // catching up on a long log, commit every so often.
        let done = new_cursor < last_read || (rows.len() as i64) < BATCH;
        let commit = done || staged_since_commit >= COMMIT_EVERY;
        let writer = index.clone();
        blocking(move || {
            writer.stage(&upserts, &deletes)?;
            if commit {
                writer.commit(new_cursor)?;
            }
            Ok(())
        })
        .await?;
        cursor = new_cursor;
        if commit {
            staged_since_commit = 0;
        }
        if done {
            return Ok(total);
        }
    }
    if staged_since_commit > 0 {
        let writer = index.clone();
        blocking(move || writer.commit(cursor)).await?;
    }
    Ok(total)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, tram_platform::search::IndexError> + Send + 'static,
) -> ChatResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ChatError::Index(e.to_string()))?
        .map_err(|e| ChatError::Index(e.to_string()))
}

/// Keeps the index following the log in the background (changes made on
/// other nodes arrive this way; local ones are also picked up by the next
/// search). Stops with the server.
pub fn spawn_indexer(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(err) = sync(&state).await {
                tracing::warn!(error = %err, "search indexing failed; retrying");
            }
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                _ = state.shutdown.wait() => break,
            }
        }
        if let Ok(index) = index(&state) {
            // Wait for an indexing round in flight, then let go of the writer.
            let _held = index.follower.lock().await;
            index.close();
        }
    })
}

/// One search result.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchResult {
    pub conversation_id: String,
    /// The group's name, or the other person's in a 1:1 chat.
    pub conversation_name: String,
    pub conversation_kind: String,
    pub message_id: String,
    pub seq: i64,
    pub sender_name: Option<String>,
    pub created_at: i64,
    /// A piece of the message around the words found, HTML-escaped, the
    /// words in `<mark>`.
    pub snippet_html: String,
}

/// Messages in my conversations containing every word of `query`, newest
/// first.
pub async fn search(
    state: &AppState,
    org_id: &str,
    user_id: &str,
    query: &str,
    limit: usize,
) -> ChatResult<Vec<SearchResult>> {
    let query = query.trim();
    if query.is_empty() || query.chars().count() > 200 {
        return Err(ChatError::InvalidQuery);
    }
    sync(state).await?;
    let mine = conversations::list(&state.db, org_id, user_id).await?;
    let scopes: Vec<String> = mine.iter().map(|c| c.id.clone()).collect();
    let limit = limit.clamp(1, MAX_RESULTS);
    let index = index(state)?;
    let q = query.to_string();
    let hits = blocking(move || index.search(&q, &scopes, limit)).await?;
    if hits.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT m.id, m.conversation_id, m.seq, m.body, m.created_at, m.recalled_at, COALESCE(u.display_name, m.author_name) AS sender_name, a.file_name \
         FROM messages m LEFT JOIN users u ON u.id = m.sender_id LEFT JOIN attachments a ON a.id = m.attachment_id \
         WHERE m.id IN ({})",
        tram_platform::db::placeholders(1, hits.len())
    );
    let mut select = sqlx::query(&sql);
    for hit in &hits {
        select = select.bind(&hit.id);
    }
    let rows = select.fetch_all(state.db.read()).await?;
    let by_id: HashMap<String, &sqlx::any::AnyRow> = rows
        .iter()
        .filter_map(|row| row.try_get::<String, _>("id").ok().map(|id| (id, row)))
        .collect();
    let conversations: HashMap<&str, &conversations::ConversationSummary> =
        mine.iter().map(|c| (c.id.as_str(), c)).collect();
    let query_words = words(query);
    let mut results = Vec::with_capacity(hits.len());
    for hit in hits {
        let Some(row) = by_id.get(&hit.id) else {
            continue;
        };
        let conversation_id: String = row.try_get("conversation_id")?;
        // The database decides: still my conversation, still not recalled.
        let Some(conversation) = conversations.get(conversation_id.as_str()) else {
            continue;
        };
        if row.try_get::<Option<i64>, _>("recalled_at")?.is_some() {
            continue;
        }
        let body: String = row.try_get("body")?;
        let file_name: Option<String> = row.try_get("file_name")?;
        let text = match file_name {
            Some(name) if body.trim().is_empty() => name,
            Some(name) => format!("{body} · {name}"),
            None => body,
        };
        results.push(SearchResult {
            conversation_id,
            conversation_name: conversation.title.clone(),
            conversation_kind: conversation.kind.clone(),
            message_id: hit.id,
            seq: row.try_get("seq")?,
            sender_name: row.try_get("sender_name")?,
            created_at: row.try_get("created_at")?,
            snippet_html: snippet(&text, &query_words),
        });
    }
    Ok(results)
}

/// Characters of context kept on each side of the first match.
const SNIPPET_CONTEXT: usize = 40;

/// A piece of `text` around the first of `query_words`, escaped, matches
/// marked. Matching is on the same folding the index uses (Traditional to
/// Simplified, lower case), character by character.
pub fn snippet(text: &str, query_words: &[String]) -> String {
    let original: Vec<char> = text.chars().collect();
    let folded: Vec<char> = original.iter().map(|&c| fold_char(c)).collect();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for word in query_words {
        let needle: Vec<char> = word.chars().collect();
        if needle.is_empty() || needle.len() > folded.len() {
            continue;
        }
        for start in 0..=folded.len() - needle.len() {
            if folded[start..start + needle.len()] == needle[..] {
                ranges.push((start, start + needle.len()));
            }
        }
    }
    ranges.sort();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    let (first, first_end) = merged.first().copied().unwrap_or((0, 0));
    let from = first.saturating_sub(SNIPPET_CONTEXT);
    let to = (first_end + SNIPPET_CONTEXT)
        .max(from + 2 * SNIPPET_CONTEXT)
        .min(original.len());
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    let mut i = from;
    for &(start, end) in merged.iter().filter(|r| r.1 > from && r.0 < to) {
        let start = start.max(from);
        let end = end.min(to);
        push_escaped(&mut out, &original[i..start]);
        out.push_str("<mark>");
        push_escaped(&mut out, &original[start..end]);
        out.push_str("</mark>");
        i = end;
    }
    push_escaped(&mut out, &original[i..to]);
    if to < original.len() {
        out.push('…');
    }
    out
}

/// Escaped like message text, with line breaks as spaces (a snippet is
/// one line).
fn push_escaped(out: &mut String, chars: &[char]) {
    let line: String = chars
        .iter()
        .map(|&c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    out.push_str(&crate::cards::escape(&line));
}

#[cfg(test)]
mod tests {
    use super::snippet;
    use tram_platform::search::words;

    #[test]
    fn snippets_mark_traditional_matches_and_escape_the_rest() {
        let html = snippet("<b>昨日</b>現金流報表已更新", &words("现金流报表"));
        assert_eq!(html, "&lt;b&gt;昨日&lt;/b&gt;<mark>現金流報表</mark>已更新");
        let html = snippet("Please READ the report", &words("report"));
        assert_eq!(html, "Please READ the <mark>report</mark>");
    }

    #[test]
    fn long_texts_are_cut_around_the_first_match() {
        let text = format!("{}預算{}", "甲".repeat(100), "乙".repeat(100));
        let html = snippet(&text, &words("預算"));
        assert!(html.starts_with('…') && html.ends_with('…'), "{html}");
        assert!(html.contains("<mark>預算</mark>"), "{html}");
        assert_eq!(html.matches('甲').count(), 40, "{html}");
        assert_eq!(html.matches('乙').count(), 40, "{html}");
    }
}
