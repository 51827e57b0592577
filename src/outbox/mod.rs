//! The durable outbox: events written in the same transaction as the change
//! that caused them, into an ordinary table of the main database, so they
//! survive crashes and restarts and other processes can read them.
//!
//! Its SQL functions (`trigger_emit`, `trigger_capture`, `trigger_ack`,
//! `trigger_wait` and the rest) are declared in this module's function
//! table, with their flags and why, and listed in `docs/reference.md`;
//! `docs/outbox.md` describes the outbox.
//!
//! The tables, [`OUTBOX_TABLE`] and [`CONSUMERS_TABLE`], are created on first
//! use by the functions that write ([`ensure_tables`]); the readers
//! (`trigger_cursor`, `trigger_wait`) treat a missing table as empty.
//! Sequence numbers come from `AUTOINCREMENT`, so once committed they are
//! never reused, not even after pruning or deleting every event (a rolled
//! back event's seq was never visible and is given out again); and because
//! SQLite has one writer at a time, events become visible in sequence order,
//! so a consumer that reads `seq > position` never skips one.
mod capture;
mod foreign_keys;
mod wait;

pub(crate) use capture::{keep_capture_first, problems};

use rusqlite::types::{Value, ValueRef};
use rusqlite::{params, Connection, OptionalExtension};

use crate::ffi::{Mutex, StatementAnswers};
use crate::functions::{SqlFunction, ADMIN, INNOCUOUS};
use crate::schema::{columns, main_table, Kind};
use crate::sql::display_name;
use crate::{Error, Result};

/// The events: `seq`, `channel`, `payload`, `created_at`.
pub(crate) const OUTBOX_TABLE: &str = "trigger_outbox";
/// The consumers' positions: `consumer`, `seq`, `updated_at`.
pub(crate) const CONSUMERS_TABLE: &str = "trigger_outbox_consumers";

/// The statement `trigger_emit` runs.
const EMIT_SQL: &str = "INSERT INTO main.trigger_outbox (channel, payload) VALUES (?1, ?2)";
/// What its errors say it was doing.
const EMIT_CONTEXT: &str = "writing to trigger_outbox";

/// A UTC timestamp with milliseconds, as the tables' column defaults, so rows
/// written by plain SQL (capture triggers) get one too.
const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

