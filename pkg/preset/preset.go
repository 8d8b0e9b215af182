// Package preset holds the embedded llm-d guide configs (inference-scheduling, pd, wide-ep,
// precise-prefix-cache, wva-inference-scheduling, tiered-prefix-cache) and their catalogue. Each
// preset is an ordinary run_only.sh config file, so `presets show` output can be saved, edited and
// run with -f.
//
// Files: presets/NAME.yaml is a preset's base config; presets/NAME.HARNESS.yaml is the same guide's
// workloads for another harness (the guide's template for that harness, e.g. its GuideLLM
// template). A file's header names its source with a line
//
//	# source: llm-d/llm-d guides/benchmark/precise_template.yaml (2026-02)
//
// (repository, path, and the month of the version the preset was written from).
package preset

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/llmdbench/kubectl-llmdbench/pkg/config"
)

//go:embed presets/*.yaml
var files embed.FS

// ErrUnknownPreset: the name is neither a preset nor an alias.
var ErrUnknownPreset = errors.New("unknown preset")

// ErrNoHarnessWorkloads: the preset has no workloads written for the requested harness.
var ErrNoHarnessWorkloads = errors.New("has no workloads for harness")

// aliases maps llm-d-benchmark's guide spec names (`llmdbenchmark --spec guides/NAME`, config/
// scenarios/guides/NAME.yaml in llm-d/llm-d-benchmark, 2026-08) to the preset written from the same
// guide. precise-prefix-cache-aware is the guide's folder name in llm-d/llm-d; tiered-prefix-cache
// is both a spec name and a preset name, so it needs no alias.
var aliases = map[string]string{
	"optimized-baseline":           "inference-scheduling",
	"pd-disaggregation":            "pd",
	"wide-ep-lws":                  "wide-ep",
	"precise-prefix-cache-aware":   "precise-prefix-cache",
	"precise-prefix-cache-routing": "precise-prefix-cache",
	"workload-autoscaling":         "wva-inference-scheduling",
}

// Preset summarises one embedded config.
type Preset struct {
	Name string `json:"name"`
	// Aliases are llm-d-benchmark's spec names for the same guide, sorted.
	Aliases     []string `json:"aliases,omitempty"`
	Description string   `json:"description"`
	// Source is the guide file the preset was written from and its month, as in the file's
	// "# source:" header line, e.g. "llm-d/llm-d guides/benchmark/pd_template.yaml (2026-01)".
	Source    string `json:"source"`
	Gateway   string `json:"gateway"`
	StackName string `json:"stackName"`
	Model     string `json:"model"`
	// Harness is the base config's harness.name; Harnesses lists every harness the preset has
	// workloads for (see HarnessesOf).
	Harness   string   `json:"harness"`
	Harnesses []string `json:"harnesses"`
	Image     string   `json:"image"`
	// WaitTimeout bounds each workload; 0 means no limit.
	WaitTimeout        time.Duration `json:"-"`
	WaitTimeoutSeconds int           `json:"waitTimeoutSeconds"`
	Env                []string      `json:"env,omitempty"`
	Workloads          []string      `json:"workloads"`
}

