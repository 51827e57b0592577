"""default_album 1.0.0 -> 1.1.0 in Python's sqlite3 (SQLite 3.40.1): from an
install made by the 0.1.0 extension (tests/fixtures/default_album-1.0.0.db,
with parameters of its own) and from the plain file 0.1.0 shipped
(tests/fixtures/default_album-1.0.0.sql, run without the extension), with
users inserted before and after. The upgraded database must be the one a
fresh 1.1.0 install makes, keep firing on connections without the
extension, and uninstall to the user's tables."""
import json
import shutil
import sqlite3
import sys

import pytest

from conftest import ROOT, SEED_SCHEMA, connect, scalar, schema
from sqlhosts import host
from test_busy import race

FIXTURES = ROOT / "tests" / "fixtures"
sys.path.insert(0, str(FIXTURES))
from make_default_album_1_0_0_db import PARAMS  # noqa: E402

OLD_PLAIN_FILE = (FIXTURES / "default_album-1.0.0.sql").read_text()
USERS = '"my ""users"""'
ALBUMS = '"albums ü"'
ALBUM_NAME = PARAMS["album_name"]


def pack_objects(conn):
    return conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('trigger', 'index') "
        "AND name NOT LIKE 'sqlite_autoindex%' ORDER BY type, name").fetchall()


def listing(conn, pack):
    return conn.execute(
        "SELECT version, installed_version, upgradable FROM trigger_packs WHERE name = ?", (pack,)).fetchone()


def fresh_install(tmp_path, tables_sql, params=None):
    """The objects a fresh install of today's default_album makes on these tables."""
    conn = connect(str(tmp_path / "fresh.db"))
    conn.executescript(tables_sql)
    conn.execute("SELECT trigger_install('default_album', ?)", (json.dumps(params or {}),))
    return pack_objects(conn), conn.execute("SELECT params FROM trigger_pack_installs").fetchone()[0]


