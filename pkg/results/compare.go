package results

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// minNoisePct floors the spread-based noise: two repeats can agree by chance far more closely
// than the stack is reproducible, and changes under 1 % are not worth a verdict.
const minNoisePct = 1.0

// CompareOptions shape Compare.
type CompareOptions struct {
	// Stat is mean, p50, p90 or p99 for the latency metrics.
	Stat string
	// Threshold is the change in percent below which a difference is noise.
	Threshold float64
}

// Comparison lines runs up stage by stage.
type Comparison struct {
	Labels []string `json:"labels"`
	// Key says how stages were matched: requested_rate, concurrency or stage.
	Key  string          `json:"key"`
	Stat string          `json:"stat"`
	Rows []ComparisonRow `json:"rows"`
	// Capacity compares the runs' capacity answers when any of them is a capacity search.
	Capacity *CapacityComparison `json:"capacity,omitempty"`
}

// ComparisonRow is one matched stage.
type ComparisonRow struct {
	Key     float64                   `json:"key"`
	Metrics map[string]MetricCompared `json:"metrics"`
}

// MetricCompared holds one metric of every run, and each run's change against the first.
type MetricCompared struct {
	Values   []*float64 `json:"values"`
	DeltaPct []*float64 `json:"delta_pct"`
	// Verdict per run: "better", "worse" or "" (within the noise threshold, or no data).
	Verdict []string `json:"verdict"`
	// NoisePct is the threshold each run's change had to exceed: the two runs' spreads across
	// repeats when both have repeats, else --threshold.
	NoisePct []*float64 `json:"noise_pct"`
}

// CompareMetrics lists the compared metrics, in order, and whether lower is better.
func CompareMetrics(stat string) []struct {
	Name        string
	LowerBetter bool
	Get         func(Metrics) *float64
} {
	lat := func(f func(Latency) *Dist) func(Metrics) *float64 {
		return func(m Metrics) *float64 { return f(m.Latency).Get(stat) }
	}
	return []struct {
		Name        string
		LowerBetter bool
		Get         func(Metrics) *float64
	}{
		{"ttft_" + stat, true, lat(func(l Latency) *Dist { return l.TTFT })},
		{"tpot_" + stat, true, lat(func(l Latency) *Dist { return l.TPOT })},
		{"itl_" + stat, true, lat(func(l Latency) *Dist { return l.ITL })},
		{"e2e_" + stat, true, lat(func(l Latency) *Dist { return l.E2E })},
		{"requests_per_sec", false, func(m Metrics) *float64 { return m.Throughput.RequestsPerSec }},
		{"output_tokens_per_sec", false, func(m Metrics) *float64 { return m.Throughput.OutputTokensPerSec }},
	}
}

// stageKey is how stages are matched across runs.
func stageKey(reports []*Report) (string, func(Stage) (float64, bool)) {
	all := func(get func(Stage) *float64) bool {
		for _, r := range reports {
			for _, s := range r.Stages {
				if get(s) == nil {
					return false
				}
			}
		}
		return true
	}
	switch {
	case all(func(s Stage) *float64 { return s.RequestedRate }):
		return "requested_rate", func(s Stage) (float64, bool) { return *s.RequestedRate, true }
	case all(func(s Stage) *float64 { return s.Concurrency }):
		return "concurrency", func(s Stage) (float64, bool) { return *s.Concurrency, true }
	}
	return "stage", func(s Stage) (float64, bool) { return float64(s.Stage), true }
}

// stageSlot is where a stage is matched: its key, and which of the report's stages at that key
// it is (0 for the first; a capacity search's repeated probe is the second at its level).
type stageSlot struct {
	key float64
	n   int
}

// matchStages lines up the stages of reports by key (requested rate, else concurrency, else stage
// number; rounded to 3 decimals since tools write 31.4 as 31.400000000000002): for every slot in
// ascending order of key, then occurrence, each report's stage there or nil. A report with two
// stages at one key has them in two slots, the n-th matched with the others' n-th.
func matchStages(reports []*Report) (string, []stageSlot, map[stageSlot][]*Stage) {
	keyName, keyOf := stageKey(reports)
	bySlot := map[stageSlot][]*Stage{}
	var slots []stageSlot
	for i, r := range reports {
		seen := map[float64]int{}
		for j := range r.Stages {
			k, _ := keyOf(r.Stages[j])
			k = math.Round(k*1000) / 1000
			slot := stageSlot{k, seen[k]}
			seen[k]++
			if bySlot[slot] == nil {
				bySlot[slot] = make([]*Stage, len(reports))
				slots = append(slots, slot)
			}
			bySlot[slot][i] = &r.Stages[j]
		}
	}
	sort.Slice(slots, func(a, b int) bool {
		if slots[a].key != slots[b].key {
			return slots[a].key < slots[b].key
		}
		return slots[a].n < slots[b].n
	})
	return keyName, slots, bySlot
}

// ErrUnknownStat: a comparison asked for a latency statistic other than mean, p50, p90 or p99.
var ErrUnknownStat = errors.New("not one the comparison knows")

// Compare matches the stages of runs by requested rate (or concurrency, or stage number) and
// reports every metric with its change against the first run. Requested rates are matched after
// rounding to 3 decimals, since tools write 31.4 as 31.400000000000002; two stages of a run at one
// rate (a capacity search's repeated probe) are two rows, never one dropped.
func Compare(reports []*Report, labels []string, o CompareOptions) (*Comparison, error) {
	if len(reports) < 2 {
		return nil, fmt.Errorf("compare needs at least two result folders")
	}
	if o.Stat == "" {
		o.Stat = "p50"
	}
	switch o.Stat {
	case "mean", "p50", "p90", "p99":
	default:
		return nil, fmt.Errorf("latency statistic %q is %w: use mean, p50, p90 or p99", o.Stat, ErrUnknownStat)
	}
	keyName, slots, bySlot := matchStages(reports)
	c := &Comparison{Labels: labels, Key: keyName, Stat: o.Stat, Capacity: CompareCapacity(reports, labels)}
	for _, slot := range slots {
		row := ComparisonRow{Key: slot.key, Metrics: map[string]MetricCompared{}}
		stages := bySlot[slot]
		for _, m := range CompareMetrics(o.Stat) {
			mc := MetricCompared{Values: make([]*float64, len(reports)), DeltaPct: make([]*float64, len(reports)),
				Verdict: make([]string, len(reports)), NoisePct: make([]*float64, len(reports))}
			for i, st := range stages {
				if st != nil {
					mc.Values[i] = m.Get(st.Metrics)
				}
			}
			base := mc.Values[0]
			for i := 1; i < len(reports); i++ {
				v := mc.Values[i]
				if base == nil || v == nil || *base == 0 {
					continue
				}
				d := (*v - *base) / math.Abs(*base) * 100
				mc.DeltaPct[i] = f64(d)
				noise := o.Threshold
				sb, okBase := stages[0].Spread[m.Name]
				si, okRun := stages[i].Spread[m.Name]
				if okBase && okRun {
					// Repeats measured the noise: a change counts when the means differ by more
					// than both spreads together.
					noise = max((sb+si)/math.Abs(*base)*100, minNoisePct)
				}
				mc.NoisePct[i] = f64(noise)
				if math.Abs(d) > noise {
					if (d < 0) == m.LowerBetter {
						mc.Verdict[i] = "better"
					} else {
						mc.Verdict[i] = "worse"
					}
				}
			}
			row.Metrics[m.Name] = mc
		}
		c.Rows = append(c.Rows, row)
	}
	return c, nil
}
