"""sqlite-triggers for SQLAlchemy 2.x.

- :func:`enable` loads the extension on every connection an engine's pool
  opens (pysqlite, aiosqlite, or an engine on sqlean-py's DB-API).
- :class:`Pack` declares a pack next to the models: ``metadata.create_all()``
  installs it once its tables exist, ``metadata.drop_all()`` uninstalls it
  before they go.
- :func:`listen` declares a listener as a Core statement over the trigger's
  pseudo-rows :data:`NEW` and :data:`OLD`; it becomes a plain-SQL trigger
  (``trigger_listen``) at ``create_all()`` and goes at ``drop_all()``.
- :func:`compare` tells which declared packs and listeners the database
  lacks, which it has undeclared, and which differ.

Packs and listeners are plain SQL triggers: once created they fire for every
writer (ORM flushes, Core, raw SQL, other programs), with or without the
extension. Creating and dropping them needs the extension on the connection
(:func:`enable`).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from sqlalchemy import MetaData, Table, event, exc, inspect, literal_column, text
from sqlalchemy.dialects import sqlite as _sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import visitors
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.elements import BindParameter, ClauseElement, ColumnClause, ColumnElement, TextClause
from sqlalchemy.sql.schema import Column
from sqlalchemy.sql.selectable import CompoundSelect, Select, TableClause

from . import LoadError, _catalogue, _cannot_load_message, load, loadable_path

__all__ = [
    "enable",
    "Pack",
    "listen",
    "Listener",
    "NEW",
    "OLD",
    "declared",
    "compare",
    "Comparison",
    "Difference",
    "InstalledPack",
    "InstalledListener",
    "TriggerBodyError",
    "ExtensionNotLoadedError",
]

# Statements are compiled with SQLAlchemy's own SQLite dialect, values written
# as literals (literal_binds): a trigger body holds no bound parameters.
_DIALECT = _sqlite.dialect()
_EVENTS = (
    "before_insert",
    "after_insert",
    "before_update",
    "after_update",
    "before_delete",
    "after_delete",
)
_INFO_KEY = "sqlite_triggers"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _fold(name: Any) -> Any:
    """A name (or a tuple of names) as SQLite compares names: ASCII letters
    case-insensitively, every other character as it is."""
    if isinstance(name, str):
        return name.translate(_ASCII_LOWER)
    if isinstance(name, tuple):
        return tuple(_fold(n) for n in name)
    return name


class TriggerBodyError(exc.CompileError):
    """A statement or condition given to :func:`listen` that a trigger
    cannot hold (text(), several statements, RETURNING, a table of another
    schema, a value that cannot be written as an SQL literal, ...). Raised
    when the listener is declared; the message says why and what to do."""


class ExtensionNotLoadedError(exc.InvalidRequestError):
    """Installing or dropping a pack or listener on a connection that has
    not loaded the extension: call :func:`enable` on the engine first."""


# --- enable(engine) ----------------------------------------------------------


def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    run_async = getattr(dbapi_connection, "run_async", None)
    if run_async is None:
        load(dbapi_connection)
        return
    # An asyncio driver (aiosqlite): its connection's methods are coroutines,
    # run here through SQLAlchemy's adapter. aiosqlite wraps this Python's
    # sqlite3, so it can load extensions exactly when sqlite3 can.
    driver = dbapi_connection.driver_connection
    inner = getattr(driver, "_conn", None)
    if not callable(getattr(inner, "enable_load_extension", None)):
        raise LoadError(_cannot_load_message(inner))
    path = loadable_path()
    run_async(lambda conn: conn.enable_load_extension(True))
    try:
        run_async(lambda conn: conn.load_extension(path))
    finally:
        run_async(lambda conn: conn.enable_load_extension(False))


def enable(engine: Any) -> Any:
    """Loads the extension on every connection ``engine``'s pool opens, and
    returns the engine.

    ``engine`` is an :class:`~sqlalchemy.engine.Engine` or an
    ``AsyncEngine`` of the SQLite dialect: ``sqlite://`` / ``sqlite+pysqlite://``
    (Python's sqlite3), ``sqlite+aiosqlite://``, or an engine on sqlean-py
    (``create_engine("sqlite://", module=sqlean)``). Call it before the
    engine's first connection; connections already pooled are not touched.
    Calling it twice changes nothing.

    When the driver cannot load extensions, connecting raises
    :class:`sqlalchemy.exc.NotSupportedError` wrapping
    :class:`sqlite_triggers.LoadError`, whose message names the fixes.
    """
    sync = getattr(engine, "sync_engine", engine)
    if not isinstance(sync, Engine):
        raise TypeError(f"enable(engine) takes an Engine or AsyncEngine; got {type(engine).__name__}")
    if sync.dialect.name != "sqlite":
        raise ValueError(f"enable(engine): sqlite-triggers is a SQLite extension; this engine's dialect is {sync.dialect.name}")
    if not event.contains(sync, "connect", _on_connect):
        event.listen(sync, "connect", _on_connect)
    return engine


# --- names from Table and Column objects ------------------------------------


def _table_of(target: Any, what: str) -> TableClause:
    if isinstance(target, TableClause):
        table = target
    else:
        mapper = inspect(target, raiseerr=False)
        table = getattr(mapper, "local_table", None)
        if not isinstance(table, TableClause):
            raise TypeError(f"{what}: expected a Table or a mapped class, got {target!r}")
    if table.schema not in (None, "main"):
        raise ValueError(
            f"{what}: table {table.schema}.{table.name} is in schema {table.schema!r}; "
            "sqlite-triggers works on the main database's tables only"
        )
    return table


def _column_name(column: Any, what: str) -> str:
    if isinstance(column, str):
        return column
    if hasattr(column, "__clause_element__"):
        column = column.__clause_element__()
    if isinstance(column, ColumnClause):
        return column.name
    raise TypeError(f"{what}: expected a column name or a Column, got {column!r}")


def _param_value(key: str, value: Any) -> Any:
    what = f"Pack parameter {key}"
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):  # columns (fts_sync's columns=[Post.title]), transitions
        return [_param_value(key, v) for v in value]
    if isinstance(value, TableClause) or isinstance(getattr(inspect(value, raiseerr=False), "local_table", None), Table):
        return _table_of(value, what).name
    if isinstance(value, ColumnClause) or hasattr(value, "__clause_element__"):
        return _column_name(value, what)
    raise TypeError(
        f"{what}: expected a Table, Column, mapped class or attribute, a str/int/float/bool value, or a list of them, "
        f"got {value!r}"
    )


def _pack_catalogue() -> Optional[Dict[str, Any]]:
    """The bundled extension's packs and their parameters (packs.json, which
    the wheel carries beside the extension: read, not loaded, so that
    declaring a pack does not tie the process to one SQLite library); None
    where the package has no such file."""
    return _catalogue.catalogue()


def _pack_instance(name: str, params: Dict[str, Any]) -> Optional[str]:
    """The instance of an install of pack ``name`` with ``params``, as the
    extension names it (its install record is ``name:instance``): the value
    of the pack's instance parameter, given or defaulted. None for a pack
    installed once, and where the package has no catalogue."""
    pack = (_pack_catalogue() or {}).get(name)
    if pack is None:
        return None
    try:
        return _catalogue.instance_of(pack, params)
    except ValueError as error:
        raise ValueError(f"Pack(): pack {name}: {error}") from None


def _check_pack(name: str, params: Dict[str, Any]) -> None:
    for key, value in params.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(
                f"Pack(): parameter {key} of pack {name} is {value!r}, which JSON (and so trigger_install) cannot carry"
            )
    catalogue = _pack_catalogue()
    if catalogue is None:
        return  # left to the extension, at create()
    if name not in catalogue:
        raise ValueError(f'Pack(): unknown pack "{name}" (packs: {", ".join(sorted(catalogue))})')
    known = catalogue[name].get("params", {})
    for key in params:
        if key not in known:
            raise ValueError(
                f'Pack(): unknown parameter "{key}" for pack {name} (parameters: {", ".join(known)})'
            )


# --- declarations on a MetaData ---------------------------------------------


def declared(metadata: MetaData) -> List[Union["Pack", "Listener"]]:
    """The packs and listeners declared on ``metadata``, in declaration order
    (the order ``create_all()`` creates them in; ``drop_all()`` drops them in
    reverse)."""
    return list(metadata.info.get(_INFO_KEY, []))


def _declare(metadata: MetaData, item: Union["Pack", "Listener"]) -> None:
    if not isinstance(metadata, MetaData):
        raise TypeError(f"expected a MetaData, got {metadata!r}")
    items = metadata.info.setdefault(_INFO_KEY, [])
    for other in items:
        if type(other) is type(item) and other.key == item.key:
            raise exc.ArgumentError(f"{item!r} is declared twice on this MetaData (as {other!r})")
    items.append(item)
    if not event.contains(metadata, "after_create", _after_create):
        event.listen(metadata, "after_create", _after_create)
        event.listen(metadata, "before_drop", _before_drop)


def _after_create(metadata: MetaData, connection: Connection, **kw: Any) -> None:
    if connection.dialect.name != "sqlite":
        return
    for item in declared(metadata):
        item.create(connection)


def _before_drop(metadata: MetaData, connection: Connection, **kw: Any) -> None:
    if connection.dialect.name != "sqlite":
        return
    for item in reversed(declared(metadata)):
        item.drop(connection)


def _require_extension(connection: Connection, what: str) -> None:
    loaded = connection.execute(
        text("SELECT count(*) FROM pragma_function_list WHERE name = 'trigger_install'")
    ).scalar()
    if not loaded:
        raise ExtensionNotLoadedError(
            f"{what}: sqlite-triggers is not loaded on this connection; "
            "call sqlite_triggers.sqlalchemy.enable(engine) before the engine's first connection"
        )


# --- packs --------------------------------------------------------------------


class Pack:
    """A pack declared next to the models.

    ``Pack("default_album", metadata, user_table=User.__table__,
    album_user_fk=Album.__table__.c.user_id)``: parameters are the pack's
    (see the packs' documentation); a Table or mapped class gives its name,
    a Column or mapped attribute its name, anything else is passed as it is.
    With ``metadata``, ``metadata.create_all()`` installs the pack after
    creating the tables (``SELECT trigger_install(:name, :params)``) and
    ``metadata.drop_all()`` uninstalls it before dropping them. Without,
    call :meth:`create` and :meth:`drop` yourself.

    A pack installed once per table (``touch``, ``history``, ...: its
    template's ``-- instance:`` parameter) is declared once per install,
    ``Pack("touch", metadata, table=Post)`` and ``Pack("touch", metadata,
    table=Comment)``: :attr:`instance` is the value of that parameter, given
    or defaulted as the extension defaults it, and names the install
    (``trigger_uninstall("touch", "post")``).
    """

    def __init__(self, name: str, metadata: Optional[MetaData] = None, /, **params: Any) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"Pack(name, ...): name must be a pack's name, got {name!r}")
        self.name = name
        self.params: Dict[str, Any] = {k: _param_value(k, v) for k, v in params.items()}
        _check_pack(name, self.params)
        self.instance: Optional[str] = _pack_instance(name, self.params)
        """The install this declares, for a pack installed once per table
        (say): the value of the pack's instance parameter (``"post"`` for
        ``Pack("touch", table="post")``); None for a pack installed once."""
        if metadata is not None:
            _declare(metadata, self)

    @property
    def key(self) -> Tuple[Any, ...]:
        """What tells declarations apart: the pack, and its instance (a
        name, compared as SQLite compares names), for a pack installed once
        per instance."""
        return (self.name,) if self.instance is None else (self.name, _fold(self.instance))

    def _install(self, connection: Connection) -> Tuple[bool, Optional[str]]:
        """Whether the database has this declaration's install, and the
        instance its record names (spelled as recorded)."""
        instances = [instance for instance, _, _ in _installs(connection, self.name)]
        if self.instance is None:
            return bool(instances), None
        if self.instance in instances:
            return True, self.instance
        folded = [i for i in instances if i is not None and _fold(i) == _fold(self.instance)]
        return (True, folded[0]) if folded else (False, self.instance)

    def _call(self, function: str, instance: Optional[str]) -> Tuple[str, Dict[str, Any]]:
        if instance is None:
            return f"SELECT {function}(:name)", {"name": self.name}
        return f"SELECT {function}(:name, :instance)", {"name": self.name, "instance": instance}

    @property
    def params_json(self) -> str:
        """The parameters as given to ``trigger_install``."""
        return json.dumps(self.params, sort_keys=True, allow_nan=False)

    def __repr__(self) -> str:
        return f"Pack({self.name!r}, {', '.join(f'{k}={v!r}' for k, v in self.params.items())})".replace(", )", ")")

    def create(self, connection: Connection) -> str:
        """Installs the pack (``trigger_install``) and returns its summary;
        an install with the same parameters changes nothing."""
        _require_extension(connection, f"installing pack {self.name}")
        return connection.execute(
            text("SELECT trigger_install(:name, :params)"), {"name": self.name, "params": self.params_json}
        ).scalar_one()

    def drop(self, connection: Connection) -> Optional[str]:
        """Uninstalls the pack (``trigger_uninstall``; for a pack installed
        once per table, say, ``trigger_uninstall(name, instance)``: this
        declaration's install, the others stay) when it is installed, and
        returns the summary; ``None`` when it was not installed."""
        _require_extension(connection, f"uninstalling pack {self.name}")
        found, instance = self._install(connection)
        if not found:
            return None
        sql, params = self._call("trigger_uninstall", instance)
        return connection.execute(text(sql), params).scalar_one()

    def upgrade(self, connection: Connection) -> str:
        """Upgrades the installed pack to the extension's newest version,
        with the parameters it was installed with (``trigger_upgrade``; for
        a pack installed once per table, say, this declaration's install:
        ``trigger_upgrade(name, instance)``), and returns the summary; one
        already at that version is left as it is."""
        _require_extension(connection, f"upgrading pack {self.name}")
        _, instance = self._install(connection)
        sql, params = self._call("trigger_upgrade", instance)
        return connection.execute(text(sql), params).scalar_one()

    def expected(self, connection: Connection) -> Tuple[str, Dict[str, Any]]:
        """The version and the full parameters (defaults included, values
        typed by their columns) an install would record on this database:
        read from ``trigger_pack_sql``, which returns exactly the SQL an
        install runs."""
        _require_extension(connection, f"previewing pack {self.name}")
        sql = connection.execute(
            text("SELECT trigger_pack_sql(:name, :params)"), {"name": self.name, "params": self.params_json}
        ).scalar_one()
        record = _install_record(sql)
        if record is None:
            raise exc.InvalidRequestError(f"pack {self.name}: trigger_pack_sql() gave no install record to compare with")
        _, version, params = record
        return version, params


def _install_record(sql: str) -> Optional[Tuple[str, str, Dict[str, Any]]]:
    """The install record (key, version, parameters) that a pack's SQL, as
    ``trigger_pack_sql`` gives it, inserts into ``trigger_pack_installs``."""
    found = re.search(
        r"INSERT INTO main\.trigger_pack_installs \(pack, version, params\)\s+"
        r"SELECT '((?:[^']|'')*)', '((?:[^']|'')*)', '((?:[^']|'')*)'",
        sql,
    )
    if not found:
        return None
    key, version, params = (g.replace("''", "'") for g in found.groups())
    return key, version, json.loads(params)


# --- listeners ----------------------------------------------------------------


class PseudoRow:
    """``NEW`` or ``OLD`` in a trigger: ``NEW.id``, ``NEW["id"]`` or
    ``NEW[User.__table__.c.id]`` (which also carries the column's type) is
    the column expression ``NEW."id"``, quoted by SQLAlchemy's SQLite
    dialect."""

    def __init__(self, which: str) -> None:
        self._which = which

    def __getattr__(self, name: str) -> ColumnElement[Any]:
        if name.startswith("__") or name.startswith("_sa_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, column: Any) -> ColumnElement[Any]:
        type_ = None
        if hasattr(column, "__clause_element__"):
            column = column.__clause_element__()
        if isinstance(column, ColumnClause):
            type_ = column.type
            column = column.name
        if not isinstance(column, str):
            raise TypeError(f"{self._which}[...]: expected a column name or a Column, got {column!r}")
        quoted = _DIALECT.identifier_preparer.quote_identifier(column)
        return literal_column(f"{self._which}.{quoted}", type_)

    def __repr__(self) -> str:
        return self._which


NEW = PseudoRow("NEW")
"""The row being inserted, or the row as an update leaves it."""
OLD = PseudoRow("OLD")
"""The row being deleted, or the row as it was before an update."""


def _compiled(clause: ClauseElement, what: str) -> Any:
    try:
        return clause.compile(dialect=_DIALECT, compile_kwargs={"literal_binds": True})
    except exc.CompileError as error:
        reason = str(error).replace("; see parent stack trace for more detail", "").rstrip(".")
        raise TriggerBodyError(
            f"{what} cannot be written into a trigger: {reason}. A trigger body holds no bound "
            "parameters, so every value must be one SQLAlchemy can write as an SQL literal "
            "(numbers, strings, None, NEW/OLD columns), or an expression over them"
        ) from error


# SQLite's tokens, as far as a trigger body's checks need them: quoted
# strings and names, comments, parameter placeholders, words, semicolons.
_TOKEN = re.compile(
    r"""(?P<string>'(?:[^']|'')*'?)"""
    r"""|(?P<name>"(?:[^"]|"")*"?|`(?:[^`]|``)*`?|\[[^\]]*\]?)"""
    r"""|(?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))"""
    r"""|(?P<variable>\?[0-9]*|[:@$][A-Za-z0-9_$\x80-\U0010ffff]+(?:::)?(?:\([^)]*\))?)"""
    r"""|(?P<word>[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_$\x80-\U0010ffff]*)"""
    r"""|(?P<semicolon>;)""",
    re.S,
)


def _check_sql(sql: str, what: str, statement: bool) -> None:
    """Refuses SQL text a trigger body cannot hold that SQLAlchemy compiles
    anyway: a NUL character, several statements, parameter placeholders, and
    (for the statement) a WITH clause before it."""
    if "\x00" in sql:
        raise TriggerBodyError(
            f"{what} holds a NUL character (in a string value, say), which SQLite's SQL text "
            "cannot carry: leave it out, or make it in SQL when the trigger runs (func.char(0))"
        )
    tokens = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(sql) if m.lastgroup != "comment"]
    if any(kind == "semicolon" for kind, _ in tokens):
        raise TriggerBodyError(
            f"{what} compiles to several statements (a ';' in {sql!r}, from a literal_column() "
            "or text() inside it, say); a listener's statement must be exactly one: declare one "
            "listener per statement"
        )
    variables = [text_ for kind, text_ in tokens if kind == "variable"]
    if variables:
        raise TriggerBodyError(
            f"{what} holds the parameter placeholder {variables[0]!r} (in {sql!r}); a trigger body "
            "holds no parameters: write the value, or a NEW/OLD column, in its place"
        )
    words = [text_.upper() if kind == "word" else None for kind, text_ in tokens]
    if statement and any(words[i:i + 2] == ["DEFAULT", "VALUES"] for i in range(len(words))):
        raise TriggerBodyError(
            f"{what} is INSERT ... DEFAULT VALUES (insert(table).values() with no values), which "
            "SQLite does not allow in a trigger body: give at least one column its value in .values(...)"
        )
    if statement and tokens and tokens[0][0] == "word" and tokens[0][1].upper() == "WITH":
        raise TriggerBodyError(
            f"{what} begins with a WITH clause (a CTE, which SQLAlchemy writes before the "
            "statement), and a statement of an SQLite trigger cannot: SQLite does not support "
            "common table expressions in trigger bodies. Write it as a subquery (.subquery() or "
            ".scalar_subquery()) instead"
        )


