//! Reading a pack template: the built-in ones of `sql/packs/` and the ones a
//! team registers (`trigger_pack_register`) alike. Every error names the
//! template line it is about, and the parameter where one is at fault.
//!
//! A template is a header, then the SQL body:
//!
//! ```text
//! -- pack: NAME
//! -- version: 1.0.0
//! -- description: one line
//! -- param: NAME | ident|text|value(TABLE_PARAM.COLUMN_PARAM) | DEFAULT (JSON) | what it is
//! -- requires: TABLE_PARAM | COLUMN_PARAM ...
//! -- object: trigger|index | NAME_PARAM | TABLE_PARAM
//! --
//! CREATE TRIGGER IF NOT EXISTS main.{{NAME_PARAM}} ... ON {{TABLE_PARAM}} ... END;
//! ```
//!
//! The body is checked so that it can only ever create the objects the
//! header declares, whatever the parameter values: it holds nothing but one
//! `CREATE TRIGGER|[UNIQUE] INDEX IF NOT EXISTS main.{{NAME_PARAM}} … ON
//! {{TABLE_PARAM}}` statement per `-- object:` line (and comments), and
//! placeholders stand only in the SQL itself, where each value is one quoted
//! token, never in a comment or a quoted string (where an identifier's
//! newline would end the comment, or its quotes the string).
use serde_json::{Map, Value};

use super::blocks::{self, Node};
use super::template::{
    ObjectDef, ObjectKind, ParamDef, ParamKind, Requirement, Template, MAX_IDENTS,
};
use crate::sql::{shorten, tokens, Kind};
use crate::{Error, Result};

/// The keys a header line may have.
const HEADER_KEYS: &str = "pack, version, description, instance, param, requires, object, example";

/// How each statement of a body begins, the kind of object it creates, and
/// the words SQLite stores in `sqlite_schema.sql` before the object's name.
const CREATES: [(&str, ObjectKind, &str); 5] = [
    (
        "CREATE TRIGGER IF NOT EXISTS main.",
        ObjectKind::Trigger,
        "CREATE TRIGGER",
    ),
    (
        "CREATE INDEX IF NOT EXISTS main.",
        ObjectKind::Index,
        "CREATE INDEX",
    ),
    (
        "CREATE UNIQUE INDEX IF NOT EXISTS main.",
        ObjectKind::Index,
        "CREATE UNIQUE INDEX",
    ),
    (
        "CREATE TABLE IF NOT EXISTS main.",
        ObjectKind::Table,
        "CREATE TABLE",
    ),
    (
        "CREATE VIRTUAL TABLE IF NOT EXISTS main.",
        ObjectKind::VirtualTable,
        "CREATE VIRTUAL TABLE",
    ),
];

/// How a data statement begins: it writes rows of a table the pack needs
/// or creates, named by a placeholder (`UPDATE {{TABLE_PARAM}} …`).
const DATA: [&str; 4] = [
    "UPDATE ",
    "INSERT INTO ",
    "INSERT OR REPLACE INTO ",
    "DELETE FROM ",
];

/// The line that starts the statements uninstall runs.
const ON_UNINSTALL: &str = "-- on uninstall:";

/// The kinds of parameter, as an error suggests them.
const KINDS: &str = "ident, text, value(TABLE_PARAM.COLUMN_PARAM), idents(TABLE_PARAM), \
                     choice(WORD, WORD, ...), expr, transitions(TABLE_PARAM.COLUMN_PARAM), \
                     conflicts(TABLE_PARAM) or conflict_columns(TABLE_PARAM)";

/// The longest pack and parameter name.
const MAX_NAME_CHARS: usize = 64;

fn at(line: usize, what: impl std::fmt::Display) -> Error {
    Error::invalid(format!("line {line}: {what}"))
}

/// A `-- KEY: VALUE` line of the header; `None` where the header ends.
fn header_line(line: &str) -> Option<(&str, &str)> {
    line.trim_end()
        .strip_prefix("-- ")
        .and_then(|l| l.split_once(": "))
        .filter(|(k, _)| !k.is_empty() && !k.contains(' '))
}

impl Template {
    /// Parses and checks a template's text. Errors start with `line N: `.
    pub fn parse(text: &str) -> Result<Template> {
        let mut pack: Option<(usize, String)> = None;
        let mut version: Option<(usize, String)> = None;
        let mut description: Option<(usize, String)> = None;
        let mut instance: Option<(usize, String)> = None;
        let mut example: Option<(usize, String)> = None;
        let mut params: Vec<ParamDef> = Vec::new();
        let mut requires: Vec<Requirement> = Vec::new();
        let mut objects: Vec<ObjectDef> = Vec::new();
        let (mut body_start, mut body_line, mut offset) = (text.len(), 1, 0);
        for (i, raw) in text.split_inclusive('\n').enumerate() {
            let n = i + 1;
            let Some((key, rest)) = header_line(raw).filter(|(k, _)| n > 1 || *k == "pack") else {
                body_start = offset;
                body_line = n;
                break;
            };
            offset += raw.len();
            body_line = n + 1;
            match key {
                "pack" | "version" | "description" | "instance" | "example" => {
                    let slot = match key {
                        "pack" => &mut pack,
                        "version" => &mut version,
                        "instance" => &mut instance,
                        "example" => &mut example,
                        _ => &mut description,
                    };
                    if let Some((first, _)) = slot {
                        return Err(at(
                            n,
                            format!(
                                "a second '-- {key}:' line (the first is line {first}); keep one"
                            ),
                        ));
                    }
                    *slot = Some((n, rest.trim().to_string()));
                }
                "param" => {
                    let p = param_line(n, rest)?;
                    let first = params.iter().find(|d| d.name == p.name).map(|d| d.line);
                    once(n, first, &format!("parameter {}", p.name), "param")?;
                    params.push(p);
                }
                "requires" => {
                    let [table, columns] = split_fields(rest)[..] else {
                        return Err(at(
                            n,
                            "write '-- requires: TABLE_PARAM | COLUMN_PARAM ...', the column \
                             parameters separated by spaces",
                        ));
                    };
                    requires.push(Requirement {
                        table_param: table.to_string(),
                        column_params: columns.split_whitespace().map(String::from).collect(),
                        line: n,
                    });
                }
                "object" => {
                    let o = object_line(n, rest)?;
                    let first = objects.iter().find(|d| d.name_param == o.name_param);
                    let first = first.map(|d| d.line);
                    once(n, first, &format!("object {}", o.name_param), "object")?;
                    objects.push(o);
                }
                other => {
                    return Err(at(
                        n,
                        format!(
                            "unknown header key {} (the keys are {HEADER_KEYS}); end the \
                             header with a bare '--' line before the SQL",
                            shorten(other)
                        ),
                    ))
                }
            }
        }
        let (pack_line, name) =
            pack.ok_or_else(|| at(1, "a template starts with its '-- pack: NAME' line"))?;
        check_name(&name, "pack name", &['_', '-', '.']).map_err(|why| at(pack_line, why))?;
        let (version_line, version) = version.ok_or_else(|| {
            at(
                pack_line,
                "the header has no '-- version:' line; add one, e.g. '-- version: 1.0.0'",
            )
        })?;
        if super::template::version_key(&version).is_none() {
            return Err(at(
                version_line,
                format!(
                    "version {} is not numbers separated by dots; write one like 1.0.0",
                    shorten(&version)
                ),
            ));
        }
        let mut template = Template {
            name,
            version,
            description: description.map(|(_, d)| d).unwrap_or_default(),
            params,
            requires,
            objects,
            instance: None,
            body: String::new(),
            uninstall: String::new(),
            example: Map::new(),
        };
        let body = &text[body_start..];
        let split = body
            .match_indices(ON_UNINSTALL)
            .find(|(i, _)| {
                (*i == 0 || body[..*i].ends_with('\n'))
                    && body[i + ON_UNINSTALL.len()..].starts_with(['\n', '\r'])
            })
            .map(|(i, _)| i);
        let uninstall_line = split.map(|i| body_line + body[..i].matches('\n').count());
        match split {
            Some(i) => {
                template.body = body[..i].to_string();
                template.uninstall = body[i + ON_UNINSTALL.len()..].to_string();
            }
            None => template.body = body.to_string(),
        }
        template.check_header()?;
        if let Some((line, param)) = instance {
            template.check_instance(line, &param)?;
            template.instance = Some(param);
        }
        if let Some((line, json)) = example {
            let values = crate::sql::json_object(&json, "the example").map_err(|e| {
                at(
                    line,
                    format!("{e}; write a JSON object of parameter values"),
                )
            })?;
            template
                .resolve_object(values.clone())
                .map_err(|e| at(line, format!("{e}; correct the example")))?;
            template.example = values;
        }
        template.check_body(body_line)?;
        if let Some(line) = uninstall_line {
            template.check_uninstall(line)?;
        }
        Ok(template)
    }

