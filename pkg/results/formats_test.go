package results

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Inputs of each kind beyond the field cases, written here in the shapes each harness version
// writes (the reference material's research/results-formats.md; GuideLLM's schemas at its v0.3,
// v0.5 and v0.7 tags). Every expected value is worked out by hand in the comment beside it.

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// guidellmDistJSON is a GuideLLM DistributionSummary with the given mean, p50 (as both median and
// percentiles.p50), p90, p99 and count.
func guidellmDistJSON(mean, p50, p90, p99, count string) string {
	return `{"mean": ` + mean + `, "median": ` + p50 + `, "mode": 0, "variance": 0, "std_dev": 0, "min": 0, "max": 0, "count": ` + count +
		`, "total_sum": 0, "percentiles": {"p001": 0, "p01": 0, "p05": 0, "p10": 0, "p25": 0, "p50": ` + p50 + `, "p75": 0, "p90": ` + p90 + `, "p95": 0, "p99": ` + p99 + `, "p999": 0}}`
}

const zeroDist = `{"mean": 0.0, "median": 0.0, "mode": 0.0, "variance": 0.0, "std_dev": 0.0, "min": 0.0, "max": 0.0, "count": 0, "total_sum": 0.0,
  "percentiles": {"p001": 0.0, "p01": 0.0, "p05": 0.0, "p10": 0.0, "p25": 0.0, "p50": 0.0, "p75": 0.0, "p90": 0.0, "p95": 0.0, "p99": 0.0, "p999": 0.0}}`

// guidellmBenchmark04 is one GuideLLM 0.4–0.6 benchmark (config.strategy, metrics.request_totals).
func guidellmBenchmark04(strategy, totals, ttft, rps string) string {
	return `{"type_": "generative_benchmark", "config": {"id_": "x", "run_id": "y", "run_index": 0, "strategy": ` + strategy + `,
	  "backend": {"target": "http://gw:80", "model": "backend/model-name", "timeout": 300}},
	  "metrics": {"request_totals": ` + totals + `,
	    "requests_per_second": {"successful": ` + rps + `, "errored": ` + zeroDist + `},
	    "time_to_first_token_ms": {"successful": ` + ttft + `},
	    "inter_token_latency_ms": {"successful": ` + zeroDist + `},
	    "request_latency": {"successful": ` + guidellmDistJSON("1.5", "1.25", "2.5", "3", "20") + `},
	    "prompt_tokens_per_second": {"successful": ` + guidellmDistJSON("400", "0", "0", "0", "20") + `},
	    "output_tokens_per_second": {"successful": ` + guidellmDistJSON("100", "0", "0", "0", "20") + `},
	    "tokens_per_second": {"successful": ` + guidellmDistJSON("500", "0", "0", "0", "20") + `}}}`
}

