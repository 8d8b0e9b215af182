package results

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const serverFixtures = "testdata/servermetrics"

// t0 is the fixtures' base time T (README); every time there is T + n + 0.5.
const t0 = 1764547200

func tAt(offset float64) time.Time { return time.UnixMicro(int64((t0 + offset) * 1e6)).UTC() }

func wantVal(t *testing.T, what string, got *float64, want float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s = null, want %v", what, want)
		return
	}
	if math.Abs(*got-want) > 1e-9 {
		t.Errorf("%s = %v, want %v", what, *got, want)
	}
}

func wantNil(t *testing.T, what string, got *float64) {
	t.Helper()
	if got != nil {
		t.Errorf("%s = %v, want null", what, *got)
	}
}

func TestReadServerSeriesFixture(t *testing.T) {
	s, err := ReadServerSeries(filepath.Join(serverFixtures, "stages"))
	if err != nil {
		t.Fatal(err)
	}
	if s.IntervalSeconds != 5 || len(s.Targets) != 3 || s.Targets[2].Role != RoleEPP {
		t.Errorf("header: interval %v, targets %+v", s.IntervalSeconds, s.Targets)
	}
	// sim-0: 10 lines, one a failed scrape kept with its error and no values.
	ss := s.Samples["sim-0"]
	if len(ss) != 10 || ss[3].Err == "" || ss[3].Values != nil || !ss[3].Time.Equal(tAt(23.5)) {
		t.Fatalf("sim-0 samples: %d, fourth %+v", len(ss), ss[3])
	}
	want := []StageWindow{{0, tAt(10.5), tAt(30.5)}, {1, tAt(30.5), tAt(50.5)}}
	if len(s.Stages) != 2 || s.Stages[0] != want[0] || s.Stages[1] != want[1] {
		t.Errorf("stages %+v, want %+v", s.Stages, want)
	}
}

func TestReadServerSeriesMissingFile(t *testing.T) {
	s, err := ReadServerSeries(t.TempDir())
	if s != nil || err != nil {
		t.Fatalf("got %v, %v; want nil, nil", s, err)
	}
}

func TestReadServerSeriesCorruptLine(t *testing.T) {
	dir := filepath.Join(serverFixtures, "corrupt")
	_, err := ReadServerSeries(dir)
	if !errors.Is(err, ErrServerMetricsFormat) || !strings.Contains(err.Error(), filepath.Join(dir, ServerMetricsFile)+":3:") {
		t.Fatalf("error %v, want one naming %s:3", err, ServerMetricsFile)
	}
}

func TestReadServerSeriesBadLines(t *testing.T) {
	header := `{"kind":"header","format":"llmdbench.server-metrics/v1","interval_seconds":5}` + "\n"
	for _, c := range []struct{ name, text, want string }{
		{"other format", `{"kind":"header","format":"llmdbench.server-metrics/v2"}`, ":1: "},
		{"sample without time", header + `{"kind":"sample","pod":"p","values":{}}`, ":2: "},
		{"sample without pod", header + `{"kind":"sample","time":5}`, ":2: "},
		{"stage without number", header + `{"kind":"stage","event":"start","time":5}`, ":2: "},
		{"unknown event", header + `{"kind":"stage","stage":0,"event":"pause","time":5}`, ":2: "},
		{"end before start", header + `{"kind":"stage","stage":0,"event":"end","time":5}`, ":2: "},
		{"started twice", header + `{"kind":"stage","stage":0,"event":"start","time":5}` + "\n" + `{"kind":"stage","stage":0,"event":"start","time":6}`, ":3: "},
		{"not an object", header + "\n" + `[1,2]`, ":3: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, ServerMetricsFile), []byte(c.text+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadServerSeries(dir)
			if !errors.Is(err, ErrServerMetricsFormat) || !strings.Contains(err.Error(), ServerMetricsFile+c.want) {
				t.Fatalf("error %v, want ErrServerMetricsFormat at %s", err, c.want)
			}
		})
	}
}

