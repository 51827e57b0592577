//! Trigger packs: named, versioned, parameterised trigger SQL.
//!
//! Its SQL functions (`trigger_install`, `trigger_uninstall`,
//! `trigger_upgrade`, `trigger_pack_sql`, `trigger_pack_register`,
//! `trigger_pack_unregister` and the table `trigger_packs`) are declared in
//! this module's function table, with their flags and why, and listed in
//! `docs/reference.md`; `docs/packs.md` describes the packs.
//!
//! A pack is a template: a built-in one under `sql/packs/`, embedded at
//! build time ([`builtin`]), or one a team registered into the database
//! ([`registry`]); both are read by [`parse`] and rendered by [`template`].
//! The SQL a pack installs is plain SQL: it keeps working on connections
//! that never loaded the extension, and [`pack_sql`] renders exactly what
//! [`install`] runs, including the row it records in [`INSTALLS_TABLE`].
//! A newer version of a pack upgrades an installed older one in place
//! ([`upgrade`]); the older version's template stays known (built-in ones
//! under `sql/packs/older/`, registered ones in their table) only to
//! recognise what it installed.
mod blocks;
pub mod builtin;
mod doctor;
mod parse;
pub mod registry;
pub mod template;

use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value};

use crate::functions::{SqlFunction, ADMIN, INNOCUOUS};
use crate::schema::{
    column_affinity, columns, ordinary_table, schema_entry, schema_object, table_exists, Namespace,
    SchemaEntry,
};
use crate::session::Session;
use crate::sql::{display_name, in_savepoint, quote_ident, quote_text, shorten, shorten_to};
use crate::{Error, Result};
use template::{version_key, ObjectDef, ObjectKind, ParamKind, Params, Template};

pub use builtin::catalog;
pub(crate) use doctor::problems;

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
        // schema decides, and a registered pack is read from the database.
        // innocuous: renders text; reads the declared types of the columns the pack's
        // values meet and the registered templates, changes nothing
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
        signature: "pack [, instance]",
        args: 1..=2,
        // direct-only: changes the schema
        flags: ADMIN,
        body: |a| {
            let (pack, instance) = (a.text(0, "pack")?, a.opt_text(1, "instance")?);
            a.with_connection(|conn| uninstall_instance(conn, &pack, instance.as_deref()))
        },
    },
    SqlFunction {
        name: "trigger_upgrade",
        signature: "pack [, instance]",
        args: 1..=2,
        // direct-only: changes the schema
        flags: ADMIN,
        body: |a| {
            let (pack, instance) = (a.text(0, "pack")?, a.opt_text(1, "instance")?);
            a.with_connection(|conn| upgrade_instance(conn, &pack, instance.as_deref()))
        },
    },
    SqlFunction {
        name: "trigger_pack_register",
        signature: "template",
        args: 1..=1,
        // direct-only: writes a table of the database, whose templates
        // installs then run; and given a path it reads a file, which no
        // view, trigger or schema of a database file may make it do
        flags: ADMIN,
        body: |a| a.on_text(0, "template", register_pack),
    },
    SqlFunction {
        name: "trigger_pack_unregister",
        signature: "pack",
        args: 1..=1,
        // direct-only: writes a table of the database
        flags: ADMIN,
        body: |a| a.on_text(0, "pack", unregister_pack),
    },
];

/// Registers the pack functions and `trigger_packs` on `conn`.
pub(crate) fn register(conn: &Connection, session: &Arc<Session>) -> Result<()> {
    crate::functions::register(conn, session, FUNCTIONS)?;
    crate::ffi::register_table::<PacksTable>(conn)
}

/// A pack as a connection finds it: its newest version, the one that
/// installs, and where it comes from.
#[derive(Debug, Clone)]
pub struct Pack {
    pub template: Cow<'static, Template>,
    /// The template's text, for a pack registered in the database; `None`
    /// for a built-in pack.
    pub registered: Option<String>,
}

impl Pack {
    fn builtin(t: &'static Template) -> Pack {
        Pack {
            template: Cow::Borrowed(t),
            registered: None,
        }
    }

    fn registered((t, text): (Template, String)) -> Pack {
        Pack {
            template: Cow::Owned(t),
            registered: Some(text),
        }
    }

    /// Version `version` of this pack (the newest or an older one), if this
    /// database and extension know it.
    fn known_version(
        &self,
        conn: &Connection,
        version: &str,
    ) -> Result<Option<Cow<'static, Template>>> {
        let t = &self.template;
        Ok(match &self.registered {
            None => builtin::version(&t.name, version).map(Cow::Borrowed),
            Some(_) => registry::version(conn, &t.name, version)?.map(|(t, _)| Cow::Owned(t)),
        })
    }

    /// Version `version` of this pack (the newest or an older one), or an
    /// error saying it is not known.
    fn version(&self, conn: &Connection, version: &str) -> Result<Cow<'static, Template>> {
        let t = &self.template;
        self.known_version(conn, version)?.ok_or_else(|| {
            let fix = if self.registered.is_some() {
                "register that version's template again (trigger_pack_register)".to_string()
            } else {
                format!(
                    "use the sqlite-triggers release whose pack {} has it",
                    t.name
                )
            };
            Error::invalid(format!(
                "pack {} {version} is installed, a version this database and extension do not \
                 know (the newest is {}); {fix}",
                t.name, t.version
            ))
        })
    }
}

/// Looks a pack up by name: a built-in pack, else one registered in the
/// main database of `conn` (its newest version).
pub fn find(conn: &Connection, name: &str) -> Result<Pack> {
    if let Some(p) = lookup(conn, name)? {
        return Ok(p);
    }
    let mut names: Vec<String> = catalog().iter().map(|t| t.name.clone()).collect();
    names.extend(registry::names(conn)?);
    Err(Error::invalid(format!(
        "unknown pack {} (packs: {})",
        shorten(name),
        names.join(", ")
    )))
}

/// The pack called `name`, as [`find`] looks it up, if there is one.
fn lookup(conn: &Connection, name: &str) -> Result<Option<Pack>> {
    if let Some(t) = builtin::current(name) {
        return Ok(Some(Pack::builtin(t)));
    }
    Ok(registry::newest(conn, name)?.map(Pack::registered))
}

/// The SQL that installing `pack` with these parameters into the main
/// database of `conn` runs: the pack's triggers and indexes, then the
/// install record (and, for a registered pack, its template). Value
/// parameters get the types of their columns where those columns exist
/// ([`Template::typed`]). Every statement is idempotent (`IF NOT EXISTS`,
/// `WHERE NOT EXISTS`), so the script can be run again without harm.
pub fn pack_sql(conn: &Connection, pack: &str, params_json: Option<&str>) -> Result<String> {
    let p = find_argument(conn, pack)?;
    let params = resolve_argument(&p.template, params_json)?;
    let typed = typed(conn, &p.template, &params).map_err(params_error)?;
    check_list_sizes(&p.template, &params, &typed).map_err(params_error)?;
    render(&p, &typed)
}

/// The most names a list written as an operator chain takes (`new.a IS NOT
/// old.a OR new.b IS NOT old.b ...`): SQLite nests such a chain one level
/// per name, and refuses an expression nested more than 1000 deep
/// (SQLITE_MAX_EXPR_DEPTH); the expression around the chain takes some.
pub const MAX_CHAINED_IDENTS: usize = 900;

/// Fails, naming the parameter and its limit, when a list has more names
/// than it takes: its `max` (`idents(..., max N)`), or for a list the
/// pack's SQL writes as an operator chain, [`MAX_CHAINED_IDENTS`]. `given`
/// are the parameters before install listed the columns of the lists left
/// to it, `params` after.
fn check_list_sizes(t: &Template, given: &Params, params: &Params) -> Result<()> {
    let mut chained = Vec::new();
    for text in [&t.body, &t.uninstall] {
        if let Ok(nodes) = blocks::parse(text) {
            let holds =
                |param: &str, equals: Option<&str>| blocks::holds(params.get(param), equals);
            chained.extend(
                blocks::chained(&nodes, &holds)
                    .into_iter()
                    .map(str::to_string),
            );
        }
    }
    for p in t.params.iter().filter(|p| p.kind == ParamKind::Idents) {
        let in_chain = chained.contains(&p.name);
        let limit = match (p.max, in_chain) {
            (Some(max), true) => max.min(MAX_CHAINED_IDENTS),
            (Some(max), false) => max,
            (None, true) => MAX_CHAINED_IDENTS,
            (None, false) => continue,
        };
        let n = params.get(&p.name).as_array().map_or(0, Vec::len);
        if n <= limit {
            continue;
        }
        let why = if p.max.is_some_and(|max| max <= limit) {
            String::new()
        } else {
            " (the pack's SQL writes a condition per name, and SQLite refuses an expression \
             nested more than 1000 deep)"
                .to_string()
        };
        let table = p
            .table
            .as_deref()
            .map(|table| display_name(params.text(table)))
            .unwrap_or_default();
        let listed = if given.get(&p.name).is_null() {
            let but = if p.except.is_empty() {
                String::new()
            } else {
                format!(" but those named by {}", p.except.join(" and "))
            };
            format!("table {table} has {n} columns for it (every column{but})")
        } else {
            format!("it names {n} columns")
        };
        let fix = if p.except.is_empty() {
            format!("list at most {limit}")
        } else {
            let lists: Vec<&str> = p
                .except
                .iter()
                .filter(|e| t.param(e).kind == ParamKind::Idents)
                .map(String::as_str)
                .collect();
            let mut fix = format!("name at most {limit} in {}", p.name);
            if !lists.is_empty() {
                fix.push_str(&format!(", or leave more out with {}", lists.join(" or ")));
            }
            fix
        };
        return Err(Error::invalid(format!(
            "parameter {} of pack {}: {listed}, more than the {limit} it takes{why}; {fix}",
            p.name, t.name
        )));
    }
    Ok(())
}

/// [`find`], its error about the SQL functions' first argument.
fn find_argument(conn: &Connection, pack: &str) -> Result<Pack> {
    find(conn, pack).map_err(|e| e.within("argument 1 (pack): "))
}

/// The SQL functions' second argument, as their errors name it.
const PARAMS_ARGUMENT: &str = "argument 2 (params_json)";

