"""The functions that write (packs, their upgrades and registrations,
capture, listeners, ack, prune) against a database another connection holds
a lock on, in rollback-journal and WAL mode, in Python's sqlite3 (SQLite
3.40.1) and apsw (the newest SQLite).

- A failure, a COMMIT that stays BUSY included, leaves the connection as it
  was: in autocommit mode, holding no lock, with nothing changed.
- BUSY is reported as SQLITE_BUSY, so a host that retries on it sees it, and
  a retry after the lock is gone succeeds.
- The write lock is taken before anything is read, so a busy timeout makes
  the call wait for another writer instead of failing at once.
- Of several connections installing the same pack at once, one installs it
  and the others say it is already installed."""
import sqlite3
import threading

import pytest

from conftest import SEED_SCHEMA
from sqlhosts import HOSTS, host
from test_interrupts import OLD_DEFAULT_ALBUM, REGISTER_OWN

SQLITE_BUSY = 5

# (setup run before the lock is taken, the call that must write)
CALLS = {
    "install": ("", "SELECT trigger_install('task_state')"),
    "uninstall": ("SELECT trigger_install('task_state')", "SELECT trigger_uninstall('task_state')"),
    "upgrade": (OLD_DEFAULT_ALBUM, "SELECT trigger_upgrade('default_album')"),
    "pack_register": ("", REGISTER_OWN),
    "pack_unregister": (REGISTER_OWN, "SELECT trigger_pack_unregister('own')"),
    "capture": ("", "SELECT trigger_capture('obs')"),
    "uncapture": ("SELECT trigger_capture('obs')", "SELECT trigger_uncapture('obs')"),
    "listen": ("", "SELECT trigger_listen('user', 'after_insert', 'SELECT 1;')"),
    "outbox_init": ("", "SELECT trigger_outbox_init()"),
    "ack": ("SELECT trigger_emit('c', 1)", "SELECT trigger_ack('worker', 1)"),
    "prune": (
        "SELECT trigger_emit('c', 1); SELECT trigger_ack('worker', 1)",
        "SELECT trigger_prune()",
    ),
}


def busy_error(h):
    return h.apsw.BusyError if h.name == "apsw" else sqlite3.OperationalError


def assert_busy(error):
    assert "database is locked" in str(error), error
    if isinstance(error, sqlite3.Error):
        assert error.sqlite_errorcode == SQLITE_BUSY, error.sqlite_errorname


def rows(conn, sql):
    return conn.execute(sql).fetchall()


def schema(conn):
    return rows(conn, "SELECT type, name, sql FROM sqlite_master ORDER BY type, name")


def database(h, tmp_path, wal, setup=""):
    db = str(tmp_path / "busy.db")
    conn = h.connect(db)
    h.script(conn, SEED_SCHEMA)
    if wal:
        h.rows(conn, "PRAGMA journal_mode = wal")
    if setup:
        h.script(conn, setup)
    return db, conn


def other(h, db):
    """A plain connection without the extension, as another program has, in
    the same host: two SQLite libraries in one process would break each
    other's POSIX locks."""
    if h.name == "apsw":
        return h.connect(db, load=False)
    return sqlite3.connect(db, isolation_level=None, timeout=0, check_same_thread=False)


@pytest.mark.parametrize("name", HOSTS)
@pytest.mark.parametrize("call", CALLS)
def test_a_busy_commit_leaves_no_transaction_behind(name, call, tmp_path):
    """Rollback-journal mode, a reader holding SHARED longer than the busy
    timeout: the COMMIT cannot get its EXCLUSIVE lock. The call fails BUSY
    and the connection is back in autocommit mode, holding no lock."""
    h = host(name)
    setup, sql = CALLS[call]
    db, conn = database(h, tmp_path, wal=False, setup=setup)
    h.rows(conn, "PRAGMA busy_timeout = 50")
    before = schema(conn)
    reader = other(h, db)
    reader.execute("BEGIN")
    assert rows(reader, "SELECT count(*) FROM obs") == [(0,)]
    with pytest.raises(busy_error(h)) as error:
        h.rows(conn, sql)
    assert_busy(error.value)
    assert f"trigger_{call}()" in str(error.value)
    assert not h.in_transaction(conn)
    assert schema(conn) == before
    # Nothing keeps new readers out; once the reader is done, the
    # connection's own writes commit.
    assert rows(other(h, db), "SELECT count(*) FROM obs") == [(0,)]
    reader.execute("COMMIT")
    h.rows(conn, "INSERT INTO user (name) VALUES ('kept')")
    assert rows(other(h, db), "SELECT name FROM user") == [("kept",)]
    # A retry, once the reader is done, succeeds.
    h.rows(conn, sql)
    assert schema(conn) != before or call in ("ack", "prune")
    conn.close()
    reopened = other(h, db)
    assert rows(reopened, "SELECT name FROM user") == [("kept",)]


