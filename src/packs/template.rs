//! Pack templates: what a parsed `sql/packs/<pack>.sql` (or a registered
//! template) holds, and how its parameters are resolved, typed and rendered.
//! Reading and checking a template's text is [`super::parse`]'s; the format
//! is documented in `docs/packs.md` ("Writing a pack").
//!
//! `ident` values render as quoted identifiers, `text` as string literals and
//! `value` as numbers or string literals, so no value can change the SQL's shape.
//! A `value` names the column it is compared with or assigned to, so that
//! [`Template::typed`] can give it that column's type.
use serde_json::{Map, Value};

use super::blocks::{self, Node};
use crate::sql::{
    json_kind, json_object, literal, quote_ident, quote_text, shorten, shorten_to, tokens, Kind,
};
use crate::{Error, Result};

/// Functions a template's SQL may not call where it runs at once, in a data
/// statement or an expression (a data statement runs as the install's own
/// statement, where SQLite's direct-only rule does not stop them): they
/// load code or touch files, or are this extension's own.
const DENIED_CALLS: [&str; 8] = [
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "fts3_tokenizer",
    "zipfile",
    "sqlar_compress",
    "sqlar_uncompress",
];

/// The first call in `sql` of a function a template may not call, with its
/// offset: a name (bare or quoted) followed by `(`, that is one of
/// [`DENIED_CALLS`] or starts with `trigger_`.
pub fn denied_call(sql: &str) -> Option<(usize, String)> {
    let mut previous: Option<(usize, String)> = None;
    for t in tokens(sql) {
        let text = &sql[t.start..t.end];
        match t.kind {
            Kind::Space | Kind::Comment => continue,
            Kind::Other if text == "(" => {
                if let Some((at, name)) = previous.take() {
                    let lower = name.to_ascii_lowercase();
                    if lower.starts_with("trigger_") || DENIED_CALLS.contains(&lower.as_str()) {
                        return Some((at, name));
                    }
                }
                continue;
            }
            _ => {}
        }
        previous = match t.kind {
            Kind::Word => Some((t.start, text.to_string())),
            Kind::Name if t.closed && text.len() >= 2 => {
                Some((t.start, text[1..text.len() - 1].to_string()))
            }
            _ => None,
        };
    }
    None
}

/// Why `expr` cannot stand as one SQL expression in parentheses: it must be
/// whole (quotes and comments closed, parentheses balanced), hold no `;`,
/// no comment (a `--` would swallow the closing parenthesis) and no
/// variable, and not be longer than [`MAX_EXPR_BYTES`]. What it means is SQLite's to check:
/// install compiles the writes that fire the pack's triggers.
pub fn check_expr(expr: &str) -> std::result::Result<(), String> {
    if expr.len() > MAX_EXPR_BYTES {
        return Err(format!("is longer than {MAX_EXPR_BYTES} bytes"));
    }
    check_expr_shape(expr)
}

/// [`check_expr`] but for the length: for the condition install works out
/// from a table's constraints, as long as the names of their columns.
fn check_expr_shape(expr: &str) -> std::result::Result<(), String> {
    if expr.contains('\0') {
        return Err("contains a NUL character".into());
    }
    let mut depth = 0usize;
    for t in tokens(expr) {
        let text = &expr[t.start..t.end];
        if t.kind == Kind::Comment {
            return Err("holds a comment; leave it out".into());
        }
        if !t.closed {
            return Err("does not end: a quote in it is not closed".into());
        }
        match t.kind {
            Kind::Other if text == ";" => {
                return Err("holds a ';'; give one expression, not statements".into())
            }
            // SQLite reads `$a(...)` (and `:a(...)`, `@a(...)`, `#a(...)`)
            // as one variable, quotes and `;` inside included, where
            // `tokens` sees a string or a statement's end: refused at its
            // first token, before the rest is read the wrong way.
            Kind::Word if text.starts_with('$') => return Err(VARIABLE.into()),
            Kind::Other if matches!(text, "?" | ":" | "@" | "#") => return Err(VARIABLE.into()),
            Kind::Other if text == "(" => depth += 1,
            Kind::Other if text == ")" => {
                depth = depth
                    .checked_sub(1)
                    .ok_or("closes a parenthesis it did not open")?;
            }
            _ => {}
        }
    }
    if depth > 0 {
        return Err("opens a parenthesis it does not close".into());
    }
    if let Some((_, name)) = denied_call(expr) {
        return Err(format!(
            "calls {}(), which a pack may not call: it loads code, touches files or is this \
             extension's own",
            crate::sql::display_name(&name)
        ));
    }
    Ok(())
}

/// How a parameter's value is written into the SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A table, column, trigger or index name: a double-quoted identifier.
    Ident,
    /// A string literal.
    Text,
    /// A number, or a string literal.
    Value,
    /// A list of column names of one table (a JSON array, maybe empty):
    /// written as quoted identifiers separated by commas, or one by one in
    /// an `{{#each}}` block.
    Idents,
    /// One of the words the template lists (`choice(iso, unix)`), written
    /// as that bare word.
    Choice,
    /// An SQL expression (a condition), written in parentheses; empty for
    /// none.
    Expr,
    /// The rows of a table that a new row conflicts with, which an
    /// `INSERT OR REPLACE` deletes: worked out at install from the table's
    /// rowid, PRIMARY KEY and UNIQUE constraints (never given), written as
    /// a condition over `conflicting_row` and `new`.
    Conflicts,
    /// The columns whose change in an `UPDATE` can make a row conflict
    /// with another, which an `UPDATE OR REPLACE` then deletes: worked out
    /// at install like `conflicts` (never given), written as an `UPDATE
    /// OF` list.
    ConflictColumns,
    /// The moves a column's value may make (`[["draft", "published"], …]`):
    /// written as an expression that is NULL for a listed move of the
    /// column from `old` to `new`, and for any other raises an error naming
    /// both values (see [`Template::transitions_sql`]).
    Transitions,
}

impl ParamDef {
    /// Whether install works its value out from the schema (and records
    /// it), rather than taking it from the user.
    pub fn derived(&self) -> bool {
        self.kind.worked_out_from_constraints() || !self.except.is_empty()
    }
}

