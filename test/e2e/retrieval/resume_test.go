package retrieval

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// klogLine is a klog-formatted line (client-go's own logging): never on the terminal without -v.
var klogLine = regexp.MustCompile(`(?m)^[IWEF]\d{4} `)

// copiedBytes reads "Copied N file(s), SIZE, …" (0 when cp found everything already there).
func copiedBytes(t *testing.T, stderr string) float64 {
	t.Helper()
	if strings.Contains(stderr, "Nothing to copy: all ") {
		return 0
	}
	m := regexp.MustCompile(`Copied \d+ file\(s\), ([0-9.]+)(B|KiB|MiB|GiB),`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no copy summary in:\n%s", stderr)
	}
	n, _ := strconv.ParseFloat(m[1], 64)
	return n * map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[m[2]]
}

// folderWithBlobs is a run's result folder with its per-request file and four more large files,
// about 300 MiB in all.
func folderWithBlobs(t *testing.T) (ns, folder, claim string, total int64) {
	t.Helper()
	ns, _, folder, claim = runWithPerRequest(t, 100<<20)
	for i := range 4 {
		writePerRequest(t, filepath.Join(claim, folder), 50<<20)
		if err := os.Rename(filepath.Join(claim, folder, runstate.PerRequestFile), filepath.Join(claim, folder, "blob_"+strconv.Itoa(i)+".json")); err != nil {
			t.Fatal(err)
		}
	}
	writePerRequest(t, filepath.Join(claim, folder), 100<<20)
	_ = filepath.Walk(filepath.Join(claim, folder), func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			total += info.Size()
		}
		return nil
	})
	return ns, folder, claim, total
}

func sameTree(t *testing.T, claim, dest, folder string) {
	t.Helper()
	_ = filepath.Walk(filepath.Join(claim, folder), func(p string, info os.FileInfo, err error) error {
		if err != nil || !info.Mode().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(claim, p)
		if sum(t, filepath.Join(dest, rel)) != sum(t, p) {
			t.Errorf("%s differs", rel)
		}
		return nil
	})
}

// A second cp of a folder already here moves (almost) nothing: checksums are compared in the pod.
func TestCpTwiceSecondMovesAlmostNothing(t *testing.T) {
	ns, folder, claim, total := folderWithBlobs(t)
	dest := filepath.Join(t.TempDir(), "out")
	start := time.Now()
	first := cl.Plugin(t, "", timeout, "cp", folder, dest, "-n", ns, "--per-request")
	firstTook := time.Since(start)
	if first.Code != 0 {
		t.Fatalf("first cp: %d\n%s", first.Code, first.Stderr)
	}
	before, _ := os.Stat(filepath.Join(dest, folder, runstate.PerRequestFile))
	start = time.Now()
	second := cl.Plugin(t, "", timeout, "cp", folder, dest, "-n", ns, "--per-request")
	secondTook := time.Since(start)
	if second.Code != 0 {
		t.Fatalf("second cp: %d\n%s", second.Code, second.Stderr)
	}
	b1, b2 := copiedBytes(t, first.Stderr), copiedBytes(t, second.Stderr)
	t.Logf("folder %.1f MiB: first cp copied %.1f MiB in %s; second cp copied %.0f bytes in %s\n%s%s",
		float64(total)/(1<<20), b1/(1<<20), firstTook.Round(time.Millisecond), b2, secondTook.Round(time.Millisecond), first.Stderr, second.Stderr)
	if b1 < 0.99*float64(total) || b2 >= 0.01*b1 {
		t.Errorf("first cp copied %.0f of %d bytes, the second %.0f: want under 1%% of the first", b1, total, b2)
	}
	if !strings.Contains(second.Stderr, "already complete in "+dest) {
		t.Errorf("the second cp does not say why it copied nothing:\n%s", second.Stderr)
	}
	after, _ := os.Stat(filepath.Join(dest, folder, runstate.PerRequestFile))
	if !after.ModTime().Equal(before.ModTime()) {
		t.Error("the second cp rewrote a complete file")
	}
	sameTree(t, claim, dest, folder)
}

// Ctrl-C during cp: exit 130, one line saying what is there and what runs, no "context canceled"
// and no klog line; the next cp resumes, keeping the complete files.
func TestCpInterruptedThenResumed(t *testing.T) {
	ns, folder, claim, total := folderWithBlobs(t)
	dest := filepath.Join(t.TempDir(), "out")
	cmd := cl.PluginCmd(t, "", "cp", folder, dest, "-n", ns, "--per-request", "--compress", "none")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once a good part is here: some files complete, one partial.
	deadline := time.Now().Add(60 * time.Second)
	for size(dest) < 120<<20 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got := size(dest)
	_ = cmd.Process.Signal(syscall.SIGINT)
	_ = cmd.Wait()
	text := stderr.String()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("exit %d after %d of %d bytes, want 130:\n%s", code, got, total, text)
	}
	// The reader pod's note, then one line.
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) > 0 && strings.HasPrefix(lines[0], "Reading PVC ") {
		lines = lines[1:]
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "Interrupted: ") || !strings.Contains(lines[0], "(cp again resumes)") || !strings.HasSuffix(lines[0], "nothing runs.") {
		t.Errorf("want one line saying what was copied and what runs:\n%s", text)
	}
	if strings.Contains(text, "context canceled") || klogLine.MatchString(text) || strings.Contains(text, "error:") {
		t.Errorf("noise after Ctrl-C:\n%s", text)
	}
	start := time.Now()
	r := cl.Plugin(t, "", timeout, "cp", folder, dest, "-n", ns, "--per-request")
	took := time.Since(start)
	if r.Code != 0 {
		t.Fatalf("resumed cp: %d\n%s", r.Code, r.Stderr)
	}
	kept := regexp.MustCompile(`Kept (\d+) file\(s\)`).FindStringSubmatch(r.Stderr)
	copied := copiedBytes(t, r.Stderr)
	t.Logf("interrupted at %.1f MiB of %.1f MiB; the resumed cp copied %.1f MiB in %s:\n%s%s", float64(got)/(1<<20), float64(total)/(1<<20), copied/(1<<20), took.Round(time.Millisecond), text, r.Stderr)
	if kept == nil || copied >= float64(total) {
		t.Errorf("the resumed cp must keep the complete files:\n%s", r.Stderr)
	}
	sameTree(t, claim, dest, folder)
}

func size(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}