const FUNCTIONS: &[SqlFunction] = &[
    SqlFunction {
        name: "trigger_emit",
        signature: "channel, payload",
        args: 2..=2,
        // innocuous: made for trigger bodies: it only appends a row to the outbox, inside
        // the caller's transaction
        flags: INNOCUOUS,
        body: |a| {
            let channel = name_argument(a.text(0, "channel")?, 1, "channel")?;
            let payload = a.value_ref(1);
            a.with_connection(|conn| {
                if crate::functions::outermost_call() {
                    *a.session.emit_insert_scans.lock() = None;
                }
                let running =
                    running_statements(conn, &a.session.outbox_scans, &a.session.emit_insert_scans);
                if running.scans_outbox {
                    return Err(Error::invalid(format!(
                        "refused: the statement reads {OUTBOX_TABLE} while this call appends to \
                         it, so its scan would reach the events it adds and never end; copy the \
                         rows first: CREATE TEMP TABLE todo AS SELECT channel, payload FROM \
                         {OUTBOX_TABLE} WHERE ...; SELECT trigger_emit(channel, payload) FROM todo"
                    )));
                }
                if running.unprotected_emit && (!conn.is_autocommit() || running.writers > 1) {
                    return Err(Error::invalid(
                        "refused inside a transaction: this INSERT, UPDATE or DELETE calls \
                         trigger_emit in its own values, defaults, checks or conditions, and \
                         SQLite does not undo that call's event when such a statement fails \
                         (it keeps no statement journal for a single-row write), so the event \
                         could outlive the change; call it from a trigger on the table, in a \
                         SELECT of its own, or outside BEGIN ... COMMIT",
                    ));
                }
                if a.session.dqlite && conn.is_autocommit() && !crate::ffi::busy_writer(conn) {
                    return Err(crate::sql::dqlite_read_statement_refused());
                }
                let seq = a
                    .session
                    .statements(|cache, kept| emit(conn, cache, kept, &channel, payload))?;
                a.session.notify_commits(conn)?;
                Ok(seq)
            })
        },
    },
    SqlFunction {
        name: "trigger_cursor",
        signature: "consumer",
        args: 1..=1,
        // innocuous: reads one row, changes nothing
        flags: INNOCUOUS,
        body: |a| {
            let consumer = name_argument(a.text(0, "consumer")?, 1, "consumer")?;
            a.with_connection(|conn| cursor(conn, &consumer))
        },
    },
    SqlFunction {
        name: "trigger_outbox_init",
        signature: "",
        args: 0..=0,
        // direct-only: creates tables
        flags: ADMIN,
        body: |a| {
            a.with_connection(|conn| {
                crate::sql::in_savepoint(conn, "trigger_outbox_init", || ensure_tables(conn))?;
                Ok(format!(
                    "outbox ready: tables {OUTBOX_TABLE}, {CONSUMERS_TABLE}"
                ))
            })
        },
    },
    SqlFunction {
        name: "trigger_capture",
        signature: "table [, options_json]",
        args: 1..=2,
        // direct-only: changes the schema (creates triggers)
        flags: ADMIN,
        body: |a| {
            let table = a.text(0, "table")?;
            let options = a.options(1, "options_json")?;
            a.with_connection(|conn| capture::capture(conn, &table, &options))
        },
    },
    SqlFunction {
        name: "trigger_uncapture",
        signature: "table",
        args: 1..=1,
        // direct-only: changes the schema (drops triggers)
        flags: ADMIN,
        body: |a| {
            let table = a.text(0, "table")?;
            a.with_connection(|conn| capture::uncapture(conn, &table))
        },
    },
    SqlFunction {
        name: "trigger_ack",
        signature: "consumer, seq",
        args: 2..=2,
        // direct-only: moves a consumer's durable position, which decides what pruning
        // deletes
        flags: ADMIN,
        body: |a| {
            let consumer = name_argument(a.text(0, "consumer")?, 1, "consumer")?;
            let seq = a.int(1, "seq")?;
            if seq < 0 {
                return Err(format!("argument 2 (seq) must be 0 or more, got {seq}"));
            }
            a.with_connection(|conn| ack(conn, &consumer, seq))
        },
    },
    SqlFunction {
        name: "trigger_prune",
        signature: "",
        args: 0..=0,
        // direct-only: deletes events
        flags: ADMIN,
        body: |a| a.with_connection(prune),
    },
    SqlFunction {
        name: "trigger_wait",
        signature: "after_seq, timeout_ms [, channel]",
        args: 2..=3,
        // direct-only: blocks its connection; from a trigger or view it would stall every
        // writer
        flags: ADMIN,
        body: |a| {
            let after = a.int(0, "after_seq")?;
            let timeout_ms = wait::timeout(a.int(1, "timeout_ms")?)?;
            let channel = match a.opt_text(2, "channel")? {
                Some(channel) => Some(name_argument(channel, 3, "channel")?),
                None => None,
            };
            let key = a.session.file_key.clone();
            a.with_connection(|conn| {
                let seq = wait::wait(conn, key.as_deref(), after, timeout_ms, channel.as_deref())?;
                Ok(seq.map_or(Value::Null, Value::Integer))
            })
        },
    },
];

/// Registers the outbox functions on `conn`.
pub(crate) fn register(
    conn: &Connection,
    session: &std::sync::Arc<crate::session::Session>,
) -> Result<()> {
    crate::functions::register(conn, session, FUNCTIONS)
}

/// What the statements being stepped on the connection do, as far as
/// `trigger_emit` cares (see [`running_statements`]).
#[derive(Default)]
struct Running {
    /// One both reads the outbox (a cursor on its table or one of its
    /// indexes) and calls `trigger_emit`, in its own program or in the views
    /// and triggers it runs: `SELECT trigger_emit(...) FROM trigger_outbox`
    /// would read its own appends forever.
    scans_outbox: bool,
    /// One writes a table and calls `trigger_emit` in its own program (its
    /// values, defaults, CHECK constraints, generated columns, conditions or
    /// RETURNING clause) while firing no trigger. Such a statement may have
    /// no statement journal (SQLite opens none for a single-row write), and
    /// then its failure does not undo the events it emitted. A statement
    /// that fires triggers (or foreign key actions, which SQLite runs as
    /// triggers) always has one.
    unprotected_emit: bool,
    /// How many of them write (trigger_emit's own INSERT not counted).
    writers: usize,
}

