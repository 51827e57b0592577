"""The extension in Python's sqlite3 module (Debian's /usr/bin/python3, SQLite 3.40.1)."""
import json
import sqlite3

import pytest

from conftest import EXT, ROOT, SEED_SCHEMA, connect, scalar, schema

# SQLite function flags as pragma_function_list reports them.
DETERMINISTIC, DIRECTONLY, INNOCUOUS = 0x800, 0x80000, 0x200000

EXPECTED_FUNCTIONS = {
    ("trigger_version", "s", "utf8", -1, DETERMINISTIC | INNOCUOUS),
    ("trigger_debug", "s", "utf8", -1, INNOCUOUS),
    ("trigger_pack_sql", "s", "utf8", -1, INNOCUOUS),
    ("trigger_install", "s", "utf8", -1, DIRECTONLY),
    ("trigger_uninstall", "s", "utf8", -1, DIRECTONLY),
    ("trigger_upgrade", "s", "utf8", -1, DIRECTONLY),
    ("trigger_pack_register", "s", "utf8", -1, DIRECTONLY),
    ("trigger_pack_unregister", "s", "utf8", -1, DIRECTONLY),
    ("trigger_watch", "s", "utf8", -1, DIRECTONLY),
    ("trigger_unwatch", "s", "utf8", -1, DIRECTONLY),
    ("trigger_feed_capacity", "s", "utf8", -1, DIRECTONLY),
    ("trigger_feed_deleted", "s", "utf8", -1, INNOCUOUS),
    ("trigger_txn_joined", "s", "utf8", -1, INNOCUOUS),
    ("trigger_call", "s", "utf8", -1, INNOCUOUS),
    ("trigger_listen", "s", "utf8", -1, DIRECTONLY),
    ("trigger_unlisten", "s", "utf8", -1, DIRECTONLY),
    ("trigger_emit", "s", "utf8", -1, INNOCUOUS),
    ("trigger_cursor", "s", "utf8", -1, INNOCUOUS),
    ("trigger_outbox_init", "s", "utf8", -1, DIRECTONLY),
    ("trigger_capture", "s", "utf8", -1, DIRECTONLY),
    ("trigger_uncapture", "s", "utf8", -1, DIRECTONLY),
    ("trigger_ack", "s", "utf8", -1, DIRECTONLY),
    ("trigger_prune", "s", "utf8", -1, DIRECTONLY),
    ("trigger_wait", "s", "utf8", -1, DIRECTONLY),
}


def functions(conn):
    return set(conn.execute("SELECT name, type, enc, narg, flags FROM pragma_function_list"))


def modules(conn):
    return {r[0] for r in conn.execute("SELECT name FROM pragma_module_list")}


def test_loading_adds_exactly_these_functions_and_table_functions():
    conn = connect(load=False)
    before_f, before_m = functions(conn), modules(conn)
    conn.enable_load_extension(True)
    conn.load_extension(EXT)
    assert functions(conn) - before_f == EXPECTED_FUNCTIONS
    assert before_f - functions(conn) == set()
    assert modules(conn) - before_m == {"trigger_packs", "trigger_listeners", "trigger_changes", "trigger_txn", "trigger_doctor"}


def test_loading_twice_on_one_connection_is_harmless():
    conn = connect()
    conn.enable_load_extension(True)
    conn.load_extension(EXT)
    assert scalar(conn, "SELECT count(*) FROM trigger_packs") == 10
    assert scalar(conn, "SELECT trigger_version()") == "0.1.0"


def test_version_and_debug_name_the_sqlite_versions():
    conn = connect()
    assert scalar(conn, "SELECT trigger_version()") == "0.1.0"
    debug = scalar(conn, "SELECT trigger_debug()")
    assert "sqlite-triggers 0.1.0" in debug
    assert "minimum SQLite 3.38.0" in debug
    assert f"running SQLite {sqlite3.sqlite_version}" in debug
    assert "build release" in debug


