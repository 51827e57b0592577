//! Process-wide commit signals, one per database file, that wake
//! `trigger_wait`. A file is known by its identity ([`file_key`]), not by
//! its name: a file deleted and created again under the same name is
//! another database. Two things notify a file's signal:
//!
//! - the commit itself, in this process: `trigger_txn`'s `xCommit` runs
//!   after every transaction that called `trigger_emit` (or that the change
//!   feed follows) has committed;
//! - on Linux, a watcher thread that inotify wakes when the file, its
//!   `-wal` or its `-journal` is written: a commit by any process, plain-SQL
//!   capture triggers and connections without the extension included. The
//!   thread runs only while some `trigger_wait` waits on the file.
//!
//! The signals are the process's own ([`crate::ffi::PerProcess`]): a child
//! that `fork()` made starts with none, whatever the parent's threads were
//! doing with theirs, and starts watcher threads of its own (the parent's
//! do not exist in the child).
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::ffi::{Condvar, Mutex, PerProcess};

/// A commit counter with a condition variable.
#[derive(Default)]
pub(crate) struct Signal {
    generation: Mutex<u64>,
    changed: Condvar,
    /// `trigger_wait` calls waiting on this file.
    waiters: AtomicUsize,
    /// Whether a watcher thread runs for this file.
    watching: Mutex<bool>,
}

impl Signal {
    /// How many commits have been signalled so far.
    pub(crate) fn generation(&self) -> u64 {
        *self.generation.lock()
    }

    /// Wakes every waiter: a commit to the file has finished (or the file
    /// was written, which a commit does).
    pub(crate) fn notify(&self) {
        *self.generation.lock() += 1;
        self.changed.notify_all();
    }

    /// Blocks until the generation moves past `seen` or `deadline` passes;
    /// returns the generation then.
    pub(crate) fn wait_past(&self, seen: u64, deadline: Instant) -> u64 {
        let generation = self.generation.lock();
        *self
            .changed
            .wait_while_until(generation, deadline, |generation| *generation == seen)
    }
}

/// The signal of the database file `key` (see [`file_key`]).
pub(crate) fn signal(key: &str) -> Arc<Signal> {
    static SIGNALS: PerProcess<Mutex<HashMap<String, Arc<Signal>>>> = PerProcess::new();
    let mut signals = SIGNALS.get(Default::default).lock();
    Arc::clone(signals.entry(key.to_string()).or_default())
}

/// Registers a waiter on the file `key` at `path` for as long as the guard
/// lives, starting the file's watcher thread if none runs. Without inotify
/// (or if it fails) nothing starts, and waiters rely on their polling.
pub(crate) fn wait_on(key: &str, path: &str) -> WaitGuard {
    let signal = signal(key);
    signal.waiters.fetch_add(1, Ordering::SeqCst);
    let mut watching = signal.watching.lock();
    if !*watching {
        if let Some(watch) = start_watch(path) {
            *watching = true;
            let (thread_signal, file) = (Arc::clone(&signal), file_name(path));
            let spawned = std::thread::Builder::new()
                .name("sqlite-triggers-wait".into())
                .spawn(move || watch_loop(watch, file, thread_signal));
            if spawned.is_err() {
                *watching = false;
            }
        }
    }
    drop(watching);
    WaitGuard { signal }
}

/// Ends a waiter's registration when it is dropped.
pub(crate) struct WaitGuard {
    signal: Arc<Signal>,
}

impl Drop for WaitGuard {
    fn drop(&mut self) {
        self.signal.waiters.fetch_sub(1, Ordering::SeqCst);
    }
}

fn start_watch(path: &str) -> Option<crate::ffi::DirWatch> {
    let dir = Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())?;
    crate::ffi::DirWatch::new(dir).ok()
}

fn file_name(path: &str) -> Vec<u8> {
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().as_bytes().to_vec())
        .unwrap_or_default()
}

