package config

import (
	"os"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func resolveCase(t *testing.T, file string, sweep Sweep) (*Config, error) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc := mustParse(t, "config.yaml", string(data))
	cfg, _, err := doc.Resolve(Options{Sweep: &sweep})
	return cfg, err
}

func loadOf(t *testing.T, profile []byte) map[string]any {
	t.Helper()
	var m struct {
		Load map[string]any `yaml:"load"`
	}
	if err := yaml.Unmarshal(profile, &m); err != nil {
		t.Fatal(err)
	}
	return m.Load
}

// Field case 11: concurrent stages written with rate/duration are what inference-perf refuses at
// start; the plugin refuses them before anything exists, naming the workload and the fix.
func TestCase11ConcurrentStagesWithRateDurationRefused(t *testing.T) {
	_, err := resolveCase(t, "testdata/cases/11-concurrent-stages-with-rate-duration/config.yaml", Sweep{})
	if err == nil {
		t.Fatal("a concurrent load with rate/duration stages was accepted")
	}
	msg := err.Error()
	for _, want := range []string{"workload concurrent_users", "load.stages[0]", "num_requests", "concurrency_level"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("the refusal must be one line: %q", msg)
	}
	// --concurrency rewrites the stages, so the same file then runs.
	cfg, err := resolveCase(t, "testdata/cases/11-concurrent-stages-with-rate-duration/config.yaml", Sweep{Concurrency: []int{1, 2}, RequestsPerStage: 20})
	if err != nil {
		t.Fatalf("--concurrency mends the stages, yet: %v", err)
	}
	stages := loadOf(t, cfg.Workloads[0].Profile)["stages"].([]any)
	if len(stages) != 2 || stages[1].(map[string]any)["concurrency_level"] != 2 || stages[1].(map[string]any)["num_requests"] != 20 {
		t.Errorf("stages %v", stages)
	}
}

