//! Quoting for generated SQL. Every identifier and value a user supplies goes
//! through here, so none of them can ever run as SQL. And [`in_savepoint`],
//! which makes every change the extension runs all or nothing.
use rusqlite::Connection;

use crate::{Error, Result};

/// Quotes an identifier with double quotes, doubling any inside it.
/// Refuses the empty name and names containing NUL, which SQLite cannot store.
pub fn quote_ident(name: &str) -> Result<String> {
    if name.is_empty() {
        return Err(Error::invalid("an identifier cannot be empty"));
    }
    if name.contains('\0') {
        return Err(Error::invalid(format!(
            "identifier {} contains a NUL character",
            shorten(name)
        )));
    }
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

/// Quotes a text value as an SQL string literal, doubling single quotes.
pub fn quote_text(value: &str) -> Result<String> {
    if value.contains('\0') {
        return Err(Error::invalid(format!(
            "text {} contains a NUL character",
            shorten(value)
        )));
    }
    Ok(format!("'{}'", value.replace('\'', "''")))
}

/// Renders a JSON scalar as an SQL literal: numbers as they are, strings
/// quoted. Anything else (null, booleans, arrays, objects) is refused.
pub fn literal(value: &serde_json::Value) -> Result<String> {
    match value {
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i.to_string())
            } else if let Some(f) = n.as_f64().filter(|f| f.is_finite()) {
                Ok(format!("{f:?}"))
            } else {
                Err(Error::invalid(format!("number {n} is out of range")))
            }
        }
        serde_json::Value::String(s) => quote_text(s),
        other => Err(Error::invalid(format!(
            "expected a number or a string, got {}",
            json_kind(other)
        ))),
    }
}

/// Names a JSON value's kind for error messages.
pub fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Shows a schema name in a one-line summary: plain when it is a simple
/// name, quoted and escaped (so it stays on one line) otherwise.
/// A name longer than 60 characters is cut short, like [`shorten`].
pub fn display_name(name: &str) -> String {
    if !name.is_empty()
        && name.len() <= 60
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        name.to_string()
    } else {
        shorten(name)
    }
}

/// Shows user text in an error message: quoted, and cut short when long.
pub fn shorten(text: &str) -> String {
    format!("{:?}", shorten_to(text, 60))
}

/// Cuts text to at most `max` characters, marking the cut with `…`.
pub fn shorten_to(text: &str, max: usize) -> String {
    let mut shown: String = text.chars().take(max).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}

/// The column names a `CREATE TABLE name (…)` statement declares, unquoted,
/// in order (table constraints left out).
pub(crate) fn declared_columns(create: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut expect_name = false;
    for t in tokens(create) {
        let text = &create[t.start..t.end];
        match t.kind {
            Kind::Space | Kind::Comment => continue,
            Kind::Other if text == "(" => {
                depth += 1;
                if depth == 1 {
                    expect_name = true;
                }
                continue;
            }
            Kind::Other if text == ")" => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
                continue;
            }
            Kind::Other if text == "," && depth == 1 => {
                expect_name = true;
                continue;
            }
            _ => {}
        }
        if expect_name && depth == 1 {
            expect_name = false;
            let constraint = ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"]
                .iter()
                .any(|k| t.kind == Kind::Word && text.eq_ignore_ascii_case(k));
            if !constraint {
                out.push(unquote(text));
            }
        }
    }
    out
}

/// A name as SQLite reads it: `"a""b"`, `[a]` and `` `a` `` unquoted.
pub(crate) fn unquote(text: &str) -> String {
    let b = text.as_bytes();
    match (b.first(), b.last()) {
        (Some(b'"'), Some(b'"')) if text.len() >= 2 => {
            text[1..text.len() - 1].replace("\"\"", "\"")
        }
        (Some(b'`'), Some(b'`')) if text.len() >= 2 => text[1..text.len() - 1].replace("``", "`"),
        (Some(b'['), Some(b']')) if text.len() >= 2 => text[1..text.len() - 1].to_string(),
        _ => text.to_string(),
    }
}

