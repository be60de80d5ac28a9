//! The event bus: "something changed, look again". Writes are committed to
//! the database first and announced here second, so a lost announcement
//! delays a client but never loses data. In-process by default; the NATS
//! implementation carries announcements between nodes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

/// Payloads are `Bytes` so that fanning one event out to many listeners
/// copies a pointer, not the event.
#[async_trait::async_trait]
pub trait EventBus: Send + Sync {
    async fn publish(&self, topic: &str, payload: Bytes);
    async fn subscribe(&self, topic: &str) -> BoxStream<'static, Bytes>;
}

#[derive(Clone)]
pub struct Bus(Arc<dyn EventBus>);

impl Bus {
    pub fn local() -> Bus {
        Bus(Arc::new(LocalBus::default()))
    }

    pub fn new(inner: Arc<dyn EventBus>) -> Bus {
        Bus(inner)
    }

    /// In-process for an empty URL, else NATS at `url`.
    pub async fn from_url(url: &str) -> Result<Bus, async_nats::ConnectError> {
        if url.is_empty() {
            Ok(Bus::local())
        } else {
            Ok(Bus(Arc::new(NatsBus::connect(url).await?)))
        }
    }

    pub async fn publish(&self, topic: &str, payload: impl Into<Bytes>) {
        self.0.publish(topic, payload.into()).await
    }

    pub async fn subscribe(&self, topic: &str) -> BoxStream<'static, Bytes> {
        self.0.subscribe(topic).await
    }
}

/// One broadcast channel per topic, inside this process.
/// Topic → broadcast channel, shared by the in-process bus and by each
/// node's NATS bus (which subscribes to a subject once per node, however
/// many sockets listen, and fans out here).
#[derive(Default)]
struct Fanout {
    topics: Mutex<HashMap<String, broadcast::Sender<Bytes>>>,
}

impl Fanout {
    /// A new listener on `topic`, and the channel's sender if the channel
    /// was just made. The receiver is made under the lock: a channel
    /// without receivers is one the next caller sweeps away, so a listener
    /// added after unlocking could end up on a channel nobody publishes to.
    fn listen(
        &self,
        topic: &str,
    ) -> (broadcast::Receiver<Bytes>, Option<broadcast::Sender<Bytes>>) {
        let mut topics = self.topics.lock().expect("bus lock");
        // Drop channels nobody listens to any more, so topics do not pile up.
        topics.retain(|_, tx| tx.receiver_count() > 0);
        let mut created = false;
        let sender = topics.entry(topic.to_string()).or_insert_with(|| {
            created = true;
            broadcast::channel(1024).0
        });
        let receiver = sender.subscribe();
        (receiver, created.then(|| sender.clone()))
    }

    fn existing(&self, topic: &str) -> Option<broadcast::Sender<Bytes>> {
        self.topics.lock().expect("bus lock").get(topic).cloned()
    }
}

/// A receiver as a stream. A listener that falls behind skips what it
/// missed; listeners re-read the database, so nothing is lost.
fn receiver_stream(receiver: broadcast::Receiver<Bytes>) -> BoxStream<'static, Bytes> {
    BroadcastStream::new(receiver)
        .filter_map(|item| async move { item.ok() })
        .boxed()
}

#[derive(Default)]
pub struct LocalBus {
    fanout: Fanout,
}

/// Subjects under `tram.` on a NATS server shared by every node.
pub struct NatsBus {
    client: async_nats::Client,
    fanout: Arc<Fanout>,
}

impl NatsBus {
    pub async fn connect(url: &str) -> Result<NatsBus, async_nats::ConnectError> {
        let client = async_nats::ConnectOptions::new()
            .name("tram")
            .retry_on_initial_connect()
            .connect(url)
            .await?;
        Ok(NatsBus {
            client,
            fanout: Arc::default(),
        })
    }

    fn subject(topic: &str) -> String {
        format!("tram.{topic}")
    }
}

#[async_trait::async_trait]
impl EventBus for NatsBus {
    async fn publish(&self, topic: &str, payload: Bytes) {
        // The database already holds the change; a failed announcement only
        // delays listeners until their next re-read.
        if let Err(err) = self.client.publish(NatsBus::subject(topic), payload).await {
            tracing::warn!(error = %err, topic, "bus publish failed");
        }
    }

