//! The writer's lane (SQLite): a thread of its own that runs write
//! transactions, and nothing else.
//!
//! SQLite has one writer, so a transaction's time holding it is time no
//! other can write. Between its trips to the database a transaction's task
//! must be scheduled again, and on the server's runtime it waits behind
//! every request being parsed, rendered and answered; measured, that wait
//! was most of the writer's busy time. On the lane the only other tasks
//! are transactions waiting for the writer, so a transaction holding it is
//! picked up as soon as its database trip returns.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::{mpsc, oneshot};

type Work = Pin<Box<dyn Future<Output = ()> + Send>>;

pub(crate) struct WriterLane {
    work: mpsc::UnboundedSender<Work>,
}

impl WriterLane {
    /// Starts the lane's thread; it ends when the lane is dropped and the
    /// work sent to it is done.
    pub(crate) fn start() -> std::io::Result<WriterLane> {
        let (work, mut incoming) = mpsc::unbounded_channel::<Work>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("tram-writer".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let mut running = tokio::task::JoinSet::new();
                    loop {
                        tokio::select! {
                            next = incoming.recv() => match next {
                                Some(work) => {
                                    running.spawn(work);
                                }
                                None => break,
                            },
                            Some(_) = running.join_next(), if !running.is_empty() => {}
                        }
                    }
                    while running.join_next().await.is_some() {}
                });
            })?;
        Ok(WriterLane { work })
    }

    /// Runs `work` on the lane; its result. Work already sent runs to its
    /// end even if the caller stops waiting (a transaction is never cut
    /// off between its trips).
    pub(crate) async fn run<F, T>(&self, work: F) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let sent = self.work.send(Box::pin(async move {
            let _ = done.send(work.await);
        }));
        assert!(
            sent.is_ok(),
            "the writer lane runs while the database is open"
        );
        match result.await {
            Ok(value) => value,
            // The work panicked on the lane: so does its caller.
            Err(_) => panic!("a transaction on the writer lane panicked"),
        }
    }
}
