"""No way in: a database file cannot make the administrative functions run,
and no name or value given to a function runs as SQL. In Python's sqlite3
(SQLite 3.40.1) and apsw (the newest SQLite).

The functions are found from the loaded extension (pragma_function_list and
its flags), so functions added later are held to the same rules.
"""
import json
import os
import re

import pytest

import sqlhosts
from sqlhosts import HOSTILE_NAMES, REFUSED_NAMES, SEED_SCHEMA, schema

DIRECTONLY, INNOCUOUS = 0x80000, 0x200000
# Functions that change the schema or install behaviour: the issue names
# install, uninstall, listen and capture; watch creates triggers too.
ADMIN_WORDS = ("install", "upgrade", "register", "listen", "capture", "watch")
# What a broken quote would look like in SQLite's own errors.
SQL_SYNTAX_ERRORS = ("syntax error", "unrecognized token", "incomplete input", "near \"")


@pytest.fixture(params=sqlhosts.HOSTS)
def h(request):
    return sqlhosts.host(request.param)


def one(h, conn, sql, *args):
    return h.rows(conn, sql, args)[0][0]


def flags(h):
    conn = h.connect()
    scalars, _ = sqlhosts.extension_functions(h)
    out = {}
    for name, f in h.rows(conn, "SELECT name, flags FROM pragma_function_list"):
        if name in scalars:
            out[name] = out.get(name, 0) | f
    conn.close()
    return out


def call_text(h, conn, function):
    """A call of `function` that SQLite accepts; its arguments are the first
    pack, the table user, or 'x', by argument name."""
    sig = sqlhosts.signature(h, conn, function)
    names = sig[2][: sig[0]] if sig else []
    args = ["'default_album'" if "pack" in n else "'user'" if "table" in n else "'x'" for n in names]
    return f"{function}({', '.join(args)})"


# --- trusted_schema ---------------------------------------------------------


# Where a database file can hide a function call, as (create, use): the
# placeholder abs(0) becomes the call through writable_schema, which is how
# an attacker writes what SQLite would refuse to create.
CONTEXTS = {
    "view": ("CREATE VIEW v{i} AS SELECT abs(0) AS r", "SELECT * FROM v{i}"),
    "trigger": ("CREATE TABLE bait{i} (x); CREATE TRIGGER t{i} AFTER INSERT ON bait{i} "
                "BEGIN INSERT INTO log VALUES (abs(0)); END", "INSERT INTO bait{i} VALUES (1)"),
    "CHECK constraint": ("CREATE TABLE k{i} (x CHECK (typeof(abs(0)) != 'z'))", "INSERT INTO k{i} VALUES (1)"),
    "DEFAULT": ("CREATE TABLE d{i} (x, y DEFAULT (abs(0)))", "INSERT INTO d{i} (x) VALUES (1)"),
    "generated column (write)": ("CREATE TABLE g{i} (x, y AS (typeof(abs(0))))", "INSERT INTO g{i} (x) VALUES (1)"),
    "generated column (read)": ("CREATE TABLE r{i} (x, y AS (typeof(abs(0)))); INSERT INTO r{i} (x) VALUES (1)",
                                "SELECT y FROM r{i}"),
    "expression index": ("CREATE TABLE e{i} (x); CREATE INDEX ei{i} ON e{i} (x + length(typeof(abs(0))))",
                         "INSERT INTO e{i} VALUES (1)"),
    "partial index": ("CREATE TABLE p{i} (x); CREATE INDEX pi{i} ON p{i} (x) WHERE typeof(abs(0)) != 'z'",
                      "INSERT INTO p{i} VALUES (1)"),
}


OUTBOX_OBJECTS = {"trigger_outbox", "trigger_outbox_consumers", "sqlite_sequence",
                  "sqlite_autoindex_trigger_outbox_consumers_1"}


def without_outbox(objects):
    return [o for o in objects if o[1] not in OUTBOX_OBJECTS]


def attacker_database(h, path, calls):
    """A database file whose schema calls each of `calls` in every context
    of CONTEXTS. Returns {(call, context): statement that sets it off}."""
    conn = h.connect(path, load=False)
    h.script(conn, SEED_SCHEMA + "CREATE TABLE log (x);")
    made = {}
    for i, call in enumerate(calls):
        for context, (create, use) in CONTEXTS.items():
            h.script(conn, create.format(i=i))
            made[(call, context)] = use.format(i=i)
        h.script(conn, "PRAGMA writable_schema = ON")
        h.rows(conn, "UPDATE sqlite_master SET sql = replace(sql, 'abs(0)', ?) WHERE sql LIKE '%abs(0)%'", (call,))
        h.script(conn, "PRAGMA writable_schema = OFF")
    conn.close()
    return made


