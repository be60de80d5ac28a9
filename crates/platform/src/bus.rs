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
