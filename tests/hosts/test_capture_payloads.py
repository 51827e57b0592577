"""Capture payloads in real hosts (Python's sqlite3 on SQLite 3.40.1, apsw on
the newest SQLite, the sqlite3 shell 3.40.1): the triggers fire with
trusted_schema=OFF, every REAL reads back as exactly the same double, and
every text, whatever characters it holds, is a valid JSON string of exactly
that text."""
import json
import math
import random
import struct
import subprocess
import sys

import pytest

import sqlite3

from conftest import EXT, SQLITE3, connect, needs_shell, shell
from sqlhosts import HOSTS, host

SEED = 20261201


def payloads(h, conn):
    return [json.loads(p) for (p,) in h.rows(conn, "SELECT payload FROM trigger_outbox ORDER BY seq")]


@pytest.mark.parametrize("hostname", HOSTS)
def test_every_capture_trigger_fires_with_trusted_schema_off(hostname, tmp_path):
    h = host(hostname)
    db = str(tmp_path / "app.db")
    conn = h.connect(db)
    h.script(
        conn,
        "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, price REAL, photo BLOB, note);"
        "CREATE TABLE pair (a TEXT, b INTEGER, v, PRIMARY KEY (a, b)) WITHOUT ROWID;"
        "CREATE TABLE loose (x, y PRIMARY KEY);"
        # More columns than one printf() call takes on older SQLite builds.
        "CREATE TABLE wide (id INTEGER PRIMARY KEY, " + ", ".join(f"c{i}" for i in range(130)) + ");",
    )
    for t in ["item", "pair", "loose", "wide"]:
        h.rows(conn, f"SELECT trigger_capture('{t}')")
    generated = h.rows(
        conn, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%json%'"
    )[0][0]
    assert generated == 0
    conn.close()

    # A careful host: the schema is not trusted, and the extension is not
    # even loaded (the triggers are plain SQL).
    conn = h.connect(db, load=False)
    h.script(conn, "PRAGMA trusted_schema = OFF")
    assert h.rows(conn, "PRAGMA trusted_schema") == [(0,)]
    h.script(
        conn,
        "INSERT INTO item VALUES (1, 'tea \"x\" \\ y', 0.1 + 0.2, x'00ff', NULL);"
        "UPDATE item SET note = 'line 1' || char(10) || 'line 2', price = 9e999 WHERE id = 1;"
        "DELETE FROM item;"
        "INSERT INTO pair VALUES ('k', 2, 'v');"
        "UPDATE pair SET v = -9e999;"
        "DELETE FROM pair;"
        "INSERT INTO loose VALUES ('x', 1);"
        # The BEFORE trigger that notes the rows REPLACE deletes fires too.
        "REPLACE INTO loose VALUES ('z', 1);"
        "UPDATE loose SET y = 2;"
        "DELETE FROM loose;"
        "INSERT INTO wide (c0, c129) VALUES ('first', 'last');"
        "UPDATE wide SET c64 = 64;"
        "DELETE FROM wide;",
    )
    got = payloads(h, conn)
    assert [(p["op"], p["key"]) for p in got] == [
        ("insert", 1), ("update", 1), ("delete", 1),
        ("insert", ["k", 2]), ("update", ["k", 2]), ("delete", ["k", 2]),
        ("insert", 1), ("delete", 1), ("insert", 1), ("update", 2), ("delete", 2),
        ("insert", 1), ("update", 1), ("delete", 1),
    ]
    assert got[0]["new"] == {
        "id": 1, "name": 'tea "x" \\ y', "price": 0.30000000000000004,
        "photo": {"$blob": "00FF"}, "note": None,
    }
    assert got[1]["new"]["note"] == "line 1\nline 2"
    assert got[1]["new"]["price"] == math.inf
    assert got[4]["new"]["v"] == -math.inf
    assert got[7]["old"] == {"x": "x", "y": 1} and got[8]["new"] == {"x": "z", "y": 1}
    assert got[9]["old_key"] == 1
    assert got[11]["new"]["c0"] == "first" and got[11]["new"]["c129"] == "last"
    assert len(got[12]["old"]) == 131 and got[12]["new"]["c64"] == 64


