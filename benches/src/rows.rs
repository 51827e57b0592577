//! Benchmarks 1–4 and 6: whole pieces of work timed in the system SQLite,
//! with the extension loaded or not.
//!
//! Every run opens a fresh database file, sets it up untimed, times the work
//! (always in one transaction, so one commit and not one fsync per row) and
//! checks that the work was done.
use std::path::Path;

use rusqlite::{params, Connection, Statement};

use crate::harness::{
    expect_count, timed, Bench, Contender, Context, Extension, Kind, Sample, Target, TempDb, R,
};
use crate::session::Session;
use crate::Plan;

/// The seed schema: obs/task and user/album.
const SEED_SCHEMA: &str = include_str!("../../examples/seed_schema.sql");

/// The seed's trigger for albums as a user writes it by hand: the same SQL
/// the `default_album` pack installs, without the extension.
const HAND_ALBUM_TRIGGER: &str = "
CREATE TRIGGER user_default_album AFTER INSERT ON user
  BEGIN
    INSERT INTO album(user_id, album_name)
      SELECT new.id, 'default album'
      WHERE NOT EXISTS (
        SELECT 1 FROM album WHERE user_id = new.id AND album_name = 'default album'
      );
  END;";
/// The index behind the guard, as the pack creates it.
const HAND_ALBUM_INDEX: &str = "CREATE INDEX user_default_album_idx ON album(user_id, album_name);";

/// The seed's `update_task_state` trigger as the seed story wrote it: no
/// index on task(obs_id).
const SEED_TASK_TRIGGER: &str = "
CREATE TRIGGER update_task_state UPDATE OF state ON obs
  BEGIN
    UPDATE task SET state = 2 WHERE (obs_id = old.id) and (new.state = 2);
  END;";

/// A plain table for the insert and capture rows.
const ITEM_TABLE: &str =
    "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL);";

