"""Instructions per row of benchmarks 14, 15 and 16's work, counted by
callgrind, which the machine's load does not move: each contender's
triggers on `item (id INTEGER PRIMARY KEY, title TEXT, body TEXT, qty)`,
then N rows inserted, their title updated and each deleted, one prepared
statement per row through Python's sqlite3 (executemany), in one
transaction. The per-row figure is the difference between a run at 2N rows
and one at N, over N, so that start-up, imports and installs cancel out;
one run per contender and N, printed with the ratio to the peer.

    python benches/python/pack_instructions.py --extension PATH [--rows 14,15,16] [-n 500] [--per-op]

With --per-op, each operation is measured on its own: the work cut after
it, less the work cut before it, so the three add up to the row's figure
(the commit, where FTS5 writes what it kept in memory, falls to the
delete); and one more, an update of `qty`, a column no pack indexes or
records, measured after the inserts instead of the title's update.

Needs valgrind. Not part of scripts/test or scripts/bench: about a minute
per contender.
"""
import argparse
import json
import re
import sqlite3
import subprocess
import sys

PACKS = {
    "14": ("counts", {"table": "item"}, "sqlite-utils enable_counts()"),
    "15": ("fts_sync", {"table": "item", "columns": ["title", "body"]},
           "sqlite-utils enable_fts(create_triggers=True)"),
    "16": ("history", {"table": "item"}, "sqlite-history 0.1"),
}
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()


def work(extension, row, contender, n, ops=("insert", "update title", "delete")):
    """The measured process: set up one contender, then the N rows' work."""
    pack, params, _ = PACKS[row]
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.enable_load_extension(True)
    conn.load_extension(extension)
    conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, title TEXT, body TEXT, qty INTEGER NOT NULL DEFAULT 0)")
    if contender == "peer":
        if pack == "history":
            import sqlite_history
            sqlite_history.configure_history(conn, "item")
        else:
            import sqlite_utils
            table = sqlite_utils.Database(conn).table("item")
            if pack == "counts":
                table.enable_counts()
            else:
                table.enable_fts(["title", "body"], create_triggers=True)
    else:
        conn.execute("SELECT trigger_install(?, ?)", (pack, json.dumps(params)))
    rows = [(i, f"{WORDS[i % 12]} {WORDS[i * 7 % 12]} {i}", f"{WORDS[i * 5 % 12]} body {WORDS[i * 3 % 12]}")
            for i in range(1, n + 1)]
    conn.execute("BEGIN")
    if "insert" in ops:
        conn.executemany("INSERT INTO item (id, title, body) VALUES (?, ?, ?)", rows)
    if "update title" in ops:
        conn.executemany("UPDATE item SET title = ? WHERE id = ?", [(f"{WORDS[i % 5]} new {i}", i) for i in range(1, n + 1)])
    if "update qty" in ops:
        conn.executemany("UPDATE item SET qty = qty + 1 WHERE id = ?", [(i,) for i in range(1, n + 1)])
    if "delete" in ops:
        conn.executemany("DELETE FROM item WHERE id = ?", [(i,) for i in range(1, n + 1)])
    conn.execute("COMMIT")


def instructions(extension, row, contender, n, ops=None):
    cut = ["--ops", ",".join(ops)] if ops else []
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
         "--extension", extension, "--work", row, contender, str(n)] + cut,
        capture_output=True, text=True, check=True).stderr
    return int(re.search(r"Collected : (\d+)", out).group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--extension", required=True)
    ap.add_argument("--rows", default="14,15,16")
    ap.add_argument("-n", type=int, default=500)
    ap.add_argument("--per-op", action="store_true", help="each operation on its own, and an update of qty")
    ap.add_argument("--work", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--ops", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.work:
        row, contender, n = args.work
        if args.ops is None:
            return work(args.extension, row, contender, int(n))
        return work(args.extension, row, contender, int(n), tuple(args.ops.split(",")))
    if args.per_op:
        return per_op(args)
    for row in args.rows.split(","):
        pack, _, peer = PACKS[row]
        per_row = {}
        for contender in ("peer", "pack"):
            a = instructions(args.extension, row, contender, args.n)
            b = instructions(args.extension, row, contender, 2 * args.n)
            per_row[contender] = (b - a) / args.n
        print(f"{row}. {pack}: {peer} {per_row['peer']:,.0f}/row, the pack {per_row['pack']:,.0f}/row, "
              f"ratio {per_row['pack'] / per_row['peer']:.3f}x")
    return 0


def per_op(args):
    """Each operation's instructions per row: the work cut after it less
    the work cut before it, each at 2N rows less at N, over N."""
    cuts = [("insert",), ("insert", "update title"), ("insert", "update title", "delete"),
            ("insert", "update qty")]
    before = {"insert": None, "update title": 0, "delete": 1, "update qty": 0}
    for row in args.rows.split(","):
        pack, _, peer = PACKS[row]
        cost = {}
        for contender in ("peer", "pack"):
            totals = []
            for ops in cuts:
                a = instructions(args.extension, row, contender, args.n, ops)
                b = instructions(args.extension, row, contender, 2 * args.n, ops)
                totals.append((b - a) / args.n)
            cost[contender] = [totals[i] - (0 if before[op] is None else totals[before[op]])
                               for i, op in enumerate(c[-1] for c in cuts)]
        print(f"{row}. {pack} against {peer}, instructions per row:")
        for i, op in enumerate(c[-1] for c in cuts):
            print(f"   {op:13} {cost['peer'][i]:>10,.0f} {cost['pack'][i]:>10,.0f}  "
                  f"ratio {cost['pack'][i] / cost['peer'][i]:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