// GuideLLM 0.4–0.6: a list of rates is one benchmark per rate; the model sits in the top-level
// args (else in each benchmark's config.backend); synchronous is concurrency 1, concurrent its
// streams, throughput (a worker cap) and rate-driven stages none.
func TestGuideLLM04to06RateListAndStrategies(t *testing.T) {
	totals := `{"successful": 20, "errored": 3, "incomplete": 2, "total": 25}`
	ttft := guidellmDistJSON("12.5", "10", "20", "40", "20")
	rps := guidellmDistJSON("1.9", "1.9", "2", "2", "20")
	benchmarks := []string{
		guidellmBenchmark04(`{"type_": "constant", "rate": 1.0, "max_concurrency": 512, "worker_count": 8}`, totals, ttft, rps),
		guidellmBenchmark04(`{"type_": "poisson", "rate": 3.0, "max_concurrency": 512}`, totals, ttft, rps),
		guidellmBenchmark04(`{"type_": "synchronous"}`, totals, ttft, rps),
		guidellmBenchmark04(`{"type_": "concurrent", "streams": 16}`, totals, ttft, rps),
		guidellmBenchmark04(`{"type_": "throughput", "max_concurrency": 512}`, totals, ttft, rps),
		// Every request errored: GuideLLM fills the successful summaries with zeros, count 0.
		guidellmBenchmark04(`{"type_": "constant", "rate": 5.0}`, `{"successful": 0, "errored": 25, "incomplete": 0, "total": 25}`, zeroDist, zeroDist),
	}
	body := `{"metadata": {"version": 1, "guidellm_version": "0.5.0"},
	  "args": {"target": "http://gw:80", "model": "args/model-name", "profile": "constant", "rate": [1.0, 3.0]},
	  "benchmarks": [` + strings.Join(benchmarks, ",") + `]}`
	dir := writeFiles(t, map[string]string{"benchmarks.json": body})
	doc := showJSON(t, dir)
	wantStr(t, doc, "format", FormatGuideLLM)
	wantStr(t, doc, "model", "args/model-name")
	wantLen(t, doc, "stages", 6)
	wantNum(t, doc, "stages.0.requested_rate", 1)
	wantNull(t, doc, "stages.0.concurrency") // max_concurrency 512 is a cap
	wantNum(t, doc, "stages.1.requested_rate", 3)
	wantNull(t, doc, "stages.1.concurrency")
	wantNull(t, doc, "stages.2.requested_rate")
	wantNum(t, doc, "stages.2.concurrency", 1)
	wantNum(t, doc, "stages.3.concurrency", 16)
	wantNull(t, doc, "stages.3.requested_rate")
	wantNull(t, doc, "stages.4.concurrency")
	wantNull(t, doc, "stages.4.requested_rate")
	wantNum(t, doc, "stages.0.requests.succeeded", 20)
	wantNum(t, doc, "stages.0.requests.failed", 3)
	wantNum(t, doc, "stages.0.requests.incomplete", 2)
	wantNum(t, doc, "stages.0.latency.ttft.mean", 0.0125) // 12.5 ms
	wantNum(t, doc, "stages.0.latency.ttft.p50", 0.010)
	wantNum(t, doc, "stages.0.latency.ttft.p90", 0.020)
	wantNum(t, doc, "stages.0.latency.ttft.p99", 0.040)
	wantNum(t, doc, "stages.0.latency.e2e.mean", 1.5) // request_latency is in seconds already
	wantNum(t, doc, "stages.0.latency.e2e.p50", 1.25)
	wantNull(t, doc, "stages.0.latency.itl") // count 0: no value, not 0 ms
	wantNum(t, doc, "stages.0.achieved_rate", 1.9)
	wantNum(t, doc, "stages.0.throughput.input_tokens_per_sec", 400)
	wantNum(t, doc, "stages.0.throughput.output_tokens_per_sec", 100)
	wantNum(t, doc, "stages.0.throughput.total_tokens_per_sec", 500)
	// The all-errored benchmark: counts right, no latency and no achieved rate.
	wantNum(t, doc, "stages.5.requests.succeeded", 0)
	wantNum(t, doc, "stages.5.requests.failed", 25)
	wantNull(t, doc, "stages.5.latency.ttft")
	wantNull(t, doc, "stages.5.achieved_rate")
	wantNull(t, doc, "stages.5.throughput.requests_per_sec")

	// Without args.model, the model is each benchmark's config.backend.model.
	dir = writeFiles(t, map[string]string{"benchmarks.json": `{"metadata": {"version": 1}, "benchmarks": [` + benchmarks[0] + `]}`})
	wantStr(t, showJSON(t, dir), "model", "backend/model-name")
}

