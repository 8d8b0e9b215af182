package config

import (
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// Overrides are values the user set on the command line. A set field always beats the file.
type Overrides struct {
	Namespace     string
	Gateway       string
	BaseURL       string
	PVC           string
	Model         string
	StackName     string
	Harness       string
	Image         string
	HFTokenSecret string
	Parallelism   *int
	// ParallelismMode, when set, is runstate.ModeSplit or runstate.ModeReplicate (Resolve
	// refuses anything else).
	ParallelismMode string
	WaitTimeout     *time.Duration
}

// Apply writes the overrides into the document. Values are set on the node the file defines, so
// anchors carry them to every alias (the templates alias base_url and model into each workload);
// a workload that repeats the old base_url or model literally is updated too.
func (d *Document) Apply(o Overrides) {
	if o.Namespace != "" {
		d.set("endpoint", "namespace", o.Namespace, "!!str")
		d.set("harness", "namespace", o.Namespace, "!!str")
	}
	if o.BaseURL != "" {
		d.setEverywhere("endpoint", "base_url", o.BaseURL)
	}
	if o.Model != "" {
		d.setEverywhere("endpoint", "model", o.Model)
	}
	for _, s := range []struct{ section, key, value string }{
		{"endpoint", "gateway", o.Gateway},
		{"endpoint", "stack_name", o.StackName},
		{"endpoint", "hf_token_secret", o.HFTokenSecret},
		{"harness", "results_pvc", o.PVC},
		{"harness", "name", o.Harness},
		{"harness", "image", o.Image},
		{"harness", "parallelism_mode", o.ParallelismMode},
	} {
		if s.value != "" {
			d.set(s.section, s.key, s.value, "!!str")
		}
	}
	if o.Parallelism != nil {
		d.set("harness", "parallelism", strconv.Itoa(*o.Parallelism), "!!int")
	}
	if o.WaitTimeout != nil {
		d.set("harness", "wait_timeout", FormatWaitTimeout(*o.WaitTimeout), "!!int")
	}
}

func (d *Document) setEverywhere(section, key, value string) {
	old, hadOld := d.Lookup(section, key)
	d.set(section, key, value, "!!str")
	if !hadOld || old == "" {
		return
	}
	walk(mapValue(d.root, "workload"), func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && n.Value == old {
			n.Value, n.Tag, n.Style = value, "!!str", 0
		}
	})
}

// set assigns section.key. A scalar is changed in place (so its aliases follow); an alias is
// replaced by a scalar of its own, leaving the anchored value untouched for its other users.
func (d *Document) set(section, key, value, tag string) {
	sec := mapValue(d.root, section)
	if sec == nil || deref(sec).Kind != yaml.MappingNode {
		sec = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		setKey(d.root, section, sec)
	}
	sec = deref(sec)
	val := mapValue(sec, key)
	if val != nil && val.Kind == yaml.ScalarNode {
		val.Value, val.Tag, val.Style = value, tag, 0
		return
	}
	setKey(sec, key, &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value})
}
