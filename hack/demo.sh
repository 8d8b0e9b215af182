#!/usr/bin/env bash
# make demo: the whole product on this machine. Builds the plugin, the local control plane and
# llm-d's vLLM simulator (cached after the first time), starts the cluster and the simulator on
# loopback, creates what an llm-d install would have (namespace, a model-server pod, gateway Service,
# results PVC), then runs the inference-scheduling preset's shared-prefix workload with the native
# harness exactly as a user would, scraping the model server's metrics, and shows, plots and
# reports the results. `make demo-down` (hack/demo.sh down) stops everything.
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

if [ "${1:-}" = down ]; then
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
"$root/hack/localcluster/down.sh" "$dir" >/dev/null
"$root/hack/localcluster/up.sh" "$dir"
# shellcheck disable=SC1091
source "$dir/env"
# The launcher pods' image is the plugin itself, the model server's the simulator: put them where
# every pod root gets them, with the local cluster's own binary (it isolates the simulator).
mkdir -p "$dir/overlay/usr/local/bin"
cp "$root/bin/kubectl-llmdbench" "$bin/localcluster" "$dir/overlay/usr/local/bin/"
cp "$sim" "$dir/overlay/usr/local/bin/llm-d-inference-sim"
export PATH="$root/bin:$PATH" # so that `kubectl llmdbench` finds the plugin

step "creating namespace $ns, a model-server pod (llm-d-inference-sim as $model: TTFT 100ms, ITL 20ms, prefix cache on), the gateway Service and the results PVC (what an llm-d install has)"
# The simulator binds every interface and has no bind-address flag: `localcluster isolate` gives it
# a network namespace of its own, served on $address:80 only (loopback), which is also the pod's IP.
kubectl apply -f - <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $ns}
---
apiVersion: v1
kind: Pod
metadata:
  name: qwen3-decode-0
  namespace: $ns
  labels: {llm-d.ai/inferenceServing: "true", llm-d.ai/role: decode}
spec:
  hostNetwork: true
  containers:
  - name: vllm
    image: ghcr.io/llm-d/llm-d-inference-sim:v0.10.2
    command: [/usr/local/bin/localcluster, isolate, "$address:80", "8000", --, /usr/local/bin/llm-d-inference-sim,
      --model, $model, --port, "8000", --force-dummy-tokenizer, --max-num-seqs, "256", --max-model-len, "16384",
      --time-to-first-token, 100ms, --inter-token-latency, 20ms, --enable-kvcache, --kv-cache-size, "16384"]
    env:
    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: HOME, value: /tmp}
    - {name: TMPDIR, value: /tmp}
    ports: [{name: http, containerPort: 80}]
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
kubectl wait -n "$ns" --for=jsonpath='{.status.phase}'=Running pod/qwen3-decode-0 --timeout=60s >/dev/null
kubectl patch -n "$ns" pod/qwen3-decode-0 --subresource=status --type=merge \
  -p "{\"status\":{\"podIP\":\"$address\",\"podIPs\":[{\"ip\":\"$address\"}]}}" >/dev/null
for i in $(seq 150); do
  if (exec 3<>"/dev/tcp/$address/80" && printf 'GET /v1/models HTTP/1.0\r\n\r\n' >&3 && grep -q "$model" <&3) 2>/dev/null; then
    break
  fi
  [ "$i" = 150 ] && { echo "the simulator did not come up; see kubectl logs -n $ns qwen3-decode-0" >&2; exit 1; }
  sleep 0.2
done

results="$dir/results"
selector=llm-d.ai/inferenceServing=true
step "kubectl llmdbench run --preset inference-scheduling --harness llmdbench --workload shared_prefix_synthetic --rates $rates --stage-duration $stage --server-selector $selector --scrape-interval 2s"
kubectl llmdbench run --preset inference-scheduling -n "$ns" --pvc workload-pvc \
  --harness llmdbench --workload shared_prefix_synthetic --rates "$rates" --stage-duration "$stage" \
  --server-selector "$selector" --scrape-interval 2s --per-request --results-dir "$results"
run="$(ls -t "$results" | head -1)"

step "kubectl llmdbench results"
kubectl llmdbench results -n "$ns" --run "$run"
step "kubectl llmdbench results show $results/$run"
kubectl llmdbench results show "$results/$run"

step "kubectl llmdbench results show $results/$run --server-metrics (what the model server saw)"
kubectl llmdbench results show "$results/$run" --server-metrics

step "kubectl llmdbench results plot $results/$run"
kubectl llmdbench results plot "$results/$run" --out "$dir/plots"

step "kubectl llmdbench results report $results/$run --html $dir/report.html"
kubectl llmdbench results report "$results/$run" --per-request --html "$dir/report.html"

end=$(date +%s)
cat >&2 <<EOF

${bold}Demo complete${plain} in $((end - begin))s (building $((built - begin))s).
  results: $results/$run
  plots:   $dir/plots
  report:  $dir/report.html (one file: open it in a browser, offline)
Explore further:
  source $dir/env                  # kubectl now talks to the local cluster
  export PATH=$root/bin:\$PATH
  kubectl llmdbench status -n $ns
  kubectl llmdbench logs -n $ns $run
  kubectl llmdbench run --preset inference-scheduling -n $ns --pvc workload-pvc --harness llmdbench --concurrency 4,16
  make demo-down                   # stops the cluster and the simulator pod
EOF