/// What a [`Token`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// ASCII whitespace.
    Space,
    /// `-- ...` up to the end of the line, or `/* ... */`.
    Comment,
    /// A `'...'` string.
    Text,
    /// An `x'...'` blob.
    Blob,
    /// A `"..."`, `` `...` `` or `[...]` name.
    Name,
    /// A bare word: keyword, name or function (bytes past ASCII included,
    /// as SQLite reads them).
    Word,
    /// A number, or the digits that start one.
    Number,
    /// Any other single byte (punctuation, operators).
    Other,
}

/// One token of SQL text: its kind and byte range, and whether it was
/// closed (a quote, bracket or comment the text ends inside is not).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Token {
    pub(crate) kind: Kind,
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) closed: bool,
}

/// Splits SQL text into tokens, enough of SQLite's tokenizer to skip
/// strings, quoted names and comments and to find the words between them.
pub(crate) fn tokens(sql: &str) -> impl Iterator<Item = Token> + '_ {
    let b = sql.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80;
    // The end of a run quoted by `close` from `from`, past a doubled
    // `close` when `doubled` (SQL's escape); whether it was closed.
    let quoted = move |from: usize, close: u8, doubled: bool| -> (usize, bool) {
        let mut i = from;
        while i < b.len() {
            if b[i] == close {
                if doubled && b.get(i + 1) == Some(&close) {
                    i += 2;
                    continue;
                }
                return (i + 1, true);
            }
            i += 1;
        }
        (b.len(), false)
    };
    let mut i = 0;
    std::iter::from_fn(move || {
        let start = i;
        let c = *b.get(i)?;
        let (kind, end, closed) = match c {
            b'\'' => {
                let (end, closed) = quoted(i + 1, b'\'', true);
                (Kind::Text, end, closed)
            }
            b'"' | b'`' => {
                let (end, closed) = quoted(i + 1, c, true);
                (Kind::Name, end, closed)
            }
            b'[' => {
                let (end, closed) = quoted(i + 1, b']', false);
                (Kind::Name, end, closed)
            }
            b'x' | b'X' if b.get(i + 1) == Some(&b'\'') => {
                let (end, closed) = quoted(i + 2, b'\'', false);
                (Kind::Blob, end, closed)
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                let end = b[i..].iter().position(|&c| c == b'\n').map(|p| i + p);
                (Kind::Comment, end.unwrap_or(b.len()), end.is_some())
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = sql[i + 2..].find("*/").map(|p| i + 2 + p + 2);
                (Kind::Comment, end.unwrap_or(b.len()), end.is_some())
            }
            c if c.is_ascii_whitespace() => {
                let end = b[i..]
                    .iter()
                    .position(|c| !c.is_ascii_whitespace())
                    .map_or(b.len(), |p| i + p);
                (Kind::Space, end, true)
            }
            c if word(c) => {
                let end = b[i..]
                    .iter()
                    .position(|&c| !word(c))
                    .map_or(b.len(), |p| i + p);
                let kind = if c.is_ascii_digit() {
                    Kind::Number
                } else {
                    Kind::Word
                };
                (kind, end, true)
            }
            _ => (Kind::Other, i + 1, true),
        };
        i = end;
        Some(Token {
            kind,
            start,
            end,
            closed,
        })
    })
}

/// `text` without the whitespace SQLite's tokenizer skips around it: ASCII
/// space, tab, newline, form feed and carriage return. Other Unicode
/// whitespace (U+00A0, U+3000 ...) is part of a name to SQLite, and stays.
pub(crate) fn trim_sql(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_ascii_whitespace())
}

/// The identifiers a piece of SQL names, unquoted: bare words and
/// `"..."`, `` `...` `` and `[...]` names, skipping strings, numbers, blobs
/// and comments. Keywords and function names come out too; callers match
/// the result against names they know, so a word too many does no harm.
pub fn identifiers(sql: &str) -> Vec<String> {
    tokens(sql)
        .filter_map(|t| {
            let text = &sql[t.start..t.end];
            match t.kind {
                Kind::Word => Some(text.to_string()),
                Kind::Name => {
                    let (open, inner) = text.split_at(1);
                    let inner = if t.closed {
                        &inner[..inner.len() - 1]
                    } else {
                        inner
                    };
                    Some(match open {
                        "[" => inner.to_string(),
                        q => inner.replace(&q.repeat(2), q),
                    })
                }
                _ => None,
            }
        })
        .collect()
}