impl ParamKind {
    /// Whether install works the value out from the table's constraints.
    pub(crate) fn worked_out_from_constraints(self) -> bool {
        matches!(self, Self::Conflicts | Self::ConflictColumns)
    }

    pub(crate) fn parse(word: &str) -> Option<Self> {
        match word {
            "ident" => Some(Self::Ident),
            "text" => Some(Self::Text),
            "value" => Some(Self::Value),
            "idents" => Some(Self::Idents),
            "choice" => Some(Self::Choice),
            "expr" => Some(Self::Expr),
            "transitions" => Some(Self::Transitions),
            "conflicts" => Some(Self::Conflicts),
            "conflict_columns" => Some(Self::ConflictColumns),
            _ => None,
        }
    }

    /// The kind's name, as templates and error messages spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ident => "ident",
            Self::Text => "text",
            Self::Value => "value",
            Self::Idents => "idents",
            Self::Choice => "choice",
            Self::Expr => "expr",
            Self::Transitions => "transitions",
            Self::Conflicts => "conflicts",
            Self::ConflictColumns => "conflict_columns",
        }
    }
}

/// Why an expression with a variable (`?`, `?1`, `:a`, `@a`, `$a`, `#a`) is
/// refused: SQLite refuses one in a trigger.
const VARIABLE: &str = "holds a variable ($, :, @, # or ?), which a trigger cannot use; \
     write the value itself";

/// The longest expression an `expr` parameter takes, in bytes.
pub const MAX_EXPR_BYTES: usize = 4096;

/// The most states a `transitions` parameter names: its trigger holds a
/// message for each pair of them.
pub const MAX_STATES: usize = 64;

/// The most names an `idents` parameter takes.
pub const MAX_IDENTS: usize = 2000;

/// One parameter of a pack.
#[derive(Debug, Clone)]
pub struct ParamDef {
    pub name: String,
    pub kind: ParamKind,
    /// For a `value`: the parameters naming the table and the column it is
    /// compared with or assigned to.
    pub column: Option<(String, String)>,
    /// For `idents`: the parameter naming the table whose columns they are.
    pub table: Option<String>,
    /// For a `choice`: the words it may be.
    pub choices: Vec<String>,
    /// For `idents(TABLE_PARAM - PARAM ...)`: the parameters whose columns
    /// it leaves out of the table's; its default (null) is then every other
    /// column of the table, listed at install.
    pub except: Vec<String>,
    /// For `idents(..., max N)`: the most names it takes, fewer than
    /// [`MAX_IDENTS`].
    pub max: Option<usize>,
    pub default: Value,
    pub doc: String,
    /// The template line that declares it.
    pub line: usize,
}

/// The kind of schema object a pack creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Trigger,
    Index,
    /// A table the pack keeps its data in (a history, counts): created when
    /// missing, and a table of its name with the columns the pack's
    /// statement declares is used as it is. Uninstall keeps it, data and all.
    Table,
    /// A virtual table (an FTS5 index): uninstall drops it.
    VirtualTable,
    /// A table of the pack's own bookkeeping, whose rows matter only while
    /// a statement runs (the row a REPLACE is about to delete): the pack's
    /// by its exact SQL, like a trigger, and dropped by uninstall.
    Scratch,
}

impl ObjectKind {
    /// The `type` column value in `sqlite_schema`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Trigger => "trigger",
            Self::Index => "index",
            Self::Table | Self::VirtualTable | Self::Scratch => "table",
        }
    }

    /// How the header and summaries name the kind.
    pub fn label(self) -> &'static str {
        match self {
            Self::VirtualTable => "virtual table",
            Self::Scratch => "scratch table",
            other => other.name(),
        }
    }
}

/// A schema object the pack creates: its kind, the parameter holding its
/// name and the parameter holding the table it is attached to.
#[derive(Debug, Clone)]
pub struct ObjectDef {
    pub kind: ObjectKind,
    pub name_param: String,
    pub table_param: String,
    /// The object's SQL as SQLite stores it in `sqlite_schema.sql`, with
    /// placeholders: what identifies the object as the pack's.
    pub stored: String,
    /// The template line that declares it.
    pub line: usize,
}

/// A table the pack needs, with the columns it needs (parameter names).
#[derive(Debug, Clone)]
pub struct Requirement {
    pub table_param: String,
    pub column_params: Vec<String>,
    /// The template line that declares it.
    pub line: usize,
}

pub use crate::schema::Affinity;

impl Affinity {
    /// `value` as SQLite converts it when storing it in a column of this
    /// affinity; an error (why) where a literal of that type could only
    /// ever equal values of another type than the column's.
    pub fn apply(self, value: &Value) -> std::result::Result<Value, String> {
        let number = |n: f64, int: Option<i64>| match self {
            Affinity::Real => json_f64(n),
            _ => int.map_or_else(
                || integral(n).map_or_else(|| json_f64(n), Value::from),
                Value::from,
            ),
        };
        match (self, value) {
            (Affinity::Blob, v) => Ok(v.clone()),
            (Affinity::Text, Value::Number(n)) => match n.as_i64() {
                Some(i) => Ok(Value::String(i.to_string())),
                None => Err("which SQLite would compare as its own text for that number, \
                     and that text differs between SQLite versions; pass the text as stored, e.g. \"2.5\""
                    .into()),
            },
            (Affinity::Text, v) => Ok(v.clone()),
            (_, Value::Number(n)) => Ok(number(n.as_f64().unwrap_or(f64::NAN), n.as_i64())),
            (_, Value::String(s)) => match sqlite_number(s) {
                Some((f, int)) if f.is_finite() => Ok(number(f, int)),
                Some(_) => Err("which is out of range".into()),
                None => Err("which is not a number, so it would only match text stored in \
                     that column, never a number; pass a number"
                    .into()),
            },
            (_, v) => Ok(v.clone()),
        }
    }
}

/// The integer equal to `f`, as SQLite's INTEGER and NUMERIC affinities
/// store a real that has one.
fn integral(f: f64) -> Option<i64> {
    // i64::MIN and i64::MAX are excluded, as SQLite excludes them.
    (f.fract() == 0.0 && f > -9.223_372_036_854_775e18 && f < 9.223_372_036_854_775e18)
        .then_some(f as i64)
}

