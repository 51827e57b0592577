"""Nothing lost, nothing invented, for the outbox: random scripts against a
model, a writer killed with SIGKILL at random points, and several writer
processes and threads with a consumer, all with the built .so loaded."""
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from conftest import EXT, connect, scalar
from test_feed import Model, apsw_host, python_host, run_script

CRASH_RUNS = int(os.environ.get("SQLITE_TRIGGERS_CRASH_RUNS", "30"))


@pytest.mark.parametrize("host", [python_host, apsw_host], ids=["sqlite3-3.40", "apsw-newest"])
@pytest.mark.parametrize("seed", range(25))
def test_random_scripts_match_the_model_in_the_outbox(tmp_path, host, seed):
    rng = random.Random(1000 + seed)
    conn, execute, query = host(str(tmp_path / "m.db"))
    # Capture needs a PRIMARY KEY; the INTEGER PRIMARY KEY is the rowid the
    # feed reports.
    execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER NOT NULL CHECK (v >= 0), u INTEGER UNIQUE)")
    execute("SELECT trigger_capture('t')")
    execute("SELECT trigger_watch('t')")
    model = Model()
    if seed % 2:
        # REPLACE too: capture records its deletes either way, the feed with
        # recursive_triggers on.
        execute("PRAGMA recursive_triggers = ON")
        model.replace_deletes = True
    run_script(conn, rng, 120, model, execute)
    expected = [change for txn in model.committed for change in txn]
    events = query("SELECT seq, channel, payload FROM trigger_outbox ORDER BY seq")
    got = [(json.loads(p)["op"], json.loads(p)["key"]) for _, _, p in events]
    assert got == expected
    # Sequence numbers: no gap that commit order does not explain.
    seqs = [s for s, _, _ in events]
    assert seqs == list(range(1, len(seqs) + 1))
    # The feed and the outbox agree on what committed.
    feed = query("SELECT op, rowid FROM trigger_changes ORDER BY seq")
    assert [tuple(r) for r in feed] == expected


# ---------------------------------------------------------------- replicas
#
# Random scripts of REPLACE, UPSERT, OR IGNORE/FAIL/ABORT/ROLLBACK, key
# changes, multi-row statements, recursive_triggers both ways, savepoints,
# renames, drops and VACUUM. Nothing here models what SQLite does: after
# every statement a replica is rebuilt from the outbox alone and must equal
# what the tables hold, and every event must fit the replica it is applied
# to (no insert of a present key, no update or delete of a missing row or of
# other values).

TABLES = {
    "a": ["CREATE TABLE {n}(id INTEGER PRIMARY KEY, u INTEGER UNIQUE, v)"],
    "b": ["CREATE TABLE {n}(k TEXT PRIMARY KEY, u TEXT UNIQUE ON CONFLICT REPLACE, v REAL)"],
    "c": [
        "CREATE TABLE {n}(x INTEGER, y TEXT COLLATE NOCASE, v INTEGER, PRIMARY KEY (x, y)) WITHOUT ROWID",
        "CREATE UNIQUE INDEX {n}_v ON {n}(v) WHERE v > 5",
    ],
    # A partial index whose WHERE names a column outside the index: a
    # change of `w` alone moves a row into the index and can replace another.
    "d": [
        "CREATE TABLE {n}(id INTEGER PRIMARY KEY, a INTEGER, w INTEGER)",
        "CREATE UNIQUE INDEX {n}_a ON {n}(a) WHERE w = 1",
    ],
}
# Triggers of the user's that write into their own table, REPLACE included,
# while a change of that table is under way: (event, when, action). SQLite
# fires a table's newest trigger first. `create` makes each one before the
# capture, or after it: as a listener, or by hand followed by another
# trigger_capture (which the docs say to do). None changes the row being
# updated from a BEFORE UPDATE trigger: SQLite leaves that undefined.
WRITE_BACK = {
    "a": [
        ("before_insert", "new.v = 'x'", "INSERT OR REPLACE INTO {n}(id, u, v) VALUES (new.u, 5, 'inner')"),
        ("before_update", "new.v = 1 AND old.v IS NOT 1 AND old.id <> 7 AND old.u IS NOT 3",
         "REPLACE INTO {n}(id, u, v) VALUES (7, 3, 'inner')"),
        ("after_insert", "new.v = -7", "INSERT OR REPLACE INTO {n}(id, u, v) VALUES (6, 4, 'after')"),
        ("after_update", "new.v = 2.5 AND old.v IS NOT 2.5", "UPDATE {n} SET u = NULL WHERE id = new.id"),
    ],
    "b": [
        ("before_insert", "new.v = 1.5", "REPLACE INTO {n}(k, u, v) VALUES ('k5', new.u, -1)"),
        ("after_update", "new.v = 0 AND old.v IS NOT 0",
         "INSERT INTO {n}(k, u, v) VALUES ('k1', 'u3', 2) ON CONFLICT(k) DO UPDATE SET u = excluded.u"),
    ],
    "d": [
        ("before_update", "new.w = 1 AND old.w IS NOT 1 AND old.id <> 9",
         "INSERT OR REPLACE INTO {n}(id, a, w) VALUES (9, new.a, 1)"),
    ],
}


