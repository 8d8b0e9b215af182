package launcher

import (
	"path"

	"github.com/distribution/reference"
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