/// The head of a `CREATE TRIGGER` statement, as [`trigger_head`] reads it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TriggerHead {
    /// Where the trigger's own name starts (past any `schema.`).
    pub(crate) name_start: usize,
    /// `BEFORE`, `AFTER` or `INSTEAD OF`, upper-case; `BEFORE` when the
    /// statement names none, as SQLite reads it.
    pub(crate) timing: &'static str,
    /// `DELETE`, `INSERT` or `UPDATE`, upper-case.
    pub(crate) op: &'static str,
}

/// Reads the head of a `CREATE TRIGGER` statement (`CREATE [TEMP] TRIGGER
/// [IF NOT EXISTS] [schema.]name [timing] op`); `None` for anything else.
pub(crate) fn trigger_head(sql: &str) -> Option<TriggerHead> {
    let mut words = tokens(sql).filter(|t| !matches!(t.kind, Kind::Space | Kind::Comment));
    let text = |t: &Token| &sql[t.start..t.end];
    let is = |t: Option<Token>, word: &str| {
        t.is_some_and(|t| t.kind == Kind::Word && sql[t.start..t.end].eq_ignore_ascii_case(word))
    };
    if !is(words.next(), "CREATE") {
        return None;
    }
    let mut next = words.next()?;
    let temp = next.kind == Kind::Word
        && ["TEMP", "TEMPORARY"]
            .iter()
            .any(|w| text(&next).eq_ignore_ascii_case(w));
    if temp {
        next = words.next()?;
    }
    if !is(Some(next), "TRIGGER") {
        return None;
    }
    let mut rest: Vec<Token> = words.take(10).collect();
    if rest.len() >= 3 && is(Some(rest[0]), "IF") && is(Some(rest[1]), "NOT") {
        if !is(Some(rest[2]), "EXISTS") {
            return None;
        }
        rest.drain(..3);
    }
    let name = |t: &Token| matches!(t.kind, Kind::Word | Kind::Name | Kind::Text) && t.closed;
    let mut at = 0;
    if !rest.first().is_some_and(name) {
        return None;
    }
    let qualified = rest.get(1).is_some_and(|t| text(t) == ".");
    if qualified {
        at = 2;
        if !rest.get(at).is_some_and(name) {
            return None;
        }
    }
    let name_start = rest[at].start;
    let word = |i: usize| rest.get(i).filter(|t| t.kind == Kind::Word).map(text);
    let mut i = at + 1;
    let timing = match word(i) {
        Some(w) if w.eq_ignore_ascii_case("BEFORE") => "BEFORE",
        Some(w) if w.eq_ignore_ascii_case("AFTER") => "AFTER",
        Some(w) if w.eq_ignore_ascii_case("INSTEAD") => {
            i += 1;
            if !word(i).is_some_and(|w| w.eq_ignore_ascii_case("OF")) {
                return None;
            }
            "INSTEAD OF"
        }
        _ => {
            i -= 1;
            "BEFORE"
        }
    };
    i += 1;
    let op = ["DELETE", "INSERT", "UPDATE"]
        .into_iter()
        .find(|op| word(i).is_some_and(|w| w.eq_ignore_ascii_case(op)))?;
    Some(TriggerHead {
        name_start,
        timing,
        op,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_double_quoted_with_quotes_doubled() {
        assert_eq!(quote_ident("user").unwrap(), "\"user\"");
        assert_eq!(
            quote_ident("my \"odd\" table").unwrap(),
            "\"my \"\"odd\"\" table\""
        );
        assert_eq!(
            quote_ident("a;DROP TABLE x;--").unwrap(),
            "\"a;DROP TABLE x;--\""
        );
        assert!(quote_ident("").is_err());
        assert!(quote_ident("a\0b").unwrap_err().to_string().contains("NUL"));
    }

    #[test]
    fn text_is_single_quoted_with_quotes_doubled() {
        assert_eq!(quote_text("it's").unwrap(), "'it''s'");
        assert!(quote_text("a\0").is_err());
    }

    #[test]
    fn literals_accept_numbers_and_strings_only() {
        use serde_json::json;
        assert_eq!(literal(&json!(2)).unwrap(), "2");
        assert_eq!(literal(&json!(-1.5)).unwrap(), "-1.5");
        assert_eq!(literal(&json!("x'y")).unwrap(), "'x''y'");
        assert!(literal(&json!(null))
            .unwrap_err()
            .to_string()
            .contains("null"));
        assert!(literal(&json!([1])).is_err());
    }

    #[test]
    fn display_names_stay_on_one_line() {
        assert_eq!(display_name("task_1"), "task_1");
        assert_eq!(display_name("my \"odd\" table"), "\"my \\\"odd\\\" table\"");
        assert_eq!(display_name("a\nb"), "\"a\\nb\"");
    }

    #[test]
    fn identifiers_skip_strings_numbers_and_comments() {
        assert_eq!(
            identifiers("a > 0 AND \"b c\" = 'd' /* e */ -- f\n OR [g] IS `h` AND x'01' = 1e5"),
            ["a", "AND", "b c", "OR", "g", "IS", "h", "AND"]
        );
        assert_eq!(identifiers("\"x\"\"y\" = 'it''s'"), ["x\"y"]);
        assert_eq!(identifiers("\"open"), ["open"]);
    }

    #[test]
    fn trigger_heads_give_timing_op_and_where_the_name_starts() {
        type Head<'a> = (&'a str, &'static str, &'static str);
        fn head(sql: &str) -> Option<Head<'_>> {
            trigger_head(sql).map(|h| (&sql[h.name_start..], h.timing, h.op))
        }
        assert_eq!(
            head("CREATE TRIGGER usr BEFORE INSERT ON t BEGIN SELECT 1; END"),
            Some((
                "usr BEFORE INSERT ON t BEGIN SELECT 1; END",
                "BEFORE",
                "INSERT"
            ))
        );
        assert_eq!(
            head("create trigger \"a b\" update of x on t begin select 1; end").map(|h| (h.1, h.2)),
            Some(("BEFORE", "UPDATE"))
        );
        assert_eq!(
            head("CREATE TEMP TRIGGER IF NOT EXISTS main.[x] /* c */ INSTEAD OF DELETE ON v BEGIN SELECT 1; END")
                .map(|h| (h.0.starts_with("[x]"), h.1, h.2)),
            Some((true, "INSTEAD OF", "DELETE"))
        );
        assert_eq!(
            head("CREATE TRIGGER 'q' AFTER -- x\n DELETE ON t BEGIN SELECT 1; END").map(|h| h.1),
            Some("AFTER")
        );
        assert_eq!(head("CREATE TABLE t(x)"), None);
        assert_eq!(head("CREATE TRIGGER x ON t"), None);
        assert_eq!(head("CREATE TRIGGER \"open"), None);
    }

    #[test]
    fn shorten_cuts_long_text() {
        assert_eq!(shorten("abc"), "\"abc\"");
        assert!(shorten(&"x".repeat(500)).ends_with("…\""));
    }
}

