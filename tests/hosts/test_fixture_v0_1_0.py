"""A database written by sqlite-triggers 0.1.0 still works with this build:
its listeners and captures are recognised by their marker comments, listed,
dropped and captured again, and keep firing.

tests/fixtures/v0.1.0.db was made by the 0.1.0 extension with
tests/fixtures/make_v0_1_0_db.py (see that script). Its names, channels and
actions hold `*/`, `*`, quotes, newlines and non-ASCII text, so the markers
carry both escapes 0.1.0 wrote: `\\u002a` (listeners) and `*\\/` (captures)."""
import shutil
import sqlite3

import pytest

from conftest import ROOT, connect, scalar

FIXTURE = ROOT / "tests" / "fixtures" / "v0.1.0.db"
WEIRD = "we\"ird */ 'x' /* ü"
WEIRD_SQL = '"we""ird */ \'x\' /* ü"'
CHANNEL = "c */ 'q' \"dq\"\nü *"
NAMED = "named */ 'l' \"q\"\nü"
GENERATED = "listen_t_after_delete_ea96b155"
DELETE_ACTION = "INSERT INTO log VALUES ('del\n' || OLD.id) -- done */"

LISTENERS = [
    (GENERATED, "t", "after_delete", None, None, DELETE_ACTION),
    (NAMED, "t", "after_insert", None, "NEW.id * 1 > 0",
     "INSERT INTO log VALUES ('*/ ins ' || NEW.id || ' ü \"q\"')"),
    ("upd*", "t", "after_update", '["a*/b"]', None,
     "INSERT INTO log VALUES ('upd /* c */ ' || NEW.\"a*/b\")"),
]


@pytest.fixture
def old_db(tmp_path):
    path = tmp_path / "v0.1.0.db"
    shutil.copyfile(FIXTURE, path)
    conn = connect(str(path))
    yield conn
    conn.close()


def listeners(conn):
    return conn.execute(
        "SELECT name, table_name, event, columns, when_expr, action FROM trigger_listeners"
    ).fetchall()


def triggers(conn):
    return sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"))


def fire(conn):
    conn.execute("DELETE FROM log")
    conn.execute("DELETE FROM trigger_outbox")
    conn.execute("""INSERT INTO t (id, "a*/b") VALUES (1, 'x')""")
    conn.execute("""UPDATE t SET "a*/b" = 'y'""")
    conn.execute("DELETE FROM t")
    conn.execute(f"INSERT INTO {WEIRD_SQL} VALUES (5, 'v')")
    conn.execute(f"DELETE FROM {WEIRD_SQL}")
    log = [r[0] for r in conn.execute("SELECT what FROM log ORDER BY rowid")]
    events = conn.execute("SELECT channel, payload FROM trigger_outbox ORDER BY seq").fetchall()
    return log, events


def test_the_listeners_of_0_1_0_are_listed_with_their_definitions(old_db):
    assert listeners(old_db) == LISTENERS


def test_the_triggers_of_0_1_0_still_fire(old_db):
    log, events = fire(old_db)
    assert log == ['*/ ins 1 ü "q"', "upd /* c */ y", "del\n1"]
    assert events == [
        (CHANNEL, '{"op":"insert","key":1,"old":null,"new":{"id":1,"a*/b":"x","note":null}}'),
        (WEIRD, '{"op":"delete","key":5,"old":{"k":5,"v":"v"},"new":null}'),
    ]


def test_a_generated_name_of_0_1_0_is_the_same_listener(old_db):
    with pytest.raises(sqlite3.Error, match=f'already exists as "{GENERATED}"'):
        scalar(old_db, "SELECT trigger_listen('t', 'after_delete', ?)", DELETE_ACTION)


def test_the_listeners_of_0_1_0_are_dropped(old_db):
    for name, *_ in LISTENERS:
        assert scalar(old_db, "SELECT trigger_unlisten(?)", name) == name
    assert listeners(old_db) == []
    log, _ = fire(old_db)
    assert log == []
    assert not any(n.startswith(("named", "upd", "listen_")) for n in triggers(old_db))


def test_the_captures_of_0_1_0_are_dropped_and_captured_again(old_db):
    weird = [f"{WEIRD}_capture_{r}" for r in
             ("before_insert", "before_update", "delete", "insert", "update_key")]
    dropped = scalar(old_db, "SELECT trigger_uncapture(?)", WEIRD)
    assert dropped.startswith("uncaptured ") and dropped.count("_capture_") == 5, dropped
    assert scalar(old_db, "SELECT trigger_uncapture('t')") == "uncaptured t: dropped trigger t_capture_insert"
    assert not any("_capture_" in n for n in triggers(old_db))
    _, events = fire(old_db)
    assert events == []
    assert scalar(old_db, "SELECT trigger_capture(?, '{\"events\": [\"delete\"]}')", WEIRD).startswith("captured ")
    assert sorted(n for n in triggers(old_db) if n.startswith("we")) == sorted(weird)
    _, events = fire(old_db)
    assert [e[0] for e in events] == [WEIRD]


def test_a_capture_of_0_1_0_is_replaced_when_captured_again(old_db):
    assert scalar(
        old_db, "SELECT trigger_capture('t', ?)", '{"channel": "c2", "events": ["insert", "delete"]}'
    ) == ("recaptured t into channel c2: triggers t_capture_insert, t_capture_delete, "
          "t_capture_update_key, t_capture_before_insert, t_capture_before_update")
    _, events = fire(old_db)
    assert [e[0] for e in events] == ["c2", "c2", WEIRD]
    assert scalar(old_db, "SELECT trigger_uncapture('t')").startswith("uncaptured t: ")
    assert not any(n.startswith("t_capture_") for n in triggers(old_db))
