//! `slt-runner`: runs sqllogictest scripts against SQLite, optionally with a
//! loadable extension, built on the `sqllogictest` crate (its parser,
//! `Runner`, `DB` trait, result comparison, sort modes and hashing).
//!
//! # Usage
//!
//! ```text
//! slt-runner [--extension PATH_TO_SO] [--label NAME]... [--jobs N] PATH...
//! slt-runner --version | --sqlite-version | --help
//! ```
//!
//! - `PATH`: script files, or folders searched recursively for `*.slt` and
//!   `*.test` (sorted by path). While searching, folders whose name starts
//!   with `.`, folders named `target`, and folders holding a file named
//!   `.slt-skip` are passed over (such a folder still runs when named on the
//!   command line: that is how `selftest-fail/` stays out of a run over the
//!   whole tree).
//! - `--extension`: loaded into every connection with
//!   `load_extension(path)` and no entry point. A file whose extension fails
//!   to load fails. Extension loading stays enabled, so scripts may call
//!   `load_extension()` themselves; the path is also in the environment
//!   variable `SQLITE_TRIGGERS_EXTENSION`.
//! - `--label`: more names for `skipif`/`onlyif` (the label `sqlite` is
//!   always there). Engine names match case-insensitively.
//! - `--jobs N`: run N files at once (default 1); output keeps file order.
//!
//! Output: first `sqlite-version: 3.53.2 (bundled); extension: PATH|none`,
//! then one line per file, `ok   PATH (R records ran, S skipped)`,
//! `skip PATH (...)` for a file that halted before running anything, or
//! `FAIL PATH` followed by the failure, indented. A file stops at its first
//! failure; other files go on. Then exactly two summary lines:
//!
//! ```text
//! records: N ran, M skipped, K failed
//! files: N passed, K failed[, S skipped]
//! ```
//!
//! "ran" counts executed statements and queries (the failing one too);
//! "skipped" counts those skipped by `skipif`/`onlyif` or standing after a
//! `halt`; records after a failure count in neither. "failed" counts one
//! per failing file (its first failing record, or the file itself when it
//! cannot be read or parsed, or its extension cannot be loaded). Exit
//! status: 0 if nothing failed, 1 if anything failed, 2 on bad usage.
//!
//! # Each file's database
//!
//! Every file gets a fresh database file `test.db` in a fresh temporary
//! folder (deleted afterwards), not `:memory:`. With `control substitution
//! on`, a script can use `$__DATABASE__` (that file's path),
//! `$__TEST_DIR__` (another fresh folder, the crate's), and
//! `$SQLITE_TRIGGERS_EXTENSION`. A `connection NAME` record opens a second
//! connection to the same file (with the extension loaded as well).
//!
//! # Format choices
//!
//! - Values are formatted by the letter of `query` for their column, as in
//!   SQLite's own driver: `I` is `sqlite3_column_int64` (a real is
//!   truncated, non-numeric text is 0), `R` is `%.3f` of
//!   `sqlite3_column_double` exactly as SQLite 3.53's printf renders it
//!   (done by the runner, so both builds agree: SQLite 3.40's printf
//!   truncates past 16 digits where 3.53 rounds, and SQLite's corpus
//!   expects the rounding), `T` (and any other letter, and columns beyond
//!   the letters) the text; NULL is `NULL`, an empty string `(empty)`, and
//!   control characters (below 0x20, and 0x7f) print as `@`. (SQLite's
//!   driver also turns every non-ASCII byte into `@`; we keep UTF-8 text.)
//! - Result layout: every file's expected results may be written row-wise
//!   (the crate's way, `1 2 3` on one line per row) or value-wise (SQLite's
//!   way, one value per line); the validator accepts a match in either
//!   layout, so `.test` and `.slt` files need no marker. `control
//!   resultmode` still works.
//! - Hashing: `.test` files start with hash threshold 8 (SQLite's default),
//!   other files with 0 (never hash); a `hash-threshold` record changes it.
//!   The hash is the crate's: MD5 over each value followed by `\n`, after
//!   sorting, as SQLite's reference does.
//! - Script text is pre-processed line for line (line numbers do not move):
//!   trailing blanks and CRs go, `skipif`/`onlyif` lose a trailing
//!   `# comment` and their engine name is lower-cased, and a `halt` guarded
//!   by `skipif`/`onlyif` is decided there (the crate's parser would attach
//!   the guard to the next record instead).
//! - A record's SQL may hold several statements; all run (as
//!   `sqlite3_exec` does), and a query's result is that of the last
//!   statement returning columns. Error messages are SQLite's own text.
//! - In `.test` files only, a `query` whose step fails (not its prepare)
//!   simply ends its result there, with no error, as in SQLite's reference
//!   driver; the corpus relies on it (`SELECT sum(x)` overflowing is
//!   expected to give no rows). In other files a failing step is an error.
//! - Queries sharing a label must give the same result, as in SQLite's
//!   reference runner.

mod db;
mod run;
mod script;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use run::{FileReport, Options};

const USAGE: &str =
    "usage: slt-runner [--extension PATH_TO_SO] [--label NAME]... [--jobs N] PATH...
       slt-runner --version | --sqlite-version | --help";

struct Args {
    extension: Option<PathBuf>,
    labels: Vec<String>,
    jobs: usize,
    paths: Vec<PathBuf>,
}

