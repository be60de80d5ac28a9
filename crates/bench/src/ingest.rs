//! The bots issue's webhook-ingest figures: a robot with signing on posts
//! DingTalk text messages to `/robot/send` at fixed rates (open loop, a
//! fresh timestamp and signature per request, as a DingTalk client signs),
//! and a group of N members, each with a WebSocket, must receive every
//! message once. Each rate is run against a bare axum endpoint that checks
//! the same signature with Tram's own `verify_signature` and broadcasts
//! without storing anything (baseline.rs), then against Tram with the
//! robot's rate limit raised out of the way.

use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tram_testkit::browser::Client;

use crate::baseline::{self, BaselineNode};
use crate::fanout::{self, measure_posting, Outcome, REGISTER_PARALLEL};
use crate::node::{Backend, TramNode};
use crate::org;
use crate::poster::send_steadily;
use crate::receivers::{body, Clock};
use crate::stats::ms;

pub struct Options {
    pub members: usize,
    /// Messages per second, one run each.
    pub rates: Vec<f64>,
    pub seconds: f64,
}

/// The node's settings: registration codes from one address, and a robot
/// limit far above what is sent (DingTalk's 20 a minute would refuse all
/// but the first twenty).
const SETTINGS: &str =
    "[security]\ncodes_per_ip_per_hour = 1000000\n\n[bots]\nrate_limit_per_minute = 100000000\n";

/// A robot's address and signing secret.
#[derive(Clone)]
struct Webhook {
    url: String,
    secret: String,
}

impl Webhook {
    /// The address of one call, signed now.
    fn signed_url(&self) -> String {
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(self.secret.as_bytes()).expect("any key length");
        mac.update(format!("{timestamp}\n{}", self.secret).as_bytes());
        let sign = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let sign: String = url::form_urlencoded::byte_serialize(sign.as_bytes()).collect();
        format!("{}&timestamp={timestamp}&sign={sign}", self.url)
    }
}

