"""A property test: every function that takes an identifier or a name works
with any valid Unicode name, in Python's sqlite3 (SQLite 3.40.1) and apsw
(the newest SQLite).

Names are drawn from a seeded generator (`random_name`): multi-byte text,
combining marks, right-to-left text and controls, emoji (with joiners),
quotes (' " `), brackets, `*/`, `/*`, `--`, `;`, spaces and newlines, SQL
keywords, very long names, and names differing from another only in ASCII
case (SQLite's names are one object) or only in non-ASCII case (two
objects). For each function the test creates the tables with those names,
checks that the objects are created, that they work (a write fires the
trigger and has its effect), that they round-trip through the listings
(trigger_packs, trigger_listeners, sqlite_master) and that uninstall,
unlisten, uncapture and unwatch leave the schema as it was. No run may
print panic text on the process's stderr.

Each example has its own seed, shown in every failure; rerun one with
SQLITE_TRIGGERS_UNICODE_SEED=<seed> SQLITE_TRIGGERS_UNICODE_EXAMPLES=1.
SQLITE_TRIGGERS_SOAK=1 runs many more examples (SQLITE_TRIGGERS_UNICODE_EXAMPLES
sets the number either way).
"""
import json
import os
import random
import shutil
import subprocess
import sys

import pytest

import sqlhosts

SOAK = os.environ.get("SQLITE_TRIGGERS_SOAK") == "1"
EXAMPLES = int(os.environ.get("SQLITE_TRIGGERS_UNICODE_EXAMPLES", "3000" if SOAK else "60"))
SEED = int(os.environ.get("SQLITE_TRIGGERS_UNICODE_SEED", "20261201"))

KEYWORDS = ["select", "FROM", "where", "table", "Order", "group", "index", "trigger", "end",
            "BEGIN", "key", "values", "null", "default", "check", "rowid", "oid", "_rowid_",
            "new", "old", "when", "on", "update", "delete", "insert", "json", "main", "temp"]
PIECES = [
    "日本語テーブル", "名前", "ü", "Ωμέγα", "Привет", "한국어", "ß", "ﬁ", "İı",  # multi-byte
    "e\u0301", "a\u0308\u0323", "\u0301lead",                                   # combining marks
    "שלום", "مرحبا", "\u202eevil\u202c", "\u200f", "\u200bzw",                 # right-to-left, invisible
    "🙂", "👨\u200d👩\u200d👧", "🇯🇵", "🏳️\u200d🌈",                                # emoji
    "'", '"', "`", "[", "]", "''", '""',                                        # quotes
    "*/", "/*", "--", ";", "(", ")", ",", ".", "?", ":", "@", "$", "%", "{", "}", "\\",
    " ", "  ", "\t", "\n",
    "x", "Ab", "_", "1",
]
# Letters whose case SQLite does not fold: 'É' and 'é' name two tables.
NON_ASCII_CASED = ["É", "é", "Σ", "σ", "Ж", "ж", "Ǆ", "ǅ", "ǆ"]


def random_name(rng):
    kind = rng.random()
    if kind < 0.12:
        name = rng.choice(KEYWORDS)
    elif kind < 0.16:
        name = rng.choice(PIECES + KEYWORDS) * rng.randint(100, 1500)  # very long
    else:
        name = "".join(rng.choice(PIECES + NON_ASCII_CASED + KEYWORDS)
                       for _ in range(rng.randint(1, 5)))
    if name.lower().startswith("sqlite_"):
        name = "x" + name
    return name


def ascii_swapcase(name):
    return "".join(c.swapcase() if c.isascii() else c for c in name)


def non_ascii_swapcase(name):
    return "".join(c.swapcase() if not c.isascii() and len(c.swapcase()) == 1 else c for c in name)


def fold(name):
    """SQLite's name equality: ASCII case-insensitive."""
    return "".join(c.lower() if c.isascii() else c for c in name)


class Names:
    """Distinct names (as SQLite compares them) for one example."""

    def __init__(self, rng):
        self.rng = rng
        self.taken = set()

    def new(self):
        while True:
            name = random_name(self.rng)
            if fold(name) not in self.taken:
                self.taken.add(fold(name))
                return name

    def twin(self, name):
        """A name differing from `name` only in non-ASCII case, or None."""
        other = non_ascii_swapcase(name)
        if other == name or fold(other) in self.taken:
            return None
        self.taken.add(fold(other))
        return other

    def spelled(self, name):
        """`name` as a caller may spell it: sometimes in other ASCII case."""
        return ascii_swapcase(name) if self.rng.random() < 0.3 else name