/// The parameters given, their errors about the SQL functions' second
/// argument.
fn resolve_argument(t: &Template, params_json: Option<&str>) -> Result<Params> {
    let user = template::user_params(params_json, PARAMS_ARGUMENT)?;
    if let Some(p) = t
        .params
        .iter()
        .find(|p| p.kind.worked_out_from_constraints() && user.contains_key(&p.name))
    {
        return Err(params_error(Error::invalid(format!(
            "parameter {} of pack {} is worked out at install from the table's constraints; \
             leave it out",
            p.name, t.name
        ))));
    }
    t.resolve_object(user).map_err(params_error)
}

/// An error about a parameter's value, put down to the second argument.
fn params_error(e: Error) -> Error {
    e.within(&format!("{PARAMS_ARGUMENT}: "))
}

/// The parameters with each value typed like its column in `conn`'s main
/// database, and each list left to the schema (`idents(TABLE - ...)`) made
/// of the table's columns that can be written: a generated column changes
/// only with the columns it is made of, so listing it would let those in
/// by another way (an ignored column's change counting through it, say).
fn typed(conn: &Connection, t: &Template, params: &Params) -> Result<Params> {
    let mut out = t.typed(params, |table, column| column_affinity(conn, table, column))?;
    t.fill_lists(&mut out, |table| {
        if !table_exists(conn, table)? {
            return Ok(None);
        }
        Ok(Some(
            crate::schema::columns(conn, table)?
                .into_iter()
                .filter(|c| c.hidden == 0)
                .map(|c| c.name)
                .collect(),
        ))
    })?;
    // The rows a REPLACE deletes, from the table's constraints, read once
    // per table.
    let mut read: Vec<(String, crate::conflicts::Replaced)> = Vec::new();
    for p in t
        .params
        .iter()
        .filter(|p| p.kind.worked_out_from_constraints())
    {
        let table = p
            .table
            .as_deref()
            .map(|t| out.text(t).to_string())
            .unwrap_or_default();
        if !out.get(&p.name).is_null() || !table_exists(conn, &table)? {
            continue;
        }
        if !read.iter().any(|(t, _)| *t == table) {
            let replaced = crate::conflicts::replaced_rows(conn, &table)?;
            read.push((table.clone(), replaced));
        }
        let (_, replaced) = read.iter().find(|(t, _)| *t == table).expect("read above");
        out.set(&p.name, from_constraints(p.kind, replaced));
    }
    Ok(out)
}

/// The value of a parameter install works out from a table's constraints
/// (`conflicts` or `conflict_columns`).
pub(crate) fn from_constraints(kind: ParamKind, replaced: &crate::conflicts::Replaced) -> Value {
    match kind {
        ParamKind::ConflictColumns => Value::Array(
            replaced
                .columns
                .iter()
                .cloned()
                .map(Value::String)
                .collect(),
        ),
        _ => Value::String(replaced.condition.clone()),
    }
}

fn render(p: &Pack, params: &Params) -> Result<String> {
    let t = &p.template;
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
        name = quote_text(&install_key(t, params))?,
        version = quote_text(&t.version)?,
        params = quote_text(&params.to_json())?,
    ));
    if let Some(text) = &p.registered {
        sql.push_str(&registry::store_sql(t, text)?);
    }
    Ok(sql)
}

/// An installed pack, as recorded in [`INSTALLS_TABLE`].
#[derive(Debug, Clone, PartialEq)]
pub struct Installed {
    pub version: String,
    pub params: String,
}

/// The columns of [`INSTALLS_TABLE`] that every reader of it needs.
const RECORD_COLUMNS: [&str; 3] = ["pack", "version", "params"];

/// What keeps the installs table from being the packs', when something of
/// its name is there: a table made by something else, or changed by hand,
/// or a view.
pub(crate) fn installs_shape(conn: &Connection) -> Result<Option<String>> {
    crate::schema::shape_problem(
        conn,
        INSTALLS_TABLE,
        "packs record their installs",
        &RECORD_COLUMNS,
    )
}

/// The install record of `pack` in the main database, if any.
pub fn installed(conn: &Connection, pack: &str) -> Result<Option<Installed>> {
    if let Some(shape) = installs_shape(conn)? {
        return Err(Error::invalid(format!(
            "{shape}, so no install can be read; trigger_doctor gives the repair"
        )));
    }
    if !table_exists(conn, INSTALLS_TABLE)? {
        return Ok(None);
    }
    let record = conn
        .query_row(
            &format!("SELECT version, params FROM main.{INSTALLS_TABLE} WHERE pack = ?1"),
            [pack],
            |r| Ok((Stored::read(r, 0)?, Stored::read(r, 1)?)),
        )
        .optional()
        .map_err(Error::sqlite(format!("reading {INSTALLS_TABLE}")))?;
    match record {
        None => Ok(None),
        Some((Stored::Text(version), Stored::Text(_))) if version_key(&version).is_none() => {
            Err(Error::invalid(format!(
                "the install record of pack {} is damaged: its version {} is not a version \
                 (numbers separated by dots); trigger_doctor gives the repair",
                key_label(pack),
                shorten(&version)
            )))
        }
        Some((Stored::Text(version), Stored::Text(params))) => {
            Ok(Some(Installed { version, params }))
        }
        Some((version, params)) => {
            let (column, value) = match version {
                Stored::Text(_) => ("params", params),
                other => ("version", other),
            };
            Err(Error::invalid(format!(
                "the install record of pack {} is damaged: {}; trigger_doctor gives the repair",
                key_label(pack),
                not_text(column, &value)
            )))
        }
    }
}

/// A value of a pack table as read: text only when its bytes are UTF-8,
/// so a row changed by hand to hold other bytes is one damaged row rather
/// than an error of every read of the table.
#[derive(Debug, Clone)]
pub(crate) enum Stored {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    /// Text whose bytes are not UTF-8.
    NotUtf8(Vec<u8>),
}

impl Stored {
    /// Column `i` of `row`.
    pub(crate) fn read(row: &rusqlite::Row, i: usize) -> rusqlite::Result<Stored> {
        use rusqlite::types::ValueRef;
        Ok(match row.get_ref(i)? {
            ValueRef::Null => Stored::Null,
            ValueRef::Integer(n) => Stored::Integer(n),
            ValueRef::Real(f) => Stored::Real(f),
            ValueRef::Text(b) => match std::str::from_utf8(b) {
                Ok(text) => Stored::Text(text.to_string()),
                Err(_) => Stored::NotUtf8(b.to_vec()),
            },
            ValueRef::Blob(b) => Stored::Blob(b.to_vec()),
        })
    }
}

/// What a value of a pack table holds, as messages name it.
fn held(value: &Stored) -> &'static str {
    match value {
        Stored::Null => "NULL",
        Stored::Integer(_) => "an integer",
        Stored::Real(_) => "a real",
        Stored::Blob(_) => "a blob",
        Stored::Text(_) => "text",
        Stored::NotUtf8(_) => "text that is not valid UTF-8",
    }
}

/// Why `column` of a pack table's row, holding `value`, cannot be read.
pub(crate) fn not_text(column: &str, value: &Stored) -> String {
    match value {
        Stored::NotUtf8(_) => format!("its {column} holds text that is not valid UTF-8"),
        other => format!("its {column} is {}, not text", held(other)),
    }
}

/// The key of an install in [`INSTALLS_TABLE`]: the pack's name, and for a
/// pack with an `-- instance:` parameter (installed once per table, say)
/// `name:value`. Pack names hold no `:`.
pub fn install_key(t: &Template, params: &Params) -> String {
    match &t.instance {
        None => t.name.clone(),
        Some(p) => format!("{}:{}", t.name, params.text(p)),
    }
}

/// The pack and the instance of an install key.
pub fn split_key(key: &str) -> (&str, Option<&str>) {
    match key.split_once(':') {
        Some((pack, instance)) => (pack, Some(instance)),
        None => (key, None),
    }
}

/// How messages name an install: `touch` or `touch (post)`.
fn key_label(key: &str) -> String {
    match split_key(key) {
        (pack, None) => pack.to_string(),
        (pack, Some(instance)) => format!("{pack} ({})", display_name(instance)),
    }
}

/// The call of `function` on one install, to suggest in a message:
/// `trigger_uninstall('touch', 'post')`.
fn call(function: &str, key: &str) -> String {
    let quoted = |s: &str| quote_text(s).unwrap_or_else(|_| "'…'".into());
    match split_key(key) {
        (pack, None) => format!("{function}({})", quoted(pack)),
        (pack, Some(i)) => format!("{function}({}, {})", quoted(pack), quoted(i)),
    }
}

/// The keys of every install of pack `name`, sorted.
pub fn install_keys(conn: &Connection, name: &str) -> Result<Vec<String>> {
    // A key that is not UTF-8 text keys no install (the doctor names its
    // record, and the listing counts it as damaged), as one that is not text
    // at all.
    Ok(stored_keys(conn, name)?
        .into_iter()
        .filter_map(|k| match k {
            Stored::Text(k) => Some(k),
            _ => None,
        })
        .collect())
}

/// The keys of the install records of pack `name` as stored, sorted: `name`
/// or `name:instance`; and a key damaged into bytes that are not UTF-8 text
/// (or into a blob) that reads so once the bytes that are not are left out.
fn stored_keys(conn: &Connection, name: &str) -> Result<Vec<Stored>> {
    // A table of another shape holds no install a listing can read (the
    // doctor names it).
    if !table_exists(conn, INSTALLS_TABLE)? || installs_shape(conn)?.is_some() {
        return Ok(Vec::new());
    }
    let mut stmt = conn
        .prepare(&format!(
            "SELECT pack FROM main.{INSTALLS_TABLE} \
             WHERE substr(CAST(pack AS BLOB), 1, length(CAST(?1 AS BLOB))) = CAST(?1 AS BLOB) \
             ORDER BY pack"
        ))
        .map_err(Error::sqlite(format!("reading {INSTALLS_TABLE}")))?;
    let keys = stmt
        .query_map([name], |r| Stored::read(r, 0))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(Error::sqlite(format!("reading {INSTALLS_TABLE}")))?;
    let of_pack = |key: &str| key.split(':').next() == Some(name);
    Ok(keys
        .into_iter()
        .filter(|k| match k {
            Stored::Text(k) => of_pack(k),
            Stored::NotUtf8(b) | Stored::Blob(b) => {
                of_pack(&String::from_utf8_lossy(b).replace('\u{FFFD}', ""))
            }
            _ => false,
        })
        .collect())
}

