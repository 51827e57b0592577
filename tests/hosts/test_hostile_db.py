"""Hostile database files (hostile_db.py documents the generator and the
rules): files made without the extension, whose views, triggers, CHECKs,
DEFAULTs, generated columns and indexes call every function of the
extension, opened with trusted_schema ON and OFF, read and written in child
processes of Python's sqlite3 (SQLite 3.40.1), apsw (the newest SQLite) and
the sqlite3 shell. No file may kill its host, hang it, or print a panic.

A quick run (SQLITE_TRIGGERS_HOSTILE_FILES files, default 300, from seed
SQLITE_TRIGGERS_HOSTILE_SEED, default 20261201) runs in scripts/test. A soak:
    SQLITE_TRIGGERS_SOAK=3000 .venv/bin/python -m pytest -q -s tests/hosts/test_hostile_db.py
(a random seed unless SQLITE_TRIGGERS_HOSTILE_SEED is set; it is printed), or
    .venv/bin/python tests/hosts/hostile_db.py soak --files 3000
which also shrinks distinct failures to minimal repros. A failing file is
kept under target/hostile-db/, with its schema as SQL beside it.
"""
import os
import random
import shutil
import signal

import pytest

import hostile_db
import sqlhosts

SOAK = int(os.environ.get("SQLITE_TRIGGERS_SOAK", "0"))
FILES = SOAK or int(os.environ.get("SQLITE_TRIGGERS_HOSTILE_FILES", "300"))
SEED = int(os.environ.get("SQLITE_TRIGGERS_HOSTILE_SEED", str(random.randrange(10**9) if SOAK else 20261201)))
# Where the schema calls the functions; every function must be called in
# every one of these somewhere in the run, in objects SQLite accepted.
KINDS = ["view", "trigger", "check", "default", "generated virtual", "generated stored", "index",
         "partial index", "temp trigger", "direct"]


def test_hostile_database_files():
    print(f"\nhostile database files: {FILES} from seed {SEED}, hosts {sqlhosts.HOSTS} and every 10th in the shell")
    s = hostile_db.run(FILES, SEED, sqlhosts.HOSTS, shell_every=10, minimize_limit=2 if not SOAK else 8)
    print({k: v for k, v in s.items() if k not in ("failures", "used", "functions", "repros")})
    for kind in KINDS:
        missing = set(s["functions"]) - s["used"].get(kind, set())
        assert not missing, f"no file calls {sorted(missing)} in a {kind}"
    # The files are read and written for real, not refused at the door.
    assert s["ok"] > s["statements"] // 4, s
    assert s["shell_files"] >= FILES // 10 or not shutil.which("sqlite3")
    report = "\n".join(f["report"] for f in s["failures"][:5])
    repros = "\n\n".join(f"repro ({', '.join(w)}):\n{r}" for r, w in s["repros"].items())
    if s["failures"]:
        pytest.fail(f"{len(s['failures'])} failures (seeds from {SEED}): "
                    + ", ".join(f"{f['kind']} {f['host']} seed {f['seed']}" for f in s["failures"][:40])
                    + f"\n\nminimal repros:\n{repros}\n\nthe first reports:\n{report}", pytrace=False)


def test_the_harness_sees_deaths_panics_and_hangs(tmp_path):
    """The harness itself: a child that dies, panics or hangs is reported
    with its file and statement, and the files after it still run."""
    ext = hostile_db.Extension()
    entries = hostile_db.generate(ext, range(7, 12), str(tmp_path))
    entries[1]["statements"] = ["SELECT 1", ".selftest abort", "SELECT 2"]
    entries[2]["statements"] = [".selftest panic"]
    entries[3]["statements"] = ["SELECT 1", ".selftest hang"]
    stats, failures = hostile_db.run_child("sqlite3", entries, str(tmp_path), keep=False, stall=2)
    got = sorted((f["seed"], f["kind"], (f["at"] or {}).get("sql"), tuple((f["at"] or {}).get("variant") or ()))
                 for f in failures)
    variants = [tuple(v) for v in hostile_db.VARIANTS]
    assert got == sorted(
        # The abort kills each of the four openings of file 8 in turn.
        [(8, signal.SIGABRT.name, ".selftest abort", v) for v in variants]
        + [(9, "panic", None, ())]
        # A hang is killed, and the other openings of file 10 are not run.
        + [(10, "hang", ".selftest hang", variants[0])]), got
    finished = [s["seed"] for s in stats if "died" not in s]
    assert 7 in finished and 9 in finished and 11 in finished, stats
