//! Full-text search for Chinese and English text. Hong Kong users write
//! Traditional Chinese and jieba's dictionary is Simplified, so text is
//! folded to Simplified characters before segmentation (on both the indexed
//! text and the query), then cut into words with jieba's search mode (which
//! also emits the shorter words inside long ones, so "現金流報表" finds
//! "昨日現金流報表已更新"). Latin text is lower-cased.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery, TermSetQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, STORED, STRING,
};
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term,
};

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// The name the tokenizer is registered under in every index.
pub const TOKENIZER: &str = "tram_zh";

fn jieba() -> &'static jieba_rs::Jieba {
    static JIEBA: OnceLock<jieba_rs::Jieba> = OnceLock::new();
    JIEBA.get_or_init(jieba_rs::Jieba::new)
}

/// The words of `text` as the index sees them.
pub fn words(text: &str) -> Vec<String> {
    let folded = fast2s::convert(text);
    jieba()
        .cut_for_search(&folded, true)
        .into_iter()
        .map(|token| token.word.trim().to_lowercase())
        .filter(|word| word.chars().any(char::is_alphanumeric))
        .collect()
}

/// One character folded the way the index folds text (Traditional to
/// Simplified, lower case), for finding matches in the original text.
pub fn fold_char(c: char) -> char {
    let mut buf = [0u8; 4];
    let simplified = fast2s::convert(c.encode_utf8(&mut buf));
    let one = simplified.chars().next().unwrap_or(c);
    one.to_lowercase().next().unwrap_or(one)
}

#[derive(Clone, Default)]
pub struct ChineseTokenizer;

pub struct WordStream {
    tokens: Arc<Vec<Token>>,
    index: usize,
    current: Token,
}

impl TokenStream for WordStream {
    fn advance(&mut self) -> bool {
        match self.tokens.get(self.index) {
            Some(token) => {
                self.current = token.clone();
                self.index += 1;
                true
            }
            None => false,
        }
    }

    fn token(&self) -> &Token {
        &self.current
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.current
    }
}

impl Tokenizer for ChineseTokenizer {
    type TokenStream<'a> = WordStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordStream {
        let tokens = words(text)
            .into_iter()
            .enumerate()
            .map(|(position, text)| Token {
                offset_from: 0,
                offset_to: 0,
                position,
                text,
                position_length: 1,
            })
            .collect();
        WordStream {
            tokens: Arc::new(tokens),
            index: 0,
            current: Token::default(),
        }
    }
}

/// One document of a [`TextIndex`]: an id, the scope it belongs to (a
/// conversation, a knowledge base: searches name the scopes they may see),
/// a time for ordering, and the text.
#[derive(Debug, Clone)]
pub struct TextDoc {
    pub id: String,
    pub scope: String,
    pub at: i64,
    pub text: String,
}

/// A search hit: the document id and its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub id: String,
    pub at: i64,
}

#[derive(Debug, thiserror::Error)]
#[error("search index: {0}")]
pub struct IndexError(String);

impl From<tantivy::TantivyError> for IndexError {
    fn from(err: tantivy::TantivyError) -> Self {
        IndexError(err.to_string())
    }
}

impl From<tantivy::directory::error::OpenDirectoryError> for IndexError {
    fn from(err: tantivy::directory::error::OpenDirectoryError) -> Self {
        IndexError(err.to_string())
    }
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    scope: Field,
    at: Field,
    text: Field,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text_options = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED),
        scope: builder.add_text_field("scope", STRING),
        at: builder.add_i64_field("at", FAST | STORED),
        text: builder.add_text_field("text", text_options),
    };
    (builder.build(), fields)
}

/// Memory the writer may use before it flushes a segment.
const WRITER_BUDGET_BYTES: usize = 32 * 1024 * 1024;

/// A full-text index in a directory of its own, written by one indexer.
/// Its commits carry a cursor (how far the indexer got in the change log it
/// follows), stored atomically with the documents, so after a crash the
/// index and its cursor agree and indexing resumes where it stopped.
pub struct TextIndex {
    /// Held while the index catches up with its change log: one indexer
    /// at a time, and it remembers the log's gaps.
    pub follower: tokio::sync::Mutex<LogFollower>,
    index: Index,
    reader: IndexReader,
    writer: Mutex<Option<IndexWriter<TantivyDocument>>>,
    fields: Fields,
}

