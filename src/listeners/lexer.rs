//! How a piece of SQL a user gave ends, read through the shared tokenizer
//! ([`crate::sql::tokens`]), so that it can be wrapped into a trigger
//! without changing its meaning.

/// How a piece of SQL ends, past strings, quoted identifiers and comments.
#[derive(Debug, PartialEq)]
pub(super) struct Ending {
    /// The last character outside comments and whitespace.
    pub(super) last: Option<char>,
    /// Whether the text ends inside a `--` comment, which whatever follows
    /// on the same line would join.
    pub(super) in_line_comment: bool,
}

pub(super) fn ending(sql: &str) -> Ending {
    use crate::sql::Kind;
    let mut last = None;
    let mut in_line_comment = false;
    for t in crate::sql::tokens(sql) {
        let text = &sql[t.start..t.end];
        in_line_comment = t.kind == Kind::Comment && text.starts_with("--") && !t.closed;
        match t.kind {
            Kind::Space | Kind::Comment => {}
            // A quoted run ends with its closing quote, even when the text
            // ends inside it.
            Kind::Text | Kind::Blob => last = Some('\''),
            Kind::Name => {
                last = Some(if text.starts_with('[') {
                    ']'
                } else {
                    text.as_bytes()[0] as char
                })
            }
            // Whitespace past ASCII is part of a word to SQLite.
            Kind::Word | Kind::Number | Kind::Other => last = text.chars().last(),
        }
    }
    Ending {
        last,
        in_line_comment,
    }
}

/// Ends `sql` with a newline when its last line is a `--` comment, so that
/// text added after it is not commented out.
pub(super) fn close_line(sql: &str) -> String {
    if ending(sql).in_line_comment {
        format!("{sql}\n")
    } else {
        sql.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lexer_skips_strings_and_comments() {
        assert_eq!(ending("").last, None);
        assert_eq!(ending(" -- x\n /* y */ ").last, None);
        assert_eq!(ending("a -- ;").last, Some('a'));
        assert!(ending("a -- ;").in_line_comment);
        assert!(!ending("a -- ;\n").in_line_comment);
        assert_eq!(ending("'it''s;'").last, Some('\''));
        assert_eq!(ending("\"a;\"").last, Some('"'));
        assert_eq!(ending("`a;`").last, Some('`'));
        assert_eq!(ending("x /* ; */").last, Some('x'));
        assert_eq!(ending("x - 1;").last, Some(';'));
    }
}