def _compile(clause: ClauseElement, what: str, statement: bool = False) -> str:
    compiled = _compiled(clause, what)
    # Placeholders left after literal_binds are values SQLAlchemy expects at
    # execution: the columns an insert() or update() gives no value.
    placeholders = list(getattr(compiled, "positiontup", None) or compiled.binds)
    if placeholders:
        raise TriggerBodyError(
            f"{what} leaves {', '.join(placeholders)} without a value: SQLAlchemy writes a "
            "placeholder (?) for each, to be given when the statement is executed, and a trigger "
            "body holds no parameters. Give each a value in .values(...) (a literal, or a NEW/OLD "
            "column)"
        )
    sql = str(compiled).strip()
    _check_sql(sql, what, statement)
    return sql


def _with_python_defaults(statement: Any, what: str) -> Any:
    """The statement with the Python-side defaults (Column(default=...,
    onupdate=...)) SQLAlchemy would fill in at execution written into it:
    compiled with literal values they would be NULL. A scalar default is
    written as its value; a callable one cannot run inside a trigger."""
    compiled = _compiled(statement, what)
    prefetch = [(c, "default") for c in compiled.insert_prefetch] + [(c, "onupdate") for c in compiled.update_prefetch]
    if not prefetch:
        return statement
    if isinstance(statement, Insert) and statement.select is not None:
        names = ", ".join(c.name for c, _ in prefetch)
        raise TriggerBodyError(
            f"{what} is an INSERT ... SELECT into columns with Python-side defaults ({names}), "
            "which a trigger cannot fill in: select a value for each, or pass include_defaults=False "
            "to from_select() to leave them to the table"
        )
    values = {}
    for column, kind in prefetch:
        default = getattr(column, kind)
        if default is None or not getattr(default, "is_scalar", False):
            raise TriggerBodyError(
                f"{what} leaves column {column.table.name}.{column.name} to its Python-side {kind}= "
                "(a Python callable), which SQLAlchemy runs in Python and a "
                f"trigger cannot: give {column.name} a value in the statement, or make it a server_default"
            )
        values[column] = default.arg
    return statement.values(values)


