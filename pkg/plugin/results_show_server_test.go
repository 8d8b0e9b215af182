package plugin

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

// serverFolder is case 04 (two vLLM stages) with the hand-made server metrics series of
// pkg/results/testdata/servermetrics/stages (its README).
func serverFolder(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "vllm")
	copyCase(t, "04-vllm-append-result-jsonl", dir)
	b, err := os.ReadFile(filepath.Join("../results/testdata/servermetrics/stages", results.ServerMetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, results.ServerMetricsFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// fieldsOf is out's lines with their columns joined by one space (the table's padding aside).
func fieldsOf(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return lines
}

// The table's numbers are TestServerStagesFixture's (computed by hand there), in the table's
// units: KV and hit rate in %, 1 decimal (0.525 → 52.5, 400/900 → 44.4).
func TestResultsShowServerMetrics(t *testing.T) {
	dir := serverFolder(t)
	out, _, err := execute(t, "", "results", "show", dir, "--server-metrics")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Server metrics, stage 0, 20.0 s:",
		"POD ROLE SAMPLES KV % mean/max RUNNING mean/max WAITING mean/max PREFIX HIT % PREEMPTIONS PROMPT TOK/S GEN TOK/S",
		"sim-0 model-server 3 20.0/30.0 3.3/4 1.3/3 44.4 - 40.0 32.0",
		"sim-1 model-server 4 52.5/70.0 3.0/5 1.0/2 - 3 44.0 28.0",
		"epp-0 epp 2 -/- -/- -/- - - - -",
		"all model-server 7 36.2/70.0 6.3/9 2.3/4 - - 84.0 60.0",
		"",
		"Server metrics, stage 1, 20.0 s:",
	}
	lines := fieldsOf(out)
	start := -1
	for i, l := range lines {
		if l == want[0] {
			start = i
		}
	}
	if start < 0 || start+len(want) > len(lines) {
		t.Fatalf("no stage 0 table in:\n%s", out)
	}
	for i, w := range want {
		if lines[start+i] != w {
			t.Errorf("line %d: %q, want %q", i, lines[start+i], w)
		}
	}
	// Stage 1: sim-0 restarted, its hit rate 300/800 = 37.5 %.
	if !strings.Contains(out, "\nsim-0") || !strings.Contains(strings.Join(lines, "\n"), "sim-0 model-server 4 21.2/40.0 3.8/6 1.8/4 37.5 - 40.0 28.0") {
		t.Errorf("stage 1 sim-0 row missing:\n%s", out)
	}
	if strings.Contains(out, "--server-metrics shows them") {
		t.Errorf("the hint is printed with the table:\n%s", out)
	}

	// Without the flag: one hint line, no table.
	out, _, err = execute(t, "", "results", "show", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Server metrics: 3 pods scraped over 2 stages (--server-metrics shows them).\n") || strings.Contains(out, "PREEMPTIONS") {
		t.Errorf("hint:\n%s", out)
	}

	// -o json carries them.
	out, _, err = execute(t, "", "results", "show", dir, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		ServerMetrics []results.ServerStageMetrics `json:"server_metrics"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.ServerMetrics) != 2 {
		t.Fatalf("%v: %d stages", err, len(r.ServerMetrics))
	}
	if a := r.ServerMetrics[0].All; a.GenerationTokensPerSec == nil || *a.GenerationTokensPerSec != 60 || a.PrefixCacheHitRate != nil {
		t.Errorf("stage 0 all: %+v", a)
	}
	if !strings.Contains(out, `"preemptions": null`) {
		t.Errorf("no null preemptions in the JSON")
	}
}

func TestResultsShowServerMetricsRefusedAndAbsent(t *testing.T) {
	dir := serverFolder(t)
	if _, _, err := execute(t, "", "results", "show", dir, "--server-metrics", "-o", "csv"); err == nil || !strings.Contains(err.Error(), "--server-metrics") {
		t.Errorf("csv: %v", err)
	}
	plain := filepath.Join(t.TempDir(), "vllm")
	copyCase(t, "04-vllm-append-result-jsonl", plain)
	out, _, err := execute(t, "", "results", "show", plain, "--server-metrics")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Server metrics: none (no "+results.ServerMetricsFile+" with samples in "+plain+").") {
		t.Errorf("no series:\n%s", out)
	}
	out, _, err = execute(t, "", "results", "show", plain)
	if err != nil || strings.Contains(out, "Server metrics") {
		t.Errorf("a folder without a series hints at one: %v\n%s", err, out)
	}
}

// A series without stage events (a harness image scraped by the plugin) is one whole-run window.
func TestResultsShowServerMetricsWholeRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vllm")
	copyCase(t, "04-vllm-append-result-jsonl", dir)
	b, err := os.ReadFile(filepath.Join("../results/testdata/servermetrics/nostages", results.ServerMetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, results.ServerMetricsFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := execute(t, "", "results", "show", dir)
	if err != nil || !strings.Contains(out, "Server metrics: 1 pod scraped over the whole run (--server-metrics shows them).\n") {
		t.Errorf("%v\n%s", err, out)
	}
	out, _, err = execute(t, "", "results", "show", dir, "--server-metrics")
	lines := strings.Join(fieldsOf(out), "\n")
	// Running (1+3+2)/3 = 2.0, max 3; generation 250 tokens over 15 s = 16.7/s; the rest not exposed.
	if err != nil || !strings.Contains(lines, "Server metrics, whole run (no stage boundaries were recorded), 15.0 s:") ||
		!strings.Contains(lines, "sim-0 model-server 3 -/- 2.0/3 -/- - - - 16.7") {
		t.Errorf("%v\n%s", err, out)
	}
}
