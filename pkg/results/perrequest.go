package results

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	mathbits "math/bits"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// SLOs are per-request limits in seconds, keyed ttft, tpot, itl, ntpot or e2e.
type SLOs map[string]float64

// ErrSLO: a per-request objective is not METRIC=DURATION with a known metric and a positive limit.
var ErrSLO = errors.New("not a per-request SLO")

// ParseSLOs reads "ttft=500ms,tpot=50ms,e2e=10s".
func ParseSLOs(s string) (SLOs, error) {
	out := SLOs{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		d, err := time.ParseDuration(v)
		switch {
		case !ok || err != nil:
			return nil, fmt.Errorf("%q is %w: expected METRIC=DURATION, e.g. ttft=500ms", part, ErrSLO)
		case !slices.Contains([]string{"ttft", "tpot", "itl", "ntpot", "e2e"}, k):
			return nil, fmt.Errorf("%q is %w: the metric must be ttft, tpot, itl, ntpot or e2e", part, ErrSLO)
		case d <= 0:
			return nil, fmt.Errorf("%q is %w: the limit must be more than zero", part, ErrSLO)
		}
		out[k] = d.Seconds()
	}
	return out, nil
}

// series holds many float64s in fixed blocks, so that tens of millions of token gaps never need
// one huge (and doubling) allocation; percentiles are exact order statistics over the blocks.
type series struct {
	blocks [][]float64
	n      int
	sum    float64
}

const blockSize = 1 << 20

func (s *series) add(v float64) {
	b := s.room()
	*b = append(*b, v)
	s.n++
	s.sum += v
}

// room returns the last block, with room for at least one more value.
func (s *series) room() *[]float64 {
	if len(s.blocks) == 0 || len(s.blocks[len(s.blocks)-1]) == blockSize {
		s.blocks = append(s.blocks, make([]float64, 0, min(blockSize, max(1024, s.n))))
	}
	b := &s.blocks[len(s.blocks)-1]
	if len(*b) == cap(*b) {
		grown := make([]float64, len(*b), min(blockSize, 2*cap(*b)))
		copy(grown, *b)
		*b = grown
	}
	return b
}

// addGaps adds t[i]-t[i-1] for every i >= 1, in order: the same values and sum as add for each,
// with the block's slice header stored once per run rather than once per value (the token
// gaps of a request are most of the values a file holds).
func (s *series) addGaps(t []float64) {
	for i := 1; i < len(t); {
		p := s.room()
		b := *p
		k := min(cap(b)-len(b), len(t)-i)
		sum := s.sum
		for j := i; j < i+k; j++ {
			d := t[j] - t[j-1]
			b = append(b, d)
			sum += d
		}
		*p, s.sum, s.n = b, sum, s.n+k
		i += k
	}
}

