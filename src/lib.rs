//! sqlite-triggers: installable trigger packs, listeners, a change feed and a
//! durable outbox for SQLite, as a loadable extension
//! (`.load ./target/release/libsqlite_triggers`) and a Rust library.
//!
//! The SQL functions, their flags and arguments are listed once, in
//! `docs/reference.md`; each feature module declares its own in a table of
//! [`functions::SqlFunction`]s, with the reason for each function's flags,
//! and registers it from [`register`]. `ARCHITECTURE.md` says which module
//! holds what.
//!
//! Modules: `packs` (trigger packs), `listeners`, `feed` (the change feed),
//! `outbox`, `marker` (the comment by which their triggers describe
//! themselves), `session` (per-connection state and its transaction), `notify`
//! (commit signals for `trigger_wait`), `api` (Rust closures and handlers),
//! and `ffi`, the one place with `unsafe`: entry points, hooks, the
//! `trigger_txn` virtual table, table-valued functions, inotify.
//!
//! Rust programs that link their own SQLite turn off the default `loadable`
//! feature and call [`register`] on a [`rusqlite::Connection`].
#![deny(unsafe_code)]

mod api;
mod changes;
mod conflicts;
mod doctor;
mod error;
mod feed;
mod ffi;
pub mod functions;
mod listeners;
mod marker;
mod notify;
mod outbox;
pub mod packs;
mod problem;
mod schema;
mod session;
pub mod sql;

pub use api::{
    on_change, register_handler, remove_handler, remove_listener, Change, ListenerId, Op,
};
pub use error::{Error, Result};

/// The crate version, as `trigger_version()` returns it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The oldest SQLite this extension supports, as `(text, number)`.
///
/// 3.38.0 is the first release whose JSON functions are always built in, and
/// packs may use them in plain-SQL trigger bodies; it also has every function
/// flag the extension relies on (`SQLITE_DIRECTONLY`, `SQLITE_INNOCUOUS`).
pub const MIN_SQLITE_VERSION: (&str, i32) = ("3.38.0", 3_038_000);

/// Registers every SQL function and table-valued function of the extension on
/// `conn`. The loadable extension calls this from its entry point.
///
/// Registering again on the same connection (loading the extension twice)
/// changes nothing: SQLite refuses to replace a function while a statement
/// runs, which is exactly the case for `SELECT load_extension(...)`.
pub fn register(conn: &rusqlite::Connection) -> Result<()> {
    if already_registered(conn) {
        return Ok(());
    }
    ffi::watch_forks();
    let session = session::Session::new(conn);
    // The entry point registers each feature, top-down; no feature knows
    // the others, and ffi knows none.
    ffi::register_txn_table(conn, &session)?;
    functions::register(conn, &session, functions::CORE)?;
    packs::register(conn, &session)?;
    listeners::register(conn, &session)?;
    feed::register(conn, &session)?;
    outbox::register(conn, &session)?;
    api::register(conn, &session)?;
    doctor::register(conn)?;
    Ok(())
}

fn already_registered(conn: &rusqlite::Connection) -> bool {
    conn.query_row(
        "SELECT count(*) FROM pragma_function_list WHERE name = 'trigger_version'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .is_ok_and(|n| n > 0)
}

/// Formats an SQLite version number (3040001) as text ("3.40.1").
pub fn version_text(number: i32) -> String {
    format!(
        "{}.{}.{}",
        number / 1_000_000,
        number / 1_000 % 1_000,
        number % 1_000
    )
}

/// The running SQLite version as text.
pub fn sqlite_version() -> String {
    version_text(rusqlite::version_number())
}
