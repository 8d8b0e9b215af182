package results

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// tsRecord is one request of a hand-made per-request file in the native generator's shape.
type tsRecord struct {
	start, end float64
	times      []float64
	out        int
	stage      int
	failed     bool
}

// writeTSFile writes records as a per-request file (v0.6 layout, with info.extra_info.stage_id
// when withStage) into a new folder and returns the folder.
func writeTSFile(t *testing.T, recs []tsRecord, withStage bool) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("[\n")
	for i, r := range recs {
		times := make([]string, len(r.times))
		for j, v := range r.times {
			times[j] = fmt.Sprint(v)
		}
		extra := "{}"
		if withStage {
			extra = fmt.Sprintf(`{"stage_id":%d,"scheduled_time":%v}`, r.stage, r.start)
		}
		errv := "null"
		if r.failed {
			errv = `{"error_type":"ConnectionError","error_msg":"refused"}`
		}
		fmt.Fprintf(&b, `{"start_time":%v,"end_time":%v,"request":"{\"prompt\":\"x\"}","response":"tok","info":{"request_metrics":{"text":{"input_tokens":5}},"response_metrics":{"output_tokens":%d,"output_token_times":[%s]},"extra_info":%s},"error":%s}`,
			r.start, r.end, r.out, strings.Join(times, ","), extra, errv)
		if i < len(recs)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, runstate.PerRequestFile), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

var tsRecords = []tsRecord{
	{start: 10.0, end: 10.5, times: []float64{10.2, 10.3, 10.45}, out: 3, stage: 0},
	{start: 10.1, end: 10.9, times: []float64{10.4, 10.6, 10.7, 10.85}, out: 4, stage: 0},
	{start: 10.6, end: 11.2, times: []float64{10.9, 11.0}, out: 2, stage: 0},
	{start: 11.0, end: 11.1, stage: 1, failed: true},
	{start: 11.5, end: 13.25, times: []float64{12.0, 12.5, 13.0}, out: 3, stage: 1},
	{start: 11.8, end: 12.2, times: []float64{12.1}, out: 1, stage: 1}, // one token time: no TTFT or ITL
}

