package scrape

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

// fakeClock's Now advances 1 s per call from a fixed instant, so every line's time is known; its
// ticker ticks when the test sends on ticks.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	ticks chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(1764547200, 0), ticks: make(chan time.Time)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

func (c *fakeClock) NewTicker(time.Duration) (<-chan time.Time, func()) { return c.ticks, func() {} }

// server serves testdata/sim-v0.10.2.prom at /ok, a 503 at /down, and at /hang nothing until the
// client gives up.
func server(t *testing.T) *httptest.Server {
	t.Helper()
	text, err := os.ReadFile("testdata/sim-v0.10.2.prom")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Accept"), "text/plain;version=0.0.4") {
			http.Error(w, "wrong Accept "+r.Header.Get("Accept"), http.StatusNotAcceptable)
			return
		}
		_, _ = w.Write(text)
	})
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "engine\nnot ready", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/garbage", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>oops</html>\n")) })
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func target(pod, url string) results.ServerTarget {
	return results.ServerTarget{Namespace: "ns", Pod: pod, Role: results.RoleModelServer, URL: url, Via: "direct"}
}

func readLines(t *testing.T, dir string) []results.ServerMetricsLine {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, results.ServerMetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var lines []results.ServerMetricsLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l results.ServerMetricsLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %d %q: %v", len(lines)+1, sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

// The fake clock starts at 1764547200 and each Now adds 1 s.
const t0 = 1764547200

func TestScraperStagesWithoutRun(t *testing.T) {
	srv := server(t)
	dir := t.TempDir()
	targets := []results.ServerTarget{target("sim-0", srv.URL+"/ok"), target("sim-1", srv.URL+"/down")}
	s, err := New(dir, targets, 5*time.Second, HTTPFetcher(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock()
	s.clock = clk
	ctx := context.Background()
	s.Stage(ctx, 0, results.StageEventStart) // time t0+1; its snapshot waits for Close
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.Stage(ctx, 0, results.StageEventEnd) // after Close: nothing
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	lines := readLines(t, dir)
	if len(lines) != 4 {
		t.Fatalf("%d lines, want header, stage, 2 samples: %+v", len(lines), lines)
	}
	h := lines[0]
	if h.Kind != results.ServerLineHeader || h.Format != results.ServerMetricsFormat || h.IntervalSeconds != 5 || len(h.Targets) != 2 || h.Targets[1] != targets[1] {
		t.Errorf("header = %+v", h)
	}
	if st := lines[1]; st.Kind != results.ServerLineStage || st.Stage == nil || *st.Stage != 0 || st.Event != "start" || st.Time != t0+1 {
		t.Errorf("stage line = %+v", st)
	}
	// The two fetches start in parallel: their times are t0+2 and t0+3 in either order.
	ok, down := lines[2], lines[3]
	if ok.Pod != "sim-0" || down.Pod != "sim-1" {
		t.Fatalf("samples are not in target order: %+v", lines[2:])
	}
	if ok.Time+down.Time != 2*t0+5 || ok.Time == down.Time {
		t.Errorf("sample times %v and %v, want t0+2 and t0+3", ok.Time, down.Time)
	}
	if ok.Error != "" {
		t.Errorf("sim-0 error %q", ok.Error)
	}
	assertValues(t, ok.Values, simWant)
	if want := "HTTP 503 Service Unavailable: engine not ready"; !strings.Contains(down.Error, want) || down.Values != nil {
		t.Errorf("sim-1 = %+v, want an error with %q and no values", down, want)
	}
	// The raw text of the pod that answered is kept byte for byte; none for the one that failed.
	raw, err := os.ReadFile(filepath.Join(dir, results.ServerSnapshotDir, "stage_0_start_sim-0.prom"))
	want, _ := os.ReadFile("testdata/sim-v0.10.2.prom")
	if err != nil || string(raw) != string(want) {
		t.Errorf("snapshot: %d bytes, %v; want the %d bytes served", len(raw), err, len(want))
	}
	if _, err := os.Stat(filepath.Join(dir, results.ServerSnapshotDir, "stage_0_start_sim-1.prom")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed scrape left a snapshot: %v", err)
	}
}

func TestScraperRun(t *testing.T) {
	srv := server(t)
	dir := t.TempDir()
	targets := []results.ServerTarget{target("sim-0", srv.URL+"/ok"), target("epp", srv.URL+"/garbage")}
	targets[1].Role = results.RoleEPP
	s, err := New(dir, targets, time.Second, HTTPFetcher(nil))
	if err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock()
	s.clock = clk
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	clk.ticks <- time.Time{} // received once the first round is written: round 2 runs
	s.Stage(ctx, 3, results.StageEventEnd)
	clk.ticks <- time.Time{} // round 3 (the snapshot runs before it or after it)
	clk.ticks <- time.Time{} // round 4; received only after round 3 and the snapshot are done
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, dir)
	// header, 4 rounds and a snapshot of 2 samples each, a stage line
	if len(lines) != 1+5*2+1 {
		t.Fatalf("%d lines: %+v", len(lines), lines)
	}
	var samples, stages int
	last := map[string]float64{}
	for i, l := range lines[1:] {
		switch l.Kind {
		case results.ServerLineStage:
			stages++
			if *l.Stage != 3 || l.Event != "end" {
				t.Errorf("stage line %+v", l)
			}
		case results.ServerLineSample:
			samples++
			if l.Time <= last[l.Pod] {
				t.Errorf("line %d: pod %s's time %v is not after %v", i+2, l.Pod, l.Time, last[l.Pod])
			}
			last[l.Pod] = l.Time
			switch l.Pod {
			case "sim-0":
				if l.Error != "" || l.Values["vllm:prefix_cache_hits"] != 1152 {
					t.Errorf("sim-0 sample %+v", l)
				}
			case "epp":
				if !strings.HasPrefix(l.Error, "metrics text: ") || l.Values != nil {
					t.Errorf("epp sample %+v, want a parse error", l)
				}
			}
		default:
			t.Errorf("line %d kind %q", i+2, l.Kind)
		}
	}
	if samples != 10 || stages != 1 {
		t.Errorf("%d samples and %d stage lines, want 10 and 1", samples, stages)
	}
	// The garbage page is kept too: the raw text shows why it did not parse.
	for _, pod := range []string{"sim-0", "epp"} {
		if _, err := os.Stat(filepath.Join(dir, results.ServerSnapshotDir, "stage_3_end_"+pod+".prom")); err != nil {
			t.Error(err)
		}
	}
}

func TestScraperTimeout(t *testing.T) {
	srv := server(t)
	dir := t.TempDir()
	s, err := New(dir, []results.ServerTarget{target("slow", srv.URL+"/hang")}, 100*time.Millisecond, HTTPFetcher(nil))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.Stage(context.Background(), 0, results.StageEventStart)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// 4/5 of 100 ms; generous upper bound for a loaded machine.
	if d := time.Since(start); d < 80*time.Millisecond || d > 5*time.Second {
		t.Errorf("the hanging scrape took %s, want the 80 ms timeout", d)
	}
	lines := readLines(t, dir)
	if l := lines[len(lines)-1]; !strings.Contains(l.Error, "context deadline exceeded") {
		t.Errorf("last line %+v, want a timeout error", l)
	}
}

func TestScraperCancelledStage(t *testing.T) {
	srv := server(t)
	dir := t.TempDir()
	s, err := New(dir, []results.ServerTarget{target("sim-0", srv.URL+"/ok")}, time.Second, HTTPFetcher(nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Stage(ctx, 1, results.StageEventEnd)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, dir)
	if l := lines[len(lines)-1]; !strings.Contains(l.Error, "context canceled") {
		t.Errorf("last line %+v, want a cancelled scrape", l)
	}
}

func TestScraperBadStage(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, []results.ServerTarget{target("sim-0", "http://127.0.0.1:1/metrics")}, time.Second, HTTPFetcher(nil))
	if err != nil {
		t.Fatal(err)
	}
	s.Stage(context.Background(), 0, "middle")
	s.Stage(context.Background(), -1, results.StageEventStart)
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), `"middle"`) {
		t.Fatalf("Close = %v, want the first bad stage event", err)
	}
	if lines := readLines(t, dir); len(lines) != 1 {
		t.Errorf("%d lines, want only the header", len(lines))
	}
}

