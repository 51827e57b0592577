"""trigger_wait and the change feed know a database by its file's identity,
not by its name; a waiter on a quiet channel finds its event among many on
other channels; and writers with a busy timeout never fail because of a
waiter, in rollback-journal mode too."""
import os
import time
import sqlite3
import subprocess
import sys

import pytest

from conftest import EXT, connect, scalar

WAITER = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.enable_load_extension(True)
conn.load_extension(sys.argv[2])
print("waiting", flush=True)
print(conn.execute("SELECT trigger_wait(?, 60000, ?)", (int(sys.argv[3]), sys.argv[4])).fetchone()[0], flush=True)
"""


def start_waiter(db, after, channel):
    waiter = subprocess.Popen(
        [sys.executable, "-c", WAITER, db, EXT, str(after), channel],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert waiter.stdout.readline().strip() == "waiting"
    return waiter


def test_wait_refuses_a_memdb_database_named_like_a_file(tmp_path):
    """`file:/path?vfs=memdb` names a path but holds the database in memory:
    the wait must not read the file at that path."""
    path = tmp_path / "real.db"
    real = connect(str(path))
    assert scalar(real, "SELECT trigger_emit('c', 'on disk')") == 1
    mem = sqlite3.connect(f"file:{path}?vfs=memdb", uri=True, isolation_level=None)
    mem.enable_load_extension(True)
    mem.load_extension(EXT)
    with pytest.raises(
        sqlite3.OperationalError,
        match=r'trigger_wait\(\): needs a database file: this database is held by the VFS '
        r'"memdb", not kept in a file other connections can open',
    ):
        mem.execute("SELECT trigger_wait(0, 0)")
    # Its own outbox is its own.
    assert scalar(mem, "SELECT trigger_emit('c', 'in memory')") == 1
    assert scalar(real, "SELECT payload FROM trigger_outbox") == "on disk"


def test_wait_refuses_a_file_replaced_under_its_connection(tmp_path):
    path = str(tmp_path / "app.db")
    old = connect(path)
    old.execute("CREATE TABLE t(x)")
    os.remove(path)
    new = connect(path)
    assert scalar(new, "SELECT trigger_emit('c', 'new file')") == 1
    with pytest.raises(
        sqlite3.OperationalError,
        match=r"trigger_wait\(\): needs a database file: .*app.db\" is no longer the file this "
        r"connection opened \(it was deleted or replaced since\); open the database again",
    ):
        old.execute("SELECT trigger_wait(0, 0)")
    assert scalar(new, "SELECT trigger_wait(0, 0)") == 1


def test_a_recreated_file_has_a_feed_of_its_own(tmp_path):
    path = str(tmp_path / "app.db")
    old = connect(path)
    old.execute("CREATE TABLE t(id INTEGER PRIMARY KEY)")
    old.execute("SELECT trigger_watch('t')")
    old.execute("INSERT INTO t VALUES (1)")
    assert old.execute("SELECT op, table_name, rowid FROM trigger_changes").fetchall() == [
        ("insert", "t", 1)
    ]
    os.remove(path)
    new = connect(path)
    new.execute("CREATE TABLE t(id INTEGER PRIMARY KEY)")
    new.execute("SELECT trigger_watch('t')")
    assert new.execute("SELECT op, table_name, rowid FROM trigger_changes").fetchall() == []
    new.execute("INSERT INTO t VALUES (7)")
    assert new.execute("SELECT rowid FROM trigger_changes").fetchall() == [(7,)]
    # Two connections to one file share it, whatever name they used.
    link = str(tmp_path / "link.db")
    os.link(path, link)
    other = connect(link)
    assert other.execute("SELECT rowid FROM trigger_changes").fetchall() == [(7,)]


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_a_waiter_on_a_quiet_channel_finds_its_event_among_others(journal, tmp_path):
    """The waiter passes over the other channels' events once; events that
    arrive together with its own, before or after it, do not hide it."""
    db = str(tmp_path / "quiet.db")
    conn = connect(db)
    conn.execute(f"PRAGMA journal_mode = {journal}")
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) "
        "SELECT trigger_emit('busy', i) FROM n"
    )
    waiter = start_waiter(db, 0, "quiet")
    for i in range(50):
        conn.execute("SELECT trigger_emit('busy', ?)", (i,))
    conn.execute("BEGIN")
    conn.execute("SELECT trigger_emit('busy', 'before')")
    quiet = scalar(conn, "SELECT trigger_emit('quiet', 'mine')")
    conn.execute("SELECT trigger_emit('busy', 'after')")
    conn.execute("COMMIT")
    out, _ = waiter.communicate(timeout=60)
    assert int(out) == quiet
    # A wait that starts after passing events finds the first quiet one.
    assert scalar(conn, "SELECT trigger_wait(0, 0, 'quiet')") == quiet
    assert scalar(conn, f"SELECT trigger_wait({quiet}, 0, 'quiet')") is None


def test_writers_with_a_busy_timeout_never_fail_because_of_a_waiter(tmp_path):
    """Rollback-journal mode: each of the waiter's checks holds a shared lock
    for a moment, as any reader does, so a writer needs a busy timeout (in
    WAL mode readers never block writers). With one, no commit fails."""
    db = str(tmp_path / "rollback.db")
    conn = connect(db)
    conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, x)")
    after = scalar(conn, "SELECT trigger_emit('other', 0)")
    waiter = start_waiter(db, after, "quiet")
    writer = sqlite3.connect(db, isolation_level=None, timeout=5.0)
    failures = 0
    for i in range(1000):
        try:
            writer.execute("INSERT INTO t (x) VALUES (?)", (i,))
        except sqlite3.OperationalError:
            failures += 1
    quiet = scalar(conn, "SELECT trigger_emit('quiet', 1)")
    out, _ = waiter.communicate(timeout=60)
    assert int(out) == quiet
    assert failures == 0
    assert scalar(writer, "SELECT count(*) FROM t") == 1000


def test_wait_on_a_deleted_file_says_it_was_deleted(tmp_path):
    """The file was deleted after the connection opened it (by another
    process, say): the connection still holds a database, but not one any
    other connection can reach, and the message says so, not that it is an
    in-memory database."""
    path = str(tmp_path / "gone.db")
    conn = connect(path)
    assert scalar(conn, "SELECT trigger_emit('c', 'x')") == 1
    os.remove(path)
    with pytest.raises(sqlite3.OperationalError) as error:
        conn.execute("SELECT trigger_wait(0, 0)")
    message = str(error.value)
    assert message.startswith("trigger_wait(): "), message
    assert f'"{path}" was deleted since this connection opened it' in message, message
    assert "in-memory" not in message, message


REPLACED_WAITER = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.enable_load_extension(True)
conn.load_extension(sys.argv[2])
print("waiting", flush=True)
try:
    print(conn.execute("SELECT trigger_wait(?, 20000)", (int(sys.argv[3]),)).fetchone()[0], flush=True)
except sqlite3.Error as e:
    print(f"{e.sqlite_errorname}: {e}", flush=True)
"""