@pytest.mark.parametrize("load_first", [True, False], ids=["loaded-then-schema-read", "schema-read-then-loaded"])
@pytest.mark.parametrize("trusted", [0, 1], ids=["trusted_schema=OFF", "trusted_schema=ON"])
def test_a_database_file_cannot_make_admin_functions_run(h, tmp_path, trusted, load_first):
    function_flags = flags(h)
    probe = h.connect()
    calls = {f: call_text(h, probe, f) for f in function_flags}
    db = str(tmp_path / "attacker.db")
    made = attacker_database(h, db, list(calls.values()))
    # SQLite resolves a schema's functions when it reads the schema, so
    # whether the extension is loaded by then changes what SQLite does.
    victim = h.connect(db, load=load_first)
    h.rows(victim, f"PRAGMA trusted_schema = {trusted}")
    before = schema(h, victim)
    if not load_first:
        h.load(victim)
    outcomes = {}
    for (call, context), use in made.items():
        function = call.split("(")[0]
        try:
            h.rows(victim, use)
            outcomes[(function, context)] = "no error"
        except h.Error as e:
            message = str(e)
            if "unsafe use of" in message or message.startswith(f"{function}(): refused"):
                outcomes[(function, context)] = "refused"
            elif message.startswith(f"{function}(): "):
                outcomes[(function, context)] = "ran"  # its body ran and failed
            else:
                outcomes[(function, context)] = f"other: {message}"
    assert len(outcomes) == len(function_flags) * len(CONTEXTS)
    # Nothing the admin functions do happened: no schema change, no pack.
    # (trigger_emit is innocuous: a trigger body may call it, and its first
    # call creates the outbox tables, which is all it may do.)
    assert without_outbox(schema(h, victim)) == without_outbox(before)
    assert one(h, victim, "SELECT count(*) FROM trigger_packs WHERE installed") == 0
    for (function, context), outcome in outcomes.items():
        if function_flags[function] & DIRECTONLY:
            # Refused, or never called (SQLite may drop what it cannot resolve).
            assert outcome in ("refused", "no error"), (function, context, outcome)
        else:
            assert outcome != "refused", (function, context, outcome)
    # The direct-only ones were refused where SQLite does call them.
    direct = [k for k in outcomes if function_flags[k[0]] & DIRECTONLY]
    assert all(outcomes[k] == "refused" for k in direct if k[1] in ("view", "trigger", "DEFAULT"))
    if load_first:
        assert all(outcomes[k] == "refused" for k in direct), outcomes


def test_admin_functions_are_direct_only_and_the_rest_innocuous(h):
    for function, f in flags(h).items():
        if any(word in function for word in ADMIN_WORDS):
            assert f & DIRECTONLY, f"{function}() changes the schema: it must be direct-only"
        else:
            # The project's rule: every function is one or the other.
            assert f & (DIRECTONLY | INNOCUOUS), f"{function}() is neither direct-only nor innocuous"


def test_the_table_functions_work_in_views_of_an_untrusted_schema(h, tmp_path):
    _, tables = sqlhosts.extension_functions(h)
    db = str(tmp_path / "views.db")
    maker = h.connect(db, load=False)
    for t in tables:
        h.rows(maker, f"CREATE VIEW view_{t} AS SELECT count(*) FROM {t}")
    maker.close()
    conn = h.connect(db)
    h.rows(conn, "PRAGMA trusted_schema = OFF")
    for t in tables:
        assert one(h, conn, f"SELECT * FROM view_{t}") >= 0


# --- hostile names and values in pack parameters ------------------------------
#
# Every parameter of every pack is given hostile values of its kind (read
# from the templates' headers): names for ident and text parameters, lists
# of names for idents, words that are not listed for choice, and, for expr,
# expressions that try to be more than one expression, next to expressions
# that are one but carry hostile text. Each value either must work (install,
# behave, uninstall to the schema before), must be refused (a one-line error,
# nothing changed), or may be either.

TEMPLATES = sqlhosts.pack_templates()
ROWID_NAMES = ("rowid", "oid", "_rowid_")


def quote(name):
    return '"' + name.replace('"', '""') + '"'


def literal(text):
    return "'" + text.replace("'", "''") + "'"


def resolved(pack, params):
    """Every parameter's value after defaults, as the extension derives them."""
    return sqlhosts.derive(TEMPLATES[pack], params)


def columns_sql(*groups):
    """Column definitions from (name, definition) pairs, each name once
    (SQLite compares names in ASCII case)."""
    seen, out = set(), []
    for group in groups:
        for name, definition in group:
            if name.encode().lower() not in seen:
                seen.add(name.encode().lower())
                out.append(definition)
    return ", ".join(out)


def plain(names):
    return [(n, quote(n)) for n in names]


def key_columns(p):
    key = p["key"]
    return [] if key.lower() in ROWID_NAMES else [(key, f"{quote(key)} INTEGER PRIMARY KEY")]


def match_columns(p):
    """The column an expression scenario's condition reads (see values)."""
    match = p.get("_match")
    return plain([match[0]]) if match else []


def check_time(h, conn, table, column, where, fmt):
    kind, value = h.rows(conn, f"SELECT typeof({column}), {column} FROM {table} WHERE {where}")[0]
    if fmt == "iso":
        assert kind == "text" and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", value), value
    else:
        assert kind == "integer" and len(str(value)) == (10 if fmt == "unix" else 13), (fmt, value)


def build_touch(h, conn, p):
    lists = plain(p["ignore"] + (p["counted"] or []))
    h.rows(conn, f"CREATE TABLE {quote(p['table'])} "
                 f"({columns_sql(key_columns(p), plain([p['column'], 'v']), lists)})")


