package results

import (
	"math"
	"testing"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

func repeat(run, workload string, r int, ttftP50 []float64) *Report {
	rep := &Report{Source: "/x/" + run + "/" + workload + "_run", Metadata: &runstate.Metadata{RunInfo: runstate.RunInfo{Run: run}, Workload: workload, Repeat: r}}
	for i, v := range ttftP50 {
		rate := float64(2 * (i + 1))
		rep.Stages = append(rep.Stages, Stage{Stage: i, Metrics: Metrics{
			RequestedRate: f64(rate),
			Requests:      &Requests{Succeeded: 10, Failed: 1},
			Latency:       Latency{TTFT: &Dist{P50: f64(v)}},
			Throughput:    Throughput{RequestsPerSec: f64(rate)},
		}})
	}
	return rep
}

func TestAggregateRepeats(t *testing.T) {
	reports := []*Report{
		repeat("r1", "a", 1, []float64{0.100, 0.200}),
		repeat("r1", "b", 1, []float64{1, 1}),
		repeat("r1", "a", 2, []float64{0.110, 0.220}),
		repeat("r1", "a", 3, []float64{0.120, 0.240}),
	}
	groups := Repeats(reports)
	if len(groups) != 2 || len(groups[0]) != 3 || len(groups[1]) != 1 {
		t.Fatalf("groups %d: %d, %d", len(groups), len(groups[0]), len(groups[1]))
	}
	agg, err := Aggregate(groups[0])
	if err != nil {
		t.Fatal(err)
	}
	if agg.Repeats != 3 || len(agg.Stages) != 2 || agg.Name() != "r1 a" {
		t.Fatalf("aggregate: %d repeats, %d stages, name %q", agg.Repeats, len(agg.Stages), agg.Name())
	}
	st := agg.Stages[1]
	if math.Abs(*st.Latency.TTFT.P50-0.220) > 1e-12 || math.Abs(st.Spread["ttft_p50"]-0.020) > 1e-12 {
		t.Errorf("stage 1 ttft p50 %v spread %v, want 0.220 and 0.020", *st.Latency.TTFT.P50, st.Spread["ttft_p50"])
	}
	if st.Requests.Succeeded != 30 || st.Requests.Failed != 3 || st.Repeats != 3 || st.Latency.ITL != nil {
		t.Errorf("counts %+v, repeats %d, itl %v", st.Requests, st.Repeats, st.Latency.ITL)
	}
	if _, ok := st.Spread["requests_per_sec"]; !ok {
		t.Error("no throughput spread")
	}
	// A single folder is its own aggregate.
	if one, _ := Aggregate(groups[1]); one != reports[1] {
		t.Error("one report must come back unchanged")
	}
}

// With repeats on both sides, a change is marked only beyond the two spreads; without, beyond
// the flat threshold.
func TestCompareUsesTheSpread(t *testing.T) {
	base, _ := Aggregate([]*Report{repeat("old", "a", 1, []float64{0.100, 0.100}), repeat("old", "a", 2, []float64{0.120, 0.100})})
	// Stage 0: +8 % but the spreads (0.014 + 0.014 of 0.110 = 26 %) swallow it.
	// Stage 1: +30 % against spreads of 0 + 0.0014: marked.
	next, _ := Aggregate([]*Report{repeat("new", "a", 1, []float64{0.109, 0.130}), repeat("new", "a", 2, []float64{0.129, 0.132})})
	c, err := Compare([]*Report{base, next}, []string{"old", "new"}, CompareOptions{Stat: "p50", Threshold: 5})
	if err != nil {
		t.Fatal(err)
	}
	m0, m1 := c.Rows[0].Metrics["ttft_p50"], c.Rows[1].Metrics["ttft_p50"]
	if m0.Verdict[1] != "" || *m0.DeltaPct[1] < 7 || *m0.NoisePct[1] < 20 {
		t.Errorf("stage 0: verdict %q, delta %.1f%%, noise %.1f%% (want unmarked)", m0.Verdict[1], *m0.DeltaPct[1], *m0.NoisePct[1])
	}
	if m1.Verdict[1] != "worse" || *m1.NoisePct[1] > 2 {
		t.Errorf("stage 1: verdict %q, noise %.1f%% (want worse)", m1.Verdict[1], *m1.NoisePct[1])
	}
	// Single folders fall back to --threshold: the same +8 % is now a change.
	c, _ = Compare([]*Report{repeat("old", "a", 0, []float64{0.110}), repeat("new", "a", 0, []float64{0.119})}, nil, CompareOptions{Stat: "p50", Threshold: 5})
	if m := c.Rows[0].Metrics["ttft_p50"]; m.Verdict[1] != "worse" || *m.NoisePct[1] != 5 {
		t.Errorf("without repeats: verdict %q noise %v", m.Verdict[1], *m.NoisePct[1])
	}
}
