//! Checkpoints of the SQLite write-ahead log, off the writer's path.
//!
//! By default SQLite copies the log back into the database file inside
//! whichever commit finds the log past 1,000 pages, so every few dozen
//! transactions one of them holds the writer for a checkpoint (a few
//! milliseconds, with an fsync). Tram's connections turn that off
//! (`wal_autocheckpoint = 0`) and this thread checkpoints instead, every
//! [`EVERY`], on a connection of its own. A `PASSIVE` checkpoint waits for
//! no one: readers and the writer go on meanwhile, and what it cannot copy
//! yet (pages a reader still needs) it copies next time.

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::direct::into_sqlx;

const EVERY: Duration = Duration::from_millis(200);

/// Runs checkpoints for as long as it is kept.
pub(crate) struct Checkpointer {
    _alive: Arc<()>,
}

impl Checkpointer {
    pub(crate) fn start(path: &Path) -> Result<Checkpointer, sqlx::Error> {
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
            .spawn(move || run(conn, watch))?;
        Ok(Checkpointer { _alive: alive })
    }
}

fn run(conn: Connection, alive: Weak<()>) {
    loop {
        std::thread::sleep(EVERY);
        if alive.strong_count() == 0 {
            break;
        }
        if let Err(err) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %err, "WAL checkpoint failed; retrying");
        }
    }
    // The last checkpoint, as the database closes.
    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
}
