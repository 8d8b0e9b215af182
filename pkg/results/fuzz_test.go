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
	// Python's non-finite floats, in a vLLM result and an inference-perf stage file.
	f.Add([]byte(`{"completed": 2, "request_throughput": NaN, "mean_ttft_ms": -Infinity, "model_id": "NaN"}`), uint8(0))
	f.Add([]byte(`{"successes": {"count": 1, "latency": {"time_to_first_token": {"mean": Infinity, "median": 0.1}}}}`), uint8(1))
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

// nonFiniteToNull leaves valid JSON as it is, keeps every line break, and turns Python's
// non-finite tokens into what encoding/json reads as null.
func FuzzNonFiniteToNull(f *testing.F) {
	for _, s := range []string{`[NaN, Infinity, -Infinity]`, `{"a": "NaN\\", "b": NaN}`, `{"x":"\"Infinity"}`, `[1, -2.5e3, "I", null]`, "NaN\n-Inf"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out := nonFiniteToNull(data)
		if json.Valid(data) && string(out) != string(data) {
			t.Fatalf("valid JSON changed: %q -> %q", data, out)
		}
		if strings.Count(string(out), "\n") != strings.Count(string(data), "\n") {
			t.Fatalf("line breaks changed: %q -> %q", data, out)
		}
		// A document valid once the tokens are read as null decodes the same as one written with null.
		var a, b any
		python := strings.NewReplacer("-Infinity", "null", "Infinity", "null", "NaN", "null").Replace(string(data))
		if json.Unmarshal(out, &a) == nil && !strings.Contains(string(data), `"`) {
			if err := json.Unmarshal([]byte(python), &b); err != nil {
				t.Fatalf("%q read as %q, but with every token replaced it is invalid: %v", data, out, err)
			}
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			if string(ja) != string(jb) {
				t.Fatalf("%q: %s != %s", data, ja, jb)
			}
		}
	})
}
