//! Finding what the knowledge base says about a question. Each node keeps
//! a full-text index (`search/knowledge`), one document per FAQ (its
//! question, phrasings and answer) and per document passage (with the
//! document's title), scoped by org, fed from the `kb_changes` log the way
//! message search follows `message_changes`. A question is ranked by BM25
//! over the org's scope, and the best hit is only trusted when it scores
//! high enough and covers enough of the question's content words (the
//! numbers were tuned on the evaluation set: docs/benchmarks.md).

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use sqlx::Row;
use tram_platform::search::{fold_char, words, TextDoc, TextIndex};
use tram_platform::AppState;

use super::knowledge::{self, Entry, EntryKind, MAX_PASSAGES};
use super::{AssistantError, AssistantResult};

/// The index's name under `<data dir>/search/`.
pub const INDEX: &str = "knowledge";
/// Changes read from the log at a time.
const BATCH: i64 = 1000;
/// Hits considered for one question.
const CANDIDATES: usize = 10;
/// Lowest (IDF-weighted) share of the question's content words a trusted
/// hit contains. Chinese questions are segmented by jieba, and colloquial
/// Cantonese comes out with stray fragments (假有, 期系) no entry holds, so
/// their bar is lower than for English, where every word is a real word.
pub const MIN_COVERAGE: f32 = 0.3;
pub const MIN_COVERAGE_LATIN: f32 = 0.5;
/// The index size word weights assume at least (see `retrieve`).
const MIN_WEIGHING_DOCS: u64 = 50;
/// Lowest support of a trusted hit: its BM25 score times its coverage, over
/// ln(1 + documents in the index). A hit covering little of the question
/// must match it strongly; the division keeps the bar where it is as the
/// index grows (BM25's weights grow with the log of its size), so an org
/// with five entries is judged like one with five hundred.
pub const MIN_SUPPORT: f32 = 0.55;

/// Words that say little about what is asked (question words, particles,
/// pronouns), in the folded form `words` gives; they do not count towards
/// coverage.
const STOP_WORDS: &[&str] = &[
    "的",
    "了",
    "吗",
    "呢",
    "吧",
    "啊",
    "呀",
    "是",
    "有",
    "在",
    "我",
    "我们",
    "你",
    "你们",
    "他",
    "她",
    "什么",
    "甚么",
    "怎么",
    "怎样",
    "怎么样",
    "如何",
    "多少",
    "几",
    "几多",
    "哪",
    "哪里",
    "哪个",
    "为什么",
    "请问",
    "可以",
    "能",
    "会",
    "要",
    "想",
    "知道",
    "问",
    "一下",
    "吗",
    "嘅",
    "咩",
    "点",
    "点样",
    "边",
    "边个",
    "边度",
    "系",
    "唔",
    "冇",
    "佢",
    "我哋",
    "啲",
    "咗",
    "喺",
    "嘢",
    "呀",
    "啦",
    "喇",
    "咁",
    "乜",
    "乜嘢",
    "同",
    "和",
    "及",
    "与",
    "或",
    "都",
    "也",
    "就",
    "还",
    "吗",
    "么",
    "该",
    "应该",
    "需要",
    "公司",
    "我哋公司",
    "a",
    "an",
    "the",
    "is",
    "are",
    "was",
    "were",
    "do",
    "does",
    "did",
    "i",
    "we",
    "you",
    "my",
    "our",
    "your",
    "what",
    "when",
    "where",
    "who",
    "how",
    "which",
    "why",
    "can",
    "could",
    "should",
    "to",
    "of",
    "for",
    "in",
    "on",
    "at",
    "it",
    "be",
    "with",
    "and",
    "or",
    "much",
    "many",
    "me",
    "there",
    "this",
    "that",
    "have",
    "has",
    "get",
    "about",
    "please",
    "tell",
    "their",
    "they",
    "us",
    "its",
    "from",
    "by",
    "any",
    "if",
    "s",
    "t",
    "使",
    "可",
    "哋",
    "几时",
    "何时",
    "时候",
    "边间",
    "点算",
    "几号",
    "号",
    "几点",
    "几耐",
    "几月",
    "呢个",
    "一个",
    "个",
    "多",
];

fn stop_words() -> &'static HashSet<&'static str> {
    static SET: std::sync::OnceLock<HashSet<&'static str>> = std::sync::OnceLock::new();
    SET.get_or_init(|| STOP_WORDS.iter().copied().collect())
}

/// A Latin word without a plural `s` (claims → claim), so singular and
/// plural meet; other words unchanged.
fn stem(word: &str) -> String {
    let singular = !["ss", "us", "is"].iter().any(|end| word.ends_with(end));
    if word.len() > 3 && word.is_ascii() && word.ends_with('s') && singular {
        word[..word.len() - 1].to_string()
    } else {
        word.to_string()
    }
}

