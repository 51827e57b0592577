//! Running one script file against a fresh database, record by record, on
//! top of the crate's `Runner`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sqllogictest::{
    default_validator, Control, Normalizer, QueryExpect, Record, RecordOutput, ResultMode, Runner,
    TestError, TestErrorKind,
};

use crate::db::{OpenParams, RecordInfo, SqlError, SqliteDb};
use crate::script::{self, Rec};

/// What every file's run shares.
pub struct Options {
    pub extension: Option<PathBuf>,
    /// Lower-case labels for `skipif`/`onlyif`, `sqlite` first.
    pub labels: Vec<String>,
}

/// The outcome of one file.
#[derive(Debug, Default)]
pub struct FileReport {
    pub path: String,
    /// Records executed (statements, queries, and `system`/`let` if any),
    /// the failing one included.
    pub ran: usize,
    /// Records skipped by `skipif`/`onlyif`, or standing after a `halt`.
    pub skipped: usize,
    /// Records never reached because an earlier one failed.
    pub not_reached: usize,
    /// Line of the `halt` that ended the file, if one did.
    pub halted_at: Option<u32>,
    /// Why the file failed, ready to print (several lines).
    pub failure: Option<String>,
}

impl FileReport {
    /// A file that halted before running anything counts as skipped.
    pub fn is_skipped(&self) -> bool {
        self.failure.is_none() && self.ran == 0 && self.halted_at.is_some()
    }
}

/// Longest SQL, expected or actual listing printed for a failure, in lines.
const MAX_LINES: usize = 20;
/// Longest single line printed for a failure, in characters.
const MAX_LINE_CHARS: usize = 240;

thread_local! {
    /// The actual result (after sorting and hashing) that the validator saw
    /// last; used to print a mismatch in the layout of the expected result.
    static LAST_ACTUAL: RefCell<Option<Vec<Vec<String>>>> = const { RefCell::new(None) };
}

/// Accepts the expected result written either row-wise (the crate's way:
/// one row per line, values separated by spaces) or value-wise (SQLite's
/// way: one value per line), whatever the file's type. Whitespace is
/// normalised as by the crate's default validator.
fn validator(normalizer: Normalizer, actual: &[Vec<String>], expected: &[String]) -> bool {
    LAST_ACTUAL.with(|c| *c.borrow_mut() = Some(actual.to_vec()));
    if default_validator(normalizer, actual, expected) {
        return true;
    }
    let flat = actual.iter().flatten().map(normalizer);
    let expected = expected.iter().map(normalizer);
    flat.eq(expected)
}

fn is_executable(r: &Rec) -> bool {
    matches!(
        r,
        Record::Statement { .. }
            | Record::Query { .. }
            | Record::System { .. }
            | Record::Let { .. }
    )
}

