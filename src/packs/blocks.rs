//! The `{{…}}` tags of a template's SQL: a parameter's value (`{{name}}`),
//! and the blocks that repeat or choose a part of a statement:
//!
//! ```text
//! {{#each COLUMNS sep=" OR "}}new.{{.}} IS NOT old.{{.}}{{/each}}
//! {{#if CONDITION}} AND {{CONDITION}}{{else}}{{/if}}
//! {{#if FORMAT = unix}}unixepoch(){{/if}}
//! ```
//!
//! This module reads the tags into a tree; what each parameter may be used
//! for is checked by [`super::parse`], and values are written by
//! [`super::template`].

/// A part of a template's SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Node<'a> {
    /// SQL written as it is.
    Sql(&'a str),
    /// `{{name}}`: a parameter's value. The offset is the tag's, for errors.
    Param(&'a str, usize),
    /// `{{.}}`: the current name of the `{{#each}}` around it.
    Item(usize),
    /// `{{#}}`: the current name's position in its list, from 0.
    Index(usize),
    /// `{{#each name sep="…"}}…{{/each}}`: the body once per name of an
    /// `idents` parameter, the separator between.
    Each {
        param: &'a str,
        sep: &'a str,
        body: Vec<Node<'a>>,
        at: usize,
    },
    /// `{{#if name}}…{{else}}…{{/if}}`, or `{{#if name = word}}`: the first
    /// part when the parameter is not empty (or is that word), else the
    /// second.
    If {
        param: &'a str,
        equals: Option<&'a str>,
        then: Vec<Node<'a>>,
        otherwise: Vec<Node<'a>>,
        at: usize,
    },
}

/// One tag, as written between `{{` and `}}`.
enum Tag<'a> {
    Param(&'a str),
    Item,
    Index,
    Each(&'a str, &'a str),
    EndEach,
    If(&'a str, Option<&'a str>),
    Else,
    EndIf,
}

/// Reads a tag's inside; an error says how to write it.
fn tag(inside: &str) -> Result<Tag<'_>, String> {
    let t = inside.trim();
    if t == "." {
        return Ok(Tag::Item);
    }
    if t == "#" {
        return Ok(Tag::Index);
    }
    if t == "/each" {
        return Ok(Tag::EndEach);
    }
    if t == "/if" {
        return Ok(Tag::EndIf);
    }
    if t == "else" {
        return Ok(Tag::Else);
    }
    if let Some(rest) = t.strip_prefix("#each ") {
        let rest = rest.trim();
        let (name, sep) = match rest.split_once(char::is_whitespace) {
            None => (rest, ", "),
            Some((name, opt)) => {
                let sep = opt
                    .trim()
                    .strip_prefix("sep=\"")
                    .and_then(|s| s.strip_suffix('"'))
                    .filter(|s| separator(s))
                    .ok_or(
                        "write {{#each NAME}} or {{#each NAME sep=\"SEPARATOR\"}}, SEPARATOR \
                         one of , OR AND | || + (or nothing) with spaces and line breaks around",
                    )?;
                (name, sep)
            }
        };
        return Ok(Tag::Each(name, sep));
    }
    if let Some(rest) = t.strip_prefix("#if ") {
        return Ok(match rest.split_once('=') {
            None => Tag::If(rest.trim(), None),
            Some((name, word)) => Tag::If(name.trim(), Some(word.trim())),
        });
    }
    if t.starts_with('#') || t.starts_with('/') {
        return Err(format!(
            "unknown block {{{{{}}}}}; the blocks are {{{{#each NAME}}}}…{{{{/each}}}} and \
             {{{{#if NAME}}}}…{{{{else}}}}…{{{{/if}}}}",
            crate::sql::shorten_to(t, 40)
        ));
    }
    Ok(Tag::Param(t))
}

/// Whether `sep` may stand between the parts an `{{#each}}` writes: an
/// operator or a comma with white space around it, nothing that could end a
/// string, a statement or a trigger.
fn separator(sep: &str) -> bool {
    let word = sep.trim_matches(|c: char| c == ' ' || c == '\n');
    ["", ",", "OR", "AND", "|", "||", "+"]
        .iter()
        .any(|w| word.eq_ignore_ascii_case(w))
        && sep
            .chars()
            .all(|c| c == ' ' || c == '\n' || !c.is_whitespace())
}

