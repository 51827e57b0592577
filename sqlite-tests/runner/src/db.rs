//! The SQLite side of the runner: one connection implementing the
//! `sqllogictest::DB` trait, with values formatted the way SQLite's own
//! sqllogictest driver (`slt_sqlite.c`) formats them.

use std::ffi::{c_char, c_int, CStr, CString};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::ffi;
use sqllogictest::{DBOutput, DefaultColumnType, DB};

/// What the DB must know about the record about to run, beyond its SQL
/// (which is all the crate passes on). The runner fills it in right before
/// handing each record to the crate's `Runner`.
#[derive(Debug, Clone, Default)]
pub struct RecordInfo {
    /// The column letters of a `query` record (`query ITR`); empty for
    /// statements, whose columns are then formatted as text.
    pub types: Vec<DefaultColumnType>,
    /// SQLite's reference driver stops reading a query's rows at the first
    /// step that does not return a row, and reports no error for a step
    /// that fails (only a prepare error fails a query). Set for `query`
    /// records of SQLite's own `.test` files, whose expected results rely
    /// on it (e.g. `SELECT sum(x)` overflowing gives an empty result).
    pub step_error_ends_result: bool,
}

pub type SharedRecordInfo = Arc<Mutex<RecordInfo>>;

/// An SQL error; displays as SQLite's own error message, so a script can
/// say `statement error no such table: t1`.
#[derive(Debug, Clone)]
pub struct SqlError(pub String);

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SqlError {}

/// The SQLite version the binary runs, and how it was linked.
pub fn sqlite_version() -> String {
    let how = if cfg!(feature = "bundled") {
        "bundled"
    } else {
        "system"
    };
    format!("{} ({how})", rusqlite::version())
}

/// How to open a connection for one test file.
#[derive(Clone)]
pub struct OpenParams {
    pub db_path: PathBuf,
    pub extension: Option<PathBuf>,
    pub record_info: SharedRecordInfo,
}

/// One SQLite connection to a test file's database.
pub struct SqliteDb {
    conn: rusqlite::Connection,
    record_info: SharedRecordInfo,
}

impl SqliteDb {
    /// Opens (creating it if needed) the database file, turns extension
    /// loading on and loads the extension, if any. Extension loading stays
    /// enabled so scripts may call `load_extension()` themselves.
    pub fn open(p: &OpenParams) -> Result<Self, SqlError> {
        let conn = rusqlite::Connection::open(&p.db_path).map_err(|e| {
            SqlError(format!("cannot open database {}: {e}", p.db_path.display()))
        })?;
        // Same as SQLite's reference driver: no fsync, the file is thrown away.
        conn.execute_batch("PRAGMA synchronous=OFF")
            .map_err(|e| SqlError(e.to_string()))?;
        // SAFETY: we load only the extension named on the command line, and
        // scripts are trusted test code.
        unsafe {
            conn.load_extension_enable()
                .map_err(|e| SqlError(format!("cannot enable extension loading: {e}")))?;
            if let Some(ext) = &p.extension {
                conn.load_extension(ext, None::<&str>).map_err(|e| {
                    SqlError(format!("cannot load extension {}: {e}", ext.display()))
                })?;
            }
        }
        Ok(SqliteDb {
            conn,
            record_info: p.record_info.clone(),
        })
    }
}

impl DB for SqliteDb {
    type Error = SqlError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SqlError> {
        let info = self
            .record_info
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default();
        // SAFETY: the handle stays valid while `self.conn` lives, and we use
        // it on this thread only.
        unsafe { execute(self.conn.handle(), sql, &info) }
    }

    fn engine_name(&self) -> &str {
        "sqlite"
    }
}

