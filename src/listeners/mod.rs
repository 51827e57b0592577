//! Listeners: SQLAlchemy's `event.listen(User, 'after_insert', fn)` for every
//! SQLite client, as plain-SQL triggers.
//!
//! Its SQL functions (`trigger_listen`, `trigger_unlisten` and the table
//! `trigger_listeners`) are declared in this module's function table, with
//! their flags and why, and listed in `docs/reference.md`;
//! `docs/listeners.md` describes listeners.
//!
//! A listener is an ordinary trigger, so it keeps firing on connections that
//! never loaded the extension. It describes itself: its definition is stored
//! as JSON in a marker comment right after `CREATE TRIGGER name`, which SQLite
//! keeps in `sqlite_master.sql`, so `.dump` and plain `.sql` files carry it
//! and no registry table is needed.
//!
//! Nothing is created unless the whole definition compiles: the trigger is
//! created inside a savepoint, then a statement that would fire it is
//! prepared (never run), because SQLite resolves the tables and columns a
//! trigger body names only when such a statement is prepared.
use fallible_iterator::FallibleIterator;
use rusqlite::{Batch, Connection, OptionalExtension};
use serde_json::{Map, Value as Json};

use crate::changes::Op;
use crate::functions::{SqlFunction, ADMIN};
use crate::marker;
use crate::schema::reserved_name;
use crate::sql::in_savepoint;
use crate::sql::{json_kind, quote_ident, shorten, shorten_to};
use crate::{Error, Result};

const FUNCTIONS: &[SqlFunction] = &[
    SqlFunction {
        name: "trigger_listen",
        signature: "table, event, action_sql [, options_json]",
        args: 3..=4,
        // direct-only: changes the schema (creates a trigger)
        flags: ADMIN,
        body: |a| {
            let table = a.text(0, "table")?;
            let event = a.text(1, "event")?;
            let action = a.text(2, "action_sql")?;
            let options = a.options(3, "options_json")?;
            a.with_connection(|conn| listen(conn, &table, &event, &action, &options))
        },
    },
    SqlFunction {
        name: "trigger_unlisten",
        signature: "name",
        args: 1..=1,
        // direct-only: changes the schema (drops a trigger)
        flags: ADMIN,
        body: |a| {
            let name = a.text(0, "name")?;
            a.with_connection(|conn| unlisten(conn, &name))
        },
    },
];

/// Registers the listener functions and `trigger_listeners` on `conn`.
pub(crate) fn register(
    conn: &Connection,
    session: &std::sync::Arc<crate::session::Session>,
) -> Result<()> {
    crate::functions::register(conn, session, FUNCTIONS)?;
    crate::ffi::register_table::<ListenersTable>(conn)
}

/// What starts the marker comment of a listener's trigger.
const MARKER: &str = "/* sqlite-triggers listener ";

/// The version of the marker's JSON layout.
const MARKER_VERSION: i64 = 1;

/// The option keys of `trigger_listen`.
const OPTIONS: [&str; 3] = ["columns", "when", "name"];

/// A SQLAlchemy mapper event and the trigger timing and operation behind it.
#[derive(Debug, PartialEq, Eq)]
struct Event {
    name: &'static str,
    timing: &'static str,
    op: Op,
}

const EVENTS: [Event; 6] = [
    Event {
        name: "before_insert",
        timing: "BEFORE",
        op: Op::Insert,
    },
    Event {
        name: "after_insert",
        timing: "AFTER",
        op: Op::Insert,
    },
    Event {
        name: "before_update",
        timing: "BEFORE",
        op: Op::Update,
    },
    Event {
        name: "after_update",
        timing: "AFTER",
        op: Op::Update,
    },
    Event {
        name: "before_delete",
        timing: "BEFORE",
        op: Op::Delete,
    },
    Event {
        name: "after_delete",
        timing: "AFTER",
        op: Op::Delete,
    },
];

fn event_names() -> String {
    EVENTS.iter().map(|e| e.name).collect::<Vec<_>>().join(", ")
}

/// Looks an event up by its SQLAlchemy name, ignoring ASCII case.
fn find_event(name: &str) -> Option<&'static Event> {
    EVENTS.iter().find(|e| e.name.eq_ignore_ascii_case(name))
}

