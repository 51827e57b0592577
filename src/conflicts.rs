//! What makes two rows of a table conflict: its PRIMARY KEY and UNIQUE
//! constraints, each with the collations its index compares by and the WHERE
//! of a partial index, read from the schema; and the SQL that finds the rows a
//! new row conflicts with, which an `INSERT OR REPLACE` deletes. Capture notes
//! those rows' delete events with it; packs note them to keep a count or an
//! index right.
use rusqlite::{Connection, OptionalExtension};

use crate::sql::{quote_ident, shorten};
use crate::{Error, Result};

/// A constraint that makes rows conflict: its columns with the collation
/// the index compares them by, and the WHERE of a partial index with the
/// columns it names (a change of one of them can move a row into the index
/// and so into a conflict).
pub(crate) struct Unique {
    pub(crate) columns: Vec<(String, Option<String>)>,
    pub(crate) partial: Option<String>,
    pub(crate) partial_columns: Vec<String>,
}

impl Unique {
    /// Every column whose change can make a row conflict through it.
    pub(crate) fn depends_on(&self) -> impl Iterator<Item = &String> {
        self.columns
            .iter()
            .map(|(c, _)| c)
            .chain(self.partial_columns.iter())
    }
}

/// `a.c = b.c COLLATE x AND ...` over `columns`.
pub(crate) fn same_values(
    columns: &[(String, Option<String>)],
    a: &str,
    b: &str,
) -> Result<String> {
    let mut terms = Vec::new();
    for (column, coll) in columns {
        let c = quote_ident(column)?;
        terms.push(match coll {
            Some(coll) => format!("{a}.{c} = {b}.{c} COLLATE {}", quote_ident(coll)?),
            None => format!("{a}.{c} = {b}.{c}"),
        });
    }
    Ok(terms.join(" AND "))
}
/// What [`unique_constraints`] finds.
pub(crate) struct Constraints {
    pub(crate) uniques: Vec<Unique>,
    /// Why REPLACE deletes through them cannot be captured, if so.
    pub(crate) problem: Option<String>,
    /// The collations of the PRIMARY KEY's index in key order.
    pub(crate) pk_colls: Vec<Option<String>>,
}

