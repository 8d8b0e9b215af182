package results

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrCapacitySLO: a capacity objective is not METRIC_STAT=DURATION (METRIC ttft, tpot, itl,
// ntpot or e2e; STAT p50, p90, p99 or mean) or errors=PERCENT.
var ErrCapacitySLO = errors.New("not a capacity SLO")

// ParseCapacitySLOs reads "ttft_p90=500ms,tpot_p90=50ms,e2e_p99=10s,errors=1%": latency
// objectives METRIC_STAT=DURATION, where METRIC is ttft, tpot, itl, ntpot or e2e and STAT is p50,
// p90, p99 (the percentiles every stage file carries) or mean, with a Go duration above zero;
// and errors=N% (0 <= N < 100), the highest share of failed requests. Each objective may appear
// once. Limits are stored in seconds (latency) or as a fraction (errors). An empty string or a
// bad objective is an error wrapping ErrCapacitySLO naming the part.
func ParseCapacitySLOs(s string) ([]CapacitySLO, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("no objective given: %w, e.g. ttft_p90=500ms,tpot_p90=50ms", ErrCapacitySLO)
	}
	var out []CapacitySLO
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		key, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("%q is %w: expected METRIC_STAT=DURATION (e.g. ttft_p90=500ms) or errors=PERCENT", part, ErrCapacitySLO)
		}
		slo := CapacitySLO{Spec: part}
		if key == "errors" {
			num, isPct := strings.CutSuffix(val, "%")
			v, err := strconv.ParseFloat(num, 64)
			if !isPct || err != nil || v < 0 || v >= 100 || math.IsNaN(v) {
				return nil, fmt.Errorf("%q is %w: errors takes a percentage from 0%% to below 100%%, e.g. errors=1%%", part, ErrCapacitySLO)
			}
			slo.Metric, slo.Limit = "errors", v/100
		} else {
			metric, stat, ok := strings.Cut(key, "_")
			switch metric {
			case "ttft", "tpot", "itl", "ntpot", "e2e":
			default:
				return nil, fmt.Errorf("%q is %w: the metric must be ttft, tpot, itl, ntpot, e2e or errors", part, ErrCapacitySLO)
			}
			switch stat {
			case "p50", "p90", "p99":
				slo.Percentile, _ = strconv.ParseFloat(stat[1:], 64)
			case "mean":
			default:
				if !ok {
					stat = "(none)"
				}
				return nil, fmt.Errorf("%q is %w: the statistic %s must be p50, p90, p99 or mean, e.g. %s_p90", part, ErrCapacitySLO, stat, metric)
			}
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("%q is %w: the limit must be a duration above zero, e.g. 500ms or 2s", part, ErrCapacitySLO)
			}
			slo.Metric, slo.Limit = metric, d.Seconds()
		}
		id := slo.Metric + "_" + strconv.FormatFloat(slo.Percentile, 'g', -1, 64)
		if seen[id] {
			return nil, fmt.Errorf("%q is %w: that objective is given twice", part, ErrCapacitySLO)
		}
		seen[id] = true
		out = append(out, slo)
	}
	return out, nil
}

// Stat names the objective's statistic as people say it: "TTFT p90", "E2E mean", "errors" (Label
// adds the limit).
func (s CapacitySLO) Stat() string {
	if s.Metric == "errors" {
		return "errors"
	}
	stat := "mean"
	if s.Percentile > 0 {
		stat = "p" + strconv.FormatFloat(s.Percentile, 'g', -1, 64)
	}
	return strings.ToUpper(s.Metric) + " " + stat
}

// Format renders a value of the objective's statistic with its unit: milliseconds for latency,
// rounded to 0.1 ms (0.001 ms below 1 ms): "812 ms", "127.7 ms"; a percentage for errors ("1.5%").
func (s CapacitySLO) Format(v float64) string {
	if s.Metric == "errors" {
		return strconv.FormatFloat(100*v, 'g', 3, 64) + "%"
	}
	ms, places := 1000*v, 1.0 // 0.1 ms above 1 ms, 0.001 ms below
	if math.Abs(ms) < 1 {
		places = 3
	}
	scale := math.Pow(10, places)
	return strconv.FormatFloat(math.Round(ms*scale)/scale, 'f', -1, 64) + " ms"
}

