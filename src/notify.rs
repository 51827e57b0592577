#![allow(dead_code)] // filled in by the listeners, feed and outbox modules
//! Process-wide commit signals, one per database file: connections of this
//! process that commit to a file wake every `trigger_wait` waiting on it.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};
use rusqlite::Connection;

/// A commit counter with a condition variable.
#[derive(Default)]
pub(crate) struct Signal {
    generation: Mutex<u64>,
    changed: Condvar,
}

impl Signal {
    /// How many commits have been signalled so far.
    pub(crate) fn generation(&self) -> u64 {
        *self.generation.lock()
    }

    /// Wakes every waiter: a commit to the file has finished.
    pub(crate) fn notify(&self) {
        *self.generation.lock() += 1;
        self.changed.notify_all();
    }

    /// Blocks until the generation moves past `seen` or `deadline` passes;
    /// returns the generation then.
    pub(crate) fn wait_past(&self, seen: u64, deadline: Instant) -> u64 {
        let mut generation = self.generation.lock();
        while *generation == seen {
            if self
                .changed
                .wait_until(&mut generation, deadline)
                .timed_out()
            {
                break;
            }
        }
        *generation
    }
}

/// The signal of the database file `key` (see [`file_key`]).
pub(crate) fn signal(key: &str) -> Arc<Signal> {
    static SIGNALS: Mutex<Option<HashMap<String, Arc<Signal>>>> = Mutex::new(None);
    let mut signals = SIGNALS.lock();
    Arc::clone(
        signals
            .get_or_insert_with(HashMap::new)
            .entry(key.to_string())
            .or_default(),
    )
}

/// The file behind `conn`'s main database, or `None` for an in-memory or
/// temporary database, which no other connection can see.
pub(crate) fn file_key(conn: &Connection) -> Option<String> {
    conn.path()
        .filter(|path| !path.is_empty())
        .map(str::to_string)
}