def check_touch(h, conn, p):
    t, col = quote(p["table"]), quote(p["column"])
    h.rows(conn, f"INSERT INTO {t} (v) VALUES (1), (2)")
    h.rows(conn, f"UPDATE {t} SET {col} = 'by hand'")  # sets the column itself: kept

    def stamp(v):
        return h.rows(conn, f"SELECT {col} FROM {t} WHERE v = ?", (v,))[0][0]

    assert stamp(1) == stamp(2) == "by hand"
    ignore, counted = p["ignore"], p["counted"]
    for c in ignore:  # a change of an ignored column alone does not count
        h.rows(conn, f"UPDATE {t} SET {quote(c)} = 'changed' WHERE v = 1")
        assert stamp(1) == "by hand", c
    # v counts unless the counted columns are listed without it.
    v_counts = not ignore or counted is None or "v" in counted
    h.rows(conn, f"UPDATE {t} SET v = 10 WHERE v = 1")
    assert (stamp(10) != "by hand") == v_counts and stamp(2) == "by hand"
    if v_counts:
        check_time(h, conn, t, col, "v = 10", p["format"])
    for c in counted or []:
        h.rows(conn, f"UPDATE {t} SET {col} = 'by hand'")
        h.rows(conn, f"UPDATE {t} SET {quote(c)} = 'changed' WHERE v = 2")
        assert stamp(2) != "by hand" and stamp(10) == "by hand", c
    return {("trigger", p["trigger_name"], p["table"])}


def build_soft_delete(h, conn, p):
    h.rows(conn, f"CREATE TABLE {quote(p['table'])} "
                 f"({columns_sql(key_columns(p), plain([p['column'], 'v']), match_columns(p))})")


def check_soft_delete(h, conn, p):
    t, col = quote(p["table"]), quote(p["column"])
    # Row 1 meets hard_delete_when (when there is one), row 2 does not.
    mcol, a, b = p.get("_match") or ("v", 1, 2)
    h.rows(conn, f"INSERT INTO {t} (rowid, {quote(mcol)}) VALUES (1, ?), (2, ?)", (a, b))
    h.rows(conn, f"DELETE FROM {t} WHERE rowid = 1")
    h.rows(conn, f"DELETE FROM {t} WHERE rowid = 2")
    left = [r[0] for r in h.rows(conn, f"SELECT rowid FROM {t} ORDER BY rowid")]
    assert left == ([2] if p["hard_delete_when"] else [1, 2]), left
    check_time(h, conn, t, col, "rowid = 2", p["format"])
    h.rows(conn, f"UPDATE {t} SET {col} = 'first'")
    h.rows(conn, f"DELETE FROM {t}")  # deleting again keeps the first time
    assert h.rows(conn, f"SELECT DISTINCT {col} FROM {t}") == [("first",)]
    return {("trigger", p["trigger_name"], p["table"])}


def build_protect(h, conn, p):
    cols = plain(["v"] + p["columns"])
    h.rows(conn, f"CREATE TABLE {quote(p['table'])} ({columns_sql(cols, match_columns(p))})")


def check_protect(h, conn, p):
    t, op = quote(p["table"]), p["operation"]

    def refused(sql):
        try:
            h.rows(conn, sql)
        except Exception as e:  # noqa: BLE001 - RAISE(ABORT) is a constraint error in both hosts
            assert str(e) == p["message"], (str(e)[:100], p["message"][:100])
            return True
        return False

    if op == "insert":
        assert refused(f"INSERT INTO {t} (v) VALUES (1)")
        assert h.rows(conn, f"SELECT count(*) FROM {t}") == [(0,)]
        return {("trigger", p["trigger_name"], p["table"])}
    # Row 1 meets the condition (when there is one), row 2 does not.
    mcol, a, b = p.get("_match") or ("v", 1, 2)
    h.rows(conn, f"INSERT INTO {t} (rowid, {quote(mcol)}) VALUES (1, ?), (2, ?)", (a, b))
    if op == "update":
        for c in p["columns"]:
            assert refused(f"UPDATE {t} SET {quote(c)} = 'changed'"), c
        assert refused(f"UPDATE {t} SET v = 'changed'") == (not p["columns"])
    else:
        assert refused(f"DELETE FROM {t} WHERE rowid = 1")
        assert refused(f"DELETE FROM {t} WHERE rowid = 2") == (not p["condition"])
        left = [r[0] for r in h.rows(conn, f"SELECT rowid FROM {t} ORDER BY rowid")]
        assert left == ([1] if p["condition"] else [1, 2]), left
    return {("trigger", p["trigger_name"], p["table"])}


def build_default_album(h, conn, p):
    h.script(conn, f"CREATE TABLE {quote(p['user_table'])} ({quote(p['user_key'])} INTEGER PRIMARY KEY, name TEXT);"
                   f"CREATE TABLE {quote(p['album_table'])} (id INTEGER PRIMARY KEY, "
                   f"{quote(p['album_user_fk'])} INTEGER, {quote(p['album_name_column'])} TEXT)")


def check_default_album(h, conn, p):
    user, album = quote(p["user_table"]), quote(p["album_table"])
    fk, name = quote(p["album_user_fk"]), quote(p["album_name_column"])
    h.rows(conn, f"INSERT INTO {user} ({quote(p['user_key'])}) VALUES (7)")
    h.rows(conn, f"INSERT INTO {user} ({quote(p['user_key'])}) VALUES (8)")
    assert h.rows(conn, f"SELECT {fk}, {name} FROM {album} ORDER BY 1") == [(7, p["album_name"]), (8, p["album_name"])]
    return {("index", p["index_name"], p["album_table"]), ("trigger", p["trigger_name"], p["user_table"])}


