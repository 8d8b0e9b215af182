// Package report proves `results report --html` in a real browser: headless Chromium (Debian's
// package, which `make deps` installs) renders the report of real result folders to a PNG, and
// the page it built holds every expected section, every chart, and no console message.
package report

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmdbench/kubectl-llmdbench/test/e2e/framework"
)

// chromium finds the browser; when it is missing the test is skipped, except in CI (CI=true),
// where it fails: a CI machine runs `make deps`, which installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed: `make deps` (hack/install-deps.sh) installs Debian's chromium package")
	}
	t.Skip("chromium is not installed (apt-get install chromium, or make deps as root): the report is not checked in a browser")
	return ""
}

// render loads page in headless Chromium, offline (every host name resolves to nothing), writes a
// screenshot to shot and returns the DOM it built and what it logged.
func render(t *testing.T, browser, page, shot string) (dom, log string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir="+t.TempDir(), "--host-resolver-rules=MAP * ~NOTFOUND",
		"--enable-logging=stderr", "--v=0", "--window-size=1280,4000",
		"--screenshot="+shot, "--dump-dom", "file://"+page)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// consoleLines are the page's console messages and uncaught errors as Chromium logs them with
// --enable-logging=stderr --v=0: `[pid:tid:time:INFO:CONSOLE:LINE] "message", source: URL (LINE)`
// for console.log, console.error and uncaught exceptions alike ("Uncaught ReferenceError: …").
func consoleLines(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, ":CONSOLE") || strings.Contains(l, "Uncaught") {
			out = append(out, l)
		}
	}
	return out
}

func TestReportInChromium(t *testing.T) {
	browser := chromium(t)
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := framework.PluginBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	testdata := filepath.Join(root, "pkg/results/testdata")
	// Real result folders (see pkg/results/testdata/README.md): a 7-stage inference-perf sweep
	// on vLLM, a capacity search, 20 requests of the native generator with its per-request
	// file (so the client time series, goodput and per-request row), and make demo's run with the
	// simulator pod's server metrics.
	cmd := exec.Command(bin, "results", "report",
		filepath.Join(testdata, "inference-perf/vllm"), filepath.Join(testdata, "capacity/found"), filepath.Join(testdata, "tester/pr_only"),
		filepath.Join(testdata, "servermetrics/demo"),
		"--per-request", "--slo", "ttft=5ms", "--bucket", "250ms", "--html", page)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(dir, "absent"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("results report: %v\n%s", err, out)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script", "<link", "<iframe", "<img", "@import", "url("} {
		if bytes.Contains(html, []byte(bad)) {
			t.Errorf("the report holds %q: it must load nothing", bad)
		}
	}
	// URLs are text (an endpoint, a scraped pod), never an attribute that loads or links out.
	if m := regexp.MustCompile(`(?i)\b(src|href|xlink:href)\s*=\s*["']?(https?:|//)`).Find(html); m != nil {
		t.Errorf("the report loads or links out: %s", m)
	}

	shot := filepath.Join(dir, "report.png")
	start := time.Now()
	dom, log := render(t, browser, page, shot)
	t.Logf("chromium rendered the report in %s", time.Since(start).Round(time.Millisecond))
	if lines := consoleLines(log); len(lines) > 0 {
		t.Errorf("console messages:\n%s", strings.Join(lines, "\n"))
	}
	ids := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bid="([^"]+)"`).FindAllStringSubmatch(dom, -1) {
		ids[m[1]] = true
	}
	for _, id := range []string{"runs", "stages", "slo", "server-metrics", "charts", "run-0", "run-1", "run-2", "run-3"} {
		if !ids[id] {
			t.Errorf("the page has no section %q (ids %v)", id, ids)
		}
	}
	// Charts: 3 against rate, 2 per-request CDFs, the capacity search's (goodput and 2 SLOs),
	// 3 client time series.
	if n := strings.Count(dom, "<svg"); n < 3+2+3+3 {
		t.Errorf("the page holds %d inline SVG charts", n)
	}
	for _, text := range []string{"Capacity: max 45 req/s", "Goodput: 19 of 20 requests", "pr_only: client latency over time",
		"qwen3-decode-0", "KV-cache usage per pod", "KV cache and prefix cache vs rate"} {
		if !strings.Contains(dom, text) {
			t.Errorf("the page does not show %q", text)
		}
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 4000 {
		t.Errorf("screenshot %dx%d, want 1280x4000", b.Dx(), b.Dy())
	}
	// Not a blank page: the tables, text and chart lines give it many colours.
	colours := map[uint32]bool{}
	for y := 0; y < img.Bounds().Dy(); y += 7 {
		for x := 0; x < img.Bounds().Dx(); x += 7 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[r>>8<<16|g>>8<<8|b>>8] = true
		}
	}
	if len(colours) < 20 {
		t.Errorf("the screenshot has %d colours: a blank page?", len(colours))
	}
	// It prints: Chromium's print path (the page's print style sheet, A4 landscape) gives a PDF
	// of several pages.
	pdf := filepath.Join(dir, "report.pdf")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir="+t.TempDir(), "--host-resolver-rules=MAP * ~NOTFOUND", "--no-pdf-header-footer",
		"--print-to-pdf="+pdf, "file://"+page).CombinedOutput(); err != nil {
		t.Fatalf("chromium --print-to-pdf: %v\n%s", err, out)
	}
	doc, err := os.ReadFile(pdf)
	if err != nil {
		t.Fatalf("no PDF: %v", err)
	}
	// The page tree's root, as Chromium (Skia) writes it: <</Type /Pages /Count N /Kids [...]>>.
	m := regexp.MustCompile(`/Type /Pages\s*/Count (\d+)`).FindSubmatch(doc)
	pages := 0
	if m != nil {
		pages, _ = strconv.Atoi(string(m[1]))
	}
	if !bytes.HasPrefix(doc, []byte("%PDF-")) || pages < 2 {
		t.Errorf("the printed report is not a PDF of several pages (%d bytes, %d pages)", len(doc), pages)
	}
	t.Logf("printed: %d pages", pages)
	if keep := os.Getenv("LLMDBENCH_REPORT_SCREENSHOT"); keep != "" {
		if b, err := os.ReadFile(shot); err == nil {
			_ = os.WriteFile(keep, b, 0o644)
		}
	}
}

// The console check catches what it is there to catch: a page that logs and throws.
func TestConsoleCheckSeesErrors(t *testing.T) {
	browser := chromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "bad.html")
	bad := `<!DOCTYPE html><html><body><p id="x">x</p><script>console.error("boom"); missing();</script></body></html>`
	if err := os.WriteFile(page, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, log := render(t, browser, page, filepath.Join(dir, "bad.png"))
	lines := consoleLines(log)
	if len(lines) != 2 || !strings.Contains(lines[0], `"boom"`) || !strings.Contains(lines[1], "Uncaught ReferenceError") {
		t.Errorf("console lines %q", lines)
	}
}