fn json_f64(f: f64) -> Value {
    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// `text` as a number when SQLite's numeric affinity would convert it: a
/// decimal literal (sign, digits, one optional point, optional exponent)
/// with optional spaces around it; not hex, not `inf`, not `1e`. The
/// integer is set when the text is an integer literal that fits 64 bits.
fn sqlite_number(text: &str) -> Option<(f64, Option<i64>)> {
    let t = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r'));
    let b = t.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let mut mantissa = digits(&mut i);
    let mut int = true;
    if b.get(i) == Some(&b'.') {
        i += 1;
        mantissa += digits(&mut i);
        int = false;
    }
    if mantissa == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
        int = false;
    }
    if i != b.len() {
        return None;
    }
    let f: f64 = t.parse().ok()?;
    Some((f, if int { t.parse().ok() } else { None }))
}

/// A version's numbers, for ordering: "1.10.0" is `[1, 10]`, trailing
/// zeros dropped so that `1.0` and `1.0.0` are one version. `None` for text
/// that is not numbers (of at most nine digits) separated by dots.
pub fn version_key(version: &str) -> Option<Vec<u64>> {
    let mut key = version
        .split('.')
        .map(|part| {
            (!part.is_empty() && part.len() <= 9 && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse().unwrap_or_default())
        })
        .collect::<Option<Vec<u64>>>()?;
    while key.last() == Some(&0) {
        key.pop();
    }
    Some(key)
}

/// A parsed pack template.
#[derive(Debug, Clone)]
pub struct Template {
    pub name: String,
    pub version: String,
    pub description: String,
    pub params: Vec<ParamDef>,
    pub requires: Vec<Requirement>,
    pub objects: Vec<ObjectDef>,
    /// The parameter whose value tells installs of the pack apart
    /// (`-- instance:`); `None` for a pack installed at most once.
    pub instance: Option<String>,
    /// What install runs: the objects' statements and the data statements
    /// among them, in order.
    pub body: String,
    /// The data statements uninstall runs before it drops the objects
    /// (the part after a `-- on uninstall:` line); empty for none.
    pub uninstall: String,
    /// Values for the parameters install works out from the schema, for
    /// the plain file, which has no schema to read (`-- example:`).
    pub example: Map<String, Value>,
}

/// A pack's parameters after defaults and user values are merged, in the
/// order the template declares them.
#[derive(Debug, Clone, PartialEq)]
pub struct Params(Vec<(String, Value)>);

impl Params {
    /// The value of a parameter; every declared parameter has one.
    pub fn get(&self, name: &str) -> &Value {
        &self
            .0
            .iter()
            .find(|(n, _)| n == name)
            .expect("declared parameter")
            .1
    }

    /// The value of a parameter as text (identifiers and text are strings).
    pub fn text(&self, name: &str) -> &str {
        self.get(name).as_str().unwrap_or_default()
    }

    pub(crate) fn set(&mut self, name: &str, value: Value) {
        if let Some(slot) = self.0.iter_mut().find(|(n, _)| n == name) {
            slot.1 = value;
        }
    }

    /// The canonical JSON form (keys sorted) stored in the install record.
    pub fn to_json(&self) -> String {
        let map: Map<String, Value> = self.0.iter().cloned().collect();
        Value::Object(map).to_string()
    }
}

/// The user's parameters as a JSON object (`None` for none); `what` names
/// the JSON in errors.
pub fn user_params(user_json: Option<&str>, what: &str) -> Result<Map<String, Value>> {
    match user_json {
        None => Ok(Map::new()),
        Some(text) => json_object(text, what),
    }
}

impl Template {
    /// Merges the user's JSON object of parameters over the defaults and
    /// checks every value. `None` (or SQL NULL) means all defaults.
    pub fn resolve(&self, user_json: Option<&str>) -> Result<Params> {
        self.resolve_object(user_params(user_json, "params_json")?)
    }

