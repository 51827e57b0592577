//! `trigger_txn`: a write-only, eponymous virtual table that makes a
//! transaction visible to Rust.
//!
//! The update and rollback hooks miss two kinds of undo: `ROLLBACK TO` a
//! savepoint and a statement that fails halfway inside a transaction. A
//! virtual table of module version 2 that has been written in a transaction
//! is told about both (`xSavepoint`, `xRollbackTo`, `xRelease`), and its
//! `xCommit` runs only after the commit has succeeded: exactly the
//! boundaries the change feed and the outbox's wake-ups need. TEMP triggers
//! write one row into it the first time a transaction touches a watched
//! table (see [`crate::feed`]).
//!
//! The module's client data is the connection's events receiver (its
//! session, see [`super::TxnEvents`]); SQLite frees it when the connection
//! closes, which ties the session (and the hooks that point to it) to the
//! connection's lifetime.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::Arc;

use rusqlite::{ffi, Connection};

use super::{catch, TxnEvents};

const NAME: &CStr = c"trigger_txn";

/// Registers `trigger_txn` on `conn`, handing SQLite one reference to
/// `events`, released when the connection closes.
pub(crate) fn register<E: TxnEvents>(conn: &Connection, events: &Arc<E>) -> crate::Result<()> {
    let aux = Arc::into_raw(Arc::clone(events)) as *mut c_void;
    // SAFETY: the handle belongs to this live connection; the module is
    // static; SQLite calls drop_events exactly once for aux, also when registration
    // fails.
    let rc = unsafe {
        ffi::sqlite3_create_module_v2(
            conn.handle(),
            NAME.as_ptr(),
            module::<E>(),
            aux,
            Some(drop_events::<E>),
        )
    };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(crate::Error::sqlite("registering trigger_txn")(
            rusqlite::Error::SqliteFailure(ffi::Error::new(rc), None),
        ))
    }
}

/// # Safety
/// Called once by SQLite with the pointer made by `Arc::into_raw` above.
unsafe extern "C" fn drop_events<E: TxnEvents>(aux: *mut c_void) {
    let _ = catch("closing the connection", || {
        // SAFETY: aux came from Arc::into_raw in register and SQLite hands
        // it back exactly once.
        drop(unsafe { Arc::from_raw(aux as *const E) });
    });
}

#[repr(C)]
struct TxnTab<E> {
    /// Must come first: SQLite sees this struct as a `sqlite3_vtab`.
    base: ffi::sqlite3_vtab,
    events: *const E,
}

#[repr(C)]
struct TxnCursor {
    /// Must come first: SQLite sees this struct as a `sqlite3_vtab_cursor`.
    base: ffi::sqlite3_vtab_cursor,
}

/// The module for events of type `E`: one constant per type, promoted to a
/// static, as SQLite keeps a pointer to it.
fn module<E: TxnEvents>() -> &'static ffi::sqlite3_module {
    &const {
        ffi::sqlite3_module {
            iVersion: 2,
            xCreate: None,
            xConnect: Some(connect::<E>),
            xBestIndex: Some(best_index),
            xDisconnect: Some(disconnect::<E>),
            xDestroy: Some(disconnect::<E>),
            xOpen: Some(open),
            xClose: Some(close),
            xFilter: Some(filter),
            xNext: Some(ok_cursor),
            xEof: Some(eof),
            xColumn: Some(column),
            xRowid: Some(rowid),
            xUpdate: Some(update),
            xBegin: Some(begin::<E>),
            xSync: Some(ok_tab),
            xCommit: Some(commit::<E>),
            xRollback: Some(rollback::<E>),
            xFindFunction: None,
            xRename: None,
            xSavepoint: Some(savepoint::<E>),
            xRelease: Some(release::<E>),
            xRollbackTo: Some(rollback_to::<E>),
            xShadowName: None,
            // Only the bundled SQLite's headers (3.44+) have this slot; SQLite reads
            // it only from modules of version 4.
            #[cfg(feature = "bundled")]
            xIntegrity: None,
        }
    }
}

/// Runs `body` on the table's events receiver, catching panics.
///
/// # Safety
/// `tab` must be a `TxnTab<E>` made by `connect::<E>`.
unsafe fn with_events<E: TxnEvents>(
    tab: *mut ffi::sqlite3_vtab,
    what: &str,
    body: impl FnOnce(&E),
) -> c_int {
    // SAFETY: tab is a TxnTab<E> (repr(C), base first) whose events pointer
    // is the module's client data, alive until the connection closes.
    let events = unsafe { &*(*(tab as *mut TxnTab<E>)).events };
    match catch(what, || body(events)) {
        Ok(()) => ffi::SQLITE_OK,
        Err(_) => ffi::SQLITE_ERROR,
    }
}

