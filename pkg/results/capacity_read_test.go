package results

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const capacityData = "testdata/capacity"

func TestReadCapacityFound(t *testing.T) {
	c, err := ReadCapacity(filepath.Join(capacityData, "found"))
	if err != nil {
		t.Fatal(err)
	}
	if c.By != ByRate || c.Units != "req/s" || len(c.SLOs) != 2 || len(c.Probes) != 9 || c.Stop != StopBudget {
		t.Fatalf("%+v", c)
	}
	if c.Passing == nil || *c.Passing != 45 || c.Failing == nil || *c.Failing != 47.5 {
		t.Errorf("bracket %v %v, want 45 47.5", c.Passing, c.Failing)
	}
	if s := c.SLOs[0]; s.Metric != "ttft" || s.Percentile != 90 || s.Limit != 0.5 || s.Label() != "TTFT p90 ≤ 500 ms" {
		t.Errorf("SLO %+v label %q", s, s.Label())
	}
	if l := c.SLOs[1].Label(); l != "errors ≤ 1%" {
		t.Errorf("errors label %q", l)
	}
	p := c.Probes[7]
	if !p.Repeat || p.Level != 45 || *p.Achieved != 44.6 || *p.Goodput != 42.9 || *p.Verdicts[0].Value != 0.49 || !p.Pass {
		t.Errorf("probe 7 %+v", p)
	}
	if !c.Probes[3].Saturated || c.Probes[3].Pass {
		t.Errorf("probe 3 must be saturated and failing: %+v", c.Probes[3])
	}
	if got := c.Summary(); got != "max 45 req/s within SLO (bracket 45–47.5, 9 probes)" {
		t.Errorf("summary %q (the writer's answer line)", got)
	}
	if got := c.Bracket(); got != "[45–47.5]" {
		t.Errorf("bracket %q", got)
	}
}

func TestReadCapacityNeverAndAlwaysMet(t *testing.T) {
	never, err := ReadCapacity(filepath.Join(capacityData, "never-met"))
	if err != nil {
		t.Fatal(err)
	}
	if never.Passing != nil || never.Failing == nil || *never.Failing != 1 || never.Stop != StopMinFails {
		t.Errorf("never-met %+v", never)
	}
	if p := never.Probes[0]; p.Goodput != nil || p.Verdicts[1].Value != nil || p.Verdicts[1].Pass {
		t.Errorf("unmeasured goodput and TPOT must stay null and fail: %+v", p)
	}
	if got := never.Summary(); got != "even --min fails TTFT p90: 812 ms > 500 ms" {
		t.Errorf("summary %q", got)
	}
	if got := never.Bracket(); got != "[…–1]" {
		t.Errorf("bracket %q", got)
	}
	// Without the writer's answer line, the reader builds one.
	never.Answer = ""
	if got := never.Summary(); got != "no level passed every SLO (lowest failing 1 req/s, 1 probe)" {
		t.Errorf("built summary %q", got)
	}

	always, err := ReadCapacity(filepath.Join(capacityData, "always-met"))
	if err != nil {
		t.Fatal(err)
	}
	if always.By != ByConcurrency || always.Failing != nil || *always.Passing != 64 || always.Answer != "" {
		t.Errorf("always-met %+v", always)
	}
	if got := always.Summary(); got != "≥ 64 concurrent requests: every level probed passed (4 probes)" {
		t.Errorf("summary %q", got)
	}
	if got := always.SLOs[0].Label(); got != "E2E p99 ≤ 20000 ms" {
		t.Errorf("label %q", got)
	}
	always.Stop = ""
	if got := always.Summary(); !strings.HasSuffix(got, "; the search has not ended") {
		t.Errorf("unfinished summary %q", got)
	}
	always.Stop = StopCancelled
	if got := always.Summary(); !strings.HasSuffix(got, "; the search was cancelled") {
		t.Errorf("cancelled summary %q", got)
	}
}

