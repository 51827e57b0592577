//! A listener's definition: the SQLAlchemy event it answers, the JSON its
//! marker comment stores (read and written through [`crate::marker`]), and
//! the name it gets when given none.
use serde_json::Value as Json;

use crate::changes::Op;
use crate::marker;

/// What starts the marker comment of a listener's trigger.
const MARKER: &str = "/* sqlite-triggers listener ";

/// The version of the marker's JSON layout.
const MARKER_VERSION: i64 = 1;

/// A SQLAlchemy mapper event and the trigger timing and operation behind it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Event {
    pub(super) name: &'static str,
    pub(super) timing: &'static str,
    pub(super) op: Op,
}

const EVENTS: [Event; 6] = [
    Event {
        name: "before_insert",
        timing: "BEFORE",
        op: Op::Insert,
    },
    Event {
        name: "after_insert",
        timing: "AFTER",
        op: Op::Insert,
    },
    Event {
        name: "before_update",
        timing: "BEFORE",
        op: Op::Update,
    },
    Event {
        name: "after_update",
        timing: "AFTER",
        op: Op::Update,
    },
    Event {
        name: "before_delete",
        timing: "BEFORE",
        op: Op::Delete,
    },
    Event {
        name: "after_delete",
        timing: "AFTER",
        op: Op::Delete,
    },
];

pub(super) fn event_names() -> String {
    EVENTS.iter().map(|e| e.name).collect::<Vec<_>>().join(", ")
}

/// Looks an event up by its SQLAlchemy name, ignoring ASCII case.
pub(super) fn find_event(name: &str) -> Option<&'static Event> {
    EVENTS.iter().find(|e| e.name.eq_ignore_ascii_case(name))
}

/// A listener's definition: what its marker comment stores.
#[derive(Debug, PartialEq, Clone)]
pub(super) struct Definition {
    /// The table as the schema spells it.
    pub(super) table: String,
    pub(super) event: &'static Event,
    /// The `UPDATE OF` columns, as the schema spells them.
    pub(super) columns: Option<Vec<String>>,
    pub(super) when: Option<String>,
    pub(super) action: String,
}

impl Definition {
    /// The marker's JSON: keys in a fixed order, on one line. Its escaped
    /// form (see [`marker::escape`]) is what the marker stores and what
    /// names listeners that are given no name.
    fn marker_json(&self) -> String {
        let text = |s: &str| Json::String(s.into()).to_string();
        let or_null = |s: Option<String>| s.unwrap_or_else(|| "null".into());
        format!(
            "{{\"table\":{},\"event\":{},\"columns\":{},\"when\":{},\"action\":{},\"version\":{MARKER_VERSION}}}",
            text(&self.table),
            text(self.event.name),
            or_null(self.columns_json()),
            or_null(self.when.as_deref().map(text)),
            text(&self.action),
        )
    }

    /// The marker comment that goes right after the trigger's name.
    pub(super) fn marker(&self) -> String {
        marker::encode(MARKER, &self.marker_json())
    }

    /// The `UPDATE OF` columns as a JSON array.
    pub(super) fn columns_json(&self) -> Option<String> {
        self.columns
            .as_ref()
            .map(|c| Json::Array(c.iter().map(|s| Json::String(s.clone())).collect()).to_string())
    }

    /// Reads the definition back from a trigger's SQL, if the trigger is a
    /// listener: the marker must come right after `CREATE TRIGGER "name"`,
    /// exactly where [`super::generate::trigger_text`] puts it (see
    /// [`marker::decode`]).
    pub(super) fn from_trigger(name: &str, sql: &str) -> Option<Definition> {
        let map = marker::decode(MARKER, name, sql)?;
        if map.get("version")?.as_i64()? != MARKER_VERSION {
            return None;
        }
        let opt_text = |key: &str| match map.get(key)? {
            Json::String(s) => Some(Some(s.clone())),
            Json::Null => Some(None),
            _ => None,
        };
        let columns = match map.get("columns")? {
            Json::Null => None,
            Json::Array(items) => Some(
                items
                    .iter()
                    .map(|c| c.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()?,
            ),
            _ => return None,
        };
        let event = EVENTS
            .iter()
            .find(|e| Some(e.name) == map.get("event").and_then(Json::as_str))?;
        // The trigger is the event the marker names: its timing and event
        // are the first words after the comment (renames of the table or a
        // column rewrite names, never these words).
        let comment = sql.find(MARKER)?;
        let after = &sql[comment..];
        let after = &after[after.find("*/")? + 2..];
        let mut words = after.split_ascii_whitespace();
        let same = |word: Option<&str>, expected: &str| {
            word.is_some_and(|w| w.eq_ignore_ascii_case(expected))
        };
        if !(same(words.next(), event.timing) && same(words.next(), event.op.sql())) {
            return None;
        }
        Some(Definition {
            table: opt_text("table")??,
            event,
            columns,
            when: opt_text("when")?,
            action: opt_text("action")??,
        })
    }
}

#[cfg(test)]
impl Definition {
    /// A listener on `user` after insert that runs `action`.
    pub(super) fn example(action: &str) -> Definition {
        Definition {
            table: "user".into(),
            event: find_event("after_insert").unwrap(),
            columns: None,
            when: None,
            action: action.into(),
        }
    }
}

/// FNV-1a, 32 bits: a stable hash (the same on every run and platform) for
/// the names of listeners that are given none.
fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The name a listener gets when the options give none.
pub(super) fn generated_name(def: &Definition) -> String {
    format!(
        "listen_{}_{}_{:08x}",
        def.table,
        def.event.name,
        fnv1a32(marker::escape(&def.marker_json()).as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn generated_names_are_stable_and_follow_the_definition() {
        let a = generated_name(&Definition::example("SELECT 1"));
        assert_eq!(a, generated_name(&Definition::example("SELECT 1")));
        assert!(a.starts_with("listen_user_after_insert_"), "{a}");
        assert_eq!(a.len(), "listen_user_after_insert_".len() + 8);
        assert_ne!(a, generated_name(&Definition::example("SELECT 2")));
    }

    #[test]
    fn events_are_sqlalchemys_names() {
        assert_eq!(
            event_names(),
            "before_insert, after_insert, before_update, after_update, before_delete, after_delete"
        );
        assert_eq!(find_event("AFTER_UPDATE").unwrap().op, Op::Update);
        assert!(find_event("after_create").is_none());
    }
}
