//! The interleaved runner and the SQLite plumbing every row shares.
//!
//! A benchmark runs its contenders interleaved, A B C A B C …, first for the
//! warm-up rounds (discarded), then for the measured rounds, so that a slow
//! moment of a shared machine hits every contender alike. Each run builds its
//! own fresh database (untimed) and times only the work. The raw samples go
//! to the JSON file; medians, spreads, ratios and targets are computed from
//! them in one place, `benches/report.py`, for the Rust and Python rows alike.
//!
//! A piece of work is measured in CPU time of the whole process (user +
//! system, every thread): on a shared machine, wall-clock time also counts
//! the moments other programs had the CPU, which made 5 ms of work read
//! anywhere from 5 to 40 ms. The wall-clock time is recorded beside it.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, LoadExtensionGuard};
use serde_json::{json, Value};

/// Errors are text with the context of what failed; a failing contender is
/// reported as failed and the run exits non-zero.
pub type R<T> = Result<T, String>;

/// Adds context to SQLite errors.
pub trait Context<T> {
    fn ctx(self, what: &str) -> R<T>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn ctx(self, what: &str) -> R<T> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

/// What a contender must achieve, checked by the report.
#[derive(Clone, Copy)]
pub enum Target {
    /// Median ratio to its reference at most this.
    RatioAtMost(f64),
    /// Median (p50) of the samples below this many seconds.
    P50Below(f64),
}

impl Target {
    fn json(self) -> Value {
        match self {
            Target::RatioAtMost(v) => json!({"kind": "ratio_at_most", "value": v}),
            Target::P50Below(v) => json!({"kind": "p50_below_s", "value": v}),
        }
    }
}

/// One way of doing a benchmark's work.
pub struct Contender<'a> {
    pub name: String,
    /// The contender whose samples this one's ratio is taken against
    /// (index into the benchmark's contenders; 0 = the baseline).
    pub ratio_to: usize,
    pub target: Option<Target>,
    /// Why this contender cannot run with the loaded extension.
    pub skip: Option<String>,
    /// Builds a fresh database, does the work once and returns the timed
    /// part.
    pub run: Box<dyn FnMut() -> R<Sample> + 'a>,
}

/// One measurement, in seconds.
#[derive(Clone, Copy)]
pub struct Sample {
    /// What the benchmark measures: process CPU time for a piece of work,
    /// wall-clock time for a latency.
    pub measure: f64,
    pub wall: f64,
}

impl<'a> Contender<'a> {
    pub fn new(name: impl Into<String>, run: impl FnMut() -> R<Sample> + 'a) -> Contender<'a> {
        Contender {
            name: name.into(),
            ratio_to: 0,
            target: None,
            skip: None,
            run: Box::new(run),
        }
    }

    pub fn target(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }

    pub fn ratio_to(mut self, index: usize) -> Self {
        self.ratio_to = index;
        self
    }

    /// Skips the contender, with `reason` printed, when `reason` is `Some`.
    pub fn skip_if(mut self, reason: Option<String>) -> Self {
        self.skip = reason;
        self
    }
}

/// Whether samples are durations of a piece of work (median and spread) or
/// latencies of single events (p50 and p99).
#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    Time,
    Latency,
}

pub struct Bench<'a> {
    pub id: &'static str,
    pub title: &'static str,
    /// The work size, e.g. "1,000,000 rows in one transaction".
    pub work: String,
    pub kind: Kind,
    pub warmup: usize,
    pub rounds: usize,
    /// How many units of work (and what one is: "row", "change") one run
    /// does, for the instruction counts per unit of `benches/callgrind.py`.
    pub units: Option<(i64, &'static str)>,
    pub contenders: Vec<Contender<'a>>,
}

