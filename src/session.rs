//! Per-connection state, created when the extension is registered on a
//! connection and freed when the connection closes (SQLite owns one
//! reference through the `trigger_txn` module, see [`crate::ffi`]).
//!
//! It collects the row changes SQLite's update hook reports, keeps the
//! savepoint marks `trigger_txn` reports, and when a transaction commits
//! hands exactly what committed to the change feed and to Rust listeners.
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Weak};

use rusqlite::Connection;

pub use crate::changes::{Change, Op};
use crate::ffi::{Mutex, PerProcess, ProcessId};

/// A Rust closure attached to a table, called after each commit with the
/// changes that committed.
pub(crate) type Callback = Arc<Mutex<dyn FnMut(&[Change]) + Send>>;

pub(crate) struct ApiListener {
    pub(crate) id: u64,
    /// Lower-case table name (SQLite compares names without case).
    pub(crate) table: String,
    pub(crate) ops: Vec<Op>,
    pub(crate) callback: Callback,
}

/// A Rust function that trigger bodies call with `trigger_call(name, ...)`.
pub(crate) type Handler =
    Arc<dyn Fn(&[rusqlite::types::Value]) -> Result<rusqlite::types::Value, String> + Send + Sync>;

/// What this connection watches and the transaction in progress.
#[derive(Default)]
pub(crate) struct State {
    /// Tables watched with `trigger_watch`, lower-case, in `main`.
    pub(crate) sql_tables: HashSet<String>,
    /// `trigger_watch('*')`: every table of every schema ...
    pub(crate) sql_all: bool,
    /// ... but these (schema, table), lower-case: shadow tables, which a
    /// virtual table writes as its own storage.
    pub(crate) skip: HashSet<(String, String)>,
    pub(crate) api: Vec<ApiListener>,
    pub(crate) next_listener: u64,
    /// Whether our hooks are set on the connection.
    pub(crate) hooks_on: bool,
    /// The tables that have guard triggers, as (schema, table), both
    /// lower-case.
    pub(crate) guarded: HashSet<(String, String)>,
    /// `PRAGMA main.schema_version` when renames were last looked for.
    pub(crate) schema_seen: Option<i64>,
    txn: Txn,
    /// Every table the update hook reported and someone wanted in the
    /// current transaction (an entry is only used while changes refer to
    /// it: the list is emptied between transactions once it grows, so that
    /// tables created and dropped by the thousand cost nothing later).
    names: Vec<Name>,
    /// The update hook's answers (an index into `names`, or not wanted) by
    /// schema and table, and the last one, which most rows hit.
    known: HashMap<TableKey, Option<u32>>,
    cache: Option<Lookup>,
}

/// A table as the update hook names it: schema and table, as SQLite spells
/// them.
type TableKey = (Box<[u8]>, Box<[u8]>);

/// How many table names the state keeps between transactions before it
/// forgets them all (they are looked up again when next written).
const NAMES_KEPT: usize = 64;

/// A proven change recorded by the update hook, 16 bytes: the table is an
/// index into [`State::names`].
///
/// A change is proven when SQLite will tell us if it is undone: it was made
/// in autocommit mode (only a whole rollback undoes it, and the rollback
/// hook reports that), or after `trigger_txn` joined the transaction (which
/// then hears every `ROLLBACK TO` and failed statement). A change to a table
/// without a guard trigger inside `BEGIN ... COMMIT`, before anything joined,
/// is not proven: it is only counted ([`Txn::unproven`]), never published as
/// a change.
#[derive(Clone, Copy)]
pub(crate) struct Pending {
    pub(crate) rowid: i64,
    pub(crate) name: u32,
    pub(crate) op: Op,
}

/// A table the update hook reported, by schema and name.
#[derive(Clone)]
pub(crate) struct Name {
    pub(crate) db: Arc<str>,
    pub(crate) table: Arc<str>,
}

impl Pending {
    pub(crate) fn change(&self, names: &[Name]) -> Change {
        let name = &names[self.name as usize];
        Change {
            op: self.op,
            db: Arc::clone(&name.db),
            table: Arc::clone(&name.table),
            rowid: self.rowid,
        }
    }
}

