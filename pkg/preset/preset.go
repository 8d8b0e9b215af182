// Package preset holds the embedded well-lit-path configs (inference-scheduling, pd, wide-ep) and
// their catalogue. Each preset is an ordinary run_only.sh config file, so `presets show` output
// can be saved, edited and run with -f.
package preset

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/llmdbench/kubectl-llmdbench/pkg/config"
)

//go:embed presets/*.yaml
var files embed.FS

// Preset summarises one embedded config.
type Preset struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Gateway     string `json:"gateway"`
	StackName   string `json:"stackName"`
	Model       string `json:"model"`
	Harness     string `json:"harness"`
	Image       string `json:"image"`
	// WaitTimeout bounds each workload; 0 means no limit.
	WaitTimeout        time.Duration `json:"-"`
	WaitTimeoutSeconds int           `json:"waitTimeoutSeconds"`
	Env                []string      `json:"env,omitempty"`
	Workloads          []string      `json:"workloads"`
}

// Names lists the preset names, sorted.
func Names() []string {
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

// Source returns the preset file exactly as embedded, placeholders intact.
func Source(name string) ([]byte, error) {
	data, err := files.ReadFile(path.Join("presets", name+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("unknown preset %q: choose one of %s", name, strings.Join(Names(), ", "))
	}
	return data, nil
}

// Load parses a preset into a config document.
func Load(name string) (*config.Document, error) {
	data, err := Source(name)
	if err != nil {
		return nil, err
	}
	return config.Parse("preset "+name, data)
}

// Get summarises one preset.
func Get(name string) (Preset, error) {
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
		Gateway:     get("endpoint", "gateway"),
		StackName:   get("endpoint", "stack_name"),
		Model:       get("endpoint", "model"),
		Harness:     get("harness", "name"),
		Image:       get("harness", "image"),
		Env:         doc.EnvNames(),
		Workloads:   doc.Workloads(),
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
