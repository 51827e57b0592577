"""Shared helpers for the host tests: they load the built extension into real
SQLite hosts (the sqlite3 shell, Python's sqlite3, apsw) and check what a
user would see."""
import os
import pathlib
import shutil
import sqlite3
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXT = os.environ.get("SQLITE_TRIGGERS_EXT", str(ROOT / "target" / "release" / "libsqlite_triggers"))
SEED_SCHEMA = (ROOT / "examples" / "seed_schema.sql").read_text()
SQLITE3 = shutil.which("sqlite3")
needs_shell = pytest.mark.skipif(SQLITE3 is None, reason="no sqlite3 shell on PATH")


def shell(script, db=":memory:", cwd=ROOT, bail=True):
    """Runs `script` in the machine's sqlite3 shell, from the repository root."""
    args = [SQLITE3] + (["-bail"] if bail else []) + [db]
    return subprocess.run(args, input=script, text=True, capture_output=True, cwd=cwd, timeout=60)


def connect(path=":memory:", load=True):
    """A Python sqlite3 connection in autocommit mode, with the extension loaded."""
    conn = sqlite3.connect(path, isolation_level=None)
    if load:
        conn.enable_load_extension(True)
        conn.load_extension(EXT)
        conn.enable_load_extension(False)
    return conn


def schema(conn):
    """Every schema object, for before/after comparisons."""
    return conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
    ).fetchall()


def scalar(conn, sql, *args):
    return conn.execute(sql, args).fetchone()[0]


@pytest.fixture
def seed():
    conn = connect()
    conn.executescript(SEED_SCHEMA)
    yield conn
    conn.close()


@pytest.fixture(scope="session", autouse=True)
def extension_is_built():
    if not pathlib.Path(EXT + ".so").exists() and not pathlib.Path(EXT).exists():
        pytest.fail(f"the extension is not built: {EXT}.so (run cargo build --release)")


# --- Every test in a child process ------------------------------------------
# A loadable extension reaches SQLite through one table of functions per
# process, so the extension refuses a second SQLite library in a process, and
# these tests use two (Python's sqlite3 module on the system SQLite, and
# apsw's bundled one). Each test therefore runs in a child forked from this
# process, which itself never loads the extension; the child sends its reports
# back through a pipe. A child that dies (a crash of the host) is reported as
# a failure with its exit status.
import json
import os
import signal


def _run_in_child(item):
    from _pytest.runner import runtestprotocol

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        status = 0
        try:
            reports = runtestprotocol(item, log=False)
            data = [item.config.hook.pytest_report_to_serializable(config=item.config, report=r) for r in reports]
            with os.fdopen(write, "w") as out:
                json.dump(data, out)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read) as inp:
        text = inp.read()
    _, status = os.waitpid(pid, 0)
    if text:
        return [item.config.hook.pytest_report_from_serializable(config=item.config, data=d) for d in json.loads(text)]
    from _pytest.reports import TestReport

    how = (f"killed by signal {os.WTERMSIG(status)} ({signal.Signals(os.WTERMSIG(status)).name})"
           if os.WIFSIGNALED(status) else f"exited with status {os.WEXITSTATUS(status)}")
    report = TestReport(item.nodeid, item.location, {}, "failed", f"the test's process {how}", "call")
    return [report]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    for report in _run_in_child(item):
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True
