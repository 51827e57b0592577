//! The Rust API: Rust closures that run when rows commit, and Rust
//! handlers that trigger bodies call.
//!
//! The SQL function `trigger_call` (see `docs/reference.md`) runs the
//! handler registered under a name with [`register_handler`] and returns its
//! value; on a connection without that handler it is an error.
//!
//! For programs that link their own SQLite through rusqlite (build this
//! crate with `default-features = false, features = ["bundled"]`, or link
//! the system library). The loadable extension has `trigger_call` too, but
//! only a Rust program can put handlers behind it.
//!
//! The examples run as doctests with `cargo test --no-default-features
//! --features bundled --doc` (the default `loadable` build has no SQLite of
//! its own to run them on).
//!
#![cfg_attr(feature = "loadable", doc = "```ignore")]
#![cfg_attr(not(feature = "loadable"), doc = "```")]
//! use std::sync::{Arc, Mutex};
//! use rusqlite::Connection;
//! use sqlite_triggers::{on_change, Op};
//!
//! let conn = Connection::open_in_memory()?;
//! conn.execute_batch("CREATE TABLE user(id INTEGER PRIMARY KEY, name TEXT)")?;
//!
//! // Two closures on the same table: the crate shares SQLite's one update
//! // hook between them.
//! let inserted = Arc::new(Mutex::new(Vec::new()));
//! let seen = Arc::clone(&inserted);
//! on_change(&conn, "user", &[Op::Insert], move |batch| {
//!     seen.lock().unwrap().extend(batch.iter().map(|c| c.rowid));
//! })?;
//! let batches = Arc::new(Mutex::new(0));
//! let counted = Arc::clone(&batches);
//! on_change(&conn, "user", &[Op::Insert, Op::Update, Op::Delete], move |_| {
//!     *counted.lock().unwrap() += 1;
//! })?;
//!
//! conn.execute_batch("BEGIN; INSERT INTO user VALUES (1, 'ada'); INSERT INTO user VALUES (2, 'bob'); COMMIT")?;
//! // Rolled-back work never reaches a closure, savepoints included.
//! conn.execute_batch("BEGIN; INSERT INTO user VALUES (3, 'eve'); ROLLBACK")?;
//! conn.execute_batch(
//!     "BEGIN; INSERT INTO user VALUES (4, 'dan'); SAVEPOINT s;
//!      INSERT INTO user VALUES (5, 'sam'); ROLLBACK TO s; COMMIT",
//! )?;
//!
//! assert_eq!(*inserted.lock().unwrap(), vec![1, 2, 4]);
//! assert_eq!(*batches.lock().unwrap(), 2); // one call per committed transaction
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
use std::sync::Arc;

use rusqlite::types::Value;
use rusqlite::Connection;

use crate::ffi::Mutex;
use crate::functions::{SqlFunction, INNOCUOUS};
use crate::session::{ApiListener, Session};
use crate::sql::display_name;
use crate::{Error, Result};

pub use crate::session::{Change, Op};

/// Identifies a closure attached with [`on_change`], to remove it with
/// [`remove_listener`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

thread_local! {
    /// `trigger_call`'s argument list, kept between calls.
    static ARGS: std::cell::Cell<Vec<Value>> = const { std::cell::Cell::new(Vec::new()) };
}

const FUNCTIONS: &[SqlFunction] = &[SqlFunction {
    name: "trigger_call",
    signature: "name [, arg, ...]",
    // A handler takes at most 63 arguments: SQLite's own limit on a
    // function call is 127, and a few are plenty.
    args: 1..=64,
    // innocuous: made for trigger bodies: runs a handler that only a Rust program linking
    // the crate can register
    flags: INNOCUOUS,
    body: |a| {
        let name = a.str(0, "name")?;
        let handler = a.session.handlers.lock().get(name).cloned();
        let Some(handler) = handler else {
            return Err(format!(
                "argument 1 (name): no handler named {} on this connection; a Rust program \
                 registers handlers with sqlite_triggers::register_handler",
                display_name(name)
            ));
        };
        // The argument list reuses one buffer per thread; a handler that runs
        // SQL calling trigger_call again finds it taken and gets its own.
        let mut args = ARGS.with(|buffer| buffer.take());
        args.extend((1..a.len()).map(|i| a.value(i)));
        let result = handler(&args);
        args.clear();
        ARGS.with(|buffer| buffer.set(args));
        result.map_err(|e| {
            format!(
                "argument 1 (name): handler {} failed: {e}",
                display_name(name)
            )
        })
    },
}];

/// Registers `trigger_call` on `conn`.
pub(crate) fn register(conn: &Connection, session: &Arc<Session>) -> Result<()> {
    crate::functions::register(conn, session, FUNCTIONS)
}

