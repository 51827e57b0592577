//! The change feed: row changes reported by SQLite's update hook, kept in
//! memory per database file once they have committed.
//!
//! Its SQL functions (`trigger_watch`, `trigger_changes` and the rest) are
//! declared in this module's function table, with their flags and why, and
//! listed in `docs/reference.md`; `docs/feed.md` describes the feed.
//!
//! How nothing rolled back gets in: the update hook records changes into the
//! connection's pending transaction. A TEMP trigger on each watched table
//! writes one row into `trigger_txn` the first time a transaction touches
//! the table (before the row changes), which makes SQLite report savepoint
//! begins, releases and rollbacks (statement rollbacks included) and the
//! final commit to the [`Session`]; only after the commit has succeeded do
//! the pending changes reach the feed.
use std::collections::HashSet;
use std::ffi::CStr;
use std::sync::Arc;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};

use crate::changes::{capacity, last_seq};
use crate::functions::{SqlFunction, ADMIN, INNOCUOUS};
use crate::schema::{find_main_table, Kind};
use crate::session::Session;
use crate::sql::{display_name, quote_ident, shorten};
use crate::{Error, Result};

const FUNCTIONS: &[SqlFunction] = &[
    SqlFunction {
        name: "trigger_watch",
        signature: "table",
        args: 1..=1,
        // direct-only: creates TEMP triggers and sets the connection's hooks
        flags: ADMIN,
        body: |a| {
            let table = a.text(0, "table")?;
            a.with_connection(|conn| watch(conn, a.session, &table))
        },
    },
    SqlFunction {
        name: "trigger_unwatch",
        signature: "table",
        args: 1..=1,
        // direct-only: drops TEMP triggers and clears the connection's hooks
        flags: ADMIN,
        body: |a| {
            let table = a.text(0, "table")?;
            a.with_connection(|conn| unwatch(conn, a.session, &table))
        },
    },
    SqlFunction {
        name: "trigger_feed_capacity",
        signature: "[n]",
        args: 0..=1,
        // direct-only: changes how much of the file's feed every connection of the process
        // keeps
        flags: ADMIN,
        body: |a| {
            let n = a.opt_int(0, "n")?;
            capacity(&a.session.feed(), n).map(|n| Value::Integer(n as i64))
        },
    },
    SqlFunction {
        name: "trigger_feed_deleted",
        signature: "token, schema, guard, rowid",
        args: 4..=4,
        // innocuous: called by the feed's TEMP AFTER DELETE triggers, and answers only them
        // (they carry the connection's random token); touches only the connection's feed
        // state
        flags: INNOCUOUS,
        // Called by the feed's AFTER DELETE guards for every deleted row of a
        // watched table: it only notes a delete the update hook missed. The
        // token is the connection's own, in its TEMP guards only: any other
        // caller (a trigger in a database file, a direct call) is refused
        // before anything is read.
        body: |a| {
            if a.str(0, "token")? != a.session.guard_token {
                return Err(
                    "only the change feed's own TEMP triggers call this function".to_string(),
                );
            }
            let rowid = a.int(3, "rowid")?;
            // Every delete but REPLACE's was reported just before: the
            // common case reads nothing more.
            if a.session.delete_was_reported(rowid) {
                return Ok(Value::Null);
            }
            let schema = a.str(1, "schema")?;
            let guard = a.str(2, "guard")?;
            a.with_connection(|conn| {
                if let Some(table) = guard_table(conn, guard)? {
                    a.session.record_replaced_delete(schema, &table, rowid);
                }
                Ok(Value::Null)
            })
        },
    },
    SqlFunction {
        name: "trigger_txn_joined",
        signature: "",
        args: 0..=0,
        // innocuous: called by the feed's TEMP triggers; reads only the connection's feed
        // state
        flags: INNOCUOUS,
        // Called by the guards' WHEN for every row they see. SQLite puts
        // trigger_txn into the transaction when a statement that may write it
        // starts, so this is almost always 1 and the guard writes nothing. A
        // table or view that hides trigger_txn (made after trigger_watch
        // checked) would take the guard's row: then this answers 1, the
        // guard writes nothing, and the transaction's changes stay unproven
        // (held back as `unguarded`). Once per transaction it also looks for
        // a rename of a watched table (see `follow_renames`), before the
        // transaction's first change to a guarded table.
        body: |a| {
            let (joined, look) = a.session.guard_call();
            if look {
                a.with_connection(|conn| follow_renames(conn, a.session).map(|()| 0))?;
            }
            if joined {
                return Ok(Value::Integer(1));
            }
            a.with_connection(|conn| Ok(crate::schema::shadowing_txn_table(conn)?.is_some() as i64))
        },
    },
];

