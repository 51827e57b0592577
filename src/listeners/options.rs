//! The options of `trigger_listen` (argument 4, `options_json`), each
//! checked with an error that names the option.
use serde_json::{Map, Value as Json};

use super::definition::Event;
use crate::changes::Op;
use crate::schema::Column;
use crate::sql::{json_kind, shorten};
use crate::{Error, Result};

/// The option keys of `trigger_listen`.
const OPTIONS: [&str; 3] = ["columns", "when", "name"];

/// Refuses an option `trigger_listen` does not know.
pub(super) fn check_keys(options: &Map<String, Json>) -> Result<()> {
    match options.keys().find(|k| !OPTIONS.contains(&k.as_str())) {
        Some(key) => Err(Error::invalid(format!(
            "argument 4 (options_json): unknown option {} (options: {})",
            shorten(key),
            OPTIONS.join(", ")
        ))),
        None => Ok(()),
    }
}

/// An error about argument 4, naming the option.
pub(super) fn option_error(key: &str, why: impl std::fmt::Display) -> Error {
    Error::invalid(format!("argument 4 (options_json): option {key} {why}"))
}

/// A text option, as given: absent or JSON null is `None`; empty text is
/// refused. Text of spaces only is kept: `" "` is a valid trigger name.
pub(super) fn text_option(options: &Map<String, Json>, key: &str) -> Result<Option<String>> {
    match options.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if s.is_empty() => Err(option_error(key, "is empty")),
        Some(Json::String(s)) if s.contains('\0') => {
            Err(option_error(key, "contains a NUL character"))
        }
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(option_error(
            key,
            format!("must be a string, got {}", json_kind(other)),
        )),
    }
}

/// The `columns` option, checked against the table and spelled as the
/// schema spells the columns.
pub(super) fn columns_option(
    options: &Map<String, Json>,
    event: &Event,
    table: &str,
    columns: &[Column],
) -> Result<Option<Vec<String>>> {
    let items = match options.get("columns") {
        None | Some(Json::Null) => return Ok(None),
        Some(Json::Array(items)) => items,
        Some(other) => {
            return Err(option_error(
                "columns",
                format!("must be an array of column names, got {}", json_kind(other)),
            ))
        }
    };
    if event.op != Op::Update {
        return Err(option_error(
            "columns",
            format!(
                "is only for update events (before_update, after_update), not {}",
                event.name
            ),
        ));
    }
    if items.is_empty() {
        return Err(option_error(
            "columns",
            "must name at least one column (leave it out to listen to every update)",
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Json::String(wanted) = item else {
            return Err(option_error(
                "columns",
                format!(
                    "must be an array of column names, but element {} is {}",
                    i + 1,
                    json_kind(item)
                ),
            ));
        };
        let Some(column) = columns.iter().find(|c| c.name.eq_ignore_ascii_case(wanted)) else {
            return Err(option_error(
                "columns",
                format!(
                    "names {}, which is not a column of table {} (columns: {})",
                    shorten(wanted),
                    shorten(table),
                    columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        if column.generated() {
            return Err(option_error(
                "columns",
                format!(
                    "names {}, a generated column: no UPDATE sets it, so the listener would never fire",
                    shorten(&column.name)
                ),
            ));
        }
        if out.iter().any(|c| c.eq_ignore_ascii_case(&column.name)) {
            return Err(option_error(
                "columns",
                format!("names {} twice", shorten(&column.name)),
            ));
        }
        out.push(column.name.clone());
    }
    Ok(Some(out))
}