    /// Every parameter the header names is declared, as an identifier where
    /// it names a table, column or object; every object's table is checked
    /// by a `-- requires:` line; every default is a valid value.
    fn check_header(&self) -> Result<()> {
        let ident = |line: usize, p: &str, role: &str| -> Result<()> {
            match self.params.iter().find(|d| d.name == p) {
                None => Err(at(
                    line,
                    format!(
                        "the {role} parameter {} is not declared; declare it with a \
                         '-- param: {} | ident | DEFAULT | DESCRIPTION' line",
                        shorten(p),
                        shorten_bare(p)
                    ),
                )),
                Some(d) if d.kind != ParamKind::Ident => Err(at(
                    line,
                    format!(
                        "the {role} parameter {p} is declared as {} (line {}); a parameter \
                         that names a table, column or object is an ident",
                        d.kind.name(),
                        d.line
                    ),
                )),
                Some(_) => Ok(()),
            }
        };
        for p in &self.params {
            if let Some((table, column)) = &p.column {
                ident(p.line, table, "table")?;
                ident(p.line, column, "column")?;
            }
            for e in &p.except {
                match self.params.iter().find(|d| &d.name == e) {
                    Some(d) if matches!(d.kind, ParamKind::Ident | ParamKind::Idents) => {}
                    _ => {
                        return Err(at(
                            p.line,
                            format!(
                                "{} leaves out the columns parameter {} names, which is not a \
                                 declared ident or idents parameter",
                                p.name,
                                shorten(e)
                            ),
                        ))
                    }
                }
            }
            if (!p.except.is_empty() || p.kind.worked_out_from_constraints())
                && !p.default.is_null()
            {
                return Err(at(
                    p.line,
                    format!(
                        "the default of {} is null: install works it out from the table then",
                        p.name
                    ),
                ));
            }
            if let Some(table) = &p.table {
                ident(p.line, table, "table")?;
                if !self.requires.iter().any(|r| &r.table_param == table) {
                    return Err(at(
                        p.line,
                        format!(
                            "the table parameter {table} of {} is named by no '-- requires:' \
                             line; add '-- requires: {table} | COLUMN_PARAM ...' so that \
                             install checks its columns",
                            p.name
                        ),
                    ));
                }
            }
        }
        for r in &self.requires {
            ident(r.line, &r.table_param, "table")?;
            for c in &r.column_params {
                ident(r.line, c, "column")?;
            }
        }
        for o in &self.objects {
            ident(o.line, &o.name_param, "name")?;
            ident(o.line, &o.table_param, "table")?;
            if !self.is_table_param(&o.table_param) {
                return Err(at(
                    o.line,
                    format!(
                        "the table parameter {} of object {} is named by no '-- requires:' line; \
                         add '-- requires: {} | COLUMN_PARAM ...' so that install checks the table",
                        o.table_param, o.name_param, o.table_param
                    ),
                ));
            }
        }
        if self.objects.is_empty() {
            return Err(at(
                1,
                "the header declares no object; add an '-- object: trigger | NAME_PARAM | \
                 TABLE_PARAM' line for each trigger and index the pack creates",
            ));
        }
        let none = Map::new();
        for p in &self.params {
            self.value_of(p, &none)
                .map_err(|e| at(p.line, format!("{e}; correct the default")))?;
        }
        Ok(())
    }