def test_seed_story(seed):
    seed.execute("SELECT trigger_install('task_state')")
    seed.execute("SELECT trigger_install('default_album')")
    seed.executescript(
        """
        INSERT INTO user (id, name) VALUES (1, 'alice'), (2, 'bob');
        INSERT INTO album (user_id, album_name) VALUES (3, 'default album');
        INSERT INTO user (id, name) VALUES (3, 'carol');
        INSERT INTO obs (id, name) VALUES (1, 'comet'), (2, 'nebula');
        INSERT INTO task (obs_id, name) VALUES (1, 'a'), (1, 'b'), (2, 'c');
        UPDATE obs SET state = 1 WHERE id = 1;
        UPDATE obs SET name = 'Comet' WHERE id = 1;
        """
    )
    assert seed.execute("SELECT user_id, album_name FROM album ORDER BY user_id").fetchall() == [
        (1, "default album"),
        (2, "default album"),
        (3, "default album"),
    ]
    assert seed.execute("SELECT id, state FROM task ORDER BY id").fetchall() == [(1, 0), (2, 0), (3, 0)]
    seed.execute("UPDATE obs SET state = 2 WHERE id = 1")
    assert seed.execute("SELECT id, state FROM task ORDER BY id").fetchall() == [(1, 2), (2, 2), (3, 0)]


def test_installed_triggers_fire_on_connections_without_the_extension(tmp_path):
    db = str(tmp_path / "app.db")
    admin = connect(db)
    admin.executescript(SEED_SCHEMA)
    admin.execute("SELECT trigger_install('default_album')")
    admin.execute("SELECT trigger_install('task_state')")
    admin.close()
    plain = connect(db, load=False)
    plain.execute("INSERT INTO user (id, name) VALUES (7, 'dora')")
    plain.execute("INSERT INTO obs (id, name) VALUES (1, 'x')")
    plain.execute("INSERT INTO task (obs_id, name) VALUES (1, 't')")
    plain.execute("UPDATE obs SET state = 2")
    assert plain.execute("SELECT user_id, album_name FROM album").fetchall() == [(7, "default album")]
    assert scalar(plain, "SELECT state FROM task") == 2
    with pytest.raises(sqlite3.OperationalError, match="no such function: trigger_install"):
        plain.execute("SELECT trigger_install('task_state')")


def test_packs_listing_follows_install_and_uninstall(seed):
    rows = seed.execute("SELECT name, version, installed, installed_version, installed_params FROM trigger_packs").fetchall()
    assert rows == [(name, "1.1.0" if name == "default_album" else "1.0.0", 0, None, None)
                    for name in ("counter_cache", "counts", "default_album", "fsm", "fts_sync", "history",
                                 "protect", "soft_delete", "task_state", "touch")]
    seed.execute("""SELECT trigger_install('task_state', '{"set_state": 3}')""")
    name, installed, params = seed.execute(
        "SELECT name, installed, installed_params FROM trigger_packs WHERE installed"
    ).fetchone()
    assert (name, installed) == ("task_state", 1)
    assert json.loads(params)["set_state"] == 3
    defaults = json.loads(scalar(seed, "SELECT params FROM trigger_packs WHERE name = 'task_state'"))
    assert defaults["set_state"] == 2 and defaults["obs_table"] == "obs"
    seed.execute("SELECT trigger_uninstall('task_state')")
    assert scalar(seed, "SELECT count(*) FROM trigger_packs WHERE installed") == 0
    # A pack installed once per table: installed counts the installs, and
    # installed_params lists each one's parameters.
    seed.executescript("ALTER TABLE obs ADD COLUMN updated_at; ALTER TABLE task ADD COLUMN updated_at;")
    seed.execute("""SELECT trigger_install('touch', '{"table": "obs"}')""")
    seed.execute("""SELECT trigger_install('touch', '{"table": "task", "format": "unix"}')""")
    installed, params = seed.execute("SELECT installed, installed_params FROM trigger_packs WHERE name = 'touch'").fetchone()
    assert installed == 2
    assert sorted((k, p["table"], p["format"]) for k, p in json.loads(params).items()) == [
        ("obs", "obs", "iso"), ("task", "task", "unix")]
    assert seed.execute("SELECT name FROM trigger_packs WHERE installed").fetchall() == [("touch",)]
    seed.execute("SELECT trigger_uninstall('touch', 'obs')")
    installed, params = seed.execute("SELECT installed, installed_params FROM trigger_packs WHERE name = 'touch'").fetchone()
    assert installed == 1 and json.loads(params)["task"]["table"] == "task"
    seed.execute("SELECT trigger_uninstall('touch', 'task')")
    assert scalar(seed, "SELECT count(*) FROM trigger_packs WHERE installed") == 0
    assert scalar(seed, "SELECT count(*) FROM sqlite_master WHERE name = 'trigger_pack_installs'") == 0


