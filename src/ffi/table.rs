//! Read-only, eponymous table-valued functions (`SELECT * FROM trigger_packs`)
//! built from a safe [`RowSource`]: the rows are computed when a scan starts.
#![allow(unsafe_code)]

use std::borrow::Cow;
use std::ffi::{c_int, CStr};
use std::marker::PhantomData;

use rusqlite::types::Value;
use rusqlite::vtab::{
    Context, Filters, IndexConstraintOp, IndexInfo, Module, VTab, VTabConfig, VTabConnection,
    VTabCursor,
};
use rusqlite::{ffi, Connection, Error};

use super::catch;

/// `idx_num` values: a scan bounded by `seq > n` or `seq >= n`.
const BOUND_GT: c_int = 1;
const BOUND_GE: c_int = 2;

/// A table-valued function: a name, a `CREATE TABLE` declaring its columns,
/// and the rows of one scan.
pub(crate) trait RowSource: 'static {
    const NAME: &'static CStr;
    /// `CREATE TABLE x(...)` with the visible columns.
    const SCHEMA: &'static CStr;
    /// An increasing integer column (`seq`): scans with `col > n` or
    /// `col >= n` pass `n` to [`RowSource::rows`] as the lower bound, so a
    /// reader polling for new rows does not copy the old ones. SQLite still
    /// checks the constraint itself.
    const SEQ_COLUMN: Option<i32> = None;
    /// The rows, all of them or those with the sequence column greater
    /// than `after`.
    fn rows(conn: &Connection, after: Option<i64>) -> crate::Result<Vec<Vec<Value>>>;
    /// At most about `limit` rows after `after`, and whether more follow,
    /// for a source that can be read in pages ([`RowSource::SEQ_COLUMN`]
    /// must then be set: the next page starts after the last row's value).
    /// By default, every row at once.
    fn page(
        conn: &Connection,
        after: Option<i64>,
        _limit: usize,
    ) -> crate::Result<(Vec<Vec<Value>>, bool)> {
        Ok((Self::rows(conn, after)?, false))
    }
}

/// How many rows a paged scan copies at a time.
const PAGE: usize = 256;

/// Registers the table-valued function `S` on `conn`. Loading twice never
/// gets here: [`crate::register`] returns early on a connection that
/// already has the extension.
pub(crate) fn register_table<S: RowSource>(conn: &Connection) -> crate::Result<()> {
    conn.create_module(S::NAME, module::<S>(), None)
        .map_err(crate::Error::sqlite(format!(
            "registering {}",
            S::NAME.to_string_lossy()
        )))
}

