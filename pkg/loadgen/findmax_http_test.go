package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

// queueServer is a server with a known capacity: slots requests are served at once, each holding
// its slot for ttft + (tokens-1)·itl; the others queue, so TTFT = queueing + ttft. With 4 slots
// and 50 ms + 3 × 50 ms = 200 ms per request it serves 4 / 0.2 s = 20 req/s; below that TTFT is
// 50 ms, above it the queue (and TTFT) grows with every request.
func queueServer(t *testing.T, slots int, ttft, itl time.Duration) *httptest.Server {
	sem := make(chan struct{}, slots)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body requestBody
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, `{"error":{"message":"bad","type":"BadRequestError"}}`, http.StatusBadRequest)
			return
		}
		select {
		case sem <- struct{}{}:
		case <-r.Context().Done():
			return
		}
		defer func() { <-sem }()
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		time.Sleep(ttft)
		for i := range body.MaxTokens {
			if i > 0 {
				time.Sleep(itl)
			}
			fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"finish_reason\":null,\"text\":\"w \"}],\"usage\":null}\n\n")
			fl.Flush()
		}
		fmt.Fprintf(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d}}\n\ndata: [DONE]\n\n", len(strings.Fields(body.Prompt)), body.MaxTokens)
		fl.Flush()
	}))
	t.Cleanup(srv.Close)
	return srv
}

const findMaxProfile = `
load:
  type: constant
  interval: 0.1
  find_max: {by: rate, min: 5, max: 40, precision: 0.05, max_probes: 12, slo: "ttft_p90=100ms,errors=1%%", stage_duration: 2}
api: {type: completion, streaming: true}
server: {type: vllm, model_name: m, base_url: %s, ignore_eos: true}
data:
  type: random
  input_distribution: {min: 10, max: 30, mean: 20, std: 5}
  output_distribution: {type: fixed, min: 4, max: 4, mean: 4}
`

// TestFindMaxFindsTheKnee: against a server that serves 20 req/s (see queueServer), the search
// answers within 10 % of 20 req/s, every probe a normal stage with its files, and capacity.json
// and the reports' capacity section written.
func TestFindMaxFindsTheKnee(t *testing.T) {
	if testing.Short() {
		t.Skip("about 25 s of probes")
	}
	srv := queueServer(t, 4, 50*time.Millisecond, 50*time.Millisecond)
	w, err := ParseWorkload(fmt.Appendf(nil, findMaxProfile, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	res, err := Run(context.Background(), w, Options{Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Capacity
	t.Logf("progress:\n%s", progress.String())
	if c == nil || c.Passing == nil || c.Failing == nil {
		t.Fatalf("no bracket: %+v", c)
	}
	if *c.Passing < 18 || *c.Passing > 22 {
		t.Errorf("answer %g req/s, want within 10%% of 20", *c.Passing)
	}
	if c.Stop != results.StopPrecision && c.Stop != results.StopSaturation {
		t.Errorf("stop %q, want precision (or saturation)", c.Stop)
	}
	if len(c.Probes) != len(res.Stages) || len(c.Probes) > 12 {
		t.Errorf("%d probes, %d stages", len(c.Probes), len(res.Stages))
	}
	for i, p := range c.Probes {
		if p.Stage != i || res.Stages[i].Config.Rate != p.Level || res.Stages[i].Config.Duration != 2 {
			t.Errorf("probe %d: stage %d level %g, stage config %+v", i, p.Stage, p.Level, res.Stages[i].Config)
		}
	}
	if !strings.Contains(progress.String(), "find-max: probe 1: 5 req/s pass: TTFT p90") {
		t.Errorf("no per-probe progress line")
	}
	dir := t.TempDir()
	if _, err := Write(dir, res, Meta{ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, results.CapacityFile))
	if err != nil {
		t.Fatal(err)
	}
	var back results.Capacity
	if err := json.Unmarshal(data, &back); err != nil || back.Answer != c.Answer || len(back.Probes) != len(c.Probes) {
		t.Fatalf("capacity.json: %v %+v", err, back)
	}
	br, err := os.ReadFile(filepath.Join(dir, ReportFile(len(c.Probes)-1)))
	if err != nil {
		t.Fatal(err)
	}
	var report struct {
		Results struct {
			Profiling struct {
				Capacity struct {
					Answer string `json:"answer"`
					Probe  struct {
						Level float64 `json:"level"`
					} `json:"probe"`
				} `json:"capacity_search"`
			} `json:"profiling"`
		} `json:"results"`
	}
	if err := yaml.Unmarshal(br, &report); err != nil || report.Results.Profiling.Capacity.Answer != c.Answer ||
		report.Results.Profiling.Capacity.Probe.Level != c.Probes[len(c.Probes)-1].Level {
		t.Errorf("report's capacity section: %v %+v", err, report.Results.Profiling)
	}
}

// TestFindMaxByConcurrency: the same server holds 4 requests at once, so up to 4 streams TTFT is
// 50 ms; with 5 or more, every round some request waits a whole 200 ms service for a slot, which
// puts at least 1 in 5 requests (20 % > 10 %) near 250 ms: TTFT p90 (limit 150 ms) fails. By hand: 1, 2, 4 pass,
// 8 fails; [4,8]→6 fails, [4,6]→5 fails, [4,5] holds no whole number between: max 4.
func TestFindMaxByConcurrency(t *testing.T) {
	if testing.Short() {
		t.Skip("about 8 s of probes")
	}
	srv := queueServer(t, 4, 50*time.Millisecond, 50*time.Millisecond)
	profile := strings.Replace(fmt.Sprintf(findMaxProfile, srv.URL), "type: constant", "type: concurrent", 1)
	profile = strings.Replace(profile, "by: rate, min: 5, max: 40,", "by: concurrency, min: 1, max: 16, requests_per_stream: 5,", 1)
	// 150 ms: halfway between a served request's 50 ms and a queued one's 250 ms, for a busy machine.
	profile = strings.Replace(profile, "ttft_p90=100ms", "ttft_p90=150ms", 1)
	w, err := ParseWorkload([]byte(profile))
	if err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	res, err := Run(context.Background(), w, Options{Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Capacity
	t.Logf("progress:\n%s", progress.String())
	var levels []float64
	for _, p := range c.Probes {
		levels = append(levels, p.Level)
	}
	if fmt.Sprint(levels) != "[1 2 4 8 6 5]" || c.Passing == nil || *c.Passing != 4 || c.Stop != results.StopPrecision {
		t.Errorf("probed %v, stop %s, answer %q", levels, c.Stop, c.Answer)
	}
	if len(res.Stages) < 4 {
		return
	}
	if st := res.Stages[3].Config; st.ConcurrencyLevel != 8 || st.NumRequests != 40 {
		t.Errorf("probe at 8: stage %+v, want 40 requests at concurrency 8", st)
	}
}
