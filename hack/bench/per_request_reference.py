#!/usr/bin/env python3
"""Reference for hack/bench-results.sh: what a user does today, json.load of the whole
per-request file, then the same distributions (numpy's default linear interpolation between
closest ranks, written out so that no numpy is needed). Prints the numbers as JSON."""
import json
import math
import sys


def pct(sorted_vals, q):
    rank = q / 100 * (len(sorted_vals) - 1)
    lo, hi = math.floor(rank), math.ceil(rank)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (rank - lo)


def dist(vals):
    if not vals:
        return None
    s = sorted(vals)
    return {"mean": sum(s) / len(s), "p50": pct(s, 50), "p90": pct(s, 90), "p99": pct(s, 99)}


def main(path):
    with open(path) as f:
        records = json.load(f)
    ttft, tpot, itl, ntpot, e2e = [], [], [], [], []
    ok = failed = 0
    for r in records:
        if r.get("error") is not None:
            failed += 1
            continue
        ok += 1
        info = r["info"]
        resp = info.get("response_metrics") or info.get("response_info") or info
        times = resp.get("output_token_times") or []
        n = resp.get("output_tokens") or 0
        lat = r["end_time"] - r["start_time"]
        e2e.append(lat)
        ntpot.append(lat / n if n > 0 else 0)
        if len(times) > 1:
            ttft.append(times[0] - r["start_time"])
            itl.extend(b - a for a, b in zip(times, times[1:]))
            if n > 1:
                tpot.append((times[-1] - times[0]) / (n - 1))
    json.dump({"succeeded": ok, "failed": failed, "ttft": dist(ttft), "tpot": dist(tpot), "itl": dist(itl),
               "ntpot": dist(ntpot), "e2e": dist(e2e)}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