// orderKey maps float64s to uint64s with the same order.
func orderKey(f float64) uint64 {
	b := math.Float64bits(f)
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

// selectRanks returns the values at the given 0-based ranks in sorted order, in linear time: a
// histogram of the top bits of each value's order key finds the bucket of every rank, and only
// those buckets are gathered and sorted. Nothing is copied or sorted wholesale. The histogram
// has about as many buckets as there are values (2^8 to 2^20), so that a small series does not
// pay for a large one's histogram.
func (s *series) selectRanks(ranks []int) map[int]float64 {
	bits := min(20, max(8, mathbits.Len(uint(s.n))))
	counts := make([]uint32, 1<<bits)
	for _, b := range s.blocks {
		for _, v := range b {
			counts[orderKey(v)>>(64-bits)]++
		}
	}
	type want struct {
		bucket uint64
		before int // values in lower buckets
	}
	wants := map[int]want{}
	buckets := map[uint64][]float64{}
	sorted := slices.Clone(ranks)
	slices.Sort(sorted)
	acc, bucket := 0, 0
	for _, k := range sorted { // one walk over the histogram for all ranks
		for bucket < len(counts) && acc+int(counts[bucket]) <= k {
			acc += int(counts[bucket])
			bucket++
		}
		if bucket < len(counts) {
			wants[k] = want{bucket: uint64(bucket), before: acc}
			buckets[uint64(bucket)] = nil
		}
	}
	for _, b := range s.blocks {
		for _, v := range b {
			key := orderKey(v) >> (64 - bits)
			if vals, ok := buckets[key]; ok {
				buckets[key] = append(vals, v)
			}
		}
	}
	for _, vals := range buckets {
		slices.Sort(vals)
	}
	out := map[int]float64{}
	for k, w := range wants {
		out[k] = buckets[w.bucket][k-w.before]
	}
	return out
}

// dist computes mean and the p50/p90/p99 by linear interpolation between the closest ranks (numpy's
// default, which inference-perf uses).
func (s *series) dist() *Dist {
	if s.n == 0 {
		return nil
	}
	type point struct {
		lo, hi int
		frac   float64
	}
	points := map[string]point{}
	var ranks []int
	for name, p := range map[string]float64{"p50": 50, "p90": 90, "p99": 99} {
		rank := p / 100 * float64(s.n-1)
		lo, hi := int(math.Floor(rank)), int(math.Ceil(rank))
		points[name] = point{lo, hi, rank - float64(lo)}
		ranks = append(ranks, lo, hi)
	}
	v := s.selectRanks(ranks)
	pct := func(name string) *float64 {
		p := points[name]
		a, b := v[p.lo], v[p.hi]
		return f64(a + (b-a)*p.frac)
	}
	return &Dist{Mean: f64(s.sum / float64(s.n)), P50: pct("p50"), P90: pct("p90"), P99: pct("p99")}
}

// PerRequest is what the per-request file says about a whole run (stages cannot be told apart in it).
type PerRequest struct {
	Metrics
	Records int `json:"records"`
	// CDF holds, for ttft and e2e, the values at every percentile 0..100 (for CDF plots).
	CDF map[string][]float64 `json:"-"`
}

// percentiles returns the value at every whole percentile 0..100, interpolated like dist.
func (s *series) percentiles() []float64 {
	if s.n == 0 {
		return nil
	}
	var ranks []int
	for p := 0; p <= 100; p++ {
		rank := float64(p) / 100 * float64(s.n-1)
		ranks = append(ranks, int(math.Floor(rank)), int(math.Ceil(rank)))
	}
	v := s.selectRanks(ranks)
	out := make([]float64, 101)
	for p := range out {
		rank := float64(p) / 100 * float64(s.n-1)
		lo, hi := int(math.Floor(rank)), int(math.Ceil(rank))
		out[p] = v[lo] + (v[hi]-v[lo])*(rank-float64(lo))
	}
	return out
}

// record is one per-request entry, reduced to what the metrics need.
type record struct {
	start, end         float64
	failed             bool
	inTokens, outToken float64
	times              []float64
}

// AnalyzePerRequest streams an inference-perf per_request_lifecycle_metrics.json (every layout:
// ≤ v0.4 info.output_token_times, v0.5 info.response_info, v0.6 info.response_metrics) and
// recomputes the distributions exactly, with goodput when SLOs are given.
// An empty array is ErrNoRequests.
func AnalyzePerRequest(r io.Reader, slos SLOs) (*PerRequest, error) {
	res, err := analyze(newScanner(r), slos)
	if err == nil && res.Records == 0 {
		return nil, fmt.Errorf("%w: the per-request data is an empty array", ErrNoRequests)
	}
	return res, err
}

func analyze(s *scanner, slos SLOs) (*PerRequest, error) {
	acc := newAccumulator(slos)
	if err := s.array(func() error { return acc.record(s) }); err != nil {
		return nil, err
	}
	if c, perr := s.peek(); perr == nil {
		return nil, s.errorf("unexpected %q after the array", c)
	}
	return acc.result(), nil
}

// AnalyzePerRequestFile is AnalyzePerRequest on a file, split at record boundaries and scanned
// on every core; the numbers are the same. A file holding an empty array is ErrNoRequests.
func AnalyzePerRequestFile(path string, slos SLOs) (*PerRequest, error) {
	res, err := analyzeFile(path, slos, runtime.GOMAXPROCS(0), 64<<20)
	if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, ErrNoRequests) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err == nil && res.Records == 0 {
		return nil, fmt.Errorf("%w in %s (an empty array)", ErrNoRequests, path)
	}
	return res, err
}

