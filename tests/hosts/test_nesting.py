"""Functions that run SQL from inside a statement (trigger_emit above all)
cannot recurse without a bound: the nesting stops at the connection's
SQLITE_LIMIT_TRIGGER_DEPTH, or when the thread's stack runs low, with an
error that names the function and the limit, and the host lives on."""
import sqlite3
import threading

import pytest

from conftest import EXT, connect, needs_shell, scalar, shell

RELAY = """
SELECT trigger_outbox_init();
CREATE TRIGGER relay AFTER INSERT ON trigger_outbox WHEN new.channel = 'in'
BEGIN SELECT trigger_emit('in', new.payload); END;
"""


@needs_shell
def test_the_shell_stops_at_the_trigger_depth_limit(tmp_path):
    db = tmp_path / "relay.db"
    out = shell(f".load {EXT}\n{RELAY}\nSELECT trigger_emit('in', 'x');\nSELECT 'alive', count(*) FROM trigger_outbox;\n",
                db=str(db), bail=False)
    assert "alive|0" in out.stdout, out.stdout + out.stderr
    assert ("trigger_emit(): too many levels of nesting: this call is nested 1001 deep in calls of "
            "the extension's functions, past the trigger depth limit of 1000 "
            "(SQLITE_LIMIT_TRIGGER_DEPTH)") in out.stderr, out.stderr
    # One message, not one prefix per level.
    assert out.stderr.count("trigger_emit()") == 2 and len(out.stderr) < 500, out.stderr
    assert "panicked" not in out.stderr


@needs_shell
def test_a_database_file_alone_with_an_untrusted_schema(tmp_path):
    # Made without the extension: the outbox table, a relay trigger, a view.
    db = tmp_path / "hostile.db"
    made = sqlite3.connect(db)
    made.executescript("""
        CREATE TABLE trigger_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL,
            payload, created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));
        CREATE TRIGGER relay AFTER INSERT ON trigger_outbox BEGIN SELECT trigger_emit('x', 1); END;
        CREATE VIEW v AS SELECT trigger_emit('x', 1) AS seq;
    """)
    made.close()
    out = shell(f"PRAGMA trusted_schema = OFF;\n.load {EXT}\nSELECT * FROM v;\nSELECT 'alive';\n",
                db=str(db), bail=False)
    assert "alive" in out.stdout, out.stdout + out.stderr
    assert "too many levels of nesting" in out.stderr, out.stderr


def test_the_connections_own_limit_is_respected(tmp_path):
    conn = connect(str(tmp_path / "relay.db"))
    conn.executescript(RELAY)
    conn.setlimit(sqlite3.SQLITE_LIMIT_TRIGGER_DEPTH, 10)
    with pytest.raises(sqlite3.OperationalError) as e:
        conn.execute("SELECT trigger_emit('in', 'x')")
    assert str(e.value).startswith(
        "trigger_emit(): too many levels of nesting: this call is nested 11 deep in calls of the "
        "extension's functions, past the trigger depth limit of 10 (SQLITE_LIMIT_TRIGGER_DEPTH)"), e.value
    assert scalar(conn, "SELECT count(*) FROM trigger_outbox") == 0
    # Nine levels are within the limit: each relays once more until the
    # channel changes.
    conn.executescript("""
        DROP TRIGGER relay;
        CREATE TRIGGER relay AFTER INSERT ON trigger_outbox WHEN new.channel < 'in9'
        BEGIN SELECT trigger_emit('in' || (substr(new.channel, 3) + 1), new.payload); END;
    """)
    conn.execute("SELECT trigger_emit('in1', 'x')")
    assert [r[0] for r in conn.execute("SELECT channel FROM trigger_outbox ORDER BY seq")] == [
        f"in{i}" for i in range(1, 10)]


@pytest.mark.parametrize("stack_kib", [512, 1024, 2048])
def test_a_thread_with_a_small_stack_gets_an_error_not_a_crash(tmp_path, stack_kib):
    # A 2 MiB thread died with SIGSEGV before depth 1000; the stack check
    # stops it with room to spare. Run in a child so a crash is seen, not
    # suffered.
    import subprocess
    import sys
    db = tmp_path / "relay.db"
    conn = connect(str(db))
    conn.executescript(RELAY)
    conn.close()
    child = f"""
import sqlite3, threading
threading.stack_size({stack_kib} * 1024)
out = []
def body():
    c = sqlite3.connect({str(db)!r}, isolation_level=None)
    c.enable_load_extension(True); c.load_extension({EXT!r})
    try:
        c.execute("SELECT trigger_emit('in', 'y')")
        out.append('no error')
    except sqlite3.OperationalError as e:
        out.append(str(e))
t = threading.Thread(target=body); t.start(); t.join()
print(out[0])
"""
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (result.returncode, result.stderr)
    assert "trigger_emit(): too many levels of nesting: this call is nested" in result.stdout, result.stdout
    assert "panicked" not in result.stderr


@needs_shell
def test_trigger_cursor_in_a_generated_column_of_the_consumers_table(tmp_path):
    # Made elsewhere, with a stand-in function of the same name: reading
    # the column calls trigger_cursor, which reads the column again.
    db = tmp_path / "cursor.db"
    made = sqlite3.connect(db)
    made.create_function("trigger_cursor", 1, lambda c: 0, deterministic=True)
    made.executescript("""
        CREATE TABLE trigger_outbox_consumers (consumer TEXT, seq INTEGER AS (trigger_cursor(consumer)) VIRTUAL);
        INSERT INTO trigger_outbox_consumers (consumer) VALUES ('a');
    """)
    made.close()
    out = shell(f"PRAGMA trusted_schema = OFF;\n.load {EXT}\nSELECT * FROM trigger_outbox_consumers;\nSELECT 'alive';\n",
                db=str(db), bail=False)
    assert "alive" in out.stdout, out.stdout + out.stderr
    assert "trigger_cursor(): too many levels of nesting" in out.stderr, out.stderr


def test_emitting_scans_are_refused_with_parameters_and_reused_statement_memory():
    # Without a statement cache, each statement is prepared and finalized,
    # so a new one often gets a finished one's memory; and bound parameters
    # must not hide a statement's program from the check.
    conn = sqlite3.connect(":memory:", isolation_level=None, cached_statements=0)
    conn.enable_load_extension(True)
    conn.load_extension(EXT)
    conn.execute("SELECT trigger_emit('a', 1)")
    refused = 0
    for _ in range(40):
        conn.execute("SELECT trigger_emit('x', 1) FROM (SELECT 1 AS seq)").fetchall()
        for sql, args in [("SELECT trigger_emit('x', seq) FROM trigger_outbox", ()),
                          ("SELECT trigger_emit(?, seq) FROM trigger_outbox", ("p",))]:
            with pytest.raises(sqlite3.OperationalError, match="refused: the statement reads trigger_outbox"):
                conn.execute(sql, args).fetchall()
            refused += 1
    assert refused == 80
    assert scalar(conn, "SELECT count(*) FROM trigger_outbox") == 41
