#!/usr/bin/env bash
# Builds the Go host (database/sql with mattn/go-sqlite3 from Debian's
# golang-github-mattn-go-sqlite3-dev, which links the system libsqlite3) into
# target/go-host and runs it against the extension given as $1. Offline: the
# module is replaced by Debian's copy, no proxy is asked. Also checks that
# the Go lines of README.md appear word for word in the host, and that on
# SQLite 3.37.0 (LD_LIBRARY_PATH) the load is refused.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
ext=${1:?usage: run.sh EXTENSION}
here="$root/tests/hosts/go"
out="$root/target/go-host"
mkdir -p "$out"

# README.md's ```go block: every line of it must be in main.go.
snippet=$(awk '/^```go$/ {on=1; next} /^```/ {on=0} on' "$root/README.md")
[ -n "$snippet" ] || { echo "FAIL: no \`\`\`go block in README.md"; exit 1; }
while IFS= read -r line; do
  line="${line#"${line%%[![:space:]]*}"}"
  case "$line" in ""|//*) continue ;; esac
  grep -qF -- "$line" "$here/main.go" || { echo "FAIL: README.md's Go line is not in tests/hosts/go/main.go: $line"; exit 1; }
done <<<"$snippet"
echo "ok: README.md's Go snippet matches tests/hosts/go/main.go"

export GOCACHE="$out/cache" GOPATH="$out/gopath" GOPROXY=off GOTOOLCHAIN=local GOTELEMETRY=off
(cd "$here" && go build -o "$out/sqlite-triggers-go-host" .)
ldd "$out/sqlite-triggers-go-host" | grep -q 'libsqlite3\.so' \
  || { echo "FAIL: the Go host does not link the system libsqlite3"; exit 1; }
echo "ok: the Go host links $(ldd "$out/sqlite-triggers-go-host" | grep -o '/[^ ]*libsqlite3\.so[^ ]*')"
"$out/sqlite-triggers-go-host" "$ext" "$root/examples/seed_schema.sql"

# The same host on SQLite 3.37.0 must get the readable refusal.
oldlib=$(bash "$root/tests/hosts/old-sqlite/shared-lib.sh")
said=$(LD_LIBRARY_PATH="$oldlib" "$out/sqlite-triggers-go-host" "$ext" "$root/examples/seed_schema.sql")
echo "$said"
grep -q '^ok: SQLite 3\.37\.0 refuses the load: .*needs SQLite 3\.38\.0 or newer, but this host runs SQLite 3\.37\.0' <<<"$said"
