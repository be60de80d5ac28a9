//! Group commit: callers that each have a small write to make hand it to
//! one worker, which takes everything waiting (up to a batch size) and
//! writes it in one transaction. Under load the cost of a transaction
//! (and, on SQLite, of each statement's trip to the driver's thread) is
//! shared by the whole batch; alone, a caller's write goes at once.
//!
//! The worker starts with the first submission and stops when the queue
//! is dropped; it holds nothing of its own between batches, so items carry
//! whatever the writer needs.

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use std::sync::Mutex;

use tokio::sync::{mpsc, oneshot};

type Writer<I, O> = Arc<dyn Fn(Vec<I>) -> BoxFuture<'static, Vec<O>> + Send + Sync>;
/// Where callers leave an item and the way back for its outcome.
type Inbox<I, O> = mpsc::UnboundedSender<(I, oneshot::Sender<O>)>;

/// A queue of writes and its worker. `O` is one item's outcome.
pub struct GroupCommit<I, O> {
    max_batch: usize,
    writer: Writer<I, O>,
    sender: Mutex<Option<Inbox<I, O>>>,
}

impl<I: Send + 'static, O: Send + 'static> GroupCommit<I, O> {
    /// `write` gets a batch in the order it was submitted and returns one
    /// outcome per item, in the same order.
    pub fn new<F, Fut>(max_batch: usize, write: F) -> GroupCommit<I, O>
    where
        F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<O>> + Send + 'static,
    {
        GroupCommit {
            max_batch: max_batch.max(1),
            writer: Arc::new(move |items| Box::pin(write(items))),
            sender: Mutex::new(None),
        }
    }

    /// Writes `item` with whatever else is waiting; `None` when the worker
    /// stopped before answering (the runtime is shutting down).
    pub async fn submit(&self, item: I) -> Option<O> {
        let (reply, answer) = oneshot::channel();
        {
            let mut sender = self.sender.lock().unwrap_or_else(|e| e.into_inner());
            let queue = match sender.as_ref().filter(|s| !s.is_closed()) {
                Some(queue) => queue,
                None => sender.insert(self.start()),
            };
            queue.send((item, reply)).ok()?;
        }
        answer.await.ok()
    }

    fn start(&self) -> Inbox<I, O> {
        let (sender, mut queue) = mpsc::unbounded_channel::<(I, oneshot::Sender<O>)>();
        let writer = self.writer.clone();
        let max_batch = self.max_batch;
        tokio::spawn(async move {
            let mut waiting = Vec::with_capacity(max_batch);
            while queue.recv_many(&mut waiting, max_batch).await > 0 {
                let (items, replies): (Vec<I>, Vec<oneshot::Sender<O>>) = waiting.drain(..).unzip();
                let outcomes = writer(items).await;
                debug_assert_eq!(outcomes.len(), replies.len());
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    // A caller that gave up (its request was dropped) no
                    // longer listens; its write stands.
                    let _ = reply.send(outcome);
                }
            }
        });
        sender
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn waiting_items_are_written_together_and_answered_in_order() {
        let batches = Arc::new(std::sync::Mutex::new(Vec::<Vec<u32>>::new()));
        let seen = batches.clone();
        let queue = Arc::new(GroupCommit::new(4, move |items: Vec<u32>| {
            let seen = seen.clone();
            async move {
                // Slow enough that the others queue up meanwhile.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                seen.lock().unwrap().push(items.clone());
                items.into_iter().map(|i| i * 10).collect()
            }
        }));
        let mut callers = Vec::new();
        for i in 0..9u32 {
            let queue = queue.clone();
            callers.push(tokio::spawn(async move { (i, queue.submit(i).await) }));
            tokio::task::yield_now().await;
        }
        for caller in callers {
            let (i, answer) = caller.await.unwrap();
            assert_eq!(answer, Some(i * 10), "each caller gets its own outcome");
        }
        let batches = batches.lock().unwrap();
        let written: Vec<u32> = batches.iter().flatten().copied().collect();
        let mut sorted = written.clone();
        sorted.sort();
        assert_eq!(sorted, (0..9).collect::<Vec<_>>(), "every item once");
        assert!(batches.iter().all(|b| b.len() <= 4), "batches are capped");
        assert!(
            batches.len() < 9,
            "items that waited were written together: {batches:?}"
        );
    }

    #[tokio::test]
    async fn a_lone_item_is_written_at_once() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let queue = GroupCommit::new(64, move |items: Vec<&'static str>| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move { items.into_iter().map(str::len).collect() }
        });
        assert_eq!(queue.submit("hello").await, Some(5));
        assert_eq!(queue.submit("hi").await, Some(2));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
