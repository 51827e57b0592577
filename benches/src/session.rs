//! SQLite's own session extension, as benchmark 1's native reference for
//! recording every change of a table: a session attached to the table
//! records each row through the preupdate hook, and `sqlite3session_changeset`
//! serialises what it recorded.
//!
//! The system SQLite (Debian's 3.40.1) is built with `SQLITE_ENABLE_SESSION`
//! and `SQLITE_ENABLE_PREUPDATE_HOOK` and exports the `sqlite3session_*`
//! functions. They are declared here rather than through rusqlite's
//! `session` feature, which generates all of libsqlite3-sys's bindings with
//! bindgen (and libclang) at build time for these few functions.
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};

use rusqlite::{ffi, Connection};

use crate::harness::R;

#[repr(C)]
struct Sqlite3Session {
    _opaque: [u8; 0],
}

#[repr(C)]
struct Sqlite3ChangesetIter {
    _opaque: [u8; 0],
}

extern "C" {
    fn sqlite3session_create(
        db: *mut ffi::sqlite3,
        db_name: *const c_char,
        session: *mut *mut Sqlite3Session,
    ) -> c_int;
    fn sqlite3session_attach(session: *mut Sqlite3Session, table: *const c_char) -> c_int;
    fn sqlite3session_changeset(
        session: *mut Sqlite3Session,
        size: *mut c_int,
        changeset: *mut *mut c_void,
    ) -> c_int;
    fn sqlite3session_delete(session: *mut Sqlite3Session);
    fn sqlite3changeset_start(
        iter: *mut *mut Sqlite3ChangesetIter,
        size: c_int,
        changeset: *mut c_void,
    ) -> c_int;
    fn sqlite3changeset_next(iter: *mut Sqlite3ChangesetIter) -> c_int;
    fn sqlite3changeset_op(
        iter: *mut Sqlite3ChangesetIter,
        table: *mut *const c_char,
        columns: *mut c_int,
        op: *mut c_int,
        indirect: *mut c_int,
    ) -> c_int;
    fn sqlite3changeset_finalize(iter: *mut Sqlite3ChangesetIter) -> c_int;
}

/// A session on the main database of a connection; it must be dropped
/// before the connection is closed.
pub struct Session {
    raw: *mut Sqlite3Session,
}

impl Session {
    /// Creates a session on `conn`'s main database and attaches `table`.
    pub fn attach(conn: &Connection, table: &CStr) -> R<Session> {
        let mut raw = std::ptr::null_mut();
        // SAFETY: the handle is a live connection; the session is deleted in
        // Drop, and callers drop it before the connection.
        let rc = unsafe { sqlite3session_create(conn.handle(), c"main".as_ptr(), &mut raw) };
        if rc != ffi::SQLITE_OK {
            return Err(format!("sqlite3session_create returned {rc}"));
        }
        let session = Session { raw };
        // SAFETY: `raw` is the session just created, `table` a C string.
        let rc = unsafe { sqlite3session_attach(session.raw, table.as_ptr()) };
        if rc != ffi::SQLITE_OK {
            return Err(format!("sqlite3session_attach returned {rc}"));
        }
        Ok(session)
    }

    /// Serialises every change recorded so far.
    pub fn changeset(&self) -> R<Changeset> {
        let (mut size, mut data) = (0, std::ptr::null_mut());
        // SAFETY: `self.raw` is a live session; the buffer is freed by
        // Changeset's Drop with sqlite3_free, as the API requires.
        let rc = unsafe { sqlite3session_changeset(self.raw, &mut size, &mut data) };
        let changeset = Changeset { size, data };
        if rc != ffi::SQLITE_OK {
            return Err(format!("sqlite3session_changeset returned {rc}"));
        }
        Ok(changeset)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: created by sqlite3session_create, deleted once.
        unsafe { sqlite3session_delete(self.raw) }
    }
}

/// A changeset buffer allocated by SQLite.
pub struct Changeset {
    size: c_int,
    data: *mut c_void,
}

impl Changeset {
    pub fn size(&self) -> usize {
        self.size as usize
    }

    /// How many INSERTs into `table` the changeset holds; an error if it
    /// holds any other change.
    pub fn count_inserts(&self, table: &str) -> R<i64> {
        let mut iter = std::ptr::null_mut();
        // SAFETY: the buffer and its size come from sqlite3session_changeset;
        // the iterator is finalized below on every path.
        let rc = unsafe { sqlite3changeset_start(&mut iter, self.size, self.data) };
        if rc != ffi::SQLITE_OK {
            return Err(format!("sqlite3changeset_start returned {rc}"));
        }
        let mut inserts = 0;
        let result = loop {
            // SAFETY: `iter` is live until finalized.
            match unsafe { sqlite3changeset_next(iter) } {
                ffi::SQLITE_ROW => {}
                ffi::SQLITE_DONE => break Ok(inserts),
                rc => break Err(format!("sqlite3changeset_next returned {rc}")),
            }
            let (mut name, mut columns, mut op, mut indirect) = (std::ptr::null(), 0, 0, 0);
            // SAFETY: `iter` points at a change; `name` is valid while it does.
            let rc = unsafe {
                sqlite3changeset_op(iter, &mut name, &mut columns, &mut op, &mut indirect)
            };
            if rc != ffi::SQLITE_OK {
                break Err(format!("sqlite3changeset_op returned {rc}"));
            }
            // SAFETY: a NUL-terminated table name owned by the iterator.
            let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
            if op != ffi::SQLITE_INSERT || name != table {
                break Err(format!("unexpected change: op {op} on {name}"));
            }
            inserts += 1;
        };
        // SAFETY: started above, finalized once.
        unsafe { sqlite3changeset_finalize(iter) };
        result
    }
}

impl Drop for Changeset {
    fn drop(&mut self) {
        // SAFETY: allocated by SQLite for sqlite3session_changeset.
        unsafe { ffi::sqlite3_free(self.data) }
    }
}
