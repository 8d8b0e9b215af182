#!/usr/bin/env bash
# Benchmarks the native load generator against llm-d-inference-sim on loopback (bounded: one
# 30 s stage): constant RATE req/s (default 200), TTFT 50 ms, ITL 10 ms, 64 streamed output tokens.
# Prints the achieved rate, schedule-delay p50/p99 and the generator's CPU seconds per 1,000
# requests (user + system of the loadgen process only), against the issue's targets.
#   RATE=200 DURATION=30 hack/bench-loadgen.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rate="${RATE:-200}" duration="${DURATION:-30}" addr="${ADDR:-127.0.0.4:18000}"
make -s -C "$root" build
bin="$("$root/hack/localcluster/build.sh")"
sim="$("$root/hack/sim/build.sh")"
work="$(mktemp -d)"
"$bin/localcluster" isolate "$addr" 8000 -- "$sim" --model bench-model --port 8000 --force-dummy-tokenizer \
  --max-num-seqs 1024 --max-model-len 4096 --time-to-first-token 50ms --inter-token-latency 10ms >"$work/sim.log" 2>&1 &
sim_pid=$!
cleanup() { kill -TERM "$sim_pid" 2>/dev/null; wait "$sim_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}" && printf 'GET /v1/models HTTP/1.0\r\n\r\n' >&3 && grep -q bench-model <&3) 2>/dev/null && break
  sleep 0.1
done
cat >"$work/profile.yaml" <<EOF
load: {type: constant, stages: [{rate: $rate, duration: $duration}]}
api: {type: completion, streaming: true}
server: {type: vllm, model_name: bench-model, base_url: http://$addr, ignore_eos: true}
data:
  type: random
  input_distribution: {min: 32, max: 32, mean: 32, std: 0, total_count: 200}
  output_distribution: {min: 64, max: 64, mean: 64, std: 0, total_count: 200}
report: {request_lifecycle: {summary: true, per_stage: true, per_request: false}}
EOF
TIMEFORMAT='%U %S'
# The same load through the generator's event loop (the default) and through net/http, for the ratio.
for transport in auto net-http; do
  cpu=$( { time "$root/bin/kubectl-llmdbench" loadgen --config "$work/profile.yaml" --output "$work/$transport" \
    --transport "$transport" >"$work/stdout" 2>"$work/stderr"; } 2>&1 ) || { cat "$work/stderr" >&2; exit 1; }
  echo "$cpu" >"$work/$transport.cpu"
done
python3 - "$work" "$rate" <<'EOF2'
import json, sys
work, rate = sys.argv[1], float(sys.argv[2])
def load(t):
    d = json.load(open(f"{work}/{t}/stage_0_lifecycle_metrics.json"))
    user, sys_ = (float(x) for x in open(f"{work}/{t}.cpu").read().split())
    return d, user, sys_, (user + sys_) / d["load_summary"]["count"] * 1000
d, user, sys_, per_k = load("auto")
_, nuser, nsys, nper_k = load("net-http")
load_s = d["load_summary"]
achieved, delay, n = load_s["achieved_rate"], load_s["schedule_delay"], load_s["count"]
lat = d["successes"]["latency"]
print(f"requests                 {n} sent, {d['successes']['count']} succeeded, {d['failures']['count']} failed")
print(f"achieved rate            {achieved:.2f} req/s of {rate:g} ({100 * (achieved / rate - 1):+.2f}%; target within 1%)")
print(f"schedule delay p50/p99   {delay['median'] * 1e3:.3f} / {delay['p99'] * 1e3:.3f} ms (target p99 < 2 ms; inference-perf publishes ~1.7-1.8 ms)")
print(f"generator CPU            {user:.2f} s user + {sys_:.2f} s system = {per_k:.3f} CPU-s per 1,000 streamed requests (target <= 0.25)")
print(f"  same load via net/http {nuser:.2f} s user + {nsys:.2f} s system = {nper_k:.3f} CPU-s per 1,000 ({nper_k / per_k:.2f}x the event loop)")
print(f"TTFT / ITL mean          {lat['time_to_first_token']['mean'] * 1e3:.1f} / {lat['inter_token_latency']['mean'] * 1e3:.2f} ms (simulator: 50 / 10 ms)")
# The stream parser must read every token: 64 per request, from the server's usage and the events.
out = d["successes"].get("output_len") or {}
print(f"output tokens/request    {out.get('mean', float('nan')):.1f} (simulator: 64); failures by label: {dict((k, v['count']) for k, v in d['failures'].get('by_label', {}).items()) or 'none'}")
EOF2