enum Parsed {
    Run(Args),
    /// Print this and exit 0.
    Info(String),
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut args = Args {
        extension: None,
        labels: Vec::new(),
        jobs: 1,
        paths: Vec::new(),
    };
    let mut only_paths = false;
    while let Some(arg) = argv.next() {
        if only_paths || !arg.starts_with("--") {
            args.paths.push(PathBuf::from(arg));
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| argv.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--" => only_paths = true,
            "--help" => return Ok(Parsed::Info(USAGE.to_string())),
            "--version" => {
                return Ok(Parsed::Info(format!(
                    "slt-runner {} (SQLite {})",
                    env!("CARGO_PKG_VERSION"),
                    db::sqlite_version()
                )))
            }
            "--sqlite-version" => return Ok(Parsed::Info(rusqlite::version().to_string())),
            "--extension" => args.extension = Some(PathBuf::from(value("--extension")?)),
            "--label" => args.labels.push(value("--label")?.to_lowercase()),
            "--jobs" => {
                let v = value("--jobs")?;
                args.jobs = match v.parse::<usize>() {
                    Ok(n) if n >= 1 => n,
                    _ => {
                        return Err(format!(
                            "--jobs needs a whole number of at least 1, not {v:?}"
                        ))
                    }
                };
            }
            _ => return Err(format!("unknown option {arg:?}")),
        }
    }
    if args.paths.is_empty() {
        return Err("no PATH given".to_string());
    }
    Ok(Parsed::Run(args))
}

fn is_script(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "slt" || e == "test")
}

/// Collects the script files below `dir`, recursively.
fn walk(dir: &Path, top: bool, out: &mut Vec<PathBuf>) -> Result<(), String> {
    if !top && dir.join(".slt-skip").exists() {
        return Ok(());
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read folder {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read folder {}: {e}", dir.display()))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !name.starts_with('.') && name != "target" {
                walk(&path, false, out)?;
            }
        } else if is_script(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Expands the command-line paths into the list of files to run.
fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    for p in paths {
        let mut found = Vec::new();
        if p.is_dir() {
            walk(p, true, &mut found)?;
            if found.is_empty() {
                return Err(format!("no *.slt or *.test files in {}", p.display()));
            }
            found.sort();
        } else if p.exists() {
            found.push(p.clone());
        } else {
            return Err(format!("no such file or folder: {}", p.display()));
        }
        for f in found {
            if seen.insert(f.clone()) {
                files.push(f);
            }
        }
    }
    Ok(files)
}

fn print_report(r: &FileReport) {
    if let Some(failure) = &r.failure {
        println!("FAIL {}", r.path);
        for line in failure.lines() {
            println!("    {line}");
        }
        println!(
            "    ({} records ran, {} skipped, {} not reached after the failure)",
            r.ran, r.skipped, r.not_reached
        );
    } else if r.is_skipped() {
        println!(
            "skip {} (halted at line {}; {} records skipped)",
            r.path,
            r.halted_at.unwrap_or(0),
            r.skipped
        );
    } else {
        println!(
            "ok   {} ({} records ran, {} skipped)",
            r.path, r.ran, r.skipped
        );
    }
}

/// Runs the files on `jobs` threads, printing each report in file order.
fn run_all(files: &[PathBuf], opts: &Options, jobs: usize) -> Vec<FileReport> {
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, FileReport)>();
    let mut reports = Vec::with_capacity(files.len());
    std::thread::scope(|s| {
        for _ in 0..jobs.min(files.len()) {
            let tx = tx.clone();
            let next = &next;
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(file) = files.get(i) else { break };
                let report = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run::run_file(file, opts)
                }))
                .unwrap_or_else(|_| FileReport {
                    path: file.display().to_string(),
                    failure: Some("internal error: the runner panicked on this file".to_string()),
                    ..Default::default()
                });
                if tx.send((i, report)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        for (i, report) in rx {
            pending.insert(i, report);
            while let Some(r) = pending.remove(&reports.len()) {
                print_report(&r);
                reports.push(r);
            }
        }
    });
    reports
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(a)) => a,
        Ok(Parsed::Info(text)) => {
            println!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("slt-runner: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let files = match collect_files(&args.paths) {
        Ok(f) => f,
        Err(msg) => {
            eprintln!("slt-runner: {msg}");
            return ExitCode::from(2);
        }
    };

    // An existing extension file is passed by absolute path, so that
    // dlopen() does not search the library path for a bare file name.
    let extension = args
        .extension
        .map(|p| std::fs::canonicalize(&p).unwrap_or(p));
    if let Some(ext) = &extension {
        // Set before any thread starts; scripts read it through
        // `control substitution on`.
        std::env::set_var("SQLITE_TRIGGERS_EXTENSION", ext);
    }
    let mut labels = vec!["sqlite".to_string()];
    labels.extend(args.labels.into_iter().filter(|l| l != "sqlite"));
    let opts = Options { extension, labels };

    println!(
        "sqlite-version: {}; extension: {}",
        db::sqlite_version(),
        opts.extension
            .as_ref()
            .map_or("none".to_string(), |p| p.display().to_string())
    );
    let reports = run_all(&files, &opts, args.jobs);

    let ran: usize = reports.iter().map(|r| r.ran).sum();
    let skipped: usize = reports.iter().map(|r| r.skipped).sum();
    let failed = reports.iter().filter(|r| r.failure.is_some()).count();
    let files_skipped = reports.iter().filter(|r| r.is_skipped()).count();
    let passed = reports.len() - failed - files_skipped;
    println!("records: {ran} ran, {skipped} skipped, {failed} failed");
    if files_skipped > 0 {
        println!("files: {passed} passed, {failed} failed, {files_skipped} skipped");
    } else {
        println!("files: {passed} passed, {failed} failed");
    }
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
