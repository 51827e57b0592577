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

/// Whether SQLite keeps `name` for its own objects: `sqlite_` in any case.
/// Compared by bytes, so no name can split a character at byte 7.
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

/// The rowid tables of every schema (main, temp and attached databases), as
/// (schema, table): no views, virtual tables, WITHOUT ROWID tables, shadow
/// tables or anything of SQLite's. A table whose name starts with a virtual
/// table's name and `_` may be that virtual table's shadow table even where
/// SQLite does not know the module as one: it is left out too, so that
/// `trigger_watch('*')` never puts a guard on a table a virtual table writes
/// itself (a guard there breaks the virtual table's writes).
pub(crate) fn rowid_tables(conn: &Connection) -> Result<Vec<(String, String)>> {
    pairs(
        conn,
        "SELECT t.schema, t.name FROM pragma_table_list AS t \
             WHERE t.type = 'table' AND NOT t.wr \
             AND t.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             AND NOT EXISTS (SELECT 1 FROM pragma_table_list AS v \
               WHERE v.schema = t.schema AND v.type = 'virtual' \
               AND substr(t.name, 1, length(v.name) + 1) = v.name || '_' COLLATE NOCASE)",
    )
}

/// The shadow tables of every schema, as (schema, table), both lower-case:
/// the ones SQLite itself knows as shadow tables of a virtual table, which
/// `trigger_watch('*')` neither guards nor reports. (A table that is only
/// named like one, see [`rowid_tables`], gets no guard but is reported.)
pub(crate) fn shadow_tables(conn: &Connection) -> Result<Vec<(String, String)>> {
    pairs(
        conn,
        "SELECT lower(schema), lower(name) FROM pragma_table_list WHERE type = 'shadow'",
    )
}

/// The (schema, table) rows of a query that lists tables.
fn pairs(conn: &Connection, sql: &str) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare(sql).map_err(Error::sqlite("listing tables"))?;
    let names = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|rows| rows.collect())
        .map_err(Error::sqlite("listing tables"));
    names
}

/// An object of any schema that SQLite would find before the extension's
/// `trigger_txn` table (a table or view of that name hides an eponymous
/// virtual table), described for an error message.
pub(crate) fn shadowing_txn_table(conn: &Connection) -> Result<Option<String>> {
    shadowing(conn, "trigger_txn")
}

/// An object of any schema that SQLite would find before the extension's
/// eponymous virtual table `name`, described for an error message.
pub(crate) fn shadowing(conn: &Connection, name: &str) -> Result<Option<String>> {
    conn.query_row(
        "SELECT schema || '.' || name || ' (a ' || iif(type = 'virtual', 'virtual table', type) || ')' \
         FROM pragma_table_list(?1) \
         WHERE name = ?1 COLLATE NOCASE \
         AND NOT (schema = 'main' AND type = 'virtual' AND name = ?1 \
                  AND NOT EXISTS (SELECT 1 FROM main.sqlite_master WHERE name = ?1 COLLATE NOCASE)) \
         LIMIT 1",
        [name],
        |r| r.get(0),
    )
    .optional()
    .map_err(Error::sqlite("reading the schema"))
}

/// SQLite keeps trigger names apart from the names of tables, views and
/// indexes, which share one namespace: a trigger may be named like its table.
#[derive(Clone, Copy)]
pub(crate) enum Namespace {
    Triggers,
    Relations,
}

/// A main-schema object as `sqlite_schema` records it.
pub(crate) struct SchemaEntry {
    /// `table`, `view`, `index` or `trigger`.
    pub(crate) kind: String,
    /// The table it belongs to (its own name for tables and views).
    pub(crate) table: String,
    /// The SQL SQLite stored (NULL for automatic indexes).
    pub(crate) sql: Option<String>,
}

/// The `(type, tbl_name)` of a main-schema object in one namespace, matched
/// as SQLite matches names (ASCII case-insensitively).
pub(crate) fn schema_entry(
    conn: &Connection,
    ns: Namespace,
    name: &str,
) -> Result<Option<(String, String)>> {
    Ok(schema_object(conn, ns, name)?.map(|e| (e.kind, e.table)))
}

/// The main-schema object called `name` in one namespace, with its SQL,
/// matched as SQLite matches names (ASCII case-insensitively).
pub(crate) fn schema_object(
    conn: &Connection,
    ns: Namespace,
    name: &str,
) -> Result<Option<SchemaEntry>> {
    let types = match ns {
        Namespace::Triggers => "('trigger')",
        Namespace::Relations => "('table', 'view', 'index')",
    };
    conn.query_row(
        &format!(
            "SELECT type, tbl_name, sql FROM main.sqlite_master \
             WHERE type IN {types} AND name = ?1 COLLATE NOCASE LIMIT 1"
        ),
        [name],
        |r| {
            Ok(SchemaEntry {
                kind: r.get(0)?,
                table: r.get(1)?,
                sql: r.get(2)?,
            })
        },
    )
    .optional()
    .map_err(Error::sqlite("reading the schema"))
}

/// The type affinity of `column` of the main-database table `table`, or
/// `None` when there is no such table or column. The rowid (by any of its
/// names, when no column takes it) is an integer.
pub(crate) fn column_affinity(
    conn: &Connection,
    table: &str,
    column: &str,
) -> Result<Option<Affinity>> {
    let declared: Option<String> = conn
        .query_row(
            "SELECT type FROM pragma_table_xinfo(?1, 'main') WHERE name = ?2 COLLATE NOCASE",
            [table, column],
            |r| r.get(0),
        )
        .optional()
        .map_err(Error::sqlite("reading table columns"))?;
    Ok(match declared {
        Some(t) => Some(Affinity::of_declared(&t)),
        None if ["rowid", "oid", "_rowid_"]
            .iter()
            .any(|r| r.eq_ignore_ascii_case(column))
            && main_table(conn, table)?.is_some_and(|t| t.kind == "table" && !t.without_rowid) =>
        {
            Some(Affinity::Integer)
        }
        None => None,
    })
}

/// A column's type affinity, from its declared type by SQLite's rules
/// (<https://sqlite.org/datatype3.html#determination_of_column_affinity>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Affinity {
    Integer,
    Text,
    /// No affinity (`BLOB` or no declared type): values are compared as given.
    Blob,
    Real,
    Numeric,
}

impl Affinity {
    /// The affinity of a column declared with type `declared`.
    pub fn of_declared(declared: &str) -> Affinity {
        let t = declared.to_ascii_uppercase();
        if t.contains("INT") {
            Affinity::Integer
        } else if ["CHAR", "CLOB", "TEXT"].iter().any(|w| t.contains(w)) {
            Affinity::Text
        } else if t.contains("BLOB") || t.trim().is_empty() {
            Affinity::Blob
        } else if ["REAL", "FLOA", "DOUB"].iter().any(|w| t.contains(w)) {
            Affinity::Real
        } else {
            Affinity::Numeric
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Affinity::Integer => "INTEGER",
            Affinity::Text => "TEXT",
            Affinity::Blob => "BLOB",
            Affinity::Real => "REAL",
            Affinity::Numeric => "NUMERIC",
        }
    }
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