pub async fn run(backend: &Backend, options: &Options) -> anyhow::Result<()> {
    println!(
        "## Robot webhook ingest: signed DingTalk text messages to a group of {} members with a socket each, \
         {} s per rate, Tram on {}\n",
        options.members,
        options.seconds,
        backend.name()
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()?;

    let bare = BaselineNode::start()?;
    let bare_hook = Webhook {
        url: format!("{}/robot/send?access_token=baseline", bare.base),
        secret: baseline::ROBOT_SECRET.to_string(),
    };
    let bare_client = Client::new(&bare.base);

    let node = TramNode::start("ingest", backend, SETTINGS).await?;
    let team = org::team_in_one_group(&node.base, options.members, REGISTER_PARALLEL).await?;
    let hook = add_signed_robot(&team.owner, &team.conversation, &node.base).await?;

    let mut rows = Vec::new();
    for &rate in &options.rates {
        let step = fanout::Options {
            members: options.members,
            rate,
            seconds: options.seconds,
        };
        let requests = (0..options.members)
            .map(|_| bare_client.socket_request(&bare.base))
            .collect::<Result<Vec<_>, _>>()?;
        let baseline = post_robot(&http, &bare_hook, requests, &step, bare.pid()).await?;
        fanout::report(
            &format!("Bare signature-checking endpoint (baseline), {rate} messages/s"),
            &baseline,
            &step,
        );
        let mut requests = vec![team.owner.socket_request(&node.base)?];
        for (member, _) in &team.members {
            requests.push(member.socket_request(&node.base)?);
        }
        let tram = post_robot(&http, &hook, requests, &step, node.pid()).await?;
        fanout::report(
            &format!("Tram on {}, {rate} messages/s", backend.name()),
            &tram,
            &step,
        );
        rows.push((rate, baseline, tram));
    }
    summary(backend, options, &rows);
    Ok(())
}

/// Adds a robot with signing on to the group; its webhook on `base`.
async fn add_signed_robot(
    owner: &Client,
    conversation: &str,
    base: &str,
) -> anyhow::Result<Webhook> {
    let (status, body) = owner
        .post_json(
            &format!("/api/v1/conversations/{conversation}/robots"),
            json!({ "name": "ERP 系統", "signing": true }),
        )
        .await;
    anyhow::ensure!(status == 200, "adding the robot: {status} {body}");
    let webhook = url::Url::parse(body["webhook_url"].as_str().context("webhook_url")?)?;
    let token = webhook
        .query_pairs()
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
        .context("access_token in the webhook address")?;
    Ok(Webhook {
        url: format!("{base}/robot/send?access_token={token}"),
        secret: body["secret"].as_str().context("secret")?.to_string(),
    })
}

/// Posts `step.rate` signed messages a second for `step.seconds` while the
/// sockets receive.
async fn post_robot(
    http: &reqwest::Client,
    hook: &Webhook,
    requests: Vec<Request>,
    step: &fanout::Options,
    server_pid: u32,
) -> anyhow::Result<Outcome> {
    let posts = (step.rate * step.seconds).round() as usize;
    let rate = step.rate;
    let (http, hook) = (http.clone(), hook.clone());
    measure_posting(
        requests,
        posts,
        server_pid,
        move |clock: Clock| async move {
            send_steadily(rate, posts, clock, move |index| {
                let (http, hook) = (http.clone(), hook.clone());
                async move { send_one(&http, &hook, clock, index).await }
            })
            .await
        },
    )
    .await
}

async fn send_one(
    http: &reqwest::Client,
    hook: &Webhook,
    clock: Clock,
    index: usize,
) -> Result<(), String> {
    let message = json!({ "msgtype": "text", "text": { "content": body(clock, index) } });
    let response = http
        .post(hook.signed_url())
        .json(&message)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let answer: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
    match answer["errcode"].as_i64() {
        Some(0) => Ok(()),
        _ => Err(answer.to_string()),
    }
}

/// The table for docs/benchmarks.md: per rate, what was accepted and
/// delivered, and how fast.
fn summary(backend: &Backend, options: &Options, rows: &[(f64, Outcome, Outcome)]) {
    println!(
        "### Summary: {} members, Tram on {}\n",
        options.members,
        backend.name()
    );
    println!(
        "| offered/s | server | accepted/s | refused | delivered msg/s (per socket) | lost | dup | POST answered p50 / p99 | POST → socket p50 / p99 | server CPU |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (rate, baseline, tram) in rows {
        for (name, o) in [("baseline", baseline), ("Tram", tram)] {
            let answered = o.posting.latencies.percentiles(&[50.0, 99.0]);
            let delivered = o.delivery.latencies.percentiles(&[50.0, 99.0]);
            let per_socket = o.delivered_per_second() / o.delivery.sockets.max(1) as f64;
            println!(
                "| {rate:.0} | {name} | {:.0} | {} | {per_socket:.0} | {} | {} | {} / {} | {} / {} | {:.2} |",
                o.posting.rate(),
                o.posting.failed,
                o.delivery.missing,
                o.delivery.duplicates,
                ms(answered[0]),
                ms(answered[1]),
                ms(delivered[0]),
                ms(delivered[1]),
                o.server_cpu
            );
        }
    }
    let sustained = rows
        .iter()
        .filter(|(rate, _, tram)| sustained(*rate, tram))
        .map(|(rate, _, _)| *rate)
        .fold(None, |best: Option<f64>, rate| {
            Some(best.map_or(rate, |b| b.max(rate)))
        });
    match sustained {
        Some(rate) => println!(
            "\nHighest rate Tram sustained (all accepted, ≥ 98% of the offered rate, every message on every socket, \
             p99 POST → socket under 1 s): {rate:.0} messages/s\n"
        ),
        None => println!("\nTram sustained none of the offered rates\n"),
    }
}

/// All accepted at (nearly) the offered rate, nothing lost, latency bounded.
fn sustained(rate: f64, o: &Outcome) -> bool {
    o.posting.failed == 0
        && o.posting.rate() >= 0.98 * rate
        && o.delivery.missing == 0
        && o.delivery.latencies.percentiles(&[99.0])[0] < Duration::from_secs(1)
}