/// A listener's definition: what its marker comment stores.
#[derive(Debug, PartialEq)]
struct Definition {
    /// The table as the schema spells it.
    table: String,
    event: &'static Event,
    /// The `UPDATE OF` columns, as the schema spells them.
    columns: Option<Vec<String>>,
    when: Option<String>,
    action: String,
}

impl Definition {
    /// The marker's JSON: keys in a fixed order, on one line. Its escaped
    /// form (see [`marker::escape`]) is what the marker stores and what
    /// names listeners that are given no name.
    fn marker_json(&self) -> String {
        let text = |s: &str| Json::String(s.into()).to_string();
        let or_null = |s: Option<String>| s.unwrap_or_else(|| "null".into());
        format!(
            "{{\"table\":{},\"event\":{},\"columns\":{},\"when\":{},\"action\":{},\"version\":{MARKER_VERSION}}}",
            text(&self.table),
            text(self.event.name),
            or_null(self.columns_json()),
            or_null(self.when.as_deref().map(text)),
            text(&self.action),
        )
    }

    fn columns_json(&self) -> Option<String> {
        self.columns
            .as_ref()
            .map(|c| Json::Array(c.iter().map(|s| Json::String(s.clone())).collect()).to_string())
    }

    /// Reads the definition back from a trigger's SQL, if the trigger is a
    /// listener: the marker must come right after `CREATE TRIGGER "name"`,
    /// exactly where [`trigger_text`] puts it (see [`marker::decode`]).
    fn from_trigger(name: &str, sql: &str) -> Option<Definition> {
        let map = marker::decode(MARKER, name, sql)?;
        if map.get("version")?.as_i64()? != MARKER_VERSION {
            return None;
        }
        let opt_text = |key: &str| match map.get(key)? {
            Json::String(s) => Some(Some(s.clone())),
            Json::Null => Some(None),
            _ => None,
        };
        let columns = match map.get("columns")? {
            Json::Null => None,
            Json::Array(items) => Some(
                items
                    .iter()
                    .map(|c| c.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()?,
            ),
            _ => return None,
        };
        Some(Definition {
            table: opt_text("table")??,
            event: EVENTS
                .iter()
                .find(|e| Some(e.name) == map.get("event").and_then(Json::as_str))?,
            columns,
            when: opt_text("when")?,
            action: opt_text("action")??,
        })
    }
}

/// FNV-1a, 32 bits: a stable hash (the same on every run and platform) for
/// the names of listeners that are given none.
fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The name a listener gets when the options give none.
fn generated_name(def: &Definition) -> String {
    format!(
        "listen_{}_{}_{:08x}",
        def.table,
        def.event.name,
        fnv1a32(marker::escape(&def.marker_json()).as_bytes())
    )
}

/// How a piece of SQL ends, seen by a small lexer that knows SQLite's
/// strings, quoted identifiers and comments.
#[derive(Debug, PartialEq)]
struct Ending {
    /// The last character outside comments and whitespace.
    last: Option<char>,
    /// Whether the text ends inside a `--` comment, which whatever follows
    /// on the same line would join.
    in_line_comment: bool,
}

fn ending(sql: &str) -> Ending {
    let mut chars = sql.chars().peekable();
    let mut last = None;
    let mut in_line_comment = false;
    while let Some(c) = chars.next() {
        in_line_comment = false;
        match c {
            '-' if chars.peek() == Some(&'-') => {
                in_line_comment = true;
                for c in chars.by_ref() {
                    if c == '\n' {
                        in_line_comment = false;
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut star = false;
                for c in chars.by_ref() {
                    if star && c == '/' {
                        break;
                    }
                    star = c == '*';
                }
            }
            '\'' | '"' | '`' | '[' => {
                let close = if c == '[' { ']' } else { c };
                // A doubled quote inside reads as closing and reopening.
                for c in chars.by_ref() {
                    if c == close {
                        break;
                    }
                }
                last = Some(close);
            }
            c if c.is_whitespace() => {}
            c => last = Some(c),
        }
    }
    Ending {
        last,
        in_line_comment,
    }
}

/// Ends `sql` with a newline when its last line is a `--` comment, so that
/// text added after it is not commented out.
fn close_line(sql: &str) -> String {
    if ending(sql).in_line_comment {
        format!("{sql}\n")
    } else {
        sql.to_string()
    }
}

/// A listener's trigger with `body` as its body, from its quoted name on:
/// SQLite stores it in `sqlite_master.sql` as `CREATE TRIGGER ` and this.
fn trigger_text(name: &str, def: &Definition, body: &str) -> Result<String> {
    let mut sql = format!(
        "{} {}\n{} {}",
        quote_ident(name)?,
        marker::encode(MARKER, &def.marker_json()),
        def.event.timing,
        def.event.op.sql()
    );
    if let Some(columns) = &def.columns {
        let quoted = columns
            .iter()
            .map(|c| quote_ident(c))
            .collect::<Result<Vec<_>>>()?;
        sql.push_str(&format!(" OF {}", quoted.join(", ")));
    }
    sql.push_str(&format!(" ON {}\nFOR EACH ROW\n", quote_ident(&def.table)?));
    if let Some(when) = &def.when {
        sql.push_str(&format!("WHEN ({})\n", close_line(when)));
    }
    let body = match ending(body) {
        Ending {
            last: Some(';'), ..
        } => body.to_string(),
        _ => format!("{};", close_line(body)),
    };
    sql.push_str(&format!("BEGIN\n{body}\nEND"));
    Ok(sql)
}

/// A column of a table, from `pragma_table_xinfo`.
struct Column {
    name: String,
    generated: bool,
}

fn columns_of(conn: &Connection, table: &str) -> Result<Vec<Column>> {
    let mut stmt = conn
        .prepare("SELECT name, hidden FROM pragma_table_xinfo(?1, 'main')")
        .map_err(Error::sqlite("reading table columns"))?;
    let rows = stmt
        .query_map([table], |r| {
            Ok(Column {
                name: r.get(0)?,
                // hidden 2 and 3: generated columns (virtual, stored).
                generated: r.get::<_, i64>(1)? >= 2,
            })
        })
        .map_err(Error::sqlite("reading table columns"))?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(Error::sqlite("reading table columns"))
}

/// The table of argument 1, as the main schema spells it; anything that
/// cannot carry a listener is refused with the reason.
fn resolve_table(conn: &Connection, table: &str) -> Result<String> {
    let bad = |why: String| Error::invalid(format!("argument 1 (table): {why}"));
    let mut stmt = conn
        .prepare(
            "SELECT schema, name, type FROM pragma_table_list \
             WHERE name = ?1 COLLATE NOCASE ORDER BY schema <> 'main'",
        )
        .map_err(Error::sqlite("reading the schema"))?;
    let found: Vec<(String, String, String)> = stmt
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(|rows| rows.collect())
        .map_err(Error::sqlite("reading the schema"))?;
    let Some((schema, name, kind)) = found.into_iter().next() else {
        return Err(bad(format!(
            "no table {} in the main database",
            shorten(table)
        )));
    };
    if schema != "main" {
        return Err(bad(format!(
            "no table {} in the main database (there is one in {schema}); \
             listeners go on tables of main",
            shorten(table)
        )));
    }
    if reserved_name(&name) {
        return Err(bad(format!(
            "{} is an internal table of SQLite, which cannot have triggers",
            shorten(&name)
        )));
    }
    match kind.as_str() {
        "table" => Ok(name),
        "view" => Err(bad(format!(
            "{} is a view; listeners go on tables",
            shorten(&name)
        ))),
        "virtual" => Err(bad(format!(
            "{} is a virtual table, which SQLite cannot put triggers on",
            shorten(&name)
        ))),
        other => Err(bad(format!(
            "{} is a {other} table, which cannot have listeners",
            shorten(&name)
        ))),
    }
}

/// The type and name of the main-schema object called `name`, if any,
/// matched as SQLite matches names (ASCII case-insensitively).
fn schema_object(conn: &Connection, name: &str) -> Result<Option<(String, String)>> {
    conn.query_row(
        "SELECT type, name FROM main.sqlite_master WHERE name = ?1 COLLATE NOCASE \
         ORDER BY type <> 'trigger' LIMIT 1",
        [name],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map_err(Error::sqlite("reading the schema"))
}

/// An error about argument 4, naming the option.
fn option_error(key: &str, why: impl std::fmt::Display) -> Error {
    Error::invalid(format!("argument 4 (options_json): option {key} {why}"))
}

/// A text option, as given: absent or JSON null is `None`; empty text is
/// refused. Text of spaces only is kept: `" "` is a valid trigger name.
fn text_option(options: &Map<String, Json>, key: &str) -> Result<Option<String>> {
    match options.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if s.is_empty() => Err(option_error(key, "is empty")),
        Some(Json::String(s)) if s.contains('\0') => {
            Err(option_error(key, "contains a NUL character"))
        }
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(option_error(
            key,
            format!("must be a string, got {}", json_kind(other)),
        )),
    }
}

/// The `columns` option, checked against the table and spelled as the
/// schema spells the columns.
fn columns_option(
    options: &Map<String, Json>,
    event: &Event,
    table: &str,
    columns: &[Column],
) -> Result<Option<Vec<String>>> {
    let items = match options.get("columns") {
        None | Some(Json::Null) => return Ok(None),
        Some(Json::Array(items)) => items,
        Some(other) => {
            return Err(option_error(
                "columns",
                format!("must be an array of column names, got {}", json_kind(other)),
            ))
        }
    };
    if event.op != Op::Update {
        return Err(option_error(
            "columns",
            format!(
                "is only for update events (before_update, after_update), not {}",
                event.name
            ),
        ));
    }
    if items.is_empty() {
        return Err(option_error(
            "columns",
            "must name at least one column (leave it out to listen to every update)",
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Json::String(wanted) = item else {
            return Err(option_error(
                "columns",
                format!(
                    "must be an array of column names, but element {} is {}",
                    i + 1,
                    json_kind(item)
                ),
            ));
        };
        let Some(column) = columns.iter().find(|c| c.name.eq_ignore_ascii_case(wanted)) else {
            return Err(option_error(
                "columns",
                format!(
                    "names {}, which is not a column of table {} (columns: {})",
                    shorten(wanted),
                    shorten(table),
                    columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        if column.generated {
            return Err(option_error(
                "columns",
                format!(
                    "names {}, a generated column: no UPDATE sets it, so the listener would never fire",
                    shorten(&column.name)
                ),
            ));
        }
        if out.iter().any(|c| c.eq_ignore_ascii_case(&column.name)) {
            return Err(option_error(
                "columns",
                format!("names {} twice", shorten(&column.name)),
            ));
        }
        out.push(column.name.clone());
    }
    Ok(Some(out))
}

/// A statement that fires the listener when run; it is only ever prepared,
/// which is when SQLite resolves what the trigger's body names.
fn firing_sql(def: &Definition, columns: &[Column]) -> Result<String> {
    let table = format!("main.{}", quote_ident(&def.table)?);
    Ok(match def.event.op {
        Op::Insert => format!("INSERT INTO {table} DEFAULT VALUES"),
        Op::Delete => format!("DELETE FROM {table}"),
        Op::Update => {
            let names: Vec<&str> = match &def.columns {
                Some(c) => c.iter().map(String::as_str).collect(),
                None => columns
                    .iter()
                    .filter(|c| !c.generated)
                    .map(|c| c.name.as_str())
                    .collect(),
            };
            let set = names
                .iter()
                .map(|c| quote_ident(c).map(|q| format!("{q} = {q}")))
                .collect::<Result<Vec<_>>>()?;
            format!("UPDATE {table} SET {}", set.join(", "))
        }
    })
}

/// Why a trigger's SQL was refused.
enum Refusal {
    /// The trigger ends before the end of the text: more statements, or a
    /// comment that would swallow what follows the trigger in a `.dump`.
    EndsEarly,
    /// SQLite's message.
    Compile(String),
}

/// Creates the trigger `name` from `text` (see [`trigger_text`]), which
/// must be exactly one statement and be stored whole, then prepares `fire`.
/// Only called inside a savepoint, which undoes the trigger when this fails.
fn create_checked(conn: &Connection, name: &str, text: &str, fire: &str) -> Result<(), Refusal> {
    let compile = |e: rusqlite::Error| Refusal::Compile(sqlite_message(e));
    let create = format!("CREATE TRIGGER main.{text}");
    let mut batch = Batch::new(conn, &create);
    let mut stmt = batch
        .next()
        .map_err(compile)?
        .ok_or_else(|| Refusal::Compile("empty statement".into()))?;
    // Whatever follows the first statement (even text that does not
    // compile) means the definition ended the trigger early.
    if !matches!(batch.next(), Ok(None)) {
        return Err(Refusal::EndsEarly);
    }
    stmt.execute([]).map_err(compile)?;
    drop(stmt);
    // SQLite stores the trigger up to its END: anything of ours after that
    // (an unclosed comment in the action) makes the stored text differ.
    let stored: Option<String> = conn
        .query_row(
            "SELECT sql FROM main.sqlite_master WHERE type = 'trigger' AND name = ?1",
            [name],
            |r| r.get(0),
        )
        .map_err(compile)?;
    if stored.as_deref() != Some(format!("CREATE TRIGGER {text}").as_str()) {
        return Err(Refusal::EndsEarly);
    }
    conn.prepare(fire).map(drop).map_err(compile)
}

/// SQLite's own message, without rusqlite's wrapping.
fn sqlite_message(e: rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(message)) => message,
        other => other.to_string(),
    }
}

/// Creates a listener: checks every argument and option, then creates the
/// trigger in a savepoint and keeps it only if a statement that would fire
/// it compiles. Returns the trigger's name.
fn listen(
    conn: &Connection,
    table: &str,
    event: &str,
    action: &str,
    options: &Map<String, Json>,
) -> Result<String> {
    // Everything from the first read of the schema on happens under the
    // write lock (see `in_savepoint`): a listener created at the same moment
    // by another connection is seen, as if the calls had come one after the
    // other.
    in_savepoint(conn, "trigger_listen", || {
        let table = resolve_table(conn, table)?;
        let event_def = find_event(event).ok_or_else(|| {
            Error::invalid(format!(
                "argument 2 (event) must be one of {}; got {}",
                event_names(),
                shorten(event)
            ))
        })?;
        if let Some(key) = options.keys().find(|k| !OPTIONS.contains(&k.as_str())) {
            return Err(Error::invalid(format!(
                "argument 4 (options_json): unknown option {} (options: {})",
                shorten(key),
                OPTIONS.join(", ")
            )));
        }
        let action = action.trim();
        if action.contains('\0') {
            return Err(Error::invalid(
                "argument 3 (action_sql) contains a NUL character",
            ));
        }
        if ending(action).last.is_none() {
            return Err(Error::invalid(
                "argument 3 (action_sql) has no statement: give the SQL the trigger runs",
            ));
        }
        let columns = columns_of(conn, &table)?;
        let def = Definition {
            columns: columns_option(options, event_def, &table, &columns)?,
            when: match text_option(options, "when")? {
                Some(w) if w.trim().is_empty() => return Err(option_error("when", "is empty")),
                w => w.map(|w| w.trim().to_string()),
            },
            action: action.to_string(),
            table,
            event: event_def,
        };
        let name = listener_name(conn, options, &def)?;
        let fire = firing_sql(&def, &columns)?;
        // A statement that cannot fire the listener's table before the listener
        // exists (another trigger on it is broken) would be blamed on the
        // listener below.
        conn.prepare(&fire).map(drop).map_err(|e| {
            Error::invalid(format!(
                "argument 1 (table): {} does not compile even before the listener is added ({}); \
                 fix the table's other triggers first",
                shorten_to(&fire, 200),
                sqlite_message(e)
            ))
        })?;
        let text = trigger_text(&name, &def, &def.action)?;
        if def.when.is_some() {
            // The condition alone first, with a body that cannot fail, so an
            // error is put down to the right argument.
            let probe = trigger_text(&name, &def, "SELECT 1;")?;
            create_checked(conn, &name, &probe, &fire)
                .map_err(|r| refused(r, "argument 4 (options_json): option when"))?;
            conn.execute_batch(&format!("DROP TRIGGER main.{}", quote_ident(&name)?))
                .map_err(Error::sqlite("dropping the probe trigger"))?;
        }
        create_checked(conn, &name, &text, &fire)
            .map_err(|r| refused(r, "argument 3 (action_sql)"))?;
        Ok(name)
    })
}

/// The listener's name: the `name` option, which must be free, or the
/// generated one. Taking a generated name that is already a listener with
/// this very definition is reported as such.
fn listener_name(
    conn: &Connection,
    options: &Map<String, Json>,
    def: &Definition,
) -> Result<String> {
    match text_option(options, "name")? {
        Some(name) => {
            quote_ident(&name).map_err(|e| option_error("name", e))?;
            if reserved_name(&name) {
                return Err(option_error(
                    "name",
                    format!("{} is reserved for SQLite's own objects", shorten(&name)),
                ));
            }
            if let Some((kind, found)) = schema_object(conn, &name)? {
                return Err(option_error(
                    "name",
                    format!(
                        "is {}, but a {kind} of that name already exists in the main database",
                        shorten(&found)
                    ),
                ));
            }
            Ok(name)
        }
        None => {
            let name = generated_name(def);
            if let Some((kind, found)) = schema_object(conn, &name)? {
                let same =
                    kind == "trigger" && listener_definition(conn, &found)?.as_ref() == Some(def);
                return Err(Error::invalid(if same {
                    format!(
                        "this listener already exists as {}; \
                         pass a name in options_json for a second one",
                        shorten(&found)
                    )
                } else {
                    format!(
                        "the generated name {} is taken by a {kind}; pass a name in options_json",
                        shorten(&found)
                    )
                }));
            }
            Ok(name)
        }
    }
}

/// The error for a refused trigger; `what` names the argument at fault.
fn refused(refusal: Refusal, what: &str) -> Error {
    Error::invalid(match refusal {
        Refusal::EndsEarly => {
            format!("{what} ends the trigger early: the text after its END would not be part of it")
        }
        Refusal::Compile(message) => format!("{what} does not compile: {message}"),
    })
}

/// The definition of the trigger `name` in main, if it is a listener.
fn listener_definition(conn: &Connection, name: &str) -> Result<Option<Definition>> {
    let sql: Option<Option<String>> = conn
        .query_row(
            "SELECT sql FROM main.sqlite_master WHERE type = 'trigger' AND name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()
        .map_err(Error::sqlite("reading the schema"))?;
    Ok(sql
        .flatten()
        .and_then(|sql| Definition::from_trigger(name, &sql)))
}

/// Drops the listener `name`; any other trigger is refused. Returns the
/// listener's name as the schema spells it.
fn unlisten(conn: &Connection, name: &str) -> Result<String> {
    let bad = |why: String| Error::invalid(format!("argument 1 (name): {why}"));
    // Under the write lock from the first read on (see `in_savepoint`).
    in_savepoint(conn, "trigger_unlisten", || {
        match schema_object(conn, name)? {
            None => Err(bad(format!(
                "no listener {} in the main database",
                shorten(name)
            ))),
            Some((kind, found)) if kind != "trigger" => Err(bad(format!(
                "{} is a {kind}, not a listener",
                shorten(&found)
            ))),
            Some((_, found)) => {
                if listener_definition(conn, &found)?.is_none() {
                    return Err(bad(format!(
                        "trigger {} was not created by trigger_listen, so it is left alone; \
                         use DROP TRIGGER to drop it",
                        shorten(&found)
                    )));
                }
                conn.execute_batch(&format!("DROP TRIGGER main.{}", quote_ident(&found)?))
                    .map_err(Error::sqlite(format!(
                        "dropping trigger {}",
                        shorten(&found)
                    )))?;
                Ok(found)
            }
        }
    })
}

/// The `trigger_listeners` table-valued function: one row per listener in
/// main, by name. The table is the one the trigger is on now (SQLite
/// follows `ALTER TABLE ... RENAME`); the rest is the stored definition.
pub(crate) struct ListenersTable;

impl crate::ffi::RowSource for ListenersTable {
    const NAME: &'static std::ffi::CStr = c"trigger_listeners";
    const SCHEMA: &'static std::ffi::CStr = c"CREATE TABLE x(name TEXT, table_name TEXT, \
        event TEXT, columns TEXT, when_expr TEXT, action TEXT)";

    fn rows(conn: &Connection, _after: Option<i64>) -> Result<Vec<Vec<rusqlite::types::Value>>> {
        use rusqlite::types::Value;
        let mut stmt = conn
            .prepare(
                "SELECT name, tbl_name, sql FROM main.sqlite_master \
                 WHERE type = 'trigger' AND sql IS NOT NULL ORDER BY name",
            )
            .map_err(Error::sqlite("reading the schema"))?;
        let triggers: Vec<(String, String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(|rows| rows.collect())
            .map_err(Error::sqlite("reading the schema"))?;
        let text_or_null = |s: Option<String>| s.map_or(Value::Null, Value::Text);
        Ok(triggers
            .into_iter()
            .filter_map(|(name, table, sql)| {
                let def = Definition::from_trigger(&name, &sql)?;
                Some(vec![
                    Value::Text(name),
                    Value::Text(table),
                    Value::Text(def.event.name.into()),
                    text_or_null(def.columns_json()),
                    text_or_null(def.when),
                    Value::Text(def.action),
                ])
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(action: &str) -> Definition {
        Definition {
            table: "user".into(),
            event: find_event("after_insert").unwrap(),
            columns: None,
            when: None,
            action: action.into(),
        }
    }

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn generated_names_are_stable_and_follow_the_definition() {
        let a = generated_name(&def("SELECT 1"));
        assert_eq!(a, generated_name(&def("SELECT 1")));
        assert!(a.starts_with("listen_user_after_insert_"), "{a}");
        assert_eq!(a.len(), "listen_user_after_insert_".len() + 8);
        assert_ne!(a, generated_name(&def("SELECT 2")));
    }

    #[test]
    fn the_marker_cannot_close_its_comment() {
        let d = def("SELECT '*/ DROP TABLE x; /*' /* c */");
        let json = marker::escape(&d.marker_json());
        assert!(!json.contains('*'), "{json}");
        assert!(!json.contains('\n'));
        let stored = format!(
            "CREATE TRIGGER {}",
            trigger_text("n", &d, &d.action).unwrap()
        );
        assert_eq!(Definition::from_trigger("n", &stored), Some(d));
    }

    #[test]
    fn the_marker_keeps_every_field() {
        let d = Definition {
            table: "my \"odd\" table\n".into(),
            event: find_event("before_update").unwrap(),
            columns: Some(vec!["a".into(), "b*c".into()]),
            when: Some("NEW.a > 1 -- note".into()),
            action: "ü; 'x'".into(),
        };
        let stored = format!(
            "CREATE TRIGGER {}",
            trigger_text("x\"y", &d, &d.action).unwrap()
        );
        assert_eq!(Definition::from_trigger("x\"y", &stored), Some(d));
        // Only right after the name: a marker elsewhere does not count.
        assert_eq!(Definition::from_trigger("other", &stored), None);
        let late = stored.replacen("\"x\"\"y\" ", "\"x\"\"y\" AFTER ", 1);
        assert_eq!(Definition::from_trigger("x\"y", &late), None);
    }

    #[test]
    fn the_body_gets_one_closing_semicolon() {
        let body = |action: &str| {
            let sql = trigger_text("n", &def(action), action).unwrap();
            sql[sql.find("BEGIN\n").unwrap() + 6..].to_string()
        };
        assert_eq!(body("SELECT 1"), "SELECT 1;\nEND");
        assert_eq!(body("SELECT 1;"), "SELECT 1;\nEND");
        assert_eq!(body("SELECT 1; /* done */"), "SELECT 1; /* done */\nEND");
        assert_eq!(body("SELECT 1 -- done"), "SELECT 1 -- done\n;\nEND");
        assert_eq!(body("SELECT 1; -- done"), "SELECT 1; -- done\nEND");
        assert_eq!(body("SELECT ';'"), "SELECT ';';\nEND");
        assert_eq!(body("SELECT [a;]"), "SELECT [a;];\nEND");
    }

    #[test]
    fn the_lexer_skips_strings_and_comments() {
        assert_eq!(ending("").last, None);
        assert_eq!(ending(" -- x\n /* y */ ").last, None);
        assert_eq!(ending("a -- ;").last, Some('a'));
        assert!(ending("a -- ;").in_line_comment);
        assert!(!ending("a -- ;\n").in_line_comment);
        assert_eq!(ending("'it''s;'").last, Some('\''));
        assert_eq!(ending("\"a;\"").last, Some('"'));
        assert_eq!(ending("`a;`").last, Some('`'));
        assert_eq!(ending("x /* ; */").last, Some('x'));
        assert_eq!(ending("x - 1;").last, Some(';'));
    }

    #[test]
    fn events_are_sqlalchemys_names() {
        assert_eq!(
            event_names(),
            "before_insert, after_insert, before_update, after_update, before_delete, after_delete"
        );
        assert_eq!(find_event("AFTER_UPDATE").unwrap().op, Op::Update);
        assert!(find_event("after_create").is_none());
    }
}
