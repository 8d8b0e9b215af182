#!/usr/bin/env bash
# Plugin overhead of `run` on the local control plane (not the pod start, not the workloads):
# start → launcher pod created, and done marker → verdict printed. Target: < 1 s each.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build
LOCALCLUSTER_BIN="$(hack/localcluster/build.sh)" LLMDBENCH_PLUGIN="$PWD/bin/kubectl-llmdbench" \
  go test -count=1 -run '^$' -bench BenchmarkRunOverhead -benchtime "${BENCHTIME:-10x}" ./test/e2e/run/
