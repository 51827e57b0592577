//! Trigger packs: named, versioned, parameterised trigger SQL.
//!
//! Its SQL functions (`trigger_install`, `trigger_uninstall`,
//! `trigger_pack_sql` and the table `trigger_packs`) are declared in this
//! module's function table, with their flags and why, and listed in
//! `docs/reference.md`; `docs/packs.md` describes the packs.
//!
//! Each pack is one template under `sql/packs/`, embedded at build time. The
//! SQL a pack installs is plain SQL: it keeps working on connections that
//! never loaded the extension, and [`pack_sql`] renders exactly what
//! [`install`] runs, including the row it records in [`INSTALLS_TABLE`].
pub mod template;

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};

use crate::ffi::PerProcess;
use crate::functions::{SqlFunction, ADMIN, INNOCUOUS};
use crate::schema::{
    column_affinity, columns, ordinary_table, schema_entry, schema_object, Namespace, SchemaEntry,
};
use crate::session::Session;
use crate::sql::{display_name, in_savepoint, quote_ident, quote_text, shorten, shorten_to};
use crate::{Error, Result};
use template::{ObjectDef, ObjectKind, Params, Template};

include!(concat!(env!("OUT_DIR"), "/pack_templates.rs"));

/// The table that records which packs are installed, with their version and
/// parameters. It is created by the first install and dropped by the last
/// uninstall, so a database without packs carries nothing of ours.
pub const INSTALLS_TABLE: &str = "trigger_pack_installs";

const FUNCTIONS: &[SqlFunction] = &[
    SqlFunction {
        name: "trigger_pack_sql",
        signature: "pack [, params_json]",
        args: 1..=2,
        // Not deterministic: a value is typed like its column, which the
        // schema decides.
        // innocuous: renders text; reads the declared types of the columns the pack's
        // values meet, changes nothing
        flags: INNOCUOUS,
        body: |a| {
            let (pack, params) = (a.text(0, "pack")?, a.opt_text(1, "params_json")?);
            a.with_connection(|conn| pack_sql(conn, &pack, params.as_deref()))
        },
    },
    SqlFunction {
        name: "trigger_install",
        signature: "pack [, params_json]",
        args: 1..=2,
        // direct-only: changes the schema
        flags: ADMIN,
        body: |a| {
            let (pack, params) = (a.text(0, "pack")?, a.opt_text(1, "params_json")?);
            a.with_connection(|conn| install(conn, &pack, params.as_deref()))
        },
    },
    SqlFunction {
        name: "trigger_uninstall",
        signature: "pack",
        args: 1..=1,
        // direct-only: changes the schema
        flags: ADMIN,
        body: |a| {
            let pack = a.text(0, "pack")?;
            a.with_connection(|conn| uninstall(conn, &pack))
        },
    },
];

/// Registers the pack functions and `trigger_packs` on `conn`.
pub(crate) fn register(conn: &Connection, session: &Arc<Session>) -> Result<()> {
    crate::functions::register(conn, session, FUNCTIONS)?;
    crate::ffi::register_table::<PacksTable>(conn)
}

/// Every pack, parsed once per process from the embedded templates (not in
/// a `OnceLock`, which a child that `fork()` made while another thread was
/// parsing would wait on forever: see [`crate::ffi::PerProcess`]).
pub fn catalog() -> &'static [Template] {
    static CATALOG: PerProcess<Vec<Template>> = PerProcess::new();
    CATALOG.get(|| {
        TEMPLATES
            .iter()
            .map(|(file, text)| {
                // The crate's tests parse every template, so this cannot fail
                // in a released build.
                Template::parse(&format!("sql/packs/{file}.sql"), text)
                    .unwrap_or_else(|e| panic!("invalid pack template: {e}"))
            })
            .collect()
    })
}

