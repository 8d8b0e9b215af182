package config

import (
	"errors"
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestFindMaxRendersTheNativeBlock(t *testing.T) {
	const profile = `
    load: {type: concurrent, interval: 2, stages: [{num_requests: 10, concurrency_level: 2}]}
    api: {type: completion}`
	f := FindMax{By: "rate", Min: 1, Max: 64, Precision: 0.05, MaxProbes: 10, SLO: "ttft_p90=500ms,errors=1%", StageDuration: 30}
	doc := mustParse(t, "c.yaml", sweepConfig(HarnessNative, profile))
	cfg, _, err := doc.Resolve(Options{FindMax: &f})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(cfg.Workloads[0].Profile, &m); err != nil {
		t.Fatal(err)
	}
	load := m["load"].(map[string]any)
	want := map[string]any{
		"type": "constant", "interval": 2, // by rate: a concurrent load becomes constant; other keys stay
		"find_max": map[string]any{"by": "rate", "min": 1, "max": 64, "precision": 0.05, "max_probes": 10,
			"slo": "ttft_p90=500ms,errors=1%", "stage_duration": 30},
	}
	if !reflect.DeepEqual(load, want) {
		t.Errorf("load %v\nwant %v", load, want)
	}

	f.By = "concurrency"
	cfg, _, err = mustParse(t, "c.yaml", sweepConfig(HarnessNative, `
    load: {type: constant, stages: [{rate: 1, duration: 30}]}`)).Resolve(Options{FindMax: &f})
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(cfg.Workloads[0].Profile, &m); err != nil {
		t.Fatal(err)
	}
	if load := m["load"].(map[string]any); load["type"] != "concurrent" || load["stages"] != nil {
		t.Errorf("by concurrency: load %v", load)
	}
}

func TestFindMaxRefusedForImageHarnesses(t *testing.T) {
	f := FindMax{By: "rate", Min: 1, Max: 64, Precision: 0.05, MaxProbes: 10, SLO: "ttft_p90=500ms", StageDuration: 30}
	for _, h := range []string{HarnessInferencePerf, HarnessGuideLLM} {
		doc := mustParse(t, "c.yaml", sweepConfig(h, `
    load: {type: constant, stages: [{rate: 1, duration: 30}]}`))
		if _, _, err := doc.Resolve(Options{FindMax: &f}); !errors.Is(err, ErrFindMaxHarness) {
			t.Errorf("%s: got %v, want ErrFindMaxHarness", h, err)
		}
	}
}

func TestNativeProfileWithFindMaxAndStagesRefused(t *testing.T) {
	doc := mustParse(t, "c.yaml", sweepConfig(HarnessNative, `
    load: {type: constant, stages: [{rate: 1, duration: 30}], find_max: {min: 1, max: 4, slo: "ttft_p90=1s"}}`))
	if _, _, err := doc.Resolve(Options{}); err == nil {
		t.Error("a native profile with both stages and find_max was accepted")
	}
	doc = mustParse(t, "c.yaml", sweepConfig(HarnessInferencePerf, `
    load: {type: constant, find_max: {min: 1, max: 4, slo: "ttft_p90=1s"}}`))
	if _, _, err := doc.Resolve(Options{}); err == nil {
		t.Error("an inference-perf profile with find_max was accepted")
	}
}
