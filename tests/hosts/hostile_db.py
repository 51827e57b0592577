"""Hostile database files: files made elsewhere (by Python's sqlite3, without
the extension) whose views, triggers, CHECK constraints, DEFAULTs, generated
columns and indexes call the extension's functions, nested in random ways,
and which are then opened, read and written in a child process with the
extension loaded. Whatever a file says, the host must not die.

    python hostile_db.py soak [--files N] [--seed S] [--hosts sqlite3,apsw]
                              [--shell-every K] [--minimize] [--keep DIR]
    python hostile_db.py child HOST MANIFEST PROGRESS RESULTS   (internal)

Each file comes from one seed (the same seed always makes the same file on
the same SQLite). A file may contain:
- the extension's own tables (trigger_outbox, trigger_outbox_consumers,
  trigger_pack_installs, trigger_pack_templates) as the extension makes
  them or altered, with
  triggers on them; user tables named like the extension's table-valued
  functions (trigger_txn, trigger_changes, ...); the packs' seed tables;
- user tables whose DEFAULTs, CHECKs and generated columns (VIRTUAL and
  STORED) call extension functions; expression and partial indexes;
- views (reading tables, views and the extension's table-valued functions)
  and BEFORE/AFTER/INSTEAD OF triggers with WHEN clauses;
- rows already in the tables.
Calls nest: an argument is another call, a column, a scalar subquery or a
literal steered by the argument's name (fuzz_host.Fuzzer.value). CHECKs,
generated columns and indexes are created with stub functions of the same
names registered, since SQLite resolves those at CREATE time; views and
triggers take unknown functions as they are.

The child opens a copy of each file four ways (trusted_schema ON and OFF,
the extension loaded before and after the schema is read), creates TEMP
objects (tables named like the extension's, triggers on main tables), reads
every table and view, writes every table and view in autocommit, BEGIN ...
COMMIT/ROLLBACK and SAVEPOINT ... ROLLBACK TO shapes, and calls functions
directly. Any SQL error or Python exception is fine. A failure is a death by
signal, a statement that runs longer than the stall limit, or Rust panic text
("panicked at", "RUST_BACKTRACE") on the host's stderr.

Many files run in one child; a child that dies reports the file and the
statement it was on, and the next child starts at the following file.
"""
import argparse
import json
import os
import pathlib
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fuzz_host  # noqa: E402
import sqlhosts  # noqa: E402

quote = fuzz_host.quote
ROOT = sqlhosts.ROOT
KEEP = ROOT / "target" / "hostile-db"
PANIC_TEXT = ("panicked at", "RUST_BACKTRACE")
VARIANTS = [(trusted, load_first) for trusted in (1, 0) for load_first in (True, False)]
# Tables named like the extension's table-valued functions, or like its TEMP
# guard triggers' names, created as plain user tables.
LOOKALIKE_TABLES = ["trigger_txn", "trigger_changes", "trigger_listeners", "trigger_packs", "trigger_feed_t0_insert"]
# Seconds a single statement may run before the child counts as hung.
STALL = float(os.environ.get("SQLITE_TRIGGERS_HOSTILE_STALL", "20"))


# --- what the extension provides ---------------------------------------------

class Extension:
    """The extension as a host sees it: its functions (by diffing
    pragma_function_list, see sqlhosts.extension_functions), their argument
    names (from their arity errors), its packs, and the exact DDL of the
    tables it creates in a user's database."""

    def __init__(self, host_name="sqlite3"):
        h = sqlhosts.host(host_name)
        self.scalars, self.vtabs = sqlhosts.extension_functions(h)
        conn = h.connect()
        self.signatures = {f: sqlhosts.signature(h, conn, f) for f in self.scalars}
        # The functions a schema may call when trusted_schema is OFF
        # (SQLITE_INNOCUOUS); the others are refused in any schema object.
        flags = dict(h.rows(conn, "SELECT name, max(flags) FROM pragma_function_list GROUP BY name"))
        self.innocuous = [f for f in self.scalars if flags[f] & 0x200000]
        rows = h.rows(conn, "SELECT name, params FROM trigger_packs")
        self.packs = [r[0] for r in rows]
        self.pack_params = {r[0]: json.loads(r[1]) for r in rows}
        h.rows(conn, "SELECT trigger_outbox_init()")
        # A registered pack makes the table of registered templates.
        h.rows(conn, "SELECT trigger_pack_register(?)", (
            "-- pack: own\n-- version: 1\n-- param: t | ident | \"t\" | the table\n"
            "-- param: n | ident | \"n\" | the trigger\n-- requires: t |\n-- object: trigger | n | t\n--\n"
            "CREATE TRIGGER IF NOT EXISTS main.{{n}} AFTER INSERT ON {{t}} BEGIN SELECT 1; END;\n",))
        self.own_ddl = dict(h.rows(conn, "SELECT name, sql FROM sqlite_master "
                                         "WHERE type = 'table' AND name LIKE 'trigger%'"))
        pack_sql = h.rows(conn, "SELECT trigger_pack_sql('task_state')")[0][0]
        installs = re.search(r"CREATE TABLE IF NOT EXISTS main\.(\w+) (\(.*?\n\));", pack_sql, re.S)
        self.own_ddl[installs.group(1)] = f"CREATE TABLE {installs.group(1)} {installs.group(2)}"
        conn.close()


