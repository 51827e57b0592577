"""Fuzzing every SQL function of the extension from real hosts: Python's
sqlite3 (SQLite 3.40.1) and apsw (the newest SQLite). The calls run in a
child process (fuzz_host.py, which documents the rules it checks), so a crash
or an abort fails the test instead of killing the test run.

SQLITE_TRIGGERS_FUZZ_CALLS (default 4000) sets the iterations per host and
mode; SQLITE_TRIGGERS_FUZZ_SEED (default 20261124) the seed. A soak:
    SQLITE_TRIGGERS_FUZZ_CALLS=100000 SQLITE_TRIGGERS_FUZZ_SEED=$RANDOM \\
      .venv/bin/python -m pytest -q -s tests/hosts/test_fuzz.py
"""
import json
import os
import signal
import subprocess
import sys

import pytest

import sqlhosts

HERE = os.path.dirname(os.path.abspath(__file__))
CALLS = int(os.environ.get("SQLITE_TRIGGERS_FUZZ_CALLS", "4000"))
SEED = int(os.environ.get("SQLITE_TRIGGERS_FUZZ_SEED", "20261124"))


def fuzz(host, mode, tmp_path):
    """Runs the fuzz in a child process; returns its counts."""
    env = {**os.environ, "SQLITE_TRIGGERS_EXT": sqlhosts.EXT}
    try:
        child = subprocess.run(
            [sys.executable, os.path.join(HERE, "fuzz_host.py"), host, mode, str(CALLS), str(SEED), str(tmp_path)],
            capture_output=True, text=True, env=env, timeout=max(300, CALLS / 20),
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the fuzz hung; the last call:\n{(tmp_path / 'last-call.txt').read_text()[:3000]}")
    last = (tmp_path / "last-call.txt").read_text()[:3000] if (tmp_path / "last-call.txt").exists() else "?"
    if child.returncode < 0:
        pytest.fail(f"the host died of {signal.Signals(-child.returncode).name} (seed {SEED}); "
                    f"the last call:\n{last}\n{child.stderr[-3000:]}")
    assert child.returncode == 0, f"{child.stderr[-5000:]}\n(last call: {last})"
    stats = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"\nfuzz {host} {mode}: {json.dumps({k: v for k, v in stats.items() if k != 'signatures'})}")
    return stats


@pytest.mark.parametrize("host", sqlhosts.HOSTS)
def test_every_function_with_random_arguments(host, tmp_path):
    stats = fuzz(host, "functions", tmp_path)
    scalars, tables = sqlhosts.extension_functions(sqlhosts.host(host))
    assert stats["calls"] >= CALLS
    for f in scalars:
        # Every function must be reached, fail, and succeed too: a fuzz that
        # never gets past a function's argument checks tests nothing behind
        # them (steer its arguments by name in fuzz_host.Fuzzer.value).
        counts = stats["functions"].get(f, {"calls": 0, "ok": 0, "errors": 0})
        assert counts["calls"] >= CALLS // (4 * len(scalars)), (f, counts)
        # trigger_call runs Rust handlers, which only a Rust program can
        # register, and trigger_feed_deleted answers only the feed's TEMP
        # triggers, which carry the connection's random token: every call
        # from here is an error by design.
        never_succeeds = f in ("trigger_call", "trigger_feed_deleted")
        assert counts["errors"] > 0 and (counts["ok"] > 0 or never_succeeds), (f, counts)
        assert stats["signatures"][f] is not None, f"{f}() does not name its arguments in its arity error"
    for t in tables:
        assert stats["functions"].get(t, {"ok": 0})["ok"] > 0, t
    # Installs and uninstalls really ran and committed, on fresh databases.
    assert stats["committed_changes"] >= CALLS // 200
    assert stats["scratch_databases"] >= CALLS // 400


@pytest.mark.parametrize("host", sqlhosts.HOSTS)
def test_pack_params_random_json(host, tmp_path):
    stats = fuzz(host, "params", tmp_path)
    assert stats["calls"] >= CALLS
    for f in ("trigger_pack_sql", "trigger_install", "trigger_uninstall"):
        assert stats["functions"][f]["ok"] > 0, (f, stats["functions"][f])
    # Installs with hostile names that had to succeed, and did.
    assert stats["hostile_installs"] >= CALLS // 20
