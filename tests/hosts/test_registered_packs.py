"""Packs of your own in Python's sqlite3 (SQLite 3.40.1), end to end: a
template registered from a file and from text is stored in the database,
seen by another connection, by the sqlite3 shell (another host, another
process) and by a connection without the extension (which only runs what
was installed); it installs, fires, upgrades and uninstalls like a built-in
pack. And hostile input: files that are not templates, FIFOs, Unicode,
huge templates, templates that try to create more than they declare,
parameter values that try to break out of their quotes."""
import json
import os
import sqlite3

import pytest

from conftest import EXT, SEED_SCHEMA, connect, needs_shell, scalar, schema, shell
from sqlhosts import host
from test_busy import race

TEMPLATE = """-- pack: album_count
-- version: 1.0.0
-- description: Keeps a user's number of albums in a column of the user table.
-- param: album_table | ident | "album" | table whose rows are counted
-- param: album_user_fk | ident | "user_id" | column of the album table naming the user
-- param: user_table | ident | "user" | table holding the count
-- param: user_key | ident | "id" | key column of the user table
-- param: count_column | ident | "albums" | column of the user table that holds the count
-- param: trigger_name | ident | "{album_table}_count" | name of the insert trigger
-- requires: album_table | album_user_fk
-- requires: user_table | user_key count_column
-- object: trigger | trigger_name | album_table
--
CREATE TRIGGER IF NOT EXISTS main.{{trigger_name}} AFTER INSERT ON {{album_table}}
  BEGIN
    UPDATE {{user_table}} SET {{count_column}} = {{count_column}} + 1
      WHERE {{user_key}} = new.{{album_user_fk}};
  END;
"""
SCHEMA = SEED_SCHEMA + "ALTER TABLE user ADD COLUMN albums INTEGER NOT NULL DEFAULT 0;"


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "own.db")
    conn = connect(path)
    conn.executescript(SCHEMA)
    conn.close()
    return path


def register(conn, source):
    return scalar(conn, "SELECT trigger_pack_register(?)", source)


def test_a_pack_registered_from_a_file_is_everyones(db, tmp_path):
    path = tmp_path / "album_count.sql"
    path.write_text(TEMPLATE)
    conn = connect(db)
    assert register(conn, str(path)) == "registered album_count 1.0.0: trigger album_count on album"
    # Another connection lists, previews and installs it.
    other = connect(db)
    assert other.execute("SELECT version, registered, installed FROM trigger_packs WHERE name = 'album_count'"
                         ).fetchone() == ("1.0.0", 1, 0)
    assert scalar(other, "SELECT trigger_install('album_count')") == (
        "installed album_count 1.0.0: trigger album_count on album")
    # A connection without the extension runs the installed trigger.
    plain = sqlite3.connect(db, isolation_level=None)
    plain.execute("INSERT INTO user (id, name) VALUES (1, 'alice')")
    plain.execute("INSERT INTO album (user_id, album_name) VALUES (1, 'a'), (1, 'b')")
    plain.close()
    assert scalar(conn, "SELECT albums FROM user WHERE id = 1") == 2
    assert scalar(conn, "SELECT installed FROM trigger_packs WHERE name = 'album_count'") == 1


@needs_shell
def test_the_sqlite3_shell_sees_and_uninstalls_a_pack_python_registered(db):
    conn = connect(db)
    register(conn, TEMPLATE)
    scalar(conn, "SELECT trigger_install('album_count')")
    conn.close()
    run = shell(f".load {EXT}\nSELECT name, installed_version FROM trigger_packs WHERE registered;\n"
                "SELECT trigger_uninstall('album_count');\nSELECT trigger_pack_unregister('album_count');\n", db=db)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "album_count|1.0.0",
        "uninstalled album_count 1.0.0: trigger album_count",
        "unregistered album_count: version 1.0.0",
    ]
    assert [r[1] for r in schema(connect(db))] == ["album", "obs", "task", "user"]


def test_the_plain_sql_of_a_registered_pack_carries_its_template(db, tmp_path):
    """trigger_pack_sql of a registered pack ends with the template, so a
    database given only that SQL knows the pack and can uninstall it."""
    conn = connect(db)
    register(conn, TEMPLATE)
    sql = scalar(conn, "SELECT trigger_pack_sql('album_count')")
    elsewhere = str(tmp_path / "elsewhere.db")
    plain = sqlite3.connect(elsewhere, isolation_level=None)
    plain.executescript(SCHEMA)
    plain.executescript(sql)
    plain.close()
    other = connect(elsewhere)
    assert other.execute("SELECT registered, installed_version FROM trigger_packs WHERE name = 'album_count'"
                         ).fetchone() == (1, "1.0.0")
    assert scalar(other, "SELECT trigger_install('album_count')").endswith("nothing changed")
    assert scalar(other, "SELECT trigger_uninstall('album_count')") == (
        "uninstalled album_count 1.0.0: trigger album_count")
    assert scalar(other, "SELECT trigger_pack_unregister('album_count')") == (
        "unregistered album_count: version 1.0.0")


