//! A small lexer that knows SQLite's strings, quoted identifiers and
//! comments: enough to tell how a piece of SQL a user gave ends, so that it
//! can be wrapped into a trigger without changing its meaning.

/// How a piece of SQL ends, seen by a small lexer that knows SQLite's
/// strings, quoted identifiers and comments.
#[derive(Debug, PartialEq)]
pub(super) struct Ending {
    /// The last character outside comments and whitespace.
    pub(super) last: Option<char>,
    /// Whether the text ends inside a `--` comment, which whatever follows
    /// on the same line would join.
    pub(super) in_line_comment: bool,
}

pub(super) fn ending(sql: &str) -> Ending {
    let mut chars = sql.chars().peekable();
    let mut last = None;
    let mut in_line_comment = false;
    while let Some(c) = chars.next() {
        in_line_comment = false;
        match c {
            '-' if chars.peek() == Some(&'-') => {
                in_line_comment = true;
                for c in chars.by_ref() {
                    if c == '\n' {
                        in_line_comment = false;
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut star = false;
                for c in chars.by_ref() {
                    if star && c == '/' {
                        break;
                    }
                    star = c == '*';
                }
            }
            '\'' | '"' | '`' | '[' => {
                let close = if c == '[' { ']' } else { c };
                // A doubled quote inside reads as closing and reopening.
                for c in chars.by_ref() {
                    if c == close {
                        break;
                    }
                }
                last = Some(close);
            }
            c if c.is_whitespace() => {}
            c => last = Some(c),
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
