"""counts, counter_cache, fts_sync and history against what the table holds,
after every statement of random scripts that replace rows every way SQLite
can: INSERT OR REPLACE, UPDATE OR REPLACE and a plain UPDATE of a column
declared UNIQUE ON CONFLICT REPLACE, through the rowid, a UNIQUE column, a
partial unique index on a NOCASE column and the INTEGER PRIMARY KEY; with
UPSERTs, OR IGNORE and OR FAIL, multi-row statements that fail half way (a
CHECK), deletes and savepoints rolled back, under both settings of
recursive_triggers.

After each statement: the count in `_counts` is count(*); each parent's
count and sum are its children's; FTS5's integrity-check against the table
passes; and replaying the history (an insert's values, an update's columns
by `_mask`, a delete) gives every row as it is, and no row that is gone.
Scripts that change rowids skip the replay: history records such an update
under the old rowid (docs/packs.md)."""
import random
import sqlite3

import pytest

from conftest import connect

SCHEMA = """
CREATE TABLE post (id INTEGER PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0, total INTEGER NOT NULL DEFAULT 0);
CREATE TABLE item (
  id INTEGER PRIMARY KEY,
  slug TEXT UNIQUE,
  code TEXT COLLATE NOCASE,
  status TEXT,
  post_id INTEGER,
  title TEXT,
  votes INTEGER,
  CHECK (title IS NOT 'forbidden')
);
CREATE UNIQUE INDEX item_live_code ON item (code) WHERE status = 'live';
CREATE TABLE tag (id INTEGER PRIMARY KEY, name TEXT UNIQUE ON CONFLICT REPLACE, label TEXT);
INSERT INTO post (id) VALUES (1), (2), (3);
"""
RECORDED = ["slug", "code", "status", "post_id", "title", "votes"]
INSTALLS = [
    ("counts", {"table": "item"}),
    ("counter_cache", {"child_table": "item", "child_fk": "post_id", "parent_table": "post",
                       "parent_column": "n"}),
    ("counter_cache", {"child_table": "item", "child_fk": "post_id", "parent_table": "post",
                       "parent_column": "total", "total": "votes"}),
    ("fts_sync", {"table": "item", "columns": ["title", "slug"]}),
    ("history", {"table": "item", "columns": RECORDED}),
    ("counts", {"table": "tag"}),
    ("fts_sync", {"table": "tag", "columns": ["label"]}),
    ("history", {"table": "tag", "columns": ["name", "label"]}),
]
WORDS = ["apple", "pear", "plum", "fig", "sloe"]


def setup():
    import json

    conn = connect()
    conn.executescript(SCHEMA)
    for pack, params in INSTALLS:
        conn.execute("SELECT trigger_install(?, ?)", (pack, json.dumps(params)))
    return conn


def value(rng, column):
    return {
        "id": lambda: rng.randint(1, 8),
        "slug": lambda: rng.choice(["a", "b", "c", "d", None]),
        "code": lambda: rng.choice(["x", "X", "y", None]),
        "status": lambda: rng.choice(["live", "draft"]),
        "post_id": lambda: rng.choice([1, 2, 3, None]),
        "title": lambda: rng.choice(WORDS + [f"{rng.choice(WORDS)} {rng.choice(WORDS)}", None]
                                    + ["forbidden"] * (rng.random() < 0.1)),
        "votes": lambda: rng.choice([0, 1, 2, 5, None]),
        "name": lambda: rng.choice(["red", "blue", "green"]),
        "label": lambda: rng.choice(WORDS),
    }[column]()