/// A hand-written audit log as sqlite-history and most applications write
/// it: one trigger per operation, each writing the row as JSON into a log
/// table shaped like `trigger_outbox` (autoincrement sequence, channel,
/// payload, creation time).
const HAND_AUDIT: &str = "
CREATE TABLE item_audit(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  channel TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TRIGGER item_audit_insert AFTER INSERT ON item BEGIN
  INSERT INTO item_audit(channel, payload) VALUES ('item', json_object('op', 'insert',
    'new', json_object('id', new.id, 'name', new.name, 'qty', new.qty)));
END;
CREATE TRIGGER item_audit_update AFTER UPDATE ON item BEGIN
  INSERT INTO item_audit(channel, payload) VALUES ('item', json_object('op', 'update',
    'old', json_object('id', old.id, 'name', old.name, 'qty', old.qty),
    'new', json_object('id', new.id, 'name', new.name, 'qty', new.qty)));
END;
CREATE TRIGGER item_audit_delete AFTER DELETE ON item BEGIN
  INSERT INTO item_audit(channel, payload) VALUES ('item', json_object('op', 'delete',
    'old', json_object('id', old.id, 'name', old.name, 'qty', old.qty)));
END;";

/// The same log written through `trigger_emit` from hand-written triggers.
const EMIT_TRIGGERS: &str = "
CREATE TRIGGER item_emit_insert AFTER INSERT ON item BEGIN
  SELECT trigger_emit('item', json_object('op', 'insert',
    'new', json_object('id', new.id, 'name', new.name, 'qty', new.qty)));
END;
CREATE TRIGGER item_emit_update AFTER UPDATE ON item BEGIN
  SELECT trigger_emit('item', json_object('op', 'update',
    'old', json_object('id', old.id, 'name', old.name, 'qty', old.qty),
    'new', json_object('id', new.id, 'name', new.name, 'qty', new.qty)));
END;
CREATE TRIGGER item_emit_delete AFTER DELETE ON item BEGIN
  SELECT trigger_emit('item', json_object('op', 'delete',
    'old', json_object('id', old.id, 'name', old.name, 'qty', old.qty)));
END;";

/// Work sizes of one mode (full or `--quick`).
pub struct Sizes {
    pub insert_rows: i64,
    /// Benchmark 2: small enough for the unindexed trigger to finish.
    pub users: i64,
    /// Benchmark 3: the pack at N and 2N, and the unindexed trigger at its
    /// own N and 2N.
    pub users_scaling: i64,
    pub users_unindexed_scaling: i64,
    pub obs: i64,
    pub tasks_per_obs: i64,
    pub capture_rows: i64,
}

/// Runs `sql` as a statement that returns one row (SELECT f(...)).
fn select(conn: &Connection, sql: &str) -> R<()> {
    conn.query_row(sql, [], |_| Ok(())).ctx(sql)
}

/// `n` with thousands separators.
pub fn count(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------- 1

#[derive(Clone, Copy)]
enum Load {
    None,
    Loaded,
    Watching,
    /// No extension: a session of SQLite's session extension attached to
    /// the table, its changeset built before the commit.
    Session,
}

fn insert_rows(tmp: &Path, ext: &Extension, load: Load, n: i64) -> R<Sample> {
    let db = TempDb::new(tmp)?;
    let conn = db.open(None)?;
    conn.execute_batch(ITEM_TABLE).ctx("creating item")?;
    let mut session = None;
    match load {
        Load::None => {}
        Load::Loaded => ext.load(&conn)?,
        Load::Watching => {
            ext.load(&conn)?;
            select(&conn, "SELECT trigger_watch('*')")?;
        }
        Load::Session => session = Some(Session::attach(&conn, c"item")?),
    }
    let mut changeset = None;
    let secs = timed(|| {
        conn.execute_batch("BEGIN").ctx("BEGIN")?;
        let mut insert = conn
            .prepare("INSERT INTO item(name, qty) VALUES (?1, ?2)")
            .ctx("preparing the insert")?;
        for i in 0..n {
            insert
                .execute(params!["item", i])
                .ctx("inserting an item")?;
        }
        if let Some(session) = &session {
            changeset = Some(session.changeset()?);
        }
        conn.execute_batch("COMMIT").ctx("COMMIT")
    })?;
    expect_count(&conn, "SELECT count(*) FROM item", n)?;
    if let Some(changeset) = &changeset {
        // The changeset holds every row: an empty or partial one fails.
        let inserts = changeset.count_inserts("item")?;
        if inserts != n || changeset.size() < n as usize {
            return Err(format!(
                "the changeset holds {inserts} inserts in {} bytes, expected {n}",
                changeset.size()
            ));
        }
    }
    drop(changeset);
    drop(session);
    Ok(secs)
}

pub fn row1<'a>(plan: &Plan, ext: &'a Extension, sizes: &Sizes) -> Bench<'a> {
    let (tmp, n) = (plan.tmp.clone(), sizes.insert_rows);
    let run = move |load| {
        let tmp = tmp.clone();
        move || insert_rows(&tmp, ext, load, n)
    };
    Bench {
        id: "1",
        title: "insert rows, extension loaded or not",
        work: format!("{} rows in one transaction", count(n)),
        kind: Kind::Time,
        warmup: plan.warmup,
        rounds: plan.rounds,
        units: Some((n, "row")),
        contenders: vec![
            Contender::new("no extension (baseline)", run(Load::None)),
            Contender::new("extension loaded, nothing watched", run(Load::Loaded))
                .target(Target::RatioAtMost(1.03)),
            Contender::new("trigger_watch('*') on", run(Load::Watching))
                .target(Target::RatioAtMost(1.3))
                .skip_if(ext.lacks(&["trigger_watch"])),
            // A reference, no target: what SQLite's own change recording
            // costs for the same rows.
            Contender::new(
                "SQLite's session extension (changeset built)",
                run(Load::Session),
            ),
        ],
    }
}

// ---------------------------------------------------------------- 2, 3

#[derive(Clone, Copy)]
enum Albums {
    /// The seed trigger created by hand, with or without its index.
    Hand { index: bool },
    /// `trigger_install('default_album')`.
    Pack,
}

fn insert_users(tmp: &Path, ext: &Extension, albums: Albums, n: i64) -> R<Sample> {
    let db = TempDb::new(tmp)?;
    let conn = db.open(None)?;
    conn.execute_batch(SEED_SCHEMA)
        .ctx("creating the seed schema")?;
    match albums {
        Albums::Hand { index } => {
            if index {
                conn.execute_batch(HAND_ALBUM_INDEX)
                    .ctx("creating the index")?;
            }
            conn.execute_batch(HAND_ALBUM_TRIGGER)
                .ctx("creating the trigger")?;
        }
        Albums::Pack => {
            ext.load(&conn)?;
            select(&conn, "SELECT trigger_install('default_album')")?;
        }
    }
    let secs = timed(|| {
        conn.execute_batch("BEGIN").ctx("BEGIN")?;
        let mut insert = conn
            .prepare("INSERT INTO user(id, name) VALUES (?1, ?2)")
            .ctx("preparing the insert")?;
        for id in 1..=n {
            insert
                .execute(params![id, "user"])
                .ctx("inserting a user")?;
        }
        conn.execute_batch("COMMIT").ctx("COMMIT")
    })?;
    expect_count(
        &conn,
        "SELECT count(*) FROM album WHERE album_name = 'default album'",
        n,
    )?;
    Ok(secs)
}

