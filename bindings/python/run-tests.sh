#!/usr/bin/env bash
# The Python package's tests, against the wheel as a user installs it:
#   - scripts/wheel builds target/wheels/sqlite_triggers-*.whl;
#   - a fresh venv of Debian's /usr/bin/python3 (whose sqlite3 can load
#     extensions) gets the wheel and requirements-test.txt;
#   - pytest runs a copy of tests/ (with examples/seed_schema.sql, the Flask
#     seed app examples/flask_seed/, the READMEs whose Python snippets it
#     runs and tests/fixtures/default_album-1.0.0.sql) in a temporary
#     folder, so nothing of the repository is importable;
#   - a Python whose sqlite3 cannot load extensions (the first python3 on
#     PATH that lacks enable_load_extension, e.g. pyenv's; else one of
#     pyenv's versions) gets a venv with the wheel too, and the tests run it
#     to see load() and enable(engine) fail with the fixes named. Without
#     such a Python those two tests are skipped.
# Usage: bash bindings/python/run-tests.sh [target/release/libsqlite_triggers[.so]] [pytest args]
# pip's downloads are cached in target/pip-cache.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
so=${1:-$root/target/release/libsqlite_triggers}
[ $# -gt 0 ] && shift
cd "$root"

wheel=$(bash scripts/wheel "${so%.so}.so")
export PIP_CACHE_DIR=$root/target/pip-cache PIP_DISABLE_PIP_VERSION_CHECK=1
fresh=$(mktemp -d "${TMPDIR:-/tmp}/sqlite-triggers-py.XXXXXX")
trap 'rm -rf "$fresh"' EXIT

/usr/bin/python3 -m venv "$fresh/venv"
"$fresh/venv/bin/pip" install --quiet -r "$here/requirements-test.txt" "$wheel"

noload=""
candidates=()
while IFS= read -r py; do candidates+=("$py"); done < <(type -ap python3)
for v in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.*/bin/python3; do [ -x "$v" ] && candidates+=("$v"); done
for py in "${candidates[@]}"; do
  if "$py" -c 'import sqlite3, sys, venv; sys.exit(sys.version_info < (3, 9) or hasattr(sqlite3.Connection, "enable_load_extension"))' 2>/dev/null; then
    noload=$py; break
  fi
done
if [ -n "$noload" ]; then
  echo "a Python without extension loading: $noload ($("$noload" --version))"
  "$noload" -m venv "$fresh/noload"
  "$fresh/noload/bin/pip" install --quiet -r "$here/requirements-noload.txt" "$wheel"
  export SQLITE_TRIGGERS_NOLOAD_PYTHON=$fresh/noload/bin/python
else
  echo "no Python without extension loading found: its tests are skipped"
fi

mkdir "$fresh/tests"
cp "$here"/tests/*.py "$root/examples/seed_schema.sql" "$here/README.md" "$fresh/tests/"
# default_album 1.0.0 as release 0.1.0 shipped its plain file: an install to upgrade.
cp "$root/tests/fixtures/default_album-1.0.0.sql" "$fresh/tests/"
cp "$root/README.md" "$fresh/tests/project-README.md"
cp -r "$root/examples/flask_seed" "$fresh/tests/flask_seed"
cd "$fresh/tests"
"$fresh/venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
