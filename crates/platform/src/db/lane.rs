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
//!
//! The lane has a connection of its own (`direct`), on which a
//! [`super::BatchedTx`] begun on the lane runs its statements without
//! leaving the thread. The pool's write connection is the lock between
//! the lane and the other writers: the lane takes it for its
//! transactions, and keeps it from one to the next while more are
//! waiting (at most [`KEEP_WRITER_FOR`]), since giving it back costs a
//! trip to the pool connection's thread.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::Any;
use tokio::sync::{mpsc, oneshot, Mutex, OwnedMutexGuard};

use super::direct::DirectWriter;
use super::Db;

type Work = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Longest the lane keeps the pool's writer across its transactions
/// before letting the other writers have a turn.
const KEEP_WRITER_FOR: Duration = Duration::from_millis(5);

pub(crate) struct WriterLane {
    work: mpsc::UnboundedSender<Work>,
    thread: std::thread::ThreadId,
    direct: DirectWriter,
    /// The pool's writer while the lane holds it, and since when.
    writer: Arc<Mutex<Option<(PoolConnection<Any>, Instant)>>>,
    /// Lane transactions waiting for `writer`.
    waiting: Arc<AtomicUsize>,
}

/// The lane's hold on the pool's writer, for one transaction; the writer
/// goes back to the pool when this drops, unless another lane transaction
/// is waiting and the lane has not held it too long.
pub(crate) struct WriterHold {
    slot: OwnedMutexGuard<Option<(PoolConnection<Any>, Instant)>>,
    waiting: Arc<AtomicUsize>,
}

impl Drop for WriterHold {
    fn drop(&mut self) {
        let keep = self.waiting.load(Ordering::SeqCst) > 0
            && self
                .slot
                .as_ref()
                .is_some_and(|(_, since)| since.elapsed() < KEEP_WRITER_FOR);
        if !keep {
            *self.slot = None;
        }
    }
}

/// One lane transaction counted as waiting for the writer, until this
/// drops (also when its future is dropped while it waits).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn count(waiting: &'a AtomicUsize) -> Waiting<'a> {
        waiting.fetch_add(1, Ordering::SeqCst);
        Waiting(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl WriterLane {
    /// Starts the lane's thread, with its connection to the database file
    /// at `path`; it ends when the lane is dropped and the work sent to it
    /// is done. `finish_log` is the checkpoint thread's request (see
    /// `checkpoint`).
    pub(crate) fn start(
        path: &Path,
        finish_log: Arc<AtomicBool>,
    ) -> Result<WriterLane, sqlx::Error> {
        let direct = DirectWriter::open(path, finish_log)?;
        let (work, mut incoming) = mpsc::unbounded_channel::<Work>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
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
        Ok(WriterLane {
            work,
            thread: thread.thread().id(),
            direct,
            writer: Arc::new(Mutex::new(None)),
            waiting: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Whether the caller runs on the lane's thread.
    pub(crate) fn is_here(&self) -> bool {
        std::thread::current().id() == self.thread
    }

    /// The lane's own connection (a lock keeps its use one at a time
    /// wherever it is called from).
    pub(crate) fn direct(&self) -> &DirectWriter {
        &self.direct
    }

    /// Takes the pool's writer for one transaction (the lane's
    /// transactions take turns, in order).
    pub(crate) async fn hold_writer(&self, db: &Db) -> Result<WriterHold, sqlx::Error> {
        let slot = {
            let _waiting = Waiting::count(&self.waiting);
            self.writer.clone().lock_owned().await
        };
        // From here on a drop (an error, or the caller gone) gives the
        // writer back unless others wait.
        let mut hold = WriterHold {
            slot,
            waiting: self.waiting.clone(),
        };
        if hold.slot.is_none() {
            *hold.slot = Some((db.write().acquire().await?, Instant::now()));
        }
        Ok(hold)
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
