//! What `trigger_doctor` finds wrong with the packs installed in the main
//! database. For each install record: a pack, or a version of it, that this
//! database and extension do not know; a damaged record; a table or column
//! the pack needs that is gone; and each of the pack's triggers and indexes
//! that is missing, was moved by a rename, or is not the pack's. An install
//! of an older version is not a problem (`trigger_packs` shows it as
//! upgradable).
//!
//! The objects are judged as uninstall and upgrade judge them
//! ([`presence`]), so a row here is exactly what would stop those calls or
//! what they would leave undone. It only reads; each row names the call
//! that repairs it.
use std::borrow::Cow;
use std::cmp::Ordering;

use rusqlite::Connection;

use super::template::{ObjectDef, ObjectKind, Params, Template};
use super::{
    call, check_requirements, check_rows_told_apart, compare_versions, install_key, installs_shape,
    is_rowid_name, key_label, lookup, object_label, object_on, presence, presences,
    recorded_params, registry, rewritten_by, split_key, typed, Installed, Pack, Presence, Stored,
    INSTALLS_TABLE,
};
use crate::problem::Problem;
use crate::schema::table_exists;
use crate::sql::{display_name, json_object, literal, quote_ident, quote_text};
use crate::{Error, Result};

/// Every problem of every pack installed in the main database of `conn`,
/// in the order of the packs' names, then each registered template that
/// cannot be read of a pack not installed.
pub(crate) fn problems(conn: &Connection) -> Result<Vec<Problem>> {
    let mut found = install_problems(conn)?;
    // A damaged template of a pack not installed (an installed one's is
    // named with its install).
    for p in template_problems(conn)? {
        if !found.iter().any(|f| f.problem == p.problem) {
            found.push(p);
        }
    }
    Ok(found)
}

/// The problems of the install records, in the order of their keys.
fn install_problems(conn: &Connection) -> Result<Vec<Problem>> {
    if let Some(shape) = installs_shape(conn)? {
        return Ok(vec![Problem {
            kind: "pack",
            object: INSTALLS_TABLE.to_string(),
            problem: format!("{shape}, so no installed pack can be read, upgraded or uninstalled"),
            repair: format!(
                "give {INSTALLS_TABLE} back its columns pack, version and params (the table \
                 trigger_pack_sql shows), or rename it if it is not the packs'"
            ),
        }]);
    }
    if !table_exists(conn, INSTALLS_TABLE)? {
        return Ok(Vec::new());
    }
    let reading = |e| Error::sqlite(format!("reading {INSTALLS_TABLE}"))(e);
    let mut stmt = conn
        .prepare(&format!(
            "SELECT pack, version, params FROM main.{INSTALLS_TABLE} ORDER BY pack"
        ))
        .map_err(reading)?;
    let records: Vec<[Stored; 3]> = stmt
        .query_map([], |r| {
            Ok([
                Stored::read(r, 0)?,
                Stored::read(r, 1)?,
                Stored::read(r, 2)?,
            ])
        })
        .and_then(|rows| rows.collect())
        .map_err(reading)?;
    let mut found = Vec::new();
    for record in records {
        found.extend(record_problems(conn, record)?);
    }
    Ok(found)
}

/// A row for each row of the templates table whose pack or version is not
/// UTF-8 text: it registers no version of any pack, so no call sees it.
fn damaged_template_keys(conn: &Connection) -> Result<Vec<Problem>> {
    // Read only when the table has the registry's shape (template_problems
    // names one of another).
    let table = registry::TEMPLATES_TABLE;
    if !table_exists(conn, table)? || registry::shape_problem(conn)?.is_some() {
        return Ok(Vec::new());
    }
    let reading = |e| Error::sqlite(format!("reading {table}"))(e);
    let mut stmt = conn
        .prepare(&format!(
            "SELECT rowid, pack, version FROM main.{table} ORDER BY rowid"
        ))
        .map_err(reading)?;
    let found: Vec<(i64, Stored, Stored)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, Stored::read(r, 1)?, Stored::read(r, 2)?))
        })
        .and_then(|rows| rows.collect())
        .map_err(reading)?;
    let mut rows = Vec::new();
    for (rowid, pack, version) in found {
        let damage: Vec<String> = [("pack", &pack), ("version", &version)]
            .into_iter()
            .filter(|(_, v)| !matches!(v, Stored::Text(_)))
            .map(|(column, v)| super::not_text(column, v))
            .collect();
        if damage.is_empty() {
            continue;
        }
        rows.push(Problem {
            kind: "pack",
            object: shown(&pack),
            problem: format!(
                "row {rowid} of {table} is damaged: {}, so it registers no version of any \
                 pack, and the template it holds is seen by no call",
                damage.join(" and ")
            ),
            repair: format!(
                "DELETE FROM main.{table} WHERE rowid = {rowid}; then register its template again \
                 with trigger_pack_register"
            ),
        });
    }
    Ok(rows)
}