def special_doubles():
    yield from [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308,
                1.7976931348623157e308, -1.7976931348623157e308, 0.1 + 0.2, 12345678.123456789,
                0.1, 1 / 3, 2 / 3, 1e23, 9007199254740993.0, 1e300, 1e-300, 123456789012345678.0,
                4.35, 0.3, 100.0, 1e15, 1e16, 1e17, 1e21, 1e22, math.pi, math.e]
    for e in range(-1074, 1024, 7):
        yield 2.0 ** e
        yield -(2.0 ** e) * 3
    for n in (1, 2, 3, 10, 2**31, 2**53 - 1, 2**53, 2**63):
        yield float(n)
        yield -float(n)


def random_doubles(rng, n):
    out = []
    while len(out) < n:
        (x,) = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))
        if not math.isnan(x):
            out.append(x)
    # Values with 17 significant digits, and subnormals.
    out += [float(f"{rng.randint(10**16, 10**17 - 1)}e{rng.randint(-320, 290)}") for _ in range(n // 4)]
    out += [rng.randint(1, 2**52) * 5e-324 for _ in range(n // 8)]
    return out


@pytest.mark.parametrize("hostname", HOSTS)
def test_every_real_reads_back_exactly(hostname):
    h = host(hostname)
    conn = h.connect()
    rng = random.Random(SEED)
    values = list(special_doubles()) + random_doubles(rng, 4000)
    h.script(conn, "CREATE TABLE r (id INTEGER PRIMARY KEY, x REAL, y)")
    h.rows(conn, "SELECT trigger_capture('r')")
    h.rows(conn, "BEGIN")
    for i, x in enumerate(values, 1):
        h.rows(conn, "INSERT INTO r VALUES (?, ?, ?)", (i, x, x))
    h.rows(conn, "COMMIT")
    # Integers stored in REAL columns come back as reals.
    h.script(conn, "INSERT INTO r VALUES (0, 42, 42.0)")

    # In SQL: json_extract() returns the very value the column holds.
    bad = h.rows(
        conn,
        "SELECT r.id, r.x, o.payload FROM trigger_outbox o JOIN r ON r.id = json_extract(o.payload, '$.key') "
        "WHERE NOT json_valid(o.payload) OR json_extract(o.payload, '$.new.x') IS NOT r.x "
        "OR json_extract(o.payload, '$.new.y') IS NOT r.y",
    )
    assert bad == []
    # In Python, which reads decimal text with correct rounding: the same bits.
    stored = dict(h.rows(conn, "SELECT id, x FROM r"))
    for (p,) in h.rows(conn, "SELECT payload FROM trigger_outbox"):
        doc = json.loads(p)
        x = stored[doc["key"]]
        for col in ("x", "y"):
            got = doc["new"][col]
            assert isinstance(got, float), p
            assert got == x, (p, repr(x))
            if x != 0:
                assert struct.pack("<d", got) == struct.pack("<d", x), (p, repr(x))
    assert len(stored) == len(values) + 1


TEXT_ALPHABET = [chr(c) for c in range(0x20)] + ['"', "\\", "/", "'", "a", "Z", " ", "%", "%s",
                                                 "é", "名", "🙂", "\u2028", "\u007f", "*/", "\\u0000"]


def random_texts(rng, n):
    yield from ["", "\x00", "\x00\x00", "a\x00", "\x00b", '"', "\\", "\\\"", "\n", "\x1f", "plain"]
    for _ in range(n):
        yield "".join(rng.choice(TEXT_ALPHABET) for _ in range(rng.randint(0, 12)))


@pytest.mark.parametrize("hostname", HOSTS)
def test_every_text_is_a_json_string_of_exactly_that_text(hostname):
    h = host(hostname)
    conn = h.connect()
    rng = random.Random(SEED)
    texts = list(random_texts(rng, 1500))
    h.script(conn, "CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, k TEXT UNIQUE)")
    h.rows(conn, "SELECT trigger_capture('t')")
    h.rows(conn, "BEGIN")
    for i, s in enumerate(texts, 1):
        h.rows(conn, "INSERT INTO t VALUES (?, ?, ?)", (i, s, f"{i}{s}"))
    h.rows(conn, "COMMIT")
    h.script(conn, "UPDATE t SET s = s || char(9); DELETE FROM t WHERE id % 2 = 0")
    assert h.rows(conn, "SELECT count(*) FROM trigger_outbox WHERE NOT json_valid(payload)") == [(0,)]
    want = {i: s for i, s in enumerate(texts, 1)}

    def text(value):
        # Text with a control character other than tab, newline or carriage
        # return, or with NUL, comes as {"$text": "<HEX of its UTF-8>"}.
        if isinstance(value, dict):
            assert list(value) == ["$text"], value
            return bytes.fromhex(value["$text"]).decode("utf-8")
        return value

    for (p,) in h.rows(conn, "SELECT payload FROM trigger_outbox"):
        doc = json.loads(p, object_hook=lambda d: d)
        for image in ("old", "new"):
            if doc[image] is not None:
                doc[image] = {k: text(v) for k, v in doc[image].items()}
        i = doc["key"]
        # The update appended a tab to every row; the delete came after it.
        if doc["old"] is not None:
            assert doc["old"]["s"] == want[i] + ("" if doc["op"] == "update" else "\t"), (p, want[i])
            assert doc["old"]["k"] == f"{i}{want[i]}", p
        if doc["new"] is not None:
            assert doc["new"]["s"] == want[i] + ("" if doc["op"] == "insert" else "\t"), (p, want[i])
            assert doc["new"]["k"] == f"{i}{want[i]}", p
    # SQLite's own reading agrees for every text written as a JSON string.
    bad = h.rows(
        conn,
        "SELECT t.id FROM trigger_outbox o JOIN t ON t.id = json_extract(o.payload, '$.key') "
        "WHERE o.payload LIKE '{\"op\":\"insert\"%' "
        "AND json_type(o.payload, '$.new.s') = 'text' "
        "AND json_extract(o.payload, '$.new.s') || char(9) IS NOT t.s",
    )
    assert bad == []
    # Texts of tabs, newlines, quotes and backslashes stay JSON strings.
    plain = h.rows(conn, "SELECT count(*) FROM trigger_outbox WHERE json_type(payload, '$.new.s') = 'text'")
    assert plain[0][0] > 100


def decode(value):
    """A captured value as the Python value the host reads from the table."""
    if isinstance(value, dict):
        (kind, hexed), = value.items()
        raw = bytes.fromhex(hexed)
        return raw if kind == "$blob" else raw.decode("utf-8")
    return value


def random_value(rng):
    return rng.choice([
        lambda: rng.randint(-10, 10),
        lambda: rng.choice([2**63 - 1, -2**63, 2**53 + 1, 0]),
        lambda: rng.choice([2.5, -0.5, 1e300, -1e300, 2.0**63, -2.0**63, 0.1 + 0.2, 3.0, 1e15,
                            123456789012345.0, 9007199254740992.0]),
        lambda: rng.choice(["", "12", "1e3", " 7", "0x10", "abc", 'q"uote', "tab\t", "nul\x00", "é名🙂",
                            "00012", "+5", "5.", "-0", "1.0"]),
        lambda: rng.choice([b"", b"\x00", b"12", b"\xff\xfe"]),
        lambda: None,
    ])()


@pytest.mark.parametrize("hostname", HOSTS)
@pytest.mark.parametrize("shape", ["affinities", "strict any", "strict any key"])
def test_every_value_of_every_affinity_reads_back_as_stored(hostname, shape):
    # Values a column of each affinity holds, every storage class written
    # to each: both the short form (plain text, integers) and the general
    # one must give back exactly what the table holds. ANY in a STRICT
    # table converts nothing.
    h = host(hostname)
    conn = h.connect()
    rng = random.Random(SEED + 7)
    cols = {"affinities": ["t TEXT", "i INTEGER", "n NUMERIC", "r REAL", "b BLOB", "a"],
            "strict any": ["t ANY", "i ANY", "x TEXT"],
            "strict any key": ["t ANY", "i ANY"]}[shape]
    names = [c.split()[0] for c in cols]
    if shape == "strict any key":
        h.script(conn, f"CREATE TABLE v (id ANY PRIMARY KEY, {', '.join(cols)}) STRICT, WITHOUT ROWID")
    else:
        h.script(conn, f"CREATE TABLE v (id INTEGER PRIMARY KEY, {', '.join(cols)}){' STRICT' * (shape != 'affinities')}")
    h.rows(conn, "SELECT trigger_capture('v')")
    h.rows(conn, "BEGIN")
    for i in range(1, 1201):
        key = i if shape != "strict any key" else rng.choice([i, str(i), float(i) + 0.5])
        row = [random_value(rng) if not c.endswith("TEXT") or shape == "affinities" else "x" for c in cols]
        h.rows(conn, f"INSERT INTO v VALUES (?, {', '.join('?' * len(names))})", [key] + row)
    h.rows(conn, "COMMIT")
    h.script(conn, "UPDATE v SET t = i, i = t WHERE rowid % 3 = 0; DELETE FROM v WHERE rowid % 5 = 0"
             if shape != "strict any key" else
             "UPDATE v SET t = i, i = t WHERE length(id) % 3 = 0; DELETE FROM v WHERE length(id) = 3")
    stored = {repr(row[0]): row[1:] for row in h.rows(conn, f"SELECT id, {', '.join(names)} FROM v")}
    images = {}
    for (p,) in h.rows(conn, "SELECT payload FROM trigger_outbox ORDER BY seq"):
        doc = json.loads(p)
        key = repr(decode(doc["key"]))
        for image in ("old", "new"):
            if doc[image] is not None:
                got = tuple(decode(doc[image][c]) for c in names)
                prev = images.get(key)
                if image == "old":
                    assert prev == got, (p, prev)
                else:
                    assert repr(decode(doc[image]["id"])) == key, p
                images[key] = got
        if doc["op"] == "delete":
            del images[key]
    assert set(images) == set(stored)
    for key, got in images.items():
        want = stored[key]
        for c, g, w in zip(names, got, want):
            assert type(g) is type(w) and g == w, (key, c, g, w)
            if isinstance(w, float):
                assert struct.pack("<d", g) == struct.pack("<d", w) or g == w == 0, (key, c, g, w)


@needs_shell
def test_shell_writes_with_trusted_schema_off_and_without_the_extension(tmp_path):
    db = str(tmp_path / "app.db")
    out = shell(
        f".load {EXT}\n"
        "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, price REAL);\n"
        "SELECT trigger_capture('item');\n",
        db,
    )
    assert out.returncode == 0, out.stderr
    out = subprocess.run(
        [SQLITE3, "-bail", "-cmd", "PRAGMA trusted_schema=OFF", db],
        input="INSERT INTO item VALUES (1, 'a' || char(10) || 'b', 12345678.123456789);\n"
        "UPDATE item SET price = 0.1 + 0.2;\nDELETE FROM item;\n"
        "SELECT payload FROM trigger_outbox ORDER BY seq;\n",
        text=True, capture_output=True, timeout=60,
    )
    assert out.returncode == 0 and out.stderr == "", out.stderr
    docs = [json.loads(line) for line in out.stdout.splitlines()]
    assert [d["op"] for d in docs] == ["insert", "update", "delete"]
    assert docs[0]["new"] == {"id": 1, "name": "a\nb", "price": 12345678.123456789}
    assert docs[1]["new"]["price"] == 0.1 + 0.2


@pytest.mark.parametrize("encoding", ["UTF-16le", "UTF-16be"])
def test_a_utf16_database_is_refused_with_what_to_do(tmp_path, encoding):
    # The triggers write {"$text": "<HEX>"} from a text's bytes, which must
    # be UTF-8: SQL cannot convert UTF-16 text to UTF-8 bytes.
    conn = connect(str(tmp_path / "u16.db"))
    conn.execute(f"PRAGMA encoding = '{encoding}'")
    conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, s TEXT)")
    with pytest.raises(sqlite3.OperationalError) as e:
        conn.execute("SELECT trigger_capture('t')")
    assert str(e.value) == (
        f"trigger_capture(): argument 1 (table): the database's text is {encoding}, and capture "
        "writes its events from UTF-8 bytes; capture in a database created with "
        "PRAGMA encoding = 'UTF-8' (the default)")
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").fetchone() == (0,)


@needs_shell
def test_a_partial_index_with_a_double_quoted_string_keeps_writes_working_with_dqs_off(tmp_path):
    # SQLite reads "active" in the index's WHERE as a string; capture copies
    # that WHERE into its triggers, where a connection with double-quoted
    # strings off would refuse it (and so every write to the table).
    db = str(tmp_path / "dq.db")
    made = shell(f".load {EXT}\n"
                 "CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT, status TEXT);\n"
                 'CREATE UNIQUE INDEX t_u ON t(u) WHERE status = "active";\n'
                 "SELECT trigger_capture('t') IS NOT NULL;\n", db)
    assert made.stderr == "" and made.stdout == "1\n"
    out = shell(".dbconfig dqs_dml off\n.dbconfig dqs_ddl off\n"
                "INSERT INTO t VALUES (5, 'e', 'x');\n"
                "INSERT INTO t VALUES (6, 'e', 'active');\n"
                "INSERT OR REPLACE INTO t VALUES (7, 'e', 'active');\n"
                "SELECT payload->>'op', payload->>'key' FROM trigger_outbox ORDER BY seq;\n", db)
    assert out.stderr == ""
    assert out.stdout.splitlines()[-4:] == ["insert|5", "insert|6", "delete|6", "insert|7"]
