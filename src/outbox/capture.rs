//! `trigger_capture(table [, options_json])` and `trigger_uncapture(table)`:
//! plain-SQL triggers that record every insert, update and delete of a table
//! into the outbox, so changes are captured from every connection, with or
//! without the extension.
//!
//! Each change becomes one event on the table's channel whose payload is
//! `{"op": "insert"|"update"|"delete", "key": ..., "old": {...}|null,
//! "new": {...}|null}` (plus `"old_key"` for an update that changes the
//! key), written by the trigger body from built-in functions that are
//! innocuous on every supported SQLite (see [`value_expr`]), so the
//! triggers fire with `PRAGMA trusted_schema=OFF` too.
//! `key` is the PRIMARY KEY value (a JSON array for a composite key); a
//! table without a PRIMARY KEY is refused, since VACUUM renumbers its
//! rowids without firing a trigger. Rows that REPLACE conflict resolution
//! deletes are recorded as deletes whatever `recursive_triggers` is (see
//! [`Generator::note_replaced`] and [`Generator::flush`]). JSON cannot hold BLOBs, so a
//! blob value is written as `{"$blob":"<HEX>"}`, and text holding NUL or a
//! control character other than tab, newline and carriage return as
//! `{"$text":"<HEX of its UTF-8>"}`; an infinite real (which SQLite 3.40
//! would write as the invalid `Inf`) is written as `9e999` or `-9e999`;
//! every other real with the digits that read back as exactly the same
//! double.
//!
//! Every capture trigger carries a marker comment right after its name,
//! `/* sqlite-triggers capture {"op":"insert","channel":"..."} */` (`op` is
//! the trigger's role, see [`Role`]), by which capturing again and
//! uncapturing recognise it.
use std::collections::BTreeSet;

use rusqlite::Connection;
use serde_json::{Map, Value as Json};

use super::{ensure_tables, CONSUMERS_TABLE, OUTBOX_TABLE};
use crate::changes::Op;
use crate::conflicts::{same_values, unique_constraints, Constraints, Unique};
use crate::marker;
use crate::problem::Problem;
use crate::schema::{
    find_main_table, ordinary_table, schema_entry, Affinity, Column, MainTable, Namespace,
};
use crate::sql::{display_name, json_kind, quote_ident, quote_text, shorten};
use crate::sql::{in_savepoint, trigger_head, TriggerHead};
use crate::{Error, Result};

/// Starts the comment that marks a capture trigger.
const MARKER: &str = "/* sqlite-triggers capture ";

/// What one capture trigger does; its name is `<table>_capture_<role>`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Role {
    /// AFTER INSERT: the deletes of the rows a REPLACE removed for the new
    /// row (when deletes are captured), then the insert (when inserts are).
    Insert,
    /// AFTER UPDATE of a row whose key (and, when deletes are captured,
    /// every UNIQUE value) stayed the same: the update.
    Update,
    /// AFTER DELETE: the delete.
    Delete,
    /// AFTER UPDATE of a row whose key or a UNIQUE value changed: the
    /// deletes of the rows a REPLACE removed for it (when deletes are
    /// captured), then the update with `old_key` (when updates are).
    UpdateKey,
    /// BEFORE INSERT: notes the rows the new row may replace.
    BeforeInsert,
    /// BEFORE UPDATE of a key or UNIQUE column: notes the rows the changed
    /// row may replace.
    BeforeUpdate,
    /// BEFORE INSERT of a row whose PRIMARY KEY may be NULL (a rowid table
    /// lets several rows share a NULL key): refuses it, since events could
    /// not tell those rows apart.
    NullKeyInsert,
    /// BEFORE UPDATE of such a key: refuses a NULL.
    NullKeyUpdate,
}

impl Role {
    const ALL: [Role; 8] = [
        Role::Insert,
        Role::Update,
        Role::Delete,
        Role::UpdateKey,
        Role::BeforeInsert,
        Role::BeforeUpdate,
        Role::NullKeyInsert,
        Role::NullKeyUpdate,
    ];

    fn name(self) -> &'static str {
        match self {
            Role::Insert => "insert",
            Role::Update => "update",
            Role::Delete => "delete",
            Role::UpdateKey => "update_key",
            Role::BeforeInsert => "before_insert",
            Role::BeforeUpdate => "before_update",
            Role::NullKeyInsert => "null_key_insert",
            Role::NullKeyUpdate => "null_key_update",
        }
    }

    fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The triggers that capture `events` of a table whose key may be
    /// NULL or not.
    fn needed(events: &BTreeSet<Op>, nullable_key: bool) -> Vec<Role> {
        let replace = events.contains(&Op::Delete);
        let update = events.contains(&Op::Update);
        Role::ALL
            .into_iter()
            .filter(|role| match role {
                Role::Insert => events.contains(&Op::Insert) || replace,
                Role::Update => update,
                Role::Delete => replace,
                Role::UpdateKey => update || replace,
                Role::BeforeInsert | Role::BeforeUpdate => replace,
                Role::NullKeyInsert | Role::NullKeyUpdate => nullable_key,
            })
            .collect()
    }
}

/// What `options_json` asks for.
struct Options {
    channel: Option<String>,
    events: BTreeSet<Op>,
}

fn parse_options(options: &Map<String, Json>) -> Result<Options> {
    let mut parsed = Options {
        channel: None,
        events: Op::ALL.into_iter().collect(),
    };
    for (key, value) in options {
        match key.as_str() {
            "channel" => match value {
                Json::String(s) => match super::name_problem(s) {
                    Some(problem) => {
                        return Err(Error::invalid(format!("option channel {problem}")));
                    }
                    None => parsed.channel = Some(s.clone()),
                },
                other => {
                    return Err(Error::invalid(format!(
                        "option channel must be a string, got {}",
                        json_kind(other)
                    )));
                }
            },
            "events" => {
                let list = match value {
                    Json::Array(list) if !list.is_empty() => list,
                    Json::Array(_) => {
                        return Err(Error::invalid(
                            "option events must list at least one of \"insert\", \"update\", \"delete\"",
                        ));
                    }
                    other => {
                        return Err(Error::invalid(format!(
                            "option events must be an array of \"insert\", \"update\", \"delete\", got {}",
                            json_kind(other)
                        )));
                    }
                };
                parsed.events.clear();
                for item in list {
                    let op = item.as_str().and_then(Op::parse).ok_or_else(|| {
                        Error::invalid(format!(
                            "option events: {item} is not one of \"insert\", \"update\", \"delete\""
                        ))
                    })?;
                    if !parsed.events.insert(op) {
                        return Err(Error::invalid(format!(
                            "option events lists {item} twice; list each once"
                        )));
                    }
                }
            }
            other => {
                return Err(Error::invalid(format!(
                    "unknown option {} (options: channel, events)",
                    shorten(other)
                )));
            }
        }
    }
    Ok(parsed)
}

/// A table that can be captured: its name as the schema spells it, and its
/// columns.
struct Table {
    name: String,
    /// Every readable column (generated ones included), in table order.
    columns: Vec<String>,
    /// The PRIMARY KEY columns in key order (never empty).
    key: Vec<String>,
    /// The key columns that may hold NULL: those of a rowid table's PRIMARY
    /// KEY not declared NOT NULL, unless the key is the rowid.
    nullable_key: Vec<String>,
    /// The INTEGER PRIMARY KEY column that is the rowid, if there is one: its
    /// values are always integers, so the triggers copy it as it is.
    rowid_alias: Option<String>,
    /// Ordinary columns of TEXT affinity: SQLite stores a number written to
    /// them as text, so their values are text, NULL or blobs only.
    text_columns: Vec<String>,
    /// Ordinary columns of INTEGER or NUMERIC affinity: SQLite stores a
    /// real that is a whole number of 64-bit range written to them as an
    /// integer, so their reals are never such whole numbers.
    integer_columns: Vec<String>,
    /// Whether the table has a rowid.
    rowid_table: bool,
    /// What tells one row from every other, in notes that may outlive the
    /// change that made them: the PRIMARY KEY columns with the collations of
    /// its index (VACUUM keeps them, and a rowid only when it is the
    /// INTEGER PRIMARY KEY).
    identity: Vec<(String, Option<String>)>,
    /// Every constraint a REPLACE can delete rows for: the rowid, the
    /// PRIMARY KEY and each UNIQUE index or constraint.
    uniques: Vec<Unique>,
    /// Why REPLACE deletes cannot be captured, if they cannot: capturing
    /// deletes is then refused with this reason.
    replace_problem: Option<String>,
}

