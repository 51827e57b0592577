//! Scalar SQL functions registered on SQLite's own API.
//!
//! rusqlite's `create_scalar_function` reports every error with
//! `sqlite3_result_error_code` followed by `sqlite3_result_error`, and the
//! second call resets the code to SQLITE_ERROR. A function whose wait was
//! interrupted must fail with SQLITE_INTERRUPT, as SQLite's own statements
//! do, so hosts see the error they expect (apsw raises `InterruptError`).
//! Here the message is set first and the code after it, which keeps both.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::{c_int, c_void, CString};

use rusqlite::functions::FunctionFlags;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{ffi, Connection};

use super::catch;

/// One call of a scalar function: its arguments and its connection.
pub(crate) struct Call<'a> {
    ctx: *mut ffi::sqlite3_context,
    args: &'a [*mut ffi::sqlite3_value],
}

/// A function's error: the message, and the result code SQLite reports.
pub(crate) struct Failure {
    pub(crate) code: c_int,
    pub(crate) message: String,
}

type Body = dyn Fn(&Call<'_>) -> Result<Value, Failure> + Send + 'static;

impl Call<'_> {
    /// How many arguments the call has.
    pub(crate) fn len(&self) -> usize {
        self.args.len()
    }

    /// One of the calling connection's limits (`sqlite3_limit`, read only).
    pub(crate) fn limit(&self, id: c_int) -> c_int {
        // SAFETY: the handle of the connection running this call; a negative
        // new value only reads the limit.
        unsafe { ffi::sqlite3_limit(ffi::sqlite3_context_db_handle(self.ctx), id, -1) }
    }

    /// Argument `i`, which must be below [`Call::len`].
    pub(crate) fn get_raw(&self, i: usize) -> ValueRef<'_> {
        let value = self.args[i];
        // SAFETY: value is an argument of this call, valid until it returns;
        // the borrowed text and blob live as long as `self` does.
        unsafe {
            match ffi::sqlite3_value_type(value) {
                ffi::SQLITE_INTEGER => ValueRef::Integer(ffi::sqlite3_value_int64(value)),
                ffi::SQLITE_FLOAT => ValueRef::Real(ffi::sqlite3_value_double(value)),
                ffi::SQLITE_TEXT => {
                    // SAFETY: text first, then its length, as SQLite asks.
                    let text = ffi::sqlite3_value_text(value);
                    let len = ffi::sqlite3_value_bytes(value);
                    ValueRef::Text(bytes(text.cast(), len))
                }
                ffi::SQLITE_BLOB => {
                    // SAFETY: as above.
                    let blob = ffi::sqlite3_value_blob(value);
                    let len = ffi::sqlite3_value_bytes(value);
                    ValueRef::Blob(bytes(blob.cast(), len))
                }
                _ => ValueRef::Null,
            }
        }
    }

    /// Runs `body` with the connection the function was called on.
    pub(crate) fn with_connection<T>(
        &self,
        body: impl FnOnce(&Connection) -> T,
    ) -> rusqlite::Result<T> {
        // SAFETY: ctx is this call's context.
        let db = unsafe { ffi::sqlite3_context_db_handle(self.ctx) };
        // SAFETY: the handle of the connection running this call; the
        // Connection does not close it when dropped, and is used only during
        // this call, on the thread SQLite called the function on.
        let conn = unsafe { Connection::from_handle(db) }?;
        let _calling = CallingDb::enter(db);
        Ok(body(&conn))
    }
}

thread_local! {
    /// The connection of the function body running on this thread, if any.
    static CALLING_DB: Cell<*mut ffi::sqlite3> = const { Cell::new(std::ptr::null_mut()) };
}

/// Marks `db` as the calling connection while a body runs, and restores
/// the outer one (a function called from inside another) when it returns
/// or unwinds.
struct CallingDb(*mut ffi::sqlite3);

impl CallingDb {
    fn enter(db: *mut ffi::sqlite3) -> Self {
        CallingDb(CALLING_DB.with(|c| c.replace(db)))
    }
}

impl Drop for CallingDb {
    fn drop(&mut self) {
        CALLING_DB.with(|c| c.set(self.0));
    }
}

/// The extended result code of the last failure on the connection of the
/// function running on this thread, when its primary code is `primary`.
///
/// rusqlite builds its errors from the code an API call returns, and a
/// host's connection usually has extended result codes off, so that code
/// is the primary one only: SQLITE_BUSY for SQLITE_BUSY_SNAPSHOT. Read
/// right after the failure, `sqlite3_extended_errcode` still has it.
pub(crate) fn calling_extended_code(primary: c_int) -> Option<c_int> {
    let db = CALLING_DB.with(Cell::get);
    if db.is_null() {
        return None;
    }
    // SAFETY: CALLING_DB holds a handle only while a function body runs on
    // it on this thread (SQLite holds its mutex for us); reading the last
    // error code changes nothing.
    let code = unsafe { ffi::sqlite3_extended_errcode(db) };
    (code & 0xff == primary).then_some(code)
}