unsafe extern "C" fn connect<E: TxnEvents>(
    db: *mut ffi::sqlite3,
    aux: *mut c_void,
    _argc: c_int,
    _argv: *const *const c_char,
    pp_vtab: *mut *mut ffi::sqlite3_vtab,
    _err: *mut *mut c_char,
) -> c_int {
    // SAFETY: db is the connecting database; the schema text is a static C
    // string; the vtab_config call is valid inside xConnect.
    let rc = unsafe { ffi::sqlite3_declare_vtab(db, c"CREATE TABLE x(reason)".as_ptr()) };
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    // SAFETY: as above. Marking a transaction is harmless, so the table may
    // be written from TEMP triggers whatever trusted_schema says.
    let rc = unsafe { ffi::sqlite3_vtab_config(db, ffi::SQLITE_VTAB_INNOCUOUS) };
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    let tab = Box::new(TxnTab::<E> {
        base: ffi::sqlite3_vtab::default(),
        events: aux as *const E,
    });
    // SAFETY: aux is the module's client data, the connection's events
    // receiver, alive until the module is dropped after every disconnect.
    let events = unsafe { &*(aux as *const E) };
    // SAFETY: db is this live connection; the handle never closes it, and
    // the receiver drops it in disconnect, before the connection closes.
    let connected = catch("connecting trigger_txn", || {
        events.table_connected(|| unsafe { Connection::from_handle(db) }.ok())
    });
    if connected.is_err() {
        return ffi::SQLITE_ERROR;
    }
    // SAFETY: pp_vtab is SQLite's out-pointer; it frees the table through
    // disconnect, which turns it back into a Box.
    unsafe { *pp_vtab = Box::into_raw(tab).cast() };
    ffi::SQLITE_OK
}

/// Also runs when the connection closes, before SQLite looks for
/// unfinalized statements: the statements kept between calls go here.
unsafe extern "C" fn disconnect<E: TxnEvents>(tab: *mut ffi::sqlite3_vtab) -> c_int {
    // SAFETY: tab was made by connect::<E>.
    let rc = unsafe { with_events(tab, "disconnecting trigger_txn", E::table_disconnected) };
    // SAFETY: tab was made by Box::into_raw in connect and is freed once.
    drop(unsafe { Box::from_raw(tab as *mut TxnTab<E>) });
    rc
}

unsafe extern "C" fn best_index(
    _tab: *mut ffi::sqlite3_vtab,
    info: *mut ffi::sqlite3_index_info,
) -> c_int {
    // SAFETY: info is SQLite's index info for this call.
    unsafe { (*info).estimatedCost = 1.0 };
    ffi::SQLITE_OK
}

unsafe extern "C" fn open(
    _tab: *mut ffi::sqlite3_vtab,
    pp: *mut *mut ffi::sqlite3_vtab_cursor,
) -> c_int {
    let cursor = Box::new(TxnCursor {
        base: ffi::sqlite3_vtab_cursor::default(),
    });
    // SAFETY: pp is SQLite's out-pointer; close frees the cursor.
    unsafe { *pp = Box::into_raw(cursor).cast() };
    ffi::SQLITE_OK
}

unsafe extern "C" fn close(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: made by Box::into_raw in open, freed once.
    drop(unsafe { Box::from_raw(cursor as *mut TxnCursor) });
    ffi::SQLITE_OK
}

unsafe extern "C" fn filter(
    _cursor: *mut ffi::sqlite3_vtab_cursor,
    _idx: c_int,
    _idx_str: *const c_char,
    _argc: c_int,
    _argv: *mut *mut ffi::sqlite3_value,
) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn ok_cursor(_cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    ffi::SQLITE_OK
}

/// The table never has rows: it only marks transactions.
unsafe extern "C" fn eof(_cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    1
}

unsafe extern "C" fn column(
    _cursor: *mut ffi::sqlite3_vtab_cursor,
    _ctx: *mut ffi::sqlite3_context,
    _i: c_int,
) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn rowid(
    _cursor: *mut ffi::sqlite3_vtab_cursor,
    out: *mut ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: out is SQLite's out-pointer.
    unsafe { *out = 0 };
    ffi::SQLITE_OK
}

/// An insert only has to reach here: SQLite has already called `begin`.
unsafe extern "C" fn update(
    _tab: *mut ffi::sqlite3_vtab,
    _argc: c_int,
    _argv: *mut *mut ffi::sqlite3_value,
    out: *mut ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: out is SQLite's out-pointer for the new rowid.
    unsafe { *out = 0 };
    ffi::SQLITE_OK
}

unsafe extern "C" fn ok_tab(_tab: *mut ffi::sqlite3_vtab) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn begin<E: TxnEvents>(tab: *mut ffi::sqlite3_vtab) -> c_int {
    // SAFETY: tab was made by connect::<E>.
    unsafe { with_events(tab, "trigger_txn begin", E::txn_begin) }
}

unsafe extern "C" fn commit<E: TxnEvents>(tab: *mut ffi::sqlite3_vtab) -> c_int {
    // SAFETY: tab was made by connect::<E>.
    unsafe { with_events(tab, "trigger_txn commit", E::txn_commit) }
}

unsafe extern "C" fn rollback<E: TxnEvents>(tab: *mut ffi::sqlite3_vtab) -> c_int {
    // SAFETY: tab was made by connect::<E>.
    unsafe { with_events(tab, "trigger_txn rollback", E::txn_rollback) }
}

unsafe extern "C" fn savepoint<E: TxnEvents>(tab: *mut ffi::sqlite3_vtab, level: c_int) -> c_int {
    // SAFETY: tab was made by connect::<E>.
    unsafe { with_events(tab, "trigger_txn savepoint", |e: &E| e.savepoint(level)) }
}

unsafe extern "C" fn release<E: TxnEvents>(tab: *mut ffi::sqlite3_vtab, level: c_int) -> c_int {
    // SAFETY: tab was made by connect::<E>.
    unsafe { with_events(tab, "trigger_txn release", |e: &E| e.release(level)) }
}

unsafe extern "C" fn rollback_to<E: TxnEvents>(tab: *mut ffi::sqlite3_vtab, level: c_int) -> c_int {
    // SAFETY: tab was made by connect::<E>.
    unsafe { with_events(tab, "trigger_txn rollback to", |e: &E| e.rollback_to(level)) }
}
