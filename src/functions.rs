//! The extension's scalar SQL functions, registered from one table.
//!
//! | function | flags | why |
//! |---|---|---|
//! | `trigger_version()` | deterministic, innocuous | a constant |
//! | `trigger_debug()` | innocuous | reads nothing but versions |
//! | `trigger_pack_sql(pack [, params_json])` | deterministic, innocuous | renders text, touches no table |
//! | `trigger_install(pack [, params_json])` | direct-only | changes the schema |
//! | `trigger_uninstall(pack)` | direct-only | changes the schema |
//!
//! Direct-only functions cannot run from a trigger or view, so a database
//! file from elsewhere cannot make them run when it is opened and queried.
//! Every function checks its argument count and types itself and names the
//! bad argument in its error.
use std::ops::RangeInclusive;

use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::{Value, ValueRef};
use rusqlite::Connection;

use crate::{ffi, packs};

/// One SQL function: its name, arguments, flags and body.
pub struct SqlFunction {
    pub name: &'static str,
    /// The argument names, as shown in error messages.
    pub signature: &'static str,
    pub args: RangeInclusive<usize>,
    pub flags: FunctionFlags,
    body: fn(&Args<'_, '_>) -> Result<Value, String>,
}

const PURE: FunctionFlags = FunctionFlags::SQLITE_UTF8
    .union(FunctionFlags::SQLITE_DETERMINISTIC)
    .union(FunctionFlags::SQLITE_INNOCUOUS);
const INNOCUOUS: FunctionFlags = FunctionFlags::SQLITE_UTF8.union(FunctionFlags::SQLITE_INNOCUOUS);
const ADMIN: FunctionFlags = FunctionFlags::SQLITE_UTF8.union(FunctionFlags::SQLITE_DIRECTONLY);

/// Every scalar function of the extension.
pub const FUNCTIONS: &[SqlFunction] = &[
    SqlFunction {
        name: "trigger_version",
        signature: "",
        args: 0..=0,
        flags: PURE,
        body: |_| Ok(Value::Text(crate::VERSION.into())),
    },
    SqlFunction {
        name: "trigger_debug",
        signature: "",
        args: 0..=0,
        flags: INNOCUOUS,
        body: |_| Ok(Value::Text(debug_text())),
    },
    SqlFunction {
        name: "trigger_pack_sql",
        signature: "pack [, params_json]",
        args: 1..=2,
        flags: PURE,
        body: |a| {
            let sql = packs::pack_sql(
                &a.text(0, "pack")?,
                a.opt_text(1, "params_json")?.as_deref(),
            );
            sql.map(Value::Text).map_err(|e| e.to_string())
        },
    },
    SqlFunction {
        name: "trigger_install",
        signature: "pack [, params_json]",
        args: 1..=2,
        flags: ADMIN,
        body: |a| {
            let (pack, params) = (a.text(0, "pack")?, a.opt_text(1, "params_json")?);
            a.with_connection(|conn| packs::install(conn, &pack, params.as_deref()))
        },
    },
    SqlFunction {
        name: "trigger_uninstall",
        signature: "pack",
        args: 1..=1,
        flags: ADMIN,
        body: |a| {
            let pack = a.text(0, "pack")?;
            a.with_connection(|conn| packs::uninstall(conn, &pack))
        },
    },
];

/// Registers every function in [`FUNCTIONS`] on `conn`, stopping at the
/// first one SQLite refuses.
pub fn register(conn: &Connection) -> crate::Result<()> {
    for f in FUNCTIONS {
        conn.create_scalar_function(f.name, -1, f.flags, move |ctx| f.call(ctx))
            .map_err(crate::Error::sqlite(format!("registering {}()", f.name)))?;
    }
    Ok(())
}

impl SqlFunction {
    fn call(&'static self, ctx: &Context<'_>) -> rusqlite::Result<Value> {
        let args = Args {
            ctx,
            function: self,
        };
        let result = if self.args.contains(&ctx.len()) {
            (self.body)(&args)
        } else {
            Err(format!(
                "takes {} ({}), got {}",
                count(&self.args),
                if self.signature.is_empty() {
                    "no arguments"
                } else {
                    self.signature
                },
                count_args(ctx.len())
            ))
        };
        result.map_err(|message| {
            rusqlite::Error::UserFunctionError(format!("{}(): {message}", self.name).into())
        })
    }
}

fn count(range: &RangeInclusive<usize>) -> String {
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    if range.start() == range.end() {
        format!("{} {}", range.start(), plural(*range.start()))
    } else {
        format!(
            "{} or {} {}",
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
struct Args<'a, 'ctx> {
    ctx: &'a Context<'ctx>,
    function: &'static SqlFunction,
}

impl Args<'_, '_> {
    /// A required text argument.
    fn text(&self, i: usize, name: &str) -> Result<String, String> {
        self.opt_text(i, name)?
            .ok_or_else(|| format!("argument {} ({name}) must be text, got NULL", i + 1))
    }

    /// An optional text argument: absent or NULL is `None`.
    fn opt_text(&self, i: usize, name: &str) -> Result<Option<String>, String> {
        if i >= self.ctx.len() {
            return Ok(None);
        }
        match self.ctx.get_raw(i) {
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

    /// Runs `body` on the calling connection; its error or its text result
    /// becomes the function's.
    fn with_connection(
        &self,
        body: impl FnOnce(&Connection) -> crate::Result<String>,
    ) -> Result<Value, String> {
        match ffi::with_connection(self.ctx, body) {
            Ok(Ok(text)) => Ok(Value::Text(text)),
            Ok(Err(e)) => Err(e.to_string()),
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
