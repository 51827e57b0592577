//! The one place with `unsafe`: the extension's entry points, the connection
//! handed to SQL functions, the table-valued function adapter, and what the
//! threads of a process share (`process`: safe across `fork()`).
//!
//! Every path SQLite calls into catches panics, so a bug in the extension
//! becomes an SQLite error, never an abort of the host process.
#![allow(unsafe_code)]

mod function;
mod hooks;
mod inotify;
mod process;
mod table;
mod txn;

pub(crate) use function::{calling_extended_code, create_scalar_function, Call, Failure};
pub(crate) use hooks::{install as install_hooks, remove as remove_hooks};
pub(crate) use inotify::DirWatch;
pub(crate) use process::{hold_forks, watch_forks, Condvar, Mutex, PerProcess, ProcessId};
pub(crate) use table::{register_table, RowSource};
pub(crate) use txn::register as register_txn_table;

/// A row change the update hook reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowOp {
    Insert,
    Update,
    Delete,
}

/// What SQLite tells about one connection's rows and transactions, through
/// its hooks ([`install_hooks`]) and the `trigger_txn` table
/// ([`register_txn_table`]). The connection's session implements it; this
/// module knows no more of it than these calls.
pub(crate) trait TxnEvents: Send + Sync + 'static {
    /// The connection's `sqlite3*`, as a number (see [`handle_key`]).
    fn handle(&self) -> usize;
    /// The update hook: a row of `db.table` changed.
    fn row_changed(&self, op: RowOp, db: &[u8], table: &[u8], rowid: i64, autocommit: bool);
    /// The commit hook: a commit is about to become final.
    fn committing(&self);
    /// The rollback hook.
    fn rolled_back(&self);
    /// `trigger_txn` joined the transaction (`xBegin`).
    fn txn_begin(&self);
    /// The transaction `trigger_txn` joined has committed (`xCommit`).
    fn txn_commit(&self);
    /// ... or rolled back (`xRollback`).
    fn txn_rollback(&self);
    /// Savepoint `level` began, statement savepoints included.
    fn savepoint(&self, level: i32);
    fn release(&self, level: i32);
    fn rollback_to(&self, level: i32);
    /// A `trigger_txn` instance was connected; `cache` makes a second handle
    /// on its connection for statements kept between calls.
    fn table_connected(&self, cache: impl FnOnce() -> Option<Connection>);
    /// One was disconnected (all of them when the connection closes, before
    /// SQLite looks for unfinalized statements).
    fn table_disconnected(&self);
}

use std::ffi::CStr;
use std::panic::{catch_unwind, AssertUnwindSafe};

use rusqlite::{ffi, Connection};

/// The connection's trigger depth limit, `sqlite3_limit(db,
/// SQLITE_LIMIT_TRIGGER_DEPTH, -1)`, for the function called with `ctx`;
/// `None` when the connection cannot be reached.
pub(crate) fn trigger_depth_limit(call: &Call<'_>) -> Option<i32> {
    Some(call.limit(ffi::SQLITE_LIMIT_TRIGGER_DEPTH))
}

/// How many bytes of this thread's stack are left below the caller's frame,
/// where the platform can tell (Linux: `pthread_getattr_np`).
#[cfg(target_os = "linux")]
pub(crate) fn stack_remaining() -> Option<usize> {
    thread_local! {
        /// The lowest address of this thread's stack, found once.
        static LOW: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
    }
    let low = match LOW.with(|l| l.get()) {
        Some(low) => low,
        None => {
            let low = stack_low()?;
            LOW.with(|l| l.set(Some(low)));
            low
        }
    };
    let here = 0u8;
    let here = std::ptr::addr_of!(here) as usize;
    Some(here.saturating_sub(low))
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn stack_remaining() -> Option<usize> {
    None
}

#[cfg(target_os = "linux")]
fn stack_low() -> Option<usize> {
    let mut attr = std::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: pthread_getattr_np initialises attr for the calling thread
    // when it returns 0; attr is destroyed below in every such case.
    if unsafe { libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) } != 0 {
        return None;
    }
    let mut addr: *mut libc::c_void = std::ptr::null_mut();
    let mut size: libc::size_t = 0;
    // SAFETY: attr was initialised above; addr and size are out-pointers.
    let rc = unsafe { libc::pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size) };
    // SAFETY: attr was initialised by pthread_getattr_np and is destroyed once.
    unsafe { libc::pthread_attr_destroy(attr.as_mut_ptr()) };
    (rc == 0 && !addr.is_null()).then_some(addr as usize)
}

