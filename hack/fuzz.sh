#!/usr/bin/env bash
# Runs every fuzz target of the module for a bounded time each (FUZZTIME, default 10s): the seed
# corpus runs in `make unit` anyway; this explores beyond it. go test fuzzes one target per run.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}
grep -rl --include='*_test.go' '^func Fuzz' pkg | sort | while read -r file; do
  pkg=./$(dirname "$file")
  for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
    echo "fuzz $pkg $target for $fuzztime"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/fuzz-$$.log 2>&1 || { cat /tmp/fuzz-$$.log; rm -f /tmp/fuzz-$$.log; exit 1; }
    tail -n 1 /tmp/fuzz-$$.log
  done
done
rm -f /tmp/fuzz-$$.log
