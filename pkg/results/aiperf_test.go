package results

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The AIPerf run of testdata/aiperf (see its README): latencies in ms in the files, seconds here
// (divided by 1000 by hand); input tokens/s = total_isl / benchmark_duration and total tokens/s =
// (total_isl + total_osl) / benchmark_duration, computed once with python3:
//
//	JSON: 490000/49.6125 = 9876.5432, 588000/49.6125 = 11851.8519
//	CSV:  490000/49.61   = 9877.0409, 588000/49.61   = 11852.4491
func TestAIPerfExports(t *testing.T) {
	for _, tc := range []struct {
		dir             string
		inTPS, totalTPS float64
		rps, outTPS     float64
		e2eMean         float64
	}{
		{"json", 9876.5432, 11851.8519, 9.876543, 1975.308, 1.5234},
		{"csv", 9877.0409, 11852.4491, 9.88, 1975.31, 1.5234},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			got := showJSON(t, filepath.Join(fixtures, "aiperf", tc.dir))
			wantStr(t, got, "format", "aiperf")
			wantStr(t, got, "harness", "aiperf")
			wantLen(t, got, "stages", 1)
			s := "stages.0."
			wantNum(t, got, s+"requests.succeeded", 490)
			wantNum(t, got, s+"requests.failed", 10)
			// TTFT 120.5 / 110 / 180 / 250 ms
			wantNum(t, got, s+"latency.ttft.mean", 0.1205)
			wantNum(t, got, s+"latency.ttft.p50", 0.110)
			wantNum(t, got, s+"latency.ttft.p90", 0.180)
			wantNum(t, got, s+"latency.ttft.p99", 0.250)
			// AIPerf's inter_token_latency (per request) is TPOT: 7.25 / 7.0 / 8.5 / 10.0 ms
			wantNum(t, got, s+"latency.tpot.mean", 0.00725)
			wantNum(t, got, s+"latency.tpot.p50", 0.0070)
			wantNum(t, got, s+"latency.tpot.p90", 0.0085)
			wantNum(t, got, s+"latency.tpot.p99", 0.0100)
			// its inter_chunk_latency (pooled gaps) is ITL: 7.1 / 6.9 / 8.8 / 12.4 ms
			wantNum(t, got, s+"latency.itl.mean", 0.0071)
			wantNum(t, got, s+"latency.itl.p50", 0.0069)
			wantNum(t, got, s+"latency.itl.p90", 0.0088)
			wantNum(t, got, s+"latency.itl.p99", 0.0124)
			wantNull(t, got, s+"latency.ntpot")
			// request_latency 1523.4 / 1500 / 1800.5 / 2100.25 ms
			wantNum(t, got, s+"latency.e2e.mean", tc.e2eMean)
			wantNum(t, got, s+"latency.e2e.p50", 1.5)
			wantNum(t, got, s+"latency.e2e.p90", 1.8005)
			wantNum(t, got, s+"latency.e2e.p99", 2.10025)
			wantNum(t, got, s+"throughput.requests_per_sec", tc.rps)
			wantNum(t, got, s+"achieved_rate", tc.rps)
			wantNum(t, got, s+"throughput.output_tokens_per_sec", tc.outTPS)
			wantNum(t, got, s+"throughput.input_tokens_per_sec", tc.inTPS)
			wantNum(t, got, s+"throughput.total_tokens_per_sec", tc.totalTPS)
			wantNull(t, got, s+"requested_rate")
			if tc.dir == "json" { // the run's config is in the JSON only
				wantStr(t, got, "model", "meta-llama/Llama-3.1-8B-Instruct")
				wantNum(t, got, s+"concurrency", 16)
			} else {
				wantNull(t, got, "model")
				wantNull(t, got, s+"concurrency")
			}
			if d, _ := jget(got, "definitions.tpot"); !strings.Contains(d.(string), "inter_token_latency") {
				t.Errorf("definitions.tpot = %v, want AIPerf's inter_token_latency named", d)
			}
		})
	}
}