/// A number that identifies `conn`'s database handle while it is open.
pub(crate) fn handle_key(conn: &Connection) -> usize {
    // SAFETY: the pointer is only turned into a number, never dereferenced.
    unsafe { conn.handle() as usize }
}

/// The collating sequence column `column` of main's table `table` compares
/// with, as declared (`BINARY` when none is); `None` when SQLite cannot
/// tell (no such table or column).
pub(crate) fn column_collation(conn: &Connection, table: &str, column: &str) -> Option<String> {
    let (table, column) = (
        std::ffi::CString::new(table).ok()?,
        std::ffi::CString::new(column).ok()?,
    );
    let mut coll: *const std::ffi::c_char = std::ptr::null();
    // SAFETY: the handle is valid while `conn` is; the names are
    // NUL-terminated and outlive the call; every other out-pointer is NULL,
    // which sqlite3_table_column_metadata allows (that metadata is omitted).
    let rc = unsafe {
        ffi::sqlite3_table_column_metadata(
            conn.handle(),
            c"main".as_ptr(),
            table.as_ptr(),
            column.as_ptr(),
            std::ptr::null_mut(),
            &mut coll,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    if rc != ffi::SQLITE_OK || coll.is_null() {
        return None;
    }
    // SAFETY: on SQLITE_OK, `coll` points to a NUL-terminated string SQLite
    // keeps until the schema changes; it is copied at once.
    Some(
        unsafe { CStr::from_ptr(coll) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// The highest transaction state `conn` holds on any of its databases
/// (`sqlite3_txn_state(db, NULL)`): `SQLITE_TXN_NONE`, `SQLITE_TXN_READ`
/// or `SQLITE_TXN_WRITE`. rusqlite only offers this with its
/// `modern_sqlite` feature, which would swap the extension's API bindings.
pub(crate) fn transaction_state(conn: &Connection) -> i32 {
    // SAFETY: the handle is valid while `conn` is; a NULL schema name asks
    // for the highest state over all schemas, which sqlite3_txn_state allows.
    unsafe { rusqlite::ffi::sqlite3_txn_state(conn.handle(), std::ptr::null()) }
}

/// The name of the VFS that holds `conn`'s main database (`unix`, `memdb`,
/// ...), or `None` when SQLite cannot tell.
pub(crate) fn main_vfs_name(conn: &Connection) -> Option<String> {
    let mut vfs: *mut ffi::sqlite3_vfs = std::ptr::null_mut();
    // SAFETY: the handle is valid while `conn` is; SQLITE_FCNTL_VFS_POINTER
    // writes one sqlite3_vfs pointer into `vfs`, which SQLite keeps alive
    // while the database is open.
    let rc = unsafe {
        ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_VFS_POINTER,
            std::ptr::addr_of_mut!(vfs).cast(),
        )
    };
    if rc != ffi::SQLITE_OK || vfs.is_null() {
        return None;
    }
    // SAFETY: a registered VFS, whose zName is a NUL-terminated string that
    // lives as long as the VFS is registered, beyond this call.
    let name = unsafe { (*vfs).zName };
    if name.is_null() {
        return None;
    }
    // SAFETY: as above.
    Some(
        unsafe { CStr::from_ptr(name) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// Whether a statement that writes is being stepped on `conn`: then the
/// connection is inside that statement's write transaction even in
/// autocommit mode, and a SQL function it calls cannot begin or commit one.
pub(crate) fn busy_writer(conn: &Connection) -> bool {
    // SAFETY: the statement comes from the walk; reading its flag changes
    // nothing.
    walk_busy(
        conn,
        |stmt| unsafe { ffi::sqlite3_stmt_readonly(stmt) } == 0,
    )
}

/// Calls `visit` with each statement being stepped on `conn` until it
/// returns true; whether one did. `visit` must not prepare or finalize
/// statements on `conn`.
fn walk_busy(conn: &Connection, mut visit: impl FnMut(*mut ffi::sqlite3_stmt) -> bool) -> bool {
    // SAFETY: the handle of a live connection, used on the thread that runs
    // it, while SQLite holds its mutex for us (we are inside a call).
    let db = unsafe { conn.handle() };
    // SAFETY: sqlite3_next_stmt walks the connection's statement list, which
    // cannot change while we walk it (visit prepares and finalizes nothing);
    // a NULL start means the first statement.
    let mut stmt = unsafe { ffi::sqlite3_next_stmt(db, std::ptr::null_mut()) };
    while !stmt.is_null() {
        // SAFETY: stmt comes from sqlite3_next_stmt on this connection.
        if unsafe { ffi::sqlite3_stmt_busy(stmt) } != 0 && visit(stmt) {
            return true;
        }
        // SAFETY: as above.
        stmt = unsafe { ffi::sqlite3_next_stmt(db, stmt) };
    }
    false
}

/// Whether `name` appears, ASCII case-insensitively, in the SQL text of a
/// statement that is running on the connection the function was called on.
///
/// A call written in SQL the user runs always does: the text names the
/// function. A call that a database file hides in a CHECK constraint, a
/// generated column, a DEFAULT or an index does not: it runs inside an
/// INSERT, UPDATE, DELETE or SELECT that never names it, and SQLite lets
/// such calls through even for direct-only functions. A statement prepared
/// with the legacy `sqlite3_prepare()` keeps no text; it counts as naming
/// the function, so such hosts keep working (with SQLite's protection only).
pub(crate) fn running_statement_names(call: &Call<'_>, name: &str) -> bool {
    let wanted = name.as_bytes();
    call.with_connection(|conn| {
        any_busy_statement(conn, |_, text| {
            text.is_none_or(|text| {
                text.windows(wanted.len())
                    .any(|w| w.eq_ignore_ascii_case(wanted))
            })
        })
    })
    .unwrap_or(false)
}

/// One statement of a connection while it keeps the same program: its
/// handle, the address of its SQL text, and how often SQLite prepared it
/// again (after a schema change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct StatementId(usize, usize, i32);

/// Answers about statements (bits whose meaning the caller defines), kept
/// with the SQL text each was given for.
pub(crate) type StatementAnswers = Mutex<std::collections::HashMap<StatementId, (Box<[u8]>, u8)>>;

/// Calls `visit` with each statement being stepped on `conn` and its SQL
/// text (`None` for a statement prepared with the legacy
/// `sqlite3_prepare()`), until it returns true; whether one did. The text
/// is borrowed, never copied. `visit` must not prepare or finalize
/// statements on `conn`.
pub(crate) fn any_busy_statement(
    conn: &Connection,
    mut visit: impl FnMut(StatementId, Option<&[u8]>) -> bool,
) -> bool {
    walk_busy(conn, |stmt| {
        // SAFETY: stmt comes from the walk; the text lives as long as the
        // statement.
        let sql = unsafe { ffi::sqlite3_sql(stmt) };
        // SAFETY: as above; reading a counter changes nothing.
        let reprepared =
            unsafe { ffi::sqlite3_stmt_status(stmt, ffi::SQLITE_STMTSTATUS_REPREPARE, 0) };
        let text = (!sql.is_null())
            // SAFETY: sqlite3_sql returns a NUL-terminated string that lives
            // as long as the statement, beyond this call.
            .then(|| unsafe { CStr::from_ptr(sql) }.to_bytes());
        visit(StatementId(stmt as usize, sql as usize, reprepared), text)
    })
}

/// Catches a panic in code SQLite called, turning it into an error message.
/// The message comes from the panic's payload, so it is complete even when
/// the panic hook prints nothing ([`silence_panic_output`]).
pub(crate) fn catch<T>(what: &str, body: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(body)).map_err(|panic| {
        let detail = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        format!("sqlite-triggers: internal error in {what}: {detail}")
    })
}

/// Replaces the panic hook with one that prints nothing, once per process.
///
/// Rust's default hook writes "thread ... panicked at ..." to stderr before
/// [`catch`] turns the panic into an SQL error, so a host (the sqlite3 shell,
/// a Python program, a server) would see panic text on its own stderr. The
/// error text still carries the message: [`catch`] reads it from the payload.
/// Only the loadable extension calls this: a `.so` links its own copy of
/// std, so the hook is the extension's alone, while a Rust program that links
/// the crate keeps its own hook.
#[cfg_attr(not(feature = "loadable"), allow(dead_code))]
///
/// A flag rather than a `Once`: a `Once` that another thread is running
/// when the process forks stays running for good in the child, whose next
/// load would wait for it forever.
pub(crate) fn silence_panic_output() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static DONE: AtomicBool = AtomicBool::new(false);
    if !DONE.swap(true, Ordering::SeqCst) {
        std::panic::set_hook(Box::new(|_| {}));
    }
}

#[cfg(feature = "loadable")]
mod entry {
    use std::os::raw::{c_char, c_int};
    use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

    use rusqlite::{ffi, Connection};

    use super::{catch, silence_panic_output};
    use crate::{version_text, MIN_SQLITE_VERSION};

    /// The entry point SQLite looks for when `.load` names no entry point.
    ///
    /// # Safety
    /// Called by SQLite's extension loader with valid pointers.
    #[no_mangle]
    pub unsafe extern "C" fn sqlite3_extension_init(
        db: *mut ffi::sqlite3,
        pz_err_msg: *mut *mut c_char,
        p_api: *mut ffi::sqlite3_api_routines,
    ) -> c_int {
        // SAFETY: SQLite passes the pointers it documents for entry points.
        unsafe { init(db, pz_err_msg, p_api) }
    }

    /// The entry point SQLite derives from the file name `libsqlite_triggers`.
    ///
    /// # Safety
    /// Called by SQLite's extension loader with valid pointers.
    #[no_mangle]
    pub unsafe extern "C" fn sqlite3_sqlitetriggers_init(
        db: *mut ffi::sqlite3,
        pz_err_msg: *mut *mut c_char,
        p_api: *mut ffi::sqlite3_api_routines,
    ) -> c_int {
        // SAFETY: as above.
        unsafe { init(db, pz_err_msg, p_api) }
    }

    /// Checks the host's SQLite version before anything else, so an old host
    /// gets a readable error instead of calls into API slots it lacks.
    unsafe fn init(
        db: *mut ffi::sqlite3,
        pz_err_msg: *mut *mut c_char,
        p_api: *mut ffi::sqlite3_api_routines,
    ) -> c_int {
        if p_api.is_null() || db.is_null() {
            return ffi::SQLITE_ERROR;
        }
        // SAFETY: p_api points to the host's API table, which is valid for
        // the whole call; libversion_number has been in it since 3.3.
        let running = match unsafe { (*p_api).libversion_number } {
            // SAFETY: a function pointer from the host's API table.
            Some(f) => unsafe { f() },
            None => 0,
        };
        if running < MIN_SQLITE_VERSION.1 {
            let message = format!(
                "sqlite-triggers {} needs SQLite {} or newer, but this host runs SQLite {}",
                crate::VERSION,
                MIN_SQLITE_VERSION.0,
                version_text(running)
            );
            // SAFETY: as above; the message is handed to SQLite, which frees it.
            unsafe { set_error(p_api, pz_err_msg, &message) };
            return ffi::SQLITE_ERROR;
        }
        // SAFETY: as above; the pointer is only compared, never called.
        let library = unsafe { (*p_api).libversion_number }.map_or(0, |f| f as usize);
        if let Err(message) = claim_library(library, running) {
            // SAFETY: as above.
            unsafe { set_error(p_api, pz_err_msg, &message) };
            return ffi::SQLITE_ERROR;
        }
        silence_panic_output();
        let loaded = catch("loading the extension", || {
            // SAFETY: db and p_api come from SQLite's loader; the version
            // check above makes every API slot we call present.
            unsafe { Connection::extension_init2(db, pz_err_msg, p_api, register) }
        });
        match loaded {
            Ok(rc) => rc,
            Err(message) => {
                // SAFETY: as above.
                unsafe { set_error(p_api, pz_err_msg, &message) };
                ffi::SQLITE_ERROR
            }
        }
    }

    /// The SQLite library the extension was first loaded into, by the
    /// address of its `sqlite3_libversion_number`, and its version.
    static FIRST_LIBRARY: AtomicUsize = AtomicUsize::new(0);
    static FIRST_VERSION: AtomicI32 = AtomicI32::new(0);

    /// Refuses a second SQLite library in the process. A loadable extension
    /// reaches SQLite through one table of function pointers per process,
    /// and each load replaces it: after a second library (apsw's beside
    /// Python's sqlite3, say) loaded the extension, the first library's
    /// connections would be run by the second library's code, which reads
    /// its own struct layouts out of them.
    fn claim_library(library: usize, version: c_int) -> Result<(), String> {
        match FIRST_LIBRARY.compare_exchange(0, library, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => {
                FIRST_VERSION.store(version, Ordering::SeqCst);
                Ok(())
            }
            Err(first) if first == library => Ok(()),
            Err(_) => Err(format!(
                "sqlite-triggers is already loaded in this process by another SQLite library \
                 (SQLite {}; this connection's is SQLite {}); a loadable extension reaches \
                 SQLite through one table of functions per process, so one process can use \
                 it with one SQLite library only: load it into connections of the same \
                 library (for example only Python's sqlite3, or only apsw)",
                version_text(FIRST_VERSION.load(Ordering::SeqCst)),
                version_text(version)
            )),
        }
    }

    fn register(conn: Connection) -> rusqlite::Result<bool> {
        crate::register(&conn).map_err(|e| rusqlite::Error::ModuleError(e.to_string()))?;
        Ok(false)
    }

    /// Hands `message` to SQLite as the load error, in memory from the
    /// host's allocator as the loader requires.
    unsafe fn set_error(
        p_api: *mut ffi::sqlite3_api_routines,
        pz_err_msg: *mut *mut c_char,
        message: &str,
    ) {
        if pz_err_msg.is_null() {
            return;
        }
        // SAFETY: p_api is the host's API table; malloc is in every version.
        let Some(malloc) = (unsafe { (*p_api).malloc }) else {
            return;
        };
        let bytes = message.replace('\0', " ");
        let len = bytes.len();
        // SAFETY: malloc returns len + 1 writable bytes or NULL; we write
        // exactly len bytes and a terminating NUL.
        unsafe {
            let out = malloc((len + 1) as c_int).cast::<u8>();
            if out.is_null() {
                return;
            }
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), out, len);
            *out.add(len) = 0;
            *pz_err_msg = out.cast::<c_char>();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{catch, silence_panic_output};

    const CHILD: &str = "SQLITE_TRIGGERS_PANIC_CHILD";
    const NAME: &str = "ffi::tests::a_caught_panic_prints_nothing_once_silenced";

    /// The panic hook is process-wide, so each case runs in a child process
    /// (this test binary again, running only this test): once with the
    /// extension's hook, and once with Rust's default hook, which shows that
    /// the check sees panic text when there is some.
    #[test]
    fn a_caught_panic_prints_nothing_once_silenced() {
        if let Ok(mode) = std::env::var(CHILD) {
            if mode == "silenced" {
                silence_panic_output();
                silence_panic_output(); // a second load in the same process
            }
            let caught = catch("a test", || -> u8 { panic!("boom {}", 7) });
            println!("error text: {}", caught.unwrap_err());
            return;
        }
        let run = |mode: &str| {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
                .env(CHILD, mode)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            (text(&out.stdout), text(&out.stderr))
        };
        let (stdout, stderr) = run("silenced");
        assert!(!stderr.contains("panicked"), "stderr: {stderr}");
        assert!(
            stdout.contains("error text: sqlite-triggers: internal error in a test: boom 7"),
            "stdout: {stdout}"
        );
        let (_, stderr) = run("default");
        assert!(stderr.contains("panicked"), "stderr: {stderr}");
    }
}
