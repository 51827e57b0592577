"""The outbox in real hosts: trigger_wait across processes, waiting never
blocks writers (WAL and rollback journal), capture triggers on connections
and processes that never load the extension, and the function flags under
trusted_schema."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from conftest import EXT, connect, scalar, schema

# A child process that loads the extension, prints "waiting" and then runs
# one trigger_wait, printing its result (or the error) as JSON.
WAITER = r"""
import json, sqlite3, sys, time
ext, db, after, timeout, channel = sys.argv[1:6]
conn = sqlite3.connect(db, isolation_level=None)
conn.enable_load_extension(True)
conn.load_extension(ext)
print("waiting", flush=True)
start = time.monotonic()
try:
    seq = conn.execute("SELECT trigger_wait(?, ?, ?)", (int(after), int(timeout), channel or None)).fetchone()[0]
    print(json.dumps({"seq": seq, "elapsed": time.monotonic() - start}), flush=True)
except sqlite3.Error as e:
    print(json.dumps({"error": str(e)}), flush=True)
"""


class Waiter:
    """A trigger_wait running in another process."""

    def __init__(self, db, after, timeout_ms, channel=""):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WAITER, EXT, db, str(after), str(timeout_ms), channel],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "waiting", self.proc.stderr.read()
        # Give the child time to get into its wait.
        time.sleep(0.3)

    def running(self):
        return self.proc.poll() is None

    def result(self, timeout=20):
        out, err = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0, err
        return json.loads(out)


def outbox_db(tmp_path, journal_mode="wal"):
    db = str(tmp_path / "app.db")
    conn = connect(db)
    conn.execute(f"PRAGMA journal_mode = {journal_mode}")
    conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT)")
    conn.execute("SELECT trigger_capture('orders')")
    return db, conn


@pytest.mark.parametrize("journal_mode", ["wal", "delete"])
def test_wait_in_another_process_returns_the_seq_once_committed(tmp_path, journal_mode):
    db, conn = outbox_db(tmp_path, journal_mode)
    assert scalar(conn, "SELECT trigger_emit('early', 1)") == 1
    waiter = Waiter(db, 1, 10000)
    assert waiter.running()
    conn.execute("BEGIN")
    assert scalar(conn, "SELECT trigger_emit('jobs', 'x')") == 2
    time.sleep(0.3)
    # Not committed yet: the waiter must not see it.
    assert waiter.running()
    conn.execute("COMMIT")
    result = waiter.result()
    assert result["seq"] == 2
    assert result["elapsed"] < 5


def test_wait_wakes_for_a_commit_from_a_connection_without_the_extension(tmp_path):
    db, conn = outbox_db(tmp_path)
    waiter = Waiter(db, 0, 10000, "orders")
    plain = connect(db, load=False)
    plain.execute("INSERT INTO orders (item) VALUES ('tea')")
    assert waiter.result()["seq"] == 1


def test_wait_filters_by_channel(tmp_path):
    db, conn = outbox_db(tmp_path)
    waiter = Waiter(db, 0, 10000, "wanted")
    conn.execute("SELECT trigger_emit('other', 1)")
    time.sleep(0.3)
    assert waiter.running()
    conn.execute("SELECT trigger_emit('wanted', 2)")
    assert waiter.result()["seq"] == 2


def test_wait_times_out_with_null(tmp_path):
    db, conn = outbox_db(tmp_path)
    conn.execute("SELECT trigger_emit('jobs', 1)")
    start = time.monotonic()
    assert scalar(conn, "SELECT trigger_wait(1, 300)") is None
    assert 0.29 <= time.monotonic() - start < 3
    start = time.monotonic()
    assert scalar(conn, "SELECT trigger_wait(1, 0)") is None
    assert time.monotonic() - start < 0.5
    assert scalar(conn, "SELECT trigger_wait(0, 0)") == 1


def test_wait_before_the_outbox_exists_sees_it_appear(tmp_path):
    db = str(tmp_path / "fresh.db")
    conn = connect(db)
    conn.execute("PRAGMA journal_mode = wal")
    conn.execute("CREATE TABLE t (x)")
    waiter = Waiter(db, 0, 10000)
    conn.execute("SELECT trigger_emit('first', 1)")
    assert waiter.result()["seq"] == 1


@pytest.mark.parametrize("journal_mode", ["wal", "delete"])
def test_a_waiter_never_blocks_writers(tmp_path, journal_mode):
    db, conn = outbox_db(tmp_path, journal_mode)
    conn.close()
    waiter = Waiter(db, 0, 20000, "never")
    # A writer with a small busy timeout commits many times while the
    # waiter waits (and keeps checking the file).
    writer = sqlite3.connect(db, isolation_level=None, timeout=0.1)
    for i in range(100):
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO orders (item) VALUES (?)", (f"item {i}",))
        writer.execute("COMMIT")
        time.sleep(0.005)
    assert waiter.running()
    assert scalar(writer, "SELECT count(*) FROM trigger_outbox WHERE channel = 'orders'") == 100
    writer.execute("INSERT INTO trigger_outbox (channel, payload) VALUES ('never', 'now')")
    assert waiter.result()["seq"] == 101


def test_wait_in_a_thread_wakes_for_another_connection_of_the_process(tmp_path):
    db, conn = outbox_db(tmp_path)
    results = []

    def wait():
        c = connect(db)
        results.append(scalar(c, "SELECT trigger_wait(0, 10000, 'jobs')"))
        c.close()

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.3)
    assert thread.is_alive()
    start = time.monotonic()
    conn.execute("SELECT trigger_emit('jobs', 1)")
    thread.join(10)
    assert results == [1]
    assert time.monotonic() - start < 2


def test_wait_refuses_to_hold_locks(tmp_path):
    db, conn = outbox_db(tmp_path)
    for i in range(3):
        conn.execute("SELECT trigger_emit('jobs', ?)", (i,))
    conn.execute("BEGIN")
    with pytest.raises(sqlite3.OperationalError, match=r"trigger_wait\(\): cannot wait inside a transaction"):
        conn.execute("SELECT trigger_wait(0, 0)")
    conn.execute("ROLLBACK")
    # Another statement of the connection still reading holds a read transaction.
    reading = conn.execute("SELECT seq FROM trigger_outbox")
    assert reading.fetchone() == (1,)
    with pytest.raises(sqlite3.OperationalError, match=r"holds a read transaction .*SELECT trigger_wait\(\.\.\.\)"):
        conn.execute("SELECT trigger_wait(0, 0)")
    reading.close()
    assert scalar(conn, "SELECT trigger_wait(0, 0)") == 1


@pytest.mark.parametrize("path", [":memory:", ""])
def test_wait_needs_a_database_file(path):
    conn = connect(path)
    conn.execute("SELECT trigger_emit('jobs', 1)")
    with pytest.raises(sqlite3.OperationalError, match=r"trigger_wait\(\): needs a database file: no other connection can commit to an in-memory or temporary database"):
        conn.execute("SELECT trigger_wait(0, 0)")


def test_capture_records_writes_from_connections_without_the_extension(tmp_path):
    db, conn = outbox_db(tmp_path)
    conn.close()
    plain = connect(db, load=False)
    plain.execute("INSERT INTO orders (id, item) VALUES (1, 'tea')")
    plain.execute("UPDATE orders SET item = 'green tea'")
    plain.execute("DELETE FROM orders")
    with pytest.raises(sqlite3.OperationalError, match="no such function: trigger_emit"):
        plain.execute("SELECT trigger_emit('x', 1)")
    rows = plain.execute("SELECT seq, channel, payload FROM trigger_outbox ORDER BY seq").fetchall()
    assert [(seq, channel, json.loads(p)) for seq, channel, p in rows] == [
        (1, "orders", {"op": "insert", "key": 1, "old": None, "new": {"id": 1, "item": "tea"}}),
        (2, "orders", {"op": "update", "key": 1, "old": {"id": 1, "item": "tea"}, "new": {"id": 1, "item": "green tea"}}),
        (3, "orders", {"op": "delete", "key": 1, "old": {"id": 1, "item": "green tea"}, "new": None}),
    ]


def test_committed_events_survive_a_killed_writer(tmp_path):
    db, conn = outbox_db(tmp_path, "delete")
    conn.close()
    code = r"""
