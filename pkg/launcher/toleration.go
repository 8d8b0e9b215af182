package launcher

import (
	"errors"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ParseToleration reads kubectl taint syntax, KEY[=VALUE][:EFFECT]: without a value the key only
// has to exist; without an effect every effect is tolerated; an empty key with Exists tolerates
// every taint.
func ParseToleration(s string) (corev1.Toleration, error) {
	spec, effect, hasEffect := strings.Cut(s, ":")
	t := corev1.Toleration{Operator: corev1.TolerationOpExists}
	if k, v, ok := strings.Cut(spec, "="); ok {
		t.Key, t.Value, t.Operator = k, v, corev1.TolerationOpEqual
	} else {
		t.Key = spec
	}
	if hasEffect {
		switch e := corev1.TaintEffect(effect); e {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
			t.Effect = e
		default:
			return t, errors.New("effect must be NoSchedule, PreferNoSchedule or NoExecute")
		}
	}
	if t.Key == "" && t.Operator == corev1.TolerationOpEqual {
		return t, errors.New("a value needs a key")
	}
	return t, nil
}