def _check_elements(clause: ClauseElement, what: str) -> None:
    """Refuses tables of other schemas, and bound parameters whose value is
    only known at execution (which literal_binds would write as NULL)."""
    for element in visitors.iterate(clause):
        if isinstance(element, BindParameter) and (element.required or element.callable is not None):
            raise TriggerBodyError(
                f"{what} has the bound parameter {element.key!r}, whose value is given only when a "
                "statement is executed; a trigger body holds no parameters: write the value, or "
                "a NEW/OLD column, in its place"
            )
        if isinstance(element, TableClause) and getattr(element, "schema", None) is not None:
            raise TriggerBodyError(
                f"{what} names table {element.schema}.{element.name} of schema {element.schema!r}: "
                "a trigger of the main database can only use the main database's tables, unqualified"
            )


def _action_sql(statement: Any) -> str:
    what = "listen(): the statement"
    if isinstance(statement, (list, tuple)):
        raise TriggerBodyError(
            f"{what} must be one Core statement, got {len(statement)}: declare one listener per "
            "statement (each its own trigger)"
        )
    if isinstance(statement, TextClause):
        raise TriggerBodyError(
            f"{what} is text(): give a Core insert(), update(), delete() or select(), which "
            "SQLAlchemy compiles for SQLite; for SQL text, call trigger_listen() yourself"
        )
    if not isinstance(statement, (Insert, Update, Delete, Select, CompoundSelect)):
        raise TriggerBodyError(
            f"{what} must be a Core insert(), update(), delete() or select() construct, got "
            f"{type(statement).__name__}"
        )
    if getattr(statement, "_returning", ()) or getattr(statement, "_return_defaults", False):
        raise TriggerBodyError(f"{what} has RETURNING (returning()/return_defaults()), which a trigger body cannot hold")
    _check_elements(statement, what)
    return _compile(_with_python_defaults(statement, what), what, statement=True)


