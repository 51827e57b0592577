"""sqlite_triggers.alembic in a real Alembic project made in a temporary
folder (`alembic init`, an env.py that imports the models of alembic_app.py
and calls enable(engine)), driven by Alembic's command line: autogenerate
writes the pack and listener operations, upgrade and downgrade run them,
and `upgrade --sql` writes plain SQL that the sqlite3 shell, which never
loads the extension, runs to the same behaviour. The operations are also
called by hand, online and offline."""
import io
import os
import pathlib
import re
import shutil
import sqlite3
import subprocess
import sys

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Column, Integer, MetaData, Table, Text, create_engine

import sqlite_triggers.alembic  # noqa: F401  (registers the operations)
from sqlite_triggers.sqlalchemy import ExtensionNotLoadedError, compare, enable

HERE = pathlib.Path(__file__).resolve().parent

# What the seed behaviour leaves: a user renamed, an obs set to state 2 with
# one task, another obs deleted.
SEED_WRITES = """
INSERT INTO user (id, name) VALUES (1, 'alice');
UPDATE user SET name = 'Alice' WHERE id = 1;
INSERT INTO obs (id, name) VALUES (1, 'comet'), (2, 'nebula');
INSERT INTO task (obs_id, name) VALUES (1, 'calibrate'), (2, 'expose');
UPDATE obs SET state = 2 WHERE id = 1;
DELETE FROM task WHERE obs_id = 2;
DELETE FROM obs WHERE id = 2;
"""


def alembic(project, *args, env=None):
    result = subprocess.run([sys.executable, "-m", "alembic", *args], cwd=project, capture_output=True,
                            text=True, env={**os.environ, **(env or {})})
    assert result.returncode == 0, f"alembic {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def make_project(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(HERE / "alembic_app.py", project / "alembic_app.py")
    alembic(project, "init", "migrations")
    ini = project / "alembic.ini"
    ini.write_text(re.sub(r"(?m)^sqlalchemy\.url = .*$", "sqlalchemy.url = sqlite:///app.db", ini.read_text()))
    env_py = project / "migrations" / "env.py"
    source = env_py.read_text()
    for old, new in [
        ("target_metadata = None",
         "import sqlite_triggers.alembic  # noqa: F401\n"
         "from sqlite_triggers.sqlalchemy import enable\n"
         "from alembic_app import Base\n"
         "target_metadata = Base.metadata"),
        ("        poolclass=pool.NullPool,\n    )\n",
         "        poolclass=pool.NullPool,\n    )\n    enable(connectable)\n"),
    ]:
        assert old in source, f"env.py of `alembic init` has no {old!r}"
        source = source.replace(old, new)
    env_py.write_text(source)
    return project


def revision(project, message, env=None):
    out = alembic(project, "revision", "--autogenerate", "-m", message, env=env)
    path = pathlib.Path(re.search(r"Generating (\S+\.py)", out).group(1))
    script = path.read_text()
    upgrade, downgrade = script.split("def downgrade")
    return script, upgrade, downgrade