/// The UNIQUE and PRIMARY KEY indexes of `table` (not the rowid).
pub(crate) fn unique_constraints(
    conn: &Connection,
    table: &str,
    generated: &[String],
) -> Result<Constraints> {
    let shown = shorten(table);
    let indexes: Vec<(String, String, bool)> = {
        let mut stmt = conn
            .prepare(
                "SELECT name, origin, partial FROM pragma_index_list(?1, 'main') \
                 WHERE \"unique\" ORDER BY name",
            )
            .map_err(Error::sqlite("reading table indexes"))?;
        let rows = stmt
            .query_map([table], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(Error::sqlite("reading table indexes"));
        rows?
    };
    let names: Vec<String> = crate::schema::columns(conn, table)?
        .into_iter()
        .map(|c| c.name)
        .collect();
    let mut uniques = Vec::new();
    let mut problem = None;
    let mut pk_colls = Vec::new();
    for (index, origin, partial) in indexes {
        let columns: Vec<(i64, Option<String>, Option<String>)> = {
            let mut stmt = conn
                .prepare(
                    "SELECT cid, name, coll FROM pragma_index_xinfo(?1, 'main') \
                     WHERE key ORDER BY seqno",
                )
                .map_err(Error::sqlite("reading table indexes"))?;
            let rows = stmt
                .query_map([&index], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(Error::sqlite("reading table indexes"));
            rows?
        };
        let named = match origin.as_str() {
            "pk" => "the PRIMARY KEY".to_string(),
            "u" => format!("the UNIQUE constraint behind index {}", shorten(&index)),
            _ => format!("unique index {}", shorten(&index)),
        };
        let mut cols = Vec::new();
        for (cid, name, coll) in columns {
            let coll = coll.filter(|c| !c.eq_ignore_ascii_case("BINARY"));
            match name {
                Some(name) if cid >= 0 => {
                    if generated.iter().any(|g| g == &name) && problem.is_none() {
                        problem = Some(format!(
                            "{named} of {shown} covers the generated column {}, whose new value \
                             a BEFORE UPDATE trigger cannot read, so the rows a REPLACE removes \
                             through it cannot be told",
                            shorten(&name)
                        ));
                    }
                    cols.push((name, coll));
                }
                _ => {
                    if problem.is_none() {
                        problem = Some(format!(
                            "{named} of {shown} is on an expression, so the rows a REPLACE \
                             removes through it cannot be told"
                        ));
                    }
                }
            }
        }
        if origin == "pk" {
            pk_colls = cols.iter().map(|(_, c)| c.clone()).collect();
        }
        let partial = if partial {
            let sql: Option<String> = conn
                .query_row(
                    "SELECT sql FROM main.sqlite_master WHERE type = 'index' AND name = ?1",
                    [&index],
                    |r| r.get(0),
                )
                .optional()
                .map_err(Error::sqlite("reading table indexes"))?
                .flatten();
            match sql.as_deref().and_then(partial_where) {
                Some(w) => Some(double_quoted_strings(&w, &names)),
                None => {
                    if problem.is_none() {
                        problem = Some(format!(
                            "the WHERE clause of {named} of {shown} could not be read"
                        ));
                    }
                    None
                }
            }
        } else {
            None
        };
        // The columns the WHERE names: a change of one of them moves a row
        // into the index, where it can conflict.
        let mut partial_columns: Vec<String> = Vec::new();
        for name in partial.iter().flat_map(|w| crate::sql::identifiers(w)) {
            if let Some(column) = names.iter().find(|c| c.eq_ignore_ascii_case(&name)) {
                if !partial_columns.contains(column) {
                    partial_columns.push(column.clone());
                }
            }
        }
        uniques.push(Unique {
            columns: cols,
            partial,
            partial_columns,
        });
    }
    Ok(Constraints {
        uniques,
        problem,
        pk_colls,
    })
}

/// `clause` with each double-quoted name that is none of `columns` written
/// as the string SQLite reads it as in the index (`status = "active"`): a
/// connection with double-quoted strings off (SQLITE_DQS=0, or
/// `SQLITE_DBCONFIG_DQS_DML` off) would refuse it in the triggers, and
/// every write to the table with it.
fn double_quoted_strings(clause: &str, columns: &[String]) -> String {
    use crate::sql::Kind;
    let mut out = String::with_capacity(clause.len());
    let mut at = 0;
    for t in crate::sql::tokens(clause) {
        let token = &clause[t.start..t.end];
        if t.kind != Kind::Name || !t.closed || !token.starts_with('"') {
            continue;
        }
        let name = crate::sql::unquote(token);
        if columns.iter().any(|c| c.eq_ignore_ascii_case(&name)) {
            continue;
        }
        out.push_str(&clause[at..t.start]);
        out.push('\'');
        out.push_str(&name.replace('\'', "''"));
        out.push('\'');
        at = t.end;
    }
    out.push_str(&clause[at..]);
    out
}

/// The WHERE clause of a `CREATE UNIQUE INDEX ... ON t (...) WHERE ...`
/// statement as SQLite stored it: the text after the column list, found by
/// skipping quoted names, strings and comments ([`crate::sql::tokens`]).
fn partial_where(sql: &str) -> Option<String> {
    use crate::sql::Kind;
    let mut depth = 0usize;
    let mut tokens = crate::sql::tokens(sql);
    while let Some(t) = tokens.next() {
        if !t.closed {
            return None;
        }
        match (t.kind, &sql[t.start..t.end]) {
            (Kind::Other, "(") => depth += 1,
            (Kind::Other, ")") => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    // Comments may stand between the column list and WHERE.
                    let next = tokens
                        .find(|t| !t.closed || !matches!(t.kind, Kind::Space | Kind::Comment))?;
                    let rest = &sql.as_bytes()[next.start..];
                    let keyword = next.closed
                        && rest.len() > 5
                        && rest[..5].eq_ignore_ascii_case(b"WHERE")
                        && !(rest[5].is_ascii_alphanumeric() || rest[5] == b'_');
                    if !keyword {
                        return None;
                    }
                    // Up to its last token: a comment SQLite kept after it
                    // would swallow what the triggers write after it.
                    let end = tokens
                        .filter(|t| !matches!(t.kind, Kind::Space | Kind::Comment))
                        .last()
                        .map_or(next.start + 5, |t| t.end);
                    let clause =
                        crate::sql::trim_sql(&sql[next.start + 5..end.max(next.start + 5)]);
                    return (!clause.is_empty()).then(|| clause.to_string());
                }
            }
            _ => {}
        }
    }
    None
}

