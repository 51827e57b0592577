"""trigger_emit called from inside INSERT, UPDATE and DELETE statements that
fail: no event may outlive a statement that SQLite undid.

SQLite keeps no statement journal for a single-row write without triggers,
so when such a statement fails inside BEGIN ... COMMIT nothing undoes what a
function it called wrote. Random statements of many shapes (values,
defaults, CHECK constraints, conditions, RETURNING, UPSERT, REPLACE, foreign
keys, triggers; one row or many) run with random failures (UNIQUE, PRIMARY
KEY, CHECK, NOT NULL, foreign key, a runtime error after the call), in
BEGIN, in a SAVEPOINT and in autocommit, in both Python hosts. After every
statement the events it added are compared with what SQLite did to the
tables, and after every transaction a fresh connection compares what
committed.
"""
import random
import sqlite3

import pytest

from sqlhosts import HOSTS, host as make_host

SCHEMA = """
CREATE TABLE t(id INTEGER PRIMARY KEY, ev, c INT CHECK (c IS NULL OR c > 0),
               u INT UNIQUE, nn INT NOT NULL DEFAULT 0);
CREATE TABLE trig(id INTEGER PRIMARY KEY, u INT UNIQUE, c INT CHECK (c IS NULL OR c > 0));
CREATE TRIGGER trig_ins AFTER INSERT ON trig BEGIN SELECT trigger_emit('trig', 'ins ' || new.id); END;
CREATE TRIGGER trig_upd AFTER UPDATE ON trig BEGIN SELECT trigger_emit('trig', 'upd ' || new.id); END;
CREATE TRIGGER trig_del BEFORE DELETE ON trig BEGIN SELECT trigger_emit('trig', 'del ' || old.id); END;
CREATE TABLE dflt(id INTEGER PRIMARY KEY, u INT UNIQUE, ev DEFAULT (trigger_emit('dflt', 'default')));
CREATE TABLE chk(id INTEGER PRIMARY KEY, u INT UNIQUE, CHECK (trigger_emit('chk', 'check') > 0));
CREATE TABLE parent(id INTEGER PRIMARY KEY);
CREATE TABLE child(id INTEGER PRIMARY KEY, p INT REFERENCES parent(id), ev);
INSERT INTO parent VALUES (1), (2);
"""

OVERFLOW = "abs(-9223372036854775808)"  # a runtime error, evaluated after the call


def pick_id(rng):
    return rng.randint(1, 12)


def statements(rng):
    """One random statement: (sql, params, kind), kind 'write' or 'select'."""
    i, u, c = pick_id(rng), rng.randint(1, 12), rng.choice([None, 1, 5, -1])
    boom = rng.random() < 0.2
    after = f" + CASE WHEN {int(boom)} THEN {OVERFLOW} ELSE 0 END"
    shapes = [
        ("INSERT INTO t(id, ev, c, u) VALUES (?, trigger_emit('v', 'x')" + after + ", ?, ?)", (i, c, u)),
        ("INSERT INTO t(id, ev, c, u, nn) VALUES (?, trigger_emit('v', 'x'), ?, ?, ?)",
         (i, c, u, rng.choice([0, None]))),
        ("INSERT INTO t(id, ev, c, u) VALUES (?, trigger_emit('v', 'a'), ?, ?), (?, trigger_emit('v', 'b'), ?, ?)",
         (i, c, u, pick_id(rng), rng.choice([None, -1]), rng.randint(1, 12))),
        ("INSERT INTO t(id, ev, c, u) SELECT ?, trigger_emit('v', 's'), ?, ?", (i, c, u)),
        ("UPDATE t SET ev = trigger_emit('v', 'u')" + after + ", c = ?, u = ? WHERE id = ?", (c, u, i)),
        ("UPDATE t SET ev = trigger_emit('v', 'm'), u = u + ? WHERE id IN (?, ?)",
         (rng.randint(0, 3), i, pick_id(rng))),
        ("DELETE FROM t WHERE id = ? AND trigger_emit('v', 'd')" + after + " > 0", (i,)),
        ("INSERT INTO t(id, ev, u) VALUES (?, 0, ?) ON CONFLICT(id) DO UPDATE SET ev = trigger_emit('v', 'up'), c = ?",
         (i, u, c)),
        ("INSERT OR REPLACE INTO t(id, ev, c, u) VALUES (?, trigger_emit('v', 'r'), ?, ?)", (i, c, u)),
        ("INSERT INTO t(id, ev, c, u) VALUES (?, 0, ?, ?) RETURNING trigger_emit('v', 'ret')", (i, c, u)),
        ("INSERT INTO trig(id, u, c) VALUES (?, ?, ?)", (i, u, c)),
        ("INSERT INTO trig(id, u, c) VALUES (?, ?, ?), (?, ?, ?)", (i, u, c, pick_id(rng), rng.randint(1, 12), None)),
        ("UPDATE trig SET u = ?, c = ? WHERE id = ?", (u, c, i)),
        ("DELETE FROM trig WHERE id = ?", (i,)),
        ("INSERT INTO dflt(id, u) VALUES (?, ?)", (i, u)),
        ("INSERT INTO chk(id, u) VALUES (?, ?)", (i, u)),
        ("INSERT INTO child(id, p, ev) VALUES (?, ?, trigger_emit('fk', 'x'))", (i, rng.choice([1, 2, 9]))),
        ("SELECT trigger_emit('sel', ?)", (i,)),
    ]
    sql, params = rng.choice(shapes)
    return sql, params, "select" if sql.startswith("SELECT") else "write"