def shell(db, sql):
    """The sqlite3 shell, which never loads the extension."""
    result = subprocess.run(["sqlite3", "-bail", str(db)], input=sql, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def behaviour(db):
    shell(db, SEED_WRITES)
    return shell(db, "SELECT user_id, album_name FROM album; SELECT obs_id, state FROM task; "
                     "SELECT what FROM audit ORDER BY id;").splitlines()


def in_sync(db):
    """compare() finds the database as alembic_app.py declares it (without
    the environment variables)."""
    from alembic_app import Base

    engine = enable(create_engine(f"sqlite:///{db}"))
    try:
        with engine.connect() as conn:
            return compare(Base.metadata, conn).in_sync
    finally:
        engine.dispose()


SEED_RESULT = ["1|default album", "1|2", "alice is now Alice", "deleted nebula"]


def touched(db):
    """A post and a comment written and updated: whether each was touched,
    and the form of the time (the touch installs of post and comment)."""
    shell(db, "INSERT INTO post (id, title) VALUES (1, 'hello'); INSERT INTO comment (id, post_id, body) "
              "VALUES (1, 1, 'first'); UPDATE post SET views = views + 1;")
    untouched = shell(db, "SELECT count(*) FROM post WHERE updated_at IS NULL;").strip()
    shell(db, "UPDATE post SET title = 'hello, world'; UPDATE comment SET body = 'first!';")
    return [
        untouched + "|" + shell(db, "SELECT updated_at IS NOT NULL, CASE WHEN updated_at GLOB '2???-??-??T*Z' "
                                    "THEN 'iso' END FROM post;").strip(),
        shell(db, "SELECT edited IS NOT NULL, CASE WHEN typeof(edited) = 'integer' THEN 'integer' "
                  "WHEN edited GLOB '2???-??-??T*Z' THEN 'iso' END FROM comment;").strip(),
    ]


def schema(db):
    return shell(db, "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name;").split()


def test_autogenerate_upgrade_check_downgrade(tmp_path):
    project = make_project(tmp_path)
    script, upgrade, downgrade = revision(project, "seed")
    assert "import sqlite_triggers.alembic" in script
    assert ("op.install_trigger_pack('task_state', params={'obs_table': 'obs', 'task_table': 'task', "
            "'when_state': 2, 'set_state': 2})") in upgrade
    assert "op.install_trigger_pack('default_album'," in upgrade
    assert "op.create_listener('user', 'after_update', 'INSERT INTO audit" in upgrade
    assert "'name': 'audit_user_rename'" in upgrade
    assert "op.create_listener('obs', 'after_delete'," in upgrade
    # touch is installed once per table: once for post, once for comment.
    assert "op.install_trigger_pack('touch', params={'table': 'post', 'ignore': ['views']})" in upgrade
    assert ("op.install_trigger_pack('touch', params={'table': 'comment', 'column': 'edited', 'format': 'unix'})"
            in upgrade)
    assert re.search(r"op\.uninstall_trigger_pack\('touch', params=\{[^}]*'table': 'comment'", downgrade)
    assert re.search(r"op\.uninstall_trigger_pack\('touch', params=\{[^}]*'table': 'post'", downgrade)
    # Packs and listeners come after the tables they need, and go before them.
    assert upgrade.index("op.create_table('task'") < upgrade.index("op.install_trigger_pack")
    assert "op.uninstall_trigger_pack('task_state'" in downgrade
    assert re.search(r"op\.drop_listener\('listen_obs_after_delete_[0-9a-f]{8}', table='obs'", downgrade)
    assert downgrade.index("op.drop_listener('audit_user_rename'") < downgrade.index("op.drop_table")
    assert downgrade.index("op.uninstall_trigger_pack") < downgrade.index("op.drop_table")

    alembic(project, "upgrade", "head")
    # The database now matches the models: neither the packs' indexes nor
    # trigger_pack_installs are taken for something to drop.
    assert "No new upgrade operations detected" in alembic(project, "check")
    assert in_sync(project / "app.db")
    assert behaviour(project / "app.db") == SEED_RESULT
    assert touched(project / "app.db") == ["1|1|iso", "1|integer"]

    alembic(project, "downgrade", "base")
    assert schema(project / "app.db") == ["table|alembic_version"]


def test_changed_and_removed_declarations(tmp_path):
    project = make_project(tmp_path)
    revision(project, "seed")
    alembic(project, "upgrade", "head")
    changed = {"ALBUM_NAME": "first album", "WITHOUT_DELETE_LISTENER": "1", "COMMENT_TOUCH_FORMAT": "iso"}
    _, upgrade, downgrade = revision(project, "changes", env=changed)
    assert "op.create_table" not in upgrade and "op.drop_index" not in upgrade
    # Of the two touch installs, the comment's changed: it alone is reinstalled.
    assert re.search(r"op\.uninstall_trigger_pack\('touch', params=\{[^}]*'format': 'unix'[^}]*'table': 'comment'",
                     upgrade)
    assert upgrade.index("op.uninstall_trigger_pack('touch'") < upgrade.index(
        "op.install_trigger_pack('touch', params={'table': 'comment', 'column': 'edited', 'format': 'iso'})")
    assert upgrade.count("'touch'") == 2 and "'table': 'post'" not in upgrade
    # The pack is reinstalled with the new parameters: first the old one goes.
    assert upgrade.index("op.uninstall_trigger_pack('default_album', params={") < upgrade.index(
        "op.install_trigger_pack('default_album', params={'user_table': 'user', 'album_table': 'album', "
        "'album_name': 'first album'})")
    assert "'album_name': 'default album'" in upgrade  # the installed parameters, for the downgrade
    assert re.search(r"op\.drop_listener\('listen_obs_after_delete_[0-9a-f]{8}', table='obs', event='after_delete'",
                     upgrade)
    assert "op.create_listener('obs', 'after_delete'" in downgrade

    alembic(project, "upgrade", "head", env=changed)
    assert "No new upgrade operations detected" in alembic(project, "check", env=changed)
    db = project / "app.db"
    shell(db, "INSERT INTO user (id, name) VALUES (1, 'alice'); INSERT INTO obs (id, name) VALUES (1, 'comet');"
              "DELETE FROM obs;")
    assert shell(db, "SELECT album_name FROM album; SELECT count(*) FROM audit;").splitlines() == ["first album", "0"]
    assert touched(db) == ["1|1|iso", "1|iso"]

    alembic(project, "downgrade", "-1", env=changed)
    assert in_sync(db)  # with the declarations of the first revision
    shell(db, "INSERT INTO user (id, name) VALUES (2, 'bob'); INSERT INTO obs (id, name) VALUES (2, 'nebula');"
              "DELETE FROM obs;")
    assert shell(db, "SELECT user_id, album_name FROM album ORDER BY id; SELECT what FROM audit;").splitlines() == [
        "1|first album", "2|default album", "deleted nebula"]


def to_default_album_1_0_0(db):
    """Puts the database's default_album back at 1.0.0, as the plain file
    release 0.1.0 shipped installs it (the models declare its defaults)."""
    shell(db, 'DROP TRIGGER "user_default_album"; DROP INDEX "user_default_album_idx";'
              "DELETE FROM trigger_pack_installs WHERE pack = 'default_album';")
    shell(db, (HERE / "default_album-1.0.0.sql").read_text())


def test_autogenerate_upgrades_a_pack_installed_at_an_older_version(tmp_path):
    project = make_project(tmp_path)
    revision(project, "seed")
    alembic(project, "upgrade", "head")
    db = project / "app.db"
    to_default_album_1_0_0(db)
    assert not in_sync(db)
    _, upgrade, downgrade = revision(project, "upgrade default_album")
    assert "op.upgrade_trigger_pack('default_album', params={" in upgrade
    assert "op.uninstall_trigger_pack" not in upgrade and "op.install_trigger_pack" not in upgrade
    assert "pass  # pack default_album stays upgraded: an older version of a pack installs nothing" in downgrade

    # Offline, the upgrade is plain SQL: the old objects dropped, 1.1.0's created.
    offline = tmp_path / "offline.db"
    shutil.copyfile(db, offline)
    up = alembic(project, "upgrade", "head", "--sql")
    up = up[up.rindex("-- Running upgrade"):].split("\n", 1)[1]  # the second revision's
    assert 'DROP TRIGGER IF EXISTS main."user_default_album";' in up
    assert "WHEN NOT EXISTS (" in up and "trigger_upgrade(" not in up
    shell(offline, up)

    alembic(project, "upgrade", "head")
    for upgraded in (db, offline):
        assert shell(upgraded, "SELECT version FROM trigger_pack_installs WHERE pack = 'default_album';").split() == [
            "1.1.0"]
        assert in_sync(upgraded)
        assert behaviour(upgraded) == SEED_RESULT
    assert "No new upgrade operations detected" in alembic(project, "check")
    alembic(project, "downgrade", "-1")  # the pack stays upgraded
    assert in_sync(db)


def test_offline_sql_runs_without_the_extension(tmp_path):
    project = make_project(tmp_path)
    revision(project, "seed")
    up = alembic(project, "upgrade", "head", "--sql")
    for call in ("trigger_install(", "trigger_listen(", "trigger_uninstall(", "trigger_unlisten("):
        assert call not in up
    assert 'CREATE TRIGGER IF NOT EXISTS main."update_task_state" UPDATE OF "state" ON "obs"' in up
    assert "SELECT 'touch:post', '1.0.0'" in up and "SELECT 'touch:comment', '1.0.0'" in up
    assert 'CREATE TRIGGER "audit_user_rename" /* sqlite-triggers listener' in up

    db = tmp_path / "offline.db"
    shell(db, up)
    assert behaviour(db) == SEED_RESULT
    assert touched(db) == ["1|1|iso", "1|integer"]
    # The extension recognises what the plain SQL made as its own.
    assert in_sync(db)

    down = alembic(project, "downgrade", "head:base", "--sql")
    assert "DROP TRIGGER IF EXISTS main.\"audit_user_rename\"" in down
    assert "DELETE FROM main.trigger_pack_installs WHERE pack = 'touch:comment';" in down
    shell(db, down)
    # Plain SQL cannot drop trigger_pack_installs only when it is empty: it stays, empty.
    assert schema(db) == ["table|alembic_version", "table|trigger_pack_installs"]
    assert shell(db, "SELECT count(*) FROM trigger_pack_installs;").split() == ["0"]


def test_operations_by_hand_online_and_offline(tmp_path):
    db = tmp_path / "hand.db"
    shell(db, (HERE / "seed_schema.sql").read_text())
    plain = create_engine(f"sqlite:///{db}")
    with plain.begin() as conn:
        with pytest.raises(ExtensionNotLoadedError, match=r"enable\(engine\)"):
            Operations(MigrationContext.configure(conn)).install_trigger_pack("task_state")
    plain.dispose()

    engine = enable(create_engine(f"sqlite:///{db}"))
    with engine.begin() as conn:
        op = Operations(MigrationContext.configure(conn))
        assert op.install_trigger_pack("task_state", {"set_state": 3}).startswith("installed task_state 1.0.0")
        name = op.create_listener("user", "after_insert", "UPDATE user SET name = upper(NEW.name) WHERE id = NEW.id")
        assert re.fullmatch(r"listen_user_after_insert_[0-9a-f]{8}", name)
    shell(db, "INSERT INTO user (id, name) VALUES (1, 'ann'); INSERT INTO obs (id, name) VALUES (1, 'o');"
              "INSERT INTO task (obs_id, name) VALUES (1, 't'); UPDATE obs SET state = 2;")
    assert shell(db, "SELECT name FROM user; SELECT state FROM task;").split() == ["ANN", "3"]
    with engine.begin() as conn:
        op = Operations(MigrationContext.configure(conn))
        assert op.drop_listener(name) == name
        assert op.uninstall_trigger_pack("task_state").startswith("uninstalled task_state")
    engine.dispose()
    assert schema(db) == ["table|album", "table|obs", "table|task", "table|user"]

    # Offline, a listener's CREATE TRIGGER is made in a database of the
    # target metadata's tables: one it lacks is refused, saying so.
    metadata = MetaData()
    Table("obs", metadata, Column("id", Integer, primary_key=True))
    out = io.StringIO()
    context = MigrationContext.configure(dialect_name="sqlite", opts={
        "as_sql": True, "output_buffer": out, "target_metadata": metadata})
    op = Operations(context)
    op.create_listener("obs", "after_delete", "SELECT OLD.id", {"name": "gone"})
    assert 'CREATE TRIGGER "gone"' in out.getvalue()
    with pytest.raises(ValueError, match="target_metadata in env.py to hold the tables"):
        op.create_listener("user", "after_insert", "SELECT 1")


PACK_TABLES = {"PACK_TABLES": "1"}
# What history, fts_sync and counts make beside their triggers: the tables
# they keep data in, their scratch tables, the FTS5 table and its shadow tables.
PACK_MADE = ["index|idx_post_history_rowid", "table|_counts", "table|_post_history", "table|comment_counts_replaced",
             "table|post_counts_replaced", "table|post_fts", "table|post_fts_config", "table|post_fts_data",
             "table|post_fts_docsize", "table|post_fts_idx", "table|post_fts_replaced",
             "table|post_history_replaced"]


def pack_made(db):
    return [x for x in schema(db) if x in PACK_MADE]


def with_pack_tables(db):
    """What the packs that make tables do: the post's history, search and
    counts, the comment's counts."""
    shell(db, "INSERT INTO post (id, title) VALUES (1, 'Running late'), (2, 'Walking'); "
              "UPDATE post SET title = 'Running early' WHERE id = 1; INSERT INTO comment (post_id, body) "
              "VALUES (1, 'a'), (1, 'b'); INSERT OR REPLACE INTO post (id, title) VALUES (2, 'Sitting');")
    return shell(db, "SELECT rowid FROM post_fts WHERE post_fts MATCH 'running OR sitting' ORDER BY rowid; "
                     "SELECT _rowid, _op FROM _post_history ORDER BY _rowid, _version; "
                     "SELECT \"table\", count FROM _counts ORDER BY 1;").splitlines()


# post 1's title update is recorded, then touch's update of its updated_at;
# the REPLACE of post 2 is recorded as the delete of the row it replaced and
# the insert of the new one, with recursive_triggers off.
WITH_PACK_TABLES = ["1", "2", "1|insert", "1|update", "1|update", "2|insert", "2|delete", "2|insert",
                    "comment|2", "post|2"]


def test_autogenerate_leaves_the_tables_packs_make(tmp_path):
    project = make_project(tmp_path)
    revision(project, "seed")
    alembic(project, "upgrade", "head")
    _, upgrade, downgrade = revision(project, "packs that make tables", env=PACK_TABLES)
    assert "op.install_trigger_pack('history', params={'table': 'post', 'exclude': ['views']})" in upgrade
    assert "op.install_trigger_pack('fts_sync', params={'table': 'post', 'columns': ['title']})" in upgrade
    assert "op.install_trigger_pack('counts', params={'table': 'post'})" in upgrade
    assert "op.install_trigger_pack('counts', params={'table': 'comment'})" in upgrade
    assert "op.drop_table" not in upgrade and "op.create_table" not in upgrade
    alembic(project, "upgrade", "head", env=PACK_TABLES)
    db = project / "app.db"
    assert pack_made(db) == PACK_MADE
    # Nothing the packs made is taken for a table or index to drop.
    assert "No new upgrade operations detected" in alembic(project, "check", env=PACK_TABLES)
    assert with_pack_tables(db) == WITH_PACK_TABLES

    # No longer declared: uninstalled, and still none of their tables dropped
    # in that revision. The tables they keep data in stay, as uninstall leaves
    # them, and are then the models' to declare or to drop.
    _, upgrade, downgrade = revision(project, "no packs that make tables")
    for key in ("'history'", "'fts_sync'", "'counts', params={'counts_table'"):
        assert f"op.uninstall_trigger_pack({key}" in upgrade
    assert "op.drop_table" not in upgrade and "op.drop_index" not in upgrade
    alembic(project, "upgrade", "head")
    assert pack_made(db) == ["table|_counts", "table|_post_history"]
    assert shell(db, "SELECT count(*) FROM _post_history; SELECT * FROM _counts;").split() == ["6"]
    _, upgrade, _ = revision(project, "the kept tables")
    assert "op.drop_table('_post_history')" in upgrade and "op.drop_table('_counts')" in upgrade

    alembic(project, "downgrade", "-1")  # the packs again, using the tables kept
    assert pack_made(db) == PACK_MADE
    assert shell(db, "SELECT count(*) FROM _post_history; SELECT * FROM _counts ORDER BY 1;").split() == [
        "6", "comment|2", "post|2"]


def test_offline_sql_of_packs_that_make_tables(tmp_path):
    project = make_project(tmp_path)
    seed, _, _ = revision(project, "seed")
    alembic(project, "upgrade", "head")
    revision(project, "packs that make tables", env=PACK_TABLES)
    up = alembic(project, "upgrade", "head", "--sql", env=PACK_TABLES)
    db = tmp_path / "offline.db"
    shell(db, up)
    assert pack_made(db) == PACK_MADE
    assert with_pack_tables(db) == WITH_PACK_TABLES
    assert in_sync_with(db, PACK_TABLES)

    # The downgrade does what trigger_uninstall does: the row of each count
    # taken out of _counts, the scratch tables and the FTS5 table dropped,
    # the tables of data kept.
    seed_revision = re.search(r"^revision: str = '(\w+)'", seed, re.M).group(1)
    down = alembic(project, "downgrade", f"head:{seed_revision}", "--sql", env=PACK_TABLES)
    assert """DELETE FROM "_counts" WHERE "table" = 'comment';""" in down
    assert 'DROP TABLE IF EXISTS main."post_fts";' in down
    assert "-- kept table _post_history (it holds data: drop it yourself when done)" in down
    shell(db, down)
    assert pack_made(db) == ["table|_counts", "table|_post_history"]
    assert shell(db, "SELECT count(*) FROM _post_history; SELECT count(*) FROM _counts;").split() == ["6", "0"]
    assert in_sync_with(db, {})


def in_sync_with(db, env):
    """compare() finds the database as alembic_app.py declares it with the
    environment variables ``env``, in a process of its own."""
    code = ("import sys; from sqlalchemy import create_engine; from alembic_app import Base; "
            "from sqlite_triggers.sqlalchemy import compare, enable; "
            f"e = enable(create_engine('sqlite:///{db}')); c = e.connect(); r = compare(Base.metadata, c); "
            "print(r); sys.exit(0 if r.in_sync else 1)")
    result = subprocess.run([sys.executable, "-c", code], cwd=HERE, capture_output=True, text=True,
                            env={**{k: v for k, v in os.environ.items() if k not in ("PACK_TABLES",)}, **env})
    assert result.returncode in (0, 1), result.stderr
    return result.returncode == 0


def test_operations_on_packs_installed_per_table_online_and_offline(tmp_path):
    schema_sql = ("CREATE TABLE post (id INTEGER PRIMARY KEY, title TEXT, updated_at TEXT);"
                  "CREATE TABLE comment (id INTEGER PRIMARY KEY, body TEXT, updated_at TEXT);")
    db = tmp_path / "hand.db"
    shell(db, schema_sql)
    engine = enable(create_engine(f"sqlite:///{db}"))
    with engine.begin() as conn:
        op = Operations(MigrationContext.configure(conn))
        assert op.install_trigger_pack("touch", {"table": "post"}).startswith("installed touch (post) 1.0.0")
        assert op.install_trigger_pack("touch", {"table": "comment"}).startswith("installed touch (comment)")
        assert op.install_trigger_pack("counts", {"table": "post"}).startswith("installed counts (post)")
        assert op.install_trigger_pack("counts", {"table": "comment"}).startswith("installed counts (comment)")
        # The parameters name the install; so does instance=.
        assert op.upgrade_trigger_pack("touch", {"table": "post"}) == (
            "touch (post) 1.0.0 is installed, the newest version; nothing changed")
        assert op.uninstall_trigger_pack("touch", {"table": "comment"}) == (
            "uninstalled touch (comment) 1.0.0: trigger comment_touch")
        assert op.upgrade_trigger_pack("counts", instance="comment").startswith("counts (comment) 1.0.0 is installed")
        assert op.uninstall_trigger_pack("counts", instance="comment").startswith("uninstalled counts (comment)")
    shell(db, "INSERT INTO post (id, title) VALUES (1, 'a'); INSERT INTO comment (id, body) VALUES (1, 'b');"
              "UPDATE post SET title = 'A'; UPDATE comment SET body = 'B';")
    assert shell(db, "SELECT updated_at IS NOT NULL FROM post; SELECT updated_at IS NULL FROM comment;"
                     "SELECT * FROM _counts;").split() == ["1", "1", "post|1"]
    engine.dispose()

    # Offline: the same operations as plain SQL, run where the extension is not.
    metadata = MetaData()
    for name in ("post", "comment"):
        Table(name, metadata, Column("id", Integer, primary_key=True), Column("title" if name == "post" else "body",
              Text), Column("updated_at", Text))
    out = io.StringIO()
    op = Operations(MigrationContext.configure(dialect_name="sqlite", opts={
        "as_sql": True, "output_buffer": out, "target_metadata": metadata}))
    for table in ("post", "comment"):
        op.install_trigger_pack("touch", {"table": table})
        op.install_trigger_pack("counts", {"table": table})
    op.uninstall_trigger_pack("touch", {"table": "comment"})
    op.upgrade_trigger_pack("touch", {"table": "post"})
    op.uninstall_trigger_pack("counts", instance="comment")
    with pytest.raises(ValueError, match="task_state is installed at most once, so its install has no instance"):
        op.uninstall_trigger_pack("task_state", instance="comment")
    sql = out.getvalue()
    assert "DELETE FROM main.trigger_pack_installs WHERE pack = 'touch:comment';" in sql
    assert "DELETE FROM main.trigger_pack_installs WHERE pack = 'counts:comment';" in sql
    offline = tmp_path / "offline.db"
    shell(offline, schema_sql)
    shell(offline, sql)
    shell(offline, "INSERT INTO post (id, title) VALUES (1, 'a'); INSERT INTO comment (id, body) VALUES (1, 'b');"
                   "UPDATE post SET title = 'A'; UPDATE comment SET body = 'B';")
    for query in ("SELECT type, name FROM sqlite_master ORDER BY 1, 2;", "SELECT pack FROM trigger_pack_installs;",
                  "SELECT * FROM _counts;", "SELECT updated_at IS NOT NULL FROM post;",
                  "SELECT updated_at IS NULL FROM comment;"):
        assert shell(offline, query) == shell(db, query), query