/// A row for each registered template that cannot be read: a value not
/// UTF-8 text, a template that no longer parses, or one of another pack or
/// version than its row's. A row named like a built-in pack is no pack.
fn template_problems(conn: &Connection) -> Result<Vec<Problem>> {
    if let Some(shape) = registry::shape_problem(conn)? {
        let table = registry::TEMPLATES_TABLE;
        return Ok(vec![Problem {
            kind: "pack",
            object: table.to_string(),
            problem: format!(
                "{shape}, so no registered pack can be read, installed, upgraded or \
                 uninstalled, and none can be registered"
            ),
            repair: format!(
                "give {table} back its columns pack, version and template (the table \
                 trigger_pack_sql of a registered pack shows), or rename it if it is not the \
                 packs'"
            ),
        }]);
    }
    let mut rows = damaged_template_keys(conn)?;
    for name in registry::names(conn)? {
        if super::builtin::taken(&name).is_some() {
            continue;
        }
        for version in registry::versions(conn, &name)? {
            if let Err(damaged) = invalid(registry::version(conn, &name, &version))? {
                rows.push(Problem {
                    kind: "pack",
                    object: name.clone(),
                    problem: damaged,
                    repair: register_again(&name),
                });
            }
        }
    }
    Ok(rows)
}

/// What cannot be done to a pack whose install cannot be read.
const STUCK: &str = "triggers and indexes cannot be checked, upgraded or uninstalled";

/// The problems of one install record: (pack, version, params), its
/// `pack` being the install's key (see [`install_key`]).
fn record_problems(conn: &Connection, record: [Stored; 3]) -> Result<Vec<Problem>> {
    let [pack, version, params] = record;
    let key = match &pack {
        Stored::Text(key) => key.clone(),
        other => return Ok(vec![not_text(&shown(other), "pack", other)]),
    };
    for (column, value) in [("version", &version), ("params", &params)] {
        if !matches!(value, Stored::Text(_)) {
            return Ok(vec![not_text(&key_label(&key), column, value)]);
        }
    }
    let found = Installed {
        version: shown(&version),
        params: shown(&params),
    };
    let problem = |problem: String, repair: String| Problem {
        kind: "pack",
        object: key_label(&key),
        problem,
        repair,
    };
    match readable(conn, &key, &found)? {
        Err((what, fix)) => Ok(vec![problem(what, fix)]),
        Ok((p, t, params)) => Ok(schema_problems(conn, &key, &p, &t, &params, &found)?
            .into_iter()
            .map(|(what, fix)| problem(what, fix))
            .collect()),
    }
}

