package scrape

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
)

// The expected maps were computed once, independently of Parse, by a python3 script over the
// testdata files (recorded in the commit that added them): read the "# TYPE" lines; for every
// sample line whose name starts with vllm:, inference_ or llm_d_, add its value to its name's total,
// except histogram/summary buckets and quantiles; drop a family's "_sum"/"_count" when some label
// set lacks it, and NaN totals.

// simWant is testdata/sim-v0.10.2.prom reduced (32 names).
var simWant = map[string]float64{
	"vllm:cache_config_info":                    1.0,
	"vllm:e2e_request_latency_seconds_count":    4.0,
	"vllm:e2e_request_latency_seconds_sum":      0.21155621,
	"vllm:generation_tokens_total":              28.0,
	"vllm:inter_token_latency_seconds_count":    282.0,
	"vllm:inter_token_latency_seconds_sum":      1.409999999999992,
	"vllm:kv_cache_usage_perc":                  0.01171875,
	"vllm:lora_requests_info":                   1796093394.0,
	"vllm:max_num_generation_tokens_count":      4.0,
	"vllm:max_num_generation_tokens_sum":        28.0,
	"vllm:num_requests_running":                 3.0,
	"vllm:num_requests_waiting":                 0.0,
	"vllm:prefix_cache_hits":                    1152.0,
	"vllm:prefix_cache_queries":                 1414.0,
	"vllm:prompt_tokens_total":                  808.0,
	"vllm:request_decode_time_seconds_count":    4.0,
	"vllm:request_decode_time_seconds_sum":      0.12907566,
	"vllm:request_generation_tokens_count":      4.0,
	"vllm:request_generation_tokens_sum":        28.0,
	"vllm:request_inference_time_seconds_count": 4.0,
	"vllm:request_inference_time_seconds_sum":   0.21144427799999999,
	"vllm:request_params_max_tokens_count":      4.0,
	"vllm:request_params_max_tokens_sum":        64.0,
	"vllm:request_prefill_time_seconds_count":   7.0,
	"vllm:request_prefill_time_seconds_sum":     0.142615095,
	"vllm:request_prompt_tokens_count":          4.0,
	"vllm:request_prompt_tokens_sum":            808.0,
	"vllm:request_success_total":                4.0, // finish_reason length 1 + stop 3
	"vllm:time_per_output_token_seconds_count":  282.0,
	"vllm:time_per_output_token_seconds_sum":    1.409999999999992,
	"vllm:time_to_first_token_seconds_count":    7.0,
	"vllm:time_to_first_token_seconds_sum":      0.14,
}

// mixedWant is testdata/mixed.prom reduced: vllm:no_sum_seconds_sum is left out (engine 1 gives
// none), vllm:nan_gauge (NaN), process_cpu_seconds_total and go_goroutines (other names) too.
var mixedWant = map[string]float64{
	"inference_pool_average_kv_cache_utilization":   0.25,
	"inference_pool_request_duration_seconds_count": 43.0,
	"inference_pool_request_duration_seconds_sum":   13.0,
	"llm_d_epp_scheduled_total":                     10.0,
	"vllm:e2e_request_latency_seconds_count":        10.0,
	"vllm:e2e_request_latency_seconds_sum":          12.25,
	"vllm:no_sum_seconds_count":                     9.0,
	"vllm:num_requests_waiting":                     7.0,
	"vllm:prompt_tokens_total":                      1234.5,
}

func TestParseFiles(t *testing.T) {
	for file, want := range map[string]map[string]float64{"sim-v0.10.2.prom": simWant, "mixed.prom": mixedWant} {
		t.Run(file, func(t *testing.T) {
			f, err := os.Open("testdata/" + file)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = f.Close() }()
			got, err := Parse(f)
			if err != nil {
				t.Fatal(err)
			}
			assertValues(t, got, want)
		})
	}
}

// assertValues compares exactly: every total is a sum of at most a few decimal values in the
// same order python added them.
func assertValues(t *testing.T, got, want map[string]float64) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[k]; !ok {
			t.Errorf("%s missing", k)
		} else if g != want[k] {
			t.Errorf("%s = %v, want %v", k, g, want[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			t.Errorf("%s = %v is not expected", k, got[k])
		}
	}
}

func TestParseEmpty(t *testing.T) {
	got, err := Parse(strings.NewReader("# HELP go_goroutines x\n# TYPE go_goroutines gauge\ngo_goroutines 3\n"))
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Parse = %v, %v; want an empty map", got, err)
	}
}

func TestParseMalformed(t *testing.T) {
	for name, text := range map[string]string{
		"no value":          "vllm:num_requests_running\n",
		"bad value":         "vllm:num_requests_running{a=\"b\"} three\n",
		"unclosed labels":   "vllm:num_requests_running{a=\"b\" 3\n",
		"type twice":        "# TYPE vllm:x gauge\n# TYPE vllm:x counter\nvllm:x 1\n",
		"html error page":   "<html><body>502 Bad Gateway</body></html>\n",
		"negative hist cnt": "# TYPE vllm:h histogram\nvllm:h_count -1.5\n",
	} {
		t.Run(name, func(t *testing.T) {
			if got, err := Parse(strings.NewReader(text)); err == nil || !strings.HasPrefix(err.Error(), "metrics text: ") {
				t.Fatalf("Parse = %v, %v; want a metrics text error", got, err)
			}
		})
	}
}