def build_task_state(h, conn, p):
    obs_cols = [quote(p["obs_key"]) + " INTEGER PRIMARY KEY", quote(p["obs_state"])]
    if p["obs_key"] == p["obs_state"]:
        obs_cols = obs_cols[:1]
    task_cols = ["id INTEGER PRIMARY KEY", quote(p["task_obs_fk"]), quote(p["task_state"])]
    if p["task_obs_fk"] == p["task_state"]:
        task_cols = task_cols[:2]
    tables = {p["obs_table"]: obs_cols, p["task_table"]: task_cols}
    for table, cols in tables.items():
        h.rows(conn, f"CREATE TABLE {quote(table)} ({', '.join(cols)})")


def check_task_state(h, conn, p):
    obs, task = quote(p["obs_table"]), quote(p["task_table"])
    key, state = quote(p["obs_key"]), quote(p["obs_state"])
    fk, tstate = quote(p["task_obs_fk"]), quote(p["task_state"])
    h.rows(conn, f"INSERT INTO {obs} ({key}, {state}) VALUES (1, 0), (2, 0)")
    h.rows(conn, f"INSERT INTO {task} (id, {fk}, {tstate}) VALUES (1, 1, 0), (2, 1, 0), (3, 2, 0)")
    h.rows(conn, f"UPDATE {obs} SET {state} = ? WHERE {key} = 1", (p["when_state"],))
    assert h.rows(conn, f"SELECT id, {tstate} FROM {task} ORDER BY id") == [
        (1, p["set_state"]), (2, p["set_state"]), (3, 0)]
    return {("index", p["index_name"], p["task_table"]), ("trigger", p["trigger_name"], p["obs_table"])}


# The packs with a scenario of their own above are checked for what they do;
# the others (their behaviour is pinned by their .slt files and the peer
# tests) get a generic one: their tables, with every column their
# parameters name, written to by an insert, an update and a delete that may
# only fail with the pack's own message, and their objects as the install
# reported them.
KEPT_TABLES = {"counts": "counts_table", "history": "history_table"}


def build_generic(pack):
    def build(h, conn, p):
        tables = {}
        unique = {}  # a key must tell the rows apart, so is NOT NULL and UNIQUE
        for table_param, column_params in sqlhosts.REQUIRES[pack]:
            cols = tables.setdefault(p[table_param], [])
            for c in column_params:
                if p[c].lower() not in ROWID_NAMES:
                    cols.append(p[c])
                    if c in ("key", "child_key"):
                        unique.setdefault(p[table_param], []).append(
                            (p[c], f"{quote(p[c])} NOT NULL DEFAULT 'k' UNIQUE"))
        for name, d in TEMPLATES[pack].items():
            if d.kind == "idents" and d.args and isinstance(p.get(name), list):
                tables.setdefault(p[d.args[0]], []).extend(p[name])
        match = p.get("_match")
        for table, cols in tables.items():
            defs = plain(cols + ["v"] + ([match[0]] if match else []))
            h.rows(conn, f"CREATE TABLE {quote(table)} ({columns_sql(unique.get(table, []), defs)})")
    return build


def check_generic(pack):
    def check(h, conn, p):
        tables = {p[t] for t, _ in sqlhosts.REQUIRES[pack]}
        for table in sorted(tables):
            t = quote(table)
            for sql in (f"INSERT INTO {t} (v) VALUES (1)", f"UPDATE {t} SET v = 2",
                        f"DELETE FROM {t}"):
                try:
                    h.rows(conn, sql)
                except h.Error as e:
                    # Only a pack's own refusal (fsm naming both states).
                    assert pack == "fsm" and "may not move" in str(e), (sql, str(e))
        installed = {(k, n, t) for k, n, t, _ in sqlhosts.schema(h, conn)}
        return {o for o in installed if o[1] in pack_object_names(pack, p)
                or any(o[1].startswith(v + "_") for v in virtual_tables(pack, p))}
    return check


def pack_object_names(pack, p):
    """The names of the objects the template declares, from its header."""
    names = set()
    for line in (sqlhosts.ROOT / "sql" / "packs" / f"{pack}.sql").read_text().splitlines():
        if line.startswith("-- object: "):
            names.add(p[line.split("|")[1].strip()])
    return names


def first_trigger(pack, p):
    """The name and table of the first trigger the template declares."""
    for line in (sqlhosts.ROOT / "sql" / "packs" / f"{pack}.sql").read_text().splitlines():
        if line.startswith("-- object: trigger"):
            _, name, table = [f.strip() for f in line.split("|")]
            return p[name], p[table]
    raise AssertionError(f"pack {pack} declares no trigger")


def virtual_tables(pack, p):
    return [p[line.split("|")[1].strip()]
            for line in (sqlhosts.ROOT / "sql" / "packs" / f"{pack}.sql").read_text().splitlines()
            if line.startswith("-- object: virtual table")]


