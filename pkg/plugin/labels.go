package plugin

import (
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// parseLabels reads the KEY=VALUE pairs of --label, for run (labels kept with the results) and
// for results (a filter on them) alike: each key and value must be one Kubernetes accepts on
// an object, so a filter can only name a label a run can carry.
func parseLabels(pairs []string) (labels.Set, error) {
	set := labels.Set{}
	for _, p := range pairs {
		k, v, ok := splitPair(p, "=")
		if !ok {
			return nil, fmt.Errorf("--label %q: expected KEY=VALUE with a Kubernetes label key and value", p)
		}
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, fmt.Errorf("--label %q: expected KEY=VALUE with a Kubernetes label key and value: key %q: %s", p, k, errs[0])
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, fmt.Errorf("--label %q: expected KEY=VALUE with a Kubernetes label key and value: value %q: %s", p, v, errs[0])
		}
		set[k] = v
	}
	return set, nil
}