impl Bench<'_> {
    /// Runs the contenders interleaved and returns the benchmark's raw record.
    pub fn run(mut self) -> Value {
        println!("\n== {} {} ({})", self.id, self.title, self.work);
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); self.contenders.len()];
        let mut failed: Vec<Option<String>> = vec![None; self.contenders.len()];
        for c in &self.contenders {
            if let Some(reason) = &c.skip {
                println!("   {}: SKIPPED: {reason}", c.name);
            }
        }
        let per_round = self.kind == Kind::Time;
        for round in 0..self.warmup + self.rounds {
            let label = if round < self.warmup {
                format!("warm-up {}", round + 1)
            } else {
                format!("round {}/{}", round + 1 - self.warmup, self.rounds)
            };
            let mut line = format!("   {label}:");
            for (i, c) in self.contenders.iter_mut().enumerate() {
                if c.skip.is_some() || failed[i].is_some() {
                    continue;
                }
                match (c.run)() {
                    Ok(sample) => {
                        if round >= self.warmup {
                            samples[i].push(sample);
                        }
                        line += &format!("  [{}] {}", i + 1, seconds(sample.measure));
                    }
                    Err(e) => {
                        println!("   {}: FAILED: {e}", c.name);
                        failed[i] = Some(e);
                    }
                }
            }
            if per_round {
                println!("{line}");
            }
        }
        let contenders: Vec<Value> = self
            .contenders
            .iter()
            .zip(samples)
            .zip(failed)
            .map(|((c, samples), failed)| {
                let (status, reason) = match (&c.skip, failed) {
                    (Some(reason), _) => ("skipped", Some(reason.clone())),
                    (None, Some(error)) => ("failed", Some(error)),
                    (None, None) => ("ran", None),
                };
                json!({
                    "name": c.name,
                    "status": status,
                    "reason": reason,
                    "ratio_to": self.contenders_name(c.ratio_to),
                    "target": c.target.map(Target::json),
                    "samples": samples.iter().map(|s| s.measure).collect::<Vec<_>>(),
                    "wall_samples": samples.iter().map(|s| s.wall).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "id": self.id,
            "title": self.title,
            "work": self.work,
            "kind": match self.kind { Kind::Time => "time", Kind::Latency => "latency" },
            "measure": match self.kind {
                Kind::Time => "process CPU time",
                Kind::Latency => "wall-clock latency",
            },
            "warmup": self.warmup,
            "rounds": self.rounds,
            "units": self.units.map(|(n, unit)| json!({"count": n, "unit": unit})),
            "contenders": contenders,
        })
    }

    /// Runs only contender `index` (the others are skipped): one process
    /// per contender, as the callgrind mode measures them.
    pub fn only(mut self, index: usize) -> R<Self> {
        if index >= self.contenders.len() {
            return Err(format!(
                "benchmark {} has no contender {index} (it has {})",
                self.id,
                self.contenders.len()
            ));
        }
        for (i, c) in self.contenders.iter_mut().enumerate() {
            if i != index && c.skip.is_none() {
                c.skip = Some("not selected (--contender)".into());
            }
        }
        Ok(self)
    }

    /// The benchmark's contenders without running them: what the callgrind
    /// mode needs to start one process per contender.
    pub fn describe(&self) -> Value {
        json!({
            "id": self.id,
            "title": self.title,
            "work": self.work,
            "units": self.units.map(|(n, unit)| json!({"count": n, "unit": unit})),
            "contenders": self.contenders.iter().map(|c| json!({
                "name": c.name,
                "ratio_to": self.contenders_name(c.ratio_to),
                "skip": c.skip,
            })).collect::<Vec<_>>(),
        })
    }

    fn contenders_name(&self, index: usize) -> &str {
        &self.contenders[index].name
    }
}

/// A short human form of a duration in seconds.
pub fn seconds(secs: f64) -> String {
    if secs >= 1.0 {
        format!("{secs:.3}s")
    } else if secs >= 1e-3 {
        format!("{:.2}ms", secs * 1e3)
    } else {
        format!("{:.1}µs", secs * 1e6)
    }
}

/// The built extension, and which of its SQL functions this build has.
pub struct Extension {
    pub path: PathBuf,
    pub functions: BTreeSet<String>,
    pub version: String,
}

impl Extension {
    /// Loads the extension once into an in-memory database to learn its
    /// functions from `pragma_function_list`.
    pub fn probe(path: &Path) -> R<Extension> {
        let conn = Connection::open_in_memory().ctx("opening an in-memory database")?;
        let mut ext = Extension {
            path: path.to_path_buf(),
            functions: BTreeSet::new(),
            version: String::new(),
        };
        ext.load(&conn)?;
        let mut stmt = conn
            .prepare("SELECT DISTINCT name FROM pragma_function_list WHERE name LIKE 'trigger%'")
            .ctx("listing functions")?;
        ext.functions = stmt
            .query_map([], |r| r.get(0))
            .ctx("listing functions")?
            .collect::<rusqlite::Result<_>>()
            .ctx("listing functions")?;
        ext.version = conn
            .query_row("SELECT trigger_version()", [], |r| r.get(0))
            .ctx("trigger_version()")?;
        Ok(ext)
    }