SCENARIOS = {
    **{pack: (build_generic(pack), check_generic(pack))
       for pack in ("counter_cache", "counts", "fsm", "fts_sync", "history")},
    "default_album": (build_default_album, check_default_album),
    "protect": (build_protect, check_protect),
    "soft_delete": (build_soft_delete, check_soft_delete),
    "task_state": (build_task_state, check_task_state),
    "touch": (build_touch, check_touch),
}

# Other parameters a parameter's values are given with, where they mean
# something only then: counted only narrows what ignore leaves, and columns
# are about updates.
COMPANIONS = {
    ("touch", "counted"): {"ignore": ["ign"]},
    ("protect", "columns"): {"operation": "update"},
}

WORK, REFUSE, EITHER = "must work", "must be refused", "may be either"

# Lists of names that are not lists of this table's columns.
BAD_LISTS = [[""], ["a\x00b"], [1], [None], [["v"]], "v", {"v": 1}, 1, ["v", "V"], ["nope"],
             [f"c{i}" for i in range(2001)]]
# Expressions that try to be more, or to hide something from the check.
BAD_EXPRESSIONS = [
    "1); DROP TABLE canary; SELECT (1",
    "1) BEGIN DELETE FROM canary; END; SELECT (1",
    "0) OR (1",
    "1; DELETE FROM canary",
    "1 -- a comment",
    "1 /* a comment */",
    "1 /* unclosed",
    "'unbalanced",
    '"unbalanced',
    "[unbalanced",
    "`unbalanced",
    "x'00",
    "(1",
    "1)",
    # SQLite reads $a(...) as one variable, quote included: ')' then ends
    # the WHEN clause and ';' the statement.
    "$a(')) BEGIN SELECT 1; END; DROP TABLE canary; SELECT (')",
    ":a(')) BEGIN SELECT 1; END; DROP TABLE canary; SELECT (')",
    "@a(')) BEGIN SELECT 1; END; DELETE FROM canary; SELECT (')",
    "#a(')) BEGIN SELECT 1; END; DELETE FROM canary; SELECT (')",
    "?1",
    "@x IS NULL",
    "a\x00b",
    "1 OR " * 1000 + "1",
    "old.v = '" + "x" * 5000 + "'",
    "new.v = 1 AND old.v = 1",
    "old.nope = 1",
    "(SELECT trigger_install('touch')) IS NULL",
    "load_extension('x') IS NULL",
    1, None, ["1"], {"a": 1}, True,
]


def values(pack, param):
    """(value, extra parameters, condition's match, outcome) for one parameter."""
    d = TEMPLATES[pack][param]
    if d.kind == "conflicts":
        # Worked out at install; never given.
        return [(v, {}, None, REFUSE) for v in ["1", "conflicting_row.rowid = new.rowid", "", None, 1]]
    if d.kind == "conflict_columns":
        return [(v, {}, None, REFUSE) for v in [["rowid"], [], ["x\"); DROP TABLE canary; --"], None, "id"]]
    if d.kind == "transitions":
        states = [n for n in HOSTILE_NAMES if n not in ("x",)]
        return ([([["a", "b"]], {}, None, WORK), ([["a", "b"], ["b", "a"]], {}, None, WORK)]
                + [([[n, "x"]], {}, None, WORK) for n in states]
                + [(v, {}, None, REFUSE) for v in ([], [[1]], [["a", "a"]], "x", [[None, "a"]],
                                                   [["a", "b"], ["a", "b"]], [[["a"], "b"]], {"a": "b"})])
    if pack == "fts_sync" and param == "tokenize":
        return ([(v, {}, None, WORK) for v in ("", "porter", "unicode61", "porter unicode61")]
                + [(n, {}, None, EITHER) for n in HOSTILE_NAMES + REFUSED_NAMES])
    if d.kind == "expr" and pack in ("counter_cache", "history"):
        # Over the child's columns (a recount's WHERE), or anything (who):
        # hostile text in a string; an attack on the check is refused, and
        # what only SQLite can judge may go either way.
        syntactic = [e for e in BAD_EXPRESSIONS if isinstance(e, str) and (
            any(c in e for c in (";", "--", "/*", "\x00", "$", "?", "@", "#")) or e.count("(") != e.count(")")
            or e.count("'") % 2 or len(e.encode()) > 4096 or e.startswith(("[", "`", '"', "x'", ":")))]
        return ([("", {}, None, WORK), ("1", {}, None, WORK)]
                + [(f"{literal(n)} IS NOT NULL", {}, None, WORK if len(n.encode()) < 4000 else EITHER)
                   for n in HOSTILE_NAMES]
                + [(e, {}, None, REFUSE) for e in syntactic]
                + [(e, {}, None, EITHER) for e in BAD_EXPRESSIONS if e not in syntactic])
    if d.kind == "idents":
        named = [n for n in HOSTILE_NAMES if n.encode().lower() not in (b"v", b"ign")]
        several = []
        for n in named[:12]:
            if all(n.encode().lower() != s.encode().lower() for s in several):
                several.append(n)
        return ([([n], {}, None, WORK) for n in named] + [(several, {}, None, WORK)]
                + [([n], {}, None, EITHER) for n in REFUSED_NAMES]
                + [(v, {}, None, REFUSE) for v in BAD_LISTS])
    if d.kind == "choice":
        near = [f(c) for c in d.args for f in (str.upper, lambda c: f" {c}", lambda c: f"{c} ",
                                               lambda c: f"{c}\x00", lambda c: f"{c}; DROP TABLE canary",
                                               lambda c: f"{c}--", lambda c: [c])]
        return ([(c, {}, None, WORK) for c in d.args]
                + [(v, {}, None, REFUSE) for v in HOSTILE_NAMES + REFUSED_NAMES + near + [1, None, True]])
    if d.kind == "expr":
        out = [("", {}, None, WORK)]
        for n in HOSTILE_NAMES:
            # One expression, hostile text in a string and in a quoted name;
            # too long is refused.
            for expr, match in ((f"old.v = {literal(n)}", ("v", n, "other")),
                                (f"old.{quote(n)} = 1", (n, 1, 0))):
                fits = len(expr.encode()) <= 4096 and n.encode().lower() != b"v"
                out.append((expr, {}, match, WORK if fits else REFUSE))
            # The name itself is no expression over this table.
            out.append((n, {}, None, REFUSE))
        return out + [(v, {}, None, REFUSE) for v in BAD_EXPRESSIONS + ["a\x00b", "sqlite_x"]]
    return ([(n, {}, None, WORK) for n in HOSTILE_NAMES]
            + [(n, {}, None, EITHER) for n in REFUSED_NAMES])


