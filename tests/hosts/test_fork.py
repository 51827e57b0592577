"""A process that forks while another of its threads waits in trigger_wait
(os.fork(), multiprocessing's "fork" start method, a prefork server) gets a
child that works: it emits, waits on its own and is woken, and never hangs
on a lock the parent's threads held at the fork."""
import json
import os
import signal
import sys
import threading
import time

import pytest

from conftest import connect, scalar

# The children's reports read /proc, and the fork handlers are Linux's.
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

FORKS = 50
# Generous: a child does its work in well under a second.
CHILD_DEADLINE = 30.0


def inotify_fds():
    """How many inotify descriptors this process has open."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:inotify"
        except OSError:
            pass
    return count


def wait_threads():
    """How many of this process's threads are wait watchers (their name is
    cut to 15 bytes by the kernel)."""
    names = []
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as comm:
                names.append(comm.read().strip())
        except OSError:
            pass
    return sum(name.startswith("sqlite-triggers") for name in names)


def child_work(path, tag, inherited_inotify):
    """What a forked child does: its own connections emit, wait and wake.
    Returns a report for the parent."""
    report = {"inotify_after_fork": inotify_fds() - inherited_inotify}
    conn = connect(path)
    first = scalar(conn, "SELECT trigger_emit(?, 'from the child')", f"hello-{tag}")
    report["emitted"] = first
    woken = {}

    def wait():
        try:
            waiter = connect(path)
            woken["seq"] = scalar(waiter, "SELECT trigger_wait(?, 10000, ?)", first, f"wake-{tag}")
        except BaseException as e:
            woken["error"] = repr(e)

    thread = threading.Thread(target=wait)
    thread.start()
    # The wait has started once its watcher thread runs.
    deadline = time.monotonic() + 5
    while wait_threads() == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    report["watchers"] = wait_threads()
    woke_with = scalar(conn, "SELECT trigger_emit(?, 'wake up')", f"wake-{tag}")
    thread.join(15)
    report["woken"] = woken.get("seq") == woke_with and not thread.is_alive()
    if "error" in woken:
        report["error"] = woken["error"]
    return report


def fork_child(path, tag, inherited_inotify):
    """Forks; the child runs child_work and reports through a pipe. Returns
    the report, or a failure saying how the child ended (killed after
    CHILD_DEADLINE if it hangs)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        status = 0
        try:
            report = child_work(path, tag, inherited_inotify)
        except BaseException as e:
            report = {"error": repr(e)}
            status = 1
        try:
            os.write(write, json.dumps(report).encode())
        finally:
            os._exit(status)
    os.close(write)
    deadline = time.monotonic() + CHILD_DEADLINE
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read)
            return {"error": f"the child hung for {CHILD_DEADLINE:.0f} s"}
        time.sleep(0.002)
    with os.fdopen(read) as inp:
        text = inp.read()
    if not text:
        return {"error": f"the child ended with status {status} and no report"}
    return json.loads(text)


def test_children_forked_beside_a_looping_wait_emit_wait_and_wake(tmp_path):
    path = str(tmp_path / "app.db")
    main = connect(path)
    main.execute("PRAGMA journal_mode=WAL")
    main.execute("SELECT trigger_outbox_init()")
    before_waits = inotify_fds()
    stop = threading.Event()
    waits = [0]

    def waiter():
        # Short waits in a loop: the thread keeps starting and ending waits,
        # taking every lock the waits share, while the main thread forks.
        conn = connect(path)
        while not stop.is_set():
            conn.execute("SELECT trigger_wait(1000000, 1)").fetchone()
            waits[0] += 1

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    failures = []
    try:
        while waits[0] < 10:
            time.sleep(0.001)
        for i in range(FORKS):
            main.execute("SELECT trigger_emit('c', 'x')")
            report = fork_child(path, i, before_waits)
            if not (
                report.get("woken")
                and report.get("watchers", 0) >= 1
                and report.get("inotify_after_fork") == 0
            ):
                failures.append((i, report))
    finally:
        stop.set()
        thread.join(10)
    assert failures == [], f"{len(failures)} of {FORKS} children failed: {failures[:5]}"
    # Every child's events are in the one outbox.
    assert scalar(main, "SELECT count(*) FROM trigger_outbox WHERE channel LIKE 'hello-%'") == FORKS
    assert scalar(main, "SELECT count(*) FROM trigger_outbox WHERE channel LIKE 'wake-%'") == FORKS


def test_a_child_of_a_child_forked_beside_waits_works_too(tmp_path):
    """The state a child makes for itself is again left behind by its own
    child; each generation waits and wakes."""
    path = str(tmp_path / "app.db")
    main = connect(path)
    main.execute("PRAGMA journal_mode=WAL")
    main.execute("SELECT trigger_outbox_init()")
    before_waits = inotify_fds()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        status = 0
        try:
            # The child waits in a thread of its own, then forks.
            stop = threading.Event()
            waits = [0]

            def waiter():
                conn = connect(path)
                while not stop.is_set():
                    conn.execute("SELECT trigger_wait(1000000, 5)").fetchone()
                    waits[0] += 1

            thread = threading.Thread(target=waiter, daemon=True)
            thread.start()
            deadline = time.monotonic() + 5
            while waits[0] < 3 and time.monotonic() < deadline:
                time.sleep(0.001)
            reports = [fork_child(path, f"g{i}", before_waits) for i in range(5)]
            stop.set()
            thread.join(10)
            if waits[0] < 3:
                reports.append({"error": "the child's own waits did not run"})
        except BaseException as e:
            reports = [{"error": repr(e)}]
            status = 1
        try:
            os.write(write, json.dumps(reports).encode())
        finally:
            os._exit(status)
    os.close(write)
    deadline = time.monotonic() + CHILD_DEADLINE * 6
    while not os.waitpid(pid, os.WNOHANG)[0]:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError("the child hung")
        time.sleep(0.005)
    with os.fdopen(read) as inp:
        reports = json.loads(inp.read())
    assert [r.get("woken") for r in reports] == [True] * 5, reports
    assert [r.get("watchers") for r in reports] == [1] * 5, reports
    assert [r.get("inotify_after_fork") for r in reports] == [0] * 5, reports