// Value picks the objective's statistic from a stage's distributions and request counts: a
// latency percentile or mean in seconds, or the failed share failed/(succeeded+failed). Nil when
// not measured (no distribution, or no request).
func (s CapacitySLO) Value(lat Latency, req *Requests) *float64 {
	if s.Metric == "errors" {
		if req == nil || req.Succeeded+req.Failed == 0 {
			return nil
		}
		return f64(float64(req.Failed) / float64(req.Succeeded+req.Failed))
	}
	var d *Dist
	switch s.Metric {
	case "ttft":
		d = lat.TTFT
	case "tpot":
		d = lat.TPOT
	case "itl":
		d = lat.ITL
	case "ntpot":
		d = lat.NTPOT
	case "e2e":
		d = lat.E2E
	}
	stat := "mean"
	if s.Percentile > 0 {
		stat = "p" + strconv.FormatFloat(s.Percentile, 'g', -1, 64)
	}
	return d.Get(stat)
}

// JudgeCapacity gives one verdict per objective, in order: the statistic's value (see Value)
// and whether it is at most the limit. A value not measured fails its objective.
func JudgeCapacity(slos []CapacitySLO, lat Latency, req *Requests) []CapacityVerdict {
	out := make([]CapacityVerdict, len(slos))
	for i, s := range slos {
		v := s.Value(lat, req)
		out[i] = CapacityVerdict{Value: v, Pass: v != nil && *v <= s.Limit}
	}
	return out
}

// PerRequestSLOs are the per-request limits the objectives imply for goodput: a request meets
// ttft_p90=500ms when its own TTFT is at most 500 ms, whatever the statistic; when one metric has
// several objectives (ttft_p90=500ms,ttft_p99=1s) the strictest limit applies. errors adds no
// limit: a failed request is never good. The result is what AnalyzePerRequest and
// SLOs.Meets judge requests by, so a probe's goodput is the one results show --per-request
// computes with these limits.
func PerRequestSLOs(slos []CapacitySLO) SLOs {
	out := SLOs{}
	for _, s := range slos {
		if s.Metric == "errors" {
			continue
		}
		if old, ok := out[s.Metric]; !ok || s.Limit < old {
			out[s.Metric] = s.Limit
		}
	}
	return out
}

// RequestTiming is one request as the per-request file records it: start and end (seconds on
// any one clock), the arrival time of every output chunk, the output tokens the server counted,
// and whether it failed.
type RequestTiming struct {
	Start, End   float64
	TokenTimes   []float64
	OutputTokens float64
	Failed       bool
}

// Meets tells whether a request met every per-request limit: E2E = end-start, NTPOT = E2E/output
// tokens, TTFT = first chunk-start, ITL = the mean chunk gap, TPOT = (last-first chunk)/(output
// tokens-1). A failed request, or one without the chunk times a limit needs, does not.
func (s SLOs) Meets(r RequestTiming) bool {
	if r.Failed {
		return false
	}
	return meets(valuesOf(r.Start, r.End, r.OutputTokens, r.TokenTimes), s)
}

// valuesOf computes a successful request's numbers, as the per-request analysis does.
func valuesOf(start, end, outTokens float64, times []float64) requestValues {
	var v requestValues
	v.e2e = end - start
	if outTokens > 0 {
		v.ntpot = v.e2e / outTokens
	}
	if len(times) > 1 {
		v.hasTokens = true
		v.ttft = times[0] - start
		v.itl = (times[len(times)-1] - times[0]) / float64(len(times)-1)
		if outTokens > 1 {
			v.hasTPOT = true
			v.tpot = (times[len(times)-1] - times[0]) / (outTokens - 1)
		}
	}
	return v
}
