"""Benchmarks 14 and 15: the counts and fts_sync packs against the triggers
sqlite-utils creates for the same job.

- 14: sqlite-utils' `table.enable_counts()` triggers (baseline) against
  `trigger_install('counts')`;
- 15: sqlite-utils' `table.enable_fts(["title", "body"],
  create_triggers=True)` triggers (baseline) against
  `trigger_install('fts_sync')` on the same columns.

The work is plain SQL through Python's sqlite3, one prepared statement per
row as an application writes: N rows inserted, each one's indexed title
updated, then each deleted, in one transaction on a fresh database file with
`synchronous=OFF`; the extension is loaded for both contenders, so the
triggers are the only difference. Contenders run interleaved after a
warm-up round; the measure is the process's CPU time (the commit included),
and the times of the inserts, updates and deletes are printed apart. Each
run checks its result: the count kept equal to count(*), or the index
finding every row, then empty and passing FTS5's integrity-check.

    python benches/python/peers_sqlite_utils.py --extension PATH [--quick] [--rows 14,15] [--out FILE]
"""
import importlib.metadata
import os
import sqlite3
import statistics
import sys
import tempfile
import time

import sqlite_utils

import bench_args
from interleave import interleaved

SCHEMA = "CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT, body TEXT, qty INTEGER NOT NULL DEFAULT 0)"
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()


def data(n):
    return [(i, f"{WORDS[i % 12]} {WORDS[i * 7 % 12]} {i}",
             " ".join(WORDS[i * j % 12] for j in range(1, 9))) for i in range(1, n + 1)]


def su_counts(conn):
    # recursive_triggers=False: sqlite-utils turns the pragma on otherwise,
    # and the work here runs as an application's connection does (off).
    sqlite_utils.Database(conn, recursive_triggers=False)["item"].enable_counts()


def su_fts(conn):
    sqlite_utils.Database(conn, recursive_triggers=False)["item"].enable_fts(
        ["title", "body"], create_triggers=True)


def pack_counts(conn):
    conn.execute("""SELECT trigger_install('counts', '{"table": "item"}')""")


def pack_fts(conn):
    conn.execute("""SELECT trigger_install('fts_sync', '{"table": "item", "columns": ["title", "body"]}')""")


def check_counts(conn, expected):
    kept = conn.execute("""SELECT count FROM _counts WHERE "table" = 'item'""").fetchone()[0]
    real = conn.execute("SELECT count(*) FROM item").fetchone()[0]
    if kept != real or real != expected:
        raise RuntimeError(f"_counts says {kept}, the table holds {real}, expected {expected}")


def check_fts(conn, expected):
    found = conn.execute("SELECT count(*) FROM item_fts WHERE item_fts MATCH 'alpha OR bravo OR charlie OR "
                         "delta OR echo OR foxtrot OR golf OR hotel OR india OR juliet OR kilo OR lima'").fetchone()[0]
    if found != expected:
        raise RuntimeError(f"the index finds {found} rows, expected {expected}")
    conn.execute("INSERT INTO item_fts (item_fts, rank) VALUES ('integrity-check', 1)")


def one_run(extension, rows, contender, check, phases):
    """One fresh database, the contender's triggers, the timed work; returns
    (cpu_s, wall_s), the sums of the three phases, and keeps the phases'
    CPU times in `phases`."""
    updates = [(f"{title} x", i) for i, title, _ in rows]
    deletes = [(i,) for i, _, _ in rows]
    with tempfile.TemporaryDirectory(prefix="sqlite-triggers-bench-") as tmp:
        conn = sqlite3.connect(os.path.join(tmp, "bench.db"), isolation_level=None)
        try:
            conn.enable_load_extension(True)
            conn.load_extension(extension)
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute(SCHEMA)
            contender["install"](conn)
            cpu, wall = [], []

            def timed(work):
                c, w = time.process_time(), time.perf_counter()
                work()
                cpu.append(time.process_time() - c)
                wall.append(time.perf_counter() - w)

            conn.execute("BEGIN")
            timed(lambda: conn.executemany("INSERT INTO item (id, title, body) VALUES (?, ?, ?)", rows))
            check(conn, len(rows))  # untimed
            timed(lambda: conn.executemany("UPDATE item SET title = ? WHERE id = ?", updates))
            timed(lambda: (conn.executemany("DELETE FROM item WHERE id = ?", deletes), conn.execute("COMMIT")))
            check(conn, 0)
            phases[contender["name"]].append(cpu)
            return sum(cpu), sum(wall)
        finally:
            conn.close()


def print_phases(contenders, phases):
    base = phases[contenders[0]["name"]]
    for c in contenders:
        mine = phases[c["name"]]
        parts = []
        for k, label in enumerate(["inserts", "updates", "deletes (and commit)"]):
            median = statistics.median(s[k] for s in mine)
            ratio = statistics.median(m[k] / b[k] for m, b in zip(mine, base) if b[k] > 0)
            parts.append(f"{label} {median * 1e3:.2f}ms ({ratio:.3f}×)")
        print(f"   {c['name']}: " + ", ".join(parts))


def bench(args, id_, title, contenders, n, check, warmup, rounds):
    rows = data(n)
    phases = {c["name"]: [] for c in contenders}
    print(f"\n== {id_} {title} ({n:,} rows inserted, updated, deleted)")
    results = interleaved(contenders, lambda c: one_run(args.extension, rows, c, check, phases), warmup, rounds)
    # The warm-up round's phases are dropped, as its total is.
    for name in phases:
        del phases[name][:warmup]
    if all(r["status"] == "ran" for r in results):
        print_phases(contenders, phases)
    return {
        "id": id_,
        "title": title,
        "work": f"{n:,} rows inserted, their title updated, deleted, one statement each, one transaction",
        "kind": "time",
        "measure": "process CPU time",
        "warmup": warmup,
        "rounds": rounds,
        "contenders": results,
    }


def main():
    args = bench_args.parse(__doc__, rows=["14", "15"])
    warmup, rounds = (1, 3) if args.quick else (1, 7)
    n_counts, n_fts = (2_000, 500) if args.quick else (50_000, 10_000)
    at_least_as_fast = {"kind": "ratio_at_most", "value": 1.0}
    benchmarks = []
    if "14" in args.rows:
        benchmarks.append(bench(args, "14", "counts: sqlite-utils' enable_counts() triggers or the pack", [
            {"name": "sqlite-utils enable_counts() triggers (baseline)", "install": su_counts, "target": None},
            {"name": "counts pack", "install": pack_counts, "target": at_least_as_fast},
        ], n_counts, check_counts, warmup, rounds))
    if "15" in args.rows:
        benchmarks.append(bench(args, "15", "fts_sync: sqlite-utils' enable_fts() triggers or the pack", [
            {"name": "sqlite-utils enable_fts(create_triggers=True) triggers (baseline)", "install": su_fts,
             "target": None},
            {"name": "fts_sync pack", "install": pack_fts, "target": at_least_as_fast},
        ], n_fts, check_fts, warmup, rounds))
    bench_args.write(args, benchmarks, sqlite_utils=importlib.metadata.version("sqlite-utils"))
    failed = [c for b in benchmarks for c in b["contenders"] if c["status"] == "failed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
