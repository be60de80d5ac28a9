//! Message search over a large history: a million messages of mixed
//! Traditional Chinese and English in 200 groups, of which the searcher
//! belongs to 50. The groups and people are made through the API; the
//! messages are written straight into the stopped server's SQLite file
//! (with their change-log rows, as the server writes them), then the server
//! is started again and builds its index from the log. Queries go through
//! `GET /api/v1/chat/search` like the chat page's.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use sqlx::{Connection, SqliteConnection};
use tram_testkit::browser::Client;

use crate::node::{Backend, TramNode};
use crate::org;
use crate::stats::{ms, Samples};

pub struct Options {
    pub messages: usize,
    pub groups: usize,
    pub member_of: usize,
    pub queries: usize,
}

/// Business words people in a Hong Kong office write.
const ZH: &[&str] = &[
    "現金流",
    "報表",
    "預算",
    "會議",
    "客戶",
    "合約",
    "發票",
    "報價",
    "審批",
    "採購",
    "差旅",
    "報銷",
    "請假",
    "季度",
    "營收",
    "利潤",
    "成本",
    "供應商",
    "付款",
    "收款",
    "銀行",
    "貸款",
    "利率",
    "匯率",
    "港元",
    "美元",
    "人民幣",
    "市場",
    "銷售",
    "推廣",
    "活動",
    "產品",
    "項目",
    "進度",
    "交付",
    "測試",
    "上線",
    "系統",
    "伺服器",
    "維護",
    "數據",
    "分析",
    "簡報",
    "文件",
    "簽署",
    "蓋章",
    "法律",
    "合規",
    "審計",
    "風險",
    "保險",
    "人事",
    "招聘",
    "面試",
    "培訓",
    "薪酬",
    "花紅",
    "假期",
    "辦公室",
    "租約",
    "裝修",
    "物業",
    "董事會",
    "股東",
    "年報",
    "公告",
    "昨日",
    "今日",
    "明天",
    "下週",
    "上季",
    "本月",
    "已更新",
    "請確認",
    "麻煩",
    "盡快",
    "跟進",
    "處理",
    "完成",
    "提交",
    "檢查",
    "安排",
    "通知",
    "更新",
    "同事",
    "經理",
    "主管",
    "財務部",
    "行政部",
    "資訊科技部",
    "客戶服務",
];
const EN: &[&str] = &[
    "report",
    "budget",
    "meeting",
    "client",
    "contract",
    "invoice",
    "quote",
    "approval",
    "purchase",
    "travel",
    "expense",
    "leave",
    "quarter",
    "revenue",
    "profit",
    "cost",
    "supplier",
    "payment",
    "bank",
    "loan",
    "rate",
    "market",
    "sales",
    "campaign",
    "product",
    "project",
    "progress",
    "delivery",
    "testing",
    "release",
    "server",
    "maintenance",
    "data",
    "analysis",
    "slides",
    "document",
    "sign",
    "legal",
    "compliance",
    "audit",
    "risk",
    "please",
    "check",
    "update",
    "today",
    "tomorrow",
    "deadline",
    "review",
    "draft",
    "final",
    "team",
    "office",
    "cashflow",
    "forecast",
    "KPI",
    "Q3",
    "Q4",
    "HKD",
    "USD",
    "urgent",
    "FYI",
    "thanks",
    "done",
    "pending",
];

/// A small deterministic generator (xorshift64*), so every run writes the
/// same history.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Skewed towards the start of the list, like real word frequencies.
    fn word<'a>(&mut self, words: &[&'a str]) -> &'a str {
        let a = self.below(words.len());
        let b = self.below(words.len());
        words[a.min(b)]
    }
}

fn message_text(rng: &mut Rng) -> String {
    let mut text = String::new();
    let words = 4 + rng.below(12);
    let english = rng.below(4) == 0;
    for i in 0..words {
        if english || rng.below(6) == 0 {
            if i > 0 {
                text.push(' ');
            }
            text.push_str(rng.word(EN));
            text.push(' ');
        } else {
            text.push_str(rng.word(ZH));
        }
    }
    if !english {
        text.push('。');
    }
    text.trim().to_string()
}

