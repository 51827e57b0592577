//! `SELECT * FROM trigger_doctor`: one row per problem with what the
//! extension installed in main (captures, listeners, packs) and of this
//! connection's watch, each with the call that repairs it. It only reads;
//! repairs stay explicit.
//!
//! Each feature checks its own objects; this table only puts their answers
//! together, so it is the one module that knows several features.
use rusqlite::types::Value;
use rusqlite::Connection;

use crate::Result;

/// The table-valued function.
struct DoctorTable;

impl crate::ffi::RowSource for DoctorTable {
    const NAME: &'static std::ffi::CStr = c"trigger_doctor";
    const SCHEMA: &'static std::ffi::CStr =
        c"CREATE TABLE x(kind TEXT, object TEXT, problem TEXT, repair TEXT)";

    fn rows(conn: &Connection, _after: Option<i64>) -> Result<Vec<Vec<Value>>> {
        let mut found = crate::outbox::problems(conn)?;
        found.extend(crate::listeners::problems(conn)?);
        found.extend(crate::feed::problems(conn)?);
        found.extend(crate::packs::problems(conn)?);
        Ok(found
            .into_iter()
            .map(|p| {
                vec![
                    Value::Text(p.kind.to_string()),
                    Value::Text(p.object),
                    Value::Text(p.problem),
                    Value::Text(p.repair),
                ]
            })
            .collect())
    }
}

/// Registers `trigger_doctor` on `conn`.
pub(crate) fn register(conn: &Connection) -> Result<()> {
    crate::ffi::register_table::<DoctorTable>(conn)
}
