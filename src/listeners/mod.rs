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
//!
//! This file holds the SQL functions; the rest is split by concern:
//! `definition` (events, the marker's JSON, generated names), `lexer` (how a
//! piece of SQL ends), `table` (the listener's table and its columns, names
//! in the schema), `options` (`options_json`) and `generate` (the trigger's
//! SQL and its checked creation).
use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value as Json};

use crate::functions::{SqlFunction, ADMIN};
use crate::schema::{columns, named_object, ordinary_table, reserved_name, SchemaEntry};
use crate::sql::in_savepoint;
use crate::sql::{quote_ident, shorten, shorten_to};
use crate::{Error, Result};

mod definition;
mod generate;
mod lexer;
mod options;

use definition::{event_names, find_event, generated_name, Definition};
use generate::{create_checked, firing_sql, refused, sqlite_message, trigger_text};
use lexer::ending;
use options::{check_keys, columns_option, option_error, text_option};

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
        let table = ordinary_table(conn, table)
            .map_err(|e| e.within("argument 1 (table): "))?
            .name;
        let event_def = find_event(event).ok_or_else(|| {
            Error::invalid(format!(
                "argument 2 (event) must be one of {}; got {}",
                event_names(),
                shorten(event)
            ))
        })?;
        check_keys(options)?;
        let action = crate::sql::trim_sql(action);
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
        let columns = columns(conn, &table)?;
        let def = Definition {
            columns: columns_option(options, event_def, &table, &columns)?,
            when: match text_option(options, "when")? {
                Some(w) if crate::sql::trim_sql(&w).is_empty() => {
                    return Err(option_error("when", "is empty"))
                }
                w => w.map(|w| crate::sql::trim_sql(&w).to_string()),
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
                "argument 1 (table): {:?} does not compile even before the listener is added \
                 ({}); fix the table's other triggers first",
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
        // What the action writes is recorded after the change it reacts to.
        crate::outbox::keep_capture_first(conn, &def.table)?;
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
            if let Some(SchemaEntry {
                kind, name: found, ..
            }) = named_object(conn, &name)?
            {
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
            if let Some(SchemaEntry {
                kind, name: found, ..
            }) = named_object(conn, &name)?
            {
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
        match named_object(conn, name)?.map(|e| (e.kind, e.name)) {
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

/// What `trigger_doctor()` finds wrong with the listeners in main: a
/// trigger that is no longer what its stored definition makes, after its
/// table or a column it names was renamed (SQLite rewrites the trigger, not
/// the definition) or after the trigger was edited. Making the listener
/// again from what the trigger does now repairs it.
pub(crate) fn problems(conn: &Connection) -> Result<Vec<crate::problem::Problem>> {
    let triggers = crate::schema::main_triggers(conn)?;
    let mut found = Vec::new();
    for (name, table, sql) in triggers {
        let Some(def) = Definition::from_trigger(&name, &sql) else {
            continue;
        };
        // The trigger follows its table through a rename, and so does
        // trigger_listeners: only the rest of the definition must match
        // (the marker keeps the name it was made with).
        let moved = Definition {
            table,
            ..def.clone()
        };
        let wanted = format!(
            "CREATE TRIGGER {}",
            trigger_text(&name, &moved, &def.action)?
        )
        .replacen(&moved.marker(), &def.marker(), 1);
        if wanted == sql {
            continue;
        }
        let problem = "its trigger is not what its definition makes (its table or a column it \
                       names was renamed since it was made, and SQLite rewrote the trigger but \
                       not the definition; or the trigger was edited), so trigger_listeners \
                       shows what it no longer does"
            .to_string();
        found.push(crate::problem::Problem {
            kind: "listener",
            object: name.clone(),
            problem,
            repair: format!(
                "SELECT trigger_unlisten({}); then trigger_listen() again with the table, \
                 columns and action it should have",
                crate::sql::quote_text(&name)?
            ),
        });
    }
    Ok(found)
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
        let triggers = crate::schema::main_triggers(conn)?;
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
