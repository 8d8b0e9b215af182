package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
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

// The image archive is what `docker load` expects: a manifest naming the config and the layer,
// the config's diff_id the digest of the uncompressed layer, and a root file system with the
// plugin, busybox and its applets, and the non-root user.
func TestImageArchive(t *testing.T) {
	dir := t.TempDir()
	plugin := filepath.Join(dir, "kubectl-llmdbench")
	busybox := filepath.Join(dir, "busybox")
	if err := os.WriteFile(plugin, []byte("plugin-binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A stand-in busybox that lists its applets as the real one does.
	if err := os.WriteFile(busybox, []byte("#!/bin/sh\nprintf 'sh\\nsed\\nsetsid\\nbusybox\\n'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "image.tar")
	if err := buildImage(plugin, busybox, "ghcr.io/llmdbench/kubectl-llmdbench:v9.9.9", "amd64", out); err != nil {
		t.Fatal(err)
	}
	files := untar(t, mustRead(t, out))
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(files["manifest.json"].data, &manifest); err != nil || len(manifest) != 1 || len(manifest[0].Layers) != 1 {
		t.Fatalf("manifest: %v %s", err, files["manifest.json"].data)
	}
	var config struct {
		Architecture, OS string
		Config           struct {
			User       string
			Entrypoint []string
		}
		Rootfs struct {
			DiffIDs []string `json:"diff_ids"`
		}
	}
	if err := json.Unmarshal(files[manifest[0].Config].data, &config); err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(bytes.NewReader(files[manifest[0].Layers[0]].data))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(gz)
	if sum := sha256.Sum256(raw); config.Rootfs.DiffIDs[0] != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("diff_id %s is not the layer's digest", config.Rootfs.DiffIDs[0])
	}
	if manifest[0].RepoTags[0] != "ghcr.io/llmdbench/kubectl-llmdbench:v9.9.9" || config.OS != "linux" || config.Architecture != "amd64" ||
		config.Config.User != "65532:65532" || config.Config.Entrypoint[0] != "/usr/local/bin/kubectl-llmdbench" {
		t.Errorf("image: %+v %+v", manifest[0], config)
	}
	root := untar(t, raw)
	if f := root["usr/local/bin/kubectl-llmdbench"]; string(f.data) != "plugin-binary" || f.mode&0o111 == 0 {
		t.Errorf("plugin in the image: %q mode %o", f.data, f.mode)
	}
	if root["bin/sh"].link != "busybox" || root["bin/setsid"].link != "busybox" || root["bin/busybox"].data == nil {
		t.Error("busybox applets missing")
	}
	if !strings.Contains(string(root["etc/passwd"].data), "nonroot:x:65532:65532") || root["tmp/"].mode&0o1777 != 0o1777 {
		t.Error("user or /tmp missing")
	}
	// Reproducible: the same inputs give the same bytes.
	again := filepath.Join(dir, "again.tar")
	if err := buildImage(plugin, busybox, "ghcr.io/llmdbench/kubectl-llmdbench:v9.9.9", "amd64", again); err != nil || !bytes.Equal(mustRead(t, out), mustRead(t, again)) {
		t.Errorf("two builds differ (%v)", err)
	}
}

type tarEntry struct {
	data []byte
	mode int64
	link string
}

func untar(t *testing.T, b []byte) map[string]tarEntry {
	t.Helper()
	out := map[string]tarEntry{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		out[h.Name] = tarEntry{data: data, mode: h.Mode, link: h.Linkname}
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