#[derive(Default)]
struct Txn {
    /// The last proven changes of the transaction, at most the feed's
    /// capacity of them while no Rust closure listens: the transaction's
    /// changes number `front + pending.len()`, and the first `front` were
    /// dropped as they came, since the feed would drop them at the commit
    /// anyway.
    pending: VecDeque<Pending>,
    front: usize,
    /// The feed's capacity, read when the transaction first reached it.
    limit: Option<usize>,
    /// Unproven changes, counted by table (an index into `names`), in the
    /// order the tables were first changed. They are all made before
    /// `trigger_txn` joined, so no savepoint mark ever falls among them:
    /// only a whole rollback removes them.
    unproven: Vec<(u32, i64)>,
    /// `marks[level]`: how many proven changes the transaction had made
    /// when savepoint `level` (statement savepoints included) began.
    marks: Vec<usize>,
    /// Whether `trigger_txn` is part of this transaction, so that its
    /// `xCommit`, not the commit hook, publishes.
    joined: bool,
    /// Whether a guard already looked for renamed tables in this
    /// transaction, since the last statement that changed no row.
    looked: bool,
    /// Whether a row was written (or a guard ran) since the last statement
    /// savepoint began.
    row_seen: bool,
    /// Rowids of deletes the update hook reported whose AFTER DELETE guard
    /// has not run yet, innermost last (triggers nest). A delete the guard
    /// sees that is not here is one the update hook never reports: a row
    /// REPLACE removed (see [`Session::after_delete`]).
    deletes: Vec<i64>,
}

struct Lookup {
    db: Box<[u8]>,
    table: Box<[u8]>,
    name: Option<u32>,
}

/// The extension's state for one connection.
pub(crate) struct Session {
    /// The connection's `sqlite3*`, as a number (see [`crate::ffi::handle_key`]).
    pub(crate) handle: usize,
    /// The connection's main database file, if it has one.
    pub(crate) file_key: Option<String>,
    /// Whether dqlite replicates the main database (see
    /// [`crate::sql::dqlite_read_statement_refused`]).
    pub(crate) dqlite: bool,
    /// Which process-wide change feed this connection publishes to: the
    /// file's, or its own for an in-memory database.
    pub(crate) feed_key: String,
    /// The feed, and the commit signal of the file (which `trigger_wait`
    /// waits on), of the process that opened the connection; see
    /// [`Session::feed`].
    feed: Arc<Mutex<crate::changes::Feed>>,
    signal: Option<Arc<crate::notify::Signal>>,
    opened_in: ProcessId,
    pub(crate) state: Mutex<State>,
    pub(crate) handlers: Mutex<HashMap<String, Handler>>,
    /// Whether a statement's program reads the outbox and emits (see
    /// `outbox::scans_own_outbox`), by statement, with its SQL text.
    pub(crate) outbox_scans: crate::ffi::StatementAnswers,
    /// The same for trigger_emit's own INSERT, within one outermost call.
    pub(crate) emit_insert_scans: Mutex<Option<bool>>,
    /// A random token the feed's TEMP guards pass to the functions only
    /// they may call (see `feed::guards`).
    pub(crate) guard_token: String,
    /// A second handle on the connection whose prepared-statement cache
    /// keeps the statements the extension runs on every row
    /// (`trigger_emit`'s INSERT). It exists only while `trigger_txn` is
    /// connected: SQLite disconnects virtual tables when the connection
    /// closes, before it looks for unfinalized statements, and the
    /// disconnect drops it (see [`Session::statements`]).
    ///
    /// parking_lot's, as std has no reentrant lock. It never has to wait,
    /// so it never reaches parking_lot's process-wide table of waiting
    /// threads (see [`crate::ffi::PerProcess`] on why that matters): it is
    /// taken only inside SQLite's calls on this connection, which SQLite
    /// (or, in multi-thread mode, the host) runs one at a time.
    statements: parking_lot::ReentrantMutex<Statements>,
}

