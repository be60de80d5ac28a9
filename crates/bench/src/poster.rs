//! The sending side of the chat benchmarks: posts benchmark messages
//! through `POST /api/v1/conversations/{id}/messages` on a fixed schedule
//! (open loop: message `i` is due at `i / rate` seconds whether or not
//! earlier posts have been answered, so a slow server shows up as latency
//! and a lower achieved rate instead of silently slowing the sender).

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use serde_json::json;
use tokio::sync::Semaphore;
use tram_testkit::browser::Client;

use crate::receivers::{body, Clock};
use crate::stats::Samples;

/// Requests in flight at most; past this the schedule slips (and the
/// achieved rate says so).
const MAX_IN_FLIGHT: usize = 256;

pub struct Posting {
    pub posts: usize,
    pub failed: usize,
    /// Run clock time when the first post was sent and the last answered.
    pub first_us: u64,
    pub last_us: u64,
    /// Request to response, as the poster saw it.
    pub latencies: Samples,
}

impl Posting {
    pub fn rate(&self) -> f64 {
        let span = self.last_us.saturating_sub(self.first_us).max(1) as f64 / 1e6;
        (self.posts - self.failed) as f64 / span
    }
}

pub fn messages_path(conversation_id: &str) -> String {
    format!("/api/v1/conversations/{conversation_id}/messages")
}

/// Posts messages `0..count` at `rate` per second through the chat API.
pub async fn post_steadily(
    client: &Client,
    path: &str,
    rate: f64,
    count: usize,
    clock: Clock,
) -> anyhow::Result<Posting> {
    let (client, path) = (client.clone(), path.to_string());
    send_steadily(rate, count, clock, move |index| {
        let (client, path) = (client.clone(), path.clone());
        async move {
            let (status, answer) = client
                .post_json(&path, json!({ "body": body(clock, index) }))
                .await;
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("{status} {answer}"))
            }
        }
    })
    .await
}

/// Sends requests `0..count` at `rate` per second; `send(i)` makes request
/// `i` and says whether it was accepted (`Err` describes a refusal).
pub async fn send_steadily<F, Fut>(
    rate: f64,
    count: usize,
    clock: Clock,
    send: F,
) -> anyhow::Result<Posting>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let started = tokio::time::Instant::now();
    let first_us = clock.now_us();
    let mut tasks = Vec::with_capacity(count);
    for index in 0..count {
        tokio::time::sleep_until(started + Duration::from_secs_f64(index as f64 / rate)).await;
        let slot = slots.clone().acquire_owned().await?;
        let request = send(index);
        tasks.push(tokio::spawn(async move {
            let sent_us = clock.now_us();
            let outcome = request.await;
            drop(slot);
            (outcome, sent_us, clock.now_us())
        }));
    }
    let mut posting = Posting {
        posts: count,
        failed: 0,
        first_us,
        last_us: first_us,
        latencies: Samples::default(),
    };
    let mut first_failure = None;
    for task in tasks {
        let (outcome, sent_us, answered_us) = task.await?;
        posting.last_us = posting.last_us.max(answered_us);
        posting
            .latencies
            .push(Duration::from_micros(answered_us - sent_us));
        if let Err(failure) = outcome {
            posting.failed += 1;
            first_failure.get_or_insert(failure);
        }
    }
    if posting.failed == count {
        bail!(
            "every post failed, e.g. {}",
            first_failure.unwrap_or_default()
        );
    }
    if let Some(failure) = first_failure {
        eprintln!("{} of {count} posts failed, e.g. {failure}", posting.failed);
    }
    Ok(posting)
}
