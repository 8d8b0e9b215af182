package transfer

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// localRunner runs the copy's real commands (sh, find, stat, tar, gzip) on this machine, so the
// tests exercise exactly what runs in the pod.
func localRunner(cut func(call int) int64) Runner {
	call := 0
	return func(ctx context.Context, cmd []string, stdout, stderr io.Writer) error {
		call++
		c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
		c.Stderr = stderr
		if limit := cut(call); limit > 0 {
			pr, err := c.StdoutPipe()
			if err != nil {
				return err
			}
			if err := c.Start(); err != nil {
				return err
			}
			_, _ = io.CopyN(stdout, pr, limit)
			_ = c.Process.Kill()
			_ = c.Wait()
			return errors.New("stream cut")
		}
		c.Stdout = stdout
		return c.Run()
	}
}

func tree(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	files := map[string]string{
		"run_a/summary.json":             `{"ok":true}`,
		"run_a/stage_0.json":             strings.Repeat(`{"latency":0.123456}`, 2000),
		"run_a/per_request.json":         strings.Repeat(`{"start_time":1283.4,"end_time":1283.9}`, 50000),
		"run_a/analysis/plot.png":        "png",
		"run_b/summary.json":             `{"ok":false}`,
		"run_b/with space/notes.txt":     "spaces survive",
		"unrelated/should_not_copy.json": "{}",
	}
	for rel, body := range files {
		p := filepath.Join(base, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return base
}

func same(t *testing.T, a, b string) bool {
	t.Helper()
	x, err1 := os.ReadFile(a)
	y, err2 := os.ReadFile(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// codecs are the compressed paths: a pod with the plugin (auto: zstd) and ones without, which
// use a zstd binary when they have one (this machine may), else gzip.
var codecs = []struct {
	compression Compression
	packer      string
	want        string
}{
	{CompressAuto, testPacker, "zstd"},
	{CompressAuto, "no-such-plugin", withoutPlugin},
	{CompressAuto, "false", withoutPlugin}, // a plugin too old to pack
	{CompressAuto, "", withoutPlugin},      // no packer named
	{CompressGzip, testPacker, "gzip"},
}

var withoutPlugin = func() string {
	if _, err := exec.LookPath("zstd"); err == nil {
		return "zstd"
	}
	return "gzip"
}()

func TestCopyFoldersSkippingAFile(t *testing.T) {
	for _, c := range codecs {
		t.Run(string(c.compression)+"/"+c.want+"/"+path.Base(c.packer), func(t *testing.T) { copyFoldersSkippingAFile(t, c.compression, c.packer, c.want) })
	}
}

func copyFoldersSkippingAFile(t *testing.T, compression Compression, packer, want string) {
	base, dest := tree(t), t.TempDir()
	var last int64
	res, err := Copy(context.Background(), localRunner(func(int) int64 { return 0 }), Options{
		Base: base, Dirs: []string{"run_a", "run_b"}, Dest: dest, Compression: compression, Packer: packer,
		Skip:     func(f File) bool { return path.Base(f.Path) == "per_request.json" },
		Progress: func(done, total int64) { last = done },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 5 || res.Attempts != 1 || len(res.Skipped) != 1 || res.Skipped[0].Path != "run_a/per_request.json" || last != res.Bytes || res.Codec != want {
		t.Errorf("%+v (progress %d), want codec %s", res, last, want)
	}
	if res.WireBytes >= res.Bytes {
		t.Errorf("%d bytes on the wire for %d bytes of JSON: not compressed", res.WireBytes, res.Bytes)
	}
	for _, rel := range []string{"run_a/summary.json", "run_a/stage_0.json", "run_a/analysis/plot.png", "run_b/with space/notes.txt"} {
		if !same(t, filepath.Join(base, rel), filepath.Join(dest, rel)) {
			t.Errorf("%s not copied intact", rel)
		}
	}
	for _, rel := range []string{"run_a/per_request.json", "unrelated"} {
		if _, err := os.Stat(filepath.Join(dest, rel)); !os.IsNotExist(err) {
			t.Errorf("%s must not be copied", rel)
		}
	}
}

func TestCopyRetriesOnlyWhatIsMissing(t *testing.T) {
	for _, c := range codecs[:2] {
		t.Run(c.want, func(t *testing.T) { copyRetriesOnlyWhatIsMissing(t, c.packer, c.want) })
	}
}

func copyRetriesOnlyWhatIsMissing(t *testing.T, packer, want string) {
	base, dest := tree(t), t.TempDir()
	var retried []int
	// call 1 lists; call 2 (the first stream) is cut early; call 3 must finish the rest.
	res, err := Copy(context.Background(), localRunner(func(call int) int64 {
		if call == 2 {
			return 30000
		}
		return 0
	}), Options{Base: base, Dirs: []string{"run_a"}, Dest: dest, Retries: 2, Backoff: 1, Packer: packer,
		OnRetry: func(attempt int, err error) { retried = append(retried, attempt) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 2 || len(retried) != 1 || res.Files != 4 || res.Codec != want {
		t.Errorf("%+v retries %v", res, retried)
	}
	for _, rel := range []string{"run_a/per_request.json", "run_a/stage_0.json", "run_a/summary.json"} {
		if !same(t, filepath.Join(base, rel), filepath.Join(dest, rel)) {
			t.Errorf("%s not intact after the retry", rel)
		}
	}
	// Every stream cut: the copy gives up after the retries, saying why.
	_, err = Copy(context.Background(), localRunner(func(call int) int64 {
		if call > 1 {
			return 100
		}
		return 0
	}), Options{Base: base, Dirs: []string{"run_a"}, Dest: t.TempDir(), Retries: 1, Backoff: 1, Packer: packer})
	if err == nil || !strings.Contains(err.Error(), "stream cut") {
		t.Errorf("got %v", err)
	}
}

func TestCopyRaw(t *testing.T) {
	base, dest := tree(t), t.TempDir()
	res, err := Copy(context.Background(), localRunner(func(int) int64 { return 0 }), Options{Base: base, Dirs: []string{"run_a"}, Dest: dest, Compression: CompressNone})
	if err != nil || res.WireBytes < res.Bytes || res.Codec != "none" || !same(t, filepath.Join(base, "run_a/per_request.json"), filepath.Join(dest, "run_a/per_request.json")) {
		t.Errorf("%+v %v", res, err)
	}
}

func TestCopyOfAMissingFolderFails(t *testing.T) {
	_, err := Copy(context.Background(), localRunner(func(int) int64 { return 0 }), Options{Base: tree(t), Dirs: []string{"nope"}, Dest: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "listing nope") {
		t.Errorf("got %v", err)
	}
}