// The expected numbers are the fixture's hand-chosen values (README) worked out by hand, and
// checked once with a python3 script that reads the fixture and applies the documented rules
// independently (gauges: mean/max inside [start, end]; counters: last at/before start to first
// at/after end, a drop counted as a restart from 0).
func TestServerStagesFixture(t *testing.T) {
	s, err := ReadServerSeries(filepath.Join(serverFixtures, "stages"))
	if err != nil {
		t.Fatal(err)
	}
	st := ServerStages(s)
	if len(st) != 2 {
		t.Fatalf("%d stages, want 2", len(st))
	}
	s0 := st[0]
	if s0.Stage != 0 || !s0.Start.Equal(tAt(10.5)) || !s0.End.Equal(tAt(30.5)) || len(s0.Pods) != 3 {
		t.Fatalf("stage 0: %d [%v, %v], %d pods", s0.Stage, s0.Start, s0.End, len(s0.Pods))
	}
	if s0.Pods[0].Pod != "sim-0" || s0.Pods[1].Pod != "sim-1" || s0.Pods[2].Pod != "epp-0" || s0.Pods[2].Role != RoleEPP {
		t.Errorf("pods not in target order: %s %s %s", s0.Pods[0].Pod, s0.Pods[1].Pod, s0.Pods[2].Pod)
	}

	// Stage 0, sim-0: inside T+13.5, 18.5, 28.5 (23.5 failed) → 3 samples.
	p := s0.Pods[0]
	if p.Samples != 3 {
		t.Errorf("stage 0 sim-0 samples %d, want 3", p.Samples)
	}
	wantVal(t, "s0 sim-0 kv mean", p.KVCacheUsageMean, 0.2) // (0.1+0.2+0.3)/3
	wantVal(t, "s0 sim-0 kv max", p.KVCacheUsageMax, 0.3)
	wantVal(t, "s0 sim-0 running mean", p.RunningMean, 10.0/3) // (2+4+4)/3
	wantVal(t, "s0 sim-0 running max", p.RunningMax, 4)
	wantVal(t, "s0 sim-0 waiting mean", p.WaitingMean, 4.0/3) // (0+1+3)/3
	wantVal(t, "s0 sim-0 waiting max", p.WaitingMax, 3)
	// Counters from T+8.5 (last at/before start) to T+33.5 (first at/after end): 25 s.
	wantVal(t, "s0 sim-0 hits", p.PrefixCacheHits, 400)       // 400-0
	wantVal(t, "s0 sim-0 queries", p.PrefixCacheQueries, 900) // 900-0
	wantVal(t, "s0 sim-0 hit rate", p.PrefixCacheHitRate, 400.0/900)
	wantVal(t, "s0 sim-0 prompt tok/s", p.PromptTokensPerSec, 40)  // (2000-1000)/25
	wantVal(t, "s0 sim-0 gen tok/s", p.GenerationTokensPerSec, 32) // (1300-500)/25
	wantNil(t, "s0 sim-0 preemptions (not exposed)", p.Preemptions)

	// Stage 0, sim-1 (vllm:gpu_cache_usage_perc): inside T+14.5 .. 29.5 → 4 samples.
	p = s0.Pods[1]
	if p.Samples != 4 {
		t.Errorf("stage 0 sim-1 samples %d, want 4", p.Samples)
	}
	wantVal(t, "s0 sim-1 kv mean", p.KVCacheUsageMean, 0.525) // (0.6+0.7+0.4+0.4)/4
	wantVal(t, "s0 sim-1 kv max", p.KVCacheUsageMax, 0.7)
	wantVal(t, "s0 sim-1 running mean", p.RunningMean, 3) // (3+5+2+2)/4
	wantVal(t, "s0 sim-1 running max", p.RunningMax, 5)
	wantVal(t, "s0 sim-1 waiting mean", p.WaitingMean, 1) // (2+0+1+1)/4
	wantVal(t, "s0 sim-1 waiting max", p.WaitingMax, 2)
	wantVal(t, "s0 sim-1 preemptions", p.Preemptions, 3)           // 3-0, T+9.5 → T+34.5
	wantVal(t, "s0 sim-1 prompt tok/s", p.PromptTokensPerSec, 44)  // 1100/25
	wantVal(t, "s0 sim-1 gen tok/s", p.GenerationTokensPerSec, 28) // 700/25
	wantNil(t, "s0 sim-1 hits", p.PrefixCacheHits)
	wantNil(t, "s0 sim-1 hit rate", p.PrefixCacheHitRate)

	// The EPP: scraped (T+10.5 and T+30.5 fall in the window, ends included) but no vllm: metric.
	p = s0.Pods[2]
	if p.Samples != 2 {
		t.Errorf("stage 0 epp samples %d, want 2", p.Samples)
	}
	for name, v := range map[string]*float64{"kv": p.KVCacheUsageMean, "running": p.RunningMean, "gen": p.GenerationTokensPerSec, "hits": p.PrefixCacheHits} {
		wantNil(t, "s0 epp "+name, v)
	}

	// All over sim-0 and sim-1 (the EPP is not an engine).
	a := s0.All
	if a.Pod != "all" || a.Samples != 7 {
		t.Errorf("stage 0 all: pod %q samples %d, want all, 7", a.Pod, a.Samples)
	}
	wantVal(t, "s0 all kv mean", a.KVCacheUsageMean, 0.3625) // (0.2+0.525)/2
	wantVal(t, "s0 all kv max", a.KVCacheUsageMax, 0.7)
	wantVal(t, "s0 all running mean", a.RunningMean, 10.0/3+3)
	// Sums of the latest values at 14.5: 2+3, 18.5: 4+3, 19.5: 4+5, 24.5: 4+2, 28.5, 29.5: 4+2
	// (13.5 skipped: sim-1 has no sample inside yet).
	wantVal(t, "s0 all running max", a.RunningMax, 9)
	wantVal(t, "s0 all waiting mean", a.WaitingMean, 4.0/3+1)
	wantVal(t, "s0 all waiting max", a.WaitingMax, 4) // 28.5: 3+1
	wantVal(t, "s0 all prompt tok/s", a.PromptTokensPerSec, 84)
	wantVal(t, "s0 all gen tok/s", a.GenerationTokensPerSec, 60)
	wantNil(t, "s0 all hits (sim-1 has none)", a.PrefixCacheHits)
	wantNil(t, "s0 all hit rate", a.PrefixCacheHitRate)
	wantNil(t, "s0 all preemptions (sim-0 has none)", a.Preemptions)

	// Stage 1: sim-0 restarted between T+33.5 and T+38.5 (its counters drop).
	s1 := st[1]
	p = s1.Pods[0]
	if p.Samples != 4 {
		t.Errorf("stage 1 sim-0 samples %d, want 4", p.Samples)
	}
	wantVal(t, "s1 sim-0 kv mean", p.KVCacheUsageMean, 0.2125) // (0.4+0.05+0.15+0.25)/4
	wantVal(t, "s1 sim-0 running mean", p.RunningMean, 3.75)   // (6+1+3+5)/4
	wantVal(t, "s1 sim-0 waiting max", p.WaitingMax, 4)
	// From T+28.5 to T+53.5; hits 300→400 (+100) →20 (restart: +20) →80 (+60) →180 (+100) →200 (+20).
	wantVal(t, "s1 sim-0 hits", p.PrefixCacheHits, 300)
	// Queries 700→900 (+200) →100 (+100) →300 (+200) →500 (+200) →600 (+100).
	wantVal(t, "s1 sim-0 queries", p.PrefixCacheQueries, 800)
	wantVal(t, "s1 sim-0 hit rate", p.PrefixCacheHitRate, 0.375)
	// Prompt 1800→2000 (+200) →100 (+100) →400 →700 (+300 +300) →800 (+100) = 1000 over 25 s.
	wantVal(t, "s1 sim-0 prompt tok/s", p.PromptTokensPerSec, 40)
	// Generation 1100→1300 (+200) →50 (+50) →250 →450 (+200 +200) →500 (+50) = 700 over 25 s.
	wantVal(t, "s1 sim-0 gen tok/s", p.GenerationTokensPerSec, 28)

	p = s1.Pods[1] // inside 34.5, 44.5, 49.5 (39.5 failed)
	if p.Samples != 3 {
		t.Errorf("stage 1 sim-1 samples %d, want 3", p.Samples)
	}
	wantVal(t, "s1 sim-1 kv mean", p.KVCacheUsageMean, 1.0/3) // (0.2+0.5+0.3)/3
	wantVal(t, "s1 sim-1 preemptions", p.Preemptions, 1)      // 3 → 4
	wantVal(t, "s1 sim-1 gen tok/s", p.GenerationTokensPerSec, 20)

	a = s1.All
	wantVal(t, "s1 all kv mean", a.KVCacheUsageMean, (0.2125+1.0/3)/2)
	wantVal(t, "s1 all kv max", a.KVCacheUsageMax, 0.5)
	wantVal(t, "s1 all running max", a.RunningMax, 9)            // 48.5: 5+4
	wantVal(t, "s1 all waiting max", a.WaitingMax, 6)            // 48.5: 4+2
	wantVal(t, "s1 all prompt tok/s", a.PromptTokensPerSec, 76)  // 40+36
	wantVal(t, "s1 all gen tok/s", a.GenerationTokensPerSec, 48) // 28+20
}