/// Runs `body` as one unit of writes, so a failure undoes everything it
/// did and leaves the connection as it was, whether or not the caller is in
/// a transaction.
///
/// - In autocommit mode (no `BEGIN`, no write statement running) it runs
///   `BEGIN IMMEDIATE ... COMMIT`: the write lock is taken before `body`
///   reads anything, so SQLite's busy handler (the busy timeout) can wait
///   for another writer. A deferred transaction that reads first and then
///   writes cannot be retried by the busy handler and fails at once. On any
///   failure, a `COMMIT` that is BUSY included, it ends in a full
///   `ROLLBACK`: the connection is back in autocommit mode, holding no lock.
/// - Inside the caller's transaction, or inside a running write statement
///   (SQLite opens no transaction there), it runs inside a savepoint, which
///   works from inside a statement too; on failure it is rolled back to and
///   released, which never commits and so cannot be BUSY.
///
/// A BUSY error keeps its SQLite code ([`Error::result_code`]), so a host
/// that retries on SQLITE_BUSY sees it.
pub(crate) fn in_savepoint<T>(
    conn: &Connection,
    name: &str,
    body: impl FnOnce() -> Result<T>,
) -> Result<T> {
    if conn.is_autocommit() && !crate::ffi::busy_writer(conn) {
        if on_dqlite(conn) {
            return Err(dqlite_read_statement_refused());
        }
        return in_immediate_transaction(conn, body);
    }
    // Prepared before anything can be interrupted: see `force_rollback`.
    let rescue = conn.prepare(RESCUE).ok();
    if let Err(e) = conn.execute_batch(&format!("SAVEPOINT {name}")) {
        let interrupted = is_interrupt(&e);
        let e = Error::sqlite(format!("starting savepoint {name}"))(e);
        if interrupted {
            // Interrupted by a progress handler after the savepoint began.
            rollback_to(conn, name, rescue);
        }
        return Err(e);
    }
    match body() {
        Ok(value) => match conn.execute_batch(&format!("RELEASE {name}")) {
            Ok(()) => Ok(value),
            Err(e) => {
                let interrupted = is_interrupt(&e);
                // Wrapped before the rollback, which would overwrite the
                // failure's extended code (SQLITE_BUSY_SNAPSHOT).
                let e = Error::sqlite(format!("committing {name}"))(e);
                // A progress handler may interrupt RELEASE after it took
                // effect: then there is no savepoint left to roll back to,
                // and the work stands.
                if interrupted {
                    match conn.execute_batch(&format!("ROLLBACK TO {name}")) {
                        Err(again) if !is_interrupt(&again) => return Ok(value),
                        Err(_) => {
                            force_rollback(rescue);
                            return Err(e);
                        }
                        Ok(()) => {}
                    }
                }
                rollback_to(conn, name, rescue);
                Err(e)
            }
        },
        Err(e) => {
            rollback_to(conn, name, rescue);
            Err(e)
        }
    }
}