/// Calls `callback` after every commit that changed rows of `table` (in
/// `main`) with one of `ops`, with that transaction's changes in order.
///
/// Changes that were rolled back (a `ROLLBACK`, a `ROLLBACK TO` a
/// savepoint, a statement that failed halfway) never reach it. The
/// callback runs while SQLite finishes the `COMMIT`, so it must not use the
/// connection; hand the work to another thread or record it.
///
/// Registers the extension on `conn` first if needed. Fails if `table` is
/// not a rowid table of `main`, or if the host set its own update, commit
/// or rollback hook on `conn` (SQLite has one of each per connection).
pub fn on_change<F>(conn: &Connection, table: &str, ops: &[Op], callback: F) -> Result<ListenerId>
where
    F: FnMut(&[Change]) + Send + 'static,
{
    if ops.is_empty() {
        return Err(Error::invalid("on_change needs at least one Op"));
    }
    let session = session(conn)?;
    let name = crate::feed::watchable_table(conn, table)?;
    let mut id = 0;
    crate::feed::change_interest(conn, &session, |state| {
        state.next_listener += 1;
        id = state.next_listener;
        state.api.push(ApiListener {
            id,
            table: name.to_ascii_lowercase(),
            ops: ops.to_vec(),
            callback: Arc::new(Mutex::new(callback)),
        });
    })?;
    Ok(ListenerId(id))
}

/// Detaches a closure attached with [`on_change`]. When nothing is watched
/// any more, the crate's hooks come off the connection.
pub fn remove_listener(conn: &Connection, id: ListenerId) -> Result<()> {
    let session = session(conn)?;
    if !session.state.lock().api.iter().any(|l| l.id == id.0) {
        return Err(Error::invalid(format!(
            "no listener {} on this connection",
            id.0
        )));
    }
    crate::feed::change_interest(conn, &session, |state| {
        state.api.retain(|l| l.id != id.0);
    })
}

/// Registers `handler` under `name`, so that SQL on `conn` (trigger bodies
/// included) can run it with `trigger_call(name, args...)`, inside the
/// transaction that fires the trigger. An error it returns becomes the
/// SQL error and aborts the statement. Registering a name again replaces
/// the handler.
///
#[cfg_attr(feature = "loadable", doc = "```ignore")]
#[cfg_attr(not(feature = "loadable"), doc = "```")]
/// use rusqlite::{types::Value, Connection};
///
/// let conn = Connection::open_in_memory()?;
/// conn.execute_batch(
///     "CREATE TABLE user(id INTEGER PRIMARY KEY, email TEXT);
///      CREATE TABLE sent(user_id INTEGER, message TEXT);",
/// )?;
/// sqlite_triggers::register_handler(&conn, "notify_user", |args: &[Value]| {
///     match args {
///         [Value::Integer(id)] => Ok(Value::Text(format!("welcome, user {id}"))),
///         _ => Err("notify_user takes one integer".to_string()),
///     }
/// })?;
/// conn.execute_batch(
///     "CREATE TRIGGER user_welcome AFTER INSERT ON user BEGIN
///        INSERT INTO sent VALUES (NEW.id, trigger_call('notify_user', NEW.id));
///      END;
///      INSERT INTO user(id, email) VALUES (7, 'ada@example.com');",
/// )?;
/// let message: String = conn.query_row("SELECT message FROM sent", [], |r| r.get(0))?;
/// assert_eq!(message, "welcome, user 7");
///
/// // A handler's error aborts the statement that fired the trigger.
/// let err = conn
///     .query_row("SELECT trigger_call('notify_user', 'x')", [], |r| r.get::<_, String>(0))
///     .unwrap_err();
/// assert!(err.to_string().contains("notify_user takes one integer"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn register_handler<F>(conn: &Connection, name: &str, handler: F) -> Result<()>
where
    F: Fn(&[Value]) -> std::result::Result<Value, String> + Send + Sync + 'static,
{
    if name.is_empty() {
        return Err(Error::invalid("a handler name cannot be empty"));
    }
    let session = session(conn)?;
    session
        .handlers
        .lock()
        .insert(name.to_string(), Arc::new(handler));
    Ok(())
}

/// Removes the handler `name`; `trigger_call(name, ...)` fails afterwards.
pub fn remove_handler(conn: &Connection, name: &str) -> Result<()> {
    let session = session(conn)?;
    let removed = session.handlers.lock().remove(name);
    removed
        .map(|_| ())
        .ok_or_else(|| Error::invalid(format!("no handler named {}", display_name(name))))
}

fn session(conn: &Connection) -> Result<Arc<Session>> {
    crate::register(conn)?;
    Session::of(conn).ok_or_else(|| Error::invalid(Session::MISSING))
}
