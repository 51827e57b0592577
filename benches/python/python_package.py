"""Benchmark 11: the Python package in a SQLAlchemy app, installed from its
wheel as a user installs it.

- ORM `Session.add_all` of users, one transaction, three ways:
  - the seed's `after_insert` mapper listener inserting the album with
    `connection.execute(text(...))` (no extension);
  - the same ORM insert with a hand-written trigger (the seed's trigger and
    its index, as benchmark 2's baseline; no extension);
  - the same ORM insert with the `default_album` pack declared with
    `sqlite_triggers.sqlalchemy.Pack` and installed by `create_all()` on an
    engine given to `enable(engine)`.
  The ORM's own work dominates, so the pack is measured against the
  hand-written trigger (target: within 5%), and its speed-up over the
  listener is reported as it comes out.
- The cost of `import sqlite_triggers.sqlalchemy` (in a fresh interpreter,
  SQLAlchemy already imported) and of one `sqlite_triggers.load(conn)`.

It must run with the package installed (scripts/bench puts the wheel built
by scripts/wheel on PYTHONPATH); `--extension` is accepted for the common
command line and checked against the package's own extension version.

    python benches/python/python_package.py --extension PATH [--quick] [--out FILE]
"""
import gc
import pathlib
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

import sqlalchemy
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

import bench_args
from interleave import contender_record, interleaved
from seed_models import add_default_album, seed_models
import sqlite_triggers
from sqlite_triggers.sqlalchemy import Pack, enable

HAND_TRIGGER = """
CREATE INDEX album_user_name ON album (user_id, album_name);
CREATE TRIGGER user_default_album AFTER INSERT ON user
  BEGIN
    INSERT INTO album (user_id, album_name)
      SELECT new.id, 'default album'
      WHERE NOT EXISTS (
        SELECT 1 FROM album WHERE user_id = new.id AND album_name = 'default album'
      );
  END;
"""


def models(with_listener, with_pack):
    """Fresh declarative models, so each contender's listener or pack is its
    own (mapper listeners and packs attach to classes and metadata)."""

    Base, User, Album = seed_models()
    if with_listener:
        event.listen(User, "after_insert", add_default_album)
    if with_pack:
        Pack("default_album", Base.metadata, user_table=User.__table__,
             album_table=Album.__table__, album_user_fk=Album.__table__.c.user_id)
    return Base, User


def engine_at(path, extension):
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def fast(dbapi_conn, _record):
        dbapi_conn.execute("PRAGMA synchronous=OFF")

    return enable(engine) if extension else engine


def run(how, n):
    with tempfile.TemporaryDirectory(prefix="sqlite-triggers-bench-") as tmp:
        Base, User = models(with_listener=how == "listener", with_pack=how == "pack")
        engine = engine_at(pathlib.Path(tmp) / "bench.db", how == "pack")
        try:
            Base.metadata.create_all(engine)
            if how == "trigger":
                with engine.begin() as conn:
                    conn.connection.driver_connection.executescript(HAND_TRIGGER)
            # The garbage of earlier rounds (each builds its own models) is
            # collected before, not inside, the timed work.
            gc.collect()
            cpu, wall = time.process_time_ns(), time.perf_counter_ns()
            with Session(engine) as session:
                session.add_all([User(name="user") for _ in range(n)])
                session.commit()
            sample = (time.process_time_ns() - cpu) / 1e9, (time.perf_counter_ns() - wall) / 1e9
            with engine.connect() as conn:
                found = conn.exec_driver_sql(
                    "SELECT count(*) FROM album WHERE album_name = 'default album'").scalar()
            if found != n:
                raise RuntimeError(f"{found} default albums after {n} users, expected {n}")
            return sample
        finally:
            engine.dispose()


IMPORT = """
import time, sqlalchemy, sqlalchemy.orm
t = time.perf_counter_ns()
import sqlite_triggers.sqlalchemy
print((time.perf_counter_ns() - t) / 1e9)
"""


def import_cost():
    out = subprocess.run([sys.executable, "-c", IMPORT], check=True, capture_output=True, text=True)
    return float(out.stdout)


def load_cost():
    times = []
    for _ in range(50):
        conn = sqlite3.connect(":memory:")
        t = time.perf_counter_ns()
        sqlite_triggers.load(conn)
        times.append((time.perf_counter_ns() - t) / 1e9)
        conn.close()
    return statistics.median(times)


def main():
    args = bench_args.parse(__doc__)
    n, warmup, rounds = (1_000, 1, 3) if args.quick else (20_000, 1, 7)
    conn = sqlite3.connect(":memory:")
    sqlite_triggers.load(conn)
    if conn.execute("SELECT trigger_version()").fetchone()[0] != sqlite_triggers.__version__:
        raise SystemExit("the package's extension is not of the package's version")
    conn.close()

    listener = "ORM add_all, the seed's after_insert listener + text() (baseline)"
    trigger = "ORM add_all, hand-written trigger + index"
    pack = "ORM add_all, default_album Pack() through enable(engine)"
    contenders = [
        {"name": listener, "how": "listener", "target": None, "ratio_to": listener},
        {"name": trigger, "how": "trigger", "target": None, "ratio_to": listener},
        {"name": pack, "how": "pack", "target": {"kind": "ratio_at_most", "value": 1.05},
         "ratio_to": trigger},
    ]
    print(f"\n== 11 the Python package: SQLAlchemy {sqlalchemy.__version__} ORM inserts ({n:,} users)")
    results = interleaved(contenders, lambda c: run(c["how"], n), warmup, rounds)

    imports = [import_cost() for _ in range(3 if args.quick else 7)]
    loads = [load_cost() for _ in range(3 if args.quick else 7)]
    print(f"   import sqlite_triggers.sqlalchemy: {statistics.median(imports) * 1e3:.2f} ms; "
          f"load(conn): {statistics.median(loads) * 1e6:.1f} µs")

    bench_args.write(args, [
        {
            "id": "11",
            "title": "the Python package: ORM inserts with a declared pack",
            "work": f"{n:,} users in one ORM transaction (SQLAlchemy {sqlalchemy.__version__})",
            "kind": "time",
            "measure": "process CPU time",
            "warmup": warmup,
            "rounds": rounds,
            "contenders": results + [
                contender_record("import sqlite_triggers.sqlalchemy (SQLAlchemy already imported)",
                                 imports, imports),
                contender_record("sqlite_triggers.load(conn), one connection", loads, loads),
            ],
        }
    ], sqlalchemy=sqlalchemy.__version__)
    return 1 if any(r["status"] == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
