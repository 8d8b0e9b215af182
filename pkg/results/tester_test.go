package results

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// Inputs of a tester's run (issue 14 §2), in testdata/tester: every expected value below is read
// by hand from the file named.
const tester = "testdata/tester"

// A file from which not one number (requests, latency, throughput) can be read is refused in one
// line naming the file and why, never shown as a row of nulls.
func TestNothingMeasuredIsRefused(t *testing.T) {
	for _, tc := range []struct{ dir, file, why string }{
		{"gl_unknown", "benchmarks.json", "no benchmark holds GuideLLM metrics (unknown schema?)"},
		{"gl_unknown2", "benchmarks.json", "no benchmark holds GuideLLM metrics (unknown schema?)"},
		{"br_version_only", "benchmark_report_v0.2,_stage_0_lifecycle_metrics.json.yaml", "a benchmark report without results"},
		{"br_no_results", "benchmark_report_v0.2,_stage_0_lifecycle_metrics.json.yaml", "a benchmark report without results"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			dir := filepath.Join(tester, tc.dir)
			_, _, err := ReadLocal(dir)
			if want := filepath.Join(dir, tc.file) + ": " + tc.why; err == nil || err.Error() != want {
				t.Errorf("got %v, want %s", err, want)
			}
		})
	}
	// One benchmark with metrics and one without: the one without is named.
	dir := writeFiles(t, map[string]string{"benchmarks.json": `{"benchmarks": [` +
		`{"metrics": {"request_totals": {"successful": 4, "errored": 0}}}, {"foo": 1}]}`})
	_, err := ReadDir(dir)
	if want := filepath.Join(dir, "benchmarks.json") + ": benchmark 1 of 2 holds no GuideLLM metrics (unknown schema?)"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	// An inference-perf stage file of an unknown schema.
	dir = writeFiles(t, map[string]string{"stage_0_lifecycle_metrics.json": `{"load_summary": {"requested_rate": 5}, "x": {}}`})
	_, err = ReadDir(dir)
	if want := filepath.Join(dir, "stage_0_lifecycle_metrics.json") + ": no inference-perf metrics in it (unknown schema?)"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// Python's json.dump writes NaN and Infinity for floats that are not finite; they are read as
// null, and the rest of the file is read.
func TestNonFiniteNumbersReadAsNull(t *testing.T) {
	got := showJSON(t, filepath.Join(tester, "ip_nan")) // time_to_first_token.mean is NaN
	wantNull(t, got, "stages.0.latency.ttft.mean")
	wantNum(t, got, "stages.0.latency.ttft.p50", 0.003863501500000033)
	wantNum(t, got, "stages.0.requests.succeeded", 60)

	got = showJSON(t, filepath.Join(tester, "ip_inf")) // output_tokens_per_sec is Infinity
	wantNull(t, got, "stages.0.throughput.output_tokens_per_sec")
	wantNum(t, got, "stages.0.throughput.total_tokens_per_sec", 567.0676357588831)

	got = showJSON(t, filepath.Join(tester, "vllm_nan")) // mean_ttft_ms NaN, median_ttft_ms 33.1
	wantNull(t, got, "stages.0.latency.ttft.mean")
	wantNum(t, got, "stages.0.latency.ttft.p50", 0.0331)
	wantNum(t, got, "stages.0.requests.succeeded", 200)

	// -Infinity, and the tokens inside strings left alone.
	dir := writeFiles(t, map[string]string{"results.json": `{"completed": 2, "failed": 0, "request_throughput": -Infinity,` +
		` "model_id": "Infinity -Infinity \"x", "mean_ttft_ms": 10, "median_ttft_ms": NaN}`})
	got = showJSON(t, dir)
	wantNull(t, got, "stages.0.throughput.requests_per_sec")
	wantStr(t, got, "model", `Infinity -Infinity "x`)
	wantNum(t, got, "stages.0.latency.ttft.mean", 0.010)
	wantNull(t, got, "stages.0.latency.ttft.p50")
}