pub async fn run(backend: &Backend, options: &Options) -> anyhow::Result<()> {
    if !matches!(backend, Backend::Sqlite) {
        bail!("the search benchmark writes its history into the SQLite file; run it without --postgres");
    }
    let node = TramNode::start("search", backend, "dev_mode = true\n").await?;
    let owner = org::setup(&node.base).await?;
    let members = org::add_members(&owner, 1, 1).await?;
    let (searcher, searcher_id) = members.into_iter().next().context("one member")?;
    let mut groups = Vec::with_capacity(options.groups);
    for i in 0..options.groups {
        let with: Vec<&str> = if i < options.member_of {
            vec![searcher_id.as_str()]
        } else {
            vec![]
        };
        groups.push(org::create_group(&owner, &format!("群組 {i}"), &with).await?);
    }
    let owner_id = owner.get_json("/api/v1/me").await.1["user"]["id"]
        .as_str()
        .context("owner id")?
        .to_string();

    let data_dir = node.data_dir.clone();
    let node = node.stop_keeping_data().await?;
    let began = Instant::now();
    write_history(&data_dir, &groups, &owner_id, options.messages).await?;
    let written_in = began.elapsed();

    let node = TramNode::restart(node).await?;
    let searcher = searcher.on(&node.base);
    // The first search waits for the index to catch up with the log.
    let began = Instant::now();
    let sentinel = search(&searcher, "終點標記").await?;
    let indexed_in = began.elapsed();
    if sentinel.0 != 1 {
        bail!(
            "the last message written was not found ({} results)",
            sentinel.0
        );
    }
    let index_bytes = dir_size(&data_dir.join("search"));

    let mut rng = Rng(0x7A3C_0FFE_E123_4567);
    let mut samples = Samples::default();
    let mut found = 0usize;
    let mut empty = 0usize;
    for i in 0..options.queries {
        let query = match i % 4 {
            0 => rng.word(ZH).to_string(),
            1 => rng.word(EN).to_string(),
            2 => format!("{}{}", rng.word(ZH), rng.word(ZH)),
            _ => format!("{} {}", rng.word(ZH), rng.word(EN)),
        };
        let (results, took) = search(&searcher, &query).await?;
        samples.push(took);
        found += results;
        if results == 0 {
            empty += 1;
        }
    }
    let rss = node.rss_kib()? as f64 / 1024.0;

    println!("## Search over {} messages (SQLite)\n", options.messages);
    println!("| what | figure |");
    println!("| --- | --- |");
    println!(
        "| history | {} messages in {} groups; the searcher is in {} of them |",
        options.messages, options.groups, options.member_of
    );
    println!(
        "| writing the history into SQLite (bench side) | {:.1} s |",
        written_in.as_secs_f64()
    );
    println!(
        "| index build from the change log at start-up | {:.1} s ({:.0} messages/s), index {:.0} MiB |",
        indexed_in.as_secs_f64(),
        options.messages as f64 / indexed_in.as_secs_f64(),
        index_bytes as f64 / (1024.0 * 1024.0)
    );
    println!("| search latency over HTTP | {} |", samples.summary());
    println!(
        "| results per query (max 20) | {:.1} on average; {} of {} queries found nothing |",
        found as f64 / options.queries as f64,
        empty,
        options.queries
    );
    println!("| server RSS after the queries | {rss:.0} MiB |");
    println!(
        "\n(p99 {} against the target of 50 ms)",
        ms(samples.percentiles(&[99.0])[0])
    );
    Ok(())
}

async fn search(client: &Client, query: &str) -> anyhow::Result<(usize, Duration)> {
    let url = reqwest::Url::parse_with_params(&client.url("/api/v1/chat/search"), &[("q", query)])?;
    let began = Instant::now();
    let response = client.http.get(url).send().await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await?;
    let took = began.elapsed();
    if status != 200 {
        bail!("search {query:?}: {status} {body}");
    }
    Ok((body.as_array().map_or(0, Vec::len), took))
}

/// Writes `count` messages round-robin into `groups`, as the server would:
/// each with the next sequence number of its group and a change-log row.
async fn write_history(
    data_dir: &std::path::Path,
    groups: &[String],
    sender: &str,
    count: usize,
) -> anyhow::Result<()> {
    let url = format!("sqlite://{}", data_dir.join("tram.db").display());
    let mut db = SqliteConnection::connect(&url).await?;
    sqlx::query("PRAGMA synchronous = OFF")
        .execute(&mut db)
        .await?;
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let start_ms = 1_760_000_000_000i64;
    let mut seqs = vec![0i64; groups.len()];
    const BATCH: usize = 20_000;
    let mut written = 0;
    while written < count {
        let mut tx = db.begin().await?;
        for i in written..(written + BATCH).min(count) {
            // The last message (the sentinel) goes to a group the searcher is in.
            let g = if i + 1 == count { 0 } else { i % groups.len() };
            seqs[g] += 1;
            let id = format!("bench{i:012}");
            let at = start_ms + i as i64 * 100;
            let body = if i + 1 == count {
                "終點標記 the end".to_string()
            } else {
                message_text(&mut rng)
            };
            sqlx::query(
                "INSERT INTO messages (id, conversation_id, seq, sender_id, kind, body, mentions, mention_all, created_at) \
                 VALUES ($1, $2, $3, $4, 'text', $5, '[]', 0, $6)",
            )
            .bind(&id)
            .bind(&groups[g])
            .bind(seqs[g])
            .bind(sender)
            .bind(&body)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO message_changes (message_id, changed_at) VALUES ($1, $2)")
                .bind(&id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        written = (written + BATCH).min(count);
    }
    for (g, id) in groups.iter().enumerate() {
        sqlx::query("UPDATE conversations SET last_seq = $1, last_message_at = $2 WHERE id = $3")
            .bind(seqs[g])
            .bind(start_ms + count as i64 * 100)
            .bind(id)
            .execute(&mut db)
            .await?;
    }
    db.close().await?;
    Ok(())
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        dir_size(&e.path())
                    } else {
                        e.metadata().map_or(0, |m| m.len())
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
