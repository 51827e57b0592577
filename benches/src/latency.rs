//! Benchmark 7: how long `trigger_wait` takes to wake after a commit, with
//! the waiter in this process (another thread and connection) or in another
//! process (this binary run as `wait-child`).
//!
//! One sample: the waiter is told the last sequence number and reports that
//! it is about to call `trigger_wait(after_seq, timeout_ms, 'bench')`; after
//! a short pause (so that it is blocked in the wait) the committer emits one
//! event and commits. The latency runs from just before `COMMIT` to the
//! moment `trigger_wait` returns, both read from CLOCK_MONOTONIC, which is
//! one clock for every process on the machine. The database is in WAL mode
//! with `synchronous=NORMAL`, so a commit does not wait for the disk.
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::Duration;

use rusqlite::Connection;

use crate::harness::{
    clock_ns, scalar, Bench, Contender, Context, Extension, Kind, Sample, Target, TempDb, R,
};
use crate::Plan;

const CHANNEL: &str = "bench";
/// How long the waiter waits before giving up; a sample that times out
/// fails the contender.
const TIMEOUT_MS: i64 = 5_000;
/// The pause between "about to wait" and the commit.
const PAUSE: Duration = Duration::from_millis(2);

/// Nanoseconds on CLOCK_MONOTONIC, one clock for every process.
fn now_ns() -> i64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

fn last_seq(conn: &Connection) -> R<i64> {
    scalar(conn, "SELECT coalesce(max(seq), 0) FROM trigger_outbox")
}

/// Opens the database for a waiter or the committer.
fn open(db: &Path, ext: &Extension) -> R<Connection> {
    let conn = Connection::open(db).ctx("opening the database")?;
    ext.load(&conn)?;
    conn.busy_timeout(Duration::from_secs(5))
        .ctx("busy_timeout")?;
    Ok(conn)
}

/// One `trigger_wait` call; returns when it returned (ns) and the last
/// sequence number the waiter then sees.
fn wait_once(conn: &Connection, after_seq: i64) -> R<(i64, i64)> {
    conn.query_row(
        "SELECT trigger_wait(?1, ?2, ?3)",
        rusqlite::params![after_seq, TIMEOUT_MS, CHANNEL],
        |_| Ok(()),
    )
    .ctx("trigger_wait")?;
    let woke = now_ns();
    Ok((woke, last_seq(conn)?))
}

/// The committing side, shared by both contenders.
struct Committer {
    _db: TempDb,
    path: PathBuf,
    conn: Connection,
}

impl Committer {
    fn new(tmp: &Path, ext: &Extension) -> R<Committer> {
        let db = TempDb::new(tmp)?;
        let path = db.path();
        let conn = open(&path, ext)?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            .ctx("WAL mode")?;
        // The first event creates the outbox before any waiter reads it.
        emit(&conn)?;
        Ok(Committer {
            _db: db,
            path,
            conn,
        })
    }

    /// Emits one event and commits; returns the time just before COMMIT.
    fn commit_one(&self) -> R<i64> {
        self.conn.execute_batch("BEGIN").ctx("BEGIN")?;
        emit(&self.conn)?;
        let start = now_ns();
        self.conn.execute_batch("COMMIT").ctx("COMMIT")?;
        Ok(start)
    }

    /// One sample: tells the waiter, pauses, commits, and takes its answer.
    fn sample(&self, waiter: &mut dyn Waiter) -> R<Sample> {
        let after = last_seq(&self.conn)?;
        waiter.arm(after)?;
        std::thread::sleep(PAUSE);
        let start = self.commit_one()?;
        let (woke, seen) = waiter.woken()?;
        if seen <= after {
            return Err(format!(
                "trigger_wait({after}, {TIMEOUT_MS}, '{CHANNEL}') returned after {:.3}s without the committed event",
                (woke - start) as f64 / 1e9
            ));
        }
        let latency = (woke - start) as f64 / 1e9;
        Ok(Sample {
            measure: latency,
            wall: latency,
        })
    }
}

fn emit(conn: &Connection) -> R<()> {
    conn.query_row("SELECT trigger_emit(?1, 'x')", [CHANNEL], |_| Ok(()))
        .ctx("trigger_emit")
}

/// A waiter in this process or another.
trait Waiter {
    /// Tells the waiter to wait past `after_seq`; returns once it is about
    /// to call `trigger_wait`.
    fn arm(&mut self, after_seq: i64) -> R<()>;
    /// When the wait returned (ns, CLOCK_MONOTONIC) and the last sequence
    /// number the waiter then saw.
    fn woken(&mut self) -> R<(i64, i64)>;
}

/// A thread with its own connection.
struct ThreadWaiter {
    arm: Sender<i64>,
    ready: Receiver<()>,
    woken: Receiver<R<(i64, i64)>>,
}

impl ThreadWaiter {
    fn start(db: &Path, ext: &Extension) -> R<ThreadWaiter> {
        let conn = open(db, ext)?;
        let (arm, armed) = channel::<i64>();
        let (ready_tx, ready) = channel();
        let (woken_tx, woken) = channel();
        std::thread::spawn(move || {
            for after in armed {
                if ready_tx.send(()).is_err() {
                    break;
                }
                if woken_tx.send(wait_once(&conn, after)).is_err() {
                    break;
                }
            }
        });
        Ok(ThreadWaiter { arm, ready, woken })
    }
}

