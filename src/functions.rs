//! How the extension's scalar SQL functions are declared, checked and
//! registered: each feature module has a table of [`SqlFunction`]s, with
//! the flags of each and why, and registers it through [`register`]. The
//! core functions, `trigger_version()` and `trigger_debug()`, live here
//! (`CORE`). Every function is listed in `docs/reference.md`.
//!
//! Direct-only functions cannot run from a trigger or view, so a database
//! file from elsewhere cannot make them run when it is opened and queried.
//! SQLite does not stop them in CHECK constraints, generated columns or
//! indexes of a schema read from a file, so a direct-only function also
//! refuses to run unless a running statement's SQL names it
//! (`ffi::running_statement_names`).
//! Every function checks its argument count and types itself and names the
//! bad argument in its error.
use std::cell::Cell;
use std::ffi::c_int;
use std::ops::RangeInclusive;
use std::sync::Arc;

use rusqlite::functions::FunctionFlags;
use rusqlite::types::{Value, ValueRef};
use rusqlite::Connection;

use crate::ffi;
use crate::session::Session;

/// One SQL function: its name, arguments, flags and body.
pub struct SqlFunction {
    pub name: &'static str,
    /// The argument names, as shown in error messages.
    pub signature: &'static str,
    pub args: RangeInclusive<usize>,
    pub flags: FunctionFlags,
    pub(crate) body: fn(&Args<'_, '_>) -> Result<Value, String>,
}

pub(crate) const PURE: FunctionFlags = FunctionFlags::SQLITE_UTF8
    .union(FunctionFlags::SQLITE_DETERMINISTIC)
    .union(FunctionFlags::SQLITE_INNOCUOUS);
pub(crate) const INNOCUOUS: FunctionFlags =
    FunctionFlags::SQLITE_UTF8.union(FunctionFlags::SQLITE_INNOCUOUS);
pub(crate) const ADMIN: FunctionFlags =
    FunctionFlags::SQLITE_UTF8.union(FunctionFlags::SQLITE_DIRECTONLY);

/// The core functions: versions. Each feature module has its own table and
/// registers it.
pub(crate) const CORE: &[SqlFunction] = &[
    SqlFunction {
        name: "trigger_version",
        signature: "",
        args: 0..=0,
        // deterministic, innocuous: a constant
        flags: PURE,
        body: |_| Ok(Value::Text(crate::VERSION.into())),
    },
    SqlFunction {
        name: "trigger_debug",
        signature: "",
        args: 0..=0,
        // innocuous: reads nothing but versions
        flags: INNOCUOUS,
        body: |_| Ok(Value::Text(debug_text())),
    },
];

/// Registers the functions of `table` on `conn`, stopping at the first one
/// SQLite refuses. Each function gets the connection's [`Session`]. Every
/// feature registers its own table (see [`crate::register`]).
pub(crate) fn register(
    conn: &Connection,
    session: &Arc<Session>,
    table: &'static [SqlFunction],
) -> crate::Result<()> {
    for f in table {
        let session = Arc::clone(session);
        ffi::create_scalar_function(conn, f.name, f.flags, move |call| f.call(call, &session))
            .map_err(crate::Error::sqlite(format!("registering {}()", f.name)))?;
    }
    Ok(())
}

impl SqlFunction {
    fn call(
        &'static self,
        call: &ffi::Call<'_>,
        session: &Arc<Session>,
    ) -> Result<Value, ffi::Failure> {
        let args = Args {
            call,
            function: self,
            session,
            code: Cell::new(rusqlite::ffi::SQLITE_ERROR),
        };
        let result = if self.flags.contains(FunctionFlags::SQLITE_DIRECTONLY)
            && !ffi::running_statement_names(call, self.name)
        {
            Err(format!(
                "refused: this call does not come from SQL you ran but from the \
                 database's schema (a view, trigger, CHECK constraint, generated \
                 column, DEFAULT or index); call {}() yourself, in the statement you run",
                self.name
            ))
        } else if self.args.contains(&call.len()) {
            match Nesting::enter(call, self.name) {
                // A panic would reach the user as a bare "unwinding panic";
                // caught here, the message still names the function.
                Ok(_nesting) => ffi::catch("this function", || (self.body)(&args)).and_then(|r| r),
                Err(message) => Err(message),
            }
        } else {
            Err(format!(
                "takes {} ({}), got {}",
                count(&self.args),
                if self.signature.is_empty() {
                    "no arguments"
                } else {
                    self.signature
                },
                count_args(call.len())
            ))
        };
        result.map_err(|message| ffi::Failure {
            code: args.code.get(),
            // A nesting error travels out through every level; each would
            // add its own prefix, so the innermost message is passed on.
            message: NESTING_ERROR
                .with(|e| e.borrow().clone())
                .unwrap_or_else(|| format!("{}(): {message}", self.name)),
        })
    }
}