/// The installs of `t`'s pack a call on `instance` is about (`function`
/// names the call in errors): the one install of a pack installed at most
/// once; for a pack with instances, the one named, or with none named
/// every install.
fn chosen(conn: &Connection, t: &Template, instance: Option<&str>) -> Result<Vec<String>> {
    let Some(param) = &t.instance else {
        if instance.is_some() {
            return Err(Error::invalid(format!(
                "argument 2 (instance): pack {} is installed at most once, so its install has \
                 no instance name; leave the argument out",
                t.name
            )));
        }
        return Ok(vec![t.name.clone()]);
    };
    let keys = install_keys(conn, &t.name)?;
    let Some(instance) = instance else {
        return Ok(keys);
    };
    let key = format!("{}:{instance}", t.name);
    if let Some(found) = keys.iter().find(|k| k.eq_ignore_ascii_case(&key)) {
        return Ok(vec![found.clone()]);
    }
    let names: Vec<String> = keys
        .iter()
        .filter_map(|k| split_key(k).1.map(display_name))
        .collect();
    Err(Error::invalid(format!(
        "argument 2 (instance): pack {} has no install for {} {} (installs: {})",
        t.name,
        param,
        shorten(instance),
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    )))
}

/// The install record of `key`, or the error that it has none, followed by
/// `advice`.
fn install_record(conn: &Connection, key: &str, advice: &str) -> Result<Installed> {
    installed(conn, key)?.ok_or_else(|| {
        Error::invalid(format!(
            "pack {} is not installed in this database{advice}",
            key_label(key)
        ))
    })
}

/// The parameters an install recorded, read with the template of the
/// version it recorded. They were typed at install and are used as they
/// are; the objects follow from them, not from a list kept in the table,
/// and count as the pack's only when their SQL is what the pack creates
/// with them, so an edited record cannot name other objects.
fn recorded_params(t: &Template, found: &Installed) -> Result<Params> {
    t.resolve(Some(&found.params)).map_err(|e| {
        Error::invalid(format!(
            "the install record of pack {} is damaged: {e}",
            t.name
        ))
    })
}

/// How the version an install recorded compares with `t`'s.
fn compare_versions(installed: &str, t: &Template) -> Ordering {
    version_key(installed).cmp(&version_key(&t.version))
}

/// The error of a call on a pack installed at a newer version than `t`.
fn newer_installed(t: &Template, version: &str) -> Error {
    Error::invalid(format!(
        "pack {} {version} is installed, newer than {}, the newest version this database and \
         extension have; use the sqlite-triggers release (or register the template) that has \
         {version}",
        t.name, t.version
    ))
}

/// Installs `pack` into the main database in one savepoint: either every
/// object and the install record are created, or nothing is. Installing the
/// same pack with the same parameters again changes nothing but recreating
/// objects of the pack dropped by hand; with other parameters, or over
/// another version, it is an error. Returns a one-line summary.
///
/// Everything, the checks and the lookup of a registered pack included,
/// runs under the write lock (see [`in_savepoint`]): of two connections
/// installing the same pack at once, the second sees the first's install
/// and changes nothing.
pub fn install(conn: &Connection, pack: &str, params_json: Option<&str>) -> Result<String> {
    in_savepoint(conn, "trigger_install", || {
        let p = find_argument(conn, pack)?;
        let resolved = resolve_argument(&p.template, params_json)?;
        install_locked(conn, &p, &resolved)
    })
}

fn install_locked(conn: &Connection, p: &Pack, resolved: &Params) -> Result<String> {
    let t = &*p.template;
    let params = typed(conn, t, resolved).map_err(params_error)?;
    check_list_sizes(t, resolved, &params).map_err(params_error)?;
    // Names are compared as SQLite compares them: an install for "Post"
    // is the one for "post".
    let key = install_key(t, &params);
    let key = install_keys(conn, &t.name)?
        .into_iter()
        .find(|k| k.eq_ignore_ascii_case(&key))
        .unwrap_or(key);
    if let Some(found) = installed(conn, &key)? {
        match compare_versions(&found.version, t) {
            Ordering::Less => {
                return Err(Error::invalid(format!(
                    "pack {} {} is installed, and {} is its newest version; run \
                     {} to upgrade it with its parameters kept, or \
                     {} first to install it anew",
                    key_label(&key),
                    found.version,
                    t.version,
                    call("trigger_upgrade", &key),
                    call("trigger_uninstall", &key)
                )))
            }
            Ordering::Greater => return Err(newer_installed(t, &found.version)),
            Ordering::Equal => {}
        }
        // A list install derives from the schema (left null) is the
        // install's own: the table may have gained columns since.
        // A damaged record is said so: its text, which may be anything,
        // is not quoted as the parameters installed.
        let recorded = recorded_params(t, &found).map_err(|e| {
            Error::invalid(format!(
                "{e}; nothing changed (trigger_doctor gives the repair)"
            ))
        })?;
        let mut params = params;
        for d in t.params.iter().filter(|d| d.derived()) {
            if resolved.get(&d.name).is_null() {
                params.set(&d.name, recorded.get(&d.name).clone());
            }
        }
        if !same_params(&found.params, &params) {
            return Err(Error::invalid(format!(
                "pack {} {} is already installed with parameters {}; \
                 run {} first to install it with other parameters",
                key_label(&key),
                found.version,
                shorten_to(&found.params, 400),
                call("trigger_uninstall", &key)
            )));
        }
        // Same pack, same parameters: recreate what was dropped by hand,
        // never taking a same-named object of the user's for the pack's.
        if let Err(e) = check_requirements(conn, t, &params) {
            return Err(stale_install(t, &found.version, &e.to_string()));
        }
        if let Err(e) = check_rows_told_apart(conn, t, &params) {
            return Err(Error::invalid(format!(
                "pack {} {} is installed, but {e}; the table changed since, so nothing was \
                 created; call {} then install it with a key that tells the rows apart",
                key_label(&key),
                found.version,
                call("trigger_uninstall", &key)
            )));
        }
        let missing: Vec<&ObjectDef> = ours_or_absent(
            conn,
            t,
            &params,
            &found.version,
            "created",
            "trigger_install",
        )?
        .into_iter()
        .filter_map(|(o, present)| (!present).then_some(o))
        .collect();
        if missing.is_empty() {
            return Ok(format!(
                "{} {} is already installed with these parameters; nothing changed",
                key_label(&key),
                t.version
            ));
        }
        run_install_sql(conn, p, &params)?;
        let what: Vec<String> = missing.iter().map(|o| object_label(o, &params)).collect();
        return Ok(format!(
            "repaired {} {}: recreated {}",
            key_label(&key),
            t.version,
            what.join(", ")
        ));
    }
    check_requirements(conn, t, &params)?;
    check_rows_told_apart(conn, t, &params)?;
    check_names_free(conn, t, &params)?;
    run_install_sql(conn, p, &params)?;
    Ok(format!(
        "installed {} {}: {}",
        key_label(&key),
        t.version,
        describe_objects(t, &params)
    ))
}

/// SQLite's refusals that one text parameter's value alone causes, by the
/// parameter's name and what the message says: FTS5 judges fts_sync's
/// `tokenize` option.
const REFUSED_VALUES: [(&str, &[&str]); 1] = [("tokenize", &["tokenizer", "tokenize directive"])];

/// The parameter SQLite's refusal of a pack's SQL is about: a text
/// parameter whose value alone it refuses (see [`REFUSED_VALUES`]), the
/// one expression parameter whose value names what the message says is
/// missing ("no such column: old.x"), or, for a syntax error, the one
/// expression that SQLite cannot read on its own.
fn blamed<'t>(
    conn: &Connection,
    t: &'t Template,
    params: &Params,
    message: &str,
) -> Option<&'t str> {
    let given = |p: &&'t template::ParamDef| {
        matches!(p.kind, ParamKind::Text | ParamKind::Expr) && !params.text(&p.name).is_empty()
    };
    if let Some(p) = t.params.iter().filter(given).find(|p| {
        REFUSED_VALUES
            .iter()
            .any(|(name, says)| p.name == *name && says.iter().any(|s| message.contains(s)))
    }) {
        return Some(&p.name);
    }
    let one = |mut found: Vec<&'t template::ParamDef>| match found.len() {
        1 => found.pop().map(|p| p.name.as_str()),
        _ => None,
    };
    if message.contains("syntax error") {
        return one(t
            .params
            .iter()
            .filter(given)
            .filter(|p| {
                p.kind == ParamKind::Expr
                    && conn
                        .prepare(&format!("SELECT ({})", params.text(&p.name)))
                        .is_err_and(|e| e.to_string().contains("syntax error"))
            })
            .collect());
    }
    let missing = ["no such column: ", "no such table: ", "no such function: "]
        .iter()
        .find_map(|says| message.split_once(says).map(|(_, rest)| rest))?;
    let missing = missing.split_whitespace().next()?;
    let missing = missing
        .strip_prefix("main.")
        .unwrap_or(missing)
        .to_ascii_lowercase();
    // A name as the message gives it: bare, or qualified (old.x).
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii();
    let names = |value: &str| -> bool {
        let value = value.to_ascii_lowercase();
        value.split(|c: char| !word(c)).any(|w| w == missing)
            || value
                .split(|c: char| !word(c) && c != '.')
                .any(|w| w == missing)
    };
    one(t
        .params
        .iter()
        .filter(given)
        .filter(|p| p.kind == ParamKind::Expr && names(params.text(&p.name)))
        .collect())
}

/// The error of install SQL that SQLite refused, naming the parameter it
/// is about when that can be told (see [`blamed`]).
fn install_refused(conn: &Connection, t: &Template, params: &Params, e: rusqlite::Error) -> Error {
    let context = match blamed(conn, t, params, &e.to_string()) {
        Some(p) => format!("installing pack {}: parameter {p} was refused", t.name),
        None => format!("installing pack {}", t.name),
    };
    Error::sqlite(context)(e)
}

