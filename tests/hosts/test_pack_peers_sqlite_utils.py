"""The counts and fts_sync packs against their peer, sqlite-utils: the same
random writes go to two databases of the same schema, one with sqlite-utils'
own triggers (`table.enable_counts()`, `table.enable_fts(...,
create_triggers=True)`), one with the packs.

- Without INSERT OR REPLACE the two agree exactly: `_counts`, the FTS index
  (every row of an fts5vocab 'instance' table) and search results; and
  sqlite-utils' readers (`cached_counts`, `count` from the counts table,
  `has_counts_triggers`, `detect_fts`, `search`) work on the packs' database
  and give the same answers.
- With INSERT OR REPLACE while recursive_triggers is off, sqlite-utils'
  count grows by one for every row a REPLACE replaced and its index keeps
  the replaced rows' words, exactly as a model of its triggers predicts;
  the packs keep the count equal to count(*) and an index equal to one
  rebuilt from the table, which FTS5's integrity-check accepts.
"""
import random
import re
import sqlite3

import pytest
import sqlite_utils

from conftest import connect, scalar

SCHEMA = "CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT, body TEXT, n INTEGER NOT NULL DEFAULT 0)"
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()
MAX_ID = 30
COUNTS = '{"table": "item"}'
FTS = '{"table": "item", "columns": ["title", "body"]}'


def su(conn, **options):
    """sqlite-utils' Database over a connection. By default it turns
    recursive_triggers on for every connection it wraps (so REPLACE fires
    its delete triggers there); here the tests set that pragma themselves,
    as a plain connection leaves it (off)."""
    return sqlite_utils.Database(conn, recursive_triggers=False, **options)


# --- The two databases --------------------------------------------------------


def peers(seed_rows=()):
    """(theirs, ours): sqlite-utils' triggers and the packs on the same rows.
    Both connections have the extension loaded, so both run the same SQLite
    with the same functions; only ours uses it."""
    theirs, ours = connect(), connect()
    for conn in (theirs, ours):
        conn.execute(SCHEMA)
        conn.executemany("INSERT INTO item (id, title, body) VALUES (?, ?, ?)", seed_rows)
    table = su(theirs)["item"]
    table.enable_counts()
    table.enable_fts(["title", "body"], create_triggers=True)
    assert scalar(ours, "SELECT trigger_install('counts', ?)", COUNTS).startswith("installed counts")
    assert scalar(ours, "SELECT trigger_install('fts_sync', ?)", FTS).startswith("installed fts_sync")
    return theirs, ours


def text(rng):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))


def seed_rows(rng, n=12):
    return [(i, text(rng), text(rng) if rng.random() < 0.8 else None) for i in rng.sample(range(1, MAX_ID + 1), n)]


def random_op(rng, replace, ids, ignore_new):
    """One write: (kind, sql, params). Keys collide often, on purpose. An
    INSERT OR IGNORE takes an existing id unless `ignore_new`."""
    kinds = ["insert", "insert", "insert_auto", "insert_two", "ignore", "upsert", "upsert_nothing",
             "update_text", "update_other", "update_same", "move", "delete", "delete_range", "recursive"]
    if replace:
        kinds += ["replace"] * 4
    kind = rng.choice(kinds)
    key = lambda: rng.randint(1, MAX_ID)  # noqa: E731
    body = lambda: text(rng) if rng.random() < 0.8 else None  # noqa: E731
    if kind == "ignore" and not ignore_new:
        if not ids:
            kind = "insert"
        else:
            return kind, "INSERT OR IGNORE INTO item (id, title, body) VALUES (?, ?, ?)", (
                rng.choice(sorted(ids)), text(rng), body())
    if kind == "insert":
        return kind, "INSERT INTO item (id, title, body) VALUES (?, ?, ?)", (key(), text(rng), body())
    if kind == "insert_auto":
        return kind, "INSERT INTO item (title, body) VALUES (?, ?)", (text(rng), body())
    if kind == "insert_two":
        return kind, "INSERT INTO item (id, title, body) VALUES (?, ?, ?), (?, ?, ?)", (
            key(), text(rng), body(), key(), text(rng), body())
    if kind == "ignore":
        return kind, "INSERT OR IGNORE INTO item (id, title, body) VALUES (?, ?, ?)", (key(), text(rng), body())
    if kind == "upsert":
        return kind, ("INSERT INTO item (id, title, body) VALUES (?, ?, ?) "
                      "ON CONFLICT (id) DO UPDATE SET title = excluded.title"), (key(), text(rng), body())
    if kind == "upsert_nothing":
        return kind, "INSERT INTO item (id, title) VALUES (?, ?) ON CONFLICT DO NOTHING", (key(), text(rng))
    if kind == "update_text":
        return kind, "UPDATE item SET body = ? WHERE id = ?", (body(), key())
    if kind == "update_other":
        return kind, "UPDATE item SET n = n + 1 WHERE id % ? = 0", (rng.randint(1, 4),)
    if kind == "update_same":
        return kind, "UPDATE item SET title = title, body = body WHERE id = ?", (key(),)
    if kind == "move":
        return kind, "UPDATE item SET id = ? WHERE id = ?", (rng.randint(1, MAX_ID + 10), key())
    if kind == "delete":
        return kind, "DELETE FROM item WHERE id = ?", (key(),)
    if kind == "delete_range":
        low = key()
        return kind, "DELETE FROM item WHERE id BETWEEN ? AND ?", (low, low + rng.randint(0, 3))
    if kind == "recursive":
        return kind, f"PRAGMA recursive_triggers = {rng.randint(0, 1)}", ()
    return kind, "INSERT OR REPLACE INTO item (id, title, body) VALUES (?, ?, ?)", (key(), text(rng), body())