/// Registers the feed's functions and `trigger_changes` on `conn`.
pub(crate) fn register(conn: &Connection, session: &Arc<Session>) -> Result<()> {
    crate::functions::register(conn, session, FUNCTIONS)?;
    crate::ffi::register_table::<ChangesTable>(conn)
}

/// `trigger_changes`: the committed changes, oldest first. When changes
/// were dropped, a row with `op = 'dropped'` comes first: its `seq` is the
/// last dropped change's and its `rowid` says how many were dropped, so a
/// reader asking for `seq > n` sees it exactly when it missed something.
/// A row with `op = 'unguarded'` stands for changes held back (see
/// [`What::Unguarded`]); its `rowid` says how many.
pub(crate) struct ChangesTable;

impl crate::ffi::RowSource for ChangesTable {
    const NAME: &'static CStr = c"trigger_changes";
    const SCHEMA: &'static CStr =
        c"CREATE TABLE x(seq INTEGER, op TEXT, db TEXT, table_name TEXT, rowid INTEGER, txn INTEGER)";
    const SEQ_COLUMN: Option<i32> = Some(0);

    fn rows(conn: &Connection, after: Option<i64>) -> Result<Vec<Vec<Value>>> {
        Self::page(conn, after, usize::MAX).map(|(rows, _)| rows)
    }

    /// A scan reads the feed a page at a time, so that it never copies the
    /// whole feed. Changes dropped between two pages (other connections
    /// committing meanwhile) get a `dropped` row where they were, as at the
    /// start of a scan.
    fn page(
        conn: &Connection,
        after: Option<i64>,
        limit: usize,
    ) -> Result<(Vec<Vec<Value>>, bool)> {
        let session = Session::of(conn).ok_or_else(|| Error::invalid(Session::MISSING))?;
        let page = session.feed().lock().page(after, limit);
        Ok(page)
    }
}

/// `trigger_watch(table)`.
fn watch(conn: &Connection, session: &Arc<Session>, table: &str) -> Result<i64> {
    // dqlite (VFS "dqlite-N") runs each client's statements on a connection
    // of the leader node, sets that connection's hooks itself and applies
    // the commits of other nodes by replication: a feed kept in one process's
    // memory would miss changes and vanish at a failover.
    if let Some(vfs) = crate::ffi::main_vfs_name(conn).filter(|v| crate::notify::dqlite(v)) {
        return Err(Error::invalid(format!(
            "the change feed cannot follow a dqlite database (VFS {}): it lives in one \
             connection's memory, while dqlite runs statements on whichever node leads and \
             replicates commits to the others; capture the table into the outbox instead \
             (trigger_capture) and poll trigger_outbox by seq",
            shorten(&vfs)
        )));
    }
    // The feed is read through trigger_changes: one a database file
    // brings would be read instead, and show anything.
    if let Some(object) = crate::schema::shadowing(conn, "trigger_changes")? {
        return Err(Error::invalid(format!(
            "{object} hides the extension's trigger_changes table, through which the feed \
             is read; rename or drop it to watch tables here"
        )));
    }
    if table == "*" {
        change_interest(conn, session, |s| s.sql_all = true)?;
    } else {
        let name = watchable_table(conn, table).map_err(|e| e.within("argument 1 (table): "))?;
        change_interest(conn, session, |s| {
            s.sql_tables.insert(name.to_ascii_lowercase());
        })?;
    }
    Ok(last_seq(&session.feed()))
}

