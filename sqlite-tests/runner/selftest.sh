#!/usr/bin/env bash
# Checks slt-runner itself, for each binary given (default: the two that
# build-runners.sh makes):
#   - selftest/ passes (exit 0);
#   - selftest-fail/ fails (exit 1, a FAIL line per file);
#   - a bad option and a missing path are usage errors (exit 2);
#   - SQLite's corpus in ../shared/sqllogictest-corpus passes, if present.
# Usage: sqlite-tests/runner/selftest.sh [SLT_RUNNER_BINARY...]
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
corpus="$root/../shared/sqllogictest-corpus"
if [[ $# -eq 0 ]]; then
  set -- "$root/target/slt-bundled/debug/slt-runner" "$root/target/slt-system/debug/slt-runner"
fi

failures=0
check() { # description, expected exit code, command...
  local what="$1" want="$2"; shift 2
  local out rc
  out="$("$@" 2>&1)"; rc=$?
  if [[ $rc -ne $want ]]; then
    echo "FAILED: $what: exit $rc, wanted $want"; echo "$out" | sed 's/^/    /'
    failures=$((failures + 1))
    return 1
  fi
  echo "passed: $what (exit $rc)"
  LAST_OUTPUT="$out"
}

for bin in "$@"; do
  if [[ ! -x "$bin" ]]; then
    echo "FAILED: no binary $bin (run build-runners.sh)"; failures=$((failures + 1)); continue
  fi
  echo "== $("$bin" --version)"
  check "selftest passes" 0 "$bin" "$here/selftest"
  if check "selftest-fail fails" 1 "$bin" "$here/selftest-fail"; then
    n=$(grep -c '^FAIL ' <<<"$LAST_OUTPUT")
    if [[ $n -ne 2 ]]; then echo "FAILED: expected 2 FAIL lines, got $n"; failures=$((failures + 1)); fi
  fi
  check "unknown option is a usage error" 2 "$bin" --no-such-option "$here/selftest"
  check "missing path is a usage error" 2 "$bin" "$here/no-such-folder"
  if [[ -d "$corpus" ]]; then
    check "SQLite corpus passes" 0 "$bin" "$corpus" && tail -2 <<<"$LAST_OUTPUT" | sed 's/^/    /'
  fi
done

if [[ $failures -ne 0 ]]; then
  echo "selftest: $failures check(s) failed"
  exit 1
fi
echo "selftest: all checks passed"