// analyzeFile splits files of at least minSize into parts for the given number of workers.
func analyzeFile(path string, slos SLOs, workers int, minSize int64) (*PerRequest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	cuts := recordCuts(f, st.Size(), workers, minSize)
	if len(cuts) < 2 {
		return AnalyzePerRequest(bufio.NewReaderSize(f, 1<<20), slos)
	}
	parts := make([]*accumulator, len(cuts))
	errs := make([]error, len(cuts))
	var wg sync.WaitGroup
	for i := range cuts {
		end := st.Size()
		if i+1 < len(cuts) {
			end = cuts[i+1]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[i], errs[i] = scanPart(io.NewSectionReader(f, cuts[i], end-cuts[i]), cuts[i], slos, i == 0)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	acc := parts[0]
	for _, p := range parts[1:] {
		acc.merge(p)
	}
	return acc.result(), nil
}

// recordCuts finds where records start near each 1/n of the file: `{"start_time"` begins every
// record, and cannot occur inside a string (a quote there is always escaped).
func recordCuts(f io.ReaderAt, size int64, n int, minSize int64) []int64 {
	if n < 2 || size < minSize {
		return nil
	}
	cuts := []int64{0}
	marker := []byte(`{"start_time"`)
	buf := make([]byte, 4<<20)
	for i := 1; i < n; i++ {
		at := size * int64(i) / int64(n)
		k, _ := f.ReadAt(buf, at)
		j := bytes.Index(buf[:k], marker)
		if j < 0 {
			return nil // not the layout this relies on: scan in one piece
		}
		cuts = append(cuts, at+int64(j))
	}
	return cuts
}

// scanPart scans the records of one part: the first part opens the array; the others start at a
// record and stop at the next part's first record.
func scanPart(r io.Reader, offset int64, slos SLOs, first bool) (*accumulator, error) {
	s := newScanner(r)
	s.consumed = offset
	acc := newAccumulator(slos)
	if first {
		if err := s.expect('['); err != nil {
			return nil, err
		}
	}
	for {
		c, err := s.peek()
		if err != nil {
			return acc, nil // the part ends between records
		}
		switch c {
		case ']':
			return acc, nil
		case ',':
			s.pos++
			continue
		}
		if err := acc.record(s); err != nil {
			return nil, err
		}
	}
}

// accumulator gathers the metrics of records.
type accumulator struct {
	slos                   SLOs
	ttft, tpot, itl, ntpot series
	e2e                    series
	rec                    record
	res                    PerRequest
	minStart, maxEnd       float64 // window of the successful requests
	allStart, allEnd       float64 // window of every request, failed ones included
	inSum, outSum          float64
	good                   int
}

func newAccumulator(slos SLOs) *accumulator {
	a := &accumulator{slos: slos, minStart: math.Inf(1), maxEnd: math.Inf(-1), allStart: math.Inf(1), allEnd: math.Inf(-1)}
	a.res.Requests = &Requests{}
	return a
}

func (a *accumulator) record(s *scanner) error {
	rec := &a.rec
	*rec = record{times: rec.times[:0]}
	if err := s.object(func(k []byte) error { return readRecordField(s, k, rec) }); err != nil {
		return err
	}
	a.res.Records++
	a.allStart, a.allEnd = math.Min(a.allStart, rec.start), math.Max(a.allEnd, rec.end)
	if rec.failed {
		a.res.Requests.Failed++
		return nil
	}
	a.res.Requests.Succeeded++
	a.minStart, a.maxEnd = math.Min(a.minStart, rec.start), math.Max(a.maxEnd, rec.end)
	a.inSum += rec.inTokens
	a.outSum += rec.outToken
	v := valuesOf(rec.start, rec.end, rec.outToken, rec.times) // the same numbers SLOs.Meets judges
	a.e2e.add(v.e2e)
	a.ntpot.add(v.ntpot)
	if v.hasTokens {
		a.ttft.add(v.ttft)
		a.itl.addGaps(rec.times)
	}
	if v.hasTPOT {
		a.tpot.add(v.tpot)
	}
	if len(a.slos) > 0 && meets(v, a.slos) {
		a.good++
	}
	return nil
}

func (a *accumulator) merge(b *accumulator) {
	for _, p := range []struct{ dst, src *series }{{&a.ttft, &b.ttft}, {&a.tpot, &b.tpot}, {&a.itl, &b.itl}, {&a.ntpot, &b.ntpot}, {&a.e2e, &b.e2e}} {
		p.dst.blocks = append(p.dst.blocks, p.src.blocks...)
		p.dst.n += p.src.n
		p.dst.sum += p.src.sum
	}
	a.res.Records += b.res.Records
	a.res.Requests.Succeeded += b.res.Requests.Succeeded
	a.res.Requests.Failed += b.res.Requests.Failed
	a.minStart, a.maxEnd = math.Min(a.minStart, b.minStart), math.Max(a.maxEnd, b.maxEnd)
	a.allStart, a.allEnd = math.Min(a.allStart, b.allStart), math.Max(a.allEnd, b.allEnd)
	a.inSum += b.inSum
	a.outSum += b.outSum
	a.good += b.good
}

func (a *accumulator) result() *PerRequest {
	res := a.res
	dists := make([]*Dist, 5)
	var wg sync.WaitGroup
	for i, s := range []*series{&a.ttft, &a.tpot, &a.itl, &a.ntpot, &a.e2e} {
		wg.Add(1)
		go func() { defer wg.Done(); dists[i] = s.dist() }()
	}
	wg.Wait()
	res.Latency = Latency{TTFT: dists[0], TPOT: dists[1], ITL: dists[2], NTPOT: dists[3], E2E: dists[4]}
	res.CDF = map[string][]float64{"ttft": a.ttft.percentiles(), "e2e": a.e2e.percentiles()}
	// Throughputs are over the window of the successful requests. When none succeeded, the rule
	// (the same as the harnesses' stage files, which write 0 for such a stage) is: 0 if a window
	// is known (the requests' own start and end times span some time), null if it is not.
	// Goodput is measured whenever SLOs are given and there is a request: good of all requests;
	// its rate is 0 when no request was good, else good requests over the successful window.
	total := a.maxEnd - a.minStart
	switch {
	case res.Requests.Succeeded > 0 && total > 0:
		res.Throughput = Throughput{
			RequestsPerSec:     f64(float64(res.Requests.Succeeded) / total),
			InputTokensPerSec:  f64(a.inSum / total),
			OutputTokensPerSec: f64(a.outSum / total),
			TotalTokensPerSec:  f64((a.inSum + a.outSum) / total),
		}
	case res.Requests.Succeeded == 0 && a.allEnd-a.allStart > 0:
		res.Throughput = Throughput{RequestsPerSec: f64(0), InputTokensPerSec: f64(0), OutputTokensPerSec: f64(0), TotalTokensPerSec: f64(0)}
	}
	if len(a.slos) > 0 && res.Records > 0 {
		switch {
		case a.good == 0:
			res.Goodput = &Goodput{SLOs: a.slos, Good: 0, Total: res.Records, Share: 0, RatePerS: 0}
		case total > 0:
			res.Goodput = &Goodput{SLOs: a.slos, Good: a.good, Total: res.Records,
				Share: float64(a.good) / float64(res.Records), RatePerS: float64(a.good) / total}
		}
	}
	return &res
}

// requestValues are one request's numbers, for its SLO verdict.
type requestValues struct {
	e2e, ntpot, ttft, itl, tpot float64
	hasTokens, hasTPOT          bool
}

// meets tells whether a request met every SLO; one it cannot be judged by (no token times) fails.
func meets(v requestValues, slos SLOs) bool {
	for k, limit := range slos {
		var x float64
		switch k {
		case "e2e":
			x = v.e2e
		case "ntpot":
			x = v.ntpot
		case "ttft":
			if !v.hasTokens {
				return false
			}
			x = v.ttft
		case "itl":
			if !v.hasTokens {
				return false
			}
			x = v.itl
		case "tpot":
			if !v.hasTPOT {
				return false
			}
			x = v.tpot
		}
		if x > limit {
			return false
		}
	}
	return true
}

func readRecordField(s *scanner, k []byte, rec *record) error {
	var err error
	switch string(k) {
	case "start_time":
		rec.start, _, err = s.number()
	case "end_time":
		rec.end, _, err = s.number()
	case "error":
		c, perr := s.peek()
		if perr != nil {
			return perr
		}
		rec.failed = c != 'n' // the last "error" decides, as in a JSON decoder
		if !rec.failed {
			return s.literal("null")
		}
		return s.skipValue()
	case "info":
		return s.object(func(k []byte) error { return readInfoField(s, k, rec) })
	default:
		return s.skipValue()
	}
	return err
}

func readInfoField(s *scanner, k []byte, rec *record) error {
	switch string(k) {
	case "input_tokens":
		v, _, err := s.number()
		rec.inTokens = v
		return err
	case "output_tokens": // ≤ v0.4
		v, _, err := s.number()
		rec.outToken = v
		return err
	case "output_token_times": // ≤ v0.4
		return readTimes(s, rec)
	case "response_info", "response_metrics": // v0.5, v0.6
		return s.object(func(k []byte) error {
			switch string(k) {
			case "output_tokens":
				v, _, err := s.number()
				rec.outToken = v
				return err
			case "output_token_times":
				return readTimes(s, rec)
			}
			return s.skipValue()
		})
	case "request_metrics": // v0.6: {"text": {"input_tokens": N}, …}
		return s.object(func(k []byte) error {
			if string(k) != "text" {
				return s.skipValue()
			}
			c, err := s.peek()
			if err != nil || c == 'n' {
				return s.skipValue()
			}
			return s.object(func(k []byte) error {
				if string(k) == "input_tokens" {
					v, _, err := s.number()
					rec.inTokens = v
					return err
				}
				return s.skipValue()
			})
		})
	}
	return s.skipValue()
}

func readTimes(s *scanner, rec *record) error {
	rec.times = rec.times[:0]
	c, err := s.peek()
	if err != nil {
		return err
	}
	if c == 'n' {
		return s.literal("null")
	}
	// s.array(…) unrolled (no closure per token time): the same grammar and errors.
	if err := s.expect('['); err != nil {
		return err
	}
	if c, err = s.peek(); err != nil {
		return err
	}
	if c == ']' {
		s.pos++
		return nil
	}
	for {
		v, ok, err := s.number()
		if err != nil {
			return err
		}
		if ok {
			rec.times = append(rec.times, v)
		}
		if c, err = s.peek(); err != nil {
			return err
		}
		s.pos++
		switch c {
		case ',':
		case ']':
			return nil
		default:
			return s.errorf("expected ',' or %q, found %q", ']', c)
		}
	}
}
