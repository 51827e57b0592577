"""Loading the extension: twice on one connection, on hundreds of
connections and threads, into read-only, in-memory, temporary and attached
databases, and closing connections in the middle of things; in Python's
sqlite3 (SQLite 3.40.1) and apsw (the newest SQLite)."""
import concurrent.futures
import json
import subprocess
import sys
import textwrap

import pytest

import sqlhosts
from sqlhosts import SEED_SCHEMA, schema


@pytest.fixture(params=sqlhosts.HOSTS)
def h(request):
    return sqlhosts.host(request.param)


def one(h, conn, sql, *args):
    return h.rows(conn, sql, args)[0][0]


def function_rows(h, conn, names):
    return sorted(r for r in h.rows(conn, "SELECT name, narg, flags FROM pragma_function_list") if r[0] in names)


def test_loading_twice_changes_nothing(h):
    scalars, tables = sqlhosts.extension_functions(h)
    conn = h.connect()
    before = function_rows(h, conn, scalars), h.rows(conn, "SELECT name FROM pragma_module_list ORDER BY 1")
    h.load(conn)
    conn.enable_load_extension(True)
    h.rows(conn, "SELECT load_extension(?)", (sqlhosts.EXT,))  # from SQL, while a statement runs
    after = function_rows(h, conn, scalars), h.rows(conn, "SELECT name FROM pragma_module_list ORDER BY 1")
    assert after == before and len(before[0]) == len(scalars)
    h.script(conn, SEED_SCHEMA)
    assert one(h, conn, "SELECT trigger_install('default_album')").startswith("installed default_album")
    h.rows(conn, "INSERT INTO user (id, name) VALUES (1, 'a')")
    assert h.rows(conn, "SELECT user_id, album_name FROM album") == [(1, "default album")]
    assert "trigger_packs" in tables
    assert [r[0] for r in h.rows(conn, "SELECT name FROM trigger_packs")] == ["counter_cache", "counts", "default_album", "fsm", "fts_sync", "history", "protect", "soft_delete", "task_state", "touch"]


def test_three_hundred_connections_at_once_on_one_file(h, tmp_path):
    db = str(tmp_path / "shared.db")
    admin = h.connect(db)
    h.script(admin, SEED_SCHEMA)
    conns = [h.connect(db) for _ in range(300)]
    assert one(h, conns[0], "SELECT trigger_install('default_album')").startswith("installed")
    for i, conn in enumerate(conns):
        h.rows(conn, "PRAGMA synchronous = OFF")  # 300 commits without 300 fsyncs
        assert one(h, conn, "SELECT trigger_version()") == "0.1.0"
        assert one(h, conn, "SELECT installed FROM trigger_packs WHERE name = 'default_album'") == 1
        h.rows(conn, "INSERT INTO user (id, name) VALUES (?, 'u')", (i,))
    assert one(h, admin, "SELECT count(*) FROM album") == 300
    for conn in conns:
        conn.close()
    plain = h.connect(db, load=False)  # the triggers outlive every loaded connection
    h.rows(plain, "INSERT INTO user (id, name) VALUES (1000, 'v')")
    assert one(h, plain, "SELECT count(*) FROM album") == 301


def cycle(h, n):
    """Opens, loads, uses and closes `n` in-memory connections."""
    for i in range(n):
        conn = h.connect()
        h.script(conn, SEED_SCHEMA)
        assert one(h, conn, "SELECT trigger_install('task_state', ?)", json.dumps({"set_state": i})).startswith("installed")
        h.script(conn, "INSERT INTO obs (id, name) VALUES (1, 'o'); INSERT INTO task (obs_id, name) VALUES (1, 't');"
                       "UPDATE obs SET state = 2")
        assert one(h, conn, "SELECT state FROM task") == i
        assert one(h, conn, "SELECT trigger_uninstall('task_state')").startswith("uninstalled")
        conn.close()
    return n


def test_three_hundred_connections_loaded_from_eight_threads(h):
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(lambda _: cycle(h, 40), range(8))) == 320


