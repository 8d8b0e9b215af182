package results

import (
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