def test_uninstall_restores_the_schema_exactly(seed):
    seed.execute("CREATE INDEX my_task_idx ON task(name)")
    seed.execute("CREATE TRIGGER my_trigger AFTER INSERT ON obs BEGIN SELECT 1; END")
    before = schema(seed)
    seed.execute("SELECT trigger_install('task_state')")
    seed.execute("SELECT trigger_install('default_album')")
    # 2 triggers, 2 indexes, the install table and its primary-key index
    assert len(schema(seed)) == len(before) + 6
    seed.execute("SELECT trigger_uninstall('default_album')")
    seed.execute("SELECT trigger_uninstall('task_state')")
    assert schema(seed) == before


def test_a_failing_install_leaves_nothing_behind(seed):
    before = schema(seed)
    # The index is created first; the trigger name is reserved, so SQLite
    # refuses the second statement and the whole install is undone.
    with pytest.raises(sqlite3.OperationalError, match="trigger_install\\(\\): installing pack task_state: .*reserved"):
        seed.execute("""SELECT trigger_install('task_state', '{"trigger_name": "sqlite_x"}')""")
    assert schema(seed) == before
    assert scalar(seed, "SELECT count(*) FROM trigger_packs WHERE installed") == 0


def test_install_inside_a_transaction_rolls_back_with_it(seed):
    before = schema(seed)
    seed.execute("BEGIN")
    seed.execute("SELECT trigger_install('default_album')")
    seed.execute("ROLLBACK")
    assert schema(seed) == before


def test_trusted_schema_off_blocks_install_from_views_but_not_reading(tmp_path):
    db = str(tmp_path / "untrusted.db")
    # A database file whose views call the extension's functions.
    maker = connect(db, load=False)
    maker.executescript(SEED_SCHEMA)
    maker.executescript(
        """
        CREATE VIEW sneaky AS SELECT trigger_install('default_album') AS r;
        CREATE VIEW preview AS SELECT trigger_pack_sql('task_state') AS sql, trigger_version() AS v;
        CREATE VIEW listing AS SELECT name FROM trigger_packs;
        """
    )
    maker.close()
    for trusted in (0, 1):
        conn = connect(db)
        conn.execute(f"PRAGMA trusted_schema = {trusted}")
        before = schema(conn)
        with pytest.raises(sqlite3.OperationalError, match="unsafe use of trigger_install"):
            conn.execute("SELECT * FROM sneaky").fetchall()
        assert schema(conn) == before
        sql, version = conn.execute("SELECT sql, v FROM preview").fetchone()
        assert "CREATE TRIGGER" in sql and version == "0.1.0"
        assert [r[0] for r in conn.execute("SELECT name FROM listing")] == ["counter_cache", "counts", "default_album", "fsm", "fts_sync", "history", "protect", "soft_delete", "task_state", "touch"]
        conn.close()


def test_trigger_bodies_cannot_call_install(seed):
    seed.execute("CREATE TRIGGER evil AFTER INSERT ON obs BEGIN SELECT trigger_install('default_album'); END")
    with pytest.raises(sqlite3.OperationalError, match="unsafe use of trigger_install"):
        seed.execute("INSERT INTO obs (id, name) VALUES (1, 'x')")
    assert scalar(seed, "SELECT count(*) FROM sqlite_master WHERE name = 'user_default_album'") == 0