// GuideLLM >= 0.7 with a concurrent and a synchronous benchmark (the field case has only
// constant-rate ones).
func TestGuideLLMv07ConcurrentAndSynchronous(t *testing.T) {
	bench := func(strategy string) string {
		return `{"type_": "generative_benchmark", "config": {"strategy": ` + strategy + `},
		  "metrics": {"request_totals": {"successful": 4, "errored": 0, "incomplete": 0, "total": 4},
		    "time_to_first_token_ms": {"successful": ` + guidellmDistJSON("8", "7", "9", "9.5", "4") + `}}}`
	}
	body := `{"metadata": {"version": 2}, "config": {"spec": {"backend": {"kind": "openai_http", "model": "spec/model"}}},
	  "benchmarks": [` + bench(`{"type_": "synchronous", "worker_count": 1, "max_concurrency": 1}`) + `,` +
		bench(`{"type_": "concurrent", "streams": 32, "worker_count": 10, "max_concurrency": 32}`) + `]}`
	doc := showJSON(t, writeFiles(t, map[string]string{"results.json": body}))
	wantStr(t, doc, "model", "spec/model")
	wantNum(t, doc, "stages.0.concurrency", 1)
	wantNum(t, doc, "stages.1.concurrency", 32)
	wantNull(t, doc, "stages.1.requested_rate")
	wantNum(t, doc, "stages.1.latency.ttft.p99", 0.0095)
	wantNull(t, doc, "stages.1.throughput.output_tokens_per_sec") // not in the file
	wantNum(t, doc, "stages.1.requests.incomplete", 0)
}

// vllmResult is a `vllm bench serve --save-result` object.
func vllmResult(rate, conc, completed, failed, ttftMean string) string {
	return `{"date": "20260301-101500", "backend": "vllm", "model_id": "org/model", "num_prompts": 100,
	  "request_rate": ` + rate + `, "burstiness": 1.0, "max_concurrency": ` + conc + `, "duration": 20.0,
	  "completed": ` + completed + `, "failed": ` + failed + `, "total_input_tokens": 1000, "total_output_tokens": 500,
	  "request_throughput": 2.5, "request_goodput": null, "output_throughput": 25.0, "total_token_throughput": 75.0,
	  "mean_ttft_ms": ` + ttftMean + `, "median_ttft_ms": 0.0, "std_ttft_ms": 0.0, "p99_ttft_ms": 0.0,
	  "mean_tpot_ms": 0.0, "median_tpot_ms": 0.0, "p99_tpot_ms": 0.0, "mean_itl_ms": 0.0, "median_itl_ms": 0.0, "p99_itl_ms": 0.0}`
}

// Several vLLM result files in one folder are several stages (file name order), none dropped;
// a numeric rate is kept, "inf" is none; a result with completed 0 has null latencies where vLLM
// writes zeros.
func TestVLLMSeveralFilesAndNoCompleted(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"vllm-4.0qps-org-model-20260301-100000.json":              vllmResult("4.0", "null", "50", "0", "42.0"),
		"vllm-infqps-concurrency8-org-model-20260301-100500.json": vllmResult(`"inf"`, "8", "0", "100", "0.0"),
		"vllm-bench-config.json":                                  `{"note": "not a result"}`,
	})
	doc := showJSON(t, dir)
	wantStr(t, doc, "format", FormatVLLM)
	wantLen(t, doc, "stages", 2)
	wantNum(t, doc, "stages.0.requested_rate", 4)
	wantNull(t, doc, "stages.0.concurrency")
	wantNum(t, doc, "stages.0.latency.ttft.mean", 0.042)
	wantNum(t, doc, "stages.0.throughput.input_tokens_per_sec", 50) // 1000 tokens / 20 s
	wantNum(t, doc, "stages.1.stage", 1)
	wantNull(t, doc, "stages.1.requested_rate")
	wantNum(t, doc, "stages.1.concurrency", 8)
	wantNum(t, doc, "stages.1.requests.succeeded", 0)
	wantNum(t, doc, "stages.1.requests.failed", 100)
	for _, m := range []string{"ttft", "tpot", "itl", "e2e"} {
		wantNull(t, doc, "stages.1.latency."+m)
	}
	wantNull(t, doc, "stages.0.requests.incomplete") // vLLM does not count incomplete requests
}

