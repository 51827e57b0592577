//! `trigger_wait(after_seq, timeout_ms [, channel])`: blocks until an event
//! after `after_seq` has been committed, by this process or another one.
//!
//! Waiting must never keep a writer from committing, in rollback-journal and
//! WAL mode alike. So the calling connection must hold no transaction at all
//! (not even the read transaction of a statement that reads a table), and
//! every check runs as one short read on a private read-only connection to
//! the same file. Commits wake the waiter through the file's
//! [`crate::notify`] signal: from the commit itself in this process, and
//! from inotify for writes to the file by anyone; where inotify is missing,
//! polling `PRAGMA data_version` every few milliseconds finds them.
//!
//! A process may fork while a wait runs: the wait's work inside SQLite is
//! kept apart from forks (see [`crate::ffi::hold_forks`]).
//!
//! The host can interrupt a wait as any statement (`sqlite3_interrupt`:
//! Ctrl-C in the shell, `Connection.interrupt()` in Python): each time the
//! wait wakes, at least every [`POLL`], it looks whether the calling
//! connection was interrupted, and then fails with SQLITE_INTERRUPT.
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, Statement};

use super::{is_missing_table, OUTBOX_TABLE};
use crate::notify::DbFile;
use crate::{Error, Result};

/// The longest wait one call may ask for; callers loop for longer waits.
/// A waiting call blocks its connection until an event, the timeout or an
/// interrupt of the connection (`sqlite3_interrupt`), whichever comes first.
pub(crate) const MAX_TIMEOUT_MS: i64 = 3_600_000;

/// How often other processes' commits, and interrupts, are looked for.
const POLL: Duration = Duration::from_millis(10);
/// After a signal that found nothing (a write the commit is not finished
/// with yet), look again this often ...
const FAST_POLL: Duration = Duration::from_millis(1);
/// ... for this long.
const AFTER_SIGNAL: Duration = Duration::from_millis(50);
/// How long one check waits for a writer's lock before giving up until the
/// next check.
const READ_BUSY_TIMEOUT: Duration = Duration::from_millis(100);

/// Checks `timeout_ms`: 0 (look once) up to [`MAX_TIMEOUT_MS`].
pub(super) fn timeout(timeout_ms: i64) -> Result<Duration, String> {
    if timeout_ms < 0 {
        return Err(format!(
            "argument 2 (timeout_ms) must be 0 or more, got {timeout_ms}"
        ));
    }
    if timeout_ms > MAX_TIMEOUT_MS {
        return Err(format!(
            "argument 2 (timeout_ms) must be at most {MAX_TIMEOUT_MS} (one hour), got {timeout_ms}; \
             call it again in a loop to wait longer"
        ));
    }
    Ok(Duration::from_millis(timeout_ms as u64))
}

