//! The chat issue's fan-out figures: one group of N members, each with a
//! session and a WebSocket of their own; one member posts at a fixed rate
//! through the HTTP API; every socket must receive every message exactly
//! once, and each arrival is timed from the moment its post was sent. The
//! same poster and receivers first drive a bare broadcast server
//! (baseline.rs), so Tram's figures can be read as a share of what this
//! machine and this client manage without persistence or authentication.

use std::time::{Duration, Instant};

use tokio_tungstenite::tungstenite::handshake::client::Request;
use tram_testkit::browser::Client;

use crate::baseline::{self, BaselineNode};
use crate::node::{cpu_seconds, machine_busy_seconds, rss_kib, Backend, TramNode};
use crate::org;
use crate::poster::{messages_path, post_steadily, Posting};
use crate::receivers::{Clock, Delivery, Receivers};
use crate::stats::ms;

pub struct Options {
    pub members: usize,
    pub rate: f64,
    pub seconds: f64,
}

impl Options {
    fn posts(&self) -> usize {
        (self.rate * self.seconds).round() as usize
    }
}

/// Settings for a benchmark node: every registration code is requested
/// from the same address, which the product limits to 30 an hour.
pub const SETTINGS: &str = "[security]\ncodes_per_ip_per_hour = 1000000\n";

/// How long to wait for the next arrival before counting what has not
/// arrived as lost.
const PATIENCE: Duration = Duration::from_secs(30);

/// Sockets opened at a time.
const CONNECT_PARALLEL: usize = 32;
/// Registrations at a time (each hashes a password; the server runs one
/// hash per CPU).
pub const REGISTER_PARALLEL: usize = 8;

pub struct Outcome {
    pub connected_in: Duration,
    pub posting: Posting,
    pub delivery: Delivery,
    /// First post sent → last message received.
    pub span: Duration,
    /// CPU used during the run, in cores (1.0 = one core busy throughout).
    pub server_cpu: f64,
    pub bench_cpu: f64,
    /// Everything else on the machine (other processes, the kernel's
    /// share not charged to ours).
    pub other_cpu: f64,
    pub server_rss_kib: u64,
}

impl Outcome {
    pub fn delivered_per_second(&self) -> f64 {
        self.delivery.messages as f64 / self.span.as_secs_f64().max(1e-6)
    }
}

pub async fn run(backend: &Backend, options: &Options) -> anyhow::Result<()> {
    println!(
        "## Chat fan-out: {} members, {} posts/s for {} s ({} posts), Tram on {}\n",
        options.members,
        options.rate,
        options.seconds,
        options.posts(),
        backend.name()
    );

    let bare = {
        let server = BaselineNode::start()?;
        let client = Client::new(&server.base);
        let requests = (0..options.members)
            .map(|_| client.socket_request(&server.base))
            .collect::<Result<Vec<_>, _>>()?;
        let path = messages_path(baseline::CONVERSATION);
        measure(&client, &path, requests, options, server.pid()).await?
    };
    report("Bare broadcast server (baseline)", &bare, options);

    let node = TramNode::start("fanout", backend, SETTINGS).await?;
    let org::Team {
        owner,
        members,
        conversation,
    } = org::team_in_one_group(&node.base, options.members, REGISTER_PARALLEL).await?;
    let conversation = conversation.as_str();
    let mut requests = vec![owner.socket_request(&owner.base)?];
    for (member, _) in &members {
        requests.push(member.socket_request(&member.base)?);
    }
    let tram = measure(
        &owner,
        &messages_path(conversation),
        requests,
        options,
        node.pid(),
    )
    .await?;
    report(&format!("Tram on {}", backend.name()), &tram, options);

    println!("### Tram as a share of the baseline\n");
    println!(
        "| | baseline | Tram ({}) | Tram / baseline |",
        backend.name()
    );
    println!("| --- | --- | --- | --- |");
    let (b, t) = (bare.delivered_per_second(), tram.delivered_per_second());
    println!("| delivered messages/s | {b:.0} | {t:.0} | {:.2} |", t / b);
    let bare_p = bare.delivery.latencies.percentiles(&[50.0, 99.0, 100.0]);
    let tram_p = tram.delivery.latencies.percentiles(&[50.0, 99.0, 100.0]);
    for (name, (b, t)) in ["latency p50", "latency p99", "latency max"]
        .iter()
        .zip(bare_p.iter().zip(&tram_p))
    {
        println!(
            "| {name} | {} | {} | {:.1}× |",
            ms(*b),
            ms(*t),
            t.as_secs_f64() / b.as_secs_f64().max(1e-6)
        );
    }
    println!(
        "| server CPU (cores) | {:.2} | {:.2} | {:.1}× |",
        bare.server_cpu,
        tram.server_cpu,
        tram.server_cpu / bare.server_cpu.max(1e-6)
    );
    println!();
    Ok(())
}