/// The statements a connection keeps between calls. Calls nest (a trigger
/// on the outbox that emits runs inside an emit), so the cache may be in
/// use when `trigger_txn` connects: then it is simply not filled yet.
#[derive(Default)]
pub(crate) struct Statements {
    cache: std::cell::RefCell<Option<Connection>>,
    /// How many `trigger_txn` instances are connected.
    tables: std::cell::Cell<usize>,
    /// How often SQLite had prepared the cached INSERT again when the
    /// outbox's shape was last checked (see `outbox::emit`).
    pub(crate) checked: std::cell::Cell<Option<i32>>,
    /// Whether the cache must not be used: a trigger on the outbox was
    /// found when the cached INSERT was last prepared (see `outbox::emit`).
    pub(crate) uncachable: std::cell::Cell<bool>,
}

impl Session {
    pub(crate) fn new(conn: &Connection) -> Arc<Session> {
        let file_key = crate::notify::file_key(conn);
        let handle = crate::ffi::handle_key(conn);
        let feed_key = match &file_key {
            // The file's identity, not its name: see notify::file_key.
            Some(key) => format!("file:{key}"),
            None => format!("connection:{handle:x}:{}", next_id()),
        };
        let session = Arc::new(Session {
            handle,
            feed: crate::changes::shared(&feed_key),
            signal: file_key.as_deref().map(crate::notify::signal),
            opened_in: ProcessId::current(),
            file_key,
            dqlite: crate::sql::on_dqlite(conn),
            feed_key,
            state: Mutex::new(State::default()),
            handlers: Mutex::new(HashMap::new()),
            outbox_scans: Mutex::new(HashMap::new()),
            emit_insert_scans: Mutex::new(None),
            statements: Default::default(),
            guard_token: random_token(),
        });
        sessions().lock().insert(handle, Arc::downgrade(&session));
        session
    }

    /// The change feed this connection publishes to and reads.
    ///
    /// A connection carried into a child by `fork()` (which SQLite says
    /// not to use there) gets the child's feed and signal, never the
    /// copies of the parent's it holds, which another thread of the
    /// parent may have held locked at the fork.
    pub(crate) fn feed(&self) -> Arc<Mutex<crate::changes::Feed>> {
        if self.opened_in == ProcessId::current() {
            Arc::clone(&self.feed)
        } else {
            crate::changes::shared(&self.feed_key)
        }
    }

    /// Wakes the waiters of the file (see [`Session::feed`] on a
    /// connection carried across `fork()`).
    fn notify_waiters(&self) {
        let Some(signal) = &self.signal else {
            return;
        };
        if self.opened_in == ProcessId::current() {
            signal.notify();
        } else if let Some(key) = &self.file_key {
            crate::notify::signal(key).notify();
        }
    }

    /// Why a connection the extension is registered on has no session
    /// ([`Session::of`]): it was carried across `fork()` into this process.
    pub(crate) const MISSING: &'static str =
        "this connection was opened before fork(), by the parent process, which keeps the \
         extension's state for it; open a connection in this process";

    /// The session of a connection the extension is registered on, in this
    /// process (a connection carried into a child by `fork()` has none
    /// there: see [`Session::MISSING`]).
    pub(crate) fn of(conn: &Connection) -> Option<Arc<Session>> {
        sessions()
            .lock()
            .get(&crate::ffi::handle_key(conn))
            .and_then(Weak::upgrade)
    }

    /// Makes the commit of the open transaction wake the waiters of this
    /// file (`trigger_wait`): puts `trigger_txn` into the transaction, whose
    /// `xCommit` signals after the commit. `trigger_emit` calls this after
    /// each write; it is one flag check once the transaction has joined.
    pub(crate) fn notify_commits(&self, conn: &Connection) -> crate::Result<()> {
        if self.joined() {
            return Ok(());
        }
        // A table or view named trigger_txn would take the row (and a scan of
        // it that emits would never end): then commits wake waiters through
        // the file's watcher only.
        if crate::schema::shadowing_txn_table(conn)?.is_some() {
            return Ok(());
        }
        conn.execute("INSERT INTO trigger_txn VALUES ('outbox')", [])
            .map(|_| ())
            .map_err(crate::Error::sqlite(
                "marking the transaction for trigger_wait",
            ))
    }