def q(name):
    return '"' + name.replace('"', '""') + '"'


def lit(text):
    return "'" + text.replace("'", "''") + "'"


def as_json(rng, value):
    return json.dumps(value, ensure_ascii=rng.random() < 0.5)


def schema(h, conn):
    return h.rows(conn, "SELECT type, name, tbl_name, sql FROM sqlite_master "
                        "UNION ALL SELECT type, name, tbl_name, sql FROM sqlite_temp_master ORDER BY 1, 2, 3")


def one(h, conn, sql, params=()):
    return h.rows(conn, sql, params)[0][0]


def objects(h, conn, kind):
    return {r[0] for r in h.rows(conn, "SELECT name FROM sqlite_master WHERE type = ?", (kind,))}


# --- one scenario per group of functions; each gets a fresh connection ----

def packs(h, conn, rng, names):
    """task_state and default_album with every identifier parameter random."""
    o, t = names.new(), names.new()
    ok, os_, tf, ts = names.new(), names.new(), names.new(), names.new()
    trig, idx = names.new(), names.new()
    h.script(conn, f"CREATE TABLE {q(o)} ({q(ok)} INTEGER PRIMARY KEY, {q(os_)} INTEGER);"
                   f"CREATE TABLE {q(t)} ({q(tf)} INTEGER, {q(ts)} INTEGER);")
    before = schema(h, conn)
    # obs_key "rowid" is the rowid, unless a declared column takes that name.
    by_rowid = rng.random() < 0.2 and fold(os_) != "rowid"
    params = {"obs_table": names.spelled(o), "obs_key": "rowid" if by_rowid else names.spelled(ok), "obs_state": names.spelled(os_),
              "task_table": names.spelled(t), "task_obs_fk": names.spelled(tf),
              "task_state": names.spelled(ts), "trigger_name": trig, "index_name": idx}
    pj = as_json(rng, params)
    sql = one(h, conn, "SELECT trigger_pack_sql('task_state', ?)", (pj,))
    one(h, conn, "SELECT trigger_install('task_state', ?)", (pj,))
    assert trig in objects(h, conn, "trigger"), "the pack's trigger is created under its name"
    assert idx in objects(h, conn, "index"), "the pack's index is created under its name"
    listed = h.rows(conn, "SELECT installed, installed_params FROM trigger_packs WHERE name = 'task_state'")
    assert listed[0][0] == 1 and json.loads(listed[0][1])["trigger_name"] == trig, listed
    h.script(conn, f"INSERT INTO {q(o)} VALUES (1, 0); INSERT INTO {q(t)} VALUES (1, 0), (9, 0);"
                   f"UPDATE {q(o)} SET {q(os_)} = 2;")
    assert h.rows(conn, f"SELECT {q(tf)}, {q(ts)} FROM {q(t)} ORDER BY 1") == [(1, 2), (9, 0)]
    # The rendered SQL does the same in a host without the extension.
    plain = h.connect(load=False)
    h.script(plain, f"CREATE TABLE {q(o)} ({q(ok)} INTEGER PRIMARY KEY, {q(os_)} INTEGER);"
                    f"CREATE TABLE {q(t)} ({q(tf)} INTEGER, {q(ts)} INTEGER);")
    h.script(plain, sql)
    h.script(plain, f"INSERT INTO {q(o)} VALUES (1, 0); INSERT INTO {q(t)} VALUES (1, 0);"
                    f"UPDATE {q(o)} SET {q(os_)} = 2;")
    assert h.rows(plain, f"SELECT {q(ts)} FROM {q(t)}") == [(2,)]
    plain.close()
    one(h, conn, "SELECT trigger_uninstall('task_state')")
    assert schema(h, conn) == before, "uninstall leaves the schema as it was"

    u, a = names.new(), names.new()
    uk, af, an = names.new(), names.new(), names.new()
    album_name = random_name(rng)
    trig, idx = names.new(), names.new()
    h.script(conn, f"CREATE TABLE {q(u)} ({q(uk)} INTEGER PRIMARY KEY);"
                   f"CREATE TABLE {q(a)} ({q(af)} INTEGER, {q(an)} TEXT);")
    before = schema(h, conn)
    pj = as_json(rng, {"user_table": names.spelled(u), "user_key": names.spelled(uk),
                       "album_table": names.spelled(a), "album_user_fk": names.spelled(af),
                       "album_name_column": names.spelled(an), "album_name": album_name,
                       "trigger_name": trig, "index_name": idx})
    one(h, conn, "SELECT trigger_install('default_album', ?)", (pj,))
    assert trig in objects(h, conn, "trigger") and idx in objects(h, conn, "index")
    h.script(conn, f"INSERT INTO {q(u)} VALUES (5)")
    assert h.rows(conn, f"SELECT {q(af)}, {q(an)} FROM {q(a)}") == [(5, album_name)]
    one(h, conn, "SELECT trigger_uninstall('default_album')")
    assert schema(h, conn) == before