def trigger_listen(connection: Connection, table: str, event: str, action: str,
                   options: Optional[Dict[str, Any]] = None) -> str:
    """Calls ``trigger_listen`` on ``connection``; returns the listener's name."""
    params = {"table": table, "event": event, "action": action}
    if options:
        params["options"] = json.dumps(options)
        sql = "SELECT trigger_listen(:table, :event, :action, :options)"
    else:
        sql = "SELECT trigger_listen(:table, :event, :action)"
    return connection.execute(text(sql), params).scalar_one()


@dataclass(frozen=True)
class Listener:
    """A listener declared with :func:`listen`: a trigger made by
    ``trigger_listen(table, event, action, options)``."""

    table: str
    event: str
    action: str
    when: Optional[str] = None
    columns: Optional[Tuple[str, ...]] = None
    name: Optional[str] = None

    @property
    def key(self) -> Tuple[Any, ...]:
        if self.name:
            return (_fold(self.name),)
        return (_fold(self.table), self.event, self.action, self.when, _fold(self.columns))

    @property
    def options(self) -> Dict[str, Any]:
        """The options_json of ``trigger_listen``, without the ones not given."""
        options: Dict[str, Any] = {}
        if self.columns is not None:
            options["columns"] = list(self.columns)
        if self.when is not None:
            options["when"] = self.when
        if self.name is not None:
            options["name"] = self.name
        return options

    def matches(self, installed: "InstalledListener") -> bool:
        """True when ``installed`` is this listener as declared (names of
        the trigger, the table and the columns compared as SQLite compares
        them, ASCII letters case-insensitively)."""
        return (
            (self.name is None or _fold(installed.name) == _fold(self.name))
            and _fold(installed.table) == _fold(self.table)
            and installed.event == self.event
            and installed.action == self.action
            and installed.when == self.when
            and _fold(installed.columns) == _fold(self.columns)
        )

    def find(self, connection: Connection) -> Optional["InstalledListener"]:
        """The listener in the database that is this one, if any."""
        for row in installed_listeners(connection):
            if self.matches(row):
                return row
        return None

    def create(self, connection: Connection) -> str:
        """Creates the listener (``trigger_listen``), unless the database
        already has it as declared, and returns its trigger's name."""
        _require_extension(connection, f"creating listener {self.name or self.table + ' ' + self.event}")
        existing = self.find(connection)
        if existing is not None:
            return existing.name
        return trigger_listen(connection, self.table, self.event, self.action, self.options)

    def drop(self, connection: Connection) -> Optional[str]:
        """Drops the listener (``trigger_unlisten``) when the database has
        it as declared, and returns its name; ``None`` when it had not."""
        _require_extension(connection, f"dropping listener {self.name or self.table + ' ' + self.event}")
        existing = self.find(connection)
        if existing is None:
            return None
        return connection.execute(text("SELECT trigger_unlisten(:name)"), {"name": existing.name}).scalar_one()


