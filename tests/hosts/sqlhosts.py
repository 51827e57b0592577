"""What the fuzz, loading and security tests share: the two Python hosts
behind one interface, the extension's functions as the host sees them, and
hostile names.

Nothing here names the extension's functions: they are found by diffing
pragma_function_list and pragma_module_list against a connection without the
extension, so functions added later are covered without edits.
"""
import importlib.util
import json
import os
import pathlib
import re
import sqlite3

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXT = os.environ.get("SQLITE_TRIGGERS_EXT", str(ROOT / "target" / "release" / "libsqlite_triggers"))
SEED_SCHEMA = (ROOT / "examples" / "seed_schema.sql").read_text()
# The hosts the tests run in: apsw when it is installed (scripts/setup does).
HOSTS = ["sqlite3", "apsw"] if importlib.util.find_spec("apsw") else ["sqlite3"]

# Names that must either work as identifiers (and behave) or be refused with a
# clear error, and never run as SQL. Several carry a payload against the
# table `canary`, which the tests check afterwards.
HOSTILE_NAMES = [
    '"',
    "'",
    'a"b',
    "a'b",
    '"; DROP TABLE canary; --',
    "'); DROP TABLE canary; --",
    "x]; DROP TABLE canary; --",
    "[x]",
    "a]b",
    "`x`",
    "a`b",
    "a;b",
    "x; DELETE FROM canary",
    "a -- b",
    "--",
    "a /* b",
    "*/ DROP TABLE canary /*",
    "a\nb",
    "\nDROP TABLE canary;\n",
    "a\rb\tc",
    " leading and trailing ",
    "ü名前 🙂",
    "\u202eevil\u202c",
    "zero\u200bwidth",
    "select",
    "end",
    "?1",
    ":name",
    "@x $y",
    "\\",
    "x{index_name}",
    "{{obs_table}}",
    "x" * 10_000,
]

# Names SQLite itself reserves or cannot store: a clear refusal is expected.
REFUSED_NAMES = ["", "a\x00b", "sqlite_x"]


class Param:
    """One parameter of a built-in pack, as its template's header declares
    it: `kind` is the word (ident, text, value, idents, choice, expr), `args`
    what its parentheses hold (a choice's words, the table of a list), and
    `default` the default as written (a derived one still holds `{param}`)."""

    def __init__(self, name, kind, args, default):
        self.name, self.kind, self.args, self.default = name, kind, args, default

    def __repr__(self):
        return f"Param({self.name!r}, {self.kind!r}, {self.args!r}, {self.default!r})"


def pack_templates():
    """{pack: {parameter: Param}} for every built-in pack, read from the
    headers of sql/packs/*.sql, so that a pack or parameter added later is
    known by its kind without an edit here."""
    packs = {}
    for path in sorted((ROOT / "sql" / "packs").glob("*.sql")):
        name, params = None, {}
        for line in path.read_text().splitlines():
            if not line.startswith("-- ") or ": " not in line:
                break
            key, rest = line[3:].split(": ", 1)
            if key == "pack":
                name = rest.strip()
            elif key == "requires":
                table, _, cols = [f.strip() for f in rest.partition("|")]
                params.setdefault("__requires__", []).append((table, cols.split()))
            elif key == "param":
                pname, kind, default = [f.strip() for f in rest.split("|")[:3]]
                word, _, args = kind.partition("(")
                args = [a.strip() for a in re.split(r"[,\s]+", args.rstrip(")")) if a.strip() and a.strip() != "-"]
                params[pname] = Param(pname, word, args, json.loads(default))
        requires = params.pop("__requires__", [])
        packs[name] = params
        REQUIRES[name] = requires
    return packs


# {pack: [(table parameter, [column parameters])]}: the `-- requires:` lines
# of each template, filled by pack_templates().
REQUIRES = {}


