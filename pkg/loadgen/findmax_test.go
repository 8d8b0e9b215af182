package loadgen

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

// model is a synthetic stack: the TTFT p90 (s) and achieved rate (req/s) of the attempt-th probe
// (0 first, 1 repeat) at a level.
type model func(level float64, attempt int) (ttftP90, achieved float64)

// drive runs a search against a model and returns the levels probed, in order.
func drive(t *testing.T, f FindMax, load string, m model) (*Search, []float64) {
	t.Helper()
	s, err := NewSearch(f, load, 7)
	if err != nil {
		t.Fatal(err)
	}
	var levels []float64
	for i := 0; i < 100; i++ {
		level, repeat, ok := s.Next()
		if !ok {
			return s, levels
		}
		attempt := 0
		if repeat {
			attempt = 1
		}
		ttft, achieved := m(level, attempt)
		levels = append(levels, level)
		s.Observe(Observation{Stage: i, Achieved: &achieved, Latency: results.Latency{TTFT: &results.Dist{P90: &ttft}},
			Requests: &results.Requests{Succeeded: 100}})
	}
	t.Fatal("the search did not end in 100 probes")
	return nil, nil
}

func rateSearch(maxProbes int) FindMax {
	return FindMax{Min: 1, Max: 100, SLO: "ttft_p90=500ms", MaxProbes: maxProbes}
}

// knee: TTFT 100 ms up to 20 req/s, 2 s above; the achieved rate is the offered one.
func knee(level float64, _ int) (float64, float64) {
	if level <= 20 {
		return 0.1, level
	}
	return 2, level
}

