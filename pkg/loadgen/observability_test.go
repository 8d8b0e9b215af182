package loadgen

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

// twoStages is a run of two rate stages of one request each, made by hand (no server needed).
func twoStages(t *testing.T) *Result {
	t.Helper()
	w, err := ParseWorkload([]byte(`
load: {type: constant, stages: [{rate: 1, duration: 1}, {rate: 2, duration: 1}]}
api: {type: completion, streaming: true}
server: {model_name: m, base_url: http://127.0.0.1:1}
data: {type: random, input_distribution: {min: 10, max: 10, mean: 10}, output_distribution: {min: 2, max: 2, mean: 2}}
`))
	if err != nil {
		t.Fatal(err)
	}
	res := &Result{Workload: w}
	for i := range 2 {
		base := float64(100 + 10*i)
		st := StageResult{Index: i, Config: w.Load.Stages[i], Started: time.Unix(int64(base), 0), Finished: time.Unix(int64(base)+1, 0)}
		st.Records = []Record{{Stage: i, Scheduled: base, Start: base, End: base + 0.5, InputTokens: 10, OutputTokens: 2, ChunkTimes: []float64{base + 0.1, base + 0.5}}}
		res.Stages = append(res.Stages, st)
	}
	return res
}

func readReport(t *testing.T, dir string, stage int) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, ReportFile(stage)))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// A folder holding a scraper's series gets each stage's server metrics in its benchmark report's
// results.observability, valid against the v0.2 schema. The numbers are those of
// pkg/results/testdata/servermetrics/stages computed by hand in results' TestServerStagesFixture,
// in percent where the schema says percentage (0.2 → 20, 400/900 → 44.44…).
func TestWriteObservability(t *testing.T) {
	dir := t.TempDir()
	series, err := os.ReadFile(filepath.Join("../results/testdata/servermetrics/stages", results.ServerMetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, results.ServerMetricsFile), series, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(dir, twoStages(t), Meta{ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	validateReports(t, dir)
	obs, _ := readReport(t, dir, 0)["results"].(map[string]any)["observability"].(map[string]any)
	comps, _ := obs["components"].([]any)
	// sim-0, sim-1 and all; epp-0 measured none of these and has no entry.
	if len(comps) != 3 {
		t.Fatalf("%d components, want 3: %v", len(comps), comps)
	}
	type c = map[string]any
	get := func(i int, key, stat string) any {
		a, _ := comps[i].(c)["aggregate"].(c)[key].(c)
		if a == nil {
			return nil
		}
		return a[stat]
	}
	near := func(what string, got any, want float64) {
		t.Helper()
		f, ok := got.(float64)
		if !ok || math.Abs(f-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	if c0 := comps[0].(c); c0["component_label"] != "model-server" || c0["replica_id"] != "sim-0" {
		t.Errorf("first component %v", c0)
	}
	near("sim-0 kv mean", get(0, "kv_cache_usage", "mean"), 20)
	near("sim-0 kv max", get(0, "kv_cache_usage", "max"), 30)
	near("sim-0 hit rate", get(0, "cache_hit_rate", "mean"), 100*400.0/900)
	near("sim-0 running max", get(0, "running_requests", "max"), 4)
	if get(0, "preemptions", "mean") != nil {
		t.Error("sim-0 exposes no preemptions but has some")
	}
	near("sim-1 preemptions", get(1, "preemptions", "mean"), 3)
	if get(1, "cache_hit_rate", "mean") != nil {
		t.Error("sim-1 exposes no prefix cache but has a hit rate")
	}
	if all := comps[2].(c); all["component_label"] != "model-server" || all["replica_id"] != nil {
		t.Errorf("all component %v", all)
	}
	near("all kv mean", get(2, "kv_cache_usage", "mean"), 36.25)
	near("all running mean", get(2, "running_requests", "mean"), 10.0/3+3)
	near("all waiting max", get(2, "waiting_requests", "max"), 4)
	if u := comps[2].(c)["aggregate"].(c)["kv_cache_usage"].(c)["units"]; u != "percent" {
		t.Errorf("kv units %v", u)
	}
}

// Without a series the reports have no observability section; a corrupt series does not keep
// the results from being written, and its error names the line.
func TestWriteObservabilityAbsentOrCorrupt(t *testing.T) {
	dir := t.TempDir()
	if _, err := Write(dir, twoStages(t), Meta{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := readReport(t, dir, 0)["results"].(map[string]any)["observability"]; ok {
		t.Error("observability without a series")
	}
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, results.ServerMetricsFile), []byte("{\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := Write(dir, twoStages(t), Meta{})
	if !errors.Is(err, results.ErrServerMetricsFormat) || !strings.Contains(err.Error(), results.ServerMetricsFile+":1:") {
		t.Fatalf("error %v", err)
	}
	if len(files) == 0 {
		t.Fatal("no files reported written")
	}
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	validateReports(t, dir)
}
