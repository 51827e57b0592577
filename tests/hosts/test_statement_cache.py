"""trigger_emit keeps its INSERT prepared between calls. The cached statement
must never keep a connection from closing (sqlite3_close returns
SQLITE_BUSY while a statement is unfinalized; sqlite3_close_v2 would leave
a zombie holding the file open), must follow schema changes, and must never
be shared between connections.

A loadable extension reaches SQLite through one table of functions per
process, which every load replaces, so a second SQLite library (apsw's,
beside Python's) is refused. Each scenario runs in a child process that
loads one library only, and one test tries both.
"""
import os
import subprocess
import sys

import pytest

from conftest import needs_shell, shell
from sqlhosts import EXT, HOSTS, host as make_host


def open_files(path):
    """How many of this process's file descriptors point at `path`."""
    real = os.path.realpath(path)
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == real:
                count += 1
        except OSError:
            pass
    return count


EMITTING = """
CREATE TABLE t(id INTEGER PRIMARY KEY, v);
CREATE TRIGGER t_emit AFTER INSERT ON t BEGIN SELECT trigger_emit('t', new.v); END;
"""


def in_child(scenario, *args):
    """Runs `scenario(*args)` of this module in a fresh Python process."""
    code = f"import test_statement_cache as t; t.{scenario}(*{args!r})"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=os.path.dirname(__file__),
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""


ENDS = ["committed", "mid-transaction", "watched, mid-transaction", "watching every table, the outbox too",
        "a trigger on the outbox"]


@pytest.mark.parametrize("name", HOSTS)
@pytest.mark.parametrize("end", ENDS)
def test_a_connection_with_a_filled_cache_closes_and_lets_go_of_its_file(tmp_path, name, end):
    in_child("closes_and_lets_go", name, end, str(tmp_path / "c.db"))


def closes_and_lets_go(name, end, path):
    h = make_host(name)
    conn = h.connect(path)
    h.script(conn, EMITTING)
    if end.startswith("watched"):
        h.rows(conn, "SELECT trigger_watch('t')")
    if end.startswith("watching every table"):
        # The feed's guard on trigger_outbox compiles into the cached
        # INSERT and uses trigger_txn, which holds the cache.
        h.rows(conn, "SELECT trigger_outbox_init()")
        h.rows(conn, "SELECT trigger_watch('*')")
        h.rows(conn, "SELECT * FROM trigger_txn")
    if end == "a trigger on the outbox":
        h.rows(conn, "SELECT trigger_outbox_init()")
        h.rows(conn, "CREATE TABLE w(x)")
        h.rows(conn, "CREATE TRIGGER o AFTER INSERT ON trigger_outbox BEGIN INSERT INTO w VALUES (new.seq); END")
        h.rows(conn, "SELECT trigger_watch('w')")
    for i in range(5):
        h.rows(conn, "INSERT INTO t(v) VALUES (?)", (i,))
    if end != "committed":
        h.rows(conn, "BEGIN")
        h.rows(conn, "INSERT INTO t(v) VALUES ('never committed')")
        h.rows(conn, "SELECT trigger_emit('direct', 'never committed')")
    assert open_files(path) == 1
    conn.close()  # Python: sqlite3_close_v2; apsw: sqlite3_close, which fails on BUSY
    assert open_files(path) == 0, "the connection still holds the database file"
    again = h.connect(path, load=False)
    assert h.rows(again, "SELECT seq, channel, payload FROM trigger_outbox ORDER BY seq") == [
        (i + 1, "t", i) for i in range(5)
    ]
    again.close()