    /// The body holds only the declared objects' statements, each once, on
    /// its declared table, and placeholders only where a value is safe.
    /// Fills in each object's stored SQL.
    fn check_body(&mut self, first_line: usize) -> Result<()> {
        let body = self.body.as_str();
        let line_of = |offset: usize| first_line + body[..offset].matches('\n').count();
        for t in tokens(body) {
            let text = &body[t.start..t.end];
            let Some(found) = text.find("{{") else {
                continue;
            };
            let inside = match t.kind {
                Kind::Comment => "a comment",
                Kind::Text | Kind::Blob => "a quoted string",
                Kind::Name => "a quoted name",
                _ => continue,
            };
            return Err(at(
                line_of(t.start + found),
                format!(
                    "a placeholder inside {inside}; write {{{{NAME}}}} in the SQL itself, where \
                     its value is quoted for you (inside {inside} a value could end it)"
                ),
            ));
        }
        let nodes = blocks::parse(body).map_err(|(offset, why)| at(line_of(offset), why))?;
        self.check_tags(&nodes, &line_of)?;
        let mut made: Vec<Option<usize>> = vec![None; self.objects.len()];
        for s in statements(body).map_err(|(offset, what)| at(line_of(offset), what))? {
            let line = line_of(s.start);
            let Some(kind) = s.kind else {
                self.check_data(&body[s.from..s.end], s.name, line, &line_of, s.from)?;
                continue;
            };
            let Some(i) = self.objects.iter().position(|o| o.name_param == s.name) else {
                return Err(at(
                    line,
                    format!(
                        "this statement creates {{{{{}}}}}, which no '-- object:' line declares; \
                         add '-- object: {} | {} | TABLE_PARAM' to the header",
                        s.name,
                        kind.label(),
                        s.name
                    ),
                ));
            };
            let o = &mut self.objects[i];
            let same =
                o.kind == kind || (o.kind == ObjectKind::Scratch && kind == ObjectKind::Table);
            if !same {
                return Err(at(
                    line,
                    format!(
                        "this statement creates {} as {}, but its '-- object:' line (line {}) \
                         declares {}",
                        s.name,
                        a(kind),
                        o.line,
                        a(o.kind)
                    ),
                ));
            }
            if let Some(first) = made[i] {
                return Err(at(
                    line,
                    format!(
                        "{} {} is created a second time (first on line {first}); create each \
                         object once",
                        o.kind.label(),
                        o.name_param
                    ),
                ));
            }
            let created = &body[s.from..s.end];
            let attached = matches!(o.kind, ObjectKind::Trigger | ObjectKind::Index);
            if attached && !on_table(created, &o.table_param) {
                return Err(at(
                    line,
                    format!(
                        "the statement that creates {} {} must be ON {{{{{}}}}}, the table \
                         parameter its '-- object:' line (line {}) names",
                        o.kind.name(),
                        o.name_param,
                        o.table_param,
                        o.line
                    ),
                ));
            }
            if let Err((offset, why)) = blocks::parse(created) {
                return Err(at(
                    line_of(s.from + offset),
                    format!("{why}: a block opens and closes within the statement of one object"),
                ));
            }
            o.stored = format!("{} {created}", s.stored_as);
            made[i] = Some(line);
        }
        if let Some(o) = self.objects.iter().zip(&made).find(|(_, m)| m.is_none()) {
            let o = o.0;
            return Err(at(
                o.line,
                format!(
                    "{} {} is declared, but no statement of the body creates it; add \
                     'CREATE {} IF NOT EXISTS main.{{{{{}}}}} …'",
                    o.kind.label(),
                    o.name_param,
                    o.kind.label().to_uppercase(),
                    o.name_param
                ),
            ));
        }
        Ok(())
    }
}

impl Template {
    /// Whether `param` names a table the pack needs (a `-- requires:` line)
    /// or creates (a table or virtual table object).
    fn is_table_param(&self, param: &str) -> bool {
        self.requires.iter().any(|r| r.table_param == param)
            || self.objects.iter().any(|o| {
                matches!(
                    o.kind,
                    ObjectKind::Table | ObjectKind::VirtualTable | ObjectKind::Scratch
                ) && o.name_param == param
            })
    }

    /// A data statement writes a table the pack needs or creates, and
    /// holds its blocks whole.
    fn check_data(
        &self,
        statement: &str,
        target: &str,
        line: usize,
        line_of: &impl Fn(usize) -> usize,
        from: usize,
    ) -> Result<()> {
        if let Some((offset, name)) = super::template::denied_call(statement) {
            return Err(at(
                line_of(from + offset),
                format!(
                    "this statement calls {}(), which a pack may not call: it loads code, \
                     touches files or is this extension's own",
                    crate::sql::display_name(&name)
                ),
            ));
        }
        if !self.is_table_param(target) {
            return Err(at(
                line,
                format!(
                    "this statement writes {{{{{}}}}}, which is neither a table the pack \
                     requires nor one it creates; a data statement writes only those",
                    shorten_bare(target)
                ),
            ));
        }
        if let Err((offset, why)) = blocks::parse(statement) {
            return Err(at(
                line_of(from + offset),
                format!("{why}: a block opens and closes within one statement"),
            ));
        }
        Ok(())
    }

    /// The part after `-- on uninstall:` holds only data statements.
    fn check_uninstall(&self, first_line: usize) -> Result<()> {
        let text = self.uninstall.as_str();
        let line_of = |offset: usize| first_line + text[..offset].matches('\n').count();
        let nodes = blocks::parse(text).map_err(|(offset, why)| at(line_of(offset), why))?;
        self.check_tags(&nodes, &line_of)?;
        for s in statements(text).map_err(|(offset, what)| at(line_of(offset), what))? {
            let line = line_of(s.start);
            if s.kind.is_some() {
                return Err(at(
                    line,
                    "after '-- on uninstall:' come only data statements (UPDATE, INSERT, \
                     DELETE FROM {{TABLE_PARAM}} …;); uninstall drops the pack's objects itself",
                ));
            }
            self.check_data(&text[s.from..s.end], s.name, line, &line_of, s.from)?;
        }
        Ok(())
    }

    /// `-- instance: PARAM`: an ident or text parameter, whose value tells
    /// the pack's installs apart.
    fn check_instance(&self, line: usize, param: &str) -> Result<()> {
        match self.params.iter().find(|p| p.name == param) {
            Some(p) if matches!(p.kind, ParamKind::Ident | ParamKind::Text) => Ok(()),
            Some(p) => Err(at(
                line,
                format!(
                    "the instance parameter {param} is declared as {} (line {}); name an ident \
                     or text parameter, whose value tells the pack's installs apart",
                    p.kind.name(),
                    p.line
                ),
            )),
            None => Err(at(
                line,
                format!(
                    "the instance parameter {} is not declared; write '-- instance: PARAM', \
                     PARAM an ident parameter such as the table",
                    shorten(param)
                ),
            )),
        }
    }