// A run with no failure has no error_request_count (AIPerf exports it only when a request
// failed): 0 failed. total_token_throughput, when exported, is taken as written (1234.5), not
// derived; a request rate in the config is the requested rate; without benchmark_duration the
// input rate is null. The JSON beats a benchmark report converted from it in the same folder.
func TestAIPerfJSONVariants(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		AIPerfJSONFile: `{"request_count": {"unit": "requests", "avg": 20},
		  "time_to_first_token": {"unit": "sec", "avg": 0.25, "p50": 0.2},
		  "total_token_throughput": {"unit": "tokens/sec", "avg": 1234.5},
		  "total_isl": {"unit": "tokens", "avg": 2000},
		  "input_config": {"loadgen": {"request_rate": 2.5}}}`,
		"benchmark_report_v0.2,_profile_export_aiperf.json.yaml": "version: '0.2'\nresults: {}\n",
		"profile_export.jsonl": "{\"metadata\": {}, \"metrics\": {}, \"error\": null}\n",
	})
	got := showJSON(t, dir)
	wantStr(t, got, "format", "aiperf")
	wantNum(t, got, "stages.0.requests.succeeded", 20)
	wantNum(t, got, "stages.0.requests.failed", 0)
	wantNum(t, got, "stages.0.latency.ttft.mean", 0.25)
	wantNum(t, got, "stages.0.latency.ttft.p50", 0.2)
	wantNull(t, got, "stages.0.latency.ttft.p90")
	wantNull(t, got, "stages.0.latency.tpot")
	wantNum(t, got, "stages.0.throughput.total_tokens_per_sec", 1234.5)
	wantNull(t, got, "stages.0.throughput.input_tokens_per_sec")
	wantNull(t, got, "stages.0.throughput.requests_per_sec")
	wantNum(t, got, "stages.0.requested_rate", 2.5)
	wantNull(t, got, "stages.0.concurrency")
}

func TestAIPerfRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, file, body, want string
	}{
		{"latency unit", AIPerfJSONFile, `{"request_count": {"unit": "requests", "avg": 3}, "request_latency": {"unit": "tokens", "avg": 5}}`,
			`request_latency has unit "tokens", not a time unit (ns, us, ms, sec)`},
		{"no metrics", AIPerfJSONFile, `{"input_config": {"loadgen": {"concurrency": 4}}, "was_cancelled": true}`,
			"no AIPerf metrics in it (unknown schema?)"},
		{"broken json", AIPerfJSONFile, `{"request_count": {"unit": `, "profile_export_aiperf.json"},
		{"csv not a number", AIPerfCSVFile, "Metric,avg,min,max,p1,p5,p10,p25,p50,p75,p90,p95,p99,std\nTime to First Token (ms),fast,,,,,,,,,,,,\n",
			`line 2: Time to First Token avg is "fast", not a number`},
		{"csv no rows", AIPerfCSVFile, "Metric,Value\nSomething Else (W),3\n", "no AIPerf metric rows in it (unknown schema?)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{tc.file: tc.body})
			_, err := ReadDir(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Join(dir, tc.file)) {
				t.Fatalf("got %v, want an error naming %s and saying %q", err, tc.file, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

// A benchmark report llm-d-benchmark converted from an AIPerf run (tool aiperf; its import_aiperf
// writes no time_per_output_token) holds AIPerf's per-request inter_token_latency under
// inter_token_latency: it is read as TPOT (the example's 0.0368578234128654 s), and ITL is null.
func TestAIPerfBenchmarkReportITLIsTPOT(t *testing.T) {
	var doc map[string]any
	b, err := os.ReadFile(filepath.Join(fixtures, "benchmark-report", "br_v0_2_example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	doc["scenario"].(map[string]any)["load"].(map[string]any)["standardized"].(map[string]any)["tool"] = "aiperf"
	lat := doc["results"].(map[string]any)["request_performance"].(map[string]any)["aggregate"].(map[string]any)["latency"].(map[string]any)
	delete(lat, "time_per_output_token")
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	got := showJSON(t, writeFiles(t, map[string]string{"benchmark_report_v0.2,_profile_export_aiperf.json.yaml": string(out)}))
	wantStr(t, got, "harness", "aiperf")
	wantNull(t, got, "stages.0.latency.itl")
	wantNum(t, got, "stages.0.latency.tpot.mean", 0.0368578234128654)
}
