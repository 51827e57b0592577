//! SQLite's update, commit and rollback hooks, registered through the raw
//! API because rusqlite's safe ones refuse the connection an extension
//! receives. Each hook's argument is the connection's events receiver (its
//! session, see [`super::TxnEvents`]), which lives as long as the
//! connection (see [`super::txn`]).
//!
//! A connection has one hook of each kind. SQLite has no call that reads a
//! hook without replacing it, only one that returns the previous hook's
//! argument: [`install`] uses that to notice a hook the host set, and then
//! takes its own hooks off again and reports the conflict.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void, CStr};

use rusqlite::{ffi, Connection};

use super::{catch, RowOp, TxnEvents};

/// Which hook was found set by someone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hook {
    Update,
    Commit,
    Rollback,
}

impl Hook {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Hook::Update => "update hook",
            Hook::Commit => "commit hook",
            Hook::Rollback => "rollback hook",
        }
    }
}

const HOOKS: [Hook; 3] = [Hook::Update, Hook::Commit, Hook::Rollback];

/// Sets (`arg` non-null) or clears (`arg` null) one hook on `db`, returning
/// the previous hook's argument.
///
/// # Safety
/// `db` must be a live connection; a non-null `arg` must stay valid while
/// the hook is set.
unsafe fn set<E: TxnEvents>(db: *mut ffi::sqlite3, hook: Hook, arg: *mut c_void) -> *mut c_void {
    let on = !arg.is_null();
    // SAFETY: the caller's contract; the callbacks match SQLite's signatures
    // and read `arg` as an `E`.
    unsafe {
        match hook {
            Hook::Update => ffi::sqlite3_update_hook(db, on.then_some(on_update::<E> as _), arg),
            Hook::Commit => ffi::sqlite3_commit_hook(db, on.then_some(on_commit::<E> as _), arg),
            Hook::Rollback => {
                ffi::sqlite3_rollback_hook(db, on.then_some(on_rollback::<E> as _), arg)
            }
        }
    }
}

/// Sets the three hooks on `conn` with `events` as their argument. If one
/// of them was already set by the host, every hook this call set is taken
/// off again and the host's hook is named in the error.
pub(crate) fn install<E: TxnEvents>(conn: &Connection, events: &E) -> Result<(), Hook> {
    let arg = events as *const E as *mut c_void;
    // SAFETY: the handle belongs to a live connection on this thread.
    let db = unsafe { conn.handle() };
    for (i, &hook) in HOOKS.iter().enumerate() {
        // SAFETY: db is live; arg points to the session, which SQLite's
        // module destructor frees only when the connection closes, after
        // which no hook runs.
        let previous = unsafe { set::<E>(db, hook, arg) };
        if !previous.is_null() && previous != arg {
            for &undo in &HOOKS[..=i] {
                // SAFETY: db is live; clearing a hook is always allowed.
                unsafe { set::<E>(db, undo, std::ptr::null_mut()) };
            }
            return Err(hook);
        }
    }
    Ok(())
}

/// Takes the three hooks off `conn`. If one of them no longer carried our
/// argument, the host replaced our hook after [`install`]; clearing it
/// cannot be avoided (SQLite has no way to read a hook without replacing
/// it), so that hook is reported.
pub(crate) fn remove<E: TxnEvents>(conn: &Connection, events: &E) -> Result<(), Hook> {
    let arg = events as *const E as *mut c_void;
    // SAFETY: as in install.
    let db = unsafe { conn.handle() };
    let mut replaced = None;
    for hook in HOOKS {
        // SAFETY: db is live; clearing a hook is always allowed.
        if unsafe { set::<E>(db, hook, std::ptr::null_mut()) } != arg {
            replaced.get_or_insert(hook);
        }
    }
    replaced.map_or(Ok(()), Err)
}

/// # Safety
/// Called by SQLite with the argument given to `sqlite3_update_hook`.
unsafe extern "C" fn on_update<E: TxnEvents>(
    arg: *mut c_void,
    op: c_int,
    db: *const c_char,
    table: *const c_char,
    rowid: ffi::sqlite3_int64,
) {
    let op = match op {
        ffi::SQLITE_INSERT => RowOp::Insert,
        ffi::SQLITE_UPDATE => RowOp::Update,
        ffi::SQLITE_DELETE => RowOp::Delete,
        _ => return,
    };
    // A panic cannot be reported from an update hook; catching it keeps the
    // host alive and the change is simply not recorded.
    let _ = catch("the update hook", || {
        // SAFETY: arg is the `E` set in install, alive while the
        // connection is; db and table are NUL-terminated strings SQLite owns
        // for the duration of the call.
        let (events, db, table) = unsafe {
            (
                &*(arg as *const E),
                CStr::from_ptr(db),
                CStr::from_ptr(table),
            )
        };
        // SAFETY: the events' handle is the live connection whose update
        // hook this is; reading its autocommit flag changes nothing.
        let autocommit =
            unsafe { ffi::sqlite3_get_autocommit(events.handle() as *mut ffi::sqlite3) } != 0;
        events.row_changed(op, db.to_bytes(), table.to_bytes(), rowid, autocommit);
    });
}

/// # Safety
/// Called by SQLite with the argument given to `sqlite3_commit_hook`.
unsafe extern "C" fn on_commit<E: TxnEvents>(arg: *mut c_void) -> c_int {
    let _ = catch("the commit hook", || {
        // SAFETY: as in on_update.
        let events = unsafe { &*(arg as *const E) };
        events.committing();
    });
    // Zero lets the commit go ahead; the feed never vetoes a commit.
    0
}

/// # Safety
/// Called by SQLite with the argument given to `sqlite3_rollback_hook`.
unsafe extern "C" fn on_rollback<E: TxnEvents>(arg: *mut c_void) {
    let _ = catch("the rollback hook", || {
        // SAFETY: as in on_update.
        let events = unsafe { &*(arg as *const E) };
        events.rolled_back();
    });
}
