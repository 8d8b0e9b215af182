package config

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// Harness names the llm-d-benchmark image knows, plus the plugin's native generator.
const (
	HarnessInferencePerf = "inference-perf"
	HarnessGuideLLM      = "guidellm"
	HarnessVLLMBenchmark = "vllm-benchmark"
	HarnessInferenceMAX  = "inferencemax"
	HarnessNop           = "nop"
	// HarnessAIPerf is NVIDIA's AIPerf (ai-dynamo/aiperf), in the llm-d-benchmark image from
	// v0.6.8 on (launcher.CheckHarnessImage); its profile is aiperf profile's options, flat.
	HarnessAIPerf = "aiperf"
	// HarnessNative is reserved for the plugin's own Go load generator.
	HarnessNative = "llmdbench"
)

// Harnesses lists every valid harness name.
func Harnesses() []string {
	return []string{HarnessInferencePerf, HarnessGuideLLM, HarnessVLLMBenchmark, HarnessInferenceMAX, HarnessAIPerf, HarnessNop, HarnessNative}
}

// Config is a resolved, rendered and validated config.
type Config struct {
	Source      string
	Endpoint    Endpoint
	Harness     Harness
	Description Description
	// Env is the file's env list (Kubernetes EnvVar objects), in order.
	Env       []EnvVar
	Workloads []Workload
}

// Endpoint is the stack under test.
type Endpoint struct {
	StackName     string
	Model         string
	Namespace     string
	BaseURL       string
	HFTokenSecret string
	// Gateway is the Gateway name used to discover the Service (a plugin extension; run_only.sh
	// ignores unknown endpoint keys, so files stay compatible).
	Gateway string
}

// Harness is how and where the load generator runs.
type Harness struct {
	Name        string
	ResultsPVC  string
	Namespace   string
	Parallelism int
	// ParallelismMode is how the Parallelism launchers share each workload's load:
	// runstate.ModeSplit (the default: together they offer the profile's load) or
	// runstate.ModeReplicate (each offers the whole profile). YAML: harness.parallelism_mode.
	ParallelismMode string
	// WaitTimeout bounds each workload; 0 means no limit.
	WaitTimeout time.Duration
	Image       string
	DatasetURL  string
}

// Description is free text and keywords recorded with the run.
type Description struct {
	Text     string
	Keywords []string
}

// EnvVar is one entry of the env list: its name and the whole object as written (value or
// valueFrom), decoded as plain data so this package needs no Kubernetes types.
type EnvVar struct {
	Name string
	Spec map[string]any
}

// Workload is one named harness profile, rendered to YAML exactly as the ConfigMap will hold it.
type Workload struct {
	Name    string
	Profile []byte
	// Line is where the workload starts in the source, for messages.
	Line int
}

// Options shape Resolve beyond the file's own values.
type Options struct {
	Variables Variables
	// Workloads, when set, selects a subset (in the file's order).
	Workloads []string
	// Env entries are added after the file's env; an entry with the same name replaces it.
	Env []EnvVar
	// Sweep, when active, rewrites every selected workload's load.
	Sweep *Sweep
	// FindMax, when set, makes every selected workload a capacity search (native harness only).
	FindMax *FindMax
}