/// What one statement's program does: a set of these bits.
const SCANS_OUTBOX: u8 = 1;
const UNPROTECTED_EMIT: u8 = 2;
const WRITES: u8 = 4;

/// Looks at every statement being stepped on the connection (see
/// [`Running`]). Each statement's program is read once with `EXPLAIN`
/// (again only after SQLite prepared it anew), and the answer kept in
/// `known` with the statement's SQL text. trigger_emit's own INSERT is
/// prepared anew for every call: whether it scans the outbox, which depends
/// on the outbox's triggers only, is kept in `emit_insert` for the calls
/// nested in one outermost call (the caller clears it there). A statement
/// prepared with the legacy `sqlite3_prepare()` keeps no text and cannot be
/// read: it counts as doing none of these.
fn running_statements(
    conn: &Connection,
    known: &StatementAnswers,
    emit_insert: &Mutex<Option<bool>>,
) -> Running {
    let mut running = Running::default();
    let note = |running: &mut Running, bits: u8| {
        running.scans_outbox |= bits & SCANS_OUTBOX != 0;
        running.unprotected_emit |= bits & UNPROTECTED_EMIT != 0;
        running.writers += usize::from(bits & WRITES != 0);
    };
    // Statements not judged yet are read after the walk: reading one
    // prepares a statement, which must not happen while walking the list.
    let mut unknown = Vec::new();
    crate::ffi::any_busy_statement(conn, |id, sql| {
        let Some(sql) = sql else { return false };
        if sql == EMIT_SQL.as_bytes() {
            match *emit_insert.lock() {
                Some(scans) => running.scans_outbox |= scans,
                None => unknown.push((id, String::from_utf8_lossy(sql).into_owned())),
            }
            return false;
        }
        match known.lock().get(&id) {
            // A finalized statement's memory may come back with other SQL.
            Some((text, bits)) if **text == *sql => note(&mut running, *bits),
            _ => unknown.push((id, String::from_utf8_lossy(sql).into_owned())),
        }
        false
    });
    for (id, sql) in unknown {
        let bits = read_program(conn, &sql);
        if sql == EMIT_SQL {
            let scans = bits & SCANS_OUTBOX != 0;
            *emit_insert.lock() = Some(scans);
            running.scans_outbox |= scans;
        } else {
            let mut cache = known.lock();
            if cache.len() >= 256 {
                cache.clear();
            }
            cache.insert(id, (sql.into_bytes().into_boxed_slice(), bits));
            drop(cache);
            note(&mut running, bits);
        }
    }
    running
}

/// Reads the program of `sql` with `EXPLAIN` (sub-programs of triggers
/// included) and says what it does, as bits: [`SCANS_OUTBOX`] when it opens
/// the outbox for reading and calls `trigger_emit`; [`WRITES`] when it
/// starts a write transaction; [`UNPROTECTED_EMIT`] when it also calls
/// `trigger_emit` and runs no trigger program. A statement that cannot be
/// explained counts as doing none of these.
fn read_program(conn: &Connection, sql: &str) -> u8 {
    let roots: Vec<i64> = conn
        .prepare(&format!(
            "SELECT rootpage FROM main.sqlite_master \
             WHERE tbl_name = '{OUTBOX_TABLE}' COLLATE NOCASE AND rootpage > 0"
        ))
        .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect())
        .unwrap_or_default();
    let Ok(mut stmt) = conn.prepare(&format!("EXPLAIN {sql}")) else {
        return 0;
    };
    // Unbound parameters are fine for EXPLAIN (query() would insist on
    // binding them all).
    let mut rows = stmt.raw_query();
    let (mut reads, mut emits, mut writes, mut protected) = (false, false, false, false);
    while let Ok(Some(row)) = rows.next() {
        let opcode: String = row.get(1).unwrap_or_default();
        let p2: i64 = row.get(3).unwrap_or_default();
        let p3: i64 = row.get(4).unwrap_or_default();
        let p4: Option<String> = row.get(5).unwrap_or_default();
        match opcode.as_str() {
            "OpenRead" => reads |= p3 == 0 && roots.contains(&p2),
            "Transaction" => writes |= p2 != 0,
            // Triggers run as sub-programs; a statement that creates a
            // table (CREATE TABLE ... AS SELECT) is undone whole as well.
            "Program" | "CreateBtree" => protected = true,
            _ => {}
        }
        emits |= p4.is_some_and(|p4| p4.starts_with("trigger_emit("));
    }
    let mut bits = 0;
    if reads && emits {
        bits |= SCANS_OUTBOX;
    }
    if writes {
        bits |= WRITES;
        if emits && !protected {
            bits |= UNPROTECTED_EMIT;
        }
    }
    bits
}