/// Runs one file; never panics on bad input, every problem is in the report.
pub fn run_file(path: &Path, opts: &Options) -> FileReport {
    let mut report = FileReport {
        path: path.display().to_string(),
        ..Default::default()
    };
    let records = match script::load(path, &opts.labels) {
        Ok(r) => r,
        Err(e) => {
            report.failure = Some(format!("cannot parse: {e}"));
            return report;
        }
    };
    // SQLite's original `.test` files list results one value per line and
    // hash results of more than 8 values; our `.slt` files do neither
    // unless they say so.
    let sqlite_style = path.extension().is_some_and(|e| e == "test");

    let dir = match tempfile::Builder::new().prefix("slt-runner-").tempdir() {
        Ok(d) => d,
        Err(e) => {
            report.failure = Some(format!("cannot create a temporary directory: {e}"));
            return report;
        }
    };
    let params = OpenParams {
        db_path: dir.path().join("test.db"),
        extension: opts.extension.clone(),
        record_info: Arc::new(Mutex::new(RecordInfo::default())),
    };
    let first = match SqliteDb::open(&params) {
        Ok(db) => db,
        Err(e) => {
            report.failure = Some(e.0);
            return report;
        }
    };

    let record_info = params.record_info.clone();
    let mut runner = {
        let mut first = Some(first);
        let params = params.clone();
        // The default connection is the one opened above; a `connection`
        // record opens another connection to the same database file.
        Runner::new(move || {
            std::future::ready(match first.take() {
                Some(db) => Ok::<SqliteDb, SqlError>(db),
                None => SqliteDb::open(&params),
            })
        })
    };
    for label in &opts.labels {
        runner.add_label(label);
    }
    runner.set_var("__DATABASE__".into(), params.db_path.display().to_string());
    if let Some(ext) = &opts.extension {
        runner.set_var(
            "SQLITE_TRIGGERS_EXTENSION".into(),
            ext.display().to_string(),
        );
    }
    runner.with_hash_threshold(if sqlite_style { 8 } else { 0 });
    runner.with_validator(validator);

    let mut valuewise = sqlite_style; // layout used to print a mismatch
    let mut label_results: HashMap<String, (String, Vec<String>)> = HashMap::new();
    let total = records.iter().filter(|r| is_executable(r)).count();
    let mut seen = 0;

    for record in records {
        if let Record::Halt { loc } = &record {
            report.halted_at = Some(loc.line());
            report.skipped += total - seen;
            break;
        }
        if let Record::Control(Control::ResultMode(mode)) = &record {
            valuewise = *mode == ResultMode::ValueWise;
        }
        if !is_executable(&record) {
            if let Err(e) = runner.run(record) {
                report.failure = Some(describe(&e, valuewise));
                report.not_reached = total - seen;
                break;
            }
            continue;
        }
        seen += 1;

        let (info, label, loc) = match &record {
            Record::Query {
                expected: QueryExpect::Results { types, label, .. },
                loc,
                ..
            } => {
                let info = RecordInfo {
                    types: types.clone(),
                    step_error_ends_result: sqlite_style,
                };
                (info, label.clone(), loc.to_string())
            }
            _ => (RecordInfo::default(), None, String::new()),
        };
        if let Ok(mut shared) = record_info.lock() {
            *shared = info;
        }
        LAST_ACTUAL.with(|c| *c.borrow_mut() = None);

        match runner.run(record) {
            Ok(RecordOutput::Nothing) => report.skipped += 1,
            Ok(_) => {
                report.ran += 1;
                if let Some(msg) = check_label(&mut label_results, label, &loc) {
                    report.failure = Some(msg);
                    report.not_reached = total - seen;
                    break;
                }
            }
            Err(e) => {
                report.ran += 1;
                report.failure = Some(describe(&e, valuewise));
                report.not_reached = total - seen;
                break;
            }
        }
    }
    drop(runner); // close the connections before the directory goes
    drop(dir);
    report
}

/// SQLite's reference runner requires queries with the same label to give
/// the same result; the crate ignores labels, so this checks it.
fn check_label(
    seen: &mut HashMap<String, (String, Vec<String>)>,
    label: Option<String>,
    loc: &str,
) -> Option<String> {
    let label = label?;
    let actual: Vec<String> = LAST_ACTUAL
        .with(|c| c.borrow().clone())?
        .into_iter()
        .flatten()
        .collect();
    match seen.get(&label) {
        Some((first_loc, first)) if *first != actual => Some(format!(
            "{loc}: query result differs from that of {first_loc}, \
             which has the same label {label:?}\n[first]\n{}\n[this one]\n{}",
            listing(first.iter().map(String::as_str)),
            listing(actual.iter().map(String::as_str)),
        )),
        Some(_) => None,
        None => {
            seen.insert(label, (loc.to_string(), actual));
            None
        }
    }
}

/// Renders a failure: location, what went wrong, SQL, expected and actual.
fn describe(e: &TestError, valuewise: bool) -> String {
    let loc = e.location();
    match e.kind() {
        TestErrorKind::QueryResultMismatch {
            sql,
            expected,
            actual,
        } => {
            let actual: Vec<String> = match LAST_ACTUAL.with(|c| c.borrow().clone()) {
                Some(rows) if valuewise => rows.into_iter().flatten().collect(),
                Some(rows) => rows.iter().map(|r| r.join(" ")).collect(),
                None => actual.lines().map(str::to_string).collect(),
            };
            format!(
                "{loc}: query result mismatch\n[SQL]\n{}\n[expected]\n{}\n[actual]\n{}",
                listing(sql.lines()),
                listing(expected.lines()),
                listing(actual.iter().map(String::as_str)),
            )
        }
        kind => {
            let text = kind.display(false).to_string();
            format!("{loc}: {}", listing(text.lines()).trim_start())
        }
    }
}

/// Indents lines by two spaces, cutting long lines and long listings.
fn listing<'a>(lines: impl Iterator<Item = &'a str>) -> String {
    let lines: Vec<&str> = lines.collect();
    let mut out: Vec<String> = lines
        .iter()
        .take(MAX_LINES)
        .map(|l| {
            if l.chars().count() > MAX_LINE_CHARS {
                let cut: String = l.chars().take(MAX_LINE_CHARS).collect();
                format!("  {cut}...")
            } else {
                format!("  {l}")
            }
        })
        .collect();
    if lines.len() > MAX_LINES {
        out.push(format!("  ... ({} more lines)", lines.len() - MAX_LINES));
    }
    if out.is_empty() {
        out.push("  (nothing)".to_string());
    }
    out.join("\n")
}