/// What a list of nodes is closed by.
#[derive(PartialEq)]
enum Until {
    End,
    Each,
    If,
}

/// Reads `text` into nodes; an error is the offset of the tag at fault and
/// why. `{{` without `}}` is an error too.
pub fn parse(text: &str) -> Result<Vec<Node<'_>>, (usize, String)> {
    let mut pos = 0;
    let (nodes, closed_by) = read(text, &mut pos, Until::End, 0)?;
    debug_assert!(closed_by.is_none());
    Ok(nodes)
}

/// Reads nodes up to the tag that closes `until`; returns them and, for an
/// `{{#if}}` with an `{{else}}`, the nodes after it.
#[allow(clippy::type_complexity)]
fn read<'a>(
    text: &'a str,
    pos: &mut usize,
    until: Until,
    opened_at: usize,
) -> Result<(Vec<Node<'a>>, Option<Vec<Node<'a>>>), (usize, String)> {
    let mut first = Vec::new();
    let mut second: Option<Vec<Node<'a>>> = None;
    loop {
        let nodes = second.as_mut().unwrap_or(&mut first);
        let rest = &text[*pos..];
        let Some(found) = rest.find("{{") else {
            if !rest.is_empty() {
                nodes.push(Node::Sql(rest));
            }
            *pos = text.len();
            return match until {
                Until::End => Ok((first, None)),
                Until::Each => Err((opened_at, "{{#each …}} without its {{/each}}".into())),
                Until::If => Err((opened_at, "{{#if …}} without its {{/if}}".into())),
            };
        };
        let start = *pos + found;
        if found > 0 {
            nodes.push(Node::Sql(&rest[..found]));
        }
        let Some(len) = text[start + 2..].find("}}") else {
            return Err((
                start,
                "'{{' without its closing '}}'; write {{NAME}}".into(),
            ));
        };
        let inside = &text[start + 2..start + 2 + len];
        *pos = start + 2 + len + 2;
        let node = match tag(inside).map_err(|e| (start, e))? {
            Tag::Param(name) => Node::Param(name, start),
            Tag::Item => Node::Item(start),
            Tag::Index => Node::Index(start),
            Tag::Each(param, sep) => {
                let (body, _) = read(text, pos, Until::Each, start)?;
                Node::Each {
                    param,
                    sep,
                    body,
                    at: start,
                }
            }
            Tag::If(param, equals) => {
                let (then, otherwise) = read(text, pos, Until::If, start)?;
                Node::If {
                    param,
                    equals,
                    then,
                    otherwise: otherwise.unwrap_or_default(),
                    at: start,
                }
            }
            Tag::EndEach if until == Until::Each => return Ok((first, None)),
            Tag::EndIf if until == Until::If => return Ok((first, second)),
            Tag::Else if until == Until::If && second.is_none() => {
                second = Some(Vec::new());
                continue;
            }
            Tag::EndEach | Tag::EndIf | Tag::Else => {
                return Err((
                    start,
                    format!(
                        "{{{{{}}}}} closes no block that is open here",
                        inside.trim()
                    ),
                ))
            }
        };
        second.as_mut().unwrap_or(&mut first).push(node);
    }
}

/// Every node of `nodes` and of the blocks inside them, depth first, with
/// the `{{#each}}` parameter each one is inside.
pub fn walk<'n, 'a>(
    nodes: &'n [Node<'a>],
    inside: Option<&'a str>,
    f: &mut impl FnMut(&'n Node<'a>, Option<&'a str>),
) {
    for n in nodes {
        f(n, inside);
        match n {
            Node::Each { param, body, .. } => walk(body, Some(param), f),
            Node::If {
                then, otherwise, ..
            } => {
                walk(then, inside, f);
                walk(otherwise, inside, f);
            }
            _ => {}
        }
    }
}

