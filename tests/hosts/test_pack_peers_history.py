"""The history pack against its peer, sqlite-history 0.1 (PyPI), in Python's
sqlite3 (SQLite 3.40.1): the same random inserts, updates and deletes on two
databases, one set up with `sqlite_history.configure_history(db, table)`
and one with `trigger_install('history', ...)`, must give the same history
rows in the columns both have (_rowid, the table's columns, _version,
_mask, and an _updated in unix milliseconds), as long as no value moves to
or from NULL and no rowid comes back after a delete. Where the two differ,
the difference is asserted exactly: sqlite-history compares with `!=`, so a
change to or from NULL is missed (no row, or a row whose mask leaves the
column out), and its insert trigger starts every row at version 1, so a
rowid deleted and inserted again repeats (rowid, version); the pack records
both as they happened."""
import random
import time

import pytest
import sqlite_history  # tests/hosts/requirements.txt

from conftest import connect

TABLE_SQL = """
CREATE TABLE item (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    qty INTEGER NOT NULL,
    price REAL NOT NULL,
    tag TEXT NOT NULL
)
"""
COLUMNS = ["id", "name", "qty", "price", "tag"]
# The columns both history tables have, each with its storage class, so
# that an integer stored where the peer stores a real (or text where it
# stores a number) is a difference too.
COMMON = ", ".join(f"{c}, typeof({c})" for c in ["_rowid", *COLUMNS, "_version", "_mask"])
NAMES = ["apple", "pear", "plum", "fig", "quince", "sloe"]
TAGS = ["a", "b", "c"]


def databases(rows=()):
    """Two connections holding the same `item` rows: the peer's history
    configured on one, the pack installed on the other."""
    theirs, ours = connect(load=False), connect()
    for conn in (theirs, ours):
        conn.execute(TABLE_SQL)
        conn.executemany("INSERT INTO item VALUES (?, ?, ?, ?, ?)", rows)
    sqlite_history.configure_history(theirs, "item")
    assert ours.execute("SELECT trigger_install('history')").fetchone()[0].startswith(
        "installed history (item) 1.0.0: table _item_history")
    return theirs, ours


def both(theirs, ours, sql, args=()):
    theirs.execute(sql, args)
    ours.execute(sql, args)


def history(conn, where="1"):
    """The history rows in the common columns, in the order they were
    written (the history table's own rowid)."""
    return conn.execute(
        f"SELECT {COMMON} FROM _item_history WHERE {where} ORDER BY rowid").fetchall()


def plain(conn, where="1"):
    """The history rows as (_rowid, id, name, qty, price, tag, _version,
    _mask), for the exact expectations below: by rowid of the table, each
    rowid's in the order they were written."""
    return conn.execute(
        "SELECT _rowid, id, name, qty, price, tag, _version, _mask FROM _item_history "
        f"WHERE {where} ORDER BY _rowid, rowid").fetchall()


def random_row(rng, rowid):
    return (rowid, rng.choice(NAMES), rng.randint(0, 5), rng.choice([0.5, 1.0, 2.25, 3.0]), rng.choice(TAGS))


