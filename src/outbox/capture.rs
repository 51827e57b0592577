//! `trigger_capture(table [, options_json])` and `trigger_uncapture(table)`:
//! plain-SQL triggers that record every insert, update and delete of a table
//! into the outbox, so changes are captured from every connection, with or
//! without the extension.
//!
//! Each change becomes one event on the table's channel whose payload is
//! `{"op": "insert"|"update"|"delete", "key": ..., "old": {...}|null,
//! "new": {...}|null}`, written by the trigger body from built-in functions
//! that are innocuous on every supported SQLite (see `trigger_sql`), so the
//! triggers fire with `PRAGMA trusted_schema=OFF` too.
//! `key` is the PRIMARY KEY value (a JSON array for a composite key), or the
//! rowid for a table without a PRIMARY KEY. JSON cannot hold BLOBs, so a
//! blob value is written as `{"$blob":"<HEX>"}`, and text holding NUL or a
//! control character other than tab, newline and carriage return as
//! `{"$text":"<HEX of its UTF-8>"}`; an infinite real (which SQLite 3.40
//! would write as the invalid `Inf`) is written as `9e999` or `-9e999`;
//! every other real with the digits that read back as exactly the same
//! double.
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
    /// Ordinary columns of TEXT affinity: SQLite stores a number written to
    /// them as text, so their values are text, NULL or blobs only.
    text_columns: Vec<String>,
}