    /// [`Template::resolve`] for parameters already read from their JSON
    /// (see [`user_params`]).
    pub fn resolve_object(&self, user: Map<String, Value>) -> Result<Params> {
        if let Some(unknown) = user
            .keys()
            .find(|k| !self.params.iter().any(|p| &p.name == *k))
        {
            return Err(Error::invalid(format!(
                "unknown parameter {} for pack {} (parameters: {})",
                shorten(unknown),
                self.name,
                self.params
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let values = self
            .params
            .iter()
            .map(|p| Ok((p.name.clone(), self.value_of(p, &user)?)))
            .collect::<Result<_>>()?;
        Ok(Params(values))
    }

    /// The checked value of parameter `p`: the user's, else its default.
    /// User values come first, so that derived defaults like
    /// "{trigger_name}_idx" follow a renamed trigger.
    pub(crate) fn value_of(&self, p: &ParamDef, user: &Map<String, Value>) -> Result<Value> {
        let value = match user.get(&p.name) {
            Some(v) => v.clone(),
            None => match &p.default {
                Value::String(s) if s.contains('{') => Value::String(self.derive(s, user)?),
                other => other.clone(),
            },
        };
        self.check_value(p, &value)?;
        Ok(value)
    }

    /// Fills `{param}` references in a derived default, in one pass over the
    /// pattern: a value that itself contains `{param}` is copied as it is,
    /// so a trigger named `x{index_name}` gets the index `x{index_name}_idx`.
    /// A referenced parameter that was not given takes its own default,
    /// derived in turn (`{trigger_name}_delete` where `trigger_name` is
    /// `{table}_count`); defaults that refer to each other in a loop are an
    /// error.
    fn derive(&self, pattern: &str, user: &Map<String, Value>) -> Result<String> {
        self.derive_at(pattern, user, 0)
    }

    fn derive_at(&self, pattern: &str, user: &Map<String, Value>, depth: usize) -> Result<String> {
        if depth > self.params.len() {
            return Err(Error::invalid(format!(
                "the defaults of pack {} refer to each other in a loop ({}); make one of them \
                 a plain value",
                self.name,
                shorten(pattern)
            )));
        }
        let mut out = String::with_capacity(pattern.len() + 32);
        let mut rest = pattern;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let param = after
                .find('}')
                .and_then(|end| Some((self.params.iter().find(|p| p.name == after[..end])?, end)));
            match param {
                Some((p, end)) => {
                    let derived;
                    let v = match (user.get(&p.name), &p.default) {
                        (Some(given), _) => given,
                        (None, Value::String(s)) if s.contains('{') => {
                            derived = Value::String(self.derive_at(s, user, depth + 1)?);
                            &derived
                        }
                        (None, default) => default,
                    };
                    let s = v.as_str().ok_or_else(|| {
                        Error::invalid(format!("parameter {} must be a string", p.name))
                    })?;
                    out.push_str(s);
                    rest = &after[end + 1..];
                }
                None => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    fn check_value(&self, p: &ParamDef, value: &Value) -> Result<()> {
        let wrong = |what: String| {
            Error::invalid(format!(
                "parameter {} of pack {}: {what}",
                p.name, self.name
            ))
        };
        match p.kind {
            ParamKind::Ident => {
                let s = value.as_str().ok_or_else(|| {
                    wrong(format!(
                        "expected a name (a JSON string), got {}",
                        json_kind(value)
                    ))
                })?;
                quote_ident(s).map_err(|e| wrong(e.to_string()))?;
            }
            ParamKind::Text => {
                let s = value.as_str().ok_or_else(|| {
                    wrong(format!("expected a JSON string, got {}", json_kind(value)))
                })?;
                quote_text(s).map_err(|e| wrong(e.to_string()))?;
            }
            ParamKind::Value => {
                literal(value).map_err(|e| wrong(e.to_string()))?;
            }
            ParamKind::Idents if value.is_null() && !p.except.is_empty() => {}
            ParamKind::ConflictColumns if value.is_null() => {}
            ParamKind::Conflicts => match value {
                Value::Null => {}
                Value::String(s) => {
                    check_expr_shape(s).map_err(|why| wrong(format!("{} {why}", shorten(s))))?
                }
                other => {
                    return Err(wrong(format!(
                        "expected the condition install works out, got {}",
                        json_kind(other)
                    )))
                }
            },
            ParamKind::Idents | ParamKind::ConflictColumns => {
                let names = value.as_array().ok_or_else(|| {
                    wrong(format!(
                        "expected a list of names (a JSON array of strings), got {}",
                        json_kind(value)
                    ))
                })?;
                if names.len() > MAX_IDENTS {
                    return Err(wrong(format!(
                        "{} names, more than the {MAX_IDENTS} it takes",
                        names.len()
                    )));
                }
                for (i, name) in names.iter().enumerate() {
                    let s = name.as_str().ok_or_else(|| {
                        wrong(format!(
                            "item {} is {}, not a name (a JSON string)",
                            i + 1,
                            json_kind(name)
                        ))
                    })?;
                    quote_ident(s).map_err(|e| wrong(format!("item {}: {e}", i + 1)))?;
                    if names[..i]
                        .iter()
                        .any(|n| n.as_str().is_some_and(|n| n.eq_ignore_ascii_case(s)))
                    {
                        return Err(wrong(format!(
                            "{} is listed twice; list it once",
                            shorten(s)
                        )));
                    }
                }
            }
            ParamKind::Choice => {
                let word = value.as_str().filter(|w| p.choices.iter().any(|c| c == w));
                if word.is_none() {
                    return Err(wrong(format!(
                        "{} is not one of {}",
                        shorten_to(&value.to_string(), 60),
                        p.choices
                            .iter()
                            .map(|c| format!("\"{c}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
            ParamKind::Transitions => {
                let moves = value.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
                    wrong(format!(
                        "expected a non-empty list of [from, to] pairs, got {}",
                        if value.is_array() {
                            "an empty list"
                        } else {
                            json_kind(value)
                        }
                    ))
                })?;
                if moves.len() > MAX_IDENTS {
                    return Err(wrong(format!(
                        "{} transitions, more than the {MAX_IDENTS} it takes",
                        moves.len()
                    )));
                }
                let mut states: Vec<&Value> = Vec::new();
                for m in moves {
                    for v in m.as_array().into_iter().flatten() {
                        if !states.contains(&v) {
                            states.push(v);
                        }
                    }
                }
                if states.len() > MAX_STATES {
                    return Err(wrong(format!(
                        "{} states, more than the {MAX_STATES} it takes: the trigger holds a \
                         message for each pair of states",
                        states.len()
                    )));
                }
                for (i, m) in moves.iter().enumerate() {
                    let pair = m.as_array().filter(|a| a.len() == 2).ok_or_else(|| {
                        wrong(format!(
                            "transition {} is {}, not a [from, to] pair",
                            i + 1,
                            shorten_to(&m.to_string(), 60)
                        ))
                    })?;
                    for v in pair {
                        literal(v).map_err(|e| wrong(format!("transition {}: {e}", i + 1)))?;
                    }
                    if pair[0] == pair[1] {
                        return Err(wrong(format!(
                            "transition {} goes from {} to itself; an update that keeps the \
                             value is always allowed",
                            i + 1,
                            shorten_to(&pair[0].to_string(), 60)
                        )));
                    }
                    if moves[..i].contains(m) {
                        return Err(wrong(format!(
                            "transition {} is listed twice; list it once",
                            shorten_to(&m.to_string(), 60)
                        )));
                    }
                }
            }
            ParamKind::Expr => {
                let s = value.as_str().ok_or_else(|| {
                    wrong(format!(
                        "expected an SQL expression as a JSON string (\"\" for none), got {}",
                        json_kind(value)
                    ))
                })?;
                check_expr(s).map_err(|why| wrong(format!("{} {why}", shorten(s))))?;
            }
        }
        Ok(())
    }

    /// Gives every `value` parameter the type SQLite gives it when it meets
    /// its column: a trigger's `new.col` has no affinity, so `new.state = '2'`
    /// never matches an INTEGER 2. `affinity` looks a column up (table and
    /// column names); a column it does not find leaves the value as given.
    /// A value that SQLite would not convert, and that would therefore only
    /// match a value of another type than the column's, is refused.
    pub fn typed(
        &self,
        params: &Params,
        affinity: impl Fn(&str, &str) -> Result<Option<Affinity>>,
    ) -> Result<Params> {
        let mut out = params.clone();
        for p in &self.params {
            let Some((table_param, column_param)) = &p.column else {
                continue;
            };
            let (table, column) = (params.text(table_param), params.text(column_param));
            let Some(aff) = affinity(table, column)? else {
                continue;
            };
            let value = params.get(&p.name);
            let apply = |v: &Value| -> std::result::Result<Value, String> {
                match (p.kind, v) {
                    (ParamKind::Transitions, Value::Array(moves)) => Ok(Value::Array(
                        moves
                            .iter()
                            .map(|m| match m {
                                Value::Array(pair) => Ok(Value::Array(
                                    pair.iter()
                                        .map(|x| aff.apply(x))
                                        .collect::<std::result::Result<Vec<Value>, String>>()?,
                                )),
                                other => Ok(other.clone()),
                            })
                            .collect::<std::result::Result<Vec<Value>, String>>()?,
                    )),
                    _ => aff.apply(v),
                }
            };
            let typed = apply(value).map_err(|why| {
                Error::invalid(format!(
                    "parameter {} of pack {}: {} for column {} of {} ({} affinity), {why}",
                    p.name,
                    self.name,
                    shorten_to(&value.to_string(), 60),
                    shorten(column),
                    shorten(table),
                    aff.name()
                ))
            })?;
            out.set(&p.name, typed);
        }
        Ok(out)
    }

    /// Lists the columns of each `idents(TABLE_PARAM - PARAM ...)` parameter
    /// left null: every column `columns` gives for its table (`None` where
    /// the table does not exist, which leaves it null) but those the
    /// parameters after `-` name.
    pub fn fill_lists(
        &self,
        params: &mut Params,
        columns: impl Fn(&str) -> Result<Option<Vec<String>>>,
    ) -> Result<()> {
        for p in self.params.iter().filter(|p| !p.except.is_empty()) {
            let (Some(table), true) = (&p.table, params.get(&p.name).is_null()) else {
                continue;
            };
            let Some(all) = columns(params.text(table))? else {
                continue;
            };
            let left_out: Vec<String> = p
                .except
                .iter()
                .flat_map(|e| match params.get(e) {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(a) => a
                        .iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect(),
                    _ => Vec::new(),
                })
                .collect();
            let kept = all
                .into_iter()
                .filter(|c| !left_out.iter().any(|x| x.eq_ignore_ascii_case(c)))
                .map(Value::String)
                .collect();
            params.set(&p.name, Value::Array(kept));
        }
        Ok(())
    }

    /// The body with every placeholder replaced by its quoted value.
    pub fn render_body(&self, params: &Params) -> Result<String> {
        self.render_text(&self.body, params)
    }

    /// The statements uninstall runs first, rendered.
    pub fn render_uninstall(&self, params: &Params) -> Result<String> {
        self.render_text(&self.uninstall, params)
    }

    /// The SQL SQLite stores for one of the pack's objects created with
    /// these parameters: `sqlite_schema.sql` of that object, exactly.
    pub fn stored_sql(&self, o: &ObjectDef, params: &Params) -> Result<String> {
        self.render_text(&o.stored, params)
    }

    /// `text` (a part of the body) with every tag replaced: placeholders by
    /// their values, blocks by what they stand for.
    fn render_text(&self, text: &str, params: &Params) -> Result<String> {
        let nodes = blocks::parse(text).expect("checked at parse");
        let mut out = String::with_capacity(text.len() + 256);
        self.render_nodes(&nodes, params, None, &mut out)?;
        Ok(out)
    }

    fn render_nodes(
        &self,
        nodes: &[Node<'_>],
        params: &Params,
        item: Option<(usize, &str)>,
        out: &mut String,
    ) -> Result<()> {
        for n in nodes {
            match n {
                Node::Sql(sql) => out.push_str(sql),
                Node::Param(name, _) => {
                    self.derived_is_there(name, params)?;
                    out.push_str(&self.render_value(self.param(name), params.get(name), params)?)
                }
                Node::Item(_) => out.push_str(&quote_ident(item.expect("checked at parse").1)?),
                Node::Index(_) => out.push_str(&item.expect("checked at parse").0.to_string()),
                Node::Each {
                    param, sep, body, ..
                } => {
                    self.derived_is_there(param, params)?;
                    let names = params.get(param).as_array().cloned().unwrap_or_default();
                    for (i, name) in names.iter().enumerate() {
                        if i > 0 {
                            out.push_str(sep);
                        }
                        let name = name.as_str().unwrap_or_default();
                        self.render_nodes(body, params, Some((i, name)), out)?;
                    }
                }
                Node::If {
                    param,
                    equals,
                    then,
                    otherwise,
                    ..
                } => {
                    let holds = blocks::holds(params.get(param), *equals);
                    let part = if holds { then } else { otherwise };
                    self.render_nodes(part, params, item, out)?;
                }
            }
        }
        Ok(())
    }

    /// Fails when the SQL needs a parameter install works out from the
    /// schema, and it could not be: its table is missing.
    fn derived_is_there(&self, name: &str, params: &Params) -> Result<()> {
        let p = self.param(name);
        // A preview for a table not created yet follows REPLACE through
        // the rowid only (see render_value); install always works it out.
        if !p.derived() || !params.get(name).is_null() || p.kind.worked_out_from_constraints() {
            return Ok(());
        }
        let table = p
            .table
            .as_deref()
            .map(|t| params.text(t))
            .unwrap_or_default();
        Err(Error::invalid(format!(
            "parameter {name} of pack {} is worked out from the columns and constraints of \
             table {}, and the main database has no such table; create it first",
            self.name,
            shorten(table)
        )))
    }

    /// The declared parameter `name`.
    pub(crate) fn param(&self, name: &str) -> &ParamDef {
        self.params
            .iter()
            .find(|p| p.name == name)
            .expect("checked at parse")
    }

    fn render_value(&self, def: &ParamDef, value: &Value, params: &Params) -> Result<String> {
        match def.kind {
            ParamKind::Ident => quote_ident(value.as_str().unwrap_or_default()),
            ParamKind::Text => quote_text(value.as_str().unwrap_or_default()),
            ParamKind::Value => literal(value),
            ParamKind::ConflictColumns if value.is_null() => quote_ident("rowid"),
            ParamKind::Idents | ParamKind::ConflictColumns => Ok(value
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| quote_ident(v.as_str().unwrap_or_default()))
                })
                .into_iter()
                .flatten()
                .collect::<Result<Vec<_>>>()?
                .join(", ")),
            ParamKind::Choice => Ok(value.as_str().unwrap_or_default().to_string()),
            ParamKind::Expr => Ok(format!("({})", value.as_str().unwrap_or_default().trim())),
            ParamKind::Transitions => self.transitions_sql(def, value, params),
            ParamKind::Conflicts => Ok(match value.as_str() {
                Some(condition) if !condition.is_empty() => format!("({condition})"),
                _ => "(conflicting_row.rowid = new.rowid)".to_string(),
            }),
        }
    }

    /// The expression of a `transitions` parameter: a CASE on the old
    /// value, then on the new one, NULL for a listed move and a RAISE
    /// naming both values for any other. RAISE takes only a literal
    /// message (SQLite before 3.47), so each pair of known values has its
    /// own; a value outside the listed ones is named as such.
    fn transitions_sql(&self, def: &ParamDef, value: &Value, params: &Params) -> Result<String> {
        let (table_param, column_param) = def.column.as_ref().expect("checked at parse");
        let (table, column) = (params.text(table_param), params.text(column_param));
        let col = quote_ident(column)?;
        let moves: Vec<(&Value, &Value)> = value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| Some((m.get(0)?, m.get(1)?)))
            .collect();
        let mut states: Vec<&Value> = Vec::new();
        for (a, b) in &moves {
            for v in [a, b] {
                if !states.contains(v) {
                    states.push(v);
                }
            }
        }
        let shown = |v: &Value| literal(v).unwrap_or_default();
        let all = states
            .iter()
            .map(|v| shown(v))
            .collect::<Vec<_>>()
            .join(", ");
        let what = format!("{}.{}", table, column);
        let raise = |message: String| -> Result<String> {
            Ok(format!("RAISE(ABORT, {})", quote_text(&message)?))
        };
        let mut sql = format!("CASE old.{col}");
        for from in &states {
            sql.push_str(&format!("\n      WHEN {} THEN CASE new.{col}", shown(from)));
            for to in states.iter().filter(|to| *to != from) {
                let allowed = moves.iter().any(|(a, b)| a == from && b == to);
                let then = if allowed {
                    "NULL".to_string()
                } else {
                    let next: Vec<String> = moves
                        .iter()
                        .filter(|(a, _)| a == from)
                        .map(|(_, b)| shown(b))
                        .collect();
                    raise(if next.is_empty() {
                        format!(
                            "{what} may not move from {} to {}; {} is a final state",
                            shown(from),
                            shown(to),
                            shown(from)
                        )
                    } else {
                        format!(
                            "{what} may not move from {} to {}; from {} it may move to {}",
                            shown(from),
                            shown(to),
                            shown(from),
                            next.join(", ")
                        )
                    })?
                };
                sql.push_str(&format!("\n        WHEN {} THEN {then}", shown(to)));
            }
            sql.push_str(&format!(
                "\n        ELSE {} END",
                raise(format!(
                    "{what} may not move from {} to a value that is not one of its states ({all})",
                    shown(from)
                ))?
            ));
        }
        sql.push_str(&format!(
            "\n      ELSE {} END",
            raise(format!(
                "{what} may not move from a value that is not one of its states ({all})"
            ))?
        ));
        Ok(sql)
    }

    /// The defaults as a JSON object (keys sorted), for `trigger_packs`.
    pub fn defaults_json(&self) -> String {
        self.resolve(None).expect("defaults are valid").to_json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "-- pack: demo\n-- version: 1.2.3\n-- description: a demo pack\n\
        -- param: tbl | ident | \"t\" | the table\n\
        -- param: col | ident | \"c\" | a column\n\
        -- param: val | value(tbl.col) | 2 | a value\n\
        -- param: label | text | \"it's\" | a label\n\
        -- param: trigger_name | ident | \"demo\" | the trigger\n\
        -- param: index_name | ident | \"{trigger_name}_idx\" | the index\n\
        -- requires: tbl | val_col_is_not_here\n";

    fn demo() -> Template {
        let text = T.replace("-- requires: tbl | val_col_is_not_here\n", "-- requires: tbl | \n")
            + "-- object: trigger | trigger_name | tbl\n--\nCREATE TRIGGER IF NOT EXISTS main.{{trigger_name}} AFTER INSERT ON {{tbl}} BEGIN SELECT {{val}}, {{label}}; END;\n";
        Template::parse(&text).unwrap()
    }

    #[test]
    fn parses_header_and_body() {
        let t = demo();
        assert_eq!((t.name.as_str(), t.version.as_str()), ("demo", "1.2.3"));
        assert_eq!(t.params.len(), 6);
        assert!(t.body.starts_with("--\nCREATE TRIGGER"));
    }

    #[test]
    fn undeclared_parameters_are_template_errors() {
        let err = Template::parse(T).unwrap_err().to_string();
        assert_eq!(
            err,
            "line 10: the column parameter \"val_col_is_not_here\" is not declared; declare it \
             with a '-- param: val_col_is_not_here | ident | DEFAULT | DESCRIPTION' line"
        );
        let text = "-- pack: x\n-- version: 1\n\nSELECT {{nope}};";
        assert!(Template::parse(text)
            .unwrap_err()
            .to_string()
            .starts_with("line 1: the header declares no object"));
    }

    #[test]
    fn renders_defaults_quoted() {
        let t = demo();
        let sql = t.render_body(&t.resolve(None).unwrap()).unwrap();
        assert!(
            sql.contains(
                "CREATE TRIGGER IF NOT EXISTS main.\"demo\" AFTER INSERT ON \"t\" BEGIN SELECT 2, 'it''s'; END;"
            ),
            "{sql}"
        );
    }

    #[test]
    fn user_values_override_and_derived_defaults_follow() {
        let t = demo();
        let p = t
            .resolve(Some(r#"{"trigger_name":"x\"y","val":"a'b"}"#))
            .unwrap();
        assert_eq!(p.text("index_name"), "x\"y_idx");
        let sql = t.render_body(&p).unwrap();
        assert!(sql.contains("main.\"x\"\"y\""), "{sql}");
        assert!(sql.contains("SELECT 'a''b'"), "{sql}");
    }

    #[test]
    fn derived_defaults_do_not_expand_user_values_again() {
        let t = demo();
        for name in ["x{index_name}", "{trigger_name}", "{{tbl}}", "{", "}{"] {
            let json = serde_json::json!({ "trigger_name": name }).to_string();
            let p = t.resolve(Some(&json)).unwrap();
            assert_eq!(p.text("index_name"), format!("{name}_idx"));
        }
    }

    #[test]
    fn derived_defaults_may_derive_from_derived_ones_but_not_in_a_loop() {
        let t = demo();
        let text = |index: &str, trigger: &str| {
            T.replace("\"{trigger_name}_idx\"", index)
                .replace("\"demo\" | the trigger", &format!("{trigger} | the trigger"))
                .replace("-- requires: tbl | val_col_is_not_here\n", "-- requires: tbl | \n")
                + "-- object: trigger | trigger_name | tbl\n--\n\
                   CREATE TRIGGER IF NOT EXISTS main.{{trigger_name}} AFTER INSERT ON {{tbl}} BEGIN SELECT 1; END;\n"
        };
        let chained = Template::parse(&text("\"{trigger_name}_idx\"", "\"{tbl}_trg\"")).unwrap();
        assert_eq!(
            chained.resolve(None).unwrap().text("index_name"),
            "t_trg_idx"
        );
        let e = Template::parse(&text("\"{trigger_name}_idx\"", "\"{index_name}_trg\""))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("line 8: the defaults of pack demo refer to each other in a loop"),
            "{e}"
        );
        assert_eq!(t.resolve(None).unwrap().text("index_name"), "demo_idx");
    }

    #[test]
    fn bad_params_are_refused_with_the_parameter_named() {
        let t = demo();
        let e = |j: &str| t.resolve(Some(j)).unwrap_err().to_string();
        assert!(e("{").contains("not valid JSON"));
        assert!(e("[1]").contains("must be a JSON object, got an array"));
        assert!(e(r#"{"nope":1}"#).contains("unknown parameter \"nope\" for pack demo"));
        assert!(e(r#"{"tbl":1}"#).contains("parameter tbl of pack demo: expected a name"));
        assert!(e(r#"{"tbl":""}"#)
            .contains("parameter tbl of pack demo: an identifier cannot be empty"));
        assert!(e(r#"{"val":null}"#)
            .contains("parameter val of pack demo: expected a number or a string, got null"));
        assert!(
            e(r#"{"label":3}"#).contains("parameter label of pack demo: expected a JSON string")
        );
        assert!(e(r#"{"tbl":"a\u0000b"}"#).contains("NUL"));
    }

    #[test]
    fn params_json_is_canonical() {
        let t = demo();
        let a = t.resolve(Some(r#"{"val":2,"tbl":"t"}"#)).unwrap();
        let b = t.resolve(None).unwrap();
        assert_eq!(a.to_json(), b.to_json());
        assert_eq!(
            b.to_json(),
            r#"{"col":"c","index_name":"demo_idx","label":"it's","tbl":"t","trigger_name":"demo","val":2}"#
        );
    }

    #[test]
    fn stored_text_is_what_sqlite_keeps() {
        let t = demo();
        let p = t.resolve(Some(r#"{"trigger_name":"a;b"}"#)).unwrap();
        assert_eq!(
            t.stored_sql(&t.objects[0], &p).unwrap(),
            "CREATE TRIGGER \"a;b\" AFTER INSERT ON \"t\" BEGIN SELECT 2, 'it''s'; END"
        );
    }

    #[test]
    fn an_object_needs_its_own_create_statement() {
        let text = T.replace("-- requires: tbl | val_col_is_not_here\n", "-- requires: tbl | \n")
            + "-- object: trigger | trigger_name | tbl\n--\nCREATE TRIGGER main.{{trigger_name}} AFTER INSERT ON {{tbl}} BEGIN SELECT 1; END;\n";
        let e = Template::parse(&text).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "line 13: \"CREATE TRIGGER main.{{trigger_name}} AFTER INSERT ON {{tbl}}…\" is \
                 not the statement of a declared object"
            ),
            "{e}"
        );
    }

    #[test]
    fn values_take_the_type_sqlite_gives_them_in_their_column() {
        use serde_json::json;
        use Affinity::*;
        let ok = |a: Affinity, v: Value| a.apply(&v).unwrap();
        // Text that SQLite's numeric affinities convert (checked against
        // what SQLite 3.40 stores in such columns).
        assert_eq!(ok(Integer, json!("2")), json!(2));
        assert_eq!(ok(Integer, json!(" 2 ")), json!(2));
        assert_eq!(ok(Integer, json!("+2")), json!(2));
        assert_eq!(ok(Integer, json!("2.0")), json!(2));
        assert_eq!(ok(Numeric, json!("1e3")), json!(1000));
        assert_eq!(ok(Numeric, json!("-0")), json!(0));
        assert_eq!(ok(Numeric, json!("2.5")), json!(2.5));
        assert_eq!(
            ok(Numeric, json!("9223372036854775808")),
            json!(9223372036854775808.0)
        );
        assert_eq!(ok(Real, json!("2")), json!(2.0));
        assert_eq!(ok(Real, json!(".5")), json!(0.5));
        // Numbers: integral reals become integers, integers stay.
        assert_eq!(ok(Integer, json!(2.0)), json!(2));
        assert_eq!(ok(Integer, json!(2.5)), json!(2.5));
        assert_eq!(ok(Integer, json!(1e20)), json!(1e20));
        assert_eq!(ok(Real, json!(2)), json!(2.0));
        // TEXT columns compare text: an integer becomes its digits.
        assert_eq!(ok(Text, json!(2)), json!("2"));
        assert_eq!(ok(Text, json!("2")), json!("2"));
        // No affinity: as given.
        assert_eq!(ok(Blob, json!("2")), json!("2"));
        assert_eq!(ok(Blob, json!(2.5)), json!(2.5));
        // Refused, with why.
        for (a, v) in [
            (Integer, json!("abc")),
            (Integer, json!("")),
            (Integer, json!("0x10")),
            (Integer, json!("1e")),
            (Integer, json!("2 2")),
            (Real, json!("inf")),
            (Numeric, json!(".")),
        ] {
            let e = a.apply(&v).unwrap_err();
            assert!(e.contains("is not a number"), "{v}: {e}");
        }
        assert!(Integer
            .apply(&json!("1e400"))
            .unwrap_err()
            .contains("out of range"));
        assert!(Text
            .apply(&json!(2.5))
            .unwrap_err()
            .contains("pass the text as stored"));
    }

    #[test]
    fn affinity_follows_the_declared_type() {
        use Affinity::*;
        for (declared, a) in [
            ("INTEGER", Integer),
            ("bigint", Integer),
            ("POINT", Integer),
            ("VARCHAR(10)", Text),
            ("text", Text),
            ("", Blob),
            ("blob", Blob),
            ("DOUBLE PRECISION", Real),
            ("FLOATING POINT", Integer),
            ("DECIMAL(5,2)", Numeric),
            ("BOOLEAN", Numeric),
        ] {
            assert_eq!(Affinity::of_declared(declared), a, "{declared}");
        }
    }

    #[test]
    fn typed_names_the_parameter_column_and_affinity() {
        let t = demo();
        let p = t.resolve(Some(r#"{"val":"abc"}"#)).unwrap();
        let e = t
            .typed(&p, |table, column| {
                assert_eq!((table, column), ("t", "c"));
                Ok(Some(Affinity::Integer))
            })
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "parameter val of pack demo: \"abc\" for column \"c\" of \"t\" (INTEGER affinity), \
             which is not a number, so it would only match text stored in that column, never a \
             number; pass a number"
        );
        let p = t.resolve(Some(r#"{"val":"2"}"#)).unwrap();
        assert_eq!(t.typed(&p, |_, _| Ok(None)).unwrap(), p);
        let typed = t.typed(&p, |_, _| Ok(Some(Affinity::Integer))).unwrap();
        assert!(t.render_body(&typed).unwrap().contains("SELECT 2, "));
    }

    #[test]
    fn transitions_are_typed_and_give_each_pair_its_message() {
        let text = "-- pack: m\n-- version: 1\n\
            -- param: tbl | ident | \"t\" | the table\n\
            -- param: col | ident | \"s\" | the column\n\
            -- param: moves | transitions(tbl.col) | [[\"1\", 2]] | the moves\n\
            -- param: trigger_name | ident | \"m\" | the trigger\n\
            -- requires: tbl | col\n\
            -- object: trigger | trigger_name | tbl\n--\n\
            CREATE TRIGGER IF NOT EXISTS main.{{trigger_name}} BEFORE UPDATE ON {{tbl}} BEGIN SELECT {{moves}}; END;\n";
        let t = Template::parse(text).unwrap();
        let p = t
            .resolve(Some(r#"{"moves": [["1", 2], [2, "3"]]}"#))
            .unwrap();
        let typed = t.typed(&p, |_, _| Ok(Some(Affinity::Integer))).unwrap();
        assert_eq!(typed.get("moves"), &serde_json::json!([[1, 2], [2, 3]]));
        let sql = t.stored_sql(&t.objects[0], &typed).unwrap();
        assert!(
            sql.contains("CASE old.\"s\"\n      WHEN 1 THEN CASE new.\"s\""),
            "{sql}"
        );
        assert!(sql.contains("WHEN 2 THEN NULL"), "{sql}");
        assert!(
            sql.contains(
                "WHEN 3 THEN RAISE(ABORT, 't.s may not move from 1 to 3; from 1 it may move to 2')"
            ),
            "{sql}"
        );
        assert!(
            sql.contains("'t.s may not move from 3 to 1; 3 is a final state'"),
            "{sql}"
        );
        let e = |j: &str| t.resolve(Some(j)).unwrap_err().to_string();
        assert!(e(r#"{"moves": []}"#).contains("got an empty list"));
        assert!(e(r#"{"moves": [[1]]}"#).contains("transition 1 is [1], not a [from, to] pair"));
        assert!(e(r#"{"moves": [[1, 1]]}"#).contains("goes from 1 to itself"));
        assert!(e(r#"{"moves": [[1, 2], [1, 2]]}"#).contains("is listed twice"));
        assert!(
            e(r#"{"moves": [[1, null]]}"#).contains("transition 1: expected a number or a string")
        );
    }

    #[test]
    fn an_expression_stays_one_expression() {
        for ok in [
            "old.deleted_at IS NOT NULL",
            "new.price < 0 AND (old.price >= 0 OR old.price IS NULL)",
            "new.name = '); DROP TABLE x; --'",
            "new.\"a\"\"b\" IS NOT old.[c)] AND new.`d(` = x'00'",
            "(SELECT count(*) FROM item) > 3",
            "new.a$b = 1",
        ] {
            assert_eq!(check_expr(ok), Ok(()), "{ok}");
        }
        let why = |expr: &str| check_expr(expr).unwrap_err();
        assert!(why("1); DROP TABLE x; SELECT (1").contains("closes a parenthesis"));
        assert!(why("1 OR (1").contains("opens a parenthesis"));
        assert!(why("1; DROP TABLE x").contains("holds a ';'"));
        assert!(why("1 -- x\n").contains("holds a comment"));
        assert!(why("1 /* x */").contains("holds a comment"));
        assert!(why("new.name = 'x").contains("does not end"));
        assert!(why("a\0b").contains("NUL"));
        assert!(why(&"1 OR ".repeat(1000)).contains("longer than"));
        // SQLite reads a TCL-style variable's parenthesised suffix as part
        // of the variable, quotes and ';' included: the ';' below ends the
        // statement for SQLite though a reading that knows no variables
        // finds it inside a string. A trigger cannot use variables anyway.
        let sneaky = "$a(')) BEGIN SELECT 1; END; DROP TABLE x; SELECT (')";
        assert!(why(sneaky).contains("variable"));
        for var in ["?", "?1", ":a", "@a", "$a", "#a", "$a(b)", "new.x = :a(')"] {
            assert!(why(var).contains("variable"), "{var}");
        }
    }

    #[test]
    fn a_value_names_its_column() {
        let e = |kind: &str| {
            let text = T
                .replace("value(tbl.col)", kind)
                .replace("-- requires: tbl | val_col_is_not_here\n", "");
            Template::parse(&text).unwrap_err().to_string()
        };
        assert!(e("value").contains("a value or transitions, and only those, name their column"));
        assert!(e("value(tbl)").contains("write value(TABLE_PARAM.COLUMN_PARAM)"));
        assert!(e("value(tbl.nope)").contains("column parameter \"nope\" is not declared"));
    }
}
