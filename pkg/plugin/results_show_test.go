package plugin

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cases holds the field cases, copied into pkg/results/testdata (see its README).
const cases = "../results/testdata/cases"

func copyCase(t *testing.T, name, to string) {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(filepath.Join(cases, name))); err != nil {
		t.Fatal(err)
	}
}

// A run folder with several workloads is ONE valid CSV: one header row, every row as wide as it.
func TestResultsShowCSVOfSeveralWorkloads(t *testing.T) {
	run := t.TempDir()
	copyCase(t, "01-guidellm-v07-config-schema", filepath.Join(run, "guidellm_w1"))
	copyCase(t, "03-guidellm-v03-args-runstats", filepath.Join(run, "guidellm_w2"))
	copyCase(t, "04-vllm-append-result-jsonl", filepath.Join(run, "vllm_w3"))
	// A workload whose harness wrote nothing is named on stderr, not dropped silently.
	if err := os.MkdirAll(filepath.Join(run, "guidellm_w4"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, "guidellm_w4", "stdout.log"), []byte("Traceback …\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := execute(t, "", "results", "show", run, "-o", "csv")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "Warning: "+filepath.Join(run, "guidellm_w4")+": no result files of a known format") {
		t.Errorf("stderr %q", errOut)
	}
	records, err := csv.NewReader(strings.NewReader(out)).ReadAll() // errors on rows of another width
	if err != nil {
		t.Fatalf("not one valid CSV: %v\n%s", err, out)
	}
	header := strings.Join(records[0], ",")
	headers := 0
	for _, r := range records {
		if strings.Join(r, ",") == header {
			headers++
		}
		if len(r) != len(records[0]) {
			t.Errorf("row of %d fields, header has %d", len(r), len(records[0]))
		}
	}
	// 2 stages (case 01) + 1 (case 03) + 2 (case 04) below one header.
	if headers != 1 || len(records) != 1+5 {
		t.Fatalf("%d header rows, %d rows:\n%s", headers, len(records), out)
	}
	col := map[string]int{}
	for i, h := range records[0] {
		col[h] = i
	}
	// Case 01's constant-rate stage has no concurrency: an empty cell, not 0; case 03's
	// synchronous stage is concurrency 1 with 1 incomplete request.
	if c := records[1][col["concurrency"]]; c != "" {
		t.Errorf("case 01 concurrency %q, want empty", c)
	}
	if r := records[3]; r[col["concurrency"]] != "1" || r[col["succeeded"]] != "46" || r[col["incomplete"]] != "1" || r[col["input_tokens_per_sec"]] != "" {
		t.Errorf("case 03 row %v", r)
	}
	if r := records[5]; r[col["concurrency"]] != "16" || r[col["failed"]] != "2" || r[col["requested_rate"]] != "" {
		t.Errorf("case 04 second row %v", r)
	}
}

// Case 10: `results show DIR` (and with --per-request --slo) exits non-zero with one line saying
// the harness recorded no requests in DIR.
func TestResultsShowNoRequestsRecorded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "inference-perf_1795740000-ab12_sanity")
	copyCase(t, "10-inference-perf-no-requests-recorded", dir)
	for _, args := range [][]string{
		{"results", "show", dir},
		{"results", "show", dir, "--per-request", "--slo", "ttft=500ms,tpot=50ms"},
		{"results", "show", dir, "-o", "json"},
	} {
		out, _, err := execute(t, "", args...)
		if err == nil {
			t.Fatalf("%v: no error; printed %q", args, out)
		}
		msg := err.Error()
		if !strings.Contains(msg, "the harness recorded no requests in "+dir) || strings.Contains(msg, "holds no result folder") ||
			strings.Contains(msg, "\n") || strings.Contains(msg+out, "NaN") {
			t.Errorf("%v: %q", args, msg)
		}
	}
}

// Numbers a file does not hold are `-` in the table, never 0: here case 01's concurrency and
// case 03's input tokens/s and requested rate.
func TestResultsShowTableNulls(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	copyCase(t, "03-guidellm-v03-args-runstats", dir)
	out, _, err := execute(t, "", "results", "show", dir)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out, "\n")
	if len(lines) < 3 {
		t.Fatalf("%q", out)
	}
	f := strings.Fields(lines[2])
	// STAGE, RATE REQ/ACH, CONC, OK, FAILED (+incomplete), … IN TOK/S, OUT TOK/S.
	if f[0] != "0" || f[1] != "-/1.55" || f[2] != "1" || f[3] != "46" || f[4] != "0" || f[5] != "(+1" || f[len(f)-2] != "-" || f[len(f)-1] != "198.1" {
		t.Errorf("row %q", lines[2])
	}
}

