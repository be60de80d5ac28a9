//! The AI assistant's evaluation, over HTTP as members use it: an org
//! admin loads the sample knowledge base (`crates/bench/data/assistant/`)
//! through the API, then a member @mentions the assistant with every
//! question of the evaluation set and reads its reply from the group's
//! history. Shared by `tram-bench assistant` and the regression test.
//!
//! A reply counts as correct when its first citation links to the expected
//! entry; as a refusal when it cites nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};

use crate::browser::Client;

/// Where the sample data lives in the source tree.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/data/assistant")
}

#[derive(Deserialize)]
struct Knowledge {
    faq: Vec<Faq>,
    documents: Vec<Document>,
}

#[derive(Deserialize)]
struct Faq {
    key: String,
    question: String,
    #[serde(default)]
    phrasings: Vec<String>,
    answer: String,
}

#[derive(Deserialize)]
struct Document {
    key: String,
    title: String,
    text: String,
}

#[derive(Deserialize)]
struct Questions {
    answerable: Vec<Answerable>,
    unanswerable: Vec<String>,
}

#[derive(Deserialize)]
struct Answerable {
    q: String,
    expect: String,
}

/// What the evaluation found.
#[derive(Debug, Default)]
pub struct Report {
    pub answerable: usize,
    /// First citation is the expected entry.
    pub correct: usize,
    /// Answerable questions the assistant refused.
    pub false_refusals: Vec<String>,
    /// Answerable questions answered from the wrong entry.
    pub wrong: Vec<String>,
    pub unanswerable: usize,
    pub correct_refusals: usize,
    /// Unanswerable questions it answered anyway.
    pub false_answers: Vec<String>,
    /// From sending the question to the reply being in the history.
    pub latencies_ms: Vec<f64>,
}

impl Report {
    pub fn correct_rate(&self) -> f64 {
        self.correct as f64 / self.answerable.max(1) as f64
    }

    pub fn refusal_rate(&self) -> f64 {
        self.correct_refusals as f64 / self.unanswerable.max(1) as f64
    }

    /// The latency at quantile `q` (0-1), in milliseconds.
    pub fn latency(&self, q: f64) -> f64 {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        if sorted.is_empty() {
            return 0.0;
        }
        sorted[((sorted.len() - 1) as f64 * q).round() as usize]
    }
}

fn read<T: serde::de::DeserializeOwned>(file: &str) -> Result<T, String> {
    let path = data_dir().join(file);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Loads the sample knowledge base as `admin` (an org admin); returns the
/// entry id of each key.
pub async fn load(admin: &Client) -> Result<HashMap<String, String>, String> {
    let knowledge: Knowledge = read("knowledge.json")?;
    let mut ids = HashMap::new();
    let entries = knowledge
        .faq
        .iter()
        .map(|f| {
            let body = json!({ "kind": "faq", "title": f.question, "body": f.answer, "phrasings": f.phrasings });
            (f.key.clone(), body)
        })
        .chain(knowledge.documents.iter().map(|d| {
            let body = json!({ "kind": "doc", "title": d.title, "body": d.text });
            (d.key.clone(), body)
        }));
    for (key, body) in entries {
        let (status, entry) = admin.post_json("/api/v1/assistant/entries", body).await;
        if status != 200 {
            return Err(format!("adding {key}: {status} {entry}"));
        }
        ids.insert(key, entry["id"].as_str().unwrap_or_default().to_string());
    }
    Ok(ids)
}

/// The entry ids a reply cites, in order.
pub fn cited(body: &str) -> Vec<String> {
    body.split("/assistant/entries/")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect()
        })
        .collect()
}

/// Asks `question` in `group` @mentioning the assistant, and waits for the
/// reply quoting it.
pub async fn ask(
    asker: &Client,
    group: &str,
    robot: (&str, &str),
    question: &str,
) -> Result<(Value, Duration), String> {
    let (robot_id, robot_name) = robot;
    let began = Instant::now();
    let (status, sent) = asker
        .post_json(
            &format!("/api/v1/conversations/{group}/messages"),
            json!({ "body": format!("@{robot_name} {question}"), "robot_mentions": [robot_id] }),
        )
        .await;
    if status != 200 {
        return Err(format!("asking {question}: {status} {sent}"));
    }
    let seq = sent["seq"].as_i64().unwrap_or_default();
    let id = sent["id"].as_str().unwrap_or_default().to_string();
    loop {
        let (_, page) = asker
            .get_json(&format!(
                "/api/v1/conversations/{group}/messages?after={seq}&limit=50"
            ))
            .await;
        let reply = page.as_array().and_then(|list| {
            list.iter()
                .find(|m| m["robot_id"] == robot_id && m["reply_to"]["id"] == id.as_str())
                .cloned()
        });
        if let Some(reply) = reply {
            return Ok((reply, began.elapsed()));
        }
        if began.elapsed() > Duration::from_secs(30) {
            return Err(format!("no reply to {question} within 30 s"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Asks every question of the evaluation set and scores the replies.
pub async fn run(
    asker: &Client,
    group: &str,
    robot: (&str, &str),
    ids: &HashMap<String, String>,
) -> Result<Report, String> {
    let questions: Questions = read("questions.json")?;
    let mut report = Report::default();
    for item in &questions.answerable {
        let expected = ids
            .get(&item.expect)
            .ok_or_else(|| format!("unknown entry {}", item.expect))?;
        let (reply, took) = ask(asker, group, robot, &item.q).await?;
        report.latencies_ms.push(took.as_secs_f64() * 1000.0);
        report.answerable += 1;
        let citations = cited(reply["body"].as_str().unwrap_or_default());
        match citations.first() {
            Some(first) if first == expected => report.correct += 1,
            Some(_) => report.wrong.push(item.q.clone()),
            None => report.false_refusals.push(item.q.clone()),
        }
    }
    for question in &questions.unanswerable {
        let (reply, took) = ask(asker, group, robot, question).await?;
        report.latencies_ms.push(took.as_secs_f64() * 1000.0);
        report.unanswerable += 1;
        if cited(reply["body"].as_str().unwrap_or_default()).is_empty() {
            report.correct_refusals += 1;
        } else {
            report.false_answers.push(question.clone());
        }
    }
    Ok(report)
}
