"""Fuzzes every SQL function of the extension from a real host, as a child
process of test_fuzz.py, so that a crash or an abort is seen as what it is.

    python fuzz_host.py HOST MODE CALLS SEED WORKDIR
      HOST   sqlite3 (Python's, the system SQLite) or apsw (the newest SQLite)
      MODE   functions: every scalar and table-valued function of the
                        extension, with random argument counts and values
             params:    trigger_pack_sql and trigger_install with random
                        params_json (valid, hostile, nested, huge, not JSON)

The functions are found by diffing pragma_function_list against a connection
without the extension, and their argument names are read from their own
arity errors ("takes 1 or 2 arguments (pack [, params_json])"), which steer
the values towards what each argument expects (existing tables for a table,
pack names for a pack, JSON for params_json) so calls get past the argument
checks and really run. Installs and uninstalls run and commit too.

Rules checked after every call:
- an error is the host's SQL error (sqlite3.OperationalError, apsw.SQLError)
  whose message starts with "<function>(): " (a table-valued function's
  message names it);
- a failed call changes nothing (every schema and every table's rows);
- text results are valid UTF-8; the connection still works and is not left
  inside a transaction;
- the table `canary` keeps its row and the user's tables keep their
  definitions, whatever the hostile names and values said;
- what an install creates is named by its parameters;
- writes to the user's tables still work (installed triggers compile and run),
  and PRAGMA integrity_check is ok whenever a scratch database is retired.

Before each call the call is written to WORKDIR/last-call.txt, so a crash
names it; WORKDIR/errors.txt gets every distinct error message. At the end one line of JSON with counts is printed; on the first
broken rule a report is printed and the exit status is 1.
"""
import json
import os
import random
import re
import sys
import time

import sqlhosts



def quote(name):
    return '"' + name.replace('"', '""') + '"'


SEED_SCHEMA = sqlhosts.SEED_SCHEMA
HOSTILE_TABLE = 'odd "name"; DROP TABLE canary; --'
HOSTILE_COLUMN = "col ]`' /*"
SCRATCH_SCHEMA = SEED_SCHEMA + f"""
CREATE TABLE canary (x);
INSERT INTO canary VALUES (1);
CREATE TABLE {quote(HOSTILE_TABLE)} (
  id INTEGER PRIMARY KEY, {quote(HOSTILE_COLUMN)} TEXT, state INTEGER DEFAULT 0);
CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, note TEXT, updated_at TEXT, deleted_at TEXT);
INSERT INTO item (name) VALUES ('i');
INSERT INTO user (id, name) VALUES (1, 'alice');
INSERT INTO obs (id, name) VALUES (1, 'comet');
INSERT INTO task (obs_id, name) VALUES (1, 'a');
"""
# Writes that make every installed trigger fire. Constraint errors are the
# user's business (a pack pointed at a NOT NULL column); anything else (a
# trigger that does not compile, a missing table) is a broken rule.
WRITES = [
    "INSERT INTO user (name) VALUES ('u')",
    "INSERT INTO obs (name) VALUES ('o')",
    "INSERT INTO task (obs_id, name) SELECT max(id), 't' FROM obs",
    "UPDATE obs SET state = 2 WHERE id = (SELECT max(id) FROM obs)",
    "UPDATE obs SET state = 'x', name = 'p' WHERE id = 1",
    "DELETE FROM task WHERE id = (SELECT min(id) FROM task)",
    f"INSERT INTO {quote(HOSTILE_TABLE)} DEFAULT VALUES",
    "INSERT INTO item (name) VALUES ('j')",
    "UPDATE item SET name = name || 'x' WHERE id = (SELECT min(id) FROM item)",
    "DELETE FROM item WHERE id = (SELECT max(id) FROM item)",
]
WRITE_ERRORS_ALLOWED = ("constraint failed", "datatype mismatch")
# The built-in packs' parameters, by kind, from their templates.
TEMPLATES = sqlhosts.pack_templates()
# Parameters a list parameter needs beside it to mean anything: a protect
# pack's columns are about updates (an insert or a delete has no old and new
# row to compare).
LIST_NEEDS = {("protect", "columns"): {"operation": "update"}}