    /// Runs `body` with the connection handle whose statement cache
    /// outlives one call (`None` while `trigger_txn` is not connected: then
    /// statements are prepared for the call). Calls may nest.
    pub(crate) fn statements<T>(
        &self,
        body: impl FnOnce(Option<&Connection>, &Statements) -> T,
    ) -> T {
        let statements = self.statements.lock();
        let cache = statements.cache.borrow();
        body(cache.as_ref(), &statements)
    }

    /// `trigger_txn` was connected; `cache` makes a handle on its connection.
    pub(crate) fn txn_table_connected(&self, cache: impl FnOnce() -> Option<Connection>) {
        let statements = self.statements.lock();
        statements.tables.set(statements.tables.get() + 1);
        if let Ok(mut kept) = statements.cache.try_borrow_mut() {
            if kept.is_none() {
                *kept = cache();
                statements.checked.set(None);
            }
        };
    }

    /// A `trigger_txn` instance was disconnected: when none is left (the
    /// connection is closing), the cached statements are finalized.
    pub(crate) fn txn_table_disconnected(&self) {
        let statements = self.statements.lock();
        let tables = statements.tables.get().saturating_sub(1);
        statements.tables.set(tables);
        if tables == 0 {
            if let Ok(mut kept) = statements.cache.try_borrow_mut() {
                *kept = None;
            };
        }
    }

    /// Whether `trigger_txn` is already part of the open transaction.
    pub(crate) fn joined(&self) -> bool {
        self.state.lock().txn.joined
    }

    /// A guard's call: whether the transaction has joined, and whether it is
    /// the transaction's first call (which looks for renamed tables).
    pub(crate) fn guard_call(&self) -> (bool, bool) {
        let mut state = self.state.lock();
        let first = !state.txn.looked;
        state.txn.looked = true;
        state.txn.row_seen = true;
        (state.txn.joined, first)
    }

    /// The update hook: records the change if anything watches its table.
    /// It runs for every row written, so the common case (the same table as
    /// the last row) costs a comparison and a push.
    /// `autocommit` says whether the connection is in autocommit mode.
    pub(crate) fn on_update(&self, op: Op, db: &[u8], table: &[u8], rowid: i64, autocommit: bool) {
        let mut state = self.state.lock();
        state.txn.row_seen = true;
        let name = match &state.cache {
            Some(c) if *c.db == *db && *c.table == *table => c.name,
            _ => state.look_up(db, table),
        };
        let Some(name) = name else {
            return;
        };
        let txn = &mut state.txn;
        if !(autocommit || txn.joined) {
            match txn.unproven.iter_mut().rev().find(|(n, _)| *n == name) {
                Some((_, count)) => *count += 1,
                None => txn.unproven.push((name, 1)),
            }
            return;
        }
        if op == Op::Delete {
            if txn.deletes.len() >= MAX_OPEN_DELETES {
                // Deletes of tables without the guard are never matched;
                // the ones still waiting for their guard are the newest.
                txn.deletes.drain(..MAX_OPEN_DELETES / 2);
            }
            txn.deletes.push(rowid);
        }
        self.record(&mut state, Pending { rowid, name, op });
    }

    /// The AFTER DELETE guard of a watched table ran for `rowid`: whether
    /// the update hook reported that delete just before (and the guard of
    /// every delete nested in it ran). The hook reports every delete except
    /// the rows REPLACE removes, for which SQLite runs the guard only with
    /// `recursive_triggers` on; those go to [`Session::record_replaced_delete`].
    pub(crate) fn delete_was_reported(&self, rowid: i64) -> bool {
        let mut state = self.state.lock();
        let deletes = &mut state.txn.deletes;
        match deletes.iter().rposition(|&r| r == rowid) {
            Some(at) => {
                deletes.truncate(at);
                true
            }
            None => false,
        }
    }

