"""The extension in apsw, which bundles the newest SQLite (3.54 at the time of writing)."""
import pytest

from conftest import EXT, SEED_SCHEMA

apsw = pytest.importorskip("apsw")


def connect():
    conn = apsw.Connection(":memory:")
    conn.enable_load_extension(True)
    conn.load_extension(EXT)
    return conn


def one(conn, sql, *args):
    return conn.execute(sql, args).fetchall()[0][0]


def test_apsw_runs_a_newer_sqlite_than_the_minimum():
    conn = connect()
    assert tuple(map(int, apsw.sqlite_lib_version().split("."))) >= (3, 45, 0)
    assert f"running SQLite {apsw.sqlite_lib_version()}" in one(conn, "SELECT trigger_debug()")


def test_seed_story_in_apsw():
    conn = connect()
    conn.execute(SEED_SCHEMA)
    assert one(conn, "SELECT trigger_install('task_state')").startswith("installed task_state 1.0.0")
    assert one(conn, "SELECT trigger_install('default_album')").startswith("installed default_album 1.1.0")
    conn.execute(
        """
        INSERT INTO user (id, name) VALUES (1, 'alice'), (2, 'bob');
        INSERT INTO obs (id, name) VALUES (1, 'comet'), (2, 'nebula');
        INSERT INTO task (obs_id, name) VALUES (1, 'a'), (1, 'b'), (2, 'c');
        UPDATE obs SET state = 2 WHERE id = 1;
        """
    )
    assert conn.execute("SELECT user_id, album_name FROM album ORDER BY 1").fetchall() == [
        (1, "default album"), (2, "default album")]
    assert conn.execute("SELECT id, state FROM task ORDER BY id").fetchall() == [(1, 2), (2, 2), (3, 0)]
    assert one(conn, "SELECT trigger_uninstall('task_state')").startswith("uninstalled task_state")
    assert one(conn, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'") == 1


def test_errors_in_apsw_carry_the_message():
    conn = connect()
    with pytest.raises(apsw.SQLError, match="unknown pack"):
        conn.execute("SELECT trigger_install('nope')").fetchall()