def random_workload(rng, theirs, ours, steps, first_new_id):
    """Inserts of new rowids, updates of random columns (to new values or
    the same ones, one row or several), and deletes; never NULL, never a
    rowid again. Returns how many statements of each kind ran."""
    live = [r[0] for r in ours.execute("SELECT id FROM item")]
    next_id, ran = first_new_id, {"insert": 0, "update": 0, "delete": 0}
    for _ in range(steps):
        kind = rng.choices(["insert", "update", "delete"], weights=[3, 6, 1])[0]
        if kind == "insert" or not live:
            rows = [random_row(rng, next_id + i) for i in range(rng.choice([1, 1, 1, 3]))]
            next_id += len(rows)
            both(theirs, ours, f"INSERT INTO item VALUES {', '.join(['(?, ?, ?, ?, ?)'] * len(rows))}",
                 [v for row in rows for v in row])
            live += [row[0] for row in rows]
            ran["insert"] += 1
        elif kind == "update":
            changed = rng.sample(COLUMNS[1:], rng.randint(1, 4))
            new = random_row(rng, 0)
            sets = ", ".join(f"{c} = ?" for c in changed)
            args = [new[COLUMNS.index(c)] for c in changed]
            if rng.random() < 0.2:  # a whole group of rows at once
                both(theirs, ours, f"UPDATE item SET {sets} WHERE tag = ?", args + [rng.choice(TAGS)])
            elif rng.random() < 0.2:  # the values it has: nothing to record
                rowid = rng.choice(live)
                same = ours.execute(f"SELECT {', '.join(changed)} FROM item WHERE id = ?", [rowid]).fetchone()
                both(theirs, ours, f"UPDATE item SET {sets} WHERE id = ?", [*same, rowid])
            else:
                both(theirs, ours, f"UPDATE item SET {sets} WHERE id = ?", args + [rng.choice(live)])
            ran["update"] += 1
        else:
            gone = live.pop(rng.randrange(len(live)))
            both(theirs, ours, "DELETE FROM item WHERE id = ?", [gone])
            ran["delete"] += 1
    return ran


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_same_random_changes_give_the_same_history(seed):
    rng = random.Random(seed)
    before = [random_row(rng, i) for i in range(1, 21)]
    theirs, ours = databases(before)
    start_ms = int(time.time() * 1000)

    # Both record the rows there before as version 1, every bit set.
    assert history(theirs) == history(ours)
    assert plain(ours) == [(r[0], *r, 1, 31) for r in before]

    ran = random_workload(rng, theirs, ours, steps=400, first_new_id=21)
    assert min(ran.values()) > 10, ran

    ours_rows, theirs_rows = history(ours), history(theirs)
    assert len(ours_rows) > 400
    # Row for row, in every common column and storage class.
    for i, (a, b) in enumerate(zip(theirs_rows, ours_rows)):
        assert a == b, f"history row {i}: sqlite-history {a}, pack {b}"
    assert len(theirs_rows) == len(ours_rows)
    # The same items at the end, too.
    assert theirs.execute("SELECT * FROM item ORDER BY id").fetchall() == \
        ours.execute("SELECT * FROM item ORDER BY id").fetchall()

    # _updated: both an integer, unix milliseconds of this run.
    end_ms = int(time.time() * 1000)
    for conn in (theirs, ours):
        low, high, kinds = conn.execute(
            "SELECT min(_updated), max(_updated), group_concat(DISTINCT typeof(_updated)) "
            "FROM _item_history").fetchone()
        assert kinds == "integer"
        assert start_ms - 1000 <= low <= high <= end_ms + 1000

    # The pack's own columns agree with the shared ones.
    assert ours.execute(
        "SELECT count(*) FROM _item_history WHERE _op IS NOT "
        "CASE WHEN _mask = -1 THEN 'delete' WHEN _version = 1 THEN 'insert' ELSE 'update' END"
    ).fetchone()[0] == 0


