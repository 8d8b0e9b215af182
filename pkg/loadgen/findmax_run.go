package loadgen

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

// findMax runs the capacity search: each probe is a normal stage (index = probe order), judged
// from its own records; res.Capacity holds the search's record however it ends.
func (g *generator) findMax(ctx context.Context, res *Result, search *Search, files *FileLimit) error {
	f := search.Config()
	limits := results.PerRequestSLOs(search.slos)
	g.numStages = f.MaxProbes
	defer func() {
		c := search.Capacity()
		res.Capacity = &c
	}()
	fmt.Fprintf(g.o.Progress, "find-max: by %s from %s to %s %s, SLO %s, precision %s%%, at most %d probes\n",
		f.By, num(f.Min), num(f.Max), search.Units(), f.SLO, num(100*f.Precision), f.MaxProbes)
	for i := 0; ; i++ {
		level, repeat, ok := search.Next()
		if !ok {
			break
		}
		if i > 0 {
			if err := sleep(ctx, time.Duration(g.w.Load.IntervalSeconds()*float64(time.Second))); err != nil {
				search.Cancel()
				return err
			}
		}
		st := search.Stage(level)
		warnings, err := checkCapacity(g.w.Load, []Stage{st}, fmt.Sprintf("load.find_max's probe at %s %s", num(level), search.Units()), files)
		if err != nil {
			search.Cancel()
			return err
		}
		for _, warn := range warnings {
			fmt.Fprintf(g.o.Progress, "warning: %s\n", warn)
		}
		why := ""
		if repeat {
			why = " (repeat: the last verdict was within 5% of an SLO's limit)"
		}
		fmt.Fprintf(g.o.Progress, "find-max: probe %d: %s %s%s\n", i+1, num(level), search.Units(), why)
		sr, err := g.stage(ctx, i, st, -1)
		res.Stages = append(res.Stages, sr)
		if res.Launch != nil {
			res.Launch.Stages = append(res.Launch.Stages, launchStage(sr, nil))
		}
		if err != nil {
			search.Cancel() // a stage cut short is no verdict
			return err
		}
		search.Observe(observe(sr, limits))
		fmt.Fprintf(g.o.Progress, "find-max: probe %d: %s\n", i+1, search.describe(len(search.probes)-1))
	}
	fmt.Fprintf(g.o.Progress, "find-max: %s (stopped: %s)\n", search.answer, search.stop)
	return nil
}

// describe is one probe's verdict in one line: "8 req/s pass: TTFT p90 120 ms <= 500 ms; achieved
// 7.98 req/s; goodput 7.9 req/s".
func (s *Search) describe(i int) string {
	p := s.probes[i]
	verdict := "pass"
	if !p.Pass {
		verdict = "FAIL"
	}
	var parts []string
	for j, v := range p.Verdicts {
		slo := s.slos[j]
		switch {
		case v.Value == nil:
			parts = append(parts, slo.Stat()+" not measured")
		case v.Pass:
			parts = append(parts, fmt.Sprintf("%s %s <= %s", slo.Stat(), slo.Format(*v.Value), slo.Format(slo.Limit)))
		default:
			parts = append(parts, fmt.Sprintf("%s %s > %s", slo.Stat(), slo.Format(*v.Value), slo.Format(slo.Limit)))
		}
	}
	rate := func(name string, v *float64) string {
		if v == nil {
			return name + " -"
		}
		return fmt.Sprintf("%s %.2f req/s", name, *v)
	}
	parts = append(parts, rate("achieved", p.Achieved), rate("goodput", p.Goodput))
	if p.Saturated {
		parts = append(parts, fmt.Sprintf("saturated (achieved < %s%% of offered)", num(100*saturationShare)))
	}
	return fmt.Sprintf("%s %s %s: %s", num(p.Level), s.Units(), verdict, strings.Join(parts, "; "))
}

// observe measures a probe from its stage's records, exactly: the distributions the stage's files
// report (numpy-linear percentiles of every value), the request counts, the achieved rate and
// the goodput.
//
// The achieved rate is the rate at which successful requests completed: (n-1) / (last end -
// first end) over the n >= 2 successful requests, nil with fewer or no time between them. An
// open-loop generator sends at the offered rate whatever the server does, so the send rate cannot
// show saturation; a server that keeps up completes requests as fast as they are sent, one that
// does not completes them at its own service rate.
//
// Goodput is results' definition (results show --per-request --slo): requests meeting every
// per-request limit (results.PerRequestSLOs), per second over the successful requests' window
// (first start to last end); 0 when none met them, nil when no request succeeded in a window
// that spans time.
func observe(sr StageResult, limits results.SLOs) Observation {
	s := summarize(sr.Records, 0)
	o := Observation{
		Stage:    sr.Index,
		Requests: &results.Requests{Succeeded: s.successes, Failed: s.failures},
		Latency: results.Latency{TTFT: s.ttft.resultsDist(), TPOT: s.tpot.resultsDist(), ITL: s.itl.resultsDist(),
			NTPOT: s.ntpot.resultsDist(), E2E: s.latency.resultsDist()},
	}
	firstEnd, lastEnd, minStart := math.Inf(1), math.Inf(-1), math.Inf(1)
	good := 0
	for i := range sr.Records {
		r := &sr.Records[i]
		if r.Err != nil {
			continue
		}
		firstEnd, lastEnd, minStart = min(firstEnd, r.End), max(lastEnd, r.End), min(minStart, r.Start)
		if limits.Meets(results.RequestTiming{Start: r.Start, End: r.End, TokenTimes: r.ChunkTimes, OutputTokens: float64(r.OutputTokens)}) {
			good++
		}
	}
	if s.successes >= 2 && lastEnd > firstEnd {
		v := float64(s.successes-1) / (lastEnd - firstEnd)
		o.Achieved = &v
	}
	switch window := lastEnd - minStart; {
	case good == 0 && len(sr.Records) > 0:
		v := 0.0
		o.Goodput = &v
	case good > 0 && window > 0:
		v := float64(good) / window
		o.Goodput = &v
	}
	return o
}

// resultsDist is the distribution as results.Dist (mean, p50, p90, p99); nil when empty.
func (d dist) resultsDist() *results.Dist {
	if len(d) == 0 {
		return nil
	}
	v := func(x float64) *float64 { return &x }
	return &results.Dist{Mean: v(d.mean()), P50: v(d.percentile(50)), P90: v(d.percentile(90)), P99: v(d.percentile(99))}
}
