//! What the main database says about its objects: tables from
//! `pragma_table_list` (one query instead of reading `sqlite_schema` text
//! or probing with statements that may fail for other reasons), columns
//! from `pragma_table_xinfo`, and names by namespace. A table is looked up
//! and told from a view, a virtual, shadow or internal table here alone,
//! and each of those refusals is worded here once; a feature adds only the
//! refusals of its own.
use rusqlite::{Connection, OptionalExtension};

use crate::sql::{quote_ident, shorten};
use crate::{Error, Result};

/// What a table-like object of the main database is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// An ordinary table of the user's.
    Table,
    View,
    Virtual,
    /// The storage of a virtual table, as SQLite knows it.
    Shadow,
    /// One of SQLite's own tables (`sqlite_schema`, `sqlite_sequence`,
    /// `sqlite_stat1`...), whatever `pragma_table_list` calls it.
    Internal,
}

/// A table-like object of the main database.
pub(crate) struct MainTable {
    /// The name as the schema spells it.
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) without_rowid: bool,
}

impl MainTable {
    fn new(name: String, kind: &str, without_rowid: bool) -> MainTable {
        let kind = match kind {
            _ if reserved_name(&name) => Kind::Internal,
            "table" => Kind::Table,
            "view" => Kind::View,
            "shadow" => Kind::Shadow,
            _ => Kind::Virtual,
        };
        MainTable {
            name,
            kind,
            without_rowid,
        }
    }

    /// Whether its rows have a rowid (by any of its names).
    pub(crate) fn has_rowid(&self) -> bool {
        matches!(self.kind, Kind::Table | Kind::Internal) && !self.without_rowid
    }

    /// Why it is not an ordinary table of the user's, in the one wording
    /// every feature uses; `None` for an ordinary table.
    pub(crate) fn not_a_table(&self) -> Option<String> {
        let shown = shorten(&self.name);
        match self.kind {
            Kind::Table => None,
            Kind::View => Some(format!("{shown} is a view, not a table")),
            Kind::Virtual => Some(format!(
                "{shown} is a virtual table, which SQLite cannot put triggers on"
            )),
            Kind::Shadow => Some(format!(
                "{shown} is a shadow table, the storage of a virtual table"
            )),
            Kind::Internal => Some(format!(
                "{shown} is an internal table of SQLite, which cannot have triggers"
            )),
        }
    }
}

/// Whether SQLite keeps `name` for its own objects: `sqlite_` in any case.
/// Compared by bytes, so no name can split a character at byte 7.
pub(crate) fn reserved_name(name: &str) -> bool {
    name.as_bytes()
        .get(..7)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(b"sqlite_"))
}

/// The main-database table, view or virtual table called `name`, matched
/// as SQLite matches names (ASCII case-insensitively).
pub(crate) fn main_table(conn: &Connection, name: &str) -> Result<Option<MainTable>> {
    Ok(tables_named(conn, name)?
        .into_iter()
        .find(|(schema, _)| schema == "main")
        .map(|(_, t)| t))
}

/// The main-database object called `name`, whatever it is; a missing one
/// is refused in the one wording every feature uses, which names another
/// schema that has one.
pub(crate) fn find_main_table(conn: &Connection, name: &str) -> Result<MainTable> {
    let mut found = tables_named(conn, name)?;
    match found.first() {
        Some((schema, _)) if schema == "main" => Ok(found.swap_remove(0).1),
        // SQLite's own names, listed under others (`sqlite_master` is
        // `sqlite_schema`, `sqlite_temp_master` temp's) or not at all.
        _ if reserved_name(name)
            && (!found.is_empty()
                || ["sqlite_master", "sqlite_temp_master"]
                    .iter()
                    .any(|alias| alias.eq_ignore_ascii_case(name))) =>
        {
            Ok(MainTable::new(name.to_string(), "table", false))
        }
        Some((schema, _)) => Err(Error::invalid(format!(
            "no table {} in the main database (there is one in {schema})",
            shorten(name)
        ))),
        None => Err(Error::invalid(format!(
            "no table {} in the main database",
            shorten(name)
        ))),
    }
}