// Without stage events the whole run is one window, Stage -1, first to last sample.
func TestServerStagesWholeRun(t *testing.T) {
	s, err := ReadServerSeries(filepath.Join(serverFixtures, "nostages"))
	if err != nil {
		t.Fatal(err)
	}
	st := ServerStages(s)
	if len(st) != 1 || st[0].Stage != -1 || !st[0].Start.Equal(tAt(100)) || !st[0].End.Equal(tAt(115)) {
		t.Fatalf("got %+v, want one window -1 [T+100, T+115]", st)
	}
	p := st[0].Pods[0]
	if p.Samples != 3 { // T+110 failed
		t.Errorf("samples %d, want 3", p.Samples)
	}
	wantVal(t, "running mean", p.RunningMean, 2) // (1+3+2)/3
	wantVal(t, "running max", p.RunningMax, 3)
	wantVal(t, "gen tok/s", p.GenerationTokensPerSec, 250.0/15) // (250-0)/(115-100)
	wantNil(t, "prompt tok/s (not exposed)", p.PromptTokensPerSec)
	wantNil(t, "kv mean (not exposed)", p.KVCacheUsageMean)
	wantVal(t, "all running max", st[0].All.RunningMax, 3)
	wantVal(t, "all gen tok/s", st[0].All.GenerationTokensPerSec, 250.0/15)
}