def listeners(h, conn, rng, names):
    t, audit = names.new(), names.new()
    c1, c2, ac = names.new(), names.new(), names.new()
    twin = names.twin(t)
    h.script(conn, f"CREATE TABLE {q(t)} ({q(c1)}, {q(c2)}); CREATE TABLE {q(audit)} ({q(ac)});")
    if twin:
        h.script(conn, f"CREATE TABLE {q(twin)} ({q(c1)}, {q(c2)});")
    before = schema(h, conn)
    name = names.new()
    action = f"INSERT INTO {q(audit)} ({q(ac)}) VALUES (NEW.{q(c1)})"
    opts = as_json(rng, {"columns": [names.spelled(c1)], "name": name,
                         "when": f"NEW.{q(names.spelled(c1))} IS NOT OLD.{q(c1)}"})
    got = one(h, conn, "SELECT trigger_listen(?, 'after_update', ?, ?)", (names.spelled(t), action, opts))
    assert got == name
    unnamed = one(h, conn, "SELECT trigger_listen(?, 'after_insert', ?)", (names.spelled(t), action))
    assert {name, unnamed} <= objects(h, conn, "trigger")
    if ascii_swapcase(name) != name:
        with pytest.raises(h.Error, match="already exists"):
            one(h, conn, "SELECT trigger_listen(?, 'after_delete', 'SELECT 1', ?)",
                (t, json.dumps({"name": ascii_swapcase(name)})))
    listed = {r[0]: r[1:] for r in h.rows(conn, "SELECT name, table_name, event, columns FROM trigger_listeners")}
    assert listed[name][:2] == (t, "after_update"), listed[name]
    assert json.loads(listed[name][2]) == [c1], listed[name]
    assert listed[unnamed][:2] == (t, "after_insert"), listed[unnamed]
    h.script(conn, f"INSERT INTO {q(t)} VALUES ('v1', 'w1')")           # after_insert: one row
    h.script(conn, f"UPDATE {q(t)} SET {q(c2)} = 'w2'")                 # not an UPDATE OF c1
    h.script(conn, f"UPDATE {q(t)} SET {q(c1)} = 'v2'")                 # after_update: one row
    h.script(conn, f"UPDATE {q(t)} SET {q(c1)} = 'v2'")                 # WHEN is false
    if twin:
        h.script(conn, f"INSERT INTO {q(twin)} VALUES ('twin', 'x'); UPDATE {q(twin)} SET {q(c1)} = 'twin'")
    assert h.rows(conn, f"SELECT {q(ac)} FROM {q(audit)} ORDER BY rowid") == [("v1",), ("v2",)]
    assert one(h, conn, "SELECT trigger_unlisten(?)", (names.spelled(name),)) == name
    assert one(h, conn, "SELECT trigger_unlisten(?)", (unnamed,)) == unnamed
    assert schema(h, conn) == before


