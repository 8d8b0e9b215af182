#!/usr/bin/env bash
# Retrieval benchmark on the local cluster: `kubectl llmdbench cp --per-request` against
# `kubectl cp` of the same results folder (real inference-perf fixture files plus a generated
# per-request file of SIZE, default 512MiB), in the same run. Prints bytes over the wire and wall
# time of both, and the ratios. Targets: <= 20% of kubectl cp's bytes; time no worse.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
size=${SIZE:-512MiB}
make -s build
bin=$(hack/localcluster/build.sh)
work=$(mktemp -d)
dir=$work/cluster
mkdir -p "$dir"
trap '"$bin/localcluster" down "$dir" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$bin/localcluster" up "$dir" 2>/dev/null
cp -r test/e2e/testdata/overlay/. "$dir/overlay/"
mkdir -p "$dir/overlay/fixtures/inference-perf"
cp ../shared/fixtures/inference-perf/vllm/*_lifecycle_metrics.json "$dir/overlay/fixtures/inference-perf/"
export KUBECONFIG=$dir/kubeconfig
kubectl create namespace bench >/dev/null
kubectl apply -n bench -f - >/dev/null 2>&1 <<'PVC'
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: workload-pvc}
spec: {accessModes: [ReadWriteMany], resources: {requests: {storage: 100Gi}}}
PVC
plugin=$repo/bin/kubectl-llmdbench
"$plugin" run --preset pd -n bench --pvc workload-pvc --base-url http://gw.example:80 --cpu 1 --memory 1Gi --no-fetch >/dev/null 2>&1
folder=$(cd "$dir/claims/bench/workload-pvc" && ls -d inference-perf_*)
pod=$(kubectl get pods -n bench -l app=llmdbench-harness-launcher -o name | head -1)
go run ./hack/gen-per-request -size "$size" -out "$dir/claims/bench/workload-pvc/$folder/per_request_lifecycle_metrics.json" 2>/dev/null
total=$(du -sb "$dir/claims/bench/workload-pvc/$folder" | cut -f1)

cd "$work"
t0=$(date +%s.%N)
kubectl cp "bench/${pod#pod/}:/requests/$folder" kubectl-cp-out >/dev/null 2>&1
t1=$(date +%s.%N)
kubectl_bytes=$(kubectl exec -n bench "${pod#pod/}" -- tar cf - -C /requests "$folder" 2>/dev/null | wc -c)

t2=$(date +%s.%N)
"$plugin" cp "$folder" ours -n bench --per-request 2>"$work/ours.log"
t3=$(date +%s.%N)
t4=$(date +%s.%N)
KUBECTL_REMOTE_COMMAND_WEBSOCKETS=${WS:-true} "$plugin" cp "$folder" ours-raw -n bench --per-request --compress none 2>"$work/ours-raw.log"
t5=$(date +%s.%N)
raw_bytes=$(grep -o '([0-9.]*[KMG]iB over' "$work/ours-raw.log" | head -1)
ours_bytes=$(kubectl exec -n bench "${pod#pod/}" -- sh -c 'cd /requests && tar cf - "$1" | gzip -1' sh "$folder" 2>/dev/null | wc -c)
cmp -s "kubectl-cp-out/per_request_lifecycle_metrics.json" "ours/$folder/per_request_lifecycle_metrics.json" \
  || { echo "the two copies differ" >&2; exit 1; }

awk -v kb="$kubectl_bytes" -v ob="$ours_bytes" -v kt="$(echo "$t1 - $t0" | bc)" -v ot="$(echo "$t3 - $t2" | bc)" -v rt="$(echo "$t5 - $t4" | bc)" -v total="$total" 'BEGIN {
  printf "folder: %.1f MiB (per-request file included)\n", total/1048576
  printf "%-22s %14s %10s\n", "tool", "bytes on wire", "seconds"
  printf "%-22s %14d %10.2f\n", "kubectl cp", kb, kt
  printf "%-22s %14d %10.2f\n", "kubectl llmdbench cp", ob, ot
  printf "%-22s %14s %10.2f\n", "  --compress none", "(raw tar)", rt
  printf "gzip: bytes %.1f%% of kubectl cp (target <= 20%%), time %.2fx; --compress none: time %.2fx (target <= 1.00x)\n", 100*ob/kb, ot/kt, rt/kt
}'
grep 'over the wire' "$work/ours.log"
