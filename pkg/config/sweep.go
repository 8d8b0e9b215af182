package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// Sweep rewrites the load of every selected workload: a list of request rates (constant or
// Poisson arrivals, each held for StageDuration) or a list of concurrency levels (each for
// RequestsPerStage requests), translated into each harness's own profile keys.
type Sweep struct {
	Rates            []float64
	Concurrency      []int
	StageDuration    time.Duration // 0: keep the profile's (or 60 s)
	Poisson          bool
	RequestsPerStage int // 0: ten per concurrent slot
}

// Active reports whether the sweep changes anything.
func (s *Sweep) Active() bool { return s != nil && (len(s.Rates) > 0 || len(s.Concurrency) > 0) }

// Validate checks the sweep on its own (no profile needed).
func (s *Sweep) Validate() error {
	switch {
	case len(s.Rates) > 0 && len(s.Concurrency) > 0:
		return fmt.Errorf("%w: a stage is either rate-driven or concurrency-driven", ErrSweepRatesAndConcurrency)
	case s.Poisson && len(s.Rates) == 0:
		return ErrSweepPoissonWithoutRates
	case s.StageDuration != 0 && len(s.Rates) == 0:
		return ErrSweepStageDurationWithoutRates
	case s.RequestsPerStage != 0 && len(s.Concurrency) == 0:
		return ErrSweepRequestsWithoutConcurrency
	case s.StageDuration < 0 || (s.StageDuration > 0 && s.StageDuration < time.Second):
		return fmt.Errorf("stage duration %s: %w", s.StageDuration, ErrSweepStageDuration)
	case s.RequestsPerStage < 0:
		return fmt.Errorf("%d requests per stage: %w", s.RequestsPerStage, ErrSweepRequestsPerStage)
	}
	for _, r := range s.Rates {
		if !(r > 0) || math.IsInf(r, 0) {
			return fmt.Errorf("%g is %w", r, ErrSweepRate)
		}
	}
	for _, c := range s.Concurrency {
		if c < 1 {
			return fmt.Errorf("%d is %w", c, ErrSweepConcurrency)
		}
	}
	return nil
}

// apply rewrites one workload's profile for harness.
func (s *Sweep) apply(harness string, w *Workload) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(w.Profile, &doc); err != nil {
		return fmt.Errorf("workload %s: %w", w.Name, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("workload %s: the profile is not a mapping", w.Name)
	}
	var err error
	switch harness {
	case HarnessInferencePerf, HarnessNative:
		s.inferencePerf(root)
	case HarnessGuideLLM:
		s.guideLLM(root)
	case HarnessVLLMBenchmark, HarnessInferenceMAX:
		err = s.vllmBench(harness, root)
	default:
		err = fmt.Errorf("harness %s has no load to sweep: use inference-perf, guidellm, vllm-benchmark, inferencemax or llmdbench", harness)
	}
	if err != nil {
		return fmt.Errorf("workload %s: %w", w.Name, err)
	}
	body, err := encode(root)
	if err != nil {
		return err
	}
	w.Profile = body
	return nil
}

// duration is the stage length in whole seconds: the flag, else the profile's, else 60.
func (s *Sweep) duration(profile float64) float64 {
	switch {
	case s.StageDuration > 0:
		return math.Round(s.StageDuration.Seconds())
	case profile > 0:
		return profile
	}
	return 60
}

func (s *Sweep) requests(concurrency int) int {
	if s.RequestsPerStage > 0 {
		return s.RequestsPerStage
	}
	return 10 * concurrency
}

func (s *Sweep) arrival() string {
	if s.Poisson {
		return "poisson"
	}
	return "constant"
}

// inferencePerf (and the native generator) take load.type and load.stages; other load keys such
// as interval stay. A load.sweep block goes: inference-perf would replace the requested stages with
// its own (or, with concurrent stages, refuse the profile).
func (s *Sweep) inferencePerf(root *yaml.Node) {
	load := mapValue(root, "load")
	if load == nil || load.Kind != yaml.MappingNode {
		load = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		setKey(root, "load", load)
	}
	var profileDuration float64
	if stages := mapValue(load, "stages"); stages != nil && stages.Kind == yaml.SequenceNode && len(stages.Content) > 0 {
		if d := mapValue(stages.Content[0], "duration"); d != nil {
			profileDuration, _ = strconv.ParseFloat(d.Value, 64)
		}
	} else if d := mapValue(mapValue(load, "sweep"), "stage_duration"); d != nil {
		profileDuration, _ = strconv.ParseFloat(d.Value, 64)
	}
	deleteKey(load, "sweep")
	stages := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	if len(s.Rates) > 0 {
		setKey(load, "type", scalar(s.arrival()))
		for _, r := range s.Rates {
			stages.Content = append(stages.Content, mapping("rate", number(r), "duration", number(s.duration(profileDuration))))
		}
	} else {
		setKey(load, "type", scalar("concurrent"))
		for _, c := range s.Concurrency {
			stages.Content = append(stages.Content, mapping("num_requests", number(float64(s.requests(c))), "concurrency_level", number(float64(c))))
		}
	}
	setKey(load, "stages", stages)
}

// guideLLM takes a profile name, a rate list (rates, or concurrency levels for the concurrent
// profile) and per-benchmark limits.
func (s *Sweep) guideLLM(root *yaml.Node) {
	list := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
	if len(s.Rates) > 0 {
		for _, r := range s.Rates {
			list.Content = append(list.Content, number(r))
		}
		var profileSeconds float64
		if m := mapValue(root, "max_seconds"); m != nil {
			profileSeconds, _ = strconv.ParseFloat(m.Value, 64)
		}
		setKey(root, "profile", scalar(s.arrival()))
		setKey(root, "rate", list)
		setKey(root, "max_seconds", number(s.duration(profileSeconds)))
		return
	}
	for _, c := range s.Concurrency {
		list.Content = append(list.Content, number(float64(c)))
	}
	setKey(root, "profile", scalar("concurrent"))
	setKey(root, "rate", list)
	setKey(root, "max_requests", number(float64(s.requests(slices.Max(s.Concurrency)))))
}

// vllmBench: vLLM's benchmark runs one load level per invocation, with Poisson (burstiness 1)
// arrivals at its request-rate, or a max-concurrency cap.
func (s *Sweep) vllmBench(harness string, root *yaml.Node) error {
	if len(s.Rates) > 1 || len(s.Concurrency) > 1 {
		return fmt.Errorf("%s %w: give the sweep a single value (or use inference-perf, guidellm or llmdbench for a sweep)", harness, ErrSweepOneLevel)
	}
	if len(s.Rates) == 1 {
		if !s.Poisson {
			return fmt.Errorf("%s %w: ask for Poisson arrivals", harness, ErrSweepNeedsPoisson)
		}
		r := s.Rates[0]
		setKey(root, "request-rate", number(r))
		setKey(root, "burstiness", number(1))
		setKey(root, "num-prompts", number(math.Max(1, math.Round(r*s.duration(0)))))
		return nil
	}
	c := s.Concurrency[0]
	setKey(root, "max-concurrency", number(float64(c)))
	setKey(root, "request-rate", scalar("inf"))
	setKey(root, "num-prompts", number(float64(s.requests(c))))
	return nil
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

func number(v float64) *yaml.Node {
	tag := "!!float"
	if v == math.Trunc(v) {
		tag = "!!int"
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: strconv.FormatFloat(v, 'f', -1, 64)}
}

func mapping(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Content = append(m.Content, scalar(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
	return m
}
