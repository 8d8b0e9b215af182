package results

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// SLOs are per-request limits in seconds, keyed ttft, tpot, itl, ntpot or e2e.
type SLOs map[string]float64

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
			return nil, fmt.Errorf("--slo %q: expected METRIC=DURATION, e.g. ttft=500ms", part)
		case !slices.Contains([]string{"ttft", "tpot", "itl", "ntpot", "e2e"}, k):
			return nil, fmt.Errorf("--slo %q: the metric must be ttft, tpot, itl, ntpot or e2e", part)
		case d <= 0:
			return nil, fmt.Errorf("--slo %q: the limit must be more than zero", part)
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
	if len(s.blocks) == 0 || len(s.blocks[len(s.blocks)-1]) == blockSize {
		s.blocks = append(s.blocks, make([]float64, 0, min(blockSize, max(1024, s.n))))
	}
	b := &s.blocks[len(s.blocks)-1]
	if len(*b) == cap(*b) {
		grown := make([]float64, len(*b), min(blockSize, 2*cap(*b)))
		copy(grown, *b)
		*b = grown
	}
	*b = append(*b, v)
	s.n++
	s.sum += v
}

// orderKey maps float64s to uint64s with the same order.
func orderKey(f float64) uint64 {
	b := math.Float64bits(f)
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

func fromKey(k uint64) float64 {
	if k>>63 == 1 {
		return math.Float64frombits(k &^ (1 << 63))
	}
	return math.Float64frombits(^k)
}

// kth returns the k-th smallest value (0-based); blocks must be sorted.
func (s *series) kth(k int) float64 {
	lo, hi := uint64(0), uint64(math.MaxUint64)
	for lo < hi {
		mid := lo + (hi-lo)/2
		count := 0
		for _, b := range s.blocks {
			count += sort.Search(len(b), func(i int) bool { return orderKey(b[i]) > mid })
		}
		if count > k {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return fromKey(lo)
}

// dist computes mean and the p50/p90/p99 by linear interpolation between the closest ranks (numpy's
// default, which inference-perf uses).
func (s *series) dist() *Dist {
	if s.n == 0 {
		return nil
	}
	for _, b := range s.blocks {
		slices.Sort(b)
	}
	pct := func(p float64) *float64 {
		rank := p / 100 * float64(s.n-1)
		lo := int(math.Floor(rank))
		hi := int(math.Ceil(rank))
		a := s.kth(lo)
		if hi == lo {
			return f64(a)
		}
		b := s.kth(hi)
		return f64(a + (b-a)*(rank-float64(lo)))
	}
	return &Dist{Mean: f64(s.sum / float64(s.n)), P50: pct(50), P90: pct(90), P99: pct(99)}
}

// PerRequest is what the per-request file says about a whole run (stages cannot be told apart in it).
type PerRequest struct {
	Metrics
	Records int `json:"records"`
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
func AnalyzePerRequest(r io.Reader, slos SLOs) (*PerRequest, error) {
	return analyze(newScanner(r), slos)
}

func analyze(s *scanner, slos SLOs) (*PerRequest, error) {
	var ttft, tpot, itl, ntpot, e2e series
	var rec record
	var res PerRequest
	minStart, maxEnd := math.Inf(1), math.Inf(-1)
	var inSum, outSum float64
	good := 0
	err := s.array(func() error {
		rec = record{times: rec.times[:0]}
		if err := s.object(func(k []byte) error { return readRecordField(s, k, &rec) }); err != nil {
			return err
		}
		res.Records++
		if rec.failed {
			res.Requests.Failed++
			return nil
		}
		res.Requests.Succeeded++
		minStart, maxEnd = math.Min(minStart, rec.start), math.Max(maxEnd, rec.end)
		inSum += rec.inTokens
		outSum += rec.outToken
		lat := rec.end - rec.start
		e2e.add(lat)
		var m = map[string]float64{"e2e": lat}
		n := rec.outToken
		if n > 0 {
			m["ntpot"] = lat / n
		} else {
			m["ntpot"] = 0
		}
		ntpot.add(m["ntpot"])
		if len(rec.times) > 1 {
			m["ttft"] = rec.times[0] - rec.start
			ttft.add(m["ttft"])
			gaps := 0.0
			for i := 1; i < len(rec.times); i++ {
				g := rec.times[i] - rec.times[i-1]
				itl.add(g)
				gaps += g
			}
			m["itl"] = gaps / float64(len(rec.times)-1)
			if n > 1 {
				m["tpot"] = (rec.times[len(rec.times)-1] - rec.times[0]) / (n - 1)
				tpot.add(m["tpot"])
			}
		}
		if len(slos) > 0 && meets(m, slos) {
			good++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if c, perr := s.peek(); perr == nil {
		return nil, s.errorf("unexpected %q after the array", c)
	}
	res.Latency = Latency{TTFT: ttft.dist(), TPOT: tpot.dist(), ITL: itl.dist(), NTPOT: ntpot.dist(), E2E: e2e.dist()}
	if total := maxEnd - minStart; res.Requests.Succeeded > 0 && total > 0 {
		res.Throughput = Throughput{
			RequestsPerSec:     f64(float64(res.Requests.Succeeded) / total),
			InputTokensPerSec:  f64(inSum / total),
			OutputTokensPerSec: f64(outSum / total),
			TotalTokensPerSec:  f64((inSum + outSum) / total),
		}
		if len(slos) > 0 {
			res.Goodput = &Goodput{SLOs: slos, Good: good, Total: res.Records,
				Share: float64(good) / float64(res.Records), RatePerS: float64(good) / total}
		}
	}
	return &res, nil
}

// meets tells whether a request met every SLO it can be judged by.
func meets(m map[string]float64, slos SLOs) bool {
	for k, limit := range slos {
		v, ok := m[k]
		if !ok || v > limit {
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
		if c == 'n' {
			return s.literal("null")
		}
		rec.failed = true
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
	return s.array(func() error {
		v, ok, err := s.number()
		if ok {
			rec.times = append(rec.times, v)
		}
		return err
	})
}
