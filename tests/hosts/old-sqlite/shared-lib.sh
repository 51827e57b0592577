#!/usr/bin/env bash
# Builds SQLite 3.37.0 (the amalgamation libsqlite3-sys 0.23.2 bundles, the
# same the old-SQLite host uses) as a shared libsqlite3.so.0 in
# <repo>/target/old-sqlite-lib, once, and prints that directory. Hosts that
# link the system libsqlite3 (the Go and Ruby hosts) run on it with
# LD_LIBRARY_PATH=<that directory> and must see the extension refuse to load.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
out="$root/target/old-sqlite-lib"
if [ ! -e "$out/libsqlite3.so.0" ]; then
  crate=$(cargo metadata --quiet --format-version 1 --manifest-path "$root/tests/hosts/old-sqlite/Cargo.toml" |
    python3 -c 'import json, os, sys
print(next(os.path.dirname(p["manifest_path"]) for p in json.load(sys.stdin)["packages"] if p["name"] == "libsqlite3-sys"))')
  grep -q '^#define SQLITE_VERSION  *"3\.37\.0"' "$crate/sqlite3/sqlite3.h" || { echo "not SQLite 3.37.0: $crate" >&2; exit 1; }
  mkdir -p "$out"
  # COLUMN_METADATA: Ruby's sqlite3 gem needs sqlite3_column_database_name.
  gcc -O0 -w -shared -fPIC -DSQLITE_THREADSAFE=1 -DSQLITE_ENABLE_COLUMN_METADATA=1 \
    -Wl,-soname,libsqlite3.so.0 -o "$out/libsqlite3.so.0.tmp" "$crate/sqlite3/sqlite3.c" -lpthread -ldl -lm
  mv "$out/libsqlite3.so.0.tmp" "$out/libsqlite3.so.0"
fi
echo "$out"
