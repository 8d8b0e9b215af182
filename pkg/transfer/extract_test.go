package transfer

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type entry struct {
	name, link string
	typ        byte
	body       string
	size       int64 // when set, overrides len(body) (a lying header)
}

func archive(entries ...entry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if e.size != 0 {
			h.Size = e.size
		}
		_ = tw.WriteHeader(h)
		_, _ = tw.Write([]byte(e.body))
	}
	_ = tw.Close()
	return buf.Bytes()
}

// hostile archives, also the fuzz seed corpus
var hostile = map[string][]byte{
	"absolute":          archive(entry{name: "/tmp/evil", body: "x"}),
	"dotdot":            archive(entry{name: "a/../../evil", body: "x"}),
	"symlink out":       archive(entry{name: "link", link: "/etc", typ: tar.TypeSymlink}),
	"symlink up":        archive(entry{name: "a/link", link: "../../x", typ: tar.TypeSymlink}),
	"through symlink":   archive(entry{name: "d", typ: tar.TypeDir}, entry{name: "link", link: "d", typ: tar.TypeSymlink}, entry{name: "link/f", body: "x"}),
	"onto symlink":      archive(entry{name: "t", body: "target"}, entry{name: "link", link: "t", typ: tar.TypeSymlink}, entry{name: "link", body: "overwrite"}),
	"hardlink out":      archive(entry{name: "h", link: "../../etc/passwd", typ: tar.TypeLink}),
	"hardlink absolute": archive(entry{name: "h", link: "/etc/passwd", typ: tar.TypeLink}),
	"device":            archive(entry{name: "dev", typ: tar.TypeChar}),
	"fifo":              archive(entry{name: "p", typ: tar.TypeFifo}),
}

func TestExtractRefusesHostileArchivesNamingTheEntry(t *testing.T) {
	want := map[string]string{
		"absolute": `"/tmp/evil": absolute path`, "dotdot": `"a/../../evil": '..' in the path`,
		"symlink out": `"link": link to "/etc" leaves the destination`, "symlink up": `"a/link": link to "../../x" leaves`,
		"through symlink": `"link/f": link is a symlink`, "onto symlink": `"link": a non-file of that name already exists`,
		"hardlink out": `"h": hard link to "../../etc/passwd"`, "hardlink absolute": `"h": hard link to "/etc/passwd"`,
		"device": `"dev": character device entries are not extracted`, "fifo": `"p": fifo entries are not extracted`,
	}
	for name, data := range hostile {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			dest := filepath.Join(parent, "dest")
			_, err := Extract(bytes.NewReader(data), dest, ExtractOptions{})
			var ee *EntryError
			if !errors.As(err, &ee) || !strings.Contains(err.Error(), want[name]) {
				t.Errorf("error %v, want an EntryError with %q", err, want[name])
			}
			assertConfined(t, parent, dest)
		})
	}
}

// assertConfined fails if anything but dest appeared in parent, or a link in dest leaves it.
func assertConfined(t *testing.T, parent, dest string) {
	t.Helper()
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		if e.Name() != "dest" && e.Name() != "sentinel" {
			t.Errorf("written outside the destination: %s", e.Name())
		}
	}
	if b, err := os.ReadFile(filepath.Join(parent, "sentinel")); err == nil && string(b) != "untouched" {
		t.Errorf("a file outside the destination changed")
	}
	_ = filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type()&fs.ModeSymlink != 0 {
			target, _ := filepath.EvalSymlinks(p)
			if target != "" && !strings.HasPrefix(target, dest) {
				t.Errorf("symlink %s resolves outside: %s", p, target)
			}
		}
		return nil
	})
}

func TestExtractWritesAnOrdinaryTree(t *testing.T) {
	dest := t.TempDir()
	data := archive(entry{name: "run/", typ: tar.TypeDir}, entry{name: "run/a.json", body: `{"a":1}`},
		entry{name: "run/analysis/p.png", body: "png"}, entry{name: "run/latest", link: "a.json", typ: tar.TypeSymlink},
		entry{name: "run/copy.json", link: "run/a.json", typ: tar.TypeLink})
	got, err := Extract(bytes.NewReader(data), dest, ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Files, ",") != "run/a.json,run/analysis/p.png" || got.Bytes != 10 {
		t.Errorf("%+v", got)
	}
	for rel, want := range map[string]string{"run/a.json": `{"a":1}`, "run/latest": `{"a":1}`, "run/copy.json": `{"a":1}`, "run/analysis/p.png": "png"} {
		if b, err := os.ReadFile(filepath.Join(dest, rel)); err != nil || string(b) != want {
			t.Errorf("%s: %q %v", rel, b, err)
		}
	}
}

func TestExtractSizeCapAndTruncation(t *testing.T) {
	dest := t.TempDir()
	_, err := Extract(bytes.NewReader(archive(entry{name: "a", body: "12345"}, entry{name: "b", body: "67890"})), dest, ExtractOptions{MaxBytes: 8})
	if err == nil || !strings.Contains(err.Error(), `"b": the copy would exceed its size cap of 8 bytes`) {
		t.Errorf("cap: %v", err)
	}
	// A stream cut in the middle of a file: the complete files are reported, the partial one removed.
	data := archive(entry{name: "done.json", body: strings.Repeat("d", 600)}, entry{name: "big.json", body: strings.Repeat("b", 4000)})
	cut := data[:2048]
	got, err := Extract(bytes.NewReader(cut), filepath.Join(dest, "cut"), ExtractOptions{})
	if err == nil || len(got.Files) != 1 || got.Files[0] != "done.json" {
		t.Errorf("truncated: %+v %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dest, "cut", "big.json")); !os.IsNotExist(err) {
		t.Errorf("a partial file must not stay: %v", err)
	}
}

func FuzzExtract(f *testing.F) {
	for _, data := range hostile {
		f.Add(data)
	}
	f.Add(archive(entry{name: "ok/file", body: "fine"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		if err := os.WriteFile(filepath.Join(parent, "sentinel"), []byte("untouched"), 0o644); err != nil {
			t.Fatal(err)
		}
		dest := filepath.Join(parent, "dest")
		_, _ = Extract(bytes.NewReader(data), dest, ExtractOptions{MaxBytes: 1 << 20})
		assertConfined(t, parent, dest)
	})
}

func TestExtractReportsProgressWithinAFile(t *testing.T) {
	big := strings.Repeat("x", 3<<20+7)
	data := archive(entry{name: "small", body: "abc"}, entry{name: "big", body: big})
	var seen []int64
	got, err := Extract(bytes.NewReader(data), t.TempDir(), ExtractOptions{Written: func(n int64) { seen = append(seen, n) }})
	if err != nil {
		t.Fatal(err)
	}
	within := 0
	for i, n := range seen {
		if i > 0 && n < seen[i-1] {
			t.Fatalf("progress went back: %v", seen)
		}
		if n > 3 && n < got.Bytes {
			within++
		}
	}
	// 1 MiB writes: at least three reports inside the big file, and the total at the end.
	if within < 3 || seen[len(seen)-1] != got.Bytes || got.Bytes != int64(len(big))+3 {
		t.Errorf("progress %v for %d bytes", seen, got.Bytes)
	}
}
