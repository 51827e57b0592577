//! Reading a script: the few text fixes that SQLite's original format needs
//! before the crate's parser accepts it, and `include`.

use std::path::Path;

use sqllogictest::{DefaultColumnType, Record};

pub type Rec = Record<DefaultColumnType>;

/// How deep `include` may nest (guards against a file including itself).
const MAX_INCLUDE_DEPTH: usize = 16;

/// Reads, pre-processes and parses one script, splicing in the records of
/// the files it `include`s (paths and glob patterns relative to the
/// including file). Every problem comes back as text.
pub fn load(path: &Path, labels: &[String]) -> Result<Vec<Rec>, String> {
    load_at_depth(path, labels, 0)
}

fn load_at_depth(path: &Path, labels: &[String], depth: usize) -> Result<Vec<Rec>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| format!("{} is not UTF-8 text: {e}", path.display()))?;
    let text = preprocess(&text, labels);
    let records =
        sqllogictest::parse_with_name::<DefaultColumnType>(&text, path.display().to_string())
            .map_err(|e| e.to_string())?;

    let mut out = Vec::with_capacity(records.len());
    for record in records {
        let Record::Include { loc, filename } = &record else {
            out.push(record);
            continue;
        };
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(format!(
                "{loc}: include nested more than {MAX_INCLUDE_DEPTH} deep"
            ));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let pattern = base.join(filename).display().to_string();
        let mut files: Vec<_> = glob::glob(&pattern)
            .map_err(|e| format!("{loc}: bad include pattern {filename:?}: {e}"))?
            .filter_map(Result::ok)
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(format!("{loc}: include {filename:?}: no such file"));
        }
        for file in files {
            out.extend(load_at_depth(&file, labels, depth + 1)?);
        }
    }
    Ok(out)
}

/// A `skipif`/`onlyif` line, once normalised.
struct Cond {
    only_if: bool,
    label: String,
}

impl Cond {
    fn parse(line: &str) -> Option<Cond> {
        let mut t = line.split_whitespace();
        let only_if = match t.next()? {
            "onlyif" => true,
            "skipif" => false,
            _ => return None,
        };
        let label = t.next()?.to_string();
        t.next().is_none().then_some(Cond { only_if, label })
    }

    /// Whether this condition makes an engine with `labels` skip the record.
    fn skips(&self, labels: &[String]) -> bool {
        labels.contains(&self.label) != self.only_if
    }
}

/// Rewrites the script text, line for line (line numbers do not move):
///
/// - trailing whitespace (and the `\r` of CRLF files) is removed, so a line
///   of blanks ends a record as in SQLite's reference runner;
/// - `skipif`/`onlyif` lose a trailing `# comment` and their engine name is
///   lower-cased (`labels` are lower case too), so `skipif MySQL # why`
///   becomes `skipif mysql`;
/// - a `halt` guarded by conditions is decided here, because the crate's
///   parser gives a `halt` no conditions (they would leak onto the next
///   record): the guard lines become comments, and so does the `halt`
///   itself when the guard says this engine does not halt.
pub fn preprocess(text: &str, labels: &[String]) -> String {
    let mut lines: Vec<String> = text.lines().map(|l| l.trim_end().to_string()).collect();
    let mut in_body = false; // inside the SQL or results of a record
    for i in 0..lines.len() {
        if lines[i].is_empty() {
            in_body = false;
            continue;
        }
        if in_body || lines[i].starts_with('#') {
            continue;
        }
        let first = lines[i].split_whitespace().next().unwrap_or("").to_string();
        match first.as_str() {
            "skipif" | "onlyif" => {
                let head = lines[i].split('#').next().unwrap_or("").to_string();
                let t: Vec<&str> = head.split_whitespace().collect();
                if t.len() == 2 {
                    lines[i] = format!("{} {}", t[0], t[1].to_lowercase());
                }
            }
            "halt" if lines[i].trim() == "halt" => {
                let mut guard = Vec::new();
                let mut j = i;
                while j > 0 {
                    match Cond::parse(&lines[j - 1]) {
                        Some(c) => guard.push((j - 1, c)),
                        None => break,
                    }
                    j -= 1;
                }
                if guard.is_empty() {
                    continue;
                }
                let taken = !guard.iter().any(|(_, c)| c.skips(labels));
                for (k, _) in &guard {
                    lines[*k] = format!("# [slt-runner] guard of the halt below: {}", lines[*k]);
                }
                if !taken {
                    lines[i] = "# [slt-runner] halt not taken by this engine".to_string();
                }
            }
            "statement" | "query" | "system" | "let" => in_body = true,
            _ => {}
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<String> {
        vec!["sqlite".to_string()]
    }

    #[test]
    fn conditions_are_normalised() {
        let out = preprocess(
            "skipif MySQL  # not there\r\nstatement ok\r\nSELECT 1\r\n",
            &labels(),
        );
        assert_eq!(out, "skipif mysql\nstatement ok\nSELECT 1\n");
    }

    #[test]
    fn halt_for_other_engines_is_dropped() {
        let out = preprocess("onlyif mssql\nhalt\n\nskipif sqlite\nhalt\n", &labels());
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines.iter().all(|l| l.is_empty() || l.starts_with('#')),
            "{out}"
        );
    }

    #[test]
    fn halt_for_sqlite_is_kept() {
        let out = preprocess("onlyif SQLite\nhalt\n", &labels());
        assert_eq!(out.lines().nth(1), Some("halt"));
        assert!(out.starts_with('#'));
    }

    #[test]
    fn body_lines_are_left_alone() {
        let text = "query T\nSELECT 'halt'\n----\nskipif x # y\n";
        assert_eq!(preprocess(text, &labels()), text);
    }
}