fn in_immediate_transaction<T>(conn: &Connection, body: impl FnOnce() -> Result<T>) -> Result<T> {
    // Prepared before anything can be interrupted: see `force_rollback`.
    let rescue = conn.prepare(RESCUE).ok();
    let end = |rescue| {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        if !conn.is_autocommit() {
            force_rollback(rescue);
        }
    };
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let e = Error::sqlite("taking the database's write lock")(e);
        // Interrupted by a progress handler after the transaction began.
        end(rescue);
        return Err(e);
    }
    let result = body().and_then(|value| match conn.execute_batch("COMMIT") {
        Ok(()) => Ok(value),
        // SQLite asks a progress handler once more after COMMIT did its
        // work; interrupted then, the transaction is committed and over.
        Err(e) if is_interrupt(&e) && conn.is_autocommit() => Ok(value),
        Err(e) => Err(Error::sqlite("committing")(e)),
    });
    if result.is_err() {
        // A COMMIT that failed BUSY leaves the transaction open, holding its
        // locks; the user never began it, so it must end here.
        end(rescue);
    }
    result
}

/// What [`force_rollback`] steps.
const RESCUE: &str = "BEGIN IMMEDIATE";

/// Ends the connection's transaction when a ROLLBACK cannot run: an
/// interrupt (`sqlite3_interrupt`, or a progress handler that keeps
/// answering 1) stays in force while the statement that called the
/// extension runs, and SQLite refuses to prepare any statement then, the
/// ROLLBACK included. `rescue`, a write statement prepared before, is
/// refused too, but SQLite rolls the whole transaction back when a write
/// statement is interrupted (as for any interrupted INSERT, UPDATE or
/// DELETE). Without an interrupt it only fails ("cannot start a transaction
/// within a transaction"), changing nothing.
fn force_rollback(rescue: Option<rusqlite::Statement<'_>>) {
    if let Some(mut statement) = rescue {
        let _ = statement.raw_execute();
    }
}

/// Whether `conn`'s main database is one dqlite replicates (its VFS is
/// named `dqlite-<n>`).
pub(crate) fn on_dqlite(conn: &Connection) -> bool {
    crate::ffi::main_vfs_name(conn).is_some_and(|vfs| crate::notify::dqlite(&vfs))
}