@needs_shell
def test_the_shell_closes_a_connection_with_a_filled_cache(tmp_path):
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    result = shell(
        f".load {EXT}\n{EMITTING}"
        "INSERT INTO t(v) VALUES (1), (2);\n"
        f".open {second}\n"  # closes first.db with sqlite3_close
        ".load " + EXT + "\n" + EMITTING + "INSERT INTO t(v) VALUES (3);\n"
        "SELECT group_concat(payload) FROM trigger_outbox;\n",
        db=str(first),
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.splitlines()[-1] == "3"
    check = shell("SELECT group_concat(payload) FROM trigger_outbox;", db=str(first))
    assert check.stdout.strip() == "1,2"


@pytest.mark.parametrize("name", HOSTS)
def test_the_cached_insert_follows_schema_changes(tmp_path, name):
    in_child("follows_schema_changes", name, str(tmp_path / "s.db"))


def follows_schema_changes(name, path):
    h = make_host(name)
    conn = h.connect(path)
    h.script(conn, EMITTING)
    h.rows(conn, "INSERT INTO t(v) VALUES ('a')")
    # Altered: a new column with a default.
    h.rows(conn, "ALTER TABLE trigger_outbox ADD COLUMN note TEXT DEFAULT 'n'")
    h.rows(conn, "INSERT INTO t(v) VALUES ('b')")
    assert h.rows(conn, "SELECT seq, payload, note FROM trigger_outbox") == [(1, "a", "n"), (2, "b", "n")]
    # Dropped and made again with other column order: the INSERT names its columns.
    h.script(
        conn,
        "DROP TABLE trigger_outbox;"
        "CREATE TABLE trigger_outbox(payload, created_at TEXT NOT NULL DEFAULT 'x', "
        "channel TEXT NOT NULL, seq INTEGER PRIMARY KEY AUTOINCREMENT);",
    )
    h.rows(conn, "INSERT INTO t(v) VALUES ('c')")
    assert h.rows(conn, "SELECT seq, channel, payload, created_at FROM trigger_outbox") == [(1, "t", "c", "x")]
    # Dropped in a transaction that emits: made again by the next call.
    h.rows(conn, "BEGIN")
    h.rows(conn, "DROP TABLE trigger_outbox")
    h.rows(conn, "INSERT INTO t(v) VALUES ('d')")
    h.rows(conn, "COMMIT")
    assert h.rows(conn, "SELECT seq, channel, payload FROM trigger_outbox") == [(1, "t", "d")]
    conn.close()


@pytest.mark.parametrize("name", HOSTS)
def test_no_statement_is_shared_between_connections(tmp_path, name):
    in_child("kept_apart", name, str(tmp_path))


def kept_apart(name, tmp):
    import pathlib

    tmp_path = pathlib.Path(tmp)
    h = make_host(name)
    conns = [h.connect(str(tmp_path / f"{i}.db")) for i in range(3)]
    for conn in conns:
        h.script(conn, EMITTING)
    for round_ in range(4):
        for i, conn in enumerate(conns):
            h.rows(conn, "INSERT INTO t(v) VALUES (?)", (f"{i}:{round_}",))
    for i, conn in enumerate(conns):
        assert [p for (p,) in h.rows(conn, "SELECT payload FROM trigger_outbox ORDER BY seq")] == [
            f"{i}:{r}" for r in range(4)
        ]
    for conn in conns:
        conn.close()
    assert all(open_files(str(tmp_path / f"{i}.db")) == 0 for i in range(3))


@pytest.mark.skipif(len(HOSTS) < 2, reason="needs apsw beside Python's sqlite3")
def test_a_second_sqlite_library_in_the_process_is_refused(tmp_path):
    in_child("two_libraries", str(tmp_path))


def two_libraries(tmp):
    first, second = make_host("sqlite3"), make_host("apsw")
    a = first.connect(os.path.join(tmp, "a.db"))
    first.script(a, EMITTING)
    first.rows(a, "INSERT INTO t(v) VALUES (1)")  # a's statement is kept
    try:
        second.connect(os.path.join(tmp, "b.db"))
    except second.apsw.ExtensionLoadingError as e:
        assert str(e).endswith(
            "sqlite-triggers is already loaded in this process by another SQLite library "
            f"(SQLite {first.version}; this connection's is SQLite {second.version}); a "
            "loadable extension reaches SQLite through one table of functions per process, "
            "so one process can use it with one SQLite library only: load it into "
            "connections of the same library (for example only Python's sqlite3, or only apsw)"
        ), str(e)
    else:
        raise AssertionError("the second library's load was not refused")
    # The first library's connections go on as before, and close.
    for i in range(3):
        first.rows(a, "INSERT INTO t(v) VALUES (?)", (i,))
    a.close()
    assert open_files(os.path.join(tmp, "a.db")) == 0
    check = first.connect(os.path.join(tmp, "a.db"), load=False)
    assert first.rows(check, "SELECT count(*) FROM trigger_outbox") == [(4,)]
    check.close()