def listen(
    target: Any,
    event_name: str,
    statement: Any,
    *,
    when: Optional[ColumnElement[bool]] = None,
    columns: Optional[Sequence[Any]] = None,
    name: Optional[str] = None,
    metadata: Optional[MetaData] = None,
) -> Listener:
    """Declares a listener: after (or before) each insert, update or delete
    of a row of ``target``, ``statement`` runs, for every writer.

    ``listen(User, "after_insert", insert(Album).values(user_id=NEW.id,
    album_name="default album"))``. ``target`` is a mapped class or a
    Table of the main database; ``event_name`` one of before_insert,
    after_insert, before_update, after_update, before_delete, after_delete;
    ``statement`` one Core insert(), update(), delete() or select() over
    :data:`NEW` and :data:`OLD`. It is compiled with SQLAlchemy's SQLite
    dialect, values as literals; what a trigger cannot hold raises
    :class:`TriggerBodyError` here. Options: ``when``, a Core condition over
    NEW/OLD (the trigger's WHEN); ``columns``, Columns or names (an UPDATE OF
    filter, update events only); ``name``, the trigger's name.

    The listener is declared on the table's MetaData (or ``metadata``):
    ``create_all()`` creates it and ``drop_all()`` drops it. Returns the
    :class:`Listener`.
    """
    table = _table_of(target, "listen()")
    if event_name not in _EVENTS:
        raise exc.ArgumentError(f"listen(): event must be one of {', '.join(_EVENTS)}; got {event_name!r}")
    action = _action_sql(statement)
    when_sql = None
    if when is not None:
        if not isinstance(when, ClauseElement) or isinstance(when, TextClause):
            raise TriggerBodyError(f"listen(): when= must be a Core condition over NEW/OLD, got {when!r}")
        _check_elements(when, "listen(): when=")
        when_sql = _compile(when, "listen(): when=")
    names = None
    if columns is not None:
        if isinstance(columns, (str, bytes)) or not isinstance(columns, Iterable):
            raise TypeError(f"listen(): columns= must be a list of Columns or names, got {columns!r}")
        names = tuple(_column_name(c, "listen(): columns=") for c in columns)
        if not event_name.endswith("_update"):
            raise exc.ArgumentError(
                f"listen(): columns= (an UPDATE OF filter) is only for update events "
                f"(before_update, after_update), not {event_name}"
            )
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError(f"listen(): name= must be a non-empty string, got {name!r}")
    listener = Listener(table.name, event_name, action, when_sql, names, name)
    metadata = metadata if metadata is not None else getattr(table, "metadata", None)
    if metadata is None:
        raise exc.ArgumentError(f"listen(): table {table.name} belongs to no MetaData; pass metadata=")
    _declare(metadata, listener)
    return listener