func TestNewRefuses(t *testing.T) {
	ok := target("sim-0", "http://127.0.0.1:1/metrics")
	existing := t.TempDir()
	if err := os.WriteFile(filepath.Join(existing, results.ServerMetricsFile), []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := func(mod func(*results.ServerTarget)) []results.ServerTarget {
		t := ok
		mod(&t)
		return []results.ServerTarget{t}
	}
	for name, c := range map[string]struct {
		dir      string
		targets  []results.ServerTarget
		interval time.Duration
		f        Fetcher
		want     string
	}{
		"no dir":        {"", []results.ServerTarget{ok}, time.Second, HTTPFetcher(nil), "no result folder"},
		"zero interval": {t.TempDir(), []results.ServerTarget{ok}, 0, HTTPFetcher(nil), "interval must be positive"},
		"no fetcher":    {t.TempDir(), []results.ServerTarget{ok}, time.Second, nil, "no fetcher"},
		"no targets":    {t.TempDir(), nil, time.Second, HTTPFetcher(nil), "no target"},
		"twice":         {t.TempDir(), []results.ServerTarget{ok, ok}, time.Second, HTTPFetcher(nil), "listed twice"},
		"slash pod":     {t.TempDir(), bad(func(t *results.ServerTarget) { t.Pod = "../x" }), time.Second, HTTPFetcher(nil), "not a pod name"},
		"no url":        {t.TempDir(), bad(func(t *results.ServerTarget) { t.URL = "" }), time.Second, HTTPFetcher(nil), "URL is empty"},
		"role":          {t.TempDir(), bad(func(t *results.ServerTarget) { t.Role = "server" }), time.Second, HTTPFetcher(nil), `role "server"`},
		"existing file": {existing, []results.ServerTarget{ok}, time.Second, HTTPFetcher(nil), "already exists"},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := New(c.dir, c.targets, c.interval, c.f)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New = %v, %v; want an error with %q", s, err, c.want)
			}
		})
	}
	if data, _ := os.ReadFile(filepath.Join(existing, results.ServerMetricsFile)); string(data) != "old\n" {
		t.Errorf("the existing file was changed: %q", data)
	}
}

func TestHTTPFetcherLimit(t *testing.T) {
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("# padding comment line\n", 1000))
		for n := 0; n <= MaxBody; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer big.Close()
	_, err := HTTPFetcher(nil).Fetch(context.Background(), target("big", big.URL))
	if err == nil || !strings.Contains(err.Error(), "larger than 16 MiB") {
		t.Fatalf("Fetch = %v, want the size error", err)
	}
	if _, err := HTTPFetcher(nil).Fetch(context.Background(), target("x", "://no-scheme")); err == nil || !strings.Contains(err.Error(), "pod x") {
		t.Fatalf("Fetch of a bad URL = %v", err)
	}
}