/// What is wrong with a channel or consumer name, if anything: the one
/// check of every function that takes one (`trigger_emit`, `trigger_wait`,
/// `trigger_cursor`, `trigger_ack`, `trigger_capture`'s option channel).
/// No event or consumer can be named "", and a name with a NUL would not
/// read back as given: SQLite's text functions and C hosts end text at the
/// first NUL, so `a\0b` would show, and be compared by some, as `a`.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("must not be empty")
    } else if name.contains('\0') {
        Some(
            "contains a NUL character, where SQLite's text functions and C hosts end the \
             text; give a name without one",
        )
    } else {
        None
    }
}

/// Refuses a channel or consumer name given as argument `position`
/// ([`name_problem`]).
fn name_argument(text: String, position: usize, name: &str) -> Result<String, String> {
    match name_problem(&text) {
        Some(problem) => Err(format!("argument {position} ({name}) {problem}")),
        None => Ok(text),
    }
}

/// Creates the outbox and consumers tables if they do not exist yet. Safe to
/// call from inside a running statement, a trigger body included: SQLite
/// lets a statement run on while another one changes the schema.
pub(crate) fn ensure_tables(conn: &Connection) -> Result<()> {
    // CREATE TABLE IF NOT EXISTS keeps any table of these names, so one
    // made elsewhere is checked first for what the extension relies on;
    // checking before creating leaves nothing half made.
    check_tables(conn)?;
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS main.{OUTBOX_TABLE} (\n  \
           seq INTEGER PRIMARY KEY AUTOINCREMENT,\n  \
           channel TEXT NOT NULL,\n  \
           payload,\n  \
           created_at TEXT NOT NULL DEFAULT ({NOW})\n\
         );\n\
         CREATE TABLE IF NOT EXISTS main.{CONSUMERS_TABLE} (\n  \
           consumer TEXT PRIMARY KEY,\n  \
           seq INTEGER NOT NULL,\n  \
           updated_at TEXT NOT NULL DEFAULT ({NOW})\n\
         );"
    ))
    .map_err(Error::sqlite("creating the outbox tables"))
}

/// Fails, naming the table and each misfit, when a table of the outbox's
/// names exists but lacks what the extension relies on.
fn check_tables(conn: &Connection) -> Result<()> {
    for (table, wanted) in [
        (OUTBOX_TABLE, OUTBOX_SHAPE),
        (CONSUMERS_TABLE, CONSUMERS_SHAPE),
    ] {
        let problems = misfits(conn, table, wanted)?;
        if !problems.is_empty() {
            return Err(Error::invalid(format!(
                "the existing {table} does not fit the outbox: {}; \
                 rename or drop it, then call trigger_outbox_init() to create it",
                problems.join("; ")
            )));
        }
    }
    Ok(())
}

/// Runs `op`, a write to the outbox tables. When a table is missing it
/// creates them and runs `op` again; when `op` fails otherwise and a table
/// of the outbox's names does not fit, that is the error. A write that
/// succeeds costs no check.
fn on_tables<T>(
    conn: &Connection,
    context: impl Into<String>,
    op: impl Fn() -> rusqlite::Result<T>,
) -> Result<T> {
    match op() {
        Ok(value) => Ok(value),
        Err(e) if is_missing_table(&e) => {
            ensure_tables(conn)?;
            op().map_err(Error::sqlite(context))
        }
        Err(e) => {
            // Wrapped first: that reads the extended code of this failure,
            // which the statements check_tables runs would overwrite.
            let e = Error::sqlite(context)(e);
            check_tables(conn)?;
            Err(e)
        }
    }
}

