"""Benchmark 5: the seed's own approach in Python with SQLAlchemy, against the
default_album pack.

- baseline: ORM objects added to a Session; an `after_insert` listener on
  User inserts each user's album with `connection.execute(text(...))`, as the
  seed story did (a plain INSERT without the pack's NOT EXISTS guard, so the
  baseline does less work than the pack);
- pack: SQLAlchemy Core `insert(User)` with a list of rows, the extension
  loaded in the engine's `connect` event and `trigger_install('default_album')`
  run once; the trigger inserts the albums.

Contenders run interleaved (A B A B ...) after a warm-up round, each run on a
fresh database file with `synchronous=OFF` (as the Rust rows), timing only
the work: building the rows and committing them. The measure is the
process's CPU time, as in the Rust rows; wall-clock time is recorded beside
it. Writes raw samples in the JSON shape `benches/report.py` reads.

    python benches/python/sqlalchemy_row.py --extension PATH [--quick] [--out FILE]
"""
import pathlib
import sqlite3
import sys
import tempfile
import time

import sqlalchemy
from sqlalchemy import event, insert
from sqlalchemy.orm import Session

import bench_args
from sa_engine import engine_for
from interleave import interleaved
from seed_models import add_default_album, seed_models

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEED_SCHEMA = (ROOT / "examples" / "seed_schema.sql").read_text()


Base, User, Album = seed_models()


# Fires only for ORM flushes: the Core contender's insert(User) never runs
# it, which is the gap the pack closes. The album count check below would
# catch it firing there too.
event.listen(User, "after_insert", add_default_album)




def fresh_database(tmp):
    path = pathlib.Path(tmp) / "bench.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(SEED_SCHEMA)
    conn.close()
    return path


def timed(work):
    cpu, wall = time.process_time_ns(), time.perf_counter_ns()
    work()
    return (time.process_time_ns() - cpu) / 1e9, (time.perf_counter_ns() - wall) / 1e9


def check_albums(engine, n):
    with engine.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT count(*) FROM album WHERE album_name = 'default album'"
        ).scalar()
    if found != n:
        raise RuntimeError(f"{found} default albums after inserting {n} users, expected {n}")


def orm_listener(n, extension):
    with tempfile.TemporaryDirectory(prefix="sqlite-triggers-bench-") as tmp:
        engine = engine_for(fresh_database(tmp))
        try:

            def work():
                with Session(engine) as session:
                    session.add_all([User(name="user") for _ in range(n)])
                    session.commit()

            sample = timed(work)
            check_albums(engine, n)
            return sample
        finally:
            engine.dispose()


def core_with_pack(n, extension):
    with tempfile.TemporaryDirectory(prefix="sqlite-triggers-bench-") as tmp:
        engine = engine_for(fresh_database(tmp), extension)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("SELECT trigger_install('default_album')")

            def work():
                with engine.begin() as conn:
                    conn.execute(insert(User), [{"name": "user"} for _ in range(n)])

            sample = timed(work)
            check_albums(engine, n)
            return sample
        finally:
            engine.dispose()


def main():
    args = bench_args.parse(__doc__)
    n, warmup, rounds = (1_000, 1, 3) if args.quick else (20_000, 1, 7)

    contenders = [
        {
            "name": "ORM after_insert listener + text() (baseline)",
            "run": orm_listener,
            "target": None,
        },
        {
            "name": "Core insert(User) + default_album pack",
            "run": core_with_pack,
            "target": {"kind": "speedup_at_least", "value": 15},
        },
    ]
    print(f"\n== 5 SQLAlchemy {sqlalchemy.__version__}: ORM listener or pack ({n:,} users)")
    results = interleaved(contenders, lambda c: c["run"](n, args.extension), warmup, rounds)

    bench_args.write(args, [
        {
            "id": "5",
            "title": "SQLAlchemy: the seed's ORM listener or the pack",
            "work": f"{n:,} users in one transaction (SQLAlchemy {sqlalchemy.__version__})",
            "kind": "time",
            "measure": "process CPU time",
            "warmup": warmup,
            "rounds": rounds,
            "contenders": results,
        }
    ], sqlalchemy=sqlalchemy.__version__)
    return 1 if any(r["status"] == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
