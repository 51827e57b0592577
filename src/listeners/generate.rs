//! A listener's trigger: its SQL, the statement that would fire it, and its
//! creation, which keeps it only if the whole definition compiles and is
//! stored whole.
use fallible_iterator::FallibleIterator;
use rusqlite::{Batch, Connection};

use super::definition::Definition;
use super::lexer::{close_line, ending, Ending};
use crate::changes::Op;
use crate::schema::Column;
use crate::sql::{quote_ident, shorten_to};
use crate::{Error, Result};

/// A listener's trigger with `body` as its body, from its quoted name on:
/// SQLite stores it in `sqlite_master.sql` as `CREATE TRIGGER ` and this.
pub(super) fn trigger_text(name: &str, def: &Definition, body: &str) -> Result<String> {
    let mut sql = format!(
        "{} {}\n{} {}",
        quote_ident(name)?,
        def.marker(),
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

/// A statement that fires the listener when run; it is only ever prepared,
/// which is when SQLite resolves what the trigger's body names.
pub(super) fn firing_sql(def: &Definition, columns: &[Column]) -> Result<String> {
    let table = format!("main.{}", quote_ident(&def.table)?);
    Ok(match def.event.op {
        Op::Insert => format!("INSERT INTO {table} DEFAULT VALUES"),
        Op::Delete => format!("DELETE FROM {table}"),
        Op::Update => {
            let names: Vec<&str> = match &def.columns {
                Some(c) => c.iter().map(String::as_str).collect(),
                None => columns
                    .iter()
                    .filter(|c| !c.generated())
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
pub(super) enum Refusal {
    /// The trigger ends before the end of the text: more statements, or a
    /// comment that would swallow what follows the trigger in a `.dump`.
    EndsEarly,
    /// SQLite's message.
    Compile(String),
    /// The database was busy or locked: not the definition's fault, and
    /// reported with SQLite's code.
    Busy(Error),
}

/// Creates the trigger `name` from `text` (see [`trigger_text`]), which
/// must be exactly one statement and be stored whole, then prepares `fire`.
/// Only called inside a savepoint, which undoes the trigger when this fails.
pub(super) fn create_checked(
    conn: &Connection,
    name: &str,
    text: &str,
    fire: &str,
) -> Result<(), Refusal> {
    let compile = |e: rusqlite::Error| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            Refusal::Busy(Error::sqlite("creating the listener's trigger")(e))
        }
        _ => Refusal::Compile(sqlite_message(e)),
    };
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

/// SQLite's own message, without rusqlite's wrapping, as an error shows
/// it: quoted, escaped and cut like any user text ([`shorten_to`]), since
/// it quotes the user's SQL (a name a megabyte long, one holding a newline
/// or an escape character) as it is. Cut at 200 characters rather than 60,
/// which would end some of SQLite's own sentences before their point.
pub(super) fn sqlite_message(e: rusqlite::Error) -> String {
    let message = match e {
        rusqlite::Error::SqliteFailure(_, Some(message)) => message,
        other => other.to_string(),
    };
    format!("{:?}", shorten_to(&message, 200))
}

/// The error for a refused trigger; `what` names the argument at fault.
pub(super) fn refused(refusal: Refusal, what: &str) -> Error {
    match refusal {
        Refusal::Busy(error) => error,
        Refusal::EndsEarly => Error::invalid(format!(
            "{what} ends the trigger early: the text after its END would not be part of it"
        )),
        Refusal::Compile(message) => Error::invalid(format!("{what} does not compile: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listeners::definition::find_event;

    #[test]
    fn the_marker_cannot_close_its_comment() {
        let d = Definition::example("SELECT '*/ DROP TABLE x; /*' /* c */");
        let comment = d.marker();
        // Only the comment's own `/*` and `*/`.
        assert_eq!(comment.matches('*').count(), 2, "{comment}");
        assert!(!comment.contains('\n'));
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
            let sql = trigger_text("n", &Definition::example(action), action).unwrap();
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
}