// A file that cannot be read is named in one line with the reason; two harnesses' results in one
// folder are refused rather than one of them dropped.
func TestNativeFilesRefusedInOneLine(t *testing.T) {
	dir := writeFiles(t, map[string]string{"results.json": `{"completed": 3, "request_throughput": 1.0,` + "\n" + `"mean_ttft_ms": 12,,}`})
	_, _, err := ReadLocal(dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "results.json")+": the JSON value starting on line 1: line 2, column 20: ") || strings.Contains(err.Error(), "\n") {
		t.Errorf("broken JSON: %v", err)
	}
	dir = writeFiles(t, map[string]string{
		"a-vllm.json":     vllmResult("1", "null", "5", "0", "10"),
		"b-guidellm.json": `{"benchmarks": [{"config": {"strategy": {"type_": "synchronous"}}, "metrics": {"request_totals": {"successful": 1}}}]}`,
	})
	_, _, err = ReadLocal(dir)
	if err == nil || !strings.Contains(err.Error(), "a-vllm.json is a vllm-benchmark result but") || !strings.Contains(err.Error(), "b-guidellm.json is a guidellm result") {
		t.Errorf("mixed harnesses: %v", err)
	}
	dir = writeFiles(t, map[string]string{"stage_0_lifecycle_metrics.json": `{"load_summary": {"count": 3}, "successes": `})
	_, _, err = ReadLocal(dir)
	if err == nil || !strings.Contains(err.Error(), "stage_0_lifecycle_metrics.json") || strings.Contains(err.Error(), "\n") {
		t.Errorf("truncated stage file: %v", err)
	}
	bad := writeFiles(t, map[string]string{"benchmark_report_v0.2,_stage_0.yaml": "version: '0.2'\nrun: [\n"})
	_, _, err = ReadLocal(bad)
	if err == nil || !strings.Contains(err.Error(), "benchmark_report_v0.2,_stage_0.yaml") || strings.Contains(err.Error(), "\n") {
		t.Errorf("broken YAML: %v", err)
	}
}

// inference-perf: a summary file alone (per_stage: false) is one stage.
func TestInferencePerfSummaryOnly(t *testing.T) {
	summary := `{"benchmark_time_seconds": 12.0, "load_summary": {"count": 10, "schedule_delay": {"mean": 0.001}},
	  "successes": {"count": 9, "latency": {
	      "time_to_first_token": {"mean": 0.05, "min": 0.01, "median": 0.04, "p90": 0.08, "p99": 0.1, "max": 0.11},
	      "request_latency": {"mean": 1.2, "median": 1.1, "p90": 1.5, "p99": 1.9},
	      "time_per_output_token": null, "inter_token_latency": null, "normalized_time_per_output_token": {"mean": 0.02}},
	    "throughput": {"input_tokens_per_sec": 80.0, "output_tokens_per_sec": 40.0, "total_tokens_per_sec": 120.0, "requests_per_sec": 0.75}},
	  "failures": {"count": 1, "request_latency": {"mean": 0.5}}}`
	dir := writeFiles(t, map[string]string{"summary_lifecycle_metrics.json": summary, "config.yaml": "server:\n  model_name: m/summary\n"})
	doc := showJSON(t, dir)
	wantStr(t, doc, "format", FormatInferencePerf)
	wantStr(t, doc, "model", "m/summary")
	wantLen(t, doc, "stages", 1)
	wantNum(t, doc, "stages.0.requests.succeeded", 9)
	wantNum(t, doc, "stages.0.requests.failed", 1)
	wantNum(t, doc, "stages.0.latency.ttft.mean", 0.05)
	wantNum(t, doc, "stages.0.latency.ttft.p50", 0.04)
	wantNum(t, doc, "stages.0.latency.ttft.p90", 0.08)
	wantNum(t, doc, "stages.0.latency.e2e.p99", 1.9)
	wantNull(t, doc, "stages.0.latency.tpot")
	wantNull(t, doc, "stages.0.latency.itl")
	wantNull(t, doc, "stages.0.latency.ntpot.p50")
	wantNum(t, doc, "stages.0.throughput.requests_per_sec", 0.75)
	wantNull(t, doc, "stages.0.requested_rate") // stage files only
	wantNull(t, doc, "stages.0.achieved_rate")
	wantNum(t, doc, "summary.requests.succeeded", 9)
}