@pytest.mark.parametrize("journal", ["wal", "delete"])
@pytest.mark.parametrize("how", ["replaced", "deleted"])
def test_a_file_replaced_or_deleted_while_waiting_ends_the_wait(journal, how, tmp_path):
    """Another process renames a new database file over the path (or deletes
    the file) while trigger_wait blocks: the wait ends at once with an error
    that says so and to open the database again, not with "attempt to write
    a readonly database" and not by waiting on a file nobody writes to."""
    path = str(tmp_path / "app.db")
    conn = connect(path)
    conn.execute(f"PRAGMA journal_mode = {journal}")
    after = scalar(conn, "SELECT trigger_emit('c', 'old')")
    waiter = subprocess.Popen(
        [sys.executable, "-c", REPLACED_WAITER, path, EXT, str(after)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert waiter.stdout.readline().strip() == "waiting"
    # Let the wait begin: a file gone before it starts gets the message of
    # a wait on a deleted file (tested above) instead.
    time.sleep(0.5)
    if how == "replaced":
        fresh = str(tmp_path / "fresh.db")
        new = connect(fresh)
        new.execute(f"PRAGMA journal_mode = {journal}")
        scalar(new, "SELECT trigger_emit('c', 'new 1')")
        new.close()
        os.replace(fresh, path)
        # A writer that opens the path now writes to the new file.
        new = connect(path)
        scalar(new, "SELECT trigger_emit('c', 'new 2')")
    else:
        os.remove(path)
    out, _ = waiter.communicate(timeout=15)
    out = out.strip()
    assert out.startswith("SQLITE_ERROR: trigger_wait(): "), out
    what = "replaced by another file" if how == "replaced" else "deleted"
    assert f'the database file "{path}" was {what} while waiting' in out, out
    assert "open the database again" in out, out
    assert "readonly" not in out, out