def run(conn, sql, params):
    """Runs a write; returns the error's class and message, or None."""
    try:
        conn.execute(sql, params)
    except sqlite3.Error as e:
        return type(e).__name__, str(e)
    return None


def rows(conn):
    return conn.execute("SELECT id, title, body FROM item ORDER BY id").fetchall()


# --- What the two databases hold ----------------------------------------------


def counts(conn):
    return conn.execute('SELECT "table", count FROM _counts ORDER BY "table"').fetchall()


def instances(conn):
    """Every entry of the FTS index: (term, rowid, column, offset)."""
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.item_fts_instance USING fts5vocab(main, item_fts, instance)")
    return conn.execute("SELECT term, doc, col, offset FROM temp.item_fts_instance ORDER BY 1, 2, 3, 4").fetchall()


def terms_by_row(conn):
    """The index as a set of (term, rowid)."""
    return {(term, doc) for term, doc, _, _ in instances(conn)}


def words(*texts):
    return {w for t in texts if t for w in re.findall(r"[a-z0-9]+", t.lower())}


def table_terms(conn):
    """The (term, rowid) pairs an index of the table's rows holds."""
    return {(w, i) for i, title, body in rows(conn) for w in words(title, body)}


def integrity_error(conn):
    try:
        conn.execute("INSERT INTO item_fts (item_fts, rank) VALUES ('integrity-check', 1)")
    except sqlite3.DatabaseError as e:
        return str(e)
    return None


def rebuilt_instances(conn):
    """The index FTS5 builds from the table itself, in a copy of the database."""
    copy = connect()
    conn.backup(copy)
    copy.execute("INSERT INTO item_fts (item_fts) VALUES ('rebuild')")
    return instances(copy)


def search_ids(conn, query):
    """sqlite-utils' search(), through its own reader: the ids, best first."""
    return [r["id"] for r in su(conn)["item"].search(query)]


def drive(theirs, ours, rng, steps, replace, ignore_new=False):
    """The same random writes to both databases, which must hold the same
    rows after each. Returns the model of sqlite-utils' triggers: the rows
    a REPLACE replaced while recursive_triggers was off, the rows INSERT OR
    IGNORE added (its count is off by the first minus the second), and the
    (term, rowid) pairs its index holds."""
    replaced = ignored = 0
    stale_model = table_terms(theirs)
    recursive = 0
    for _ in range(steps):
        before = dict((i, (t, b)) for i, t, b in rows(ours))
        kind, sql, params = random_op(rng, replace, before.keys(), ignore_new)
        error = run(theirs, sql, params)
        assert run(ours, sql, params) == error, (sql, params)
        if kind == "recursive":
            recursive = int(sql[-1])
        after = dict((i, (t, b)) for i, t, b in rows(ours))
        assert rows(theirs) == rows(ours), (sql, params)
        # sqlite-utils' count trigger writes with INSERT OR REPLACE, which
        # the statement's own OR IGNORE overrides: a row INSERT OR IGNORE
        # adds is not counted.
        if kind == "ignore" and params[0] not in before:
            ignored += 1
        # Its FTS triggers, as the model sees them: a row gone or changed
        # takes its words out (a 'delete' with its values: each (word,
        # rowid) of them leaves the index, however often it went in), a row
        # new or changed puts its words in; an update to the same values
        # takes them out and puts them back. A REPLACE while
        # recursive_triggers is off takes nothing out, and counts one more.
        if kind == "replace" and params[0] in before and not recursive:
            replaced += 1
            stale_model |= {(w, params[0]) for w in words(*after[params[0]])}
            continue
        for i, values in before.items():
            if after.get(i) != values:
                stale_model -= {(w, i) for w in words(*values)}
        for i, values in after.items():
            if before.get(i) != values:
                stale_model |= {(w, i) for w in words(*values)}
    return replaced, ignored, stale_model


