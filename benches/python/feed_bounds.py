"""Change feed bounds: memory of a huge transaction and of a full scan, and
the cost of a commit after many tables came and went.

    python benches/python/feed_bounds.py --extension PATH [--quick] [--out FILE]

Each memory row runs in a child process (Python's sqlite3 module, the
system SQLite) and reports how much its maximum resident set grew during the
measured step. The commit row times single-row commits under
trigger_watch('*') on a fresh connection and again after many TEMP tables
were created, written and dropped, and prints the ratio (target: at most
1.5x, i.e. no lasting slowdown).
"""
import json
import pathlib
import subprocess
import sys
import tempfile
import time

import bench_args

CHILD = r"""
import resource, sqlite3, sys
ext, path, what, n, cap = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
conn = sqlite3.connect(path, isolation_level=None)
conn.enable_load_extension(True)
conn.load_extension(ext)
conn.execute("CREATE TABLE t(a INTEGER PRIMARY KEY, b)")
conn.execute("SELECT trigger_watch('t')")
conn.execute("SELECT trigger_feed_capacity(?)", (cap,))
fill = ("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?) "
        "INSERT INTO t(b) SELECT i FROM c")
def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
if what == "scan":
    conn.execute("BEGIN"); conn.execute(fill, (n,)); conn.execute("COMMIT")
before = rss()
if what == "txn":
    conn.execute("BEGIN"); conn.execute(fill, (n,)); conn.execute("COMMIT")
    rows = conn.execute("SELECT count(*) FROM trigger_changes").fetchone()[0]
    assert rows == cap + 1, rows  # the 'dropped' row and the last cap changes
else:
    rows = conn.execute("SELECT count(*), sum(rowid) FROM trigger_changes").fetchone()[0]
    assert rows == n, rows
print(rss() - before)
"""


def child_growth(ext, what, n, cap):
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, ext, str(pathlib.Path(d) / "b.db"), what, str(n), str(cap)],
            check=True, capture_output=True, text=True,
        )
    return int(out.stdout.strip())


def commit_cost(ext, churn, commits):
    import sqlite3

    with tempfile.TemporaryDirectory() as d:
        conn = sqlite3.connect(str(pathlib.Path(d) / "c.db"), isolation_level=None)
        # No fsync: the row measures the extension's work per commit.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        conn.enable_load_extension(True)
        conn.load_extension(ext)
        conn.execute("CREATE TABLE t(a)")
        conn.execute("SELECT trigger_watch('*')")

        def per_commit():
            start = time.perf_counter()
            for i in range(commits):
                conn.execute("INSERT INTO t VALUES (?)", (i,))
            return (time.perf_counter() - start) / commits

        fresh = min(per_commit() for _ in range(3))
        for i in range(churn):
            conn.execute(f"CREATE TEMP TABLE x{i}(a)")
            conn.execute(f"INSERT INTO x{i} VALUES (1)")
            conn.execute(f"DROP TABLE x{i}")
        after = min(per_commit() for _ in range(3))
        conn.close()
    return fresh, after


def main():
    args = bench_args.parse(__doc__)
    txn_n = 200_000 if args.quick else 2_000_000
    scan_n = 100_000 if args.quick else 1_000_000
    churn = 2_000 if args.quick else 40_000
    results = []

    grown = child_growth(args.extension, "txn", txn_n, 1000)
    mb = grown / 2**20
    results.append({"row": f"one transaction of {txn_n:,} watched inserts, capacity 1,000",
                    "value": f"{mb:.1f} MB", "target": "< 16 MB", "met": mb < 16})
    grown = child_growth(args.extension, "scan", scan_n, scan_n)
    mb = grown / 2**20
    results.append({"row": f"a full scan of a {scan_n:,}-change feed",
                    "value": f"{mb:.1f} MB", "target": "< 16 MB", "met": mb < 16})
    fresh, after = commit_cost(args.extension, churn, 2000)
    ratio = after / fresh
    results.append({"row": f"a commit under trigger_watch('*') after {churn:,} TEMP tables "
                           "were created, written and dropped, against a fresh connection",
                    "value": f"{after * 1e6:.1f} µs vs {fresh * 1e6:.1f} µs: {ratio:.2f}x",
                    "target": "≤ 1.5x", "met": ratio <= 1.5})
    print("\n== feed bounds")
    for r in results:
        print(f"   {r['row']}: {r['value']} (target {r['target']}: {'met' if r['met'] else 'MISSED'})")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
