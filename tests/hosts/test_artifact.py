"""The built .so itself: it exports the two entry points and carries no
SQLite of its own (every call goes through the host's API table)."""
import shutil
import subprocess

import pytest

from conftest import EXT


@pytest.mark.skipif(shutil.which("nm") is None, reason="no nm")
def test_exports_both_entry_points_and_no_sqlite_code():
    out = subprocess.run(["nm", "-D", "--defined-only", EXT + ".so"], capture_output=True, text=True, check=True).stdout
    exported = sorted(line.split()[-1] for line in out.splitlines() if "sqlite3" in line.split()[-1])
    assert exported == ["sqlite3_extension_init", "sqlite3_sqlitetriggers_init"]


@pytest.mark.skipif(shutil.which("ldd") is None, reason="no ldd")
def test_links_no_sqlite_library():
    out = subprocess.run(["ldd", EXT + ".so"], capture_output=True, text=True, check=True).stdout
    assert "sqlite" not in out


@pytest.mark.skipif(shutil.which("readelf") is None, reason="no readelf")
def test_is_never_unloaded():
    # SQLite unloads an extension's library with the last connection that
    # loaded it; the library's process-wide state (parsed packs, modules)
    # would leak on every open/load/close cycle (tests/hosts/memory).
    out = subprocess.run(["readelf", "-d", EXT + ".so"], capture_output=True, text=True, check=True).stdout
    assert "NODELETE" in out