/// What a REPLACE deletes in main's table `table`, read from its schema
/// once: see [`Replaced`].
pub(crate) fn replaced_rows(conn: &Connection, table: &str) -> Result<Replaced> {
    let alias = "conflicting_row";
    let found = crate::schema::ordinary_table(conn, table)?;
    let columns = crate::schema::columns(conn, table)?;
    let generated: Vec<String> = columns
        .iter()
        .filter(|c| matches!(c.hidden, 2 | 3))
        .map(|c| c.name.clone())
        .collect();
    let constraints = unique_constraints(conn, table, &generated)?;
    let mut probes = Vec::new();
    if found.has_rowid() {
        probes.push(format!("{alias}.rowid = new.rowid"));
    }
    for u in constraints.uniques.iter().filter(|u| !u.columns.is_empty()) {
        // An index on expressions only has no column to compare; one on
        // columns and expressions is compared on its columns, which finds
        // more rows than it deletes (whoever notes them checks).
        let mut probe = same_values(&u.columns, alias, "new")?;
        if let Some(w) = &u.partial {
            probe = format!("{probe} AND ({w})");
        }
        probes.push(format!("({probe})"));
    }
    let mut names: Vec<String> = Vec::new();
    let keyed = columns.iter().filter(|c| c.pk > 0).map(|c| &c.name);
    for name in constraints
        .uniques
        .iter()
        .flat_map(Unique::depends_on)
        .chain(keyed)
    {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name.clone());
        }
    }
    if found.has_rowid() {
        for rowid in ["rowid", "_rowid_", "oid"] {
            if !columns.iter().any(|c| c.name.eq_ignore_ascii_case(rowid)) {
                names.push(rowid.to_string());
            }
        }
    }
    Ok(Replaced {
        condition: probes.join(" OR "),
        columns: names,
        unfollowed: constraints.problem,
    })
}

/// What [`replaced_rows`] finds.
pub(crate) struct Replaced {
    /// The rows a new row (`new`) conflicts with, as an SQL condition over
    /// `conflicting_row` (the table's row in a `FROM table AS
    /// conflicting_row`): the same rowid, for a rowid table, or the same
    /// values under one PRIMARY KEY or UNIQUE constraint (inside its
    /// partial index). Those are the rows an `INSERT OR REPLACE` of `new`
    /// deletes. A partial index's WHERE is checked only for the existing
    /// row, so a row may match that stays: whoever notes the rows checks
    /// that they are gone.
    pub(crate) condition: String,
    /// The columns whose change in an `UPDATE` can make the row conflict
    /// with another, which an `UPDATE OR REPLACE` then deletes: those of
    /// its PRIMARY KEY and UNIQUE constraints, those the WHERE of a partial
    /// unique index names, the INTEGER PRIMARY KEY, and for a rowid table
    /// each name of the rowid no column takes. An `UPDATE OF` list: SQLite
    /// fires such a trigger when the SET names one of them.
    pub(crate) columns: Vec<String>,
    /// Why some constraint could not be written (one on an expression,
    /// say): the rows a REPLACE deletes through it are then not found.
    pub(crate) unfollowed: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_index_where_clauses_are_found_past_quotes_and_comments() {
        assert_eq!(
            partial_where("CREATE UNIQUE INDEX i ON t (a, \"b)\") WHERE a > 0").as_deref(),
            Some("a > 0")
        );
        assert_eq!(
            partial_where("CREATE UNIQUE INDEX \"x(\" ON t ( [c)] ) /* ) */ where c = ')'")
                .as_deref(),
            Some("c = ')'")
        );
        assert_eq!(partial_where("CREATE UNIQUE INDEX i ON t (a)"), None);
        let cols = ["status".to_string(), "Odd \"c\"".to_string()];
        assert_eq!(
            double_quoted_strings(
                "status = \"active\" AND \"STATUS\" <> \"it's\" AND \"Odd \"\"c\"\"\" = 'x' AND [y] = \"\"",
                &cols
            ),
            "status = 'active' AND \"STATUS\" <> 'it''s' AND \"Odd \"\"c\"\"\" = 'x' AND [y] = ''"
        );
        assert_eq!(
            partial_where("CREATE UNIQUE INDEX i ON t (a) WHEREVER"),
            None
        );
        // Text past ASCII right after the column list is read, not cut
        // inside a character.
        assert_eq!(partial_where("CREATE UNIQUE INDEX i ON t (a) é"), None);
        assert_eq!(partial_where("CREATE UNIQUE INDEX i ON t (a) WHERÉ"), None);
    }
}