/// The `idents` parameters whose `{{#each}}` writes an operator chain,
/// `a OR b OR ...` (the separator an operator, or each part starting with
/// one): SQLite nests such a chain one level per name.
/// `holds` tells which part of an `{{#if}}` is written, so that a list in
/// a part left out counts for nothing.
pub fn chained<'a>(
    nodes: &[Node<'a>],
    holds: &impl Fn(&str, Option<&str>) -> bool,
) -> Vec<&'a str> {
    let operator = |text: &str| {
        let word = text
            .trim_start_matches([' ', '\n'])
            .split([' ', '\n'])
            .next()
            .unwrap_or_default();
        ["OR", "AND", "|", "||", "+"]
            .iter()
            .any(|w| word.eq_ignore_ascii_case(w))
    };
    let mut out = Vec::new();
    for n in nodes {
        match n {
            Node::Each {
                param, sep, body, ..
            } => {
                let first = match body.first() {
                    Some(Node::Sql(text)) => operator(text),
                    _ => false,
                };
                if (operator(sep) || first) && !out.contains(param) {
                    out.push(*param);
                }
            }
            Node::If {
                param,
                equals,
                then,
                otherwise,
                ..
            } => {
                let part = if holds(param, *equals) {
                    then
                } else {
                    otherwise
                };
                for p in chained(part, holds) {
                    if !out.contains(&p) {
                        out.push(p);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Whether `{{#if P}}` (or `{{#if P = WORD}}`) writes its first part for a
/// parameter holding `value`: a value that is not empty (or is that word).
pub fn holds(value: &serde_json::Value, equals: Option<&str>) -> bool {
    use serde_json::Value;
    match equals {
        Some(word) => value.as_str() == Some(word),
        None => match value {
            Value::String(s) => !s.trim().is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Null | Value::Bool(false) => false,
            _ => true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_params_and_blocks() {
        let n =
            parse("a {{x}} {{#each c sep=\" OR \"}}n.{{.}}{{/each}}{{#if k = u}}1{{else}}2{{/if}}")
                .unwrap();
        assert_eq!(n[0], Node::Sql("a "));
        assert_eq!(n[1], Node::Param("x", 2));
        match &n[3] {
            Node::Each {
                param, sep, body, ..
            } => {
                assert_eq!((*param, *sep), ("c", " OR "));
                assert_eq!(body.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        match &n[4] {
            Node::If {
                param,
                equals,
                then,
                otherwise,
                ..
            } => {
                assert_eq!((*param, *equals), ("k", Some("u")));
                assert_eq!(then, &vec![Node::Sql("1")]);
                assert_eq!(otherwise, &vec![Node::Sql("2")]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unclosed_and_stray_tags_are_errors_at_their_offset() {
        assert_eq!(parse("ab {{#if x}} c").unwrap_err().0, 3);
        assert!(parse("{{#each x}}")
            .unwrap_err()
            .1
            .contains("without its {{/each}}"));
        assert!(parse("x {{/if}}")
            .unwrap_err()
            .1
            .contains("closes no block"));
        assert!(parse("{{#if a}}{{else}}{{else}}{{/if}}")
            .unwrap_err()
            .1
            .contains("closes no block"));
        assert!(parse("{{#each a}}{{/if}}{{/each}}")
            .unwrap_err()
            .1
            .contains("closes no block"));
        assert!(parse("{{#loop a}}")
            .unwrap_err()
            .1
            .contains("unknown block"));
        assert!(parse("{{#each a sep=x}}{{/each}}")
            .unwrap_err()
            .1
            .contains("sep="));
        assert!(parse("{{x").unwrap_err().1.contains("without its closing"));
    }

    #[test]
    fn chains_are_the_lists_written_with_an_operator_between_names() {
        let text = "{{#each a sep=\" OR \"}}x{{/each}} {{#each b}}y{{/each}} \
            {{#if k}}{{#each c sep=\"\"}} AND z{{/each}}{{/if}} {{#each d sep=\" | \"}}w{{/each}}";
        let nodes = parse(text).unwrap();
        assert_eq!(chained(&nodes, &|_, _| true), ["a", "c", "d"]);
        assert_eq!(chained(&nodes, &|_, _| false), ["a", "d"]);
    }
}