func tsNear(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestClientTimeSeries(t *testing.T) {
	dir := writeTSFile(t, tsRecords, true)
	ts, err := ClientTimeSeriesDir(context.Background(), dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Expected values computed once with python3 from the records above (origin = min start = 10,
	// bucket k = floor(end - 10), the last bucket cut at the last end 13.25; percentiles by
	// numpy's linear rule, written out by hand:
	//   def pct(v,p): v=sorted(v); r=p/100*(len(v)-1); lo,hi=floor(r),ceil(r); return v[lo]+(v[hi]-v[lo])*(r-lo)
	// bucket 0: 2 done, 7 tokens; TTFT [0.2, 0.3] -> p50 0.25, p90 0.29;
	//           ITL [.1,.15,.2,.1,.15] -> p50 0.15, p90 0.18
	// bucket 1: 1 done, 1 failed, 2 tokens; TTFT 0.3; ITL 0.1
	// bucket 2: 1 done (one token time), 1 token; no TTFT, no ITL
	// bucket 3: 0.25 s wide; 1 done -> 4 req/s, 3 tokens -> 12 tok/s; TTFT 0.5; ITL [.5,.5]
	if ts.Origin != 10 || ts.BucketSeconds != 1 || len(ts.Buckets) != 4 {
		t.Fatalf("origin %v width %v buckets %d", ts.Origin, ts.BucketSeconds, len(ts.Buckets))
	}
	type want struct {
		start, seconds float64
		done, failed   int
		rps, tps       float64
		ttft50, ttft90 *float64
		itl50, itl90   *float64
	}
	wants := []want{
		{0, 1, 2, 0, 2, 7, f64(0.25), f64(0.29), f64(0.15), f64(0.18)},
		{1, 1, 1, 1, 1, 2, f64(0.3), f64(0.3), f64(0.1), f64(0.1)},
		{2, 1, 1, 0, 1, 1, nil, nil, nil, nil},
		{3, 0.25, 1, 0, 4, 12, f64(0.5), f64(0.5), f64(0.5), f64(0.5)},
	}
	same := func(got *float64, want *float64) bool {
		if got == nil || want == nil {
			return got == nil && want == nil
		}
		return tsNear(*got, *want)
	}
	for i, w := range wants {
		b := ts.Buckets[i]
		if !tsNear(b.Start, w.start) || !tsNear(b.Seconds, w.seconds) || b.Completed != w.done || b.Failed != w.failed ||
			b.RequestsPerSec == nil || !tsNear(*b.RequestsPerSec, w.rps) || b.OutputTokensPerSec == nil || !tsNear(*b.OutputTokensPerSec, w.tps) {
			t.Errorf("bucket %d: %+v, want %+v", i, b, w)
		}
		if !same(b.TTFT.Get("p50"), w.ttft50) || !same(b.TTFT.Get("p90"), w.ttft90) || !same(b.ITL.Get("p50"), w.itl50) || !same(b.ITL.Get("p90"), w.itl90) {
			t.Errorf("bucket %d: TTFT %+v ITL %+v, want TTFT p50/p90 %v/%v ITL %v/%v", i, b.TTFT, b.ITL, w.ttft50, w.ttft90, w.itl50, w.itl90)
		}
	}
	// Stage 0: requests 1-3, from 0 to 1.2; stage 1: requests 4-6, from 1.0 to 3.25.
	if len(ts.Stages) != 2 || ts.Stages[0].Stage != 0 || !tsNear(ts.Stages[0].Start, 0) || !tsNear(ts.Stages[0].End, 1.2) ||
		ts.Stages[1].Stage != 1 || !tsNear(ts.Stages[1].Start, 1.0) || !tsNear(ts.Stages[1].End, 3.25) {
		t.Errorf("stages %+v", ts.Stages)
	}

	// Half-second buckets: python3 as above with floor((end-10)/0.5): ends 0.5, 0.9 -> buckets 1,
	// 1; 1.2, 1.1 -> 2, 2; 3.25 -> 6; 2.2 -> 4; 7 buckets, the last 3.25 - 3.0 = 0.25 s wide.
	half, err := ClientTimeSeriesDir(context.Background(), dir, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	done := []int{}
	for _, b := range half.Buckets {
		done = append(done, b.Completed+b.Failed)
	}
	if fmt.Sprint(done) != "[0 2 2 0 1 0 1]" || !tsNear(half.Buckets[6].Seconds, 0.25) || *half.Buckets[0].RequestsPerSec != 0 || half.Buckets[0].TTFT != nil {
		t.Errorf("half-second buckets: ends per bucket %v, last %+v, first %+v", done, half.Buckets[6], half.Buckets[0])
	}
}

func TestClientTimeSeriesWithoutStages(t *testing.T) {
	ts, err := ClientTimeSeriesDir(context.Background(), writeTSFile(t, tsRecords, false), 1)
	if err != nil {
		t.Fatal(err)
	}
	if ts.Stages != nil || len(ts.Buckets) != 4 {
		t.Errorf("inference-perf records carry no stage: stages %+v, %d buckets", ts.Stages, len(ts.Buckets))
	}
}

func TestClientTimeSeriesRefuses(t *testing.T) {
	ctx := context.Background()
	dir := writeTSFile(t, tsRecords, true)
	for _, w := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if _, err := ClientTimeSeriesDir(ctx, dir, w); err == nil || !strings.Contains(err.Error(), "bucket width") {
			t.Errorf("width %v: %v", w, err)
		}
	}
	if _, err := ClientTimeSeriesDir(ctx, "testdata/cases/01-guidellm-v07-config-schema", 1); !errors.Is(err, ErrNoRequestTimes) {
		t.Errorf("GuideLLM folder: %v", err)
	}
	if _, err := ClientTimeSeriesDir(ctx, "testdata/cases/10-inference-perf-no-requests-recorded", 1); !errors.Is(err, ErrNoRequests) {
		t.Errorf("empty per-request file: %v", err)
	}
	back := writeTSFile(t, []tsRecord{{start: 5, end: 4}}, false)
	if _, err := ClientTimeSeriesDir(ctx, back, 1); err == nil || !strings.Contains(err.Error(), "before it starts") ||
		!strings.Contains(err.Error(), runstate.PerRequestFile) {
		t.Errorf("end before start: %v", err)
	}
	long := writeTSFile(t, []tsRecord{{start: 0, end: 1e8}}, false)
	if _, err := ClientTimeSeriesDir(ctx, long, 1); err == nil || !strings.Contains(err.Error(), "wider buckets") {
		t.Errorf("too many buckets: %v", err)
	}
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, runstate.PerRequestFile), []byte(`[{"start_time":1,`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ClientTimeSeriesDir(ctx, broken, 1); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated file: %v", err)
	}
}

func TestClientTimeSeriesOfARealNativeRun(t *testing.T) {
	// 20 requests from the native generator, request i started at about 0.1·i s and ending
	// within 30 ms (see testdata/README.md): 2 s of requests, so 2 or 3 one-second buckets
	// whose counts add up to 20, one stage (0).
	ts, err := ClientTimeSeriesDir(context.Background(), "testdata/tester/pr_only", 1)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, b := range ts.Buckets {
		total += b.Completed + b.Failed
	}
	if total != 20 || len(ts.Buckets) < 2 || len(ts.Buckets) > 3 || len(ts.Stages) != 1 || ts.Stages[0].Stage != 0 {
		t.Errorf("%d requests in %d buckets, stages %+v", total, len(ts.Buckets), ts.Stages)
	}
}
