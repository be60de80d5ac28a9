//! Issue 2's figures: cold start to a healthy `/healthz`, idle memory,
//! password logins at the production argon2id cost (19 MiB, 2 passes, 1
//! lane), and QR login from the phone's confirmation to the waiting
//! browser's session.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::StreamExt;
use serde_json::json;
use tram_testkit::browser::Client;

use crate::node::{Backend, TramNode};
use crate::org::{self, OWNER, PASSWORD};
use crate::stats::Samples;

pub struct Options {
    pub starts: usize,
    pub logins: usize,
    pub login_workers: usize,
    pub qr_logins: usize,
}

pub async fn run(backend: &Backend, options: &Options) -> anyhow::Result<()> {
    println!("## Foundation on {}", backend.name());

    let mut starts = Samples::default();
    for i in 0..options.starts {
        // Each start is a first start: empty data directory (and database),
        // so migrations run every time.
        let node = TramNode::start(&format!("cold-{i}"), backend, "").await?;
        starts.push(node.started_in);
    }
    println!(
        "- cold start (spawn to /healthz 200, fresh data dir): {}",
        starts.summary()
    );

    let node = TramNode::start("foundation", backend, "").await?;
    let idle = node.rss_kib()?;
    let owner = org::setup(&node.base).await?;
    println!("- idle RSS after start: {:.1} MiB", idle as f64 / 1024.0);

    let (latencies, elapsed) = logins(&node.base, options.logins, options.login_workers).await?;
    println!(
        "- password login, argon2id 19 MiB/2/1, {} workers: {:.1} logins/s; latency {}",
        options.login_workers,
        latencies.len() as f64 / elapsed.as_secs_f64(),
        latencies.summary()
    );
    println!(
        "- RSS after {} logins: {:.1} MiB",
        latencies.len(),
        node.rss_kib()? as f64 / 1024.0
    );

    let (heard, logged_in) = qr_logins(&node.base, &owner, options.qr_logins).await?;
    println!(
        "- QR login, confirm → browser hears it (SSE): {}",
        heard.summary()
    );
    println!(
        "- QR login, confirm → browser holds a session: {}",
        logged_in.summary()
    );
    Ok(())
}

async fn logins(base: &str, total: usize, workers: usize) -> anyhow::Result<(Samples, Duration)> {
    let began = Instant::now();
    let per_worker = total.div_ceil(workers);
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let base = base.to_string();
            tokio::spawn(async move {
                let mut samples = Samples::default();
                for _ in 0..per_worker {
                    // A new browser each time: a real first login.
                    let browser = Client::new(&base);
                    browser.csrf().await;
                    let started = Instant::now();
                    let (status, body) = browser.login(OWNER, PASSWORD).await;
                    if status != 200 {
                        bail!("login: {status} {body}");
                    }
                    samples.push(started.elapsed());
                }
                Ok(samples)
            })
        })
        .collect();
    let mut all = Samples::default();
    for task in tasks {
        all.extend(task.await??);
    }
    Ok((all, began.elapsed()))
}

/// Reads `event: status` lines from a QR ticket's event stream.
struct StatusEvents {
    stream: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    seen: String,
}

impl StatusEvents {
    async fn next(&mut self) -> anyhow::Result<String> {
        const MARK: &str = "event: status\ndata: ";
        loop {
            if let Some(at) = self.seen.find(MARK) {
                let rest = &self.seen[at + MARK.len()..];
                if let Some(end) = rest.find('\n') {
                    let status = rest[..end].to_string();
                    self.seen = rest[end..].to_string();
                    return Ok(status);
                }
            }
            let chunk = tokio::time::timeout(Duration::from_secs(5), self.stream.next())
                .await
                .context("no QR event within 5 s")?
                .context("event stream ended")??;
            self.seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    async fn expect(&mut self, wanted: &str) -> anyhow::Result<()> {
        let status = self.next().await?;
        if status != wanted {
            bail!("QR ticket status {status}, expected {wanted}");
        }
        Ok(())
    }
}

async fn qr_logins(base: &str, phone: &Client, count: usize) -> anyhow::Result<(Samples, Samples)> {
    let mut heard = Samples::default();
    let mut logged_in = Samples::default();
    for _ in 0..count {
        let browser = Client::new(base);
        let (status, ticket) = browser.post_json("/api/v1/qr/tickets", json!({})).await;
        if status != 200 {
            bail!("ticket: {status} {ticket}");
        }
        let id = ticket["ticket_id"].as_str().context("ticket id")?;
        let token = ticket["scan_url"]
            .as_str()
            .and_then(|url| url.rsplit('/').next())
            .context("scan url")?;
        let response = browser
            .get(&format!("/api/v1/qr/tickets/{id}/events"))
            .await;
        let mut events = StatusEvents {
            stream: response.bytes_stream().boxed(),
            seen: String::new(),
        };
        events.expect("pending").await?;
        phone.get_json(&format!("/api/v1/qr/scan/{token}")).await;
        events.expect("scanned").await?;

        let confirmed = Instant::now();
        let (status, body) = phone
            .post_json(
                &format!("/api/v1/qr/scan/{token}"),
                json!({ "approve": true }),
            )
            .await;
        if status != 200 {
            bail!("confirm: {status} {body}");
        }
        events.expect("confirmed").await?;
        heard.push(confirmed.elapsed());
        let (status, body) = browser
            .post_json(&format!("/api/v1/qr/tickets/{id}/login"), json!({}))
            .await;
        if status != 200 {
            bail!("QR login: {status} {body}");
        }
        logged_in.push(confirmed.elapsed());
    }
    Ok((heard, logged_in))
}
