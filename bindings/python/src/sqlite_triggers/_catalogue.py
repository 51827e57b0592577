"""The bundled extension's pack catalogue (``packs.json``, written by the
wheel's build beside the extension) and what follows from it without
loading the extension: the instance of an install, as the extension names
it, and a pack's uninstall statements written out as plain SQL.

This module imports nothing but the standard library: the wheel's build
uses it too, to read the templates and to check them against the extension.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any, Dict, List, Mapping, Optional

_CATALOGUE: Optional[Dict[str, Any]] = None


def catalogue() -> Optional[Dict[str, Any]]:
    """The packs of the bundled extension, by name (``version``, ``params``
    (the defaults as ``trigger_packs`` lists them), ``instance``,
    ``derived``, ``kinds``, ``objects``, ``on_uninstall``); None where the
    package has no ``packs.json``."""
    global _CATALOGUE
    if _CATALOGUE is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "packs.json")
        try:
            with open(path, encoding="utf-8") as f:
                _CATALOGUE = json.load(f)["packs"]
        except (OSError, ValueError, KeyError, TypeError):
            _CATALOGUE = {}
    return _CATALOGUE or None


def derive(pattern: str, given: Mapping[str, Any], defaults: Mapping[str, Any],
           derived: Mapping[str, str], depth: int = 0) -> str:
    """A derived default (``"{table}_touch"``) filled in as the extension
    fills it: in one pass, each ``{param}`` naming a parameter replaced by
    the value given for it, else by its own default, derived in turn; a
    value given is copied as it is, and a ``{`` that names no parameter
    stays. ``defaults`` are the plain defaults, ``derived`` the patterns of
    the derived ones. Raises ValueError for a value that is not a string
    and for defaults that refer to each other in a loop."""
    if depth > len(defaults) + len(derived):
        raise ValueError(f"the defaults refer to each other in a loop ({pattern})")
    out = []
    rest = pattern
    while True:
        start = rest.find("{")
        if start < 0:
            break
        out.append(rest[:start])
        after = rest[start + 1:]
        end = after.find("}")
        name = after[:end] if end >= 0 else None
        if name is None or (name not in defaults and name not in derived):
            out.append("{")
            rest = after
            continue
        if name in given:
            value = given[name]
        elif name in derived:
            value = derive(derived[name], given, defaults, derived, depth + 1)
        else:
            value = defaults[name]
        if not isinstance(value, str):
            raise ValueError(f"parameter {name} must be a string, got {value!r}")
        out.append(value)
        rest = after[end + 1:]
    out.append(rest)
    return "".join(out)


def default_of(pack: Mapping[str, Any], param: str, given: Mapping[str, Any]) -> Any:
    """The value the extension gives ``param`` of ``pack`` (a catalogue
    entry) when the parameters ``given`` leave it out."""
    derived = pack.get("derived", {})
    if param in derived:
        return derive(derived[param], given, pack.get("params", {}), derived)
    return pack.get("params", {}).get(param)


def instance_of(pack: Mapping[str, Any], given: Mapping[str, Any]) -> Optional[str]:
    """The instance of an install of ``pack`` (a catalogue entry) with the
    parameters ``given``: the value of its ``-- instance:`` parameter, given
    or defaulted; None for a pack installed once. Raises ValueError when
    that value is not a string."""
    param = pack.get("instance")
    if not param:
        return None
    value = given[param] if param in given else default_of(pack, param, given)
    if not isinstance(value, str):
        raise ValueError(f"parameter {param} tells the pack's installs apart and must be a string, got {value!r}")
    return value


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")


def render_plain(statement: str, kinds: Mapping[str, str], values: Mapping[str, Any]) -> str:
    """A template statement whose placeholders are all ``{{param}}`` of
    ident or text parameters, with the values an install recorded: names
    double-quoted, text single-quoted, as the extension writes them."""

    def one(m: "re.Match[str]") -> str:
        name = m.group(1)
        kind = kinds.get(name)
        if kind not in ("ident", "text") or not isinstance(values.get(name), str):
            raise ValueError(f"{{{{{name}}}}} is not a name or text parameter of the install")
        return quote_ident(values[name]) if kind == "ident" else quote_text(values[name])

    return _PLACEHOLDER.sub(one, statement)


def parse_template(text: str) -> Dict[str, Any]:
    """What the catalogue keeps of a pack template (the extension's
    ``-- KEY: VALUE`` header and its ``-- on uninstall:`` statements): the
    name, version, instance parameter, each parameter's kind and default as
    written (a derived one keeps its ``{param}`` references), the objects
    (kind, name parameter) and the uninstall statements."""
    lines = text.splitlines()
    header: Dict[str, Any] = {"instance": None, "kinds": {}, "defaults": {}, "objects": [], "on_uninstall": []}
    body_at = len(lines)
    for i, line in enumerate(lines):
        if line.strip() == "--":
            body_at = i + 1
            break
        m = re.match(r"--\s*([a-z]+):\s*(.*)$", line)
        if not m:
            continue
        key, rest = m.groups()
        if key in ("pack", "version", "instance"):
            header[key] = rest.strip()
        elif key == "param":
            name, kind, default, _ = [f.strip() for f in rest.split("|", 3)]
            header["kinds"][name] = kind
            header["defaults"][name] = json.loads(default)
        elif key == "object":
            fields = [f.strip() for f in rest.split("|")]
            header["objects"].append([fields[0], fields[1]])
    statements: List[str] = []
    uninstall = False
    current: List[str] = []
    for line in lines[body_at:]:
        if line.strip() == "-- on uninstall:":
            uninstall = True
            continue
        if not uninstall or (not current and (not line.strip() or line.lstrip().startswith("--"))):
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            statements.append("\n".join(current))
            current = []
    header["on_uninstall"] = statements
    return header
