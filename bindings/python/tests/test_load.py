"""loadable_path(), load() in sqlite3, apsw and sqlean, __version__, and the
error of a Python that cannot load extensions."""
import os
import pathlib
import sqlite3
import subprocess
import sys

import pytest

import sqlite_triggers
from conftest import NOLOAD_PYTHON, SEED_SCHEMA, needs_noload_python

FIXES = ("sqlean", "apsw", "--enable-loadable-sqlite-extensions")


def seed_story(execute):
    """The seed story through any binding's execute(sql) -> rows."""
    plain = "\n".join(line for line in SEED_SCHEMA.splitlines() if not line.startswith("--"))
    for statement in plain.split(";"):
        if statement.strip():
            execute(statement)
    execute("SELECT trigger_install('task_state')")
    execute("SELECT trigger_install('default_album')")
    execute("INSERT INTO user (id, name) VALUES (1, 'alice')")
    execute("INSERT INTO obs (id, name) VALUES (1, 'comet'), (2, 'nebula')")
    execute("INSERT INTO task (obs_id, name) VALUES (1, 'calibrate'), (1, 'expose'), (2, 'calibrate')")
    execute("UPDATE obs SET state = 2 WHERE id = 1")
    assert execute("SELECT user_id, album_name FROM album") == [(1, "default album")]
    assert execute("SELECT obs_id, name, state FROM task ORDER BY id") == [
        (1, "calibrate", 2), (1, "expose", 2), (2, "calibrate", 0)]


def test_loadable_path_is_the_installed_library():
    path = sqlite_triggers.loadable_path()
    assert os.path.isabs(path) and os.path.isfile(path)
    # The name gives SQLite the entry point sqlite3_sqlitetriggers_init.
    assert os.path.basename(path) == "libsqlite_triggers.so"
    # The installed wheel's copy, not a repository's.
    assert pathlib.Path(path).resolve().is_relative_to(pathlib.Path(sys.prefix).resolve())


def test_version_is_the_bundled_extensions():
    conn = sqlite3.connect(":memory:")
    sqlite_triggers.load(conn)
    assert conn.execute("SELECT trigger_version()").fetchone()[0] == sqlite_triggers.__version__ == "0.1.0"


def test_sqlite3_seed_story():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    sqlite_triggers.load(conn)
    seed_story(lambda sql: conn.execute(sql).fetchall())


def test_sqlite3_load_switches_extension_loading_off_again():
    conn = sqlite3.connect(":memory:")
    sqlite_triggers.load(conn)
    with pytest.raises(sqlite3.OperationalError, match="not authorized"):
        conn.execute("SELECT load_extension(?)", (sqlite_triggers.loadable_path(),))
    with pytest.raises(sqlite3.OperationalError, match="not authorized"):
        conn.load_extension(sqlite_triggers.loadable_path())


def test_apsw_seed_story():
    import apsw

    conn = apsw.Connection(":memory:")
    sqlite_triggers.load(conn)
    assert conn.execute("SELECT trigger_version()").fetchall() == [("0.1.0",)]
    seed_story(lambda sql: [tuple(r) for r in conn.execute(sql)])
    with pytest.raises(apsw.ExtensionLoadingError):
        conn.load_extension(sqlite_triggers.loadable_path())


def test_sqlean_seed_story():
    import sqlean

    conn = sqlean.connect(":memory:", isolation_level=None)
    sqlite_triggers.load(conn)
    assert conn.execute("SELECT trigger_version()").fetchone()[0] == "0.1.0"
    seed_story(lambda sql: conn.execute(sql).fetchall())
    with pytest.raises(sqlean.OperationalError, match="not authorized"):
        conn.execute("SELECT load_extension(?)", (sqlite_triggers.loadable_path(),))


def test_a_connection_without_enable_load_extension_gets_load_error():
    class NoLoading:
        """What sqlite3.Connection looks like in a Python built without
        --enable-loadable-sqlite-extensions."""

        def cursor(self):
            raise AssertionError("not used")

        def execute(self, sql):
            raise AssertionError("not used")

    with pytest.raises(sqlite_triggers.LoadError) as caught:
        sqlite_triggers.load(NoLoading())
    assert isinstance(caught.value, sqlite3.NotSupportedError)
    assert "cannot load extensions" in str(caught.value)
    for fix in FIXES:
        assert fix in str(caught.value)


@needs_noload_python
def test_a_python_without_extension_loading_gets_load_error():
    script = (
        "import sqlite3, sqlite_triggers\n"
        "assert not hasattr(sqlite3.Connection, 'enable_load_extension')\n"
        "try:\n"
        "    sqlite_triggers.load(sqlite3.connect(':memory:'))\n"
        "except sqlite_triggers.LoadError as e:\n"
        "    print(type(e).__mro__[1].__name__ + ': ' + str(e))\n"
    )
    out = subprocess.run([NOLOAD_PYTHON, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    message = out.stdout.strip()
    assert message.startswith("NotSupportedError: sqlite-triggers cannot be loaded: this Python's sqlite3 module "
                              "was built without extension loading"), message
    for fix in FIXES:
        assert fix in message


@needs_noload_python
def test_an_aiosqlite_connection_of_a_python_without_extension_loading_gets_load_error():
    script = (
        "import asyncio, aiosqlite, sqlite_triggers\n"
        "async def main():\n"
        "    async with aiosqlite.connect(':memory:') as conn:\n"
        "        try:\n"
        "            sqlite_triggers.load(conn)\n"
        "        except sqlite_triggers.LoadError as e:\n"
        "            print(e)\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([NOLOAD_PYTHON, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    message = out.stdout.strip()
    assert message.startswith("sqlite-triggers cannot be loaded: this Python's sqlite3 module "
                              "was built without extension loading"), message
    for fix in FIXES:
        assert fix in message


def test_not_a_connection_is_a_type_error():
    with pytest.raises(TypeError, match="takes a connection of sqlite3, apsw or sqlean"):
        sqlite_triggers.load(object())


def test_an_sqlalchemy_engine_is_pointed_to_enable():
    from sqlalchemy import create_engine

    with pytest.raises(TypeError, match=r"sqlite_triggers\.sqlalchemy\.enable\(engine\)"):
        sqlite_triggers.load(create_engine("sqlite://"))


def test_an_aiosqlite_connection_is_told_how_to_load():
    import asyncio

    import aiosqlite

    async def main():
        async with aiosqlite.connect(":memory:") as conn:
            with pytest.raises(TypeError, match="loads asynchronously"):
                sqlite_triggers.load(conn)
            # What the message says to do, done.
            await conn.enable_load_extension(True)
            await conn.load_extension(sqlite_triggers.loadable_path())
            await conn.enable_load_extension(False)
            async with conn.execute("SELECT trigger_version()") as cursor:
                assert await cursor.fetchone() == ("0.1.0",)

    asyncio.run(main())


def test_the_package_is_typed():
    assert (pathlib.Path(sqlite_triggers.__file__).parent / "py.typed").is_file()


def test_the_wheel_asks_for_the_python_the_readme_names():
    import importlib.metadata
    import re

    requires = importlib.metadata.metadata("sqlite-triggers")["Requires-Python"]
    readme = (pathlib.Path(__file__).parent / "README.md").read_text()
    named = re.search(r"It asks for Python (\d+\.\d+) or newer", readme)
    assert named and requires == f">={named.group(1)}", (requires, named)
