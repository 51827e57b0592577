//! `trigger_capture(table [, options_json])` and `trigger_uncapture(table)`:
//! plain-SQL triggers that record every insert, update and delete of a table
//! into the outbox, so changes are captured from every connection, with or
//! without the extension.
//!
//! Each change becomes one event on the table's channel whose payload is
//! `{"op": "insert"|"update"|"delete", "key": ..., "old": {...}|null,
//! "new": {...}|null}`, built with `json_object()` in the trigger body.
//! `key` is the PRIMARY KEY value (a JSON array for a composite key), or the
//! rowid for a table without a PRIMARY KEY. JSON cannot hold BLOBs, so a
//! blob value is written as `{"$blob": "<HEX>"}`; an infinite real (which
//! SQLite 3.40 would write as the invalid `Inf`) is written as `9e999` or
//! `-9e999`.
//!
//! Every capture trigger carries a marker comment right after its name,
//! `/* sqlite-triggers capture {"op":"insert","channel":"..."} */`, by which
//! capturing again and uncapturing recognise it.
use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value as Json};

use super::{ensure_tables, CONSUMERS_TABLE, OUTBOX_TABLE};
use crate::schema::{reserved_name, schema_entry, Namespace};
use crate::sql::in_savepoint;
use crate::sql::{display_name, json_kind, quote_ident, quote_text, shorten};
use crate::{Error, Result};

/// Starts the comment that marks a capture trigger.
const MARKER: &str = "/* sqlite-triggers capture ";

/// Older SQLite builds allow 127 arguments per function call: objects with
/// more members than this are built by concatenation instead of one
/// `json_object()` call, so the triggers work on every host.
const MAX_OBJECT_MEMBERS: usize = 60;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Insert,
    Update,
    Delete,
}

impl Op {
    const ALL: [Op; 3] = [Op::Insert, Op::Update, Op::Delete];

    fn name(self) -> &'static str {
        match self {
            Op::Insert => "insert",
            Op::Update => "update",
            Op::Delete => "delete",
        }
    }

    fn parse(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
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
                Json::String(s) if !s.is_empty() => parsed.channel = Some(s.clone()),
                Json::String(_) => {
                    return Err(Error::invalid("option channel must not be empty"));
                }
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
                    parsed.events.insert(op);
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
    /// The PRIMARY KEY columns in key order; empty for a table without one.
    key: Vec<String>,
    /// The INTEGER PRIMARY KEY column that is the rowid, if there is one: its
    /// values are always integers, so the triggers copy it as it is.
    rowid_alias: Option<String>,
}

impl Table {
    /// `row.column` as a JSON-safe value (see [`value_expr`]).
    fn value(&self, row: &str, column: &str) -> Result<String> {
        let expr = format!("{row}.{}", quote_ident(column)?);
        Ok(if self.rowid_alias.as_deref() == Some(column) {
            expr
        } else {
            value_expr(&expr)
        })
    }
}

