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
        let conn = rusqlite::Connection::open(&p.db_path)
            .map_err(|e| SqlError(format!("cannot open database {}: {e}", p.db_path.display())))?;
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
/// decimal; `R` is `sqlite3_column_double` printed as SQLite's `%.3f` does
/// (see [`format_real`]); anything else is the text, `(empty)` if empty,
/// with control characters (below 0x20, and 0x7f) shown as `@`.
unsafe fn format_value(stmt: *mut ffi::sqlite3_stmt, i: c_int, ty: &DefaultColumnType) -> String {
    if ffi::sqlite3_column_type(stmt, i) == ffi::SQLITE_NULL {
        return "NULL".to_string();
    }
    match ty {
        DefaultColumnType::Integer => ffi::sqlite3_column_int64(stmt, i).to_string(),
        DefaultColumnType::FloatingPoint => format_real(ffi::sqlite3_column_double(stmt, i)),
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

/// `printf("%.3f", r)` as the bundled SQLite 3.53.2 prints it: rounded to 3
/// decimals, but to no more than 16 significant digits, so
/// `-9223372036854775808.0` prints as `-9223372036854776000.000`. Older
/// SQLite (the system 3.40.1) truncates to 16 digits instead
/// (`...775000.000`); doing it here keeps the output, and the expected
/// results of SQLite's corpus, the same on every host.
///
/// This follows SQLite's `sqlite3FpDecode` (with `sqlite3Fp2Convert10`):
/// the value is first rounded to an integer `D` of 18 or 19 digits, times
/// a power of ten estimated from the binary exponent; then rounded half up
/// at the third decimal or the 16th significant digit, whichever comes
/// first; then laid out around the decimal point. A test checks it against
/// the bundled SQLite's own printf: they agree on every value below 1e27
/// (where SQLite's powers of ten are exact); above, SQLite's approximate
/// scaling may put a different 16th digit, about once in 10^4 values.
pub fn format_real(r: f64) -> String {
    const DECIMALS: i32 = 3;
    const MAX_DIGITS: i32 = 16;
    if r.is_nan() {
        return "NaN".to_string();
    }
    if r.is_infinite() {
        return if r < 0.0 { "-Inf" } else { "Inf" }.to_string();
    }
    if r == 0.0 {
        return "0.000".to_string(); // -0.0 too, as in SQLite
    }
    let a = r.abs();

    // SQLite's estimate of the decimal exponent, from the binary one.
    let bits = a.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & 0x000f_ffff_ffff_ffff;
    let e = if biased == 0 {
        -1074 - frac.leading_zeros() as i32 // subnormal
    } else {
        biased - 1086
    };
    let p = 17 - (((e + 63) * 78913) >> 18);

    // D = a * 10^p rounded half up, from the exact decimal digits of `a`
    // (61 significant digits are plenty: no rounding that far out can
    // reach the 20 digits used here).
    let sci = format!("{:.60e}", a);
    let (mantissa, exp10) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp10: i32 = exp10.parse().unwrap_or(0);
    let exact: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let ndig = (exp10 + 1 + p).clamp(1, 40) as usize;
    let mut digits: Vec<u8> = exact[..ndig].to_vec();
    if exact[ndig] >= b'5' {
        round_up(&mut digits);
    }
    let mut idp = digits.len() as i32 - p; // digits before the decimal point

    // Round to 3 decimals, or 16 significant digits.
    let mut round_at = idp + DECIMALS;
    if round_at == 0 && digits[0] >= b'5' {
        digits.insert(0, b'0');
        idp += 1;
        round_at = 1;
    }
    let n = digits.len() as i32;
    if round_at > 0 && (round_at < n || n > MAX_DIGITS) {
        let keep = round_at.min(MAX_DIGITS) as usize;
        let up = digits[keep] >= b'5';
        digits.truncate(keep);
        if up && round_up(&mut digits) {
            idp += 1;
        }
    }

    let digit = |k: i32| -> char {
        usize::try_from(k)
            .ok()
            .and_then(|k| digits.get(k))
            .map_or('0', |&d| d as char)
    };
    let mut out = String::new();
    if r < 0.0 {
        out.push('-');
    }
    if idp <= 0 {
        out.push('0');
    } else {
        out.extend((0..idp).map(digit));
    }
    out.push('.');
    out.extend((idp..idp + DECIMALS).map(digit));
    out
}

/// Adds one unit in the last place of a decimal digit string; returns true
/// if that carried into a new leading digit.
fn round_up(digits: &mut Vec<u8>) -> bool {
    for d in digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return false;
        }
    }
    digits.insert(0, b'1');
    true
}

#[cfg(test)]
mod tests {
    use super::format_real;

    #[test]
    fn real_formatting() {
        let cases = [
            (0.0, "0.000"),
            (-0.0, "0.000"),
            (1.0, "1.000"),
            (2.5, "2.500"),
            (0.0005, "0.001"),
            (0.0004, "0.000"),
            (-0.00001, "-0.000"),
            (0.9995, "1.000"),
            (999.9996, "1000.000"),
            (-9223372036854775808.0, "-9223372036854776000.000"),
            (-18446744073709551616.0, "-18446744073709550000.000"),
            (1e20, "100000000000000000000.000"),
            (123.456789, "123.457"),
            (f64::INFINITY, "Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (r, want) in cases {
            assert_eq!(format_real(r), want, "{r:e}");
        }
    }

    /// The bundled SQLite's own printf must agree on many values.
    #[cfg(feature = "bundled")]
    #[test]
    fn real_formatting_matches_bundled_sqlite() {
        use rusqlite::ffi;
        use std::ffi::{c_char, c_int, CStr};
        let sqlite = |r: f64| unsafe {
            let mut buf = [0 as c_char; 400];
            ffi::sqlite3_snprintf(buf.len() as c_int, buf.as_mut_ptr(), c"%.3f".as_ptr(), r);
            CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
        };
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..200_000 {
            let r = match i % 4 {
                0 => f64::from_bits(next()),
                1 => (next() as i64) as f64 / 1000.0,
                2 => (next() % 2_000_000) as f64 / 2000.0 - 500.0,
                _ => (next() as f64) * 10f64.powi((next() % 40) as i32 - 20),
            };
            if r.is_nan() {
                continue;
            }
            // Past 1e27 SQLite scales by an approximate power of ten, and
            // the two may differ in the 16th digit (about 1 value in 10^4).
            if r.abs() < 1e27 {
                assert_eq!(format_real(r), sqlite(r), "{r:e} ({:#x})", r.to_bits());
            }
        }
    }
}
