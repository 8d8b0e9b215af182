package results

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const fixtures = "testdata"

// The real inference-perf sweeps: every number in the model equals the source file's.
func TestInferencePerfFixturesNumberForNumber(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(fixtures, "inference-perf", "vllm*"))
	if len(dirs) != 4 {
		t.Fatalf("want the 4 real sweeps in %s, found %d", fixtures, len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			r, err := ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if r.Format != FormatInferencePerf || len(r.Stages) != 7 || r.Summary == nil || r.Definitions["tpot"] == "" {
				t.Fatalf("format %s, %d stages, summary %v", r.Format, len(r.Stages), r.Summary != nil)
			}
			for i, st := range r.Stages {
				if st.Stage != i {
					t.Errorf("stage order: %d at %d", st.Stage, i)
				}
				var src map[string]any
				b, _ := os.ReadFile(filepath.Join(dir, "stage_"+itoa(i)+"_lifecycle_metrics.json"))
				if err := json.Unmarshal(b, &src); err != nil {
					t.Fatal(err)
				}
				checkInferencePerf(t, i, src, st.Metrics)
			}
		})
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

func at(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

func eq(t *testing.T, what string, got *float64, want any) {
	t.Helper()
	w, ok := want.(float64)
	if !ok {
		if got != nil {
			t.Errorf("%s: got %v, the source has none", what, *got)
		}
		return
	}
	if got == nil || *got != w {
		t.Errorf("%s: got %v, want %v", what, got, w)
	}
}

func checkInferencePerf(t *testing.T, stage int, src map[string]any, m Metrics) {
	t.Helper()
	eq(t, "requested_rate", m.RequestedRate, at(src, "load_summary", "requested_rate"))
	eq(t, "achieved_rate", m.AchievedRate, at(src, "load_summary", "achieved_rate"))
	if float64(m.Requests.Succeeded) != at(src, "successes", "count").(float64) || float64(m.Requests.Failed) != at(src, "failures", "count").(float64) {
		t.Errorf("stage %d requests %+v", stage, m.Requests)
	}
	for name, d := range map[string]*Dist{"time_to_first_token": m.Latency.TTFT, "time_per_output_token": m.Latency.TPOT,
		"inter_token_latency": m.Latency.ITL, "normalized_time_per_output_token": m.Latency.NTPOT, "request_latency": m.Latency.E2E} {
		for stat, key := range map[string]string{"mean": "mean", "p50": "median", "p90": "p90", "p99": "p99"} {
			eq(t, name+"."+stat, d.Get(stat), at(src, "successes", "latency", name, key))
		}
	}
	for name, v := range map[string]*float64{"requests_per_sec": m.Throughput.RequestsPerSec, "input_tokens_per_sec": m.Throughput.InputTokensPerSec,
		"output_tokens_per_sec": m.Throughput.OutputTokensPerSec, "total_tokens_per_sec": m.Throughput.TotalTokensPerSec} {
		eq(t, name, v, at(src, "successes", "throughput", name))
	}
}

func TestBenchmarkReportFixturesParse(t *testing.T) {
	for _, tc := range []struct {
		file, format string
	}{{"br_v0_1_example.yaml", FormatBR01}, {"br_v0_2_example.yaml", FormatBR02}, {"br_v0_2_1_example.yaml", FormatBR02}} {
		t.Run(tc.file, func(t *testing.T) {
			dir := t.TempDir()
			name := "benchmark_report,_stage_0.yaml"
			if tc.format == FormatBR02 {
				name = "benchmark_report_v0.2,_stage_0.yaml"
			}
			b, err := os.ReadFile(filepath.Join(fixtures, "benchmark-report", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if r.Format != tc.format || len(r.Stages) != 1 || r.Model == "" || r.Harness == "" {
				t.Fatalf("%+v", r)
			}
			st := r.Stages[0]
			if st.Latency.TTFT == nil || st.Latency.TTFT.Mean == nil || st.Throughput.TotalTokensPerSec == nil || st.Requests.Succeeded == 0 {
				t.Errorf("stage %+v", st)
			}
			// Latencies are seconds whatever the report's units: TTFTs of an LLM are well under a minute.
			if *st.Latency.TTFT.Mean > 60 {
				t.Errorf("TTFT mean %v: units not normalised to seconds", *st.Latency.TTFT.Mean)
			}
		})
	}
}

// A report in seconds and the same report in milliseconds must agree once normalised.
func TestUnitsNormalise(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixtures, "benchmark-report", "br_v0_2_example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	secDir, msDir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(secDir, "benchmark_report_v0.2,_a.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(msDir, "benchmark_report_v0.2,_a.yaml"), []byte(ttftInMs(t, string(b))), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err1 := ReadDir(secDir)
	m, err2 := ReadDir(msDir)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	x, y := a.Stages[0].Latency.TTFT, m.Stages[0].Latency.TTFT
	for _, stat := range []string{"mean", "p50", "p90", "p99"} {
		if x.Get(stat) == nil || math.Abs(*x.Get(stat)-*y.Get(stat)) > 1e-12 {
			t.Errorf("%s: %v (s report) vs %v (ms report)", stat, x.Get(stat), y.Get(stat))
		}
	}
}

// ttftInMs rewrites the report's TTFT statistics from seconds to milliseconds.
func ttftInMs(t *testing.T, src string) string {
	t.Helper()
	lines := strings.Split(src, "\n")
	in, changed := false, false
	for i, l := range lines {
		trimmed := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(trimmed, "time_to_first_token:"):
			in = true
		case in && trimmed == "units: s":
			lines[i], changed = strings.Replace(l, "units: s", "units: ms", 1), true
		case in && strings.Contains(trimmed, ": "):
			k, v, _ := strings.Cut(l, ": ")
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				in = false
				continue
			}
			lines[i] = k + ": " + strconv.FormatFloat(f*1000, 'g', -1, 64)
		default:
			in = false
		}
	}
	if !changed {
		t.Fatal("the example's TTFT is not in seconds; adjust the test")
	}
	return strings.Join(lines, "\n")
}

// GuideLLM and vLLM files in the shapes their tools document (see research/results-formats.md).
func TestGuideLLMAndVLLM(t *testing.T) {
	dir := t.TempDir()
	guidellm := `{"benchmarks": [{"config": {"strategy": {"type_": "constant", "rate": 5}},
	  "metrics": {"request_totals": {"successful": 98, "errored": 1, "incomplete": 1, "total": 100},
	    "time_to_first_token_ms": {"successful": {"mean": 11.48, "median": 11.28, "percentiles": {"p50": 11.28, "p90": 11.69, "p99": 11.7}}},
	    "inter_token_latency_ms": {"successful": {"mean": 5.0, "median": 4.9, "percentiles": {"p50": 4.9, "p90": 6, "p99": 7}}},
	    "request_latency": {"successful": {"mean": 1.5, "median": 1.4, "percentiles": {"p50": 1.4, "p90": 2, "p99": 3}}},
	    "requests_per_second": {"successful": {"mean": 4.9}},
	    "output_tokens_per_second": {"successful": {"mean": 250}}}}]}`
	if err := os.WriteFile(filepath.Join(dir, "results.json"), []byte(guidellm), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := r.Stages[0]
	if r.Format != FormatGuideLLM || *st.RequestedRate != 5 || *st.AchievedRate != 4.9 || st.Requests.Succeeded != 98 || st.Requests.Failed != 1 || *st.Requests.Incomplete != 1 ||
		math.Abs(*st.Latency.TTFT.Mean-0.01148) > 1e-12 || *st.Latency.ITL.P99 != 0.007 || *st.Latency.E2E.P90 != 2 ||
		!strings.Contains(r.Definitions["tpot"], "includes TTFT") {
		t.Errorf("guidellm: %+v %+v", r, st)
	}
	dir = t.TempDir()
	vllm := `{"model_id": "m/x", "request_rate": 8, "max_concurrency": null, "duration": 10, "completed": 80, "failed": 0,
	  "total_input_tokens": 8000, "request_throughput": 7.9, "output_throughput": 640, "total_token_throughput": 1440,
	  "mean_ttft_ms": 120, "median_ttft_ms": 110, "p99_ttft_ms": 300, "mean_tpot_ms": 20, "median_tpot_ms": 19, "p99_tpot_ms": 30}`
	if err := os.WriteFile(filepath.Join(dir, "vllm-8qps-x.json"), []byte(vllm), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err = ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	st = r.Stages[0]
	if r.Format != FormatVLLM || r.Model != "m/x" || *st.Latency.TTFT.Mean != 0.12 || *st.Latency.TPOT.P99 != 0.03 ||
		*st.Throughput.InputTokensPerSec != 800 || st.Concurrency != nil {
		t.Errorf("vllm: %+v %+v", r, st)
	}
	if _, err := ReadDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no result files of a known format") {
		t.Errorf("empty folder: %v", err)
	}
}