INT_EDGES = [0, 1, -1, 2, 3, 7, 100, 255, 256, 65536, 2**31 - 1, -(2**31), 2**32, 2**53 + 1, 2**63 - 1, -(2**63), -(2**63) + 1]
REAL_EDGES = [0.0, -0.0, 0.5, -1.5, 3.14159, 1e-300, 5e-324, 1e308, -1e308, 1.7976931348623157e308, 2.0**63, -(2.0**63), float("nan")]
# SQL expressions a binding cannot express. Each is marked when it is text
# that is not valid UTF-8: such an argument may come back in a result.
SQL_VALUES = [
    ("9e999", False), ("-9e999", False), ("0.0/0", False),
    ("CAST(X'C328' AS TEXT)", True), ("CAST(X'FF' AS TEXT)", True), ("CAST(X'EDA080' AS TEXT)", True),
    ("CAST(X'F4908080' AS TEXT)", True), ("CAST(X'7461736B5F7374617465FF' AS TEXT)", True),
    ("char(0)", False), ("'task_state' || char(0)", False), ("'a' || char(0) || 'b'", False),
    ("zeroblob(0)", False), ("zeroblob(100000)", False), ("randomblob(64)", False), ("X''", False),
    ("X'00'", False), ("CAST('task_state' AS BLOB)", False), ("CAST('{}' AS BLOB)", False),
    ("printf('%.*c', 1000000, 'x')", False), ("(SELECT NULL)", False), ("json_object('a', 1)", False),
    ("json_array(1, 'x')", False), ("CAST(9223372036854775807 AS REAL)", False),
]
MALFORMED_JSON = [
    "", " ", "{", "}", "[", '{"a":}', '{"a":1,}', "{'a': 1}", '{"a": 1} x', "\ufeff{}", '{"a": NaN}',
    '{"a": Infinity}', "/* c */ {}", '{"a": 1e999}', '{"a": -1e999}', '{"a": 123456789012345678901234567890}',
    '{"a": "\\ud800"}', '{"a": "\\u0000"}', '{"a": "\x00"}', '{"a": "\x01\n"}', "nul\x00l", "null", "true",
    "[]", "1", '"text"', '{"a": 1, "a": 2}', "{}" * 3, "[" * 129 + "]" * 129, "[" * 10_000,
    '{"a":' * 5_000 + "1" + "}" * 5_000, '{"": ""}',
]
# Trigger bodies for trigger_listen: valid ones (that must install) and not.
ACTIONS = ["SELECT 1", "SELECT 1;", "SELECT raise(IGNORE)", "SELECT NEW.rowid", "SELECT nope FROM nowhere",
           "SELECT 1; END; DROP TABLE canary", "", ";"]
EVENTS = ["insert", "update", "delete", "INSERT", "Update", "all", "*", "", "insert,update", "truncate",
          "after_insert", "before_update", "after_delete", "AFTER_UPDATE"]
UNICODE_RANGES = [(0x20, 0x7E), (0x01, 0x1F), (0xA0, 0x24F), (0x300, 0x36F), (0x4E00, 0x4E80),
                  (0x202A, 0x202E), (0x200B, 0x200F), (0xFFF0, 0xFFFF), (0x1F600, 0x1F64F), (0x10FFF0, 0x10FFFF)]


class Broken(Exception):
    """A rule the extension must keep was broken."""


class Value:
    """One argument: an SQL fragment, its bindings, and whether it is text
    that is not valid UTF-8."""

    def __init__(self, sql, params=(), bad_utf8=False, shown=None):
        self.sql, self.params, self.bad_utf8 = sql, list(params), bad_utf8
        self.shown = shown if shown is not None else (repr(params[0]) if params else sql)

    @staticmethod
    def bound(v):
        return Value("?", [v])


def short(text, n=300):
    text = str(text)
    return text if len(text) <= n else text[:n] + f"... ({len(text)} chars)"