def test_shipped_sql_files_create_what_install_creates(tmp_path):
    for pack in ("task_state", "default_album"):
        by_file = connect(str(tmp_path / f"{pack}-file.db"), load=False)
        by_file.executescript(SEED_SCHEMA)
        by_file.executescript((ROOT / "sql" / f"{pack}.sql").read_text())
        by_ext = connect(str(tmp_path / f"{pack}-ext.db"))
        by_ext.executescript(SEED_SCHEMA)
        by_ext.execute("SELECT trigger_install(?)", (pack,))
        assert schema(by_file) == schema(by_ext)
        record = "SELECT pack, version, params FROM trigger_pack_installs"
        assert by_file.execute(record).fetchall() == by_ext.execute(record).fetchall()
        # The extension recognises a pack installed from the plain file.
        by_file.enable_load_extension(True)
        by_file.load_extension(EXT)
        assert "already installed" in scalar(by_file, "SELECT trigger_install(?)", pack)
        assert scalar(by_file, "SELECT trigger_uninstall(?)", pack).startswith(f"uninstalled {pack}")
        assert scalar(by_file, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'") == 0


def test_pack_sql_is_what_install_runs(seed, tmp_path):
    sql = scalar(seed, "SELECT trigger_pack_sql('default_album', '{\"album_name\": \"photos\"}')")
    other = connect(str(tmp_path / "other.db"), load=False)
    other.executescript(SEED_SCHEMA)
    other.executescript(sql)
    seed.execute("SELECT trigger_install('default_album', '{\"album_name\": \"photos\"}')")
    assert schema(seed) == schema(other)
    other.execute("INSERT INTO user (id, name) VALUES (1, 'x')")
    assert other.execute("SELECT album_name FROM album").fetchall() == [("photos",)]


def test_keyword_and_odd_table_names(seed):
    seed.executescript(
        """
        CREATE TABLE "my ""odd"" table" ("the key" INTEGER PRIMARY KEY, "select" TEXT);
        CREATE TABLE "order" ("user" INTEGER, "group" TEXT);
        """
    )
    params = json.dumps({
        "user_table": 'my "odd" table', "user_key": "the key",
        "album_table": "order", "album_user_fk": "user", "album_name_column": "group",
        "album_name": "it's; DROP TABLE obs; --",
    })
    seed.execute("SELECT trigger_install('default_album', ?)", (params,))
    seed.execute('INSERT INTO "my ""odd"" table" ("the key") VALUES (5)')
    seed.execute('INSERT INTO "my ""odd"" table" ("the key") VALUES (6)')
    assert seed.execute('SELECT "user", "group" FROM "order" ORDER BY 1').fetchall() == [
        (5, "it's; DROP TABLE obs; --"),
        (6, "it's; DROP TABLE obs; --"),
    ]
    assert scalar(seed, "SELECT count(*) FROM sqlite_master WHERE name = 'obs'") == 1


def plan(conn, sql):
    return " / ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))


def test_the_packs_indexes_serve_the_trigger_lookups(seed):
    seed.execute("SELECT trigger_install('task_state')")
    seed.execute("SELECT trigger_install('default_album')")
    assert "SEARCH task USING INDEX update_task_state_idx (obs_id=?)" in plan(
        seed, "UPDATE task SET state = 2 WHERE obs_id = 1")
    assert "SEARCH album USING COVERING INDEX user_default_album_idx (user_id=? AND album_name=?)" in plan(
        seed, "SELECT 1 FROM album WHERE user_id = 1 AND album_name = 'default album'")


HOSTILE = ["x" * 10000, "a]b", "a`b", "a'b", 'a"b', "a;b--", "a/*b", "ü名前", "a\nb", "[", "end;", "); DROP TABLE album; --"]


@pytest.mark.parametrize("name", HOSTILE, ids=lambda n: repr(n[:12]))
def test_hostile_names_and_values_are_quoted_never_run(name):
    conn = connect()
    table = "t" * 10000
    conn.execute(f'CREATE TABLE "{table}" (id INTEGER PRIMARY KEY)')
    conn.execute("CREATE TABLE album (user_id, album_name)")
    params = {"user_table": table, "trigger_name": name, "index_name": name + "_i", "album_name": name}
    summary = scalar(conn, "SELECT trigger_install('default_album', ?)", json.dumps(params))
    assert summary.startswith("installed default_album 1.1.0") and "\n" not in summary
    conn.execute(f'INSERT INTO "{table}" DEFAULT VALUES')
    assert conn.execute("SELECT user_id, album_name FROM album").fetchall() == [(1, name)]
    assert scalar(conn, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = ?", name) == 1
    assert scalar(conn, "SELECT trigger_uninstall('default_album')").startswith("uninstalled default_album")
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master ORDER BY name")] == ["album", table]
