"""Listeners (trigger_listen, trigger_unlisten, trigger_listeners) in real hosts:
Python's sqlite3, the sqlite3 shell and apsw."""
import json
import sqlite3

import pytest

from conftest import EXT, ROOT, SEED_SCHEMA, connect, needs_shell, scalar, schema, shell


# The default_album pack's trigger, written as a listener on the seed schema.
DEFAULT_ALBUM = (
    "INSERT INTO album(user_id, album_name) SELECT NEW.id, 'default album' "
    "WHERE NOT EXISTS (SELECT 1 FROM album WHERE user_id = NEW.id AND album_name = 'default album')"
)


def listen(conn, table, event, action, options=None):
    args = (table, event, action) + ((json.dumps(options),) if options is not None else ())
    marks = ", ".join("?" * len(args))
    return scalar(conn, f"SELECT trigger_listen({marks})", *args)


def listeners(conn):
    return conn.execute(
        "SELECT name, table_name, event, columns, when_expr, action FROM trigger_listeners"
    ).fetchall()


@pytest.fixture
def seed_db(tmp_path):
    """A database file with the seed schema and an audit table, and a
    connection to it with the extension loaded."""
    db = str(tmp_path / "app.db")
    conn = connect(db)
    conn.executescript(SEED_SCHEMA + "CREATE TABLE audit (n INTEGER PRIMARY KEY, what TEXT);")
    yield db, conn
    conn.close()


def test_listeners_fire_on_a_connection_that_never_loaded_the_extension(seed_db):
    db, admin = seed_db
    assert listen(admin, "user", "after_insert", DEFAULT_ALBUM) == "listen_user_after_insert_943ef828"
    listen(admin, "user", "before_update", "INSERT INTO audit (what) VALUES ('rename ' || OLD.name || ' -> ' || NEW.name)",
           {"columns": ["name"], "when": "OLD.name IS NOT NEW.name", "name": "audit_rename"})
    listen(admin, "user", "after_delete", "DELETE FROM album WHERE user_id = OLD.id")
    admin.close()

    plain = connect(db, load=False)
    with pytest.raises(sqlite3.OperationalError, match="no such function: trigger_listen"):
        plain.execute("SELECT trigger_listen('user', 'after_insert', 'SELECT 1')")
    plain.execute("INSERT INTO user (id, name) VALUES (1, 'alice'), (2, 'bob')")
    plain.execute("UPDATE user SET name = 'Alice' WHERE id = 1")
    plain.execute("UPDATE user SET name = 'bob' WHERE id = 2")   # no change: the when is false
    plain.execute("DELETE FROM user WHERE id = 2")
    assert plain.execute("SELECT user_id, album_name FROM album").fetchall() == [(1, "default album")]
    assert plain.execute("SELECT what FROM audit").fetchall() == [("rename alice -> Alice",)]
    # The listing needs the extension, but the definitions are in the file.
    with pytest.raises(sqlite3.OperationalError, match="no such table: trigger_listeners"):
        plain.execute("SELECT * FROM trigger_listeners")
    assert scalar(plain, "SELECT count(*) FROM sqlite_master WHERE sql LIKE '%/* sqlite-triggers listener {%'") == 3


def fnv1a32(data):
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def test_a_generated_name_is_the_fnv1a_hash_of_the_marker(seed_db):
    _, conn = seed_db
    name = listen(conn, "user", "after_update", "SELECT NEW.name /* * */", {"columns": ["name"], "when": "NEW.id > 0"})
    sql = scalar(conn, "SELECT sql FROM sqlite_master WHERE name = ?", name)
    prefix = f'CREATE TRIGGER "{name}" /* sqlite-triggers listener '
    assert sql.startswith(prefix)
    marker = sql[len(prefix):sql.index(" */")]
    assert "*" not in marker and "\\u002a" in marker
    assert json.loads(marker) == {"table": "user", "event": "after_update", "columns": ["name"],
                                  "when": "NEW.id > 0", "action": "SELECT NEW.name /* * */", "version": 1}
    assert name == "listen_user_after_update_%08x" % fnv1a32(marker.encode())