def test_an_install_by_the_0_1_0_extension_upgrades_with_its_parameters(tmp_path):
    db = tmp_path / "old.db"
    shutil.copyfile(FIXTURES / "default_album-1.0.0.db", db)
    conn = connect(str(db))
    # Before: the users the 0.1.0 install gave albums (user 3 had one of
    # another name, and got the default one too).
    assert conn.execute(f'SELECT owner, "title */" FROM {ALBUMS} ORDER BY id').fetchall() == [
        (1, ALBUM_NAME), (2, ALBUM_NAME), (3, "holidays"), (3, ALBUM_NAME)]
    assert listing(conn, "default_album") == ("1.1.0", "1.0.0", 1)
    assert listing(conn, "task_state") == ("1.0.0", "1.0.0", 0)
    recorded = scalar(conn, "SELECT params FROM trigger_pack_installs WHERE pack = 'default_album'")

    summary = scalar(conn, "SELECT trigger_upgrade('default_album')")
    assert summary == ('upgraded default_album from 1.0.0 to 1.1.0: kept index "new user ✓_idx", '
                       'replaced trigger "new user ✓"')
    assert scalar(conn, "SELECT trigger_upgrade('task_state')") == (
        "task_state 1.0.0 is installed, the newest version; nothing changed")
    assert listing(conn, "default_album") == ("1.1.0", "1.1.0", 0)
    assert scalar(conn, "SELECT params FROM trigger_pack_installs WHERE pack = 'default_album'") == recorded
    assert {k: v for k, v in json.loads(recorded).items() if k in PARAMS} == PARAMS

    # Exactly what a fresh 1.1.0 install with those parameters makes.
    tables = ";\n".join(r[0] for r in conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'trigger%'")) + ";"
    fresh, fresh_params = fresh_install(tmp_path, tables, PARAMS)
    assert fresh_params == recorded
    assert [o for o in pack_objects(conn) if o[1] not in ("update_task_state", "update_task_state_idx")] == fresh

    # After: new users get one album each, on this connection and on one
    # that never loaded the extension.
    conn.execute(f"INSERT INTO {USERS} (uid, name) VALUES (4, 'dan')")
    plain = sqlite3.connect(str(db), isolation_level=None)
    plain.execute(f"INSERT INTO {ALBUMS} (owner, \"title */\") VALUES (6, ?)", (ALBUM_NAME,))
    plain.execute(f"INSERT INTO {USERS} (uid, name) VALUES (5, 'erin'), (6, 'fay')")
    plain.close()
    assert conn.execute(
        f'SELECT owner, count(*) FROM {ALBUMS} WHERE "title */" = ? GROUP BY owner', (ALBUM_NAME,)
    ).fetchall() == [(1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (6, 1)]

    assert scalar(conn, "SELECT trigger_uninstall('default_album')") == (
        'uninstalled default_album 1.1.0: index "new user ✓_idx", trigger "new user ✓"')
    scalar(conn, "SELECT trigger_uninstall('task_state')")
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master ORDER BY name")] == [
        "albums ü", "my \"users\"", "obs", "task"]


def test_a_database_made_by_the_old_plain_file_upgrades_the_same_way(tmp_path):
    db = str(tmp_path / "plain.db")
    plain = sqlite3.connect(db, isolation_level=None)  # no extension anywhere
    plain.executescript(SEED_SCHEMA)
    plain.executescript(OLD_PLAIN_FILE)
    plain.execute("INSERT INTO user (id, name) VALUES (1, 'alice'), (2, 'bob')")
    plain.close()

    conn = connect(db)
    assert listing(conn, "default_album") == ("1.1.0", "1.0.0", 1)
    assert scalar(conn, "SELECT trigger_upgrade('default_album')") == (
        "upgraded default_album from 1.0.0 to 1.1.0: kept index user_default_album_idx, "
        "replaced trigger user_default_album")
    fresh, fresh_params = fresh_install(tmp_path, SEED_SCHEMA)
    assert pack_objects(conn) == fresh
    assert scalar(conn, "SELECT params FROM trigger_pack_installs") == fresh_params
    # The upgraded install is what the current plain file makes, too.
    current = sqlite3.connect(str(tmp_path / "current.db"), isolation_level=None)
    current.executescript(SEED_SCHEMA)
    current.executescript((ROOT / "sql" / "default_album.sql").read_text())
    assert pack_objects(current) == fresh

    conn.execute("INSERT INTO album (user_id, album_name) VALUES (4, 'default album')")
    conn.execute("INSERT INTO user (id, name) VALUES (3, 'carol'), (4, 'dan')")
    assert conn.execute("SELECT user_id, count(*) FROM album GROUP BY user_id").fetchall() == [
        (1, 1), (2, 1), (3, 1), (4, 1)]
    assert scalar(conn, "SELECT trigger_uninstall('default_album')").startswith("uninstalled default_album 1.1.0")
    assert scalar(conn, "SELECT count(*) FROM sqlite_master WHERE type IN ('trigger', 'index')") == 0


def test_running_the_newer_plain_file_over_an_older_install_changes_nothing(tmp_path):
    """The plain files create only what is missing (IF NOT EXISTS): over a
    1.0.0 install the 1.1.0 file leaves 1.0.0 in place, and the listing
    still shows it as one to upgrade."""
    conn = connect(str(tmp_path / "a.db"))
    conn.executescript(SEED_SCHEMA)
    conn.executescript(OLD_PLAIN_FILE)
    before = schema(conn)
    conn.executescript((ROOT / "sql" / "default_album.sql").read_text())
    assert schema(conn) == before
    assert listing(conn, "default_album") == ("1.1.0", "1.0.0", 1)


def test_an_upgrade_inside_a_transaction_rolls_back_with_it(tmp_path):
    conn = connect(str(tmp_path / "a.db"))
    conn.executescript(SEED_SCHEMA)
    conn.executescript(OLD_PLAIN_FILE)
    before = schema(conn)
    conn.execute("BEGIN")
    scalar(conn, "SELECT trigger_upgrade('default_album')")
    conn.execute("INSERT INTO user (id, name) VALUES (1, 'x')")
    conn.execute("ROLLBACK")
    assert schema(conn) == before
    assert scalar(conn, "SELECT version FROM trigger_pack_installs") == "1.0.0"


def test_a_failing_upgrade_leaves_the_old_version_in_place(tmp_path):
    """Refused before it starts (a column renamed since the install), or
    failing half-way (the old trigger dropped, the new one refused by the
    host's authorizer): either way 1.0.0 is left as it was."""
    conn = connect(str(tmp_path / "a.db"))
    conn.executescript(SEED_SCHEMA)
    conn.executescript(OLD_PLAIN_FILE)
    before = schema(conn)
    conn.set_authorizer(lambda action, *_: sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_CREATE_TRIGGER
                        else sqlite3.SQLITE_OK)
    with pytest.raises(sqlite3.OperationalError, match=r"^trigger_upgrade\(\): installing pack default_album: not authorized$"):
        conn.execute("SELECT trigger_upgrade('default_album')")
    conn.set_authorizer(None)
    assert schema(conn) == before
    assert not conn.in_transaction

    conn.execute("ALTER TABLE album RENAME COLUMN album_name TO title")
    before = schema(conn)
    with pytest.raises(sqlite3.OperationalError, match=r"^trigger_upgrade\(\): pack default_album 1\.0\.0 is installed, "
                                                        r"but its index \"user_default_album_idx\" was moved to \"album\" by a rename"):
        conn.execute("SELECT trigger_upgrade('default_album')")
    assert schema(conn) == before
    assert not conn.in_transaction


@pytest.mark.parametrize("wal", [True, False], ids=["wal", "rollback"])
def test_concurrent_upgrades_upgrade_once(wal, tmp_path):
    """Connections upgrading the same pack at the same moment: one upgrades
    it, every other one then finds the newest version installed."""
    db = str(tmp_path / "race.db")
    conn = connect(db)
    if wal:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(SEED_SCHEMA)
    conn.executescript(OLD_PLAIN_FILE)
    conn.close()
    answers, errors = race(host("sqlite3"), db, "SELECT trigger_upgrade('default_album')", racers=8)
    assert errors == []
    assert sum(a.startswith("upgraded default_album from 1.0.0 to 1.1.0") for a in answers) == 1, answers
    assert set(answers) - {a for a in answers if a.startswith("upgraded")} == {
        "default_album 1.1.0 is installed, the newest version; nothing changed"}
