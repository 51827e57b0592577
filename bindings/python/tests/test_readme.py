"""Every ```python block of the package's README.md, and the one of the
project README's "From Python" section (copied here as project-README.md),
runs as it is, in order in one namespace, and prints what its comments say
(`# value` after a print). ```py blocks are excerpts of an Alembic env.py,
which only Alembic runs: test_alembic.py makes an env.py with those lines."""
import contextlib
import io
import pathlib
import re

import pytest

HERE = pathlib.Path(__file__).resolve().parent


def blocks(name):
    text = (HERE / name).read_text()
    if name == "project-README.md":
        text = text.split("\n## From Python\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", text, re.S)


def expected(block):
    return [m.group(1).strip() for m in re.finditer(r"^\s*print\(.*\)\s+#\s*(.*)$", block, re.M)]


@pytest.mark.parametrize("name, count", [("README.md", 7), ("project-README.md", 1)])
def test_readme_python_blocks(name, count, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # app.db goes there
    found = blocks(name)
    assert len(found) == count
    namespace = {}
    for block in found:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, name, "exec"), namespace)
        assert out.getvalue().splitlines() == expected(block), block