/// The ordinary main-database table called `name`: what [`find_main_table`]
/// finds, refused (see [`MainTable::not_a_table`]) unless it is a table of
/// the user's.
pub(crate) fn ordinary_table(conn: &Connection, name: &str) -> Result<MainTable> {
    let found = find_main_table(conn, name)?;
    match found.not_a_table() {
        Some(why) => Err(Error::invalid(why)),
        None => Ok(found),
    }
}

/// The objects of every schema called `name`, as (schema, object), those of
/// main first.
fn tables_named(conn: &Connection, name: &str) -> Result<Vec<(String, MainTable)>> {
    let mut stmt = conn
        .prepare(
            "SELECT schema, name, type, wr FROM pragma_table_list \
             WHERE name = ?1 COLLATE NOCASE ORDER BY schema <> 'main'",
        )
        .map_err(Error::sqlite("reading the schema"))?;
    let found = stmt
        .query_map([name], |r| {
            Ok((
                r.get(0)?,
                MainTable::new(r.get(1)?, &r.get::<_, String>(2)?, r.get(3)?),
            ))
        })
        .and_then(|rows| rows.collect())
        .map_err(Error::sqlite("reading the schema"));
    found
}

/// A column of a main-database table, from `pragma_table_xinfo`.
pub(crate) struct Column {
    pub(crate) name: String,
    /// The declared type, empty when none.
    pub(crate) declared: String,
    pub(crate) not_null: bool,
    pub(crate) has_default: bool,
    /// Its position in the PRIMARY KEY, from 1; 0 when not in it.
    pub(crate) pk: i64,
    /// 0 an ordinary column, 1 a hidden column of a virtual table, 2 and 3
    /// a generated column (virtual, stored).
    pub(crate) hidden: i64,
    /// Its type affinity: by SQLite's rules from the declared type, and
    /// none for `ANY` in a STRICT table, which keeps every value as given.
    pub(crate) affinity: Affinity,
}

impl Column {
    pub(crate) fn generated(&self) -> bool {
        self.hidden >= 2
    }
}

/// Prepares (never runs) an insert, an update of every column that can be
/// set and a delete on main's table `table`: SQLite compiles the table's
/// triggers then, so a trigger SQLite would refuse is found now instead of
/// at the application's next write. The error is SQLite's, after `what`.
pub(crate) fn writes_compile(conn: &Connection, table: &str, what: &str) -> Result<()> {
    let quoted = quote_ident(table)?;
    let mut statements = vec![
        format!("INSERT INTO main.{quoted} DEFAULT VALUES"),
        format!("DELETE FROM main.{quoted}"),
    ];
    let settable = columns(conn, table)?;
    let mut set = Vec::new();
    for c in settable.iter().filter(|c| !matches!(c.hidden, 2 | 3)) {
        let c = quote_ident(&c.name)?;
        set.push(format!("{c} = {c}"));
    }
    if !set.is_empty() {
        statements.push(format!("UPDATE main.{quoted} SET {}", set.join(", ")));
    }
    for sql in statements {
        conn.prepare(&sql).map_err(Error::sqlite(what))?;
    }
    Ok(())
}