/// Looks a pack up by name.
pub fn find(name: &str) -> Result<&'static Template> {
    catalog().iter().find(|t| t.name == name).ok_or_else(|| {
        Error::invalid(format!(
            "unknown pack {} (packs: {})",
            shorten(name),
            catalog()
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// The SQL that installing `pack` with these parameters into the main
/// database of `conn` runs: the pack's triggers and indexes, then the
/// install record. Value parameters get the types of their columns where
/// those columns exist ([`Template::typed`]). Every statement is idempotent
/// (`IF NOT EXISTS`, `WHERE NOT EXISTS`), so the script can be run again
/// without harm.
pub fn pack_sql(conn: &Connection, pack: &str, params_json: Option<&str>) -> Result<String> {
    let t = find_argument(pack)?;
    let params = resolve_argument(t, params_json)?;
    render(t, &typed(conn, t, &params).map_err(params_error)?)
}

/// [`find`], its error about the SQL functions' first argument.
fn find_argument(pack: &str) -> Result<&'static Template> {
    find(pack).map_err(|e| e.within("argument 1 (pack): "))
}

/// The SQL functions' second argument, as their errors name it.
const PARAMS_ARGUMENT: &str = "argument 2 (params_json)";

/// The parameters given, their errors about the SQL functions' second
/// argument.
fn resolve_argument(t: &Template, params_json: Option<&str>) -> Result<Params> {
    t.resolve_object(template::user_params(params_json, PARAMS_ARGUMENT)?)
        .map_err(params_error)
}

/// An error about a parameter's value, put down to the second argument.
fn params_error(e: Error) -> Error {
    e.within(&format!("{PARAMS_ARGUMENT}: "))
}

/// The parameters with each value typed like its column in `conn`'s main
/// database.
fn typed(conn: &Connection, t: &Template, params: &Params) -> Result<Params> {
    t.typed(params, |table, column| column_affinity(conn, table, column))
}

fn render(t: &Template, params: &Params) -> Result<String> {
    let body = t.render_body(params)?;
    // The bare `--` line that ends a template's header is not part of the SQL.
    let body = body.strip_prefix("--\n").unwrap_or(&body);
    let mut sql = format!("-- {} {} (sqlite-triggers pack)\n{body}", t.name, t.version);
    if !sql.ends_with('\n') {
        sql.push('\n');
    }
    sql.push_str(&format!(
        "CREATE TABLE IF NOT EXISTS main.{INSTALLS_TABLE} (\n  \
           pack TEXT PRIMARY KEY,\n  \
           version TEXT NOT NULL,\n  \
           params TEXT NOT NULL,\n  \
           installed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))\n\
         );\n\
         INSERT INTO main.{INSTALLS_TABLE} (pack, version, params)\n  \
           SELECT {name}, {version}, {params}\n  \
           WHERE NOT EXISTS (SELECT 1 FROM main.{INSTALLS_TABLE} WHERE pack = {name});\n",
        name = quote_text(&t.name)?,
        version = quote_text(&t.version)?,
        params = quote_text(&params.to_json())?,
    ));
    Ok(sql)
}

/// An installed pack, as recorded in [`INSTALLS_TABLE`].
#[derive(Debug, Clone, PartialEq)]
pub struct Installed {
    pub version: String,
    pub params: String,
}

/// The install record of `pack` in the main database, if any.
pub fn installed(conn: &Connection, pack: &str) -> Result<Option<Installed>> {
    if !table_exists(conn, INSTALLS_TABLE)? {
        return Ok(None);
    }
    conn.query_row(
        &format!("SELECT version, params FROM main.{INSTALLS_TABLE} WHERE pack = ?1"),
        [pack],
        |r| {
            Ok(Installed {
                version: r.get(0)?,
                params: r.get(1)?,
            })
        },
    )
    .optional()
    .map_err(Error::sqlite(format!("reading {INSTALLS_TABLE}")))
}

/// Installs `pack` into the main database in one savepoint: either every
/// object and the install record are created, or nothing is. Installing the
/// same pack with the same parameters again changes nothing but recreating
/// objects of the pack dropped by hand; with other parameters it is an
/// error. Returns a one-line summary.
///
/// Everything, the checks included, runs under the write lock (see
/// [`in_savepoint`]): of two connections installing the same pack at once,
/// the second sees the first's install and changes nothing.
pub fn install(conn: &Connection, pack: &str, params_json: Option<&str>) -> Result<String> {
    let t = find_argument(pack)?;
    let resolved = resolve_argument(t, params_json)?;
    in_savepoint(conn, "trigger_install", || {
        install_locked(conn, t, &resolved)
    })
}

fn install_locked(conn: &Connection, t: &Template, resolved: &Params) -> Result<String> {
    let params = typed(conn, t, resolved).map_err(params_error)?;
    if let Some(found) = installed(conn, &t.name)? {
        if found.version != t.version || !same_params(&found.params, &params) {
            return Err(Error::invalid(format!(
                "pack {} {} is already installed with parameters {}; \
                 run trigger_uninstall('{}') first to install it with other parameters",
                t.name,
                found.version,
                shorten_to(&found.params, 400),
                t.name
            )));
        }
        // Same pack, same parameters: recreate what was dropped by hand,
        // never taking a same-named object of the user's for the pack's.
        if let Err(e) = check_requirements(conn, t, &params) {
            return Err(stale_install(t, &found.version, &e.to_string()));
        }
        let mut missing = Vec::new();
        for o in &t.objects {
            match presence(conn, t, o, &params)? {
                Presence::Ours => {}
                Presence::Absent => missing.push(o),
                Presence::Renamed(moved) => {
                    return Err(stale_install(
                        t,
                        &found.version,
                        &format!(
                            "its {} {} was moved to {} by a rename",
                            o.kind.name(),
                            shorten(params.text(&o.name_param)),
                            shorten(&moved.table)
                        ),
                    ))
                }
                Presence::Foreign(found) => {
                    return Err(not_the_packs(
                        t,
                        o,
                        &params,
                        &found,
                        "created",
                        "trigger_install",
                    ))
                }
            }
        }
        if missing.is_empty() {
            return Ok(format!(
                "{} {} is already installed with these parameters; nothing changed",
                t.name, t.version
            ));
        }
        run_install_sql(conn, t, &params)?;
        let what: Vec<String> = missing.iter().map(|o| object_label(o, &params)).collect();
        return Ok(format!(
            "repaired {} {}: recreated {}",
            t.name,
            t.version,
            what.join(", ")
        ));
    }
    check_requirements(conn, t, &params)?;
    check_names_free(conn, t, &params)?;
    run_install_sql(conn, t, &params)?;
    Ok(format!(
        "installed {} {}: {}",
        t.name,
        t.version,
        describe_objects(t, &params)
    ))
}

fn run_install_sql(conn: &Connection, t: &Template, params: &Params) -> Result<()> {
    let sql = render(t, params)?;
    conn.execute_batch(&sql)
        .map_err(Error::sqlite(format!("installing pack {}", t.name)))?;
    // The pack's triggers fire after a capture's on the same table, so that
    // the changes they make are recorded after the change that made them.
    for o in t.objects.iter().filter(|o| o.kind == ObjectKind::Trigger) {
        crate::outbox::keep_capture_first(conn, params.text(&o.table_param))?;
    }
    Ok(())
}

/// Where one of a pack's objects stands in the main schema.
enum Presence {
    Absent,
    /// An object of its name and kind whose SQL is exactly what the pack
    /// creates with these parameters.
    Ours,
    /// The pack's object, rewritten by `ALTER TABLE ... RENAME` (of a table
    /// or a column the pack's parameters name): its SQL is the pack's but
    /// for those names, each of which is gone and replaced by the new one.
    Renamed(SchemaEntry),
    /// An object of its name that the pack did not create: another kind,
    /// or SQL the pack would not write (replaced by the user).
    Foreign(SchemaEntry),
}

/// Finds one of a pack's objects by what the pack created, not by its name:
/// `sqlite_schema.sql` must be the very text the pack's statement stores.
fn presence(conn: &Connection, t: &Template, o: &ObjectDef, params: &Params) -> Result<Presence> {
    let name = params.text(&o.name_param);
    let Some(found) = schema_object(conn, namespace_of(o.kind), name)? else {
        return Ok(Presence::Absent);
    };
    if found.kind != o.kind.name() {
        return Ok(Presence::Foreign(found));
    }
    let expected = t.stored_sql(o, params)?;
    let Some(sql) = found.sql.as_deref() else {
        return Ok(Presence::Foreign(found));
    };
    Ok(if sql == expected {
        Presence::Ours
    } else if renamed_from(conn, t, params, &expected, sql)? {
        Presence::Renamed(found)
    } else {
        Presence::Foreign(found)
    })
}

/// Whether `sql` is `expected` with only quoted names changed, each from
/// the value of a table or column parameter that is gone from the main
/// database to a name that is there: what `ALTER TABLE ... RENAME TO` and
/// `RENAME COLUMN` do to the pack's objects (they rewrite names in place,
/// quoted as the pack quoted them).
fn renamed_from(
    conn: &Connection,
    t: &Template,
    params: &Params,
    expected: &str,
    sql: &str,
) -> Result<bool> {
    let (want, got) = (sql_pieces(expected), sql_pieces(sql));
    if want.len() != got.len() {
        return Ok(false);
    }
    let mut changed: Vec<(String, String)> = Vec::new();
    for (w, g) in want.into_iter().zip(got) {
        match (w, g) {
            (Piece::Text(a), Piece::Text(b)) if a == b => {}
            (Piece::Name(a), Piece::Name(b)) if a == b => {}
            (Piece::Name(a), Piece::Name(b)) => match changed.iter().find(|(old, _)| *old == a) {
                Some((_, new)) if *new != b => return Ok(false),
                Some(_) => {}
                None => changed.push((a, b)),
            },
            _ => return Ok(false),
        }
    }
    if changed.is_empty() {
        return Ok(false);
    }
    let is_table =
        |name: &str| -> Result<bool> {
            Ok(schema_entry(conn, Namespace::Relations, name)?
                .is_some_and(|(kind, _)| kind == "table"))
        };
    // Where each table of the pack is now.
    let table_now = |table: &str| -> String {
        changed
            .iter()
            .find(|(old, _)| old == table)
            .map_or_else(|| table.to_string(), |(_, new)| new.clone())
    };
    for (old, new) in &changed {
        let mut explained = false;
        for r in &t.requires {
            let table = params.text(&r.table_param);
            if table == old && !is_table(old)? && is_table(new)? {
                explained = true;
                break;
            }
            if r.column_params.iter().any(|c| params.text(c) == old) {
                let columns = column_names(conn, &table_now(table))?;
                let has = |c: &str| columns.iter().any(|x| x.eq_ignore_ascii_case(c));
                if !has(old) && has(new) {
                    explained = true;
                    break;
                }
            }
        }
        if !explained {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A piece of SQL text: a double-quoted name (unquoted), or anything else.
enum Piece {
    Name(String),
    Text(String),
}

/// Splits SQL into double-quoted names and the text between them; string
/// literals stay in the text.
fn sql_pieces(sql: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                let mut quoted = String::new();
                loop {
                    match chars.next() {
                        Some(q) if q == c && chars.peek() == Some(&c) => {
                            chars.next();
                            quoted.push(c);
                        }
                        Some(q) if q == c => break,
                        Some(q) => quoted.push(q),
                        None => break,
                    }
                }
                if c == '"' {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                    pieces.push(Piece::Name(quoted));
                } else {
                    text.push('\'');
                    text.push_str(&quoted.replace('\'', "''"));
                    text.push('\'');
                }
            }
            c => text.push(c),
        }
    }
    pieces.push(Piece::Text(text));
    pieces
}

fn column_names(conn: &Connection, table: &str) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_xinfo(?1, 'main')")
        .map_err(Error::sqlite("reading table columns"))?;
    let rows = stmt
        .query_map([table], |r| r.get(0))
        .map_err(Error::sqlite("reading table columns"))?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(Error::sqlite("reading table columns"))
}

/// The error of an install over a pack whose tables or columns were
/// renamed (or dropped) since it was installed.
fn stale_install(t: &Template, version: &str, why: &str) -> Error {
    Error::invalid(format!(
        "pack {} {version} is installed, but {why}: a table or column its parameters name \
         was renamed or dropped since; call trigger_uninstall('{}') (it also drops the \
         pack's objects a rename moved), then trigger_install('{}', params_json) naming \
         the tables and columns as they are now",
        t.name, t.name, t.name
    ))
}

/// The error for an object that bears the name of one of the pack's objects
/// but is not the one the pack created; `done` is what did not happen.
fn not_the_packs(
    t: &Template,
    o: &ObjectDef,
    params: &Params,
    found: &SchemaEntry,
    done: &str,
    retry: &str,
) -> Error {
    let name = params.text(&o.name_param);
    Error::invalid(format!(
        "{} {} on {} is not the {} pack {} created (parameter {}; its SQL is not the pack's), \
         so nothing was {done}; drop or rename it yourself, then call {retry}('{}') again",
        found.kind,
        shorten(name),
        shorten(&found.table),
        o.kind.name(),
        t.name,
        o.name_param,
        t.name
    ))
}

/// Removes exactly the objects `pack` installed, and its install record, in
/// one savepoint. Objects the user already dropped are skipped. When an
/// object of a pack object's name is not the pack's (see [`presence`]) the
/// uninstall drops nothing and fails naming it: skipping it instead would
/// leave an object that may still fire (a pack trigger rewritten by RENAME
/// COLUMN, say) while the pack reads as uninstalled.
pub fn uninstall(conn: &Connection, pack: &str) -> Result<String> {
    let t = find_argument(pack)?;
    in_savepoint(conn, "trigger_uninstall", || uninstall_locked(conn, t))
}

fn uninstall_locked(conn: &Connection, t: &Template) -> Result<String> {
    let found = installed(conn, &t.name)?.ok_or_else(|| {
        Error::invalid(format!("pack {} is not installed in this database", t.name))
    })?;
    // The objects follow from the recorded parameters, not from a list kept
    // in the table, and are dropped only when their SQL is what the pack
    // creates with them, so an edited record cannot name other objects.
    // The recorded values were typed at install and are used as they are.
    let params = t.resolve(Some(&found.params)).map_err(|e| {
        Error::invalid(format!(
            "the install record of pack {} is damaged: {e}",
            t.name
        ))
    })?;
    let mut ours = Vec::new();
    for o in &t.objects {
        match presence(conn, t, o, &params)? {
            Presence::Ours => ours.push((o, None)),
            Presence::Renamed(moved) => ours.push((o, Some(moved.table))),
            Presence::Absent => {}
            Presence::Foreign(found) => {
                return Err(not_the_packs(
                    t,
                    o,
                    &params,
                    &found,
                    "dropped",
                    "trigger_uninstall",
                ))
            }
        }
    }
    let mut dropped = Vec::new();
    {
        for (o, moved) in ours {
            let (kind, name) = (o.kind.name(), params.text(&o.name_param));
            conn.execute_batch(&format!(
                "DROP {} main.{}",
                kind.to_uppercase(),
                quote_ident(name)?
            ))
            .map_err(Error::sqlite(format!("dropping {kind} {}", shorten(name))))?;
            dropped.push(match moved {
                Some(table) if !table.eq_ignore_ascii_case(params.text(&o.table_param)) => {
                    format!(
                        "{} (moved to {} by a rename)",
                        object_label(o, &params),
                        display_name(&table)
                    )
                }
                Some(_) => format!("{} (changed by a column rename)", object_label(o, &params)),
                None => object_label(o, &params),
            });
        }
        conn.execute(
            &format!("DELETE FROM main.{INSTALLS_TABLE} WHERE pack = ?1"),
            [&t.name],
        )
        .map_err(Error::sqlite(format!("updating {INSTALLS_TABLE}")))?;
        let left: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM main.{INSTALLS_TABLE}"),
                [],
                |r| r.get(0),
            )
            .map_err(Error::sqlite(format!("reading {INSTALLS_TABLE}")))?;
        if left == 0 {
            conn.execute_batch(&format!("DROP TABLE main.{INSTALLS_TABLE}"))
                .map_err(Error::sqlite(format!("dropping {INSTALLS_TABLE}")))?;
        }
    }
    let what = if dropped.is_empty() {
        "nothing left to drop".to_string()
    } else {
        dropped.join(", ")
    };
    Ok(format!(
        "uninstalled {} {}: {}",
        t.name, found.version, what
    ))
}

/// One row of `trigger_packs`.
#[derive(Debug, Clone, PartialEq)]
pub struct PackRow {
    pub name: String,
    pub version: String,
    pub description: String,
    pub params: String,
    pub installed: bool,
    pub installed_version: Option<String>,
    pub installed_params: Option<String>,
}

/// Every pack, with its install state in the main database of `conn`.
pub fn list(conn: &Connection) -> Result<Vec<PackRow>> {
    catalog()
        .iter()
        .map(|t| {
            let found = installed(conn, &t.name)?;
            Ok(PackRow {
                name: t.name.clone(),
                version: t.version.clone(),
                description: t.description.clone(),
                params: t.defaults_json(),
                installed: found.is_some(),
                installed_version: found.as_ref().map(|f| f.version.clone()),
                installed_params: found.map(|f| f.params),
            })
        })
        .collect()
}

/// The `trigger_packs` table-valued function.
pub(crate) struct PacksTable;

impl crate::ffi::RowSource for PacksTable {
    const NAME: &'static std::ffi::CStr = c"trigger_packs";
    const SCHEMA: &'static std::ffi::CStr =
        c"CREATE TABLE x(name TEXT, version TEXT, description TEXT, \
        params TEXT, installed INTEGER, installed_version TEXT, installed_params TEXT)";

    fn rows(conn: &Connection, _after: Option<i64>) -> Result<Vec<Vec<rusqlite::types::Value>>> {
        use rusqlite::types::Value;
        Ok(list(conn)?
            .into_iter()
            .map(|p| {
                vec![
                    Value::Text(p.name),
                    Value::Text(p.version),
                    Value::Text(p.description),
                    Value::Text(p.params),
                    Value::Integer(p.installed.into()),
                    p.installed_version.map_or(Value::Null, Value::Text),
                    p.installed_params.map_or(Value::Null, Value::Text),
                ]
            })
            .collect())
    }
}

fn same_params(recorded: &str, params: &Params) -> bool {
    serde_json::from_str::<serde_json::Value>(recorded).ok()
        == serde_json::from_str::<serde_json::Value>(&params.to_json()).ok()
}

/// "trigger name": how summaries name one of a pack's objects.
fn object_label(o: &ObjectDef, params: &Params) -> String {
    format!(
        "{} {}",
        o.kind.name(),
        display_name(params.text(&o.name_param))
    )
}

fn describe_objects(t: &Template, params: &Params) -> String {
    t.objects
        .iter()
        .map(|o| {
            let table = display_name(params.text(&o.table_param));
            format!("{} on {table}", object_label(o, params))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn table_exists(conn: &Connection, table: &str) -> Result<bool> {
    Ok(schema_entry(conn, Namespace::Relations, table)?.is_some_and(|(kind, _)| kind == "table"))
}

/// The namespace a pack object's name lives in.
fn namespace_of(kind: ObjectKind) -> Namespace {
    match kind {
        ObjectKind::Trigger => Namespace::Triggers,
        ObjectKind::Index => Namespace::Relations,
    }
}

/// Fails, naming the parameter, when a table or column the pack needs is
/// missing from the main database.
fn check_requirements(conn: &Connection, t: &Template, params: &Params) -> Result<()> {
    for r in &t.requires {
        let table = params.text(&r.table_param);
        let found = ordinary_table(conn, table).map_err(|e| {
            e.within(&format!(
                "pack {} needs a table (parameter {}): ",
                t.name, r.table_param
            ))
        })?;
        let columns = columns(conn, &found.name)?;
        for c in &r.column_params {
            let column = params.text(c);
            let present = columns.iter().any(|x| x.name.eq_ignore_ascii_case(column))
                || (["rowid", "oid", "_rowid_"]
                    .iter()
                    .any(|x| x.eq_ignore_ascii_case(column))
                    && found.has_rowid());
            if !present {
                return Err(Error::invalid(format!(
                    "pack {} needs column {} (parameter {}) in table {}, which has no such column",
                    t.name,
                    shorten(column),
                    c,
                    shorten(table)
                )));
            }
        }
    }
    Ok(())
}

/// Fails when a trigger or index the pack would create already exists, so
/// an install never adopts (and a later uninstall never drops) a user's object.
fn check_names_free(conn: &Connection, t: &Template, params: &Params) -> Result<()> {
    for o in &t.objects {
        let name = params.text(&o.name_param);
        if let Some((kind, on)) = schema_entry(conn, namespace_of(o.kind), name)? {
            return Err(Error::invalid(format!(
                "pack {} would create {} {} (parameter {}), but {kind} {} on {} already exists; \
                 pass another name in params_json",
                t.name,
                o.kind.name(),
                shorten(name),
                o.name_param,
                shorten(name),
                shorten(&on)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_renders_with_defaults() {
        assert_eq!(
            catalog()
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>(),
            ["default_album", "task_state"]
        );
        for t in catalog() {
            let sql = defaults_sql(&t.name).unwrap();
            assert!(sql.contains("CREATE TRIGGER IF NOT EXISTS"), "{sql}");
            assert!(!sql.contains("{{"), "{sql}");
        }
    }

    #[test]
    fn task_state_renders_the_seed_trigger() {
        let sql = defaults_sql("task_state").unwrap();
        assert!(sql.contains(
            "CREATE TRIGGER IF NOT EXISTS main.\"update_task_state\" UPDATE OF \"state\" ON \"obs\"\n  BEGIN\n    \
             UPDATE \"task\" SET \"state\" = 2 WHERE (\"obs_id\" = old.\"id\") and (new.\"state\" = 2);\n  END;"
        ), "{sql}");
        assert!(sql.contains(
            "CREATE INDEX IF NOT EXISTS main.\"update_task_state_idx\" ON \"task\"(\"obs_id\");"
        ));
    }

    #[test]
    fn unknown_pack_lists_the_packs() {
        let e = defaults_sql("nope").unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown pack \"nope\" (packs: default_album, task_state)"
        );
    }

    /// The shipped `sql/<pack>.sql` files are the packs rendered with their
    /// defaults. `SQLITE_TRIGGERS_BLESS=1 cargo test` rewrites them.
    #[test]
    fn shipped_sql_files_match_the_templates() {
        for t in catalog() {
            let expected = rendered_file(&t.name);
            let path = format!("{}/sql/{}.sql", env!("CARGO_MANIFEST_DIR"), t.name);
            if std::env::var_os("SQLITE_TRIGGERS_BLESS").is_some() {
                std::fs::write(&path, &expected).unwrap();
            }
            let shipped = std::fs::read_to_string(&path).unwrap_or_default();
            assert_eq!(
                shipped, expected,
                "{path} is stale: run SQLITE_TRIGGERS_BLESS=1 cargo test"
            );
        }
    }

    /// What `trigger_pack_sql(pack)` gives where the pack's columns have
    /// the types of the seed schema (integers): the defaults, untouched.
    fn defaults_sql(pack: &str) -> Result<String> {
        let t = find(pack)?;
        render(t, &t.resolve(None)?)
    }

    fn rendered_file(pack: &str) -> String {
        format!(
            "-- Pack {pack} with its default parameters, generated from sql/packs/{pack}.sql.\n\
             -- Runs in any sqlite3 shell without the extension: sqlite3 -bail app.db < sql/{pack}.sql\n\
             -- and creates what SELECT trigger_install('{pack}') creates.\n\
             BEGIN;\n{}COMMIT;\n",
            defaults_sql(pack).unwrap()
        )
    }
}