def write_back_trigger(name, i, event, when, action):
    timing, op = event.upper().split("_")
    return f"CREATE TRIGGER {name}_wb{i} {timing} {op} ON {name} WHEN {when} BEGIN {action.format(n=name)}; END"


KEYS = {"a": ["id"], "b": ["k"], "c": ["x", "y"], "d": ["id"]}
UPSERT_TARGETS = {"a": ["id", "u"], "b": ["k", "u"], "c": ["x, y", "v) WHERE (v > 5"], "d": ["id", "a) WHERE (w = 1"]}


def values(rng, kind):
    """Column values for one row of a table of `kind`, as {column: value}."""
    if kind == "a":
        return {
            "id": rng.choice([None, 1, 2, 3, 4, 5, 6, 7]),
            "u": rng.choice([None, 1, 2, 3, 4, 5]),
            "v": rng.choice([0, 1, -7, 2.5, "x", 'q"\\w', None, 2**62]),
        }
    if kind == "b":
        return {
            "k": rng.choice(["k1", "k2", "k3", "k4", "k5"]),
            "u": rng.choice([None, "u1", "u2", "u3"]),
            "v": rng.choice([0, 1, 1.5, -0.25, None, 1e300]),
        }
    if kind == "d":
        return {
            "id": rng.choice([None, 1, 2, 3, 4, 5]),
            "a": rng.choice([1, 2, None]),
            "w": rng.choice([0, 1, 1, None]),
        }
    return {
        "x": rng.choice([1, 2, 3]),
        "y": rng.choice(["a", "A", "b", "B"]),
        "v": rng.choice([None, 1, 2, 6, 7, 8]),
    }