/// `trigger_unwatch(table)`.
fn unwatch(conn: &Connection, session: &Arc<Session>, table: &str) -> Result<String> {
    if table == "*" {
        change_interest(conn, session, |s| {
            s.sql_all = false;
            s.sql_tables.clear();
        })?;
        return Ok("stopped watching every table".into());
    }
    let key = table.to_ascii_lowercase();
    let (listed, all) = {
        let s = session.state.lock();
        (s.sql_tables.contains(&key), s.sql_all)
    };
    if !listed && all {
        return Err(Error::invalid(format!(
            "argument 1 (table): {} is not watched on its own: trigger_watch('*') watches \
             every table; call trigger_unwatch('*') to stop watching them all",
            shorten(table)
        )));
    }
    if !listed {
        return Err(Error::invalid(format!(
            "argument 1 (table): {} is not watched on this connection",
            shorten(table)
        )));
    }
    change_interest(conn, session, |s| {
        s.sql_tables.remove(&key);
    })?;
    Ok(format!("stopped watching {}", display_name(table)))
}

/// The canonical name of a `main` table the update hook can see.
pub(crate) fn watchable_table(conn: &Connection, table: &str) -> Result<String> {
    let found = find_main_table(conn, table)?;
    let name = display_name(&found.name);
    if found.kind == Kind::Virtual {
        return Err(Error::invalid(format!(
            "{name} is a virtual table; the update hook does not see its changes"
        )));
    }
    if let Some(why) = found.not_a_table() {
        return Err(Error::invalid(why));
    }
    if found.without_rowid {
        return Err(Error::invalid(format!(
            "{name} is a WITHOUT ROWID table, whose changes SQLite's update hook does not report; \
             use trigger_capture({}) for it",
            crate::sql::quote_text(&found.name)?
        )));
    }
    Ok(found.name)
}

/// Changes what this connection watches, then brings hooks and guard
/// triggers in line: hooks on while anything is watched, guards on exactly
/// the tables watched. If that fails, what was watched before (SQL watches
/// and Rust listeners) is restored.
pub(crate) fn change_interest(
    conn: &Connection,
    session: &Arc<Session>,
    change: impl FnOnce(&mut crate::session::State),
) -> Result<()> {
    if !conn.is_autocommit() {
        return Err(Error::invalid(
            "cannot change what is watched inside a transaction: a rollback would undo the \
             TEMP triggers that guard watched tables; call it outside BEGIN ... COMMIT",
        ));
    }
    let (before_tables, before_all, before_api, hooks_on) = {
        let s = session.state.lock();
        let api: Vec<u64> = s.api.iter().map(|l| l.id).collect();
        (s.sql_tables.clone(), s.sql_all, api, s.hooks_on)
    };
    {
        let mut s = session.state.lock();
        change(&mut s);
        s.interest_changed();
    }
    let result = sync_hooks_and_guards(conn, session, hooks_on);
    if result.is_err() {
        let mut s = session.state.lock();
        s.sql_tables = before_tables;
        s.sql_all = before_all;
        s.api.retain(|l| before_api.contains(&l.id));
        s.interest_changed();
    }
    result
}

/// A table watched by name and renamed (`ALTER TABLE t RENAME TO t2`) is
/// followed: SQLite moves its guards, and `t2` is watched from then on (`t`
/// stays watched too, as after `DROP TABLE`, for a table created later under
/// that name). Looked for when the main schema changed, before the first
/// change of each transaction (from the guards) and when what is watched
/// changes, which is always before the renamed table's next change.
fn follow_renames(conn: &Connection, session: &Session) -> Result<()> {
    if session.state.lock().sql_tables.is_empty() {
        return Ok(());
    }
    // Once per statement that writes a guarded table: kept prepared.
    let version: i64 = session
        .statements(|cache, _| {
            cache
                .unwrap_or(conn)
                .prepare_cached("PRAGMA main.schema_version")?
                .query_row([], |r| r.get(0))
        })
        .map_err(Error::sqlite("reading the schema version"))?;
    let tables: Vec<String> = {
        let s = session.state.lock();
        if s.schema_seen == Some(version) {
            return Ok(());
        }
        s.sql_tables
            .iter()
            .filter(|t| s.guarded.contains(&("main".to_string(), (*t).clone())))
            .cloned()
            .collect()
    };
    let mut moved = Vec::new();
    for table in tables {
        let Some((name, _)) = guards("main", &table, &session.guard_token)?
            .into_iter()
            .next()
        else {
            continue;
        };
        if let Some(now) = guard_table(conn, &name)?.filter(|now| !now.eq_ignore_ascii_case(&table))
        {
            moved.push(now.to_ascii_lowercase());
        }
    }
    let mut s = session.state.lock();
    s.schema_seen = Some(version);
    if !moved.is_empty() {
        s.sql_tables.extend(moved);
        s.interest_changed();
    }
    Ok(())
}