func TestNonFiniteToNull(t *testing.T) {
	for in, want := range map[string]string{
		`[NaN,Infinity,-Infinity]`:         `[null,null,null]`,
		`{"a":"NaN\"Infinity","b":NaN}`:    `{"a":"NaN\"Infinity","b":null}`,
		"{\"x\":\n NaN}":                   "{\"x\":\n null}",
		`{"k\\":"v","Infinity":-Infinity}`: `{"k\\":"v","Infinity":null}`,
		`[1,2]`:                            `[1,2]`,
	} {
		if got := string(nonFiniteToNull([]byte(in))); got != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
}

// A truncated file says so; a broken JSON Lines file names the line of the broken value.
func TestTruncatedAndBrokenJSONNamed(t *testing.T) {
	for _, tc := range []struct{ dir, file, why string }{
		{"ip_trunc", "stage_0_lifecycle_metrics.json", "the file ends in the middle of a JSON value (truncated?)"},
		{"gl_trunc", "benchmarks.json", "the JSON value starting on line 1: the file ends in the middle of a JSON value (truncated?)"},
		// line 1 is a whole result, line 2 is cut short
		{"vllm_jsonl_broken", "results.json", "the JSON value starting on line 2: the file ends in the middle of a JSON value (truncated?)"},
		// line 2 is `{garbage`
		{"vllm_jsonl_broken_mid", "results.json", "the JSON value starting on line 2: line 2, column 2: invalid character 'g' looking for beginning of object key string"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			dir := filepath.Join(tester, tc.dir)
			_, _, err := ReadLocal(dir)
			if want := filepath.Join(dir, tc.file) + ": " + tc.why; err == nil || err.Error() != want {
				t.Errorf("got %v, want %s", err, want)
			}
			if err != nil && strings.Contains(err.Error(), "unexpected EOF") {
				t.Errorf("still says unexpected EOF: %v", err)
			}
		})
	}
}

// Every request failed (testdata/tester/pr_all_failed: 20 failed requests, request i from
// 0.1·i s to 0.1·i + 0.05 s, so the window 0 to 1.95 s is known). Goodput is measured: 0 of 20,
// 0 req/s; the throughputs are 0, as the stage file (which inference-perf writes with 0) says.
func TestPerRequestAllFailed(t *testing.T) {
	pr, err := AnalyzePerRequestFile(filepath.Join(tester, "pr_all_failed", "per_request_lifecycle_metrics.json"), SLOs{"ttft": 0.5, "tpot": 0.05})
	if err != nil {
		t.Fatal(err)
	}
	if pr.Records != 20 || pr.Requests.Succeeded != 0 || pr.Requests.Failed != 20 {
		t.Errorf("records %d, requests %+v; want 20, 0 ok, 20 failed", pr.Records, *pr.Requests)
	}
	g := pr.Goodput
	if g == nil || g.Good != 0 || g.Total != 20 || g.Share != 0 || g.RatePerS != 0 {
		t.Errorf("goodput %+v, want 0 of 20, 0 req/s", g)
	}
	tp := pr.Throughput
	for name, v := range map[string]*float64{"requests": tp.RequestsPerSec, "input": tp.InputTokensPerSec, "output": tp.OutputTokensPerSec, "total": tp.TotalTokensPerSec} {
		if v == nil || *v != 0 {
			t.Errorf("%s/s: got %v, want 0 (the window is known)", name, v)
		}
	}
	if pr.Latency.TTFT != nil || pr.Latency.E2E != nil {
		t.Errorf("latencies of no successful request: %+v", pr.Latency)
	}
	got := showJSON(t, filepath.Join(tester, "pr_all_failed"))
	wantNum(t, got, "stages.0.throughput.requests_per_sec", 0)
	wantNum(t, got, "stages.0.requests.failed", 20)

	// No window: every failed request starts and ends at 0. Throughput null, goodput still 0 of 2.
	pr, err = AnalyzePerRequest(strings.NewReader(`[{"start_time": 0, "end_time": 0, "error": {"error_type": "x"}},`+
		`{"start_time": 0, "end_time": 0, "error": "refused"}]`), SLOs{"e2e": 1})
	if err != nil {
		t.Fatal(err)
	}
	if pr.Throughput.RequestsPerSec != nil || pr.Throughput.OutputTokensPerSec != nil {
		t.Errorf("throughput over an unknown window: %+v", pr.Throughput)
	}
	if g := pr.Goodput; g == nil || g.Good != 0 || g.Total != 2 || g.RatePerS != 0 {
		t.Errorf("goodput %+v, want 0 of 2", g)
	}
}