impl TextIndex {
    /// Opens the index in `dir`, creating it if missing.
    pub fn open(dir: &Path) -> Result<TextIndex, IndexError> {
        std::fs::create_dir_all(dir).map_err(|e| IndexError(format!("{}: {e}", dir.display())))?;
        let (schema, fields) = schema();
        let index = Index::open_or_create(MmapDirectory::open(dir)?, schema)?;
        index.tokenizers().register(TOKENIZER, ChineseTokenizer);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(TextIndex {
            follower: tokio::sync::Mutex::new(LogFollower::default()),
            index,
            reader,
            writer: Mutex::new(None),
            fields,
        })
    }

    /// The cursor of the last commit (0 for a new index).
    pub fn cursor(&self) -> Result<i64, IndexError> {
        let metas = self.index.load_metas()?;
        Ok(metas
            .payload
            .as_deref()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0))
    }

    /// Replaces documents (by id) and deletes others, then commits with
    /// the new cursor: all of it becomes visible at once, or none of it.
    pub fn apply(
        &self,
        upserts: &[TextDoc],
        deletes: &[String],
        cursor: i64,
    ) -> Result<(), IndexError> {
        self.stage(upserts, deletes)?;
        self.commit(cursor)
    }

    /// Replaces documents (by id) and deletes others, visible and durable
    /// only at the next [`commit`](Self::commit).
    pub fn stage(&self, upserts: &[TextDoc], deletes: &[String]) -> Result<(), IndexError> {
        let mut guard = self.open_writer()?;
        let writer = guard.as_mut().expect("opened by open_writer");
        let f = self.fields;
        for id in deletes.iter().chain(upserts.iter().map(|d| &d.id)) {
            writer.delete_term(Term::from_field_text(f.id, id));
        }
        for doc in upserts {
            let mut d = TantivyDocument::default();
            d.add_text(f.id, &doc.id);
            d.add_text(f.scope, &doc.scope);
            d.add_i64(f.at, doc.at);
            d.add_text(f.text, &doc.text);
            writer.add_document(d)?;
        }
        Ok(())
    }

    /// Makes what was staged visible and durable, with the cursor.
    pub fn commit(&self, cursor: i64) -> Result<(), IndexError> {
        let mut guard = self.open_writer()?;
        let writer = guard.as_mut().expect("opened by open_writer");
        let mut commit = writer.prepare_commit()?;
        commit.set_payload(&cursor.to_string());
        commit.commit()?;
        drop(guard);
        self.reader.reload()?;
        Ok(())
    }

    /// The writer, opened on first use (it takes the directory's lock).
    fn open_writer(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, Option<IndexWriter<TantivyDocument>>>, IndexError> {
        let mut guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(self.index.writer_with_num_threads(1, WRITER_BUDGET_BYTES)?);
        }
        Ok(guard)
    }

    /// Releases the writer (and its lock on the directory).
    pub fn close(&self) {
        let mut guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(writer) = guard.take() {
            let _ = writer.wait_merging_threads();
        }
    }

    /// The newest `limit` documents in `scopes` that contain every word of
    /// `query`. A query with no words finds nothing.
    pub fn search(
        &self,
        query: &str,
        scopes: &[String],
        limit: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        let mut terms = words(query);
        terms.sort();
        terms.dedup();
        if terms.is_empty() || scopes.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = terms
            .iter()
            .map(|word| {
                let term = Term::from_field_text(f.text, word);
                (
                    Occur::Must,
                    Box::new(TermQuery::new(term, IndexRecordOption::Basic)) as Box<dyn Query>,
                )
            })
            .collect();
        let scope_terms = scopes.iter().map(|s| Term::from_field_text(f.scope, s));
        clauses.push((Occur::Must, Box::new(TermSetQuery::new(scope_terms))));
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let top: Vec<(Option<i64>, DocAddress)> = searcher.search(
            &query,
            &TopDocs::with_limit(limit).order_by_fast_field::<i64>("at", Order::Desc),
        )?;
        let mut hits = Vec::with_capacity(top.len());
        for (at, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            if let Some(id) = doc.get_first(f.id).and_then(|v| v.as_str()) {
                hits.push(Hit {
                    id: id.to_string(),
                    at: at.unwrap_or_default(),
                });
            }
        }
        Ok(hits)
    }

    /// The `limit` documents in `scopes` that best match any word of
    /// `query`, by BM25 score (highest first), with their scores. For
    /// question answering, where a passage rarely holds every word asked.
    pub fn rank(
        &self,
        query: &str,
        scopes: &[String],
        limit: usize,
    ) -> Result<Vec<(Hit, f32)>, IndexError> {
        let mut terms = words(query);
        terms.sort();
        terms.dedup();
        if terms.is_empty() || scopes.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let f = self.fields;
        let any_word: Vec<(Occur, Box<dyn Query>)> = terms
            .iter()
            .map(|word| {
                let term = Term::from_field_text(f.text, word);
                (
                    Occur::Should,
                    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)) as Box<dyn Query>,
                )
            })
            .collect();
        let scope_terms = scopes.iter().map(|s| Term::from_field_text(f.scope, s));
        // The scope filters without adding to the score.
        let scope: Box<dyn Query> = Box::new(BoostQuery::new(
            Box::new(TermSetQuery::new(scope_terms)),
            0.0,
        ));
        let query = BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(BooleanQuery::new(any_word)) as Box<dyn Query>,
            ),
            (Occur::Must, scope),
        ]);
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let id = doc.get_first(f.id).and_then(|v| v.as_str());
            let at = doc.get_first(f.at).and_then(|v| v.as_i64());
            if let Some(id) = id {
                let hit = Hit {
                    id: id.to_string(),
                    at: at.unwrap_or_default(),
                };
                hits.push((hit, score));
            }
        }
        Ok(hits)
    }

    /// How many documents hold each of `words` (as the index cuts them),
    /// and how many documents there are: what a word's weight (IDF) is
    /// computed from.
    pub fn doc_freqs(&self, words: &[String]) -> Result<(u64, Vec<u64>), IndexError> {
        let searcher = self.reader.searcher();
        let mut freqs = Vec::with_capacity(words.len());
        for word in words {
            freqs.push(searcher.doc_freq(&Term::from_field_text(self.fields.text, word))?);
        }
        Ok((searcher.num_docs(), freqs))
    }

    /// How many documents the index holds.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How long a missing id in a change log is waited for before it is