async fn measure(
    poster: &Client,
    path: &str,
    requests: Vec<Request>,
    options: &Options,
    server_pid: u32,
) -> anyhow::Result<Outcome> {
    let (poster, path) = (poster.clone(), path.to_string());
    let (rate, posts) = (options.rate, options.posts());
    measure_posting(requests, posts, server_pid, move |clock| async move {
        post_steadily(&poster, &path, rate, posts, clock).await
    })
    .await
}

/// Connects the sockets, runs `post` (which sends messages `0..posts`),
/// waits until every socket has every message (or patience runs out), and
/// reports what arrived and what it cost.
pub async fn measure_posting<F, Fut>(
    requests: Vec<Request>,
    posts: usize,
    server_pid: u32,
    post: F,
) -> anyhow::Result<Outcome>
where
    F: FnOnce(Clock) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Posting>>,
{
    let clock = Clock::start();
    let connecting = Instant::now();
    let receivers = Receivers::connect(requests, CONNECT_PARALLEL, clock).await?;
    let connected_in = connecting.elapsed();
    let expected = (posts * receivers.len()) as u64;

    let wall = Instant::now();
    let cpu_before = (
        cpu_seconds(server_pid)?,
        cpu_seconds(std::process::id())?,
        machine_busy_seconds()?,
    );
    let posting = post(clock).await?;
    receivers.wait_for(expected, PATIENCE).await;
    let cpu_after = (
        cpu_seconds(server_pid)?,
        cpu_seconds(std::process::id())?,
        machine_busy_seconds()?,
    );
    let wall = wall.elapsed().as_secs_f64();
    let server_rss_kib = rss_kib(server_pid)?;

    let delivery = receivers.finish(posts).await?;
    Ok(Outcome {
        connected_in,
        span: Duration::from_micros(delivery.last_us.saturating_sub(posting.first_us)),
        server_cpu: (cpu_after.0 - cpu_before.0) / wall,
        bench_cpu: (cpu_after.1 - cpu_before.1) / wall,
        other_cpu: ((cpu_after.2 - cpu_before.2)
            - (cpu_after.0 - cpu_before.0)
            - (cpu_after.1 - cpu_before.1))
            / wall,
        server_rss_kib,
        posting,
        delivery,
    })
}

pub fn report(title: &str, outcome: &Outcome, options: &Options) {
    let (posting, delivery) = (&outcome.posting, &outcome.delivery);
    println!("### {title}\n");
    println!(
        "- {} sockets connected (each had its `ready` frame) in {:.1} s",
        delivery.sockets,
        outcome.connected_in.as_secs_f64()
    );
    println!(
        "- posts: {} sent, {} failed, {:.1} posts/s achieved (target {}); post answered in {}",
        posting.posts,
        posting.failed,
        posting.rate(),
        options.rate,
        posting.latencies.summary()
    );
    println!(
        "- delivered: {} messages in {:.2} s (first post → last arrival) = {:.0} messages/s over all sockets; \
         {} frames in all (Tram follows each message with a `notify`), message frame {} B on average",
        delivery.messages,
        outcome.span.as_secs_f64(),
        outcome.delivered_per_second(),
        delivery.frames,
        delivery.mean_message_frame()
    );
    println!(
        "- latency, post sent → frame received: {}",
        delivery.latencies.summary()
    );
    println!(
        "- lost: {} missing ({} sockets missed some of {} messages; first missing index {}), {} duplicates, \
         {} sockets closed by the server",
        delivery.missing,
        delivery.sockets_missing,
        delivery.messages_missed,
        delivery.first_missed.map_or("-".to_string(), |i| i.to_string()),
        delivery.duplicates,
        delivery.closed
    );
    println!(
        "- CPU during the run: server {:.2} cores, bench client {:.2} cores, everything else {:.2} cores; \
         server RSS at the end {:.1} MiB\n",
        outcome.server_cpu,
        outcome.bench_cpu,
        outcome.other_cpu,
        outcome.server_rss_kib as f64 / 1024.0
    );
}