# --- what the database has, and compare() -----------------------------------


@dataclass(frozen=True)
class InstalledPack:
    """An install of a pack: a row of ``trigger_pack_installs``, of a pack
    ``trigger_packs`` lists."""

    name: str
    version: str
    params: Dict[str, Any]
    upgradable: bool = False
    """Installed at an older version that ``trigger_upgrade`` upgrades."""
    instance: Optional[str] = None
    """For a pack installed once per table (say), which install: the value
    of its instance parameter (the record's key is ``name:instance``)."""

    @property
    def key(self) -> str:
        """The install's key in ``trigger_pack_installs``."""
        return self.name if self.instance is None else f"{self.name}:{self.instance}"


@dataclass(frozen=True)
class InstalledListener:
    """A row of ``trigger_listeners``."""

    name: str
    table: str
    event: str
    columns: Optional[Tuple[str, ...]]
    when: Optional[str]
    action: str


def _installs(connection: Connection, name: str) -> List[Tuple[Optional[str], str, str]]:
    """The install records of pack ``name`` (instance, version, params
    JSON), keyed ``name`` or ``name:instance``, as the extension reads them."""
    exists = connection.execute(
        text("SELECT count(*) FROM main.sqlite_master WHERE type = 'table' AND name = 'trigger_pack_installs'")
    ).scalar()
    if not exists:
        return []
    rows = connection.execute(
        text("SELECT pack, version, params FROM main.trigger_pack_installs "
             "WHERE pack = :name OR substr(pack, 1, length(:name) + 1) = :name || ':' ORDER BY pack"),
        {"name": name},
    )
    return [(key.split(":", 1)[1] if ":" in key else None, version, params) for key, version, params in rows]


