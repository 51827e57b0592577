//! The committed row changes, kept per database in memory: what the change
//! feed (`trigger_changes`) reads, and what each connection's session
//! publishes to after a commit. Below the session and the feed, it knows
//! neither.
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use rusqlite::types::Value;

use crate::ffi::{Mutex, PerProcess};

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    Insert,
    Update,
    Delete,
}

impl Op {
    /// Every operation, in SQLite's order.
    pub const ALL: [Op; 3] = [Op::Insert, Op::Update, Op::Delete];

    /// The operation named `name` (as [`Op::name`] spells it).
    pub fn parse(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }

    /// The SQL keyword, as in `AFTER INSERT ON`.
    pub fn sql(self) -> &'static str {
        match self {
            Op::Insert => "INSERT",
            Op::Update => "UPDATE",
            Op::Delete => "DELETE",
        }
    }

    /// The name used in SQL (`trigger_changes.op`) and options.
    pub fn name(self) -> &'static str {
        match self {
            Op::Insert => "insert",
            Op::Update => "update",
            Op::Delete => "delete",
        }
    }
}

/// One committed row change, as the update hook reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub op: Op,
    /// The schema: `main`, `temp` or an attached database's name.
    pub db: Arc<str>,
    pub table: Arc<str>,
    pub rowid: i64,
}

/// How many changes a feed keeps unless `trigger_feed_capacity` says
/// otherwise: about 10 MB of memory, seconds of heavy writing.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// One process-wide feed: the committed changes of one database file.
pub(crate) struct Feed {
    capacity: usize,
    rows: VecDeque<Row>,
    /// The `seq` the next change gets.
    next_seq: i64,
    next_txn: i64,
    /// How many changes were dropped because nobody read them in time.
    dropped: i64,
}

#[derive(Clone)]
struct Row {
    seq: i64,
    txn: i64,
    what: What,
}

/// What a feed row says.
#[derive(Clone)]
enum What {
    /// A committed row change.
    Change(Change),
    /// `op = 'unguarded'`: the transaction changed `table` `count` times
    /// where no guard trigger made its savepoints visible (a table created
    /// after `trigger_watch('*')`, or dropped and created again), so those
    /// changes cannot be proven committed and are not listed; the reader
    /// must read the table itself.
    Unguarded {
        db: Arc<str>,
        table: Arc<str>,
        count: i64,
    },
}

impl Default for Feed {
    fn default() -> Self {
        Feed {
            capacity: DEFAULT_CAPACITY,
            rows: VecDeque::new(),
            next_seq: 1,
            next_txn: 1,
            dropped: 0,
        }
    }
}

/// The process's feeds, by key. A child that `fork()` made starts with
/// none (see [`PerProcess`]): its connections publish what they commit.
fn feeds() -> &'static Mutex<HashMap<String, Arc<Mutex<Feed>>>> {
    static FEEDS: PerProcess<Mutex<HashMap<String, Arc<Mutex<Feed>>>>> = PerProcess::new();
    FEEDS.get(Default::default)
}

/// The feed `key` (a file's, or one connection's), shared by every session
/// that publishes to it; each session keeps its own reference.
pub(crate) fn shared(key: &str) -> Arc<Mutex<Feed>> {
    Arc::clone(feeds().lock().entry(key.to_string()).or_default())
}

impl Feed {
    /// Drops the oldest rows beyond the capacity, counting them.
    fn trim(&mut self) {
        let excess = self.rows.len().saturating_sub(self.capacity);
        self.rows.drain(..excess);
        self.dropped += excess as i64;
    }
}

/// A transaction keeps at least this many pending changes before it reads
/// the feed's capacity to drop older ones (see `Session::on_update`).
pub(crate) const MIN_CAPACITY_CHECK: usize = 1024;

/// The feed's capacity now.
pub(crate) fn capacity_of(feed: &Mutex<Feed>) -> usize {
    feed.lock().capacity
}

/// Appends one committed transaction to `feed`: `front` changes already
/// dropped as they came, then `changes`, then one `unguarded` row per table
/// that had changes that cannot be proven committed, with their count. Only
/// the last `capacity` rows are kept; the others count as dropped.
pub(crate) fn publish(
    feed: &Mutex<Feed>,
    front: usize,
    changes: &mut dyn ExactSizeIterator<Item = Change>,
    unguarded: Vec<(Arc<str>, Arc<str>, i64)>,
) {
    let total = front + changes.len() + unguarded.len();
    if total == 0 {
        return;
    }
    let unguarded = unguarded
        .into_iter()
        .map(|(db, table, count)| What::Unguarded { db, table, count });
    let mut feed = feed.lock();
    let txn = feed.next_txn;
    feed.next_txn += 1;
    let dropped = total.saturating_sub(feed.capacity).max(front);
    feed.next_seq += dropped as i64;
    feed.dropped += dropped as i64;
    for what in changes
        .map(What::Change)
        .chain(unguarded)
        .skip(dropped - front)
    {
        let seq = feed.next_seq;
        feed.next_seq += 1;
        feed.rows.push_back(Row { seq, txn, what });
    }
    feed.trim();
}

/// An in-memory database's feed dies with its connection.
pub(crate) fn forget_connection_feed(key: &str) {
    if key.starts_with("connection:") {
        feeds().lock().remove(key);
    }
}

pub(crate) fn capacity(feed: &Mutex<Feed>, n: Option<i64>) -> std::result::Result<usize, String> {
    let mut feed = feed.lock();
    if let Some(n) = n {
        feed.capacity = usize::try_from(n)
            .ok()
            .filter(|n| (1..=100_000_000).contains(n))
            .ok_or_else(|| format!("argument 1 (n) must be between 1 and 100000000, got {n}"))?;
        feed.trim();
    }
    Ok(feed.capacity)
}

pub(crate) fn last_seq(feed: &Mutex<Feed>) -> i64 {
    feed.lock().next_seq - 1
}

impl Feed {
    /// Up to `limit` rows of `trigger_changes` after `after` (a `dropped`
    /// row first when changes were dropped past it), and whether more are
    /// left.
    pub(crate) fn page(&self, after: Option<i64>, limit: usize) -> (Vec<Vec<Value>>, bool) {
        let feed = self;
        let after = after.unwrap_or(i64::MIN);
        let mut rows = Vec::new();
        if feed.dropped > 0 {
            let last_dropped = feed.rows.front().map_or(feed.next_seq, |r| r.seq) - 1;
            if last_dropped > after {
                rows.push(vec![
                    Value::Integer(last_dropped),
                    Value::Text("dropped".into()),
                    Value::Null,
                    Value::Null,
                    Value::Integer(feed.dropped),
                    Value::Null,
                ]);
            }
        }
        let start = feed.rows.partition_point(|r| r.seq <= after);
        let room = limit.saturating_sub(rows.len());
        let end = start.saturating_add(room).min(feed.rows.len());
        rows.extend(feed.rows.range(start..end).map(|r| {
            let (op, db, table, rowid) = match &r.what {
                What::Change(c) => (c.op.name(), &c.db, &c.table, c.rowid),
                What::Unguarded { db, table, count } => ("unguarded", db, table, *count),
            };
            vec![
                Value::Integer(r.seq),
                Value::Text(op.into()),
                Value::Text(db.to_string()),
                Value::Text(table.to_string()),
                Value::Integer(rowid),
                Value::Integer(r.txn),
            ]
        }));
        (rows, end < feed.rows.len())
    }
}
