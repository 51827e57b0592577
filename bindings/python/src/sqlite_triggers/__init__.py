"""sqlite-triggers for Python: the SQLite extension, and how to load it.

The wheel carries the extension built for its platform
(``libsqlite_triggers.so``). :func:`load` loads it into a connection of
Python's :mod:`sqlite3` module, of apsw, or of sqlean-py;
:func:`loadable_path` gives its path for any other host. The SQL functions
it adds (``trigger_install``, ``trigger_listen``, ``trigger_watch``, ...)
are described in the project's documentation.

SQLAlchemy support (engines, packs and listeners declared next to the
models) is in :mod:`sqlite_triggers.sqlalchemy`.
"""
from __future__ import annotations

import inspect
import os
import sqlite3
from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "LoadError", "loadable_path", "load"]

# The file name decides the entry point SQLite looks for when none is given
# (Python's sqlite3 before 3.12 cannot give one): "libsqlite_triggers.so"
# gives sqlite3_sqlitetriggers_init, which the extension exports.
_LIBRARY = "libsqlite_triggers.so"

_FIXES = (
    "load sqlite-triggers with one of: sqlean-py (pip install sqlean.py, then "
    "`import sqlean` and use sqlean.connect() in place of sqlite3.connect()), "
    "apsw (pip install apsw), or a Python built with "
    "--enable-loadable-sqlite-extensions (with pyenv: "
    "PYTHON_CONFIGURE_OPTS=--enable-loadable-sqlite-extensions pyenv install <version>)"
)


class LoadError(sqlite3.NotSupportedError):
    """The connection's SQLite binding cannot load extensions.

    Raised by :func:`load` (and by :func:`sqlite_triggers.sqlalchemy.enable`'s
    connect hook) when the binding has no ``enable_load_extension``, as with
    Python's :mod:`sqlite3` in pyenv builds and macOS's system Python. The
    message names the fixes. It is a :class:`sqlite3.NotSupportedError`, so
    ``except sqlite3.Error`` catches it, and SQLAlchemy wraps it as
    :class:`sqlalchemy.exc.NotSupportedError` when it is raised while an
    engine connects.

    Errors of the load itself (an SQLite older than 3.38.0, say) are the
    binding's own: :class:`sqlite3.OperationalError`,
    ``apsw.ExtensionLoadingError``, ``sqlean.OperationalError``.
    """


def loadable_path() -> str:
    """The absolute path of the bundled extension (``.../libsqlite_triggers.so``).

    Give it to any SQLite host's load call; the entry point SQLite derives
    from the file name (``sqlite3_sqlitetriggers_init``) is exported, so none
    needs to be named.
    """
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), _LIBRARY)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"sqlite-triggers {__version__}: the extension is not where the package "
            f"keeps it ({path}); install the platform wheel (pip install sqlite-triggers) "
            "or build the extension with `cargo build --release`"
        )
    return path


def _cannot_load_message(conn: Any) -> str:
    kind = f"{type(conn).__module__}.{type(conn).__qualname__}"
    if isinstance(conn, sqlite3.Connection):
        return (
            "sqlite-triggers cannot be loaded: this Python's sqlite3 module was built "
            "without extension loading (sqlite3.Connection has no enable_load_extension; "
            "pyenv builds and macOS's system Python are built so); " + _FIXES
        )
    return (
        f"sqlite-triggers cannot be loaded: the connection ({kind}) has no "
        "enable_load_extension, so its SQLite binding cannot load extensions; " + _FIXES
    )


def load(conn: Any) -> None:
    """Loads the bundled extension into ``conn``.

    ``conn`` is a connection of Python's :mod:`sqlite3`, of apsw
    (``apsw.Connection``) or of sqlean-py (``sqlean.Connection``). Extension
    loading is switched on for the load and off again afterwards, so SQL
    cannot call ``load_extension()`` later.

    Raises :class:`LoadError` when the binding cannot load extensions (no
    ``enable_load_extension``: pyenv builds and macOS's system Python, also
    for an aiosqlite connection there), with the fixes in its message; :class:`TypeError` for an object that is not
    such a connection (an SQLAlchemy engine or connection: use
    :func:`sqlite_triggers.sqlalchemy.enable`; aiosqlite: await its own
    ``enable_load_extension`` and ``load_extension`` with
    :func:`loadable_path`); and the binding's own error when the load fails.
    """
    module = type(conn).__module__ or ""
    if module.split(".")[0] == "sqlalchemy":
        raise TypeError(
            "sqlite_triggers.load(conn) takes a DB-API connection (sqlite3, apsw, sqlean); "
            f"got {module}.{type(conn).__qualname__}: call "
            "sqlite_triggers.sqlalchemy.enable(engine) to load it on every connection of an engine"
        )
    enable = getattr(conn, "enable_load_extension", None)
    loader = getattr(conn, "load_extension", None)
    if enable is None or loader is None:
        if isinstance(conn, sqlite3.Connection) or (
            callable(getattr(conn, "cursor", None)) and callable(getattr(conn, "execute", None))
        ):
            raise LoadError(_cannot_load_message(conn))
        raise TypeError(
            "sqlite_triggers.load(conn) takes a connection of sqlite3, apsw or sqlean; "
            f"got {module}.{type(conn).__qualname__}"
        )
    if inspect.iscoroutinefunction(enable) or inspect.iscoroutinefunction(loader):
        # aiosqlite wraps a connection of this Python's sqlite3: when that one
        # cannot load extensions, neither can the wrapper, whatever it says.
        inner = getattr(conn, "_conn", None)
        if inner is not None and not callable(getattr(inner, "enable_load_extension", None)):
            raise LoadError(_cannot_load_message(inner))
        raise TypeError(
            f"sqlite_triggers.load(conn): {module}.{type(conn).__qualname__} loads "
            "asynchronously: await conn.enable_load_extension(True), then await "
            "conn.load_extension(sqlite_triggers.loadable_path())"
        )
    path = loadable_path()
    enable(True)
    try:
        loader(path)
    finally:
        enable(False)