/// While writes keep coming less than this apart ...
const BURST_GAP: Duration = Duration::from_millis(1);
/// ... for this many notifications in a row, the watcher gathers the next
/// writes for [`BURST_GAP`] before it notifies again.
const BURST_AFTER: u32 = 16;

/// Turns writes to the database file, `-wal` or `-journal` into
/// notifications; ends when no waiter is left.
///
/// A write after a quiet spell is notified at once. Under a stream of
/// commits (thousands a second, say, on channels nobody here waits for),
/// one notification per write would wake this thread and every waiter for
/// each of them, and the waiters would spend most of a core looking; so
/// once writes come in a burst, the watcher notifies at most once per
/// [`BURST_GAP`], and each waiter looks once for all of them.
fn watch_loop(watch: crate::ffi::DirWatch, file: Vec<u8>, signal: Arc<Signal>) {
    let mut last = Instant::now();
    let mut burst = 0u32;
    loop {
        let events = watch.wait(Duration::from_millis(200));
        let ours = match &events {
            Ok(names) => names.iter().any(|name| {
                name.starts_with(&file)
                    && matches!(&name[file.len()..], b"" | b"-wal" | b"-journal")
            }),
            Err(_) => false,
        };
        if ours {
            signal.notify();
            let now = Instant::now();
            burst = if now.duration_since(last) < BURST_GAP {
                burst.saturating_add(1)
            } else {
                0
            };
            last = now;
            if burst >= BURST_AFTER {
                // The writes of this gap wait in the watch, and the next
                // `wait` reads them all at once (and, coming at once, keep
                // the burst going).
                std::thread::sleep(BURST_GAP);
                last = Instant::now();
            }
        }
        let mut watching = signal.watching.lock();
        if events.is_err() || signal.waiters.load(Ordering::SeqCst) == 0 {
            *watching = false;
            return;
        }
    }
}

/// The main database file of a connection.
pub(crate) struct DbFile {
    /// What the file is, whatever its name: see [`file_key`].
    pub(crate) key: String,
    pub(crate) path: String,
    /// The VFS the connection reads it through.
    pub(crate) vfs: String,
}

/// The identity of `conn`'s main database file, or `None` for a database
/// no other connection can reach through a file: in-memory, temporary, or
/// held by a VFS that keeps it elsewhere (`memdb`, say, which takes a file
/// name but never reads that file).
///
/// The identity is the file's device and inode number, and its birth time
/// where the file system keeps one (an inode number freed by a deleted file
/// can be given to the next new one), so a file deleted and created again
/// under the same name is another database, and two names of one file (a
/// link) are one.
pub(crate) fn file_key(conn: &Connection) -> Option<String> {
    db_file(conn).map(|f| f.key)
}

/// The main database file of `conn` with its identity (see [`file_key`]).
pub(crate) fn db_file(conn: &Connection) -> Option<DbFile> {
    let path = conn.path().filter(|path| !path.is_empty())?.to_string();
    let vfs = crate::ffi::main_vfs_name(conn)?;
    if !file_backed(&vfs) {
        return None;
    }
    let key = identity(&path)?;
    Some(DbFile { key, path, vfs })
}

/// Whether a VFS is one of dqlite's (`dqlite-<n>`), which keep a replicated
/// database in a node's memory.
pub(crate) fn dqlite(vfs: &str) -> bool {
    vfs.starts_with("dqlite")
}

/// The VFSes SQLite ships that keep a database in the file of its name.
pub(crate) fn file_backed(vfs: &str) -> bool {
    vfs == "unix" || vfs.starts_with("unix-") || vfs == "win32" || vfs.starts_with("win32-")
}

/// The identity (see [`file_key`]) of the file now at `path`, or `None`
/// when there is none.
#[cfg(unix)]
pub(crate) fn identity(path: &str) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    let born = meta
        .created()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Some(format!("{}:{}:{born}", meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
pub(crate) fn identity(path: &str) -> Option<String> {
    std::fs::canonicalize(path)
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}