impl Table {
    /// Adds `row.column` to `out` (see [`value_expr`]).
    fn value(&self, row: &str, column: &str, out: &mut JsonText) -> Result<()> {
        let expr = format!("{row}.{}", quote_ident(column)?);
        if self.rowid_alias.as_deref() == Some(column) {
            out.integer(expr);
        } else {
            let numbers = !self.text_columns.iter().any(|c| c == column);
            out.value(&expr, numbers);
        }
        Ok(())
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
    let mut text_columns = Vec::new();
    {
        // hidden: 0 an ordinary column, 2 and 3 generated ones (readable in
        // triggers), 1 a hidden column of a virtual table (never here).
        let mut stmt = conn
            .prepare(
                "SELECT name, pk, type, hidden FROM pragma_table_xinfo(?1, 'main') \
                 WHERE hidden IN (0, 2, 3) ORDER BY cid",
            )
            .map_err(Error::sqlite("reading table columns"))?;
        let rows = stmt
            .query_map([&canonical], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .map_err(Error::sqlite("reading table columns"))?;
        let mut keyed = Vec::new();
        for row in rows {
            let (column, pk, declared, hidden) =
                row.map_err(Error::sqlite("reading table columns"))?;
            if hidden == 0
                && crate::schema::Affinity::of_declared(&declared) == crate::schema::Affinity::Text
            {
                text_columns.push(column.clone());
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
    }
    Ok(Table {
        name: canonical,
        columns,
        key,
        rowid_alias,
        text_columns,
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
///
/// The payload is JSON text written from built-in functions that every
/// supported SQLite flags innocuous, never the JSON functions: SQLite
/// before 3.41.0 refuses those in a trigger when `PRAGMA trusted_schema` is
/// OFF ("unsafe use of json_object()"). See [`JsonText`].
fn trigger_sql(t: &Table, op: Op, channel: &str) -> Result<String> {
    let name = trigger_name(&t.name, op);
    let (old, new) = match op {
        Op::Insert => (None, Some("NEW")),
        Op::Update => (Some("OLD"), Some("NEW")),
        Op::Delete => (Some("OLD"), None),
    };
    let mut payload = JsonText::default();
    payload.text(&format!("{{\"op\":\"{}\",\"key\":", op.name()));
    // The key of the row as it is after the change (before it, for a delete).
    key_expr(t, new.or(old).unwrap_or("NEW"), &mut payload)?;
    for (label, row) in [("old", old), ("new", new)] {
        payload.text(&format!(",\"{label}\":"));
        match row {
            None => payload.text("null"),
            Some(row) => object_expr(t, row, &mut payload)?,
        }
    }
    payload.text("}");
    Ok(format!(
        "CREATE TRIGGER main.{name_q} {marker}\n\
         AFTER {event} ON {table} FOR EACH ROW\n\
         BEGIN\n  \
           INSERT INTO {OUTBOX_TABLE} (channel, payload) VALUES ({channel_q},\n    \
             {payload});\n\
         END",
        name_q = quote_ident(&name)?,
        marker = marker(op, channel),
        event = op.name().to_uppercase(),
        table = quote_ident(&t.name)?,
        channel_q = quote_text(channel)?,
        payload = payload.sql()?,
    ))
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

    /// A value that is always an integer (a rowid).
    fn integer(&mut self, expr: String) {
        self.parts.push(Part::Expr(expr));
    }

    /// A value of any type, or with `numbers` false, of a column that never
    /// holds numbers.
    fn value(&mut self, expr: &str, numbers: bool) {
        self.parts.push(Part::Expr(value_expr(expr, numbers)));
    }

    fn sql(self) -> Result<String> {
        printf_nested(&self.parts)
    }
}

/// The parts written by one printf() call, or for a table with more columns
/// than one call takes, printf() calls of printf() calls.
fn printf_nested(parts: &[Part]) -> Result<String> {
    let values = parts.iter().filter(|p| matches!(p, Part::Expr(_))).count();
    if values <= MAX_PRINTF_VALUES {
        return printf(parts);
    }
    let mut grouped = Vec::new();
    let mut chunk: Vec<&Part> = Vec::new();
    let mut in_chunk = 0;
    for part in parts {
        if matches!(part, Part::Expr(_)) {
            if in_chunk == MAX_PRINTF_VALUES {
                grouped.push(Part::Expr(printf(chunk.drain(..))?));
                in_chunk = 0;
            }
            in_chunk += 1;
        }
        chunk.push(part);
    }
    grouped.push(Part::Expr(printf(chunk.drain(..))?));
    printf_nested(&grouped)
}

/// `printf('<format>', value, ...)` writing `parts` in order.
fn printf<'a>(parts: impl IntoIterator<Item = &'a Part>) -> Result<String> {
    let mut format = String::new();
    let mut values = String::new();
    for part in parts {
        match part {
            Part::Text(text) => format.push_str(&text.replace('%', "%%")),
            Part::Expr(expr) => {
                format.push_str("%s");
                values.push_str(",\n    ");
                values.push_str(expr);
            }
        }
    }
    Ok(format!("printf({}{values})", quote_text(&format)?))
}

/// A JSON string literal (quotes and escapes included) of fixed text.
fn json_string(text: &str) -> String {
    Json::String(text.to_string()).to_string()
}

/// The row's key: the PRIMARY KEY value, a JSON array of the values of a
/// composite one, or the rowid when there is no PRIMARY KEY.
fn key_expr(t: &Table, row: &str, out: &mut JsonText) -> Result<()> {
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
            out.integer(format!("{row}.{alias}"));
        }
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
///   (which GLOB and printf()'s `%s` stop at, so instr() looks for it) or
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
fn value_expr(expr: &str, numbers: bool) -> String {
    let e = expr;
    let escaped = format!(
        "'\"' || replace(replace(replace(replace(replace({e}, '\\', '\\\\'), '\"', '\\\"'), \
         '\n', '\\n'), '\r', '\\r'), '\t', '\\t') || '\"'"
    );
    // Numbers sort below '' and text below x'', which SQLite compares
    // without converting either side: type tests without a function call.
    let number = if numbers {
        format!(
            "WHEN {e} < 1e15 AND {e} > -1e15 AND {e} = CAST({e} AS INTEGER) THEN {e} \
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
         iif({e} GLOB '{SPECIAL}' OR instr({e}, {NUL}), \
         iif({e} GLOB '{OTHER_CONTROLS}' OR instr({e}, {NUL}), \
         '{{\"$text\":\"' || hex({e}) || '\"}}', {escaped}), \
         '\"' || {e} || '\"') \
         WHEN {e} IS NULL THEN 'null' \
         ELSE '{{\"$blob\":\"' || hex({e}) || '\"}}' END"
    )
}

/// NUL as text, without a function call: GLOB cannot see it (it stops
/// there, and so does printf()'s `%s`), so instr() looks for it.
const NUL: &str = "CAST(x'00' AS TEXT)";

/// Characters a JSON string cannot hold as they are: `"`, `\\` and the
/// control characters U+0001 to U+001F.
const SPECIAL: &str = "*[\"\\\u{1}-\u{1f}]*";
/// The control characters other than tab, newline and carriage return.
const OTHER_CONTROLS: &str = "*[\u{1}-\u{8}\u{b}\u{c}\u{e}-\u{1f}]*";

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