fn albums_runner<'a>(
    plan: &Plan,
    ext: &'a Extension,
) -> impl Fn(Albums, i64) -> Box<dyn FnMut() -> R<Sample> + 'a> {
    let tmp = plan.tmp.clone();
    move |albums, n| {
        let tmp = tmp.clone();
        Box::new(move || insert_users(&tmp, ext, albums, n))
    }
}

pub fn row2<'a>(plan: &Plan, ext: &'a Extension, sizes: &Sizes) -> Bench<'a> {
    let run = albums_runner(plan, ext);
    let n = sizes.users;
    Bench {
        id: "2",
        title: "users with their default album",
        work: format!("{} users in one transaction", count(n)),
        kind: Kind::Time,
        warmup: plan.warmup,
        rounds: plan.rounds,
        units: None,
        contenders: vec![
            Contender::new(
                "hand-written seed trigger + index (baseline)",
                run(Albums::Hand { index: true }, n),
            ),
            Contender::new("default_album pack", run(Albums::Pack, n))
                .target(Target::RatioAtMost(1.05)),
            Contender::new(
                "same trigger without the index",
                run(Albums::Hand { index: false }, n),
            ),
        ],
    }
}

pub fn row3<'a>(plan: &Plan, ext: &'a Extension, sizes: &Sizes) -> Bench<'a> {
    let run = albums_runner(plan, ext);
    let (n, u) = (sizes.users_scaling, sizes.users_unindexed_scaling);
    Bench {
        id: "3",
        title: "scaling of 2: N and 2N users",
        work: format!(
            "pack: {} and {} users; unindexed: {} and {}",
            count(n),
            count(2 * n),
            count(u),
            count(2 * u)
        ),
        kind: Kind::Time,
        warmup: plan.warmup,
        rounds: plan.rounds,
        units: None,
        contenders: vec![
            Contender::new(format!("pack, N={}", count(n)), run(Albums::Pack, n)),
            Contender::new(
                format!("pack, 2N={}", count(2 * n)),
                run(Albums::Pack, 2 * n),
            )
            .target(Target::RatioAtMost(2.3)),
            // The unindexed pair is its own reference: no ratio to the pack.
            Contender::new(
                format!("no index, N={}", count(u)),
                run(Albums::Hand { index: false }, u),
            )
            .ratio_to(2),
            Contender::new(
                format!("no index, 2N={}", count(2 * u)),
                run(Albums::Hand { index: false }, 2 * u),
            )
            .ratio_to(2),
        ],
    }
}

// ---------------------------------------------------------------- 4

fn update_obs(tmp: &Path, ext: &Extension, pack: bool, obs: i64, per_obs: i64) -> R<Sample> {
    let db = TempDb::new(tmp)?;
    let conn = db.open(None)?;
    conn.execute_batch(SEED_SCHEMA)
        .ctx("creating the seed schema")?;
    conn.execute_batch("BEGIN").ctx("BEGIN")?;
    {
        let mut insert = conn
            .prepare("INSERT INTO obs(id, name) VALUES (?1, 'obs')")
            .ctx("preparing")?;
        for id in 1..=obs {
            insert.execute([id]).ctx("inserting an obs")?;
        }
        // Tasks of one obs are spread over the table, as they are when
        // obs are worked on side by side.
        let mut insert = conn
            .prepare("INSERT INTO task(obs_id, name) VALUES (?1, 'task')")
            .ctx("preparing")?;
        for j in 0..obs * per_obs {
            insert.execute([j % obs + 1]).ctx("inserting a task")?;
        }
    }
    conn.execute_batch("COMMIT").ctx("COMMIT")?;
    if pack {
        ext.load(&conn)?;
        select(&conn, "SELECT trigger_install('task_state')")?;
    } else {
        conn.execute_batch(SEED_TASK_TRIGGER)
            .ctx("creating the trigger")?;
    }
    let secs = timed(|| {
        conn.execute_batch("BEGIN").ctx("BEGIN")?;
        let mut update = conn
            .prepare("UPDATE obs SET state = 2 WHERE id = ?1")
            .ctx("preparing the update")?;
        for id in 1..=obs {
            update.execute([id]).ctx("updating an obs")?;
        }
        conn.execute_batch("COMMIT").ctx("COMMIT")
    })?;
    expect_count(
        &conn,
        "SELECT count(*) FROM task WHERE state = 2",
        obs * per_obs,
    )?;
    Ok(secs)
}