    /// Records a row REPLACE deleted from `db.table`, in its place before
    /// the insert or update that replaced it.
    pub(crate) fn record_replaced_delete(&self, db: &str, table: &str, rowid: i64) {
        let mut state = self.state.lock();
        if let Some(name) = state.look_up(db.as_bytes(), table.as_bytes()) {
            let change = Pending {
                rowid,
                name,
                op: Op::Delete,
            };
            self.record(&mut state, change);
        }
    }

    /// Adds a proven change to the open transaction.
    fn record(&self, state: &mut State, change: Pending) {
        let bounded = state.api.is_empty();
        let txn = &mut state.txn;
        txn.pending.push_back(change);
        // Beyond the feed's capacity the oldest change would be dropped at
        // the commit: drop it now, so memory does not grow with the
        // transaction. A Rust closure gets every change, so then all are
        // kept.
        if bounded && txn.pending.len() > txn.limit.unwrap_or(crate::changes::MIN_CAPACITY_CHECK) {
            let limit = *txn
                .limit
                .get_or_insert_with(|| crate::changes::capacity_of(&self.feed()));
            while txn.pending.len() > limit {
                txn.pending.pop_front();
                txn.front += 1;
            }
        }
    }

    /// The commit hook runs before the commit is final. A transaction that
    /// `trigger_txn` joined is published from its `xCommit`, after the
    /// commit; one that changed only unguarded tables (see the feed's
    /// limits) is published here.
    pub(crate) fn on_commit_hook(&self) {
        if self.state.lock().txn.joined {
            return;
        }
        self.publish();
    }

    pub(crate) fn on_rollback_hook(&self) {
        self.state.lock().end_rolled_back_txn();
    }

    pub(crate) fn txn_begin(&self) {
        self.state.lock().txn.joined = true;
    }

    pub(crate) fn savepoint(&self, level: i32) {
        let mut state = self.state.lock();
        let txn = &mut state.txn;
        let level = usize::try_from(level).unwrap_or(0);
        let len = txn.front + txn.pending.len();
        // Savepoints opened before `trigger_txn` joined get the position at
        // which it joined: no proven change was made before that.
        txn.marks.resize(level, len);
        txn.marks.push(len);
        // SQLite opens one for every statement with a statement journal
        // in a transaction `trigger_txn` joined, DDL included. After one
        // that wrote no row (an ALTER TABLE may have renamed a watched
        // table), the next guard looks for renamed tables again.
        if !txn.row_seen {
            txn.looked = false;
        }
        txn.row_seen = false;
    }

    pub(crate) fn release(&self, level: i32) {
        let mut state = self.state.lock();
        state
            .txn
            .marks
            .truncate(usize::try_from(level).unwrap_or(0));
    }

    /// `level` is -1 for `ROLLBACK TO` the savepoint that began the
    /// transaction (a `SAVEPOINT` outside `BEGIN`): everything is undone.
    pub(crate) fn rollback_to(&self, level: i32) {
        let mut state = self.state.lock();
        state.schema_rolled_back();
        let txn = &mut state.txn;
        let Ok(level) = usize::try_from(level) else {
            txn.pending.clear();
            txn.front = 0;
            txn.unproven.clear();
            txn.marks.clear();
            return;
        };
        if let Some(&mark) = txn.marks.get(level) {
            if mark >= txn.front {
                txn.pending.truncate(mark - txn.front);
            } else {
                // Changes dropped for capacity were undone too.
                txn.pending.clear();
                txn.front = mark;
            }
            // The savepoint itself stays open after ROLLBACK TO.
            txn.marks.truncate(level + 1);
        }
    }

    /// `trigger_txn`'s `xCommit`: the commit has succeeded.
    pub(crate) fn txn_commit(&self) {
        self.publish();
        self.notify_waiters();
    }

    pub(crate) fn txn_rollback(&self) {
        self.state.lock().end_rolled_back_txn();
    }