impl Table {
    /// Adds `row.column` to `out` (see [`value_expr`]).
    fn value(&self, row: &str, column: &str, out: &mut JsonText) -> Result<()> {
        let expr = format!("{row}.{}", quote_ident(column)?);
        if self.rowid_alias.as_deref() == Some(column) {
            out.integer(expr);
        } else {
            let kind = if self.text_columns.iter().any(|c| c == column) {
                Values::NoNumbers
            } else if self.integer_columns.iter().any(|c| c == column) {
                Values::NoWholeReals
            } else {
                Values::Any
            };
            out.value(&expr, kind);
        }
        Ok(())
    }

    /// Every column a conflict depends on (the rowid's names included for
    /// a rowid table), for `UPDATE OF`.
    fn conflict_columns(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for column in self
            .uniques
            .iter()
            .flat_map(Unique::depends_on)
            .chain(self.identity.iter().map(|(c, _)| c))
        {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(column)) {
                names.push(column.clone());
            }
        }
        if self.rowid_table {
            // `SET rowid = ...` names the rowid by whichever name it uses.
            for alias in ["rowid", "_rowid_", "oid"] {
                if !names.iter().any(|n| n.eq_ignore_ascii_case(alias)) {
                    names.push(alias.to_string());
                }
            }
        }
        names
    }
}

/// Refuses a database whose text is UTF-16: the triggers look for NUL
/// among a text's bytes and write `{"$text":"<HEX>"}` from them, which must
/// be UTF-8, and SQL has no way to convert text to UTF-8 bytes.
fn refuse_utf16(conn: &Connection) -> Result<()> {
    let encoding: String = conn
        .query_row("PRAGMA main.encoding", [], |r| r.get(0))
        .map_err(Error::sqlite("reading the database's text encoding"))?;
    if encoding.eq_ignore_ascii_case("UTF-8") {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "the database's text is {encoding}, and capture writes its events from UTF-8 bytes; \
         capture in a database created with PRAGMA encoding = 'UTF-8' (the default)"
    )))
}

/// Looks `name` up in the main database and refuses anything that cannot
/// or must not be captured.
fn find_table(conn: &Connection, name: &str) -> Result<Table> {
    let MainTable {
        name: canonical,
        without_rowid,
        ..
    } = ordinary_table(conn, name)?;
    let shown = shorten(&canonical);
    refuse_utf16(conn)?;
    if [OUTBOX_TABLE, CONSUMERS_TABLE, REPLACED_TABLE]
        .iter()
        .any(|t| t.eq_ignore_ascii_case(&canonical))
    {
        return Err(Error::invalid(format!(
            "{shown} is the outbox's own table; capturing it would record its own events"
        )));
    }
    let mut columns = Vec::new();
    let mut generated = Vec::new();
    let mut key = Vec::new();
    let mut nullable_key = Vec::new();
    let mut rowid_alias = None;
    let mut text_columns = Vec::new();
    let mut integer_columns = Vec::new();
    {
        let mut keyed = Vec::new();
        // A hidden column of a virtual table (hidden 1) is never here;
        // generated ones are readable in triggers.
        for column in crate::schema::columns(conn, &canonical)? {
            let Column {
                name: column,
                declared,
                not_null,
                pk,
                hidden,
                affinity,
                ..
            } = column;
            if pk > 0 && !not_null && !without_rowid {
                nullable_key.push(column.clone());
            }
            match (hidden, affinity) {
                (0, Affinity::Text) => text_columns.push(column.clone()),
                (0, Affinity::Integer | Affinity::Numeric) => integer_columns.push(column.clone()),
                _ => {}
            }
            if hidden != 0 {
                generated.push(column.clone());
            }
            if pk > 0 {
                keyed.push((pk, column.clone(), declared));
            }
            columns.push(column);
        }
        keyed.sort();
        // The rowid is aliased by a lone PRIMARY KEY column declared exactly
        // INTEGER whose table has no index behind its key (a WITHOUT ROWID
        // table or an `INTEGER PRIMARY KEY DESC` column has one).
        let key_index: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM pragma_index_list(?1, 'main') WHERE origin = 'pk')",
                [&canonical],
                |r| r.get(0),
            )
            .map_err(Error::sqlite("reading table indexes"))?;
        if let [(_, column, declared)] = keyed.as_slice() {
            if declared.eq_ignore_ascii_case("INTEGER") && !key_index {
                rowid_alias = Some(column.clone());
            }
        }
        key.extend(keyed.into_iter().map(|(_, c, _)| c));
        if rowid_alias.is_some() {
            nullable_key.clear();
        }
    }
    if key.is_empty() {
        return Err(Error::invalid(format!(
            "{shown} has no PRIMARY KEY, so its rows are known only by their rowid, which \
             VACUUM renumbers without firing any trigger: events would name the wrong rows. \
             Give it a PRIMARY KEY (an INTEGER PRIMARY KEY column is the rowid and keeps its \
             values), for example by copying it into a new table"
        )));
    }
    let Constraints {
        mut uniques,
        problem: mut replace_problem,
        pk_colls,
    } = unique_constraints(conn, &canonical, &generated)?;
    // A partial index's WHERE naming a generated column: a change of the
    // columns it is made of moves a row into the index unseen.
    for column in uniques.iter().flat_map(|u| &u.partial_columns) {
        if generated.contains(column) && replace_problem.is_none() {
            replace_problem = Some(format!(
                "the WHERE clause of a partial unique index of {shown} names the generated \
                 column {}, whose new value a BEFORE UPDATE trigger cannot read, so capture \
                 cannot tell which rows a REPLACE removes through it",
                shorten(column)
            ));
        }
    }
    // The rowid by a name no column takes, when the table has one.
    let rowid_name = if without_rowid {
        None
    } else if let Some(alias) = &rowid_alias {
        Some(alias.clone())
    } else {
        ["rowid", "_rowid_", "oid"]
            .into_iter()
            .find(|a| !columns.iter().any(|c| c.eq_ignore_ascii_case(a)))
            .map(str::to_string)
    };
    if let Some(rowid) = &rowid_name {
        // An explicit rowid conflicts with the row that has it.
        uniques.insert(
            0,
            Unique {
                columns: vec![(rowid.clone(), None)],
                partial: None,
                partial_columns: Vec::new(),
            },
        );
    }
    let identity = match &rowid_alias {
        Some(rowid) => vec![(rowid.clone(), None)],
        None => key
            .iter()
            .zip(pk_colls.iter().cloned().chain(std::iter::repeat(None)))
            .map(|(c, coll)| (c.clone(), coll))
            .collect(),
    };
    Ok(Table {
        name: canonical,
        columns,
        key,
        nullable_key,
        rowid_alias,
        text_columns,
        integer_columns,
        rowid_table: !without_rowid,
        identity,
        uniques,
        replace_problem,
    })
}

/// The names of the capture triggers on `table`, in order of name, recognised by their marker
/// comment right after the trigger's name.
fn existing_captures(conn: &Connection, table: &str) -> Result<Vec<String>> {
    let mut found: Vec<String> = triggers_on(conn, table)?
        .into_iter()
        .filter(|(name, sql, _)| marker_of(name, sql).is_some())
        .map(|(name, ..)| name)
        .collect();
    found.sort();
    Ok(found)
}

/// The marker of a capture trigger's SQL (see [`marker::decode`]), with a
/// valid `op` that the trigger's name ends with, as capture names them
/// (`<table>_capture_<op>`, the table's name when it was captured).
fn marker_of(name: &str, sql: &str) -> Option<Map<String, Json>> {
    let map = marker::decode(MARKER, name, sql)?;
    let role = Role::parse(map.get("op")?.as_str()?)?;
    let suffix = format!("_capture_{}", role.name());
    let named = name.len() > suffix.len()
        && name.is_char_boundary(name.len() - suffix.len())
        && name[name.len() - suffix.len()..].eq_ignore_ascii_case(&suffix);
    named.then_some(map)
}

/// The marker comment for one trigger (see [`marker::encode`]).
fn marker(role: Role, channel: &str) -> String {
    let json = serde_json::json!({ "op": role.name(), "channel": channel }).to_string();
    marker::encode(MARKER, &json)
}

fn trigger_name(table: &str, role: Role) -> String {
    format!("{table}_capture_{}", role.name())
}

/// The alias of the captured table in the trigger bodies (see
/// [`Generator::table_ref`]).
const ROW: &str = "captured_row";

/// Holds, for the length of one row's change, the rows that a REPLACE may
/// delete for it, with their delete events: SQLite fires no DELETE trigger
/// for those rows while `recursive_triggers` is OFF.
const REPLACED_TABLE: &str = "trigger_outbox_replaced";