# --- the generator -------------------------------------------------------------

class Context:
    """Where an expression goes: what it may reference."""

    def __init__(self, kind, columns=(), subqueries=False):
        self.kind, self.columns, self.subqueries = kind, list(columns), subqueries


def literal(v):
    """A fuzz_host.Value as SQL text that needs no binding."""
    if not v.params:
        return v.sql
    x = v.params[0]
    if x is None:
        return "NULL"
    if isinstance(x, bool):
        return str(int(x))
    if isinstance(x, int):
        return str(x) if x >= 0 else f"({x})"
    if isinstance(x, float):
        if x != x:
            return "NULL"
        if x in (float("inf"), float("-inf")):
            return "9e999" if x > 0 else "(-9e999)"
        return repr(x) if x >= 0 and not repr(x).startswith("-") else f"({x!r})"
    if isinstance(x, (bytes, bytearray, memoryview)):
        return f"X'{bytes(x).hex()}'"
    if len(x) > 200:
        return f"printf('%.*c', {len(x)}, 'x')"
    parts = x.split("\x00")
    return " || char(0) || ".join("'" + p.replace("'", "''") + "'" for p in parts)


class Generator(fuzz_host.Fuzzer):
    """Makes one hostile file from one seed. Reuses the fuzz's argument
    steering (Fuzzer.value and what it calls); nothing else of the fuzz."""

    def __init__(self, ext, seed):  # noqa: super().__init__ opens connections; only the steering is used
        self.ext, self.seed = ext, seed
        self.rng = random.Random(seed)
        self.scalars, self.tables = ext.scalars, ext.vtabs
        self.packs, self.pack_params = ext.packs, ext.pack_params
        self.param_names = sorted({k for p in self.pack_params.values() for k in p})
        self.table_names, self.columns = [], []
        self.used = {}  # kind -> functions called there, in objects SQLite accepted
        self.pending = set()  # (kind, function) of the statement being made
        self.turns = {}  # kind -> outermost calls made so far
        self.vocabulary_update()

    def vocabulary_update(self):
        self.words = (self.packs + self.param_names + self.table_names + self.columns + fuzz_host.EVENTS
                      + self.scalars + self.tables + ["main", "temp", "rowid"])

    # --- expressions ---

    def expr(self, ctx, depth=0):
        r = self.rng.random()
        if depth == 0 or r < 0.6:
            return self.call(ctx, depth)
        inner = self.expr(ctx, depth + 1)
        return self.rng.choice([
            f"coalesce({inner}, {self.arg(ctx, depth + 1)})",
            f"CASE WHEN {inner} THEN {self.arg(ctx, depth + 1)} ELSE {self.arg(ctx, depth + 1)} END",
            f"json_object('k', {inner})",
            f"({inner}) || ''",
            f"({inner}) IS NULL",
            f"typeof({inner})",
            f"length({inner})",
        ])

    def call(self, ctx, depth):
        # Schema objects mostly call what a schema may call, so that calls
        # get past SQLite's "unsafe use" check and run.
        # The outermost call of an object takes the functions in turn from
        # an offset set by the seed, so consecutive seeds put every function
        # in every kind of object.
        if depth == 0:
            turn = self.turns.get(ctx.kind, 0)
            self.turns[ctx.kind] = turn + 1
            # Each kind starts at its own offset, so one file does not put
            # the same function into every kind of object at once.
            offset = sum(map(ord, ctx.kind))
            f = self.scalars[(self.seed + offset + turn) % len(self.scalars)]
        else:
            schema = ctx.kind != "direct" and self.rng.random() < 0.75
            f = self.rng.choice(self.ext.innocuous if schema else self.scalars)
        self.pending.add((ctx.kind, f))
        sig = self.ext.signatures[f]
        if sig is None:
            count, names = self.rng.randint(0, 4), []
        else:
            low, high, names = sig
            count = self.rng.randint(low, high) if self.rng.random() < 0.9 else self.rng.choice([0, high + 1])
            count = min(count, 6)
        args = [self.arg(ctx, depth, names[i] if i < len(names) else "", f) for i in range(count)]
        return f"{f}({', '.join(args)})"

    def arg(self, ctx, depth, name="", function=""):
        if function.endswith("_wait"):
            return literal(self.value(name, function))  # short waits only
        # A column of the same name as the argument (new."channel" for
        # trigger_emit's channel): calls that pass rows on, as relays do.
        same = [c for c in ctx.columns if name and c.endswith(f'"{name}"')]
        r = self.rng.random()
        if same and r < 0.5:
            return self.rng.choice(same)
        if depth < 3 and r < 0.2 / (depth + 1):
            return self.expr(ctx, depth + 1)
        if ctx.columns and r < 0.45:
            return self.rng.choice(ctx.columns)
        if ctx.subqueries and depth < 3 and r < 0.55:
            return self.subquery(ctx, depth)
        return literal(self.value(name, function))

    def source(self):
        """Something to select from: a table, a view, a table-valued function."""
        return self.rng.choice(list(self.plan_tables) + self.views + self.tables + [f"{t}()" for t in self.tables[:2]])

    def subquery(self, ctx, depth):
        src = self.source()
        cols = [quote(c) for c in self.plan_tables.get(src, [])]
        inner = Context(ctx.kind, cols + ctx.columns, subqueries=True)
        what = self.rng.choice([self.expr(inner, depth + 1), "count(*)", "*" if not cols else cols[0]])
        if what == "*":
            what = "count(*)"
        where = f" WHERE {self.expr(inner, depth + 1)}" if self.rng.random() < 0.3 else ""
        return f"(SELECT {what} FROM {quote(src) if not src.endswith(')') else src}{where} LIMIT 1)"

    # --- the file ---

    def make(self, path):
        """Creates the file; returns its plan (what the child needs)."""
        if os.path.exists(path):
            os.remove(path)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA synchronous = OFF")  # neither setting is kept in the file
        conn.execute("PRAGMA journal_mode = MEMORY")
        for f in self.scalars:
            # Stubs so CHECKs, generated columns and indexes can be created;
            # the file is then read where the real functions are loaded.
            conn.create_function(f, -1, lambda *a: None, deterministic=True)
        self.conn = conn
        self.schema = []  # statements accepted, in order
        self.plan_tables = {}  # name -> insertable columns
        self.views = []
        rng = self.rng

        tables = []
        for own in self.ext.own_ddl:
            if rng.random() < 0.5:
                tables.append((own, self.ext.own_ddl[own] if rng.random() < 0.6 else None))
        for name in LOOKALIKE_TABLES:
            if rng.random() < 0.12:
                tables.append((name, None))
        for i in range(rng.randint(1, 3)):
            tables.append((f"t{i}", None))
        if rng.random() < 0.3:
            self.execute_script(sqlhosts.SEED_SCHEMA)
        for name, ddl in tables:
            self.execute(ddl or self.table_ddl(name))
        self.introspect()
        for name in list(self.plan_tables):
            for _ in range(rng.randint(0, 3)):
                self.execute(self.insert(name))
        for _ in range(rng.randint(0, 3)):
            self.index()
        for i in range(rng.randint(1, 4)):
            self.view(f"v{i}")
        for i in range(rng.randint(1, 6)):
            self.trigger(f"tr{i}")
        self.introspect()
        conn.close()
        session = self.session()
        calls = [f"SELECT {self.expr(Context('direct', subqueries=True))}" for _ in range(rng.randint(1, 4))]
        self.accept()
        return {
            "seed": self.seed,
            "tables": self.plan_tables,
            "views": self.views,
            "view_columns": self.view_columns,
            "schema": self.schema,
            "session": session,
            "calls": calls,
            "used": {k: sorted(v) for k, v in self.used.items()},
        }

    def accept(self, ok=True):
        if ok:
            for kind, f in self.pending:
                self.used.setdefault(kind, set()).add(f)
        self.pending = set()

    def execute(self, sql, schema=True):
        try:
            self.conn.execute(sql)
        except sqlite3.Error:
            self.accept(False)
            return False
        if schema:
            self.schema.append(sql)
        self.accept()
        return True

    def execute_script(self, sql):
        try:
            self.conn.executescript(sql)
            self.schema.append(sql)
        except sqlite3.Error:
            pass

    def introspect(self):
        c = self.conn
        self.plan_tables = {}
        for (name,) in c.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"):
            cols = c.execute("SELECT name FROM pragma_table_xinfo(?) WHERE hidden = 0", (name,)).fetchall()
            self.plan_tables[name] = [r[0] for r in cols]
        self.views = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'view'")]
        self.view_columns = {}
        for v in self.views:
            try:
                self.view_columns[v] = [r[0] for r in c.execute("SELECT name FROM pragma_table_info(?)", (v,))]
            except sqlite3.Error:
                self.view_columns[v] = []
        self.table_names = list(self.plan_tables) + self.views
        self.columns = sorted({c for cols in self.plan_tables.values() for c in cols})
        self.vocabulary_update()

    def table_ddl(self, name):
        rng = self.rng
        own = self.ext.own_ddl.get(name)
        # An altered copy of one of ours keeps its column names.
        names = re.findall(r"^\s+(\w+)", own, re.M) if own else []
        names = names or [f"c{i}" for i in range(rng.randint(1, 4))]
        if rng.random() < 0.3 and len(names) > 1:
            names = names[: rng.randint(1, len(names) - 1)]
        plain, defs = [], []
        for i, col in enumerate(names):
            ctype = rng.choice(["", " INTEGER", " TEXT", " REAL", " BLOB", " ANY"])
            r = rng.random()
            ctx = Context("check", [quote(c) for c in plain])
            if r < 0.25:
                d = f"{quote(col)}{ctype} DEFAULT ({self.expr(Context('default'))})"
            elif r < 0.45:
                d = f"{quote(col)}{ctype} CHECK ({self.expr(ctx)})"
            elif r < 0.7 and plain:
                kind = rng.choice(["VIRTUAL", "STORED"])
                d = f"{quote(col)}{ctype} AS ({self.expr(Context('generated ' + kind.lower(), ctx.columns))}) {kind}"
            else:
                d = f"{quote(col)}{ctype}"
            if i == 0 and " AS (" not in d and rng.random() < 0.4:
                d = f"{quote(col)} INTEGER PRIMARY KEY" + (" AUTOINCREMENT" if rng.random() < 0.3 else "")
            if " AS (" not in d:
                plain.append(col)
            defs.append(d)
        if rng.random() < 0.3:
            defs.append(f"CHECK ({self.expr(Context('check', [quote(c) for c in plain]))})")
        return f"CREATE TABLE {quote(name)} ({', '.join(defs)})"

    def insert(self, table):
        cols = self.plan_tables[table]
        if not cols or self.rng.random() < 0.2:
            return f"INSERT INTO {quote(table)} DEFAULT VALUES"
        vals = [literal(self.value(c)) for c in cols]
        if table == "trigger_outbox" or "channel" in cols:
            vals = [self.rng.choice(["'in'", "'x'", "1", literal(self.value())]) if c == "channel" else v
                    for c, v in zip(cols, vals)]
        return f"INSERT INTO {quote(table)} ({', '.join(map(quote, cols))}) VALUES ({', '.join(vals)})"

    def index(self):
        if not self.plan_tables:
            return
        table = self.rng.choice(list(self.plan_tables))
        cols = [quote(c) for c in self.plan_tables[table]]
        name = f"i{len(self.schema)}"
        on = self.expr(Context("index", cols)) if self.rng.random() < 0.7 or not cols else self.rng.choice(cols)
        where = f" WHERE {self.expr(Context('partial index', cols))}" if self.rng.random() < 0.5 else ""
        self.execute(f"CREATE {'UNIQUE ' if self.rng.random() < 0.2 else ''}INDEX {name} ON {quote(table)} ({on}){where}")

    def view(self, name):
        src = self.source() if self.rng.random() < 0.7 else None
        cols = [quote(c) for c in (self.plan_tables.get(src) or [])] if src else []
        ctx = Context("view", cols, subqueries=True)
        items = [f"{self.expr(ctx)} AS r{i}" for i in range(self.rng.randint(1, 3))]
        if cols and self.rng.random() < 0.5:
            items.append(", ".join(cols))
        frm = f" FROM {quote(src) if not src.endswith(')') else src}" if src else ""
        where = f" WHERE {self.expr(ctx)}" if src and self.rng.random() < 0.3 else ""
        if self.execute(f"CREATE VIEW {quote(name)} AS SELECT {', '.join(items)}{frm}{where}"):
            self.views.append(name)

    def trigger(self, name):
        rng = self.rng
        on_view = self.views and rng.random() < 0.25
        if not self.plan_tables and not on_view:
            return
        if on_view:
            target, timing = rng.choice(self.views), "INSTEAD OF"
            cols = self.view_columns.get(target) or []
        else:
            # The extension's own tables draw triggers more often than others.
            own = [t for t in self.plan_tables if t in self.ext.own_ddl]
            target = rng.choice(own) if own and rng.random() < 0.5 else rng.choice(list(self.plan_tables))
            timing = rng.choice(["BEFORE", "AFTER"])
            cols = self.plan_tables[target]
        event = rng.choice(["INSERT", "UPDATE", "DELETE"] + ([f"UPDATE OF {quote(cols[0])}"] if cols else []))
        row = "old" if event == "DELETE" else "new"
        refs = [f"{row}.{quote(c)}" for c in cols]
        ctx = Context("trigger", refs, subqueries=True)
        when = f" WHEN {self.expr(ctx)}" if rng.random() < 0.5 else ""
        body = [self.trigger_statement(ctx) for _ in range(rng.randint(1, 3))]
        self.execute(f"CREATE TRIGGER {quote(name)} {timing} {event} ON {quote(target)}"
                     f" FOR EACH ROW{when} BEGIN {' '.join(s + ';' for s in body)} END")

    def trigger_statement(self, ctx):
        rng = self.rng
        r = rng.random()
        if r < 0.45 or not self.plan_tables:
            return f"SELECT {self.expr(ctx)}"
        table = rng.choice(list(self.plan_tables) + ["trigger_txn"])
        cols = self.plan_tables.get(table, [])
        if r < 0.7:
            if not cols:
                return f"INSERT INTO {quote(table)} VALUES ({self.expr(ctx)})"
            col = rng.choice(cols)
            return f"INSERT INTO {quote(table)} ({quote(col)}) VALUES ({self.expr(ctx)})"
        if r < 0.85 and cols:
            return f"UPDATE {quote(table)} SET {quote(rng.choice(cols))} = {self.expr(ctx)} WHERE rowid = (SELECT max(rowid) FROM {quote(table)})"
        return f"DELETE FROM {quote(table)} WHERE {self.expr(ctx)}"

    def session(self):
        """TEMP objects the child creates once the file is open."""
        rng = self.rng
        out = []
        if rng.random() < 0.5:
            name = rng.choice(list(self.ext.own_ddl) + LOOKALIKE_TABLES + list(self.plan_tables))
            out.append(f"CREATE TEMP TABLE {quote(name)} (a, b DEFAULT ({self.expr(Context('temp default'))}))")
            out.append(f"CREATE TEMP TRIGGER tt0 AFTER INSERT ON {quote(name)} BEGIN SELECT "
                       f"{self.expr(Context('temp trigger', ['new.a', 'new.b'], True))}; END")
        if self.plan_tables and rng.random() < 0.5:
            t = rng.choice(list(self.plan_tables))
            refs = [f"new.{quote(c)}" for c in self.plan_tables[t]]
            out.append(f"CREATE TEMP TRIGGER tt1 {rng.choice(['BEFORE', 'AFTER'])} INSERT ON main.{quote(t)} "
                       f"BEGIN SELECT {self.expr(Context('temp trigger', refs, True))}; END")
        if rng.random() < 0.3:
            out.append(f"CREATE TEMP VIEW tv AS SELECT {self.expr(Context('temp view', subqueries=True))} AS r")
        return out