fn run_install_sql(conn: &Connection, p: &Pack, params: &Params) -> Result<()> {
    let t = &p.template;
    let sql = render(p, params)?;
    // The tables whose writes fire the pack's triggers, and whether those
    // writes compiled before (a trigger of the user's SQLite refuses is not
    // the pack's to report).
    let mut tables: Vec<(&str, bool)> = Vec::new();
    for o in t.objects.iter().filter(|o| o.kind == ObjectKind::Trigger) {
        let table = params.text(&o.table_param);
        if !tables.iter().any(|(x, _)| x.eq_ignore_ascii_case(table)) {
            tables.push((
                table,
                crate::schema::writes_compile(conn, table, "").is_ok(),
            ));
        }
    }
    conn.execute_batch(&sql)
        .map_err(|e| install_refused(conn, t, params, e))?;
    // SQLite checks a trigger's body only when a write that fires it is
    // compiled: compile them now, so that a body that names a column the
    // table lacks (a list or expression parameter's, say) fails the install
    // instead of every later write.
    for (table, _) in tables.into_iter().filter(|(_, ok)| *ok) {
        crate::schema::writes_compile(
            conn,
            table,
            &format!(
                "pack {}: with its triggers, writes to {} do not compile",
                t.name,
                shorten(table)
            ),
        )
        .map_err(|e| match e {
            Error::Sqlite { context, source } => {
                let context = match blamed(conn, t, params, &source.to_string()) {
                    Some(p) => format!("{context} (parameter {p})"),
                    None => context,
                };
                Error::Sqlite { context, source }
            }
            other => other,
        })?;
    }
    // The pack's triggers fire after a capture's on the same table, so that
    // the changes they make are recorded after the change that made them.
    for o in t.objects.iter().filter(|o| o.kind == ObjectKind::Trigger) {
        crate::outbox::keep_capture_first(conn, params.text(&o.table_param))?;
    }
    Ok(())
}

/// Whether each of a pack's objects is there, for a call that needs every
/// one to be the pack's own or gone: an object a rename moved, or a
/// same-named one the pack did not create, is an error (`done` says what
/// then did not happen, `retry` which function to call again).
fn ours_or_absent<'t>(
    conn: &Connection,
    t: &'t Template,
    params: &Params,
    version: &str,
    done: &str,
    retry: &str,
) -> Result<Vec<(&'t ObjectDef, bool)>> {
    let mut out = Vec::with_capacity(t.objects.len());
    for (o, at) in presences(conn, t, params)? {
        match at {
            Presence::Ours => out.push((o, true)),
            Presence::Absent => out.push((o, false)),
            Presence::Renamed(moved, _) => {
                return Err(stale_install(
                    t,
                    version,
                    &format!(
                        "its {} {} was moved to {} by a rename",
                        o.kind.name(),
                        shorten(params.text(&o.name_param)),
                        shorten(&moved.table)
                    ),
                ))
            }
            Presence::Foreign(found) => {
                return Err(not_the_packs(t, o, params, &found, done, retry))
            }
        }
    }
    Ok(out)
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
    /// Only [`presences`], which judges the pack's objects together, says
    /// so for certain.
    Renamed(SchemaEntry, Vec<NameChange>),
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
    if o.kind == ObjectKind::Table {
        // A table holds data, and may have been made by another tool (a
        // `_counts` of sqlite-utils): it is the pack's when it is an
        // ordinary table with every column the pack's statement declares.
        let has = column_names(conn, name)?;
        let ours = !sql.starts_with("CREATE VIRTUAL")
            && crate::sql::declared_columns(&expected)
                .iter()
                .all(|c| has.iter().any(|h| h.eq_ignore_ascii_case(c)));
        return Ok(if ours {
            Presence::Ours
        } else {
            Presence::Foreign(found)
        });
    }
    Ok(if sql == expected {
        Presence::Ours
    } else if let Some(changes) = renamed_from(conn, t, params, &expected, sql)? {
        Presence::Renamed(found, changes)
    } else {
        Presence::Foreign(found)
    })
}

/// One name a rename changed in a pack's object: `old` to `new`, and the
/// table whose column it is as the schema names that table now (`None`
/// for a table's own name).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct NameChange {
    pub(super) old: String,
    pub(super) new: String,
    pub(super) table: Option<String>,
}

/// The names that explain `sql` as `expected` rewritten by renames: each
/// quoted name (or bare word) that differs, from the value of a table
/// parameter, or of a column one of its column or list parameters names,
/// to a table or column that is there now (for a column only an
/// expression parameter reads, any required table that has the new name
/// and not the old); `None` when the two differ in anything else, or when
/// one old name became two new ones or two old names one new (but the
/// rowid's names, which follow the INTEGER PRIMARY KEY). Whether the
/// renames happened is judged with the pack's other objects, by
/// [`presences`].
fn renamed_from(
    conn: &Connection,
    t: &Template,
    params: &Params,
    expected: &str,
    sql: &str,
) -> Result<Option<Vec<NameChange>>> {
    let (want, got) = (sql_pieces(expected), sql_pieces(sql));
    if want.len() != got.len() {
        return Ok(None);
    }
    let mut changed: Vec<(String, String)> = Vec::new();
    for (w, g) in want.into_iter().zip(got) {
        match (w, g) {
            (Piece::Text(a), Piece::Text(b)) if a == b => {}
            (Piece::Word(a), Piece::Word(b)) if a == b => {}
            (Piece::Name(a), Piece::Name(b)) if a == b => {}
            // A name the pack quoted, or one it took bare from the schema
            // (a partial index's WHERE): a rename writes the new name in
            // its place.
            (Piece::Name(a) | Piece::Word(a), Piece::Name(b) | Piece::Word(b)) => {
                match changed.iter().find(|(old, _)| *old == a) {
                    Some((_, new)) if *new != b => return Ok(None),
                    Some(_) => {}
                    None => changed.push((a, b)),
                }
            }
            _ => return Ok(None),
        }
    }
    if changed.is_empty() {
        return Ok(None);
    }
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    for (i, (old, new)) in changed.iter().enumerate() {
        // Two names became one only as the rowid's names become the new
        // name of the INTEGER PRIMARY KEY with it.
        if changed[..i]
            .iter()
            .any(|(o, n)| same(n, new) && !is_rowid_name(o) && !is_rowid_name(old))
        {
            return Ok(None);
        }
    }
    // Where each table of the pack is now.
    let table_now = |table: &str| -> String {
        changed
            .iter()
            .find(|(old, _)| old == table)
            .map_or_else(|| table.to_string(), |(_, new)| new.clone())
    };
    let mut explained = Vec::with_capacity(changed.len());
    for (old, new) in &changed {
        let mut why = None;
        for r in &t.requires {
            let table = params.text(&r.table_param);
            if table == old && table_exists(conn, new)? {
                why = Some(None);
                break;
            }
            // A column a column parameter names, or one a list of this
            // table's columns names (the columns a conflict goes through
            // among them: they name every column the conflict condition
            // does).
            let listed = t
                .params
                .iter()
                .filter(|p| {
                    matches!(p.kind, ParamKind::Idents | ParamKind::ConflictColumns)
                        && p.table.as_deref() == Some(&r.table_param)
                })
                .filter_map(|p| params.get(&p.name).as_array())
                .flatten()
                .any(|n| n.as_str().is_some_and(|n| same(n, old)));
            if listed || r.column_params.iter().any(|c| params.text(c) == old) {
                let now = table_now(table);
                if column_names(conn, &now)?.iter().any(|x| same(x, new)) {
                    why = Some(Some(now));
                    break;
                }
            }
        }
        // A column an expression parameter reads (a condition, who): one of
        // the required tables has it under the new name and no longer under
        // the old one. The replay in [`presences`] proves it or not.
        if why.is_none() {
            for r in &t.requires {
                let now = table_now(params.text(&r.table_param));
                let columns = column_names(conn, &now)?;
                if columns.iter().any(|x| same(x, new)) && !columns.iter().any(|x| same(x, old)) {
                    why = Some(Some(now));
                    break;
                }
            }
        }
        let Some(table) = why else {
            return Ok(None);
        };
        explained.push(NameChange {
            old: old.clone(),
            new: new.clone(),
            table,
        });
    }
    Ok(Some(explained))
}

/// Where each of a pack's objects stands, judged together: an object whose
/// names a rename changed counts as renamed only when the pack's other
/// renamed objects agree on each change (a hand edit of one trigger
/// disagrees with the rename the others show, or stands alone against a
/// tie), no two old names became one, each old name is gone from its
/// table or is itself the new name of another change (a swap, a chain),
/// and replaying the renames (see [`replay_renames`]) writes the object
/// exactly as the schema has it. Anything else is not the pack's.
fn presences<'t>(
    conn: &Connection,
    t: &'t Template,
    params: &Params,
) -> Result<Vec<(&'t ObjectDef, Presence)>> {
    let mut found = Vec::with_capacity(t.objects.len());
    for o in &t.objects {
        found.push((o, presence(conn, t, o, params)?));
    }
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    loop {
        let changes: Vec<&NameChange> = found
            .iter()
            .filter_map(|(_, p)| match p {
                Presence::Renamed(_, c) => Some(c),
                _ => None,
            })
            .flatten()
            .collect();
        // The change each old name has in most objects; none on a tie.
        let agreed = |c: &NameChange| {
            let votes = |n: &str| {
                changes
                    .iter()
                    .filter(|x| same(&x.old, &c.old) && same(&x.new, n))
                    .count()
            };
            let mine = votes(&c.new);
            changes
                .iter()
                .filter(|x| same(&x.old, &c.old) && !same(&x.new, &c.new))
                .all(|x| votes(&x.new) < mine)
        };
        let mut wrong = Vec::new();
        for c in &changes {
            // The rowid's names become the new name of the INTEGER PRIMARY
            // KEY with it: no two columns became one.
            let two_to_one = !is_rowid_name(&c.old)
                && changes.iter().any(|x| {
                    same(&x.new, &c.new) && !same(&x.old, &c.old) && !is_rowid_name(&x.old)
                });
            let renamed_away = changes.iter().any(|x| same(&x.new, &c.old));
            let gone = match &c.table {
                None => !table_exists(conn, &c.old)?,
                Some(table) => !column_names(conn, table)?.iter().any(|x| same(x, &c.old)),
            };
            if !agreed(c) || two_to_one || !(gone || renamed_away) {
                wrong.push((*c).clone());
            }
        }
        if wrong.is_empty() {
            break;
        }
        for (_, p) in found.iter_mut() {
            if let Presence::Renamed(entry, c) = p {
                if c.iter().any(|x| wrong.contains(x)) {
                    *p = Presence::Foreign(entry.clone());
                }
            }
        }
    }
    // The renames agreed on, replayed by SQLite itself: every object of
    // the pack that is there must come out as it is, those left as the pack
    // wrote them too (a swap written by hand into some triggers, with no
    // rename, leaves the others contradicting it).
    let mut changes: Vec<NameChange> = Vec::new();
    for (_, p) in &found {
        if let Presence::Renamed(_, c) = p {
            for x in c {
                if !changes.contains(x) {
                    changes.push(x.clone());
                }
            }
        }
    }
    if changes.is_empty() {
        return Ok(found);
    }
    let present: Vec<(usize, String, String)> = found
        .iter()
        .enumerate()
        .filter_map(|(i, (o, p))| {
            if !matches!(o.kind, ObjectKind::Trigger | ObjectKind::Index) {
                return None;
            }
            let expected = t.stored_sql(o, params).ok()?;
            match p {
                Presence::Ours => Some((i, expected.clone(), expected)),
                Presence::Renamed(entry, _) => Some((i, expected, entry.sql.clone()?)),
                _ => None,
            }
        })
        .collect();
    let wrote: Vec<String> = present.iter().map(|(_, e, _)| e.clone()).collect();
    let replayed = replay_renames(conn, &wrote, &changes)?;
    let contradicted = match &replayed {
        None => true,
        Some(out) => present.iter().zip(out).any(|((i, _, actual), got)| {
            matches!(found[*i].1, Presence::Ours) && !same_sql(actual, got)
        }),
    };
    for (k, (i, _, actual)) in present.iter().enumerate() {
        if let Presence::Renamed(entry, _) = &found[*i].1 {
            let ok = !contradicted
                && replayed
                    .as_ref()
                    .is_some_and(|out| same_sql(actual, &out[k]));
            if !ok {
                let entry = entry.clone();
                found[*i].1 = Presence::Foreign(entry);
            }
        }
    }
    Ok(found)
}

