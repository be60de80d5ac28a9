//! Lookups a node remembers for a short while: who a session token
//! belongs to, a member's place in an org. Every request makes them, and
//! on SQLite each is a trip to a database thread; remembered, a request
//! skips them.
//!
//! Only where this node is the only one (SQLite: one server owns the
//! file), so the code that changes what was read — logging out, a new
//! role, a removed member — can forget it at once, after its commit. A
//! read that began before such a change is not remembered after it (the
//! generation moves on). On PostgreSQL, where other nodes change the same
//! rows, nothing is remembered.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::db::{Backend, Db};

/// Entries kept at most; past that the node starts afresh.
const MAX_ENTRIES: usize = 100_000;

pub struct Remembered<K, V> {
    enabled: bool,
    keep_for: Duration,
    inner: Mutex<Entries<K, V>>,
}

struct Entries<K, V> {
    generation: u64,
    values: HashMap<K, (V, Instant)>,
}

/// When a lookup began, to remember its answer only if nothing was
/// forgotten meanwhile.
#[derive(Debug, Clone, Copy)]
pub struct Generation(u64);

impl<K: Eq + Hash, V: Clone> Remembered<K, V> {
    /// Remembers answers for `keep_for` where `db` is owned by this node
    /// alone (SQLite); remembers nothing on PostgreSQL.
    pub fn for_db(db: &Db, keep_for: Duration) -> Self {
        Remembered::new(db.backend() == Backend::Sqlite, keep_for)
    }

    fn new(enabled: bool, keep_for: Duration) -> Self {
        Remembered {
            enabled,
            keep_for,
            inner: Mutex::new(Entries {
                generation: 0,
                values: HashMap::new(),
            }),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries<K, V>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The remembered answer for `key`, if it is recent.
    pub fn get(&self, key: &K) -> Option<V> {
        if !self.enabled {
            return None;
        }
        let entries = self.entries();
        let (value, at) = entries.values.get(key)?;
        (at.elapsed() < self.keep_for).then(|| value.clone())
    }

    /// Taken before a lookup in the database, for [`Remembered::put`].
    pub fn generation(&self) -> Generation {
        Generation(self.entries().generation)
    }

    /// Remembers the answer of a lookup that began at `since`, unless
    /// something was forgotten after it began.
    pub fn put(&self, since: Generation, key: K, value: V) {
        if !self.enabled {
            return;
        }
        let mut entries = self.entries();
        if entries.generation != since.0 {
            return;
        }
        if entries.values.len() >= MAX_ENTRIES {
            entries.values.clear();
        }
        entries.values.insert(key, (value, Instant::now()));
    }

    /// Changes one remembered answer in place (when the caller itself
    /// wrote the change), if it is remembered.
    pub fn update(&self, key: &K, change: impl FnOnce(&mut V)) {
        if let Some((value, _)) = self.entries().values.get_mut(key) {
            change(value);
        }
    }

    /// Forgets everything: called after a change to what was read commits.
    pub fn forget_all(&self) {
        let mut entries = self.entries();
        entries.generation += 1;
        entries.values.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_kept_until_forgotten_or_old() {
        let cache = Remembered::new(true, Duration::from_secs(60));
        let since = cache.generation();
        cache.put(since, "a", 1);
        assert_eq!(cache.get(&"a"), Some(1));
        cache.update(&"a", |v| *v = 2);
        assert_eq!(cache.get(&"a"), Some(2));
        cache.forget_all();
        assert_eq!(cache.get(&"a"), None);

        let old = Remembered::new(true, Duration::ZERO);
        old.put(old.generation(), "a", 1);
        assert_eq!(old.get(&"a"), None, "older than keep_for");
    }

    #[test]
    fn a_lookup_that_began_before_a_change_is_not_kept() {
        let cache = Remembered::new(true, Duration::from_secs(60));
        let since = cache.generation();
        cache.forget_all();
        cache.put(since, "a", 1);
        assert_eq!(cache.get(&"a"), None);
        cache.put(cache.generation(), "a", 1);
        assert_eq!(cache.get(&"a"), Some(1));
    }

    #[test]
    fn nothing_is_kept_when_disabled() {
        let cache = Remembered::new(false, Duration::from_secs(60));
        cache.put(cache.generation(), "a", 1);
        assert_eq!(cache.get(&"a"), None);
    }
}
