package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// checkProfile refuses, before anything is created, a workload profile that its harness would
// refuse when it starts inside the pod (after the image was pulled and the ConfigMap written).
// The rules are the harnesses' own start-up checks for the keys the plugin and its presets write:
//   - inference-perf (and the native generator, which reads the same profiles): the load section
//     as inference_perf/config/loadgen/config.py (v0.6.1, pinned by llm-d-benchmark) and main.py
//     validate it;
//   - guidellm: the profile kind and the rate list it needs;
//   - vllm-benchmark / inferencemax: a flat option map with an executable, one load level.
func checkProfile(harness string, w Workload) error {
	var m map[string]any
	if err := yaml.Unmarshal(w.Profile, &m); err != nil {
		return fmt.Errorf("workload %s: %w", w.Name, err)
	}
	var err error
	switch harness {
	case HarnessInferencePerf, HarnessNative:
		err = checkInferencePerf(m, harness == HarnessNative)
	case HarnessGuideLLM:
		err = checkGuideLLM(m)
	case HarnessVLLMBenchmark, HarnessInferenceMAX:
		err = checkVLLMBench(harness, m)
	}
	if err != nil {
		return fmt.Errorf("workload %s: %w", w.Name, err)
	}
	return nil
}

// inference-perf's load types (LoadType).
var ipLoadTypes = []string{"constant", "poisson", "concurrent", "trace_replay", "trace_session_replay"}

// checkInferencePerf checks an inference-perf profile; native also allows the native
// generator's load.find_max (a capacity search, whose probes stand in for the stages; the
// generator checks the block's values before it sends anything) and server_metrics (the pods it
// scrapes during the run; the generator checks its values too).
func checkInferencePerf(m map[string]any, native bool) error {
	if v, ok := m["server_metrics"]; ok && v != nil && !native {
		return fmt.Errorf("server_metrics is read by the native generator only, and inference-perf refuses keys it does not know: remove it from this profile")
	}
	load, err := section(m, "load")
	if err != nil {
		return err
	}
	keys := ipLoadKeys
	if native {
		keys = append(slices.Clone(ipLoadKeys), "find_max")
	}
	if err := knownKeys("load", load, keys); err != nil {
		return err
	}
	fm, hasFindMax := load["find_max"]
	hasFindMax = hasFindMax && fm != nil
	if _, isMap := fm.(map[string]any); hasFindMax && !isMap {
		return fmt.Errorf("load.find_max must be a mapping (by, min, max, slo, …)")
	}
	typ := "constant" // LoadConfig's default
	if v, ok := load["type"]; ok {
		s, isStr := v.(string)
		if !isStr || !contains(ipLoadTypes, s) {
			return fmt.Errorf("load.type %v is not an inference-perf load type: use one of %s", v, strings.Join(ipLoadTypes, ", "))
		}
		typ = s
	}
	sweep, hasSweep := load["sweep"]
	if hasSweep && sweep != nil {
		if typ == "concurrent" || typ == "trace_session_replay" {
			return fmt.Errorf("load.sweep cannot be used with load.type %s (inference-perf refuses it): remove load.sweep, or use load.type constant or poisson", typ)
		}
		sw, ok := sweep.(map[string]any)
		if !ok {
			return fmt.Errorf("load.sweep must be a mapping (type, num_stages, stage_duration, …)")
		}
		if err := knownKeys("load.sweep", sw, ipSweepKeys); err != nil {
			return err
		}
		if t, _ := sw["type"].(string); t != "linear" && t != "geometric" {
			return fmt.Errorf("load.sweep.type %v: use linear or geometric", sw["type"])
		}
	}
	var stages []any
	if v, ok := load["stages"]; ok && v != nil {
		if stages, ok = v.([]any); !ok {
			return fmt.Errorf("load.stages must be a list of stages")
		}
	}
	switch {
	case hasFindMax && (len(stages) > 0 || (hasSweep && sweep != nil)):
		return fmt.Errorf("load has find_max and stages or a sweep, and the capacity search's probes would replace them: remove one")
	case hasFindMax:
	case len(stages) == 0 && (!hasSweep || sweep == nil):
		return fmt.Errorf("load has no stages and no sweep (inference-perf refuses to start): add load.stages")
	case len(stages) > 0 && hasSweep && sweep != nil:
		return fmt.Errorf("load has both stages and a sweep, and inference-perf would replace the stages with the sweep's: remove one")
	}
	for i, raw := range stages {
		st, ok := raw.(map[string]any)
		if !ok {
			return fmt.Errorf("load.stages[%d] must be a mapping", i)
		}
		if err := checkIPStage(typ, st); err != nil {
			return fmt.Errorf("load.stages[%d]: %w", i, err)
		}
	}
	if v, ok := load["lora_traffic_split"]; ok && v != nil {
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			return fmt.Errorf("load.lora_traffic_split must be a list of {name, split}")
		}
		total := 0.0
		for i, raw := range list {
			e, _ := raw.(map[string]any)
			name, _ := e["name"].(string)
			split, isNum := toFloat(e["split"])
			if name == "" || !isNum {
				return fmt.Errorf("load.lora_traffic_split[%d] needs a name and a numeric split", i)
			}
			if split < 0 {
				return fmt.Errorf("load.lora_traffic_split[%d]: split %g is negative: use shares from 0 to 1", i, split)
			}
			total += split // summed in order, as Python's sum() does
		}
		if total != 1.0 {
			return fmt.Errorf("load.lora_traffic_split adds up to %s, not 1.0 (inference-perf refuses it)", strconv.FormatFloat(total, 'g', -1, 64))
		}
	}
	return nil
}

