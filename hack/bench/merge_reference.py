#!/usr/bin/env python3
"""Reference for hack/bench-merge.sh: what a user does today to merge N launchers' per-request
files: json.load each file, pool the requests per stage (info.extra_info.stage_id), then the
same distributions over the union (numpy's default linear interpolation between closest ranks,
written out so that no numpy is needed), failures by label, and the achieved rate over the
per-request window (each launcher's clock is its own: the longest launcher's last start - first
start). Definitions are the native generator's: NTPOT only for requests with output tokens,
TTFT for requests with at least one token time, TPOT for more than one output token.
Prints the numbers as JSON: {"stages": {"<id>": {...}}}."""
import json
import math
import sys


def pct(s, q):
    rank = q / 100 * (len(s) - 1)
    lo, hi = math.floor(rank), math.ceil(rank)
    return s[lo] + (s[hi] - s[lo]) * (rank - lo)


def dist(vals):
    if not vals:
        return None
    s = sorted(vals)
    return {"mean": sum(s) / len(s), "p50": pct(s, 50), "p90": pct(s, 90), "p99": pct(s, 99)}


def main(paths):
    stages = {}
    for launcher, path in enumerate(paths):
        with open(path) as f:
            records = json.load(f)
        for r in records:
            sid = r["info"].get("extra_info", {}).get("stage_id", -1)
            st = stages.setdefault(sid, {"requests": 0, "failed": 0, "labels": {}, "spans": {},
                                         "ttft": [], "tpot": [], "itl": [], "ntpot": [], "e2e": []})
            st["requests"] += 1
            lo, hi = st["spans"].get(launcher, (math.inf, -math.inf))
            st["spans"][launcher] = (min(lo, r["start_time"]), max(hi, r["start_time"]))
            if r.get("error") is not None:
                st["failed"] += 1
                label = r["error"]["error_type"]
                st["labels"][label] = st["labels"].get(label, 0) + 1
                continue
            info = r["info"]
            resp = info.get("response_metrics") or info.get("response_info") or info
            times = resp.get("output_token_times") or []
            n = resp.get("output_tokens") or 0
            lat = r["end_time"] - r["start_time"]
            st["e2e"].append(lat)
            if n > 0:
                st["ntpot"].append(lat / n)
            if times:
                st["ttft"].append(times[0] - r["start_time"])
                if n > 1:
                    st["tpot"].append((times[-1] - times[0]) / (n - 1))
                st["itl"].extend(b - a for a, b in zip(times, times[1:]))
        del records
    out = {}
    for sid, st in sorted(stages.items()):
        window = max(hi - lo for lo, hi in st["spans"].values())
        out[str(sid)] = {"requests": st["requests"], "failed": st["failed"], "labels": st["labels"],
                         "achieved_rate": st["requests"] / window if window > 0 else None,
                         **{m: dist(st[m]) for m in ("ttft", "tpot", "itl", "ntpot", "e2e")}}
    json.dump({"stages": out}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