/// Looks `name` up in the main database and refuses anything that cannot
/// or must not be captured.
fn find_table(conn: &Connection, name: &str) -> Result<Table> {
    let found: Option<(String, String)> = conn
        .query_row(
            "SELECT name, type FROM pragma_table_list(?1) WHERE schema = 'main'",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(Error::sqlite("reading the schema"))?;
    let Some((canonical, kind)) = found else {
        return Err(Error::invalid(format!(
            "no table {} in the main database",
            shorten(name)
        )));
    };
    let shown = shorten(&canonical);
    match kind.as_str() {
        "table" => {}
        "view" => {
            return Err(Error::invalid(format!(
                "{shown} is a view; only tables can be captured"
            )));
        }
        other => {
            return Err(Error::invalid(format!(
                "{shown} is a {other} table; SQLite cannot put triggers on it"
            )));
        }
    }
    if reserved_name(&canonical) {
        return Err(Error::invalid(format!(
            "{shown} is an internal SQLite table; it cannot be captured"
        )));
    }
    if [OUTBOX_TABLE, CONSUMERS_TABLE]
        .iter()
        .any(|t| t.eq_ignore_ascii_case(&canonical))
    {
        return Err(Error::invalid(format!(
            "{shown} is the outbox's own table; capturing it would record its own events"
        )));
    }
    let mut columns = Vec::new();
    let mut key = Vec::new();
    let mut rowid_alias = None;
    {
        // hidden: 0 an ordinary column, 2 and 3 generated ones (readable in
        // triggers), 1 a hidden column of a virtual table (never here).
        let mut stmt = conn
            .prepare(
                "SELECT name, pk, type FROM pragma_table_xinfo(?1, 'main') \
                 WHERE hidden IN (0, 2, 3) ORDER BY cid",
            )
            .map_err(Error::sqlite("reading table columns"))?;
        let rows = stmt
            .query_map([&canonical], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(Error::sqlite("reading table columns"))?;
        let mut keyed = Vec::new();
        for row in rows {
            let (column, pk, declared) = row.map_err(Error::sqlite("reading table columns"))?;
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
    }
    Ok(Table {
        name: canonical,
        columns,
        key,
        rowid_alias,
    })
}

/// The names of the capture triggers on `table`, recognised by their marker
/// comment right after the trigger's name.
fn existing_captures(conn: &Connection, table: &str) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare(
            "SELECT name, sql FROM main.sqlite_master \
             WHERE type = 'trigger' AND tbl_name = ?1 COLLATE NOCASE ORDER BY name",
        )
        .map_err(Error::sqlite("reading the schema"))?;
    let rows = stmt
        .query_map([table], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })
        .map_err(Error::sqlite("reading the schema"))?;
    let mut found = Vec::new();
    for row in rows {
        let (name, sql) = row.map_err(Error::sqlite("reading the schema"))?;
        if sql.is_some_and(|sql| marker_of(&name, &sql).is_some()) {
            found.push(name);
        }
    }
    Ok(found)
}

/// The marker of a capture trigger's SQL: the JSON object in the comment
/// that follows the trigger's name, with a valid `op`.
fn marker_of(name: &str, sql: &str) -> Option<Map<String, Json>> {
    let prefix = format!("CREATE TRIGGER {} {MARKER}", quote_ident(name).ok()?);
    let rest = sql.strip_prefix(&prefix)?;
    let json = &rest[..rest.find(" */")?];
    match serde_json::from_str::<Json>(json).ok()? {
        Json::Object(map)
            if map
                .get("op")
                .and_then(Json::as_str)
                .and_then(Op::parse)
                .is_some() =>
        {
            Some(map)
        }
        _ => None,
    }
}

/// The marker comment for one trigger. `/` is escaped inside the JSON
/// strings, so no name can close the comment early.
fn marker(op: Op, channel: &str) -> String {
    let json = serde_json::json!({ "op": op.name(), "channel": channel }).to_string();
    format!("{MARKER}{} */", json.replace("*/", "*\\/"))
}

fn trigger_name(table: &str, op: Op) -> String {
    format!("{table}_capture_{}", op.name())
}

/// Installs (or replaces) the capture triggers of `table`, all or nothing.
pub(super) fn capture(
    conn: &Connection,
    table: &str,
    options: &Map<String, Json>,
) -> Result<String> {
    let options = parse_options(options)?;
    let t = find_table(conn, table)?;
    let channel = options.channel.clone().unwrap_or_else(|| t.name.clone());
    quote_text(&channel).map_err(|e| Error::invalid(format!("option channel: {e}")))?;
    let existing = existing_captures(conn, &t.name)?;
    // Every name must be free, or be one of this table's capture triggers,
    // which are replaced.
    for op in &options.events {
        let name = trigger_name(&t.name, *op);
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
    let mut statements = Vec::new();
    for op in &options.events {
        statements.push(trigger_sql(&t, *op, &channel)?);
    }
    in_savepoint(conn, "trigger_capture", || {
        drop_triggers(conn, &existing)?;
        ensure_tables(conn)?;
        for sql in &statements {
            conn.execute_batch(sql)
                .map_err(Error::sqlite(format!("capturing {}", shorten(&t.name))))?;
        }
        check_compiles(conn, &t)
    })?;
    let names: Vec<String> = options
        .events
        .iter()
        .map(|op| display_name(&trigger_name(&t.name, *op)))
        .collect();
    Ok(format!(
        "{} {} into channel {}: {} {}",
        if existing.is_empty() {
            "captured"
        } else {
            "recaptured"
        },
        display_name(&t.name),
        display_name(&channel),
        if names.len() == 1 {
            "trigger"
        } else {
            "triggers"
        },
        names.join(", ")
    ))
}

/// Drops the capture triggers of `table`, all or nothing. The events already
/// recorded stay in the outbox.
pub(super) fn uncapture(conn: &Connection, table: &str) -> Result<String> {
    let found: Option<String> = conn
        .query_row(
            "SELECT name FROM pragma_table_list(?1) WHERE schema = 'main'",
            [table],
            |r| r.get(0),
        )
        .optional()
        .map_err(Error::sqlite("reading the schema"))?;
    let Some(name) = found else {
        return Err(Error::invalid(format!(
            "no table {} in the main database",
            shorten(table)
        )));
    };
    let existing = existing_captures(conn, &name)?;
    if existing.is_empty() {
        return Err(Error::invalid(format!(
            "{} is not captured",
            shorten(&name)
        )));
    }
    in_savepoint(conn, "trigger_uncapture", || drop_triggers(conn, &existing))?;
    let names: Vec<String> = existing.iter().map(|e| display_name(e)).collect();
    Ok(format!(
        "uncaptured {}: dropped {} {}",
        display_name(&name),
        if names.len() == 1 {
            "trigger"
        } else {
            "triggers"
        },
        names.join(", ")
    ))
}

fn drop_triggers(conn: &Connection, names: &[String]) -> Result<()> {
    for name in names {
        conn.execute_batch(&format!("DROP TRIGGER main.{}", quote_ident(name)?))
            .map_err(Error::sqlite(format!("dropping trigger {}", shorten(name))))?;
    }
    Ok(())
}

/// The `CREATE TRIGGER` statement for one kind of change.
fn trigger_sql(t: &Table, op: Op, channel: &str) -> Result<String> {
    let name = trigger_name(&t.name, op);
    let (old, new) = match op {
        Op::Insert => (None, Some("NEW")),
        Op::Update => (Some("OLD"), Some("NEW")),
        Op::Delete => (Some("OLD"), None),
    };
    // The key of the row as it is after the change (before it, for a delete).
    let key = key_expr(t, new.or(old).unwrap_or("NEW"))?;
    let image = |row: Option<&str>| -> Result<String> {
        match row {
            None => Ok("NULL".into()),
            Some(row) => object_expr(t, row),
        }
    };
    Ok(format!(
        "CREATE TRIGGER main.{name_q} {marker}\n\
         AFTER {event} ON {table} FOR EACH ROW\n\
         BEGIN\n  \
           INSERT INTO {OUTBOX_TABLE} (channel, payload) VALUES ({channel_q}, json_object(\n    \
             'op', '{op}',\n    \
             'key', {key},\n    \
             'old', {old},\n    \
             'new', {new}));\n\
         END",
        name_q = quote_ident(&name)?,
        marker = marker(op, channel),
        event = op.name().to_uppercase(),
        table = quote_ident(&t.name)?,
        channel_q = quote_text(channel)?,
        op = op.name(),
        old = image(old)?,
        new = image(new)?,
    ))
}

/// The row's key: the PRIMARY KEY value, a JSON array of the values of a
/// composite one, or the rowid when there is no PRIMARY KEY.
fn key_expr(t: &Table, row: &str) -> Result<String> {
    match t.key.as_slice() {
        [] => {
            // A column may be named rowid (or _rowid_, oid) and hide it.
            let alias = ["rowid", "_rowid_", "oid"]
                .into_iter()
                .find(|a| !t.columns.iter().any(|c| c.eq_ignore_ascii_case(a)))
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "{} has no PRIMARY KEY and columns named rowid, _rowid_ and oid, \
                         so its rows cannot be identified",
                        shorten(&t.name)
                    ))
                })?;
            Ok(format!("{row}.{alias}"))
        }
        [column] => t.value(row, column),
        columns => {
            let values = columns
                .iter()
                .map(|c| t.value(row, c))
                .collect::<Result<Vec<_>>>()?;
            Ok(format!("json_array({})", values.join(", ")))
        }
    }
}