def derive(params, given):
    """Every parameter's value: the given ones, else the default, with the
    `{param}` references of a derived default filled in one pass, as the
    extension does (a filled-in value is not expanded again)."""
    def value(p, depth=0):
        if p.name in given:
            return given[p.name]
        if not isinstance(p.default, str) or "{" not in p.default or depth > len(params):
            return p.default
        def fill(m):
            if m.group(1) not in params:
                return m.group(0)
            v = value(params[m.group(1)], depth + 1)
            return v if isinstance(v, str) else json.dumps(v)  # refused by the extension anyway

        return re.sub(r"\{(\w+)\}", fill, p.default)
    return {name: value(p) for name, p in params.items()}


def load(conn):
    """Loads the extension; both hosts' connections take the same calls."""
    conn.enable_load_extension(True)
    conn.load_extension(EXT)
    conn.enable_load_extension(False)


class Sqlite3Host:
    """Python's sqlite3 module: Debian's, SQLite 3.40.1."""

    name = "sqlite3"
    Error = sqlite3.OperationalError
    version = sqlite3.sqlite_version

    @staticmethod
    def connect(path=":memory:", load=True, uri=False):
        conn = sqlite3.connect(path, isolation_level=None, uri=uri)
        if load:
            Sqlite3Host.load(conn)
        return conn

    @staticmethod
    def load(conn):
        load(conn)

    @staticmethod
    def rows(conn, sql, params=()):
        return conn.execute(sql, params).fetchall()

    @staticmethod
    def script(conn, sql):
        conn.executescript(sql)

    @staticmethod
    def in_transaction(conn):
        return conn.in_transaction


class ApswHost:
    """apsw from PyPI, which bundles the newest SQLite."""

    name = "apsw"

    def __init__(self):
        import apsw

        self.apsw = apsw
        self.Error = apsw.SQLError
        self.version = apsw.sqlite_lib_version()

    def connect(self, path=":memory:", load=True, uri=False):
        flags = self.apsw.SQLITE_OPEN_READWRITE | self.apsw.SQLITE_OPEN_CREATE
        if uri:
            flags |= self.apsw.SQLITE_OPEN_URI
        conn = self.apsw.Connection(path, flags=flags)
        if load:
            self.load(conn)
        return conn

    @staticmethod
    def load(conn):
        load(conn)

    @staticmethod
    def rows(conn, sql, params=()):
        return conn.execute(sql, params).fetchall()

    @staticmethod
    def script(conn, sql):
        conn.execute(sql)

    @staticmethod
    def in_transaction(conn):
        return not conn.get_autocommit()


def host(name):
    return Sqlite3Host() if name == "sqlite3" else ApswHost()


def extension_functions(h):
    """(scalar functions, table-valued functions) the extension adds, sorted."""
    plain, loaded = h.connect(load=False), h.connect()
    found = []
    for query in ("SELECT DISTINCT name FROM pragma_function_list", "SELECT name FROM pragma_module_list"):
        before = {r[0] for r in h.rows(plain, query)}
        found.append(sorted({r[0] for r in h.rows(loaded, query)} - before))
    plain.close()
    loaded.close()
    return tuple(found)


_ARITY = re.compile(r"^(\w+)\(\): takes (\d+)(?: (?:or|to) (\d+))? arguments? \((.*)\), got \d+ arguments?$", re.S)


def signature(h, conn, function):
    """(min args, max args, argument names) from the function's own arity
    error, or None when it has no such error (every function of the
    extension should have one)."""
    try:
        h.rows(conn, f"SELECT {function}({', '.join(['NULL'] * 100)})")
    except h.Error as e:
        m = _ARITY.match(str(e))
        if m and m.group(1) == function:
            low = int(m.group(2))
            high = int(m.group(3) or low)
            text = m.group(4)
            names = [] if text == "no arguments" else [n.strip(" []") for n in text.split(",")]
            names = [n for n in names if n]
            return low, high, names
    return None


def schema(h, conn, schema_name="main"):
    """Every schema object, for before/after comparisons."""
    return h.rows(conn, f"SELECT type, name, tbl_name, sql FROM {schema_name}.sqlite_master ORDER BY type, name")