/// The words of a question that carry its meaning (stemmed, once each).
/// Jieba's search mode also gives the shorter words inside a long one
/// (热线电话: 热线, 电话); the long one is dropped so it is not counted
/// twice. (Latin words are whole words: payday stays beside day.)
pub fn content_words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = words(text)
        .iter()
        .filter(|w| !stop_words().contains(w.as_str()))
        .map(|w| stem(w))
        .filter(|w| !stop_words().contains(w.as_str()))
        .collect();
    out.sort();
    out.dedup();
    let all = out.clone();
    out.retain(|w| {
        w.is_ascii()
            || !all
                .iter()
                .any(|other| other != w && w.contains(other.as_str()))
    });
    out
}

/// `text` folded as the index folds it (Simplified, lower case).
fn folded(text: &str) -> String {
    text.chars().map(fold_char).collect()
}

/// Whether the entry's text holds `word`: Chinese words anywhere in the
/// folded text (segmentation differs between a short question and a long
/// passage: 恩恤 / 恩恤假), Latin words as whole (stemmed) words.
fn holds(word: &str, text_folded: &str, latin: &HashSet<String>) -> bool {
    if word.is_ascii() {
        latin.contains(word)
    } else {
        text_folded.contains(word)
    }
}

/// BM25's weight of a word found in `df` of `n` documents: rare words
/// weigh more, and a word no entry has weighs the most.
fn idf(n: u64, df: u64) -> f32 {
    let (n, df) = (n as f32, df as f32);
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

fn index(state: &AppState) -> AssistantResult<std::sync::Arc<TextIndex>> {
    state
        .indexes
        .get(INDEX)
        .map_err(|e| AssistantError::Index(e.to_string()))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, tram_platform::search::IndexError> + Send + 'static,
) -> AssistantResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AssistantError::Index(e.to_string()))?
        .map_err(|e| AssistantError::Index(e.to_string()))
}

/// The index documents of one entry.
fn documents(entry: &Entry, org_id: &str) -> Vec<TextDoc> {
    let doc = |n: usize, text: String| TextDoc {
        id: format!("{}#{n}", entry.id),
        scope: org_id.to_string(),
        at: entry.updated_at,
        text,
    };
    match entry.kind {
        EntryKind::Faq => {
            let text = format!(
                "{}\n{}\n{}",
                entry.title,
                entry.phrasings.join("\n"),
                entry.body
            );
            vec![doc(0, text)]
        }
        EntryKind::Doc => knowledge::passages(EntryKind::Doc, &entry.body)
            .into_iter()
            .enumerate()
            .map(|(n, passage)| doc(n, format!("{}\n{passage}", entry.title)))
            .collect(),
    }
}

/// Brings this node's index up to date with the change log.
pub async fn sync(state: &AppState) -> AssistantResult<usize> {
    let index = index(state)?;
    let mut follower = index.follower.lock().await;
    let mut cursor = index
        .cursor()
        .map_err(|e| AssistantError::Index(e.to_string()))?;
    let mut total = 0;
    loop {
        let rows = sqlx::query(
            "SELECT id, entry_id, org_id FROM kb_changes WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(cursor)
        .bind(BATCH)
        .fetch_all(state.db.read())
        .await?;
        if rows.is_empty() {
            return Ok(total);
        }
        let mut ids = Vec::with_capacity(rows.len());
        let mut changed: HashMap<String, String> = HashMap::new();
        for row in &rows {
            ids.push(row.try_get::<i64, _>("id")?);
            changed.insert(row.try_get("entry_id")?, row.try_get("org_id")?);
        }
        let entry_ids: Vec<String> = changed.keys().cloned().collect();
        let current = knowledge::by_ids(&state.db, &entry_ids).await?;
        // Every passage id an entry may have had goes; what exists now
        // comes back.
        let deletes: Vec<String> = entry_ids
            .iter()
            .flat_map(|id| (0..MAX_PASSAGES).map(move |n| format!("{id}#{n}")))
            .collect();
        let upserts: Vec<TextDoc> = current
            .iter()
            .flat_map(|entry| documents(entry, &changed[&entry.id]))
            .collect();
        let last_read = *ids.last().expect("rows is not empty");
        let new_cursor = follower.advance(cursor, &ids, Instant::now());
        let writer = index.clone();
        blocking(move || writer.apply(&upserts, &deletes, new_cursor)).await?;
        total += rows.len();
        cursor = new_cursor;
        if new_cursor < last_read || (rows.len() as i64) < BATCH {
            return Ok(total);
        }
    }
}

/// Keeps the index following the log in the background (changes made on
/// other nodes arrive this way; each question also syncs first).
pub fn spawn_indexer(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(err) = sync(&state).await {
                tracing::warn!(error = %err, "knowledge indexing failed; retrying");
            }
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
                _ = state.shutdown.wait() => break,
            }
        }
        if let Ok(index) = index(&state) {
            let _held = index.follower.lock().await;
            index.close();
        }
    })
}