func check(t *testing.T, s *Search, levels, want []float64, stop string, passing, failing *float64, answer string) {
	t.Helper()
	c := s.Capacity()
	if !reflect.DeepEqual(levels, want) {
		t.Errorf("probed %v, want %v", levels, want)
	}
	if c.Stop != stop || !reflect.DeepEqual(c.Passing, passing) || !reflect.DeepEqual(c.Failing, failing) {
		t.Errorf("stop %q passing %v failing %v, want %q %v %v", c.Stop, deref(c.Passing), deref(c.Failing), stop, deref(passing), deref(failing))
	}
	if c.Answer != answer {
		t.Errorf("answer %q\n  want %q", c.Answer, answer)
	}
	if len(c.Probes) != len(levels) {
		t.Errorf("%d probes recorded for %d probed", len(c.Probes), len(levels))
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func ptr(v float64) *float64 { return &v }

func TestSearchCleanKnee(t *testing.T) {
	// By hand: ramp 1..16 pass, 32 fails; bisect [16,32]→24 F, [16,24]→20 P, [20,24]→22 F,
	// [20,22]→21 F, [20,21] (width 5% of 20, not below) →20.5 F, [20,20.5] 2.5% < 5%: stop.
	s, levels := drive(t, rateSearch(20), LoadConstant, knee)
	check(t, s, levels, []float64{1, 2, 4, 8, 16, 32, 24, 20, 22, 21, 20.5}, results.StopPrecision, ptr(20), ptr(20.5),
		"max 20 req/s within SLO (bracket 20-20.5, 11 probes)")
}

func TestSearchNoisyRepeatDecides(t *testing.T) {
	// At 16 the first probe reads 490 ms (within 5% of 500 ms: repeated), the repeat 520 ms: fail.
	// By hand: 1,2,4,8 P, 16 (noisy) 16 F; [8,16]→12 P, [12,16]→14 P, [14,16]→15 P,
	// [15,16] 6.7%→15.5 P, [15.5,16] 3.2%: stop.
	m := func(level float64, attempt int) (float64, float64) {
		switch {
		case level == 16 && attempt == 0:
			return 0.49, level
		case level >= 16:
			return 0.52, level
		}
		return 0.1, level
	}
	s, levels := drive(t, rateSearch(20), LoadConstant, m)
	check(t, s, levels, []float64{1, 2, 4, 8, 16, 16, 12, 14, 15, 15.5}, results.StopPrecision, ptr(15.5), ptr(16),
		"max 15.5 req/s within SLO (bracket 15.5-16, 10 probes)")
	c := s.Capacity()
	if !c.Probes[4].Pass || c.Probes[4].Repeat || c.Probes[5].Pass || !c.Probes[5].Repeat {
		t.Errorf("probe 4 should pass and be repeated; the repeat should fail: %+v %+v", c.Probes[4], c.Probes[5])
	}
}

func TestSearchNonMonotoneNearKnee(t *testing.T) {
	// Passes up to 19, fails at 20 (a dip), passes 21-22, fails above. By hand: 1..16 P, 32 F,
	// 24 F, 20 F; [16,20]→18 P, [18,20]→19 P, [19,20] 5.3%→19.5 P, [19.5,20] 2.6%: stop. The
	// bracket follows the verdicts it saw: passing below failing.
	m := func(level float64, _ int) (float64, float64) {
		if level <= 19.5 || (level >= 21 && level <= 22) {
			return 0.1, level
		}
		return 0.9, level
	}
	s, levels := drive(t, rateSearch(20), LoadConstant, m)
	check(t, s, levels, []float64{1, 2, 4, 8, 16, 32, 24, 20, 18, 19, 19.5}, results.StopPrecision, ptr(19.5), ptr(20),
		"max 19.5 req/s within SLO (bracket 19.5-20, 11 probes)")
}

func TestSearchNeverMet(t *testing.T) {
	s, levels := drive(t, rateSearch(20), LoadConstant, func(level float64, _ int) (float64, float64) { return 0.812, level })
	check(t, s, levels, []float64{1}, results.StopMinFails, nil, ptr(1), "even --min fails TTFT p90: 812 ms > 500 ms")
}

func TestSearchAlwaysMet(t *testing.T) {
	s, levels := drive(t, rateSearch(20), LoadConstant, func(level float64, _ int) (float64, float64) { return 0.1, level })
	check(t, s, levels, []float64{1, 2, 4, 8, 16, 32, 64, 100}, results.StopMaxPasses, ptr(100), nil,
		"max ≥ 100 req/s within SLO: even --max passes (8 probes)")
}

func TestSearchBudgetSpent(t *testing.T) {
	s, levels := drive(t, rateSearch(8), LoadConstant, knee)
	check(t, s, levels, []float64{1, 2, 4, 8, 16, 32, 24, 20}, results.StopBudget, ptr(20), ptr(24),
		"max 20 req/s within SLO (bracket 20-24, 8 probes; budget spent before 5% precision)")
	// The budget also bounds a ramp that never fails.
	s, levels = drive(t, rateSearch(3), LoadConstant, knee)
	check(t, s, levels, []float64{1, 2, 4}, results.StopBudget, ptr(4), nil,
		"max ≥ 4 req/s within SLO (stopped by budget before a level failed, 3 probes)")
}

func TestSearchSaturation(t *testing.T) {
	// TTFT always meets the SLO; the server serves at most 20 req/s. Saturated when achieved <
	// 0.95 × offered: 32 (20 < 30.4), 24 (< 22.8), 22 (< 20.9) saturate; 20 and 21 (20 >= 19.95)
	// do not. By hand: 1..16 P, 32 S, 24 S, 20 P, 22 S, 21 P; [21,22] is 1/21 = 4.8% < 5%: stop.
	m := func(level float64, _ int) (float64, float64) { return 0.1, min(level, 20) }
	s, levels := drive(t, rateSearch(20), LoadConstant, m)
	check(t, s, levels, []float64{1, 2, 4, 8, 16, 32, 24, 20, 22, 21}, results.StopSaturation, ptr(21), ptr(22),
		"max 21 req/s within SLO (bracket 21-22, 10 probes; saturated above: achieved < 95% of offered)")
	if c := s.Capacity(); !c.Probes[5].Saturated || c.Probes[5].Pass || !c.Probes[5].Verdicts[0].Pass {
		t.Errorf("32 req/s: want saturated, failing, with its SLO met: %+v", c.Probes[5])
	}
}

func TestSearchConcurrencyWholeLevels(t *testing.T) {
	// Passes up to 12 in flight. By hand: 1,2,4,8 P, 16 F; [8,16]→12 P, [12,16]→14 F,
	// [12,14]→13 F, [12,13]: no whole number between: stop.
	m := func(level float64, _ int) (float64, float64) {
		if level <= 12 {
			return 0.1, 0 // the achieved rate does not matter by concurrency
		}
		return 0.7, 0
	}
	f := FindMax{By: results.ByConcurrency, Min: 1, Max: 64, SLO: "ttft_p90=500ms"}
	s, levels := drive(t, f, LoadConcurrent, m)
	check(t, s, levels, []float64{1, 2, 4, 8, 16, 12, 14, 13}, results.StopPrecision, ptr(12), ptr(13),
		"max 12 concurrent requests within SLO (bracket 12-13, 8 probes)")
	if st := s.Stage(13); st.ConcurrencyLevel != 13 || st.NumRequests != 13*DefaultRequestsPerStream {
		t.Errorf("stage %+v", st)
	}
}

func TestSearchCancelled(t *testing.T) {
	s, err := NewSearch(rateSearch(20), LoadConstant, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Cancel()
	if _, _, ok := s.Next(); ok || s.Capacity().Stop != results.StopCancelled || len(s.Capacity().Probes) != 0 {
		t.Errorf("after Cancel: %+v", s.Capacity())
	}
}

func TestSearchRefusesBadBlocks(t *testing.T) {
	ok := FindMax{Min: 1, Max: 10, SLO: "ttft_p90=500ms"}
	for name, c := range map[string]struct {
		f    FindMax
		load string
	}{
		"by":              {FindMax{By: "qps", Min: 1, Max: 10, SLO: ok.SLO}, LoadConstant},
		"rate on closed":  {ok, LoadConcurrent},
		"conc on rate":    {FindMax{By: results.ByConcurrency, Min: 1, Max: 10, SLO: ok.SLO}, LoadConstant},
		"min 0":           {FindMax{Min: 0, Max: 10, SLO: ok.SLO}, LoadConstant},
		"max <= min":      {FindMax{Min: 5, Max: 5, SLO: ok.SLO}, LoadConstant},
		"fractional conc": {FindMax{By: results.ByConcurrency, Min: 1.5, Max: 10, SLO: ok.SLO}, LoadConcurrent},
		"precision":       {FindMax{Min: 1, Max: 10, Precision: 5, SLO: ok.SLO}, LoadConstant},
		"probes":          {FindMax{Min: 1, Max: 10, MaxProbes: -1, SLO: ok.SLO}, LoadConstant},
		"duration":        {FindMax{Min: 1, Max: 10, StageDuration: -1, SLO: ok.SLO}, LoadConstant},
		"requests/stream": {FindMax{Min: 1, Max: 10, RequestsPerStream: -2, SLO: ok.SLO}, LoadConstant},
	} {
		if _, err := NewSearch(c.f, c.load, 0); !errors.Is(err, ErrFindMax) {
			t.Errorf("%s: got %v, want ErrFindMax", name, err)
		}
	}
	for _, slo := range []string{"", "ttft=1s"} {
		_, err := NewSearch(FindMax{Min: 1, Max: 10, SLO: slo}, LoadConstant, 0)
		if !errors.Is(err, results.ErrCapacitySLO) {
			t.Errorf("slo %q: got %v, want ErrCapacitySLO", slo, err)
		}
	}
}

func TestWorkloadFindMaxBlock(t *testing.T) {
	const base = `
load:
  type: %s
%s
api: {type: completion, streaming: true}
server: {model_name: m, base_url: http://x:8000}
data:
  type: random
  input_distribution: {min: 10, max: 30, mean: 20}
  output_distribution: {type: fixed, mean: 4}
`
	w, err := ParseWorkload(fmt.Appendf(nil, base, "constant", `  find_max: {min: 2, max: 50, slo: "ttft_p90=500ms"}`))
	if err != nil {
		t.Fatal(err)
	}
	if f := w.Load.FindMax; f == nil || f.Min != 2 || f.Max != 50 || f.SLO != "ttft_p90=500ms" {
		t.Fatalf("decoded %+v", w.Load.FindMax)
	}
	for name, c := range map[string]struct{ load, block, want string }{
		"with stages":   {"constant", "  find_max: {min: 1, max: 9, slo: \"ttft_p90=1s\"}\n  stages: [{rate: 1, duration: 1}]", "load.stages and load.find_max are both set"},
		"with sweep":    {"constant", "  find_max: {min: 1, max: 9, slo: \"ttft_p90=1s\"}\n  sweep: {type: linear}", "load.find_max and load.sweep are both set"},
		"bad slo":       {"constant", "  find_max: {min: 1, max: 9, slo: \"ttft=1s\"}", "not a capacity SLO"},
		"by vs type":    {"concurrent", "  find_max: {min: 1, max: 9, slo: \"ttft_p90=1s\"}", "by rate needs a constant or poisson load"},
		"misspelt key":  {"constant", "  find_max: {min: 1, maxx: 9, slo: \"ttft_p90=1s\"}", "load.find_max.maxx is not a key"},
		"max below min": {"constant", "  find_max: {min: 10, max: 9, slo: \"ttft_p90=1s\"}", "max must be more than min"},
	} {
		_, err := ParseWorkload(fmt.Appendf(nil, base, c.load, c.block))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", name, err, c.want)
		}
	}
}

func TestRunRefusesFindMaxOverLaunchers(t *testing.T) {
	w := &Workload{Load: Load{Type: LoadConstant, FindMax: &FindMax{Min: 1, Max: 9, SLO: "ttft_p90=1s"}}}
	_, err := Run(context.Background(), w, Options{Launcher: &Launcher{Index: 0, Count: 2, Mode: "split"}})
	if !errors.Is(err, ErrFindMax) || !strings.Contains(err.Error(), "one launcher, not 2") {
		t.Errorf("got %v", err)
	}
}

// errors=0% with no failed request is no verdict "within noise" (its limit has no band): the
// ramp is not repeated. By hand: 1, 2, 4 pass (max 4).
func TestSearchZeroErrorLimitIsNotNoise(t *testing.T) {
	s, err := NewSearch(FindMax{Min: 1, Max: 4, SLO: "errors=0%"}, LoadConstant, 0)
	if err != nil {
		t.Fatal(err)
	}
	var levels []float64
	for {
		level, _, ok := s.Next()
		if !ok {
			break
		}
		levels = append(levels, level)
		s.Observe(Observation{Achieved: &level, Requests: &results.Requests{Succeeded: 50}})
	}
	if !reflect.DeepEqual(levels, []float64{1, 2, 4}) || s.Capacity().Stop != results.StopMaxPasses {
		t.Errorf("probed %v, stop %q", levels, s.Capacity().Stop)
	}
}
