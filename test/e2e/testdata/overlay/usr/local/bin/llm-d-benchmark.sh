#!/bin/sh
# TEST SCAFFOLDING, not the real harness: a stand-in for the llm-d-benchmark image's entry point.
# It keeps the image contract (arguments, environment, results folder name), prints
# inference-perf-like stage lines, and copies the REAL inference-perf result files of a vLLM run
# (installed under /fixtures by the e2e tests) into the results folder.
#
# Like build/llm-d-benchmark.sh of image v0.4.0 it runs the harness script until it succeeds,
# printing the same line and sleeping 30 s after each failure (forever), then the analyzer, and
# exits with the analyzer's exit code. A profile can ask the harness to fail every time
# (e2e_harness_fails: true, with two stderr lines), to run long (e2e_sleep: SECONDS), or the
# analyzer to fail (e2e_exit_code: N, the entry script's exit code).
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
pause=$(sed -n 's/^e2e_sleep: *//p' "$profile")
code=$(sed -n 's/^e2e_exit_code: *//p' "$profile")
fails=$(sed -n 's/^e2e_harness_fails: *//p' "$profile")

# harness_script stands in for /usr/local/bin/<harness>-llm-d-benchmark.sh.
harness_script() {
  for stage in 0 1 2; do
    echo "Stage $stage - run started"
    if [ "$fails" = true ]; then
      echo "Traceback (most recent call last):" >&2
      echo "ValueError: stage $stage: concurrency_level is required for a concurrent load" >&2
      return 1
    fi
    echo "Stage $stage - run completed"
  done
  if [ -d /fixtures/inference-perf ]; then
    cp /fixtures/inference-perf/*_lifecycle_metrics.json "$dir/"
  fi
  if [ -n "$pause" ]; then sleep "$pause"; fi
  return 0
}

# Repeat run until success (as the image does)
echo "Running harness: /usr/local/bin/$harness-llm-d-benchmark.sh"
ec=1
while [ "$ec" -ne 0 ]; do
  harness_script
  ec=$?
  if [ "$ec" -ne 0 ]; then
    echo "execution of /usr/local/bin/$harness-llm-d-benchmark.sh failed, wating 30 seconds and trying again"
    sleep 30
  fi
done
echo "Harness completed: /usr/local/bin/$harness-llm-d-benchmark.sh"
echo "Running analysis: /usr/local/bin/$harness-analyze_results.sh"
echo "Done. Data is available at \"$dir\""
exit "${code:-0}"