/// A passage found for a question.
#[derive(Debug, Clone)]
pub struct Found {
    pub entry: Entry,
    /// The passage (an FAQ's answer, or a piece of a document).
    pub passage: String,
    pub score: f32,
    /// The share of the question's content words in the entry's text,
    /// each weighted by its IDF.
    pub coverage: f32,
    /// The question is written in Latin letters only.
    pub latin: bool,
    /// Documents in the index when it was asked.
    pub index_size: u64,
}

impl Found {
    /// Whether the rule trusts this hit enough to answer from it.
    pub fn confident(&self) -> bool {
        let bar = if self.latin {
            MIN_COVERAGE_LATIN
        } else {
            MIN_COVERAGE
        };
        self.coverage >= bar && self.support() >= MIN_SUPPORT
    }

    /// See [`MIN_SUPPORT`].
    pub fn support(&self) -> f32 {
        self.score * self.coverage / (1.0 + self.index_size as f32).ln().max(f32::EPSILON)
    }
}

/// The org's passages for `question`, best first (the first is the one to
/// answer from, if it is [`Found::confident`]).
pub async fn retrieve(
    state: &AppState,
    org_id: &str,
    question: &str,
) -> AssistantResult<Vec<Found>> {
    sync(state).await?;
    let index = index(state)?;
    let asked = content_words(question);
    // The stems join the question's words, so "claims" also finds "claim".
    let q = format!("{question} {}", asked.join(" "));
    let scopes = vec![org_id.to_string()];
    let searcher = index.clone();
    let hits = blocking(move || searcher.rank(&q, &scopes, CANDIDATES)).await?;
    if hits.is_empty() {
        return Ok(Vec::new());
    }
    let terms = asked.clone();
    // Frequencies over the node's whole index (every org): only a weight.
    let (n_docs, freqs) = blocking(move || index.doc_freqs(&terms)).await?;
    // In a very small index document frequencies say little (with one
    // entry, every word it has looks common); weigh as if it had at least
    // MIN_WEIGHING_DOCS documents.
    let weighing = n_docs.max(MIN_WEIGHING_DOCS);
    let weights: Vec<f32> = freqs.iter().map(|&df| idf(weighing, df)).collect();
    let total: f32 = weights.iter().sum();
    let latin_question = asked.iter().all(|w| w.is_ascii());
    let entry_ids: Vec<String> = hits
        .iter()
        .filter_map(|(hit, _)| hit.id.split_once('#').map(|(id, _)| id.to_string()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let entries: HashMap<String, Entry> = knowledge::by_ids(&state.db, &entry_ids)
        .await?
        .into_iter()
        .map(|e| (e.id.clone(), e))
        .collect();
    let mut found = Vec::new();
    for (hit, score) in hits {
        let Some((entry_id, n)) = hit.id.split_once('#') else {
            continue;
        };
        // The database decides: an entry deleted since is not used.
        let Some(entry) = entries.get(entry_id) else {
            continue;
        };
        let n: usize = n.parse().unwrap_or(0);
        let Some(text) = documents(entry, org_id).into_iter().nth(n).map(|d| d.text) else {
            continue;
        };
        let latin: HashSet<String> = words(&text).iter().map(|w| stem(w)).collect();
        let text_folded = folded(&text);
        // Each content word counts by its weight: missing a rare word (or
        // one no entry has) matters more than missing a common one.
        let covered: f32 = asked
            .iter()
            .zip(&weights)
            .filter(|(w, _)| holds(w, &text_folded, &latin))
            .map(|(_, weight)| weight)
            .sum();
        let coverage = if total > 0.0 { covered / total } else { 0.0 };
        let passage = knowledge::passages(entry.kind, &entry.body)
            .into_iter()
            .nth(n)
            .unwrap_or_default();
        found.push(Found {
            entry: entry.clone(),
            passage,
            score,
            coverage,
            latin: latin_question,
            index_size: n_docs,
        });
    }
    // BM25 weighted by coverage: a hit that speaks of what was asked wins
    // over one that repeats a single word often.
    found.sort_by(|a, b| {
        let key = |f: &Found| f.score * (0.5 + f.coverage);
        key(b)
            .partial_cmp(&key(a))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::{content_words, idf};

    #[test]
    fn content_words_drop_question_words_and_meet_plurals() {
        assert_eq!(
            content_words("What is the deadline for expense claims?"),
            ["claim", "deadline", "expense"]
        );
        assert_eq!(content_words("bonus"), ["bonus"]);
        // The long word goes when its parts are there. ("IT" is the pronoun
        // "it" to a stop list: a known loss.)
        assert_eq!(content_words("IT 熱線電話"), ["热线", "电话"]);
        let cantonese = content_words("我哋上季收入係幾多？");
        assert!(cantonese.contains(&"收入".to_string()), "{cantonese:?}");
        for particle in ["我", "哋", "系", "几多"] {
            assert!(!cantonese.contains(&particle.to_string()), "{cantonese:?}");
        }
    }

    #[test]
    fn rare_words_weigh_more() {
        assert!(idf(100, 0) > idf(100, 1));
        assert!(idf(100, 1) > idf(100, 50));
    }
}
