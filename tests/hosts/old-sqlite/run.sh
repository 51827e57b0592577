#!/usr/bin/env bash
# Builds the old-SQLite test host (SQLite 3.37.0, bundled) and runs it against
# the sqlite-triggers extension: the load must fail with a readable version
# error and leave the host alive. Builds nothing else.
#   usage: tests/hosts/old-sqlite/run.sh [PATH_TO_EXTENSION]
#   default: <repo>/target/release/libsqlite_triggers (<repo> = /work/main here)
# The host is built in debug (its bundled SQLite compiles faster at -O0) into
# <repo>/target/old-sqlite-host.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
ext="${1:-$root/target/release/libsqlite_triggers}"
target_dir="$root/target/old-sqlite-host"

cargo build --quiet --manifest-path "$here/Cargo.toml" --target-dir "$target_dir"
set +e
"$target_dir/debug/old-sqlite-host" "$ext"
rc=$?
set -e
exit "$rc"