/// The table the TEMP trigger `guard` is on now (renames move it).
fn guard_table(conn: &Connection, guard: &str) -> Result<Option<String>> {
    conn.query_row(
        "SELECT tbl_name FROM temp.sqlite_master WHERE type = 'trigger' AND name = ?1",
        [guard],
        |r| r.get(0),
    )
    .optional()
    .map_err(Error::sqlite("reading the temporary schema"))
}

/// Drops the feed's guards that a rename moved to another table: a TEMP
/// trigger with exactly a guard's text, but not the guard of the table it
/// is now on. Its table gets its own guards again if it is watched.
fn drop_moved_guards(conn: &Connection, token: &str) -> Result<()> {
    let schemas: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT lower(name) FROM pragma_database_list")
            .map_err(Error::sqlite("listing databases"))?;
        let names = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(Error::sqlite("listing databases"))?;
        names
    };
    let triggers: Vec<(String, String, String)> = {
        let mut stmt = conn
            .prepare(
                "SELECT name, tbl_name, sql FROM temp.sqlite_master \
                 WHERE type = 'trigger' AND name LIKE 'trigger\\_feed\\_%' ESCAPE '\\'",
            )
            .map_err(Error::sqlite("reading the temporary schema"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(|rows| rows.collect())
            .map_err(Error::sqlite("reading the temporary schema"))?;
        rows
    };
    for (name, table, sql) in triggers {
        if !guard_shaped(&name, &sql)? {
            continue;
        }
        let table = table.to_ascii_lowercase();
        let mut current = false;
        for schema in &schemas {
            current |= guards(schema, &table, token)?
                .iter()
                .any(|(n, text)| *n == name && sql == format!("CREATE TRIGGER {text}"));
        }
        if !current {
            conn.execute_batch(&format!("DROP TRIGGER temp.{}", quote_ident(&name)?))
                .map_err(Error::sqlite(format!(
                    "dropping the feed's TEMP trigger {} moved to {} by a rename",
                    display_name(&name),
                    display_name(&table)
                )))?;
        }
    }
    Ok(())
}

/// Whether `schema.table` is a table now.
fn table_exists(conn: &Connection, schema: &str, table: &str) -> Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM pragma_table_list WHERE schema = ?1 COLLATE NOCASE \
         AND name = ?2 COLLATE NOCASE AND type = 'table'",
        [schema, table],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(Error::sqlite("reading the schema"))
}

/// How every guard's stored SQL ends.
const GUARD_BODY: &str =
    " WHEN NOT trigger_txn_joined() BEGIN INSERT INTO trigger_txn VALUES ('feed'); END";

fn sync_hooks_and_guards(conn: &Connection, session: &Arc<Session>, hooks_on: bool) -> Result<()> {
    follow_renames(conn, session)?;
    drop_moved_guards(conn, &session.guard_token)?;
    let (needs_hooks, wanted) = {
        let s = session.state.lock();
        (s.needs_hooks(), s.tables_to_guard())
    };
    if needs_hooks && !hooks_on {
        crate::ffi::install_hooks(conn, &**session).map_err(|hook| {
            Error::invalid(format!(
                "the host application had set its own {} on this connection; SQLite keeps one \
                 {} per connection and cannot share it, so the change feed cannot run here \
                 (the host's hook was cleared when it was found: set it again, or use \
                 trigger_capture, which needs no hooks)",
                hook.name(),
                hook.name()
            ))
        })?;
        session.state.lock().hooks_on = true;
    }
    // With nothing watched, `tables_to_guard` is empty: every guard goes.
    let wanted_all = wanted.is_none();
    let wanted = match wanted {
        // A name watched whose table is gone (dropped, or renamed away) has
        // no guards until a table of that name exists again.
        Some(tables) => {
            let mut existing = HashSet::new();
            for (schema, table) in tables {
                if table_exists(conn, &schema, &table)? {
                    existing.insert((schema, table));
                }
            }
            existing
        }
        None => crate::schema::rowid_tables(conn)?
            .into_iter()
            .map(|(schema, table)| (schema.to_ascii_lowercase(), table.to_ascii_lowercase()))
            .collect(),
    };
    if wanted_all {
        let skip = crate::schema::shadow_tables(conn)?.into_iter().collect();
        let mut s = session.state.lock();
        s.skip = skip;
        s.interest_changed();
    }
    if !wanted.is_empty() {
        if let Some(object) = crate::schema::shadowing_txn_table(conn)? {
            return Err(Error::invalid(format!(
                "{object} hides the extension's trigger_txn table, through which the feed \
                 sees savepoints and rollbacks; rename or drop it to watch tables here"
            )));
        }
    }
    let guarded = session.state.lock().guarded.clone();
    // Every wanted table, not only new ones: a table dropped and created
    // again lost its TEMP triggers with it.
    for table in &wanted {
        create_guard(conn, &table.0, &table.1, &session.guard_token)?;
        session.state.lock().guarded.insert(table.clone());
    }
    for table in guarded.difference(&wanted) {
        drop_guard(conn, &table.0, &table.1, &session.guard_token)?;
        session.state.lock().guarded.remove(table);
    }
    if !needs_hooks && hooks_on {
        session.state.lock().hooks_on = false;
        // A hook the host set after ours is cleared too; nothing better can
        // be done, since SQLite cannot hand its callback back.
        let _ = crate::ffi::remove_hooks(conn, &**session);
    }
    Ok(())
}

