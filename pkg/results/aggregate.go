package results

import (
	"fmt"
	"math"
	"strings"
)

// Repeats groups result folders that are repeats of one another (same run, workload and parallel
// index, from their metadata), in the order first seen. Folders without metadata stay alone, and
// so do capacity searches (Report.Capacity): each repeat probes its own levels and has its own
// answer, which are not averaged.
func Repeats(reports []*Report) [][]*Report {
	var groups [][]*Report
	index := map[string]int{}
	for _, r := range reports {
		if r.Capacity != nil {
			groups = append(groups, []*Report{r})
			continue
		}
		key := r.Source
		if r.Metadata != nil {
			key = r.Metadata.Group()
		}
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], r)
	}
	return groups
}

// AggregateRepeats turns the reports read from a target (ReadLocal's, in order) into what is
// shown: one report per workload, its repeats averaged by Aggregate.
func AggregateRepeats(reports []*Report) ([]*Report, error) {
	var shown []*Report
	for _, group := range Repeats(reports) {
		r, err := Aggregate(group)
		if err != nil {
			return nil, err
		}
		shown = append(shown, r)
	}
	return shown, nil
}

// aggregated lists every number Aggregate averages, by the name its spread is reported under.
func aggregated() []struct {
	name string
	ptr  func(*Metrics) **float64
} {
	type field = struct {
		name string
		ptr  func(*Metrics) **float64
	}
	fields := []field{
		{"achieved_rate", func(m *Metrics) **float64 { return &m.AchievedRate }},
		{"requests_per_sec", func(m *Metrics) **float64 { return &m.Throughput.RequestsPerSec }},
		{"input_tokens_per_sec", func(m *Metrics) **float64 { return &m.Throughput.InputTokensPerSec }},
		{"output_tokens_per_sec", func(m *Metrics) **float64 { return &m.Throughput.OutputTokensPerSec }},
		{"total_tokens_per_sec", func(m *Metrics) **float64 { return &m.Throughput.TotalTokensPerSec }},
	}
	dists := []struct {
		name string
		get  func(*Metrics) **Dist
	}{
		{"ttft", func(m *Metrics) **Dist { return &m.Latency.TTFT }},
		{"tpot", func(m *Metrics) **Dist { return &m.Latency.TPOT }},
		{"itl", func(m *Metrics) **Dist { return &m.Latency.ITL }},
		{"ntpot", func(m *Metrics) **Dist { return &m.Latency.NTPOT }},
		{"e2e", func(m *Metrics) **Dist { return &m.Latency.E2E }},
	}
	stats := []struct {
		name string
		get  func(*Dist) **float64
	}{
		{"mean", func(d *Dist) **float64 { return &d.Mean }},
		{"p50", func(d *Dist) **float64 { return &d.P50 }},
		{"p90", func(d *Dist) **float64 { return &d.P90 }},
		{"p99", func(d *Dist) **float64 { return &d.P99 }},
	}
	for _, d := range dists {
		for _, s := range stats {
			fields = append(fields, field{d.name + "_" + s.name, func(m *Metrics) **float64 {
				dp := d.get(m)
				if *dp == nil {
					*dp = &Dist{}
				}
				return s.get(*dp)
			}})
		}
	}
	return fields
}

// Aggregate turns repeats of one workload into one report: per stage (matched by requested rate,
// concurrency or stage number) the mean of every number, request counts summed, and the sample
// standard deviation of each number in Spread. One report is returned as it is.
func Aggregate(group []*Report) (*Report, error) {
	if len(group) == 0 {
		return nil, fmt.Errorf("nothing to aggregate")
	}
	if len(group) == 1 {
		return group[0], nil
	}
	_, keys, matched := matchStages(group)
	fields := aggregated()
	first := group[0]
	out := &Report{
		Source: commonSource(group), Format: first.Format, Harness: first.Harness, Model: first.Model,
		Definitions: first.Definitions, Metadata: first.Metadata, Repeats: len(group),
	}
	for _, k := range keys {
		var stages []*Stage
		for _, s := range matched[k] {
			if s != nil {
				stages = append(stages, s)
			}
		}
		st := Stage{Stage: stages[0].Stage, Repeats: len(stages), Spread: map[string]float64{}}
		st.RequestedRate, st.Concurrency = stages[0].RequestedRate, stages[0].Concurrency
		st.Requests = sumRequests(stages)
		for _, f := range fields {
			var vals []float64
			for _, s := range stages {
				m := s.Metrics
				if p := *f.ptr(&m); p != nil {
					vals = append(vals, *p)
				}
			}
			if len(vals) == 0 {
				continue
			}
			mean, sd := meanStddev(vals)
			*f.ptr(&st.Metrics) = f64(mean)
			if len(vals) > 1 {
				st.Spread[f.name] = sd
			}
		}
		dropEmptyDists(&st.Latency)
		out.Stages = append(out.Stages, st)
	}
	return out, nil
}

// sumRequests adds up the request counts of repeats; nil when no repeat has counts, and
// Incomplete only when some repeat counts it.
func sumRequests(stages []*Stage) *Requests {
	var out *Requests
	for _, s := range stages {
		if s.Requests == nil {
			continue
		}
		if out == nil {
			out = &Requests{}
		}
		out.Succeeded += s.Requests.Succeeded
		out.Failed += s.Requests.Failed
		if s.Requests.Incomplete != nil {
			n := *s.Requests.Incomplete
			if out.Incomplete != nil {
				n += *out.Incomplete
			}
			out.Incomplete = &n
		}
	}
	return out
}

func meanStddev(v []float64) (float64, float64) {
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	mean := sum / float64(len(v))
	if len(v) < 2 {
		return mean, 0
	}
	ss := 0.0
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)-1))
}

func dropEmptyDists(l *Latency) {
	for _, d := range []**Dist{&l.TTFT, &l.TPOT, &l.ITL, &l.NTPOT, &l.E2E} {
		if *d != nil && (*d).Mean == nil && (*d).P50 == nil && (*d).P90 == nil && (*d).P99 == nil {
			*d = nil
		}
	}
}

// commonSource names an aggregate by what its folders share (the run folder, usually).
func commonSource(group []*Report) string {
	prefix := group[0].Source
	for _, r := range group[1:] {
		for !strings.HasPrefix(r.Source, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	return strings.TrimRight(prefix, "/_-") + fmt.Sprintf(" (%d repeats)", len(group))
}