func checkIPStage(typ string, st map[string]any) error {
	keys := ipStandardStageKeys
	switch typ {
	case "concurrent":
		keys = ipConcurrentStageKeys
	case "trace_session_replay":
		keys = ipSessionStageKeys
	}
	if err := knownKeys("a "+typ+" stage", st, keys); err != nil {
		return err
	}
	for _, k := range []string{"rate", "duration", "num_requests", "concurrency_level"} {
		if v, set := st[k]; set && v != nil {
			if _, isNum := toFloat(v); !isNum {
				if str, isStr := v.(string); isStr {
					return fmt.Errorf("%s %q is text, not a number (write it without quotes or units)", k, str)
				}
				return fmt.Errorf("%s %v is not a number", k, v)
			}
		}
	}
	switch typ {
	case "concurrent":
		_, okN := positiveInt(st["num_requests"])
		_, okC := positiveInt(st["concurrency_level"])
		if !okN || !okC {
			return fmt.Errorf("a concurrent stage needs num_requests and concurrency_level, both whole numbers of 1 or more (got %s): write e.g. {num_requests: 100, concurrency_level: 8}", describe(st))
		}
	case "trace_session_replay":
		v, ok := st["concurrent_sessions"]
		if n, isNum := toFloat(v); !ok || !isNum || n < 0 || n != math.Trunc(n) {
			return fmt.Errorf("a trace_session_replay stage needs concurrent_sessions (a whole number, 0 or more)")
		}
	default: // constant, poisson, trace_replay
		if _, set := st["num_requests"]; set {
			return fmt.Errorf("num_requests is not allowed in a %s stage (it belongs to load.type concurrent): use rate and duration", typ)
		}
		if _, set := st["concurrency_level"]; set {
			return fmt.Errorf("concurrency_level is not allowed in a %s stage (it belongs to load.type concurrent): use rate and duration, or load.type concurrent", typ)
		}
		if r, ok := toFloat(st["rate"]); !ok || !(r > 0) || math.IsInf(r, 0) {
			return fmt.Errorf("a %s stage needs a rate above 0 (requests per second), got %s", typ, describe(st))
		}
		if _, ok := positiveInt(st["duration"]); !ok {
			return fmt.Errorf("a %s stage needs a duration in whole seconds of 1 or more, got %s", typ, describe(st))
		}
	}
	return nil
}

// The keys inference-perf's load section and its stages and sweep know (inference_perf/config/
// loadgen/config.py). v0.6.1 ignores any other key and later releases refuse it; either way a
// misspelt key loses the setting it was meant to make, so it is refused here.
var (
	ipLoadKeys = []string{"type", "interval", "stages", "sweep", "num_workers", "worker_max_concurrency",
		"worker_max_tcp_connections", "trace", "circuit_breakers", "request_timeout", "lora_traffic_split", "base_seed"}
	ipSweepKeys           = []string{"type", "num_requests", "timeout", "num_stages", "stage_duration", "saturation_percentile"}
	ipStandardStageKeys   = []string{"rate", "duration", "num_requests", "concurrency_level"}
	ipConcurrentStageKeys = []string{"num_requests", "concurrency_level", "rate", "duration"}
	ipSessionStageKeys    = []string{"concurrent_sessions", "session_rate", "num_sessions", "timeout"}
)

