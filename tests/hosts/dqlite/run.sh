#!/usr/bin/env bash
# A three-node dqlite cluster on 127.0.0.1 with sqlite-triggers on every node
# (hosts/dqlite-node), driven by a Go client (go-dqlite's database/sql
# driver, Debian's golang-github-canonical-go-dqlite-dev, built offline in
# GOPATH mode) that SIGKILLs the leader at random points and checks the
# packs, the outbox and an acking consumer after each failover; then a node
# without the extension joins and leads. See main.go.
#
# Usage: run.sh EXTENSION [--soak | --bench [--quick] --out FILE]
#   quick (scripts/test): 4 failovers; --soak: 40 (DQLITE_ROUNDS overrides).
#   --bench: benchmark 12 of docs/benchmarks.md instead of the failovers
#   (scripts/bench runs it), its raw samples written to FILE.
# Builds into target/dqlite-node and target/dqlite-test; the cluster's data
# and logs go to a temporary folder, kept (and named) when the test fails.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
ext=${1:?usage: run.sh EXTENSION [--soak | --bench [--quick] --out FILE]}
rounds=${DQLITE_ROUNDS:-4}
mode=("$rounds")
case "${2:-}" in
  --soak) mode=("${DQLITE_ROUNDS:-40}") ;;
  --bench) mode=("${@:2}") ;;
esac
[ -e "$ext" ] || [ -e "$ext.so" ] || { echo "FAIL: no extension at $ext"; exit 1; }
ext=$(cd "$(dirname "$ext")" && pwd)/$(basename "$ext")

make -s -C "$root/hosts/dqlite-node"
out="$root/target/dqlite-test"
mkdir -p "$out"
export GOCACHE="$out/cache" GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOTOOLCHAIN=local GOTELEMETRY=off GOFLAGS=
(cd "$root/tests/hosts/dqlite" && go build -o "$out/dqlite-cluster-test" .)

work=$(mktemp -d "${TMPDIR:-/tmp}/dqlite-cluster.XXXXXX")
# Stop the nodes by pid whatever happens, and only them.
cleanup() {
  local rc=$?
  if [ -f "$work/pids" ]; then
    while read -r pid; do
      [ -n "$pid" ] && grep -qa dqlite-node "/proc/$pid/cmdline" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    done <"$work/pids"
  fi
  if [ $rc -eq 0 ]; then rm -rf "$work"; else echo "the cluster's data and node logs: $work"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$out/dqlite-cluster-test" "$root/target/dqlite-node/dqlite-node" "$ext" "$root/examples/seed_schema.sql" "$work" "${mode[@]}"