def test_upgrading_a_registered_pack_with_a_newer_version(db):
    conn = connect(db)
    register(conn, TEMPLATE)
    scalar(conn, "SELECT trigger_install('album_count', ?)", json.dumps({"trigger_name": "counting"}))
    conn.execute("INSERT INTO user (id, name) VALUES (1, 'alice')")
    conn.execute("INSERT INTO album (user_id, album_name) VALUES (1, 'a')")
    # 1.1.0 also counts deletes.
    newer = TEMPLATE.replace("1.0.0", "1.1.0").replace(
        "-- object: trigger | trigger_name | album_table\n",
        "-- param: delete_trigger_name | ident | \"{trigger_name}_delete\" | name of the delete trigger\n"
        "-- object: trigger | trigger_name | album_table\n"
        "-- object: trigger | delete_trigger_name | album_table\n") + (
        "CREATE TRIGGER IF NOT EXISTS main.{{delete_trigger_name}} AFTER DELETE ON {{album_table}}\n"
        "  BEGIN\n"
        "    UPDATE {{user_table}} SET {{count_column}} = {{count_column}} - 1\n"
        "      WHERE {{user_key}} = old.{{album_user_fk}};\n"
        "  END;\n")
    assert register(conn, newer) == (
        "registered album_count 1.1.0: trigger album_count on album, trigger album_count_delete on album; "
        "1.0.0 is installed: trigger_upgrade('album_count') upgrades it")
    assert scalar(conn, "SELECT trigger_upgrade('album_count')") == (
        "upgraded album_count from 1.0.0 to 1.1.0: kept trigger counting, created trigger counting_delete")
    conn.execute("INSERT INTO album (user_id, album_name) VALUES (1, 'b')")
    conn.execute("DELETE FROM album WHERE album_name = 'a'")
    assert scalar(conn, "SELECT albums FROM user WHERE id = 1") == 1
    with pytest.raises(sqlite3.OperationalError, match=r"^trigger_pack_unregister\(\): pack album_count 1\.1\.0 is installed"):
        conn.execute("SELECT trigger_pack_unregister('album_count')")
    assert scalar(conn, "SELECT trigger_uninstall('album_count')") == (
        "uninstalled album_count 1.1.0: trigger counting, trigger counting_delete")


def test_connections_registering_at_once_store_the_template_once(db):
    """Connections registering the same template at the same moment: one
    stores it, every other one finds it there."""
    answers, errors = race(host("sqlite3"), db, "SELECT trigger_pack_register(" + sql_text(TEMPLATE) + ")", racers=8)
    assert errors == []
    assert sorted(set(answers)) == ["album_count 1.0.0 is already registered with this template; nothing changed",
                                    "registered album_count 1.0.0: trigger album_count on album"]
    assert answers.count("registered album_count 1.0.0: trigger album_count on album") == 1
    assert scalar(connect(db), "SELECT count(*) FROM trigger_pack_templates") == 1


def sql_text(text):
    return "'" + text.replace("'", "''") + "'"


# --- hostile input ------------------------------------------------------------


def test_files_that_are_not_templates_are_refused_without_showing_them(db, tmp_path, monkeypatch):
    """Paths are read as the process reads them: relative ones from its
    working directory."""
    conn = connect(db)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secret.txt").write_text("root:x:0:0:the secret\n-- pack: x\n")
    os.mkfifo("fifo")  # opening it would block until a writer came
    (tmp_path / "huge.sql").write_text("-- pack: huge\n" + "-- " + "x" * (1 << 20) + "\n")
    (tmp_path / "bin.sql").write_bytes(b"-- pack: bin\n\xff\xfe\n")
    os.mkdir("dir.sql")
    cases = {
        "secret.txt": 'file "secret.txt" is not a pack template: a template is UTF-8 text whose first line is \'-- pack: NAME\'',
        "fifo": '"fifo" is not a regular file',
        "dir.sql": '"dir.sql" is not a regular file',
        "huge.sql": f'file "huge.sql" is {(1 << 20) + 18} bytes, more than the 1048576 (1 MiB) a template may have',
        "bin.sql": 'file "bin.sql" is not a pack template',
        "missing.sql": 'cannot read file "missing.sql" (No such file or directory',
    }
    before = schema(conn)
    for source, message in cases.items():
        with pytest.raises(sqlite3.OperationalError) as e:
            register(conn, source)
        assert str(e.value).startswith(f"trigger_pack_register(): argument 1 (template): {message}"), str(e.value)
        assert "secret" not in str(e.value).replace("secret.txt", "")
    assert schema(conn) == before


