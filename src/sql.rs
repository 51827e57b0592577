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
    fn shorten_cuts_long_text() {
        assert_eq!(shorten("abc"), "\"abc\"");
        assert!(shorten(&"x".repeat(500)).ends_with("…\""));
    }
}

/// Runs `body` inside a savepoint, so a failure undoes everything it did,
/// whether or not the caller is in a transaction. A savepoint (not BEGIN)
/// also works when the function is called from inside a statement.
pub(crate) fn in_savepoint<T>(
    conn: &Connection,
    name: &str,
    body: impl FnOnce() -> Result<T>,
) -> Result<T> {
    conn.execute_batch(&format!("SAVEPOINT {name}"))
        .map_err(Error::sqlite(format!("starting savepoint {name}")))?;
    match body() {
        Ok(value) => {
            conn.execute_batch(&format!("RELEASE {name}"))
                .map_err(Error::sqlite(format!("committing {name}")))
                .inspect_err(|_| rollback(conn, name))?;
            Ok(value)
        }
        Err(e) => {
            rollback(conn, name);
            Err(e)
        }
    }
}

fn rollback(conn: &Connection, name: &str) {
    // If this fails too the connection's transaction is already gone (SQLite
    // rolled it back itself), which leaves nothing of ours behind either.
    let _ = conn.execute_batch(&format!("ROLLBACK TO {name}; RELEASE {name}"));
}
