//! Refuses to capture a table whose foreign-key actions lead back to it.
//!
//! SQLite runs a foreign key's ON DELETE / ON UPDATE action (CASCADE, SET
//! NULL, SET DEFAULT) in the middle of the change that caused it: after the
//! parent row is written, before that row's AFTER triggers run. When the
//! action's changes reach the captured table again (a self-referencing
//! foreign key, or a loop through other tables), capture's triggers on the
//! table fire inside one of its own changes: a row updated by the action
//! before the outer change's event is written (the event then carries stale
//! values), or the notes of rows a REPLACE is about to delete being flushed
//! or dropped by the inner change. No plain-SQL trigger can tell the inner
//! change from the outer one, so such tables are refused rather than
//! captured inexactly.
//!
//! Actions that lead elsewhere are fine: a parent's delete cascading to a
//! captured child records the child's deletes before the parent's, as
//! SQLite makes them (docs/outbox.md says what a replica does with that).

use rusqlite::Connection;

use crate::sql::display_name;
use crate::{Error, Result};

/// One foreign key of `child` with an action.
struct Action {
    child: String,
    parent: String,
    from: Vec<String>,
    /// `ON DELETE SET NULL`, `ON UPDATE CASCADE ON DELETE CASCADE`, ...
    clause: String,
}

/// Whether an action clause of `pragma_foreign_key_list` changes the child.
fn acts(action: &str) -> bool {
    matches!(
        action.to_ascii_uppercase().as_str(),
        "CASCADE" | "SET NULL" | "SET DEFAULT"
    )
}

/// Every foreign key with an action among the main database's tables.
fn actions(conn: &Connection) -> Result<Vec<Action>> {
    let read = || Error::sqlite("reading foreign keys");
    let mut stmt = conn
        .prepare(
            "SELECT t.name, f.id, f.\"table\", f.\"from\", f.on_update, f.on_delete \
             FROM main.sqlite_schema AS t, pragma_foreign_key_list(t.name, 'main') AS f \
             WHERE t.type = 'table' ORDER BY t.name, f.id, f.seq",
        )
        .map_err(read())?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })
        .map_err(read())?;
    let mut out: Vec<(i64, Action)> = Vec::new();
    for row in rows {
        let (child, id, parent, from, on_update, on_delete) = row.map_err(read())?;
        if !acts(&on_update) && !acts(&on_delete) {
            continue;
        }
        match out.last_mut() {
            Some((last, a)) if *last == id && a.child == child => a.from.push(from),
            _ => {
                let mut clause = Vec::new();
                if acts(&on_update) {
                    clause.push(format!("ON UPDATE {}", on_update.to_ascii_uppercase()));
                }
                if acts(&on_delete) {
                    clause.push(format!("ON DELETE {}", on_delete.to_ascii_uppercase()));
                }
                out.push((
                    id,
                    Action {
                        child,
                        parent,
                        from: vec![from],
                        clause: clause.join(" "),
                    },
                ));
            }
        }
    }
    Ok(out.into_iter().map(|(_, a)| a).collect())
}

/// Refuses `table` when a foreign-key action, reached from a change of
/// `table` through actions, changes `table` again.
pub(super) fn refuse_action_loops(conn: &Connection, table: &str) -> Result<()> {
    let actions = actions(conn)?;
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    // The tables a change of `table` can reach through actions, each with
    // the table it was reached from (to name the way back).
    let mut reached: Vec<(String, Option<usize>)> = vec![(table.to_string(), None)];
    let mut next = 0;
    while next < reached.len() {
        let from = reached[next].0.clone();
        for a in actions.iter().filter(|a| same(&a.parent, &from)) {
            if !reached.iter().any(|(t, _)| same(t, &a.child)) {
                reached.push((a.child.clone(), Some(next)));
            }
        }
        next += 1;
    }
    for a in actions.iter().filter(|a| same(&a.child, table)) {
        let Some(at) = reached.iter().position(|(t, _)| same(t, &a.parent)) else {
            continue;
        };
        let mut way = Vec::new();
        let mut i = at;
        while let Some(prev) = reached[i].1 {
            way.push(display_name(&reached[i].0));
            i = prev;
        }
        way.reverse();
        let through = match way.is_empty() {
            true => String::new(),
            false => format!(" (through {})", way.join(", ")),
        };
        let columns: Vec<String> = a.from.iter().map(|c| display_name(c)).collect();
        return Err(Error::invalid(format!(
            "cannot capture {t} exactly: its foreign key ({columns}) REFERENCES {parent} {clause} \
             changes rows of {t}{through} while SQLite is still making another change of {t}, \
             before that change's triggers run, so events could carry stale values or lose a \
             delete; make the action RESTRICT or NO ACTION and change the referencing rows \
             yourself (or in a trigger), then capture again",
            t = display_name(table),
            columns = columns.join(", "),
            parent = display_name(&a.parent),
            clause = a.clause,
        )));
    }
    Ok(())
}
