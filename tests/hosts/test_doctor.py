"""trigger_doctor: no row for what is installed as made, one row per
problem after the schema moved under it, and the repair it names clears
it."""
import sqlite3

import pytest

from conftest import connect
from test_outbox_reliability import TABLES, WRITE_BACK, write_back_trigger


def doctor(conn):
    return conn.execute("SELECT kind, object, problem, repair FROM trigger_doctor").fetchall()


def repaired(conn):
    """Runs each row's repair when it is one SQL call, then checks nothing is left."""
    for _, _, _, repair in doctor(conn):
        if repair.startswith("SELECT trigger_capture("):
            conn.execute(repair)
    return doctor(conn)


@pytest.mark.parametrize("kind", sorted(TABLES))
@pytest.mark.parametrize("events", [None, '{"events": ["insert"]}', '{"events": ["update", "delete"]}',
                                    '{"channel": "c\'h", "events": ["delete"]}'])
def test_fresh_captures_have_no_problem_even_renamed(kind, events):
    conn = connect()
    for sql in TABLES[kind]:
        conn.execute(sql.format(n="t"))
    for i, wb in enumerate(WRITE_BACK.get(kind, [])):
        conn.execute(write_back_trigger("t", i, *wb))
    conn.execute("SELECT trigger_capture('t', ?)", (events,))
    conn.execute("SELECT trigger_listen('t', 'after_update', 'SELECT 1')")
    assert doctor(conn) == []
    conn.execute("ALTER TABLE t RENAME TO \"new\"")
    assert doctor(conn) == []


def test_each_problem_is_found_and_its_repair_clears_it():
    conn = connect()
    conn.executescript("""
        CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, parent INTEGER);
        CREATE TABLE log(x);
        SELECT trigger_capture('item', '{"channel": "items"}');
    """)
    # A column added since the capture: its events would lack it.
    conn.execute("ALTER TABLE item ADD COLUMN qty INTEGER")
    rows = doctor(conn)
    assert len(rows) == 1 and rows[0][:2] == ("capture", "item")
    assert "are not what capture makes for the table now" in rows[0][2]
    assert rows[0][3] == """SELECT trigger_capture('item', '{"channel":"items"}')"""
    assert repaired(conn) == []
    # The new column is in the events now.
    conn.execute("INSERT INTO item(id, qty) VALUES (1, 5)")
    assert conn.execute("SELECT payload->>'$.new.qty' FROM trigger_outbox").fetchall() == [(5,)]

    # A capture trigger dropped by hand.
    conn.execute("DROP TRIGGER item_capture_delete")
    assert [r[2] for r in doctor(conn)] == [
        "capture trigger item_capture_delete is missing, so some of its changes are not recorded"]
    assert repaired(conn) == []

    # An AFTER trigger made by hand after the capture fires first.
    conn.execute("CREATE TRIGGER touch AFTER UPDATE ON item BEGIN INSERT INTO log VALUES (1); END")
    assert [r[2] for r in doctor(conn)] == [
        "trigger touch was created after the capture and fires before its AFTER triggers, so the "
        "changes it makes are recorded before the change that caused them"]
    assert repaired(conn) == []

    # A BEFORE trigger older than capture's, made with writable_schema off:
    # re-creating the capture puts it last; simulate one left behind.
    conn.execute("CREATE TRIGGER early BEFORE INSERT ON item BEGIN SELECT 1; END")
    assert doctor(conn) == []  # newer BEFORE triggers fire first: fine

    # A foreign-key loop added after the capture.
    conn.execute("ALTER TABLE item ADD COLUMN up INTEGER REFERENCES item ON DELETE CASCADE")
    rows = doctor(conn)
    assert len(rows) == 1
    assert rows[0][2].startswith("the table can no longer be captured: cannot capture item exactly: "
                                 "its foreign key (up) REFERENCES item ON DELETE CASCADE")
    assert rows[0][3] == ("change the table as the problem says, or stop capturing it: "
                          "SELECT trigger_uncapture('item')")
    conn.execute(rows[0][3].split(": ", 1)[1])
    assert doctor(conn) == []


def test_listeners_left_behind_by_a_rename_are_reported():
    conn = connect()
    conn.execute("CREATE TABLE user(id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("CREATE TABLE log(x)")
    name = conn.execute(
        "SELECT trigger_listen('user', 'after_update', 'INSERT INTO log VALUES (new.name)', "
        "'{\"columns\": [\"name\"]}')").fetchone()[0]
    assert doctor(conn) == []
    conn.execute("ALTER TABLE user RENAME COLUMN name TO full_name")
    rows = doctor(conn)
    assert [(k, o) for k, o, _, _ in rows] == [("listener", name)]
    assert "its table or a column it names was renamed since it was made" in rows[0][2]
    assert rows[0][3].startswith(f"SELECT trigger_unlisten('{name}');")
    conn.execute("ALTER TABLE user RENAME TO member")
    assert [(k, o) for k, o, _, _ in doctor(conn)] == [("listener", name)]
    conn.execute(f"SELECT trigger_unlisten('{name}')")
    conn.execute("SELECT trigger_listen('member', 'after_update', 'INSERT INTO log VALUES (new.full_name)', "
                 "'{\"columns\": [\"full_name\"]}')")
    assert doctor(conn) == []


def test_doctor_only_reads_and_works_without_an_outbox():
    conn = connect()
    assert doctor(conn) == []
    conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY)")
    before = conn.execute("SELECT * FROM sqlite_master").fetchall()
    doctor(conn)
    assert conn.execute("SELECT * FROM sqlite_master").fetchall() == before
    with pytest.raises(sqlite3.OperationalError, match="trigger_doctor may not be modified|read-only|cannot modify"):
        conn.execute("DELETE FROM trigger_doctor")


