#!/usr/bin/env bash
# Memory: open -> load -> use -> close cycles in a C host on the system SQLite
# (cycles.c).
#   1. under valgrind (VALGRIND_CYCLES, default 200): no definite leak, no
#      invalid memory access;
#   2. without valgrind (RSS_CYCLES, default 10000): resident memory after
#      RSS_CYCLES cycles is at most RSS_SLACK_KB (default 512) above what it
#      is after 1000 cycles.
#   usage: tests/hosts/memory/run.sh [PATH_TO_EXTENSION]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
ext="${1:-$root/target/release/libsqlite_triggers}"
valgrind_cycles="${VALGRIND_CYCLES:-200}"
rss_cycles="${RSS_CYCLES:-10000}"
slack_kb="${RSS_SLACK_KB:-512}"
out="$root/target/memory-host"
mkdir -p "$out"

gcc -std=gnu99 -O1 -g -Wall -Wextra -Werror -o "$out/cycles" "$here/cycles.c" -lsqlite3

status=0
if command -v valgrind >/dev/null; then
  start=$SECONDS
  if valgrind --quiet --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --error-exitcode=1 \
      "$out/cycles" "$ext" "$valgrind_cycles"; then
    echo "valgrind: $valgrind_cycles cycles, no definite leak, no memory error ($((SECONDS - start)) s)"
  else
    echo "valgrind: FAILED (see above)"; status=1
  fi
else
  echo "valgrind: not installed (bash scripts/setup installs it)"; status=1
fi

start=$SECONDS
report=$("$out/cycles" "$ext" "$rss_cycles" 1000 "$rss_cycles") || { echo "$report"; exit 1; }
echo "$report"
at_1000=$(awk '$1 == "rss_kb" && $2 == 1000 { print $3 }' <<<"$report")
at_end=$(awk -v n="$rss_cycles" '$1 == "rss_kb" && $2 == n { print $3 }' <<<"$report")
growth=$((at_end - at_1000))
if [ "$growth" -le "$slack_kb" ]; then
  echo "rss: ${at_1000} kB after 1000 cycles, ${at_end} kB after $rss_cycles: +${growth} kB (bound ${slack_kb} kB) ($((SECONDS - start)) s)"
else
  echo "rss: FAILED: ${at_1000} kB after 1000 cycles, ${at_end} kB after $rss_cycles: +${growth} kB, more than ${slack_kb} kB"
  status=1
fi
exit $status
