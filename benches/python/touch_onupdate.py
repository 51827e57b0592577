"""Benchmark 13: the touch pack against SQLAlchemy's column `onupdate`, for
the updates an ORM flush sends.

- baseline: the model's `updated_at` has `onupdate=` a Python function that
  returns the time as the pack writes it (ISO 8601 in UTC, milliseconds);
  SQLAlchemy adds it to every UPDATE it builds;
- pack: the same model, its `updated_at` declared `server_onupdate=
  FetchedValue()` (SQLAlchemy leaves it to the database, and reads it back
  only when asked), and the touch pack installed on the table: its trigger
  writes the time after each row's update.

The work is the same for both: N rows loaded into a Session (not timed),
then one attribute of each changed and the Session committed (timed: the
flush's UPDATEs and the commit). Each run uses a fresh database file with
`synchronous=OFF`, as the other rows; contenders run interleaved after a
warm-up round. The measure is the process's CPU time; wall-clock time is
recorded beside it. Each contender checks that every row got a time.

    python benches/python/touch_onupdate.py --extension PATH [--quick] [--out FILE]
"""
import datetime
import pathlib
import sqlite3
import sys
import tempfile
import time

import sqlalchemy
from sqlalchemy import Integer, String, select
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column
from sqlalchemy.schema import FetchedValue

import bench_args
from sa_engine import engine_for
from interleave import interleaved

SCHEMA = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated_at TEXT)"
STAMP_CHECK = "SELECT count(*) FROM item WHERE updated_at GLOB '????-??-??T??:??:??.???Z'"


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def item_model(stamped_by):
    class Base(DeclarativeBase):
        pass

    column = {"onupdate": now_iso} if stamped_by == "onupdate" else {"server_onupdate": FetchedValue()}

    class Item(Base):
        __tablename__ = "item"
        id = mapped_column(Integer, primary_key=True)
        name = mapped_column(String, nullable=False)
        updated_at = mapped_column(String, **column)

    return Item


OnupdateItem, PackItem = item_model("onupdate"), item_model("pack")




def fresh_database(tmp, n):
    path = pathlib.Path(tmp) / "bench.db"
    with sqlite3.connect(path) as conn:
        conn.execute(SCHEMA)
        conn.executemany("INSERT INTO item (id, name) VALUES (?, 'item')", ((i,) for i in range(1, n + 1)))
    conn.close()
    return path


def flush_updates(n, model, extension=None):
    with tempfile.TemporaryDirectory(prefix="sqlite-triggers-bench-") as tmp:
        engine = engine_for(fresh_database(tmp, n), extension)
        try:
            if extension:
                with engine.begin() as conn:
                    conn.exec_driver_sql("SELECT trigger_install('touch')")
            with Session(engine) as session:
                items = session.scalars(select(model)).all()
                cpu, wall = time.process_time_ns(), time.perf_counter_ns()
                for item in items:
                    item.name = "renamed"
                session.commit()
                sample = (time.process_time_ns() - cpu) / 1e9, (time.perf_counter_ns() - wall) / 1e9
            with engine.connect() as conn:
                stamped = conn.exec_driver_sql(STAMP_CHECK).scalar()
            if stamped != n:
                raise RuntimeError(f"{stamped} of {n} updated rows have a time")
            return sample
        finally:
            engine.dispose()


def main():
    args = bench_args.parse(__doc__)
    n, warmup, rounds = (1_000, 1, 3) if args.quick else (20_000, 1, 7)
    contenders = [
        {
            "name": "ORM flush, updated_at by onupdate (baseline)",
            "run": lambda: flush_updates(n, OnupdateItem),
            "target": None,
        },
        {
            "name": "ORM flush, updated_at by the touch pack",
            "run": lambda: flush_updates(n, PackItem, args.extension),
            "target": None,
        },
    ]
    print(f"\n== 13 SQLAlchemy {sqlalchemy.__version__}: touch pack or onupdate ({n:,} rows updated)")
    results = interleaved(contenders, lambda c: c["run"](), warmup, rounds)
    bench_args.write(args, [
        {
            "id": "13",
            "title": "touch pack vs SQLAlchemy onupdate",
            "work": f"an ORM flush updating {n:,} rows, then commit (SQLAlchemy {sqlalchemy.__version__})",
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
