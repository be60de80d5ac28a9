//! Checkpoints of the SQLite write-ahead log, mostly off the writer's
//! path.
//!
//! By default SQLite copies the log back into the database file inside
//! whichever commit finds the log past 1,000 pages, so every few dozen
//! transactions one of them holds the writer for a checkpoint (a few
//! milliseconds, with an fsync). Tram's connections turn that off
//! (`wal_autocheckpoint = 0`) and this thread checkpoints instead, every
//! [`EVERY`], on a connection of its own. A `PASSIVE` checkpoint waits for
//! no one: readers and the writer go on meanwhile, and what it cannot copy
//! yet (pages a reader still needs) it copies next time.
//!
//! The log only starts again from its beginning when a write transaction
//! begins with every page of it copied, and under a steady stream of
//! writes that never happens between two of this thread's checkpoints:
//! measured, the log grew by 240 MB a second, on and on, with every write
//! extending the file. So once the log is [`RESTART_LOG_AT_PAGES`] long,
//! this thread asks the writer lane (`finish_log`) to checkpoint after its
//! next commit, while it still holds the writer: that copies only what
//! was written since this thread's checkpoint a moment before, and the
//! next write transaction starts the log again. (SQLite's own checkpoint
//! in the commit at that length did the same, but copied up to a whole
//! interval's pages there: 28 ms at p99 where this thread's way gives
//! about 17.) When the lane has not taken the request by the next look
//! (the writes come through the pool: chat, robots, the job runner), a
//! task takes the pool's write connection — the writers' lock — and
//! finishes the checkpoint on it. (A `RESTART` checkpoint from this thread
//! did as much, but holds writers off through SQLite's busy handler, which
//! sleeps in steps of up to 100 ms: robot ingest's p99 went from 83 to
//! 189 ms.)

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use sqlx::AnyPool;

use super::direct::into_sqlx;

const EVERY: Duration = Duration::from_millis(200);

/// The length of the log (4 KiB pages) at which the writer lane is asked
/// to finish a checkpoint, so that the log starts again.
pub(crate) const RESTART_LOG_AT_PAGES: u32 = 8_000;

/// Runs checkpoints for as long as it is kept.
pub(crate) struct Checkpointer {
    _alive: Arc<()>,
    finisher: tokio::task::JoinHandle<()>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.finisher.abort();
    }
}

impl Checkpointer {
    /// Starts the thread, which sets `finish_log` when the log is
    /// `restart_at_pages` long, and the task that finishes the checkpoint
    /// on `writer` (the pool's write connection) when the lane does not.
    pub(crate) fn start(
        path: &Path,
        writer: AnyPool,
        finish_log: Arc<AtomicBool>,
        restart_at_pages: u32,
    ) -> Result<Checkpointer, sqlx::Error> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(into_sqlx)?;
        conn.busy_timeout(Duration::from_secs(1))
            .map_err(into_sqlx)?;
        let alive = Arc::new(());
        let watch = Arc::downgrade(&alive);
        std::thread::Builder::new()
            .name("tram-checkpoint".into())
            .spawn({
                let finish_log = finish_log.clone();
                move || run(conn, watch, finish_log, restart_at_pages)
            })?;
        let finisher = tokio::spawn(finish_when_the_lane_does_not(writer, finish_log));
        Ok(Checkpointer {
            _alive: alive,
            finisher,
        })
    }
}

fn run(conn: Connection, alive: Weak<()>, finish_log: Arc<AtomicBool>, restart_at_pages: u32) {
    loop {
        std::thread::sleep(EVERY);
        if alive.strong_count() == 0 {
            break;
        }
        // The pragma answers (busy, pages in the log, pages copied).
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            row.get::<_, i64>(1)
        }) {
            Ok(pages) if pages >= i64::from(restart_at_pages) => {
                finish_log.store(true, Ordering::SeqCst);
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "WAL checkpoint failed; retrying"),
        }
    }
    // The last checkpoint, as the database closes.
    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
}

/// Finishes the checkpoint the thread asked for when the lane has not
/// taken the request by the next look: holding the pool's write
/// connection (no one else writes meanwhile), on that connection.
async fn finish_when_the_lane_does_not(writer: AnyPool, finish_log: Arc<AtomicBool>) {
    // Looks every 50 ms; a request seen on three looks in a row (the lane
    // takes one within milliseconds when it is writing) is finished here.
    let mut looks_asked = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if !finish_log.load(Ordering::SeqCst) {
            looks_asked = 0;
            continue;
        }
        looks_asked += 1;
        if looks_asked < 3 {
            continue;
        }
        looks_asked = 0;
        let Ok(mut conn) = writer.acquire().await else {
            // The database is closing.
            return;
        };
        if finish_log.swap(false, Ordering::SeqCst) {
            if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&mut *conn)
                .await
            {
                tracing::warn!(error = %err, "finishing a WAL checkpoint on the writer failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Instant;

    use crate::args;
    use crate::db::Db;

    const MIB: u64 = 1024 * 1024;
    const INSERT: &str = "INSERT INTO t (body) VALUES (zeroblob(16384))";

    /// A database whose log is to start again once it is 64 pages long.
    async fn small_log_db() -> (tempfile::TempDir, PathBuf, Db) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let db = Db::connect_with_log_limit(&format!("sqlite://{}?mode=rwc", path.display()), 64)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
            .execute(db.write())
            .await
            .unwrap();
        (dir, path, db)
    }

    /// 48 MiB in 16 KiB commits, at most 16 MiB a second (a few hundred
    /// pages between two of the thread's checkpoints), on the writer lane
    /// or through the pool; the bytes written and the largest the log
    /// file got. (With no one finishing the checkpoints the log reaches
    /// about 77 MB; with them, a few MB, more on a busy machine.)
    async fn write_steadily(db: &Db, path: &std::path::Path, on_the_lane: bool) -> (u64, u64) {
        let wal = path.with_extension("db-wal");
        let (mut written, mut largest) = (0u64, 0u64);
        let began = Instant::now();
        while written < 48 * MIB {
            if written as f64 > began.elapsed().as_secs_f64() * (16 * MIB) as f64 {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                continue;
            }
            if on_the_lane {
                let lane_db = db.clone();
                db.in_writer_lane(async move {
                    let mut tx = lane_db.begin_batched().await.unwrap();
                    tx.push(INSERT, args![]);
                    tx.commit().await.unwrap();
                })
                .await;
            } else {
                sqlx::query(INSERT).execute(db.write()).await.unwrap();
            }
            written += 16 * 1024;
            largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        }
        (written, largest)
    }

    /// Under a steady stream of commits the checkpoint thread's own
    /// checkpoints never leave the log fully copied when a write begins,
    /// so the log would grow without end; with the writer lane finishing
    /// the checkpoint when asked, it starts again and stays short.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_starts_again_under_steady_writes_on_the_lane() {
        let (_dir, path, db) = small_log_db().await;
        let (written, largest) = write_steadily(&db, &path, true).await;
        assert!(
            largest < 32 * MIB,
            "the log stayed short: {largest} bytes at most, for {written} written"
        );
        db.close().await;
    }

    /// The same through the pool's writer, which never takes the request:
    /// the finishing task does, holding the writer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_starts_again_under_steady_writes_through_the_pool() {
        let (_dir, path, db) = small_log_db().await;
        let (written, largest) = write_steadily(&db, &path, false).await;
        assert!(
            largest < 32 * MIB,
            "the log stayed short: {largest} bytes at most, for {written} written"
        );
        db.close().await;
    }
}
