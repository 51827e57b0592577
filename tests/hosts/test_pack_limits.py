"""How wide a list a pack takes: a list the pack's SQL writes as a chain of
conditions (protect's, fts_sync's and touch's columns) takes at most 900
names, since SQLite refuses an expression nested more than 1000 deep, and
history records at most 62 columns (one bit of _mask each). Install refuses
more up front, naming the parameter, the limit and what to do, and leaves
nothing behind."""
import json
import sqlite3

import pytest

from conftest import connect, scalar, schema

CHAIN = ("(the pack's SQL writes a condition per name, and SQLite refuses an expression nested more than "
         "1000 deep)")


def wide(n):
    """A table item of id, title, updated_at and n more columns c0, c1, ..."""
    conn = connect()
    cols = ", ".join(f"c{i}" for i in range(n))
    conn.execute(f"CREATE TABLE item(id INTEGER PRIMARY KEY, title, updated_at, {cols})")
    return conn


def names(n):
    return [f"c{i}" for i in range(n)]


def refused(conn, pack, params, message):
    before = schema(conn)
    with pytest.raises(sqlite3.OperationalError) as e:
        conn.execute("SELECT trigger_install(?, ?)", (pack, json.dumps(params)))
    assert str(e.value) == "trigger_install(): argument 2 (params_json): " + message
    assert schema(conn) == before


@pytest.mark.parametrize("pack, params", [
    ("protect", {"operation": "update", "columns": names(1990)}),
    ("fts_sync", {"columns": names(1990)}),
])
def test_a_chained_list_takes_at_most_900_names(pack, params):
    conn = wide(1990)
    refused(conn, pack, params,
            f"parameter columns of pack {pack}: it names 1990 columns, more than the 900 it takes {CHAIN}; "
            "list at most 900")
    params["columns"] = names(900)
    conn.execute("SELECT trigger_install(?, ?)", (pack, json.dumps(params)))
    conn.execute("INSERT INTO item(id, c899) VALUES (1, 'a')")
    if pack == "protect":
        with pytest.raises(sqlite3.IntegrityError, match="update on item is not allowed"):
            conn.execute("UPDATE item SET c899 = 'b'")
        conn.execute("UPDATE item SET c900 = 'b'")
    else:
        conn.execute("UPDATE item SET c899 = 'needle'")
        assert scalar(conn, "SELECT rowid FROM item_fts WHERE item_fts MATCH 'needle'") == 1


def test_touch_counts_at_most_900_columns_and_needs_no_list_without_ignore():
    conn = wide(1990)
    refused(conn, "touch", {"ignore": ["title"]},
            "parameter counted of pack touch: table item has 1991 columns for it (every column but those named "
            f"by ignore and column), more than the 900 it takes {CHAIN}; name at most 900 in counted, or leave "
            "more out with ignore")
    # Without columns to ignore, every update counts: no list is written.
    conn.execute("SELECT trigger_install('touch')")
    conn.execute("INSERT INTO item(id) VALUES (1)")
    conn.execute("UPDATE item SET c1989 = 1")
    assert scalar(conn, "SELECT updated_at IS NOT NULL FROM item") == 1


def test_history_records_at_most_62_columns():
    conn = wide(80)
    refused(conn, "history", {"columns": names(63)},
            "parameter columns of pack history: it names 63 columns, more than the 62 it takes; name at most 62 "
            "in columns, or leave more out with exclude")
    refused(conn, "history", {},
            "parameter columns of pack history: table item has 83 columns for it (every column but those named "
            "by exclude), more than the 62 it takes; name at most 62 in columns, or leave more out with exclude")
    conn.execute("SELECT trigger_install('history', ?)", (json.dumps({"exclude": names(21)}),))
    conn.execute("INSERT INTO item(id) VALUES (1)")
    conn.execute("UPDATE item SET c79 = 'x'")
    # c79 is the 62nd column recorded (id, title, updated_at, c21 ... c79):
    # bit 61 of _mask.
    assert conn.execute("SELECT _op, _mask FROM _item_history ORDER BY _version").fetchall() == [
        ("insert", (1 << 62) - 1), ("update", 1 << 61)]


def test_trigger_pack_sql_refuses_as_install_does():
    conn = wide(70)
    with pytest.raises(sqlite3.OperationalError) as e:
        conn.execute("SELECT trigger_pack_sql('history')")
    assert str(e.value) == (
        "trigger_pack_sql(): argument 2 (params_json): parameter columns of pack history: table item has 73 "
        "columns for it (every column but those named by exclude), more than the 62 it takes; name at most 62 "
        "in columns, or leave more out with exclude")


def test_a_replace_condition_longer_than_an_expression_parameter_is_recorded_and_read_back():
    # The condition install works out from the UNIQUE constraints is as long
    # as their columns' names; it is not a parameter given, whose limit is
    # 4096 bytes, and uninstall reads it back.
    conn = connect()
    name = "k" * 2100
    conn.execute(f'CREATE TABLE item(id INTEGER PRIMARY KEY, "{name}" TEXT NOT NULL UNIQUE)')
    conn.execute("SELECT trigger_install('counts', ?)", (json.dumps({"key": name}),))
    conn.execute(f"""INSERT INTO item("{name}") VALUES ('a'), ('b')""")
    conn.execute(f"""INSERT OR REPLACE INTO item("{name}") VALUES ('a')""")
    assert conn.execute("SELECT count FROM _counts").fetchall() == [(2,)]
    assert conn.execute("SELECT * FROM trigger_doctor").fetchall() == []
    assert scalar(conn, "SELECT trigger_uninstall('counts', 'item')").startswith("uninstalled counts (item) 1.0.0")
