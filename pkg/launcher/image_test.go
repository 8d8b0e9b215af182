package launcher

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/llmdbench/kubectl-llmdbench/pkg/config"
)

func TestNativeHarnessImageSwapsOnlyTheBenchmarkImage(t *testing.T) {
	const native = NativeImageRepo + ":v1.2.3"
	cases := []struct {
		image string
		want  string
	}{
		{"ghcr.io/llm-d/llm-d-benchmark:v0.4.0", native},
		// A mirror, a digest, a bare name (docker.io/library/...), no tag: still the harness image.
		{"registry.local:5000/mirror/llm-d-benchmark:v0.5.1", native},
		{"ghcr.io/llm-d/llm-d-benchmark@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", native},
		{"llm-d-benchmark:dev", native},
		{"ghcr.io/llm-d/llm-d-benchmark", native},
		// Not it: a longer name, a name that only contains it, the tag being the word, a host
		// named after it, a reference that does not parse.
		{"ghcr.io/llm-d/llm-d-benchmark-tools:v1", "ghcr.io/llm-d/llm-d-benchmark-tools:v1"},
		{"ghcr.io/me/my-llm-d-benchmark:v1", "ghcr.io/me/my-llm-d-benchmark:v1"},
		{"ghcr.io/me/harness:llm-d-benchmark", "ghcr.io/me/harness:llm-d-benchmark"},
		{"llm-d-benchmark.example.com/llm-d/harness:1", "llm-d-benchmark.example.com/llm-d/harness:1"},
		{"ghcr.io/llm-d/llm-d-benchmark/sub:1", "ghcr.io/llm-d/llm-d-benchmark/sub:1"},
		{"GHCR.io/Llm-D/llm-d-benchmark:v1", "GHCR.io/Llm-D/llm-d-benchmark:v1"},
		{"", ""},
	}
	for _, tc := range cases {
		got, swapped := NativeHarnessImage(tc.image, "v1.2.3")
		if got != tc.want || swapped != (tc.want == native) {
			t.Errorf("NativeHarnessImage(%q) = %q, %v; want %q", tc.image, got, swapped, tc.want)
		}
	}
}

func TestNativeHarnessImageUnstampedBuild(t *testing.T) {
	if got, _ := NativeHarnessImage("ghcr.io/llm-d/llm-d-benchmark:v0.4.0", ""); got != NativeImageRepo+":latest" {
		t.Errorf("got %q", got)
	}
}

// aiperf is in llm-d-benchmark images from v0.6.8 on (llm-d/llm-d-benchmark: the first tag
// holding workload/harnesses/aiperf-llm-d-benchmark.sh, found with git ls-tree on each tag).
func TestCheckHarnessImage(t *testing.T) {
	for _, tc := range []struct {
		harness, image string
		refused        bool
	}{
		{"aiperf", "ghcr.io/llm-d/llm-d-benchmark:v0.4.0", true},
		{"aiperf", "ghcr.io/llm-d/llm-d-benchmark:v0.6.7", true},
		{"aiperf", "registry.local:5000/mirror/llm-d-benchmark:v0.5.2", true},
		{"aiperf", "ghcr.io/llm-d/llm-d-benchmark:v0.6.8", false},
		{"aiperf", "ghcr.io/llm-d/llm-d-benchmark:v0.6.8.1", false},
		{"aiperf", "ghcr.io/llm-d/llm-d-benchmark:v0.7.0", false},
		{"aiperf", "ghcr.io/llm-d/llm-d-benchmark:v1.0.0", false},
		// not a release: cannot be told, accepted
		{"aiperf", "ghcr.io/llm-d/llm-d-benchmark:latest", false},
		{"aiperf", "ghcr.io/llm-d/llm-d-benchmark@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", false},
		// another image keeps its own contract; other harnesses are in every release
		{"aiperf", "ghcr.io/me/aiperf:0.1.0", false},
		{"inference-perf", "ghcr.io/llm-d/llm-d-benchmark:v0.4.0", false},
		{"guidellm", "ghcr.io/llm-d/llm-d-benchmark:v0.3.2", false},
	} {
		err := CheckHarnessImage(tc.harness, tc.image)
		if (err != nil) != tc.refused || err != nil && !errors.Is(err, ErrHarnessNotInImage) {
			t.Errorf("CheckHarnessImage(%s, %s) = %v, want refused %v", tc.harness, tc.image, err, tc.refused)
		}
	}
	err := CheckHarnessImage("aiperf", "ghcr.io/llm-d/llm-d-benchmark:v0.4.0")
	want := "harness aiperf is not in the image ghcr.io/llm-d/llm-d-benchmark:v0.4.0: llm-d-benchmark images have it from v0.6.8 on; set harness.image to ghcr.io/llm-d/llm-d-benchmark:v0.6.8 or later"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// Objects refuses the harness before building anything; with an image that has it, it builds.
func TestObjectsRefusesAIPerfInOldImage(t *testing.T) {
	s := presetSpec(t, "inference-scheduling", nil)
	s.Config.Harness.Name = config.HarnessAIPerf
	s.Config.Harness.Image = "ghcr.io/llm-d/llm-d-benchmark:v0.4.0"
	if objs, err := Objects(s); !errors.Is(err, ErrHarnessNotInImage) || objs != nil {
		t.Fatalf("got %d objects, %v; want none and ErrHarnessNotInImage", len(objs), err)
	}
	s.Config.Harness.Image = "ghcr.io/llm-d/llm-d-benchmark:v0.8.0"
	if objs, err := Objects(s); err != nil || len(objs) != 2 {
		t.Fatalf("got %d objects, %v; want the ConfigMap and the Job", len(objs), err)
	}
}

// A launcher pinned to a ReadWriteOnce volume's node carries it as required node affinity.
func TestJobCarriesTheClaimsNodeAffinity(t *testing.T) {
	s := presetSpec(t, "inference-scheduling", nil)
	job, err := BuildJob(s)
	if err != nil || job.Spec.Template.Spec.Affinity != nil {
		t.Fatalf("unpinned: affinity %+v, %v", job.Spec.Template.Spec.Affinity, err)
	}
	s.Launcher.NodeAffinity = &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{
		Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"node-a"}}}}}}
	job, err = BuildJob(s)
	if err != nil {
		t.Fatal(err)
	}
	a := job.Spec.Template.Spec.Affinity
	if a == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields[0].Values[0] != "node-a" {
		t.Errorf("affinity %+v", a)
	}
}