// fileNames lists the embedded file stems (NAME or NAME.HARNESS), sorted.
func fileNames() []string {
	entries, err := fs.ReadDir(files, "presets")
	if err != nil {
		return nil // cannot happen: the folder is embedded at build time
	}
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// Names lists the preset names (not aliases, not harness variants), sorted.
func Names() []string {
	var names []string
	for _, n := range fileNames() {
		if !strings.Contains(n, ".") {
			names = append(names, n)
		}
	}
	return names
}

// Aliases returns alias -> preset name for llm-d-benchmark's spec names.
func Aliases() map[string]string {
	out := make(map[string]string, len(aliases))
	for k, v := range aliases {
		out[k] = v
	}
	return out
}

// Choices is the one-line list of what Resolve accepts, for messages:
// "inference-scheduling, pd, … (aliases: optimized-baseline=inference-scheduling, …)".
func Choices() string {
	keys := make([]string, 0, len(aliases))
	for k := range aliases {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = k + "=" + aliases[k]
	}
	return strings.Join(Names(), ", ") + " (aliases: " + strings.Join(pairs, ", ") + ")"
}

// Resolve returns the preset a name or alias stands for. An unknown name is ErrUnknownPreset,
// with the names and aliases in the message.
func Resolve(name string) (string, error) {
	if target, ok := aliases[name]; ok {
		return target, nil
	}
	if slices.Contains(Names(), name) {
		return name, nil
	}
	return "", fmt.Errorf("%w %q: choose one of %s", ErrUnknownPreset, name, Choices())
}

// variants lists the harnesses that have a NAME.HARNESS.yaml file, sorted.
func variants(name string) []string {
	var out []string
	for _, n := range fileNames() {
		if h, ok := strings.CutPrefix(n, name+"."); ok {
			out = append(out, h)
		}
	}
	return out
}

// HarnessesOf lists, sorted, the harnesses a preset has workloads for: its base file's
// harness.name; each NAME.HARNESS.yaml variant's harness; and llmdbench when either of those is
// inference-perf (the native generator reads inference-perf profiles).
func HarnessesOf(name string) ([]string, error) {
	name, err := Resolve(name)
	if err != nil {
		return nil, err
	}
	doc, err := load(name, name)
	if err != nil {
		return nil, err
	}
	base, _ := doc.Lookup("harness", "name")
	out := append([]string{base}, variants(name)...)
	if slices.Contains(out, config.HarnessInferencePerf) {
		out = append(out, config.HarnessNative)
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// Source returns a preset's base file (name may be an alias) exactly as embedded, placeholders
// intact.
func Source(name string) ([]byte, error) { return SourceFor(name, "") }

// SourceFor returns the file that holds a preset's workloads for harness: its NAME.HARNESS.yaml
// variant when there is one, else the base file when the harness is one HarnessesOf lists (or
// harness is "" or nop, which sends no load). Any other harness is ErrNoHarnessWorkloads.
func SourceFor(name, harness string) ([]byte, error) {
	file, err := fileFor(name, harness)
	if err != nil {
		return nil, err
	}
	data, err := files.ReadFile(path.Join("presets", file+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("preset file %s: %w", file, err) // cannot happen: listed above
	}
	return data, nil
}

func fileFor(name, harness string) (string, error) {
	name, err := Resolve(name)
	if err != nil {
		return "", err
	}
	if harness == "" || harness == config.HarnessNop {
		return name, nil
	}
	vs := variants(name)
	if slices.Contains(vs, harness) {
		return name + "." + harness, nil
	}
	// The native generator reads inference-perf profiles: a base file of another harness with an
	// inference-perf variant gives it that variant.
	if harness == config.HarnessNative && slices.Contains(vs, config.HarnessInferencePerf) {
		if doc, err := load(name, name); err == nil {
			if base, _ := doc.Lookup("harness", "name"); base != config.HarnessInferencePerf {
				return name + "." + config.HarnessInferencePerf, nil
			}
		}
	}
	has, err := HarnessesOf(name)
	if err != nil {
		return "", err
	}
	if !slices.Contains(has, harness) {
		return "", fmt.Errorf("preset %s %w %s: it has them for %s", name, ErrNoHarnessWorkloads, harness, strings.Join(has, ", "))
	}
	return name, nil
}

// Load parses a preset's base file (name may be an alias) into a config document.
func Load(name string) (*config.Document, error) { return LoadFor(name, "") }

// LoadFor parses the file SourceFor picks for harness into a config document.
func LoadFor(name, harness string) (*config.Document, error) {
	file, err := fileFor(name, harness)
	if err != nil {
		return nil, err
	}
	canonical, _ := Resolve(name)
	return load(canonical, file)
}

func load(name, file string) (*config.Document, error) {
	data, err := files.ReadFile(path.Join("presets", file+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("preset file %s: %w", file, err)
	}
	return config.Parse("preset "+name, data)
}

// sourceLine returns the value of the file's "# source:" header line ("" when it has none).
func sourceLine(data []byte) string {
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "#") {
			break
		}
		if v, ok := strings.CutPrefix(line, "# source:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Get summarises one preset (name may be an alias).
func Get(name string) (Preset, error) {
	name, err := Resolve(name)
	if err != nil {
		return Preset{}, err
	}
	data, err := Source(name)
	if err != nil {
		return Preset{}, err
	}
	doc, err := Load(name)
	if err != nil {
		return Preset{}, err
	}
	get := func(section, key string) string {
		v, _ := doc.Lookup(section, key)
		return v
	}
	p := Preset{
		Name:        name,
		Description: get("description", "text"),
		Source:      sourceLine(data),
		Gateway:     get("endpoint", "gateway"),
		StackName:   get("endpoint", "stack_name"),
		Model:       get("endpoint", "model"),
		Harness:     get("harness", "name"),
		Image:       get("harness", "image"),
		Env:         doc.EnvNames(),
		Workloads:   doc.Workloads(),
	}
	for a, target := range aliases {
		if target == name {
			p.Aliases = append(p.Aliases, a)
		}
	}
	sort.Strings(p.Aliases)
	if p.Harnesses, err = HarnessesOf(name); err != nil {
		return Preset{}, err
	}
	wait, err := config.ParseWaitTimeout(get("harness", "wait_timeout"))
	if err != nil {
		return Preset{}, fmt.Errorf("preset %s: harness.%w", name, err)
	}
	p.WaitTimeout, p.WaitTimeoutSeconds = wait, int(wait/time.Second)
	return p, nil
}

// List summarises every preset, sorted by name.
func List() ([]Preset, error) {
	var out []Preset
	for _, n := range Names() {
		p, err := Get(n)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