/// Installs (or replaces) the capture triggers of `table`, all or nothing.
pub(super) fn capture(
    conn: &Connection,
    table: &str,
    options: &Map<String, Json>,
) -> Result<String> {
    let options = parse_options(options).map_err(|e| e.within("argument 2 (options_json): "))?;
    // Everything from the first read of the schema on happens under the
    // write lock (see `in_savepoint`), so a concurrent capture of the same
    // table is seen here and replaced, never collided with.
    let (t, channel, existing, roles, moved) = in_savepoint(conn, "trigger_capture", || {
        let t = find_table(conn, table).map_err(|e| e.within("argument 1 (table): "))?;
        super::foreign_keys::refuse_action_loops(conn, &t.name)
            .map_err(|e| e.within("argument 1 (table): "))?;
        let replace = options.events.contains(&Op::Delete);
        if let (true, Some(problem)) = (replace, &t.replace_problem) {
            return Err(Error::invalid(format!(
                "cannot capture the deletes of {}: {problem}; drop or change it, or capture \
                 without \"delete\" in option events",
                shorten(&t.name)
            )));
        }
        if !t.nullable_key.is_empty() {
            refuse_null_keys(conn, &t)?;
        }
        // The option was checked (see parse_options); a table's name holds no NUL.
        let channel = options.channel.clone().unwrap_or_else(|| t.name.clone());
        let existing = existing_captures(conn, &t.name)?;
        let roles = Role::needed(&options.events, !t.nullable_key.is_empty());
        // Every name must be free, or be one of this table's capture
        // triggers, which are replaced.
        for role in &roles {
            let name = trigger_name(&t.name, *role);
            if let Some((_, on)) = schema_entry(conn, Namespace::Triggers, &name)? {
                if !existing.iter().any(|e| e.eq_ignore_ascii_case(&name)) {
                    return Err(Error::invalid(format!(
                        "trigger {} on {} already exists and is not a capture trigger of {}; \
                         drop or rename it first",
                        shorten(&name),
                        shorten(&on),
                        shorten(&t.name)
                    )));
                }
            }
        }
        // Tells this capture's notes in the shared table from every
        // other's, even after renames.
        let label: String = conn
            .query_row("SELECT lower(hex(randomblob(8)))", [], |r| r.get(0))
            .map_err(Error::sqlite("capturing"))?;
        let gen = Generator {
            t: &t,
            events: &options.events,
            channel: &channel,
            label: &label,
        };
        let mut statements = Vec::new();
        for role in &roles {
            statements.push(gen.trigger_sql(*role)?);
        }
        // A write to the table that does not compile now (a foreign key
        // naming a missing table, a broken trigger of the user's) would be
        // blamed on the capture below. When recapturing, the old capture
        // triggers (which are replaced) may be what does not compile.
        let precheck = match existing.is_empty() {
            true => check_compiles(conn, &t),
            false => Ok(()),
        };
        precheck.map_err(|e| {
            Error::invalid(format!(
                "argument 1 (table): writes to {} do not compile even before the capture ({}); \
                 fix the table or its other triggers first",
                shorten(&t.name),
                e.to_string()
                    .strip_prefix(&format!(
                        "checking the capture triggers of {}: ",
                        shorten(&t.name)
                    ))
                    .unwrap_or(&e.to_string())
            ))
        })?;
        drop_triggers(conn, &existing)?;
        ensure_tables(conn)?;
        if replace {
            ensure_replaced_table(conn, t.identity.len())?;
        }
        for sql in &statements {
            conn.execute_batch(sql)
                .map_err(Error::sqlite(format!("capturing {}", shorten(&t.name))))?;
        }
        let moved = if replace {
            recreate_user_before_triggers(conn, &t.name)?
        } else {
            Vec::new()
        };
        check_compiles(conn, &t)?;
        drop_unused_notes(conn)?;
        Ok((t, channel, existing, roles, moved))
    })?;
    let names: Vec<String> = roles
        .iter()
        .map(|role| trigger_name(&t.name, *role))
        .collect();
    let mut answer = format!(
        "{} {} into channel {}: {}",
        if existing.is_empty() {
            "captured"
        } else {
            "recaptured"
        },
        display_name(&t.name),
        display_name(&channel),
        listed_triggers(&names)
    );
    if !moved.is_empty() {
        answer.push_str(&format!(
            "; {} re-created unchanged after them, so that {} before them",
            listed_triggers(&moved),
            if moved.len() == 1 {
                "it fires"
            } else {
                "they fire"
            }
        ));
    }
    Ok(answer)
}

