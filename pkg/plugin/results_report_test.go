package plugin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResultsReportWritesOneHTMLFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	out, _, err := execute(t, "", "results", "report", "../results/testdata/tester/pr_only", "../results/testdata/capacity/found",
		"--per-request", "--slo", "ttft=5ms", "--bucket", "500ms", "--name", "native", "--name", "search", "--html", file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, file+"\t2 result folders") {
		t.Errorf("stdout %q", out)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	for _, want := range []string{`id="runs"`, `id="stages"`, `id="slo"`, `id="charts"`, "Goodput: 19 of 20 requests", "Capacity: max 45 req/s",
		"native: client latency over time", "time since the first request (s, 0.5 s buckets)"} {
		if !strings.Contains(html, want) {
			t.Errorf("no %q in the report", want)
		}
	}
	// Nothing else is left in the folder (the file is written through a temporary one).
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("folder holds %d files", len(entries))
	}
}

func TestResultsReportRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"results", "report", "../results/testdata/tester/pr_only"}, "--html FILE is required"},
		{[]string{"results", "report", "x", "--html", "r.html", "--bucket", "0s"}, "--bucket 0s"},
		{[]string{"results", "report", "x", "--html", "r.html", "--slo", "ttft=1s"}, "--slo needs the per-request data"},
		{[]string{"results", "report", "x", "--html", "r.html", "--stat", "p42"}, `--stat "p42"`},
		{[]string{"results", "report", "x", "y", "--html", "r.html", "--name", "a"}, "1 --name for 2 folders"},
	} {
		_, _, err := execute(t, "", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestResultsPlotDrawsTheClientTimeSeries(t *testing.T) {
	dir := t.TempDir()
	out, _, err := execute(t, "", "results", "plot", "../results/testdata/tester/pr_only", "--per-request", "--bucket", "250ms", "--out", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"client_latency.png", "client_requests.png", "client_tokens.png", "cdf_ttft.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil || !strings.Contains(out, filepath.Join(dir, f)) {
			t.Errorf("%s: %v (stdout %q)", f, err, out)
		}
	}
	if _, _, err := execute(t, "", "results", "plot", "x", "--bucket", "-1s"); err == nil || !strings.Contains(err.Error(), "--bucket -1s") {
		t.Errorf("negative bucket: %v", err)
	}
}