TABLES = ["t", "trig", "dflt", "chk", "child"]


class Harness:
    def __init__(self, name, path):
        self.h = make_host(name)
        self.path = path
        self.conn = self.h.connect(path)
        self.h.rows(self.conn, "PRAGMA foreign_keys = ON")
        self.h.rows(self.conn, "SELECT trigger_outbox_init()")
        self.h.script(self.conn, SCHEMA)
        self.errors = (sqlite3.Error,) if name == "sqlite3" else (self.h.apsw.Error,)

    def rows(self, sql, params=()):
        return self.h.rows(self.conn, sql, params)

    def tables(self):
        return {t: self.rows(f"SELECT * FROM {t} ORDER BY 1") for t in TABLES}

    def events(self, after=0):
        return self.rows("SELECT seq, channel, payload FROM trigger_outbox WHERE seq > ? ORDER BY seq", (after,))

    def last_seq(self):
        return self.rows("SELECT coalesce(max(seq), 0) FROM trigger_outbox")[0][0]

    def in_txn(self):
        return self.h.in_transaction(self.conn)

    def committed(self):
        other = self.h.connect(self.path, load=False)
        try:
            return (
                self.h.rows(other, "SELECT seq, channel, payload FROM trigger_outbox ORDER BY seq"),
                {t: self.h.rows(other, f"SELECT * FROM {t} ORDER BY 1") for t in TABLES},
            )
        finally:
            other.close()


REFUSED = "trigger_emit(): refused inside a transaction: this INSERT, UPDATE or DELETE calls trigger_emit"


@pytest.mark.parametrize("name", HOSTS)
@pytest.mark.parametrize("seed", range(12))
def test_no_event_outlives_a_failed_statement(tmp_path, name, seed):
    rng = random.Random(7100 + seed)
    db = Harness(name, str(tmp_path / "e.db"))
    outcomes = {"ok": 0, "failed": 0, "refused": 0, "ok in autocommit": 0, "failed in autocommit": 0}
    for _ in range(25):
        mode = rng.choice(["BEGIN", "SAVEPOINT s", "autocommit"])
        if mode != "autocommit":
            db.rows(mode)
        for _ in range(rng.randint(1, 6)):
            sql, params, kind = statements(rng)
            before_seq, before_tables = db.last_seq(), db.tables()
            try:
                db.rows(sql, params)
                error = None
            except db.errors as e:
                error = str(e)
            added = db.events(before_seq)
            changed = db.tables() != before_tables
            txn = mode != "autocommit"
            if error and error.startswith(REFUSED):
                # Refused only where SQLite could not undo the event, and
                # then the statement did nothing at all.
                assert txn and kind == "write", (sql, error)
                assert added == [] and not changed, (sql, added)
                outcomes["refused"] += 1
            elif error:
                # A failed INSERT, UPDATE or DELETE leaves no trace.
                assert added == [] and not changed, (sql, params, error, added)
                outcomes["failed" if txn else "failed in autocommit"] += 1
            else:
                if kind == "write" and changed and "trigger_emit" in sql and "WHERE" not in sql \
                        and "RETURNING" not in sql and "ON CONFLICT" not in sql:
                    assert added, (sql, params)
                outcomes["ok" if txn else "ok in autocommit"] += 1
        if mode != "autocommit":
            expected = (db.events(), db.tables())
            if rng.random() < 0.7:
                db.rows("COMMIT" if mode == "BEGIN" else "RELEASE s")
            else:
                db.rows("ROLLBACK")
                expected = None
            got = db.committed()
            if expected is not None:
                assert got == expected
    # The shapes SQLite protects run; the ones it cannot are refused.
    assert all(outcomes.values()), outcomes


@pytest.mark.parametrize("name", HOSTS)
def test_the_shapes_sqlite_cannot_undo_are_refused_in_a_transaction(tmp_path, name):
    db = Harness(name, str(tmp_path / "e.db"))
    db.rows("INSERT INTO t(id, ev) VALUES (1, 0)")  # autocommit: allowed
    db.rows("BEGIN")
    for sql in [
        "INSERT INTO t(id, ev) VALUES (2, trigger_emit('c', 'x'))",
        "UPDATE t SET ev = trigger_emit('c', 'x') WHERE id = 1",
        "DELETE FROM t WHERE id = 1 AND trigger_emit('c', 'x') > 0",
        "INSERT INTO dflt(id) VALUES (1)",
        "INSERT INTO chk(id) VALUES (1)",
    ]:
        with pytest.raises(db.errors) as e:
            db.rows(sql)
        assert str(e.value) == (
            "trigger_emit(): refused inside a transaction: this INSERT, UPDATE or DELETE calls "
            "trigger_emit in its own values, defaults, checks or conditions, and SQLite does not "
            "undo that call's event when such a statement fails (it keeps no statement journal "
            "for a single-row write), so the event could outlive the change; call it from a "
            "trigger on the table, in a SELECT of its own, or outside BEGIN ... COMMIT"
        ), sql
    # From a trigger, and in a SELECT of its own, it works in the transaction.
    db.rows("INSERT INTO trig(id) VALUES (1)")
    db.rows("SELECT trigger_emit('c', 'direct')")
    db.rows("COMMIT")
    assert [(c, p) for _, c, p in db.events()] == [("trig", "ins 1"), ("c", "direct")]
    # The repro in autocommit: the failed statement takes its event along.
    with pytest.raises(db.errors):
        db.rows("INSERT INTO t(id, ev) VALUES (1, trigger_emit('c', 'dup'))")
    assert [p for _, _, p in db.events()] == ["ins 1", "direct"]
