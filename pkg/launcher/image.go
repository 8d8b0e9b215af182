package launcher

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"

	"github.com/distribution/reference"

	"github.com/llmdbench/kubectl-llmdbench/pkg/config"
)

// BenchmarkImageName is the last path component of the llm-d-benchmark harness image
// (ghcr.io/llm-d/llm-d-benchmark:TAG in the presets, or a mirror of it).
const BenchmarkImageName = "llm-d-benchmark"

// IsBenchmarkImage tells whether image is the llm-d-benchmark harness image, from any registry or
// organisation, by tag or by digest. It parses the reference rather than looking for a
// substring, so "llm-d-benchmark-tools:1" or an image merely tagged "llm-d-benchmark" is not it;
// an image reference that does not parse is not it either.
func IsBenchmarkImage(image string) bool {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return false
	}
	return path.Base(reference.Path(named)) == BenchmarkImageName
}

// NativeHarnessImage is the image a native-harness run uses when the user chose none: the
// plugin's own image of version in place of the llm-d-benchmark image the presets name, and any
// other image unchanged. swapped tells whether it replaced image.
func NativeHarnessImage(image, version string) (use string, swapped bool) {
	if IsBenchmarkImage(image) {
		return NativeImage(version), true
	}
	return image, false
}

// ErrHarnessNotInImage is returned (wrapped) for a harness the run's image does not have.
var ErrHarnessNotInImage = errors.New("not in the image")

// AIPerfFirstImage is the first llm-d-benchmark image release with the aiperf harness
// (workload/harnesses/aiperf-llm-d-benchmark.sh, added by llm-d/llm-d-benchmark commit 6aab10b7
// "AIPerf harness support (#1409)", 2026-06-04; first tag holding it v0.6.8, which pins aiperf
// v0.8.0 in build/Dockerfile). Releases before it have the inference-perf, guidellm,
// vllm-benchmark and inferencemax harnesses only.
const AIPerfFirstImage = "v0.6.8"

// imageVersion matches llm-d-benchmark's release tags: v0.6.8, v0.6.8.1.
var imageVersion = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)(?:\.(\d+))?$`)

// CheckHarnessImage refuses a harness the run's image does not have, by the image contract of
// llm-d-benchmark's releases: aiperf needs the llm-d-benchmark image AIPerfFirstImage or later.
// It accepts every other harness, any image that is not the llm-d-benchmark image (its own
// contract), and an llm-d-benchmark image whose tag is not a release (latest, a branch, a
// digest), whose harnesses cannot be told from its name. Error: ErrHarnessNotInImage, wrapped,
// naming the image and the first release that has the harness.
func CheckHarnessImage(harness, image string) error {
	if harness != config.HarnessAIPerf || !IsBenchmarkImage(image) {
		return nil
	}
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return nil
	}
	tagged, ok := named.(reference.Tagged)
	if !ok {
		return nil
	}
	have, ok := releaseOf(tagged.Tag())
	if !ok {
		return nil
	}
	first, _ := releaseOf(AIPerfFirstImage)
	if slices.Compare(have, first) >= 0 {
		return nil
	}
	return fmt.Errorf("harness %s is %w %s: llm-d-benchmark images have it from %s on; set harness.image to %s:%s or later",
		harness, ErrHarnessNotInImage, image, AIPerfFirstImage, reference.FamiliarName(named), AIPerfFirstImage)
}

// releaseOf reads a release tag as numbers (v0.6.8 → 0 6 8 0); false for other tags.
func releaseOf(tag string) ([]int, bool) {
	m := imageVersion.FindStringSubmatch(tag)
	if m == nil {
		return nil, false
	}
	out := make([]int, 4)
	for i, s := range m[1:] {
		if s != "" {
			out[i], _ = strconv.Atoi(s)
		}
	}
	return out, true
}