thread_local! {
    /// How many calls of the extension's functions are running on this
    /// thread's stack, one inside another.
    static DEPTH: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
    /// The error of a call refused for nesting too deep, while it travels
    /// out through the calls around it.
    static NESTING_ERROR: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Whether the running call is the outermost call of an extension function
/// on this thread's stack (no other one is running around it).
pub(crate) fn outermost_call() -> bool {
    DEPTH.with(|d| d.get()) <= 1
}

/// One running call of an extension function on this thread.
///
/// `trigger_emit`, `trigger_call` and the functions that change the schema
/// run SQL from inside the statement that called them. That SQL may fire a
/// trigger that calls them again, and SQLite's own trigger-depth limit never
/// sees it: each level is a new statement, and a new native stack frame. So
/// every call counts how deep it is nested and refuses to go past the
/// connection's `SQLITE_LIMIT_TRIGGER_DEPTH`, the bound SQLite puts on
/// trigger recursion, before the host's stack runs out.
struct Nesting;

impl Nesting {
    fn enter(call: &ffi::Call<'_>, function: &str) -> Result<Nesting, String> {
        let depth = DEPTH.with(|d| d.get());
        if depth == 0 {
            NESTING_ERROR.with(|e| e.borrow_mut().take());
        }
        let limit = ffi::trigger_depth_limit(call)
            .unwrap_or(DEFAULT_DEPTH_LIMIT)
            .clamp(1, MAX_DEPTH);
        if depth >= limit {
            let message = format!(
                "{function}(): too many levels of nesting: this call is nested {} deep in \
                 calls of the extension's functions, past the trigger depth limit of {limit} \
                 (SQLITE_LIMIT_TRIGGER_DEPTH); a trigger that calls trigger_emit() or \
                 trigger_call() fires again from the SQL that call runs, e.g. a trigger on \
                 trigger_outbox that emits",
                depth + 1
            );
            NESTING_ERROR.with(|e| *e.borrow_mut() = Some(message.clone()));
            return Err(message);
        }
        if depth > 0 {
            if let Some(left) = ffi::stack_remaining().filter(|&left| left < STACK_RESERVE) {
                let message = format!(
                    "{function}(): too many levels of nesting: this call is nested {} deep in \
                     calls of the extension's functions and only {} KiB of the thread's stack \
                     are left; a trigger that calls trigger_emit() or trigger_call() fires \
                     again from the SQL that call runs, e.g. a trigger on trigger_outbox that \
                     emits",
                    depth + 1,
                    left / 1024
                );
                NESTING_ERROR.with(|e| *e.borrow_mut() = Some(message.clone()));
                return Err(message);
            }
        }
        DEPTH.with(|d| d.set(depth + 1));
        Ok(Nesting)
    }
}

impl Drop for Nesting {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get() - 1));
    }
}

/// A nested call is refused when less stack than this is left: enough for
/// SQLite to prepare and run one more statement and report the error.
/// Each level of nesting takes a few KiB, so a thread with 1 MiB of stack
/// (the JVM's default) still nests about three hundred deep.
const STACK_RESERVE: usize = 128 * 1024;

/// SQLite's default `SQLITE_LIMIT_TRIGGER_DEPTH`, used if the connection
/// cannot be asked.
const DEFAULT_DEPTH_LIMIT: i32 = 1000;
/// The deepest nesting allowed whatever the limit says: SQLite's own
/// compile-time maximum of the trigger depth limit is 1000 too.
const MAX_DEPTH: i32 = 1000;

fn count(range: &RangeInclusive<usize>) -> String {
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    if range.start() == range.end() {
        format!("{} {}", range.start(), plural(*range.start()))
    } else {
        let word = if range.end() - range.start() == 1 {
            "or"
        } else {
            "to"
        };
        format!(
            "{} {word} {} {}",
            range.start(),
            range.end(),
            plural(*range.end())
        )
    }
}

fn count_args(n: usize) -> String {
    format!("{n} argument{}", if n == 1 { "" } else { "s" })
}

/// A function's arguments, with checked accessors that name the argument
/// in their errors.
pub(crate) struct Args<'a, 'ctx> {
    call: &'a ffi::Call<'ctx>,
    function: &'static SqlFunction,
    /// The state of the connection the function was called on.
    pub(crate) session: &'a Arc<Session>,
    /// The result code of the function's error: SQLITE_ERROR, unless
    /// [`Args::with_connection`] met an error with a code of its own
    /// (SQLITE_INTERRUPT).
    code: Cell<c_int>,
}