pub fn row4<'a>(plan: &Plan, ext: &'a Extension, sizes: &Sizes) -> Bench<'a> {
    let (obs, k) = (sizes.obs, sizes.tasks_per_obs);
    let run = |pack| {
        let tmp = plan.tmp.clone();
        move || update_obs(&tmp, ext, pack, obs, k)
    };
    Bench {
        id: "4",
        title: "obs state updates with their tasks",
        work: format!(
            "{} obs set to state 2 one by one, {} tasks each ({} tasks), one transaction",
            count(obs),
            k,
            count(obs * k)
        ),
        kind: Kind::Time,
        warmup: plan.warmup,
        rounds: plan.rounds,
        units: None,
        contenders: vec![
            Contender::new("seed trigger, no index (baseline)", run(false)),
            Contender::new("task_state pack", run(true)).target(Target::RatioAtMost(1.0)),
        ],
    }
}

// ---------------------------------------------------------------- 6

#[derive(Clone, Copy)]
enum Capture {
    HandAudit,
    TriggerCapture,
    TriggerEmit,
}

// Benchmark 6's three phases, each in its own function under a fixed name,
// never inlined: the callgrind mode reads their inclusive instruction counts
// as the cost per insert, update and delete.

#[no_mangle]
#[inline(never)]
pub fn sqlite_triggers_bench_inserts(insert: &mut Statement, n: i64) -> R<()> {
    for id in 1..=n {
        insert.execute([id]).ctx("inserting an item")?;
    }
    Ok(())
}

#[no_mangle]
#[inline(never)]
pub fn sqlite_triggers_bench_updates(update: &mut Statement, n: i64) -> R<()> {
    for id in 1..=n {
        update.execute([id]).ctx("updating an item")?;
    }
    Ok(())
}

#[no_mangle]
#[inline(never)]
pub fn sqlite_triggers_bench_deletes(delete: &mut Statement, n: i64) -> R<()> {
    for id in 1..=n {
        delete.execute([id]).ctx("deleting an item")?;
    }
    Ok(())
}

fn capture_changes(tmp: &Path, ext: &Extension, how: Capture, n: i64) -> R<Sample> {
    let db = TempDb::new(tmp)?;
    let conn = db.open(None)?;
    conn.execute_batch(ITEM_TABLE).ctx("creating item")?;
    let log = match how {
        Capture::HandAudit => {
            conn.execute_batch(HAND_AUDIT)
                .ctx("creating the audit triggers")?;
            "item_audit"
        }
        Capture::TriggerCapture => {
            ext.load(&conn)?;
            select(&conn, "SELECT trigger_capture('item')")?;
            "trigger_outbox"
        }
        Capture::TriggerEmit => {
            ext.load(&conn)?;
            conn.execute_batch(EMIT_TRIGGERS)
                .ctx("creating the emit triggers")?;
            "trigger_outbox"
        }
    };
    let secs = timed(|| {
        conn.execute_batch("BEGIN").ctx("BEGIN")?;
        let mut insert = conn
            .prepare("INSERT INTO item(id, name, qty) VALUES (?1, 'item', ?1)")
            .ctx("preparing")?;
        let mut update = conn
            .prepare("UPDATE item SET qty = qty + 1 WHERE id = ?1")
            .ctx("preparing")?;
        let mut delete = conn
            .prepare("DELETE FROM item WHERE id = ?1")
            .ctx("preparing")?;
        sqlite_triggers_bench_inserts(&mut insert, n)?;
        sqlite_triggers_bench_updates(&mut update, n)?;
        sqlite_triggers_bench_deletes(&mut delete, n)?;
        conn.execute_batch("COMMIT").ctx("COMMIT")
    })?;
    expect_count(&conn, &format!("SELECT count(*) FROM {log}"), 3 * n)?;
    Ok(secs)
}

pub fn row6<'a>(plan: &Plan, ext: &'a Extension, sizes: &Sizes) -> Bench<'a> {
    let n = sizes.capture_rows;
    let run = |how| {
        let tmp = plan.tmp.clone();
        move || capture_changes(&tmp, ext, how, n)
    };
    Bench {
        id: "6",
        title: "change capture of inserts, updates and deletes",
        work: format!(
            "{} rows inserted, updated and deleted ({} changes), one transaction",
            count(n),
            count(3 * n)
        ),
        kind: Kind::Time,
        warmup: plan.warmup,
        rounds: plan.rounds,
        units: Some((3 * n, "change")),
        contenders: vec![
            Contender::new(
                "hand-written JSON audit triggers (baseline)",
                run(Capture::HandAudit),
            ),
            Contender::new("trigger_capture('item')", run(Capture::TriggerCapture))
                .target(Target::RatioAtMost(1.2))
                .skip_if(ext.lacks(&["trigger_capture"])),
            Contender::new("trigger_emit() from triggers", run(Capture::TriggerEmit))
                .skip_if(ext.lacks(&["trigger_emit"])),
        ],
    }
}
