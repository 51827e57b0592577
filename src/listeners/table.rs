//! What the main schema says about a listener's table and about names: the
//! table as the schema spells it, its columns, and what a name is taken by.
use rusqlite::{Connection, OptionalExtension};

use crate::schema::reserved_name;
use crate::sql::shorten;
use crate::{Error, Result};

/// A column of a table, from `pragma_table_xinfo`.
pub(super) struct Column {
    pub(super) name: String,
    pub(super) generated: bool,
}

pub(super) fn columns_of(conn: &Connection, table: &str) -> Result<Vec<Column>> {
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
pub(super) fn resolve_table(conn: &Connection, table: &str) -> Result<String> {
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
pub(super) fn schema_object(conn: &Connection, name: &str) -> Result<Option<(String, String)>> {
    conn.query_row(
        "SELECT type, name FROM main.sqlite_master WHERE name = ?1 COLLATE NOCASE \
         ORDER BY type <> 'trigger' LIMIT 1",
        [name],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map_err(Error::sqlite("reading the schema"))
}
