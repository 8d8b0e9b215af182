package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
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

// buildImage writes the image archive for one linux platform. go-containerregistry assembles the
// image (config, diff_id, layer digest, docker-save layout); this code only decides the root file
// system and the config. Every time in it is created, so equal inputs give equal bytes.
func buildImage(binary, busybox, tag, arch, out string, created time.Time) error {
	ref, err := name.NewTag(tag, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("image tag %q: %w", tag, err)
	}
	raw, err := imageLayer(binary, busybox, created)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil },
		tarball.WithCompressionLevel(gzip.BestCompression))
	if err != nil {
		return err
	}
	at := v1.Time{Time: created.UTC()}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer, History: v1.History{Created: at, CreatedBy: "hack/tools release image"}})
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Created = arch, "linux", at
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", imageUID, imageUID),
		Env:        []string{"PATH=/usr/local/bin:/bin", "HOME=/home/nonroot"},
		Entrypoint: []string{"/" + imagePlugin},
		WorkingDir: "/workspace",
		Labels: map[string]string{
			"org.opencontainers.image.title":  "kubectl-llmdbench",
			"org.opencontainers.image.source": "https://github.com/llmdbench/kubectl-llmdbench",
		},
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	return tarball.WriteToFile(out, ref, img)
}

// imageLayer is the root file system as one uncompressed tar, every entry dated mtime.
func imageLayer(binary, busybox string, mtime time.Time) ([]byte, error) {
	plugin, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return nil, err
	}
	applets, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", busybox, err)
	}
	epoch := mtime.UTC()
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
			return nil, err
		}
	}
	if err := file(imageBusybox, 0o755, bb); err != nil {
		return nil, err
	}
	names := strings.Fields(string(applets))
	sort.Strings(names)
	for _, a := range names {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: "bin/" + a, Linkname: "busybox", Typeflag: tar.TypeSymlink, Mode: 0o777, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct {
		name, data string
	}{
		{"etc/passwd", fmt.Sprintf("root:x:0:0:root:/root:/bin/sh\nnonroot:x:%d:%d:nonroot:/home/nonroot:/bin/sh\n", imageUID, imageUID)},
		{"etc/group", fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", imageUID)},
	} {
		if err := file(f.name, 0o644, []byte(f.data)); err != nil {
			return nil, err
		}
	}
	if err := file(imagePlugin, 0o755, plugin); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return raw.Bytes(), nil
}