/// The main-schema triggers on `table`, oldest first (the order SQLite
/// loads them in, so the reverse of the order they fire in), with their
/// SQL and head.
fn triggers_on(conn: &Connection, table: &str) -> Result<Vec<(String, String, TriggerHead)>> {
    let mut stmt = conn
        .prepare(
            "SELECT name, sql FROM main.sqlite_master \
             WHERE type = 'trigger' AND tbl_name = ?1 COLLATE NOCASE AND sql IS NOT NULL \
             ORDER BY rowid",
        )
        .map_err(Error::sqlite("reading the schema"))?;
    let rows = stmt
        .query_map([table], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(Error::sqlite("reading the schema"))?;
    let mut found = Vec::new();
    for row in rows {
        let (name, sql) = row.map_err(Error::sqlite("reading the schema"))?;
        if let Some(head) = trigger_head(&sql) {
            found.push((name, sql, head));
        }
    }
    Ok(found)
}

/// Drops the trigger and creates it again from its own SQL, so that it
/// becomes the newest trigger of its table: SQLite fires the newest first.
fn recreate(conn: &Connection, name: &str, sql: &str, head: &TriggerHead) -> Result<()> {
    let what = || format!("re-creating trigger {}", shorten(name));
    conn.execute_batch(&format!("DROP TRIGGER main.{}", quote_ident(name)?))
        .map_err(Error::sqlite(what()))?;
    conn.execute(
        &format!("CREATE TRIGGER main.{}", &sql[head.name_start..]),
        [],
    )
    .map_err(Error::sqlite(what()))?;
    Ok(())
}

/// Re-creates, unchanged and in their order, the table's own BEFORE INSERT
/// and BEFORE UPDATE triggers that are older than its capture triggers;
/// returns their names.
///
/// SQLite fires a table's triggers newest first, so such a trigger fires
/// after the `_before_*` triggers have noted the rows a REPLACE will
/// delete. If it writes to the table itself (a REPLACE that removes a noted
/// row, or adds a row the outer REPLACE then deletes), the notes no longer
/// name the rows the outer REPLACE deletes, and a delete would be lost.
/// Once re-created, they fire first, and the notes are taken after
/// everything they do. Newer triggers fire first anyway.
fn recreate_user_before_triggers(conn: &Connection, table: &str) -> Result<Vec<String>> {
    let mut moved = Vec::new();
    let triggers = triggers_on(conn, table)?;
    for (name, sql, head) in firing_after_notes(&triggers) {
        // SQLite stores `CREATE TRIGGER name ...`, which re-creating gives
        // back as it was; other text (written with writable_schema) would
        // not come back the same.
        if &sql[..head.name_start] != "CREATE TRIGGER " {
            return Err(Error::invalid(format!(
                "trigger {} on {} must be re-created after capture's own, but its stored \
                 SQL does not start the way SQLite writes it (\"CREATE TRIGGER name\"); \
                 drop it and create it again, then capture",
                shorten(name),
                shorten(table)
            )));
        }
        recreate(conn, name, sql, head)?;
        moved.push(name.clone());
    }
    Ok(moved)
}

/// Keeps the AFTER triggers of the capture of `table`, if it is captured,
/// the first to fire: re-creates them, in their order, when an AFTER
/// trigger of another kind is newer than one of them. Called by what
/// creates AFTER triggers on a table (listeners, packs).
///
/// An AFTER trigger that fires before capture's and writes (to this table
/// or another captured one) records its changes before the change that
/// caused them: a replica would see an update of a row before its insert.
pub(crate) fn keep_capture_first(conn: &Connection, table: &str) -> Result<()> {
    let triggers = triggers_on(conn, table)?;
    if !firing_before_capture(&triggers).is_empty() {
        for (name, sql, head) in &triggers {
            if head.timing == "AFTER" && marker_of(name, sql).is_some() {
                recreate(conn, name, sql, head)?;
            }
        }
    }
    Ok(())
}

/// The AFTER triggers among `triggers` (oldest first, see [`triggers_on`])
/// that are not capture's and are newer than one of its AFTER triggers:
/// they fire before it.
fn firing_before_capture(triggers: &[(String, String, TriggerHead)]) -> Vec<&str> {
    let ours = |name: &str, sql: &str, head: &TriggerHead| {
        head.timing == "AFTER" && marker_of(name, sql).is_some()
    };
    let Some(first) = triggers.iter().position(|(n, s, h)| ours(n, s, h)) else {
        return Vec::new();
    };
    triggers[first..]
        .iter()
        .filter(|(n, s, h)| h.timing == "AFTER" && !ours(n, s, h))
        .map(|(n, ..)| n.as_str())
        .collect()
}

/// The BEFORE INSERT and BEFORE UPDATE triggers among `triggers` (oldest
/// first) that are not capture's and are older than its BEFORE triggers:
/// they fire after capture has noted the rows a REPLACE will delete.
fn firing_after_notes(
    triggers: &[(String, String, TriggerHead)],
) -> impl Iterator<Item = &(String, String, TriggerHead)> {
    let first = triggers
        .iter()
        .position(|(n, s, h)| h.timing == "BEFORE" && marker_of(n, s).is_some())
        .unwrap_or(0);
    triggers[..first].iter().filter(|(n, s, h)| {
        h.timing == "BEFORE" && matches!(h.op, "INSERT" | "UPDATE") && marker_of(n, s).is_none()
    })
}

/// What `trigger_doctor()` finds wrong with the captures in main: a
/// capture trigger missing or not what `trigger_capture` makes for the
/// table now (a column added since, an edited trigger), a table that can no
/// longer be captured, and another trigger that fires in capture's place.
/// Each is repaired by capturing again, with the same channel and events.
pub(crate) fn problems(conn: &Connection) -> Result<Vec<Problem>> {
    // Captured tables, each with its capture triggers: (role, name, sql).
    let mut captured: Vec<(String, Vec<(Role, String, String)>)> = Vec::new();
    for (name, table, sql) in crate::schema::main_triggers(conn)? {
        let Some(role) = marker_of(&name, &sql)
            .and_then(|m| m.get("op").and_then(Json::as_str).and_then(Role::parse))
        else {
            continue;
        };
        match captured
            .iter_mut()
            .find(|(t, _)| t.eq_ignore_ascii_case(&table))
        {
            Some((_, list)) => list.push((role, name, sql)),
            None => captured.push((table, vec![(role, name, sql)])),
        }
    }
    let mut found = Vec::new();
    if !captured.is_empty() {
        // Every capture writes into the outbox: a table of its name that
        // does not fit, or none at all, fails every write to them.
        let outbox = match crate::schema::main_table(conn, OUTBOX_TABLE)? {
            None => Some(format!("there is no table {OUTBOX_TABLE}")),
            Some(_) => super::misfits(conn, OUTBOX_TABLE, super::OUTBOX_SHAPE)?
                .first()
                .map(|m| format!("{OUTBOX_TABLE} does not fit the outbox: {m}")),
        };
        if let Some(why) = outbox {
            found.push(Problem {
                kind: "capture",
                object: OUTBOX_TABLE.to_string(),
                problem: format!("{why}, so every write to a captured table fails"),
                repair: "rename or drop the table of that name, then SELECT trigger_outbox_init()"
                    .to_string(),
            });
        }
    }
    for (table, triggers) in captured {
        found.extend(capture_problems(conn, &table, &triggers)?);
    }
    Ok(found)
}

/// `, '<options_json>'` for a `trigger_capture` call that captures `events`
/// of `table` into `channel`, or nothing when those are the defaults.
fn options_arg(table: &str, channel: &str, events: &BTreeSet<Op>) -> Result<String> {
    let mut options = serde_json::Map::new();
    if channel != table {
        options.insert("channel".into(), Json::String(channel.to_string()));
    }
    if events.len() < Op::ALL.len() {
        let names = events
            .iter()
            .map(|e| Json::String(e.name().into()))
            .collect();
        options.insert("events".into(), Json::Array(names));
    }
    Ok(match options.is_empty() {
        true => String::new(),
        false => format!(", {}", quote_text(&Json::Object(options).to_string())?),
    })
}

/// The problems of the capture of one table (see [`problems`]).
fn capture_problems(
    conn: &Connection,
    table: &str,
    triggers: &[(Role, String, String)],
) -> Result<Vec<Problem>> {
    let has = |role: Role| triggers.iter().find(|(r, ..)| *r == role);
    let channel = triggers
        .iter()
        .find_map(|(_, name, sql)| {
            marker_of(name, sql)?
                .get("channel")?
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_else(|| table.to_string());
    // The events, from the triggers there are: deletes need the delete
    // trigger, updates the update trigger; inserts write their own event.
    let mut events = BTreeSet::new();
    // Deletes are captured when any trigger keeps REPLACE notes.
    if has(Role::Delete).is_some()
        || triggers
            .iter()
            .any(|(_, _, sql)| sql.contains(REPLACED_TABLE))
    {
        events.insert(Op::Delete);
    }
    if has(Role::Update).is_some() {
        events.insert(Op::Update);
    }
    if has(Role::Insert).is_some_and(|(_, _, sql)| sql.contains("{\"op\":\"insert\"")) {
        events.insert(Op::Insert);
    }
    if events.is_empty() {
        events.insert(Op::Insert);
    }
    let repair = format!(
        "SELECT trigger_capture({}{})",
        quote_text(table)?,
        options_arg(table, &channel, &events)?
    );
    let problem = |what: String| Problem {
        kind: "capture",
        object: table.to_string(),
        problem: what,
        repair: repair.clone(),
    };
    let t = match find_table(conn, table).and_then(|t| {
        super::foreign_keys::refuse_action_loops(conn, &t.name)?;
        Ok(t)
    }) {
        Ok(t) => t,
        Err(e) => {
            return Ok(vec![Problem {
                kind: "capture",
                object: table.to_string(),
                problem: format!("the table can no longer be captured: {e}"),
                repair: format!(
                    "change the table as the problem says, or stop capturing it: \
                     SELECT trigger_uncapture({})",
                    quote_text(table)?
                ),
            }]);
        }
    };
    if let (true, Some(why)) = (events.contains(&Op::Delete), &t.replace_problem) {
        let mut without = events.clone();
        without.remove(&Op::Delete);
        let table_q = quote_text(table)?;
        return Ok(vec![Problem {
            kind: "capture",
            object: table.to_string(),
            problem: format!("the rows a REPLACE deletes can no longer all be recorded: {why}"),
            repair: format!(
                "drop or change that index, then {repair}; or capture without deletes: \
                 SELECT trigger_capture({table_q}{})",
                options_arg(table, &channel, &without)?
            ),
        }]);
    }
    if events.contains(&Op::Delete) {
        let have: Vec<String> = crate::schema::columns(conn, REPLACED_TABLE)?
            .into_iter()
            .map(|c| c.name.to_ascii_lowercase())
            .collect();
        let wanted = ["capture", "channel", "payload"]
            .into_iter()
            .map(str::to_string)
            .chain((1..=t.identity.len()).map(|i| format!("k{i}")));
        let missing: Vec<String> = wanted.filter(|c| !have.contains(c)).collect();
        if !missing.is_empty() {
            return Ok(vec![Problem {
                kind: "capture",
                object: table.to_string(),
                problem: match have.is_empty() {
                    true => format!(
                        "there is no table {REPLACED_TABLE}, where its triggers note the rows a \
                         REPLACE deletes, so every write to the table fails"
                    ),
                    false => format!(
                        "table {REPLACED_TABLE}, where its triggers note the rows a REPLACE \
                         deletes, lacks column(s) {}, so every write to the table fails",
                        missing.join(", ")
                    ),
                },
                repair: format!("rename or drop that table if it is not capture's, then {repair}"),
            }]);
        }
    }
    let label = triggers
        .iter()
        .find_map(|(_, _, sql)| {
            let start = sql.find("capture = '")? + "capture = '".len();
            let len = sql[start..].find('\'')?;
            Some(sql[start..start + len].to_string())
        })
        .unwrap_or_default();
    let gen = Generator {
        t: &t,
        events: &events,
        channel: &channel,
        label: &label,
    };
    let needed = Role::needed(&events, !t.nullable_key.is_empty());
    let (mut missing, mut changed) = (Vec::new(), Vec::new());
    for role in &needed {
        let Some((_, name, sql)) = has(*role) else {
            missing.push(trigger_name(&t.name, *role));
            continue;
        };
        // SQLite keeps the trigger's SQL as written, less `main.`: compare
        // from the marker on, which names neither the trigger nor its schema.
        let wanted = gen.trigger_sql(*role)?;
        let tail = |sql: &str| sql.find(MARKER).map(|i| sql[i..].to_string());
        if tail(sql) != tail(&wanted) {
            changed.push(name.clone());
        }
    }
    let left: Vec<String> = triggers
        .iter()
        .filter(|(role, ..)| !needed.contains(role))
        .map(|(_, name, _)| name.clone())
        .collect();
    let mut found = Vec::new();
    if !missing.is_empty() {
        found.push(problem(format!(
            "{} missing, so some of its changes are not recorded",
            listed_are(&missing).replacen("trigger", "capture trigger", 1)
        )));
    }
    if !changed.is_empty() {
        found.push(problem(format!(
            "{} not what capture makes for the table now (a column added or changed since the \
             capture, a trigger edited, or made by an older version), so events may miss or \
             misstate values",
            listed_are(&changed)
        )));
    }
    if !left.is_empty() {
        found.push(problem(format!(
            "{} left from another capture of the table",
            listed_are(&left)
        )));
    }
    let on = triggers_on(conn, &t.name)?;
    for name in firing_before_capture(&on) {
        found.push(problem(format!(
            "trigger {} was created after the capture and fires before its AFTER triggers, so \
             the changes it makes are recorded before the change that caused them",
            display_name(name)
        )));
    }
    if events.contains(&Op::Delete) {
        for (name, ..) in firing_after_notes(&on) {
            found.push(problem(format!(
                "trigger {} is older than the capture's BEFORE triggers and fires after them, \
                 so a row it writes can escape the notes of a REPLACE",
                display_name(name)
            )));
        }
    }
    Ok(found)
}

/// `trigger a is` or `triggers a, b are`, for the doctor's sentences.
fn listed_are(names: &[String]) -> String {
    listed_triggers(names) + if names.len() == 1 { " is" } else { " are" }
}

/// `trigger a` or `triggers a, b`, as the answers of capture and uncapture
/// list them.
fn listed_triggers(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().map(|n| display_name(n)).collect();
    let noun = if shown.len() == 1 {
        "trigger"
    } else {
        "triggers"
    };
    format!("{noun} {}", shown.join(", "))
}

/// Refuses a table that already holds rows with a NULL in its key.
fn refuse_null_keys(conn: &Connection, t: &Table) -> Result<()> {
    let mut terms = Vec::new();
    for c in &t.nullable_key {
        terms.push(format!("{} IS NULL", quote_ident(c)?));
    }
    let count: i64 = conn
        .query_row(
            &format!(
                "SELECT count(*) FROM main.{} WHERE {}",
                quote_ident(&t.name)?,
                terms.join(" OR ")
            ),
            [],
            |r| r.get(0),
        )
        .map_err(Error::sqlite("reading the table"))?;
    if count > 0 {
        return Err(Error::invalid(format!(
            "{} has {count} row{} with a NULL in its PRIMARY KEY; rows that share a NULL key \
             cannot be told apart in events: give them keys or delete them first",
            shorten(&t.name),
            if count == 1 { "" } else { "s" }
        )));
    }
    Ok(())
}

/// Creates [`REPLACED_TABLE`] with at least `keys` key columns (`k1`,
/// `k2`, ...), or adds the missing ones; refuses a table of that name that
/// lacks the columns the triggers write.
fn ensure_replaced_table(conn: &Connection, keys: usize) -> Result<()> {
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS main.{REPLACED_TABLE} (\n  \
           capture TEXT NOT NULL,\n  \
           channel TEXT NOT NULL,\n  \
           payload TEXT NOT NULL,\n  \
           k1\n\
         )"
    ))
    .map_err(Error::sqlite(format!("creating {REPLACED_TABLE}")))?;
    let have: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT lower(name) FROM pragma_table_info(?1, 'main')")
            .map_err(Error::sqlite("reading table columns"))?;
        let names = stmt
            .query_map([REPLACED_TABLE], |r| r.get(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
            .map_err(Error::sqlite("reading table columns"));
        names?
    };
    let missing: Vec<&str> = ["capture", "channel", "payload"]
        .into_iter()
        .filter(|c| !have.iter().any(|h| h == c))
        .collect();
    if !missing.is_empty() {
        return Err(Error::invalid(format!(
            "table {REPLACED_TABLE} exists but lacks column(s) {}; capture keeps the rows a \
             REPLACE deletes there: drop or rename that table",
            missing.join(", ")
        )));
    }
    for i in 1..=keys {
        if !have.iter().any(|h| *h == format!("k{i}")) {
            conn.execute_batch(&format!(
                "ALTER TABLE main.{REPLACED_TABLE} ADD COLUMN k{i}"
            ))
            .map_err(Error::sqlite(format!(
                "adding a column to {REPLACED_TABLE}"
            )))?;
        }
    }
    Ok(())
}

/// Writes the triggers of one capture.
struct Generator<'a> {
    t: &'a Table,
    events: &'a BTreeSet<Op>,
    channel: &'a str,
    label: &'a str,
}

impl Generator<'_> {
    fn replace(&self) -> bool {
        self.events.contains(&Op::Delete)
    }

    /// How the trigger bodies name the captured table in a FROM clause, and
    /// its rows: always through an alias, so that no name the table takes
    /// later (`ALTER TABLE ... RENAME TO "new"`, which SQLite writes into
    /// the triggers) can be read as the NEW or OLD row, or as a name the
    /// bodies use for something else.
    fn table_ref(&self) -> Result<(String, String)> {
        let table = quote_ident(&self.t.name)?;
        Ok((format!("{table} AS {ROW}"), ROW.to_string()))
    }

    /// The columns whose change sends an update to the `update_key`
    /// trigger: the key, and when deletes are captured every column (and
    /// the rowid) a REPLACE conflict depends on.
    fn split_columns(&self) -> Vec<String> {
        if self.replace() {
            let mut names: Vec<String> = Vec::new();
            for column in self
                .t
                .uniques
                .iter()
                .flat_map(Unique::depends_on)
                .chain(self.t.key.iter())
            {
                if !names.iter().any(|n| n.eq_ignore_ascii_case(column)) {
                    names.push(column.clone());
                }
            }
            names
        } else {
            self.t.key.clone()
        }
    }

    /// `NEW.c IS OLD.c COLLATE BINARY AND ...` over the split columns.
    fn unchanged(&self) -> Result<String> {
        let mut terms = Vec::new();
        for c in self.split_columns() {
            let c = quote_ident(&c)?;
            // BINARY: a change of case under a NOCASE key is a change of key.
            terms.push(format!("NEW.{c} IS OLD.{c} COLLATE BINARY"));
        }
        Ok(terms.join(" AND "))
    }

    /// The `UPDATE OF` list of the `update_key` and `before_update`
    /// triggers.
    fn update_of(&self) -> Result<String> {
        let mut names = if self.replace() {
            self.t.conflict_columns()
        } else {
            self.t.key.clone()
        };
        if self.t.rowid_alias.is_some() {
            for alias in ["rowid", "_rowid_", "oid"] {
                if !names.iter().any(|n| n.eq_ignore_ascii_case(alias)) {
                    names.push(alias.to_string());
                }
            }
        }
        Ok(names
            .iter()
            .map(|n| quote_ident(n))
            .collect::<Result<Vec<_>>>()?
            .join(", "))
    }

    fn trigger_sql(&self, role: Role) -> Result<String> {
        let t = self.t;
        let channel_q = quote_text(self.channel)?;
        let event = |payload: JsonText| -> Result<String> {
            Ok(format!(
                "  INSERT INTO {OUTBOX_TABLE} (channel, payload) VALUES ({channel_q},\n    {});\n",
                payload.sql()?
            ))
        };
        let (timing, when, body) = match role {
            Role::Insert => {
                let own = match self.events.contains(&Op::Insert) {
                    true => Some(payload(t, Op::Insert, None, Some("NEW"), false)?),
                    false => None,
                };
                ("AFTER INSERT".to_string(), None, self.record(own)?)
            }
            Role::Update => (
                "AFTER UPDATE".to_string(),
                Some(self.unchanged()?),
                event(payload(t, Op::Update, Some("OLD"), Some("NEW"), false)?)?,
            ),
            Role::UpdateKey => {
                let own = match self.events.contains(&Op::Update) {
                    true => Some(payload(t, Op::Update, Some("OLD"), Some("NEW"), true)?),
                    false => None,
                };
                let mut body = String::new();
                if self.replace() {
                    // A note left on this row under its old key would find
                    // it gone. This change's own notes are of other rows.
                    body.push_str(&self.forget_note()?);
                }
                body.push_str(&self.record(own)?);
                (
                    format!("AFTER UPDATE OF {}", self.update_of()?),
                    Some(format!("NOT ({})", self.unchanged()?)),
                    body,
                )
            }
            Role::Delete => (
                "AFTER DELETE".to_string(),
                None,
                self.forget_note()? + &event(payload(t, Op::Delete, Some("OLD"), None, false)?)?,
            ),
            Role::BeforeInsert => {
                let (when, body) = self.note_replaced(false)?;
                ("BEFORE INSERT".to_string(), Some(when), body)
            }
            Role::BeforeUpdate => {
                let (when, body) = self.note_replaced(true)?;
                (
                    format!("BEFORE UPDATE OF {}", self.update_of()?),
                    Some(when),
                    body,
                )
            }
            Role::NullKeyInsert | Role::NullKeyUpdate => {
                let (when, body) = self.refuse_null_key()?;
                let timing = match role {
                    Role::NullKeyInsert => "BEFORE INSERT".to_string(),
                    _ => format!("BEFORE UPDATE OF {}", self.quoted(&t.nullable_key)?),
                };
                (timing, Some(when), body)
            }
        };
        Ok(format!(
            "CREATE TRIGGER main.{name_q} {marker}\n\
             {timing} ON {table} FOR EACH ROW\n{when}\
             BEGIN\n{body}END",
            name_q = quote_ident(&trigger_name(&t.name, role))?,
            marker = marker(role, self.channel),
            table = quote_ident(&t.name)?,
            when = when.map(|w| format!("WHEN {w}\n")).unwrap_or_default(),
        ))
    }

    /// The conditions under which a row of the table conflicts with `NEW`
    /// on one constraint, one per constraint: the same values under the
    /// index's collation, the row inside a partial index, and for an update
    /// a row other than the one changed. A partial index's WHERE is only
    /// checked for the existing row, so a row may be noted that is not
    /// deleted; the flush checks that it is gone.
    fn conflicts(&self, update: bool) -> Result<Vec<String>> {
        let (_, row) = self.table_ref()?;
        let mut probes = Vec::new();
        for u in &self.t.uniques {
            let mut probe = same_values(&u.columns, &row, "NEW")?;
            if let Some(w) = &u.partial {
                probe = format!("{probe} AND ({w})");
            }
            if update {
                probe = format!(
                    "{probe} AND NOT ({})",
                    same_values(&self.t.identity, &row, "OLD")?
                );
            }
            probes.push(probe);
        }
        Ok(probes)
    }

    /// `"a", "b"`.
    fn quoted(&self, columns: &[String]) -> Result<String> {
        Ok(columns
            .iter()
            .map(|c| quote_ident(c))
            .collect::<Result<Vec<_>>>()?
            .join(", "))
    }

    /// The WHEN and body of a trigger that refuses a NULL in a key column
    /// that may hold one.
    fn refuse_null_key(&self) -> Result<(String, String)> {
        let mut when = Vec::new();
        for c in &self.t.nullable_key {
            when.push(format!("NEW.{} IS NULL", quote_ident(c)?));
        }
        let message = format!(
            "NULL in the PRIMARY KEY of a captured table ({}): rows that share a NULL key \
             cannot be told apart in its events; give the row a key (trigger_capture)",
            self.t
                .nullable_key
                .iter()
                .map(|c| display_name(c))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok((
            when.join(" OR "),
            format!(
                "  SELECT RAISE(ABORT, {});
",
                quote_text(&message)?
            ),
        ))
    }

    /// The WHEN and body of a BEFORE trigger: when a row conflicts with the
    /// new values (a cheap probe of each constraint's index), forget the
    /// notes left by earlier changes, then note every conflicting row with
    /// its delete event.
    ///
    /// A note outlives its change when SQLite keeps the row (OR IGNORE, DO
    /// NOTHING, DO UPDATE, a failed statement) and no AFTER trigger runs.
    /// Such a note is harmless: the flush records a noted row only once it
    /// is gone, and a row goes only by a delete (whose trigger drops its
    /// note), by a REPLACE (whose BEFORE trigger drops the notes of rows
    /// still there first) or by a change of its key (the `update_key`
    /// trigger drops its note).
    fn note_replaced(&self, update: bool) -> Result<(String, String)> {
        let (from, row) = self.table_ref()?;
        let probes = self.conflicts(update)?;
        let label = quote_text(self.label)?;
        let when: Vec<String> = probes
            .iter()
            .map(|p| format!("EXISTS (SELECT 1 FROM {from} WHERE {p})"))
            .collect();
        let keys: Vec<String> = (1..=self.t.identity.len())
            .map(|i| format!("k{i}"))
            .collect();
        let mut identity = Vec::new();
        for (c, _) in &self.t.identity {
            identity.push(format!("{row}.{}", quote_ident(c)?));
        }
        // Notes of rows still there are stale (their change kept the row);
        // notes of rows gone belong to a change whose AFTER trigger has not
        // run yet: this BEFORE trigger runs inside it (a trigger of the
        // user's that REPLACEs into the table), and they must stay.
        let body = format!(
            "  DELETE FROM {REPLACED_TABLE} WHERE capture = {label}\n    \
             AND EXISTS (SELECT 1 FROM {from} WHERE {stale});\n  \
             INSERT INTO {REPLACED_TABLE} (capture, channel, payload, {keys})\n    \
             SELECT {label}, {channel},\n    \
             {payload},\n    {identity}\n    \
             FROM {from} WHERE {probes};\n",
            keys = keys.join(", "),
            stale = self.noted_row(REPLACED_TABLE)?,
            channel = quote_text(self.channel)?,
            payload = payload(self.t, Op::Delete, Some(&row), None, false)?.sql()?,
            identity = identity.join(", "),
            probes = probes
                .iter()
                .map(|p| format!("({p})"))
                .collect::<Vec<_>>()
                .join(" OR "),
        );
        Ok((when.join("\n  OR "), body))
    }

    /// The statement of an AFTER INSERT or UPDATE trigger: when deletes are
    /// captured, the deletes of the noted rows that are gone now (see
    /// [`Generator::flush`]), then the trigger's own event, if any, in one
    /// INSERT (`UNION ALL` yields its left side first), which costs less
    /// than two statements on every row.
    fn record(&self, own: Option<JsonText>) -> Result<String> {
        let channel = quote_text(self.channel)?;
        Ok(match (self.replace(), own) {
            (true, Some(own)) => format!(
                "  INSERT INTO {OUTBOX_TABLE} (channel, payload)\n{}    UNION ALL SELECT {channel},\n    {};\n{}",
                self.flush()?,
                own.sql()?,
                self.forget_notes()?
            ),
            (true, None) => format!(
                "  INSERT INTO {OUTBOX_TABLE} (channel, payload)\n{};\n{}",
                self.flush()?,
                self.forget_notes()?
            ),
            (false, Some(own)) => format!(
                "  INSERT INTO {OUTBOX_TABLE} (channel, payload) VALUES ({channel},\n    {});\n",
                own.sql()?
            ),
            (false, None) => String::new(),
        })
    }

    /// The SELECT of the deletes of the noted rows that are gone now:
    /// SQLite's REPLACE deleted them for the row just written (a noted row
    /// the new row now occupies is gone too). While `recursive_triggers` is
    /// ON, SQLite fires the delete trigger for those rows, which records the
    /// delete and drops the note (see [`Generator::forget_note`]), so no
    /// delete is recorded twice. It reads no outbox row: an INSERT that
    /// reads its own table first copies what it reads into a temporary
    /// table, on every row.
    fn flush(&self) -> Result<String> {
        let (from, row) = self.table_ref()?;
        let label = quote_text(self.label)?;
        // A scan of a rowid table without an index yields its rows in rowid
        // order: the order the BEFORE trigger noted them.
        Ok(format!(
            "    SELECT replaced.channel, replaced.payload FROM {REPLACED_TABLE} AS replaced\n    \
             WHERE replaced.capture = {label}\n    \
             AND NOT EXISTS (SELECT 1 FROM {from} WHERE {noted} AND NOT ({new}))\n",
            noted = self.noted_row("replaced")?,
            new = same_values(&self.t.identity, &row, "NEW")?,
        ))
    }

    /// `row.key = notes.k1 AND ...`: the row of the table a note names.
    fn noted_row(&self, notes: &str) -> Result<String> {
        let (_, row) = self.table_ref()?;
        let mut noted = Vec::new();
        for (i, (c, coll)) in self.t.identity.iter().enumerate() {
            let c = quote_ident(c)?;
            noted.push(match coll {
                Some(coll) => format!(
                    "{row}.{c} = {notes}.k{} COLLATE {}",
                    i + 1,
                    quote_ident(coll)?
                ),
                None => format!("{row}.{c} = {notes}.k{}", i + 1),
            });
        }
        Ok(noted.join(" AND "))
    }

    /// The statement that drops the notes the flush has just read, so that
    /// no later flush records their deletes again.
    fn forget_notes(&self) -> Result<String> {
        Ok(format!(
            "  DELETE FROM {REPLACED_TABLE} WHERE capture = {};\n",
            quote_text(self.label)?
        ))
    }

    /// The statement of the delete trigger that drops the note of the
    /// deleted row, if there is one: the delete is recorded now, by the
    /// trigger, so the flush must not record it again.
    fn forget_note(&self) -> Result<String> {
        let mut same = Vec::new();
        for (i, (c, _)) in self.t.identity.iter().enumerate() {
            same.push(format!("k{} = OLD.{}", i + 1, quote_ident(c)?));
        }
        Ok(format!(
            "  DELETE FROM {REPLACED_TABLE} WHERE capture = {} AND {};\n",
            quote_text(self.label)?,
            same.join(" AND ")
        ))
    }
}

/// The payload of one event: the key of `new` (of `old` for a delete),
/// with `old_key` also the key of `old` when `old_key` is set and it
/// differs, and both rows as objects.
fn payload(
    t: &Table,
    op: Op,
    old: Option<&str>,
    new: Option<&str>,
    old_key: bool,
) -> Result<JsonText> {
    let mut payload = JsonText::default();
    payload.text(&format!("{{\"op\":\"{}\",\"key\":", op.name()));
    key_expr(t, new.or(old).unwrap_or("NEW"), &mut payload)?;
    if let (true, Some(old)) = (old_key, old) {
        let mut key = JsonText::default();
        key.text(",\"old_key\":");
        key_expr(t, old, &mut key)?;
        let mut same = Vec::new();
        for c in &t.key {
            let c = quote_ident(c)?;
            same.push(format!(
                "{}.{c} IS {old}.{c} COLLATE BINARY",
                new.unwrap_or("NEW")
            ));
        }
        payload.expr(format!(
            "CASE WHEN {} THEN '' ELSE {} END",
            same.join(" AND "),
            key.sql()?
        ));
    }
    for (label, row) in [("old", old), ("new", new)] {
        payload.text(&format!(",\"{label}\":"));
        match row {
            None => payload.text("null"),
            Some(row) => object_expr(t, row, &mut payload)?,
        }
    }
    payload.text("}");
    Ok(payload)
}

/// Drops the capture triggers of `table`, all or nothing. The events already
/// recorded stay in the outbox.
pub(super) fn uncapture(conn: &Connection, table: &str) -> Result<String> {
    // Under the write lock from the first read on (see `in_savepoint`).
    let (name, existing) = in_savepoint(conn, "trigger_uncapture", || {
        let name = find_main_table(conn, table)
            .map_err(|e| e.within("argument 1 (table): "))?
            .name;
        let existing = existing_captures(conn, &name)?;
        if existing.is_empty() {
            return Err(Error::invalid(format!(
                "argument 1 (table): {} is not captured",
                shorten(&name)
            )));
        }
        drop_triggers(conn, &existing)?;
        drop_unused_notes(conn)?;
        Ok((name, existing))
    })?;
    Ok(format!(
        "uncaptured {}: dropped {}",
        display_name(&name),
        listed_triggers(&existing)
    ))
}

/// Drops [`REPLACED_TABLE`] once no trigger writes into it any more: it
/// only ever holds notes for the length of one row's change, or of a row
/// SQLite kept.
fn drop_unused_notes(conn: &Connection) -> Result<()> {
    let used: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM main.sqlite_master WHERE type = 'trigger' \
             AND instr(sql, ?1))",
            [REPLACED_TABLE],
            |r| r.get(0),
        )
        .map_err(Error::sqlite("reading the schema"))?;
    if !used {
        conn.execute_batch(&format!("DROP TABLE IF EXISTS main.{REPLACED_TABLE}"))
            .map_err(Error::sqlite(format!("dropping {REPLACED_TABLE}")))?;
    }
    Ok(())
}

