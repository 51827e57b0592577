"""The command line every Python benchmark takes: --extension PATH,
--quick (small sizes, for the smoke run) and --out FILE (results JSON), and
the results file they write; a script of several benchmarks also takes
--rows."""
import argparse
import json
import pathlib
import sqlite3


def parse(doc, rows=None):
    """The common command line; a script that runs several benchmarks gives
    their ids as `rows`, and takes `--rows 14,15` to run some of them."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--extension", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out")
    if rows:
        parser.add_argument("--rows", default=",".join(rows),
                            type=lambda text: [r for r in text.split(",") if r in rows])
    return parser.parse_args()


def write(args, benchmarks, **versions):
    """Writes `benchmarks` to --out, if given, in the shape
    `benches/report.py` reads; `versions` adds the versions of what ran
    (`sqlalchemy=...`)."""
    if not args.out:
        return
    record = {
        "host": "python",
        "mode": "quick" if args.quick else "full",
        "sqlite": sqlite3.sqlite_version,
        **versions,
        "benchmarks": benchmarks,
    }
    pathlib.Path(args.out).write_text(json.dumps(record, indent=2))
