package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// A deliberately naive oracle: whole slices, sort, numpy's linear interpolation.
func oracle(vals []float64) *Dist {
	if len(vals) == 0 {
		return nil
	}
	s := append([]float64(nil), vals...)
	sort.Float64s(s)
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	p := func(q float64) *float64 {
		rank := q / 100 * float64(len(s)-1)
		lo, hi := int(math.Floor(rank)), int(math.Ceil(rank))
		return f64(s[lo] + (s[hi]-s[lo])*(rank-float64(lo)))
	}
	return &Dist{Mean: f64(sum / float64(len(s))), P50: p(50), P90: p(90), P99: p(99)}
}

type genRecord struct {
	start, end float64
	in, out    int
	times      []float64
	failed     bool
}

// write emits records in one of inference-perf's three layouts, with hostile strings.
func write(recs []genRecord, layout int) []byte {
	var b bytes.Buffer
	b.WriteString("[")
	for i, r := range recs {
		if i > 0 {
			b.WriteString(",\n ")
		}
		times, _ := json.Marshal(r.times)
		req := fmt.Sprintf(`"{\"prompt\": \"a \\\\\" quote \\\\\\\\ and ] } [ { \\\"\", \"n\": %d}"`, i)
		var info string
		switch layout {
		case 4:
			info = fmt.Sprintf(`{"input_tokens": %d, "output_tokens": %d, "output_token_times": %s, "extra_info": {"x": [1, {"y": "z"}]}, "lora_adapter": null}`, r.in, r.out, times)
		case 5:
			info = fmt.Sprintf(`{"input_tokens": %d, "extra_info": {}, "lora_adapter": null, "response_info": {"output_tokens": %d, "response_chunks": ["{\"t\": \"x\"}"], "chunk_times": %s, "output_token_times": %s, "server_usage": {"prompt_tokens": 1}}}`, r.in, r.out, times, times)
		default:
			info = fmt.Sprintf(`{"request_metrics": {"text": {"input_tokens": %d}, "image": null}, "response_metrics": {"output_tokens": %d, "server_usage": {"completion_tokens": %d}, "response_chunks": ["a", "b\\\""], "chunk_times": %s, "output_token_times": %s}, "extra_info": {}, "lora_adapter": null, "labels": {}, "input_tokens": %d}`, r.in, r.out, r.out, times, times, r.in)
		}
		errField := "null"
		if r.failed {
			errField = `{"error_type": "ClientResponseError", "error_msg": "503"}`
		}
		fmt.Fprintf(&b, `{"start_time": %v, "end_time": %v, "request": %s, "response": "ok \\\\", "info": %s, "error": %s}`, r.start, r.end, req, info, errField)
	}
	b.WriteString("]\n")
	return b.Bytes()
}

func generate(n int, seed uint64) []genRecord {
	rng := rand.New(rand.NewPCG(seed, 7))
	var recs []genRecord
	clock := 1283.0
	for i := range n {
		r := genRecord{start: clock, in: 50 + rng.IntN(500), out: 1 + rng.IntN(300), failed: i%17 == 3}
		t := clock + 0.02 + rng.Float64()*0.2
		for range r.out {
			r.times = append(r.times, t)
			t += rng.Float64() * 0.03
		}
		r.end = t
		clock += rng.Float64() * 0.1
		recs = append(recs, r)
	}
	return recs
}

func expected(recs []genRecord) (ttft, tpot, itl, ntpot, e2e []float64, ok, failed int) {
	for _, r := range recs {
		if r.failed {
			failed++
			continue
		}
		ok++
		lat := r.end - r.start
		e2e = append(e2e, lat)
		ntpot = append(ntpot, lat/float64(r.out))
		if len(r.times) > 1 {
			ttft = append(ttft, r.times[0]-r.start)
			for i := 1; i < len(r.times); i++ {
				itl = append(itl, r.times[i]-r.times[i-1])
			}
			if r.out > 1 {
				tpot = append(tpot, (r.times[len(r.times)-1]-r.times[0])/float64(r.out-1))
			}
		}
	}
	return
}

func near(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return math.Abs(*a-*b) <= 1e-9*math.Max(1, math.Abs(*b))
}

func sameDist(t *testing.T, name string, got, want *Dist) {
	t.Helper()
	if (got == nil) != (want == nil) {
		t.Fatalf("%s: got %v, want %v", name, got, want)
	}
	if got == nil {
		return
	}
	for _, s := range []string{"mean", "p50", "p90", "p99"} {
		if !near(got.Get(s), want.Get(s)) {
			t.Errorf("%s.%s: got %v, want %v", name, s, *got.Get(s), *want.Get(s))
		}
	}
}

func TestPerRequestEveryLayoutMatchesTheOracle(t *testing.T) {
	recs := generate(400, 1)
	ttft, tpot, itl, ntpot, e2e, ok, failed := expected(recs)
	for _, layout := range []int{4, 5, 6} {
		for _, bufSize := range []int{7, 64, 1 << 20} { // tiny buffers cross every token boundary
			t.Run(fmt.Sprintf("v0.%d/buf%d", layout, bufSize), func(t *testing.T) {
				s := newScanner(bytes.NewReader(write(recs, layout)))
				s.buf = make([]byte, bufSize)
				res, err := analyze(s, nil)
				if err != nil {
					t.Fatal(err)
				}
				if res.Requests.Succeeded != ok || res.Requests.Failed != failed || res.Records != len(recs) {
					t.Errorf("counts %+v", res.Requests)
				}
				sameDist(t, "ttft", res.Latency.TTFT, oracle(ttft))
				sameDist(t, "tpot", res.Latency.TPOT, oracle(tpot))
				sameDist(t, "itl", res.Latency.ITL, oracle(itl))
				sameDist(t, "ntpot", res.Latency.NTPOT, oracle(ntpot))
				sameDist(t, "e2e", res.Latency.E2E, oracle(e2e))
			})
		}
	}
}

