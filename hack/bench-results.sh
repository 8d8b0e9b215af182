#!/usr/bin/env bash
# Per-request analysis benchmark: `kubectl llmdbench results show DIR --per-request` against
# python3 with json.load plus the same percentiles, on a generated inference-perf v0.6
# per-request file of SIZE (default 1GiB), in the same run. Prints both times, the ratio, the
# plugin's peak RSS, and checks that the numbers agree. Targets: >= 10x faster, < 150 MB RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${SIZE:-1GiB}
make -s build
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp pkg/results/testdata/inference-perf/vllm/*_lifecycle_metrics.json "$work/"
go run ./hack/gen-per-request -size "$size" -out "$work/per_request_lifecycle_metrics.json"

/usr/bin/time -f '%e %M' -o "$work/ours.time" bin/kubectl-llmdbench results show "$work" --per-request -o json >"$work/ours.json"
/usr/bin/time -f '%e %M' -o "$work/py.time" python3 hack/bench/per_request_reference.py "$work/per_request_lifecycle_metrics.json" >"$work/py.json"

python3 - "$work" <<'PY'
import json, sys, os
work = sys.argv[1]
ours = json.load(open(os.path.join(work, "ours.json")))["per_request"]
ref = json.load(open(os.path.join(work, "py.json")))
bad = []
if ours["requests"]["succeeded"] != ref["succeeded"] or ours["requests"]["failed"] != ref["failed"]:
    bad.append("request counts")
for m in ["ttft", "tpot", "itl", "ntpot", "e2e"]:
    for s in ["mean", "p50", "p90", "p99"]:
        a, b = ours["latency"][m][s], ref[m][s]
        if abs(a - b) > 1e-9 * max(1.0, abs(b)):
            bad.append(f"{m}.{s}: {a} vs {b}")
ot, orss = open(os.path.join(work, "ours.time")).read().split()
pt, prss = open(os.path.join(work, "py.time")).read().split()
size = os.path.getsize(os.path.join(work, "per_request_lifecycle_metrics.json"))
print(f"per-request file: {size/2**20:.0f} MiB, {ref['succeeded'] + ref['failed']} requests")
print(f"{'tool':<36}{'seconds':>10}{'peak RSS MB':>14}")
print(f"{'kubectl llmdbench results show':<36}{float(ot):>10.2f}{int(orss)/1024:>14.1f}")
print(f"{'python3 json.load + percentiles':<36}{float(pt):>10.2f}{int(prss)/1024:>14.1f}")
print(f"speed-up: {float(pt)/float(ot):.1f}x (target >= 10x); plugin RSS {int(orss)/1024:.0f} MB (target < 150 MB)")
print("numbers: identical (within 1e-9 relative)" if not bad else "numbers DIFFER: " + "; ".join(bad))
sys.exit(1 if bad else 0)
PY
