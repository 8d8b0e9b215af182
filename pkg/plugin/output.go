package plugin

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"sigs.k8s.io/yaml"
)

// Formats of structured (non-object) output.
const (
	outputJSON = "json"
	outputYAML = "yaml"
)

// validateOutput accepts "" (human), json and yaml.
func validateOutput(format string, extra ...string) error {
	allowed := append([]string{"", outputJSON, outputYAML}, extra...)
	if !slices.Contains(allowed, format) {
		return fmt.Errorf("--output %q is not supported: use %s", format, joinFormats(allowed[1:]))
	}
	return nil
}

func joinFormats(f []string) string {
	out := ""
	for i, s := range f {
		switch {
		case i == 0:
		case i == len(f)-1:
			out += " or "
		default:
			out += ", "
		}
		out += s
	}
	return out
}

// printStructured writes v as indented JSON or as YAML.
func printStructured(w io.Writer, format string, v any) error {
	switch format {
	case outputJSON:
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	case outputYAML:
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return fmt.Errorf("unsupported output format %q", format)
}