    /// Every tag of the body names a declared parameter and uses it as its
    /// kind allows: `{{#each}}` over `idents` (not nested), `{{.}}` inside
    /// one, `{{#if P = word}}` with a word of a `choice`.
    fn check_tags(&self, nodes: &[Node<'_>], line_of: &impl Fn(usize) -> usize) -> Result<()> {
        let mut failure: Option<Error> = None;
        let declared = |name: &str, offset: usize| -> Result<&ParamDef> {
            self.params.iter().find(|p| p.name == name).ok_or_else(|| {
                at(
                    line_of(offset),
                    format!(
                        "{{{{…}}}} names parameter {}, which is not declared; declare it with a \
                         '-- param: {} | KIND | DEFAULT | DESCRIPTION' line",
                        shorten(name),
                        shorten_bare(name)
                    ),
                )
            })
        };
        blocks::walk(nodes, None, &mut |n, inside| {
            if failure.is_some() {
                return;
            }
            let checked = match n {
                Node::Sql(_) => Ok(()),
                Node::Param(name, at_) => declared(name, *at_).map(|_| ()),
                Node::Item(offset) | Node::Index(offset) if inside.is_none() => Err(at(
                    line_of(*offset),
                    "{{.}} and {{#}} stand for the current name of an {{#each}} block and its \
                     position, and are outside one",
                )),
                Node::Item(_) | Node::Index(_) => Ok(()),
                Node::Each {
                    param, at: offset, ..
                } => match declared(param, *offset) {
                    Err(e) => Err(e),
                    Ok(_) if inside.is_some() => Err(at(
                        line_of(*offset),
                        "an {{#each}} block inside another; a template repeats one list at a time",
                    )),
                    Ok(p) if p.kind != ParamKind::Idents => Err(at(
                        line_of(*offset),
                        format!(
                            "{{{{#each {param}}}}} repeats over a list, but {param} is declared \
                             as {} (line {}); declare it as idents(TABLE_PARAM)",
                            p.kind.name(),
                            p.line
                        ),
                    )),
                    Ok(_) => Ok(()),
                },
                Node::If {
                    param,
                    equals,
                    at: offset,
                    ..
                } => match (declared(param, *offset), equals) {
                    (Err(e), _) => Err(e),
                    (Ok(p), Some(word)) if !p.choices.iter().any(|c| c == word) => Err(at(
                        line_of(*offset),
                        format!(
                            "{{{{#if {param} = {}}}}} compares with a word {param} cannot be; \
                             {}",
                            shorten_bare(word),
                            if p.kind == ParamKind::Choice {
                                format!("its words are {}", p.choices.join(", "))
                            } else {
                                format!(
                                    "only a choice parameter is compared with a word, and \
                                     {param} is {}",
                                    p.kind.name()
                                )
                            }
                        ),
                    )),
                    (Ok(p), None) if p.kind == ParamKind::Choice => Err(at(
                        line_of(*offset),
                        format!(
                            "{{{{#if {param}}}}} of a choice: write {{{{#if {param} = WORD}}}}"
                        ),
                    )),
                    _ => Ok(()),
                },
            };
            if let Err(e) = checked {
                failure = Some(e);
            }
        });
        failure.map_or(Ok(()), Err)
    }
}

/// A name shown in a suggested header line: as it is when it is short and
/// on one line, else cut (the quotes of [`shorten`] would not belong there).
fn shorten_bare(name: &str) -> String {
    crate::sql::shorten_to(&name.replace(['\n', '\r'], " "), 60)
}

/// Fails when `what`, declared on line `n`, was declared before, on line
/// `first`.
fn once(n: usize, first: Option<usize>, what: &str, key: &str) -> Result<()> {
    match first {
        Some(first) => Err(at(
            n,
            format!(
                "{what} is declared twice (first on line {first}); keep one '-- {key}:' line \
                 for it"
            ),
        )),
        None => Ok(()),
    }
}

/// "a trigger", "an index".
fn a(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Trigger => "a trigger",
        ObjectKind::Index => "an index",
        ObjectKind::Table => "a table",
        ObjectKind::VirtualTable => "a virtual table",
        ObjectKind::Scratch => "a scratch table",
    }
}

/// The fields of a header line's value, split at `|`.
fn split_fields(rest: &str) -> Vec<&str> {
    rest.split('|').map(str::trim).collect()
}

/// `-- param: NAME | KIND | DEFAULT | DESCRIPTION` (the description may hold `|`).
fn param_line(n: usize, rest: &str) -> Result<ParamDef> {
    let fields: Vec<&str> = rest.splitn(4, '|').map(str::trim).collect();
    let [pname, kind, default, doc] = fields[..] else {
        return Err(at(
            n,
            format!("write '-- param: NAME | KIND | DEFAULT | DESCRIPTION', KIND one of {KINDS}"),
        ));
    };
    check_name(pname, "parameter name", &['_']).map_err(|why| at(n, why))?;
    // value(TABLE_PARAM.COLUMN_PARAM), idents(TABLE_PARAM), choice(WORD, ...)
    let (word, args) = match kind.strip_suffix(')').and_then(|k| k.split_once('(')) {
        Some((k, args)) => (k.trim(), Some(args.trim())),
        None => (kind, None),
    };
    let kind = ParamKind::parse(word).ok_or_else(|| {
        at(
            n,
            format!(
                "parameter {pname}: unknown kind {}; write {KINDS}",
                shorten(word)
            ),
        )
    })?;
    let how = |what: &str| {
        at(
            n,
            format!("parameter {pname}: {}: write {what}", shorten(word)),
        )
    };
    let (mut column, mut table, mut choices, mut except) = (None, None, Vec::new(), Vec::new());
    // idents(..., max N): the most names the list takes.
    let mut max = None;
    let args = match (kind, args) {
        (ParamKind::Idents, Some(args)) => match args.split_once(',') {
            None => Some(args),
            Some((list, limit)) => {
                let n = limit
                    .trim()
                    .strip_prefix("max ")
                    .and_then(|n| n.trim().parse::<usize>().ok())
                    .filter(|n| (1..=MAX_IDENTS).contains(n))
                    .ok_or_else(|| {
                        how(&format!(
                            "idents(TABLE_PARAM, max N) or idents(TABLE_PARAM - PARAM ..., max \
                             N), N from 1 to {MAX_IDENTS}"
                        ))
                    })?;
                max = Some(n);
                Some(list.trim())
            }
        },
        _ => args,
    };
    match (kind, args) {
        (ParamKind::Value | ParamKind::Transitions, Some(args)) => match args.split_once('.') {
            Some((t, c)) => column = Some((t.trim().to_string(), c.trim().to_string())),
            None => return Err(how(&format!("{}(TABLE_PARAM.COLUMN_PARAM)", kind.name()))),
        },
        (ParamKind::Conflicts | ParamKind::ConflictColumns, Some(t))
            if !t.is_empty() && !t.contains([',', '.', '-']) =>
        {
            table = Some(t.to_string())
        }
        (ParamKind::Conflicts | ParamKind::ConflictColumns, _) => {
            return Err(how(&format!("{}(TABLE_PARAM)", kind.name())))
        }
        (ParamKind::Value | ParamKind::Transitions, None) | (_, Some(_))
            if !matches!(kind, ParamKind::Idents | ParamKind::Choice) =>
        {
            return Err(at(
                n,
                format!(
                    "parameter {pname}: a value or transitions, and only those, name their \
                     column as value(TABLE_PARAM.COLUMN_PARAM)"
                ),
            ))
        }
        (ParamKind::Idents, Some(args)) if !args.contains([',', '.']) && !args.starts_with('-') => {
            let mut names = args.split('-').map(str::trim);
            table = names.next().map(String::from);
            except = names.map(String::from).collect();
            if except.iter().any(String::is_empty) {
                return Err(how("idents(TABLE_PARAM - PARAM - PARAM ...)"));
            }
        }
        (ParamKind::Idents, _) => {
            return Err(how(
                "idents(TABLE_PARAM), naming the table whose columns they are, or \
             idents(TABLE_PARAM - PARAM ...) for its columns but those the parameters name",
            ))
        }
        (ParamKind::Choice, Some(words)) => {
            for w in words.split(',').map(str::trim) {
                let ok = w.len() <= MAX_NAME_CHARS
                    && w.starts_with(|c: char| c.is_ascii_lowercase())
                    && w.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                if !ok || choices.iter().any(|c| c == w) {
                    return Err(how(
                        "choice(WORD, WORD, ...), each word once, of a-z, 0-9 and _",
                    ));
                }
                choices.push(w.to_string());
            }
        }
        (ParamKind::Choice, None) => return Err(how("choice(WORD, WORD, ...)")),
        _ => {}
    }
    let default: Value = serde_json::from_str(default).map_err(|e| {
        at(
            n,
            format!(
                "the default of parameter {pname} is not JSON ({e}); write it as JSON, e.g. \
                 \"a name\" or 2"
            ),
        )
    })?;
    Ok(ParamDef {
        name: pname.to_string(),
        kind,
        column,
        table,
        choices,
        except,
        max,
        default,
        doc: doc.to_string(),
        line: n,
    })
}