/// taken for a rolled-back transaction.
pub const GAP_PATIENCE: Duration = Duration::from_secs(10);

/// Follows a change log ordered by an id that the database hands out before
/// commit (a PostgreSQL sequence): a lower id can become visible after a
/// higher one. The cursor only moves past a missing id once that id has
/// been missing for [`GAP_PATIENCE`]; until then, what lies above it is read
/// again (indexing is idempotent, so that is only work, never a duplicate).
#[derive(Debug, Default)]
pub struct LogFollower {
    gaps: HashMap<i64, Instant>,
}

impl LogFollower {
    /// The new cursor after reading `ids` (ascending, all above `cursor`).
    pub fn advance(&mut self, cursor: i64, ids: &[i64], now: Instant) -> i64 {
        let mut position = cursor;
        for &id in ids {
            for missing in position + 1..id {
                self.gaps.entry(missing).or_insert(now);
            }
            while position + 1 < id {
                let missing = position + 1;
                let since = *self.gaps.entry(missing).or_insert(now);
                if now.duration_since(since) < GAP_PATIENCE {
                    self.gaps.retain(|&gap, _| gap > cursor);
                    return position;
                }
                position = missing;
            }
            position = id;
        }
        self.gaps.retain(|&gap, _| gap > position);
        position
    }
}

/// The indexes of one server, each in a directory under
/// `<data dir>/search/`, opened on first use.
pub struct Indexes {
    root: PathBuf,
    open: Mutex<HashMap<String, Arc<TextIndex>>>,
}