def pack_params(h):
    conn = h.connect()
    return {name: json.loads(params) for name, params in h.rows(conn, "SELECT name, params FROM trigger_packs")}


def test_every_pack_and_parameter_is_covered(h):
    # A new pack or parameter needs a scenario here, so it is held to the
    # same hostile-name tests; a new kind of parameter needs its values.
    listed = pack_params(h)
    assert set(listed) == set(SCENARIOS) == set(TEMPLATES)
    for pack, params in listed.items():
        # The headers read here say what the extension says.
        assert set(params) == set(TEMPLATES[pack]), pack
        assert resolved(pack, {}) == params, pack
        for param in params:
            kind = TEMPLATES[pack][param].kind
            assert kind in ("ident", "text", "value", "idents", "choice", "expr", "transitions",
                            "conflicts", "conflict_columns"), (pack, param)
            assert kind in ("conflicts", "conflict_columns") or any(outcome == WORK for *_, outcome in values(pack, param)), (pack, param)


def cases(h_name):
    h = sqlhosts.host(h_name)
    for pack, params in sorted(pack_params(h).items()):
        for param in sorted(params):
            yield pack, param


def all_cases():
    """Every (pack, parameter), read in a child process: loading the
    extension here, while tests are collected, would tie this process (and
    every test forked from it) to one SQLite library."""
    import subprocess
    import sys

    code = "import json, test_security as t; print(json.dumps(sorted(t.cases(t.sqlhosts.HOSTS[0]))))"
    env = dict(os.environ, SQLITE_TRIGGERS_LISTING_CASES="1")
    out = subprocess.run([sys.executable, "-c", code], cwd=os.path.dirname(os.path.abspath(__file__)),
                         capture_output=True, text=True, check=True, timeout=120, env=env).stdout
    return [tuple(c) for c in json.loads(out)]


ALL_CASES = [] if os.environ.get("SQLITE_TRIGGERS_LISTING_CASES") else all_cases()


def fresh(h):
    conn = h.connect()
    h.script(conn, "CREATE TABLE canary (x); INSERT INTO canary VALUES (1);")
    return conn


@pytest.mark.parametrize("pack,param", ALL_CASES, ids=[f"{p}.{q}" for p, q in ALL_CASES])
def test_hostile_pack_parameter(h, pack, param):
    build, check = SCENARIOS[pack]
    kind = TEMPLATES[pack][param].kind
    for value, extra, match, outcome in values(pack, param):
        given = {**COMPANIONS.get((pack, param), {}), **extra, param: value}
        p = {**resolved(pack, given), "_match": match}
        conn = fresh(h)
        try:
            if outcome == REFUSE:
                raise ValueError("a refused value gets the usual schema")
            build(h, conn, p)
        except Exception as e:  # noqa: BLE001 - the hosts differ for NUL
            # SQLite (or the host, for NUL) refuses the name for a table or
            # column; the install must refuse it as well, on the usual schema.
            assert outcome != WORK, (value, e)
            conn = fresh(h)
            build(h, conn, {**resolved(pack, COMPANIONS.get((pack, param), {})), "_match": None})
        before = schema(h, conn)
        where = (pack, param, repr(value)[:60])
        try:
            summary = one(h, conn, "SELECT trigger_install(?, ?)", pack, json.dumps(given))
        except h.Error as e:
            message = str(e)
            assert outcome != WORK, (where, message)
            assert message.startswith("trigger_install(): ") and "\n" not in message and len(message) < 400, message
            # An expression is SQL: SQLite may be the one to refuse it, when
            # the install compiles the trigger; never past it.
            if kind == "expr" and not message.startswith("trigger_install(): argument 2"):
                assert message.startswith((f"trigger_install(): installing pack {pack}: ",
                                           f"trigger_install(): pack {pack}: with its triggers")), message
            else:
                assert not any(s in message for s in SQL_SYNTAX_ERRORS) or "reserved" in message, message
            assert schema(h, conn) == before, where
            assert h.rows(conn, "SELECT x FROM canary") == [(1,)], where
            if message.startswith("trigger_install(): argument 2"):
                # The preview refuses the value the same way.
                with pytest.raises(h.Error):
                    one(h, conn, "SELECT trigger_pack_sql(?, ?)", pack, json.dumps(given))
            continue
        assert outcome != REFUSE, (where, summary)
        assert summary.startswith(f"installed {pack} ") and "\n" not in summary, where
        created = set(schema(h, conn)) - set(before)
        objects = check(h, conn, p)
        assert {(k, n, t) for k, n, t, _ in created if not n.startswith(("trigger_pack_installs", "sqlite_autoindex"))} == objects, where
        assert {n for _, n, _, _ in created if not n.startswith("sqlite_autoindex")} - {o[1] for o in objects} == {
            "trigger_pack_installs"}, where
        assert h.rows(conn, "SELECT x FROM canary") == [(1,)], where
        installed = json.loads(one(h, conn, "SELECT installed_params FROM trigger_packs WHERE name = ?", pack))
        instance = one(h, conn, "SELECT instance FROM trigger_packs WHERE name = ?", pack)
        if instance is not None:  # a pack installed per table: keyed by instance
            installed = next(iter(installed.values()))
        if TEMPLATES[pack][param].kind not in ("conflicts", "conflict_columns"):
            assert installed[param] == value
        assert one(h, conn, "SELECT trigger_uninstall(?)", pack).startswith(f"uninstalled {pack}"), where
        kept = p.get(KEPT_TABLES.get(pack, ""), None)
        assert [o for o in schema(h, conn) if kept is None or o[2] != kept] == [
            o for o in before if kept is None or o[2] != kept], where
        conn.close()