/// A JSON object of every column of `row` (`NEW` or `OLD`).
fn object_expr(t: &Table, row: &str) -> Result<String> {
    let members = t
        .columns
        .iter()
        .map(|c| Ok((c.as_str(), t.value(row, c)?)))
        .collect::<Result<Vec<_>>>()?;
    if members.len() <= MAX_OBJECT_MEMBERS {
        let args = members
            .iter()
            .map(|(name, value)| Ok(format!("{}, {value}", quote_text(name)?)))
            .collect::<Result<Vec<_>>>()?;
        return Ok(format!("json_object({})", args.join(", ")));
    }
    // Too many members for one function call on older hosts: write the
    // object's text, each value through json_quote(), and parse it once.
    let mut parts = Vec::new();
    for (i, (name, value)) in members.iter().enumerate() {
        let key = format!(
            "{}{}:",
            if i == 0 { "{" } else { "," },
            Json::String(name.to_string())
        );
        parts.push(quote_text(&key)?);
        parts.push(format!("json_quote({value})"));
    }
    parts.push("'}'".into());
    Ok(format!("json({})", parts.join(" || ")))
}

/// `expr` as a value JSON can hold: a blob becomes `{"$blob": "<HEX>"}`
/// (json_object() refuses blobs), an infinite real becomes `9e999` or
/// `-9e999` (SQLite 3.40 would write the invalid `Inf`); anything else is
/// unchanged.
fn value_expr(expr: &str) -> String {
    format!(
        "CASE typeof({expr}) \
         WHEN 'blob' THEN json_object('$blob', hex({expr})) \
         WHEN 'real' THEN iif(abs({expr}) < 9e999, {expr}, json(iif({expr} > 0, '9e999', '-9e999'))) \
         ELSE {expr} END"
    )
}