// Stage files beside an empty per-request file: --per-request shows the stages and warns that
// there are no per-request numbers, rather than failing or printing a row of zeros.
func TestResultsShowPerRequestEmptyBesideStages(t *testing.T) {
	dir := t.TempDir()
	stage := `{"load_summary": {"count": 2, "requested_rate": 1.0, "achieved_rate": 1.0},
	  "successes": {"count": 2, "latency": {"time_to_first_token": {"mean": 0.1, "median": 0.1, "p90": 0.1, "p99": 0.1}}},
	  "failures": {"count": 0}}`
	for name, body := range map[string]string{"stage_0_lifecycle_metrics.json": stage, "per_request_lifecycle_metrics.json": "[]"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, err := execute(t, "", "results", "show", dir, "--per-request")
	if err != nil || !strings.Contains(errOut, "is an empty array") || strings.Contains(out, "per-request") || !strings.Contains(out, "100.0/100.0/100.0/100.0") {
		t.Errorf("err %v\nstdout %s\nstderr %s", err, out, errOut)
	}
}

// tester holds a tester's inputs (issue 14 §2), copied into pkg/results/testdata (see its README).
const tester = "../results/testdata/tester"

// Every request failed (20 of 20): goodput is measured, 0 of 20 (0.0%), 0 req/s; the stage row
// and the per-request row agree that the throughput over the known window is 0.
func TestResultsShowGoodputWhenAllFailed(t *testing.T) {
	dir := filepath.Join(tester, "pr_all_failed")
	out, _, err := execute(t, "", "results", "show", dir, "--per-request", "--slo", "ttft=500ms,tpot=50ms")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Goodput: 0 of 20 requests (0.0%) met every SLO; 0.000 good requests/s") {
		t.Errorf("no goodput line:\n%s", out)
	}
	var stageRow, prRow []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "0":
			stageRow = f
		case len(f) > 0 && f[0] == "per-request":
			prRow = f
		}
	}
	if len(stageRow) < 3 || len(prRow) < 3 {
		t.Fatalf("rows missing:\n%s", out)
	}
	// the last three columns: REQ/S, IN TOK/S, OUT TOK/S
	want := []string{"0.00", "0.0", "0.0"}
	for _, row := range [][]string{stageRow, prRow} {
		if got := row[len(row)-3:]; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("row %v: throughput %v, want %v", row[0], got, want)
		}
	}
	js, _, err := execute(t, "", "results", "show", dir, "--per-request", "--slo", "ttft=500ms,tpot=50ms", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js, `"goodput"`) {
		t.Errorf("no goodput key in JSON:\n%s", js)
	}
}

// A folder with only a per-request file is read with --per-request, refused without it.
func TestResultsShowPerRequestOnly(t *testing.T) {
	dir := filepath.Join(tester, "pr_only")
	out, _, err := execute(t, "", "results", "show", dir, "--per-request")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "per-request") || !strings.Contains(out, " 20 ") {
		t.Errorf("no per-request row of 20 requests:\n%s", out)
	}
	if _, _, err := execute(t, "", "results", "show", dir); err == nil || !strings.HasSuffix(err.Error(), ": no result files of a known format: only per_request_lifecycle_metrics.json, no stage or summary lifecycle file (--per-request reads it)") {
		t.Errorf("without --per-request: %v", err)
	}
}

// --stat names the latency statistic of compare and plot; --percentile, which always took mean
// too, still works with a deprecation note; a bad value is refused before any folder is read.
func TestResultsStatFlagAndItsDeprecatedAlias(t *testing.T) {
	const ip = "../results/testdata/inference-perf/vllm"
	out, errOut, err := execute(t, "", "results", "compare", ip, ip, "--stat", "p90")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if !strings.HasPrefix(out, "Matched on ") || !strings.Contains(out, "latencies are p90 in ms") || strings.Contains(errOut, "deprecated") {
		t.Errorf("--stat p90:\n%s\n%s", out, errOut)
	}
	out, errOut, err = execute(t, "", "results", "compare", ip, ip, "--percentile", "mean")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if !strings.Contains(out, "latencies are mean in ms") || !strings.Contains(errOut, `Flag --percentile has been deprecated, use --stat`) {
		t.Errorf("--percentile mean:\n%s\n%s", out, errOut)
	}
	dir := filepath.Join(t.TempDir(), "charts")
	out, errOut, err = execute(t, "", "results", "plot", ip, "--percentile", "p99", "--out", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	if len(pngs) == 0 || !strings.Contains(out, filepath.Join(dir, "")) || !strings.Contains(errOut, "deprecated") {
		t.Errorf("plot --out %s: %d PNGs\n%s\n%s", dir, len(pngs), out, errOut)
	}
	// Refused in Validate: the targets do not even exist, and nothing is written.
	absent := filepath.Join(t.TempDir(), "absent")
	for _, args := range [][]string{
		{"results", "compare", absent, absent, "--stat", "p95"},
		{"results", "plot", absent, "--stat", "max", "--out", filepath.Join(absent, "charts")},
		{"results", "plot", absent, "--percentile", "p95", "--out", filepath.Join(absent, "charts")},
	} {
		_, _, err := execute(t, "", args...)
		if err == nil || !strings.HasPrefix(err.Error(), "--stat ") || !strings.HasSuffix(err.Error(), ": use mean, p50, p90 or p99") {
			t.Errorf("%v: got %v", args, err)
		}
	}
	if _, err := os.Stat(absent); !os.IsNotExist(err) {
		t.Errorf("a refused command created %s", absent)
	}
}

// results, results show, compare and plot check their flags before any I/O: with no kubeconfig
// and no such folder, a bad flag is what they name.
func TestResultsCommandsValidateBeforeIO(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"results", "-o", "wide"}, `--output "wide" is not supported`},
		{[]string{"results", "--label", "nokey"}, `--label "nokey": expected KEY=VALUE`},
		{[]string{"results", "show", "some-folder", "--slo", "ttft=1s"}, "--slo needs the per-request data"},
		{[]string{"results", "show", "some-folder", "-o", "wide"}, `--output "wide" is not supported`},
		{[]string{"results", "compare", "a", "b", "--threshold", "-1"}, "--threshold must be 0 or more"},
		{[]string{"results", "compare", "a", "b", "--name", "x"}, "1 --name for 2 folders"},
		{[]string{"results", "plot", "a", "--label", "=v"}, `--label "=v": expected KEY=VALUE`},
	} {
		_, _, err := execute(t, "", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
}