@pytest.mark.parametrize("pack,param", [(p, q) for p, params in TEMPLATES.items() for q, d in params.items()
                                        if d.kind == "expr"])
def test_the_preview_of_an_expression_runs_nothing_else(h, pack, param, tmp_path):
    """trigger_pack_sql's script runs in any shell. Where a trigger of the
    pack's name exists already, its CREATE TRIGGER IF NOT EXISTS is skipped
    before SQLite checks what it would create: an expression that ended that
    statement early would have what follows it run. Every expression the
    preview accepts must leave the rest of the database as it was."""
    build, _ = SCENARIOS[pack]
    for i, (value, extra, match, _) in enumerate(values(pack, param)):
        given = {**extra, param: value}
        p = {**resolved(pack, given), "_match": match}
        db = str(tmp_path / f"{i}.db")
        conn = h.connect(db)
        h.script(conn, "CREATE TABLE canary (x); INSERT INTO canary VALUES (1);")
        try:
            build(h, conn, p)
        except Exception:  # noqa: BLE001 - a name SQLite refuses: the usual schema
            p = {**resolved(pack, {}), "_match": None}
            build(h, conn, p)
        try:
            sql = one(h, conn, "SELECT trigger_pack_sql(?, ?)", pack, json.dumps(given))
        except h.Error as e:
            assert str(e).startswith("trigger_pack_sql(): "), str(e)
            conn.close()
            continue
        name, table = first_trigger(pack, p)
        h.rows(conn, f"CREATE TRIGGER {quote(name)} AFTER INSERT ON {quote(table)} "
                     "BEGIN SELECT 1; END")
        before = schema(h, conn)
        conn.close()
        plain_conn = h.connect(db, load=False)
        try:
            h.script(plain_conn, sql)
        except Exception:  # noqa: BLE001 - an expression SQLite refuses stops the script
            pass
        # What the pack declares (its tables and indexes are created by the
        # script as it should) is left out; everything else stays as it was.
        ours = pack_object_names(pack, p) | {v + "_" for v in virtual_tables(pack, p)}

        def others(objects):
            return [o for o in objects if not o[1].startswith(("trigger_pack_installs", "sqlite_autoindex"))
                    and o[1] not in ours and not any(o[1].startswith(v) for v in ours if v.endswith("_"))]
        after = others(schema(h, plain_conn))
        assert after == others(before), (value, sql[:300])
        assert h.rows(plain_conn, "SELECT x FROM canary") == [(1,)], (value, sql[:300])
        plain_conn.close()


def test_nul_in_names_is_refused_however_it_arrives(h):
    conn = h.connect()
    h.script(conn, SEED_SCHEMA)
    before = schema(h, conn)
    attempts = {
        # a JSON escape: quote_ident refuses it
        "SELECT trigger_install('default_album', ?)": (json.dumps({"trigger_name": "a\x00b"}),),
        # a raw NUL inside the JSON text, made with char(0)
        "SELECT trigger_install('default_album', '{\"trigger_name\": \"a' || char(0) || 'b\"}')": (),
        # a NUL in the pack name
        "SELECT trigger_install('default_album' || char(0))": (),
        "SELECT trigger_install(?)": ("default_album\x00; DROP TABLE user",),
    }
    for sql, args in attempts.items():
        with pytest.raises(h.Error) as e:
            h.rows(conn, sql, args)
        message = str(e.value)
        assert message.startswith("trigger_install(): ") and "\x00" not in message, message
        assert re.search(r"NUL character|control character|unknown pack", message), message
    assert schema(h, conn) == before


NUL_IN_A_NAME = ("contains a NUL character, where SQLite's text functions and C hosts end the text; "
                 "give a name without one")