import os, signal, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("INSERT INTO orders (item) VALUES ('committed')")
conn.execute("BEGIN")
conn.execute("INSERT INTO orders (item) VALUES ('in flight')")
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", code, db], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    after = connect(db)
    rows = after.execute("SELECT seq, json_extract(payload, '$.new.item') FROM trigger_outbox").fetchall()
    assert rows == [(1, "committed")]
    assert scalar(after, "SELECT trigger_emit('next', 1)") == 2


def test_emit_works_in_triggers_with_trusted_schema_off_but_admin_functions_do_not(tmp_path):
    db = str(tmp_path / "untrusted.db")
    setup = connect(db)
    setup.executescript(
        """
        CREATE TABLE t (x);
        CREATE TABLE seen (seq INTEGER, position INTEGER);
        CREATE TRIGGER t_emit AFTER INSERT ON t BEGIN
          INSERT INTO seen VALUES (trigger_emit('t', new.x), trigger_cursor('c'));
        END;
        CREATE TABLE u (x);
        CREATE TRIGGER u_ack AFTER INSERT ON u BEGIN SELECT trigger_ack('c', 0); END;
        CREATE VIEW capture_view AS SELECT trigger_capture('t');
        CREATE VIEW prune_view AS SELECT trigger_prune();
        CREATE VIEW wait_view AS SELECT trigger_wait(0, 0);
        CREATE VIEW ack_view AS SELECT trigger_ack('c', 0);
        """
    )
    setup.close()
    conn = connect(db)
    conn.execute("PRAGMA trusted_schema = OFF")
    conn.execute("INSERT INTO t VALUES ('hello')")
    assert conn.execute("SELECT seq, position FROM seen").fetchall() == [(1, 0)]
    assert conn.execute("SELECT seq, channel, payload FROM trigger_outbox").fetchall() == [(1, "t", "hello")]
    for sql, function in [
        ("INSERT INTO u VALUES (1)", "trigger_ack"),
        ("SELECT * FROM capture_view", "trigger_capture"),
        ("SELECT * FROM prune_view", "trigger_prune"),
        ("SELECT * FROM wait_view", "trigger_wait"),
        ("SELECT * FROM ack_view", "trigger_ack"),
    ]:
        for trusted in ("OFF", "ON"):
            conn.execute(f"PRAGMA trusted_schema = {trusted}")
            with pytest.raises(sqlite3.OperationalError, match=rf"unsafe use of {function}\(\)"):
                conn.execute(sql)
    assert scalar(conn, "SELECT count(*) FROM u") == 0
    assert scalar(conn, "SELECT count(*) FROM trigger_outbox_consumers") == 0


