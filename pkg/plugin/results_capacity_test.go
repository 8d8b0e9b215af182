package plugin

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// capacityData holds hand-written capacity.json fixtures (see its README).
const capacityData = "../results/testdata/capacity"

// cellsOf splits a table line printed with the tab writer into its cells.
func cellsOf(line string) []string {
	return regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
}

func TestResultsShowCapacityAnswerOnTop(t *testing.T) {
	out, _, err := execute(t, "", "results", "show", filepath.Join(capacityData, "found"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out, "\n")
	if lines[1] != "Capacity: max 45 req/s within SLO (bracket 45–47.5, 9 probes)" {
		t.Errorf("the answer must come right under the folder line:\n%s", out)
	}
	if lines[2] != "Search stopped: the probe budget is spent" {
		t.Errorf("line 3 %q", lines[2])
	}
	want := [][]string{
		{"PROBE", "STAGE", "LEVEL REQ/S", "ACHIEVED REQ/S", "GOODPUT REQ/S", "TTFT p90 ≤ 500 ms", "errors ≤ 1%", "SATURATED", "PASS"},
		// probe 4 of found/capacity.json: 80 req/s offered, 61.2 achieved, TTFT p90 2.9 s, 3 % errors.
		{"4", "3", "80", "61.20", "12.00", "2900.0 ✘", "3.0% ✘", "yes", "no"},
		{"8 (repeat)", "7", "45", "44.60", "42.90", "490.0 ✔", "0.5% ✔", "no", "yes"},
	}
	got := [][]string{cellsOf(lines[3]), cellsOf(lines[7]), cellsOf(lines[11])}
	for i := range want {
		if strings.Join(got[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d\n got %q\nwant %q", i, got[i], want[i])
		}
	}
	if !strings.Contains(out, "STAGE   RATE REQ/ACH") {
		t.Errorf("the usual stage table must follow:\n%s", out)
	}
}

func TestResultsShowCapacityNeverAndAlwaysMet(t *testing.T) {
	out, _, err := execute(t, "", "results", "show", filepath.Join(capacityData, "never-met"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out, "\n")
	if lines[1] != "Capacity: even --min fails TTFT p90: 812 ms > 500 ms" {
		t.Errorf("%q", lines[1])
	}
	// goodput and TPOT p90 were not measured (null): "-", never 0; the unmeasured SLO fails.
	if got := strings.Join(cellsOf(lines[4]), "|"); got != "1|0|1|0.98|-|812.0 ✘|- ✘|no|no" {
		t.Errorf("probe row %q", got)
	}
	out, _, err = execute(t, "", "results", "show", filepath.Join(capacityData, "always-met"))
	if err != nil {
		t.Fatal(err)
	}
	lines = strings.Split(out, "\n")
	if lines[1] != "Capacity: ≥ 64 concurrent requests: every level probed passed (4 probes)" {
		t.Errorf("%q", lines[1])
	}
	// A concurrency search does not judge saturation: "-", not "no".
	if got := strings.Join(cellsOf(lines[3]), "|"); got != "PROBE|STAGE|LEVEL CONC|ACHIEVED REQ/S|GOODPUT REQ/S|E2E p99 ≤ 20000 ms|SATURATED|PASS" {
		t.Errorf("header %q", got)
	}
	if got := strings.Join(cellsOf(lines[7]), "|"); got != "4|3|64|13.10|13.00|6900.0 ✔|-|yes" {
		t.Errorf("probe row %q", got)
	}
}

func TestResultsShowCapacityJSONAndMalformed(t *testing.T) {
	out, _, err := execute(t, "", "results", "show", filepath.Join(capacityData, "found"), "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Capacity struct {
			Passing *float64 `json:"passing"`
			Failing *float64 `json:"failing"`
			Answer  string   `json:"answer"`
		} `json:"capacity"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Capacity.Passing == nil || *r.Capacity.Passing != 45 || *r.Capacity.Failing != 47.5 || r.Capacity.Answer == "" {
		t.Errorf("%+v", r.Capacity)
	}
	_, _, err = execute(t, "", "results", "show", filepath.Join(capacityData, "malformed"))
	if err == nil || !strings.Contains(err.Error(), filepath.Join("malformed", "capacity.json")) {
		t.Errorf("malformed: %v", err)
	}
}

func TestResultsCompareCapacityFirst(t *testing.T) {
	out, _, err := execute(t, "", "results", "compare", filepath.Join(capacityData, "found"), filepath.Join(capacityData, "found-b"), "--name", "A", "--name", "B")
	if err != nil {
		t.Fatal(err)
	}
	// (54 - 45) / 45 = +20.0 %, by hand.
	first, rest, _ := strings.Cut(out, "\n")
	if first != "capacity: A 45 req/s [45–47.5] → B 54 req/s [54–57.375] (+20.0%)" {
		t.Errorf("first line %q", first)
	}
	if !strings.HasPrefix(rest, "Matched on requested_rate") {
		t.Errorf("the usual table must follow:\n%s", rest)
	}
	out, _, err = execute(t, "", "results", "compare", filepath.Join(capacityData, "found"), filepath.Join(capacityData, "never-met"), filepath.Join(capacityData, "always-met"), "--name", "A", "--name", "N", "--name", "C")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out, "\n")
	if lines[0] != "capacity: A 45 req/s [45–47.5] → N none within SLO (fails at 1 req/s) → C - (≥ 64 concurrent requests: every level probed passed (4 probes))" ||
		!strings.Contains(lines[1], "N was judged by other SLOs") || !strings.Contains(lines[2], "C searched by concurrency, not rate") {
		t.Errorf("\n%s", strings.Join(lines[:3], "\n"))
	}
	// Runs without a capacity search compare as before: no capacity line.
	out, _, err = execute(t, "", "results", "compare", "../results/testdata/inference-perf/vllm", "../results/testdata/inference-perf/vllm-quantization")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "capacity") {
		t.Errorf("no capacity record, no capacity line:\n%s", out)
	}
}

func TestResultsPlotCapacityCharts(t *testing.T) {
	out := t.TempDir()
	stdout, _, err := execute(t, "", "results", "plot", filepath.Join(capacityData, "found"), filepath.Join(capacityData, "always-met"), "--out", out, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var charts []struct {
		File   string `json:"file"`
		Series int    `json:"series"`
	}
	if err := json.Unmarshal([]byte(stdout), &charts); err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, c := range charts {
		files = append(files, filepath.Base(c.File))
	}
	// Two capacity runs: each one's charts are named after it; then the standard charts.
	want := "capacity_found_goodput.png capacity_found_slo_ttft_p90.png capacity_found_slo_failed_requests.png " +
		"capacity_always_met_goodput.png capacity_always_met_slo_e2e_p99.png latency_vs_rate.png"
	if got := strings.Join(files, " "); got != want {
		t.Errorf("charts\n got %s\nwant %s", got, want)
	}
}
