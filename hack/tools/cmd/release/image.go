package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"sort"
	"strings"
	"time"
)

// The native harness image: the plugin binary as its entry point, busybox for the launcher's
// POSIX run script (sh, date, sed, tee, setsid …), a non-root user. Built without a container
// engine, as a `docker save` archive that `docker load`, `podman load`, `skopeo copy
// docker-archive:…` and `crane push` take.
const (
	imageUID     = 65532
	imagePlugin  = "usr/local/bin/kubectl-llmdbench"
	imageBusybox = "bin/busybox"
)

// buildImage writes the image archive for one linux platform.
func buildImage(binary, busybox, tag, arch, out string) error {
	layer, diffID, err := imageLayer(binary, busybox)
	if err != nil {
		return err
	}
	epoch := time.Unix(0, 0).UTC()
	config := map[string]any{
		"architecture": arch,
		"os":           "linux",
		"created":      epoch.Format(time.RFC3339),
		"config": map[string]any{
			"User":       fmt.Sprintf("%d:%d", imageUID, imageUID),
			"Env":        []string{"PATH=/usr/local/bin:/bin", "HOME=/home/nonroot"},
			"Entrypoint": []string{"/" + imagePlugin},
			"WorkingDir": "/workspace",
			"Labels": map[string]string{
				"org.opencontainers.image.title":  "kubectl-llmdbench",
				"org.opencontainers.image.source": "https://github.com/llmdbench/kubectl-llmdbench",
			},
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + diffID}},
		"history": []map[string]string{{"created": epoch.Format(time.RFC3339), "created_by": "hack/tools release image"}},
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return err
	}
	configName := sha(configJSON) + ".json"
	layerName := sha(layer) + "/layer.tar.gz"
	manifest, err := json.Marshal([]map[string]any{{"Config": configName, "RepoTags": []string{tag}, "Layers": []string{layerName}}})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		data []byte
	}{{configName, configJSON}, {layerName, layer}, {"manifest.json", manifest}} {
		if dir := path.Dir(f.name); dir != "." {
			if err := tw.WriteHeader(&tar.Header{Name: dir + "/", Mode: 0o755, Typeflag: tar.TypeDir, ModTime: epoch}); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg, ModTime: epoch}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// imageLayer is the root file system as one gzipped tar; diffID is the digest of the tar itself.
func imageLayer(binary, busybox string) ([]byte, string, error) {
	plugin, err := os.ReadFile(binary)
	if err != nil {
		return nil, "", err
	}
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return nil, "", err
	}
	applets, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, "", fmt.Errorf("%s --list: %w", busybox, err)
	}
	epoch := time.Unix(0, 0).UTC()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	dir := func(name string, mode int64, uid int) error {
		return tw.WriteHeader(&tar.Header{Name: name + "/", Mode: mode, Typeflag: tar.TypeDir, ModTime: epoch, Uid: uid, Gid: uid})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: epoch}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, d := range []struct {
		name string
		mode int64
		uid  int
	}{{"bin", 0o755, 0}, {"etc", 0o755, 0}, {"home", 0o755, 0}, {"home/nonroot", 0o755, imageUID}, {"tmp", 0o1777, 0},
		{"usr", 0o755, 0}, {"usr/local", 0o755, 0}, {"usr/local/bin", 0o755, 0}, {"workspace", 0o775, imageUID}} {
		if err := dir(d.name, d.mode, d.uid); err != nil {
			return nil, "", err
		}
	}
	if err := file(imageBusybox, 0o755, bb); err != nil {
		return nil, "", err
	}
	names := strings.Fields(string(applets))
	sort.Strings(names)
	for _, a := range names {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: "bin/" + a, Linkname: "busybox", Typeflag: tar.TypeSymlink, Mode: 0o777, ModTime: epoch}); err != nil {
			return nil, "", err
		}
	}
	for _, f := range []struct {
		name, data string
	}{
		{"etc/passwd", fmt.Sprintf("root:x:0:0:root:/root:/bin/sh\nnonroot:x:%d:%d:nonroot:/home/nonroot:/bin/sh\n", imageUID, imageUID)},
		{"etc/group", fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", imageUID)},
	} {
		if err := file(f.name, 0o644, []byte(f.data)); err != nil {
			return nil, "", err
		}
	}
	if err := file(imagePlugin, 0o755, plugin); err != nil {
		return nil, "", err
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return gz.Bytes(), sha(raw.Bytes()), nil
}
