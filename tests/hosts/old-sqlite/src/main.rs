//! `old-sqlite-host PATH_TO_EXTENSION`
//!
//! Links SQLite 3.37.0 (bundled by libsqlite3-sys 0.23.2) and checks that the
//! sqlite-triggers extension refuses to load on it with a readable error,
//! leaving the host process and its connection usable.

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};
use std::process::ExitCode;
use std::ptr;

use libsqlite3_sys as ffi;

/// The minimum SQLite the extension claims to need.
const NEEDED: &str = "3.38.0";

fn main() -> ExitCode {
    let path = match std::env::args().nth(1) {
        Some(p) => p,
        None => {
            eprintln!("usage: old-sqlite-host PATH_TO_EXTENSION");
            println!("old-host: 0 passed, 1 failed");
            return ExitCode::FAILURE;
        }
    };
    let failures = run(&path);
    if failures.is_empty() {
        println!("old-host: 1 passed, 0 failed");
        ExitCode::SUCCESS
    } else {
        for f in &failures {
            println!("FAIL: {f}");
        }
        println!("old-host: 0 passed, 1 failed");
        ExitCode::FAILURE
    }
}

/// Copies a C string owned by SQLite; `None` for NULL.
unsafe fn text(p: *const c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        // SAFETY: SQLite hands out NUL-terminated strings.
        Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }
}

/// Takes ownership of an error message allocated by SQLite.
unsafe fn take_errmsg(p: *mut c_char) -> Option<String> {
    // SAFETY: p is NULL or a NUL-terminated string from sqlite3_malloc.
    let s = unsafe { text(p) };
    if !p.is_null() {
        // SAFETY: p was allocated by SQLite and is freed exactly once.
        unsafe { ffi::sqlite3_free(p.cast::<c_void>()) };
    }
    s
}

/// Runs `sql`, collecting each row's first column as text.
unsafe fn exec(db: *mut ffi::sqlite3, sql: &str) -> Result<Vec<Option<String>>, String> {
    unsafe extern "C" fn collect(
        out: *mut c_void,
        n: c_int,
        values: *mut *mut c_char,
        _names: *mut *mut c_char,
    ) -> c_int {
        // SAFETY: `out` is the Vec passed below; values has n entries.
        unsafe {
            let rows = &mut *out.cast::<Vec<Option<String>>>();
            let first = if n > 0 && !values.is_null() {
                text(*values)
            } else {
                None
            };
            rows.push(first);
        }
        0
    }
    let c_sql = CString::new(sql).map_err(|e| format!("bad SQL {sql:?}: {e}"))?;
    let mut rows: Vec<Option<String>> = Vec::new();
    let mut err: *mut c_char = ptr::null_mut();
    // SAFETY: db is open; the callback only touches `rows`, which outlives the call.
    let rc = unsafe {
        ffi::sqlite3_exec(
            db,
            c_sql.as_ptr(),
            Some(collect),
            (&mut rows as *mut Vec<Option<String>>).cast::<c_void>(),
            &mut err,
        )
    };
    // SAFETY: err is NULL or allocated by SQLite.
    let msg = unsafe { take_errmsg(err) };
    if rc == ffi::SQLITE_OK {
        Ok(rows)
    } else {
        Err(msg.unwrap_or_else(|| format!("error code {rc} without a message")))
    }
}

fn run(path: &str) -> Vec<String> {
    let mut failures = Vec::new();

    // SAFETY: sqlite3_libversion returns a static string.
    let host_version = unsafe { text(ffi::sqlite3_libversion()) }.unwrap_or_default();
    println!("host SQLite {host_version}");
    // SAFETY: plain getter.
    let host_number = unsafe { ffi::sqlite3_libversion_number() };
    if host_number >= 3_038_000 {
        failures.push(format!(
            "host SQLite {host_version} is not older than {NEEDED}; this test proves nothing"
        ));
        return failures;
    }

    let mut db: *mut ffi::sqlite3 = ptr::null_mut();
    let name = c":memory:";
    // SAFETY: valid out-pointer and NUL-terminated name.
    let rc = unsafe {
        ffi::sqlite3_open_v2(
            name.as_ptr(),
            &mut db,
            ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE,
            ptr::null(),
        )
    };
    if rc != ffi::SQLITE_OK || db.is_null() {
        failures.push(format!(
            "sqlite3_open_v2(\":memory:\") failed with code {rc}"
        ));
        if !db.is_null() {
            // SAFETY: db came from sqlite3_open_v2.
            unsafe { ffi::sqlite3_close(db) };
        }
        return failures;
    }

    check_load(db, path, &host_version, &mut failures);
    check_alive(db, &mut failures);

    // SAFETY: db is open and has no unfinalized statements.
    let rc = unsafe { ffi::sqlite3_close(db) };
    if rc != ffi::SQLITE_OK {
        failures.push(format!("sqlite3_close failed with code {rc}"));
    }
    failures
}

fn check_load(db: *mut ffi::sqlite3, path: &str, host_version: &str, failures: &mut Vec<String>) {
    // SAFETY: db is open.
    let rc = unsafe { ffi::sqlite3_enable_load_extension(db, 1) };
    if rc != ffi::SQLITE_OK {
        failures.push(format!(
            "sqlite3_enable_load_extension failed with code {rc}"
        ));
        return;
    }
    let c_path = match CString::new(path) {
        Ok(p) => p,
        Err(e) => {
            failures.push(format!("extension path {path:?} is not a C string: {e}"));
            return;
        }
    };
    let mut err: *mut c_char = ptr::null_mut();
    // SAFETY: db is open; NULL entry point lets SQLite pick it; err is an out-pointer.
    let rc = unsafe { ffi::sqlite3_load_extension(db, c_path.as_ptr(), ptr::null(), &mut err) };
    // SAFETY: err is NULL or allocated by SQLite.
    let msg = unsafe { take_errmsg(err) };
    println!("load {path}: rc={rc}");
    println!("load error: {}", msg.as_deref().unwrap_or("(none)"));

    if rc == ffi::SQLITE_OK {
        failures.push(format!(
            "the extension loaded on SQLite {host_version}; it should have refused"
        ));
        return;
    }
    let Some(msg) = msg else {
        failures.push(format!(
            "the load failed (code {rc}) but SQLite returned no message"
        ));
        return;
    };
    for (what, needle) in [
        ("the extension name", "sqlite-triggers"),
        ("the needed version", NEEDED),
        ("the host's version", host_version),
    ] {
        if !msg.contains(needle) {
            failures.push(format!("load error lacks {what} {needle:?}: {msg:?}"));
        }
    }
}

fn check_alive(db: *mut ffi::sqlite3, failures: &mut Vec<String>) {
    // SAFETY: db is open.
    match unsafe { exec(db, "SELECT 1+1") } {
        Ok(rows) if rows == [Some("2".to_string())] => println!("SELECT 1+1 -> 2"),
        Ok(rows) => failures.push(format!("SELECT 1+1 returned {rows:?}, expected [\"2\"]")),
        Err(e) => failures.push(format!("SELECT 1+1 failed after the load attempt: {e}")),
    }
    // SAFETY: db is open.
    match unsafe { exec(db, "SELECT trigger_version()") } {
        Ok(rows) => failures.push(format!(
            "trigger_version() is available after a refused load: {rows:?}"
        )),
        Err(e) if e.contains("no such function") => {
            println!("SELECT trigger_version() -> {e}")
        }
        Err(e) => failures.push(format!(
            "SELECT trigger_version() failed, but not with \"no such function\": {e}"
        )),
    }
}
