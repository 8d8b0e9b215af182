package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func intp(v int) *int { return &v }

func TestCheckCapacityAgainstTheOpenFileLimit(t *testing.T) {
	// 1024 allowed, 8 open, 32 kept for the generator's own files: 984 for connections.
	lim := &FileLimit{Soft: 1024, Hard: 1024, Open: 8}
	if got := lim.available(); got != 984 {
		t.Fatalf("available %d, want 984", got)
	}
	conc := Load{Type: LoadConcurrent}
	_, err := checkCapacity(conc, []Stage{{NumRequests: 100, ConcurrencyLevel: 10}, {NumRequests: 3000, ConcurrencyLevel: 1500}}, "load.stages[%d]", lim)
	oneLine(t, "concurrent 1500", err, "load.stages[1] needs up to 1500 connections but only 984 file descriptors are available (ulimit -n 1024, hard limit 1024)")
	if w, err := checkCapacity(conc, []Stage{{NumRequests: 3000, ConcurrencyLevel: 984}}, "load.stages[%d]", lim); err != nil || w != nil {
		t.Errorf("concurrency 984 of 984: %v %v", w, err)
	}

	rate := Stage{Rate: 50, Duration: 60} // 3000 requests
	for _, tc := range []struct {
		name string
		load Load
		err  string // "" = accepted
		warn string
	}{
		// rate × request_timeout = 50 × 30 = 1500 in flight at worst: refused.
		{"timeout 30", Load{Type: LoadConstant, RequestTimeout: 30}, "load.stages[0] needs up to 1500 connections", ""},
		// 50 × 10 = 500: fits.
		{"timeout 10", Load{Type: LoadPoisson, RequestTimeout: 10}, "", ""},
		// No bound: answers slower than 30 s would need 50 × 30 = 1500: a warning, not a refusal.
		{"no timeout", Load{Type: LoadConstant}, "", "load.stages[0] at 50 req/s would hold more than the 984 connections the open-file limit leaves (ulimit -n 1024) if answers took over 30 s"},
		// inference-perf's worker pool: 2 × min(600, 2500) = 1200 in flight.
		{"workers", Load{Type: LoadConstant, NumWorkers: intp(2), WorkerMaxConcurrency: intp(600)}, "load.stages[0] needs up to 1200 connections", ""},
		// 4 × min(10, 5) = 20.
		{"tcp connections", Load{Type: LoadConstant, NumWorkers: intp(4), WorkerMaxConcurrency: intp(10), WorkerMaxTCPConnections: intp(5)}, "", ""},
	} {
		warnings, err := checkCapacity(tc.load, []Stage{rate}, "load.stages[%d]", lim)
		switch {
		case tc.err != "":
			oneLine(t, tc.name, err, tc.err)
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.warn == "" && len(warnings) > 0, tc.warn != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], tc.warn)):
			t.Errorf("%s: warnings %q, want %q", tc.name, warnings, tc.warn)
		}
	}
	if got := inflightCap(Load{NumWorkers: intp(4), WorkerMaxConcurrency: intp(10), WorkerMaxTCPConnections: intp(5)}); got != 20 {
		t.Errorf("cap %d, want 4 × min(10, 5) = 20", got)
	}
	if got := inflightCap(Load{}); got != 0 {
		t.Errorf("cap %d without any worker key, want none", got)
	}
	// Unknown limit: nothing to check; more open than allowed: nothing left.
	if _, err := checkCapacity(conc, []Stage{{NumRequests: 1, ConcurrencyLevel: 1 << 20}}, "load.stages[%d]", nil); err != nil {
		t.Errorf("unknown limit: %v", err)
	}
	if got := (FileLimit{Soft: 64, Open: 100}).available(); got != 0 {
		t.Errorf("available %d with more open than allowed", got)
	}
}

// The refusal comes before the first request.
func TestRunRefusesALoadBeyondTheFileLimit(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	w, err := ParseWorkload([]byte(`
load: {type: concurrent, stages: [{num_requests: 10, concurrency_level: 2}, {num_requests: 3000, concurrency_level: 1500}]}
api: {type: completion}
server: {model_name: m, base_url: ` + srv.URL + `}
data: {type: random, input_distribution: {min: 3, max: 3, mean: 3}, output_distribution: {min: 2, max: 2, mean: 2}}
`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), w, Options{Files: &FileLimit{Soft: 1024, Hard: 1024, Open: 24}})
	oneLine(t, "run", err, "load.stages[1] needs up to 1500 connections but only 968 file descriptors are available (ulimit -n 1024, hard limit 1024)")
	if res != nil || hits.Load() != 0 {
		t.Errorf("result %v and %d requests after a refusal", res, hits.Load())
	}
	// A sweep's probe sends num_requests at once at worst (default 2000).
	w.Load.Type, w.Load.Stages, w.Load.Sweep = LoadConstant, nil, &Sweep{Type: SweepLinear, NumRequests: 2000, Timeout: 60, NumStages: 2, StageDuration: 1, SaturationPercentile: 95}
	_, err = Run(context.Background(), w, Options{Files: &FileLimit{Soft: 1024, Hard: 1024, Open: 24}})
	oneLine(t, "sweep", err, "load.sweep's saturation probe needs up to 2000 connections but only 968 file descriptors are available")
}

// num_workers × worker_max_concurrency caps the requests in flight in a rate stage; the wait
// shows as schedule delay.
func TestWorkerPoolCapsInflightRequests(t *testing.T) {
	var inflight, peak atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(100 * time.Millisecond)
		inflight.Add(-1)
		fmt.Fprint(w, `{"choices":[{"text":"a b"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}`)
	}))
	defer srv.Close()
	profile := `
load: {type: constant, stages: [{rate: 100, duration: 0.3}]%s}
api: {type: completion}
server: {model_name: m, base_url: ` + srv.URL + `}
data: {type: random, input_distribution: {min: 3, max: 3, mean: 3}, output_distribution: {min: 2, max: 2, mean: 2}}
`
	w, err := ParseWorkload(fmt.Appendf(nil, profile, ", num_workers: 1, worker_max_concurrency: 3"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), w, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sent, failed := res.Counts(); sent != 30 || failed != 0 || peak.Load() != 3 {
		t.Fatalf("%d sent, %d failed, peak in flight %d; want 30, 0, 3", sent, failed, peak.Load())
	}
	// 30 requests, 3 at a time, 100 ms each: the last starts about 0.9 s in, 0.29 s after its time.
	s := summarize(res.Records(), 100)
	if d := s.scheduleDelay[len(s.scheduleDelay)-1]; d < 0.4 {
		t.Errorf("largest schedule delay %.3f s, want about 0.6 s", d)
	}
	// Without the worker keys the stage is open loop: about 10 in flight (100 req/s × 100 ms).
	peak.Store(0)
	w, _ = ParseWorkload(fmt.Appendf(nil, profile, ""))
	if _, err := Run(context.Background(), w, Options{}); err != nil {
		t.Fatal(err)
	}
	if peak.Load() < 6 {
		t.Errorf("open loop peak in flight %d, want about 10", peak.Load())
	}
}