@pytest.mark.parametrize("name", HOSTS)
@pytest.mark.parametrize("call", CALLS)
def test_in_wal_mode_a_writer_makes_the_call_fail_busy_and_a_retry_succeeds(name, call, tmp_path):
    """Another connection holds the write lock and the caller has no busy
    timeout: the call fails with SQLITE_BUSY, not SQLITE_ERROR, and changes
    nothing; once the writer is done the same call succeeds."""
    h = host(name)
    setup, sql = CALLS[call]
    db, conn = database(h, tmp_path, wal=True, setup=setup)
    h.rows(conn, "PRAGMA busy_timeout = 0")
    before = schema(conn)
    writer = other(h, db)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO obs (name) VALUES ('w')")
    with pytest.raises(busy_error(h)) as error:
        h.rows(conn, sql)
    assert_busy(error.value)
    assert not h.in_transaction(conn)
    assert schema(conn) == before
    writer.execute("COMMIT")
    h.rows(conn, sql)
    assert not h.in_transaction(conn)


@pytest.mark.parametrize("name", HOSTS)
@pytest.mark.parametrize("wal", [True, False], ids=["wal", "rollback"])
@pytest.mark.parametrize("call", CALLS)
def test_with_a_busy_timeout_the_call_waits_for_the_writer(name, wal, call, tmp_path):
    """The write lock is taken first, with the busy handler: the call waits
    for the other writer (which commits after a moment) and then succeeds,
    seeing what the writer committed."""
    h = host(name)
    setup, sql = CALLS[call]
    db, conn = database(h, tmp_path, wal=wal, setup=setup)
    h.rows(conn, "PRAGMA busy_timeout = 10000")
    writer = other(h, db)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO obs (name) VALUES ('w')")
    # Let the call read the schema first, as it would after a commit by
    # someone else: a deferred transaction would then fail on its upgrade.
    h.rows(conn, "SELECT count(*) FROM sqlite_master")
    done = threading.Timer(0.3, lambda: writer.execute("COMMIT"))
    done.start()
    try:
        h.rows(conn, sql)
    finally:
        done.join()
    assert not h.in_transaction(conn)
    assert h.rows(conn, "SELECT name FROM obs") == [("w",)]


