//! Marker comments: how a trigger made by this extension (a listener, a
//! capture trigger) describes itself. Its stored SQL carries a JSON object in
//! a comment right after its name,
//! `CREATE TRIGGER "name" /* sqlite-triggers <kind> {...} */ ...`, which
//! SQLite keeps in `sqlite_master.sql`, so `.dump` and plain `.sql` files
//! carry it too.
//!
//! No value in the JSON may close the comment early. Every `*` is written as
//! `\u002a`, which JSON reads back as `*`. Reading also accepts `*\/`, which
//! 0.1.0 wrote in capture markers: JSON reads `\/` as `/`, so it needs no
//! case of its own.
use serde_json::{Map, Value as Json};

use crate::sql::quote_ident;

/// `json` with every `*` written as `\u002a`: the same JSON value, with no
/// `*/` in its text. (JSON's own punctuation has no `*`, so only strings
/// change.)
pub(crate) fn escape(json: &str) -> String {
    json.replace('*', "\\u002a")
}

/// The marker comment `{prefix}{json} */`, with `json` escaped (see
/// [`escape`]). `prefix` opens the comment and names the kind of trigger,
/// e.g. `/* sqlite-triggers listener `.
pub(crate) fn encode(prefix: &str, json: &str) -> String {
    format!("{prefix}{} */", escape(json))
}

/// The JSON object of the marker that the trigger `name` carries in its
/// stored SQL `sql`, if the marker comes right after `CREATE TRIGGER "name"`
/// and starts with `prefix`: text elsewhere in a trigger (a string in its
/// body) never makes it one of ours.
pub(crate) fn decode(prefix: &str, name: &str, sql: &str) -> Option<Map<String, Json>> {
    let rest = sql
        .strip_prefix("CREATE TRIGGER ")?
        .strip_prefix(quote_ident(name).ok()?.as_str())?
        .strip_prefix(' ')?
        .strip_prefix(prefix)?;
    // No `*/` inside the JSON (see the module doc): the first one closes it.
    match serde_json::from_str(&rest[..rest.find("*/")?]).ok()? {
        Json::Object(map) => Some(map),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "/* sqlite-triggers test ";

    fn stored(name: &str, comment: &str) -> String {
        format!(
            "CREATE TRIGGER {} {comment}\nAFTER INSERT ON x BEGIN SELECT '*/'; END",
            quote_ident(name).unwrap()
        )
    }

    #[test]
    fn a_marker_cannot_close_its_comment_and_reads_back() {
        let value = "a */ DROP TABLE x; /* \"q\" ' \n ü *";
        let json = serde_json::json!({ "v": value }).to_string();
        let comment = encode(PREFIX, &json);
        assert_eq!(comment.matches("*/").count(), 1, "{comment}");
        assert!(comment.ends_with(" */"));
        let map = decode(PREFIX, "n*/", &stored("n*/", &comment)).unwrap();
        assert_eq!(map["v"], value);
    }

    #[test]
    fn markers_written_by_0_1_0_are_read() {
        // Listeners wrote `\u002a`, capture wrote `*\/`.
        let listener = r#"/* sqlite-triggers test {"v":"a \u002a/ b"} */"#;
        let capture = r#"/* sqlite-triggers test {"v":"a *\/ b"} */"#;
        for comment in [listener, capture] {
            let map = decode(PREFIX, "t", &stored("t", comment)).unwrap();
            assert_eq!(map["v"], "a */ b", "{comment}");
        }
    }

    #[test]
    fn only_a_marker_right_after_the_name_counts() {
        let sql = stored("t", &encode(PREFIX, r#"{"v":1}"#));
        assert!(decode(PREFIX, "t", &sql).is_some());
        assert!(decode(PREFIX, "u", &sql).is_none());
        assert!(decode("/* sqlite-triggers other ", "t", &sql).is_none());
        let late = sql.replacen("\"t\" ", "\"t\" AFTER ", 1);
        assert!(decode(PREFIX, "t", &late).is_none());
        // Not a JSON object.
        assert!(decode(PREFIX, "t", &stored("t", &encode(PREFIX, "[1]"))).is_none());
    }
}