/// What `trigger_doctor()` finds wrong with this connection's watch: a
/// guard trigger of a guarded table missing or changed (dropped or edited
/// by hand), which leaves that table's changes held back as `unguarded`.
pub(crate) fn problems(conn: &Connection) -> Result<Vec<crate::problem::Problem>> {
    let Some(session) = Session::of(conn) else {
        return Ok(Vec::new());
    };
    let mut guarded: Vec<(String, String)> = session.state.lock().guarded.iter().cloned().collect();
    guarded.sort();
    let mut found = Vec::new();
    for (schema, table) in guarded {
        let mut broken = Vec::new();
        for (name, text) in guards(&schema, &table, &session.guard_token)? {
            let stored: Option<String> = conn
                .query_row(
                    "SELECT sql FROM temp.sqlite_master WHERE type = 'trigger' AND name = ?1",
                    [&name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(Error::sqlite("reading the schema"))?;
            if stored.as_deref() != Some(&format!("CREATE TRIGGER {text}")) {
                broken.push(display_name(&name));
            }
        }
        if broken.is_empty() {
            continue;
        }
        let shown = match schema.as_str() {
            "main" => table.clone(),
            _ => format!("{schema}.{table}"),
        };
        found.push(crate::problem::Problem {
            kind: "watch",
            object: shown.clone(),
            problem: format!(
                "guard {} {} missing or changed, so in transactions this connection cannot prove \
                 which changes of {} committed, and holds them back as unguarded",
                if broken.len() == 1 {
                    "trigger"
                } else {
                    "triggers"
                },
                broken.join(", ") + if broken.len() == 1 { " is" } else { " are" },
                display_name(&shown)
            ),
            repair: format!(
                "SELECT trigger_unwatch({q}); SELECT trigger_watch({q})",
                q = crate::sql::quote_text(&shown)?
            ),
        });
    }
    Ok(found)
}

/// The TEMP guard triggers of `schema.table`, one per operation, as
/// (name, text after `CREATE TRIGGER `, which is how SQLite stores it). The
/// guards of a `main` table are `trigger_feed_<table>_<op>`, those of
/// another schema's `trigger_feed@<length of schema>@<schema>.<table>_<op>`:
/// no two tables share a name, whatever their names are (a main table
/// named `temp.t` beside `temp.t`).
fn guards(schema: &str, table: &str, token: &str) -> Result<Vec<(String, String)>> {
    let on = format!("{}.{}", quote_ident(schema)?, quote_ident(table)?);
    let prefix = if schema == "main" {
        "_".to_string()
    } else {
        format!("@{}@{schema}.", schema.len())
    };
    let mut guards = ["INSERT", "UPDATE", "DELETE"]
        .into_iter()
        .map(|op| {
            let name = format!("trigger_feed{prefix}{table}_{}", op.to_ascii_lowercase());
            let text = format!("{} BEFORE {op} ON {on}{GUARD_BODY}", quote_ident(&name)?);
            Ok((name, text))
        })
        .collect::<Result<Vec<_>>>()?;
    // The rows REPLACE deletes reach no update hook; with recursive_triggers
    // on, SQLite runs DELETE triggers for them. The guard names itself (a
    // rename keeps trigger names), so the session finds its table, and
    // carries the session's token, which no database file can know.
    let name = format!("trigger_feed{prefix}{table}_replaced");
    let text = format!(
        "{} AFTER DELETE ON {on} BEGIN SELECT trigger_feed_deleted({}, {}, {}, old.rowid); END",
        quote_ident(&name)?,
        crate::sql::quote_text(token)?,
        crate::sql::quote_text(schema)?,
        crate::sql::quote_text(&name)?
    );
    guards.push((name, text));
    Ok(guards)
}

/// Whether `sql` is the stored text of one of the feed's guards named `name`,
/// on whatever table it now is.
fn guard_shaped(name: &str, sql: &str) -> Result<bool> {
    let quoted = quote_ident(name)?;
    let before = ["INSERT", "UPDATE", "DELETE"]
        .iter()
        .any(|op| sql.starts_with(&format!("CREATE TRIGGER {quoted} BEFORE {op} ON ")))
        && sql.ends_with(GUARD_BODY);
    let replaced = sql.starts_with(&format!("CREATE TRIGGER {quoted} AFTER DELETE ON "))
        && sql.ends_with(&format!(
            ", {}, old.rowid); END",
            crate::sql::quote_text(name)?
        ))
        && sql.contains(" BEGIN SELECT trigger_feed_deleted(");
    Ok(before || replaced)
}

/// The stored SQL of the TEMP trigger `name`, if there is one.
fn temp_trigger_sql(conn: &Connection, name: &str) -> Result<Option<String>> {
    conn.query_row(
        "SELECT sql FROM temp.sqlite_master WHERE type = 'trigger' AND name = ?1 COLLATE NOCASE",
        [name],
        |r| r.get(0),
    )
    .optional()
    .map_err(Error::sqlite("reading the temporary schema"))
}

/// The TEMP triggers that put `trigger_txn` into every transaction that
/// changes `schema.table`, before the first change. A TEMP trigger of the
/// same name that is not such a guard is an error, never taken over.
fn create_guard(conn: &Connection, schema: &str, table: &str, token: &str) -> Result<()> {
    // A column named `rowid` hides the row's rowid from `old.rowid`: such a
    // table gets no REPLACE guard, and its REPLACE deletes stay unreported.
    let rowid_hidden: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM pragma_table_xinfo(?2, ?1) WHERE name = 'rowid' COLLATE NOCASE",
            [schema, table],
            |r| r.get(0),
        )
        .map_err(Error::sqlite("reading the table's columns"))?;
    let mut missing = Vec::new();
    for (name, text) in guards(schema, table, token)? {
        if rowid_hidden && text.contains(" AFTER DELETE ON ") {
            continue;
        }
        match temp_trigger_sql(conn, &name)? {
            Some(sql) if sql == format!("CREATE TRIGGER {text}") => {}
            Some(_) => {
                return Err(Error::invalid(format!(
                    "a TEMP trigger named {} already exists and is not the feed's guard of \
                     {}; rename or drop it to watch this table",
                    display_name(&name),
                    display_name(table)
                )));
            }
            None => missing.push(text),
        }
    }
    for text in missing {
        conn.execute_batch(&format!("CREATE TEMP TRIGGER {text}"))
            .map_err(Error::sqlite(format!(
                "creating the feed's TEMP triggers on {}",
                display_name(table)
            )))?;
    }
    Ok(())
}

/// Drops the guards of `schema.table`, and nothing else of that name.
fn drop_guard(conn: &Connection, schema: &str, table: &str, token: &str) -> Result<()> {
    for (name, text) in guards(schema, table, token)? {
        if temp_trigger_sql(conn, &name)?.is_some_and(|sql| sql == format!("CREATE TRIGGER {text}"))
        {
            conn.execute_batch(&format!("DROP TRIGGER temp.{}", quote_ident(&name)?))
                .map_err(Error::sqlite(format!(
                    "dropping the feed's TEMP triggers on {}",
                    display_name(table)
                )))?;
        }
    }
    Ok(())
}