def test_read_only_database_reads_but_refuses_writes(h, tmp_path):
    db = tmp_path / "ro.db"
    rw = h.connect(str(db))
    h.script(rw, SEED_SCHEMA)
    h.rows(rw, "SELECT trigger_install('task_state')")
    rw.close()
    ro = h.connect(f"file:{db}?mode=ro", uri=True)
    before = schema(h, ro)
    assert one(h, ro, "SELECT trigger_version()") == "0.1.0"
    assert "CREATE TRIGGER" in one(h, ro, "SELECT trigger_pack_sql('default_album')")
    assert h.rows(ro, "SELECT name, installed FROM trigger_packs") == [("counter_cache", 0), ("counts", 0), ("default_album", 0), ("fsm", 0), ("fts_sync", 0), ("history", 0), ("protect", 0), ("soft_delete", 0), ("task_state", 1), ("touch", 0)]
    with pytest.raises(h.Error, match=r"^trigger_install\(\): installing pack default_album: attempt to write a readonly database$"):
        h.rows(ro, "SELECT trigger_install('default_album')")
    with pytest.raises(h.Error, match=r"^trigger_uninstall\(\): dropping index .*: attempt to write a readonly database$"):
        h.rows(ro, "SELECT trigger_uninstall('task_state')")
    assert one(h, ro, "SELECT trigger_install('task_state')").endswith("nothing changed")
    assert schema(h, ro) == before and not h.in_transaction(ro)


def test_query_only_connection_refuses_installs(h):
    conn = h.connect()
    h.script(conn, SEED_SCHEMA + "PRAGMA query_only = 1;")
    with pytest.raises(h.Error, match=r"^trigger_install\(\): .*readonly database"):
        h.rows(conn, "SELECT trigger_install('task_state')")
    assert h.rows(conn, "SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger')") == []


@pytest.mark.parametrize("path", [":memory:", ""], ids=["memory", "private-temp-file"])
def test_in_memory_and_private_databases(h, path):
    conn = h.connect(path)
    h.script(conn, SEED_SCHEMA)
    h.rows(conn, "SELECT trigger_install('default_album')")
    h.rows(conn, "INSERT INTO user (id, name) VALUES (1, 'a')")
    assert h.rows(conn, "SELECT album_name FROM album") == [("default album",)]
    assert one(h, conn, "SELECT trigger_uninstall('default_album')").startswith("uninstalled")


def test_temp_tables_of_the_same_name_do_not_capture_the_pack(h, tmp_path):
    # Unqualified, CREATE TRIGGER ... ON user would land in the temp schema
    # when a TEMP table user exists, and vanish with the connection.
    db = str(tmp_path / "app.db")
    conn = h.connect(db)
    h.script(conn, SEED_SCHEMA)
    h.script(conn, "CREATE TEMP TABLE user (id INTEGER PRIMARY KEY, name TEXT);"
                   "CREATE TEMP TABLE album (id INTEGER PRIMARY KEY, user_id, album_name);")
    h.rows(conn, "SELECT trigger_install('default_album')")
    assert h.rows(conn, "SELECT type, name FROM temp.sqlite_master WHERE type != 'table'") == []
    h.rows(conn, "INSERT INTO main.user (id, name) VALUES (1, 'a')")
    h.rows(conn, "INSERT INTO temp.user (id, name) VALUES (2, 'b')")
    assert h.rows(conn, "SELECT user_id FROM main.album") == [(1,)]
    assert h.rows(conn, "SELECT user_id FROM temp.album") == []
    conn.close()
    conn = h.connect(db)  # the temp tables are gone; the pack is not
    assert sorted(r[0] for r in h.rows(conn, "SELECT type FROM sqlite_master WHERE name LIKE 'user_default_album%'")) == ["index", "trigger"]
    assert one(h, conn, "SELECT trigger_uninstall('default_album')") == (
        "uninstalled default_album 1.1.0: index user_default_album_idx, trigger user_default_album")


def test_temp_only_tables_are_not_used(h):
    conn = h.connect()
    h.script(conn, SEED_SCHEMA.replace("CREATE TABLE", "CREATE TEMP TABLE"))
    with pytest.raises(h.Error, match=r'^trigger_install\(\): pack task_state needs a table \(parameter obs_table\): no table "obs" in the main database \(there is one in temp\)$'):
        h.rows(conn, "SELECT trigger_install('task_state')")
    assert h.rows(conn, "SELECT name FROM temp.sqlite_master WHERE type != 'table'") == []


