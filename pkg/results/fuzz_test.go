package results

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzNames are the file names the reader tells formats apart by.
var fuzzNames = []string{
	"results.json", "stage_0_lifecycle_metrics.json", "summary_lifecycle_metrics.json",
	"benchmark_report_v0.2,_stage_0.yaml", "benchmark_report,_stage_0.yaml", "per_request_lifecycle_metrics.json",
}

// Whatever a result file holds, reading its folder never panics; it gives a report that encodes
// as JSON (no NaN or infinity) or an error of one line.
func FuzzReadDir(f *testing.F) {
	seeds := []struct {
		file string
		kind uint8
	}{
		{"cases/04-vllm-append-result-jsonl/results.json", 0},
		{"inference-perf/vllm/stage_0_lifecycle_metrics.json", 1},
		{"inference-perf/vllm/summary_lifecycle_metrics.json", 2},
		{"benchmark-report/br_v0_1_example.yaml", 4},
		{"cases/10-inference-perf-no-requests-recorded/per_request_lifecycle_metrics.json", 5},
	}
	for _, s := range seeds {
		b, err := os.ReadFile(filepath.Join("testdata", s.file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, s.kind)
	}
	f.Add([]byte(`{"completed": 1, "request_throughput": "nan", "request_rate": "NaN", "duration": 1e-300, "total_input_tokens": 1e300}`), uint8(0))
	// Small GuideLLM reports of each version (the field cases' files are too big to mutate well).
	f.Add([]byte(`{"metadata": {"version": 2}, "config": {"spec": {"backend": {"model": "m"}}}, "benchmarks": [{"config": {"strategy": {"type_": "constant", "rate": 2.0, "max_concurrency": 10240}},
	  "metrics": {"request_totals": {"successful": 2, "errored": 0, "incomplete": 0, "total": 2},
	    "time_to_first_token_ms": {"successful": {"mean": 11.4, "median": 11.2, "count": 2, "percentiles": {"p50": 11.2, "p90": 11.6, "p99": 11.6}}},
	    "requests_per_second": {"successful": {"mean": 0.39, "count": 2}}}}]}`), uint8(0))
	f.Add([]byte(`{"benchmarks": [{"args": {"strategy": {"type_": "synchronous"}}, "worker": {"backend_model": "m"}, "request_totals": {"successful": 46, "errored": 0, "incomplete": 1},
	  "metrics": {"request_latency": {"successful": {"mean": 0.64, "median": 0.64, "count": 46, "percentiles": {"p90": 0.65, "p99": 0.68}}}}}]}`), uint8(0))
	f.Add([]byte(`{"benchmarks": [{"config": {"strategy": {"type_": "concurrent", "streams": "x"}}, "metrics": {"request_totals": {"successful": -3}}}]}`), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, fuzzNames[int(kind)%len(fuzzNames)]), data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := ReadDir(dir)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of several lines: %q", err)
			}
			return
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("report does not encode: %v", err)
		}
	})
}