// Field case 13: a load.sweep block stays as written without load flags, and goes when --rates or
// --concurrency replace the stages (inference-perf would otherwise run its own sweep, or refuse
// sweep with concurrent stages).
func TestCase13SweepReplacedByLoadFlags(t *testing.T) {
	const file = "testdata/cases/13-sweep-profile-rates-override/config.yaml"
	cfg, err := resolveCase(t, file, Sweep{})
	if err != nil {
		t.Fatal(err)
	}
	load := loadOf(t, cfg.Workloads[0].Profile)
	sweep, _ := load["sweep"].(map[string]any)
	if load["type"] != "constant" || sweep == nil || sweep["num_stages"] != 5 || sweep["stage_duration"] != 180 || load["stages"] != nil {
		t.Errorf("plain run changed the load: %v", load)
	}

	cfg, err = resolveCase(t, file, Sweep{Rates: []float64{2, 4}, StageDuration: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	load = loadOf(t, cfg.Workloads[0].Profile)
	if _, has := load["sweep"]; has {
		t.Errorf("--rates left load.sweep beside the stages: %v", load)
	}
	want := []map[string]any{{"rate": 2, "duration": 30}, {"rate": 4, "duration": 30}}
	checkStages(t, load, "constant", want)
	if load["interval"] != 15 {
		t.Errorf("interval must stay: %v", load)
	}

	cfg, err = resolveCase(t, file, Sweep{Concurrency: []int{4, 8}, RequestsPerStage: 40})
	if err != nil {
		t.Fatal(err)
	}
	load = loadOf(t, cfg.Workloads[0].Profile)
	if _, has := load["sweep"]; has {
		t.Errorf("--concurrency left load.sweep beside the stages: %v", load)
	}
	checkStages(t, load, "concurrent", []map[string]any{{"num_requests": 40, "concurrency_level": 4}, {"num_requests": 40, "concurrency_level": 8}})

	// Without --stage-duration the sweep's own stage length is the profile's stage length.
	cfg, err = resolveCase(t, file, Sweep{Rates: []float64{3}})
	if err != nil {
		t.Fatal(err)
	}
	checkStages(t, loadOf(t, cfg.Workloads[0].Profile), "constant", []map[string]any{{"rate": 3, "duration": 180}})
}

func checkStages(t *testing.T, load map[string]any, typ string, want []map[string]any) {
	t.Helper()
	stages, _ := load["stages"].([]any)
	if load["type"] != typ || len(stages) != len(want) {
		t.Fatalf("load %v, want type %s and %d stages", load, typ, len(want))
	}
	for i, w := range want {
		got := stages[i].(map[string]any)
		if len(got) != len(w) {
			t.Errorf("stage %d: %v, want %v", i, got, w)
		}
		for k, v := range w {
			if got[k] != v {
				t.Errorf("stage %d: %s = %v, want %v", i, k, got[k], v)
			}
		}
	}
}

// Each rule a harness applies at start, with a profile it refuses and the words that say why.
func TestProfilesHarnessesWouldRefuse(t *testing.T) {
	cases := []struct {
		name, harness, profile, want string
	}{
		{"constant stage with num_requests", HarnessInferencePerf, "load: {type: constant, stages: [{rate: 1, duration: 5, num_requests: 3}]}", "num_requests is not allowed in a constant stage"},
		{"poisson stage with concurrency_level", HarnessNative, "load: {type: poisson, stages: [{rate: 1, duration: 5, concurrency_level: 3}]}", "concurrency_level is not allowed in a poisson stage"},
		{"stage without duration", HarnessInferencePerf, "load: {stages: [{rate: 1}]}", "needs a duration in whole seconds"},
		{"fractional duration", HarnessInferencePerf, "load: {stages: [{rate: 1, duration: 2.5}]}", "needs a duration in whole seconds"},
		{"rate zero", HarnessInferencePerf, "load: {stages: [{rate: 0, duration: 5}]}", "needs a rate above 0"},
		{"rate as text", HarnessInferencePerf, "load: {stages: [{rate: fast, duration: 5}]}", `rate "fast" is text, not a number`},
		{"duration with a unit", HarnessInferencePerf, "load: {stages: [{rate: 2, duration: 2s}]}", `duration "2s" is text, not a number`},
		{"quoted rate", HarnessNative, `load: {stages: [{rate: "2", duration: 2}]}`, `rate "2" is text, not a number`},
		{"misspelt stages", HarnessInferencePerf, "load: {stage: [{rate: 1, duration: 5}]}", `load has no key "stage"`},
		{"unknown load key", HarnessInferencePerf, "load: {ramp_up: 5, stages: [{rate: 1, duration: 5}]}", `load has no key "ramp_up"`},
		{"unknown stage key", HarnessInferencePerf, "load: {stages: [{rate: 2, duration: 2, burst: 3}]}", `load.stages[0]: a constant stage has no key "burst"`},
		{"unknown sweep key", HarnessInferencePerf, "load: {sweep: {type: linear, stages: 3}}", `load.sweep has no key "stages"`},
		{"stages and sweep", HarnessInferencePerf, "load: {stages: [{rate: 1, duration: 5}], sweep: {type: linear}}", "load has both stages and a sweep"},
		// 1.5 + -0.5 = 1.0, which inference-perf's sum check lets through.
		{"negative lora split", HarnessInferencePerf, "load: {stages: [{rate: 1, duration: 5}], lora_traffic_split: [{name: a, split: 1.5}, {name: b, split: -0.5}]}", "lora_traffic_split[1]: split -0.5 is negative"},
		{"concurrent with only num_requests", HarnessNative, "load: {type: concurrent, stages: [{num_requests: 10}]}", "needs num_requests and concurrency_level"},
		{"concurrent with zero level", HarnessInferencePerf, "load: {type: concurrent, stages: [{num_requests: 10, concurrency_level: 0}]}", "needs num_requests and concurrency_level"},
		{"sweep with concurrent", HarnessInferencePerf, "load: {type: concurrent, sweep: {type: linear}}", "load.sweep cannot be used with load.type concurrent"},
		{"sweep without type", HarnessInferencePerf, "load: {sweep: {num_stages: 3}}", "load.sweep.type"},
		{"no stages, no sweep", HarnessInferencePerf, "api: {type: completion}", "no stages and no sweep"},
		{"unknown load type", HarnessInferencePerf, "load: {type: burst, stages: [{rate: 1, duration: 5}]}", "load.type burst is not an inference-perf load type"},
		// 0.3 + 0.3 = 0.6; Python's sum() refuses anything but exactly 1.0.
		{"lora split short of one", HarnessInferencePerf, "load: {stages: [{rate: 1, duration: 5}], lora_traffic_split: [{name: a, split: 0.3}, {name: b, split: 0.3}]}", "adds up to 0.6, not 1.0"},
		{"lora split without name", HarnessNative, "load: {stages: [{rate: 1, duration: 5}], lora_traffic_split: [{split: 1}]}", "lora_traffic_split[0] needs a name"},
		{"guidellm constant without rate", HarnessGuideLLM, "profile: constant\nmax_seconds: 30", "constant profile needs rate"},
		{"guidellm concurrent fractional streams", HarnessGuideLLM, "profile: concurrent\nrate: [1, 2.5]", "rate 2.5: the concurrent profile's rates are stream counts"},
		{"guidellm negative rate", HarnessGuideLLM, "profile: poisson\nrate: [2, -1]", "rate -1: GuideLLM's poisson profile needs rates above 0"},
		{"guidellm unknown profile", HarnessGuideLLM, "profile: ramp", "profile ramp is not a GuideLLM profile"},
		{"vllm negative rate", HarnessVLLMBenchmark, "executable: benchmark_serving.py\nrequest-rate: -2", "request-rate -2: use a rate above 0 or inf"},
		{"vllm zero prompts", HarnessInferenceMAX, "executable: benchmark_serving.py\nnum-prompts: 0", "num-prompts 0: use a whole number"},
		{"vllm list option", HarnessVLLMBenchmark, "executable: benchmark_serving.py\nrequest-rate: [1, 2]", "request-rate holds a list"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			indented := "    " + strings.ReplaceAll(tc.profile, "\n", "\n    ")
			doc := mustParse(t, "c.yaml", sweepConfig(tc.harness, indented))
			_, _, err := doc.Resolve(Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "workload w") {
				t.Errorf("error %v\nwant one naming workload w and %q", err, tc.want)
			}
		})
	}
}

// And what they accept.
func TestProfilesHarnessesAccept(t *testing.T) {
	cases := []struct{ name, harness, profile string }{
		{"constant", HarnessInferencePerf, "load: {type: constant, interval: 2, stages: [{rate: 0.5, duration: 10}, {rate: 2, duration: 10.0}]}"},
		{"concurrent with runtime keys", HarnessInferencePerf, "load: {type: concurrent, stages: [{num_requests: 10, concurrency_level: 2, rate: 1}]}"},
		{"sweep alone", HarnessInferencePerf, "load: {type: poisson, sweep: {type: geometric, num_stages: 3}}"},
		{"lora split of halves", HarnessNative, "load: {stages: [{rate: 1, duration: 5}], lora_traffic_split: [{name: a, split: 0.5}, {name: b, split: 0.5}]}"},
		{"trace session stage", HarnessInferencePerf, "load: {type: trace_session_replay, stages: [{concurrent_sessions: 0}]}"},
		{"guidellm sweep", HarnessGuideLLM, "profile: sweep"},
		{"guidellm rate string", HarnessGuideLLM, "profile: constant\nrate: \"2,4\""},
		{"guidellm synchronous", HarnessGuideLLM, "profile: synchronous\nmax_requests: 10"},
		{"vllm inf", HarnessVLLMBenchmark, "executable: benchmark_serving.py\nrequest-rate: inf\nmax-concurrency: 8\nnum-prompts: 80"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			indented := "    " + strings.ReplaceAll(tc.profile, "\n", "\n    ")
			doc := mustParse(t, "c.yaml", sweepConfig(tc.harness, indented))
			if _, _, err := doc.Resolve(Options{}); err != nil {
				t.Error(err)
			}
		})
	}
}
