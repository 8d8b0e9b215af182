#!/usr/bin/env python3
"""Writes the launcher folders of merge_test.go and prints the expected merged numbers, computed
here independently of the Go code (numpy's default linear interpolation between closest ranks,
written out). Run once: python3 gen.py > expected.json; the test holds the numbers it printed.

native/l0..l2: the native generator's layout (info.extra_info.stage_id), two stages, wall-clock
LaunchFile times; l3: a launcher whose verdict is failed (no per-request file).
ipf/l0..l1: inference-perf v0.6 layout (no stage id), no LaunchFile.
"""
import json, math, os, random

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(16)


def r6(x):
    return round(x, 6)


def record(clock, stage, native, fail):
    start = r6(clock)
    inp = rng.randint(50, 400)
    if fail:
        end = r6(start + 0.2 + rng.random())
        info = {"request_metrics": {"text": {"input_tokens": inp}}, "response_metrics": {"output_tokens": 0},
                "extra_info": {"stage_id": stage, "scheduled_time": r6(start - 0.001)} if native else {},
                "lora_adapter": None, "labels": {}, "input_tokens": inp}
        label = rng.choice(["503 - Service Unavailable", "0 - timeout"]) if native else "ClientResponseError"
        return {"start_time": start, "end_time": end, "request": "{\"prompt\":\"a \\\"quoted\\\" prompt\"}",
                "response": "", "info": info, "error": {"error_type": label, "error_msg": "msg " + label}}
    out = rng.randint(1, 12)
    t = start + 0.02 + rng.random() * 0.3
    times = []
    for _ in range(out):
        times.append(r6(t))
        t += 0.005 + rng.random() * 0.03
    end = r6(t)
    info = {"request_metrics": {"text": {"input_tokens": inp}},
            "response_metrics": {"output_tokens": out, "server_usage": {"prompt_tokens": inp, "completion_tokens": out},
                                 "chunk_times": times, "output_token_times": times},
            "extra_info": {"stage_id": stage, "scheduled_time": r6(start - rng.random() * 0.002)} if native else {},
            "lora_adapter": None, "labels": {}, "input_tokens": inp}
    return {"start_time": start, "end_time": end, "request": "{\"prompt\":\"x\"}", "response": "tok " * out,
            "info": info, "error": None}


def pct(s, q):
    rank = q / 100 * (len(s) - 1)
    lo, hi = math.floor(rank), math.ceil(rank)
    return s[lo] + (s[hi] - s[lo]) * (rank - lo)


def dist(v):
    s = sorted(v)
    return {"n": len(s), "mean": sum(s) / len(s), "p50": pct(s, 50), "p90": pct(s, 90), "p99": pct(s, 99)}


def expected(recs):
    ttft, tpot, itl, ntpot, e2e, labels = [], [], [], [], [], {}
    for r in recs:
        if r["error"] is not None:
            labels[r["error"]["error_type"]] = labels.get(r["error"]["error_type"], 0) + 1
            continue
        rm = r["info"]["response_metrics"]
        times, n = rm["output_token_times"], rm["output_tokens"]
        lat = r["end_time"] - r["start_time"]
        e2e.append(lat)
        if n > 0:
            ntpot.append(lat / n)
        if times:
            ttft.append(times[0] - r["start_time"])
            if n > 1:
                tpot.append((times[-1] - times[0]) / (n - 1))
            itl.extend(b - a for a, b in zip(times, times[1:]))
    return {"requests": len(recs), "failed": sum(labels.values()), "labels": labels, "ttft": dist(ttft),
            "tpot": dist(tpot), "itl": dist(itl), "ntpot": dist(ntpot), "e2e": dist(e2e)}


def write(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f)


def meta(index, verdict):
    return {"run": "r1", "stack": "s", "model": "m", "baseURL": "http://x", "harness": "llmdbench", "image": "i",
            "pluginVersion": "v", "parallelism": 4, "repeats": 1, "configHash": "h", "config": "",
            "workload": "w", "entry": "w", "parallelIndex": index, "repeat": 0, "started": 1000 + index,
            "finished": 2000 + index, "exitCode": 0 if verdict == "succeeded" else 1, "verdict": verdict}


out = {"native": {}, "ipf": {}}
# native: 3 launchers, 2 stages; each launcher's clock has its own origin.
wall = {0: 1800000000.0, 1: 1800000060.0}  # agreed start of each stage
stage_recs = {0: [], 1: []}
for l in range(3):
    d = os.path.join(HERE, "native", "l%d" % l)
    clock = rng.random() * 100  # this launcher's own clock origin
    recs, stages = [], []
    for stage in (0, 1):
        started = wall[stage] + l * 0.004 + rng.random() * 0.001  # launcher l starts l*4 ms late
        n = 30 + 7 * l + 5 * stage
        first = None
        for i in range(n):
            rec = record(clock, stage, True, rng.random() < 0.1)
            recs.append(rec)
            stage_recs[stage].append(rec)
            clock += 0.05 + rng.random() * 0.05
        last_start = recs[-1]["start_time"]
        first_start = recs[-n]["start_time"]
        stages.append({"stage": stage, "agreed_start": wall[stage], "started": r6(started),
                       "send_ended": r6(started + (last_start - first_start)), "present": [0, 1, 2], "missing": [3]})
        clock += 5
        write(os.path.join(d, "stage_%d_lifecycle_metrics.json" % stage),
              {"load_summary": {"count": n, "requested_rate": 2.5, "achieved_rate": 1}, "successes": {"count": n}})
    write(os.path.join(d, "per_request_lifecycle_metrics.json"), recs)
    write(os.path.join(d, "llmdbench-launcher.json"), {"index": l, "count": 4, "mode": "split", "stages": stages})
    write(os.path.join(d, "llmdbench-run.json"), meta(l, "succeeded"))
    out["native"]["launch_l%d" % l] = stages
write(os.path.join(HERE, "native", "l3", "llmdbench-run.json"), meta(3, "failed"))
for stage in (0, 1):
    e = expected(stage_recs[stage])
    starts = [s[stage]["started"] for s in (out["native"]["launch_l%d" % l] for l in range(3))]
    ends = [s[stage]["send_ended"] for s in (out["native"]["launch_l%d" % l] for l in range(3))]
    e["skew"] = max(starts) - min(starts)
    e["window"] = max(ends) - min(starts)
    e["achieved"] = e["requests"] / e["window"]
    out["native"]["stage%d" % stage] = e

# inference-perf: 2 launchers, no stage ids, no launcher file.
allrecs = []
for l in range(2):
    d = os.path.join(HERE, "ipf", "l%d" % l)
    clock = rng.random() * 1000
    recs = []
    for i in range(40 + 3 * l):
        recs.append(record(clock, 0, False, rng.random() < 0.1))
        clock += 0.05 + rng.random() * 0.05
    write(os.path.join(d, "per_request_lifecycle_metrics.json"), recs)
    allrecs += recs
out["ipf"]["run"] = expected(allrecs)
for k in ("launch_l0", "launch_l1", "launch_l2"):
    del out["native"][k]
print(json.dumps(out, indent=1, sort_keys=True))
