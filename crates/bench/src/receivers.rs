//! The receiving side of the chat benchmarks: many WebSockets, each read by
//! a light task that timestamps every frame the moment the socket yields it
//! and notes which benchmark messages it saw. A benchmark message's body
//! carries its index and send time (`fanout <index> <µs on the run's
//! clock> …`), so a receiver needs no shared state to compute
//! post-to-delivery latency, and it finds the marker with a substring
//! search instead of parsing the frame: at 100,000 frames a second the
//! client must cost the machine as little as possible.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::stream::{self, StreamExt, TryStreamExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::stats::Samples;

/// The run's clock, shared by the poster and every receiver (one process,
/// one monotonic clock).
#[derive(Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    pub fn start() -> Clock {
        Clock(Instant::now())
    }

    pub fn now_us(&self) -> u64 {
        self.0.elapsed().as_micros() as u64
    }
}

/// A plausible chat line after the marker, so frames have a realistic size.
const FILLER: &str = "今日下午三點喺十樓會議室開會，記得帶埋季度報告。";

/// The body of benchmark message `index`, stamped with the time now.
pub fn body(clock: Clock, index: usize) -> String {
    format!("fanout {index} {} {FILLER}", clock.now_us())
}

/// The index and send time of the benchmark message in a `message` frame.
fn marker(frame: &str) -> Option<(usize, u64)> {
    const START: &str = "\"body\":\"fanout ";
    let rest = &frame[frame.find(START)? + START.len()..];
    let mut fields = rest.splitn(3, ' ');
    let index = fields.next()?.parse().ok()?;
    let sent_us = fields.next()?.parse().ok()?;
    Some((index, sent_us))
}

/// Counters every receiver bumps, for waiting on completion.
#[derive(Default)]
struct Progress {
    messages: AtomicU64,
    last_us: AtomicU64,
}

/// What one socket saw.
#[derive(Default)]
struct Tally {
    latencies: Samples,
    /// Per message index, how many times it arrived.
    seen: Vec<u8>,
    frames: u64,
    bytes: u64,
    message_bytes: u64,
    closed: bool,
}

impl Tally {
    fn record(&mut self, text: &str, at_us: u64, progress: &Progress) {
        self.frames += 1;
        self.bytes += text.len() as u64;
        let Some((index, sent_us)) = marker(text) else {
            return;
        };
        self.message_bytes += text.len() as u64;
        self.latencies
            .push(Duration::from_micros(at_us.saturating_sub(sent_us)));
        if self.seen.len() <= index {
            self.seen.resize(index + 1, 0);
        }
        self.seen[index] = self.seen[index].saturating_add(1);
        progress.messages.fetch_add(1, Ordering::Relaxed);
        progress.last_us.fetch_max(at_us, Ordering::Relaxed);
    }
}

/// Everything the receivers saw of messages `0..posts`.
pub struct Delivery {
    pub sockets: usize,
    pub latencies: Samples,
    /// (socket, message) pairs that never arrived.
    pub missing: u64,
    /// Arrivals beyond the first of a message on a socket.
    pub duplicates: u64,
    /// Message indices missing on at least one socket, and the first.
    pub messages_missed: usize,
    pub first_missed: Option<usize>,
    /// Sockets that missed at least one message.
    pub sockets_missing: usize,
    /// Benchmark messages received, summed over sockets.
    pub messages: u64,
    /// All frames received (Tram also sends a `notify` after each message).
    pub frames: u64,
    pub bytes: u64,
    pub message_bytes: u64,
    /// Sockets the server closed during the run.
    pub closed: usize,
    /// Run clock time of the last benchmark message received.
    pub last_us: u64,
}