def statement(rng, kind, name):
    """One random write to table `name` of `kind`: (sql, args)."""
    cols = list(values(rng, kind))
    pk = KEYS[kind]
    roll = rng.random()
    conflict = rng.choice(["", "OR REPLACE", "OR IGNORE", "OR FAIL", "OR ABORT", "OR ROLLBACK"])
    if roll < 0.3:
        rows = [values(rng, kind) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
        marks = ", ".join("(" + ", ".join("?" * len(cols)) + ")" for _ in rows)
        verb = rng.choice([f"INSERT {conflict}", "REPLACE"])
        return f"{verb} INTO {name}({', '.join(cols)}) VALUES {marks}", [r[c] for r in rows for c in cols]
    if roll < 0.45:
        row = values(rng, kind)
        target = rng.choice(UPSERT_TARGETS[kind] + [None])
        target_sql = f"({target})" if target else ""
        action = rng.choice(["DO NOTHING", f"DO UPDATE SET {cols[2]} = excluded.{cols[2]}", f"DO UPDATE SET {cols[1]} = excluded.{cols[1]}", f"DO UPDATE SET {cols[0]} = excluded.{cols[0]}"])
        if not target_sql:
            action = "DO NOTHING"
        marks = ", ".join("?" * len(cols))
        return (f"INSERT INTO {name}({', '.join(cols)}) VALUES ({marks}) ON CONFLICT{target_sql} {action}",
                [row[c] for c in cols])
    conflict = rng.choice(["", "OR REPLACE", "OR REPLACE", "OR IGNORE", "OR FAIL"])
    if roll < 0.75:
        new = values(rng, kind)
        col = rng.choice(cols + (["rowid"] if kind == "a" else []))
        value = new[col] if col != "rowid" else rng.choice([1, 2, 3, 8])
        where = values(rng, kind)
        w = rng.choice(cols)
        return f"UPDATE {conflict} {name} SET {col} = ? WHERE {w} = ?", [value, where[w]]
    if roll < 0.82:
        # Many rows at once: each may replace rows the statement already wrote.
        if kind == "a":
            return f"UPDATE {conflict} {name} SET id = id + 1", []
        if kind == "b":
            return f"UPDATE {conflict} {name} SET u = ? WHERE v IS NOT NULL", [rng.choice(["u1", "u2"])]
        if kind == "d":
            return f"UPDATE {conflict} {name} SET w = 1", []
        return f"UPDATE {conflict} {name} SET y = upper(y), v = 7", []
    where = values(rng, kind)
    w = rng.choice(cols)
    return f"DELETE FROM {name} WHERE {w} = ?", [where[w]]


def key_of(kind, row):
    key = [row[c] for c in KEYS[kind]]
    return json.dumps(key[0] if len(key) == 1 else key)


def replay(events, channels):
    """The replica per channel, built from the events alone; fails on any
    event that does not fit it."""
    replicas = {c: {} for c in channels}
    for seq, channel, payload in events:
        if channel not in replicas:
            continue
        rep = replicas[channel]
        e = json.loads(payload)
        key = json.dumps(e["key"])
        if e["op"] == "insert":
            assert key not in rep, f"seq {seq}: insert of present key {key}"
            rep[key] = e["new"]
        elif e["op"] == "update":
            old_key = json.dumps(e["old_key"]) if "old_key" in e else key
            assert rep.get(old_key) == e["old"], f"seq {seq}: update of {old_key}, replica holds {rep.get(old_key)}"
            del rep[old_key]
            assert key not in rep, f"seq {seq}: update onto present key {key}"
            rep[key] = e["new"]
        else:
            assert rep.get(key) == e["old"], f"seq {seq}: delete of {key}, replica holds {rep.get(key)}"
            del rep[key]
    return replicas


def pyhost(path):
    conn = connect(path)

    def run(sql, args=()):
        return conn.execute(sql, args).fetchall()

    return conn, run, sqlite3.Error, lambda: conn.in_transaction


def apswhost(path):
    import apsw

    conn = apsw.Connection(path)
    conn.enable_load_extension(True)
    conn.load_extension(EXT)

    def run(sql, args=()):
        return list(conn.execute(sql, args))

    return conn, run, apsw.Error, lambda: not conn.get_autocommit()


@pytest.mark.parametrize("host", [pyhost, apswhost], ids=["sqlite3-3.40", "apsw-newest"])
@pytest.mark.parametrize("seed", range(30))
def test_replicas_built_from_the_outbox_equal_the_tables(tmp_path, host, seed):
    rng = random.Random(5000 + seed)
    conn, run, error, in_txn = host(str(tmp_path / "r.db"))
    # slot -> [current name, channel]; dropped slots are recreated under a
    # new channel (DROP TABLE records nothing).
    slots = {}
    incarnation = {}

    def create(kind):
        incarnation[kind] = incarnation.get(kind, -1) + 1
        name, channel = f"{kind}{incarnation[kind]}", f"{kind}#{incarnation[kind]}"
        for sql in TABLES[kind]:
            run(sql.format(n=name))
        capture = "SELECT trigger_capture(?, json_object('channel', ?))"
        later = []
        for i, wb in enumerate(WRITE_BACK.get(kind, [])):
            if rng.random() < 0.5:
                run(write_back_trigger(name, i, *wb))
            else:
                later.append((i, wb))
        run(capture, (name, channel))
        by_hand = False
        for i, (event, when, action) in later:
            if rng.random() < 0.5:
                run("SELECT trigger_listen(?, ?, ?, json_object('when', ?))", (name, event, action.format(n=name), when))
            else:
                run(write_back_trigger(name, i, event, when, action))
                by_hand = True
        if by_hand:
            run(capture, (name, channel))
        slots[kind] = [name, channel]

    for kind in TABLES:
        create(kind)
    run("CREATE TABLE plain(id INTEGER PRIMARY KEY, v)")
    savepoints = []
    log = []
    for step in range(150):
        kind = rng.choice(list(TABLES))
        name = slots[kind][0]
        roll = rng.random()
        if roll < 0.04:
            sql, args = f"PRAGMA recursive_triggers = {rng.choice(['ON', 'OFF'])}", []
        elif roll < 0.08:
            sql, args = ("COMMIT" if rng.random() < 0.7 else "ROLLBACK") if in_txn() else "BEGIN", []
            savepoints.clear()
        elif roll < 0.11:
            if savepoints and rng.random() < 0.6:
                sp = savepoints.pop()
                sql, args = rng.choice([f"ROLLBACK TO {sp}", f"RELEASE {sp}"]), []
            else:
                savepoints.append(f"sp{step}")
                sql, args = f"SAVEPOINT sp{step}", []
        elif roll < 0.13:
            sql, args = ("VACUUM", []) if not in_txn() else ("INSERT INTO plain(v) VALUES (1)", [])
        elif roll < 0.16:
            # Rename a captured table; its triggers and channel go with it.
            new = f"{kind}{incarnation[kind]}_r{step}"
            sql, args = f"ALTER TABLE {name} RENAME TO {new}", []
        elif roll < 0.18:
            sql, args = rng.choice(["CREATE TABLE IF NOT EXISTS extra(x PRIMARY KEY)", "DROP TABLE IF EXISTS extra",
                                    "DROP TABLE IF EXISTS plain2", "CREATE TABLE IF NOT EXISTS plain2(y)"]), []
        elif roll < 0.19 and not in_txn():
            log.append(f"drop and recreate {name}")
            run(f"DROP TABLE {name}")
            create(kind)
            continue
        else:
            sql, args = statement(rng, kind, name)
        log.append((sql, args))
        try:
            run(sql, args)
        except error as e:
            msg = str(e)
            assert "constraint failed" in msg or "datatype mismatch" in msg or "no transaction is active" in msg or "no such savepoint" in msg, (msg, sql)
        # The tables' names now (a rename may have been rolled back, by
        # ROLLBACK, ROLLBACK TO or an OR ROLLBACK statement's failure).
        for k in slots:
            slots[k][0] = run(
                "SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' AND sql LIKE ?",
                (f'%"channel":"{slots[k][1]}","op":"insert"%',))[0][0]
        if not in_txn():
            savepoints.clear()
        events = run("SELECT seq, channel, payload FROM trigger_outbox ORDER BY seq")
        try:
            replicas = replay(events, [c for _, c in slots.values()])
        except AssertionError as e:
            raise AssertionError(f"{e}\nlast statements: {log[-6:]}\nlast events: {events[-6:]}") from None
        for k, (n, channel) in slots.items():
            cols = list(values(rng, k))
            actual = {}
            for row in run(f"SELECT {', '.join(cols)} FROM {n}"):
                obj = dict(zip(cols, row))
                actual[key_of(k, obj)] = obj
            assert replicas[channel] == actual, (step, n, log[-5:])
    # The outbox's REPLACE notes never outlive the row change that made them
    # by more than one later write to the table; nothing else is left.
    leftover = run("SELECT count(*) FROM trigger_outbox_replaced")[0][0]
    assert leftover <= 3 * len(TABLES)


@pytest.mark.parametrize("recursive", ["ON", "OFF"])
@pytest.mark.parametrize("name", ["new", "OLD", "replaced", "later", "captured_row", "excluded", "t t"])
def test_a_captured_table_renamed_to_any_name_stays_exact(recursive, name):
    # SQLite writes the new name into the triggers' bodies: a table renamed
    # to "new" must not be read as the NEW row there.
    conn = connect()
    run = lambda sql, args=(): conn.execute(sql, args).fetchall()
    run(f"PRAGMA recursive_triggers = {recursive}")
    run("CREATE TABLE t(id INTEGER PRIMARY KEY, u TEXT UNIQUE, v)")
    run("SELECT trigger_capture('t', '{\"channel\": \"c\"}')")
    run("INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)")
    q = '"' + name.replace('"', '""') + '"'
    run(f"ALTER TABLE t RENAME TO {q}")
    for sql in [f"INSERT OR REPLACE INTO {q} VALUES (4, 'a', 4)", f"UPDATE OR REPLACE {q} SET u = 'b' WHERE id = 3",
                f"REPLACE INTO {q} VALUES (2, 'z', 5)", f"UPDATE {q} SET id = 9 WHERE id = 4",
                f"INSERT INTO {q} VALUES (7, 'a', 1) ON CONFLICT(u) DO UPDATE SET v = 8", f"DELETE FROM {q} WHERE id = 2"]:
        run(sql)
        events = run("SELECT seq, channel, payload FROM trigger_outbox ORDER BY seq")
        replica = replay(events, ["c"])["c"]
        actual = {json.dumps(r[0]): {"id": r[0], "u": r[1], "v": r[2]} for r in run(f"SELECT id, u, v FROM {q}")}
        assert replica == actual, (sql, events[-4:])

# ---------------------------------------------------------------- foreign keys
#
# Foreign-key actions of every kind between captured tables, none leading
# back to its own table (those are refused): SQLite runs them inside the
# change that caused them, REPLACE deletes included. Every event must fit
# the replica of its table, and each replica must equal its table after
# every statement.

FK_TABLES = [
    ("p", "CREATE TABLE p(id INTEGER PRIMARY KEY, u INTEGER UNIQUE, v)", ["id", "u", "v"]),
    ("c", "CREATE TABLE c(id INTEGER PRIMARY KEY, "
          "pid INTEGER REFERENCES p(id) ON DELETE CASCADE ON UPDATE CASCADE, "
          "pu INTEGER REFERENCES p(u) ON DELETE SET NULL ON UPDATE CASCADE, w INTEGER UNIQUE)",
     ["id", "pid", "pu", "w"]),
    ("g", "CREATE TABLE g(k TEXT PRIMARY KEY, cw INTEGER DEFAULT 3 REFERENCES c(w) ON DELETE SET DEFAULT "
          "ON UPDATE SET NULL, cid INTEGER REFERENCES c ON DELETE CASCADE) WITHOUT ROWID",
     ["k", "cw", "cid"]),
]


def fk_values(rng, table):
    small = lambda: rng.choice([None, 1, 2, 3, 4, 5])
    if table == "p":
        return {"id": rng.choice([None, 1, 2, 3, 4, 5]), "u": small(), "v": rng.choice([0, "x", None])}
    if table == "c":
        return {"id": rng.choice([None, 1, 2, 3, 4]), "pid": small(), "pu": small(), "w": small()}
    return {"k": rng.choice(["a", "b", "c"]), "cw": small(), "cid": rng.choice([None, 1, 2, 3])}


def fk_statement(rng, table):
    cols = [c for t, _, cs in FK_TABLES if t == table for c in cs]
    key = cols[0]
    roll = rng.random()
    conflict = rng.choice(["", "OR REPLACE", "OR REPLACE", "OR IGNORE"])
    if roll < 0.35:
        row = fk_values(rng, table)
        verb = rng.choice([f"INSERT {conflict}", "REPLACE"])
        return f"{verb} INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", list(row.values())
    if roll < 0.45:
        row = fk_values(rng, table)
        target = rng.choice([c for c in cols if c in ("id", "u", "w", "k")])
        set_col = rng.choice(cols)
        return (f"INSERT INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                f"ON CONFLICT({target}) DO UPDATE SET {set_col} = excluded.{set_col}", list(row.values()))
    if roll < 0.8:
        new, where = fk_values(rng, table), fk_values(rng, table)
        col, w = rng.choice(cols), rng.choice(cols)
        return f"UPDATE {conflict} {table} SET {col} = ? WHERE {w} = ?", [new[col], where[w]]
    where = fk_values(rng, table)
    w = rng.choice(cols)
    return f"DELETE FROM {table} WHERE {w} = ?", [where[w]]


@pytest.mark.parametrize("seed", range(40))
def test_replicas_stay_exact_under_foreign_key_actions(tmp_path, seed):
    rng = random.Random(9000 + seed)
    conn = connect(str(tmp_path / "fk.db"))
    run = lambda sql, args=(): conn.execute(sql, args).fetchall()
    run("PRAGMA foreign_keys = ON")
    for name, sql, _ in FK_TABLES:
        run(sql)
        run("SELECT trigger_capture(?)", (name,))
    channels = [name for name, _, _ in FK_TABLES]
    log = []
    for step in range(200):
        roll = rng.random()
        if roll < 0.05:
            sql, args = f"PRAGMA recursive_triggers = {rng.choice(['ON', 'OFF'])}", []
        elif roll < 0.1:
            sql, args = ("COMMIT" if rng.random() < 0.7 else "ROLLBACK") if conn.in_transaction else "BEGIN", []
        elif roll < 0.13:
            sql, args = rng.choice(["SAVEPOINT s", "ROLLBACK TO s", "RELEASE s"]), []
        else:
            sql, args = fk_statement(rng, rng.choice(channels))
        log.append((sql, args))
        try:
            run(sql, args)
        except sqlite3.Error as e:
            assert any(m in str(e) for m in ("constraint failed", "no such savepoint", "datatype mismatch")), (str(e), sql)
        events = run("SELECT seq, channel, payload FROM trigger_outbox ORDER BY seq")
        try:
            replicas = replay(events, channels)
        except AssertionError as e:
            raise AssertionError(f"{e}\nlast statements: {log[-6:]}\nlast events: {events[-6:]}") from None
        for name, _, cols in FK_TABLES:
            actual = {}
            for row in run(f"SELECT {', '.join(cols)} FROM {name}"):
                obj = dict(zip(cols, row))
                actual[json.dumps(obj[cols[0]])] = obj
            assert replicas[name] == actual, (step, name, log[-5:])


WRITER = r"""
import sqlite3, sys, json
path, ext, start = sys.argv[1], sys.argv[2], int(sys.argv[3])
conn = sqlite3.connect(path, isolation_level=None)
conn.enable_load_extension(True)
conn.load_extension(ext)
conn.execute("PRAGMA busy_timeout=5000")
i = start
while True:
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t(txn, part) VALUES (?, 1)", (i,))
    conn.execute("SELECT trigger_emit('work', json_object('txn', ?, 'part', 2))", (i,))
    conn.execute("INSERT INTO t(txn, part) VALUES (?, 3)", (i,))
    conn.execute("COMMIT")
    print(i, flush=True)
    i += 1
"""


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_sigkill_at_random_points_loses_and_invents_nothing(tmp_path, journal):
    path = str(tmp_path / "crash.db")
    conn = connect(path)
    conn.execute(f"PRAGMA journal_mode={journal}")
    conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, txn INTEGER, part INTEGER)")
    conn.execute("SELECT trigger_capture('t')")
    conn.close()
    rng = random.Random(7)
    acknowledged = 0  # the last transaction the writer saw commit
    for run in range(CRASH_RUNS):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, path, EXT, str(acknowledged + 1)],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(rng.uniform(0.02, 0.25))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate()
        assert child.returncode == -signal.SIGKILL
        printed = [int(line) for line in out.split()]
        if printed:
            acknowledged = printed[-1]
        conn = connect(path)
        assert scalar(conn, "PRAGMA integrity_check") == "ok"
        events = conn.execute("SELECT seq, channel, payload FROM trigger_outbox ORDER BY seq").fetchall()
        seqs = [s for s, _, _ in events]
        assert seqs == list(range(1, len(seqs) + 1)), "a gap or a duplicate in seq"
        # Every transaction is whole: capture of part 1, the emit, capture of part 3.
        txns = []
        for _, channel, payload in events:
            p = json.loads(payload)
            if channel == "t":
                txns.append((p["new"]["txn"], p["new"]["part"]))
            else:
                assert channel == "work"
                txns.append((p["txn"], p["part"]))
        committed = len(txns) // 3
        assert len(txns) == committed * 3
        assert txns == [(n, part) for n in range(1, committed + 1) for part in (1, 2, 3)]
        # Everything the writer saw commit is there; at most the one in flight
        # committed without the writer living to say so.
        assert acknowledged <= committed <= acknowledged + 1
        acknowledged = committed
        conn.close()
    assert acknowledged > 0


