"""Shared helpers for the host tests: they load the built extension into real
SQLite hosts (the sqlite3 shell, Python's sqlite3, apsw) and check what a
user would see."""
import os
import pathlib
import shutil
import sqlite3
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXT = os.environ.get("SQLITE_TRIGGERS_EXT", str(ROOT / "target" / "release" / "libsqlite_triggers"))
SEED_SCHEMA = (ROOT / "examples" / "seed_schema.sql").read_text()
SQLITE3 = shutil.which("sqlite3")
needs_shell = pytest.mark.skipif(SQLITE3 is None, reason="no sqlite3 shell on PATH")


def shell(script, db=":memory:", cwd=ROOT, bail=True):
    """Runs `script` in the machine's sqlite3 shell, from the repository root."""
    args = [SQLITE3] + (["-bail"] if bail else []) + [db]
    return subprocess.run(args, input=script, text=True, capture_output=True, cwd=cwd, timeout=60)


def connect(path=":memory:", load=True):
    """A Python sqlite3 connection in autocommit mode, with the extension loaded."""
    conn = sqlite3.connect(path, isolation_level=None)
    if load:
        conn.enable_load_extension(True)
        conn.load_extension(EXT)
        conn.enable_load_extension(False)
    return conn


def schema(conn):
    """Every schema object, for before/after comparisons."""
    return conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
    ).fetchall()


def scalar(conn, sql, *args):
    return conn.execute(sql, args).fetchone()[0]


@pytest.fixture
def seed():
    conn = connect()
    conn.executescript(SEED_SCHEMA)
    yield conn
    conn.close()


@pytest.fixture(scope="session", autouse=True)
def extension_is_built():
    if not pathlib.Path(EXT + ".so").exists() and not pathlib.Path(EXT).exists():
        pytest.fail(f"the extension is not built: {EXT}.so (run cargo build --release)")