// inference-perf: every request failed. Counts right, latencies null; adapter_* files (multi-LoRA)
// beside the stage files are neither stages nor trouble.
func TestInferencePerfFailuresOnlyAndAdapters(t *testing.T) {
	failed := func(rate string) string {
		return `{"load_summary": {"count": 30, "send_duration": 9.5, "requested_rate": ` + rate + `, "achieved_rate": 3.1},
		  "successes": {"count": 0, "latency": {"request_latency": null, "normalized_time_per_output_token": null,
		      "time_per_output_token": null, "time_to_first_token": null, "inter_token_latency": null},
		    "throughput": {"input_tokens_per_sec": 0.0, "output_tokens_per_sec": 0.0, "total_tokens_per_sec": 0.0, "requests_per_sec": 0.0},
		    "prompt_len": null, "output_len": null},
		  "failures": {"count": 30, "request_latency": {"mean": 0.002, "median": 0.002}, "prompt_len": null,
		    "by_label": {"503 - Service Unavailable": {"count": 30, "messages": []}}}}`
	}
	adapter := `{"load_summary": {"count": 999}, "successes": {"count": 999, "latency": {"time_to_first_token": {"mean": 9.0}}}, "failures": {"count": 0}}`
	dir := writeFiles(t, map[string]string{
		"stage_0_lifecycle_metrics.json":                  failed("3.0"),
		"stage_1_lifecycle_metrics.json":                  failed("6.0"),
		"adapter_sql-lora_lifecycle_metrics.json":         adapter,
		"adapter_sql-lora_stage_0_lifecycle_metrics.json": adapter,
		"adapter_tweet_stage_1_lifecycle_metrics.json":    adapter,
	})
	doc := showJSON(t, dir)
	wantLen(t, doc, "stages", 2)
	for i, rate := range []float64{3, 6} {
		s := "stages." + itoa(i) + "."
		wantNum(t, doc, s+"stage", float64(i))
		wantNum(t, doc, s+"requested_rate", rate)
		wantNum(t, doc, s+"requests.succeeded", 0)
		wantNum(t, doc, s+"requests.failed", 30)
		for _, m := range []string{"ttft", "tpot", "itl", "ntpot", "e2e"} {
			wantNull(t, doc, s+"latency."+m)
		}
	}
	// Adapter files alone are not a result folder (and do not crash the reader).
	only := writeFiles(t, map[string]string{"adapter_sql-lora_lifecycle_metrics.json": adapter})
	if _, err := ReadDir(only); !errors.Is(err, ErrNoResults) {
		t.Errorf("adapter files only: %v", err)
	}
}

// inference-perf key spellings: p50 before median (2025-08, #201) and latencies on successes
// itself before v0.1; schedule_accuracy (later schedule_delay) is not read.
func TestInferencePerfOldKeySpellings(t *testing.T) {
	v01 := `{"load_summary": {"count": 5, "schedule_accuracy": {"mean": 0.1}, "send_duration": 4.0, "requested_rate": 1.25, "achieved_rate": 1.25},
	  "successes": {"count": 5, "latency": {"time_to_first_token": {"mean": 0.2, "min": 0.1, "p10": 0.1, "p50": 0.15, "p90": 0.3, "max": 0.4}}},
	  "failures": {"count": 0, "request_latency": null}}`
	preV01 := `{"load_summary": {"count": 4}, "successes": {"count": 4,
	  "throughput": {"input_tokens_per_sec": 10.0, "output_tokens_per_sec": 5.0, "total_tokens_per_sec": 15.0, "requests_per_sec": 1.0},
	  "request_latency": {"mean": 0.6, "min": 0.5, "p10": 0.5, "p50": 0.55, "p90": 0.7, "max": 0.8},
	  "normalized_time_per_output_token": {"mean": 0.03, "p50": 0.025, "p90": 0.04}},
	  "failures": {"count": 1, "request_latency": null}}`
	doc := showJSON(t, writeFiles(t, map[string]string{"stage_0_lifecycle_metrics.json": v01, "stage_1_lifecycle_metrics.json": preV01}))
	wantNum(t, doc, "stages.0.latency.ttft.mean", 0.2)
	wantNum(t, doc, "stages.0.latency.ttft.p50", 0.15)
	wantNum(t, doc, "stages.0.latency.ttft.p90", 0.3)
	wantNull(t, doc, "stages.0.latency.ttft.p99") // p99 not written then
	wantNum(t, doc, "stages.1.latency.e2e.p50", 0.55)
	wantNum(t, doc, "stages.1.latency.ntpot.mean", 0.03)
	wantNum(t, doc, "stages.1.requests.failed", 1)
	wantNull(t, doc, "stages.1.latency.ttft")
}