# --- Without REPLACE: the same answers ----------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_without_replace_counts_and_index_equal_sqlite_utils(seed):
    rng = random.Random(seed)
    theirs, ours = peers(seed_rows(rng))
    assert drive(theirs, ours, rng, steps=250, replace=False)[:2] == (0, 0)
    n = scalar(ours, "SELECT count(*) FROM item")
    assert counts(ours) == counts(theirs) == [("item", n)]
    assert instances(ours) == instances(theirs)
    assert terms_by_row(ours) == table_terms(ours)
    assert integrity_error(ours) is None
    assert integrity_error(theirs) is None
    for word in WORDS:
        assert search_ids(ours, word) == search_ids(theirs, word)
        assert sorted(search_ids(ours, word)) == [i for i, t, b in rows(ours) if word in words(t, b)]


def test_sqlite_utils_reads_the_packs_database():
    rng = random.Random(100)
    theirs, ours = peers(seed_rows(rng))
    drive(theirs, ours, rng, steps=100, replace=False)
    n = scalar(ours, "SELECT count(*) FROM item")
    for conn in (theirs, ours):
        db = su(conn, use_counts_table=True)
        table = db["item"]
        assert db.cached_counts() == {"item": n}
        assert db.cached_counts(["item"]) == {"item": n}
        assert table.count == n
        assert table.has_counts_triggers
        assert table.detect_fts() == "item_fts"
        assert {"item_ai", "item_ad", "item_au", "item_counts_insert", "item_counts_delete"} <= set(
            table.triggers_dict)
    # count comes from _counts, not count(*): a wrong number there shows.
    ours.execute("UPDATE _counts SET count = count + 7")
    assert su(ours, use_counts_table=True)["item"].count == n + 7
    assert su(ours)["item"].count == n
    # search() on ours, with ranks, limits and columns, as on theirs.
    for conn in (theirs, ours):
        conn.execute("INSERT INTO item (id, title, body) VALUES (900, 'zulu zulu zulu', 'zulu'), (901, 'zulu', NULL)")
    results = [
        [dict(r) for r in su(conn)["item"].search(
            "zulu", columns=["id", "title"], include_rank=True, limit=5)]
        for conn in (theirs, ours)
    ]
    assert results[0] == results[1]
    assert [r["id"] for r in results[1]] == [900, 901]


# --- With REPLACE: sqlite-utils drifts, the packs do not -------------------------


@pytest.mark.parametrize("seed", range(8))
def test_replace_with_recursive_triggers_off_drifts_only_in_sqlite_utils(seed):
    rng = random.Random(1000 + seed)
    theirs, ours = peers(seed_rows(rng))
    replaced, ignored, stale_model = drive(theirs, ours, rng, steps=250, replace=True, ignore_new=True)
    assert replaced > 0 and ignored > 0  # the sequence did both
    n = scalar(ours, "SELECT count(*) FROM item")
    # sqlite-utils: one too many for every row replaced so, one too few for
    # every row INSERT OR IGNORE added.
    assert counts(theirs) == [("item", n + replaced - ignored)]
    assert su(theirs, use_counts_table=True)["item"].count == n + replaced - ignored
    # Its index: the model's, with the replaced rows' words still in it. Its
    # search finds rows by words they no longer hold, and fails on a word
    # left behind by a row that is gone.
    assert terms_by_row(theirs) == stale_model
    assert stale_model != table_terms(theirs)
    assert integrity_error(theirs) is not None
    ids = {i for i, _, _ in rows(theirs)}
    for word in WORDS:
        found = sorted(i for w, i in stale_model if w == word)
        if set(found) <= ids:
            assert sorted(search_ids(theirs, word)) == found
        else:
            with pytest.raises(sqlite3.DatabaseError, match="database disk image is malformed"):
                search_ids(theirs, word)
    # The packs: the count is count(*), the index is the table's.
    assert counts(ours) == [("item", n)]
    assert su(ours, use_counts_table=True)["item"].count == n
    assert terms_by_row(ours) == table_terms(ours)
    assert instances(ours) == rebuilt_instances(ours)
    assert integrity_error(ours) is None
    for word in WORDS:
        assert sorted(search_ids(ours, word)) == [i for i, t, b in rows(ours) if word in words(t, b)]


