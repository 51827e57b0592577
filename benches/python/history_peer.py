"""Benchmark 16: the history pack against its peer, sqlite-history 0.1's
triggers (PyPI), on the same writes.

- baseline: `sqlite_history.configure_history(conn, 'item')`: the peer's
  history table, index and three triggers;
- pack: `trigger_install('history')` on the same table: sqlite-history's
  table shape plus `_op` and `_who`, changes compared with IS NOT, versions
  continued across a delete and re-insert.

The work, in one transaction through plain SQL, one statement per row as
an application writes (`executemany` of prepared statements): N inserts
into a 4-column table, N updates of one column, N deletes. Both
connections load the extension, so the triggers are the only difference.
Contenders run interleaved (A B A B ...) after a warm-up round, each run on
a fresh database file with `synchronous=OFF` (as benchmark 6), timing only
the work; each run then checks its history: N inserts, N updates of qty, N
deletes, versions 1, 2, 3. The measure is the process's CPU time, with
wall-clock time beside it.

    python benches/python/history_peer.py --extension PATH [--quick] [--out FILE]
"""
import pathlib
import sqlite3
import sys
import tempfile
import time
from importlib.metadata import version

import sqlite_history

import bench_args
from interleave import interleaved

TABLE = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price REAL)"


def connect(path, extension):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.enable_load_extension(True)
    conn.load_extension(extension)
    conn.enable_load_extension(False)
    return conn


def set_up(conn, how):
    conn.execute(TABLE)
    if how == "sqlite-history":
        sqlite_history.configure_history(conn, "item")
    else:
        answer = conn.execute("SELECT trigger_install('history')").fetchone()[0]
        if not answer.startswith("installed history (item)"):
            raise RuntimeError(f"trigger_install('history') answered {answer!r}")


def work(conn, n):
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO item (id, name, qty, price) VALUES (?, 'item', ?, 1.5)",
                     ((i, i) for i in range(1, n + 1)))
    conn.executemany("UPDATE item SET qty = qty + 1 WHERE id = ?", ((i,) for i in range(1, n + 1)))
    conn.executemany("DELETE FROM item WHERE id = ?", ((i,) for i in range(1, n + 1)))
    conn.execute("COMMIT")


def check(conn, n):
    found = conn.execute(
        "SELECT _version, _mask, count(*) FROM _item_history GROUP BY 1, 2 ORDER BY 1").fetchall()
    # Insert: every column's bit (4 columns); update: qty's (bit 2); delete: -1.
    if found != [(1, 15, n), (2, 4, n), (3, -1, n)]:
        raise RuntimeError(f"history after {n} inserts, updates and deletes: {found}")


def run(how, n, extension):
    with tempfile.TemporaryDirectory(prefix="sqlite-triggers-bench-") as tmp:
        conn = connect(pathlib.Path(tmp) / "bench.db", extension)
        try:
            set_up(conn, how)
            cpu, wall = time.process_time_ns(), time.perf_counter_ns()
            work(conn, n)
            sample = (time.process_time_ns() - cpu) / 1e9, (time.perf_counter_ns() - wall) / 1e9
            check(conn, n)
            return sample
        finally:
            conn.close()


def main():
    args = bench_args.parse(__doc__)
    n, warmup, rounds = (2_000, 1, 3) if args.quick else (50_000, 1, 7)
    peer = version("sqlite-history")

    contenders = [
        {"name": f"sqlite-history {peer} triggers (baseline)", "how": "sqlite-history", "target": None},
        {"name": "history pack", "how": "pack", "target": {"kind": "ratio_at_most", "value": 1.0}},
    ]
    print(f"\n== 16 history: sqlite-history {peer} or the pack ({n:,} rows inserted, updated and deleted)")
    results = interleaved(contenders, lambda c: run(c["how"], n, args.extension), warmup, rounds)

    bench_args.write(args, [
        {
            "id": "16",
            "title": "row history: sqlite-history's triggers or the history pack",
            "work": f"{n:,} rows inserted, updated and deleted ({3 * n:,} changes), one transaction",
            "kind": "time",
            "measure": "process CPU time",
            "warmup": warmup,
            "rounds": rounds,
            "units": {"count": 3 * n, "unit": "change"},
            "contenders": results,
        }
    ], sqlite_history=peer)
    return 1 if any(r["status"] == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
