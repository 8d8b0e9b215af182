package loadgen

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSaturationFromInflightSamples(t *testing.T) {
	samples := []InflightSample{{0, 0}, {0.5, 10}, {1, 20}, {1.5, 12}, {2, 8}, {2.5, 5}, {3, 0}}
	// Falls: 20→12, 12→8, 8→5, 5→0 over 0.5 s each = 16, 8, 6, 10 req/s. numpy.percentile of
	// [6, 8, 10, 16]: p95 at rank 2.85 = 10 + 0.85·6 = 15.1; p50 at rank 1.5 = 9 (python3).
	for _, tc := range []struct{ timeout, pct, want float64 }{
		{10, 95, 15.1}, {10, 50, 9},
		// Samples at or after the timeout are left out: falls 16 and 8 remain; p95 = 15.6, p50 = 12.
		{2.2, 95, 15.6}, {2.2, 50, 12},
	} {
		got, err := saturation(samples, tc.timeout, tc.pct)
		if err != nil || math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("timeout %g p%g: %v, %v; want %v", tc.timeout, tc.pct, got, err, tc.want)
		}
	}
	// One fall is not enough (inference-perf needs more than one rate).
	_, err := saturation(samples, 1.6, 95)
	oneLine(t, "one fall", err, "load.sweep: the saturation probe saw the in-flight requests fall too rarely")
	_, err = saturation([]InflightSample{{0, 0}, {0.5, 5}, {1, 9}}, 60, 95)
	oneLine(t, "no fall", err, "raise load.sweep.num_requests or load.sweep.timeout")
}

func TestSweepRatesAreInferencePerfs(t *testing.T) {
	// python3: [round(1+i*(s-1)/(n-1), 2) for i in range(n)] and
	// [round(1+s-s**(1-i/(n-1)), 2) for i in range(n)] with s = 15.1, n = 5 (11.575 rounds to 11.57).
	for _, tc := range []struct {
		kind string
		sat  float64
		n    int
		want []float64
	}{
		{SweepLinear, 15.1, 5, []float64{1, 4.53, 8.05, 11.57, 15.1}},
		{SweepGeometric, 15.1, 5, []float64{1, 8.44, 12.21, 14.13, 15.1}},
		{SweepLinear, 20.37, 3, []float64{1, 10.69, 20.37}},
		{SweepGeometric, 20.37, 3, []float64{1, 16.86, 20.37}},
		{SweepLinear, 7, 1, []float64{1}},
	} {
		got, err := sweepRates(tc.sat, tc.n, tc.kind)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s %g × %d: %v %v, want %v", tc.kind, tc.sat, tc.n, got, err, tc.want)
		}
	}
	_, err := sweepRates(0.001, 3, SweepLinear)
	oneLine(t, "tiny saturation", err, "load.sweep: the saturation rate 0.001 req/s is too low to space 3 stages below it")
}

