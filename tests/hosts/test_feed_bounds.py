"""The change feed's memory is bounded: a huge transaction keeps at most the
feed's capacity of changes, a scan of trigger_changes does not copy the
feed, and tables that came and went leave nothing behind. Each check runs
in a child process and compares its maximum resident set (or its live heap)
before and after,
with generous bounds: no timing."""
import subprocess
import sys

from conftest import EXT

CHILD = r"""
import resource, sqlite3, sys
ext, path, what = sys.argv[1], sys.argv[2], sys.argv[3]
conn = sqlite3.connect(path, isolation_level=None)
conn.enable_load_extension(True)
conn.load_extension(ext)
conn.execute("CREATE TABLE t(a INTEGER PRIMARY KEY, b)")
fill = ("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?) "
        "INSERT INTO t(b) SELECT i FROM c")
def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
import ctypes
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
def heap():
    # Bytes malloc has handed out and not got back: freed memory that malloc
    # keeps for reuse does not count, unlike the resident set.
    f = ctypes.CDLL(None).mallinfo2
    f.restype = MallInfo2
    info = f()
    return info.uordblks + info.hblkhd
if what == "txn":
    conn.execute("SELECT trigger_watch('t')")
    conn.execute("SELECT trigger_feed_capacity(1000)")
    conn.execute("BEGIN"); conn.execute(fill, (1000,)); conn.execute("COMMIT")
    before = rss()
    conn.execute("BEGIN"); conn.execute(fill, (4_000_000,)); conn.execute("COMMIT")
    after = rss()
    print(after - before)
    print(conn.execute("SELECT op, rowid FROM trigger_changes ORDER BY seq LIMIT 2").fetchall())
    print(conn.execute("SELECT count(*), min(seq), max(seq), max(rowid) FROM trigger_changes WHERE op = 'insert'").fetchall())
elif what == "scan":
    conn.execute("SELECT trigger_watch('t')")
    conn.execute("SELECT trigger_feed_capacity(600000)")
    conn.execute("BEGIN"); conn.execute(fill, (600_000,)); conn.execute("COMMIT")
    before = rss()
    got = conn.execute("SELECT count(*), sum(rowid), max(seq) FROM trigger_changes").fetchall()
    after = rss()
    print(after - before)
    print(got)
elif what == "churn":
    conn.execute("SELECT trigger_watch('*')")
    conn.execute("SELECT trigger_feed_capacity(1000)")
    def churn(first, n):
        for i in range(first, first + n):
            conn.execute(f"CREATE TEMP TABLE x{i}(a)")
            conn.execute(f"INSERT INTO x{i} VALUES (1)")
            conn.execute(f"DROP TABLE x{i}")
    churn(0, 20000)  # SQLite's own memory reaches its size
    before = heap()
    churn(20000, 20000)
    after = heap()
    print(after - before)
    print(conn.execute("SELECT count(*), max(table_name) FROM trigger_changes WHERE seq > 39000").fetchall())
"""


def run_child(tmp_path, what):
    out = subprocess.run(
        [sys.executable, "-c", CHILD, EXT, str(tmp_path / "b.db"), what],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    lines = out.stdout.splitlines()
    return int(lines[0]), [eval(line) for line in lines[1:]]


def test_a_transaction_far_beyond_the_capacity_keeps_only_the_capacity(tmp_path):
    grown, (first, inserts) = run_child(tmp_path, "txn")
    # 4 million changes of 16 bytes each would be 64 MB; the feed keeps 1,000.
    assert grown < 16 * 2**20, grown
    # The reader is told what it missed: all but the last 1,000 changes.
    assert first == [("dropped", 4_000_000), ("insert", 4_000_001)]
    assert inserts == [(1000, 4_000_001, 4_001_000, 4_001_000)]


def test_a_full_scan_does_not_copy_the_feed(tmp_path):
    grown, (got,) = run_child(tmp_path, "scan")
    assert got == [(600_000, 600_000 * 600_001 // 2, 600_000)]
    # A copy of 600,000 rows of six values is well over 100 MB.
    assert grown < 16 * 2**20, grown


def test_tables_created_written_and_dropped_leave_nothing_behind(tmp_path):
    grown, (got,) = run_child(tmp_path, "churn")
    assert got == [(1000, "x39999")]
    # Every table name the feed ever saw, kept, would be about 3 MB more of
    # live heap for the second 20,000 tables.
    assert grown < 1 * 2**20, grown