impl Args<'_, '_> {
    /// How many arguments the call has.
    pub(crate) fn len(&self) -> usize {
        self.call.len()
    }

    /// The raw value of argument `i` (NULL when absent).
    pub(crate) fn value(&self, i: usize) -> Value {
        if i >= self.call.len() {
            return Value::Null;
        }
        match self.call.get_raw(i) {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(n) => Value::Integer(n),
            ValueRef::Real(r) => Value::Real(r),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        }
    }

    /// Argument `i` as SQLite holds it, borrowed for the call: text and
    /// blobs are neither copied nor checked (NULL when absent).
    pub(crate) fn value_ref(&self, i: usize) -> ValueRef<'_> {
        if i >= self.call.len() {
            return ValueRef::Null;
        }
        self.call.get_raw(i)
    }

    /// A required integer argument (text is not converted).
    pub(crate) fn int(&self, i: usize, name: &str) -> Result<i64, String> {
        self.opt_int(i, name)?
            .ok_or_else(|| format!("argument {} ({name}) must be an integer, got NULL", i + 1))
    }

    /// An optional integer argument: absent or NULL is `None`.
    pub(crate) fn opt_int(&self, i: usize, name: &str) -> Result<Option<i64>, String> {
        if i >= self.call.len() {
            return Ok(None);
        }
        match self.call.get_raw(i) {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(n) => Ok(Some(n)),
            other => Err(format!(
                "argument {} ({name}) must be an integer, got {}",
                i + 1,
                type_name(other)
            )),
        }
    }

    /// An optional JSON object argument (options): absent or NULL is empty.
    pub(crate) fn options(
        &self,
        i: usize,
        name: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        let Some(text) = self.opt_text(i, name)? else {
            return Ok(serde_json::Map::new());
        };
        crate::sql::json_object(&text, &format!("argument {} ({name})", i + 1))
            .map_err(|e| e.to_string())
    }

    /// A required text argument, borrowed for the call.
    pub(crate) fn str(&self, i: usize, name: &str) -> Result<&str, String> {
        match self.value_ref(i) {
            ValueRef::Text(bytes) => std::str::from_utf8(bytes)
                .map_err(|_| format!("argument {} ({name}) is not valid UTF-8 text", i + 1)),
            // Not text: the error `text` gives.
            _ => Err(self.text(i, name).err().unwrap_or_default()),
        }
    }

    /// A required text argument.
    pub(crate) fn text(&self, i: usize, name: &str) -> Result<String, String> {
        self.opt_text(i, name)?
            .ok_or_else(|| format!("argument {} ({name}) must be text, got NULL", i + 1))
    }

    /// An optional text argument: absent or NULL is `None`.
    pub(crate) fn opt_text(&self, i: usize, name: &str) -> Result<Option<String>, String> {
        if i >= self.call.len() {
            return Ok(None);
        }
        match self.call.get_raw(i) {
            ValueRef::Null => Ok(None),
            ValueRef::Text(bytes) => String::from_utf8(bytes.to_vec())
                .map(Some)
                .map_err(|_| format!("argument {} ({name}) is not valid UTF-8 text", i + 1)),
            other => Err(format!(
                "argument {} ({name}) must be text, got {}",
                i + 1,
                type_name(other)
            )),
        }
    }

    /// Runs `body` on the calling connection with the required text
    /// argument `i`: the whole body of a function that takes one name.
    pub(crate) fn on_text<T: Into<Value>>(
        &self,
        i: usize,
        name: &str,
        body: impl FnOnce(&Connection, &str) -> crate::Result<T>,
    ) -> Result<Value, String> {
        let text = self.text(i, name)?;
        self.with_connection(|conn| body(conn, &text))
    }

    /// Runs `body` on the calling connection; its error or its text result
    /// becomes the function's, and an error keeps its result code.
    pub(crate) fn with_connection<T: Into<Value>>(
        &self,
        body: impl FnOnce(&Connection) -> crate::Result<T>,
    ) -> Result<Value, String> {
        match self.call.with_connection(body) {
            Ok(Ok(value)) => Ok(value.into()),
            Ok(Err(e)) => {
                self.code.set(e.result_code());
                Err(e.to_string())
            }
            Err(e) => Err(format!(
                "{} cannot reach its connection: {e}",
                self.function.name
            )),
        }
    }
}

fn type_name(value: ValueRef<'_>) -> &'static str {
    match value {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a real",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "a blob",
    }
}

fn debug_text() -> String {
    format!(
        "sqlite-triggers {}\nminimum SQLite {}\nrunning SQLite {}\nbuild {}",
        crate::VERSION,
        crate::MIN_SQLITE_VERSION.0,
        crate::sqlite_version(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    )
}