def _version_key(version: str) -> Optional[Tuple[int, ...]]:
    """A version as the extension compares them: numbers separated by dots,
    number by number, ``1.0`` being ``1.0.0``."""
    try:
        parts = [int(p) for p in version.split(".")]
    except ValueError:
        return None
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def installed_packs(connection: Connection) -> List[InstalledPack]:
    """The installs of packs in the connection's main database: one per
    pack, or one per instance of a pack installed once per table (say)."""
    _require_extension(connection, "listing packs")
    packs = connection.execute(
        text("SELECT name, version, upgradable FROM trigger_packs WHERE installed ORDER BY name")
    ).all()
    found = []
    for name, newest, upgradable in packs:
        for instance, version, params in _installs(connection, name):
            # trigger_packs says whether some install is at an older version
            # this database and extension know; an install is one of those
            # when it is older than the newest.
            older = _version_key(version) is not None and _version_key(version) < (_version_key(newest) or ())
            found.append(InstalledPack(name, version, json.loads(params), bool(upgradable) and older, instance))
    return found


def installed_listeners(connection: Connection) -> List[InstalledListener]:
    """The listeners in the connection's main database."""
    _require_extension(connection, "listing listeners")
    rows = connection.execute(
        text("SELECT name, table_name, event, columns, when_expr, action FROM trigger_listeners ORDER BY name")
    )
    return [
        InstalledListener(r[0], r[1], r[2], tuple(json.loads(r[3])) if r[3] is not None else None, r[4], r[5])
        for r in rows
    ]


