// Command release packs the plugin's release archives and renders its krew manifest:
//
//	release pack OUT.tar.gz|OUT.zip FILE...      archive files (flat, sorted, root-owned, every
//	                                             time $SOURCE_DATE_EPOCH): reproducible
//	release manifest TEMPLATE DIST VERSION OUT   render .krew.yaml as krew-release-bot would, with
//	                                             the sha256 of the archives in DIST; every platform
//	                                             must match exactly one archive and vice versa
//	release check MANIFEST DIST                  the check manifest makes, of a committed manifest
//	release serve DIR                            serve DIR on loopback, print the URL, until killed
//	release image BINARY BUSYBOX TAG ARCH OUT    the native harness image as a `docker save` archive,
//	                                             created at $SOURCE_DATE_EPOCH
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"sigs.k8s.io/yaml"
)

func main() {
	var err error
	switch {
	case len(os.Args) >= 4 && os.Args[1] == "pack":
		var mtime time.Time
		if mtime, err = sourceDateEpoch(); err == nil {
			err = pack(os.Args[2], os.Args[3:], mtime)
		}
	case len(os.Args) == 6 && os.Args[1] == "manifest":
		err = renderManifest(os.Args[2], os.Args[3], os.Args[4], os.Args[5])
	case len(os.Args) == 4 && os.Args[1] == "check":
		var b []byte
		if b, err = os.ReadFile(os.Args[2]); err == nil {
			err = CheckOneToOne(b, os.Args[3])
		}
	case len(os.Args) == 3 && os.Args[1] == "serve":
		err = serve(os.Args[2])
	case len(os.Args) == 7 && os.Args[1] == "image":
		var created time.Time
		if created, err = sourceDateEpoch(); err == nil {
			err = buildImage(os.Args[2], os.Args[3], os.Args[4], os.Args[5], os.Args[6], created)
		}
	default:
		err = fmt.Errorf("usage: release pack OUT FILE... | manifest TEMPLATE DIST VERSION OUT | check MANIFEST DIST | serve DIR | image BINARY BUSYBOX TAG ARCH OUT")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

// pack writes a flat archive that depends on the files' names, contents and executable bits
// alone: entries sorted by name, every time set to mtime, owner 0:0 without names, modes 0755 or
// 0644 (so the checkout's umask does not matter), and a gzip header without name or time.
func pack(out string, files []string, mtime time.Time) error {
	type entry struct {
		name string
		data []byte
		mode os.FileMode
	}
	var entries []entry
	seen := map[string]string{}
	for _, f := range files {
		name := filepath.Base(f)
		if prev, ok := seen[name]; ok {
			return fmt.Errorf("%s and %s would both be %s in the archive", prev, f, name)
		}
		seen[name] = f
		data, mode, err := read(f)
		if err != nil {
			return err
		}
		entries = append(entries, entry{name, data, mode})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	mtime = mtime.UTC()
	var buf bytes.Buffer
	switch {
	case strings.HasSuffix(out, ".zip"):
		zw := zip.NewWriter(&buf)
		for _, e := range entries {
			h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: mtime}
			h.SetMode(e.mode)
			w, err := zw.CreateHeader(h)
			if err != nil {
				return err
			}
			if _, err := w.Write(e.data); err != nil {
				return err
			}
		}
		if err := zw.Close(); err != nil {
			return err
		}
	case strings.HasSuffix(out, ".tar.gz"):
		gz := gzip.NewWriter(&buf)
		gz.Header = gzip.Header{OS: 255} // no name, no time; "unknown" OS, as Go writes on every system
		tw := tar.NewWriter(gz)
		for _, e := range entries {
			h := &tar.Header{Name: e.name, Mode: int64(e.mode), Size: int64(len(e.data)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if _, err := tw.Write(e.data); err != nil {
				return err
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		if err := gz.Close(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s: archives are .tar.gz or .zip", out)
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

// read returns a regular file's contents and its archive mode: 0755 when anyone may execute it,
// else 0644.
func read(f string) ([]byte, os.FileMode, error) {
	st, err := os.Stat(f)
	if err != nil {
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s is not a regular file", f)
	}
	data, err := os.ReadFile(f)
	if st.Mode().Perm()&0o111 != 0 {
		return data, 0o755, err
	}
	return data, 0o644, err
}

// sourceDateEpoch is the time every archive entry carries: $SOURCE_DATE_EPOCH, in seconds since
// 1970 (https://reproducible-builds.org/specs/source-date-epoch/); hack/dist.sh sets it from the
// commit date.
func sourceDateEpoch() (time.Time, error) {
	v, ok := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !ok || v == "" {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH is not set: archives carry a fixed time (hack/dist.sh sets it from the commit date)")
	}
	s, err := strconv.ParseInt(v, 10, 64)
	if err != nil || s < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a count of seconds since 1970", v)
	}
	return time.Unix(s, 0).UTC(), nil
}

// manifest is the part of a krew Plugin this tool checks.
type manifest struct {
	Spec struct {
		Version   string `json:"version"`
		Platforms []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			Sha256 string `json:"sha256"`
			Bin    string `json:"bin"`
		} `json:"platforms"`
	} `json:"spec"`
}

// renderManifest does what krew-release-bot does with .krew.yaml, against local archives.
func renderManifest(tmplFile, dist, version, out string) error {
	src, err := os.ReadFile(tmplFile)
	if err != nil {
		return err
	}
	data := map[string]string{"TagName": version}
	funcs := template.FuncMap{
		"addURIAndSha": func(uriTemplate, tag string) (string, error) {
			var uri bytes.Buffer
			t, err := template.New("uri").Parse(uriTemplate)
			if err != nil {
				return "", err
			}
			if err := t.Execute(&uri, map[string]string{"TagName": tag}); err != nil {
				return "", err
			}
			sum, err := sha256File(filepath.Join(dist, path.Base(uri.String())))
			if err != nil {
				return "", fmt.Errorf("the manifest names %s, which dist/ lacks: %w", path.Base(uri.String()), err)
			}
			return fmt.Sprintf("uri: %s\n    sha256: %s", uri.String(), sum), nil
		},
	}
	t, err := template.New(filepath.Base(tmplFile)).Funcs(funcs).Parse(string(src))
	if err != nil {
		return err
	}
	var rendered bytes.Buffer
	if err := t.Execute(&rendered, data); err != nil {
		return err
	}
	if err := CheckOneToOne(rendered.Bytes(), dist); err != nil {
		return err
	}
	return os.WriteFile(out, rendered.Bytes(), 0o644)
}

// CheckOneToOne fails unless every platform names a distinct archive in dist with its true
// sha256, and every archive in dist is named by exactly one platform.
func CheckOneToOne(manifestYAML []byte, dist string) error {
	var m manifest
	if err := yaml.Unmarshal(manifestYAML, &m); err != nil {
		return fmt.Errorf("the rendered manifest is not YAML: %w", err)
	}
	archives, err := filepath.Glob(filepath.Join(dist, "kubectl-llmdbench_*"))
	if err != nil {
		return err
	}
	left := map[string]bool{}
	for _, a := range archives {
		left[filepath.Base(a)] = true
	}
	for i, p := range m.Spec.Platforms {
		name := path.Base(p.URI)
		if !left[name] {
			return fmt.Errorf("platform %d (%v) names %s, which is not an unused archive in %s", i, p.Selector.MatchLabels, name, dist)
		}
		delete(left, name)
		sum, err := sha256File(filepath.Join(dist, name))
		if err != nil {
			return err
		}
		if sum != p.Sha256 {
			return fmt.Errorf("platform %d: sha256 %s, but %s has %s", i, p.Sha256, name, sum)
		}
		want := "_" + p.Selector.MatchLabels["os"] + "_" + p.Selector.MatchLabels["arch"] + "."
		if !strings.Contains(name, want) {
			return fmt.Errorf("platform %d selects %v but names %s", i, p.Selector.MatchLabels, name)
		}
	}
	if len(left) > 0 {
		var names []string
		for n := range left {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("no platform names %s", strings.Join(names, ", "))
	}
	return nil
}

func sha256File(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

// serve lets krew's validator download the archives from loopback; it prints the base URL.
func serve(dir string) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("http://%s/\n", l.Addr())
	return http.Serve(l, http.FileServer(http.Dir(dir)))
}
