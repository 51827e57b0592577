"""docs/reference.md's table of SQL functions is the reference: it must list
exactly the functions and table-valued functions the built extension adds
(pragma_function_list and pragma_module_list, both directions), with each
function's flags and argument names as the extension declares them."""
import re

import sqlhosts
from conftest import ROOT

FLAG_BITS = {"deterministic": 0x800, "direct-only": 0x80000, "innocuous": 0x200000}
ROW = re.compile(r"^\| `(trigger_\w+)(?:\((.*?)\))?`( \(table\))? \| ([^|]+) \|")


def reference():
    """{name: (is_table, argument names, flags text)} from docs/reference.md."""
    text = (ROOT / "docs" / "reference.md").read_text()
    section = text[text.index("\n## Functions\n"):]
    section = section[: section.index("\n## ", 1)]
    out = {}
    for line in section.splitlines():
        m = ROW.match(line)
        if m:
            name, args, table, flags = m.groups()
            names = [a.strip(" []") for a in (args or "").split(",")]
            out[name] = (bool(table), [a for a in names if a], flags.strip())
    return out


def test_the_reference_lists_exactly_what_the_extension_adds():
    h = sqlhosts.host("sqlite3")
    scalars, tables = sqlhosts.extension_functions(h)
    ref = reference()
    assert sorted(n for n, (t, _, _) in ref.items() if not t) == scalars
    assert sorted(n for n, (t, _, _) in ref.items() if t) == tables


def test_the_reference_gives_each_function_its_flags_and_arguments():
    h = sqlhosts.host("sqlite3")
    conn = h.connect()
    flags = {}
    for name, f in h.rows(conn, "SELECT name, flags FROM pragma_function_list WHERE name LIKE 'trigger%'"):
        flags[name] = flags.get(name, 0) | f
    for name, (is_table, args, text) in reference().items():
        if is_table:
            continue
        words = {w.strip() for w in text.split(",")}
        for word, bit in FLAG_BITS.items():
            assert (word in words) == bool(flags[name] & bit), (name, text, hex(flags[name]))
        low, high, declared = sqlhosts.signature(h, conn, name)
        assert args == declared, (name, args, declared)
