"""Benchmark 9: what a waiter on a quiet channel costs while another
process commits events on other channels.

A database in WAL mode holds many older events on channel `busy`. A waiter
process runs `trigger_wait(after, 60000, 'quiet')`; this process commits one
`busy` event per transaction for a few seconds, then one `quiet` event,
which ends the wait. The measure is the waiter process's CPU time (all its
threads) over the wait, against the wall-clock time of the commits: a waiter
must cost almost nothing while nothing it waits for arrives (target: under
1 s of CPU per 4 s of commits). Writes raw samples in the JSON shape
`benches/report.py` reads.

    python benches/python/wait_cpu.py --extension PATH [--quick] [--out FILE]
"""
import pathlib
import sqlite3
import subprocess
import sys
import tempfile
import time

import bench_args

WAITER = r"""
import resource, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.enable_load_extension(True)
conn.load_extension(sys.argv[2])
after = int(sys.argv[3])
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
start = cpu()
print("waiting", flush=True)
seq = conn.execute("SELECT trigger_wait(?, 60000, 'quiet')", (after,)).fetchone()[0]
print(seq, cpu() - start, flush=True)
"""


def connect(db, ext):
    conn = sqlite3.connect(db, isolation_level=None)
    conn.enable_load_extension(True)
    conn.load_extension(ext)
    return conn


def one_run(ext, older, seconds):
    with tempfile.TemporaryDirectory() as tmp:
        db = str(pathlib.Path(tmp) / "wait.db")
        conn = connect(db, ext)
        conn.execute("PRAGMA journal_mode = wal")
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("BEGIN")
        conn.execute("SELECT trigger_emit('busy', 0)")
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO trigger_outbox (channel, payload) SELECT 'busy', i FROM n",
            (older,),
        )
        conn.execute("COMMIT")
        after = conn.execute("SELECT max(seq) FROM trigger_outbox").fetchone()[0]
        waiter = subprocess.Popen(
            [sys.executable, "-c", WAITER, db, ext, str(after)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert waiter.stdout.readline().strip() == "waiting"
        time.sleep(0.2)  # the wait has begun
        start = time.monotonic()
        commits = 0
        while time.monotonic() - start < seconds:
            conn.execute("SELECT trigger_emit('busy', 1)")
            commits += 1
        wall = time.monotonic() - start
        quiet = conn.execute("SELECT trigger_emit('quiet', 1)").fetchone()[0]
        out, _ = waiter.communicate(timeout=60)
        seq, cpu = out.split()
        if int(seq) != quiet:
            raise RuntimeError(f"the waiter returned {seq}, not the quiet event {quiet}")
        conn.close()
        return float(cpu), wall, commits


def main():
    args = bench_args.parse(__doc__)
    older, seconds, rounds = (10_000, 1.0, 1) if args.quick else (200_000, 4.0, 3)
    print(f"\n== 9 wait: a waiter on a quiet channel, {older:,} older events, {seconds:g} s of other channels' commits")
    cpu_samples, wall_samples, failed = [], [], None
    for rnd in range(rounds):
        try:
            cpu, wall, commits = one_run(args.extension, older, seconds)
        except Exception as e:  # reported as a failed contender
            failed = f"{type(e).__name__}: {e}"
            print(f"   FAILED: {failed}")
            break
        cpu_samples.append(cpu)
        wall_samples.append(wall)
        print(
            f"   round {rnd + 1}/{rounds}: waiter CPU {cpu:.3f} s over {wall:.2f} s "
            f"of {commits:,} commits ({cpu / wall:.3f} s of CPU per second)",
            flush=True,
        )
    bench_args.write(args, [
        {
            "id": "9",
            "title": "trigger_wait on a quiet channel while others commit",
            "work": f"{older:,} older events, {seconds:g} s of commits on another channel",
            "kind": "time",
            "measure": "waiter process CPU time against the commits' wall-clock time",
            "warmup": 0,
            "rounds": rounds,
            "contenders": [
                {
                    "name": "wall-clock time of the commits",
                    "status": "failed" if failed else "ran",
                    "reason": failed,
                    "ratio_to": "wall-clock time of the commits",
                    "target": None,
                    "samples": wall_samples,
                    "wall_samples": wall_samples,
                },
                {
                    "name": "waiter CPU (all threads)",
                    "status": "failed" if failed else "ran",
                    "reason": failed,
                    "ratio_to": "wall-clock time of the commits",
                    "target": {"kind": "ratio_at_most", "value": 0.25},
                    "samples": cpu_samples,
                    "wall_samples": wall_samples,
                },
            ],
        }
    ])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
