#!/usr/bin/env bash
# Runs every fuzz target of the module for a bounded time each (FUZZTIME, default 10s): the seed
# corpus runs in `make unit` anyway; this explores beyond it. go test fuzzes one target per run.
#
# Go before 1.27 can fail a -fuzztime run that found nothing with a bare "context deadline
# exceeded" when the deadline races a busy worker (go.dev/issue/75804). Such a run (no failing
# input written, no other failure line) is run once more; a second one, or any real finding, fails.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# deadline_flake LOG: the run failed only by the fuzz engine's deadline race.
deadline_flake() {
  grep -q '^    context deadline exceeded$' "$1" &&
    ! grep -qE 'Failing input written to|panic:' "$1" &&
    [ "$(grep -c '^    ' "$1")" -eq 1 ]
}

# Self-check of the classifier on recorded logs, so a change to it cannot hide real findings.
for f in hack/testdata/fuzz-logs/*.log; do
  want=real
  [ "${f##*/}" = deadline-race.log ] && want=flake
  got=real
  deadline_flake "$f" && got=flake
  [ "$got" = "$want" ] || { echo "fuzz.sh: $f is classified $got, want $want" >&2; exit 1; }
done

grep -rl --include='*_test.go' '^func Fuzz' pkg | sort | while read -r file; do
  pkg=./$(dirname "$file")
  for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
    echo "fuzz $pkg $target for $fuzztime"
    for attempt in 1 2; do
      if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
        tail -n 1 "$log"
        break
      fi
      if [ "$attempt" = 1 ] && deadline_flake "$log"; then
        echo "  $target: the fuzz engine's deadline race (go.dev/issue/75804), nothing found; once more"
        continue
      fi
      cat "$log"
      exit 1
    done
  done
done
