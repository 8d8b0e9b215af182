// Package config reads the llm-d-benchmark run_only.sh config file (sections endpoint, control,
// harness, env, workload) exactly as the script accepts it, applies the plugin's overrides, renders
// its variables and validates the result before anything touches a cluster.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Document is a parsed, not yet rendered config file. It keeps the YAML node tree so that anchors,
// aliases, comments and the document order of workloads survive until the workloads are rendered.
type Document struct {
	source string
	root   *yaml.Node // the top-level mapping
}

// Parse reads a run_only.sh-style config. source names the file in error messages.
func Parse(source string, data []byte) (*Document, error) {
	if first := firstLine(data); strings.EqualFold(first, "COMING SOON") {
		return nil, fmt.Errorf("%s: starts with a bare %q line, so it is %w: delete that line", source, first, ErrTemplate)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: the file is empty: expected sections endpoint, harness and workload", source)
		}
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("%s: line %d: holds more than one YAML document; put one config per file", source, extra.Line)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		line := 1
		if len(doc.Content) > 0 {
			line = doc.Content[0].Line
		}
		return nil, fmt.Errorf("%s: line %d: the top level must be a mapping with sections endpoint, harness and workload", source, line)
	}
	return &Document{source: source, root: doc.Content[0]}, nil
}

// Source names where the document came from.
func (d *Document) Source() string { return d.source }

// Bytes renders the document back to YAML, placeholders and comments intact.
func (d *Document) Bytes() ([]byte, error) {
	return encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{d.root}})
}

// Lookup returns the raw (unrendered) scalar at section.key, and whether it is set.
func (d *Document) Lookup(section, key string) (string, bool) {
	n := lookup(d.root, section, key)
	if n == nil {
		return "", false
	}
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", false
	}
	return n.Value, true
}

// Workloads lists the workload names in document order, without rendering anything.
func (d *Document) Workloads() []string {
	var names []string
	if w := deref(mapValue(d.root, "workload")); w != nil && w.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(w.Content); i += 2 {
			names = append(names, w.Content[i].Value)
		}
	}
	return names
}

// References lists the variables the document still uses, in first-use order, so a caller knows
// which of them it must resolve (for example whether gateway discovery is needed at all).
func (d *Document) References() []string {
	seen := map[string]bool{}
	var names []string
	walk(d.root, func(n *yaml.Node) {
		if n.Kind != yaml.ScalarNode {
			return
		}
		for _, name := range variableNames(n.Value) {
			if !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
		}
	})
	return names
}

func firstLine(data []byte) string {
	for _, line := range strings.Split(string(data), "\n") {
		if t := strings.TrimSpace(line); t != "" {
			return t
		}
	}
	return ""
}

func encode(n *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// mapValue returns the value node of key in mapping m (nil when absent or m is not a mapping).
func mapValue(m *yaml.Node, key string) *yaml.Node {
	m = deref(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func lookup(root *yaml.Node, section, key string) *yaml.Node {
	return mapValue(mapValue(root, section), key)
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func walk(n *yaml.Node, fn func(*yaml.Node)) {
	if n == nil {
		return
	}
	fn(n)
	for _, c := range n.Content {
		walk(c, fn)
	}
}

// EnvNames lists the names in the env section, in order.
func (d *Document) EnvNames() []string {
	var names []string
	if env := deref(mapValue(d.root, "env")); env != nil && env.Kind == yaml.SequenceNode {
		for _, item := range env.Content {
			if n := deref(mapValue(item, "name")); n != nil {
				names = append(names, n.Value)
			}
		}
	}
	return names
}

// setKey replaces key's value in mapping m, or appends the pair.
func setKey(m *yaml.Node, key string, value *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = value
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, value)
}

// deleteKey removes key and its value from mapping m, if present.
func deleteKey(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}
