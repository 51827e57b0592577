"""A host's progress handler may interrupt any statement the extension runs,
even after that statement did its work: SQLite asks the handler once more
when a statement ends, so a BEGIN IMMEDIATE or a COMMIT that already took
effect can still come back as "interrupted". Each admin function is
interrupted at every step in turn, in autocommit mode and inside the user's
transaction, and must leave the connection as it found it: no transaction
the user did not begin, and either nothing done (with an error) or all of it
done. Inside the user's transaction an interrupted write ends that whole
transaction, as SQLite does for any interrupted write."""
import re
import sqlite3

import pytest

from conftest import ROOT, SEED_SCHEMA, connect

# A database where default_album 1.0.0 is installed, by the plain file 0.1.0 shipped.
OLD_DEFAULT_ALBUM = (ROOT / "tests" / "fixtures" / "default_album-1.0.0.sql").read_text()
# A pack of one's own, as trigger_pack_register takes it.
OWN_PACK = """-- pack: own
-- version: 1
-- param: t | ident | "obs" | the table
-- param: n | ident | "own" | the trigger
-- requires: t |
-- object: trigger | n | t
--
CREATE TRIGGER IF NOT EXISTS main.{{n}} AFTER UPDATE ON {{t}} BEGIN SELECT 1; END;
"""
REGISTER_OWN = "SELECT trigger_pack_register('" + OWN_PACK.replace("'", "''") + "')"


def schema(conn):
    """The schema, with the random label each capture gets masked."""
    return [tuple(re.sub(r"'[0-9a-f]{16}'", "'<label>'", v) if isinstance(v, str) else v for v in row)
            for row in conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")]

# name: (what is there before, the call)
CALLS = {
    "capture": ("", "SELECT trigger_capture('obs')"),
    "uncapture": ("SELECT trigger_capture('obs')", "SELECT trigger_uncapture('obs')"),
    "listen": ("", "SELECT trigger_listen('obs', 'after_update', 'SELECT 1', '{\"name\": \"l\"}')"),
    "unlisten": ("SELECT trigger_listen('obs', 'after_update', 'SELECT 1', '{\"name\": \"l\"}')",
                 "SELECT trigger_unlisten('l')"),
    "install": ("", "SELECT trigger_install('task_state')"),
    "uninstall": ("SELECT trigger_install('task_state')", "SELECT trigger_uninstall('task_state')"),
    "upgrade": (OLD_DEFAULT_ALBUM, "SELECT trigger_upgrade('default_album')"),
    "register": ("", REGISTER_OWN),
    "unregister": (REGISTER_OWN, "SELECT trigger_pack_unregister('own')"),
    "outbox_init": ("", "SELECT trigger_outbox_init()"),
    "ack": ("SELECT trigger_emit('c', 1)", "SELECT trigger_ack('reader', 1)"),
    "prune": ("SELECT trigger_emit('c', 1); SELECT trigger_ack('reader', 1)", "SELECT trigger_prune()"),
}


def contents(conn):
    """The schema, the packs' records and templates, and the outbox's
    consumers and events."""
    rows = schema(conn)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "trigger_pack_installs" in tables:
        rows += conn.execute("SELECT 'install', pack, version, params FROM trigger_pack_installs").fetchall()
    if "trigger_pack_templates" in tables:
        rows += conn.execute("SELECT 'template', pack, version, template FROM trigger_pack_templates").fetchall()
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'trigger_outbox'").fetchone():
        rows += conn.execute("SELECT 'event', seq, channel, payload FROM trigger_outbox").fetchall()
        rows += conn.execute("SELECT 'consumer', consumer, seq, NULL FROM trigger_outbox_consumers").fetchall()
    return rows


@pytest.mark.parametrize("persistent", [False, True], ids=["once", "from-then-on"])
@pytest.mark.parametrize("in_txn", [False, True], ids=["autocommit", "in-transaction"])
@pytest.mark.parametrize("call", list(CALLS))
def test_an_interrupt_at_any_step_leaves_all_or_nothing_and_no_stray_transaction(call, in_txn, persistent):
    # "from-then-on": the handler keeps interrupting, as sqlite3_interrupt()
    # does until the host's statement ends, so the cleanup is interrupted too.
    setup, sql = CALLS[call]
    done = None
    outcomes = set()
    for step in range(1, 20000):
        conn = connect()
        conn.executescript(SEED_SCHEMA)
        conn.executescript(setup)
        if in_txn:
            conn.execute("BEGIN")
        before = contents(conn)
        n = [0]

        def handler():
            n[0] += 1
            return 1 if n[0] == step or (persistent and n[0] > step) else 0

        conn.set_progress_handler(handler, 1)
        error = None
        try:
            conn.execute(sql).fetchall()
        except sqlite3.OperationalError as e:
            error = str(e)
        conn.set_progress_handler(None, 1)
        if in_txn and error and not conn.in_transaction:
            # As for any write interrupted inside a transaction, SQLite
            # rolled the user's whole transaction back.
            assert "interrupted" in error, error
        else:
            assert conn.in_transaction == in_txn, (step, error)
        after = contents(conn)
        if error is None:
            if done is None:
                done = after
            assert after == done and after != before, step
            outcomes.add("done")
            if n[0] < step:
                break  # the call ran to its end without reaching this step
        elif error.startswith("trigger_"):
            # The extension's own error: nothing of the call remains.
            assert "interrupted" in error, error
            assert after == before, (step, error)
            outcomes.add("refused")
        else:
            # The host's statement itself was interrupted, before or after
            # the call: all or nothing.
            assert error == "interrupted", error
            assert after == before or (done is None or after == done), (step, error)
            outcomes.add("outer")
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()
    assert outcomes >= {"done", "refused"}, outcomes