/// Returns the seq of the first committed event with seq > `after` (on
/// `channel`, if given), or `None` once `timeout` has passed.
pub(super) fn wait(
    conn: &Connection,
    opened_key: Option<&str>,
    after: i64,
    timeout: Duration,
    channel: Option<&str>,
) -> Result<Option<i64>> {
    let call = "call it on its own, as SELECT trigger_wait(...), outside BEGIN ... COMMIT";
    if !conn.is_autocommit() {
        return Err(Error::invalid(format!(
            "cannot wait inside a transaction: the transaction's locks would keep other \
             connections from committing the events it waits for; {call}"
        )));
    }
    if crate::ffi::transaction_state(conn) != rusqlite::ffi::SQLITE_TXN_NONE {
        return Err(Error::invalid(format!(
            "cannot wait while this connection holds a read transaction (the statement \
             also reads a table, or another statement on the connection is still running), \
             which could keep writers from committing; {call}"
        )));
    }
    // Every SQLite call of the wait holds forks off, and nothing else does:
    // a process that forks waits for the calls to end, so its child does
    // not get a lock of SQLite's held by this thread (see
    // `crate::ffi::hold_forks`). Declared first, it ends last, after the
    // reader has closed.
    let mut forks_held = Some(crate::ffi::hold_forks());
    let file = waited_file(conn, opened_key)?;
    let mut probe = interrupt_probe(conn)?;
    let reader = open_reader(&file)?;
    let _waiting = crate::notify::wait_on(&file.key, &file.path);
    let signal = crate::notify::signal(&file.key);
    let deadline = Instant::now() + timeout;
    // Read before the first check, so a commit signalled during the check
    // is not missed.
    let mut generation = signal.generation();
    let mut seen = Seen {
        version: None,
        scanned: after,
    };
    let mut fast_until = None;
    loop {
        forks_held.get_or_insert_with(crate::ffi::hold_forks);
        check_interrupt(&mut probe)?;
        let found = check(&reader, &mut seen, channel);
        // Looked at after every check. A file renamed over the path, or the
        // path's file deleted, fails the reader's checks in WAL mode
        // ("attempt to write a readonly database", "disk I/O error") and
        // leaves them waiting for good in rollback-journal mode; and a file
        // renamed over the path can share the old file's WAL name, so the
        // reader may see the new file's event.
        gone_while_waiting(&file)?;
        if let Some(seq) = found? {
            return Ok(Some(seq));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        let interval = match fast_until {
            Some(until) if now < until => FAST_POLL,
            _ => POLL,
        };
        forks_held = None;
        let woken = signal.wait_past(generation, deadline.min(now + interval));
        if woken != generation {
            generation = woken;
            fast_until = Some(Instant::now() + AFTER_SIGNAL);
        }
    }
}

/// A statement that tells whether the host interrupted `conn`.
///
/// `sqlite3_interrupt` sets a flag on the connection that every statement
/// checks when it starts, and that SQLite clears only when no statement of
/// the connection is running. The statement calling `trigger_wait` is
/// running, so while it waits, stepping a statement of its own on the same
/// connection fails with SQLITE_INTERRUPT exactly when the host interrupted
/// it; the flag stays set for the caller's statement. This works on every
/// supported host; `sqlite3_is_interrupted` says the same but needs SQLite
/// 3.41. `SELECT 1` reads no table, so it takes no lock; preparing it is
/// already the first look (the parser checks the flag too).
fn interrupt_probe(conn: &Connection) -> Result<Statement<'_>> {
    conn.prepare("SELECT 1").map_err(interrupt_error)
}

/// Fails with [`Error::Interrupted`] once the host interrupted the
/// connection of `probe`.
fn check_interrupt(probe: &mut Statement<'_>) -> Result<()> {
    let stepped = probe.query([]).and_then(|mut rows| rows.next().map(|_| ()));
    stepped.map_err(interrupt_error)
}

fn interrupt_error(e: rusqlite::Error) -> Error {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted) {
        Error::Interrupted
    } else {
        Error::sqlite("checking whether the connection was interrupted")(e)
    }
}

/// The database file `conn` waits on: the very file the connection opened
/// (`opened_key`, its identity then), on a VFS that keeps it in that file.
fn waited_file(conn: &Connection, opened_key: Option<&str>) -> Result<DbFile> {
    let refused = |why: String| Error::invalid(format!("needs a database file: {why}"));
    let Some(file) = crate::notify::db_file(conn) else {
        let path = conn.path().unwrap_or_default();
        return Err(match crate::ffi::main_vfs_name(conn) {
            Some(vfs)
                if crate::notify::file_backed(&vfs)
                    && !path.is_empty()
                    && std::fs::metadata(path)
                        .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) =>
            {
                refused(format!(
                    "{:?} was deleted since this connection opened it, so no other \
                     connection can open it to commit an event; open the database again \
                     to wait on it",
                    crate::sql::shorten_to(path, 200)
                ))
            }
            Some(vfs) if crate::notify::dqlite(&vfs) => refused(format!(
                "this database is replicated by dqlite (VFS {}): it is kept in the node's \
                 memory, not in a file, and other nodes' commits reach it by replication, so \
                 there is nothing to wait on; poll instead: SELECT seq, channel, payload FROM \
                 trigger_outbox WHERE seq > after_seq ORDER BY seq",
                crate::sql::shorten(&vfs)
            )),
            Some(vfs) if !crate::notify::file_backed(&vfs) && !path.is_empty() => refused(format!(
                "this database is held by the VFS {}, not kept in a file other \
                     connections can open; open it from its file to wait on it",
                crate::sql::shorten(&vfs)
            )),
            _ => refused(
                "no other connection can commit to an in-memory or temporary database".into(),
            ),
        });
    };
    if opened_key != Some(file.key.as_str()) {
        return Err(refused(format!(
            "{:?} is no longer the file this connection opened (it was deleted or replaced \
             since); open the database again to wait on it",
            crate::sql::shorten_to(&file.path, 200)
        )));
    }
    Ok(file)
}