fn drop_triggers(conn: &Connection, names: &[String]) -> Result<()> {
    for name in names {
        conn.execute_batch(&format!("DROP TRIGGER main.{}", quote_ident(name)?))
            .map_err(Error::sqlite(format!("dropping trigger {}", shorten(name))))?;
    }
    Ok(())
}

/// A JSON document as an SQL expression: fixed text, and expressions that
/// each yield the JSON text of one value (see [`value_expr`]), written by
/// one printf() call into one buffer (a chain of `||` copies the text once
/// per link).
///
/// The triggers stay small on purpose: SQLite sets up registers for all of
/// a trigger's code every time a statement fires it, so code that rarely
/// runs still costs on every row.
#[derive(Default)]
struct JsonText {
    parts: Vec<Part>,
}

enum Part {
    Text(String),
    Expr(String),
    /// An integer, written with `%d`: no conversion to text first.
    Int(String),
    /// A column's value: `general` yields its JSON text whatever it holds
    /// (see [`value_expr`]); when `fast` holds, `raw` is written as it is
    /// with `format` instead.
    Value {
        general: String,
        fast: String,
        format: &'static str,
        raw: String,
    },
}

/// Most values one printf() call takes: older SQLite builds allow 127
/// arguments per function call (SQLITE_MAX_FUNCTION_ARG).
const MAX_PRINTF_VALUES: usize = 100;