/// Runs every statement in `sql`, like `sqlite3_exec`. The result is the
/// rows of the last statement that has result columns, or the change count
/// if none has.
unsafe fn execute(
    db: *mut ffi::sqlite3,
    sql: &str,
    info: &RecordInfo,
) -> Result<DBOutput<DefaultColumnType>, SqlError> {
    let types = &info.types;
    let csql = CString::new(sql).map_err(|_| SqlError("SQL text contains a NUL byte".into()))?;
    let mut tail: *const c_char = csql.as_ptr();
    let mut result: Option<(Vec<DefaultColumnType>, Vec<Vec<String>>)> = None;

    while *tail != 0 {
        let mut stmt: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
        let mut next: *const c_char = std::ptr::null();
        let rc = ffi::sqlite3_prepare_v2(db, tail, -1, &mut stmt, &mut next);
        if rc != ffi::SQLITE_OK {
            let msg = errmsg(db);
            ffi::sqlite3_finalize(stmt);
            return Err(SqlError(msg));
        }
        if next.is_null() || next == tail {
            ffi::sqlite3_finalize(stmt);
            break; // nothing left that SQLite can consume
        }
        tail = next;
        if stmt.is_null() {
            continue; // only whitespace or a comment
        }
        let ncol = ffi::sqlite3_column_count(stmt);
        let col_types: Vec<DefaultColumnType> = (0..ncol as usize)
            .map(|i| types.get(i).cloned().unwrap_or(DefaultColumnType::Text))
            .collect();
        let mut rows = Vec::new();
        loop {
            match ffi::sqlite3_step(stmt) {
                ffi::SQLITE_ROW => {
                    if ncol > 0 {
                        let row = (0..ncol)
                            .map(|i| format_value(stmt, i, &col_types[i as usize]))
                            .collect();
                        rows.push(row);
                    }
                }
                ffi::SQLITE_DONE => break,
                _ if info.step_error_ends_result => {
                    ffi::sqlite3_finalize(stmt);
                    return Ok(DBOutput::Rows {
                        types: col_types,
                        rows,
                    });
                }
                _ => {
                    let msg = errmsg(db);
                    ffi::sqlite3_finalize(stmt);
                    return Err(SqlError(msg));
                }
            }
        }
        ffi::sqlite3_finalize(stmt);
        if ncol > 0 {
            result = Some((col_types, rows));
        }
    }

    Ok(match result {
        Some((types, rows)) => DBOutput::Rows { types, rows },
        None => DBOutput::StatementComplete(ffi::sqlite3_changes(db).max(0) as u64),
    })
}

unsafe fn errmsg(db: *mut ffi::sqlite3) -> String {
    let p = ffi::sqlite3_errmsg(db);
    if p.is_null() {
        "unknown error".to_string()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// Formats one result value by the column letter, as SQLite's reference
/// driver does: NULL is `NULL`; `I` is `sqlite3_column_int64` printed as a
/// decimal; `R` is `sqlite3_column_double` printed by SQLite's own
/// `%.3f`; anything else is the text, `(empty)` if empty, with control
/// characters (below 0x20, and 0x7f) shown as `@`.
unsafe fn format_value(stmt: *mut ffi::sqlite3_stmt, i: c_int, ty: &DefaultColumnType) -> String {
    if ffi::sqlite3_column_type(stmt, i) == ffi::SQLITE_NULL {
        return "NULL".to_string();
    }
    match ty {
        DefaultColumnType::Integer => ffi::sqlite3_column_int64(stmt, i).to_string(),
        DefaultColumnType::FloatingPoint => {
            let r = ffi::sqlite3_column_double(stmt, i);
            let mut buf = [0 as c_char; 400];
            ffi::sqlite3_snprintf(
                buf.len() as c_int,
                buf.as_mut_ptr(),
                c"%.3f".as_ptr(),
                r,
            );
            CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
        }
        _ => {
            let p = ffi::sqlite3_column_text(stmt, i);
            let n = ffi::sqlite3_column_bytes(stmt, i);
            if p.is_null() || n <= 0 {
                return "(empty)".to_string();
            }
            let bytes: Vec<u8> = std::slice::from_raw_parts(p, n as usize)
                .iter()
                .map(|&b| if b < 0x20 || b == 0x7f { b'@' } else { b })
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }
}