/// The columns of the main-database table `table`, in order (none when
/// there is no such table).
pub(crate) fn columns(conn: &Connection, table: &str) -> Result<Vec<Column>> {
    let strict: bool = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_list WHERE schema = 'main' AND name = ?1 \
             AND strict",
            [table],
            |r| r.get(0),
        )
        .map_err(Error::sqlite("reading table columns"))?;
    let mut stmt = conn
        .prepare(
            "SELECT name, type, \"notnull\", dflt_value IS NOT NULL, pk, hidden \
             FROM pragma_table_xinfo(?1, 'main') ORDER BY cid",
        )
        .map_err(Error::sqlite("reading table columns"))?;
    let columns = stmt
        .query_map([table], |r| {
            let declared: String = r.get(1)?;
            let affinity = match strict && declared.eq_ignore_ascii_case("ANY") {
                true => Affinity::Blob,
                false => Affinity::of_declared(&declared),
            };
            Ok(Column {
                name: r.get(0)?,
                declared,
                not_null: r.get(2)?,
                has_default: r.get(3)?,
                pk: r.get(4)?,
                hidden: r.get(5)?,
                affinity,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(Error::sqlite("reading table columns"));
    columns
}

/// The main schema's triggers in name order, as (name, table, SQL): what
/// the features find their own triggers among, by their markers.
pub(crate) fn main_triggers(conn: &Connection) -> Result<Vec<(String, String, String)>> {
    let mut stmt = conn
        .prepare(
            "SELECT name, tbl_name, sql FROM main.sqlite_master \
             WHERE type = 'trigger' AND sql IS NOT NULL ORDER BY name",
        )
        .map_err(Error::sqlite("reading the schema"))?;
    let triggers = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(|rows| rows.collect())
        .map_err(Error::sqlite("reading the schema"));
    triggers
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
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Namespace {
    Triggers,
    Relations,
}

/// A main-schema object as `sqlite_schema` records it.
#[derive(Clone)]
pub(crate) struct SchemaEntry {
    /// The name as the schema spells it.
    pub(crate) name: String,
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

/// How `column` of a main table tells its rows apart, as a pack compares
/// it (`column = new.column`, under the column's collation).
#[derive(Debug, PartialEq)]
pub(crate) enum Told {
    /// The rowid, the PRIMARY KEY when it is that column alone, or a column
    /// a UNIQUE constraint or a unique index (not partial) covers alone,
    /// under the column's collation or a looser one than BINARY.
    Apart,
    /// Only a unique index under another collation than the column's
    /// covers it: values unique under the index's collation can still be
    /// equal under the column's.
    UnderCollation { index: String, column: String },
    /// Nothing makes its values unique.
    No,
}

/// Whether `column` of main's table `table` (which has it, or a rowid
/// called so) tells its rows apart; see [`Told`].
pub(crate) fn identifies_rows(conn: &Connection, table: &str, column: &str) -> Result<Told> {
    let all = columns(conn, table)?;
    let Some(c) = all.iter().find(|c| c.name.eq_ignore_ascii_case(column)) else {
        // The rowid, by one of its names.
        return Ok(Told::Apart);
    };
    let reading = Error::sqlite("reading table indexes");
    // The collation of each unique index on the column alone, the PRIMARY
    // KEY's included (an INTEGER PRIMARY KEY, the rowid, has none).
    let mut stmt = conn
        .prepare(
            "SELECT (SELECT coll FROM pragma_index_xinfo(l.name, 'main') WHERE key) \
             FROM pragma_index_list(?1, 'main') AS l \
             WHERE l.\"unique\" AND NOT l.partial \
               AND (SELECT count(*) FROM pragma_index_info(l.name, 'main')) = 1 \
               AND (SELECT name FROM pragma_index_info(l.name, 'main')) = ?2 COLLATE NOCASE",
        )
        .map_err(reading)?;
    let colls: Vec<Option<String>> = stmt
        .query_map([table, &c.name], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(Error::sqlite("reading table indexes"))?;
    if colls.is_empty() {
        let rowid_alias = c.pk > 0 && all.iter().filter(|c| c.pk > 0).count() == 1;
        return Ok(if rowid_alias { Told::Apart } else { Told::No });
    }
    // Values equal under the column's collation are equal under the
    // index's when the two are the same, or when the column's is BINARY.
    let own = crate::ffi::column_collation(conn, table, &c.name).unwrap_or_else(|| "BINARY".into());
    let mut other = None;
    for coll in colls.into_iter().flatten() {
        if coll.eq_ignore_ascii_case(&own) || own.eq_ignore_ascii_case("BINARY") {
            return Ok(Told::Apart);
        }
        other.get_or_insert(coll);
    }
    Ok(match other {
        Some(index) => Told::UnderCollation { index, column: own },
        None => Told::Apart,
    })
}

/// Whether column `column` of main's table `table` may hold NULL: a column
/// not declared NOT NULL, unless it is the rowid (by one of its names, or
/// an INTEGER PRIMARY KEY, which has no index of its own) or in the PRIMARY
/// KEY of a WITHOUT ROWID table, which SQLite keeps NOT NULL.
pub(crate) fn may_hold_null(conn: &Connection, table: &MainTable, column: &str) -> Result<bool> {
    let all = columns(conn, &table.name)?;
    let Some(c) = all.iter().find(|c| c.name.eq_ignore_ascii_case(column)) else {
        return Ok(false);
    };
    if c.not_null || (c.pk > 0 && !table.has_rowid()) {
        return Ok(false);
    }
    if c.pk > 0 && all.iter().filter(|c| c.pk > 0).count() == 1 {
        let pk_indexes: i64 = conn
            .query_row(
                "SELECT count(*) FROM pragma_index_list(?1, 'main') WHERE origin = 'pk'",
                [&table.name],
                |r| r.get(0),
            )
            .map_err(Error::sqlite("reading table indexes"))?;
        return Ok(pk_indexes > 0);
    }
    Ok(true)
}

/// What keeps main's `name` from being the table a feature keeps its
/// records in (`kept` says what it keeps there), when something of that
/// name is there: another kind of object ("trigger_pack_installs, where
/// packs record their installs, is a view, not a table"), or a table that
/// lacks columns of `wanted` ("table ..., lacks column(s) version").
pub(crate) fn shape_problem(
    conn: &Connection,
    name: &str,
    kept: &str,
    wanted: &[&'static str],
) -> Result<Option<String>> {
    let Some((kind, _)) = schema_entry(conn, Namespace::Relations, name)? else {
        return Ok(None);
    };
    if kind != "table" {
        return Ok(Some(format!(
            "{name}, where {kept}, is a {kind}, not a table"
        )));
    }
    let have = columns(conn, name)?;
    let lacking: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|c| !have.iter().any(|h| h.name.eq_ignore_ascii_case(c)))
        .collect();
    Ok((!lacking.is_empty()).then(|| {
        format!(
            "table {name}, where {kept}, lacks column(s) {}",
            lacking.join(", ")
        )
    }))
}

/// Whether the main database has a table called `name`.
pub(crate) fn table_exists(conn: &Connection, name: &str) -> Result<bool> {
    Ok(schema_entry(conn, Namespace::Relations, name)?.is_some_and(|(kind, _)| kind == "table"))
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
            "SELECT name, type, tbl_name, sql FROM main.sqlite_master \
             WHERE type IN {types} AND name = ?1 COLLATE NOCASE LIMIT 1"
        ),
        [name],
        |r| {
            Ok(SchemaEntry {
                name: r.get(0)?,
                kind: r.get(1)?,
                table: r.get(2)?,
                sql: r.get(3)?,
            })
        },
    )
    .optional()
    .map_err(Error::sqlite("reading the schema"))
}

/// The main-schema object called `name` in either namespace, a trigger
/// first: what the name is taken by.
pub(crate) fn named_object(conn: &Connection, name: &str) -> Result<Option<SchemaEntry>> {
    match schema_object(conn, Namespace::Triggers, name)? {
        Some(trigger) => Ok(Some(trigger)),
        None => schema_object(conn, Namespace::Relations, name),
    }
}

/// The type affinity of `column` of the main-database table `table`, or
/// `None` when there is no such table or column. The rowid (by any of its
/// names, when no column takes it) is an integer.
pub(crate) fn column_affinity(
    conn: &Connection,
    table: &str,
    column: &str,
) -> Result<Option<Affinity>> {
    let found = columns(conn, table)?
        .into_iter()
        .find(|c| c.name.eq_ignore_ascii_case(column))
        .map(|c| c.affinity);
    Ok(match found {
        Some(affinity) => Some(affinity),
        None if ["rowid", "oid", "_rowid_"]
            .iter()
            .any(|r| r.eq_ignore_ascii_case(column))
            && main_table(conn, table)?.is_some_and(|t| t.has_rowid()) =>
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
