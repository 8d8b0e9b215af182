#!/usr/bin/env bash
# make demo: the whole product on this machine. Builds the plugin, the local control plane and
# llm-d's vLLM simulator (cached after the first time), starts the cluster and the simulator on
# loopback, creates what an llm-d install would have (namespace, gateway Service, results PVC), then
# runs the inference-scheduling preset with the native harness exactly as a user would, and shows
# and plots the results. `make demo-down` (hack/demo.sh down) stops everything.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${DEMO_DIR:-$root/.localcluster}"
ns=llm-d-demo
gateway=infra-inference-scheduling-inference-gateway
model=Qwen/Qwen3-0.6B
# The gateway Service is served on its own loopback address, port 80 as in the preset's base_url.
address=127.0.0.2
rates="${DEMO_RATES:-2,4,8}"
stage="${DEMO_STAGE_DURATION:-10s}"

# Bold only on a terminal: a redirected log gets plain text.
bold='' plain=''
if [ -t 2 ]; then bold=$'\033[1m' plain=$'\033[0m'; fi
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain" >&2; }

stop_sim() {
  if [ -f "$dir/sim.pid" ]; then
    pid=$(cat "$dir/sim.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
    rm -f "$dir/sim.pid"
  fi
}

if [ "${1:-}" = down ]; then
  stop_sim
  "$root/hack/localcluster/down.sh" "$dir"
  exit 0
fi

begin=$(date +%s)
step "building the plugin, the local control plane and llm-d-inference-sim (cached after the first time)"
make -s -C "$root" build
"$root/hack/install-deps.sh"
bin="$("$root/hack/localcluster/build.sh")"
sim="$("$root/hack/sim/build.sh")"
built=$(date +%s)

step "starting the local cluster in $dir"
stop_sim
"$root/hack/localcluster/down.sh" "$dir" >/dev/null
"$root/hack/localcluster/up.sh" "$dir"
# shellcheck disable=SC1091
source "$dir/env"
# The launcher pods' image is the plugin itself: put it where every pod root gets it.
mkdir -p "$dir/overlay/usr/local/bin"
cp "$root/bin/kubectl-llmdbench" "$dir/overlay/usr/local/bin/"
export PATH="$root/bin:$PATH" # so that `kubectl llmdbench` finds the plugin

step "starting llm-d-inference-sim as $model on $address:80 (TTFT 100ms, ITL 20ms)"
"$bin/localcluster" isolate "$address:80" 8000 -- "$sim" --model "$model" --port 8000 \
  --force-dummy-tokenizer --max-num-seqs 256 --max-model-len 16384 \
  --time-to-first-token 100ms --inter-token-latency 20ms >"$dir/sim.log" 2>&1 &
echo $! >"$dir/sim.pid"
for i in $(seq 100); do
  if (exec 3<>"/dev/tcp/$address/80" && printf 'GET /v1/models HTTP/1.0\r\n\r\n' >&3 && grep -q "$model" <&3) 2>/dev/null; then
    break
  fi
  [ "$i" = 100 ] && { echo "the simulator did not come up; see $dir/sim.log" >&2; exit 1; }
  sleep 0.1
done

step "creating namespace $ns, the gateway Service and the results PVC (what an llm-d install has)"
kubectl apply -f - <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $ns}
---
apiVersion: v1
kind: Service
metadata:
  name: $gateway
  namespace: $ns
  labels: {gateway.networking.k8s.io/gateway-name: $gateway}
  annotations: {localcluster.llmdbench.io/address: "$address"}
spec:
  ports: [{name: http, port: 80, targetPort: 8000}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: workload-pvc, namespace: $ns}
spec:
  accessModes: [ReadWriteMany]
  resources: {requests: {storage: 1Gi}}
EOF

results="$dir/results"
step "kubectl llmdbench run --preset inference-scheduling --harness llmdbench --rates $rates --stage-duration $stage"
kubectl llmdbench run --preset inference-scheduling -n "$ns" --pvc workload-pvc \
  --harness llmdbench --rates "$rates" --stage-duration "$stage" --results-dir "$results"
run="$(ls -t "$results" | head -1)"

step "kubectl llmdbench results"
kubectl llmdbench results -n "$ns" --run "$run"
step "kubectl llmdbench results show $results/$run"
kubectl llmdbench results show "$results/$run"

step "kubectl llmdbench results plot $results/$run"
kubectl llmdbench results plot "$results/$run" --out "$dir/plots"

end=$(date +%s)
cat >&2 <<EOF

${bold}Demo complete${plain} in $((end - begin))s (building $((built - begin))s).
  results: $results/$run
  plots:   $dir/plots
Explore further:
  source $dir/env                  # kubectl now talks to the local cluster
  export PATH=$root/bin:\$PATH
  kubectl llmdbench status -n $ns
  kubectl llmdbench logs -n $ns $run
  kubectl llmdbench run --preset inference-scheduling -n $ns --pvc workload-pvc --harness llmdbench --concurrency 4,16
  make demo-down                   # stops the simulator and the cluster
EOF