@pytest.mark.parametrize("nul", ["bound", "char(0)"])
def test_nul_in_a_channel_or_consumer_name_is_refused_by_every_function(h, nul, tmp_path):
    """A channel or consumer name with a NUL would not read back as given
    (SQLite's text functions and C hosts stop at it): every function that
    takes one refuses it with the same error, and writes nothing."""
    conn = h.connect(str(tmp_path / "app.db"))
    h.script(conn, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); SELECT trigger_outbox_init();")
    assert one(h, conn, "SELECT trigger_emit('c', 'before')") == 1
    before = schema(h, conn)
    name, args = ("?", ("a\x00b",)) if nul == "bound" else ("'a' || char(0) || 'b'", ())
    calls = {
        f"SELECT trigger_emit({name}, 'x')": "argument 1 (channel) ",
        f"SELECT trigger_wait(0, 0, {name})": "argument 3 (channel) ",
        f"SELECT trigger_cursor({name})": "argument 1 (consumer) ",
        f"SELECT trigger_ack({name}, 1)": "argument 1 (consumer) ",
        f"SELECT trigger_capture('t', json_object('channel', {name}))": "argument 2 (options_json): option channel ",
    }
    for sql, argument in calls.items():
        function = sql.split("(")[0].removeprefix("SELECT ")
        with pytest.raises(h.Error) as e:
            h.rows(conn, sql, args)
        assert str(e.value) == f"{function}(): {argument}{NUL_IN_A_NAME}", sql
    assert schema(h, conn) == before
    assert h.rows(conn, "SELECT seq, channel FROM trigger_outbox") == [(1, "c")]
    assert h.rows(conn, "SELECT count(*) FROM trigger_outbox_consumers") == [(0,)]


@pytest.mark.parametrize("function", ["trigger_install", "trigger_uninstall", "trigger_pack_sql"])
def test_hostile_pack_names_give_short_one_line_errors(h, function):
    conn = h.connect()
    h.script(conn, SEED_SCHEMA + "CREATE TABLE canary (x); INSERT INTO canary VALUES (1);")
    before = schema(h, conn)
    for name in HOSTILE_NAMES + REFUSED_NAMES:
        with pytest.raises(h.Error) as e:
            h.rows(conn, f"SELECT {function}(?)", (name,))
        message = str(e.value)
        assert message.startswith(f"{function}(): argument 1 (pack): unknown pack "), message
        assert "\n" not in message and "\x00" not in message and len(message) < 300, message
    assert schema(h, conn) == before and h.rows(conn, "SELECT x FROM canary") == [(1,)]


# --- hostile table names for the functions that take one ----------------------

TABLE_FUNCTIONS = ["trigger_listen", "trigger_watch", "trigger_capture"]
UNDO = {"trigger_listen": "trigger_unlisten", "trigger_watch": "trigger_unwatch", "trigger_capture": "trigger_uncapture"}
FILL = {"event": "after_insert", "action": "SELECT 1", "column": "v"}


@pytest.mark.parametrize("function", TABLE_FUNCTIONS)
def test_hostile_table_names(h, function, tmp_path):
    scalars, _ = sqlhosts.extension_functions(h)
    if function not in scalars:
        pytest.skip(f"{function} is not in this build")
    probe = h.connect()
    low, _, names = sqlhosts.signature(h, probe, function)
    for table in HOSTILE_NAMES:
        conn = h.connect(str(tmp_path / f"t{HOSTILE_NAMES.index(table)}.db"))
        h.script(conn, f"CREATE TABLE canary (x); INSERT INTO canary VALUES (1);"
                       f"CREATE TABLE {quote(table)} (id INTEGER PRIMARY KEY, v TEXT)")
        args = []
        for n in names[:low]:
            fill = table if "table" in n else next((v for k, v in FILL.items() if k in n), None)
            assert fill is not None, f"{function}(): no value for argument {n}; add one to FILL"
            args.append(fill)
        before = {r[1] for r in schema(h, conn)}
        call = f"SELECT {function}({', '.join('?' * len(args))})"
        try:
            result = h.rows(conn, call, args)[0][0]
        except h.Error as e:
            message = str(e)
            assert message.startswith(f"{function}(): ") and "\n" not in message, message
            assert not any(s in message for s in SQL_SYNTAX_ERRORS), message
            continue
        # The objects it made are about that table (or the extension's own).
        for kind, name, on, _ in schema(h, conn):
            if name not in before:
                assert (on == table or name.startswith("trigger_") or kind == "index"
                        or name == "sqlite_sequence"), (kind, name, on)
        h.script(conn, f"INSERT INTO {quote(table)} (v) VALUES ('a'); UPDATE {quote(table)} SET v = 'b';"
                       f"DELETE FROM {quote(table)}")
        assert h.rows(conn, "SELECT x FROM canary") == [(1,)]
        if UNDO[function] in scalars:
            # A listener is removed by the name trigger_listen returned.
            h.rows(conn, f"SELECT {UNDO[function]}(?)", (result if function == "trigger_listen" else table,))
            assert not [r for r in schema(h, conn) if r[0] == "trigger" and r[2] == table]
        assert h.rows(conn, "PRAGMA integrity_check") == [("ok",)]
        conn.close()