/// `-- object: trigger|index | NAME_PARAM | TABLE_PARAM`, or
/// `-- object: table|virtual table | NAME_PARAM`.
fn object_line(n: usize, rest: &str) -> Result<ObjectDef> {
    let fields = split_fields(rest);
    let kind = match fields.first().copied().unwrap_or_default() {
        "trigger" => ObjectKind::Trigger,
        "index" => ObjectKind::Index,
        "table" => ObjectKind::Table,
        "virtual table" => ObjectKind::VirtualTable,
        "scratch table" => ObjectKind::Scratch,
        other => {
            return Err(at(
                n,
                format!(
                    "unknown object kind {}; write trigger, index, table, virtual table or \
                     scratch table",
                    shorten(other)
                ),
            ))
        }
    };
    let (name_param, table_param) = match (kind, &fields[1..]) {
        (ObjectKind::Trigger | ObjectKind::Index, [name, table]) => (*name, *table),
        (ObjectKind::Table | ObjectKind::VirtualTable | ObjectKind::Scratch, [name]) => {
            (*name, *name)
        }
        (ObjectKind::Trigger | ObjectKind::Index, _) => {
            return Err(at(
                n,
                "write '-- object: trigger | NAME_PARAM | TABLE_PARAM' (or index)",
            ))
        }
        _ => {
            return Err(at(
                n,
                "write '-- object: table | NAME_PARAM' (or virtual table, scratch table)",
            ))
        }
    };
    Ok(ObjectDef {
        kind,
        name_param: name_param.to_string(),
        table_param: table_param.to_string(),
        stored: String::new(),
        line: n,
    })
}

/// A pack or parameter name: letters and digits of any script, and the
/// `extra` characters, at most [`MAX_NAME_CHARS`] of them.
fn check_name(name: &str, what: &str, extra: &[char]) -> std::result::Result<(), String> {
    if !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || extra.contains(&c))
    {
        return Ok(());
    }
    let extra: Vec<String> = extra.iter().map(char::to_string).collect();
    Err(format!(
        "{what} {} is not a name; use letters, digits and {} (at most {MAX_NAME_CHARS})",
        shorten(name),
        extra.join(" ")
    ))
}

/// One statement of a body, as [`statements`] finds it.
struct Statement<'a> {
    /// The object it creates; `None` for a data statement.
    kind: Option<ObjectKind>,
    /// What SQLite stores before the object's name.
    stored_as: &'static str,
    /// The name parameter of the object it creates.
    name: &'a str,
    /// Where the statement starts.
    start: usize,
    /// Where the object's name (its placeholder) starts, and where the
    /// text SQLite stores from there ends.
    from: usize,
    end: usize,
}

/// The statements of a body, each a `CREATE … IF NOT EXISTS
/// main.{{NAME_PARAM}}` of a trigger or index; an error (the offset and
/// why) for anything else.
fn statements(body: &str) -> std::result::Result<Vec<Statement<'_>>, (usize, String)> {
    let mut out = Vec::new();
    let mut pos = 0;
    let solid = |t: &crate::sql::Token| !matches!(t.kind, Kind::Space | Kind::Comment);
    while let Some(t) = tokens(&body[pos..]).find(solid) {
        let start = pos + t.start;
        let rest = &body[start..];
        if let Some(verb) = DATA
            .iter()
            .find(|v| rest.starts_with(*v) && rest[v.len()..].starts_with("{{"))
        {
            let from = start + verb.len();
            let name_end = from + 2 + body[from + 2..].find("}}").unwrap_or_default();
            let Some(len) = statement_end(&body[from..], false) else {
                return Err((start, "this statement does not end; end it with ;".into()));
            };
            let end = from + len;
            pos = end + 1;
            out.push(Statement {
                kind: None,
                stored_as: "",
                name: &body[from + 2..name_end],
                start,
                from,
                end,
            });
            continue;
        }
        let Some(&(prefix, kind, stored_as)) = CREATES
            .iter()
            .find(|(p, ..)| rest.starts_with(p) && rest[p.len()..].starts_with("{{"))
        else {
            if CREATES.iter().any(|(p, ..)| rest.starts_with(p)) {
                return Err((
                    start,
                    "the name of the object a statement creates is a placeholder, \
                     main.{{NAME_PARAM}}, with NAME_PARAM named by an '-- object:' line; a \
                     pack creates nothing the header does not declare"
                        .into(),
                ));
            }
            let first_line = rest.lines().next().unwrap_or_default();
            return Err((
                start,
                format!(
                    "{} is not the statement of a declared object: a template's body holds \
                     only 'CREATE TRIGGER|[UNIQUE] INDEX|TABLE|VIRTUAL TABLE IF NOT EXISTS \
                     main.{{{{NAME_PARAM}}}} …' statements, one for each '-- object:' line, \
                     data statements 'UPDATE|INSERT [OR REPLACE] INTO|DELETE FROM \
                     {{{{TABLE_PARAM}}}} …;', and comments",
                    shorten(first_line)
                ),
            ));
        };
        let from = start + prefix.len();
        // Placeholders are checked to close before statements are read.
        let name_end = from + 2 + body[from + 2..].find("}}").unwrap_or_default();
        let name = &body[from + 2..name_end];
        let trigger = kind == ObjectKind::Trigger;
        let Some(len) = statement_end(&body[from..], trigger) else {
            return Err((
                start,
                format!(
                    "the statement that creates {} {name} does not end; end {}",
                    kind.name(),
                    if trigger {
                        "a trigger with END;"
                    } else {
                        "it with ;"
                    }
                ),
            ));
        };
        let end = from + len;
        // Past the `;` that closes it (statement_end found one).
        pos = tokens(&body[end..])
            .find(solid)
            .map_or(body.len(), |t| end + t.end);
        out.push(Statement {
            kind: Some(kind),
            stored_as,
            name,
            start,
            from,
            end,
        });
    }
    Ok(out)
}

