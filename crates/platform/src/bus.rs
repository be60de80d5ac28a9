//! The event bus: "something changed, look again". Writes are committed to
//! the database first and announced here second, so a lost announcement
//! delays a client but never loses data. In-process by default; the NATS
//! implementation carries announcements between nodes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

#[async_trait::async_trait]
pub trait EventBus: Send + Sync {
    async fn publish(&self, topic: &str, payload: Vec<u8>);
    async fn subscribe(&self, topic: &str) -> BoxStream<'static, Vec<u8>>;
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

    pub async fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.0.publish(topic, payload.into()).await
    }

    pub async fn subscribe(&self, topic: &str) -> BoxStream<'static, Vec<u8>> {
        self.0.subscribe(topic).await
    }
}

/// One broadcast channel per topic, inside this process.
#[derive(Default)]
pub struct LocalBus {
    topics: Mutex<HashMap<String, broadcast::Sender<Vec<u8>>>>,
}

impl LocalBus {
    fn sender(&self, topic: &str) -> broadcast::Sender<Vec<u8>> {
        let mut topics = self.topics.lock().expect("bus lock");
        // Drop channels nobody listens to any more, so topics do not pile up.
        topics.retain(|_, tx| tx.receiver_count() > 0);
        topics
            .entry(topic.to_string())
            .or_insert_with(|| broadcast::channel(256).0)
            .clone()
    }
}

/// Subjects under `tram.` on a NATS server shared by every node.
pub struct NatsBus {
    client: async_nats::Client,
}

impl NatsBus {
    pub async fn connect(url: &str) -> Result<NatsBus, async_nats::ConnectError> {
        let client = async_nats::ConnectOptions::new()
            .name("tram")
            .retry_on_initial_connect()
            .connect(url)
            .await?;
        Ok(NatsBus { client })
    }

    fn subject(topic: &str) -> String {
        format!("tram.{topic}")
    }
}

#[async_trait::async_trait]
impl EventBus for NatsBus {
    async fn publish(&self, topic: &str, payload: Vec<u8>) {
        // The database already holds the change; a failed announcement only
        // delays listeners until their next re-read.
        if let Err(err) = self.client.publish(NatsBus::subject(topic), payload.into()).await {
            tracing::warn!(error = %err, topic, "bus publish failed");
        }
    }

    async fn subscribe(&self, topic: &str) -> BoxStream<'static, Vec<u8>> {
        match self.client.subscribe(NatsBus::subject(topic)).await {
            Ok(subscriber) => subscriber.map(|message| message.payload.to_vec()).boxed(),
            Err(err) => {
                tracing::warn!(error = %err, topic, "bus subscribe failed");
                futures::stream::pending().boxed()
            }
        }
    }
}

#[async_trait::async_trait]
impl EventBus for LocalBus {
    async fn publish(&self, topic: &str, payload: Vec<u8>) {
        let sender = self.topics.lock().expect("bus lock").get(topic).cloned();
        if let Some(sender) = sender {
            let _ = sender.send(payload);
        }
    }

    async fn subscribe(&self, topic: &str) -> BoxStream<'static, Vec<u8>> {
        BroadcastStream::new(self.sender(topic).subscribe())
            .filter_map(|item| async move { item.ok() })
            .boxed()
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
        node_a.publish(&topic, b"hello".to_vec()).await;
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), on_b.next()).await.unwrap();
        assert_eq!(got.unwrap(), b"hello");
    }

    #[tokio::test]
    async fn subscribers_receive_what_is_published_on_their_topic_only() {
        let bus = Bus::local();
        let mut a = bus.subscribe("qr.1").await;
        let mut b = bus.subscribe("qr.2").await;
        bus.publish("qr.1", b"confirmed".to_vec()).await;
        assert_eq!(a.next().await.unwrap(), b"confirmed");
        let nothing = tokio::time::timeout(std::time::Duration::from_millis(50), b.next()).await;
        assert!(nothing.is_err());
    }
}