@needs_shell
def test_listeners_fire_in_a_sqlite3_shell_that_never_loaded_the_extension(seed_db):
    db, admin = seed_db
    listen(admin, "user", "after_insert", DEFAULT_ALBUM)
    admin.close()
    run = shell(
        "INSERT INTO user (id, name) VALUES (7, 'dora');\n"
        "SELECT user_id || ':' || album_name FROM album;\n"
        "SELECT count(*) FROM pragma_function_list WHERE name LIKE 'trigger%';\n",
        db,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["7:default album", "0"]


@needs_shell
def test_dump_and_reload_keep_listeners(seed_db, tmp_path):
    db, admin = seed_db
    listen(admin, "user", "after_insert", DEFAULT_ALBUM)
    listen(admin, "user", "after_update", "INSERT INTO audit (what) VALUES ('*/ ' || NEW.name) /* c */",
           {"columns": ["name"], "name": 'odd "name" */ --'})
    before = listeners(admin)
    dump = shell(".dump\n", db)
    assert dump.returncode == 0, dump.stderr
    assert "/* sqlite-triggers listener {" in dump.stdout

    # Reloaded by a shell without the extension: the listeners are there and fire.
    copy = str(tmp_path / "copy.db")
    load = shell(dump.stdout + "INSERT INTO user (id, name) VALUES (1, 'a');\nUPDATE user SET name = 'b';\n", copy)
    assert load.returncode == 0, load.stderr
    conn = connect(copy)
    assert conn.execute("SELECT user_id, album_name FROM album").fetchall() == [(1, "default album")]
    assert conn.execute("SELECT what FROM audit").fetchall() == [("*/ b",)]
    # ... and the extension recognises them as listeners.
    assert listeners(conn) == before
    assert schema(conn) == schema(admin)
    assert scalar(conn, "SELECT trigger_unlisten(?)", 'odd "name" */ --') == 'odd "name" */ --'
    assert [r[0] for r in listeners(conn)] == ["listen_user_after_insert_943ef828"]


def test_trusted_schema_off_a_schema_cannot_make_listen_run(tmp_path):
    db = str(tmp_path / "untrusted.db")
    maker = connect(db, load=False)
    maker.executescript(SEED_SCHEMA)
    maker.executescript(
        """
        CREATE VIEW sneaky_listen AS SELECT trigger_listen('user', 'after_insert', 'DELETE FROM album') AS r;
        CREATE VIEW sneaky_unlisten AS SELECT trigger_unlisten('x') AS r;
        CREATE VIEW listing AS SELECT name, event FROM trigger_listeners;
        CREATE TRIGGER sneaky AFTER INSERT ON obs BEGIN
          SELECT trigger_listen('user', 'after_insert', 'DELETE FROM album');
        END;
        """
    )
    maker.close()
    admin = connect(db)
    listen(admin, "user", "after_insert", DEFAULT_ALBUM, {"name": "albums"})
    admin.close()
    for trusted in (0, 1):
        conn = connect(db)
        conn.execute(f"PRAGMA trusted_schema = {trusted}")
        before = schema(conn)
        # Refused when the statement is prepared, before any row is read:
        # SQLite's direct-only check.
        for sql, function in [
            ("SELECT * FROM sneaky_listen WHERE 0", "trigger_listen"),
            ("SELECT * FROM sneaky_unlisten WHERE 0", "trigger_unlisten"),
            ("INSERT INTO obs (id, name) SELECT 1, 'x' WHERE 0", "trigger_listen"),
        ]:
            with pytest.raises(sqlite3.OperationalError, match=rf"^unsafe use of {function}\(\)$"):
                conn.execute(sql)
        assert schema(conn) == before
        # The listing is innocuous: it works from a view either way.
        assert conn.execute("SELECT * FROM listing").fetchall() == [("albums", "after_insert")]
        conn.close()


def test_an_action_cannot_call_the_administrative_functions(seed_db):
    _, conn = seed_db
    before = schema(conn)
    with pytest.raises(sqlite3.OperationalError,
                       match=r"trigger_listen\(\): argument 3 \(action_sql\) does not compile: \"unsafe use of trigger_listen\(\)\""):
        listen(conn, "user", "after_insert", "SELECT trigger_listen('album', 'after_insert', 'SELECT 1')")
    assert schema(conn) == before


# The statements of sqlite-tests/default_album.slt, plus a user whose album a
# BEFORE INSERT listener made first; False: the statement must fail.
EQUIVALENCE_SCRIPT = [
    ("INSERT INTO user (id, name) VALUES (1, 'alice')", True),
    ("INSERT INTO user (id, name) VALUES (2, 'bob'), (3, 'carol'), (4, 'dan')", True),
    ("INSERT INTO album (user_id, album_name) VALUES (5, 'default album'), (5, 'holidays')", True),
    ("INSERT INTO user (id, name) VALUES (5, 'erin')", True),
    ("INSERT INTO album (user_id, album_name) VALUES (6, 'Default Album')", True),
    ("INSERT INTO user (id, name) VALUES (6, 'fay')", True),
    ("INSERT INTO user (id, name) VALUES (7, 'vip')", True),
    ("INSERT INTO user (name) SELECT 'user' || value FROM json_each('[1,2,3]')", True),
    ("UPDATE user SET name = 'Alice' WHERE id = 1", True),
    ("DELETE FROM user WHERE id = 2", True),
    ("INSERT INTO user (id, name) VALUES (100, 'x'), (1, 'duplicate')", False),
    ("BEGIN; INSERT INTO user (id, name) VALUES (200, 'rolled back'); ROLLBACK", True),
]


def test_the_default_album_listener_behaves_like_the_pack(tmp_path):
    by_pack = connect(str(tmp_path / "pack.db"))
    by_listener = connect(str(tmp_path / "listener.db"))
    for conn in (by_pack, by_listener):
        conn.executescript(SEED_SCHEMA)
        # A user called 'vip' gets the album before the row exists.
        listen(conn, "user", "before_insert",
               "INSERT INTO album (user_id, album_name) VALUES (NEW.id, 'default album')",
               {"when": "NEW.name = 'vip'", "name": "vip_first"})
    by_pack.execute("SELECT trigger_install('default_album')")
    listen(by_listener, "user", "after_insert", DEFAULT_ALBUM)
    albums = "SELECT id, user_id, album_name FROM album ORDER BY id"
    for sql, ok in EQUIVALENCE_SCRIPT:
        for conn in (by_pack, by_listener):
            if ok:
                conn.executescript(sql)
            else:
                with pytest.raises(sqlite3.IntegrityError, match="UNIQUE constraint failed: user.id"):
                    conn.execute(sql)
        assert by_listener.execute(albums).fetchall() == by_pack.execute(albums).fetchall(), sql
    rows = by_listener.execute("SELECT user_id, album_name FROM album ORDER BY id").fetchall()
    # The guard kept one default album per user, whoever made it first.
    assert rows.count((5, "default album")) == 1 and rows.count((7, "default album")) == 1
    assert (6, "Default Album") in rows and (6, "default album") in rows
    assert scalar(by_listener, "SELECT count(*) FROM user") == 9
    assert scalar(by_listener, """SELECT count(*) FROM user u WHERE (SELECT count(*) FROM album a
                                  WHERE a.user_id = u.id AND album_name = 'default album') = 1""") == 9


def test_a_refused_listener_leaves_the_schema_and_the_transaction_alone(seed_db):
    _, conn = seed_db
    before = schema(conn)
    conn.execute("BEGIN")
    conn.execute("INSERT INTO audit (what) VALUES ('kept')")
    cases = [
        (("nope", "after_insert", "SELECT 1"), r"argument 1 \(table\): no table \"nope\""),
        (("user", "after_upsert", "SELECT 1"), r"argument 2 \(event\) must be one of before_insert, after_insert"),
        (("user", "after_insert", "INSERT INTO missing VALUES (1)"), r"argument 3 \(action_sql\) does not compile: \"no such table: main.missing\""),
        (("user", "after_insert", "SELECT 1; END; DROP TABLE album; CREATE TRIGGER x AFTER INSERT ON user BEGIN SELECT 1"),
         r"argument 3 \(action_sql\) ends the trigger early"),
        (("user", "after_update", "SELECT 1", {"columns": ["nope"]}), r"option columns names \"nope\", which is not a column of table \"user\" \(columns: id, name\)"),
        (("user", "after_update", "SELECT 1", {"when": "NEW.nope"}), r"option when does not compile: \"no such column: NEW.nope\""),
        (("user", "after_insert", "SELECT 1", {"name": "album"}), r"option name is \"album\", but a table of that name already exists"),
    ]
    for args, message in cases:
        with pytest.raises(sqlite3.OperationalError, match=r"^trigger_listen\(\): .*" + message):
            listen(conn, *args)
    conn.execute("COMMIT")
    assert schema(conn) == before
    assert conn.execute("SELECT what FROM audit").fetchall() == [("kept",)]


def quoted(name):
    return '"' + name.replace('"', '""') + '"'


def test_sqlites_compile_errors_are_quoted_escaped_and_cut(seed_db):
    """SQLite's message about a listener that does not compile quotes the
    user's SQL as it is: the error shows it as any user text, on one line,
    escaped and cut short, whatever the SQL held."""
    _, conn = seed_db
    before = schema(conn)
    long_name = "x" * 1_000_000
    odd_name = "tab\nle\x1b[31m"

    def error(*args):
        with pytest.raises(sqlite3.OperationalError) as e:
            listen(conn, *args)
        return str(e.value)

    prefix = 'trigger_listen(): argument 3 (action_sql) does not compile: "'
    # A body of 1 MB naming a column that does not exist.
    message = error("user", "after_insert", f"SELECT {long_name}")
    assert message == prefix + "no such column: " + "x" * 184 + '…"'
    # A body naming a table whose name holds a newline and an escape.
    message = error("user", "after_insert", f"INSERT INTO {quoted(odd_name)} VALUES (1)")
    assert message == prefix + 'no such table: main.tab\\nle\\u{1b}[31m"'
    # A syntax error whose token is the odd name itself.
    message = error("user", "after_insert", f"SELECT 1 {quoted(odd_name)} {quoted(odd_name)}")
    assert message == prefix + 'near \\"\\"tab\\nle\\u{1b}[31m\\"\\": syntax error"'
    # The condition (option when) goes the same way.
    message = error("user", "after_update", "SELECT 1", {"when": f"NEW.{quoted(long_name)} > 1"})
    assert message == ('trigger_listen(): argument 4 (options_json): option when does not compile: '
                       '"no such column: NEW.' + "x" * 180 + '…"')
    for message in [error("user", "after_insert", f"SELECT {long_name}"),
                    error("user", "after_update", "SELECT 1", {"when": f"NEW.{quoted(odd_name)}"})]:
        assert len(message) < 400 and not any(ord(c) < 32 or c == "\x7f" for c in message), message
    # A table whose own trigger no longer compiles: the statement that
    # fires it names the table.
    conn.executescript(f"CREATE TABLE {quoted(odd_name)} (x); CREATE TABLE gone (y);"
                       f"CREATE TRIGGER broken AFTER INSERT ON {quoted(odd_name)} BEGIN INSERT INTO gone VALUES (1); END;"
                       "DROP TABLE gone;")
    message = error(odd_name, "after_insert", "SELECT 1")
    assert message == ('trigger_listen(): argument 1 (table): "INSERT INTO main.\\"tab\\nle\\u{1b}[31m\\" DEFAULT VALUES" '
                       'does not compile even before the listener is added ("no such table: main.gone"); '
                       "fix the table's other triggers first")
    conn.executescript(f"DROP TABLE {quoted(odd_name)}")
    assert schema(conn) == before


HOSTILE = ["x" * 5000, "a]b", "a`b", "a'b", 'a"b', "a;b--", "a*/b", "a/*b", "ü名前", "a\nb", "[", "end;",
           "); DROP TABLE album; --"]


@pytest.mark.parametrize("name", HOSTILE, ids=lambda n: repr(n[:12]))
def test_hostile_table_column_and_listener_names(name):
    conn = connect()
    conn.execute(f'CREATE TABLE "{name.replace(chr(34), chr(34) * 2)}" ("{name.replace(chr(34), chr(34) * 2)}" TEXT)')
    conn.execute("CREATE TABLE album (what TEXT)")
    qname = '"' + name.replace('"', '""') + '"'
    generated = listen(conn, name, "after_update", f"INSERT INTO album VALUES ('update ' || NEW.{qname})",
                       {"columns": [name]})
    assert generated.startswith(f"listen_{name}_after_update_") and len(generated) == len("listen__after_update_") + len(name) + 8
    listener = "on " + name   # a listener's name may not be a table's
    assert listen(conn, name, "after_insert", "INSERT INTO album VALUES ('insert')", {"name": listener}) == listener
    conn.execute(f"INSERT INTO {qname} VALUES ('v')")
    conn.execute(f"UPDATE {qname} SET {qname} = 'w'")
    assert conn.execute("SELECT what FROM album").fetchall() == [("insert",), ("update w",)]
    assert sorted(listeners(conn)) == sorted([
        (generated, name, "after_update", json.dumps([name], ensure_ascii=False, separators=(",", ":")), None,
         f"INSERT INTO album VALUES ('update ' || NEW.{qname})"),
        (listener, name, "after_insert", None, None, "INSERT INTO album VALUES ('insert')"),
    ])
    assert scalar(conn, "SELECT trigger_unlisten(?)", listener) == listener
    assert scalar(conn, "SELECT trigger_unlisten(?)", generated) == generated
    assert sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master")) == sorted(["album", name])


@needs_shell
def test_the_docs_example_runs_in_the_shell():
    run = shell((ROOT / "examples" / "listeners.sql").read_text())
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "1|default album\n2|default album\n" in out
    assert "== audit\nalice is now Alice\n\n" in out
    assert "columns = [\"name\"]" in out and "when_expr = OLD.name IS NOT NEW.name" in out
    assert out.rstrip().endswith("0")


def test_listeners_in_apsw_with_a_newer_sqlite():
    apsw = pytest.importorskip("apsw")
    conn = apsw.Connection(":memory:")
    conn.enable_load_extension(True)
    conn.load_extension(EXT)
    conn.execute(SEED_SCHEMA)
    name = conn.execute("SELECT trigger_listen('user', 'after_insert', ?)", (DEFAULT_ALBUM,)).fetchall()[0][0]
    assert name == "listen_user_after_insert_943ef828"
    conn.execute("INSERT INTO user (id, name) VALUES (1, 'a'), (2, 'b')")
    assert conn.execute("SELECT user_id FROM album").fetchall() == [(1,), (2,)]
    with pytest.raises(apsw.SQLError, match=r"does not compile: \"no such column: NEW.nope\""):
        conn.execute("SELECT trigger_listen('user', 'after_insert', 'SELECT NEW.nope')")
    assert conn.execute("SELECT name, event FROM trigger_listeners").fetchall() == [(name, "after_insert")]