    async fn subscribe(&self, topic: &str) -> BoxStream<'static, Bytes> {
        let (receiver, created) = self.fanout.listen(topic);
        if let Some(sender) = created {
            match self.client.subscribe(NatsBus::subject(topic)).await {
                Ok(mut subscriber) => {
                    // One NATS subscription per topic per node; it ends when
                    // the last local listener has gone.
                    tokio::spawn(async move {
                        while let Some(message) = subscriber.next().await {
                            if sender.send(message.payload).is_err() {
                                break;
                            }
                        }
                        let _ = subscriber.unsubscribe().await;
                    });
                }
                Err(err) => tracing::warn!(error = %err, topic, "bus subscribe failed"),
            }
        }
        receiver_stream(receiver)
    }
}

#[async_trait::async_trait]
impl EventBus for LocalBus {
    async fn publish(&self, topic: &str, payload: Bytes) {
        if let Some(sender) = self.fanout.existing(topic) {
            let _ = sender.send(payload);
        }
    }

    async fn subscribe(&self, topic: &str) -> BoxStream<'static, Bytes> {
        receiver_stream(self.fanout.listen(topic).0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs against a real NATS server when `TRAM_TEST_NATS_URL` is set.
    #[tokio::test]
    async fn nats_carries_announcements_between_two_connections() {
        let Ok(url) = std::env::var("TRAM_TEST_NATS_URL") else {
            eprintln!("skipped: set TRAM_TEST_NATS_URL=nats://127.0.0.1:4222 to test the NATS bus");
            return;
        };
        let node_a = Bus::from_url(&url).await.unwrap();
        let node_b = Bus::from_url(&url).await.unwrap();
        let topic = format!("test.{}", uuid::Uuid::now_v7().simple());
        let mut on_b = node_b.subscribe(&topic).await;
        // Subscriptions are registered asynchronously; flush by round trip.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        node_a.publish(&topic, &b"hello"[..]).await;
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), on_b.next())
            .await
            .unwrap();
        assert_eq!(got.unwrap(), &b"hello"[..]);
        // A second listener on the same node shares the node's subscription.
        let mut again = node_b.subscribe(&topic).await;
        node_a.publish(&topic, &b"again"[..]).await;
        for stream in [&mut on_b, &mut again] {
            let got = tokio::time::timeout(std::time::Duration::from_secs(5), stream.next())
                .await
                .unwrap();
            assert_eq!(got.unwrap(), &b"again"[..]);
        }
    }

    /// Found by tram-bench: with 1,000 sockets subscribing at once, a
    /// listener could land on a channel another subscriber had just swept
    /// away as unused, and never hear anything.
    #[test]
    fn listeners_subscribing_at_once_all_hear_the_topic() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let bus = Bus::local();
        for round in 0..2000 {
            let topic = format!("chat.conv.{round}");
            let start = std::sync::Barrier::new(4);
            let mut streams: Vec<_> = std::thread::scope(|scope| {
                let listeners: Vec<_> = (0..4)
                    .map(|_| {
                        scope.spawn(|| {
                            start.wait();
                            runtime.block_on(bus.subscribe(&topic))
                        })
                    })
                    .collect();
                listeners.into_iter().map(|l| l.join().unwrap()).collect()
            });
            runtime.block_on(async {
                bus.publish(&topic, &b"hello"[..]).await;
                for stream in &mut streams {
                    let got =
                        tokio::time::timeout(std::time::Duration::from_secs(1), stream.next())
                            .await;
                    assert_eq!(
                        got.expect("every listener hears it").unwrap(),
                        &b"hello"[..],
                        "round {round}"
                    );
                }
            });
        }
    }

    #[tokio::test]
    async fn subscribers_receive_what_is_published_on_their_topic_only() {
        let bus = Bus::local();
        let mut a = bus.subscribe("qr.1").await;
        let mut b = bus.subscribe("qr.2").await;
        bus.publish("qr.1", &b"confirmed"[..]).await;
        assert_eq!(a.next().await.unwrap(), &b"confirmed"[..]);
        let nothing = tokio::time::timeout(std::time::Duration::from_millis(50), b.next()).await;
        assert!(nothing.is_err());
    }
}