def capture(h, conn, rng, names):
    one(h, conn, "SELECT trigger_outbox_init()")
    t = names.new()
    cols = [names.new() for _ in range(rng.randint(1, 4))]
    twin = names.twin(t)
    # The key: the rowid (no PRIMARY KEY), one INTEGER PRIMARY KEY column,
    # or a composite key (sometimes WITHOUT ROWID).
    shape = rng.choice(["rowid", "integer", "composite", "without_rowid"]) if len(cols) > 1 else "rowid"
    decl = ", ".join(q(c) + (" INTEGER PRIMARY KEY" if shape == "integer" and c == cols[0] else "") for c in cols)
    if shape in ("composite", "without_rowid"):
        decl += f", PRIMARY KEY ({q(cols[1])}, {q(cols[0])})"
    h.script(conn, f"CREATE TABLE {q(t)} ({decl}){' WITHOUT ROWID' if shape == 'without_rowid' else ''}")
    if twin:
        h.script(conn, f"CREATE TABLE {q(twin)} ({q(cols[0])})")
    before = schema(h, conn)
    if shape == "rowid":
        # Capture refuses a table without a PRIMARY KEY and changes nothing.
        with pytest.raises(h.Error, match="has no PRIMARY KEY"):
            one(h, conn, "SELECT trigger_capture(?)", (names.spelled(t),))
        assert schema(h, conn) == before
        return
    channel = random_name(rng) if rng.random() < 0.5 else None
    args = (names.spelled(t),) + ((as_json(rng, {"channel": channel}),) if channel else ())
    one(h, conn, f"SELECT trigger_capture({', '.join('?' * len(args))})", args)
    triggers = {r[0] for r in h.rows(conn, "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                           "AND tbl_name = ? COLLATE NOCASE", (t,))}
    # A composite key of a rowid table may be NULL: two more triggers refuse that.
    ops = ("insert", "update", "delete", "update_key", "before_insert", "before_update")
    if shape == "composite":
        ops += ("null_key_insert", "null_key_update")
    assert {fold(n) for n in triggers} == {fold(f"{t}_capture_{op}") for op in ops}, triggers
    values = [7] + [f"v{i}" for i in range(1, len(cols))]
    h.rows(conn, f"INSERT INTO {q(t)} VALUES ({', '.join('?' * len(cols))})", tuple(values))
    h.script(conn, f"UPDATE {q(t)} SET {q(cols[0])} = 8; DELETE FROM {q(t)}")
    if twin:
        h.script(conn, f"INSERT INTO {q(twin)} VALUES ('twin')")
    events = h.rows(conn, "SELECT channel, payload FROM trigger_outbox ORDER BY seq")
    assert [e[0] for e in events] == [channel or t] * 3, events
    payloads = [json.loads(e[1]) for e in events]
    assert [p["op"] for p in payloads] == ["insert", "update", "delete"]
    assert payloads[0]["new"] == dict(zip(cols, values)), payloads[0]
    assert payloads[1]["new"] == dict(zip(cols, [8] + values[1:])), payloads[1]
    assert payloads[2]["old"] == payloads[1]["new"] and payloads[2]["new"] is None
    keys = {"rowid": [1, 1, 1], "integer": [7, 8, 8]}.get(shape) or [[values[1], k] for k in (7, 8, 8)]
    assert [p["key"] for p in payloads] == keys, (shape, payloads)
    if twin:
        with pytest.raises(h.Error, match="is not captured"):
            one(h, conn, "SELECT trigger_uncapture(?)", (twin,))
    one(h, conn, "SELECT trigger_uncapture(?)", (names.spelled(t),))
    assert schema(h, conn) == before


def watch(h, conn, rng, names):
    t = names.new()
    twin = names.twin(t)
    h.script(conn, f"CREATE TABLE {q(t)} (x)")
    if twin:
        h.script(conn, f"CREATE TABLE {q(twin)} (x)")
    before = schema(h, conn)
    star = rng.random() < 0.3
    one(h, conn, "SELECT trigger_watch(?)", ("*" if star else names.spelled(t),))
    assert len(h.rows(conn, "SELECT name FROM sqlite_temp_master WHERE type = 'trigger' AND tbl_name = ? COLLATE NOCASE", (t,))) > 0
    h.script(conn, f"INSERT INTO {q(t)} VALUES (1); INSERT INTO {q(t)} VALUES (2)")
    if twin and not star:
        h.script(conn, f"INSERT INTO {q(twin)} VALUES (3)")
    h.script(conn, f"BEGIN; INSERT INTO {q(t)} VALUES (3); SAVEPOINT s; INSERT INTO {q(t)} VALUES (4); "
                   f"ROLLBACK TO s; RELEASE s; COMMIT")
    rows = h.rows(conn, "SELECT db, table_name, op FROM trigger_changes WHERE op <> 'dropped' ORDER BY seq")
    assert rows == [("main", t, "insert")] * 3, rows
    one(h, conn, "SELECT trigger_unwatch(?)", ("*" if star else names.spelled(t),))
    assert schema(h, conn) == before


def outbox(h, conn, rng, names, tmp_path):
    channel, consumer = random_name(rng), random_name(rng)
    seq = one(h, conn, "SELECT trigger_emit(?, ?)", (channel, "payload"))
    assert h.rows(conn, "SELECT channel, payload FROM trigger_outbox WHERE seq = ?", (seq,)) == [(channel, "payload")]
    assert one(h, conn, "SELECT trigger_ack(?, ?)", (consumer, seq)) == seq
    assert one(h, conn, "SELECT trigger_cursor(?)", (consumer,)) == seq
    assert h.rows(conn, "SELECT consumer FROM trigger_outbox_consumers") == [(consumer,)]
    for other in {ascii_swapcase(consumer), non_ascii_swapcase(consumer)} - {consumer}:
        assert one(h, conn, "SELECT trigger_cursor(?)", (other,)) == 0, "consumers are exact names"
    assert one(h, conn, "SELECT trigger_wait(0, 0, ?)", (channel,)) == seq
    for other in {ascii_swapcase(channel), non_ascii_swapcase(channel)} - {channel}:
        assert one(h, conn, "SELECT trigger_wait(0, 0, ?)", (other,)) is None, "channels are exact names"
    assert one(h, conn, "SELECT trigger_wait(?, 0, ?)", (seq, channel)) is None


def shown(names):
    return repr([n if len(n) < 80 else f"{n[:40]}...({len(n)} chars)" for n in sorted(names.taken)])


SCENARIOS = ["packs", "listeners", "capture", "watch", "outbox"]


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("host", sqlhosts.HOSTS)
def test_random_unicode_names(host, scenario, tmp_path, capfd):
    h = sqlhosts.host(host)
    fn = globals()[scenario]
    for i in range(EXAMPLES):
        seed = f"{SEED}-{scenario}-{i}" if EXAMPLES > 1 or "SQLITE_TRIGGERS_UNICODE_SEED" not in os.environ else f"{SEED}"
        rng = random.Random(seed)
        names = Names(rng)
        path = tmp_path / f"{i}.db"
        conn = h.connect(str(path) if scenario == "outbox" else ":memory:")
        try:
            if scenario == "outbox":
                fn(h, conn, rng, names, tmp_path)
            else:
                fn(h, conn, rng, names)
        except Exception as e:
            raise AssertionError(f"{host} {scenario}, example seed {seed!r}, names {shown(names)}: "
                                 f"{type(e).__name__}: {e!s:.4000}") from e
        finally:
            conn.close()
            for p in tmp_path.glob(f"{i}.db*"):
                p.unlink()
    assert "panicked" not in capfd.readouterr().err
    if SOAK:
        with capfd.disabled():
            print(f"\nunicode {host} {scenario}: {EXAMPLES} examples passed (seed {SEED})")


# --- no panic text on a host's stderr -----------------------------------

# Calls that once panicked inside the extension (a byte slice through a
# multi-byte character in trigger_capture) and printed a backtrace on the
# host's stderr: they must succeed, with nothing on stderr. The panic hook
# itself is tested by the Rust unit test
# ffi::tests::a_caught_panic_prints_nothing_once_silenced.
PANIC_PROBES = [
    "CREATE TABLE \"日本語テーブル\"(x PRIMARY KEY); SELECT trigger_capture('日本語テーブル');",
    "CREATE TABLE \"sqliteé\"(x PRIMARY KEY); SELECT trigger_capture('sqliteé');",
    "CREATE TABLE \"sqlite日本\"(x PRIMARY KEY); SELECT trigger_capture('sqlite日本');",
    "CREATE TABLE \"🙂🙂🙂\"(x PRIMARY KEY); SELECT trigger_capture('🙂🙂🙂');",
]


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="no sqlite3 shell")
def test_no_panic_text_in_the_shell():
    script = "".join(f".load {sqlhosts.EXT}\n{p}\n" for p in PANIC_PROBES[:1]) + "\n".join(PANIC_PROBES[1:]) + "\n"
    run = subprocess.run(["sqlite3", ":memory:"], input=script, text=True, capture_output=True, timeout=60)
    assert "panicked" not in run.stderr and "backtrace" not in run.stderr, run.stderr
    assert run.stderr == "", run.stderr
    assert run.stdout.count("captured ") == len(PANIC_PROBES), run.stdout


@pytest.mark.parametrize("host", sqlhosts.HOSTS)
def test_no_panic_text_in_python_hosts(host):
    child = (
        "import sys; sys.path.insert(0, %r)\n"
        "import sqlhosts\n"
        "h = sqlhosts.host(%r)\n"
        "for probe in %r:\n"
        "    conn = h.connect()\n"
        "    try:\n"
        "        h.script(conn, probe)\n"
        "    except Exception as e:\n"
        "        print(type(e).__name__, e)\n"
        "    conn.close()\n"
    ) % (os.path.dirname(os.path.abspath(__file__)), host, PANIC_PROBES)
    run = subprocess.run([sys.executable, "-c", child], text=True, capture_output=True, timeout=60,
                         env={**os.environ, "SQLITE_TRIGGERS_EXT": sqlhosts.EXT})
    assert run.returncode == 0, run.stderr
    assert "panicked" not in run.stderr and "backtrace" not in run.stderr, run.stderr
    assert run.stdout == "", run.stdout