impl JsonText {
    fn text(&mut self, text: &str) {
        match self.parts.last_mut() {
            Some(Part::Text(last)) => last.push_str(text),
            _ => self.parts.push(Part::Text(text.to_string())),
        }
    }

    /// An expression that yields JSON text.
    fn expr(&mut self, expr: String) {
        self.parts.push(Part::Expr(expr));
    }

    /// A value that is always an integer (a rowid).
    fn integer(&mut self, expr: String) {
        self.parts.push(Part::Int(expr));
    }

    /// A value of a column whose values are of the kinds `kind` allows.
    ///
    /// Most values of a TEXT column are text that JSON holds as it is, and
    /// most of an INTEGER or NUMERIC column are integers: those are written
    /// by the format itself (`"%s"`, `%d`), which saves the quotes' two
    /// concatenations and the integer's conversion to text, each a memory
    /// allocation, on every event (see [`JsonText::sql`]).
    fn value(&mut self, expr: &str, kind: Values) {
        let e = expr;
        let general = value_expr(e, kind);
        self.parts.push(match kind {
            Values::NoNumbers => Part::Value {
                general,
                // Text sorts below x'' and above every number; a TEXT
                // column holds no numbers, NULL fails the test.
                fast: format!(
                    "{e} < x'' AND NOT ({e} GLOB '{SPECIAL}' OR instr(CAST({e} AS BLOB), x'00'))"
                ),
                format: "\"%s\"",
                raw: e.to_string(),
            },
            // No real of such a column equals its integer cast (-2^63
            // aside, see [`value_expr`]), nor does text, a blob or NULL.
            Values::NoWholeReals => Part::Value {
                general,
                fast: format!("{e} = CAST({e} AS INTEGER) AND {e} > {MIN_REAL}"),
                format: "%d",
                raw: e.to_string(),
            },
            Values::Any => Part::Expr(general),
        });
    }

