#!/usr/bin/env bash
# Retrieval benchmark on the local cluster: `kubectl llmdbench cp --per-request` against
# `kubectl cp` of the same results folder (real inference-perf fixture files plus a generated
# per-request file of SIZE, default 512MiB), in the same run. The launcher pod has the plugin, as
# pods of the native harness image do, so cp packs with zstd on every core; `--compress gzip`
# (what pods without the plugin get) is measured once beside it. Wall times are the median of
# ROUNDS (default 5) interleaved rounds: on a 2-core machine the pod, the API server, the exec
# relay and both clients share the cores and single runs vary by ±20%.
# Targets: <= 20% of kubectl cp's bytes; time no worse.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
size=${SIZE:-512MiB} rounds=${ROUNDS:-5}
make -s build
bin=$(hack/localcluster/build.sh)
work=$(mktemp -d)
dir=$work/cluster
mkdir -p "$dir"
trap '"$bin/localcluster" down "$dir" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$bin/localcluster" up "$dir" 2>/dev/null
cp -r test/e2e/testdata/overlay/. "$dir/overlay/"
mkdir -p "$dir/overlay/usr/local/bin"
cp bin/kubectl-llmdbench "$dir/overlay/usr/local/bin/"
mkdir -p "$dir/overlay/fixtures/inference-perf"
cp pkg/results/testdata/inference-perf/vllm/*_lifecycle_metrics.json "$dir/overlay/fixtures/inference-perf/"
export KUBECONFIG=$dir/kubeconfig
kubectl create namespace bench >/dev/null
kubectl apply -n bench -f - >/dev/null 2>&1 <<'PVC'
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: workload-pvc}
spec: {accessModes: [ReadWriteMany], resources: {requests: {storage: 100Gi}}}
PVC
plugin=$repo/bin/kubectl-llmdbench
"$plugin" run --preset pd -n bench --pvc workload-pvc --base-url http://gw.example:80 --cpu 2 --memory 1Gi --no-fetch >/dev/null 2>&1
folder=$(cd "$dir/claims/bench/workload-pvc" && ls -d inference-perf_*)
pod=$(kubectl get pods -n bench -l app=llmdbench-harness-launcher -o name | head -1)
go run ./hack/gen-per-request -size "$size" -out "$dir/claims/bench/workload-pvc/$folder/per_request_lifecycle_metrics.json" 2>/dev/null
total=$(du -sb "$dir/claims/bench/workload-pvc/$folder" | cut -f1)

cd "$work"
pod=${pod#pod/}
seconds() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; return 1; }; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
: >kubectl.times; : >ours.times
for round in $(seq "$rounds"); do
  rm -rf kubectl-cp-out ours
  # Alternate who goes first, so neither always finds a warmer page cache.
  if ((round % 2)); then
    seconds kubectl cp "bench/$pod:/requests/$folder" kubectl-cp-out >>kubectl.times
    seconds "$plugin" cp "$folder" ours -n bench --per-request >>ours.times
  else
    seconds "$plugin" cp "$folder" ours -n bench --per-request >>ours.times
    seconds kubectl cp "bench/$pod:/requests/$folder" kubectl-cp-out >>kubectl.times
  fi
done
"$plugin" cp "$folder" ours-gzip -n bench --per-request --compress gzip 2>"$work/gzip.log" >/dev/null
gzip_seconds=$(grep -o 'in [0-9.]*s (' "$work/gzip.log" | tr -dc '0-9.')
for out in ours/"$folder" ours-gzip/"$folder"; do
  diff -r kubectl-cp-out "$out" >/dev/null || { echo "$out differs from kubectl cp's copy" >&2; exit 1; }
done
kubectl_bytes=$(kubectl exec -n bench "$pod" -- tar cf - -C /requests "$folder" 2>/dev/null | wc -c)
zstd_bytes=$(kubectl exec -n bench "$pod" -- sh -c 'cd /requests && kubectl-llmdbench pack -- "$1"' sh "$folder" 2>/dev/null | wc -c)
gzip_bytes=$(kubectl exec -n bench "$pod" -- sh -c 'cd /requests && tar cf - "$1" | gzip -1' sh "$folder" 2>/dev/null | wc -c)
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
range() { sort -n "$1" | awk 'NR==1{lo=$1} {hi=$1} END {printf "%.2f-%.2f", lo, hi}'; }
awk -v total="$total" -v rounds="$rounds" -v kb="$kubectl_bytes" -v zb="$zstd_bytes" -v gb="$gzip_bytes" \
  -v kt="$(median kubectl.times)" -v zt="$(median ours.times)" -v gt="$gzip_seconds" \
  -v kr="$(range kubectl.times)" -v zr="$(range ours.times)" 'BEGIN {
  printf "folder: %.1f MiB (per-request file included); median of %d interleaved rounds\n", total/1048576, rounds
  printf "%-40s %14s %8s %12s\n", "tool", "bytes on wire", "seconds", "range"
  printf "%-40s %14d %8.2f %12s\n", "kubectl cp", kb, kt, kr
  printf "%-40s %14d %8.2f %12s\n", "kubectl llmdbench cp (plugin in pod: zstd)", zb, zt, zr
  printf "%-40s %14d %8.2f %12s\n", "  --compress gzip (any image; once)", gb, gt, "-"
  printf "zstd: bytes %.1f%% of kubectl cp (target <= 20%%), time %.2fx (target <= 1.00x)\n", 100*zb/kb, zt/kt
  printf "gzip: bytes %.1f%% of kubectl cp, time %.2fx\n", 100*gb/kb, gt/kt
}'