/// Fails when the file at the waited path is no longer the one the wait
/// began on: the connection's database is then a file no new connection can
/// open, and events committed to the path go elsewhere.
fn gone_while_waiting(file: &DbFile) -> Result<()> {
    let now = crate::notify::identity(&file.path);
    if now.as_deref() == Some(file.key.as_str()) {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "the database file {:?} was {} while waiting; open the database again to wait on it",
        crate::sql::shorten_to(&file.path, 200),
        if now.is_some() {
            "replaced by another file"
        } else {
            "deleted"
        }
    )))
}

/// A private read-only connection to the database file, through the same
/// VFS, so each check is one short read transaction of its own.
fn open_reader(file: &DbFile) -> Result<Connection> {
    let context = || {
        format!(
            "opening {:?} to wait on it",
            crate::sql::shorten_to(&file.path, 200)
        )
    };
    let reader = Connection::open_with_flags_and_vfs(
        &file.path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        file.vfs.as_str(),
    )
    .map_err(Error::sqlite(context()))?;
    reader
        .busy_timeout(READ_BUSY_TIMEOUT)
        .map_err(Error::sqlite(context()))?;
    // The name could have been given to another file in between.
    if crate::notify::file_key(&reader).as_deref() != Some(file.key.as_str()) {
        return Err(Error::invalid(format!(
            "needs a database file: {:?} was replaced while the wait began; open the \
             database again to wait on it",
            crate::sql::shorten_to(&file.path, 200)
        )));
    }
    Ok(reader)
}

/// What the checks of one wait have already looked at.
struct Seen {
    /// `PRAGMA data_version` at the last look.
    version: Option<i64>,
    /// Every event up to this seq has been looked at (and did not match):
    /// events become visible in seq order, so the next look starts after it
    /// and costs nothing for events on other channels already passed over.
    scanned: i64,
}

/// Looks for the event, but only when something was committed since the
/// last look (`PRAGMA data_version` changed), and only among events not
/// looked at before. A busy database counts as "not yet": the next check
/// tries again.
fn check(reader: &Connection, seen: &mut Seen, channel: Option<&str>) -> Result<Option<i64>> {
    let context = || format!("reading {OUTBOX_TABLE}");
    // Both statements stay prepared on the private reader between checks
    // (reset, so they hold no read transaction): a waiter is woken by every
    // commit to the file, and parsing them again each time was most of its
    // cost.
    let version = match reader
        .prepare_cached("PRAGMA data_version")
        .and_then(|mut stmt| stmt.query_row([], |r| r.get::<_, i64>(0)))
    {
        Ok(version) => version,
        Err(e) if is_busy(&e) => return Ok(None),
        Err(e) => return Err(Error::sqlite(context())(e)),
    };
    if seen.version == Some(version) {
        return Ok(None);
    }
    // One statement, so both answers come from one snapshot.
    let found = reader
        .prepare_cached(&format!(
            "SELECT (SELECT seq FROM main.{OUTBOX_TABLE} \
                     WHERE seq > ?1 AND (?2 IS NULL OR channel = ?2) ORDER BY seq LIMIT 1), \
                    (SELECT max(seq) FROM main.{OUTBOX_TABLE})"
        ))
        .and_then(|mut stmt| {
            stmt.query_row(rusqlite::params![seen.scanned, channel], |r| {
                Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?))
            })
        });
    match found {
        Ok((found, last)) => {
            seen.version = Some(version);
            if found.is_none() {
                seen.scanned = seen.scanned.max(last.unwrap_or(0));
            }
            Ok(found)
        }
        Err(e) if is_missing_table(&e) => {
            seen.version = Some(version);
            Ok(None)
        }
        Err(e) if is_busy(&e) => Ok(None),
        Err(e) => Err(Error::sqlite(context())(e)),
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}