def test_a_template_file_with_a_byte_order_mark_and_a_symlink_to_it(db, tmp_path):
    conn = connect(db)
    path = tmp_path / "bom.sql"
    path.write_bytes(b"\xef\xbb\xbf" + TEMPLATE.encode())
    link = tmp_path / "link.sql"
    link.symlink_to(path)
    assert register(conn, str(link)).startswith("registered album_count 1.0.0")
    assert scalar(conn, "SELECT template FROM trigger_pack_templates") == TEMPLATE


UNICODE_TEMPLATE = """-- pack: альбом_カウント-ü.2
-- version: 1.0.0
-- description: ✓ Unicode all the way
-- param: 表 | ident | "ünï table ✓" | the table
-- param: 列 | ident | "コラム" | its column
-- param: 名前 | ident | "{表} trigger ✓" | the trigger
-- param: 索引 | ident | "{表} index ✓" | the index
-- param: 値 | text | "値 'q' \\"dq\\" */ --" | a value
-- requires: 表 | 列
-- object: index | 索引 | 表
-- object: trigger | 名前 | 表
--
CREATE INDEX IF NOT EXISTS main.{{索引}} ON {{表}}({{列}});
CREATE TRIGGER IF NOT EXISTS main.{{名前}} BEFORE INSERT ON {{表}}
  WHEN new.{{列}} IS NULL
  BEGIN
    SELECT RAISE(ABORT, 'needs a value');
  END;
"""


def test_unicode_names_of_packs_parameters_and_objects(db):
    conn = connect(db)
    conn.execute('CREATE TABLE "ünï table ✓" ("コラム" TEXT)')
    before = schema(conn)
    assert register(conn, UNICODE_TEMPLATE) == (
        'registered альбом_カウント-ü.2 1.0.0: index "ünï table ✓ index ✓" on "ünï table ✓", '
        'trigger "ünï table ✓ trigger ✓" on "ünï table ✓"')
    assert scalar(conn, "SELECT trigger_install('альбом_カウント-ü.2')").startswith("installed альбом_カウント-ü.2 1.0.0")
    with pytest.raises(sqlite3.IntegrityError, match="needs a value"):
        conn.execute('INSERT INTO "ünï table ✓" VALUES (NULL)')
    conn.execute('INSERT INTO "ünï table ✓" VALUES (?)', ("値",))
    params = json.loads(scalar(conn, "SELECT installed_params FROM trigger_packs WHERE registered"))
    assert params["値"] == "値 'q' \"dq\" */ --"
    scalar(conn, "SELECT trigger_uninstall('альбом_カウント-ü.2')")
    scalar(conn, "SELECT trigger_pack_unregister('альбом_カウント-ü.2')")
    assert schema(conn) == before