def workload(plan):
    """The statements the child runs on one file (after opening it and
    loading the extension), deterministic in the file's seed."""
    rng = random.Random(plan["seed"] * 7 + 1)
    out = list(plan["session"])
    reads = [f"SELECT * FROM {quote(n)} LIMIT 20" for n in list(plan["tables"]) + plan["views"]]
    reads += ["SELECT * FROM temp.tv LIMIT 5"] if any("TEMP VIEW" in s for s in plan["session"]) else []
    out += reads

    def writes():
        w = []
        for t, cols in plan["tables"].items():
            q = quote(t)
            choice = rng.random()
            if choice < 0.3 or not cols:
                w.append(f"INSERT INTO {q} DEFAULT VALUES")
            elif choice < 0.6:
                vals = ", ".join(rng.choice(["NULL", "1", "'in'", "'x'", "-1", "X'00'", "2.5"]) for _ in cols)
                w.append(f"INSERT INTO {q} ({', '.join(map(quote, cols))}) VALUES ({vals})")
            elif choice < 0.85:
                c = quote(rng.choice(cols))
                w.append(f"UPDATE {q} SET {c} = {c}")
            else:
                w.append(f"DELETE FROM {q} WHERE rowid = (SELECT max(rowid) FROM {q})")
        for v in plan["views"]:
            cols = plan["view_columns"].get(v) or []
            q = quote(v)
            choice = rng.random()
            if choice < 0.4 and cols:
                w.append(f"INSERT INTO {q} ({', '.join(map(quote, cols))}) VALUES ({', '.join('1' for _ in cols)})")
            elif choice < 0.7 and cols:
                w.append(f"UPDATE {q} SET {quote(cols[0])} = 2")
            else:
                w.append(f"DELETE FROM {q}")
        rng.shuffle(w)
        return w

    for shape in rng.sample(["auto", "commit", "rollback", "savepoint"], rng.randint(2, 4)):
        w = writes()
        if shape == "auto":
            out += w
        elif shape in ("commit", "rollback"):
            out += ["BEGIN"] + w + [shape.upper()]
        else:
            half = len(w) // 2
            out += ["BEGIN", *w[:half], "SAVEPOINT s", *writes(), "ROLLBACK TO s", *w[half:], "RELEASE s", "COMMIT"]
        out.append("ROLLBACK")  # whatever an error left open
    out += plan["calls"]
    out += reads
    return out