/// What the extension needs of one of its tables: the columns it names, and
/// its key, which `seq` order and `ON CONFLICT (consumer)` rely on.
struct Shape {
    columns: &'static [&'static str],
    key: Key,
}

enum Key {
    /// `seq INTEGER PRIMARY KEY AUTOINCREMENT`: seqs never reused.
    AutoincrementRowid(&'static str),
    /// A PRIMARY KEY or UNIQUE constraint on exactly this column.
    Unique(&'static str),
}

const OUTBOX_SHAPE: Shape = Shape {
    columns: &["seq", "channel", "payload", "created_at"],
    key: Key::AutoincrementRowid("seq"),
};
const CONSUMERS_SHAPE: Shape = Shape {
    columns: &["consumer", "seq", "updated_at"],
    key: Key::Unique("consumer"),
};

/// What keeps the existing `table` from serving as `wanted` (empty: it
/// fits, or there is no such table yet).
fn misfits(conn: &Connection, table: &str, wanted: Shape) -> Result<Vec<String>> {
    let Some(found) = main_table(conn, table)? else {
        return Ok(Vec::new());
    };
    let kind = match found.kind {
        Kind::Table => None,
        Kind::View => Some("view"),
        Kind::Virtual => Some("virtual table"),
        Kind::Shadow => Some("shadow table"),
        Kind::Internal => Some("table of SQLite's own"),
    };
    if let Some(kind) = kind {
        return Ok(vec![format!("it is a {kind}, not a table")]);
    }
    let columns = columns(conn, table)?;
    let column = |name: &str| columns.iter().find(|c| c.name.eq_ignore_ascii_case(name));
    let mut problems = Vec::new();
    for name in wanted.columns {
        if column(name).is_none() {
            problems.push(format!("it has no column {name}"));
        }
    }
    // The extension's inserts name only some columns; any other NOT NULL
    // column without a DEFAULT would make every one of them fail.
    let inserted: &[&str] = match wanted.key {
        Key::AutoincrementRowid(_) => &["channel", "payload"],
        Key::Unique(_) => &["consumer", "seq"],
    };
    for c in &columns {
        let filled = inserted.iter().any(|i| i.eq_ignore_ascii_case(&c.name))
            || matches!(wanted.key, Key::AutoincrementRowid(k) if k.eq_ignore_ascii_case(&c.name) && c.pk == 1);
        if c.not_null && !c.has_default && !filled {
            problems.push(format!(
                "column {} is NOT NULL without a DEFAULT",
                display_name(&c.name)
            ));
        }
    }
    match wanted.key {
        Key::AutoincrementRowid(key) => {
            let pk: Vec<_> = columns.iter().filter(|c| c.pk > 0).collect();
            let rowid_alias = pk.len() == 1
                && pk[0].name.eq_ignore_ascii_case(key)
                && pk[0].declared.eq_ignore_ascii_case("INTEGER");
            let sql: String = conn
                .query_row(
                    "SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
                    [table],
                    |r| r.get(0),
                )
                .map_err(Error::sqlite(format!("reading the schema of {table}")))?;
            if !rowid_alias || !sql.to_ascii_uppercase().contains("AUTOINCREMENT") {
                problems.push(format!(
                    "{key} is not INTEGER PRIMARY KEY AUTOINCREMENT, so seqs could be reused"
                ));
            }
        }
        Key::Unique(key) => {
            let unique: bool = conn
                .query_row(
                    "SELECT count(*) > 0 FROM pragma_index_list(?1, 'main') AS l \
                     WHERE l.\"unique\" AND l.partial = 0 \
                     AND (SELECT count(*) FROM pragma_index_info(l.name, 'main')) = 1 \
                     AND (SELECT name FROM pragma_index_info(l.name, 'main')) = ?2 COLLATE NOCASE",
                    [table, key],
                    |r| r.get(0),
                )
                .map_err(Error::sqlite(format!("reading the indexes of {table}")))?;
            if !unique {
                problems.push(format!("{key} is not its PRIMARY KEY (or UNIQUE)"));
            }
        }
    }
    Ok(problems)
}

/// Whether `e` says that a table is missing: the readers treat a missing
/// outbox as an empty one, and emit creates it then.
pub(crate) fn is_missing_table(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(_, Some(message))
        if message.starts_with("no such table"))
}

/// Appends an event to the outbox in the caller's transaction and returns
/// its seq. The payload is stored exactly as given (text stays text).
/// Whether any trigger, in main or TEMP, is on the outbox. The TEMP schema
/// is read only when the connection has opened it: reading it would open it.
fn outbox_has_triggers(conn: &Connection) -> Result<bool> {
    let on_outbox = |schema: &str| -> Result<bool> {
        conn.query_row(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM {schema}.sqlite_master WHERE type = 'trigger' \
                 AND tbl_name = '{OUTBOX_TABLE}' COLLATE NOCASE)"
            ),
            [],
            |r| r.get(0),
        )
        .map_err(Error::sqlite(EMIT_CONTEXT))
    };
    let temp_open: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_database_list WHERE name = 'temp')",
            [],
            |r| r.get(0),
        )
        .map_err(Error::sqlite(EMIT_CONTEXT))?;
    Ok(on_outbox("main")? || (temp_open && on_outbox("temp")?))
}