impl Waiter for ThreadWaiter {
    fn arm(&mut self, after_seq: i64) -> R<()> {
        let gone = |_| "the waiter thread stopped".to_string();
        self.arm
            .send(after_seq)
            .map_err(|_| "the waiter thread stopped".to_string())?;
        self.ready.recv().map_err(gone)
    }

    fn woken(&mut self) -> R<(i64, i64)> {
        self.woken
            .recv()
            .map_err(|_| "the waiter thread stopped".to_string())?
    }
}

/// This binary run as `wait-child`, talking over its stdin and stdout.
struct ProcessWaiter {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl ProcessWaiter {
    fn start(db: &Path, ext: &Extension) -> R<ProcessWaiter> {
        let exe = std::env::current_exe().map_err(|e| format!("finding this program: {e}"))?;
        let mut child = Command::new(exe)
            .arg("wait-child")
            .arg(&ext.path)
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting the waiter process: {e}"))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Ok(ProcessWaiter {
            child,
            stdin,
            stdout,
        })
    }

    fn line(&mut self) -> R<String> {
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(0) => Err("the waiter process exited".into()),
            Ok(_) => Ok(line.trim_end().to_string()),
            Err(e) => Err(format!("reading from the waiter process: {e}")),
        }
    }
}

impl Waiter for ProcessWaiter {
    fn arm(&mut self, after_seq: i64) -> R<()> {
        writeln!(self.stdin, "{after_seq}")
            .and_then(|_| self.stdin.flush())
            .map_err(|e| format!("writing to the waiter process: {e}"))?;
        match self.line()?.as_str() {
            "ready" => Ok(()),
            other => Err(format!("the waiter process said {other:?}")),
        }
    }

    fn woken(&mut self) -> R<(i64, i64)> {
        let line = self.line()?;
        let parsed = line.strip_prefix("woke ").and_then(|rest| {
            let (woke, seen) = rest.split_once(' ')?;
            Some((woke.parse().ok()?, seen.parse().ok()?))
        });
        parsed.ok_or_else(|| format!("the waiter process said {line:?}"))
    }
}

impl Drop for ProcessWaiter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `wait-child EXTENSION DB`: reads a sequence number per line, answers
/// `ready`, waits past it and answers `woke <ns> <last seq>`; errors are
/// answered as `error <message>`.
pub fn wait_child(args: &[String]) -> R<()> {
    let [ext, db] = args else {
        return Err("usage: wait-child EXTENSION DB".into());
    };
    let ext = Extension {
        path: PathBuf::from(ext),
        functions: Default::default(),
        version: String::new(),
    };
    let conn = open(Path::new(db), &ext)?;
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| format!("reading stdin: {e}"))?;
        let after: i64 = line
            .trim()
            .parse()
            .map_err(|_| format!("bad sequence number {line:?}"))?;
        let answer = |out: &mut std::io::StdoutLock, text: String| {
            writeln!(out, "{text}")
                .and_then(|_| out.flush())
                .map_err(|e| e.to_string())
        };
        answer(&mut out, "ready".into())?;
        match wait_once(&conn, after) {
            Ok((woke, seen)) => answer(&mut out, format!("woke {woke} {seen}"))?,
            Err(e) => answer(&mut out, format!("error {e}"))?,
        }
    }
    Ok(())
}

/// A contender that starts its committer and waiter on its first sample.
fn contender<'a, W: Waiter + 'a>(
    name: &str,
    tmp: PathBuf,
    ext: &'a Extension,
    start: fn(&Path, &Extension) -> R<W>,
) -> Contender<'a> {
    let mut state: Option<(Committer, W)> = None;
    Contender::new(name, move || {
        if state.is_none() {
            let committer = Committer::new(&tmp, ext)?;
            let waiter = start(&committer.path, ext)?;
            state = Some((committer, waiter));
        }
        let (committer, waiter) = state.as_mut().expect("started above");
        committer.sample(waiter)
    })
}

pub fn row7<'a>(plan: &Plan, ext: &'a Extension) -> Bench<'a> {
    let skip = ext.lacks(&["trigger_emit", "trigger_wait"]);
    Bench {
        id: "7",
        title: "wake-up latency of trigger_wait after a commit",
        work: format!(
            "{} wake-ups each, WAL, synchronous=NORMAL",
            plan.latency_samples
        ),
        kind: Kind::Latency,
        warmup: 5,
        rounds: plan.latency_samples,
        units: None,
        contenders: vec![
            contender(
                "waiter in this process",
                plan.tmp.clone(),
                ext,
                ThreadWaiter::start,
            )
            .target(Target::P50Below(1e-3))
            .skip_if(skip.clone()),
            contender(
                "waiter in another process",
                plan.tmp.clone(),
                ext,
                ProcessWaiter::start,
            )
            .skip_if(skip),
        ],
    }
}