func TestGoodput(t *testing.T) {
	recs := []genRecord{
		{start: 0, end: 1, out: 3, times: []float64{0.1, 0.2, 0.3}}, // ttft 0.1, tpot 0.1
		{start: 1, end: 3, out: 3, times: []float64{1.6, 1.7, 1.8}}, // ttft 0.6: misses
		{start: 2, end: 3, out: 3, times: []float64{2.1, 2.5, 2.9}}, // tpot 0.4: misses
		{start: 3, end: 4, failed: true},
	}
	slos, err := ParseSLOs("ttft=500ms,tpot=200ms")
	if err != nil {
		t.Fatal(err)
	}
	res, err := AnalyzePerRequest(bytes.NewReader(write(recs, 6)), slos)
	if err != nil {
		t.Fatal(err)
	}
	g := res.Goodput
	if g == nil || g.Good != 1 || g.Total != 4 || g.Share != 0.25 || math.Abs(g.RatePerS-1.0/3) > 1e-12 {
		t.Errorf("goodput %+v", g)
	}
	for _, bad := range []string{"ttft", "ttft=fast", "speed=1s", "e2e=-1s"} {
		if _, err := ParseSLOs(bad); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestPerRequestErrorsNameTheOffset(t *testing.T) {
	for _, bad := range []string{"", "{}", `[{"start_time": 1,`, `[{"start_time": "x"}]`, `[{"a": "unterminated`, `[] trailing`} {
		_, err := AnalyzePerRequest(strings.NewReader(bad), nil)
		if err == nil || !strings.Contains(err.Error(), "per-request file, byte ") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestSeriesAcrossBlocks(t *testing.T) {
	var s series
	var all []float64
	rng := rand.New(rand.NewPCG(3, 4))
	for range blockSize*2 + 12345 {
		v := rng.NormFloat64()
		s.add(v)
		all = append(all, v)
	}
	sameDist(t, "series", s.dist(), oracle(all))
}

// The parallel file scan gives the same numbers as the single stream.
func TestPerRequestFileInParts(t *testing.T) {
	recs := generate(900, 9)
	path := filepath.Join(t.TempDir(), "per_request_lifecycle_metrics.json")
	if err := os.WriteFile(path, write(recs, 6), 0o644); err != nil {
		t.Fatal(err)
	}
	slos := SLOs{"ttft": 0.15, "e2e": 5}
	whole, err := AnalyzePerRequest(bytes.NewReader(write(recs, 6)), slos)
	if err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{2, 3, 7} {
		parts, err := analyzeFile(path, slos, workers, 1)
		if err != nil {
			t.Fatal(err)
		}
		if parts.Records != whole.Records || *parts.Requests != *whole.Requests || parts.Goodput.Good != whole.Goodput.Good {
			t.Errorf("%d workers: %+v vs %+v", workers, parts.Requests, whole.Requests)
		}
		sameDist(t, "itl", parts.Latency.ITL, whole.Latency.ITL)
		sameDist(t, "ttft", parts.Latency.TTFT, whole.Latency.TTFT)
		if !near(parts.Throughput.OutputTokensPerSec, whole.Throughput.OutputTokensPerSec) {
			t.Errorf("throughput differs")
		}
	}
	if _, err := AnalyzePerRequestFile(filepath.Join(t.TempDir(), "missing.json"), nil); err == nil {
		t.Error("a missing file must be an error")
	}
}

func TestPercentilesForCDF(t *testing.T) {
	var s series
	var all []float64
	for i := range 1001 {
		v := float64((i * 7919) % 1001)
		s.add(v)
		all = append(all, v)
	}
	ps := s.percentiles()
	want := oracle(all)
	if len(ps) != 101 || ps[0] != 0 || ps[100] != 1000 || ps[50] != *want.P50 || ps[99] != *want.P99 {
		t.Errorf("percentiles %v…", ps[:3])
	}
}

// A bad objective is an ErrSLO saying what is wrong with it, and names no flag.
func TestParseSLOErrors(t *testing.T) {
	for bad, want := range map[string]string{
		"ttft":      `"ttft" is not a per-request SLO: expected METRIC=DURATION, e.g. ttft=500ms`,
		"ttft=fast": `"ttft=fast" is not a per-request SLO: expected METRIC=DURATION, e.g. ttft=500ms`,
		"speed=1s":  `"speed=1s" is not a per-request SLO: the metric must be ttft, tpot, itl, ntpot or e2e`,
		"e2e=-1s":   `"e2e=-1s" is not a per-request SLO: the limit must be more than zero`,
	} {
		_, err := ParseSLOs("tpot=50ms," + bad)
		if err == nil || err.Error() != want || !errors.Is(err, ErrSLO) {
			t.Errorf("%q: %v, want %q wrapping ErrSLO", bad, err, want)
		}
	}
}