def selftest(what):
    """What the harness's own test makes a child do: die, panic, hang."""
    if what == "abort":
        os.kill(os.getpid(), signal.SIGABRT)
    elif what == "panic":
        os.write(2, b"thread 'main' panicked at src/x.rs:1:1:\nnote: run with `RUST_BACKTRACE=1`\n")
    elif what == "hang":
        time.sleep(3600)


# --- the child -------------------------------------------------------------------

def child(host_name, manifest, progress_path, results_path):
    h = sqlhosts.host(host_name)
    entries = json.loads(pathlib.Path(manifest).read_text())
    progress = open(progress_path, "w")
    results = open(results_path, "a")
    workdir = os.path.dirname(progress_path)
    for entry in entries:
        sys.stderr.write(f"\n@@file {entry['seed']}\n")
        sys.stderr.flush()
        stats = {"seed": entry["seed"], "statements": 0, "ok": 0, "errors": 0, "exceptions": 0}
        for variant in entry.get("variants", VARIANTS):
            trusted, load_first = variant
            copy = os.path.join(workdir, "open.db")
            for suffix in ("", "-journal", "-wal"):
                if os.path.exists(copy + suffix):
                    os.remove(copy + suffix)
            shutil.copy(entry["path"], copy)
            conn = h.connect(copy, load=False)

            def step(sql):
                progress.seek(0)
                progress.write(json.dumps({"seed": entry["seed"], "variant": variant, "sql": sql}))
                progress.truncate()
                progress.flush()
                stats["statements"] += 1
                try:
                    if sql == ".load":
                        h.load(conn)
                    elif sql.startswith(".selftest "):
                        selftest(sql.split()[1])
                    else:
                        h.rows(conn, sql)
                    stats["ok"] += 1
                except h.Error:
                    stats["errors"] += 1
                except Exception:  # noqa: BLE001 - any Python exception is fine; only the process's death is not
                    stats["exceptions"] += 1

            step(f"PRAGMA trusted_schema = {trusted}")
            if load_first:
                step(".load")
            step("SELECT count(*) FROM sqlite_master")
            if not load_first:
                step(".load")
            for sql in entry["statements"]:
                step(sql)
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass
        results.write(json.dumps(stats) + "\n")
        results.flush()
    progress.seek(0)
    progress.truncate()
    progress.flush()