class Fuzzer:
    def __init__(self, host, mode, calls, seed, workdir):
        self.h = sqlhosts.host(host)
        self.mode, self.calls, self.seed, self.workdir = mode, calls, seed, workdir
        self.rng = random.Random(seed)
        self.scalars, self.tables = sqlhosts.extension_functions(self.h)
        self.stats = {"host": host, "sqlite": self.h.version, "mode": mode, "seed": seed, "calls": 0,
                      "ok": 0, "errors": 0, "committed_changes": 0, "scratch_databases": 0, "functions": {}}
        self.last = open(os.path.join(workdir, "last-call.txt"), "w")
        self.conn = None
        self.serial = 0
        self.messages = set()

    # --- scratch databases -------------------------------------------------

    def new_scratch(self):
        if self.conn is not None:
            self.retire()
        self.serial += 1
        self.stats["scratch_databases"] += 1
        path = ":memory:" if self.rng.random() < 0.2 else os.path.join(self.workdir, f"scratch-{self.serial}.db")
        self.conn = self.h.connect(path)
        if self.rng.random() < 0.1:
            self.h.load(self.conn)  # loading twice changes nothing
        self.h.script(self.conn, SCRATCH_SCHEMA)
        if self.rng.random() < 0.3:
            self.h.rows(self.conn, "ATTACH ':memory:' AS aux")
            self.h.script(self.conn, "CREATE TABLE aux.obs (id INTEGER PRIMARY KEY, state)")
        self.user_tables = self.table_sql()
        self.vocabulary()
        if self.mode == "params":
            self.check = self.h.connect(load=False)
            self.h.script(self.check, SCRATCH_SCHEMA)
            self.check_tables = self.table_sql(self.check)

    def retire(self):
        self.writes()
        ok = self.h.rows(self.conn, "PRAGMA integrity_check")
        if ok != [("ok",)]:
            raise Broken(f"PRAGMA integrity_check: {ok}")
        self.conn.close()
        for suffix in ("", "-journal", "-wal", "-shm"):
            path = os.path.join(self.workdir, f"scratch-{self.serial}.db{suffix}")
            if os.path.exists(path):
                os.remove(path)

    def vocabulary(self):
        """Words the functions may recognise: packs, their parameters,
        tables, columns, functions, events."""
        rows = self.h.rows(self.conn, "SELECT name, params FROM trigger_packs")
        self.packs = [r[0] for r in rows]
        self.pack_params = {r[0]: json.loads(r[1]) for r in rows}
        self.param_names = sorted({k for p in self.pack_params.values() for k in p})
        self.table_names = [r[0] for r in self.h.rows(self.conn, "SELECT name FROM sqlite_master WHERE type = 'table'")]
        self.columns = sorted({r[0] for t in self.table_names
                               for r in self.h.rows(self.conn, "SELECT name FROM pragma_table_info(?)", (t,))})
        self.words = (self.packs + self.param_names + self.table_names + self.columns + EVENTS
                      + self.scalars + self.tables + ["main", "temp", "aux", "rowid"])

    def table_sql(self, conn=None):
        conn = conn or self.conn
        return dict(self.h.rows(conn, "SELECT name, sql FROM main.sqlite_master WHERE type = 'table'"))

    def fingerprint(self):
        """Every schema and every table's rows, on every attached database.
        Text is read as its bytes: a call may store text that is not UTF-8
        (SQLite keeps what it is given), which the hosts cannot decode."""
        out = []
        for (schema_name,) in self.h.rows(self.conn, "SELECT name FROM pragma_database_list ORDER BY name"):
            master = "sqlite_temp_master" if schema_name == "temp" else "sqlite_master"
            objects = self.h.rows(self.conn, f"SELECT type, name, tbl_name, CAST(sql AS BLOB) FROM {quote(schema_name)}.{master} ORDER BY 1, 2")
            out.append((schema_name, objects))
            for kind, name, _, _ in objects:
                if kind == "table":
                    cols = [c for (c,) in self.h.rows(
                        self.conn, "SELECT name FROM pragma_table_xinfo(?, ?) ORDER BY cid", (name, schema_name))]
                    picks = ", ".join(f"iif(typeof({quote(c)}) = 'text', CAST({quote(c)} AS BLOB), {quote(c)})"
                                      for c in cols) or "*"
                    out.append(self.h.rows(self.conn, f"SELECT {picks} FROM {quote(schema_name)}.{quote(name)}"))
        return out

    def refusals(self, conn):
        """The messages installed packs refuse writes with (protect's): a
        write they refuse is the pack at work."""
        try:
            return {r[0] for r in self.h.rows(
                conn, "SELECT json_extract(params, '$.message') FROM trigger_pack_installs "
                      "WHERE json_extract(params, '$.message') IS NOT NULL")}
        except Exception:  # noqa: BLE001 - no install table
            return set()

    def writes(self):
        refusals = self.refusals(self.conn)
        for sql in WRITES:
            try:
                self.h.rows(self.conn, sql)
            except Exception as e:  # noqa: BLE001 - judged by message below
                if not any(s in str(e) for s in WRITE_ERRORS_ALLOWED) and str(e) not in refusals:
                    raise Broken(f"after the calls, a write fails: {sql}\n  {type(e).__name__}: {e}")

    def intact(self, conn=None, tables=None):
        conn = conn or self.conn
        tables = tables or self.user_tables
        now = self.table_sql(conn)
        for name, sql in tables.items():
            if now.get(name) != sql:
                raise Broken(f"table {short(name)} was dropped or altered: {short(now.get(name))}")
        if self.h.rows(conn, "SELECT x FROM canary") != [(1,)]:
            raise Broken("the canary table's row changed")

    # --- values ------------------------------------------------------------

    def text(self):
        r = self.rng.random()
        if r < 0.3:
            return self.rng.choice(self.words)
        if r < 0.5:
            return self.rng.choice(sqlhosts.HOSTILE_NAMES + sqlhosts.REFUSED_NAMES)
        if r < 0.6:
            w = self.rng.choice(self.words)
            return self.rng.choice([w.upper(), w + " ", " " + w, w + "\x00", w[:-1], w + "x", w * 2])
        if r < 0.85:
            n = self.rng.choice([1, 2, 5, 20, 100])
            return "".join(chr(self.rng.randint(*self.rng.choice(UNICODE_RANGES))) for _ in range(n))
        if r < 0.97:
            return self.json_text()
        return "x" * self.rng.choice([1_000, 10_000, 100_000, 1_000_000])

    def json_value(self, depth=0):
        r = self.rng.random()
        if r < 0.25:
            return self.rng.choice(self.words)
        if r < 0.4:
            return self.rng.choice(sqlhosts.HOSTILE_NAMES + sqlhosts.REFUSED_NAMES)
        if r < 0.55:
            return self.rng.choice(INT_EDGES + [2**64, -(2**64) - 1, 10**30])
        if r < 0.65:
            return self.rng.choice(REAL_EDGES[:-1])
        if r < 0.75:
            return self.rng.choice([None, True, False, "", 0])
        if r < 0.85 and depth < 4:
            return [self.json_value(depth + 1) for _ in range(self.rng.randint(0, 3))]
        if r < 0.95 and depth < 4:
            return self.json_object(depth + 1)
        return "y" * self.rng.choice([1_000, 100_000])

    def json_object(self, depth=0, keys=None):
        keys = keys if keys is not None else self.param_names
        obj = {}
        for _ in range(self.rng.choice([0, 1, 1, 2, 3, 5])):
            r = self.rng.random()
            key = (self.rng.choice(keys) if keys and r < 0.8 else
                   self.rng.choice(self.words + sqlhosts.HOSTILE_NAMES[:10] + ["", "obs_tabel"]))
            obj[key] = self.json_value(depth)
        return obj

    def json_text(self, keys=None):
        r = self.rng.random()
        if r < 0.25:
            return self.rng.choice(MALFORMED_JSON)
        text = json.dumps(self.json_object(keys=keys), ensure_ascii=self.rng.random() < 0.5)
        if r < 0.3:
            return text[: self.rng.randint(0, len(text))]  # cut short
        return text

    def value(self, argument="", function=""):
        """A value for one argument, steered by its name half of the time."""
        n = argument.lower()
        if function.endswith("_wait") and any(k in n for k in ("timeout", "ms", "second", "wait")):
            # Blocking functions only get short waits.
            return Value.bound(self.rng.choice([0, 1, 5, -1, 0.001, None, "x"]))
        if self.rng.random() < 0.55 and n:
            if "template" in n:
                return Value.bound(self.template())
            if "pack" in n and self.packs:
                return Value.bound(self.rng.choice(self.packs))
            if "json" in n or "param" in n or "option" in n:
                return Value.bound(self.json_text())
            if "table" in n:
                return Value.bound(self.rng.choice(self.table_names + ["aux.obs", "main.user", "nope", "sqlite_master", "*"]))
            if "column" in n:
                return Value.bound(self.rng.choice(self.columns))
            if "event" in n:
                return Value.bound(self.rng.choice(EVENTS))
            if "action" in n or n.endswith("_sql"):
                return Value.bound(self.rng.choice(ACTIONS))
            if "schema" in n or n in ("db", "database"):
                return Value.bound(self.rng.choice(["main", "temp", "aux", "nope"]))
            if any(k in n for k in ("id", "seq", "cursor", "limit", "count", "since", "after", "before", "max", "keep", "timeout")):
                return Value.bound(self.rng.choice(INT_EDGES))
        r = self.rng.random()
        if r < 0.1:
            return Value.bound(None)
        if r < 0.25:
            return Value.bound(self.rng.choice(INT_EDGES) if self.rng.random() < 0.7 else self.rng.randint(-(2**63), 2**63 - 1))
        if r < 0.35:
            return Value.bound(self.rng.choice(REAL_EDGES) if self.rng.random() < 0.7 else self.rng.uniform(-1e6, 1e6))
        if r < 0.8:
            return Value.bound(self.text())
        if r < 0.88:
            return Value.bound(self.rng.choice([b"", b"\x00", bytes(self.rng.getrandbits(8) for _ in range(16)), b"task_state", b"{}"]))
        sql, bad = self.rng.choice(SQL_VALUES)
        return Value(sql, bad_utf8=bad)

    # --- calls ---------------------------------------------------------------

    # The functions that undo another one need its result to succeed.
    UNDO_TARGETS = {
        "trigger_uncapture": "SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' "
                             "AND sql LIKE '%sqlite-triggers capture%'",
        "trigger_unlisten": "SELECT name FROM trigger_listeners",
        # Unregistering refuses an installed pack.
        "trigger_pack_unregister": "SELECT name FROM trigger_packs WHERE registered AND NOT installed",
        # The tables this connection guards, each watched by name or by '*'.
        "trigger_unwatch": "SELECT DISTINCT tbl_name FROM sqlite_temp_master WHERE type = 'trigger' "
                           "AND name LIKE 'trigger_feed%' UNION ALL SELECT '*'",
    }

    def arguments(self, function, sig):
        if function == "trigger_listen" and self.rng.random() < 0.3:
            # A call that is valid whole, so listeners exist to unlisten.
            return [Value.bound(v) for v in (self.rng.choice(self.table_names),
                                             self.rng.choice(EVENTS[10:]), "SELECT 1")]
        if function == "trigger_pack_unregister" and self.rng.random() < 0.3:
            # A pack registered just before, so that unregistering can succeed
            # whatever the scratch database went through.
            name = f"fz_u{self.rng.randint(0, 99)}"
            text = (f"-- pack: {name}\n-- version: 1.0.0\n"
                    f"-- param: t | ident | {json.dumps(self.rng.choice(self.table_names))} | the table\n"
                    "-- param: n | ident | \"fz_u_trigger\" | the trigger\n"
                    "-- requires: t |\n-- object: trigger | n | t\n--\n"
                    "CREATE TRIGGER IF NOT EXISTS main.{{n}} AFTER INSERT ON {{t}} BEGIN SELECT 1; END;\n")
            try:
                self.h.rows(self.conn, "SELECT trigger_pack_register(?)", (text,))
            except Exception:  # noqa: BLE001 - already registered, or in a transaction
                pass
            return [Value.bound(name)]
        if function in ("trigger_uninstall", "trigger_upgrade") and self.rng.random() < 0.3:
            # An install that exists: a pack installed once per table is
            # named with its instance (the key is "pack:instance").
            try:
                keys = [r[0] for r in self.h.rows(self.conn, "SELECT pack FROM trigger_pack_installs")]
            except Exception:  # noqa: BLE001 - nothing installed yet
                keys = []
            if keys:
                pack, _, instance = self.rng.choice(keys).partition(":")
                return [Value.bound(v) for v in ([pack, instance] if instance else [pack])]
        if function == "trigger_uncapture" and self.rng.random() < 0.2:
            # A table captured just before, so that uncapturing can succeed.
            table = self.rng.choice(self.table_names)
            try:
                self.h.rows(self.conn, "SELECT trigger_capture(?)", (table,))
            except Exception:  # noqa: BLE001 - not capturable, or in a transaction
                pass
            return [Value.bound(table)]
        if function == "trigger_ack" and self.rng.random() < 0.3:
            # A position that exists: the newest event's, or 0.
            try:
                last = self.h.rows(self.conn, "SELECT coalesce(max(seq), 0) FROM trigger_outbox")[0][0]
            except Exception:  # noqa: BLE001 - no outbox yet
                last = 0
            return [Value.bound(self.rng.choice(["fz", "consumer", "日本"])), Value.bound(last)]
        query = self.UNDO_TARGETS.get(function)
        if query and sig is not None and self.rng.random() < 0.5:
            existing = [r[0] for r in self.h.rows(self.conn, query)]
            if existing:
                return [Value.bound(self.rng.choice(existing))]
        if sig is None:
            count = self.rng.randint(0, 5)
            names = []
        else:
            low, high, names = sig
            r = self.rng.random()
            count = (self.rng.randint(low, high) if r < 0.85 else
                     self.rng.choice([0, high + 1, high + 2, 100]))
        return [self.value(names[i] if i < len(names) else "", function) for i in range(count)]

    def count(self, function, result=None):
        """Counts one call of `function`; `result` is "ok" or "errors" when known."""
        stat = self.stats["functions"].setdefault(function, {"calls": 0, "ok": 0, "errors": 0})
        stat["calls"] += 1
        self.stats["calls"] += 1
        if result:
            stat[result] += 1
            self.stats[result] += 1

    def run(self, function, args, sql, expect, commit, checks=None):
        """Runs one call and checks every rule; returns the rows or None on error."""
        params = [p for a in args for p in a.params]
        self.last.seek(0)
        self.last.write(f"call {self.stats['calls']} ({'commit' if commit else 'savepoint'}): {sql}\n"
                        f"arguments: {short([a.shown for a in args], 2000)}\n")
        self.last.truncate()
        self.last.flush()
        self.count(function)
        stat = self.stats["functions"][function]
        before = self.fingerprint()
        if not commit:
            self.h.rows(self.conn, "SAVEPOINT fuzz")
        started = time.monotonic()
        try:
            rows = self.h.rows(self.conn, sql, params)
            error = None
        except Exception as e:  # noqa: BLE001 - every exception is judged below
            rows, error = None, e
        took = time.monotonic() - started
        where = f"{sql}\n  arguments: {short([a.shown for a in args], 1000)}"
        if took > 10:
            raise Broken(f"a call took {took:.1f} s: {where}")
        if error is not None:
            message = str(error)
            if isinstance(error, UnicodeDecodeError) and any(a.bad_utf8 for a in args):
                message = None  # the host cannot decode text we were given
            elif not isinstance(error, self.h.Error):
                raise Broken(f"{type(error).__name__} instead of the host's SQL error: {message}\n  {where}")
            elif not message or not expect(message):
                raise Broken(f"error message does not name {function}(): {short(message, 500)!r}\n  {where}")
            stat["errors"] += 1
            self.stats["errors"] += 1
            if message:
                self.messages.add(re.sub(r"\d+", "N", short(message, 150)))
        else:
            stat["ok"] += 1
            self.stats["ok"] += 1
            for row in rows:
                if len(row) == 2 and row[0] == "text" and isinstance(row[1], bytes) and not any(a.bad_utf8 for a in args):
                    try:
                        row[1].decode("utf-8")
                    except UnicodeDecodeError:
                        raise Broken(f"{function}() returned text that is not UTF-8: {where}")
        if self.h.rows(self.conn, "SELECT 1") != [(1,)]:
            raise Broken(f"the connection stopped working after {where}")
        if commit:
            if self.h.in_transaction(self.conn):
                raise Broken(f"a transaction was left open by {where}")
            after = self.fingerprint()
            if error is not None and after != before:
                raise Broken(f"a failed call changed the database: {short(error)}\n  {where}")
            if after != before:
                self.stats["committed_changes"] += 1
        else:
            try:
                self.h.rows(self.conn, "ROLLBACK TO fuzz")
                self.h.rows(self.conn, "RELEASE fuzz")
            except Exception as e:  # noqa: BLE001
                raise Broken(f"the call ended the caller's savepoint ({e}): {where}")
            if self.fingerprint() != before:
                raise Broken(f"rolling back the caller's savepoint did not undo the call: {where}")
        self.intact()
        if checks and rows is not None:
            checks(rows)
        return rows

    def scalar_call(self, function, sig):
        args = self.arguments(function, sig)
        inner = f"{function}({', '.join(a.sql for a in args)})"
        many = self.rng.random() < 0.1
        # MATERIALIZED: the function runs once per row, not once per use of r.
        sql = (f"WITH c(r) AS MATERIALIZED (SELECT {inner}"
               + (" FROM (VALUES (1), (2), (3))" if many else "")
               + ") SELECT typeof(r), CAST(r AS BLOB) FROM c")
        commit = not many and self.rng.random() < 0.25
        prefix = f"{function}(): "
        self.run(function, args, sql, lambda m: m.startswith(prefix), commit)

    def table_call(self, table):
        if self.rng.random() < 0.7:
            args = self.arguments(table, None)
            sql = f"SELECT * FROM {table}({', '.join(a.sql for a in args)})"
        else:
            args = [self.value()]
            sql = f"SELECT * FROM {table} WHERE rowid > {args[0].sql} LIMIT 5"
        self.run(table, args, sql, lambda m: table in m, commit=False)

    # --- pack parameters -----------------------------------------------------

    def expected_names(self, pack, params_json):
        """Names an install may create: strings in params_json and in the
        pack's defaults, the derived `<name>_idx`, the defaults derived from
        the given values (`{table}_touch`), and the install table."""
        strings = set()
        try:
            parsed = json.loads(params_json, object_pairs_hook=lambda pairs: [v for _, v in pairs])
        except (ValueError, RecursionError):
            parsed = []
            for m in re.finditer(r'"((?:[^"\\]|\\.)*)"', params_json):
                try:
                    parsed.append(json.loads(f'"{m.group(1)}"'))
                except ValueError:
                    pass
        derived = []
        if pack in TEMPLATES:
            for pick in (lambda pairs: dict(pairs), lambda pairs: dict(reversed(pairs))):
                try:
                    given = json.loads(params_json, object_pairs_hook=pick)
                except (ValueError, RecursionError):
                    continue
                if isinstance(given, dict):
                    derived.extend(sqlhosts.derive(TEMPLATES[pack], given).values())
        stack = [parsed, derived, list(self.pack_params.get(pack, {}).values())]
        while stack:
            v = stack.pop()
            if isinstance(v, list):
                stack.extend(v)
            elif isinstance(v, str):
                strings.add(v)
        # SQLite names the index of a table's key, and FTS5 its shadow tables,
        # after the table a parameter names.
        return (strings | {s + "_idx" for s in strings} | {f"sqlite_autoindex_{s}_1" for s in strings}
                | {f"{s}_{shadow}" for s in strings for shadow in ("data", "idx", "docsize", "config")}
                | {"trigger_pack_installs", "sqlite_autoindex_trigger_pack_installs_1"})

    def check_new_names(self, before, after, pack, params_json, where):
        names = self.expected_names(pack, params_json)
        for obj in set(after) - set(before):
            if obj[1] not in names:
                raise Broken(f"an install created {obj[0]} {short(obj[1])}, which no parameter names: {where}")

    def params_call(self):
        if self.rng.random() < 0.1:
            self.install_must_work()
            return
        pack = self.rng.choice(self.packs) if self.rng.random() < 0.9 else self.text()
        keys = list(self.pack_params.get(pack, {})) or self.param_names
        params_json = self.json_text(keys=keys) if self.rng.random() < 0.95 else self.text()
        args = [Value.bound(pack), Value.bound(params_json)]
        where = f"pack {short(pack)!r}, params_json {short(params_json, 1000)!r}"
        if self.rng.random() < 0.5:
            function = "trigger_pack_sql"

            def run_the_sql(rows):
                if self.rng.random() < 0.3:
                    self.run_pack_sql(rows[0][1], pack, params_json, where)

            self.run(function, args, f"SELECT 'text', {function}(?, ?)", lambda m: m.startswith(f"{function}(): "),
                     commit=False, checks=run_the_sql)
            return
        function = "trigger_install"
        commit = self.rng.random() < 0.5
        before = sqlhosts.schema(self.h, self.conn)
        keys = self.install_keys()
        rows = self.run(function, args, f"SELECT {function}(?, ?)", lambda m: m.startswith(f"{function}(): "), commit)
        if rows is None or not commit:
            return
        after = sqlhosts.schema(self.h, self.conn)
        self.check_new_names(before, after, pack, params_json, where)
        if rows[0][0].startswith("installed ") and self.rng.random() < 0.7:
            self.writes()
            # The new install, named by its instance where the pack has them
            # (installed on other tables already, it needs the name).
            [key] = self.install_keys() - keys
            name, _, instance = key.partition(":")
            args = [Value.bound(v) for v in ([name, instance] if instance else [name])]
            done = self.run("trigger_uninstall", args, f"SELECT trigger_uninstall({', '.join('?' * len(args))})",
                            lambda m: m.startswith("trigger_uninstall(): "), commit=True)
            if done is None:
                raise Broken(f"uninstalling right after {where} failed")
            # A table that holds data (a history, counts' _counts) stays, with
            # SQLite's index of its key.
            new_tables = {o[1] for o in sqlhosts.schema(self.h, self.conn) if o[0] == "table"} - {
                o[1] for o in before if o[0] == "table"}
            kept = [o for o in sqlhosts.schema(self.h, self.conn) if o[2] not in new_tables]
            if kept != before:
                raise Broken(f"uninstall did not restore the schema after {where}")

    def install_keys(self):
        try:
            return {r[0] for r in self.h.rows(self.conn, "SELECT pack FROM trigger_pack_installs")}
        except Exception:  # noqa: BLE001 - no install table
            return set()

    # Statements a template's body may try beside its trigger.
    SNEAKY = ["DROP TABLE canary;", "CREATE TABLE IF NOT EXISTS main.stolen (x);", "ATTACH 'x.db' AS x;",
              "CREATE TRIGGER IF NOT EXISTS main.evil AFTER INSERT ON canary BEGIN SELECT 1; END;",
              "-- {{t}}", "SELECT '{{v}}';", "END;", "{{", "CREATE INDEX IF NOT EXISTS main.{{n}} ON {{t}}(x);"]

    def template(self):
        """A template for trigger_pack_register: one that registers, with
        hostile names and values in its defaults, more than half of the time;
        else one with a line changed, cut short or replaced by SQL that
        tries to do more than the header declares."""
        # (hostile_db's generator, which borrows this, knows no tables yet.)
        table = self.rng.choice(getattr(self, "table_names", None) or ["user"])
        trigger, value = self.hostile_name(), self.text()
        name = self.rng.choice(["fz", f"fz_{self.rng.randint(0, 9)}", "ünï_日本-2.x", "task_state", "a b", ""])
        version = self.rng.choice(["1", "1.0.0", "2.10", "0.0.1", "x", ""])
        lines = [f"-- pack: {name}", f"-- version: {version}",
                 f"-- param: t | ident | {json.dumps(table)} | the table",
                 f"-- param: n | ident | {json.dumps(trigger)} | the trigger",
                 f"-- param: v | text | {json.dumps(value)} | a value",
                 "-- requires: t |", "-- object: trigger | n | t", "--",
                 "CREATE TRIGGER IF NOT EXISTS main.{{n}} AFTER INSERT ON {{t}} BEGIN SELECT {{v}}; END;"]
        r = self.rng.random()
        if r < 0.2:
            lines[self.rng.randrange(len(lines))] = self.rng.choice(self.SNEAKY + [self.text()])
        elif r < 0.35:
            lines.insert(self.rng.randrange(len(lines) + 1), self.rng.choice(self.SNEAKY))
        text = "\n".join(lines) + "\n"
        if 0.35 <= r < 0.45:
            return text[: self.rng.randrange(len(text))]
        return text

    def hostile_name(self):
        if self.rng.random() < 0.6:
            return self.rng.choice(sqlhosts.HOSTILE_NAMES)
        n = self.rng.choice([1, 3, 10, 60])
        return "".join(chr(self.rng.randint(*self.rng.choice(UNICODE_RANGES))) for _ in range(n))

    def hostile_params(self, pack):
        """Parameters for an install that must work: hostile names for names
        and texts, and otherwise values of each parameter's kind that are
        valid whatever the names: a listed word for a choice, a list of
        hostile names for a list (the columns are made when the install asks
        for them), an expression over hostile text for an expression."""
        kinds = TEMPLATES.get(pack)
        if kinds is None:  # a registered pack: its text defaults are names
            return {k: self.hostile_name() for k, v in self.pack_params[pack].items()
                    if isinstance(v, str) and self.rng.random() < 0.6}
        params = {}
        for name, d in kinds.items():
            if self.rng.random() >= 0.6:
                continue
            if d.kind in ("ident", "text"):
                params[name] = self.hostile_name()
            elif d.kind == "choice":
                params[name] = self.rng.choice(d.args)
            elif d.kind == "idents":
                names = []
                for _ in range(self.rng.randint(1, 3)):
                    n = self.hostile_name()
                    if all(n.encode().lower() != m.encode().lower() for m in names):
                        names.append(n)
                params[name] = names
                params.update(LIST_NEEDS.get((pack, name), {}))
            elif d.kind == "expr":
                text = "'" + self.hostile_name().replace("'", "''") + "'"
                expr = self.rng.choice(["", f"{text} IS NULL", f"length({text}) > 1000"])
                params[name] = expr if len(expr.encode()) <= 4096 else ""
        return params

    def install_must_work(self):
        """An install whose names are all hostile but valid must succeed once
        the tables and columns it asks for exist, with exactly those names:
        create what each error names, retry, and accept no other error than
        a name already taken."""
        pack = self.rng.choice(self.packs)
        params = self.hostile_params(pack)
        named = sqlhosts.derive(TEMPLATES[pack], params) if pack in TEMPLATES else {**self.pack_params[pack], **params}
        conn = self.h.connect()
        tables, columns = [], set()
        where = f"pack {pack}, params {short(json.dumps(params), 1000)}"
        for _ in range(30):
            try:
                summary = self.h.rows(conn, "SELECT trigger_install(?, ?)", (pack, json.dumps(params)))[0][0]
                self.count("trigger_install", "ok")
                break
            except self.h.Error as e:
                message = str(e)
                self.count("trigger_install", "errors")
            table = re.match(r"trigger_install\(\): pack \w+ needs a table \(parameter (\w+)\): no table ", message, re.S)
            column = re.match(r"trigger_install\(\): pack \w+ needs column .* \(parameter (\w+)\) in table .*, which has no such column$", message, re.S)
            # A key must tell the rows apart: a unique index of its own.
            unique = re.match(r"trigger_install\(\): pack \w+ needs column .* \(parameter (\w+)\) to tell the rows of table .* apart", message, re.S)
            if unique:
                key = named[unique.group(1)]
                for t in tables:
                    have = {r[0].lower() for r in self.h.rows(conn, "SELECT name FROM pragma_table_info(?)", (t,))}
                    if key.lower() in have:
                        self.h.rows(conn, f"CREATE UNIQUE INDEX IF NOT EXISTS "
                                          f"{quote(f'fuzz_unique_{len(tables)}_{t}_{key}')} "
                                          f"ON {quote(t)} ({quote(key)})")
                continue
            if table:
                tables.append(named[table.group(1)])
                self.h.rows(conn, f"CREATE TABLE {quote(tables[-1])} (id INTEGER PRIMARY KEY)")
            elif column:
                # A column parameter, or a list parameter's names.
                value = named[column.group(1)]
                columns.update(value if isinstance(value, list) else [value])
            else:
                self.stats["hostile_installs_refused"] = self.stats.get("hostile_installs_refused", 0) + 1
                # FTS5 judges its own tokenize option: a hostile one is its to refuse.
                # Two parameters given one name: a refusal of the values, not a failure.
                if ("already exists" in message or "tokenize" in message or "tokenizer" in message
                        or "give each object a name of its own" in message):
                    conn.close()
                    return
                raise Broken(f"an install with valid hostile names failed: {short(message, 600)}\n  {where}")
            for t in tables:  # every column on every table: the pack needs some of them
                have = {r[0] for r in self.h.rows(conn, "SELECT name FROM pragma_table_info(?)", (t,))}
                for c in columns - have:
                    if c.lower() not in {h.lower() for h in have}:
                        # A key is NOT NULL, as install asks of one.
                        key = any(isinstance(named.get(k), str) and c.lower() == named[k].lower()
                                  for k in ("key", "child_key"))
                        null = " NOT NULL DEFAULT ''" if key else ""
                        self.h.rows(conn, f"ALTER TABLE {quote(t)} ADD COLUMN {quote(c)}{null}")
        else:
            raise Broken(f"an install with valid hostile names never succeeded: {where}")
        self.stats["hostile_installs"] = self.stats.get("hostile_installs", 0) + 1
        # A table a pack creates comes with SQLite's index of its key.
        created = {r[0] for r in self.h.rows(conn, "SELECT name FROM sqlite_master WHERE type IN ('trigger', 'index') "
                                                   "AND name NOT LIKE 'sqlite\\_autoindex\\_%' ESCAPE '\\' "
                                                   "AND name NOT LIKE 'fuzz\\_unique\\_%' ESCAPE '\\'")}
        names = self.expected_names(pack, json.dumps(params))
        if not created <= names or not summary.startswith(f"installed {pack}"):
            raise Broken(f"the install created {sorted(map(short, created))} ({summary}): {where}")
        for t in tables:
            for sql in [f"INSERT INTO {quote(t)} DEFAULT VALUES"] + [
                    f"UPDATE {quote(t)} SET {quote(c)} = {quote(c)}" for c in columns]:
                try:
                    self.h.rows(conn, sql)
                except Exception as e:  # noqa: BLE001 - a pack's refusal is a constraint error; judged below
                    if (not any(a in str(e) for a in WRITE_ERRORS_ALLOWED + ("no such column",))
                            and str(e) not in self.refusals(conn)):
                        raise Broken(f"after the install, {short(sql)} fails: {e}\n  {where}")
        self.h.rows(conn, "SELECT trigger_uninstall(?)", (pack,))
        self.count("trigger_uninstall", "ok")
        # A table that holds data (counts' _counts, a history) is kept, with
        # SQLite's index of its key; nothing else of the pack is left.
        kept = [r[0] for r in self.h.rows(conn, "SELECT name FROM sqlite_master WHERE type = 'table'")]
        left = [r for r in self.h.rows(conn, "SELECT name, tbl_name FROM sqlite_master "
                                             "WHERE type IN ('trigger', 'index') OR name LIKE 'trigger%'")
                if not (r[0].startswith("sqlite_autoindex_") and r[1] in kept)
                and not r[0].startswith("fuzz_unique_")]
        if left:
            raise Broken(f"uninstall left {left}: {where}")
        conn.close()

    def run_pack_sql(self, sql, pack, params_json, where):
        """Runs a preview in a connection without the extension: whether or
        not it fits that schema, it may only create what its parameters name."""
        if isinstance(sql, (bytes, memoryview)):
            sql = bytes(sql).decode("utf-8")
        before = sqlhosts.schema(self.h, self.check)
        try:
            # In the script: Python's executescript commits before it starts.
            self.h.script(self.check, "SAVEPOINT chk;\n" + sql)
        except self.h.Error:
            pass  # the parameters may name tables this database lacks
        after = sqlhosts.schema(self.h, self.check)
        self.intact(self.check, self.check_tables)
        self.check_new_names(before, after, pack, params_json, where)
        try:
            self.h.rows(self.check, "ROLLBACK TO chk")
            self.h.rows(self.check, "RELEASE chk")
        except Exception as e:  # noqa: BLE001
            raise Broken(f"the preview's SQL ended the transaction ({e}): {where}")

    # --- main loop -------------------------------------------------------------

    def main(self):
        started = time.monotonic()
        self.new_scratch()
        sigs = {f: sqlhosts.signature(self.h, self.conn, f) for f in self.scalars}
        self.stats["signatures"] = {f: (list(s) if s else None) for f, s in sigs.items()}
        next_rotation = self.rng.randint(100, 400)
        for i in range(self.calls):
            if i == next_rotation:
                self.new_scratch()
                next_rotation = i + self.rng.randint(100, 400)
            if i % 50 == 49:
                self.writes()
            if self.mode == "params":
                self.params_call()
            elif self.tables and self.rng.random() < 0.1:
                self.table_call(self.rng.choice(self.tables))
            else:
                f = self.rng.choice(self.scalars)
                self.scalar_call(f, sigs[f])
        self.retire()
        self.stats["seconds"] = round(time.monotonic() - started, 1)
        self.stats["distinct_errors"] = len(self.messages)
        print(json.dumps(self.stats))
        with open(os.path.join(self.workdir, "errors.txt"), "w") as f:
            f.write("\n".join(sorted(self.messages)) + "\n")


def main():
    host, mode, calls, seed, workdir = sys.argv[1:6]
    fuzzer = Fuzzer(host, mode, int(calls), int(seed), workdir)
    try:
        fuzzer.main()
    except Broken as e:
        print(f"BROKEN ({host}, {mode}, seed {seed}, call {fuzzer.stats['calls']}): {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