func TestReadCapacityAbsentAndBroken(t *testing.T) {
	c, err := ReadCapacity(filepath.Join("testdata", "inference-perf", "vllm"))
	if c != nil || err != nil {
		t.Errorf("a folder without %s: %v %v, want nil nil", CapacityFile, c, err)
	}
	_, err = ReadCapacity(filepath.Join(capacityData, "malformed"))
	if err == nil || !strings.Contains(err.Error(), filepath.Join(capacityData, "malformed", CapacityFile)) ||
		strings.Contains(err.Error(), "\n") {
		t.Errorf("malformed: %v, want one line naming the file", err)
	}
	// ReadDir refuses the folder for it too, rather than showing it without its answer.
	if _, err := ReadDir(filepath.Join(capacityData, "malformed")); err == nil || !strings.Contains(err.Error(), CapacityFile) {
		t.Errorf("ReadDir of malformed: %v", err)
	}
	dir := t.TempDir()
	for name, body := range map[string]string{
		`"by" is "load"`:               `{"by": "load", "slos": [], "probes": []}`,
		"probe 0 has 1 verdicts for 2": `{"by": "rate", "slos": [{"metric": "ttft"}, {"metric": "errors"}], "probes": [{"level": 1, "verdicts": [{"value": 1, "pass": true}]}]}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, CapacityFile), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadCapacity(dir)
		if !errors.Is(err, ErrCapacityContract) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), CapacityFile) {
			t.Errorf("%s: %v", body, err)
		}
	}
}

func TestReadDirCarriesCapacity(t *testing.T) {
	r, err := ReadDir(filepath.Join(capacityData, "found"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Stages) != 9 || r.Capacity == nil || *r.Capacity.Passing != 45 {
		t.Fatalf("stages %d capacity %+v", len(r.Stages), r.Capacity)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Capacity *struct {
			Passing *float64 `json:"passing"`
			Probes  []any    `json:"probes"`
		} `json:"capacity"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Capacity == nil || back.Capacity.Passing == nil || *back.Capacity.Passing != 45 || len(back.Capacity.Probes) != 9 {
		t.Errorf("-o json must carry the capacity record: %s", b)
	}
	plain, err := ReadDir(filepath.Join("testdata", "inference-perf", "vllm"))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(plain); strings.Contains(string(b), `"capacity"`) {
		t.Error("a folder without a capacity search must not have a capacity key")
	}
}

func TestCompareCapacity(t *testing.T) {
	read := func(name string) *Report {
		r, err := ReadDir(filepath.Join(capacityData, name))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b := read("found"), read("found-b")
	c, err := Compare([]*Report{a, b}, []string{"A", "B"}, CompareOptions{Threshold: 5})
	if err != nil {
		t.Fatal(err)
	}
	cc := c.Capacity
	if cc == nil || cc.By != ByRate || *cc.Passing[0] != 45 || *cc.Passing[1] != 54 || *cc.Failing[1] != 57.375 {
		t.Fatalf("%+v", cc)
	}
	// (54 - 45) / 45 = +20 %, by hand.
	if cc.DeltaPct[0] != nil || cc.DeltaPct[1] == nil || *cc.DeltaPct[1] < 19.9999 || *cc.DeltaPct[1] > 20.0001 || cc.Bound[1] != "" || len(cc.Notes) != 0 {
		t.Errorf("delta %v bound %q notes %v", cc.DeltaPct, cc.Bound, cc.Notes)
	}

	// found (45, bracketed) against always-met (by concurrency): not compared, and said so.
	cc = CompareCapacity([]*Report{a, read("always-met")}, []string{"A", "C"})
	if cc.DeltaPct[1] != nil || cc.Passing[1] != nil || len(cc.Notes) != 1 || !strings.Contains(cc.Notes[0], "searched by concurrency") {
		t.Errorf("%+v", cc)
	}
	// never-met has no passing level: no change to compute.
	cc = CompareCapacity([]*Report{read("never-met"), a}, []string{"N", "A"})
	if cc.DeltaPct[1] != nil || cc.Passing[0] != nil || len(cc.Notes) != 1 || !strings.Contains(cc.Notes[0], "other SLOs") {
		t.Errorf("%+v", cc)
	}
	// An open-ended answer makes the change a bound: 45 -> ">= 64" is at least +42.2 % ((64-45)/45).
	open := *b.Capacity
	open.Failing, open.Passing = nil, f64(64)
	cc = CompareCapacity([]*Report{a, {Capacity: &open}}, []string{"A", "B"})
	if cc.Bound[1] != "at least" || *cc.DeltaPct[1] < 42.22 || *cc.DeltaPct[1] > 42.23 {
		t.Errorf("bound %q delta %v", cc.Bound[1], *cc.DeltaPct[1])
	}
	if CompareCapacity([]*Report{{}, {}}, []string{"x", "y"}) != nil {
		t.Error("no capacity record: no capacity comparison")
	}
}

// Repeats of a capacity search are not averaged: each keeps its own probes and answer.
func TestRepeatsKeepCapacitySearchesApart(t *testing.T) {
	a, b, plain := repeat("r1", "w", 1, []float64{0.1}), repeat("r1", "w", 2, []float64{0.2}), repeat("r1", "v", 1, []float64{0.3})
	plain2 := repeat("r1", "v", 2, []float64{0.4})
	a.Capacity, b.Capacity = &Capacity{By: ByRate, Passing: f64(40)}, &Capacity{By: ByRate, Passing: f64(44)}
	shown, err := AggregateRepeats([]*Report{a, plain, b, plain2})
	if err != nil {
		t.Fatal(err)
	}
	if len(shown) != 3 || shown[0] != a || shown[2] != b || shown[1].Repeats != 2 {
		t.Fatalf("%d shown: %+v", len(shown), shown)
	}
}

// A capacity search's repeated probe is a second stage at the same rate: compare keeps both, the
// n-th stage at a rate matched with the other run's n-th.
func TestCompareKeepsStagesAtTheSameRate(t *testing.T) {
	a, err := ReadDir(filepath.Join(capacityData, "found"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ReadDir(filepath.Join(capacityData, "found"))
	c, err := Compare([]*Report{a, b}, []string{"a", "b"}, CompareOptions{Threshold: 5})
	if err != nil {
		t.Fatal(err)
	}
	// found's 9 stages: 10, 20, 40, 80, 60, 50, 45, 45, 47.5 req/s; by rate: ..., 45, 45, 47.5, ...
	var keys []float64
	for _, r := range c.Rows {
		keys = append(keys, r.Key)
	}
	want := []float64{10, 20, 40, 45, 45, 47.5, 50, 60, 80}
	if len(keys) != len(want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	for i := range want {
		if keys[i] != want[i] {
			t.Fatalf("keys %v, want %v", keys, want)
		}
	}
	// stage 6 (TTFT 470 ms) then its repeat, stage 7 (490 ms)
	if v := c.Rows[3].Metrics["ttft_p50"].Values[0]; v == nil || *v != 0.47 {
		t.Errorf("first 45 req/s row %v", v)
	}
	if v := c.Rows[4].Metrics["ttft_p50"].Values[1]; v == nil || *v != 0.49 {
		t.Errorf("second 45 req/s row %v", v)
	}
}

// Whatever capacity.json holds, reading it never panics: a record whose answer line, bracket and
// JSON encoding work, or an error of one line naming the file.
func FuzzReadCapacity(f *testing.F) {
	for _, name := range []string{"found", "never-met", "always-met", "malformed"} {
		b, err := os.ReadFile(filepath.Join(capacityData, name, CapacityFile))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"by": "rate", "passing": NaN, "failing": Infinity, "probes": [{"level": -1, "achieved_rate": NaN, "verdicts": []}]}`))
	f.Add([]byte(`{"by": "concurrency", "slos": [{"metric": "errors", "limit": 1e308}], "probes": [{"verdicts": [{"value": -1e308}]}], "failing": 0}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, CapacityFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := ReadCapacity(dir)
		if err != nil {
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, CapacityFile) {
				t.Fatalf("error not one line naming the file: %q", msg)
			}
			return
		}
		_, _ = c.Summary(), c.Bracket()
		for _, s := range c.SLOs {
			_ = s.Label()
		}
		if _, err := json.Marshal(c); err != nil {
			t.Fatalf("record does not encode: %v", err)
		}
	})
}