/// `len` bytes at `data` (NULL when empty) as a slice.
///
/// # Safety
/// `data` must point to `len` readable bytes that outlive `'a`.
unsafe fn bytes<'a>(data: *const u8, len: c_int) -> &'a [u8] {
    match usize::try_from(len) {
        Ok(len) if len > 0 && !data.is_null() => {
            // SAFETY: the caller's promise.
            unsafe { std::slice::from_raw_parts(data, len) }
        }
        _ => &[],
    }
}

/// Registers `body` as the scalar function `name` (any argument count).
pub(crate) fn create_scalar_function(
    conn: &Connection,
    name: &str,
    flags: FunctionFlags,
    body: impl Fn(&Call<'_>) -> Result<Value, Failure> + Send + 'static,
) -> rusqlite::Result<()> {
    let c_name = CString::new(name)?;
    let boxed: Box<Box<Body>> = Box::new(Box::new(body));
    // SAFETY: the handle is valid while conn is; SQLite owns the box from
    // here on and frees it with drop_body, also when registering fails.
    let rc = unsafe {
        ffi::sqlite3_create_function_v2(
            conn.handle(),
            c_name.as_ptr(),
            -1,
            flags.bits(),
            Box::into_raw(boxed).cast::<c_void>(),
            Some(call_body),
            None,
            None,
            Some(drop_body),
        )
    };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(rusqlite::Error::SqliteFailure(
            ffi::Error::new(rc),
            Some(format!("registering {name}()")),
        ))
    }
}

unsafe extern "C" fn drop_body(body: *mut c_void) {
    // SAFETY: the pointer create_scalar_function handed to SQLite, freed once.
    let body = unsafe { Box::from_raw(body.cast::<Box<Body>>()) };
    // Nothing can be reported from here; a panic must not unwind into SQLite.
    let _ = catch("freeing a function", || drop(body));
}

unsafe extern "C" fn call_body(
    ctx: *mut ffi::sqlite3_context,
    argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) {
    // SAFETY: SQLite passes argc arguments at argv (NULL when there are none).
    let args = match usize::try_from(argc) {
        Ok(n) if n > 0 && !argv.is_null() => unsafe { std::slice::from_raw_parts(argv, n) },
        _ => &[],
    };
    // SAFETY: the user data is the Box<Body> create_scalar_function gave
    // SQLite, alive until drop_body.
    let body = unsafe { &*ffi::sqlite3_user_data(ctx).cast::<Box<Body>>() };
    let call = Call { ctx, args };
    let result = catch("a function", || body(&call)).unwrap_or_else(|message| {
        Err(Failure {
            code: ffi::SQLITE_ERROR,
            message,
        })
    });
    // SAFETY: ctx is this call's context; each result call copies its data.
    unsafe {
        match result {
            Ok(value) => set_result(ctx, &value),
            Err(failure) => {
                let message = failure.message.as_bytes();
                let len = c_int::try_from(message.len()).unwrap_or(c_int::MAX);
                ffi::sqlite3_result_error(ctx, message.as_ptr().cast(), len);
                // After the message: sqlite3_result_error resets the code.
                if failure.code != ffi::SQLITE_ERROR {
                    ffi::sqlite3_result_error_code(ctx, failure.code);
                }
            }
        }
    }
}

/// # Safety
/// `ctx` must be the context of the running call.
unsafe fn set_result(ctx: *mut ffi::sqlite3_context, value: &Value) {
    // SAFETY: the caller's promise; SQLITE_TRANSIENT makes SQLite copy.
    unsafe {
        match value {
            Value::Null => ffi::sqlite3_result_null(ctx),
            Value::Integer(n) => ffi::sqlite3_result_int64(ctx, *n),
            Value::Real(r) => ffi::sqlite3_result_double(ctx, *r),
            Value::Text(text) if text.is_empty() => {
                ffi::sqlite3_result_text(ctx, c"".as_ptr(), 0, ffi::SQLITE_STATIC())
            }
            Value::Text(text) => ffi::sqlite3_result_text64(
                ctx,
                text.as_ptr().cast(),
                text.len() as ffi::sqlite3_uint64,
                ffi::SQLITE_TRANSIENT(),
                ffi::SQLITE_UTF8 as u8,
            ),
            Value::Blob(blob) if blob.is_empty() => ffi::sqlite3_result_zeroblob(ctx, 0),
            Value::Blob(blob) => ffi::sqlite3_result_blob64(
                ctx,
                blob.as_ptr().cast(),
                blob.len() as ffi::sqlite3_uint64,
                ffi::SQLITE_TRANSIENT(),
            ),
        }
    }
}