def test_replace_keeps_stale_words_searchable_in_sqlite_utils_only():
    rows0 = [(1, "alpha bravo", "charlie"), (2, "delta", None)]
    theirs, ours = peers(rows0)
    for conn in (theirs, ours):
        conn.execute("INSERT OR REPLACE INTO item (id, title, body) VALUES (1, 'echo', 'foxtrot')")
    # sqlite-utils finds row 1 by words it no longer holds, and counts 3 rows.
    assert search_ids(theirs, "alpha") == [1]
    assert search_ids(theirs, "echo") == [1]
    assert counts(theirs) == [("item", 3)]
    assert search_ids(ours, "alpha") == []
    assert search_ids(ours, "echo") == [1]
    assert counts(ours) == [("item", 2)]
    # A 'rebuild' gives sqlite-utils' index the packs' one.
    theirs.execute("INSERT INTO item_fts (item_fts) VALUES ('rebuild')")
    assert instances(theirs) == instances(ours)


@pytest.mark.parametrize("seed", range(4))
def test_replace_with_recursive_triggers_on_agrees(seed):
    rng = random.Random(2000 + seed)
    theirs, ours = peers(seed_rows(rng))
    for conn in (theirs, ours):
        conn.execute("PRAGMA recursive_triggers = ON")
    for _ in range(250):
        kind, sql, params = random_op(rng, True, [i for i, _, _ in rows(ours)], ignore_new=False)
        if kind == "recursive":
            continue
        error = run(theirs, sql, params)
        assert run(ours, sql, params) == error, (sql, params)
    n = scalar(ours, "SELECT count(*) FROM item")
    assert counts(ours) == counts(theirs) == [("item", n)]
    assert instances(ours) == instances(theirs) == rebuilt_instances(ours)
    assert integrity_error(ours) is None and integrity_error(theirs) is None


@pytest.mark.parametrize("verb, theirs_error, theirs_counted", [
    ("INSERT", None, True),
    ("INSERT OR IGNORE", None, False),
    ("INSERT OR FAIL", "UNIQUE constraint failed: _counts.table", False),
    ("INSERT OR ABORT", "UNIQUE constraint failed: _counts.table", False),
    ("INSERT OR ROLLBACK", "UNIQUE constraint failed: _counts.table", False),
])
def test_a_conflict_clause_on_the_insert(verb, theirs_error, theirs_counted):
    # SQLite runs a trigger's statements under the conflict clause of the
    # statement that fired it: sqlite-utils' count trigger, an INSERT OR
    # REPLACE into _counts, becomes an OR IGNORE (the count is not written)
    # or an OR FAIL/ABORT/ROLLBACK (the write fails on _counts' key). The
    # pack's upsert keeps its own ON CONFLICT, and every new row is counted.
    theirs, ours = peers([(1, "alpha", None)])
    sql = f"{verb} INTO item (id, title) VALUES (2, 'bravo')"
    error = run(theirs, sql, ())
    assert error == (None if theirs_error is None else ("IntegrityError", theirs_error))
    assert run(ours, sql, ()) is None
    assert counts(ours) == [("item", 2)]
    inserted = scalar(theirs, "SELECT count(*) FROM item") - 1
    assert inserted == (verb in ("INSERT", "INSERT OR IGNORE", "INSERT OR FAIL"))
    assert counts(theirs) == [("item", 1 + theirs_counted)]
    assert integrity_error(ours) is None


# --- Rows left over by INSERT OR IGNORE and upserts ------------------------------


