"""Writes the sqlite-triggers platform wheel: the package of src/, the
extension, its pack catalogue (packs.json), and the dist-info (METADATA, WHEEL, RECORD) a wheel needs, as a
zip with fixed timestamps, so the same inputs give the same bytes.

    python3 build_wheel.py --so libsqlite_triggers.so --platform manylinux_2_34_x86_64 --out DIR

It prints the wheel's path. `bash scripts/wheel` runs it and picks the
platform tag (see there); the tag is py3-none-<platform>, since the package
is pure Python apart from the extension, which uses no Python ABI.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import pathlib
import json
import re
import sqlite3
import sys
import tomllib
import zipfile

HERE = pathlib.Path(__file__).resolve().parent
TEMPLATES = HERE.parent.parent / "sql" / "packs"
EPOCH = (1980, 1, 1, 0, 0, 0)


def metadata(project: dict, readme: str) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project['description']}",
        f"License: {project['license']}",
        f"Keywords: {','.join(project.get('keywords', []))}",
        f"Requires-Python: {project['requires-python']}",
    ]
    lines += [f"Classifier: {c}" for c in project.get("classifiers", [])]
    for extra, deps in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {d}; extra == "{extra}"' for d in deps]
    lines.append("Description-Content-Type: text/markdown")
    return "\n".join(lines) + "\n\n" + readme


def _catalogue_module():
    """The package's _catalogue module, loaded from its file: it needs only
    the standard library, while importing the package would not."""
    spec = importlib.util.spec_from_file_location("_catalogue", HERE / "src" / "sqlite_triggers" / "_catalogue.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pack_catalogue(so: pathlib.Path, templates: pathlib.Path = TEMPLATES) -> bytes:
    """The extension's packs, their versions and parameters (with their
    defaults), as trigger_packs lists them, and the instance parameter of a
    pack installed once per table: Pack() checks its arguments against them
    and names its install without loading the extension (which would tie
    the process to Python's sqlite3, while the application may use apsw or
    sqlean).

    trigger_packs gives derived defaults filled in ("item_touch"), while an
    install's instance may follow other parameters ("{table}_touch"): those
    come from the pack's template in sql/packs, the file the extension
    embeds, with the kinds of the parameters, the objects and the statements
    an uninstall runs (for offline uninstall SQL). The template must be the
    one built into the extension: its version and instance parameter must be
    trigger_packs', and its defaults, derived as the extension derives them,
    trigger_packs' defaults."""
    catalogue = _catalogue_module()
    conn = sqlite3.connect(":memory:")
    conn.enable_load_extension(True)
    conn.load_extension(str(so.resolve()))
    rows = conn.execute("SELECT name, version, params, instance FROM trigger_packs ORDER BY name").fetchall()
    conn.close()
    packs = {}
    for name, version, params, instance in rows:
        path = templates / f"{name}.sql"
        if not path.is_file():
            sys.exit(f"build_wheel: the extension has pack {name}, and {path} is missing")
        t = catalogue.parse_template(path.read_text())
        defaults = json.loads(params)
        derived = {p: d for p, d in t["defaults"].items() if isinstance(d, str) and "{" in d}
        entry = {"version": version, "params": defaults, "instance": instance, "derived": derived,
                 "kinds": t["kinds"], "objects": t["objects"], "on_uninstall": t["on_uninstall"]}
        differs = []
        if (t.get("pack"), t.get("version"), t["instance"]) != (name, version, instance):
            differs.append(f"pack, version, instance {t.get('pack')}, {t.get('version')}, {t['instance']} "
                           f"(the extension's: {name}, {version}, {instance})")
        if sorted(t["defaults"]) != sorted(defaults):
            differs.append(f"parameters {', '.join(t['defaults'])} (the extension's: {', '.join(defaults)})")
        else:
            for p, value in defaults.items():
                mine = catalogue.default_of(entry, p, {})
                if mine != value:
                    differs.append(f"default of {p} {mine!r} (the extension's: {value!r})")
        for statement in t["on_uninstall"]:
            try:
                catalogue.render_plain(statement, t["kinds"], defaults)
            except ValueError as error:
                differs.append(f"uninstall statement {statement!r} cannot be written as plain SQL: {error}")
        if differs:
            sys.exit(f"build_wheel: {path} is not the template of the extension's pack {name}: "
                     + "; ".join(differs) + " (build the extension from this checkout)")
        packs[name] = entry
    return (json.dumps({"packs": packs}, indent=1, sort_keys=True) + "\n").encode()


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--so", required=True, type=pathlib.Path)
    parser.add_argument("--platform", required=True, help="e.g. manylinux_2_34_x86_64")
    parser.add_argument("--out", required=True, type=pathlib.Path)
    args = parser.parse_args()
    if not re.fullmatch(r"[a-z0-9_]+", args.platform):
        parser.error(f"--platform {args.platform!r} is not a platform tag")

    project = tomllib.loads((HERE / "pyproject.toml").read_text())["project"]
    name, version = project["name"], project["version"]
    dist = name.replace("-", "_")
    package = HERE / "src" / "sqlite_triggers"
    init = (package / "__init__.py").read_text()
    declared = re.search(r'^__version__ = "([^"]+)"$', init, re.M)
    if not declared or declared.group(1) != version:
        sys.exit(f"build_wheel: __version__ in {package / '__init__.py'} is not {version} (pyproject.toml)")

    files: list[tuple[str, bytes, int]] = []  # (name in the wheel, bytes, unix mode)
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".typed"):
            files.append((f"sqlite_triggers/{path.relative_to(package).as_posix()}", path.read_bytes(), 0o644))
    files.append(("sqlite_triggers/libsqlite_triggers.so", args.so.read_bytes(), 0o755))
    files.append(("sqlite_triggers/packs.json", pack_catalogue(args.so), 0o644))

    info = f"{dist}-{version}.dist-info"
    tag = f"py3-none-{args.platform}"
    files.append((f"{info}/METADATA", metadata(project, (HERE / "README.md").read_text()).encode(), 0o644))
    wheel = (
        "Wheel-Version: 1.0\n"
        "Generator: sqlite-triggers build_wheel.py\n"
        "Root-Is-Purelib: false\n"
        f"Tag: {tag}\n"
    )
    files.append((f"{info}/WHEEL", wheel.encode(), 0o644))
    files.append((f"{info}/top_level.txt", b"sqlite_triggers\n", 0o644))
    record = "\n".join(record_line(n, d) for n, d, _ in files) + f"\n{info}/RECORD,,\n"
    files.append((f"{info}/RECORD", record.encode(), 0o644))

    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, data, mode in files:
            entry = zipfile.ZipInfo(n, EPOCH)
            entry.external_attr = (0o100000 | mode) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(entry, data)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
