package results

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// showJSON runs what `results show DIR -o json` runs (ReadLocal, AggregateRepeats, then JSON: one
// object for one report, else a list) and decodes the JSON back, so that the assertions are on
// the command's interface and not on Go values.
func showJSON(t *testing.T, dir string) any {
	t.Helper()
	reports, _, err := ReadLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	shown, err := AggregateRepeats(reports)
	if err != nil {
		t.Fatal(err)
	}
	var v any = shown
	if len(shown) == 1 {
		v = shown[0]
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "NaN") {
		t.Errorf("NaN in %s", b)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// jget walks decoded JSON by object keys and list indexes ("0", "1", …).
func jget(v any, path string) (any, bool) {
	for _, p := range strings.Split(path, ".") {
		switch c := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = c[p]; !ok {
				return nil, false
			}
		case []any:
			i := -1
			for j := range c {
				if p == itoa(j) {
					i = j
				}
			}
			if i < 0 {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// wantNum checks a number against a right value given to a relative tolerance (the right values
// are written with 4 or 5 significant digits).
func wantNum(t *testing.T, doc any, path string, want float64) {
	t.Helper()
	v, ok := jget(doc, path)
	f, isNum := v.(float64)
	if !ok || !isNum {
		t.Errorf("%s: got %v, want %v", path, v, want)
		return
	}
	if math.Abs(f-want) > 2e-4*math.Max(math.Abs(want), 1e-9) {
		t.Errorf("%s: got %v, want %v", path, f, want)
	}
}

// wantNull checks that the key is there and null: a number the file does not hold.
func wantNull(t *testing.T, doc any, path string) {
	t.Helper()
	v, ok := jget(doc, path)
	if !ok || v != nil {
		t.Errorf("%s: got %v (present %v), want null", path, v, ok)
	}
}

func wantStr(t *testing.T, doc any, path, want string) {
	t.Helper()
	if v, _ := jget(doc, path); v != want {
		t.Errorf("%s: got %v, want %q", path, v, want)
	}
}

func wantLen(t *testing.T, doc any, path string, want int) {
	t.Helper()
	v, _ := jget(doc, path)
	if l, ok := v.([]any); !ok || len(l) != want {
		t.Fatalf("%s: got %v, want %d items", path, v, want)
	}
}

const cases = "testdata/cases"

// Case 01: GuideLLM >= 0.7 (schema v2, config.spec…); right values from the field cases' README (reference material, not in the repository).
func TestCase01GuideLLMv07ConfigSchema(t *testing.T) {
	doc := showJSON(t, filepath.Join(cases, "01-guidellm-v07-config-schema"))
	wantStr(t, doc, "format", FormatGuideLLM)
	wantStr(t, doc, "model", "e2e-mock-model")
	wantLen(t, doc, "stages", 2)
	wantNum(t, doc, "stages.0.requested_rate", 2.0)
	wantNum(t, doc, "stages.0.achieved_rate", 0.39843)
	wantNum(t, doc, "stages.0.requests.succeeded", 2)
	wantNum(t, doc, "stages.0.requests.failed", 0)
	wantNum(t, doc, "stages.0.latency.ttft.mean", 0.011481)
	wantNum(t, doc, "stages.0.latency.ttft.p50", 0.011276)
	wantNum(t, doc, "stages.0.latency.ttft.p90", 0.011686)
	wantNum(t, doc, "stages.0.latency.itl.mean", 0.0011508)
	wantNum(t, doc, "stages.0.latency.tpot.mean", 0.0024421)
	wantNum(t, doc, "stages.0.latency.e2e.mean", 0.019789)
	wantNum(t, doc, "stages.1.requested_rate", 4.0)
	wantNum(t, doc, "stages.1.achieved_rate", 0.79409)
	wantNum(t, doc, "stages.1.latency.ttft.mean", 0.009784)
	wantNum(t, doc, "stages.1.latency.e2e.mean", 0.017634)
	// Constant-rate stages have no concurrency level: max_concurrency 10240 is the worker cap.
	wantNull(t, doc, "stages.0.concurrency")
	wantNull(t, doc, "stages.1.concurrency")
}

// Case 03: GuideLLM <= 0.3 (args.strategy, request_totals on the benchmark, median not p50).
func TestCase03GuideLLMv03ArgsRunStats(t *testing.T) {
	doc := showJSON(t, filepath.Join(cases, "03-guidellm-v03-args-runstats"))
	wantStr(t, doc, "format", FormatGuideLLM)
	wantStr(t, doc, "model", "example_model") // benchmarks[0].worker.backend_model
	wantLen(t, doc, "stages", 1)
	wantNum(t, doc, "stages.0.concurrency", 1)
	wantNull(t, doc, "stages.0.requested_rate")
	wantNum(t, doc, "stages.0.requests.succeeded", 46)
	wantNum(t, doc, "stages.0.requests.failed", 0)
	wantNum(t, doc, "stages.0.requests.incomplete", 1)
	wantNum(t, doc, "stages.0.latency.ttft.mean", 0.016793)
	wantNum(t, doc, "stages.0.latency.ttft.p50", 0.016381)
	wantNum(t, doc, "stages.0.latency.ttft.p90", 0.018505)
	wantNum(t, doc, "stages.0.latency.ttft.p99", 0.021282)
	wantNum(t, doc, "stages.0.latency.itl.mean", 0.004942)
	wantNum(t, doc, "stages.0.latency.tpot.mean", 0.004903)
	wantNum(t, doc, "stages.0.latency.e2e.mean", 0.64447)
	wantNum(t, doc, "stages.0.latency.e2e.p50", 0.64246)
	wantNum(t, doc, "stages.0.achieved_rate", 1.548)
	wantNum(t, doc, "stages.0.throughput.requests_per_sec", 1.548)
	wantNum(t, doc, "stages.0.throughput.output_tokens_per_sec", 198.13)
	// <= 0.3 writes no prompt_tokens_per_second: null, not 0.
	wantNull(t, doc, "stages.0.throughput.input_tokens_per_sec")
}

// Case 04: vllm bench serve --append-result, two results as JSON Lines, request_rate "inf".
func TestCase04VLLMAppendResultJSONL(t *testing.T) {
	doc := showJSON(t, filepath.Join(cases, "04-vllm-append-result-jsonl"))
	wantStr(t, doc, "format", FormatVLLM)
	wantStr(t, doc, "model", "Qwen/Qwen3-0.6B")
	wantLen(t, doc, "stages", 2)
	for i, want := range []struct{ conc, ok, failed, ttft, rps, out float64 }{
		{8, 200, 0, 0.0352, 5.0, 640.0},
		{16, 198, 2, 0.0589, 6.947, 889.26},
	} {
		s := "stages." + itoa(i) + "."
		wantNum(t, doc, s+"concurrency", want.conc)
		wantNum(t, doc, s+"requests.succeeded", want.ok)
		wantNum(t, doc, s+"requests.failed", want.failed)
		wantNum(t, doc, s+"latency.ttft.mean", want.ttft)
		wantNum(t, doc, s+"throughput.requests_per_sec", want.rps)
		wantNum(t, doc, s+"throughput.output_tokens_per_sec", want.out)
		wantNull(t, doc, s+"requested_rate") // "inf": every request at once, no rate
	}
}

// Case 10: a per-request file [] and no stage or summary file: one line saying the harness
// recorded no requests in DIR.
func TestCase10InferencePerfNoRequestsRecorded(t *testing.T) {
	dir := filepath.Join(cases, "10-inference-perf-no-requests-recorded")
	_, _, err := ReadLocal(dir)
	if !errors.Is(err, ErrNoRequests) {
		t.Fatalf("got %v, want ErrNoRequests", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "the harness recorded no requests in "+dir) || strings.Contains(msg, "no result folder") ||
		strings.Contains(msg, "\n") || strings.Contains(msg, "NaN") {
		t.Errorf("message %q", msg)
	}
	// The per-request analysis (results show --per-request --slo …) of that file says the same.
	slos, err := ParseSLOs("ttft=500ms,tpot=50ms")
	if err != nil {
		t.Fatal(err)
	}
	_, err = AnalyzePerRequestFile(filepath.Join(dir, "per_request_lifecycle_metrics.json"), slos)
	if !errors.Is(err, ErrNoRequests) || strings.Contains(err.Error(), "NaN") {
		t.Errorf("per-request analysis of []: %v", err)
	}
	// The same folder inside a run folder: the run is refused with the same line, not "no result folder".
	run := t.TempDir()
	copyDir(t, dir, filepath.Join(run, "inference-perf_x_sanity"))
	if _, _, err := ReadLocal(run); !errors.Is(err, ErrNoRequests) {
		t.Errorf("run folder: %v", err)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
}