def race(h, db, sql, racers=10):
    """Runs `sql` on `racers` connections at the same moment: (answers, errors)."""
    start = threading.Barrier(racers)
    answers, errors = [], []

    def run():
        c = h.connect(db)
        c.execute("PRAGMA busy_timeout = 20000")
        start.wait()
        try:
            answers.append(c.execute(sql).fetchone()[0])
        except sqlite3.Error as e:
            errors.append(str(e))
        finally:
            c.close()

    threads = [threading.Thread(target=run) for _ in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers, errors


@pytest.mark.parametrize("wal", [True, False], ids=["wal", "rollback"])
def test_concurrent_installs_of_one_pack_install_it_once(wal, tmp_path):
    """Connections installing the same pack at the same moment: one installs
    it, every other one sees that install and changes nothing."""
    h = host("sqlite3")
    db, conn = database(h, tmp_path, wal=wal)
    conn.close()
    answers, errors = race(h, db, "SELECT trigger_install('task_state')", racers=12)
    assert errors == []
    installed = [a for a in answers if a.startswith("installed task_state")]
    assert len(installed) == 1, answers
    assert sorted(set(answers) - set(installed)) == [
        "task_state 1.0.0 is already installed with these parameters; nothing changed"
    ], answers


@pytest.mark.parametrize("wal", [True, False], ids=["wal", "rollback"])
def test_concurrent_captures_listens_and_their_undoing_answer_as_one_after_another(wal, tmp_path):
    """Several connections capturing (listening, uncapturing, unlistening)
    at the same moment get the answers they would get one after another:
    each capture (re)captures, one listener is created and the others are
    told it exists, one uncapture and one unlisten succeed and the others
    are told there is nothing to drop. No "already exists" from SQLite."""
    h = host("sqlite3")
    db, conn = database(h, tmp_path, wal=wal)
    conn.close()

    answers, errors = race(h, db, "SELECT trigger_capture('obs')")
    assert errors == [], errors
    assert sorted({a.split(" ")[0] for a in answers}) == ["captured", "recaptured"], answers
    assert sum(a.startswith("captured") for a in answers) == 1, answers

    answers, errors = race(h, db, "SELECT trigger_listen('user', 'after_insert', 'SELECT 1;')")
    assert len(answers) == 1, (answers, errors)
    assert {e.split(" as ")[0] for e in errors} == {
        "trigger_listen(): this listener already exists"}, errors

    answers, errors = race(h, db, "SELECT trigger_uncapture('obs')")
    assert len(answers) == 1 and answers[0].startswith("uncaptured obs"), (answers, errors)
    assert set(errors) == {'trigger_uncapture(): argument 1 (table): "obs" is not captured'}, errors

    listener = h.connect(db).execute("SELECT name FROM trigger_listeners").fetchone()[0]
    answers, errors = race(h, db, f"SELECT trigger_unlisten('{listener}')")
    assert answers == [listener], (answers, errors)
    assert all("no listener" in e for e in errors), errors
    c = h.connect(db)
    assert c.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").fetchone() == (0,)


SQLITE_BUSY_SNAPSHOT = 517

# (setup, a call that writes inside the caller's transaction)
SNAPSHOT_CALLS = {name: CALLS[name] for name in ("capture", "install", "ack", "listen", "uncapture")} | {
    "emit": ("SELECT trigger_outbox_init()", "SELECT trigger_emit('c', 2)"),
}


def extended_code(h, error):
    if h.name == "apsw":
        return error.result, error.extendedresult
    return error.sqlite_errorcode & 0xFF, error.sqlite_errorcode


@pytest.mark.parametrize("name", HOSTS)
@pytest.mark.parametrize("call", SNAPSHOT_CALLS)
def test_a_stale_snapshot_is_busy_snapshot_and_says_to_restart(name, call, tmp_path):
    """WAL mode: a transaction that began with a read, another connection
    commits, and then a call writes. SQLite refuses the upgrade with
    SQLITE_BUSY_SNAPSHOT, which no retry inside that transaction can get
    past: the host sees the extended code 517 (primary code SQLITE_BUSY),
    and the message says to roll back and begin the transaction again
    rather than to call again."""
    h = host(name)
    setup, sql = SNAPSHOT_CALLS[call]
    db, conn = database(h, tmp_path, wal=True, setup=setup)
    h.rows(conn, "BEGIN")
    assert rows(conn, "SELECT count(*) FROM obs") == [(0,)]
    other(h, db).execute("INSERT INTO user (name) VALUES ('other')")
    with pytest.raises(busy_error(h)) as error:
        h.rows(conn, sql)
    assert extended_code(h, error.value) == (SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT)
    message = str(error.value)
    assert f"trigger_{call}()" in message, message
    assert "roll back" in message and "begin the transaction again" in message, message
    assert "call again" not in message, message
    # The caller's transaction is still open; once it is restarted the
    # same call succeeds.
    assert h.in_transaction(conn)
    h.rows(conn, "ROLLBACK")
    h.rows(conn, "BEGIN")
    h.rows(conn, sql)
    h.rows(conn, "COMMIT")


@pytest.mark.parametrize("name", HOSTS)
def test_plain_busy_still_says_call_again(name, tmp_path):
    """Plain SQLITE_BUSY (another writer holds the lock, no busy timeout)
    keeps its code 5 and its advice: call again or set a busy timeout."""
    h = host(name)
    db, conn = database(h, tmp_path, wal=True)
    h.rows(conn, "PRAGMA busy_timeout = 0")
    writer = other(h, db)
    writer.execute("BEGIN IMMEDIATE")
    with pytest.raises(busy_error(h)) as error:
        h.rows(conn, "SELECT trigger_capture('obs')")
    assert extended_code(h, error.value) == (SQLITE_BUSY, SQLITE_BUSY)
    assert "call again, or set a busy timeout" in str(error.value), error.value
    writer.execute("COMMIT")
