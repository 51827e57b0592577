"""Nothing lost, nothing invented, for the outbox: random scripts against a
model, a writer killed with SIGKILL at random points, and several writer
processes and threads with a consumer, all with the built .so loaded."""
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from conftest import EXT, connect, scalar
from test_feed import Model, apsw_host, python_host, run_script

CRASH_RUNS = int(os.environ.get("SQLITE_TRIGGERS_CRASH_RUNS", "30"))


@pytest.mark.parametrize("host", [python_host, apsw_host], ids=["sqlite3-3.40", "apsw-newest"])
@pytest.mark.parametrize("seed", range(25))
def test_random_scripts_match_the_model_in_the_outbox(tmp_path, host, seed):
    rng = random.Random(1000 + seed)
    conn, execute, query = host(str(tmp_path / "m.db"))
    execute("CREATE TABLE t(v INTEGER, u INTEGER UNIQUE)")
    execute("SELECT trigger_capture('t')")
    execute("SELECT trigger_watch('t')")
    model = Model()
    run_script(conn, rng, 120, model, execute)
    expected = [change for txn in model.committed for change in txn]
    events = query("SELECT seq, channel, payload FROM trigger_outbox ORDER BY seq")
    got = [(json.loads(p)["op"], json.loads(p)["key"]) for _, _, p in events]
    assert got == expected
    # Sequence numbers: no gap that commit order does not explain.
    seqs = [s for s, _, _ in events]
    assert seqs == list(range(1, len(seqs) + 1))
    # The feed and the outbox agree on what committed.
    feed = query("SELECT op, rowid FROM trigger_changes ORDER BY seq")
    assert [tuple(r) for r in feed] == expected


WRITER = r"""
import sqlite3, sys, json
path, ext, start = sys.argv[1], sys.argv[2], int(sys.argv[3])
conn = sqlite3.connect(path, isolation_level=None)
conn.enable_load_extension(True)
conn.load_extension(ext)
conn.execute("PRAGMA busy_timeout=5000")
i = start
while True:
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t(txn, part) VALUES (?, 1)", (i,))
    conn.execute("SELECT trigger_emit('work', json_object('txn', ?, 'part', 2))", (i,))
    conn.execute("INSERT INTO t(txn, part) VALUES (?, 3)", (i,))
    conn.execute("COMMIT")
    print(i, flush=True)
    i += 1
"""


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_sigkill_at_random_points_loses_and_invents_nothing(tmp_path, journal):
    path = str(tmp_path / "crash.db")
    conn = connect(path)
    conn.execute(f"PRAGMA journal_mode={journal}")
    conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, txn INTEGER, part INTEGER)")
    conn.execute("SELECT trigger_capture('t')")
    conn.close()
    rng = random.Random(7)
    acknowledged = 0  # the last transaction the writer saw commit
    for run in range(CRASH_RUNS):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, path, EXT, str(acknowledged + 1)],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(rng.uniform(0.02, 0.25))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate()
        assert child.returncode == -signal.SIGKILL
        printed = [int(line) for line in out.split()]
        if printed:
            acknowledged = printed[-1]
        conn = connect(path)
        assert scalar(conn, "PRAGMA integrity_check") == "ok"
        events = conn.execute("SELECT seq, channel, payload FROM trigger_outbox ORDER BY seq").fetchall()
        seqs = [s for s, _, _ in events]
        assert seqs == list(range(1, len(seqs) + 1)), "a gap or a duplicate in seq"
        # Every transaction is whole: capture of part 1, the emit, capture of part 3.
        txns = []
        for _, channel, payload in events:
            p = json.loads(payload)
            if channel == "t":
                txns.append((p["new"]["txn"], p["new"]["part"]))
            else:
                assert channel == "work"
                txns.append((p["txn"], p["part"]))
        committed = len(txns) // 3
        assert len(txns) == committed * 3
        assert txns == [(n, part) for n in range(1, committed + 1) for part in (1, 2, 3)]
        # Everything the writer saw commit is there; at most the one in flight
        # committed without the writer living to say so.
        assert acknowledged <= committed <= acknowledged + 1
        acknowledged = committed
        conn.close()
    assert acknowledged > 0