/// An install that can be read: the pack, the template of the version
/// installed and the parameters recorded; or the problem that it cannot,
/// and its repair.
type Readable = std::result::Result<(Pack, Cow<'static, Template>, Params), (String, String)>;

/// The install of key `key`, as far as it can be read.
fn readable(conn: &Connection, key: &str, found: &Installed) -> Result<Readable> {
    let (name, label, version) = (split_key(key).0, key_label(key), &found.version);
    let p = match invalid(lookup(conn, name))? {
        Ok(Some(p)) => p,
        Ok(None) => {
            return Ok(Err((
                format!(
                    "pack {label} {version} is installed, but this extension has no built-in \
                     pack {name} and {} holds no template of it, so its {STUCK}",
                    registry::TEMPLATES_TABLE
                ),
                format!(
                    "register its template again: SELECT trigger_pack_register('<the template \
                     file of {name} {version}>'); or use the sqlite-triggers release that has \
                     pack {name}"
                ),
            )))
        }
        Err(damaged) => return Ok(Err((damaged, register_again(name)))),
    };
    let newest = &p.template.version;
    if super::template::version_key(version).is_none() {
        // No release has such a version: the record was changed by hand.
        return Ok(Err((
            format!(
                "the install record of pack {label} is damaged: its version {} is not a version \
                 (numbers separated by dots), so the pack's {STUCK}",
                crate::sql::shorten(version)
            ),
            format!(
                "correct its row of main.{INSTALLS_TABLE}: version holds the version installed \
                 (the version of pack {name} whose objects the schema has; {newest} is the newest)"
            ),
        )));
    }
    let t = match invalid(p.known_version(conn, version))? {
        Ok(Some(t)) => t,
        Ok(None) => {
            let unknown = match compare_versions(version, &p.template) {
                Ordering::Greater => format!(
                    "newer than {newest}, the newest version this database and extension know"
                ),
                _ => format!(
                    "a version this database and extension do not know (the newest is {newest})"
                ),
            };
            return Ok(Err((
                format!("pack {label} {version} is installed, {unknown}, so its {STUCK}"),
                version_source(&p, version),
            )));
        }
        Err(damaged) => return Ok(Err((damaged, register_again(name)))),
    };
    let params = match recorded_params(&t, found) {
        Ok(params) => params,
        Err(damaged) => {
            return Ok(Err((
                format!("{damaged}; until it is repaired, the pack's {STUCK}"),
                restore_params(conn, &t, key)?,
            )))
        }
    };
    // The key is the pack's name, and the instance its parameters name.
    let made = install_key(&t, &params);
    if made != key {
        return Ok(Err((
            format!(
                "the install record of pack {label} is damaged: its parameters make the key {}, \
                 not {}; until it is repaired, the pack's {STUCK}",
                display_name(&made),
                display_name(key)
            ),
            format!(
                "UPDATE main.{INSTALLS_TABLE} SET pack = {} WHERE pack = {}",
                quote_text(&made)?,
                quote_text(key)?
            ),
        )));
    }
    Ok(Ok((p, t, params)))
}

/// What is wrong between an install that can be read and the schema: a
/// table or column it needs that is gone, a value whose column changed its
/// type, and each object that is not there as the pack's. Every row has
/// the pack's one repair, which for an object not the pack's first drops it.
fn schema_problems(
    conn: &Connection,
    key: &str,
    p: &Pack,
    t: &Template,
    params: &Params,
    found: &Installed,
) -> Result<Vec<(String, String)>> {
    let name = &t.name;
    let mut rows = Vec::new();
    let missing_requirement = invalid(check_requirements(conn, t, params))?.err();
    let retyped = match missing_requirement {
        Some(_) => Ok(Vec::new()),
        None => invalid(retyped(conn, t, params))?,
    };
    let objects = presences(conn, t, params)?;
    // Each trigger or index of the pack's names that is not the SQL the
    // pack created (rewritten by a rename, or edited) is dropped by the
    // repair first, all in one go, by name: uninstall drops only the pack's
    // own SQL, and a repair that dropped one would stop at the next.
    let mut drops = Vec::new();
    for (o, at) in &objects {
        if let Presence::Renamed(found, _) | Presence::Foreign(found) = at {
            if found.kind == o.kind.name()
                && matches!(o.kind, ObjectKind::Trigger | ObjectKind::Index)
            {
                drops.push(format!(
                    "DROP {} main.{}; ",
                    o.kind.name().to_uppercase(),
                    quote_ident(params.text(&o.name_param))?
                ));
            }
        }
    }
    let drops = drops.concat();
    // One way out for the whole pack: installed anew, under the names the
    // schema has now when a rename (or drop) took a name it needs, with its
    // values typed anew when a column's type changed; else recreated with
    // its own parameters, by the call that does that for its version.
    let renamed = missing_requirement.is_some()
        || objects
            .iter()
            .any(|(_, at)| matches!(at, Presence::Renamed(..)));
    let given = as_given(t, found)?;
    let q = quote_text(name)?;
    // Uninstall, then `between`, then install with `params`.
    let reinstall_after = |between: &str, params: &str| {
        format!(
            "SELECT {}; {between}SELECT trigger_install({q}, {params})",
            call("trigger_uninstall", key)
        )
    };
    let reinstall = |params: &str| reinstall_after("", params);
    // The key the pack finds rows by no longer tells them apart: a unique
    // index dropped, a NOT NULL lost in a rebuild, a rowid table rebuilt
    // without one. Only an install with another key (or the index back)
    // repairs that.
    let key_rule = match missing_requirement {
        Some(_) => None,
        None => invalid(check_rows_told_apart(conn, t, params))?.err(),
    };
    let reinstall_given = reinstall(&quote_text(&given)?);
    let replace_rows = if renamed {
        Vec::new()
    } else {
        replace_problems(conn, key, t, params, &reinstall_given)?
    };
    // Constraints changed since the install: recreating the triggers from
    // the record would follow the old ones.
    let constraints_changed = replace_rows.iter().any(|(_, fix)| *fix == reinstall_given);
    let repair = if renamed {
        // A table the pack keeps data in (history's) keeps the old column
        // names, and the install under the new ones needs them renamed too,
        // once the pack's triggers are gone (a rename rewrites them).
        let changes: Vec<_> = objects
            .iter()
            .filter_map(|(_, at)| match at {
                Presence::Renamed(_, changes) => Some(changes),
                _ => None,
            })
            .flatten()
            .filter(|c| c.table.is_some() && !is_rowid_name(&c.old))
            .collect();
        let mut between = String::new();
        for kept in t.objects.iter().filter(|k| k.kind == ObjectKind::Table) {
            let table = params.text(&kept.name_param);
            let columns = crate::schema::columns(conn, table)?;
            let has = |n: &str| columns.iter().any(|x| x.name.eq_ignore_ascii_case(n));
            for c in &changes {
                let step = format!(
                    "ALTER TABLE main.{} RENAME COLUMN {} TO {}; ",
                    quote_ident(table)?,
                    quote_ident(&c.old)?,
                    quote_ident(&c.new)?
                );
                if has(&c.old) && !has(&c.new) && !between.contains(&step) {
                    between.push_str(&step);
                }
            }
        }
        reinstall_after(&between, "'<params with the names as they are now>'")
    } else if key_rule.is_some() {
        reinstall("'<params whose key tells the rows apart>'")
    } else if retyped.is_err() {
        reinstall("'<params with values that fit the columns as they are now>'")
    } else if retyped.as_ref().is_ok_and(|r| !r.is_empty()) || constraints_changed {
        reinstall_given.clone()
    } else if compare_versions(&found.version, &p.template) == Ordering::Less {
        // trigger_install refuses an older version; an upgrade creates
        // what was dropped.
        format!("SELECT {}", call("trigger_upgrade", key))
    } else {
        format!("SELECT trigger_install({q}, {})", quote_text(&given)?)
    };
    let repair = format!("{drops}{repair}");
    if let Some(why) = missing_requirement {
        // A rowid table rebuilt WITHOUT ROWID loses no name but the rowid.
        let since = if why.contains("WITHOUT ROWID") {
            "the table was rebuilt WITHOUT ROWID since the pack was installed"
        } else {
            "it was renamed or dropped since the pack was installed"
        };
        rows.push((format!("{why}; {since}"), repair.clone()));
    } else if let Some(why) = key_rule {
        rows.push((
            format!(
                "{why}; the table changed since the pack was installed (a unique index on \
                 that column alone, the column NOT NULL, makes it one again)"
            ),
            repair.clone(),
        ));
    }
    match retyped {
        Err(why) => rows.push((
            format!("a column's type changed since the pack was installed: {why}"),
            repair.clone(),
        )),
        Ok(changed) => rows.extend(changed.into_iter().map(|why| (why, repair.clone()))),
    }
    for (o, at) in objects {
        rows.extend(object_problem(o, &at, params, &key_label(key), &repair)?);
    }
    rows.extend(
        replace_rows
            .into_iter()
            .map(|(what, fix)| (what, format!("{drops}{fix}"))),
    );
    Ok(rows)
}

/// For a pack that follows the rows an `INSERT OR REPLACE` deletes (a
/// `conflicts` parameter): the table's unique constraints changed since the
/// install, so the ones added are not followed; or one cannot be followed
/// (it is on an expression) while this connection's `recursive_triggers`,
/// which would fire the delete triggers instead, is off.
fn replace_problems(
    conn: &Connection,
    key: &str,
    t: &Template,
    params: &Params,
    reinstall: &str,
) -> Result<Vec<(String, String)>> {
    let mut rows = Vec::new();
    for p in t
        .params
        .iter()
        .filter(|p| p.kind.worked_out_from_constraints())
    {
        let table = params.text(p.table.as_deref().unwrap_or_default());
        if !table_exists(conn, table)? {
            continue;
        }
        let replaced = crate::conflicts::replaced_rows(conn, table)?;
        let recorded = params.get(&p.name);
        if !recorded.is_null() && *recorded != super::from_constraints(p.kind, &replaced) {
            let what = format!(
                "the PRIMARY KEY or UNIQUE constraints of table {} changed since pack {} was \
                 installed, so the rows an INSERT OR REPLACE or UPDATE OR REPLACE deletes \
                 through the new ones are not followed",
                display_name(table),
                key_label(key)
            );
            // conflicts and conflict_columns change together: one row.
            if !rows.iter().any(|(w, _)| *w == what) {
                rows.push((what, reinstall.to_string()));
            }
        }
        if p.kind != super::template::ParamKind::Conflicts {
            continue;
        }
        let Some(why) = replaced.unfollowed else {
            continue;
        };
        let recursive: bool = conn
            .query_row("PRAGMA recursive_triggers", [], |r| r.get(0))
            .map_err(Error::sqlite("reading recursive_triggers"))?;
        if !recursive {
            rows.push((
                format!(
                    "{why}; pack {} follows those rows through the delete triggers an INSERT \
                     OR REPLACE fires only while recursive_triggers is on, and it is off on \
                     this connection",
                    key_label(key)
                ),
                format!(
                    "PRAGMA recursive_triggers = ON on every connection that writes {}, or \
                     make that index a plain (not UNIQUE) one",
                    display_name(table)
                ),
            ));
        }
    }
    Ok(rows)
}

/// The recorded parameters as a call passes them again: those install
/// works out from the schema left out (it refuses some of them, and takes
/// the recorded ones for what is left out).
fn as_given(t: &Template, found: &Installed) -> Result<String> {
    let mut given = json_object(&found.params, "params")?;
    for p in t.params.iter().filter(|p| p.derived()) {
        given.remove(&p.name);
    }
    Ok(serde_json::Value::Object(given).to_string())
}

/// The value parameters whose column changed its type since the install,
/// so that the pack's SQL compares or assigns a value of another type than
/// the column's (`new.state = 2` never matches a TEXT column's `'2'`): one
/// sentence for each. A value that no longer fits its column at all is an
/// error, as it is for an install.
fn retyped(conn: &Connection, t: &Template, params: &Params) -> Result<Vec<String>> {
    let now = typed(conn, t, params)?;
    let mut changed = Vec::new();
    for p in &t.params {
        let Some((table, column)) = &p.column else {
            continue;
        };
        if now.get(&p.name) != params.get(&p.name) {
            changed.push(format!(
                "parameter {} holds {}, typed for column {} of {} when the pack was installed; \
                 the column's type changed since, and it takes {} now, so the pack's SQL \
                 compares or assigns a value of another type than the column's",
                p.name,
                literal(params.get(&p.name))?,
                display_name(params.text(column)),
                display_name(params.text(table)),
                literal(now.get(&p.name))?
            ));
        }
    }
    Ok(changed)
}

/// A check's answer, with bad input (not a failure of SQLite) as the
/// message of the problem to report.
fn invalid<T>(found: Result<T>) -> Result<std::result::Result<T, String>> {
    match found {
        Ok(found) => Ok(Ok(found)),
        Err(Error::Invalid(why)) => Ok(Err(why)),
        Err(e) => Err(e),
    }
}

/// What is wrong with one of the pack's objects, and its repair (`repair`
/// being the pack's); `None` when it is the pack's own.
fn object_problem(
    o: &ObjectDef,
    at: &Presence,
    params: &Params,
    pack: &str,
    repair: &str,
) -> Result<Option<(String, String)>> {
    let table_kind = !matches!(o.kind, ObjectKind::Trigger | ObjectKind::Index);
    Ok(Some(match at {
        Presence::Ours => return Ok(None),
        Presence::Absent => (
            format!(
                "{} is missing (dropped by hand{}), so {}",
                object_on(o, params),
                if table_kind {
                    ""
                } else {
                    ", or with its table, as a rebuild that copies the table into a new one does"
                },
                match o.kind {
                    ObjectKind::Trigger => "it no longer fires",
                    ObjectKind::Index => "the lookups it served scan the table",
                    ObjectKind::Table | ObjectKind::VirtualTable | ObjectKind::Scratch => {
                        "the writes that fire the pack's triggers that use it fail"
                    }
                }
            ),
            repair.to_string(),
        ),
        Presence::Renamed(moved, changes) => (
            format!(
                "{} was {}: it still works, but no longer as the install records it, so the \
                 pack can be neither repaired nor upgraded in place",
                object_label(o, params),
                if moved
                    .table
                    .eq_ignore_ascii_case(params.text(&o.table_param))
                {
                    rewritten_by(changes).to_string()
                } else {
                    format!("moved to {} by a rename", display_name(&moved.table))
                }
            ),
            repair.to_string(),
        ),
        Presence::Foreign(found) => {
            let (kind, name) = (o.kind.label(), params.text(&o.name_param));
            // A trigger or an index of the pack's name is dropped for it; a
            // table may hold data, so what to do with it is the user's call.
            // A trigger or an index the repair drops first.
            let fix = if found.kind == o.kind.name() && !table_kind {
                repair.to_string()
            } else {
                format!(
                    "rename or drop {} {} yourself (it is not the pack's), then {repair}",
                    found.kind,
                    display_name(&found.name)
                )
            };
            let on = match found.kind.as_str() {
                "trigger" | "index" => format!(" on {}", display_name(&found.table)),
                _ => String::new(),
            };
            let why = match o.kind {
                ObjectKind::Table => {
                    "it lacks a column the pack's table has, or is not an \
                                      ordinary table"
                }
                _ => "its SQL is not the pack's: replaced or edited since",
            };
            (
                format!(
                    "{} {}{on} is not the {kind} pack {pack} created (parameter {}; {why}), so \
                     the pack's {kind} is not there, and uninstalling or upgrading the pack stops \
                     at it",
                    found.kind,
                    display_name(name),
                    o.name_param
                ),
                fix,
            )
        }
    }))
}

/// The repair of a damaged registered template.
fn register_again(pack: &str) -> String {
    format!(
        "delete the damaged row of {} (pack {pack}), then register that version's template \
         again with trigger_pack_register",
        registry::TEMPLATES_TABLE
    )
}

/// Where the template of an installed version this database and extension
/// do not know can come from.
fn version_source(p: &Pack, version: &str) -> String {
    let name = &p.template.name;
    match p.registered {
        Some(_) => format!(
            "register that version's template: SELECT trigger_pack_register('<the template file \
             of {name} {version}>')"
        ),
        None => format!("use the sqlite-triggers release whose pack {name} has version {version}"),
    }
}

/// The repair of a damaged install record: the parameters it was installed
/// with, written back. When every object of the pack is there as the
/// pack's defaults make it, those are the parameters, and the call is
/// complete.
fn restore_params(conn: &Connection, t: &Template, key: &str) -> Result<String> {
    let q = quote_text(key)?;
    let update = |params: &str| {
        format!("UPDATE main.{INSTALLS_TABLE} SET params = {params} WHERE pack = {q}")
    };
    let defaults = t.resolve(None).and_then(|d| typed(conn, t, &d));
    if let Ok(defaults) = defaults {
        let mut all_ours = !t.objects.is_empty() && install_key(t, &defaults) == key;
        for o in &t.objects {
            all_ours &= matches!(presence(conn, t, o, &defaults)?, Presence::Ours);
        }
        if all_ours {
            return Ok(update(&quote_text(&defaults.to_json())?));
        }
    }
    Ok(update(
        "'<the JSON object of the parameters it was installed with>'",
    ))
}

/// The problem of a record whose `column` does not hold text.
fn not_text(object: &str, column: &str, value: &Stored) -> Problem {
    let why = super::not_text(column, value);
    Problem {
        kind: "pack",
        object: object.to_string(),
        problem: format!(
            "the install record of pack {object} is damaged: {why}, so the pack's {STUCK}"
        ),
        repair: format!(
            "correct its row of main.{INSTALLS_TABLE}: pack, version and params hold the pack's \
             name, the version installed and the JSON object of its parameters, as text"
        ),
    }
}

/// A value of the install record as text.
fn shown(value: &Stored) -> String {
    match value {
        Stored::Null => "NULL".to_string(),
        Stored::Integer(i) => i.to_string(),
        Stored::Real(f) => f.to_string(),
        Stored::Text(t) => t.clone(),
        Stored::Blob(b) | Stored::NotUtf8(b) => String::from_utf8_lossy(b).into_owned(),
    }
}