@dataclass(frozen=True)
class Difference:
    """A declared pack or listener the database has in another form."""

    declared: Union[Pack, Listener]
    installed: Union[InstalledPack, InstalledListener]
    reasons: Tuple[str, ...]
    upgrade: bool = False
    """A pack installed at an older version with the declared parameters:
    ``trigger_upgrade`` brings it in line, keeping them."""


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare` found."""

    missing: Tuple[Union[Pack, Listener], ...]
    """Declared, and not in the database."""
    extra: Tuple[Union[InstalledPack, InstalledListener], ...]
    """In the database, and not declared."""
    differ: Tuple[Difference, ...]
    """Declared, and in the database with other parameters, version or definition."""

    @property
    def in_sync(self) -> bool:
        return not (self.missing or self.extra or self.differ)


_PACK_OBJECT = re.compile(r'CREATE (TRIGGER|(?:UNIQUE )?INDEX|(?:VIRTUAL )?TABLE) IF NOT EXISTS main\."((?:[^"]|"")*)"')


def given_params(pack: "InstalledPack") -> Dict[str, Any]:
    """An install's recorded parameters as a call may give them again: those
    the extension works out from the schema at install (a ``conflicts``
    or ``conflict_columns`` parameter) left out, since it refuses them."""
    kinds = ((_pack_catalogue() or {}).get(pack.name) or {}).get("kinds", {})
    derived = ("conflicts(", "conflict_columns(")
    return {k: v for k, v in pack.params.items() if not str(kinds.get(k, "")).startswith(derived)}


def _pack_object_kind(kind: str) -> str:
    """An object's type in sqlite_master, from its CREATE statement."""
    return kind.split()[-1].lower()


def _missing_pack_objects(connection: Connection, pack: InstalledPack) -> List[str]:
    """The triggers, indexes and tables an installed pack made that the
    database no longer has (dropped by hand, say): their names are the ones
    ``trigger_pack_sql`` gives for the parameters installed."""
    try:
        sql = connection.execute(
            text("SELECT trigger_pack_sql(:name, :params)"), {"name": pack.name, "params": json.dumps(given_params(pack))}
        ).scalar_one()
    except exc.DBAPIError:
        return []  # a pack the extension no longer renders: its version already differs
    missing = []
    for kind, quoted in _PACK_OBJECT.findall(sql):
        name = quoted.replace('""', '"')
        found = connection.execute(
            text("SELECT count(*) FROM sqlite_master WHERE type = :type AND name = :name COLLATE NOCASE"),
            {"type": _pack_object_kind(kind), "name": name},
        ).scalar()
        if not found:
            missing.append(f"{kind.replace('UNIQUE ', '').lower()} {name} is missing")
    return missing


def _declared_install(pack: Pack, installs: List[InstalledPack]) -> Optional[InstalledPack]:
    """The install of ``installs`` that ``pack`` declares: the pack's, and
    for a pack installed once per table (say) the one of its instance,
    spelled as declared or else differing only in the case of ASCII letters
    (SQLite's names)."""
    mine = [row for row in installs if row.name == pack.name]
    if pack.instance is None:
        return mine[0] if mine else None
    for same in (lambda i: i == pack.instance, lambda i: i is not None and _fold(i) == _fold(pack.instance)):
        for row in mine:
            if same(row.instance):
                return row
    return None


def _listener_reasons(declared_listener: Listener, row: InstalledListener) -> Tuple[str, ...]:
    reasons = []
    for field in ("table", "event", "action", "when", "columns"):
        want, have = getattr(declared_listener, field), getattr(row, field)
        if field in ("table", "columns") and _fold(want) == _fold(have):
            continue
        if want != have:
            reasons.append(f"{field}: declared {want!r}, installed {have!r}")
    return tuple(reasons)


def compare(metadata: MetaData, connection: Connection) -> Comparison:
    """Compares the packs and listeners declared on ``metadata`` with the
    ones in ``connection``'s database (``trigger_packs``,
    ``trigger_listeners``).

    A pack installed once per table (say) is compared install by install:
    a declaration is matched with the install of its instance
    (:attr:`Pack.instance`), and each install no declaration matches is
    extra. A pack differs when its installed version or parameters are not
    what an install of the declaration would record now (defaults filled in,
    values typed by their columns, as ``trigger_pack_sql`` shows), or when a
    trigger, index or table it made is gone (``"trigger X is missing"``). A pack
    that differs only by an older version the extension can upgrade has
    ``upgrade`` set on its :class:`Difference`. A listener is
    matched by its name when declared with one (then a different definition
    is a difference), else by its whole definition (then a changed one is
    missing, and the old one extra).
    """
    packs = installed_packs(connection)
    listeners = installed_listeners(connection)
    missing: List[Union[Pack, Listener]] = []
    differ: List[Difference] = []
    seen_packs: set = set()
    seen_listeners = set()
    for item in declared(metadata):
        if isinstance(item, Pack):
            row = _declared_install(item, [p for p in packs if p.key not in seen_packs])
            if row is None:
                missing.append(item)
                continue
            seen_packs.add(row.key)
            version, params = item.expected(connection)
            reasons = []
            for key in sorted(set(params) | set(row.params)):
                if params.get(key) != row.params.get(key):
                    reasons.append(f"parameter {key}: declared {params.get(key)!r}, installed {row.params.get(key)!r}")
            params_differ = bool(reasons)
            if row.version != version:
                reasons.insert(0, f"version: installed {row.version}, the extension's is {version}")
            reasons += _missing_pack_objects(connection, row)
            if reasons:
                differ.append(Difference(item, row, tuple(reasons), row.upgradable and not params_differ))
            continue
        found = next((r for r in listeners if item.matches(r)), None)
        if found is None and item.name is not None:
            found = next((r for r in listeners if _fold(r.name) == _fold(item.name)), None)
            if found is not None:
                seen_listeners.add(found.name)
                differ.append(Difference(item, found, _listener_reasons(item, found)))
                continue
        if found is None:
            missing.append(item)
        else:
            seen_listeners.add(found.name)
    extra: List[Union[InstalledPack, InstalledListener]] = [p for p in packs if p.key not in seen_packs]
    extra += [r for r in listeners if r.name not in seen_listeners]
    return Comparison(tuple(missing), tuple(extra), tuple(differ))