impl Indexes {
    pub fn new(root: PathBuf) -> Indexes {
        Indexes {
            root,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The index called `name`. Opening waits a little for a previous
    /// writer in this process (a server being restarted) to let go.
    pub fn get(&self, name: &str) -> Result<Arc<TextIndex>, IndexError> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(index) = open.get(name) {
            return Ok(index.clone());
        }
        let index = Arc::new(TextIndex::open(&self.root.join(name))?);
        open.insert(name.to_string(), index.clone());
        Ok(index)
    }

    /// Releases every writer (on shutdown).
    pub fn close(&self) {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        for index in open.values() {
            index.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn traditional_text_is_cut_into_words_not_characters() {
        let doc = words("昨日現金流報表已更新");
        for word in words("現金流報表") {
            assert!(doc.contains(&word), "{word} missing from {doc:?}");
        }
        assert!(doc.contains(&"现金流".to_string()), "{doc:?}");
        assert!(
            !doc.iter().all(|w| w.chars().count() == 1),
            "not single characters: {doc:?}"
        );
    }

    #[test]
    fn simplified_and_traditional_meet_and_latin_is_case_folded() {
        assert_eq!(words("報表"), words("报表"));
        assert_eq!(
            words("Q3 Report"),
            vec!["q3".to_string(), "report".to_string()]
        );
        assert!(words("上季營收是多少？").contains(&"营收".to_string()));
    }

    fn doc(id: &str, scope: &str, at: i64, text: &str) -> super::TextDoc {
        super::TextDoc {
            id: id.into(),
            scope: scope.into(),
            at,
            text: text.into(),
        }
    }

    #[test]
    fn an_index_finds_words_in_allowed_scopes_newest_first_and_keeps_its_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let index = super::TextIndex::open(dir.path()).unwrap();
        assert_eq!(index.cursor().unwrap(), 0);
        index
            .apply(
                &[
                    doc("m1", "c1", 1, "昨日現金流報表已更新"),
                    doc("m2", "c1", 2, "現金流報表 please review"),
                    doc("m3", "c2", 3, "現金流報表 (secret group)"),
                    doc("m4", "c1", 4, "今日開會"),
                ],
                &[],
                7,
            )
            .unwrap();
        let scopes = vec!["c1".to_string()];
        let ids = |hits: Vec<super::Hit>| hits.into_iter().map(|h| h.id).collect::<Vec<_>>();
        assert_eq!(
            ids(index.search("現金流報表", &scopes, 10).unwrap()),
            ["m2", "m1"]
        );
        assert_eq!(ids(index.search("REVIEW", &scopes, 10).unwrap()), ["m2"]);
        assert!(index.search("   ", &scopes, 10).unwrap().is_empty());
        assert!(index.search("現金流報表", &[], 10).unwrap().is_empty());
        // Replacing and deleting by id.
        index
            .apply(
                &[doc("m2", "c1", 2, "changed text")],
                &["m1".to_string()],
                9,
            )
            .unwrap();
        assert!(index.search("現金流報表", &scopes, 10).unwrap().is_empty());
        index.close();
        drop(index);
        let reopened = super::TextIndex::open(dir.path()).unwrap();
        assert_eq!(reopened.cursor().unwrap(), 9);
        assert_eq!(
            ids(reopened.search("changed", &scopes, 10).unwrap()),
            ["m2"]
        );
        assert_eq!(reopened.len(), 3);
    }

    #[test]
    fn the_cursor_waits_for_a_missing_id_then_gives_up_on_it() {
        let mut follower = super::LogFollower::default();
        let t0 = std::time::Instant::now();
        assert_eq!(follower.advance(0, &[1, 2, 3], t0), 3);
        // 5 is visible before 4 has committed: stop below the gap.
        assert_eq!(follower.advance(3, &[5, 6], t0), 3);
        // 4 arrives: everything moves on.
        assert_eq!(follower.advance(3, &[4, 5, 6], t0), 6);
        // 7 never arrives (rolled back): after the patience, skip it.
        assert_eq!(follower.advance(6, &[8], t0), 6);
        assert_eq!(follower.advance(6, &[8], t0 + super::GAP_PATIENCE / 2), 6);
        assert_eq!(follower.advance(6, &[8], t0 + super::GAP_PATIENCE), 8);
        assert_eq!(follower.advance(8, &[], t0 + super::GAP_PATIENCE), 8);
        // A gap of several ids is waited for once, not once per id.
        assert_eq!(follower.advance(8, &[12], t0), 8);
        assert_eq!(follower.advance(8, &[12], t0 + super::GAP_PATIENCE), 12);
    }
}