// Resolve renders the variables, expands aliases, and validates everything a run needs.
// Warnings describe what was accepted but changed (such as a sanitised stack name).
func (d *Document) Resolve(opts Options) (*Config, []string, error) {
	root := explode(d.root)
	var warnings []string
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch k := root.Content[i].Value; k {
		case "control":
			// Never used by the plugin (nor by run_only.sh); left unrendered so $HOME and
			// friends need not be set.
		case "endpoint", "harness", "env", "workload", "description", "hooks":
			if err := d.render(root.Content[i+1], k, opts.Variables); err != nil {
				return nil, nil, err
			}
		default:
			warnings = append(warnings, fmt.Sprintf("%s: line %d: unknown section %q is ignored", d.source, root.Content[i].Line, k))
		}
	}

	c := &Config{Source: d.source}
	f := fields{source: d.source}
	ep := mapValue(root, "endpoint")
	c.Endpoint = Endpoint{
		StackName:     f.str(ep, "endpoint", "stack_name"),
		Model:         f.str(ep, "endpoint", "model"),
		Namespace:     f.str(ep, "endpoint", "namespace"),
		BaseURL:       f.str(ep, "endpoint", "base_url"),
		HFTokenSecret: f.str(ep, "endpoint", "hf_token_secret"),
		Gateway:       f.str(ep, "endpoint", "gateway"),
	}
	h := mapValue(root, "harness")
	c.Harness = Harness{
		Name:            f.str(h, "harness", "name"),
		ResultsPVC:      f.str(h, "harness", "results_pvc"),
		Namespace:       f.str(h, "harness", "namespace"),
		Parallelism:     f.integer(h, "harness", "parallelism", 1),
		ParallelismMode: f.str(h, "harness", "parallelism_mode"),
		WaitTimeout:     f.waitTimeout(h),
		Image:           f.str(h, "harness", "image"),
		DatasetURL:      f.str(h, "harness", "dataset_url"),
	}
	if c.Harness.ParallelismMode == "" {
		c.Harness.ParallelismMode = runstate.ModeSplit
	}
	if c.Harness.DatasetURL == "none" {
		c.Harness.DatasetURL = ""
	}
	if c.Harness.Namespace == "" {
		c.Harness.Namespace = c.Endpoint.Namespace
	}
	desc := mapValue(root, "description")
	c.Description.Text = f.str(desc, "description", "text")
	if kw := mapValue(desc, "keywords"); kw != nil && kw.Kind == yaml.SequenceNode {
		for _, k := range kw.Content {
			c.Description.Keywords = append(c.Description.Keywords, k.Value)
		}
	}
	if f.err != nil {
		return nil, nil, f.err
	}

	var err error
	if c.Env, err = d.env(mapValue(root, "env"), opts.Env); err != nil {
		return nil, nil, err
	}
	if c.Workloads, err = d.workloads(mapValue(root, "workload"), opts.Workloads); err != nil {
		return nil, nil, err
	}
	if sanitized := SanitizeName(c.Endpoint.StackName); sanitized != c.Endpoint.StackName {
		warnings = append(warnings, fmt.Sprintf("stack name %q contains characters unsafe in folder and object names; using %q", c.Endpoint.StackName, sanitized))
		c.Endpoint.StackName = sanitized
	}
	if err := c.validate(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", d.source, err)
	}
	for i := range c.Workloads {
		if opts.Sweep.Active() {
			if err := opts.Sweep.apply(c.Harness.Name, &c.Workloads[i]); err != nil {
				return nil, nil, err
			}
		}
		if opts.FindMax != nil {
			if err := opts.FindMax.apply(c.Harness.Name, &c.Workloads[i]); err != nil {
				return nil, nil, err
			}
		}
		// The profile as the harness will read it: after the sweep, which may mend it.
		if err := checkProfile(c.Harness.Name, c.Workloads[i]); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", d.source, err)
		}
	}
	return c, warnings, nil
}

func (d *Document) env(n *yaml.Node, extra []EnvVar) ([]EnvVar, error) {
	var out []EnvVar
	if n != nil && n.Tag != "!!null" {
		if n.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("%s: line %d: env must be a list of Kubernetes env entries (- name: X, value: \"y\")", d.source, n.Line)
		}
		for i, item := range n.Content {
			var spec map[string]any
			if err := item.Decode(&spec); err != nil || item.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("%s: line %d: env[%d] must be a mapping with name and value or valueFrom", d.source, item.Line, i)
			}
			name, _ := spec["name"].(string)
			if name == "" {
				return nil, fmt.Errorf("%s: line %d: env[%d] has no name", d.source, item.Line, i)
			}
			out = append(out, EnvVar{Name: name, Spec: spec})
		}
	}
	for _, e := range extra {
		replaced := false
		for i := range out {
			if out[i].Name == e.Name {
				out[i], replaced = e, true
			}
		}
		if !replaced {
			out = append(out, e)
		}
	}
	return out, nil
}

// workloadName keeps names usable as ConfigMap keys (<name>.yaml), yq paths and folder names.
var workloadName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (d *Document) workloads(n *yaml.Node, only []string) ([]Workload, error) {
	if n == nil || n.Tag == "!!null" || (n.Kind == yaml.MappingNode && len(n.Content) == 0) {
		return nil, fmt.Errorf("%s: no workloads: add at least one named profile under the workload section", d.source)
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: line %d: workload must map workload names to harness profiles", d.source, n.Line)
	}
	seen := map[string]bool{}
	var all []Workload
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := k.Value
		if v.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s: line %d: workload.%s is a %s, not a profile: workload: looks flat; put the harness keys under a workload name (workload: {my_workload: {%s: …}})", d.source, k.Line, name, kindName(v), name)
		}
		if !workloadName.MatchString(name) || len(name) > 63 {
			return nil, fmt.Errorf("%s: line %d: workload name %q is not allowed: use up to 63 letters, digits, '-' or '_' (it becomes the ConfigMap key %s.yaml and part of the results folder name)", d.source, k.Line, name, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("%s: line %d: workload %q is defined twice", d.source, k.Line, name)
		}
		seen[name] = true
		// The profile is written without a document node so comments above the first key stay.
		body, err := encode(v)
		if err != nil {
			return nil, fmt.Errorf("%s: workload %s: %w", d.source, name, err)
		}
		all = append(all, Workload{Name: name, Profile: body, Line: k.Line})
	}
	if len(only) == 0 {
		return all, nil
	}
	want := map[string]bool{}
	for _, w := range only {
		if !seen[w] {
			names := make([]string, len(all))
			for i := range all {
				names[i] = all[i].Name
			}
			return nil, fmt.Errorf("workload %q is %w %s: choose from %s", w, ErrUnknownWorkload, d.source, strings.Join(names, ", "))
		}
		want[w] = true
	}
	var sel []Workload
	for _, w := range all {
		if want[w.Name] {
			sel = append(sel, w)
		}
	}
	return sel, nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return "scalar (" + n.Value + ")"
	case yaml.SequenceNode:
		return "list"
	}
	return "mapping"
}