def test_a_one_megabyte_template(db):
    """A template of 1,000,000 bytes (a trigger body that long) registers,
    installs, fires and uninstalls; its preview holds it twice (the SQL
    and the template it carries)."""
    conn = connect(db)
    conn.execute("CREATE TABLE log (x TEXT)")
    text = ("-- pack: big\n-- version: 1\n-- param: t | ident | \"user\" | the table\n"
            "-- param: n | ident | \"big\" | the trigger\n-- requires: t |\n-- object: trigger | n | t\n--\n"
            "CREATE TRIGGER IF NOT EXISTS main.{{n}} AFTER INSERT ON {{t}} BEGIN\n")
    row = "  INSERT INTO log VALUES ('" + "x" * 90 + "');\n"
    text += row * ((1_000_000 - len(text)) // len(row)) + "END;\n"
    assert 990_000 < len(text) <= 1_000_000
    assert register(conn, text) == "registered big 1: trigger big on user"
    assert len(scalar(conn, "SELECT trigger_pack_sql('big')")) > 2 * 990_000
    scalar(conn, "SELECT trigger_install('big')")
    conn.execute("INSERT INTO user (name) VALUES ('x')")
    assert scalar(conn, "SELECT count(*) FROM log") == text.count("INSERT INTO log")
    assert scalar(conn, "SELECT trigger_uninstall('big')") == "uninstalled big 1: trigger big"
    assert scalar(conn, "SELECT trigger_pack_unregister('big')") == "unregistered big: version 1"


SNEAKY_BODIES = {
    "a second statement": "CREATE TRIGGER IF NOT EXISTS main.{{n}} AFTER INSERT ON {{t}} BEGIN SELECT 1; END;\n"
                          "CREATE TABLE IF NOT EXISTS main.stolen (x);\n",
    "an ATTACH": "ATTACH 'elsewhere.db' AS e;\nCREATE TRIGGER IF NOT EXISTS main.{{n}} AFTER INSERT ON {{t}} BEGIN SELECT 1; END;\n",
    "a PRAGMA": "PRAGMA writable_schema = ON;\nCREATE TRIGGER IF NOT EXISTS main.{{n}} AFTER INSERT ON {{t}} BEGIN SELECT 1; END;\n",
    "a literal name": "CREATE TRIGGER IF NOT EXISTS main.evil AFTER INSERT ON {{t}} BEGIN SELECT 1; END;\n",
    "a TEMP trigger": "CREATE TEMP TRIGGER IF NOT EXISTS {{n}} AFTER INSERT ON {{t}} BEGIN SELECT 1; END;\n",
    "another table": "CREATE TRIGGER IF NOT EXISTS main.{{n}} AFTER INSERT ON obs BEGIN SELECT 1; END;\n",
    "statements after END": "CREATE TRIGGER IF NOT EXISTS main.{{n}} AFTER INSERT ON {{t}} BEGIN SELECT 1; END; DROP TABLE obs;\n",
    "a placeholder in a comment": "-- about {{t}}\nCREATE TRIGGER IF NOT EXISTS main.{{n}} AFTER INSERT ON {{t}} BEGIN SELECT 1; END;\n",
    "a placeholder in a string": "CREATE TRIGGER IF NOT EXISTS main.{{n}} AFTER INSERT ON {{t}} BEGIN SELECT '{{t}}'; END;\n",
    "an undeclared object": "CREATE TRIGGER IF NOT EXISTS main.{{n}} AFTER INSERT ON {{t}} BEGIN SELECT 1; END;\n"
                            "CREATE INDEX IF NOT EXISTS main.{{t}} ON {{t}}(id);\n",
    "an unclosed trigger": "CREATE TRIGGER IF NOT EXISTS main.{{n}} AFTER INSERT ON {{t}} BEGIN SELECT 1;\n",
}
HEADER = ("-- pack: sneaky\n-- version: 1\n-- param: t | ident | \"user\" | the table\n"
          "-- param: n | ident | \"n\" | the trigger\n-- requires: t |\n-- object: trigger | n | t\n--\n")


@pytest.mark.parametrize("body", list(SNEAKY_BODIES))
def test_a_template_creates_only_what_it_declares(db, body):
    conn = connect(db)
    before = schema(conn)
    with pytest.raises(sqlite3.OperationalError, match=r"^trigger_pack_register\(\): argument 1 \(template\): line \d+: "):
        register(conn, HEADER + SNEAKY_BODIES[body])
    assert schema(conn) == before


def test_parameter_values_stay_values(db):
    """Whatever a parameter's value holds, it is one quoted name or
    literal: the install creates the declared objects and nothing else."""
    conn = connect(db)
    register(conn, TEMPLATE)
    conn.execute('CREATE TABLE "a""b; DROP TABLE obs; --" ("x\ny" INTEGER, "*/ ]" INTEGER DEFAULT 0)')
    before = {r[1] for r in schema(conn)}
    params = {"user_table": 'a"b; DROP TABLE obs; --', "user_key": "x\ny", "count_column": "*/ ]",
              "trigger_name": "END; DROP TABLE obs; --\n/*"}
    scalar(conn, "SELECT trigger_install('album_count', ?)", json.dumps(params))
    assert {r[1] for r in schema(conn)} - before == {"END; DROP TABLE obs; --\n/*", "trigger_pack_installs",
                                                     "sqlite_autoindex_trigger_pack_installs_1"}
    conn.execute('INSERT INTO "a""b; DROP TABLE obs; --" ("x\ny") VALUES (7)')
    conn.execute("INSERT INTO album (user_id, album_name) VALUES (7, 'a')")
    assert scalar(conn, 'SELECT "*/ ]" FROM "a""b; DROP TABLE obs; --"') == 1
    scalar(conn, "SELECT trigger_uninstall('album_count')")
    assert {r[1] for r in schema(conn)} == before


def test_template_errors_name_the_line_and_the_parameter(db):
    conn = connect(db)
    cases = [  # (what, changed to, the error)
        ("-- param: user_key", "-- param: user_table", "line 7: parameter user_table is declared twice (first on line 6)"),
        ("{{count_column}} + 1", "{{count_colum}} + 1", 'line 16: {{…}} names parameter "count_colum", which is not declared'),
        ("| user_key count_column", "| user_key count", 'line 11: the column parameter "count" is not declared'),
        ('"albums" |', "albums |", "line 8: the default of parameter count_column is not JSON"),
        ("-- version: 1.0.0", "-- version: one", 'line 2: version "one" is not numbers separated by dots'),
        ("-- pack: album_count", "-- pack: task_state", 'pack "task_state" is named like the built-in pack task_state'),
    ]
    for what, changed, message in cases:
        with pytest.raises(sqlite3.OperationalError) as e:
            register(conn, TEMPLATE.replace(what, changed))
        assert str(e.value).startswith(f"trigger_pack_register(): argument 1 (template): {message}"), str(e.value)