// A folder with only a per-request file is read with PerRequestOnly (the stages come from that
// file), and refused without it. testdata/tester/pr_only: 20 requests, none failed.
func TestPerRequestOnlyFolderWithOption(t *testing.T) {
	dir := filepath.Join(tester, "pr_only")
	if _, _, err := ReadLocal(dir); !errors.Is(err, ErrNoResults) {
		t.Errorf("without PerRequestOnly: %v, want ErrNoResults", err)
	}
	reports, _, err := ReadLocalWith(dir, ReadOptions{PerRequestOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 1 || reports[0].Harness != "inference-perf" || len(reports[0].Stages) != 0 || reports[0].Source != dir {
		t.Fatalf("got %+v", reports)
	}
	pr, err := AnalyzePerRequestFile(filepath.Join(dir, "per_request_lifecycle_metrics.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Records != 20 || pr.Requests.Succeeded != 20 || pr.Requests.Failed != 0 {
		t.Errorf("records %d, requests %+v", pr.Records, *pr.Requests)
	}
	// An empty per-request file is still "recorded no requests", with the option too.
	empty := writeFiles(t, map[string]string{"per_request_lifecycle_metrics.json": "[]"})
	if _, err := ReadDirWith(empty, ReadOptions{PerRequestOnly: true}); !errors.Is(err, ErrNoRequests) {
		t.Errorf("empty per-request file: %v, want ErrNoRequests", err)
	}
}

// A model that is not known is null in the JSON, never "" (a benchmark report's model: "").
func TestEmptyModelIsNull(t *testing.T) {
	dir := writeFiles(t, map[string]string{"benchmark_report_v0.2,_x.yaml": "version: '0.2'\n" +
		"scenario:\n  stack:\n  - standardized:\n      model: {name: ''}\n" +
		"results:\n  request_performance:\n    aggregate:\n      requests: {total: 10, failures: 1}\n"})
	got := showJSON(t, dir)
	if v, ok := jget(got, "model"); !ok || v != nil {
		t.Errorf("model %#v (present %v), want null", v, ok)
	}
	wantNum(t, got, "stages.0.requests.succeeded", 9)
	b, err := json.Marshal(Report{Model: "m"})
	if err != nil || !strings.Contains(string(b), `"model":"m"`) {
		t.Errorf("a known model: %s %v", b, err)
	}
}

// A per-request file cut short says so, and its errors name the file.
func TestPerRequestFileTruncatedNamed(t *testing.T) {
	for _, in := range []string{
		`[{"start_time": 1.0, "end_time": 2.0, "info": {}, "error": null}, {"start_ti`, // in a key
		`[{"start_time": 1.0, "end_time": 2.`,                                          // in a number
		`[{"start_time": 1.0, "end_time": 2.0, "response": "tok`,                       // in a string
		`[{"start_time": 1.0, "end_time": 2.0, "error": nu`,                            // in a literal
		`[{"start_time": 1.0, "end_time": 2.0, "error": null}`,                         // between records
	} {
		dir := writeFiles(t, map[string]string{"per_request_lifecycle_metrics.json": in})
		path := filepath.Join(dir, "per_request_lifecycle_metrics.json")
		_, err := AnalyzePerRequestFile(path, nil)
		if err == nil || !strings.HasPrefix(err.Error(), path+": ") || !strings.HasSuffix(err.Error(), "the file ends in the middle of a JSON value (truncated?)") {
			t.Errorf("%s: got %v", in, err)
		}
	}
}