# --- the parent --------------------------------------------------------------------

def split_stderr(text):
    """{seed: stderr text written while that file ran}."""
    out = {}
    for part in re.split(r"\n@@file ", "\n" + text)[1:]:
        seed, _, rest = part.partition("\n")
        out[int(seed)] = out.get(int(seed), "") + rest
    return out


def run_child(host_name, entries, workdir, keep=True, stall=None):
    """Runs entries in as many children as it takes: returns (per-file stats,
    failures). A child that dies or hangs is a failure of the file it was on;
    the next child starts after it."""
    stats, failures = [], []
    remaining = list(entries)
    by_seed = {e["seed"]: e for e in entries}
    env = {**os.environ, "SQLITE_TRIGGERS_EXT": sqlhosts.EXT}
    env.pop("RUST_BACKTRACE", None)
    while remaining:
        manifest = os.path.join(workdir, "manifest.json")
        progress = os.path.join(workdir, "progress.json")
        results = os.path.join(workdir, "results.jsonl")
        for p in (progress, results):
            if os.path.exists(p):
                os.remove(p)
        pathlib.Path(manifest).write_text(json.dumps(remaining))
        with open(os.path.join(workdir, "stderr.txt"), "w+") as err:
            proc = subprocess.Popen([sys.executable, __file__, "child", host_name, manifest, progress, results],
                                    stdout=subprocess.DEVNULL, stderr=err, env=env)
            hung = False
            while proc.poll() is None:
                time.sleep(0.05)
                try:
                    last = os.path.getmtime(progress)
                except OSError:
                    last = None
                if last is not None and time.time() - last > (stall or STALL):
                    hung = True
                    proc.kill()
                    proc.wait()
            err.seek(0)
            stderr = err.read()
        done = [json.loads(line) for line in pathlib.Path(results).read_text().splitlines()] if os.path.exists(results) else []
        stats += done
        finished = {d["seed"] for d in done}
        texts = split_stderr(stderr)
        for seed in finished:
            if any(p in texts.get(seed, "") for p in PANIC_TEXT):
                failures.append(failure(host_name, by_seed[seed], "panic", None, texts[seed], keep))
        remaining = [e for e in remaining if e["seed"] not in finished]
        if proc.returncode == 0 and not hung:
            if remaining:
                raise RuntimeError(f"the child ended without running {len(remaining)} files:\n{stderr[-3000:]}")
            break
        try:
            at = json.loads(pathlib.Path(progress).read_text())
        except (OSError, ValueError):
            at = {"seed": remaining[0]["seed"], "variant": None, "sql": "(before the first statement)"}
        kind = "hang" if hung else (signal.Signals(-proc.returncode).name if proc.returncode < 0 else f"exit {proc.returncode}")
        entry = by_seed[at["seed"]]
        failures.append(failure(host_name, entry, kind, at, texts.get(at["seed"], stderr), keep))
        stats.append({"seed": at["seed"], "statements": 0, "ok": 0, "errors": 0, "exceptions": 0, "died": kind})
        # Go on with the variants of this file that did not run (unless it
        # hung: each would cost the stall limit again), then the files after it.
        i = [e["seed"] for e in remaining].index(at["seed"])
        variants = [list(v) for v in entry.get("variants", VARIANTS)]
        rest = variants[variants.index(list(at["variant"])) + 1:] if at.get("variant") in variants and not hung else []
        remaining = ([{**entry, "variants": rest}] if rest else []) + remaining[i + 1:]
    return stats, failures


