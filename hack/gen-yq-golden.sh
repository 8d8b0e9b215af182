#!/usr/bin/env bash
# Regenerates the oracle for pkg/config's compatibility test: what run_only.sh itself would put in
# its ConfigMap for testdata/guide-config.yaml (envsubst, then yq's `.workload.<w> | explode(.)`),
# produced by the real mikefarah yq v4.44.6 built from the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-llmdbench/tools"
[ -x "$tools/yq" ] || GOBIN="$tools" go install github.com/mikefarah/yq/v4@v4.44.6
command -v envsubst >/dev/null || { echo "envsubst is missing: apt-get install gettext-base" >&2; exit 1; }
td=pkg/config/testdata
rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
NAMESPACE=my-ns GATEWAY_SVC=infra-inference-scheduling-inference-gateway-istio BENCHMARK_PVC=workload-pvc \
  envsubst <"$td/guide-config.yaml" >"$rendered"
"$tools/yq" '.workload | keys | .[]' "$rendered" >"$td/guide-config.workloads.yq.txt"
while IFS= read -r w; do
  "$tools/yq" ".workload.${w} | explode(.)" "$rendered" >"$td/guide-config.${w}.yq.yaml"
done <"$td/guide-config.workloads.yq.txt"
echo "wrote $(wc -l <"$td/guide-config.workloads.yq.txt") workload file(s) to $td"