    /// Hands the transaction's changes, which have committed, to the feed
    /// and to Rust listeners, and ends it. Listeners are called without the
    /// state lock, so a listener may use this crate.
    fn publish(&self) {
        let calls = {
            let mut state = self.state.lock();
            let state = &mut *state;
            let txn = &state.txn;
            if txn.pending.is_empty() && txn.front == 0 && txn.unproven.is_empty() {
                state.end_txn();
                return;
            }
            // Whether the feed takes each table the transaction changed:
            // only those, so the cost does not grow with every table ever
            // written.
            let mut to_feed: Vec<(u32, bool)> = Vec::new();
            let mut wanted = |name: u32| -> bool {
                if let Some(&(_, f)) = to_feed.iter().rev().find(|(n, _)| *n == name) {
                    return f;
                }
                let n = &state.names[name as usize];
                let f = state.sql_wants(&n.db, &n.table);
                to_feed.push((name, f));
                f
            };
            let names = &state.names;
            let mut changes = txn
                .pending
                .iter()
                .filter(|p| wanted(p.name))
                .map(|p| p.change(names))
                .collect::<Vec<Change>>()
                .into_iter();
            let unguarded: Vec<(Arc<str>, Arc<str>, i64)> = txn
                .unproven
                .iter()
                .filter(|(name, _)| wanted(*name))
                .map(|&(name, count)| {
                    let n = &names[name as usize];
                    (Arc::clone(&n.db), Arc::clone(&n.table), count)
                })
                .collect();
            crate::changes::publish(&self.feed(), txn.front, &mut changes, unguarded);
            let calls: Vec<(Callback, Vec<Change>)> = state
                .api
                .iter()
                .filter_map(|l| {
                    // A closure only ever gets proven changes.
                    let batch: Vec<Change> = txn
                        .pending
                        .iter()
                        .filter(|p| {
                            let name = &names[p.name as usize];
                            &*name.db == "main"
                                && name.table.eq_ignore_ascii_case(&l.table)
                                && l.ops.contains(&p.op)
                        })
                        .map(|p| p.change(names))
                        .collect();
                    (!batch.is_empty()).then(|| (Arc::clone(&l.callback), batch))
                })
                .collect();
            state.end_txn();
            calls
        };
        for (callback, batch) in calls {
            (callback.lock())(&batch);
        }
    }
}

impl crate::ffi::TxnEvents for Session {
    fn handle(&self) -> usize {
        self.handle
    }
    fn row_changed(
        &self,
        op: crate::ffi::RowOp,
        db: &[u8],
        table: &[u8],
        rowid: i64,
        autocommit: bool,
    ) {
        let op = match op {
            crate::ffi::RowOp::Insert => Op::Insert,
            crate::ffi::RowOp::Update => Op::Update,
            crate::ffi::RowOp::Delete => Op::Delete,
        };
        self.on_update(op, db, table, rowid, autocommit);
    }
    fn committing(&self) {
        self.on_commit_hook();
    }
    fn rolled_back(&self) {
        self.on_rollback_hook();
    }
    fn txn_begin(&self) {
        Session::txn_begin(self);
    }
    fn txn_commit(&self) {
        Session::txn_commit(self);
    }
    fn txn_rollback(&self) {
        Session::txn_rollback(self);
    }
    fn savepoint(&self, level: i32) {
        Session::savepoint(self, level);
    }
    fn release(&self, level: i32) {
        Session::release(self, level);
    }
    fn rollback_to(&self, level: i32) {
        Session::rollback_to(self, level);
    }
    fn table_connected(&self, cache: impl FnOnce() -> Option<Connection>) {
        self.txn_table_connected(cache);
    }
    fn table_disconnected(&self) {
        self.txn_table_disconnected();
    }
}

impl State {
    /// A rollback can take the schema version back to one already seen,
    /// which a later ALTER TABLE then reaches again: renames are looked
    /// for anew.
    fn schema_rolled_back(&mut self) {
        self.schema_seen = None;
    }

    fn end_rolled_back_txn(&mut self) {
        self.schema_rolled_back();
        self.end_txn();
    }

    /// Forgets the transaction; once no change refers to them, forgets the
    /// table names too if there are many (tables created and dropped by the
    /// thousand must not slow every later commit down).
    fn end_txn(&mut self) {
        self.txn = Txn::default();
        if self.names.len() > NAMES_KEPT {
            self.names = Vec::new();
            self.known = HashMap::new();
            self.cache = None;
        }
    }

