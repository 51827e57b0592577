//! Benchmark 8: what a Rust program pays per row for a trigger body that
//! calls into Rust. The crate is linked into this host (on the same system
//! SQLite), since only a Rust program can register `trigger_call` handlers.
use std::path::Path;

use rusqlite::params;

use crate::harness::{expect_count, timed, Bench, Contender, Kind, Sample, Target, TempDb, R};
use crate::rows::{count, Sizes};
use crate::Plan;

#[derive(Clone, Copy)]
enum Body {
    /// `SELECT abs(new.qty)`: a built-in scalar function.
    BuiltIn,
    /// `SELECT trigger_call('noop', new.qty)`: a Rust handler doing nothing.
    Handler,
}

fn insert_with_trigger(tmp: &Path, body: Body, n: i64) -> R<Sample> {
    let db = TempDb::new(tmp)?;
    let conn = db.open(None)?;
    sqlite_triggers::register(&conn).map_err(|e| format!("registering the crate: {e}"))?;
    sqlite_triggers::register_handler(&conn, "noop", |_| Ok(rusqlite::types::Value::Null))
        .map_err(|e| format!("registering the handler: {e}"))?;
    let call = match body {
        Body::BuiltIn => "abs(new.qty)",
        Body::Handler => "trigger_call('noop', new.qty)",
    };
    conn.execute_batch(&format!(
        "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL);
         CREATE TABLE calls(n INTEGER);
         INSERT INTO calls VALUES (0);
         CREATE TRIGGER item_body AFTER INSERT ON item BEGIN SELECT {call}; END;"
    ))
    .map_err(|e| format!("creating the table and trigger: {e}"))?;
    let secs = timed(|| {
        conn.execute_batch("BEGIN").map_err(|e| e.to_string())?;
        let mut insert = conn
            .prepare("INSERT INTO item(name, qty) VALUES (?1, ?2)")
            .map_err(|e| e.to_string())?;
        for i in 0..n {
            insert
                .execute(params!["item", i])
                .map_err(|e| format!("inserting an item: {e}"))?;
        }
        conn.execute_batch("COMMIT").map_err(|e| e.to_string())
    })?;
    expect_count(&conn, "SELECT count(*) FROM item", n)?;
    // The trigger really calls the function: its result is checked once.
    expect_count(
        &conn,
        &format!("SELECT count(*) FROM (SELECT {} AS v)", call.replace("new.qty", "-3")),
        1,
    )?;
    Ok(secs)
}

pub fn row8<'a>(plan: &Plan, sizes: &Sizes) -> Bench<'a> {
    let n = 4 * sizes.capture_rows;
    let run = |body| {
        let tmp = plan.tmp.clone();
        move || insert_with_trigger(&tmp, body, n)
    };
    Bench {
        id: "8",
        title: "a Rust handler in a row trigger",
        work: format!("{} rows inserted, one trigger call each, one transaction", count(n)),
        kind: Kind::Time,
        warmup: plan.warmup,
        rounds: plan.rounds,
        units: Some((n, "row")),
        contenders: vec![
            Contender::new("trigger calling abs(), a built-in (baseline)", run(Body::BuiltIn)),
            Contender::new("trigger calling trigger_call('noop', ...)", run(Body::Handler))
                .target(Target::RatioAtMost(1.2)),
        ],
    }
}