# One writer: `count` transactions, each an emitted event and a captured row
# with the same label. The producer processes and this process's threads
# both run it.
WRITER_THREAD = r"""
import sqlite3
def work(path, ext, name, thread, count):
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.enable_load_extension(True)
    conn.load_extension(ext)
    conn.execute("PRAGMA busy_timeout=30000")
    for i in range(count):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("SELECT trigger_emit('jobs', ?)", (f"{name}-{thread}-{i}",))
        conn.execute("INSERT INTO job(label) VALUES (?)", (f"{name}-{thread}-{i}",))
        conn.execute("COMMIT")
    conn.close()
"""
PRODUCER = WRITER_THREAD + r"""
import sys, threading
path, ext, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
threads = [threading.Thread(target=work, args=(path, ext, name, t, count)) for t in range(2)]
for t in threads: t.start()
for t in threads: t.join()
"""
_writer = {}
exec(WRITER_THREAD, _writer)


def test_writers_in_processes_and_threads_with_one_consumer(tmp_path):
    path = str(tmp_path / "busy.db")
    conn = connect(path)
    conn.execute("PRAGMA journal_mode=wal")
    conn.execute("CREATE TABLE job(id INTEGER PRIMARY KEY, label TEXT)")
    conn.execute("SELECT trigger_capture('job')")
    conn.execute("SELECT trigger_ack('consumer', 0)")
    conn.execute("PRAGMA busy_timeout=30000")
    per_thread, processes = 150, 3
    producers = [
        subprocess.Popen([sys.executable, "-c", PRODUCER, path, EXT, f"p{p}", str(per_thread)])
        for p in range(processes)
    ]
    # Threads of this process write too, on their own connections.
    threads = [threading.Thread(target=_writer["work"], args=(path, EXT, "local", t, per_thread))
               for t in range(2)]
    for t in threads:
        t.start()
    expected_events = (processes * 2 + 2) * per_thread * 2
    consumed = []
    deadline = time.monotonic() + 120
    while len(consumed) < expected_events:
        assert time.monotonic() < deadline, f"consumed {len(consumed)} of {expected_events}"
        cursor = scalar(conn, "SELECT trigger_cursor('consumer')")
        seen = scalar(conn, "SELECT trigger_wait(?, 200)", cursor)
        if seen is None:
            continue
        conn.execute("BEGIN IMMEDIATE")
        rows = conn.execute(
            "SELECT seq, channel, payload FROM trigger_outbox WHERE seq > trigger_cursor('consumer') ORDER BY seq"
        ).fetchall()
        if rows:
            consumed.extend(rows)
            conn.execute("SELECT trigger_ack('consumer', ?)", (rows[-1][0],))
        conn.execute("COMMIT")
        if len(consumed) % 500 < len(rows):
            conn.execute("SELECT trigger_prune()")
    for p in producers:
        assert p.wait(timeout=60) == 0
    for t in threads:
        t.join()
    seqs = [r[0] for r in consumed]
    assert len(seqs) == len(set(seqs)) == expected_events  # exactly once
    assert seqs == sorted(seqs)
    labels = sorted(r[2] for r in consumed if r[1] == "jobs")
    assert labels == sorted(
        [f"p{p}-{t}-{i}" for p in range(processes) for t in range(2) for i in range(per_thread)]
        + [f"local-{t}-{i}" for t in range(2) for i in range(per_thread)]
    )
    captured = [json.loads(r[2])["new"]["label"] for r in consumed if r[1] == "job"]
    assert sorted(captured) == labels
    assert scalar(conn, "PRAGMA integrity_check") == "ok"