// A benchmark report without its optional sections: every missing number is null, never 0.
func TestBenchmarkReportMissingSectionsAreNull(t *testing.T) {
	for _, tc := range []struct{ file, name string }{
		{"br_v0_2_example.yaml", "benchmark_report_v0.2,_stage_0.yaml"},
		{"br_v0_2_1_example.yaml", "benchmark_report_v0.2,_stage_0.yaml"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var doc map[string]any
			b, err := os.ReadFile(filepath.Join(fixtures, "benchmark-report", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			agg := doc["results"].(map[string]any)["request_performance"].(map[string]any)["aggregate"].(map[string]any)
			delete(agg, "throughput")
			delete(agg, "requests")
			delete(agg["latency"].(map[string]any), "inter_token_latency")
			delete(doc["scenario"].(map[string]any)["load"].(map[string]any)["standardized"].(map[string]any), "rate_qps")
			out, err := yaml.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			got := showJSON(t, writeFiles(t, map[string]string{tc.name: string(out)}))
			wantNull(t, got, "stages.0.requests")
			wantNull(t, got, "stages.0.latency.itl")
			wantNull(t, got, "stages.0.requested_rate")
			wantNull(t, got, "stages.0.achieved_rate")
			for _, k := range []string{"requests_per_sec", "input_tokens_per_sec", "output_tokens_per_sec", "total_tokens_per_sec"} {
				wantNull(t, got, "stages.0.throughput."+k)
			}
			if v, _ := jget(got, "stages.0.latency.ttft.mean"); v == nil {
				t.Error("TTFT, which the report still holds, is gone")
			}
		})
	}
	// No request_performance at all (a report of observability only): not a single number of
	// requests, latency or throughput, so not a result: refused in one line naming the file.
	dir := writeFiles(t, map[string]string{"benchmark_report_v0.2,_x.yaml": "version: '0.2'\nrun: {uid: abc}\nresults: {}\n"})
	_, err := ReadDir(dir)
	want := filepath.Join(dir, "benchmark_report_v0.2,_x.yaml") + ": a benchmark report whose results hold no request count, latency or throughput"
	if err == nil || err.Error() != want {
		t.Errorf("report with empty results: got %v, want %s", err, want)
	}
}

// Benchmark report v0.1's request counts: total 32, failures 0, incomplete 1 in the example, so
// 31 succeeded (failures and incomplete are part of the total).
func TestBenchmarkReportV01Counts(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixtures, "benchmark-report", "br_v0_1_example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got := showJSON(t, writeFiles(t, map[string]string{"benchmark_report,_x.yaml": string(b)}))
	wantStr(t, got, "format", FormatBR01)
	wantNum(t, got, "stages.0.requests.succeeded", 31)
	wantNum(t, got, "stages.0.requests.failed", 0)
	wantNum(t, got, "stages.0.requests.incomplete", 1)
}

// A run folder: result folders inside are read in name order, folders without results skipped;
// a folder that holds nothing at all says so about itself. A workload folder whose harness wrote
// nothing is returned as skipped, so that show can say so rather than drop it silently.
func TestReadLocalRunFolder(t *testing.T) {
	run := t.TempDir()
	copyDir(t, filepath.Join(cases, "04-vllm-append-result-jsonl"), filepath.Join(run, "b_vllm"))
	copyDir(t, filepath.Join(cases, "03-guidellm-v03-args-runstats"), filepath.Join(run, "a_guidellm"))
	if err := os.MkdirAll(filepath.Join(run, "analysis"), 0o755); err != nil {
		t.Fatal(err)
	}
	reports, skipped, err := ReadLocal(run)
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 2 || reports[0].Format != FormatGuideLLM || reports[1].Format != FormatVLLM {
		t.Fatalf("%d reports", len(reports))
	}
	if len(skipped) != 1 || !errors.Is(skipped[0], ErrNoResults) || !strings.Contains(skipped[0].Error(), filepath.Join(run, "analysis")) {
		t.Errorf("skipped %v", skipped)
	}
	if _, _, err := ReadLocal(t.TempDir()); !errors.Is(err, ErrNoResults) {
		t.Errorf("empty folder: %v", err)
	}
	if _, _, err := ReadLocal(filepath.Join(run, "analysis")); !errors.Is(err, ErrNoResults) || strings.Contains(err.Error(), "sub-folders") {
		t.Errorf("folder without sub-folders: %v", err)
	}
}

// A per-request file with records but no stage or summary file is not "recorded no requests":
// it is a folder without a result of a known format, said in one line.
func TestPerRequestOnlyFolder(t *testing.T) {
	dir := writeFiles(t, map[string]string{"per_request_lifecycle_metrics.json": `[{"start_time": 1.0, "end_time": 2.0, "info": {}, "error": null}]`})
	_, _, err := ReadLocal(dir)
	if !errors.Is(err, ErrNoResults) || errors.Is(err, ErrNoRequests) || !strings.Contains(err.Error(), "only per_request_lifecycle_metrics.json") || strings.Contains(err.Error(), "\n") {
		t.Errorf("got %v", err)
	}
	dir = writeFiles(t, map[string]string{"per_request_lifecycle_metrics.json": " [\n ] \n"})
	if _, _, err := ReadLocal(dir); !errors.Is(err, ErrNoRequests) {
		t.Errorf("[] with white space: %v", err)
	}
}

// Benchmark report v0.1 keeps the harness's arguments: vLLM's max_concurrency is its load level,
// GuideLLM's is a worker cap and no concurrency.
func TestBenchmarkReportV01HarnessArgs(t *testing.T) {
	report := func(tool string) string {
		return `version: '0.1'
scenario:
  model: {name: m/v01}
  load:
    name: ` + tool + `
    args: {request_rate: 4, max_concurrency: 64}
metrics:
  time: {duration: 10}
  requests: {total: 40, failures: 2, input_length: {units: count, mean: 100}, output_length: {units: count, mean: 10}}
  latency:
    time_to_first_token: {units: ms, mean: 25, p50: 20, p90: 40, p99: 80}
  throughput: {total_tokens_per_sec: 440}
`
	}
	doc := showJSON(t, writeFiles(t, map[string]string{"benchmark_report,_a.yaml": report("vllm-benchmark")}))
	wantStr(t, doc, "model", "m/v01")
	wantNum(t, doc, "stages.0.requested_rate", 4)
	wantNum(t, doc, "stages.0.concurrency", 64)
	wantNum(t, doc, "stages.0.requests.succeeded", 38) // 40 sent - 2 failures
	wantNull(t, doc, "stages.0.requests.incomplete")
	wantNum(t, doc, "stages.0.latency.ttft.p90", 0.040) // 40 ms
	wantNull(t, doc, "stages.0.throughput.requests_per_sec")
	wantNull(t, doc, "stages.0.achieved_rate")
	doc = showJSON(t, writeFiles(t, map[string]string{"benchmark_report,_a.yaml": report("guidellm")}))
	wantNull(t, doc, "stages.0.concurrency")
}

// Case 04's two results saved as two files under vLLM's default names: both are stages, in the
// order they ran ("date"), though the names sort concurrency16 before concurrency8.
func TestVLLMCase04SplitIntoFiles(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(cases, "04-vllm-append-result-jsonl", "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	dir := writeFiles(t, map[string]string{
		"openai-chat-infqps-concurrency8-Qwen3-0.6B-20260301-101500.json":  lines[0],
		"openai-chat-infqps-concurrency16-Qwen3-0.6B-20260301-102000.json": lines[1],
	})
	doc := showJSON(t, dir)
	wantLen(t, doc, "stages", 2)
	wantNum(t, doc, "stages.0.concurrency", 8)
	wantNum(t, doc, "stages.0.requests.succeeded", 200)
	wantNum(t, doc, "stages.1.concurrency", 16)
	wantNum(t, doc, "stages.1.requests.failed", 2)
	wantNum(t, doc, "stages.1.throughput.output_tokens_per_sec", 889.26)
}