func (c *Config) validate() error {
	switch {
	case c.Endpoint.StackName == "":
		return ErrNoStackName
	case c.Endpoint.Model == "":
		return ErrNoModel
	case c.Harness.Namespace == "":
		return ErrNoNamespace
	case c.Harness.ResultsPVC == "":
		return ErrNoResultsPVC
	case c.Harness.Image == "":
		return ErrNoImage
	case c.Harness.Parallelism < 1:
		return fmt.Errorf("harness.parallelism is %d: it must be 1 or more", c.Harness.Parallelism)
	case c.Harness.ParallelismMode != runstate.ModeSplit && c.Harness.ParallelismMode != runstate.ModeReplicate:
		return fmt.Errorf("harness.parallelism_mode %q is %w: use %s (the launchers share the load) or %s (each sends all of it)",
			c.Harness.ParallelismMode, ErrParallelismMode, runstate.ModeSplit, runstate.ModeReplicate)
	case c.Harness.WaitTimeout < 0:
		return fmt.Errorf("harness.wait_timeout is %s: it must be 0 (no limit) or more", c.Harness.WaitTimeout)
	}
	if !isHarness(c.Harness.Name) {
		return fmt.Errorf("harness.name %q is %w: use one of %s", c.Harness.Name, ErrUnknownHarness, strings.Join(Harnesses(), ", "))
	}
	return ValidateBaseURL(c.Endpoint.BaseURL)
}

func isHarness(name string) bool {
	for _, h := range Harnesses() {
		if h == name {
			return true
		}
	}
	return false
}

// ValidateBaseURL rejects URLs a harness could not reach, such as the blank host envsubst leaves.
func ValidateBaseURL(raw string) error {
	if raw == "" {
		return ErrNoEndpoint
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("endpoint.base_url %q is not a URL: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("endpoint.base_url %q must start with http:// or https://", raw)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("endpoint.base_url %q has no host", raw)
	}
	if net.ParseIP(host) == nil {
		for _, label := range strings.Split(host, ".") {
			if label == "" {
				return fmt.Errorf("endpoint.base_url %q has an empty host name part (was a variable empty?)", raw)
			}
		}
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("endpoint.base_url %q has an invalid port", raw)
		}
	}
	return nil
}

var unsafeNameRun = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// SanitizeName makes a name safe as a folder name and label value part, as upstream's unused
// sanitize_dir_name intended (dots are kept: stack names carry model versions like 0.6B).
func SanitizeName(s string) string {
	return unsafeNameRun.ReplaceAllString(s, "_")
}

// fields reads typed scalars from sections, keeping the first error.
type fields struct {
	source string
	err    error
}

func (f *fields) scalar(sec *yaml.Node, section, key string) *yaml.Node {
	n := mapValue(sec, key)
	if n == nil || n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.ScalarNode && f.err == nil {
		f.err = fmt.Errorf("%s: line %d: %s.%s must be a single value", f.source, n.Line, section, key)
		return nil
	}
	return n
}

func (f *fields) waitTimeout(sec *yaml.Node) time.Duration {
	n := f.scalar(sec, "harness", "wait_timeout")
	if n == nil {
		return 0
	}
	d, err := ParseWaitTimeout(n.Value)
	if err != nil && f.err == nil {
		f.err = fmt.Errorf("%s: line %d: harness.%w", f.source, n.Line, err)
	}
	return d
}

// ParseWaitTimeout reads harness.wait_timeout: whole seconds as run_only.sh takes them ("1200"),
// or a Go duration of whole seconds ("20m", "1h30m"). A blank value is 0, no limit. Anything
// else, a fraction of a second included, wraps ErrWaitTimeout.
func ParseWaitTimeout(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > int64(math.MaxInt64/time.Second) || n < int64(math.MinInt64/time.Second) {
			return 0, fmt.Errorf("wait_timeout %q is %w: too long", s, ErrWaitTimeout)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("wait_timeout %q is %w: use whole seconds (1200) or a duration (20m)", s, ErrWaitTimeout)
	}
	if d%time.Second != 0 {
		return 0, fmt.Errorf("wait_timeout %q is %w: the launcher counts whole seconds", s, ErrWaitTimeout)
	}
	return d, nil
}

// FormatWaitTimeout writes d as harness.wait_timeout: whole seconds, rounded to the nearest.
func FormatWaitTimeout(d time.Duration) string {
	return strconv.FormatInt(int64(d.Round(time.Second)/time.Second), 10)
}

func (f *fields) str(sec *yaml.Node, section, key string) string {
	if n := f.scalar(sec, section, key); n != nil {
		return strings.TrimSpace(n.Value)
	}
	return ""
}

func (f *fields) integer(sec *yaml.Node, section, key string, def int) int {
	n := f.scalar(sec, section, key)
	if n == nil {
		return def
	}
	v, err := strconv.Atoi(strings.TrimSpace(n.Value))
	if err != nil {
		if f.err == nil {
			f.err = fmt.Errorf("%s: line %d: %s.%s is %q: it must be a whole number", f.source, n.Line, section, key, n.Value)
		}
		return def
	}
	return v
}
