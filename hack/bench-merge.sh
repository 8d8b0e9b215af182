#!/usr/bin/env bash
# Many-launcher merge benchmark (#16): `kubectl llmdbench results merge` of N launcher folders
# (default 8), each holding a generated per-request file of SIZE (default 250MiB) in the native
# generator's layout (3 stages, stage ids), against python3 json.load of each file plus the same
# percentiles over the union (hack/bench/merge_reference.py), in the same run. Prints both times,
# the ratio, the plugin's peak RSS, and checks that the numbers agree: counts, failures by label
# and percentiles identical, means and the achieved rate within 1e-9 relative (summed in
# another order). Targets: >= 10x faster, < 200 MB RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${SIZE:-250MiB}
launchers=${LAUNCHERS:-8}
GOFLAGS=${GOFLAGS:--p=1} make -s build
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dirs=() files=()
for i in $(seq 0 $((launchers - 1))); do
	mkdir -p "$work/l$i"
	go run ./hack/gen-per-request -size "$size" -stages 3 -seed $((i + 1)) -out "$work/l$i/per_request_lifecycle_metrics.json"
	dirs+=("$work/l$i") files+=("$work/l$i/per_request_lifecycle_metrics.json")
done

/usr/bin/time -f '%e %M' -o "$work/base.time" bin/kubectl-llmdbench results merge --help >/dev/null
/usr/bin/time -f '%e %M' -o "$work/ours.time" bin/kubectl-llmdbench results merge "${dirs[@]}" --output-dir "$work/merged" >"$work/ours.txt"
/usr/bin/time -f '%e %M' -o "$work/py.time" python3 hack/bench/merge_reference.py "${files[@]}" >"$work/py.json"
cat "$work/ours.txt"

python3 - "$work" "$launchers" <<'PY'
import json, sys, os
work, launchers = sys.argv[1], int(sys.argv[2])
ref = json.load(open(os.path.join(work, "py.json")))["stages"]
merge = json.load(open(os.path.join(work, "merged", "llmdbench-merge.json")))
bad = []
keys = {"ttft": "time_to_first_token", "tpot": "time_per_output_token", "itl": "inter_token_latency",
        "ntpot": "normalized_time_per_output_token", "e2e": "request_latency"}
if sorted(ref) != sorted(str(s["stage"]) for s in merge["stages"]):
    bad.append(f"stages {sorted(ref)} vs {[s['stage'] for s in merge['stages']]}")
def near(a, b):
    return a is not None and b is not None and abs(a - b) <= 1e-9 * max(1.0, abs(b))
for ms in merge["stages"]:
    sid = str(ms["stage"])
    r = ref.get(sid)
    if r is None:
        continue
    f = json.load(open(os.path.join(work, "merged", f"stage_{sid}_lifecycle_metrics.json")))
    if ms["requests"] != r["requests"] or ms["failed"] != r["failed"]:
        bad.append(f"stage {sid} counts {ms['requests']}/{ms['failed']} vs {r['requests']}/{r['failed']}")
    by_label = {k: v["count"] for k, v in f["failures"]["by_label"].items()}
    if by_label != r["labels"]:
        bad.append(f"stage {sid} failures by label {by_label} vs {r['labels']}")
    if not near(ms["achieved_rate"], r["achieved_rate"]):
        bad.append(f"stage {sid} achieved rate {ms['achieved_rate']} vs {r['achieved_rate']}")
    for m, key in keys.items():
        ours = f["successes"]["latency"][key]
        for s, k in (("p50", "median"), ("p90", "p90"), ("p99", "p99")):
            if ours[k] != r[m][s]:
                bad.append(f"stage {sid} {m}.{s}: {ours[k]} vs {r[m][s]}")
        if not near(ours["mean"], r[m]["mean"]):
            bad.append(f"stage {sid} {m}.mean: {ours['mean']} vs {r[m]['mean']}")
ot, orss = open(os.path.join(work, "ours.time")).read().split()
pt, prss = open(os.path.join(work, "py.time")).read().split()
size = sum(os.path.getsize(os.path.join(work, f"l{i}", "per_request_lifecycle_metrics.json")) for i in range(launchers))
print(f"{launchers} per-request files: {size/2**20:.0f} MiB in all, {sum(s['requests'] for s in ref.values())} requests, {len(ref)} stages")
print(f"{'tool':<40}{'seconds':>10}{'peak RSS MB':>14}")
print(f"{'kubectl llmdbench results merge':<40}{float(ot):>10.2f}{int(orss)/1024:>14.1f}")
print(f"{'python3 json.load + percentiles':<40}{float(pt):>10.2f}{int(prss)/1024:>14.1f}")
_, brss = open(os.path.join(work, "base.time")).read().split()
print(f"speed-up: {float(pt)/float(ot):.1f}x (target >= 10x); plugin RSS {int(orss)/1024:.0f} MB (target < 200 MB; the binary alone, --help: {int(brss)/1024:.0f} MB)")
print("numbers: identical (percentiles, counts, labels exact; means, rates within 1e-9)" if not bad else "numbers DIFFER: " + "; ".join(bad))
sys.exit(1 if bad else 0)
PY