def failure(host_name, entry, kind, at, stderr, keep=True):
    """A failure, with the file kept under target/hostile-db/ and a report
    that names the seed and shows the file's schema."""
    if not keep:
        return {"host": host_name, "seed": entry["seed"], "kind": kind, "at": at}
    KEEP.mkdir(parents=True, exist_ok=True)
    kept = KEEP / f"{host_name}-{entry['seed']}.db"
    shutil.copy(entry["path"], kept)
    plan = entry["plan"]
    sql = "\n".join(s.rstrip(";") + ";" for s in plan["schema"])
    (KEEP / f"{host_name}-{entry['seed']}.sql").write_text(
        f"-- schema of {kept.name} (seed {entry['seed']})\n{sql}\n-- TEMP objects the child made\n"
        + "\n".join(s + ";" for s in plan["session"]) + "\n")
    where = ""
    if at:
        trusted, load_first = at["variant"] or (None, None)
        where = (f"  trusted_schema={trusted}, extension loaded {'before' if load_first else 'after'} the schema was read\n"
                 f"  statement: {fuzz_host.short(at['sql'], 2000)}\n")
    panic = [line for line in stderr.splitlines() if any(p in line for p in PANIC_TEXT)]
    report = (f"{kind} in {host_name} on the file of seed {entry['seed']} (kept: {kept})\n{where}"
              + (f"  panic: {panic[0][:500]}\n" if panic else "")
              + f"  schema:\n{fuzz_host.short(sql, 6000)}\n  TEMP: {plan['session']}\n")
    return {"host": host_name, "seed": entry["seed"], "kind": kind, "at": at, "report": report, "kept": str(kept),
            "entry": entry}