def test_attached_databases_are_left_alone(h, tmp_path):
    conn = h.connect(str(tmp_path / "main.db"))
    h.rows(conn, "ATTACH ? AS aux", (str(tmp_path / "aux.db"),))
    h.script(conn, SEED_SCHEMA.replace("CREATE TABLE ", "CREATE TABLE aux."))
    aux_before = schema(h, conn, "aux")
    # Tables only in the attached database: the pack refuses, naming main.
    with pytest.raises(h.Error, match=r'^trigger_install\(\): pack default_album needs a table \(parameter user_table\): no table "user" in the main database \(there is one in aux\)$'):
        h.rows(conn, "SELECT trigger_install('default_album')")
    # Tables in both: the pack goes into main only.
    h.script(conn, SEED_SCHEMA)
    h.rows(conn, "SELECT trigger_install('default_album')")
    assert schema(h, conn, "aux") == aux_before
    h.rows(conn, "INSERT INTO aux.user (id, name) VALUES (1, 'a')")
    h.rows(conn, "INSERT INTO main.user (id, name) VALUES (2, 'b')")
    assert h.rows(conn, "SELECT user_id FROM aux.album") == []
    assert h.rows(conn, "SELECT user_id FROM main.album") == [(2,)]
    assert h.rows(conn, "SELECT name, installed FROM trigger_packs") == [("counter_cache", 0), ("counts", 0), ("default_album", 1), ("fsm", 0), ("fts_sync", 0), ("history", 0), ("protect", 0), ("soft_delete", 0), ("task_state", 0), ("touch", 0)]
    h.rows(conn, "SELECT trigger_uninstall('default_album')")
    assert schema(h, conn, "aux") == aux_before


def run_child(code):
    """Runs host code in a child process, so a crash fails the test, not the run."""
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                           cwd=str(sqlhosts.ROOT / "tests" / "hosts"), timeout=120)
    assert child.returncode == 0, f"exit {child.returncode}\n{child.stdout}\n{child.stderr[-3000:]}"
    return child.stdout


@pytest.mark.parametrize("host", sqlhosts.HOSTS)
def test_closing_connections_in_the_middle_of_things(host, tmp_path):
    out = run_child(f"""
        import sqlhosts
        h = sqlhosts.host({host!r})
        db = {str(tmp_path / "c.db")!r}
        for i in range(50):
            conn = h.connect(db)
            h.script(conn, "CREATE TABLE IF NOT EXISTS user (id INTEGER PRIMARY KEY, name TEXT);"
                           "CREATE TABLE IF NOT EXISTS album (id INTEGER PRIMARY KEY, user_id, album_name)")
            cursor = conn.execute("SELECT * FROM trigger_packs")     # a scan left open
            cursor.fetchone()
            conn.execute("BEGIN")
            conn.execute("SELECT trigger_install('default_album')")  # a transaction left open
            conn.execute("INSERT INTO user (name) VALUES ('x')")
            conn.close() if h.name == "sqlite3" else conn.close(True)
        conn = h.connect(db)
        print(h.rows(conn, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"),
              h.rows(conn, "SELECT count(*) FROM user"), h.rows(conn, "PRAGMA integrity_check"))
    """)
    # Every close rolled its transaction back: no pack, no rows.
    assert out.split() == ["[(0,)]", "[(0,)]", "[('ok',)]"]


@pytest.mark.parametrize("host", sqlhosts.HOSTS)
def test_closing_a_connection_with_watched_tables_and_unread_changes(host, tmp_path):
    scalars, tables = sqlhosts.extension_functions(sqlhosts.host(host))
    if "trigger_watch" not in scalars:
        pytest.skip("trigger_watch is not in this build")
    out = run_child(f"""
        import sqlhosts
        h = sqlhosts.host({host!r})
        db = {str(tmp_path / "w.db")!r}
        for i in range(20):
            conn = h.connect(db)
            h.script(conn, "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
            if i == 0:
                h.rows(conn, "SELECT trigger_watch('t')")
            h.script(conn, "INSERT INTO t (v) VALUES ('a'); INSERT INTO t (v) VALUES ('b'); UPDATE t SET v = 'c'")
            conn.close()                              # the changes are never read
        conn = h.connect(db)
        print(h.rows(conn, "SELECT count(*) FROM t"), h.rows(conn, "PRAGMA integrity_check"))
        if {"trigger_changes" in tables!r}:
            print(len(h.rows(conn, "SELECT * FROM trigger_changes")) > 0)
        if {"trigger_unwatch" in scalars!r}:
            # Watching belongs to a connection: this one starts and stops.
            h.rows(conn, "SELECT trigger_watch('t')")
            h.rows(conn, "SELECT trigger_unwatch('t')")
    """)
    assert out.split()[:2] == ["[(40,)]", "[('ok',)]"]
    assert "False" not in out