    /// Finds (and caches) whether changes to `db.table` are wanted, and
    /// under which name index.
    fn look_up(&mut self, db: &[u8], table: &[u8]) -> Option<u32> {
        let key = (Box::<[u8]>::from(db), Box::<[u8]>::from(table));
        let name = match self.known.get(&key) {
            Some(name) => *name,
            None => {
                let name = self.wants(db, table).then(|| {
                    self.names.push(Name {
                        db: Arc::from(String::from_utf8_lossy(db).as_ref()),
                        table: Arc::from(String::from_utf8_lossy(table).as_ref()),
                    });
                    (self.names.len() - 1) as u32
                });
                self.known.insert(key.clone(), name);
                name
            }
        };
        self.cache = Some(Lookup {
            db: key.0,
            table: key.1,
            name,
        });
        name
    }

    /// Whether the update hook should record changes to `db.table`.
    fn wants(&self, db: &[u8], table: &[u8]) -> bool {
        // SQLite's own tables are never reported, in any schema: VACUUM
        // writes the copy's `sqlite_master` through the update hook, in a
        // schema it attaches for the time being (`vacuum_db`, or
        // `vacuum_<random>` in newer SQLite).
        if table
            .get(..7)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(b"sqlite_"))
        {
            return false;
        }
        let (Ok(db), Ok(table)) = (std::str::from_utf8(db), std::str::from_utf8(table)) else {
            return self.sql_all;
        };
        self.sql_wants(db, table)
            || (db == "main" && self.api.iter().any(|l| l.table.eq_ignore_ascii_case(table)))
    }

    /// Whether the change feed takes changes to `db.table`.
    fn sql_wants(&self, db: &str, table: &str) -> bool {
        let table = table.to_ascii_lowercase();
        if self.sql_all {
            return self.skip.is_empty() || !self.skip.contains(&(db.to_ascii_lowercase(), table));
        }
        db == "main" && self.sql_tables.contains(&table)
    }

    /// Forgets the cached answer of [`State::wants`] after what is watched
    /// changed.
    pub(crate) fn interest_changed(&mut self) {
        self.cache = None;
        self.known.clear();
    }

    /// Whether anything on this connection needs the hooks.
    pub(crate) fn needs_hooks(&self) -> bool {
        self.sql_all || !self.sql_tables.is_empty() || !self.api.is_empty()
    }

    /// The (schema, table) pairs, lower-case, that need guard triggers, or
    /// `None` for every table of every schema (`trigger_watch('*')`).
    pub(crate) fn tables_to_guard(&self) -> Option<HashSet<(String, String)>> {
        if self.sql_all {
            return None;
        }
        let main = |t: &String| ("main".to_string(), t.clone());
        let mut tables: HashSet<(String, String)> = self.sql_tables.iter().map(main).collect();
        tables.extend(self.api.iter().map(|l| main(&l.table)));
        Some(tables)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        sessions().lock().retain(|_, weak| weak.strong_count() > 0);
        crate::changes::forget_connection_feed(&self.feed_key);
    }
}

/// How many deletes may wait for their AFTER DELETE guard (nested deletes
/// are as deep as triggers nest, 1000 at most).
const MAX_OPEN_DELETES: usize = 4096;

/// Sessions by connection handle, for the Rust API, which gets a
/// `rusqlite::Connection` and needs its session. The process's own (see
/// [`PerProcess`]): a child that `fork()` made starts with none.
fn sessions() -> &'static Mutex<HashMap<usize, Weak<Session>>> {
    static SESSIONS: PerProcess<Mutex<HashMap<usize, Weak<Session>>>> = PerProcess::new();
    SESSIONS.get(Default::default)
}

/// 128 random bits as hex, from the standard library's per-process random
/// hash keys (fresh for every `RandomState`).
fn random_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let half = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(next_id());
        h.finish()
    };
    format!("{:016x}{:016x}", half(), half())
}

fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}