    /// One printf() of the fast forms when every value has one (`CASE WHEN
    /// <each value's test> THEN printf(fast) ELSE printf(general) END`),
    /// or of the general forms alone.
    fn sql(self) -> Result<String> {
        let values = self
            .parts
            .iter()
            .filter(|p| !matches!(p, Part::Text(_)))
            .count();
        let tests: Vec<&str> = self
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Value { fast, .. } => Some(fast.as_str()),
                _ => None,
            })
            .collect();
        let general = printf_nested(&self.parts)?;
        if tests.is_empty() || values > MAX_PRINTF_VALUES {
            return Ok(general);
        }
        Ok(format!(
            "CASE WHEN {} THEN {} ELSE {general} END",
            tests.join(" AND "),
            printf(&self.parts, true)?
        ))
    }
}

/// The parts written by one printf() call, or for a table with more columns
/// than one call takes, printf() calls of printf() calls.
fn printf_nested(parts: &[Part]) -> Result<String> {
    let values = parts.iter().filter(|p| !matches!(p, Part::Text(_))).count();
    if values <= MAX_PRINTF_VALUES {
        return printf(parts, false);
    }
    let mut grouped = Vec::new();
    let mut chunk: Vec<&Part> = Vec::new();
    let mut in_chunk = 0;
    for part in parts {
        if !matches!(part, Part::Text(_)) {
            if in_chunk == MAX_PRINTF_VALUES {
                grouped.push(Part::Expr(printf(chunk.drain(..), false)?));
                in_chunk = 0;
            }
            in_chunk += 1;
        }
        chunk.push(part);
    }
    grouped.push(Part::Expr(printf(chunk.drain(..), false)?));
    printf_nested(&grouped)
}

/// `printf('<format>', value, ...)` writing `parts` in order, each value
/// in its fast form when `fast` is set (see [`JsonText::value`]).
fn printf<'a>(parts: impl IntoIterator<Item = &'a Part>, fast: bool) -> Result<String> {
    let mut format = String::new();
    let mut values = String::new();
    for part in parts {
        let (spec, expr) = match part {
            Part::Text(text) => {
                format.push_str(&text.replace('%', "%%"));
                continue;
            }
            Part::Expr(expr) => ("%s", expr),
            Part::Int(expr) => ("%d", expr),
            Part::Value { format, raw, .. } if fast => (*format, raw),
            Part::Value { general, .. } => ("%s", general),
        };
        format.push_str(spec);
        values.push_str(",\n    ");
        values.push_str(expr);
    }
    Ok(format!("printf({}{values})", quote_text(&format)?))
}

/// A JSON string literal (quotes and escapes included) of fixed text.
fn json_string(text: &str) -> String {
    Json::String(text.to_string()).to_string()
}

