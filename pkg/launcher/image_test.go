package launcher

import "testing"

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
