package config

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func sweepConfig(harness, profile string) string {
	return `
endpoint: {stack_name: s, model: m, namespace: ns, base_url: "http://gw:80"}
harness: {name: ` + harness + `, results_pvc: pvc, image: img}
workload:
  w:
` + profile
}

func sweepProfile(t *testing.T, harness, profile string, s Sweep) map[string]any {
	t.Helper()
	doc := mustParse(t, "c.yaml", sweepConfig(harness, profile))
	cfg, _, err := doc.Resolve(Options{Sweep: &s})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(cfg.Workloads[0].Profile, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSweepInferencePerfAndNative(t *testing.T) {
	const profile = `
    load: {type: constant, interval: 2, stages: [{rate: 1, duration: 30}]}
    api: {type: completion}`
	for _, h := range []string{HarnessInferencePerf, HarnessNative} {
		m := sweepProfile(t, h, profile, Sweep{Rates: []float64{2, 5.5}, Poisson: true})
		load := m["load"].(map[string]any)
		if load["type"] != "poisson" || load["interval"] != 2 {
			t.Errorf("%s: load %v", h, load)
		}
		stages := load["stages"].([]any)
		// The profile's stage length is kept when --stage-duration is not given.
		if len(stages) != 2 || stages[1].(map[string]any)["rate"] != 5.5 || stages[1].(map[string]any)["duration"] != 30 {
			t.Errorf("%s: stages %v", h, stages)
		}
		if m["api"].(map[string]any)["type"] != "completion" {
			t.Errorf("%s: other sections changed: %v", h, m)
		}
	}
	m := sweepProfile(t, HarnessInferencePerf, profile, Sweep{Concurrency: []int{4, 8}, RequestsPerStage: 100})
	load := m["load"].(map[string]any)
	st := load["stages"].([]any)
	if load["type"] != "concurrent" || len(st) != 2 || st[1].(map[string]any)["concurrency_level"] != 8 || st[1].(map[string]any)["num_requests"] != 100 {
		t.Errorf("concurrent load %v", load)
	}
	m = sweepProfile(t, HarnessNative, "    api: {type: chat}", Sweep{Rates: []float64{3}, StageDuration: 20 * time.Second})
	if st := m["load"].(map[string]any)["stages"].([]any); st[0].(map[string]any)["duration"] != 20 {
		t.Errorf("a profile without load gets one: %v", m)
	}
}

func TestSweepGuideLLM(t *testing.T) {
	const profile = `
    target: http://gw:80
    profile: constant
    rate: [1, 5]
    max_seconds: 30`
	m := sweepProfile(t, HarnessGuideLLM, profile, Sweep{Rates: []float64{2, 4}, StageDuration: time.Minute})
	if m["profile"] != "constant" || len(m["rate"].([]any)) != 2 || m["max_seconds"] != 60 {
		t.Errorf("rates: %v", m)
	}
	m = sweepProfile(t, HarnessGuideLLM, profile, Sweep{Concurrency: []int{2, 16}})
	if m["profile"] != "concurrent" || m["rate"].([]any)[1] != 16 || m["max_requests"] != 160 {
		t.Errorf("concurrency: %v", m)
	}
}

func TestSweepVLLMBenchmarkOneLevel(t *testing.T) {
	const profile = `
    executable: benchmark_serving.py
    max-concurrency: 1
    num-prompts: 32`
	for _, h := range []string{HarnessVLLMBenchmark, HarnessInferenceMAX} {
		m := sweepProfile(t, h, profile, Sweep{Rates: []float64{4}, Poisson: true, StageDuration: 30 * time.Second})
		if m["request-rate"] != 4 || m["burstiness"] != 1 || m["num-prompts"] != 120 {
			t.Errorf("%s rate: %v", h, m)
		}
		m = sweepProfile(t, h, profile, Sweep{Concurrency: []int{8}})
		if m["max-concurrency"] != 8 || m["request-rate"] != "inf" || m["num-prompts"] != 80 {
			t.Errorf("%s concurrency: %v", h, m)
		}
	}
}

func TestSweepRefusals(t *testing.T) {
	const vllm = `
    executable: benchmark_serving.py`
	for _, tc := range []struct {
		harness, profile string
		s                Sweep
		want             string
		is               error
	}{
		{HarnessVLLMBenchmark, vllm, Sweep{Rates: []float64{1, 2}, Poisson: true}, "vllm-benchmark runs one load level per workload: give the sweep a single value", ErrSweepOneLevel},
		{HarnessInferenceMAX, vllm, Sweep{Concurrency: []int{1, 2}}, "inferencemax runs one load level per workload", ErrSweepOneLevel},
		{HarnessVLLMBenchmark, vllm, Sweep{Rates: []float64{1}}, "vllm-benchmark sends Poisson arrivals at a request rate and cannot hold a constant one: ask for Poisson arrivals", ErrSweepNeedsPoisson},
		{HarnessNop, "    x: 1", Sweep{Rates: []float64{1}}, "harness nop has no load to sweep", nil},
	} {
		doc := mustParse(t, "c.yaml", sweepConfig(tc.harness, tc.profile))
		_, _, err := doc.Resolve(Options{Sweep: &tc.s})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %+v: got %v, want %q", tc.harness, tc.s, err, tc.want)
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s %+v: %v does not wrap %q", tc.harness, tc.s, err, tc.is)
		}
		if err != nil && strings.Contains(err.Error(), "--") {
			t.Errorf("%s %+v: %q names a command-line flag", tc.harness, tc.s, err)
		}
	}
	for _, tc := range []struct {
		s    Sweep
		want string
		is   error
	}{
		{Sweep{Rates: []float64{1}, Concurrency: []int{1}}, "a sweep has both request rates and concurrency levels: a stage is either rate-driven or concurrency-driven", ErrSweepRatesAndConcurrency},
		{Sweep{Poisson: true}, "Poisson arrivals are asked for, but the sweep has no request rates", ErrSweepPoissonWithoutRates},
		{Sweep{Rates: []float64{-1}}, "-1 is not a positive request rate", ErrSweepRate},
		{Sweep{Rates: []float64{math.Inf(1)}}, "+Inf is not a positive request rate", ErrSweepRate},
		{Sweep{Concurrency: []int{0}}, "0 is not a concurrency level (1 or more)", ErrSweepConcurrency},
		{Sweep{Concurrency: []int{1}, StageDuration: time.Second}, "a stage duration is set, but only rate stages last a duration", ErrSweepStageDurationWithoutRates},
		{Sweep{Rates: []float64{1}, RequestsPerStage: 5}, "requests per stage are set, but only concurrency stages count requests", ErrSweepRequestsWithoutConcurrency},
		{Sweep{Rates: []float64{1}, StageDuration: time.Millisecond}, "stage duration 1ms: a stage must last at least 1s", ErrSweepStageDuration},
		{Sweep{Concurrency: []int{1}, RequestsPerStage: -3}, "-3 requests per stage: a stage needs a positive number of requests", ErrSweepRequestsPerStage},
	} {
		err := tc.s.Validate()
		if err == nil || err.Error() != tc.want {
			t.Errorf("%+v: got %v, want %q", tc.s, err, tc.want)
		}
		if !errors.Is(err, tc.is) {
			t.Errorf("%+v: %v does not wrap %q", tc.s, err, tc.is)
		}
	}
	if err := (&Sweep{Rates: []float64{1, 2}, Poisson: true, StageDuration: time.Minute}).Validate(); err != nil {
		t.Errorf("valid sweep: %v", err)
	}
}