/// The refusal of a call that would write from a statement that only
/// reads, outside a transaction (`SELECT trigger_emit(...)` on its own), on
/// a database dqlite replicates. dqlite takes such a statement for a read:
/// it does not replicate what the call wrote, and the node's next write
/// fails an assertion that aborts the whole node (dqlite 1.11). Inside
/// `BEGIN ... COMMIT`, or from a trigger of an INSERT, UPDATE or DELETE,
/// the call is part of a write and replicates with it.
pub(crate) fn dqlite_read_statement_refused() -> Error {
    Error::invalid(
        "on a database dqlite replicates, a call that writes must run inside BEGIN ... \
         COMMIT (or from a trigger of an INSERT, UPDATE or DELETE): dqlite takes a \
         statement of its own that only reads for a read, and would not replicate what \
         the call writes",
    )
}

fn is_interrupt(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted)
}

fn rollback_to(conn: &Connection, name: &str, rescue: Option<rusqlite::Statement<'_>>) {
    // RELEASE of a savepoint inside a transaction commits nothing, so it
    // cannot be BUSY. If this fails, either the transaction is already gone
    // (SQLite rolled it back itself), or an interrupt stands: then the
    // savepoint's work must not stay to be committed with the caller's.
    if let Err(e) = conn.execute_batch(&format!("ROLLBACK TO {name}; RELEASE {name}")) {
        if is_interrupt(&e) {
            force_rollback(rescue);
        }
    }
}

/// Parses `text` as a JSON object. `what` names the text in errors, e.g.
/// `argument 2 (options_json)`. A key given twice, at any depth, is refused:
/// JSON leaves its meaning open and serde_json would keep the last one
/// without a word.
pub fn json_object(text: &str, what: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
    use serde_core::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = UniqueKeys
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    match parsed {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(other) => Err(Error::invalid(format!(
            "{what} must be a JSON object, got {}",
            json_kind(&other)
        ))),
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            // Only UniqueKeys reports data errors; drop serde's position.
            let message = e.to_string();
            let at = format!(" at line {} column {}", e.line(), e.column());
            Err(Error::invalid(format!(
                "{what}: {}; give each key once",
                message.strip_suffix(&at).unwrap_or(&message)
            )))
        }
        Err(e) => Err(Error::invalid(format!(
            "{what} is not valid JSON ({e}): {}",
            shorten(text)
        ))),
    }
}

/// Reads any JSON value like `serde_json::Value` does, but fails on an
/// object key given twice.
struct UniqueKeys;

impl<'de> serde_core::de::DeserializeSeed<'de> for UniqueKeys {
    type Value = serde_json::Value;
    fn deserialize<D: serde_core::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde_core::de::Visitor<'de> for UniqueKeys {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_seq<A: serde_core::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(UniqueKeys)? {
            items.push(v);
        }
        Ok(serde_json::Value::Array(items))
    }
    fn visit_map<A: serde_core::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<Self::Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(serde_core::de::Error::custom(format!(
                    "duplicate key {}",
                    shorten(&key)
                )));
            }
            let value = map.next_value_seed(UniqueKeys)?;
            out.insert(key, value);
        }
        Ok(serde_json::Value::Object(out))
    }
}

#[cfg(test)]
mod json_tests {
    use super::*;

    #[test]
    fn json_objects_refuse_duplicate_keys_at_any_depth() {
        let e = |t: &str| json_object(t, "argument 2 (x)").unwrap_err().to_string();
        assert_eq!(
            e(r#"{"a":1,"a":2}"#),
            "argument 2 (x): duplicate key \"a\"; give each key once"
        );
        assert_eq!(
            e(r#"{"a":[{"b":1,"b":1}]}"#),
            "argument 2 (x): duplicate key \"b\"; give each key once"
        );
        assert_eq!(
            e("[1]"),
            "argument 2 (x) must be a JSON object, got an array"
        );
        assert!(e("{").starts_with("argument 2 (x) is not valid JSON (EOF"));
        assert!(e("{} x").contains("trailing characters"));
        let ok = json_object(
            r#"{"a":{"a":1},"b":[1.5,null,true,"s",18446744073709551615]}"#,
            "x",
        )
        .unwrap();
        assert_eq!(
            serde_json::Value::Object(ok).to_string(),
            r#"{"a":{"a":1},"b":[1.5,null,true,"s",18446744073709551615]}"#
        );
    }
}
