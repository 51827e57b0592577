"""The package's tests run against the installed wheel, from a copy of this
folder outside the repository (bindings/python/run-tests.sh). They need
seed_schema.sql beside them, and optionally SQLITE_TRIGGERS_NOLOAD_PYTHON:
a Python whose sqlite3 cannot load extensions, with the wheel installed.

Each test runs in a child process forked for it: a process can use the
extension with one SQLite library only (Python's sqlite3, apsw and sqlean
each bring their own), so no two tests may share a process."""
import json
import os
import pathlib
import signal

import pytest

HERE = pathlib.Path(__file__).resolve().parent
SEED_SCHEMA = (HERE / "seed_schema.sql").read_text()


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
    return [TestReport(item.nodeid, item.location, {}, "failed", f"the test's process {how}", "call")]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    for report in _run_in_child(item):
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


NOLOAD_PYTHON = os.environ.get("SQLITE_TRIGGERS_NOLOAD_PYTHON")
needs_noload_python = pytest.mark.skipif(
    not NOLOAD_PYTHON, reason="SQLITE_TRIGGERS_NOLOAD_PYTHON (a Python without enable_load_extension) not set"
)