    /// Loads the extension into `conn`.
    pub fn load(&self, conn: &Connection) -> R<()> {
        // SAFETY: loading is enabled only for the duration of the guard, and
        // the library loaded is the extension this harness measures.
        unsafe {
            let _guard = LoadExtensionGuard::new(conn).ctx("enabling extension loading")?;
            conn.load_extension(&self.path, None::<&str>)
                .ctx(&format!("loading {}", self.path.display()))
        }
    }

    /// `Some(reason)` when the extension lacks one of `functions`: the
    /// contender waits for a feature that is not in this build.
    pub fn lacks(&self, functions: &[&str]) -> Option<String> {
        let missing: Vec<String> = functions
            .iter()
            .filter(|f| !self.functions.contains(**f))
            .map(|f| format!("{f}()"))
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "the loaded extension has no {} (not in this build yet)",
                missing.join(", ")
            )
        })
    }
}

/// A database file in its own temporary folder, removed when dropped.
pub struct TempDb {
    dir: tempfile::TempDir,
}

impl TempDb {
    pub fn new(parent: &Path) -> R<TempDb> {
        let dir = tempfile::Builder::new()
            .prefix("sqlite-triggers-bench-")
            .tempdir_in(parent)
            .map_err(|e| format!("creating a temporary folder in {}: {e}", parent.display()))?;
        Ok(TempDb { dir })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("bench.db")
    }

    /// Opens a connection, with the extension loaded when `ext` is given.
    ///
    /// `synchronous=OFF`: the commit still writes every page, but does not
    /// wait for the disk. An fsync costs every contender the same and varies
    /// by tens of milliseconds on a shared disk, which would drown the
    /// differences the rows measure.
    pub fn open(&self, ext: Option<&Extension>) -> R<Connection> {
        let conn = Connection::open(self.path()).ctx("opening the database")?;
        conn.execute_batch("PRAGMA synchronous=OFF")
            .ctx("PRAGMA synchronous=OFF")?;
        if let Some(ext) = ext {
            ext.load(&conn)?;
        }
        Ok(conn)
    }
}

/// Nanoseconds on one of the kernel's clocks.
pub fn clock_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec, and both clocks used here
    // (CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID) exist on every Linux.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime({clock})");
    ts.tv_sec as i64 * 1_000_000_000 + ts.tv_nsec as i64
}

/// The timed work of every benchmark runs inside this function, never
/// inlined and under a fixed symbol name: the callgrind mode counts
/// instructions only while it runs (`--toggle-collect=`), so the set-up and
/// the checks of a run are not counted.
#[no_mangle]
#[inline(never)]
pub fn sqlite_triggers_bench_timed_work(work: &mut dyn FnMut() -> R<()>) -> R<()> {
    work()
}

/// Runs `work` and measures it (process CPU time and wall-clock time).
pub fn timed(work: impl FnOnce() -> R<()>) -> R<Sample> {
    let mut work = Some(work);
    let mut once = || work.take().expect("timed work runs once")();
    let (cpu, wall) = (
        clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID),
        clock_ns(libc::CLOCK_MONOTONIC),
    );
    sqlite_triggers_bench_timed_work(&mut once)?;
    Ok(Sample {
        measure: (clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID) - cpu) as f64 / 1e9,
        wall: (clock_ns(libc::CLOCK_MONOTONIC) - wall) as f64 / 1e9,
    })
}

/// Runs a one-value query.
pub fn scalar<T: rusqlite::types::FromSql>(conn: &Connection, sql: &str) -> R<T> {
    conn.query_row(sql, [], |r| r.get(0)).ctx(sql)
}

/// Fails unless `sql` returns `expected`: every contender's work is checked,
/// so a contender that silently does nothing cannot look fast.
pub fn expect_count(conn: &Connection, sql: &str, expected: i64) -> R<()> {
    let found: i64 = scalar(conn, sql)?;
    if found == expected {
        Ok(())
    } else {
        Err(format!("{sql} returned {found}, expected {expected}"))
    }
}
