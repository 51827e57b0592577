"""sqlite_triggers.sqlalchemy.enable(engine) in each driver: pysqlite,
aiosqlite, and an engine on sqlean's DB-API."""
import subprocess

import pytest
import sqlalchemy
from sqlalchemy import create_engine, event, text

import sqlite_triggers
from sqlite_triggers.sqlalchemy import enable
from conftest import NOLOAD_PYTHON, needs_noload_python


def versions(engine, connections=3):
    """trigger_version() from several pooled connections at once."""
    conns = [engine.connect() for _ in range(connections)]
    try:
        return [c.execute(text("SELECT trigger_version()")).scalar_one() for c in conns]
    finally:
        for c in conns:
            c.close()


def test_pysqlite_every_pooled_connection(tmp_path):
    engine = enable(create_engine(f"sqlite:///{tmp_path / 'app.db'}"))
    assert versions(engine) == ["0.1.0"] * 3
    # Extension loading is off again on each connection.
    with engine.connect() as conn, pytest.raises(sqlalchemy.exc.OperationalError, match="not authorized"):
        conn.execute(text("SELECT load_extension(:p)"), {"p": sqlite_triggers.loadable_path()})


def test_enable_twice_loads_once(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    assert enable(enable(engine)) is engine
    assert versions(engine, 1) == ["0.1.0"]


def test_memory_engine():
    engine = enable(create_engine("sqlite://"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT trigger_version()")).scalar_one() == "0.1.0"


def test_sqlean_module(tmp_path):
    import sqlean

    for url in ("sqlite://", "sqlite+pysqlite://"):
        engine = enable(create_engine(url + f"/{tmp_path / 'app.db'}", module=sqlean))
        seen = []
        event.listen(engine, "connect", lambda dbapi_conn, record: seen.append(type(dbapi_conn).__module__))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT trigger_version()")).scalar_one() == "0.1.0"
            assert conn.execute(text("SELECT sqlite_version()")).scalar_one() == sqlean.sqlite_version
        assert seen and seen[0].startswith("sqlean")
        engine.dispose()


def test_aiosqlite(tmp_path):
    import asyncio

    from sqlalchemy.ext.asyncio import create_async_engine

    async def main():
        engine = enable(create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"))
        async with engine.connect() as a, engine.connect() as b:
            for conn in (a, b):
                assert (await conn.execute(text("SELECT trigger_version()"))).scalar_one() == "0.1.0"
            with pytest.raises(sqlalchemy.exc.OperationalError, match="not authorized"):
                await a.execute(text("SELECT load_extension(:p)"), {"p": sqlite_triggers.loadable_path()})
        await engine.dispose()

    asyncio.run(main())


def test_not_sqlite_is_refused():
    import types

    # A PostgreSQL engine that never connects (no driver is installed).
    driver = types.SimpleNamespace(paramstyle="format", __version__="1.31.0")
    engine = create_engine("postgresql+pg8000://u@localhost/db", module=driver)
    with pytest.raises(ValueError, match="this engine's dialect is postgresql"):
        enable(engine)
    with pytest.raises(TypeError, match="takes an Engine or AsyncEngine"):
        enable("sqlite://")


@needs_noload_python
def test_a_python_without_extension_loading_fails_to_connect_with_the_fixes():
    script = (
        "import sqlalchemy, sqlite_triggers\n"
        "from sqlite_triggers.sqlalchemy import enable\n"
        "engine = enable(sqlalchemy.create_engine('sqlite://'))\n"
        "try:\n"
        "    engine.connect()\n"
        "except sqlalchemy.exc.NotSupportedError as e:\n"
        "    assert isinstance(e.orig, sqlite_triggers.LoadError), type(e.orig)\n"
        "    print(e.orig)\n"
    )
    out = subprocess.run([NOLOAD_PYTHON, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("sqlite-triggers cannot be loaded: this Python's sqlite3 module was built "
                                 "without extension loading"), out.stdout
    for fix in ("sqlean", "apsw", "--enable-loadable-sqlite-extensions"):
        assert fix in out.stdout
