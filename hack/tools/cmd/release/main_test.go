package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// testEpoch is 2025-11-30T00:00:00Z (date -u -d @1764460800).
var testEpoch = time.Unix(1764460800, 0)

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
		if err := pack(filepath.Join(dist, a), []string{bin}, testEpoch); err != nil {
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

// Two checkouts of one commit differ in file times, umask-dependent modes and the order a script
// names the files in; the archives must not.
func TestPackIsReproducible(t *testing.T) {
	for _, ext := range []string{".tar.gz", ".zip"} {
		t.Run(ext, func(t *testing.T) {
			one := writeFiles(t, 0o755, 0o644, time.Date(2020, 1, 2, 3, 4, 5, 6, time.Local))
			two := writeFiles(t, 0o775, 0o664, time.Date(2024, 6, 7, 8, 9, 10, 11, time.UTC))
			a := filepath.Join(t.TempDir(), "a"+ext)
			b := filepath.Join(t.TempDir(), "b"+ext)
			if err := pack(a, []string{one["kubectl-llmdbench"], one["LICENSE"]}, testEpoch); err != nil {
				t.Fatal(err)
			}
			if err := pack(b, []string{two["LICENSE"], two["kubectl-llmdbench"]}, testEpoch); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(mustRead(t, a), mustRead(t, b)) {
				t.Error("the same files from two checkouts give different archives")
			}
			// The fixed time is the one given, not a constant: another time, other bytes.
			c := filepath.Join(t.TempDir(), "c"+ext)
			if err := pack(c, []string{one["LICENSE"], one["kubectl-llmdbench"]}, testEpoch.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(mustRead(t, a), mustRead(t, c)) {
				t.Error("the archive does not carry the time it is given")
			}
		})
	}
}

func writeFiles(t *testing.T, binMode, licenseMode os.FileMode, mtime time.Time) map[string]string {
	t.Helper()
	dir := t.TempDir()
	out := map[string]string{}
	for name, mode := range map[string]os.FileMode{"kubectl-llmdbench": binMode, "LICENSE": licenseMode} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("contents of "+name), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		out[name] = p
	}
	return out
}

// What the archive holds, read back entry by entry: names in order, the given time, root owner
// without names, 0755/0644, and a gzip header without file name or time.
func TestPackEntries(t *testing.T) {
	files := writeFiles(t, 0o775, 0o664, time.Now())
	dir := t.TempDir()
	tgz, zp := filepath.Join(dir, "x.tar.gz"), filepath.Join(dir, "x.zip")
	for _, out := range []string{tgz, zp} {
		if err := pack(out, []string{files["kubectl-llmdbench"], files["LICENSE"]}, testEpoch); err != nil {
			t.Fatal(err)
		}
	}
	raw := mustRead(t, tgz)
	// RFC 1952: ID1 ID2 CM FLG MTIME(4) XFL OS. FLG 0 means no FNAME/FCOMMENT/FEXTRA.
	if raw[0] != 0x1f || raw[1] != 0x8b || raw[3] != 0 || !bytes.Equal(raw[4:8], []byte{0, 0, 0, 0}) {
		t.Errorf("gzip header % x: want no flags and a zero MTIME", raw[:10])
	}
	gz, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	type got struct {
		name       string
		mode       int64
		unix       int64
		uid, gid   int
		uname, grp string
	}
	var entries []got
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, got{h.Name, h.Mode, h.ModTime.Unix(), h.Uid, h.Gid, h.Uname, h.Gname})
	}
	want := []got{{"LICENSE", 0o644, 1764460800, 0, 0, "", ""}, {"kubectl-llmdbench", 0o755, 1764460800, 0, 0, "", ""}}
	if fmt.Sprint(entries) != fmt.Sprint(want) {
		t.Errorf("tar entries %+v, want %+v", entries, want)
	}
	zr, err := zip.OpenReader(zp)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var zentries []string
	for _, f := range zr.File {
		zentries = append(zentries, fmt.Sprintf("%s %o %d", f.Name, f.Mode().Perm(), f.Modified.Unix()))
	}
	if w := "[LICENSE 644 1764460800 kubectl-llmdbench 755 1764460800]"; fmt.Sprint(zentries) != w {
		t.Errorf("zip entries %v, want %s", zentries, w)
	}
}

func TestPackRefusesTwoFilesOfOneName(t *testing.T) {
	a, b := writeFiles(t, 0o755, 0o644, time.Now()), writeFiles(t, 0o755, 0o644, time.Now())
	out := filepath.Join(t.TempDir(), "x.tar.gz")
	if err := pack(out, []string{a["LICENSE"], b["LICENSE"]}, testEpoch); err == nil || !strings.Contains(err.Error(), "would both be LICENSE") {
		t.Errorf("got %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("an archive was written: %v", err)
	}
}

func TestSourceDateEpoch(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1764460800")
	if got, err := sourceDateEpoch(); err != nil || got.Format(time.RFC3339) != "2025-11-30T00:00:00Z" {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{"", "yesterday", "-5", "1.5"} {
		t.Setenv("SOURCE_DATE_EPOCH", bad)
		if _, err := sourceDateEpoch(); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
			t.Errorf("%q: got %v", bad, err)
		}
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
	if err := buildImage(plugin, busybox, "ghcr.io/llmdbench/kubectl-llmdbench:v9.9.9", "amd64", out, testEpoch); err != nil {
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
		Created          string
		History          []struct{ Created string }
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
	// docker load finds blobs by name: the config's name is its digest, the layer's its digest.
	if sum := sha256.Sum256(files[manifest[0].Config].data); strings.TrimPrefix(manifest[0].Config, "sha256:") != hex.EncodeToString(sum[:]) {
		t.Errorf("config %s is not named by its digest", manifest[0].Config)
	}
	if sum := sha256.Sum256(files[manifest[0].Layers[0]].data); manifest[0].Layers[0] != hex.EncodeToString(sum[:])+".tar.gz" {
		t.Errorf("layer %s is not named by its digest", manifest[0].Layers[0])
	}
	if config.Created != "2025-11-30T00:00:00Z" || len(config.History) != 1 || config.History[0].Created != config.Created {
		t.Errorf("created %q, history %+v: want the given time", config.Created, config.History)
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
	for n, f := range root {
		if f.unix != 1764460800 {
			t.Errorf("%s dated %d, want 1764460800", n, f.unix)
		}
	}
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
	if err := buildImage(plugin, busybox, "ghcr.io/llmdbench/kubectl-llmdbench:v9.9.9", "amd64", again, testEpoch); err != nil || !bytes.Equal(mustRead(t, out), mustRead(t, again)) {
		t.Errorf("two builds differ (%v)", err)
	}
}

type tarEntry struct {
	data []byte
	mode int64
	link string
	unix int64
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
		out[h.Name] = tarEntry{data: data, mode: h.Mode, link: h.Linkname, unix: h.ModTime.Unix()}
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
