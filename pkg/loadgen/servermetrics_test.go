package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
	"github.com/llmdbench/kubectl-llmdbench/pkg/scrape"
)

// scrapedProfile: two constant stages (10 then 20 requests), 0.5 s apart, scraped every 0.2 s.
const scrapedProfile = `
load:
  type: constant
  interval: 0.5
  stages:
  - {rate: 10, duration: 1}
  - {rate: 20, duration: 1}
api: {type: completion, streaming: true}
server: {type: vllm, model_name: m, base_url: %s, ignore_eos: true}
data:
  type: random
  input_distribution: {min: 10, max: 30, mean: 20, std: 5, total_count: 10}
  output_distribution: {min: 4, max: 4, mean: 4, std: 0, total_count: 10}
server_metrics:
  interval_seconds: 0.2
  targets:
  - {namespace: ns, pod: sim-0, role: model-server, url: %s, via: direct}
`

// metricsServer serves the count of requests the SSE server has received as a vLLM counter.
func metricsServer(t *testing.T, n *atomic.Int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "# TYPE vllm:request_success_total counter\nvllm:request_success_total{model_name=\"m\"} %d\n", n.Load())
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRunWritesServerMetrics(t *testing.T) {
	sim, n := sseServer(t, 10*time.Millisecond, 5*time.Millisecond, 0)
	metrics := metricsServer(t, n)
	w, err := ParseWorkload(fmt.Appendf(nil, scrapedProfile, sim.URL, metrics.URL+"/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var progress bytes.Buffer
	res, err := Run(context.Background(), w, Options{OutputDir: dir, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(progress.String(), "warning") {
		t.Errorf("progress: %s", progress.String())
	}
	f, err := os.Open(filepath.Join(dir, results.ServerMetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var stages []string
	var stageTimes []float64
	samples := 0
	sc := bufio.NewScanner(f)
	for i := 0; sc.Scan(); i++ {
		var l results.ServerMetricsLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		switch {
		case i == 0:
			if l.Kind != results.ServerLineHeader || l.IntervalSeconds != 0.2 || len(l.Targets) != 1 || l.Targets[0].Pod != "sim-0" {
				t.Errorf("header %+v", l)
			}
		case l.Kind == results.ServerLineStage:
			stages = append(stages, fmt.Sprintf("%d %s", *l.Stage, l.Event))
			stageTimes = append(stageTimes, l.Time)
		case l.Kind == results.ServerLineSample:
			samples++
			if l.Error != "" || l.Pod != "sim-0" {
				t.Errorf("sample %+v", l)
			}
		}
	}
	if got := strings.Join(stages, ", "); got != "0 start, 0 end, 1 start, 1 end" {
		t.Errorf("stage events %s", got)
	}
	// The stage lines bracket the stages as the generator measured them (wall clock, seconds).
	for i, st := range res.Stages {
		start, end := unixSec(st.Started), unixSec(st.Finished)
		if len(stageTimes) == 4 && (stageTimes[2*i] < start || stageTimes[2*i+1] > end || stageTimes[2*i+1] < stageTimes[2*i]) {
			t.Errorf("stage %d events at %.3f..%.3f, outside the stage %.3f..%.3f", i, stageTimes[2*i], stageTimes[2*i+1], start, end)
		}
	}
	// 4 snapshots, plus a round at once and every 0.2 s over the ~2.5 s run (at least 8 on a
	// loaded machine: ticks are dropped, not queued).
	if samples < 4+8 {
		t.Errorf("%d samples, want at least 12", samples)
	}
	// The end snapshots are taken after the stage's last response: 10 requests, then 30.
	for stage, want := range map[int]int{0: 10, 1: 30} {
		raw, err := os.ReadFile(filepath.Join(dir, results.ServerSnapshotDir, fmt.Sprintf("stage_%d_end_sim-0.prom", stage)))
		if err != nil {
			t.Fatal(err)
		}
		v, err := scrape.Parse(bytes.NewReader(raw))
		if err != nil || v["vllm:request_success_total"] != float64(want) {
			t.Errorf("stage %d end snapshot: %v, %v; want %d requests", stage, v, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, results.ServerSnapshotDir, "stage_1_start_sim-0.prom")); err != nil {
		t.Error(err)
	}
}

func unixSec(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func TestServerMetricsRefusedBeforeSending(t *testing.T) {
	sim, n := sseServer(t, 0, 0, 0)
	metrics := metricsServer(t, n)
	w, err := ParseWorkload(fmt.Appendf(nil, scrapedProfile, sim.URL, metrics.URL))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), w, Options{}); err == nil || !strings.Contains(err.Error(), "no output folder") {
		t.Errorf("Run without an output folder = %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, results.ServerMetricsFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), w, Options{OutputDir: dir}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("Run into a folder with a series = %v", err)
	}
	if n.Load() != 0 {
		t.Errorf("%d requests were sent before the refusal", n.Load())
	}
}

// Only launcher 0 scrapes: the others would read the same pods.
func TestServerMetricsOneLauncher(t *testing.T) {
	sim, n := sseServer(t, 0, 0, 0)
	metrics := metricsServer(t, n)
	w, err := ParseWorkload(fmt.Appendf(nil, strings.Replace(scrapedProfile, "rate: 20, duration: 1", "rate: 2, duration: 1", 1), sim.URL, metrics.URL))
	if err != nil {
		t.Fatal(err)
	}
	w.Load.Stages = w.Load.Stages[1:]
	dir := t.TempDir()
	l := &Launcher{Index: 1, Count: 2, Mode: runstate.ModeReplicate}
	if _, err := Run(context.Background(), w, Options{OutputDir: dir, Launcher: l}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, results.ServerMetricsFile)); !os.IsNotExist(err) {
		t.Errorf("launcher 1 wrote a series: %v", err)
	}
}

func TestServerMetricsValidation(t *testing.T) {
	valid := fmt.Sprintf(scrapedProfile, "http://x:80", "http://10.0.0.5:8000/metrics")
	if _, err := ParseWorkload([]byte(valid)); err != nil {
		t.Fatalf("valid profile: %v", err)
	}
	for _, tc := range []struct{ from, to, want string }{
		{"interval_seconds: 0.2", "interval_seconds: 0", "server_metrics.interval_seconds must be more than 0 seconds (got 0)"},
		{"interval_seconds: 0.2", "interval_seconds: -1", "server_metrics.interval_seconds must be more than 0 seconds (got -1)"},
		{"targets:\n  - {namespace: ns, pod: sim-0, role: model-server, url: http://10.0.0.5:8000/metrics, via: direct}", "targets: []", "server_metrics.targets: no target to scrape"},
		{"url: http://10.0.0.5:8000/metrics", "url: 10.0.0.5:8000/metrics", `server_metrics.targets[0].url "10.0.0.5:8000/metrics" is not an http(s) URL`},
		{"url: http://10.0.0.5:8000/metrics", "url: /api/v1/namespaces/ns/pods/sim-0:8000/proxy/metrics", "is not an http(s) URL"},
		{"role: model-server", "role: decode", `server_metrics.targets: target 0 (pod sim-0): role "decode"`},
		{"pod: sim-0,", "pod: '',", `server_metrics.targets: target 0: pod name "" is not a pod name`},
		{"interval_seconds: 0.2", "interval: 0.2", "server_metrics.interval is not a key"},
		{"via: direct}", "via: direct, port: 8000}", "server_metrics.targets[0].port is not a key"},
		{"interval_seconds: 0.2", "interval_seconds: 5s", "server_metrics.interval_seconds holds text"},
	} {
		changed := strings.Replace(valid, tc.from, tc.to, 1)
		if changed == valid {
			t.Fatalf("%q is not in the profile", tc.from)
		}
		_, err := ParseWorkload([]byte(changed))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "--") {
			t.Errorf("%s -> %s: got %v, want one line with %q", tc.from, tc.to, err, tc.want)
		}
	}
}
