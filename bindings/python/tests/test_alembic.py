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
from sqlalchemy import Column, Integer, MetaData, Table, create_engine

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

    alembic(project, "downgrade", "base")
    assert schema(project / "app.db") == ["table|alembic_version"]


def test_changed_and_removed_declarations(tmp_path):
    project = make_project(tmp_path)
    revision(project, "seed")
    alembic(project, "upgrade", "head")
    changed = {"ALBUM_NAME": "first album", "WITHOUT_DELETE_LISTENER": "1"}
    _, upgrade, downgrade = revision(project, "changes", env=changed)
    assert "op.create_table" not in upgrade and "op.drop_index" not in upgrade
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
    assert 'CREATE TRIGGER "audit_user_rename" /* sqlite-triggers listener' in up

    db = tmp_path / "offline.db"
    shell(db, up)
    assert behaviour(db) == SEED_RESULT
    # The extension recognises what the plain SQL made as its own.
    assert in_sync(db)

    down = alembic(project, "downgrade", "head:base", "--sql")
    assert "DROP TRIGGER IF EXISTS main.\"audit_user_rename\"" in down
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