pub(crate) fn emit(
    conn: &Connection,
    cache: Option<&Connection>,
    kept: &crate::session::Statements,
    channel: &str,
    payload: ValueRef<'_>,
) -> Result<i64> {
    let checked = &kept.checked;
    let insert = || -> Result<i64> {
        let mut cache = cache.filter(|_| !kept.uncachable.get());
        let prepared = match cache {
            // A schema change makes SQLite prepare it again by itself.
            Some(cache) => cache.prepare_cached(EMIT_SQL),
            // Cached in the call's own handle: finalized when the call ends.
            None => conn.prepare_cached(EMIT_SQL),
        };
        let mut stmt = prepared.map_err(Error::sqlite(EMIT_CONTEXT))?;
        // The seq returned is the rowid, which is the seq only in a table
        // of the outbox's shape: checked whenever SQLite prepared the
        // statement anew (a schema change), and for uncached statements.
        let prepared_again = stmt.get_status(rusqlite::StatementStatus::RePrepare);
        if cache.is_none() || checked.get() != Some(prepared_again) {
            check_tables(conn)?;
            // The cache lives in `trigger_txn`, which frees it when SQLite
            // disconnects the table as the connection closes. A trigger on
            // the outbox (the feed's guard under trigger_watch('*'), or one
            // of the user's that writes a watched table) compiles into the
            // cached INSERT and can use `trigger_txn`, which then is never
            // disconnected: the cache would hold the connection open for
            // good. While the outbox has triggers, the INSERT is prepared
            // per call instead.
            let triggered = outbox_has_triggers(conn)?;
            kept.uncachable.set(triggered);
            if let (true, Some(c)) = (triggered, cache) {
                drop(stmt);
                c.flush_prepared_statement_cache();
                cache = None;
                stmt = conn
                    .prepare_cached(EMIT_SQL)
                    .map_err(Error::sqlite(EMIT_CONTEXT))?;
            }
            checked.set(cache.map(|_| prepared_again));
        }
        // The seq is the rowid this INSERT made, read as soon as it is done:
        // SQLite restores last_insert_rowid() only when a trigger ends, so
        // a trigger on the outbox that inserts elsewhere cannot change it
        // here. (RETURNING would say the same, at the price of a temporary
        // table per call.)
        let payload = rusqlite::types::ToSqlOutput::Borrowed(payload);
        let result = stmt.execute(params![channel, payload]);
        // SQLite prepares a statement again when it is run after a schema
        // change: a trigger made on the outbox since is in it now.
        if let Some(c) = cache {
            if stmt.get_status(rusqlite::StatementStatus::RePrepare) != prepared_again {
                checked.set(None);
                if outbox_has_triggers(conn)? {
                    kept.uncachable.set(true);
                    drop(stmt);
                    c.flush_prepared_statement_cache();
                }
            }
        }
        match result {
            Ok(0) => Err(Error::invalid(format!(
                "the event was not written: the insert into {OUTBOX_TABLE} was skipped (a \
                 trigger on it with RAISE(IGNORE), or an ON CONFLICT IGNORE constraint); drop \
                 or change that trigger or constraint"
            ))),
            Ok(_) => Ok(conn.last_insert_rowid()),
            Err(e) => Err(Error::sqlite(EMIT_CONTEXT)(e)),
        }
    };
    // As `on_tables`: a missing outbox is created, and a failure is
    // explained by the outbox's shape where it does not fit.
    match insert() {
        Err(Error::Sqlite { source, .. }) if is_missing_table(&source) => {
            ensure_tables(conn)?;
            insert()
        }
        Err(e @ Error::Sqlite { .. }) => {
            check_tables(conn)?;
            Err(e)
        }
        other => other,
    }
}