def rebuild(ext, schema, path):
    """Makes a file from a list of schema statements (as a plan keeps
    them), with the stub functions registered; statements that fail now are
    left out."""
    if os.path.exists(path):
        os.remove(path)
    conn = sqlite3.connect(path, isolation_level=None)
    for f in ext.scalars:
        conn.create_function(f, -1, lambda *a: None, deterministic=True)
    kept = []
    for sql in schema:
        try:
            conn.executescript(sql)
            kept.append(sql)
        except sqlite3.Error:
            pass
    conn.close()
    return kept


def minimize(ext, f, workdir, log=None):
    """Shrinks a failure (a death, a hang or a panic) to the fewest schema
    statements, TEMP statements and workload statements that still fail the
    same way, one statement at a time. Returns the repro as SQL text, or None
    when the failure does not reproduce on its own."""
    entry, at = f["entry"], f["at"]
    if not at or not at.get("variant"):
        return None
    stmts = entry["statements"]
    upto = stmts[: stmts.index(at["sql"]) + 1] if at["sql"] in stmts else stmts
    parts = {"schema": list(entry["plan"]["schema"]), "workload": [at["sql"]] if at["sql"] in stmts else upto}
    path = os.path.join(workdir, "min.db")
    tries = [0]

    def fails(p):
        tries[0] += 1
        plan = {**entry["plan"], "schema": rebuild(ext, p["schema"], path)}
        e = {"seed": entry["seed"], "path": path, "plan": plan, "statements": p["workload"], "variants": [at["variant"]]}
        # A hang is shrunk with a shorter stall limit.
        _, failures = run_child(f["host"], [e], workdir, keep=False, stall=5 if f["kind"] == "hang" else None)
        return any(x["kind"] == f["kind"] for x in failures)

    if not fails(parts):
        parts["workload"] = upto
        if not fails(parts):
            return None
    changed = True
    while changed:  # until neither list loses a statement
        changed = False
        for key in ("workload", "schema"):
            # Chunks first (halves, quarters, ...), then single statements.
            size = max(1, len(parts[key]) // 2)
            while size >= 1:
                i = 0
                while i < len(parts[key]):
                    trial = {**parts, key: parts[key][:i] + parts[key][i + size:]}
                    if (trial[key] or key == "schema") and fails(trial):
                        parts, changed = trial, True
                    else:
                        i += size
                size //= 2
    trusted, load_first = at["variant"]
    lines = ["-- made without the extension:"] + [s.rstrip(";\n") + ";" for s in parts["schema"]]
    lines += [f"-- then, in {f['host']}: PRAGMA trusted_schema = {trusted}; the extension loaded "
              f"{'before' if load_first else 'after'} the schema is read; then:"]
    lines += [s + ";" for s in parts["workload"]]
    if log:
        log(f"minimized seed {entry['seed']} ({f['kind']}) in {tries[0]} runs")
    return "\n".join(lines)


def generate(ext, seeds, workdir):
    entries = []
    for seed in seeds:
        path = os.path.join(workdir, f"f{seed}.db")
        plan = Generator(ext, seed).make(path)
        entries.append({"seed": seed, "path": path, "plan": plan, "statements": workload(plan)})
    return entries


def shell_run(entry, workdir):
    """Runs one file through the sqlite3 shell: trusted_schema OFF, the
    extension loaded before the schema is read. Returns a failure or None."""
    if not shutil.which("sqlite3"):
        return None
    copy = os.path.join(workdir, "shell.db")
    shutil.copy(entry["path"], copy)
    script = "PRAGMA trusted_schema = OFF;\n" + "".join(s + ";\n" for s in entry["statements"])
    args = ["sqlite3", "-cmd", f".load {sqlhosts.EXT}", copy]
    try:
        proc = subprocess.run(args, input=script, capture_output=True, text=True, errors="replace", timeout=STALL * 3)
    except subprocess.TimeoutExpired:
        return failure("shell", entry, "hang", None, "")
    if proc.returncode < 0:
        return failure("shell", entry, signal.Signals(-proc.returncode).name, None, proc.stderr)
    if any(p in proc.stderr for p in PANIC_TEXT):
        return failure("shell", entry, "panic", None, proc.stderr)
    return None


def run(files, seed, hosts, shell_every=0, batch=100, log=None, minimize_limit=0):
    """Generates `files` files from seeds seed..seed+files-1 and runs them in
    every host. Returns a summary with every failure."""
    ext = Extension()
    started = time.monotonic()
    summary = {"files": 0, "statements": 0, "ok": 0, "errors": 0, "exceptions": 0, "deaths": 0,
               "hangs": 0, "panics": 0, "shell_files": 0, "failures": [], "used": {}}
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="hostile-db-", dir=shm) as workdir:
        for start in range(seed, seed + files, batch):
            seeds = list(range(start, min(start + batch, seed + files)))
            entries = generate(ext, seeds, workdir)
            for entry in entries:
                for kind, fs in entry["plan"]["used"].items():
                    summary["used"].setdefault(kind, set()).update(fs)
            for host_name in hosts:
                stats, failures = run_child(host_name, entries, workdir)
                summary["files"] += len(entries)
                for s in stats:
                    for k in ("statements", "ok", "errors", "exceptions"):
                        summary[k] += s[k]
                summary["failures"] += failures
            if shell_every:
                for entry in entries[::shell_every]:
                    summary["shell_files"] += 1
                    f = shell_run(entry, workdir)
                    if f:
                        summary["failures"].append(f)
            for entry in entries:
                os.remove(entry["path"])
            if log:
                log(f"{summary['files']} file runs, {summary['statements']} statements, "
                    f"{len(summary['failures'])} failures, {time.monotonic() - started:.0f} s")
        # Distinct failures, shrunk to repros: one per kind of death and
        # shape of the statement it died in.
        summary["repros"] = {}
        shapes = set()
        for f in summary["failures"]:
            shape = (f["kind"], " ".join(re.sub(r"\(.*", "", (f["at"] or {}).get("sql", "")).split()[:4]))
            if f["host"] == "shell" or shape in shapes or len(shapes) >= minimize_limit:
                continue
            shapes.add(shape)
            repro = minimize(ext, f, workdir, log)
            if repro:
                summary["repros"].setdefault(repro, []).append(f"{f['host']} seed {f['seed']} {f['kind']}")
    for f in summary["failures"]:
        key = "hangs" if f["kind"] == "hang" else "panics" if f["kind"] == "panic" else "deaths"
        summary[key] += 1
    summary["seconds"] = round(time.monotonic() - started, 1)
    summary["functions"] = ext.scalars
    return summary


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(*sys.argv[2:6])
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["soak"])
    p.add_argument("--files", type=int, default=3000)
    p.add_argument("--seed", type=int, default=int(time.time()) % 1_000_000 * 10_000)
    p.add_argument("--hosts", default=",".join(sqlhosts.HOSTS))
    p.add_argument("--shell-every", type=int, default=10)
    p.add_argument("--minimize", type=int, default=8, help="shrink up to N distinct failures to repros")
    p.add_argument("--reports", type=int, default=5, help="print the full report of the first N failures")
    a = p.parse_args()
    print(f"seeds {a.seed}..{a.seed + a.files - 1}, hosts {a.hosts}", flush=True)
    s = run(a.files, a.seed, a.hosts.split(","), a.shell_every, log=lambda m: print(m, flush=True),
            minimize_limit=a.minimize)
    for f in s["failures"][: a.reports]:
        print("\n" + f["report"])
    for f in s["failures"]:
        at = f["at"] or {}
        print(f"{f['kind']} {f['host']} seed {f['seed']} variant {at.get('variant')}: {fuzz_host.short(at.get('sql'), 200)}")
    for repro, where in s["repros"].items():
        print(f"\n=== repro ({len(where)}: {', '.join(where)})\n{repro}")
    print(json.dumps({k: v for k, v in s.items() if k not in ("failures", "used", "functions", "repros")}))
    sys.exit(1 if s["failures"] else 0)


if __name__ == "__main__":
    main()