func writeSeries(t *testing.T, lines ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ServerMetricsFile), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A stage that never ended runs to the last sample; a rate needs two samples; a stage in which
// no query was counted has no hit rate (not 0), but its hits and queries are 0 as counted.
func TestServerStagesEdges(t *testing.T) {
	dir := writeSeries(t,
		`{"kind":"header","format":"llmdbench.server-metrics/v1","interval_seconds":5,"targets":[{"pod":"a","role":"model-server"}]}`,
		`{"kind":"stage","stage":0,"event":"start","time":100}`,
		`{"kind":"sample","time":101,"pod":"a","values":{"vllm:generation_tokens_total":10,"vllm:prefix_cache_hits_total":5,"vllm:prefix_cache_queries_total":8}}`,
		`{"kind":"sample","time":106,"pod":"a","values":{"vllm:generation_tokens_total":30,"vllm:prefix_cache_hits_total":5,"vllm:prefix_cache_queries_total":8}}`,
		`{"kind":"stage","stage":0,"event":"end","time":107}`,
		`{"kind":"stage","stage":1,"event":"start","time":107}`,
		`{"kind":"sample","time":111,"pod":"a","values":{"vllm:num_requests_running":2}}`,
	)
	s, err := ReadServerSeries(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Stages) != 2 || !s.Stages[1].End.IsZero() {
		t.Fatalf("stages %+v: want stage 1 with a zero End", s.Stages)
	}
	st := ServerStages(s)
	// Stage 0: generation from 101 (first inside) to 106 (last inside): 20 tokens in 5 s.
	p := st[0].Pods[0]
	wantVal(t, "s0 gen tok/s", p.GenerationTokensPerSec, 4)
	wantVal(t, "s0 queries", p.PrefixCacheQueries, 0)
	wantNil(t, "s0 hit rate (no query)", p.PrefixCacheHitRate)
	// Stage 1 runs to T=111: generation from 106 (at/before start) but none at/after 111 nor
	// inside with the metric: null.
	if !st[1].End.Equal(time.Unix(111, 0)) {
		t.Errorf("stage 1 end %v, want 111", st[1].End)
	}
	wantNil(t, "s1 gen tok/s", st[1].Pods[0].GenerationTokensPerSec)
	wantVal(t, "s1 running mean", st[1].Pods[0].RunningMean, 2)

	if ServerStages(nil) != nil {
		t.Error("a nil series has stages")
	}
	empty, err := ReadServerSeries(writeSeries(t, `{"kind":"header","format":"llmdbench.server-metrics/v1"}`))
	if err != nil || ServerStages(empty) != nil {
		t.Errorf("a series without samples: %v, %v", ServerStages(empty), err)
	}
}

func TestServerValueAliases(t *testing.T) {
	if v, ok := ServerValue(map[string]float64{"vllm:gpu_prefix_cache_hits_total": 7}, MetricPrefixHits); !ok || v != 7 {
		t.Errorf("old vLLM name: %v %v", v, ok)
	}
	if v, ok := ServerValue(map[string]float64{"vllm:num_preemptions": 2}, MetricPreemptions); !ok || v != 2 {
		t.Errorf("preemptions alias: %v %v", v, ok)
	}
	if _, ok := ServerValue(map[string]float64{"vllm:kv_cache_usage_perc": 0}, MetricRunning); ok {
		t.Error("found a metric the sample does not hold")
	}
	if v, ok := ServerValue(map[string]float64{"inference_x": 3}, "inference_x"); !ok || v != 3 {
		t.Errorf("a name without aliases: %v %v", v, ok)
	}
}

