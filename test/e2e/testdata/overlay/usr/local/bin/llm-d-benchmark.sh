#!/bin/sh
# TEST SCAFFOLDING, not the real harness: a stand-in for the llm-d-benchmark image's entry point.
# It keeps the image contract (arguments, environment, results folder name), prints
# inference-perf-like stage lines, and copies the REAL inference-perf result files of a vLLM run
# (shared/fixtures, installed under /fixtures by the e2e tests) into the results folder. A profile
# can ask it to fail (e2e_exit_code: N) or to run long (e2e_sleep: SECONDS).
set -u
harness="" workload=""
for arg in "$@"; do
  case $arg in
    --harness=*) harness=${arg#--harness=} ;;
    --workload=*) workload=${arg#--workload=} ;;
  esac
done
profile="${LLMDBENCH_RUN_WORKSPACE_DIR:-/workspace}/profiles/$harness/$workload.yaml"
if [ ! -f "$profile" ]; then
  echo "llm-d-benchmark.sh (stand-in): no profile $profile" >&2
  exit 1
fi
dir="${LLMDBENCH_RUN_EXPERIMENT_RESULTS_DIR_PREFIX}/${harness}_${LLMDBENCH_RUN_EXPERIMENT_ID}_${LLMDBENCH_HARNESS_STACK_NAME}"
mkdir -p "$dir"
cp "$profile" "$dir/$workload.yaml"
echo "Running harness: /usr/local/bin/$harness-llm-d-benchmark.sh"
pause=$(sed -n 's/^e2e_sleep: *//p' "$profile")
code=$(sed -n 's/^e2e_exit_code: *//p' "$profile")
for stage in 0 1 2; do
  echo "Stage $stage - run started"
  echo "Stage $stage - run completed"
done
if [ -d /fixtures/inference-perf ]; then
  cp /fixtures/inference-perf/*_lifecycle_metrics.json "$dir/"
fi
[ -n "$pause" ] && sleep "$pause"
echo "Done. Data is available at \"$dir\""
exit "${code:-0}"
