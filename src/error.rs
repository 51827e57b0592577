//! The crate's error: a message a user can act on, and the SQLite error
//! behind it when there is one.
use std::fmt;

/// An error from installing, uninstalling or rendering a pack.
#[derive(Debug)]
pub enum Error {
    /// Bad input: an unknown pack or parameter, a missing table, and so on.
    Invalid(String),
    /// SQLite refused a statement; `context` says what was being done.
    Sqlite {
        context: String,
        source: rusqlite::Error,
    },
    /// The host interrupted the connection (`sqlite3_interrupt`) while the
    /// call was waiting.
    Interrupted,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }

    /// The same error with `prefix` (say, the argument it is about) before
    /// the message of bad input; other errors unchanged.
    pub(crate) fn within(self, prefix: &str) -> Self {
        match self {
            Error::Invalid(message) => Error::Invalid(format!("{prefix}{message}")),
            other => other,
        }
    }

    /// Wraps a SQLite error with what was being done when it happened.
    pub(crate) fn sqlite(context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> Self {
        let context = context.into();
        move |source| Error::Sqlite {
            context,
            source: with_extended_code(source),
        }
    }

    /// The result code a SQL function reports for this error:
    /// SQLITE_INTERRUPT when the host interrupted the connection (so the
    /// host sees an interrupted statement); SQLite's own code, extended
    /// code included, when the database was busy or locked (so a host that
    /// retries on SQLITE_BUSY sees it); SQLITE_ERROR otherwise.
    pub(crate) fn result_code(&self) -> i32 {
        use rusqlite::ffi;
        match self {
            Error::Interrupted => ffi::SQLITE_INTERRUPT,
            Error::Sqlite {
                source: rusqlite::Error::SqliteFailure(e, _),
                ..
            } => match e.code {
                rusqlite::ErrorCode::OperationInterrupted => ffi::SQLITE_INTERRUPT,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
                    e.extended_code
                }
                _ => ffi::SQLITE_ERROR,
            },
            _ => ffi::SQLITE_ERROR,
        }
    }
}

/// A busy or locked error with the extended code SQLite gave it
/// ([`crate::ffi::calling_extended_code`]): SQLITE_BUSY_SNAPSHOT needs
/// other advice than SQLITE_BUSY, and the host should see the same code.
fn with_extended_code(source: rusqlite::Error) -> rusqlite::Error {
    use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked};
    match source {
        rusqlite::Error::SqliteFailure(mut e, message)
            if matches!(e.code, DatabaseBusy | DatabaseLocked) && e.extended_code <= 0xff =>
        {
            if let Some(code) = crate::ffi::calling_extended_code(e.extended_code) {
                e.extended_code = code;
            }
            rusqlite::Error::SqliteFailure(e, message)
        }
        other => other,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid(message) => f.write_str(message),
            Error::Sqlite { context, source } => write!(f, "{context}: {}", describe(source)),
            Error::Interrupted => f.write_str("interrupted"),
        }
    }
}

/// rusqlite's own errors (not SQLite's) in words a user can act on: they
/// mean a table of ours holds what the extension did not write.
fn describe(source: &rusqlite::Error) -> String {
    use rusqlite::types::Type;
    match source {
        rusqlite::Error::QueryReturnedNoRows => {
            "SQLite returned no row for the statement; a trigger with RAISE(IGNORE) may have \
             skipped it: drop or change that trigger"
                .into()
        }
        rusqlite::Error::InvalidColumnType(_, name, found) => {
            let found = match found {
                Type::Null => "NULL",
                Type::Integer => "an integer",
                Type::Real => "a real",
                Type::Text => "text",
                Type::Blob => "a blob",
            };
            format!(
                "column {name} holds {found}, which the extension never writes there: the \
                 row was changed by hand; correct it or delete it"
            )
        }
        rusqlite::Error::IntegralValueOutOfRange(_, value) => format!(
            "the value {value} is out of range; the row was changed by hand: correct it or \
             delete it"
        ),
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_BUSY_SNAPSHOT =>
        {
            format!(
                "{source} (another connection committed after this transaction began \
                 reading, so the transaction cannot write: roll back and begin the transaction \
                 again)"
            )
        }
        rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::DatabaseBusy => {
            format!(
                "{source} (another connection holds a lock on it; call again, or set a busy \
                 timeout, PRAGMA busy_timeout, to wait)"
            )
        }
        other => plain(&other.to_string()),
    }
}

/// SQLite's message as one line of at most [`MAX_SQLITE_MESSAGE`]
/// characters: it may quote the user's SQL or names (a tokenizer name a
/// megabyte long, one holding a newline), which an error repeats as it is.
fn plain(message: &str) -> String {
    let one_line = message.chars().any(char::is_control);
    if !one_line && message.chars().count() <= MAX_SQLITE_MESSAGE {
        return message.to_string();
    }
    let mut out: String = message
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .take(MAX_SQLITE_MESSAGE)
        .collect();
    if out.chars().count() >= MAX_SQLITE_MESSAGE {
        out.push('…');
    }
    out
}

/// The longest SQLite message an error repeats, in characters.
const MAX_SQLITE_MESSAGE: usize = 300;

#[cfg(test)]
mod plain_tests {
    #[test]
    fn sqlite_messages_stay_one_short_line() {
        assert_eq!(super::plain("no such table: t"), "no such table: t");
        assert_eq!(
            super::plain("near \"a\nb\": syntax error"),
            "near \"a\\nb\": syntax error"
        );
        let long = super::plain(&format!("no such tokenizer: {}", "x".repeat(10_000)));
        assert_eq!(long.chars().count(), 301);
        assert!(long.ends_with('…'));
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Invalid(_) | Error::Interrupted => None,
            Error::Sqlite { source, .. } => Some(source),
        }
    }
}