@pytest.mark.parametrize("write", [
    "INSERT OR IGNORE INTO item (id, title) VALUES (5, 'ignored')",
    "INSERT INTO item (id, title) VALUES (5, 'upserted') ON CONFLICT (id) DO UPDATE SET title = excluded.title",
    "INSERT INTO item (id, title) VALUES (5, 'nothing') ON CONFLICT DO NOTHING",
])
def test_a_row_taking_the_key_of_an_ignored_insert_is_counted_and_indexed(write):
    # Row 5, the highest, is kept by the write; then it moves below, and the
    # next insert without an id takes 5 again.
    theirs, ours = peers([(1, "alpha", None), (5, "bravo charlie", "delta")])
    for conn in (theirs, ours):
        conn.execute(write)
        conn.execute("UPDATE item SET id = 3 WHERE id = 5")
        conn.execute("INSERT INTO item (id, title) VALUES (4, 'golf')")
        conn.execute("INSERT INTO item (title) VALUES ('echo')")
    assert rows(ours) == rows(theirs)
    assert [r[0] for r in rows(ours)] == [1, 3, 4, 5]
    assert counts(ours) == counts(theirs) == [("item", 4)]
    assert integrity_error(ours) is None
    assert instances(ours) == instances(theirs)
    assert search_ids(ours, "echo") == [5]


def test_ignored_rows_leave_nothing_behind():
    theirs, ours = peers()
    data = [{"id": i, "title": f"row {i} " + "alpha " * 20, "body": None} for i in range(1, 201)]
    for conn in (theirs, ours):
        table = su(conn)["item"]
        table.insert_all(data)
        table.insert_all(data, ignore=True)
        table.upsert_all([dict(d, title="bravo") for d in data], pk="id")
    # At most the last ignored row's note is left, until the next insert.
    assert scalar(ours, "SELECT count(*) FROM item_counts_replaced") <= 1
    assert scalar(ours, "SELECT count(*) FROM item_fts_replaced") <= 1
    for conn in (theirs, ours):
        conn.execute("INSERT INTO item (title) VALUES ('charlie')")
    assert scalar(ours, "SELECT count(*) FROM item_counts_replaced") == 0
    assert scalar(ours, "SELECT count(*) FROM item_fts_replaced") == 0
    assert counts(ours) == counts(theirs) == [("item", 201)]
    assert instances(ours) == instances(theirs)


# --- trusted_schema=OFF -----------------------------------------------------------


def fts5_writable_from_triggers_when_untrusted():
    """Whether this SQLite lets a trigger write to an FTS5 table under
    trusted_schema=OFF: only when FTS5 marks its tables innocuous, which
    newer releases do (3.53 does; the system's 3.40.1 does not)."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript("""
        CREATE TABLE t (x);
        CREATE VIRTUAL TABLE t_fts USING fts5(x);
        CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN INSERT INTO t_fts (x) VALUES (new.x); END;
        PRAGMA trusted_schema = OFF;
    """)
    return run(conn, "INSERT INTO t (x) VALUES ('probe')", ()) is None


def test_trusted_schema_off():
    theirs, ours = peers([(1, "alpha", None)])
    for conn in (theirs, ours):
        conn.execute("PRAGMA trusted_schema = OFF")
    writable = fts5_writable_from_triggers_when_untrusted()
    if sqlite3.sqlite_version_info[:3] == (3, 40, 1):
        assert not writable
    # Searching works. Where SQLite forbids a trigger to write to an FTS5
    # table, every write to the table fails, with sqlite-utils' triggers as
    # with the pack's; where it allows it, both work.
    for conn in (theirs, ours):
        assert search_ids(conn, "alpha") == [1]
        error = run(conn, "INSERT INTO item (id, title) VALUES (2, 'bravo')", ())
        assert error == (None if writable else ("OperationalError", 'unsafe use of virtual table "item_fts"'))
    assert rows(ours) == rows(theirs)
    # counts alone is plain SQL: it works whatever trusted_schema says.
    su(theirs)["item"].disable_fts()
    assert scalar(ours, "SELECT trigger_uninstall('fts_sync', 'item')").startswith("uninstalled fts_sync")
    for conn in (theirs, ours):
        conn.execute("INSERT OR REPLACE INTO item (id, title) VALUES (1, 'charlie'), (3, 'delta')")
        conn.execute("DELETE FROM item WHERE id = 2")
    assert rows(ours) == rows(theirs)
    n = scalar(ours, "SELECT count(*) FROM item")
    assert counts(ours) == [("item", n)]
    assert counts(theirs) == [("item", n + 1)]
