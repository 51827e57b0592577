#!/usr/bin/env bash
# Builds slt-runner (the sqllogictest runner) twice, into separate target
# folders, and prints the two binary paths on stdout (bundled first):
#
#   bundled: SQLite 3.53.2 compiled from libsqlite3-sys's amalgamation
#            -> target/slt-bundled/debug/slt-runner
#   system:  the machine's libsqlite3 (Debian 12: 3.40.1; needs the apt
#            package libsqlite3-dev) -> target/slt-system/debug/slt-runner
#
# Usage: sqlite-tests/runner/build-runners.sh [bundled|system|both]   (default both)
#
# The dev profile is used: on 2 cores it builds much faster than release
# (sqlite3.c is compiled once per variant without optimisation) and the
# scripts run in well under a second either way. Crates come from the cargo
# cache or crates.io, pinned by this folder's Cargo.lock; nothing else is
# downloaded. Cargo's progress goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
which="${1:-both}"

case "$which" in
  bundled|system|both) ;;
  *) echo "usage: $0 [bundled|system|both]" >&2; exit 2 ;;
esac

build() { # variant, extra cargo args...
  local variant="$1"; shift
  cargo build --manifest-path "$here/Cargo.toml" --locked \
    --target-dir "$root/target/slt-$variant" "$@" >&2
}

if [[ "$which" == bundled || "$which" == both ]]; then
  build bundled
fi
if [[ "$which" == system || "$which" == both ]]; then
  if ! pkg-config --exists sqlite3 2>/dev/null && [[ ! -e /usr/include/sqlite3.h ]]; then
    echo "build-runners.sh: the system variant needs SQLite's headers and library:" >&2
    echo "  apt-get install -y libsqlite3-dev pkg-config" >&2
    exit 1
  fi
  build system --no-default-features --features system
fi

[[ "$which" == system ]] || echo "$root/target/slt-bundled/debug/slt-runner"
[[ "$which" == bundled ]] || echo "$root/target/slt-system/debug/slt-runner"