impl Delivery {
    pub fn mean_message_frame(&self) -> u64 {
        self.message_bytes.checked_div(self.messages).unwrap_or(0)
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Receivers {
    tasks: Vec<JoinHandle<Tally>>,
    stop: watch::Sender<bool>,
    progress: Arc<Progress>,
}

impl Receivers {
    /// Opens one socket per request, `parallel` handshakes at a time; each
    /// is counted as connected once its `ready` frame has arrived (the
    /// server subscribes before sending it), and is read from then on.
    pub async fn connect(
        requests: Vec<Request>,
        parallel: usize,
        clock: Clock,
    ) -> anyhow::Result<Receivers> {
        let progress = Arc::new(Progress::default());
        let (stop, stopped) = watch::channel(false);
        let tasks = stream::iter(requests)
            .map(|request| {
                let (progress, stopped) = (progress.clone(), stopped.clone());
                async move {
                    let ws = open(request).await?;
                    Ok::<_, anyhow::Error>(tokio::spawn(read(ws, stopped, clock, progress)))
                }
            })
            .buffer_unordered(parallel)
            .try_collect()
            .await?;
        Ok(Receivers {
            tasks,
            stop,
            progress,
        })
    }

    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Waits until `expected` benchmark messages have arrived in all, or
    /// until none has arrived for `patience`.
    pub async fn wait_for(&self, expected: u64, patience: Duration) {
        let mut last = (
            self.progress.messages.load(Ordering::Relaxed),
            Instant::now(),
        );
        loop {
            let now = self.progress.messages.load(Ordering::Relaxed);
            if now >= expected {
                return;
            }
            if now != last.0 {
                last = (now, Instant::now());
            } else if last.1.elapsed() > patience {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops every reader and adds up what they saw of messages `0..posts`.
    pub async fn finish(self, posts: usize) -> anyhow::Result<Delivery> {
        let _ = self.stop.send(true);
        let mut delivery = Delivery {
            sockets: self.tasks.len(),
            latencies: Samples::default(),
            missing: 0,
            duplicates: 0,
            messages_missed: 0,
            first_missed: None,
            sockets_missing: 0,
            messages: 0,
            frames: 0,
            bytes: 0,
            message_bytes: 0,
            closed: 0,
            last_us: self.progress.last_us.load(Ordering::Relaxed),
        };
        let mut missed = vec![false; posts];
        for task in self.tasks {
            let mut tally = task.await?;
            tally.seen.resize(posts.max(tally.seen.len()), 0);
            delivery.sockets_missing += usize::from(tally.seen[..posts].contains(&0));
            for (index, &count) in tally.seen[..posts].iter().enumerate() {
                match count {
                    0 => {
                        delivery.missing += 1;
                        missed[index] = true;
                    }
                    n => delivery.duplicates += u64::from(n - 1),
                }
            }
            delivery.messages += tally.latencies.len() as u64;
            delivery.latencies.extend(tally.latencies);
            delivery.frames += tally.frames;
            delivery.bytes += tally.bytes;
            delivery.message_bytes += tally.message_bytes;
            delivery.closed += usize::from(tally.closed);
        }
        delivery.messages_missed = missed.iter().filter(|m| **m).count();
        delivery.first_missed = missed.iter().position(|m| *m);
        Ok(delivery)
    }
}

async fn open(request: Request) -> anyhow::Result<Ws> {
    // Small buffers: thousands of these share the bench process, and
    // tungstenite zero-fills the read buffer on every read.
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true)
        .await
        .context("WebSocket handshake")?;
    let first = tokio::time::timeout(Duration::from_secs(60), ws.next())
        .await
        .context("no ready frame within 60 s")?;
    match first {
        Some(Ok(Frame::Text(text))) if text.contains("\"type\":\"ready\"") => Ok(ws),
        other => bail!("expected a ready frame, got {other:?}"),
    }
}

async fn read(
    mut ws: Ws,
    mut stop: watch::Receiver<bool>,
    clock: Clock,
    progress: Arc<Progress>,
) -> Tally {
    let mut tally = Tally::default();
    loop {
        let frame = tokio::select! {
            frame = ws.next() => frame,
            _ = stop.changed() => break,
        };
        let at_us = clock.now_us();
        match frame {
            Some(Ok(Frame::Text(text))) => tally.record(&text, at_us, &progress),
            Some(Ok(Frame::Close(_))) | Some(Err(_)) | None => {
                tally.closed = true;
                break;
            }
            Some(Ok(_)) => {}
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_is_found_in_a_message_frame_and_nowhere_else() {
        let frame = r#"{"type":"message","conversation_id":"c","message":{"seq":3,"body":"fanout 17 123456 今日開會","html":"fanout 17 123456 今日開會"}}"#;
        assert_eq!(marker(frame), Some((17, 123456)));
        assert_eq!(
            marker(r#"{"type":"notify","conversation_id":"c","message_id":"m","mention":false}"#),
            None
        );
        assert_eq!(
            marker(r#"{"type":"message","message":{"body":"fanout of opinions"}}"#),
            None
        );
    }

    #[test]
    fn a_tally_counts_duplicates_and_latency() {
        let progress = Progress::default();
        let mut tally = Tally::default();
        let frame = |i: usize| format!(r#"{{"message":{{"body":"fanout {i} 1000 x"}}}}"#);
        tally.record(&frame(1), 1500, &progress);
        tally.record(&frame(1), 1600, &progress);
        tally.record("{\"type\":\"notify\"}", 1700, &progress);
        assert_eq!(tally.seen, vec![0, 2]);
        assert_eq!(tally.frames, 3);
        assert_eq!(
            tally.latencies.percentiles(&[0.0]),
            [Duration::from_micros(500)]
        );
        assert_eq!(progress.messages.load(Ordering::Relaxed), 2);
    }
}