/// Prepares (never runs) an insert, an update and a delete on the table:
/// SQLite compiles the table's triggers then, so a capture trigger SQLite
/// would refuse fails the capture instead of the application's next write.
fn check_compiles(conn: &Connection, t: &Table) -> Result<()> {
    let table = quote_ident(&t.name)?;
    let mut statements = vec![
        format!("INSERT INTO main.{table} DEFAULT VALUES"),
        format!("DELETE FROM main.{table}"),
    ];
    if let Some(column) = t.columns.first() {
        let column = quote_ident(column)?;
        statements.push(format!("UPDATE main.{table} SET {column} = {column}"));
    }
    for sql in statements {
        conn.prepare(&sql).map_err(Error::sqlite(format!(
            "checking the capture triggers of {}",
            shorten(&t.name)
        )))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_cannot_close_their_comment_early() {
        let m = marker(Op::Insert, "a */ DROP TABLE x; /*");
        assert_eq!(m.matches("*/").count(), 1, "{m}");
        let sql = format!("CREATE TRIGGER \"t\" {m}\nAFTER INSERT ON x BEGIN SELECT 1; END");
        let parsed = marker_of("t", &sql).unwrap();
        assert_eq!(parsed["channel"], "a */ DROP TABLE x; /*");
        assert_eq!(parsed["op"], "insert");
    }

    #[test]
    fn other_triggers_have_no_marker() {
        assert!(marker_of(
            "t",
            "CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1; END"
        )
        .is_none());
        // The marker must follow the trigger's own name.
        let m = marker(Op::Delete, "c");
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
            parse(r#"{"channel":"c","events":["update","update"]}"#).ok(),
            Some((Some("c".into()), 1))
        );
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
