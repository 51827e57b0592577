//! What the main database says about its objects: tables from
//! `pragma_table_list` (one query instead of reading `sqlite_schema` text
//! or probing with statements that may fail for other reasons), and names
//! by namespace.
use rusqlite::{Connection, OptionalExtension};

use crate::{Error, Result};

/// A table-like object of the main database.
pub(crate) struct MainTable {
    /// The name as the schema spells it.
    pub(crate) name: String,
    /// `table`, `view`, `virtual` or `shadow`.
    pub(crate) kind: String,
    pub(crate) without_rowid: bool,
}

/// Whether SQLite keeps `name` for its own objects: it starts with
/// `sqlite_` in any case. Compares bytes, so a name of any characters
/// (multi-byte ones included) is safe to pass.
pub(crate) fn reserved_name(name: &str) -> bool {
    name.as_bytes()
        .get(..7)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(b"sqlite_"))
}

/// The main-database table, view or virtual table called `name`, matched
/// as SQLite matches names (ASCII case-insensitively). Like `sqlite_schema`
/// itself, it does not list the schema table.
pub(crate) fn main_table(conn: &Connection, name: &str) -> Result<Option<MainTable>> {
    conn.query_row(
        "SELECT name, type, wr FROM pragma_table_list \
         WHERE schema = 'main' AND name = ?1 COLLATE NOCASE AND name <> 'sqlite_schema'",
        [name],
        |r| {
            Ok(MainTable {
                name: r.get(0)?,
                kind: r.get(1)?,
                without_rowid: r.get(2)?,
            })
        },
    )
    .optional()
    .map_err(Error::sqlite("reading the schema"))
}

/// The names of the main database's own rowid tables (no views, virtual
/// or WITHOUT ROWID tables, nothing of SQLite's).
pub(crate) fn main_rowid_tables(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare(
            "SELECT name FROM pragma_table_list WHERE schema = 'main' \
             AND type IN ('table', 'shadow') AND NOT wr \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        )
        .map_err(Error::sqlite("listing tables"))?;
    let names = stmt
        .query_map([], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(Error::sqlite("listing tables"));
    names
}

/// SQLite keeps trigger names apart from the names of tables, views and
/// indexes, which share one namespace: a trigger may be named like its table.
#[derive(Clone, Copy)]
pub(crate) enum Namespace {
    Triggers,
    Relations,
}

/// The `(type, tbl_name)` of a main-schema object in one namespace, matched
/// as SQLite matches names (ASCII case-insensitively).
pub(crate) fn schema_entry(
    conn: &Connection,
    ns: Namespace,
    name: &str,
) -> Result<Option<(String, String)>> {
    let types = match ns {
        Namespace::Triggers => "('trigger')",
        Namespace::Relations => "('table', 'view', 'index')",
    };
    conn.query_row(
        &format!(
            "SELECT type, tbl_name FROM main.sqlite_master \
             WHERE type IN {types} AND name = ?1 COLLATE NOCASE LIMIT 1"
        ),
        [name],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map_err(Error::sqlite("reading the schema"))
}

#[cfg(test)]
mod reserved_name_tests {
    use super::reserved_name;

    #[test]
    fn reserved_names_are_found_by_bytes_whatever_the_characters() {
        assert!(reserved_name("sqlite_master"));
        assert!(reserved_name("SQLite_stat1"));
        assert!(!reserved_name("sqlite"));
        assert!(!reserved_name("my_sqlite_table"));
        // Multi-byte characters across byte 7 must not panic.
        assert!(!reserved_name("日本語テーブル"));
        assert!(!reserved_name("sqlit日本"));
        assert!(!reserved_name("é"));
        assert!(reserved_name("sqlite_日本"));
    }
}
