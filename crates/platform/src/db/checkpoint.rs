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
//! about 17.)

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::direct::into_sqlx;

const EVERY: Duration = Duration::from_millis(200);

/// The length of the log (4 KiB pages) at which the writer lane is asked
/// to finish a checkpoint, so that the log starts again.
pub(crate) const RESTART_LOG_AT_PAGES: u32 = 8_000;

/// Runs checkpoints for as long as it is kept.
pub(crate) struct Checkpointer {
    _alive: Arc<()>,
}

impl Checkpointer {
    /// Starts the thread; it sets `finish_log` when the log is long enough
    /// to start again.
    pub(crate) fn start(
        path: &Path,
        finish_log: Arc<AtomicBool>,
    ) -> Result<Checkpointer, sqlx::Error> {
        Checkpointer::start_at(path, finish_log, RESTART_LOG_AT_PAGES)
    }

    /// [`Checkpointer::start`], asking for the log to start again at
    /// `restart_at_pages`.
    fn start_at(
        path: &Path,
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
            .spawn(move || run(conn, watch, finish_log, restart_at_pages))?;
        Ok(Checkpointer { _alive: alive })
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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::args;
    use crate::db::direct::DirectWriter;

    /// Under a steady stream of commits the checkpoint thread's own
    /// checkpoints never leave the log fully copied when a write begins,
    /// so the log would grow without end; with the writer finishing the
    /// checkpoint when asked, it starts again and stays short.
    #[test]
    fn the_log_starts_again_under_steady_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let finish_log = Arc::new(AtomicBool::new(false));
        let writer = DirectWriter::open(&path, finish_log.clone()).unwrap();
        writer
            .run(&[(
                "CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)".into(),
                args![],
            )])
            .unwrap();
        // Asks for a restart once the log passes 64 pages (256 KiB).
        let _checkpointer = Checkpointer::start_at(&path, finish_log, 64).unwrap();
        let wal = path.with_extension("db-wal");
        // 48 MiB in 16 KiB commits, at most 16 MiB a second: a few
        // hundred pages between two of the thread's checkpoints.
        const MIB: u64 = 1024 * 1024;
        let (mut written, mut largest) = (0u64, 0u64);
        let began = Instant::now();
        while written < 48 * MIB {
            if written as f64 > began.elapsed().as_secs_f64() * (16 * MIB) as f64 {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            writer
                .run(&[
                    ("BEGIN IMMEDIATE".into(), args![]),
                    (
                        "INSERT INTO t (body) VALUES (zeroblob(16384))".into(),
                        args![],
                    ),
                    ("COMMIT".into(), args![]),
                ])
                .unwrap();
            writer.finish_log_if_asked();
            written += 16 * 1024;
            largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        }
        assert!(
            largest < 16 * MIB,
            "the log stayed short: {largest} bytes at most, for {written} written"
        );
    }
}