// knownKeys refuses the first key of m (in sorted order, for a stable message) not in known.
func knownKeys(where string, m map[string]any, known []string) error {
	var unknown []string
	for k := range m {
		if !contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	return fmt.Errorf("%s has no key %q (inference-perf would ignore or refuse it): use %s", where, unknown[0], strings.Join(known, ", "))
}

// GuideLLM profile kinds (guidellm benchmark --profile / scenario profile).
var guideLLMProfiles = []string{"synchronous", "concurrent", "throughput", "constant", "poisson", "async", "sweep", "replay"}

func checkGuideLLM(m map[string]any) error {
	v, ok := m["profile"]
	if !ok {
		return nil // GuideLLM's default profile (sweep) needs no rate
	}
	profile, _ := v.(string)
	if !contains(guideLLMProfiles, profile) {
		return fmt.Errorf("profile %v is not a GuideLLM profile: use one of %s", v, strings.Join(guideLLMProfiles, ", "))
	}
	if profile != "concurrent" && profile != "constant" && profile != "poisson" && profile != "async" {
		return nil
	}
	rates, err := rateList(m["rate"])
	if err != nil || len(rates) == 0 {
		return fmt.Errorf("GuideLLM's %s profile needs rate: a number or a list of them", profile)
	}
	for _, r := range rates {
		switch {
		case !(r > 0) || math.IsInf(r, 0):
			return fmt.Errorf("rate %g: GuideLLM's %s profile needs rates above 0", r, profile)
		case profile == "concurrent" && r != math.Trunc(r):
			return fmt.Errorf("rate %g: the concurrent profile's rates are stream counts (whole numbers)", r)
		}
	}
	return nil
}

func checkVLLMBench(harness string, m map[string]any) error {
	if _, ok := m["executable"]; !ok {
		return fmt.Errorf("a %s profile needs an executable key (e.g. executable: benchmark_serving.py)", harness)
	}
	for k, v := range m {
		switch v.(type) {
		case map[string]any:
			return fmt.Errorf("%s profiles are flat option maps; %s holds a mapping", harness, k)
		case []any:
			return fmt.Errorf("%s profiles are flat option maps; %s holds a list", harness, k)
		}
	}
	if v, ok := m["request-rate"]; ok {
		if s, isStr := v.(string); !(isStr && s == "inf") {
			if r, isNum := toFloat(v); !isNum || !(r > 0) {
				return fmt.Errorf("request-rate %v: use a rate above 0 or inf", v)
			}
		}
	}
	for _, k := range []string{"max-concurrency", "num-prompts"} {
		if v, ok := m[k]; ok {
			if _, isInt := positiveInt(v); !isInt {
				return fmt.Errorf("%s %v: use a whole number of 1 or more", k, v)
			}
		}
	}
	return nil
}

func section(m map[string]any, key string) (map[string]any, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return map[string]any{}, nil
	}
	s, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s must be a mapping", key)
	}
	return s, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// toFloat reads a YAML number (int or float); strings are not numbers here.
func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// positiveInt accepts what pydantic's int accepts from YAML: an integer, or a float without a
// fractional part; it must be 1 or more.
func positiveInt(v any) (int64, bool) {
	f, ok := toFloat(v)
	if !ok || f != math.Trunc(f) || f < 1 || f > math.MaxInt64 {
		return 0, false
	}
	return int64(f), true
}

func rateList(v any) ([]float64, error) {
	switch r := v.(type) {
	case nil:
		return nil, nil
	case []any:
		out := make([]float64, 0, len(r))
		for _, x := range r {
			f, ok := toFloat(x)
			if !ok {
				return nil, fmt.Errorf("rate %v is not a number", x)
			}
			out = append(out, f)
		}
		return out, nil
	case string: // GuideLLM's CLI form "2,4,8"
		var out []float64
		for _, p := range strings.Split(r, ",") {
			f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil {
				return nil, fmt.Errorf("rate %q is not a number", p)
			}
			out = append(out, f)
		}
		return out, nil
	}
	f, ok := toFloat(v)
	if !ok {
		return nil, fmt.Errorf("rate %v is not a number", v)
	}
	return []float64{f}, nil
}

// describe shows a stage's keys compactly for messages: {rate: 1, duration: 30}.
func describe(st map[string]any) string {
	b, err := yaml.Marshal(st)
	if err != nil {
		return "?"
	}
	var parts []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts = append(parts, strings.TrimSpace(l))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