# One writer: `count` transactions, each an emitted event and a captured row
# with the same label. The producer processes and this process's threads
# both run it.
WRITER_THREAD = r"""
import sqlite3
def work(path, ext, name, thread, count):
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.enable_load_extension(True)
    conn.load_extension(ext)
    conn.execute("PRAGMA busy_timeout=30000")
    for i in range(count):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("SELECT trigger_emit('jobs', ?)", (f"{name}-{thread}-{i}",))
        conn.execute("INSERT INTO job(label) VALUES (?)", (f"{name}-{thread}-{i}",))
        conn.execute("COMMIT")
    conn.close()
"""
PRODUCER = WRITER_THREAD + r"""
import sys, threading
path, ext, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
threads = [threading.Thread(target=work, args=(path, ext, name, t, count)) for t in range(2)]
for t in threads: t.start()
for t in threads: t.join()
"""
_writer = {}
exec(WRITER_THREAD, _writer)


def test_writers_in_processes_and_threads_with_one_consumer(tmp_path):
    path = str(tmp_path / "busy.db")
    conn = connect(path)
    conn.execute("PRAGMA journal_mode=wal")
    conn.execute("CREATE TABLE job(id INTEGER PRIMARY KEY, label TEXT)")
    conn.execute("SELECT trigger_capture('job')")
    conn.execute("SELECT trigger_ack('consumer', 0)")
    conn.execute("PRAGMA busy_timeout=30000")
    per_thread, processes = 150, 3
    producers = [
        subprocess.Popen([sys.executable, "-c", PRODUCER, path, EXT, f"p{p}", str(per_thread)])
        for p in range(processes)
    ]
    # Threads of this process write too, on their own connections.
    threads = [threading.Thread(target=_writer["work"], args=(path, EXT, "local", t, per_thread))
               for t in range(2)]
    for t in threads:
        t.start()
    expected_events = (processes * 2 + 2) * per_thread * 2
    consumed = []
    deadline = time.monotonic() + 120
    while len(consumed) < expected_events:
        assert time.monotonic() < deadline, f"consumed {len(consumed)} of {expected_events}"
        cursor = scalar(conn, "SELECT trigger_cursor('consumer')")
        seen = scalar(conn, "SELECT trigger_wait(?, 200)", cursor)
        if seen is None:
            continue
        conn.execute("BEGIN IMMEDIATE")
        rows = conn.execute(
            "SELECT seq, channel, payload FROM trigger_outbox WHERE seq > trigger_cursor('consumer') ORDER BY seq"
        ).fetchall()
        if rows:
            consumed.extend(rows)
            conn.execute("SELECT trigger_ack('consumer', ?)", (rows[-1][0],))
        conn.execute("COMMIT")
        if len(consumed) % 500 < len(rows):
            conn.execute("SELECT trigger_prune()")
    for p in producers:
        assert p.wait(timeout=60) == 0
    for t in threads:
        t.join()
    seqs = [r[0] for r in consumed]
    assert len(seqs) == len(set(seqs)) == expected_events  # exactly once
    assert seqs == sorted(seqs)
    labels = sorted(r[2] for r in consumed if r[1] == "jobs")
    assert labels == sorted(
        [f"p{p}-{t}-{i}" for p in range(processes) for t in range(2) for i in range(per_thread)]
        + [f"local-{t}-{i}" for t in range(2) for i in range(per_thread)]
    )
    captured = [json.loads(r[2])["new"]["label"] for r in consumed if r[1] == "job"]
    assert sorted(captured) == labels
    assert scalar(conn, "PRAGMA integrity_check") == "ok"