def statement(rng, move_ids):
    """One random statement and its arguments."""
    pick = rng.random()
    columns = ["id", *RECORDED]
    if pick < 0.3:
        verb = rng.choice(["INSERT", "INSERT OR REPLACE", "REPLACE", "INSERT OR IGNORE",
                           "INSERT OR FAIL"])
        rows = rng.choice([1, 1, 2, 3])
        sql = f"{verb} INTO item ({', '.join(columns)}) VALUES " + ", ".join(
            ["(" + ", ".join("?" * len(columns)) + ")"] * rows)
        args = [value(rng, c) if c != "id" or rng.random() < 0.8 else None
                for _ in range(rows) for c in columns]
        return sql, args
    if pick < 0.4:
        sql = (f"INSERT INTO item ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
               + rng.choice(["ON CONFLICT (slug) DO UPDATE SET title = excluded.title, post_id = excluded.post_id",
                             "ON CONFLICT DO NOTHING",
                             "ON CONFLICT (id) DO UPDATE SET slug = excluded.slug, code = excluded.code"]))
        return sql, [value(rng, c) for c in columns]
    if pick < 0.75:
        verb = rng.choice(["UPDATE", "UPDATE OR REPLACE", "UPDATE OR REPLACE", "UPDATE OR IGNORE",
                           "UPDATE OR FAIL"])
        settable = RECORDED + (["id"] if move_ids else [])
        chosen = rng.sample(settable, rng.choice([1, 1, 2]))
        where, wargs = rng.choice([
            ("id = ?", [rng.randint(1, 8)]),
            ("id IN (?, ?, ?)", [rng.randint(1, 8) for _ in range(3)]),
            ("post_id = ?", [rng.randint(1, 3)]),
        ])
        sql = f"{verb} item SET " + ", ".join(f"{c} = ?" for c in chosen) + f" WHERE {where}"
        return sql, [value(rng, c) for c in chosen] + wargs
    if pick < 0.85:
        return "DELETE FROM item WHERE id = ?", [rng.randint(1, 8)]
    if pick < 0.92:
        verb = rng.choice(["INSERT INTO", "INSERT OR REPLACE INTO", "UPDATE"])
        if verb == "UPDATE":
            return "UPDATE tag SET name = ? WHERE id = ?", [value(rng, "name"), rng.randint(1, 4)]
        return (f"{verb} tag (id, name, label) VALUES (?, ?, ?)",
                [rng.randint(1, 4), value(rng, "name"), value(rng, "label")])
    return rng.choice(["SAVEPOINT s", "ROLLBACK TO s", "RELEASE s"]), []


def replayed(conn, table, columns):
    """The rows the history says the table holds, by rowid."""
    rows = {}
    for rowid, op, mask, *values in conn.execute(
            f"SELECT _rowid, _op, _mask, {', '.join(columns)} FROM _{table}_history "
            "ORDER BY _rowid, _version"):
        if op == "delete":
            rows.pop(rowid, None)
        elif op == "insert":
            rows[rowid] = list(values)
        else:
            row = rows.setdefault(rowid, [None] * len(columns))
            for i, v in enumerate(values):
                if mask & (1 << i):
                    row[i] = v
    return {k: tuple(v) for k, v in rows.items()}


def check(conn, replay, where):
    counts = dict(conn.execute('SELECT "table", count FROM _counts'))
    for table in ("item", "tag"):
        assert counts[table] == conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0], where
    wrong = conn.execute(
        "SELECT id, n, total FROM post WHERE n IS NOT (SELECT count(*) FROM item WHERE post_id = post.id) "
        "OR total IS NOT (SELECT coalesce(sum(votes), 0) FROM item WHERE post_id = post.id)").fetchall()
    assert wrong == [], where
    for fts in ("item_fts", "tag_fts"):
        conn.execute(f"INSERT INTO {fts} ({fts}, rank) VALUES ('integrity-check', 1)")
    if replay:
        for table, columns in (("item", RECORDED), ("tag", ["name", "label"])):
            now = {r[0]: tuple(r[1:]) for r in conn.execute(
                f"SELECT rowid, {', '.join(columns)} FROM {table}")}
            assert replayed(conn, table, columns) == now, where


@pytest.mark.parametrize("move_ids", [False, True], ids=["keys-kept", "keys-moved"])
@pytest.mark.parametrize("recursive", ["OFF", "ON"])
@pytest.mark.parametrize("seed", range(10))
def test_random_replacing_scripts_leave_the_packs_exact(seed, recursive, move_ids):
    rng = random.Random(seed * 4 + (recursive == "ON") * 2 + move_ids)
    conn = setup()
    conn.execute(f"PRAGMA recursive_triggers = {recursive}")
    check(conn, not move_ids, "after install")
    script, replaced = [], 0
    for _ in range(150):
        sql, args = statement(rng, move_ids)
        script.append((sql, args))
        before = conn.total_changes
        try:
            conn.execute(sql, args)
        except (sqlite3.IntegrityError, sqlite3.OperationalError) as e:
            # A constraint or a CHECK failed, or no savepoint s is open.
            assert "constraint failed" in str(e) or "no such savepoint" in str(e), (e, script)
        replaced += conn.total_changes > before and "REPLACE" in sql
        check(conn, not move_ids, script[-12:])
    while conn.in_transaction:
        conn.execute("RELEASE s")
    check(conn, not move_ids, "at the end")
    # The scripts do replace rows (a script with no REPLACE would pass
    # against triggers that ignore it).
    assert replaced > 5
