package launcher

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestParseToleration(t *testing.T) {
	cases := []struct {
		in   string
		want corev1.Toleration
		err  string
	}{
		{"gpu:NoSchedule", corev1.Toleration{Key: "gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}, ""},
		{"pool=bench:NoExecute", corev1.Toleration{Key: "pool", Value: "bench", Operator: corev1.TolerationOpEqual, Effect: corev1.TaintEffectNoExecute}, ""},
		{"pool=bench", corev1.Toleration{Key: "pool", Value: "bench", Operator: corev1.TolerationOpEqual}, ""},
		{"gpu", corev1.Toleration{Key: "gpu", Operator: corev1.TolerationOpExists}, ""},
		{"", corev1.Toleration{Operator: corev1.TolerationOpExists}, ""},
		{"k=v:Sometimes", corev1.Toleration{}, "effect must be NoSchedule, PreferNoSchedule or NoExecute"},
		{"=v:NoSchedule", corev1.Toleration{}, "a value needs a key"},
	}
	for _, tc := range cases {
		got, err := ParseToleration(tc.in)
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("%q: got %v, want %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%q: got %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}
