#!/usr/bin/env bash
# Benchmarks the native load generator against llm-d-inference-sim on loopback (bounded: one
# 30 s stage): constant RATE req/s (default 200), TTFT 50 ms, ITL 10 ms, 64 streamed output tokens.
# Prints the achieved rate, schedule-delay p50/p99 and the generator's CPU seconds per 1,000
# requests (user + system of the loadgen process only), against the issue's targets.
#   RATE=200 DURATION=30 hack/bench-loadgen.sh
# SCRAPE=1 instead runs the same load four times through the event loop, without and with the
# profile's server_metrics scraping the simulator's /metrics every second, in the order off, on,
# on, off (so a drift of the machine's load over the runs cancels out), and prints each mode's
# mean and the ratios (issue 18: scraping costs the run nothing visible, within 5 %).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rate="${RATE:-200}" duration="${DURATION:-30}" addr="${ADDR:-127.0.0.4:18000}" scrape="${SCRAPE:-}"
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
if [ -n "$scrape" ]; then
  # The same profile with the simulator's /metrics scraped every second during the run.
  cp "$work/profile.yaml" "$work/scraped.yaml"
  cat >>"$work/scraped.yaml" <<EOF
server_metrics:
  interval_seconds: 1
  targets: [{namespace: local, pod: sim-0, role: model-server, url: "http://$addr/metrics", via: direct}]
EOF
  for run in off1 on1 on2 off2; do
    config="$work/profile.yaml"; [ "${run#on}" != "$run" ] && config="$work/scraped.yaml"
    cpu=$( { time "$root/bin/kubectl-llmdbench" loadgen --config "$config" --output "$work/$run" \
      >"$work/stdout" 2>"$work/stderr"; } 2>&1 ) || { cat "$work/stderr" >&2; exit 1; }
    echo "$cpu" >"$work/$run.cpu"
  done
  python3 - "$work" <<'EOF2'
import json, sys
work = sys.argv[1]
def load(run):
    d = json.load(open(f"{work}/{run}/stage_0_lifecycle_metrics.json"))
    user, sys_ = (float(x) for x in open(f"{work}/{run}.cpu").read().split())
    s, lat = d["load_summary"], d["successes"]["latency"]
    return {"achieved rate (req/s)": s["achieved_rate"], "schedule delay p50 (ms)": s["schedule_delay"]["median"] * 1e3,
            "schedule delay p99 (ms)": s["schedule_delay"]["p99"] * 1e3, "TTFT mean (ms)": lat["time_to_first_token"]["mean"] * 1e3,
            "ITL mean (ms)": lat["inter_token_latency"]["mean"] * 1e3,
            "CPU-s per 1,000 requests": (user + sys_) / s["count"] * 1000, "failed requests": d["failures"]["count"]}
runs = {r: load(r) for r in ("off1", "on1", "on2", "off2")}
off = {k: (runs["off1"][k] + runs["off2"][k]) / 2 for k in runs["off1"]}
on = {k: (runs["on1"][k] + runs["on2"][k]) / 2 for k in runs["on1"]}
lines = [json.loads(l) for l in open(f"{work}/on1/server_metrics.jsonl")]
samples = [l for l in lines if l["kind"] == "sample"]
failed = [l for l in samples if l.get("error")]
stages = [f'{l["stage"]} {l["event"]}' for l in lines if l["kind"] == "stage"]
print(f"scraping every 1 s (run on1): {len(samples)} samples ({len(failed)} failed), stage events: {', '.join(stages)}")
print(f"{'':26s} {'off1':>8s} {'on1':>8s} {'on2':>8s} {'off2':>8s} {'off mean':>9s} {'on mean':>9s} {'on/off':>7s}")
for k in off:
    ratio = f"{on[k] / off[k]:7.3f}" if off[k] else f"{'-':>7s}"
    print(f"{k:26s} " + " ".join(f"{runs[r][k]:8.3f}" for r in ("off1", "on1", "on2", "off2")) + f" {off[k]:9.3f} {on[k]:9.3f} {ratio}")
EOF2
  exit 0
fi
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