@pytest.mark.parametrize("name", ["日本語テーブル", 'we"ird */ name', "e\u0301\u05d0🙂", "new"])
def test_unicode_and_odd_names_have_no_false_problem(name):
    conn = connect()
    q = '"' + name.replace('"', '""') + '"'
    conn.execute(f"CREATE TABLE {q}(id INTEGER PRIMARY KEY, {q} TEXT UNIQUE)")
    conn.execute("SELECT trigger_capture(?)", (name,))
    conn.execute("SELECT trigger_listen(?, 'after_insert', 'SELECT 1', json_object('columns', NULL))", (name,))
    assert doctor(conn) == []
    conn.execute(f"ALTER TABLE {q} RENAME TO {q[:-1]}2\"")
    assert doctor(conn) == []


def test_a_unique_index_on_an_expression_added_later_is_reported_with_both_ways_out():
    conn = connect()
    conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT)")
    conn.execute("""SELECT trigger_capture('t', '{"channel": "c"}')""")
    conn.execute("CREATE UNIQUE INDEX ta ON t(lower(a))")
    assert doctor(conn) == [(
        "capture", "t",
        'the rows a REPLACE deletes can no longer all be recorded: unique index "ta" of "t" is on an '
        "expression, so the rows a REPLACE removes through it cannot be told",
        """drop or change that index, then SELECT trigger_capture('t', '{"channel":"c"}'); or capture """
        """without deletes: SELECT trigger_capture('t', '{"channel":"c","events":["insert","update"]}')""")]
    conn.execute("""SELECT trigger_capture('t', '{"channel":"c","events":["insert","update"]}')""")
    assert doctor(conn) == []


def test_a_dropped_guard_of_a_watched_table_is_reported_and_rewatching_repairs_it(tmp_path):
    conn = connect(str(tmp_path / "w.db"))
    conn.execute("CREATE TABLE t(x)")
    conn.execute("SELECT trigger_watch('t')")
    assert doctor(conn) == []
    conn.execute("DROP TRIGGER temp.trigger_feed_t_insert")
    assert doctor(conn) == [(
        "watch", "t",
        "guard trigger trigger_feed_t_insert is missing or changed, so in transactions this connection "
        "cannot prove which changes of t committed, and holds them back as unguarded",
        "SELECT trigger_unwatch('t'); SELECT trigger_watch('t')")]
    # Another connection has its own guards: nothing to report there.
    other = connect(str(tmp_path / "w.db"))
    assert doctor(other) == []
    conn.execute("SELECT trigger_unwatch('t')")
    conn.execute("SELECT trigger_watch('t')")
    assert doctor(conn) == []
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.execute("COMMIT")
    assert conn.execute("SELECT op, table_name FROM trigger_changes").fetchall() == [("insert", "t")]


def test_a_damaged_outbox_or_notes_table_is_reported():
    conn = connect()
    conn.execute("CREATE TABLE obs(id INTEGER PRIMARY KEY, s)")
    conn.execute("SELECT trigger_capture('obs')")
    conn.executescript("DROP TABLE trigger_outbox_replaced; CREATE TABLE trigger_outbox_replaced(x);")
    assert doctor(conn) == [(
        "capture", "obs",
        "table trigger_outbox_replaced, where its triggers note the rows a REPLACE deletes, lacks column(s) "
        "capture, channel, payload, k1, so every write to the table fails",
        "rename or drop that table if it is not capture's, then SELECT trigger_capture('obs')")]
    conn.execute("DROP TABLE trigger_outbox_replaced")
    assert doctor(conn)[0][2].startswith("there is no table trigger_outbox_replaced")
    conn.execute("SELECT trigger_capture('obs')")
    assert doctor(conn) == []
    conn.executescript("DROP TABLE trigger_outbox; CREATE TABLE trigger_outbox(a, b);")
    rows = doctor(conn)
    assert rows[0][:2] == ("capture", "trigger_outbox")
    assert rows[0][2].startswith("trigger_outbox does not fit the outbox: ")
    assert rows[0][2].endswith(", so every write to a captured table fails")
    conn.execute("DROP TABLE trigger_outbox")
    assert doctor(conn)[0][2] == "there is no table trigger_outbox, so every write to a captured table fails"
    conn.execute("SELECT trigger_outbox_init()")
    assert doctor(conn) == []
