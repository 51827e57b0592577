#!/usr/bin/env bash
# Runs the Ruby host (Debian's ruby with its ruby-sqlite3 gem, which links the
# system libsqlite3) against the extension given as $1: README.md's Ruby
# snippet as it is, then the seed story, the feed, the outbox and an error;
# then again on SQLite 3.37.0, where the load must be refused.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
ext=${1:?usage: run.sh EXTENSION}
ruby "$root/tests/hosts/ruby/host.rb" "$ext" "$root/README.md" "$root/examples/seed_schema.sql"

# The same host on SQLite 3.37.0 must get the readable refusal.
oldlib=$(bash "$root/tests/hosts/old-sqlite/shared-lib.sh")
said=$(LD_LIBRARY_PATH="$oldlib" ruby "$root/tests/hosts/ruby/host.rb" "$ext" "$root/README.md" "$root/examples/seed_schema.sql")
echo "$said"
grep -q '^ok: SQLite 3\.37\.0 refuses the load: .*needs SQLite 3\.38\.0 or newer, but this host runs SQLite 3\.37\.0' <<<"$said"