fn module<S: RowSource>() -> &'static Module<'static, ListTab<S>> {
    // One constant per row source, promoted to a static, as SQLite keeps a
    // pointer to it for as long as any connection has it registered.
    &const { Module::<'static, ListTab<S>>::eponymous_only_module() }
}

#[repr(C)]
struct ListTab<S> {
    /// Must come first: SQLite sees this struct as a `sqlite3_vtab`.
    base: ffi::sqlite3_vtab,
    db: *mut ffi::sqlite3,
    source: PhantomData<S>,
}

// SAFETY: ListTab is repr(C) with sqlite3_vtab first, as rusqlite requires.
unsafe impl<'vtab, S: RowSource> VTab<'vtab> for ListTab<S> {
    type Aux = ();
    type Cursor = ListCursor<'vtab, S>;

    fn connect(
        db: &mut VTabConnection,
        _aux: Option<&()>,
        _module_name: &[u8],
        _database_name: &[u8],
        _table_name: &[u8],
        _args: &[&[u8]],
    ) -> rusqlite::Result<(Cow<'static, CStr>, Self)> {
        // Listing rows has no side effects, so views and triggers of an
        // untrusted schema may read it.
        db.config(VTabConfig::Innocuous)?;
        // SAFETY: the handle is only used while SQLite runs a scan of this
        // table on this connection, which outlives the table object.
        let handle = unsafe { db.handle() };
        Ok((
            Cow::Borrowed(S::SCHEMA),
            ListTab {
                base: ffi::sqlite3_vtab::default(),
                db: handle,
                source: PhantomData,
            },
        ))
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<bool> {
        info.set_estimated_cost(1000.0);
        let Some(seq) = S::SEQ_COLUMN else {
            return Ok(true);
        };
        let mut bound = None;
        for (i, constraint) in info.constraints().enumerate() {
            let op = constraint.operator();
            if constraint.is_usable()
                && constraint.column() == seq
                && (op == IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_GT
                    || op == IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_GE)
            {
                let exclusive = op == IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_GT;
                bound = Some((i, if exclusive { BOUND_GT } else { BOUND_GE }));
                break;
            }
        }
        if let Some((i, kind)) = bound {
            let mut usage = info.constraint_usage(i);
            usage.set_argv_index(1);
            usage.set_omit(false);
            info.set_idx_num(kind);
            info.set_estimated_cost(10.0);
        }
        Ok(true)
    }

    fn open(&'vtab mut self) -> rusqlite::Result<ListCursor<'vtab, S>> {
        Ok(ListCursor {
            base: ffi::sqlite3_vtab_cursor::default(),
            db: self.db,
            rows: Vec::new(),
            at: 0,
            more: false,
            rowid: 0,
            table: PhantomData,
        })
    }
}

#[repr(C)]
struct ListCursor<'vtab, S> {
    /// Must come first: SQLite sees this struct as a `sqlite3_vtab_cursor`.
    base: ffi::sqlite3_vtab_cursor,
    db: *mut ffi::sqlite3,
    rows: Vec<Vec<Value>>,
    at: usize,
    /// Whether the source has rows after the last one of `rows`.
    more: bool,
    /// The current row's number in the whole scan.
    rowid: i64,
    table: PhantomData<&'vtab ListTab<S>>,
}

// SAFETY: ListCursor is repr(C) with sqlite3_vtab_cursor first.
unsafe impl<S: RowSource> VTabCursor for ListCursor<'_, S> {
    fn filter(
        &mut self,
        idx: c_int,
        _idx_str: Option<&str>,
        args: &Filters<'_>,
    ) -> rusqlite::Result<()> {
        let after = match idx {
            BOUND_GT | BOUND_GE => match args.get::<Option<i64>>(0) {
                Ok(Some(n)) if idx == BOUND_GT => Some(n),
                Ok(Some(n)) => Some(n.saturating_sub(1)),
                // A bound that is not an integer (NULL, a real, text) is
                // left to SQLite's own check on every row.
                _ => None,
            },
            _ => None,
        };
        self.rowid = 1;
        self.fetch(after)
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        self.at += 1;
        self.rowid += 1;
        if self.at >= self.rows.len() && self.more {
            let last = S::SEQ_COLUMN
                .and_then(|c| usize::try_from(c).ok())
                .and_then(|c| self.rows.last()?.get(c))
                .and_then(|v| match v {
                    Value::Integer(n) => Some(*n),
                    _ => None,
                });
            match last {
                Some(last) => self.fetch(Some(last))?,
                None => self.more = false,
            }
        }
        Ok(())
    }

    fn eof(&self) -> bool {
        self.at >= self.rows.len()
    }

    fn column(&self, ctx: &mut Context, i: c_int) -> rusqlite::Result<()> {
        let value = usize::try_from(i)
            .ok()
            .and_then(|i| self.rows.get(self.at)?.get(i));
        ctx.set_result(value.unwrap_or(&Value::Null))
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        Ok(self.rowid)
    }
}

impl<S: RowSource> ListCursor<'_, S> {
    /// Reads the next page of rows, those after `after`.
    fn fetch(&mut self, after: Option<i64>) -> rusqlite::Result<()> {
        let db = self.db;
        let limit = if S::SEQ_COLUMN.is_some() {
            PAGE
        } else {
            usize::MAX
        };
        let (rows, more) = catch(&format!("reading {}", S::NAME.to_string_lossy()), || {
            // SAFETY: db is the connection running this scan; the borrowed
            // Connection does not close it when dropped.
            let conn = unsafe { Connection::from_handle(db) }?;
            S::page(&conn, after, limit).map_err(|e| Error::ModuleError(e.to_string()))
        })
        .map_err(Error::ModuleError)??;
        self.rows = rows;
        self.at = 0;
        self.more = more;
        Ok(())
    }
}
