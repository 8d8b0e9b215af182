package config

import (
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// ErrFindMaxHarness: a capacity search was asked of a harness other than the native one.
var ErrFindMaxHarness = errors.New("a capacity search runs only in the native harness (llmdbench)")

// FindMax asks the native harness for a capacity search: it is rendered into every selected
// workload's profile as the native generator's load.find_max block (keys as loadgen.FindMax
// documents them), replacing load.stages and load.sweep; load.type follows By (concurrent for
// "concurrency"; a concurrent load becomes constant for "rate"). The values are written as given:
// the generator validates them, and so should the caller before Resolve.
type FindMax struct {
	By            string  // "rate" or "concurrency"
	Min, Max      float64 // levels, req/s or requests in flight
	Precision     float64 // a fraction, 0.05 for 5 %
	MaxProbes     int
	SLO           string  // e.g. "ttft_p90=500ms,errors=1%"
	StageDuration float64 // seconds per rate probe
}

// apply rewrites one workload's profile; a harness other than HarnessNative is ErrFindMaxHarness.
func (f *FindMax) apply(harness string, w *Workload) error {
	if harness != HarnessNative {
		return fmt.Errorf("workload %s: %w; %s cannot run it", w.Name, ErrFindMaxHarness, harness)
	}
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
	load := mapValue(root, "load")
	if load == nil || load.Kind != yaml.MappingNode {
		load = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		setKey(root, "load", load)
	}
	deleteKey(load, "stages")
	deleteKey(load, "sweep")
	typ := mapValue(load, "type")
	switch {
	case f.By == "concurrency":
		setKey(load, "type", scalar("concurrent"))
	case typ != nil && typ.Value == "concurrent":
		setKey(load, "type", scalar("constant"))
	}
	block := mapping("by", scalar(f.By), "min", number(f.Min), "max", number(f.Max), "precision", number(f.Precision),
		"max_probes", number(float64(f.MaxProbes)), "slo", scalar(f.SLO), "stage_duration", number(f.StageDuration))
	block.Style = 0
	setKey(load, "find_max", block)
	body, err := encode(root)
	if err != nil {
		return err
	}
	w.Profile = body
	return nil
}