/// The row's key: the PRIMARY KEY value, or a JSON array of the values of
/// a composite one.
fn key_expr(t: &Table, row: &str, out: &mut JsonText) -> Result<()> {
    match t.key.as_slice() {
        [] => unreachable!("find_table refuses tables without a PRIMARY KEY"),
        [column] => t.value(row, column, out)?,
        columns => {
            for (i, column) in columns.iter().enumerate() {
                out.text(if i == 0 { "[" } else { "," });
                t.value(row, column, out)?;
            }
            out.text("]");
        }
    }
    Ok(())
}

/// A JSON object of every column of `row` (`NEW` or `OLD`).
fn object_expr(t: &Table, row: &str, out: &mut JsonText) -> Result<()> {
    for (i, column) in t.columns.iter().enumerate() {
        out.text(&format!(
            "{}{}:",
            if i == 0 { "{" } else { "," },
            json_string(column)
        ));
        t.value(row, column, out)?;
    }
    out.text(if t.columns.is_empty() { "{}" } else { "}" });
    Ok(())
}

/// The JSON text of the value of `expr`, whatever its type (or with
/// `numbers` false, of a column of TEXT affinity, which holds no numbers):
/// - text as a JSON string, copied as it is unless one GLOB finds a
///   character JSON cannot hold; then backslashes, double quotes, tabs,
///   newlines and carriage returns are escaped with replace(). Text with NUL
///   (which GLOB and printf()'s `%s` stop at, so instr() looks for it among
///   the text's UTF-8 bytes: a blob search, with no text to convert) or
///   another control character is written `{"$text":"<HEX>"}`: exact, and a
///   few operations instead of the 31 more replace() calls, which would run
///   on every row (SQLite sets up registers for all of a trigger's code each
///   time a statement fires it) and overflow the parser stack before 3.46;
/// - an integer, and an integral real of fewer than 16 digits (printf()
///   writes it exactly), as it is (a larger integer is told from a real by
///   typeof(), which only such values reach);
/// - a real with the digits that read back as exactly the same double.
///   From SQLite 3.43, quote() writes the shortest such text ("%!0.17g";
///   recognised by how it writes 0.1 + 0.2). Before, quote() writes 15
///   digits whenever SQLite's own text-to-real conversion reads them back
///   as the same double, but that conversion is not correctly rounded:
///   json_extract() on some builds and every other JSON reader read some
///   of those texts as a neighbouring double. So older hosts write 21
///   digits ("%!.20e", which drops trailing zeros), unless at most 15 are
///   left: then the text is the value itself (2.5, 3.0), and quote() writes
///   it in its usual form.
///   An infinite real (quote() writes the invalid `Inf` before 3.43) is
///   written `9e999` or `-9e999`;
/// - NULL as `null`;
/// - a blob as `{"$blob":"<HEX>"}`, since JSON cannot hold bytes.
fn value_expr(expr: &str, kind: Values) -> String {
    let e = expr;
    let escaped = format!(
        "'\"' || replace(replace(replace(replace(replace({e}, '\\', '\\\\'), '\"', '\\\"'), \
         '\n', '\\n'), '\r', '\\r'), '\t', '\\t') || '\"'"
    );
    // Numbers sort below '' and text below x'', which SQLite compares
    // without converting either side: type tests without a function call.
    let whole = match kind {
        // No real here is a whole number of 64-bit range but -2^63, which
        // SQLite keeps as a real, so whatever else equals its integer cast
        // is an integer.
        Values::NoWholeReals => {
            format!("WHEN {e} = CAST({e} AS INTEGER) AND {e} > {MIN_REAL} THEN {e} ")
        }
        _ => format!("WHEN {e} < 1e15 AND {e} > -1e15 AND {e} = CAST({e} AS INTEGER) THEN {e} "),
    };
    let number = if kind != Values::NoNumbers {
        format!(
            "{whole}\
             WHEN {e} < '' THEN CASE WHEN typeof({e}) = 'integer' THEN {e} \
             WHEN {e} >= 9e999 THEN '9e999' \
             WHEN {e} <= -9e999 THEN '-9e999' \
             WHEN quote(0.30000000000000004) = '0.30000000000000004' \
             OR instr(printf('%!.20e', abs({e})), 'e') <= 17 THEN quote({e}) \
             ELSE printf('%!.20e', {e}) END "
        )
    } else {
        String::new()
    };
    format!(
        "CASE {number}WHEN {e} >= '' AND {e} < x'' THEN \
         iif({e} GLOB '{SPECIAL}' OR instr(CAST({e} AS BLOB), x'00'), \
         iif({e} GLOB '{OTHER_CONTROLS}' OR instr(CAST({e} AS BLOB), x'00'), \
         '{{\"$text\":\"' || hex({e}) || '\"}}', {escaped}), \
         '\"' || {e} || '\"') \
         WHEN {e} IS NULL THEN 'null' \
         ELSE '{{\"$blob\":\"' || hex({e}) || '\"}}' END"
    )
}

/// What a column's values can be, by its affinity.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Values {
    Any,
    /// TEXT affinity: text, NULL or blobs.
    NoNumbers,
    /// INTEGER or NUMERIC affinity: SQLite stores a real that is a whole
    /// number of 64-bit range as an integer there.
    NoWholeReals,
}

/// -2^63 as a real: an INTEGER or NUMERIC column keeps it a real (SQLite
/// converts only reals strictly inside the 64-bit range), and it equals its
/// integer cast, so the tests for an integer exclude it, and with it the
/// integer -2^63, which `typeof()` then tells apart.
const MIN_REAL: &str = "-9223372036854775808.0";

/// Characters a JSON string cannot hold as they are: `"`, `\\` and the
/// control characters U+0001 to U+001F.
const SPECIAL: &str = "*[\"\\\u{1}-\u{1f}]*";
/// The control characters other than tab, newline and carriage return.
const OTHER_CONTROLS: &str = "*[\u{1}-\u{8}\u{b}\u{c}\u{e}-\u{1f}]*";

/// Prepares (never runs) the writes of the table: a capture trigger SQLite
/// would refuse fails the capture instead of the application's next write.
fn check_compiles(conn: &Connection, t: &Table) -> Result<()> {
    crate::schema::writes_compile(
        conn,
        &t.name,
        &format!("checking the capture triggers of {}", shorten(&t.name)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_cannot_close_their_comment_early() {
        let m = marker(Role::Insert, "a */ DROP TABLE x; /*");
        assert_eq!(m.matches("*/").count(), 1, "{m}");
        let sql = format!(
            "CREATE TRIGGER \"x_capture_insert\" {m}\nAFTER INSERT ON x BEGIN SELECT 1; END"
        );
        let parsed = marker_of("x_capture_insert", &sql).unwrap();
        assert_eq!(parsed["channel"], "a */ DROP TABLE x; /*");
        assert_eq!(parsed["op"], "insert");
    }

    #[test]
    fn a_marker_counts_only_on_a_capture_trigger_name() {
        let m = marker(Role::Insert, "c");
        let sql = |name: &str| format!("CREATE TRIGGER \"{name}\" {m}\nAFTER INSERT ON x");
        assert!(marker_of("X_CAPTURE_INSERT", &sql("X_CAPTURE_INSERT")).is_some());
        assert!(marker_of("elsewhere", &sql("elsewhere")).is_none());
        assert!(marker_of("x_capture_delete", &sql("x_capture_delete")).is_none());
        assert!(marker_of("_capture_insert", &sql("_capture_insert")).is_none());
    }

    #[test]
    fn other_triggers_have_no_marker() {
        assert!(marker_of(
            "t",
            "CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1; END"
        )
        .is_none());
        // The marker must follow the trigger's own name.
        let m = marker(Role::Delete, "c");
        assert!(marker_of("u", &format!("CREATE TRIGGER \"t\" {m} AFTER DELETE ON x")).is_none());
        // An unknown op is not a capture trigger.
        assert!(marker_of(
            "t",
            "CREATE TRIGGER \"t\" /* sqlite-triggers capture {\"op\":\"merge\"} */ AFTER DELETE ON x"
        )
        .is_none());
    }

    #[test]
    fn options_are_checked() {
        let parse = |s: &str| match serde_json::from_str::<Json>(s).unwrap() {
            Json::Object(m) => parse_options(&m).map(|o| (o.channel, o.events.len())),
            _ => unreachable!(),
        };
        assert_eq!(parse("{}").ok(), Some((None, 3)));
        assert_eq!(
            parse(r#"{"channel":"c","events":["update"]}"#).ok(),
            Some((Some("c".into()), 1))
        );
        assert!(parse(r#"{"events":["update","update"]}"#)
            .err()
            .unwrap()
            .to_string()
            .contains("option events lists \"update\" twice"));
        assert!(parse(r#"{"chanel":"c"}"#)
            .err()
            .unwrap()
            .to_string()
            .contains("unknown option \"chanel\""));
        assert!(parse(r#"{"events":["upsert"]}"#).is_err());
        assert!(parse(r#"{"events":[]}"#).is_err());
        assert!(parse(r#"{"channel":1}"#).is_err());
    }
}