@pytest.mark.parametrize("journal_mode", ["wal", "delete"])
@pytest.mark.parametrize("auto_vacuum", ["none", "full"])
def test_the_first_emit_creates_the_outbox_from_inside_a_running_statement(tmp_path, journal_mode, auto_vacuum):
    # Creating a table while a statement runs (here a multi-row insert whose
    # trigger emits, reading another table) must neither fail nor disturb
    # that statement, also when auto_vacuum has to move pages for the new table.
    db = str(tmp_path / "first.db")
    conn = connect(db)
    conn.execute(f"PRAGMA auto_vacuum = {auto_vacuum}")
    conn.execute(f"PRAGMA journal_mode = {journal_mode}")
    conn.executescript(
        """
        CREATE TABLE source (id INTEGER PRIMARY KEY, body TEXT);
        CREATE INDEX source_body ON source (body);
        CREATE TABLE copy (id INTEGER PRIMARY KEY, body TEXT, seq INTEGER);
        CREATE TRIGGER copy_emit AFTER INSERT ON copy BEGIN
          UPDATE copy SET seq = trigger_emit('copy', new.id) WHERE id = new.id;
        END;
        """
    )
    conn.executemany("INSERT INTO source (body) VALUES (?)", [("x" * 300 + str(i),) for i in range(500)])
    conn.execute("INSERT INTO copy (id, body) SELECT id, body FROM source ORDER BY body")
    assert scalar(conn, "SELECT count(*) FROM copy WHERE seq IS NOT NULL") == 500
    assert scalar(conn, "SELECT count(*) FROM trigger_outbox") == 500
    assert scalar(conn, "SELECT count(*) FROM copy c JOIN trigger_outbox o ON o.seq = c.seq AND o.payload = c.id") == 500
    assert scalar(conn, "PRAGMA integrity_check") == "ok"


def test_capture_refuses_to_recreate_a_before_trigger_whose_stored_sql_sqlite_did_not_write(tmp_path):
    """Capture re-creates the table's older BEFORE triggers from their stored
    SQL; text SQLite never writes (here a comment before the name, put there
    with writable_schema) would not come back the same, so capture stops and
    says what to do, changing nothing."""
    path = str(tmp_path / "w.db")
    conn = connect(path)
    conn.executescript(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, u UNIQUE);"
        "CREATE TRIGGER b BEFORE INSERT ON t BEGIN SELECT 1; END;"
        "PRAGMA writable_schema = ON;"
        "UPDATE sqlite_master SET sql = 'CREATE TRIGGER /* odd */ b BEFORE INSERT ON t BEGIN SELECT 1; END'"
        " WHERE name = 'b';"
        "PRAGMA writable_schema = OFF;"
    )
    conn.close()
    conn = connect(path)
    before = schema(conn)
    with pytest.raises(sqlite3.OperationalError) as e:
        conn.execute("SELECT trigger_capture('t')")
    assert str(e.value) == (
        'trigger_capture(): trigger "b" on "t" must be re-created after capture\'s own, but its stored '
        'SQL does not start the way SQLite writes it ("CREATE TRIGGER name"); drop it and create it '
        "again, then capture")
    assert schema(conn) == before
    assert not conn.in_transaction
    conn.executescript("DROP TRIGGER b; CREATE TRIGGER b BEFORE INSERT ON t BEGIN SELECT 1; END;")
    assert conn.execute("SELECT trigger_capture('t')").fetchone()[0].endswith(
        "; trigger b re-created unchanged after them, so that it fires before them")