// A server that answers one request at a time in 50 ms saturates at 20 req/s: the probe (150
// requests over 5 s, 30 req/s) builds a backlog whose drain shows that rate, and the sweep's
// stages run from 1 req/s up to it.
func TestSweepFindsTheSaturationRate(t *testing.T) {
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		time.Sleep(50 * time.Millisecond)
		mu.Unlock()
		fmt.Fprint(w, `{"choices":[{"text":"a b"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}`)
	}))
	defer srv.Close()
	w, err := ParseWorkload([]byte(`
load:
  type: constant
  interval: 0.1
  sweep: {type: linear, num_requests: 150, timeout: 30, num_stages: 2, stage_duration: 1}
api: {type: completion, streaming: false}
server: {model_name: m, base_url: ` + srv.URL + `}
data: {type: random, input_distribution: {min: 3, max: 3, mean: 3}, output_distribution: {min: 2, max: 2, mean: 2}}
`))
	if err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	res, err := Run(context.Background(), w, Options{Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	sw := res.Sweep
	if sw == nil || len(sw.Probe.Records) != 150 || sw.Probe.Index != -1 {
		t.Fatalf("probe %+v", sw)
	}
	t.Logf("saturation %.2f req/s from samples %v", sw.Saturation, sw.Samples)
	// 1 request per 50 ms = 20 req/s; a drain sampled every 0.5 s sees 8..12 requests go.
	if sw.Saturation < 15 || sw.Saturation > 26 {
		t.Errorf("saturation %.2f req/s, want about 20 (samples %v)", sw.Saturation, sw.Samples)
	}
	want := []float64{1, round2(sw.Saturation)}
	if fmt.Sprint(sw.Rates) != fmt.Sprint(want) || len(res.Stages) != 2 {
		t.Fatalf("rates %v, %d stages; want %v", sw.Rates, len(res.Stages), want)
	}
	for i, st := range res.Stages {
		if st.Index != i || st.Config.Rate != want[i] || st.Config.Duration != 1 || len(st.Records) != int(math.Round(want[i])) {
			t.Errorf("stage %d: %+v with %d records", i, st.Config, len(st.Records))
		}
	}
	if !strings.Contains(progress.String(), "sweep: 150 requests (0 failed); saturation") || !strings.Contains(progress.String(), "stage 2/2") {
		t.Errorf("progress:\n%s", progress.String())
	}
	// The probe is in no report, as in inference-perf (stage -1).
	dir := t.TempDir()
	if _, err := Write(dir, res, Meta{}); err != nil {
		t.Fatal(err)
	}
	var summary, stage1 map[string]any
	readJSON(t, filepath.Join(dir, SummaryFile), &summary)
	readJSON(t, filepath.Join(dir, StageFile(1)), &stage1)
	total := len(res.Stages[0].Records) + len(res.Stages[1].Records)
	if c := summary["load_summary"].(map[string]any)["count"].(float64); int(c) != total {
		t.Errorf("summary counts %v requests, want the stages' %d", c, total)
	}
	if r := stage1["load_summary"].(map[string]any)["requested_rate"].(float64); r != want[1] {
		t.Errorf("stage 1 requested rate %v, want %v", r, want[1])
	}
}

// A server that is never saturated gives the probe nothing to measure: refused, nothing to write.
func TestSweepWithoutSaturationIsRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"choices":[{"text":"a b"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}`)
	}))
	defer srv.Close()
	w, err := ParseWorkload([]byte(`
load: {type: poisson, sweep: {type: geometric, num_requests: 20, timeout: 1}}
server: {model_name: m, base_url: ` + srv.URL + `}
data: {type: random, input_distribution: {min: 3, max: 3, mean: 3}, output_distribution: {min: 2, max: 2, mean: 2}}
`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), w, Options{})
	oneLine(t, "unsaturated", err, "load.sweep: the saturation probe saw the in-flight requests fall too rarely to estimate the saturation rate")
	if res != nil {
		t.Errorf("a result of %d stages after the probe failed", len(res.Stages))
	}
}

// A probe whose requests fail measures the failures, not the server: refused in one line naming
// the first failure, with no stage sent (a server answering 500, and a closed port).
func TestSweepProbeThatFailsIsRefused(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":{"message":"engine dead","type":"InternalServerError"}}`, http.StatusInternalServerError)
	}))
	defer failing.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	for name, tc := range map[string]struct{ url, want string }{
		"http 500":    {failing.URL, "load.sweep: 20 of 20 probe requests failed (the first: 500 - InternalServerError: engine dead)"},
		"closed port": {closedURL, "load.sweep: 20 of 20 probe requests failed (the first: 0 - connection_error: "},
	} {
		t.Run(name, func(t *testing.T) {
			w, err := ParseWorkload([]byte(`
load: {type: constant, sweep: {type: linear, num_requests: 20, timeout: 6}}
server: {model_name: m, base_url: ` + tc.url + `}
data: {type: random, input_distribution: {min: 3, max: 3, mean: 3}, output_distribution: {min: 2, max: 2, mean: 2}}
`))
			if err != nil {
				t.Fatal(err)
			}
			res, err := Run(context.Background(), w, Options{})
			oneLine(t, name, err, tc.want)
			if res != nil {
				t.Errorf("a result of %d stages after the probe failed", len(res.Stages))
			}
		})
	}
}