/// Whether a CREATE statement's text (from the object's name on) is on the
/// table `{{table_param}}`: its first `ON` is followed by that placeholder.
fn on_table(created: &str, table_param: &str) -> bool {
    let mut words = tokens(created).filter(|t| !matches!(t.kind, Kind::Space | Kind::Comment));
    words
        .find(|t| t.kind == Kind::Word && created[t.start..t.end].eq_ignore_ascii_case("ON"))
        .and_then(|_| words.next())
        .is_some_and(|t| created[t.start..].starts_with(&format!("{{{{{table_param}}}}}")))
}

/// Where the statement at the start of `sql` ends, as SQLite stores it: the
/// offset of its `;`, or for a trigger the end of the `END` before the `;`
/// that closes it (an `END` that closes a `CASE` does not). Quotes,
/// brackets and comments are skipped.
fn statement_end(sql: &str, trigger: bool) -> Option<usize> {
    let mut cases = 0usize;
    // The end of the last solid token, when it is an END that closes no CASE.
    let mut closing_end = None;
    for t in tokens(sql) {
        if !t.closed {
            return None;
        }
        let word = |w: &str| t.kind == Kind::Word && sql[t.start..t.end].eq_ignore_ascii_case(w);
        match t.kind {
            Kind::Space | Kind::Comment => continue,
            Kind::Other if &sql[t.start..t.end] == ";" => {
                if !trigger {
                    return Some(t.start);
                }
                if closing_end.is_some() {
                    return closing_end;
                }
            }
            _ if trigger && word("CASE") => cases += 1,
            _ if trigger && word("END") => {
                if cases == 0 {
                    closing_end = Some(t.end);
                    continue;
                }
                cases -= 1;
            }
            _ => {}
        }
        closing_end = None;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "-- pack: demo\n-- version: 1.2.3\n-- description: a demo pack\n\
        -- param: tbl | ident | \"t\" | the table\n\
        -- param: trigger_name | ident | \"demo\" | the trigger\n\
        -- requires: tbl | \n\
        -- object: trigger | trigger_name | tbl\n--\n";
    const BODY: &str =
        "CREATE TRIGGER IF NOT EXISTS main.{{trigger_name}} AFTER INSERT ON {{tbl}} BEGIN SELECT 1; END;\n";

    fn error(text: &str) -> String {
        Template::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn a_good_template_parses() {
        let t = Template::parse(&format!("{HEADER}{BODY}")).unwrap();
        assert_eq!(
            t.objects[0].stored,
            "CREATE TRIGGER {{trigger_name}} AFTER INSERT ON {{tbl}} BEGIN SELECT 1; END"
        );
        assert_eq!(t.objects[0].line, 7);
    }

    #[test]
    fn header_errors_name_the_line_and_the_parameter() {
        assert_eq!(
            error("SELECT 1;"),
            "line 1: a template starts with its '-- pack: NAME' line"
        );
        assert_eq!(
            error("-- version: 1\n-- pack: x\n"),
            "line 1: a template starts with its '-- pack: NAME' line"
        );
        assert!(
            error(&HEADER.replace("-- param: trigger_name", "-- param: tbl"))
                .starts_with("line 5: parameter tbl is declared twice (first on line 4)")
        );
        assert!(error(&HEADER.replace("1.2.3", "one"))
            .starts_with("line 2: version \"one\" is not numbers separated by dots"));
        assert!(error(&HEADER.replace("-- version: 1.2.3\n", ""))
            .starts_with("line 1: the header has no '-- version:' line"));
        assert!(
            error(&format!("{HEADER}{BODY}").replace("\"demo\" |", "3 |"))
                .starts_with("line 5: parameter trigger_name of pack demo: expected a name")
        );
        assert!(
            error(&format!("{HEADER}{BODY}").replace("| ident | \"t\"", "| name | \"t\""))
                .starts_with("line 4: parameter tbl: unknown kind \"name\"")
        );
        assert!(error(&format!("{HEADER}{BODY}").replace("-- requires: tbl | \n", ""))
            .starts_with("line 6: the table parameter tbl of object trigger_name is named by no '-- requires:' line"));
        assert!(error(
            &format!("{HEADER}{BODY}").replace("-- requires: tbl | ", "-- requires: tbl | nope")
        )
        .starts_with("line 6: the column parameter \"nope\" is not declared"));
    }

    #[test]
    fn body_errors_name_the_line_and_the_parameter() {
        let body = |b: &str| error(&format!("{HEADER}{b}"));
        assert!(
            body(&format!("-- a comment\n{BODY}DROP TABLE user;\n")).starts_with(
                "line 11: \"DROP TABLE user;\" is not the statement of a declared object"
            )
        );
        assert!(body(&format!(
            "{BODY}CREATE TABLE IF NOT EXISTS main.{{{{tbl}}}} (x);\n"
        ))
        .starts_with(
            "line 10: this statement creates {{tbl}}, which no '-- object:' line declares"
        ));
        assert!(body(&format!("{BODY}ATTACH 'x' AS y;\n")).starts_with(
            "line 10: \"ATTACH 'x' AS y;\" is not the statement of a declared object"
        ));
        assert!(body(&format!("{BODY}UPDATE {{{{trigger_name}}}} SET x = 1;\n")).starts_with(
            "line 10: this statement writes {{trigger_name}}, which is neither a table the pack \
             requires nor one it creates"
        ));
        assert!(body(&format!(
            "{BODY}-- on uninstall:\nDROP TABLE {{{{tbl}}}};\n"
        ))
        .starts_with("line 11: \"DROP TABLE {{tbl}};\" is not the statement"));
        assert!(body(&format!(
            "{BODY}-- on uninstall:\nDELETE FROM {{{{tbl}}}} WHERE {{{{#if}}}};\n"
        ))
        .starts_with("line 11: "));
        assert!(body(&BODY.replace("SELECT 1", "SELECT {{nope}}"))
            .starts_with("line 9: {{…}} names parameter \"nope\", which is not declared"));
        assert!(body(&BODY.replace("SELECT 1", "SELECT '{{tbl}}'"))
            .starts_with("line 9: a placeholder inside a quoted string"));
        assert!(body(&format!("-- about {{{{tbl}}}}\n{BODY}"))
            .starts_with("line 9: a placeholder inside a comment"));
        assert!(body(&format!("{BODY}{BODY}")).starts_with(
            "line 10: trigger trigger_name is created a second time (first on line 9)"
        ));
        assert!(body("-- nothing\n").starts_with(
            "line 7: trigger trigger_name is declared, but no statement of the body creates it"
        ));
        assert!(body(&BODY.replace("ON {{tbl}}", "ON other")).starts_with(
            "line 9: the statement that creates trigger trigger_name must be ON {{tbl}}"
        ));
        assert!(body(&BODY.replace("END;", "END"))
            .starts_with("line 9: the statement that creates trigger trigger_name does not end"));
        assert!(body(&BODY.replace("{{tbl}} BEGIN", "{{tbl"))
            .starts_with("line 9: '{{' without its closing '}}'"));
    }

    /// A header with one parameter of each new kind, for the block tests.
    const KINDS_HEADER: &str = "-- pack: demo\n-- version: 1\n\
        -- param: tbl | ident | \"t\" | the table\n\
        -- param: trigger_name | ident | \"demo\" | the trigger\n\
        -- param: cols | idents(tbl) | [\"a\", \"b\"] | columns\n\
        -- param: fmt | choice(iso, unix) | \"iso\" | a format\n\
        -- param: cond | expr | \"\" | a condition\n\
        -- requires: tbl | \n\
        -- object: trigger | trigger_name | tbl\n--\n";

    fn kinds(body: &str) -> std::result::Result<Template, String> {
        Template::parse(&format!("{KINDS_HEADER}{body}")).map_err(|e| e.to_string())
    }

    #[test]
    fn blocks_render_lists_choices_and_conditions() {
        let t = kinds(
            "CREATE TRIGGER IF NOT EXISTS main.{{trigger_name}} AFTER UPDATE ON {{tbl}}\n\
             WHEN {{#each cols sep=\" OR \"}}new.{{.}} IS NOT old.{{.}}{{/each}}{{#if cond}} AND {{cond}}{{/if}}\n\
             BEGIN SELECT {{#if fmt = iso}}'iso'{{else}}'unix'{{/if}}, {{#each cols}}{{#}}{{/each}}, {{cols}}; END;\n",
        )
        .unwrap();
        let p = t.resolve(Some(r#"{"cond": "new.a > 1"}"#)).unwrap();
        assert_eq!(
            t.stored_sql(&t.objects[0], &p).unwrap(),
            "CREATE TRIGGER \"demo\" AFTER UPDATE ON \"t\"\nWHEN new.\"a\" IS NOT old.\"a\" OR \
             new.\"b\" IS NOT old.\"b\" AND (new.a > 1)\nBEGIN SELECT 'iso', 0, 1, \"a\", \"b\"; END"
        );
        let p = t.resolve(Some(r#"{"cols": [], "fmt": "unix"}"#)).unwrap();
        assert!(t
            .stored_sql(&t.objects[0], &p)
            .unwrap()
            .contains("WHEN \nBEGIN SELECT 'unix', , ;"));
    }

    #[test]
    fn block_errors_name_the_line() {
        let trigger = |inner: &str| {
            kinds(&format!(
                "CREATE TRIGGER IF NOT EXISTS main.{{{{trigger_name}}}} AFTER INSERT ON {{{{tbl}}}}\n\
                 BEGIN SELECT {inner}; END;\n"
            ))
            .unwrap_err()
        };
        assert!(trigger("{{.}}").starts_with("line 12: {{.}} and {{#}} stand for"));
        assert!(trigger("{{#each tbl}}x{{/each}}")
            .contains("{{#each tbl}} repeats over a list, but tbl is declared as ident"));
        assert!(trigger("{{#each cols}}{{#each cols}}x{{/each}}{{/each}}")
            .contains("an {{#each}} block inside another"));
        assert!(trigger("{{#if fmt = rfc}}x{{/if}}")
            .contains("compares with a word fmt cannot be; its words are iso, unix"));
        assert!(trigger("{{#if fmt}}x{{/if}}").contains("write {{#if fmt = WORD}}"));
        assert!(trigger("{{#if cond}}x").contains("{{#if …}} without its {{/if}}"));
        assert!(trigger("{{/each}}").contains("closes no block that is open here"));
        // A block may not span two statements: an object's SQL stays its own.
        let e = kinds(
            "{{#if cond}}CREATE TRIGGER IF NOT EXISTS main.{{trigger_name}} AFTER INSERT ON {{tbl}}\n\
             BEGIN SELECT 1; END;{{/if}}\n",
        )
        .unwrap_err();
        assert!(
            e.contains("is not the statement of a declared object"),
            "{e}"
        );
    }

    #[test]
    fn new_kinds_are_checked_in_the_header() {
        let header = |line: &str| {
            Template::parse(&format!(
                "{}{BODY}",
                HEADER.replace("--\n", &format!("{line}\n--\n"))
            ))
            .unwrap_err()
            .to_string()
        };
        assert!(header("-- param: cs | idents(other) | [] | x")
            .contains("the table parameter \"other\" is not declared"));
        assert!(header("-- param: cs | idents | [] | x").contains("write idents(TABLE_PARAM)"));
        assert!(header("-- param: c | choice(A, b) | \"b\" | x")
            .contains("choice(WORD, WORD, ...), each word once, of a-z, 0-9 and _"));
        assert!(header("-- param: c | choice(a, b) | \"c\" | x")
            .contains("parameter c of pack demo: \"c\" is not one of \"a\", \"b\""));
        assert!(header("-- param: e | expr | \"1)\" | x")
            .contains("closes a parenthesis it did not open"));
        assert!(
            header("-- param: e | expr(tbl) | \"\" | x").contains("only those, name their column")
        );
        assert!(header("-- param: cs | idents(tbl - nope) | null | x")
            .contains("leaves out the columns parameter \"nope\" names"));
        assert!(header("-- param: cs | idents(tbl - trigger_name) | [] | x")
            .contains("the default of cs is null"));
        for max in ["max 0", "max 2001", "max", "at most 3", "max x"] {
            assert!(
                header(&format!("-- param: cs | idents(tbl, {max}) | [] | x")).contains(
                    "write idents(TABLE_PARAM, max N) or idents(TABLE_PARAM - PARAM ..., max N), N \
                     from 1 to 2000"
                ),
                "{max}"
            );
        }
        let with_max = |kind: &str| {
            let text = format!(
                "{}{BODY}",
                HEADER.replace("--\n", &format!("-- param: cs | {kind} | [] | x\n--\n"))
            );
            Template::parse(&text).map(|t| t.param("cs").max)
        };
        assert_eq!(with_max("idents(tbl, max 3)").unwrap(), Some(3));
        assert_eq!(with_max("idents(tbl)").unwrap(), None);
        assert!(
            header("-- instance: nope").contains("the instance parameter \"nope\" is not declared")
        );
        assert!(header("-- param: e | expr | \"\" | x\n-- instance: e")
            .contains("the instance parameter e is declared as expr"));
    }

    #[test]
    fn expressions_stay_one_expression() {
        use super::super::template::check_expr;
        assert!(check_expr("a = 1 AND (b IN (SELECT 1))").is_ok());
        assert!(check_expr("old.x IS NOT new.x").is_ok());
        for (bad, why) in [
            (
                "1); DROP TABLE t; SELECT (1",
                "closes a parenthesis it did not open",
            ),
            ("1; DROP TABLE t", "holds a ';'"),
            ("1 -- )", "holds a comment"),
            ("1 /* x */", "holds a comment"),
            ("'unclosed", "does not end"),
            ("(1", "opens a parenthesis it does not close"),
            ("a\0b", "NUL"),
        ] {
            assert!(check_expr(bad).unwrap_err().contains(why), "{bad}");
        }
        assert!(check_expr(&"1+".repeat(3000))
            .unwrap_err()
            .contains("longer than"));
    }

    #[test]
    fn tables_and_data_statements() {
        let header = "-- pack: demo\n-- version: 1\n\
            -- param: tbl | ident | \"t\" | the table\n\
            -- param: log | ident | \"t_log\" | the log\n\
            -- param: trigger_name | ident | \"demo\" | the trigger\n\
            -- requires: tbl | \n\
            -- object: table | log\n\
            -- object: trigger | trigger_name | tbl\n--\n";
        let body = "CREATE TABLE IF NOT EXISTS main.{{log}} (x);\n\
            CREATE TRIGGER IF NOT EXISTS main.{{trigger_name}} AFTER INSERT ON {{tbl}} \
            BEGIN INSERT INTO {{log}} VALUES (new.rowid); END;\n\
            INSERT INTO {{log}} SELECT rowid FROM {{tbl}} WHERE 0;\n\
            -- on uninstall:\nDELETE FROM {{log}};\n";
        let t = Template::parse(&format!("{header}{body}")).unwrap();
        assert_eq!(t.objects[0].stored, "CREATE TABLE {{log}} (x)");
        assert!(t.body.contains("INSERT INTO {{log}} SELECT"));
        assert_eq!(t.uninstall, "\nDELETE FROM {{log}};\n");
        let e = |b: &str| {
            Template::parse(&format!("{header}{b}"))
                .unwrap_err()
                .to_string()
        };
        assert!(e(&body.replace(
            "INSERT INTO {{log}} SELECT",
            "INSERT INTO {{trigger_name}} SELECT"
        ))
        .starts_with("line 12: this statement writes {{trigger_name}}, which is neither"));
        assert!(e(&body.replace(
            "DELETE FROM {{log}};",
            "CREATE TABLE IF NOT EXISTS main.{{log}} (y);"
        ))
        .starts_with("line 14: after '-- on uninstall:' come only data statements"));
        assert!(
            e(&body.replace("CREATE TABLE IF NOT EXISTS main.{{log}} (x);\n", "")).starts_with(
                "line 7: table log is declared, but no statement of the body creates it"
            )
        );
    }

    #[test]
    fn data_statements_and_expressions_call_no_code_loader() {
        let header = "-- pack: demo\n-- version: 1\n\
            -- param: tbl | ident | \"t\" | the table\n\
            -- param: trigger_name | ident | \"demo\" | the trigger\n\
            -- requires: tbl | \n\
            -- object: trigger | trigger_name | tbl\n--\n\
            CREATE TRIGGER IF NOT EXISTS main.{{trigger_name}} AFTER INSERT ON {{tbl}} BEGIN SELECT 1; END;\n";
        for call in [
            "load_extension('/tmp/x.so')",
            "\"load_extension\"('/tmp/x.so')",
            "LOAD_EXTENSION ('/tmp/x.so')",
            "writefile('/tmp/x', 'y')",
            "trigger_install('task_state')",
        ] {
            let e = Template::parse(&format!(
                "{header}INSERT INTO {{{{tbl}}}} SELECT 1 WHERE {call} IS NULL;\n"
            ))
            .unwrap_err()
            .to_string();
            assert!(
                e.starts_with("line 9: this statement calls "),
                "{call}: {e}"
            );
            let e = Template::parse(&format!(
                "{header}-- on uninstall:\nDELETE FROM {{{{tbl}}}} WHERE {call} IS NULL;\n"
            ))
            .unwrap_err()
            .to_string();
            assert!(e.contains("which a pack may not call"), "{call}: {e}");
            let e = Template::parse(&header.replace(
                "-- requires:",
                &format!(
                    "-- param: c | expr | {} | c\n-- requires:",
                    serde_json::json!(format!("{call} IS NULL"))
                ),
            ))
            .unwrap_err()
            .to_string();
            assert!(e.contains("which a pack may not call"), "{call}: {e}");
        }
        // A column or string of that name is no call.
        assert!(Template::parse(&format!(
            "{header}UPDATE {{{{tbl}}}} SET load_extension = 'load_extension(1)';\n"
        ))
        .is_ok());
    }

    #[test]
    fn names_are_letters_digits_and_a_few_marks() {
        assert!(
            Template::parse(&format!("{HEADER}{BODY}").replace("demo\n", "álbum_日本.v-2\n"))
                .is_ok()
        );
        assert!(error(&HEADER.replace("pack: demo", "pack: a b"))
            .starts_with("line 1: pack name \"a b\" is not a name"));
        assert!(
            error(&format!("{HEADER}{BODY}").replace("param: tbl", "param: t{x}"))
                .starts_with("line 4: parameter name \"t{x}\" is not a name")
        );
    }

    #[test]
    fn statements_end_where_sqlite_ends_them() {
        // Semicolons in quotes, brackets and comments do not end a statement.
        let sql = "x ';' \";\" [;] `;` -- ;\n /* ; */ y; z";
        assert_eq!(statement_end(sql, false), Some(sql.find("; z").unwrap()));
        // A trigger ends at the END before a semicolon, not at its first ';'.
        let sql = "n AFTER INSERT ON t BEGIN SELECT 1; SELECT 'END;'; END /* c */ ; more";
        assert_eq!(
            &sql[..statement_end(sql, true).unwrap()],
            &sql[..sql.find(" /*").unwrap()]
        );
        // Nor at the END of a CASE.
        let sql = "n AFTER INSERT ON t BEGIN SELECT CASE WHEN 1 THEN 2 END; END; more";
        assert_eq!(
            &sql[..statement_end(sql, true).unwrap()],
            &sql[..sql.len() - 6]
        );
        assert_eq!(statement_end("n BEGIN SELECT 1;", true), None);
        assert_eq!(statement_end("'unclosed ;", false), None);
        assert_eq!(statement_end("é ; ", true), None);
    }
}
