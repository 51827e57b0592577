"""trigger_emit keeps its INSERT prepared between calls. The cached statement
must never keep a connection from closing (sqlite3_close returns
SQLITE_BUSY while a statement is unfinalized; sqlite3_close_v2 would leave
a zombie holding the file open), must follow schema changes, and must never
be shared between connections."""
import os

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


@pytest.mark.parametrize("name", HOSTS)
@pytest.mark.parametrize("end", ["committed", "mid-transaction", "watched, mid-transaction"])
def test_a_connection_with_a_filled_cache_closes_and_lets_go_of_its_file(tmp_path, name, end):
    h = make_host(name)
    path = str(tmp_path / "c.db")
    conn = h.connect(path)
    h.script(conn, EMITTING)
    if end.startswith("watched"):
        h.rows(conn, "SELECT trigger_watch('t')")
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
    h = make_host(name)
    conn = h.connect(str(tmp_path / "s.db"))
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
