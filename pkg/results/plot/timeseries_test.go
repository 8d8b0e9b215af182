package plot

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

func fp(v float64) *float64 { return &v }

func hasAll(t *testing.T, file string, texts []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(texts, w) {
			t.Errorf("%s: no text %q in %q", filepath.Base(file), w, texts)
		}
	}
}

func TestClientSeriesCharts(t *testing.T) {
	ts := &results.ClientSeries{BucketSeconds: 1, Stages: []results.ClientStage{{Stage: 0, Start: 0, End: 1.5}, {Stage: 1, Start: 1.6, End: 3}}}
	for i := 0; i < 3; i++ {
		b := results.ClientBucket{Start: float64(i), Seconds: 1, Completed: 2, RequestsPerSec: fp(2), OutputTokensPerSec: fp(200)}
		if i != 1 { // the middle bucket has no latency: a gap, not a 0
			b.TTFT = &results.Dist{P50: fp(0.1), P90: fp(0.2)}
			b.ITL = &results.Dist{P50: fp(0.01), P90: fp(0.02)}
		}
		ts.Buckets = append(ts.Buckets, b)
	}
	dir := t.TempDir()
	charts, err := ClientSeriesCharts("run-a", ts, dir, "ts_", Options{Ext: "svg"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range charts {
		names = append(names, filepath.Base(c.File))
	}
	if strings.Join(names, " ") != "ts_client_latency.svg ts_client_requests.svg ts_client_tokens.svg" || charts[0].Series != 4 || charts[1].Series != 1 {
		t.Fatalf("charts %+v", charts)
	}
	hasAll(t, charts[0].File, svgTexts(t, charts[0].File), "run-a: client latency over time", "TTFT p50", "TTFT p90", "ITL p50", "ITL p90",
		"stage 0", "stage 1", "stage start", "latency (ms)", "time since the first request (s, 1 s buckets)")
	hasAll(t, charts[2].File, svgTexts(t, charts[2].File), "output tokens/s", "stage 1")

	// No latency anywhere: that chart is left out; nil series: nothing; a bad type: an error.
	for i := range ts.Buckets {
		ts.Buckets[i].TTFT, ts.Buckets[i].ITL = nil, nil
	}
	charts, err = ClientSeriesCharts("run-a", ts, dir, "", Options{})
	if err != nil || len(charts) != 2 || filepath.Ext(charts[0].File) != ".png" {
		t.Errorf("without latency: %+v %v", charts, err)
	}
	if charts, err := ClientSeriesCharts("x", nil, dir, "", Options{}); charts != nil || err != nil {
		t.Errorf("nil series: %+v %v", charts, err)
	}
	if _, err := ClientSeriesCharts("x", ts, dir, "", Options{Ext: "gif"}); err == nil {
		t.Error("gif must be refused")
	}
}

func serverSample(at time.Time, v map[string]float64) results.ServerSample {
	return results.ServerSample{Time: at, Values: v}
}

func TestServerSeriesCharts(t *testing.T) {
	t0 := time.Unix(1764547200, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	ss := &results.ServerSeries{
		IntervalSeconds: 5,
		Targets: []results.ServerTarget{{Pod: "sim-0", Role: results.RoleModelServer}, {Pod: "sim-1", Role: results.RoleModelServer},
			{Pod: "epp-0", Role: results.RoleEPP}},
		Stages: []results.StageWindow{{Stage: 0, Start: at(0), End: at(10)}, {Stage: 1, Start: at(10), End: at(20)}},
		Samples: map[string][]results.ServerSample{
			"sim-0": {
				serverSample(at(0), map[string]float64{"vllm:kv_cache_usage_perc": 0.1, "vllm:num_requests_running": 1, "vllm:num_requests_waiting": 0,
					"vllm:prefix_cache_hits_total": 0, "vllm:prefix_cache_queries_total": 0}),
				{Time: at(5), Err: "connection refused"},
				serverSample(at(10), map[string]float64{"vllm:kv_cache_usage_perc": 0.5, "vllm:num_requests_running": 4, "vllm:num_requests_waiting": 2,
					"vllm:prefix_cache_hits_total": 30, "vllm:prefix_cache_queries_total": 100}),
				serverSample(at(15), map[string]float64{"vllm:kv_cache_usage_perc": 0.6, "vllm:num_requests_running": 4, "vllm:num_requests_waiting": 3,
					"vllm:prefix_cache_hits_total": 80, "vllm:prefix_cache_queries_total": 200}),
			},
			"sim-1": {serverSample(at(1), map[string]float64{"vllm:gpu_cache_usage_perc": 0.2, "vllm:num_requests_running": 2})},
			"epp-0": {serverSample(at(1), map[string]float64{"inference_pool_ready_pods": 2})},
		},
	}
	dir := t.TempDir()
	charts, err := ServerSeriesCharts("run-a", ss, dir, "", Options{Ext: "svg"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range charts {
		names = append(names, filepath.Base(c.File)+":"+string(rune('0'+c.Series)))
	}
	// KV: both pods (sim-1 by the older name); queue: sim-0 running and waiting, sim-1 running;
	// hit rate: sim-0 only (sim-1 has no prefix counters).
	if strings.Join(names, " ") != "server_kv_cache.svg:2 server_queue.svg:3 server_prefix_hit_rate.svg:1" {
		t.Fatalf("charts %v", names)
	}
	hasAll(t, charts[1].File, svgTexts(t, charts[1].File), "sim-0 running", "sim-0 waiting", "sim-1 running", "stage 0", "stage 1")
	texts := svgTexts(t, charts[0].File)
	hasAll(t, charts[0].File, texts, "sim-0", "sim-1", "KV cache in use (%)")
	if slices.Contains(texts, "epp-0") {
		t.Error("the EPP has no KV-cache metric: it must not be drawn")
	}

	// Hit rates between samples, worked by hand: 0→5 s a failed scrape (none), 5→10 s the same,
	// 10→15 s (80-30)/(200-100) = 50 %. A counter reset (queries going back) and no query give none.
	s := ss.Samples["sim-0"]
	if hitRateAt(s, 0) != nil || hitRateAt(s, 1) != nil || hitRateAt(s, 2) != nil {
		t.Error("no hit rate across a failed scrape or at the first sample")
	}
	if v := hitRateAt(s, 3); v == nil || *v != 50 {
		t.Errorf("hit rate 10→15 s: %v, want 50", v)
	}
	reset := []results.ServerSample{
		serverSample(at(0), map[string]float64{"vllm:prefix_cache_hits_total": 50, "vllm:prefix_cache_queries_total": 100}),
		serverSample(at(5), map[string]float64{"vllm:prefix_cache_hits_total": 1, "vllm:prefix_cache_queries_total": 2}),
		serverSample(at(10), map[string]float64{"vllm:prefix_cache_hits_total": 1, "vllm:prefix_cache_queries_total": 2}),
	}
	if hitRateAt(reset, 1) != nil || hitRateAt(reset, 2) != nil {
		t.Error("a reset or an idle interval has no hit rate")
	}
}

func TestServerVsRateCharts(t *testing.T) {
	r := Run{Label: "run-a", Report: &results.Report{Stages: []results.Stage{
		{Stage: 0, Metrics: results.Metrics{RequestedRate: fp(2), AchievedRate: fp(1.9)}},
		{Stage: 1, Metrics: results.Metrics{RequestedRate: fp(4), AchievedRate: fp(3.8)}},
	}}}
	server := []results.ServerStageMetrics{
		{Stage: 0, All: results.ServerPodMetrics{KVCacheUsageMean: fp(0.2), WaitingMean: fp(0), PrefixCacheHitRate: fp(0.5)}},
		{Stage: 1, All: results.ServerPodMetrics{KVCacheUsageMean: fp(0.6), WaitingMean: fp(3)}}, // hit rate null: left out
	}
	dir := t.TempDir()
	charts, err := ServerVsRateCharts(r, server, dir, "", Options{Ext: "svg"})
	// The cache chart: KV and hit rate; the queue chart: waiting only (no running mean given).
	if err != nil || len(charts) != 2 || charts[0].Series != 2 || charts[1].Series != 1 || filepath.Base(charts[1].File) != "server_queue_vs_rate.svg" {
		t.Fatalf("%+v %v", charts, err)
	}
	hasAll(t, charts[0].File, svgTexts(t, charts[0].File), "achieved rate (requests/s)", "KV-cache usage mean (%)", "prefix-cache hit rate (%)")
	hasAll(t, charts[1].File, svgTexts(t, charts[1].File), "waiting requests, mean")
	if slices.Contains(svgTexts(t, charts[1].File), "running requests, mean") {
		t.Error("a null running mean must not be drawn")
	}

	// A stage without an achieved rate: the requested rate for all.
	r.Report.Stages[1].AchievedRate = nil
	charts, err = ServerVsRateCharts(r, server, dir, "", Options{Ext: "svg"})
	if err != nil || len(charts) != 2 {
		t.Fatalf("%+v %v", charts, err)
	}
	hasAll(t, charts[0].File, svgTexts(t, charts[0].File), "requested rate (requests/s)")
	if charts, err := ServerVsRateCharts(r, nil, dir, "", Options{}); charts != nil || err != nil {
		t.Errorf("no server metrics: %+v %v", charts, err)
	}
}