def test_changes_to_and_from_null_only_the_pack_records():
    # A table whose columns may hold NULL; the same random start as above.
    theirs, ours = connect(load=False), connect()
    for conn in (theirs, ours):
        conn.execute(TABLE_SQL.replace(" NOT NULL", ""))
        conn.execute("INSERT INTO item VALUES (1, 'apple', 3, 1.5, 'a'), (2, 'pear', NULL, 2.0, 'b')")
    sqlite_history.configure_history(theirs, "item")
    ours.execute("SELECT trigger_install('history')")

    both(theirs, ours, "UPDATE item SET tag = NULL WHERE id = 1")             # to NULL alone
    both(theirs, ours, "UPDATE item SET qty = 4 WHERE id = 2")                # from NULL alone
    both(theirs, ours, "UPDATE item SET name = NULL, price = 9 WHERE id = 1")  # to NULL beside a change
    both(theirs, ours, "UPDATE item SET tag = 'z', qty = NULL WHERE id = 1")   # from and to NULL together
    both(theirs, ours, "UPDATE item SET qty = NULL WHERE id = 1")              # NULL to NULL: no change

    backfill = [(1, 1, "apple", 3, 1.5, "a", 1, 31), (2, 2, "pear", None, 2.0, "b", 1, 31)]
    # sqlite-history: the two lone NULL changes and the last update leave no
    # row at all; the update beside a real change is recorded without the
    # name's bit (mask 8, price only), its name NULL as for an unchanged one.
    assert plain(theirs) == [
        backfill[0],
        (1, None, None, None, 9.0, None, 2, 8),
        backfill[1],
    ]
    # The pack: every change, with its bit (id 1, name 2, qty 4, price 8,
    # tag 16); NULL to NULL is none.
    assert plain(ours) == [
        backfill[0],
        (1, None, None, None, None, None, 2, 16),
        (1, None, None, None, 9.0, None, 3, 2 | 8),
        (1, None, None, None, None, "z", 4, 4 | 16),
        backfill[1],
        (2, None, None, 4, None, None, 2, 4),
    ]
    # The tables themselves agree: only the histories differ.
    assert theirs.execute("SELECT * FROM item ORDER BY id").fetchall() == \
        ours.execute("SELECT * FROM item ORDER BY id").fetchall() == \
        [(1, None, None, 9.0, "z"), (2, "pear", 4, 2.0, "b")]


def test_a_rowid_deleted_and_inserted_again():
    theirs, ours = databases([(1, "apple", 3, 1.5, "a"), (2, "pear", 1, 2.0, "b")])

    both(theirs, ours, "UPDATE item SET qty = 4 WHERE id = 1")
    both(theirs, ours, "DELETE FROM item WHERE id = 1")
    both(theirs, ours, "INSERT INTO item VALUES (1, 'damson', 7, 3.0, 'c')")
    both(theirs, ours, "UPDATE item SET tag = 'd' WHERE id = 1")
    both(theirs, ours, "DELETE FROM item WHERE id = 1")

    life_one = [
        (1, 1, "apple", 3, 1.5, "a", 1, 31),
        (1, None, None, 4, None, None, 2, 4),
        (1, 1, "apple", 4, 1.5, "a", 3, -1),
    ]
    # sqlite-history: the new row starts again at version 1, so (1, 1) is
    # there twice; its update and delete then continue from the highest
    # version of either life (3), as its other triggers take max + 1.
    assert plain(theirs, "_rowid = 1") == life_one + [
        (1, 1, "damson", 7, 3.0, "c", 1, 31),
        (1, None, None, None, None, "d", 4, 16),
        (1, 1, "damson", 7, 3.0, "d", 5, -1),
    ]
    assert theirs.execute(
        "SELECT count(*) FROM (SELECT 1 FROM _item_history GROUP BY _rowid, _version HAVING count(*) > 1)"
    ).fetchone()[0] == 1
    # The pack: one sequence of versions per rowid, whatever its lives.
    assert plain(ours, "_rowid = 1") == life_one + [
        (1, 1, "damson", 7, 3.0, "c", 4, 31),
        (1, None, None, None, None, "d", 5, 16),
        (1, 1, "damson", 7, 3.0, "d", 6, -1),
    ]
    assert ours.execute(
        "SELECT _version, _op FROM _item_history WHERE _rowid = 1 ORDER BY _version"
    ).fetchall() == [(1, "insert"), (2, "update"), (3, "delete"), (4, "insert"), (5, "update"), (6, "delete")]
    assert ours.execute(
        "SELECT count(*) FROM (SELECT 1 FROM _item_history GROUP BY _rowid, _version HAVING count(*) > 1)"
    ).fetchone()[0] == 0
    # Row 2, untouched, is the same in both.
    assert history(theirs, "_rowid = 2") == history(ours, "_rowid = 2")