/// The position stored for `consumer`; 0 for one that never acknowledged.
pub(crate) fn cursor(conn: &Connection, consumer: &str) -> Result<i64> {
    int_or_zero(
        conn,
        &format!("SELECT seq FROM main.{CONSUMERS_TABLE} WHERE consumer = ?1"),
        consumer,
        CONSUMERS_TABLE,
    )
}

/// The largest seq ever issued (0 before the first event): the high-water
/// mark AUTOINCREMENT keeps in `sqlite_sequence`, which pruning never lowers.
fn largest_issued(conn: &Connection) -> Result<i64> {
    int_or_zero(
        conn,
        "SELECT seq FROM main.sqlite_sequence WHERE name = ?1",
        OUTBOX_TABLE,
        "sqlite_sequence",
    )
}

/// One integer read with one parameter; 0 when there is no row or no table
/// yet (the readers create nothing).
fn int_or_zero(conn: &Connection, sql: &str, param: &str, table: &str) -> Result<i64> {
    let found = conn
        .query_row(sql, [param], |r| r.get::<_, i64>(0))
        .optional();
    match found {
        Ok(seq) => Ok(seq.unwrap_or(0)),
        Err(e) if is_missing_table(&e) => Ok(0),
        Err(e) => Err(Error::sqlite(format!("reading {table}"))(e)),
    }
}

/// Stores that `consumer` has processed every event up to `seq`. A position
/// never moves backwards (the larger one is kept), so a late or repeated
/// acknowledgement is harmless. Returns the stored position.
pub(crate) fn ack(conn: &Connection, consumer: &str, seq: i64) -> Result<i64> {
    crate::sql::in_savepoint(conn, "trigger_ack", || {
        let issued = largest_issued(conn)?;
        if seq > issued {
            return Err(Error::invalid(format!(
                "seq {seq} has not been issued yet (the largest seq issued is {issued})"
            )));
        }
        on_tables(conn, format!("writing to {CONSUMERS_TABLE}"), || {
            conn.query_row(
                &format!(
                    "INSERT INTO main.{CONSUMERS_TABLE} (consumer, seq) VALUES (?1, ?2) \
                     ON CONFLICT (consumer) DO UPDATE \
                     SET seq = max(seq, excluded.seq), updated_at = {NOW} \
                     RETURNING seq"
                ),
                params![consumer, seq],
                |r| r.get(0),
            )
        })
    })
}

/// Deletes the events every registered consumer has acknowledged; with no
/// consumer registered nothing is deleted. Returns how many were deleted.
pub(crate) fn prune(conn: &Connection) -> Result<i64> {
    crate::sql::in_savepoint(conn, "trigger_prune", || {
        let deleted = on_tables(conn, format!("pruning {OUTBOX_TABLE}"), || {
            conn.execute(
                &format!(
                    "DELETE FROM main.{OUTBOX_TABLE} \
                     WHERE seq <= (SELECT min(seq) FROM main.{CONSUMERS_TABLE})"
                ),
                [],
            )
        })?;
        Ok(deleted as i64)
    })
}
