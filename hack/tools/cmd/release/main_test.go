package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const tmpl = `apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: llmdbench
spec:
  version: {{ .TagName }}
  platforms:
  - selector:
      matchLabels: {os: linux, arch: amd64}
    {{addURIAndSha "https://example.com/{{ .TagName }}/kubectl-llmdbench_{{ .TagName }}_linux_amd64.tar.gz" .TagName }}
    bin: kubectl-llmdbench
  - selector:
      matchLabels: {os: windows, arch: amd64}
    {{addURIAndSha "https://example.com/{{ .TagName }}/kubectl-llmdbench_{{ .TagName }}_windows_amd64.zip" .TagName }}
    bin: kubectl-llmdbench.exe
`

func setup(t *testing.T, archives ...string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	dist := filepath.Join(dir, "dist")
	if err := os.MkdirAll(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "kubectl-llmdbench")
	if err := os.WriteFile(bin, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range archives {
		if err := pack(filepath.Join(dist, a), []string{bin}); err != nil {
			t.Fatal(err)
		}
	}
	tf := filepath.Join(dir, ".krew.yaml")
	if err := os.WriteFile(tf, []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	return tf, dist
}

func TestManifestMatchesArchivesOneToOne(t *testing.T) {
	tf, dist := setup(t, "kubectl-llmdbench_v1.2.3_linux_amd64.tar.gz", "kubectl-llmdbench_v1.2.3_windows_amd64.zip")
	out := filepath.Join(t.TempDir(), "plugins.yaml")
	if err := renderManifest(tf, dist, "v1.2.3", out); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	sum, _ := sha256File(filepath.Join(dist, "kubectl-llmdbench_v1.2.3_linux_amd64.tar.gz"))
	if !strings.Contains(string(b), "sha256: "+sum) || !strings.Contains(string(b), "uri: https://example.com/v1.2.3/kubectl-llmdbench_v1.2.3_linux_amd64.tar.gz") {
		t.Errorf("rendered:\n%s", b)
	}
	// A corrupted sha256 is caught.
	if err := CheckOneToOne([]byte(strings.Replace(string(b), sum, strings.Repeat("0", 64), 1)), dist); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("got %v", err)
	}
}

func TestManifestArchiveMismatchesFail(t *testing.T) {
	tf, dist := setup(t, "kubectl-llmdbench_v1.2.3_linux_amd64.tar.gz")
	if err := renderManifest(tf, dist, "v1.2.3", filepath.Join(t.TempDir(), "p.yaml")); err == nil || !strings.Contains(err.Error(), "which dist/ lacks") {
		t.Errorf("a platform without an archive: %v", err)
	}
	tf, dist = setup(t, "kubectl-llmdbench_v1.2.3_linux_amd64.tar.gz", "kubectl-llmdbench_v1.2.3_windows_amd64.zip", "kubectl-llmdbench_v1.2.3_darwin_arm64.tar.gz")
	if err := renderManifest(tf, dist, "v1.2.3", filepath.Join(t.TempDir(), "p.yaml")); err == nil || !strings.Contains(err.Error(), "no platform names kubectl-llmdbench_v1.2.3_darwin_arm64.tar.gz") {
		t.Errorf("an archive without a platform: %v", err)
	}
}

func TestPackIsReproducible(t *testing.T) {
	_, dist := setup(t, "a.tar.gz", "b.tar.gz")
	a, _ := sha256File(filepath.Join(dist, "a.tar.gz"))
	b, _ := sha256File(filepath.Join(dist, "b.tar.gz"))
	if a != b {
		t.Error("packing the same files twice gives different archives")
	}
}
