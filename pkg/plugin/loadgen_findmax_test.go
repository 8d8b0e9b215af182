package plugin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

// The search flags are refused in one line before anything is read or sent.
func TestLoadgenFindMaxFlagsValidate(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--slo", "ttft_p90=1s"}, "--slo only tune(s) a capacity search: add --find-max"},
		{[]string{"--find-max", "--max", "10"}, "--find-max needs --slo, e.g. --slo ttft_p90=500ms,tpot_p90=50ms"},
		{[]string{"--find-max", "--slo", "ttft=1s", "--max", "10"}, `--slo: "ttft=1s" is not a capacity SLO: the statistic (none) must be p50, p90, p99 or mean, e.g. ttft_p90`},
		{[]string{"--find-max", "--slo", "ttft_p90=1s"}, "--find-max needs --max, the highest level to probe"},
		{[]string{"--find-max", "--slo", "ttft_p90=1s", "--max", "10", "--by", "qps"}, `--by "qps": use rate or concurrency`},
		{[]string{"--find-max", "--slo", "ttft_p90=1s", "--max", "10", "--min", "10"}, "--max 10: must be more than --min 10"},
		{[]string{"--find-max", "--slo", "ttft_p90=1s", "--max", "10.5", "--by", "concurrency"}, "--by concurrency: --min and --max are whole numbers of requests in flight (got 1, 10.5)"},
		{[]string{"--find-max", "--slo", "ttft_p90=1s", "--max", "10", "--precision", "5"}, `--precision "5": give a percentage above 0% and below 100%, e.g. 5%`},
		{[]string{"--find-max", "--slo", "ttft_p90=1s", "--max", "10", "--max-stages", "0"}, "--max-stages 0: need at least 1"},
		{[]string{"--find-max", "--slo", "ttft_p90=1s", "--max", "10", "--stage-duration", "500ms"}, "--stage-duration 500ms: need at least 1s"},
	} {
		t.Run(c.want, func(t *testing.T) {
			args := append([]string{"loadgen", "--config", "/nonexistent/profile.yaml"}, c.args...)
			if _, _, err := execute(t, "", args...); err == nil || err.Error() != c.want {
				t.Fatalf("got %v, want %s", err, c.want)
			}
		})
	}
}

// `loadgen --find-max` replaces the profile's stages with the search and prints the answer; a
// server that always meets the SLO gives "≥ --max" after min, 2·min, max (by hand: 2, 4, 5).
func TestLoadgenFindMaxRuns(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Prompt    string `json:"prompt"`
			MaxTokens int    `json:"max_tokens"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for range body.MaxTokens {
			fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"finish_reason\":null,\"text\":\"w \"}]}\n\n")
		}
		fmt.Fprintf(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d}}\n\ndata: [DONE]\n\n", len(strings.Fields(body.Prompt)), body.MaxTokens)
	}))
	defer srv.Close()
	dir := t.TempDir()
	profile := filepath.Join(dir, "profile.yaml")
	if err := os.WriteFile(profile, []byte(`load: {type: constant, interval: 0, stages: [{rate: 4, duration: 1}]}
api: {type: completion, streaming: true}
server: {model_name: m, base_url: `+srv.URL+`}
data: {type: random, input_distribution: {min: 5, max: 5, mean: 5}, output_distribution: {min: 2, max: 2, mean: 2}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	stdout, stderr, err := execute(t, "", "loadgen", "--config", profile, "--output-dir", out,
		"--find-max", "--slo", "ttft_p90=2s,errors=1%", "--min", "2", "--max", "5", "--stage-duration", "1s")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "capacity: max ≥ 5 req/s within SLO: even --max passes (3 probes)") {
		t.Errorf("stdout:\n%s", stdout)
	}
	data, err := os.ReadFile(filepath.Join(out, results.CapacityFile))
	if err != nil {
		t.Fatal(err)
	}
	var c results.Capacity
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	// --precision 5% is 0.05; --max-stages defaults to 12.
	if c.Precision != 0.05 || c.MaxProbes != 12 || c.Min != 2 || c.Max != 5 || c.By != results.ByRate {
		t.Errorf("settings: %+v", c)
	}
	if c.Stop != results.StopMaxPasses || len(c.Probes) != 3 || c.Probes[0].Level != 2 || c.Probes[1].Level != 4 || c.Probes[2].Level != 5 {
		t.Errorf("capacity.json: %+v", c)
	}
	for i := range 3 {
		if _, err := os.Stat(filepath.Join(out, fmt.Sprintf("stage_%d_lifecycle_metrics.json", i))); err != nil {
			t.Error(err)
		}
	}
}
