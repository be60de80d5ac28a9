//! The chat issue's memory figure: what one idle, connected, authenticated
//! WebSocket costs the server. RSS of `tram` with N sockets open (each past
//! its `ready` frame, the server's follower subscribed) minus RSS with none,
//! divided by N. At the end one message is posted to a group everyone is
//! in, to show the sockets were live, not merely open.

use std::time::{Duration, Instant};

use crate::fanout::{REGISTER_PARALLEL, SETTINGS};
use crate::node::{Backend, TramNode};
use crate::org;
use crate::poster::{messages_path, post_steadily};
use crate::receivers::{Clock, Receivers};

pub struct Options {
    pub sockets: usize,
    /// Distinct users (each with one session); sockets are dealt out over
    /// them in turn.
    pub users: usize,
}

/// How long sockets sit idle before the measurement (past one session
/// check, which runs every 5 s).
const SETTLE: Duration = Duration::from_secs(8);

pub async fn run(backend: &Backend, options: &Options) -> anyhow::Result<()> {
    let users = options.users.clamp(1, options.sockets);
    println!(
        "## Idle WebSockets: {} sockets of {} users, Tram on {}\n",
        options.sockets,
        users,
        backend.name()
    );
    let node = TramNode::start("idle", backend, SETTINGS).await?;
    let org::Team {
        owner,
        members,
        conversation,
    } = org::team_in_one_group(&node.base, users, REGISTER_PARALLEL).await?;
    let conversation = conversation.as_str();

    let clients: Vec<_> = std::iter::once(&owner)
        .chain(members.iter().map(|(client, _)| client))
        .collect();
    let requests = (0..options.sockets)
        .map(|i| clients[i % clients.len()].socket_request(&owner.base))
        .collect::<Result<Vec<_>, _>>()?;

    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = node.rss_kib()?;
    let clock = Clock::start();
    let connecting = Instant::now();
    let receivers = Receivers::connect(requests, 64, clock).await?;
    let connected_in = connecting.elapsed();
    tokio::time::sleep(SETTLE).await;
    let after = node.rss_kib()?;
    let per_socket = (after as f64 - before as f64) / options.sockets as f64;

    let posting = post_steadily(&owner, &messages_path(conversation), 1.0, 1, clock).await?;
    receivers
        .wait_for(options.sockets as u64, Duration::from_secs(10))
        .await;
    let delivery = receivers.finish(1).await?;

    println!(
        "- {} sockets connected (each had its `ready` frame) in {:.1} s; idle {} s before measuring",
        delivery.sockets,
        connected_in.as_secs_f64(),
        SETTLE.as_secs()
    );
    println!(
        "- server RSS: {:.1} MiB with no socket, {:.1} MiB with {} → **{:.1} KiB per idle socket**",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        options.sockets,
        per_socket
    );
    println!(
        "- one message posted afterwards (answered in {}): reached {} of {} sockets ({} missing, {} duplicates, \
         {} closed by the server); arrival {}\n",
        posting.latencies.summary(),
        delivery.messages,
        delivery.sockets,
        delivery.missing,
        delivery.duplicates,
        delivery.closed,
        delivery.latencies.summary()
    );
    Ok(())
}