/// How the renames `changes` rewrote an object that stayed on its table:
/// one of another table (a parent's) renamed, or its columns.
pub(super) fn rewritten_by(changes: &[NameChange]) -> &'static str {
    if changes.iter().any(|c| c.table.is_none()) {
        "changed by a table rename"
    } else {
        "changed by a column rename"
    }
}

/// Whether `name` is one of the rowid's names.
pub(super) fn is_rowid_name(name: &str) -> bool {
    ["rowid", "oid", "_rowid_"]
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
}

/// Whether two statements are the same but for how their names are
/// quoted (a rename writes a new name bare or quoted as its ALTER TABLE
/// statement did).
fn same_sql(a: &str, b: &str) -> bool {
    let (a, b) = (sql_pieces(a), sql_pieces(b));
    a.len() == b.len()
        && a.iter().zip(&b).all(|(x, y)| match (x, y) {
            (Piece::Text(x), Piece::Text(y)) => x == y,
            (Piece::Name(x) | Piece::Word(x), Piece::Name(y) | Piece::Word(y)) => x == y,
            _ => false,
        })
}

/// The statements `wrote` (a pack's triggers and indexes as it created
/// them) as SQLite rewrites them through `changes`: replayed in a
/// connection of its own to an empty in-memory database, on a copy of the
/// main database's tables they name with the renames undone, by SQLite's
/// own `ALTER TABLE`. `None` when the replay cannot be made (a table that
/// cannot be copied, a statement the copy refuses): no rename is then
/// taken for proven.
fn replay_renames(
    conn: &Connection,
    wrote: &[String],
    changes: &[NameChange],
) -> Result<Option<Vec<String>>> {
    // The tables named, as they are now: by the statements, and by the
    // renames (a renamed table's new name, a renamed column's table).
    let mut names: Vec<String> = Vec::new();
    for sql in wrote {
        for p in sql_pieces(sql) {
            if let Piece::Name(n) | Piece::Word(n) = p {
                names.push(n);
            }
        }
    }
    for c in changes {
        names.push(c.new.clone());
        names.extend(c.table.clone());
    }
    let mut tables: Vec<(String, String)> = Vec::new();
    for n in names {
        if tables.iter().any(|(t, _)| t.eq_ignore_ascii_case(&n)) {
            continue;
        }
        if let Some(entry) = schema_object(conn, crate::schema::Namespace::Relations, &n)? {
            if entry.kind == "table" && !entry.name.starts_with("sqlite_") {
                if let Some(sql) = entry.sql {
                    tables.push((entry.name, sql));
                }
            }
        }
    }
    // Ordinary tables first: a virtual table creates its own shadow tables.
    tables.sort_by_key(|(_, sql)| sql.starts_with("CREATE VIRTUAL"));
    let Ok(copy) = Connection::open_in_memory() else {
        return Ok(None);
    };
    let q = |n: &str| quote_ident(n).unwrap_or_default();
    let columns: Vec<&NameChange> = changes
        .iter()
        .filter(|c| c.table.is_some() && !is_rowid_name(&c.old))
        .collect();
    let renamed: Vec<&NameChange> = changes.iter().filter(|c| c.table.is_none()).collect();
    let mut steps: Vec<String> = tables.iter().map(|(_, sql)| format!("{sql};")).collect();
    // One rename of `c`, from one name to another.
    let rename = |c: &NameChange, from: &str, to: &str| match &c.table {
        Some(table) => format!("ALTER TABLE {} RENAME COLUMN {from} TO {to};", q(table)),
        None => format!("ALTER TABLE {from} RENAME TO {to};"),
    };
    // Each of `changes` from one of its names to the other, through a name
    // of its own, so that a swap or a chain unwinds.
    let through = |steps: &mut Vec<String>, changes: &[&NameChange], undo: bool| {
        let tag = if undo { "undo" } else { "redo" };
        let ends = |c: &NameChange| {
            if undo {
                (q(&c.new), q(&c.old))
            } else {
                (q(&c.old), q(&c.new))
            }
        };
        for (i, c) in changes.iter().enumerate() {
            steps.push(rename(c, &ends(c).0, &format!("\"_{tag}_{i}\"")));
        }
        for (i, c) in changes.iter().enumerate() {
            steps.push(rename(c, &format!("\"_{tag}_{i}\""), &ends(c).1));
        }
    };
    // Undone: columns (their tables under today's names), then tables.
    through(&mut steps, &columns, true);
    through(&mut steps, &renamed, true);
    steps.extend(wrote.iter().map(|sql| format!("{sql};")));
    // Replayed: tables, then columns under the tables' new names.
    through(&mut steps, &renamed, false);
    through(&mut steps, &columns, false);
    for step in &steps {
        if copy.execute_batch(step).is_err() {
            return Ok(None);
        }
    }
    let mut out = Vec::with_capacity(wrote.len());
    for sql in wrote {
        // The object's name: the first quoted name of its statement.
        let Some(name) = sql_pieces(sql).into_iter().find_map(|p| match p {
            Piece::Name(n) => Some(n),
            _ => None,
        }) else {
            return Ok(None);
        };
        match copy.query_row(
            "SELECT sql FROM sqlite_master WHERE name = ?1 COLLATE NOCASE AND type IN ('trigger', 'index')",
            [&name],
            |r| r.get::<_, String>(0),
        ) {
            Ok(sql) => out.push(sql),
            Err(_) => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// A piece of SQL text: a quoted name (unquoted), a bare word (keyword,
/// name or function), or anything else.
enum Piece {
    Name(String),
    Word(String),
    Text(String),
}

/// Splits SQL into quoted names, bare words and the text between them;
/// string literals stay in the text.
fn sql_pieces(sql: &str) -> Vec<Piece> {
    use crate::sql::Kind;
    let mut pieces = Vec::new();
    let mut text = String::new();
    for t in crate::sql::tokens(sql) {
        let token = &sql[t.start..t.end];
        match t.kind {
            Kind::Name => {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
                pieces.push(Piece::Name(crate::sql::unquote(token)));
            }
            Kind::Word => {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
                pieces.push(Piece::Word(token.to_string()));
            }
            _ => text.push_str(token),
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
         was renamed or dropped since; drop the pack's objects a rename changed and call \
         trigger_uninstall('{}') (trigger_doctor gives the statements), then \
         trigger_install('{}', params_json) naming the tables and columns as they are now",
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
/// COLUMN, say) while the pack reads as uninstalled. The objects are those
/// of the version installed, which need not be the newest.
pub fn uninstall(conn: &Connection, pack: &str) -> Result<String> {
    uninstall_instance(conn, pack, None)
}

/// [`uninstall`] of one install of a pack installed once per `instance`
/// (`-- instance:`); `None` where the pack has one install.
pub fn uninstall_instance(conn: &Connection, pack: &str, instance: Option<&str>) -> Result<String> {
    in_savepoint(conn, "trigger_uninstall", || {
        let p = find_argument(conn, pack)?;
        let keys = chosen(conn, &p.template, instance)?;
        match &keys[..] {
            [] => Err(Error::invalid(format!(
                "pack {} is not installed in this database",
                p.template.name
            ))),
            [key] => uninstall_locked(conn, &p, key),
            several => Err(Error::invalid(format!(
                "pack {} is installed {} times ({}); name the install to uninstall, e.g. {}",
                p.template.name,
                several.len(),
                several
                    .iter()
                    .filter_map(|k| split_key(k).1.map(display_name))
                    .collect::<Vec<_>>()
                    .join(", "),
                call("trigger_uninstall", &several[0])
            ))),
        }
    })
}

/// The parameters an install record holds, read with the template of its
/// version, and checked to make the record's own key: a record copied
/// under another key would otherwise name another install's objects.
fn record_params(t: &Template, found: &Installed, key: &str) -> Result<Params> {
    let params = recorded_params(t, found)?;
    let made = install_key(t, &params);
    if made != key {
        return Err(Error::invalid(format!(
            "the install record of pack {} is damaged: its parameters make the key {}, not {}; \
             nothing changed (trigger_doctor gives the repair)",
            key_label(key),
            display_name(&made),
            display_name(key)
        )));
    }
    Ok(params)
}

fn uninstall_locked(conn: &Connection, p: &Pack, key: &str) -> Result<String> {
    let found = install_record(conn, key, "")?;
    let t = p.version(conn, &found.version)?;
    let params = record_params(&t, &found, key)?;
    let mut ours = Vec::new();
    for (o, at) in presences(conn, &t, &params)? {
        match at {
            Presence::Ours => ours.push(o),
            Presence::Absent => {}
            // An object a rename rewrote is no longer the SQL the pack
            // created: what the schema holds cannot tell a rename from an
            // edit that looks like one (a column the install never named,
            // a table made since), so uninstall drops only the pack's own
            // SQL, and the doctor names the DROP statements for the rest.
            Presence::Renamed(found, changes) => {
                return Err(Error::invalid(format!(
                    "{} {} on {} was {} since the pack was installed (or edited to look so), so \
                     nothing was dropped: uninstall drops only the SQL the pack created; drop it \
                     yourself (trigger_doctor gives the statements), then call \
                     trigger_uninstall('{}') again",
                    found.kind,
                    shorten(params.text(&o.name_param)),
                    shorten(&found.table),
                    rewritten_by(&changes),
                    t.name
                )))
            }
            Presence::Foreign(found) => {
                return Err(not_the_packs(
                    &t,
                    o,
                    &params,
                    &found,
                    "dropped",
                    "trigger_uninstall",
                ))
            }
        }
    }
    let teardown = t.render_uninstall(&params)?;
    if !teardown.trim().is_empty() {
        conn.execute_batch(&teardown)
            .map_err(Error::sqlite(format!("uninstalling pack {}", t.name)))?;
    }
    let mut dropped = Vec::new();
    for o in ours {
        if o.kind == ObjectKind::Table {
            dropped.push(format!(
                "kept {} (it holds data: drop it yourself when done)",
                object_label(o, &params)
            ));
            continue;
        }
        drop_object(conn, o, &params)?;
        dropped.push(object_label(o, &params));
    }
    conn.execute(
        &format!("DELETE FROM main.{INSTALLS_TABLE} WHERE pack = ?1"),
        [key],
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
    let what = if dropped.is_empty() {
        "nothing left to drop".to_string()
    } else {
        dropped.join(", ")
    };
    Ok(format!(
        "uninstalled {} {}: {}",
        key_label(key),
        found.version,
        what
    ))
}

/// Drops one of a pack's objects, named by its parameters.
fn drop_object(conn: &Connection, o: &ObjectDef, params: &Params) -> Result<()> {
    let (kind, name) = (o.kind.name(), params.text(&o.name_param));
    debug_assert!(
        o.kind != ObjectKind::Table,
        "uninstall keeps a pack's tables"
    );
    conn.execute_batch(&format!(
        "DROP {} main.{}",
        kind.to_uppercase(),
        quote_ident(name)?
    ))
    .map_err(Error::sqlite(format!("dropping {kind} {}", shorten(name))))
}

/// Upgrades the installed version of `pack` to its newest one, in place and
/// in one savepoint, with the parameters it was installed with (a parameter
/// the newest version adds takes its default). The installed version's
/// objects are recognised by their exact SQL, as uninstall recognises them,
/// whether the extension or the pack's plain `.sql` file created them; an
/// object the newest version creates exactly as it is stays, every other
/// one is dropped and the newest version's created, and the install record
/// moves to the new version. Returns a one-line summary.
pub fn upgrade(conn: &Connection, pack: &str) -> Result<String> {
    upgrade_instance(conn, pack, None)
}

/// [`upgrade`] of one install of a pack installed once per `instance`
/// (`-- instance:`), or with `None` of every install of it, all in one
/// savepoint.
pub fn upgrade_instance(conn: &Connection, pack: &str, instance: Option<&str>) -> Result<String> {
    in_savepoint(conn, "trigger_upgrade", || {
        let p = find_argument(conn, pack)?;
        let keys = chosen(conn, &p.template, instance)?;
        if keys.is_empty() {
            return Err(Error::invalid(format!(
                "pack {} is not installed in this database; install it with \
                 trigger_install('{}')",
                p.template.name, p.template.name
            )));
        }
        let done = keys
            .iter()
            .map(|key| upgrade_locked(conn, &p, key))
            .collect::<Result<Vec<_>>>()?;
        Ok(done.join("; "))
    })
}

fn upgrade_locked(conn: &Connection, p: &Pack, key: &str) -> Result<String> {
    let new = &*p.template;
    let found = install_record(
        conn,
        key,
        &format!("; install it with trigger_install('{}')", new.name),
    )?;
    if compare_versions(&found.version, new) == Ordering::Greater {
        return Err(newer_installed(new, &found.version));
    }
    // A damaged record is said so, never taken for an install that is up
    // to date.
    let old = p.version(conn, &found.version)?;
    let old_params = record_params(&old, &found, key)?;
    if compare_versions(&found.version, new) == Ordering::Equal {
        return Ok(format!(
            "{} {} is installed, the newest version; nothing changed",
            key_label(key),
            found.version
        ));
    }
    let before = ours_or_absent(
        conn,
        &old,
        &old_params,
        &found.version,
        "changed",
        "trigger_upgrade",
    )?;
    let params = carried_params(conn, &old, &old_params, new)?;
    check_requirements(conn, new, &params)?;
    check_names_distinct(new, &params)?;
    // Drop every object of the old version that the new one does not
    // create exactly as it is (the same kind, name and SQL).
    let mut replaced: Vec<&str> = Vec::new();
    let mut dropped: Vec<String> = Vec::new();
    for (o, present) in before {
        if !present {
            // Dropped by hand: the new version creates its own.
            continue;
        }
        if o.kind == ObjectKind::Table {
            // Data: an upgrade keeps it as it is.
            continue;
        }
        let name = old_params.text(&o.name_param);
        let successor = new
            .objects
            .iter()
            .find(|n| n.kind == o.kind && params.text(&n.name_param).eq_ignore_ascii_case(name));
        match successor {
            Some(n) if new.stored_sql(n, &params)? == old.stored_sql(o, &old_params)? => continue,
            Some(n) => replaced.push(&n.name_param),
            None => dropped.push(format!("dropped {}", object_label(o, &old_params))),
        }
        drop_object(conn, o, &old_params)?;
    }
    let after = ours_or_absent(
        conn,
        new,
        &params,
        &found.version,
        "changed",
        "trigger_upgrade",
    )?;
    run_install_sql(conn, p, &params)?;
    conn.execute(
        &format!("UPDATE main.{INSTALLS_TABLE} SET version = ?1, params = ?2 WHERE pack = ?3"),
        [&new.version, &params.to_json(), key],
    )
    .map_err(Error::sqlite(format!("updating {INSTALLS_TABLE}")))?;
    let mut what: Vec<String> = after
        .iter()
        .map(|(n, present)| {
            let verb = if *present {
                "kept"
            } else if replaced.contains(&n.name_param.as_str()) {
                "replaced"
            } else {
                "created"
            };
            format!("{verb} {}", object_label(n, &params))
        })
        .collect();
    what.extend(dropped);
    Ok(format!(
        "upgraded {} from {} to {}: {}",
        key_label(key),
        found.version,
        new.version,
        what.join(", ")
    ))
}

/// The parameters an upgrade keeps: every recorded one the new version
/// declares, and the defaults of those it adds, typed by their columns. A
/// recorded parameter the new version no longer has is let go when it held
/// what the old version would have given it anyway; otherwise the upgrade
/// would lose a choice, and refuses.
fn carried_params(
    conn: &Connection,
    old: &Template,
    old_params: &Params,
    new: &Template,
) -> Result<Params> {
    let recorded: Map<String, Value> = old
        .params
        .iter()
        .map(|p| (p.name.clone(), old_params.get(&p.name).clone()))
        .collect();
    let mut kept = Map::new();
    for p in &old.params {
        let value = &recorded[&p.name];
        if new.params.iter().any(|n| n.name == p.name) {
            kept.insert(p.name.clone(), value.clone());
            continue;
        }
        let mut others = recorded.clone();
        others.remove(&p.name);
        if old.value_of(p, &others)? != *value {
            return Err(Error::invalid(format!(
                "version {} of pack {} has no parameter {}, which the installed {} holds as {}; \
                 run trigger_uninstall('{}'), then trigger_install('{}', params_json) with the \
                 parameters {} has",
                new.version,
                new.name,
                p.name,
                old.version,
                shorten_to(&value.to_string(), 60),
                new.name,
                new.name,
                new.version
            )));
        }
    }
    let params = new.resolve_object(kept).map_err(|e| {
        e.within(&format!(
            "the parameters of the installed {} do not fit version {}: ",
            old.version, new.version
        ))
    })?;
    typed(conn, new, &params)
}

/// Registers a pack of your own in the main database of `conn`, from a
/// template's text or the path of a file holding one (see
/// [`registry::read_source`]), in one savepoint. A name of a built-in pack
/// is refused, in any letter case. A version registered already with the
/// same text changes nothing; with other text it is refused. Registering a
/// newer version makes it the one that installs, and lets
/// [`upgrade`] move an install of an older one to it. Returns a one-line
/// summary.
pub fn register_pack(conn: &Connection, source: &str) -> Result<String> {
    in_savepoint(conn, "trigger_pack_register", || {
        register_locked(conn, source).map_err(|e| e.within("argument 1 (template): "))
    })
}

fn register_locked(conn: &Connection, source: &str) -> Result<String> {
    if let Some(shape) = registry::shape_problem(conn)? {
        return Err(Error::invalid(format!(
            "{shape}, so nothing can be registered; rename it if it is not the packs' \
             (trigger_doctor names it)"
        )));
    }
    let source = registry::read_source(source)?;
    let t = Template::parse(&source.text).map_err(|e| e.within(&source.label()))?;
    if let Some(builtin) = builtin::taken(&t.name) {
        return Err(Error::invalid(format!(
            "pack {} is named like the built-in pack {builtin}, which it may not shadow; give \
             it another name",
            shorten(&t.name)
        )));
    }
    let versions = registry::versions(conn, &t.name)?;
    let key = version_key(&t.version);
    if let Some(v) = versions.iter().find(|v| version_key(v) == key) {
        if registry::text(conn, &t.name, v)?.as_deref() == Some(source.text.as_str()) {
            return Ok(format!(
                "{} {v} is already registered with this template; nothing changed",
                t.name
            ));
        }
        return Err(Error::invalid(format!(
            "pack {} {v} is already registered with another template; give this one a newer \
             version (trigger_upgrade then moves an install to it), or, when the pack is not \
             installed, call trigger_pack_unregister('{}') first",
            t.name, t.name
        )));
    }
    conn.execute_batch(&registry::store_sql(&t, &source.text)?)
        .map_err(Error::sqlite(format!(
            "updating {}",
            registry::TEMPLATES_TABLE
        )))?;
    let newest = versions.iter().filter_map(|v| version_key(v)).max();
    if newest.is_some_and(|n| Some(n) > key) {
        return Ok(format!(
            "registered {} {} as an older version: it only recognises, upgrades and \
             uninstalls what it installed",
            t.name, t.version
        ));
    }
    let mut summary = format!(
        "registered {} {}: {}",
        t.name,
        t.version,
        describe_objects(&t, &t.resolve(None)?)
    );
    if let Some(install) = install_keys(conn, &t.name)?.first() {
        let found = install_record(conn, install, "")?;
        if version_key(&found.version) == key {
            summary.push_str(&format!(
                "; {} is installed, the version registered",
                found.version
            ));
        } else {
            summary.push_str(&format!(
                "; {} is installed: trigger_upgrade('{}') upgrades it",
                found.version, t.name
            ));
        }
    }
    Ok(summary)
}

/// Removes every registered version of pack `pack` from the main database
/// of `conn`, in one savepoint; refused for a built-in pack and while the
/// pack is installed. Returns a one-line summary.
pub fn unregister_pack(conn: &Connection, pack: &str) -> Result<String> {
    in_savepoint(conn, "trigger_pack_unregister", || {
        if builtin::current(pack).is_some() {
            return Err(Error::invalid(format!(
                "argument 1 (pack): {pack} is a built-in pack; only packs registered with \
                 trigger_pack_register can be unregistered"
            )));
        }
        let mut versions = registry::versions(conn, pack)?;
        if versions.is_empty() {
            let registered = registry::names(conn)?;
            return Err(Error::invalid(format!(
                "argument 1 (pack): pack {} is not registered in this database (registered: {})",
                shorten(pack),
                if registered.is_empty() {
                    "none".to_string()
                } else {
                    registered.join(", ")
                }
            )));
        }
        if let Some(key) = install_keys(conn, pack)?.first() {
            let found = install_record(conn, key, "")?;
            return Err(Error::invalid(format!(
                "pack {} {} is installed; run {} first",
                key_label(key),
                found.version,
                call("trigger_uninstall", key)
            )));
        }
        registry::remove(conn, pack)?;
        versions.sort_by_key(|v| version_key(v));
        Ok(format!(
            "unregistered {pack}: {} {}",
            if versions.len() == 1 {
                "version"
            } else {
                "versions"
            },
            versions.join(", ")
        ))
    })
}

/// One row of `trigger_packs`.
#[derive(Debug, Clone, PartialEq)]
pub struct PackRow {
    pub name: String,
    /// The newest version, the one that installs.
    pub version: String,
    /// What the pack does; for a pack with a damaged row in the pack
    /// tables, what is damaged too.
    pub description: String,
    /// The defaults, as JSON; `None` for a registered pack whose template
    /// is damaged.
    pub params: Option<String>,
    pub installed: bool,
    /// How many times it is installed: once at most, but once per instance
    /// for a pack with an `-- instance:` parameter.
    pub installs: usize,
    /// The oldest installed version.
    pub installed_version: Option<String>,
    /// The install's parameters; for several installs, a JSON array of them.
    pub installed_params: Option<String>,
    /// Installed at an older version than [`PackRow::version`] that this
    /// database and extension know: `trigger_upgrade` upgrades it.
    pub upgradable: bool,
    /// Registered in the database rather than built in.
    pub registered: bool,
    /// The parameter that tells its installs apart, for a pack installed
    /// once per table (`-- instance:`).
    pub instance: Option<String>,
}

/// Every pack, built-in and registered, sorted by name, with its install
/// state in the main database of `conn`. A damaged row of the pack tables
/// (changed by hand) fails no listing: its pack is listed with the damage
/// in its description, which says where the repair is.
pub fn list(conn: &Connection) -> Result<Vec<PackRow>> {
    // A registered pack whose newest template cannot be read: its name, the
    // version stored and why.
    let mut packs: Vec<std::result::Result<Pack, (String, String, String)>> =
        catalog().iter().map(|t| Ok(Pack::builtin(t))).collect();
    for name in registry::names(conn)? {
        // A registered pack never shadows a built-in one of its name (one
        // an older release did not have, say).
        if builtin::taken(&name).is_some() {
            continue;
        }
        match registry::newest(conn, &name) {
            Ok(found) => packs.extend(found.map(|f| Ok(Pack::registered(f)))),
            Err(Error::Invalid(why)) => {
                let version = registry::versions(conn, &name)?
                    .into_iter()
                    .max_by_key(|v| version_key(v))
                    .unwrap_or_default();
                packs.push(Err((name, version, why)));
            }
            Err(e) => return Err(e),
        }
    }
    let name_of = |p: &std::result::Result<Pack, (String, String, String)>| match p {
        Ok(p) => p.template.name.clone(),
        Err((name, _, _)) => name.clone(),
    };
    packs.sort_by_key(name_of);
    packs
        .into_iter()
        .map(|p| {
            let name = name_of(&p);
            let mut found = Vec::new();
            let mut damage = Vec::new();
            // Records that cannot be read at all: installs still.
            let mut unreadable = 0;
            let mut by_instance = Map::new();
            for key in stored_keys(conn, &name)? {
                let key = match key {
                    Stored::Text(key) => key,
                    other => {
                        unreadable += 1;
                        damage.push(format!(
                            "an install record of it is damaged: {}; trigger_doctor names it",
                            not_text("pack", &other)
                        ));
                        continue;
                    }
                };
                match installed(conn, &key) {
                    Ok(Some(f)) => {
                        // Parameters the template of their version cannot
                        // read are damage too.
                        if let Ok(pack) = &p {
                            if let Ok(Some(t)) = pack.known_version(conn, &f.version) {
                                if let Err(e) = recorded_params(&t, &f) {
                                    damage.push(format!("{e}; trigger_doctor gives the repair"));
                                }
                            }
                        }
                        let params = serde_json::from_str(&f.params)
                            .unwrap_or_else(|_| Value::String(f.params.clone()));
                        by_instance
                            .insert(split_key(&key).1.unwrap_or_default().to_string(), params);
                        found.push(f);
                    }
                    Ok(None) => {}
                    Err(Error::Invalid(why)) => {
                        unreadable += 1;
                        damage.push(why);
                    }
                    Err(e) => return Err(e),
                }
            }
            // The oldest version; for a pack installed per table, each
            // install's parameters under its instance.
            found.sort_by_key(|f| version_key(&f.version));
            let per_instance = match &p {
                Ok(p) => p.template.instance.is_some(),
                Err(_) => by_instance.keys().any(|k| !k.is_empty()),
            };
            let installed_params = match (per_instance, &found[..]) {
                (_, []) => None,
                (false, [one, ..]) => Some(one.params.clone()),
                (true, _) => Some(Value::Object(by_instance).to_string()),
            };
            let installs = found.len() + unreadable;
            let installed_version = found.first().map(|f| f.version.clone());
            let Ok(p) = p else {
                let (name, version, why) = p.unwrap_err();
                return Ok(PackRow {
                    name,
                    version,
                    description: why,
                    params: None,
                    installed: installs > 0,
                    installs,
                    installed_version,
                    installed_params,
                    upgradable: false,
                    registered: true,
                    instance: None,
                });
            };
            let t = &p.template;
            let description = match &damage[..] {
                [] => t.description.clone(),
                _ => format!("{} ({})", t.description, damage.join("; ")),
            };
            Ok(PackRow {
                name,
                version: t.version.clone(),
                description,
                params: Some(t.defaults_json()),
                installed: installs > 0,
                installs,
                upgradable: found.iter().any(|f| {
                    compare_versions(&f.version, t) == Ordering::Less
                        && p.version(conn, &f.version).is_ok()
                }),
                installed_version,
                installed_params,
                registered: p.registered.is_some(),
                instance: t.instance.clone(),
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
        params TEXT, installed INTEGER, installed_version TEXT, installed_params TEXT, \
        upgradable INTEGER, registered INTEGER, instance TEXT)";

    fn rows(conn: &Connection, _after: Option<i64>) -> Result<Vec<Vec<rusqlite::types::Value>>> {
        use rusqlite::types::Value;
        Ok(list(conn)?
            .into_iter()
            .map(|p| {
                vec![
                    Value::Text(p.name),
                    Value::Text(p.version),
                    Value::Text(p.description),
                    p.params.map_or(Value::Null, Value::Text),
                    Value::Integer(p.installs as i64),
                    p.installed_version.map_or(Value::Null, Value::Text),
                    p.installed_params.map_or(Value::Null, Value::Text),
                    Value::Integer(p.upgradable.into()),
                    Value::Integer(p.registered.into()),
                    p.instance.map_or(Value::Null, Value::Text),
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
        o.kind.label(),
        display_name(params.text(&o.name_param))
    )
}

/// "trigger name on table", or "table name" for a table: how summaries
/// name one of a pack's objects with where it is.
fn object_on(o: &ObjectDef, params: &Params) -> String {
    match o.kind {
        ObjectKind::Table | ObjectKind::VirtualTable | ObjectKind::Scratch => {
            object_label(o, params)
        }
        _ => {
            let table = display_name(params.text(&o.table_param));
            format!("{} on {table}", object_label(o, params))
        }
    }
}

fn describe_objects(t: &Template, params: &Params) -> String {
    t.objects
        .iter()
        .map(|o| object_on(o, params))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The namespace a pack object's name lives in.
fn namespace_of(kind: ObjectKind) -> Namespace {
    match kind {
        ObjectKind::Trigger => Namespace::Triggers,
        ObjectKind::Index | ObjectKind::Table | ObjectKind::VirtualTable | ObjectKind::Scratch => {
            Namespace::Relations
        }
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
        // The column parameters, and the names of the idents parameters of
        // this table.
        let lists = t
            .params
            .iter()
            .filter(|p| p.table.as_deref() == Some(r.table_param.as_str()))
            .flat_map(|p| {
                let names = params.get(&p.name).as_array().cloned().unwrap_or_default();
                names
                    .into_iter()
                    .map(move |n| (p.name.as_str(), n.as_str().unwrap_or_default().to_string()))
            });
        let needed: Vec<(&str, String)> = r
            .column_params
            .iter()
            .map(|c| (c.as_str(), params.text(c).to_string()))
            .chain(lists)
            .collect();
        for (c, column) in &needed {
            let column = column.as_str();
            let present = columns.iter().any(|x| x.name.eq_ignore_ascii_case(column))
                || (["rowid", "oid", "_rowid_"]
                    .iter()
                    .any(|x| x.eq_ignore_ascii_case(column))
                    && found.has_rowid());
            let rowid = ["rowid", "oid", "_rowid_"]
                .iter()
                .any(|x| x.eq_ignore_ascii_case(column));
            if !present && rowid && found.without_rowid {
                return Err(Error::invalid(format!(
                    "pack {} needs column {} (parameter {c}) in table {}, but {} is a WITHOUT \
                     ROWID table, which has no rowid; pass its PRIMARY KEY column as parameter \
                     {c}",
                    t.name,
                    shorten(column),
                    shorten(table),
                    shorten(table)
                )));
            }
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

/// The column parameters a pack finds a row of its table by (`key`, and a
/// child row's `child_key`): rows may not share a value of the column.
const ROW_KEYS: [&str; 2] = ["key", "child_key"];

/// Fails when a table the pack needs cannot tell its rows apart as the
/// pack does: a column parameter called `key` or `child_key` names the
/// column a pack finds a row by, which rows may not share (they would be
/// taken for one another); a pack whose triggers read `new.rowid` or
/// `old.rowid` needs a table whose rows have one. Checked by a new install,
/// after [`check_requirements`], and by the doctor.
pub(super) fn check_rows_told_apart(
    conn: &Connection,
    t: &Template,
    params: &Params,
) -> Result<()> {
    for r in &t.requires {
        let table = params.text(&r.table_param);
        let found = ordinary_table(conn, table)?;
        for c in r
            .column_params
            .iter()
            .filter(|c| ROW_KEYS.contains(&c.as_str()))
        {
            let column = params.text(c);
            let told = crate::schema::identifies_rows(conn, &found.name, column)?;
            if let crate::schema::Told::UnderCollation { index, column: own } = &told {
                return Err(Error::invalid(format!(
                    "pack {} needs column {} (parameter {c}) to tell the rows of table {} \
                     apart: a unique index covers it, but under collation {}, while the column, \
                     which the pack compares, has collation {}, so values the index keeps apart \
                     can be equal for the pack; declare the index with the column's collation, \
                     or pass another column",
                    t.name,
                    shorten(column),
                    shorten(table),
                    shorten(index),
                    shorten(own)
                )));
            }
            if told == crate::schema::Told::No {
                return Err(Error::invalid(format!(
                    "pack {} needs column {} (parameter {c}) to tell the rows of table {} \
                     apart: the rowid, the PRIMARY KEY, or a column a UNIQUE constraint or \
                     index covers alone; it is none of those, so rows that share a value of \
                     it would be taken for one another; pass such a column",
                    t.name,
                    shorten(column),
                    shorten(table)
                )));
            }
            if crate::schema::may_hold_null(conn, &found, column)? {
                return Err(Error::invalid(format!(
                    "pack {} needs column {} (parameter {c}) to tell the rows of table {} \
                     apart, but it may hold NULL, which any number of rows may share, and \
                     the pack would miss the rows whose key is NULL; pass the rowid, an \
                     INTEGER PRIMARY KEY or a column declared NOT NULL",
                    t.name,
                    shorten(column),
                    shorten(table)
                )));
            }
        }
        if found.has_rowid() {
            continue;
        }
        for o in t
            .objects
            .iter()
            .filter(|o| o.kind == ObjectKind::Trigger && o.table_param == r.table_param)
        {
            if reads_rowid(&t.stored_sql(o, params)?) {
                return Err(Error::invalid(format!(
                    "pack {} needs a rowid table (parameter {}): {} is a WITHOUT ROWID table, \
                     and the pack's triggers follow its rows by their rowid",
                    t.name,
                    r.table_param,
                    shorten(table)
                )));
            }
        }
    }
    Ok(())
}

/// Whether `sql` reads `new.rowid` or `old.rowid` (by any of the rowid's
/// names, any letter case).
fn reads_rowid(sql: &str) -> bool {
    use crate::sql::Kind;
    let words: Vec<String> = crate::sql::tokens(sql)
        .filter(|t| !matches!(t.kind, Kind::Space | Kind::Comment))
        .map(|t| sql[t.start..t.end].to_ascii_lowercase())
        .collect();
    words.windows(3).any(|w| {
        matches!(w[0].as_str(), "new" | "old")
            && w[1] == "."
            && matches!(w[2].as_str(), "rowid" | "oid" | "_rowid_")
    })
}

/// Fails when a trigger or index the pack would create already exists, so
/// an install never adopts (and a later uninstall never drops) a user's object.
fn check_names_free(conn: &Connection, t: &Template, params: &Params) -> Result<()> {
    check_names_distinct(t, params)?;
    for o in &t.objects {
        let name = params.text(&o.name_param);
        if o.kind == ObjectKind::Table && matches!(presence(conn, t, o, params)?, Presence::Ours) {
            // A table of the pack's shape is used as it is.
            continue;
        }
        if let Some((kind, on)) = schema_entry(conn, namespace_of(o.kind), name)? {
            // A trigger or index is on a table; a table or view is itself.
            let on = match kind.as_str() {
                "trigger" | "index" => format!(" on {}", shorten(&on)),
                _ => String::new(),
            };
            let (found, fix) = if o.kind == ObjectKind::Table && kind == "table" {
                let columns = crate::sql::declared_columns(&t.stored_sql(o, params)?)
                    .iter()
                    .map(|c| shorten(c))
                    .collect::<Vec<_>>()
                    .join(", ");
                (
                    format!(
                        "a table {} already exists that is not of the pack's shape (an \
                         ordinary table with the columns {columns})",
                        shorten(name)
                    ),
                    ", or give that table those columns",
                )
            } else {
                (format!("{kind} {}{on} already exists", shorten(name)), "")
            };
            return Err(Error::invalid(format!(
                "pack {} would create {} {} (parameter {}), but {found}; pass another name in \
                 params_json{fix}",
                t.name,
                o.kind.label(),
                shorten(name),
                o.name_param,
            )));
        }
    }
    Ok(())
}

/// Fails when two of the pack's objects would get one name (SQLite compares
/// names in ASCII case only): the second `CREATE ... IF NOT EXISTS` would
/// silently create nothing.
fn check_names_distinct(t: &Template, params: &Params) -> Result<()> {
    for (i, a) in t.objects.iter().enumerate() {
        for b in &t.objects[..i] {
            let name = params.text(&a.name_param);
            if namespace_of(a.kind) == namespace_of(b.kind)
                && name.eq_ignore_ascii_case(params.text(&b.name_param))
            {
                return Err(Error::invalid(format!(
                    "parameters {} and {} of pack {} both name {}; give each object a name \
                     of its own",
                    b.name_param,
                    a.name_param,
                    t.name,
                    shorten(name)
                )));
            }
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
            [
                "counter_cache",
                "counts",
                "default_album",
                "fsm",
                "fts_sync",
                "history",
                "protect",
                "soft_delete",
                "task_state",
                "touch"
            ]
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

    /// The shipped `sql/<pack>.sql` files are the packs rendered with their
    /// defaults. `SQLITE_TRIGGERS_BLESS=1 cargo test` rewrites them.
    #[test]
    fn shipped_sql_files_match_the_templates() {
        for t in catalog() {
            let expected = rendered_file(t);
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

    /// `tests/fixtures/default_album-1.0.0.sql` is the plain file release
    /// 0.1.0 shipped as `sql/default_album.sql`: rendered from the older
    /// template, so that template is the very 1.0.0 that databases hold.
    /// The upgrade test runs that file in the sqlite3 shell's stead.
    #[test]
    fn the_older_template_is_what_its_plain_file_shipped() {
        let root = env!("CARGO_MANIFEST_DIR");
        let old = builtin::version("default_album", "1.0.0").unwrap();
        let shipped =
            std::fs::read_to_string(format!("{root}/tests/fixtures/default_album-1.0.0.sql"))
                .unwrap();
        assert_eq!(rendered_file(old), shipped);
        let slt = std::fs::read_to_string(format!("{root}/sqlite-tests/pack_upgrade.slt")).unwrap();
        assert!(
            slt.contains(&shipped),
            "pack_upgrade.slt runs the 1.0.0 file as it shipped"
        );
    }

    /// What `trigger_pack_sql(pack)` gives where the pack's columns have
    /// the types of the seed schema (integers): the defaults, untouched.
    fn defaults_sql(pack: &str) -> Result<String> {
        let t = builtin::current(pack).unwrap();
        render(&Pack::builtin(t), &t.resolve_object(t.example.clone())?)
    }

    /// The plain file of a pack's version: the SQL with its defaults, and
    /// its example's values for what install works out from the schema.
    fn rendered_file(t: &'static Template) -> String {
        let pack = &t.name;
        let example = if t.example.is_empty() {
            String::new()
        } else {
            format!(
                "-- What install works out from your table's schema is written here as the\n\
                 -- template's example gives it: {}\n\
                 -- For your table, take trigger_pack_sql('{pack}', params_json) instead.\n",
                serde_json::Value::Object(t.example.clone())
            )
        };
        format!(
            "-- Pack {pack} with its default parameters, generated from sql/packs/{pack}.sql.\n\
             -- Runs in any sqlite3 shell without the extension: sqlite3 -bail app.db < sql/{pack}.sql\n\
             -- and creates what SELECT trigger_install('{pack}') creates.\n\
             {example}BEGIN;\n{}COMMIT;\n",
            render(&Pack::builtin(t), &t.resolve_object(t.example.clone()).unwrap()).unwrap()
        )
    }
}