// ReadDir fills Report.ServerMetrics from the folder's series, and the series (a .jsonl file) is
// not mistaken for a vLLM or GuideLLM result: case 04's two vLLM stages stay two.
func TestReadDirServerMetrics(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vllm")
	copyDir(t, "testdata/cases/04-vllm-append-result-jsonl", dir)
	plain, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if plain.ServerMetrics != nil {
		t.Errorf("server metrics without a series: %+v", plain.ServerMetrics)
	}
	b, err := os.ReadFile(filepath.Join(serverFixtures, "stages", ServerMetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ServerMetricsFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Stages) != 2 || len(r.ServerMetrics) != 2 {
		t.Fatalf("%d stages, %d server metrics stages; want 2 and 2", len(r.Stages), len(r.ServerMetrics))
	}
	wantVal(t, "stage 1 all gen tok/s", r.ServerMetrics[1].All.GenerationTokensPerSec, 48) // as in TestServerStagesFixture
	// A corrupt series fails the read, naming its line.
	if err := os.WriteFile(filepath.Join(dir, ServerMetricsFile), []byte("{\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadDir(dir); !errors.Is(err, ErrServerMetricsFormat) || !strings.Contains(err.Error(), ServerMetricsFile+":1:") {
		t.Errorf("corrupt series: %v", err)
	}
}

// A last line without its newline that is not JSON yet is being written: left out. The same
// text with its newline is a corrupt line.
func TestReadServerSeriesLineBeingWritten(t *testing.T) {
	lines := []string{
		`{"kind":"header","format":"llmdbench.server-metrics/v1"}`,
		`{"kind":"sample","time":100,"pod":"a","values":{"vllm:num_requests_running":1}}`,
	}
	dir := t.TempDir()
	text := strings.Join(lines, "\n") + "\n" + `{"kind":"sample","time":105,"pod":"a","val`
	if err := os.WriteFile(filepath.Join(dir, ServerMetricsFile), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ReadServerSeries(dir)
	if err != nil || len(s.Samples["a"]) != 1 {
		t.Fatalf("%v, %+v: want the one complete sample", err, s)
	}
	if err := os.WriteFile(filepath.Join(dir, ServerMetricsFile), []byte(text+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadServerSeries(dir); !errors.Is(err, ErrServerMetricsFormat) || !strings.Contains(err.Error(), ":3: ") {
		t.Errorf("a complete corrupt last line: %v", err)
	}
	// A complete last line without a newline is read.
	if err := os.WriteFile(filepath.Join(dir, ServerMetricsFile), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := ReadServerSeries(dir); err != nil || len(s.Samples["a"]) != 1 {
		t.Errorf("%v, %+v", err, s)
	}
}

// A counter absent before the pod's first request (the simulator creates its counters on their
// first increment) counts from 0 in the samples before it appears.
func TestServerStagesCounterAppears(t *testing.T) {
	dir := writeSeries(t,
		`{"kind":"header","format":"llmdbench.server-metrics/v1","targets":[{"pod":"a","role":"model-server"}]}`,
		`{"kind":"sample","time":100,"pod":"a","values":{"vllm:num_requests_running":0}}`,
		`{"kind":"stage","stage":0,"event":"start","time":101}`,
		`{"kind":"sample","time":106,"pod":"a","values":{"vllm:num_requests_running":2,"vllm:generation_tokens_total":50}}`,
		`{"kind":"sample","time":111,"pod":"a","values":{"vllm:num_requests_running":1,"vllm:generation_tokens_total":80}}`,
		`{"kind":"stage","stage":0,"event":"end","time":112}`,
		`{"kind":"sample","time":116,"pod":"a","values":{"vllm:num_requests_running":0,"vllm:generation_tokens_total":100}}`,
	)
	s, err := ReadServerSeries(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := ServerStages(s)[0].Pods[0]
	// From T=100 (0: not created yet) to 116 (first at/after the end): 100 tokens in 16 s.
	wantVal(t, "gen tok/s", p.GenerationTokensPerSec, 6.25)
	wantNil(t, "prompt tok/s (never exposed)", p.PromptTokensPerSec)
}
