package loadgen

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
)

// percentiles are inference-perf's defaults, in its key order.
var percentiles = []float64{0.1, 1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9}

// dist is a sorted sample.
type dist []float64

func newDist(v []float64) dist {
	d := slices.Clone(v)
	slices.Sort(d)
	return d
}

func (d dist) mean() float64 {
	s := 0.0
	for _, v := range d {
		s += v
	}
	return s / float64(len(d))
}

func (d dist) stddev() float64 {
	m, s := d.mean(), 0.0
	for _, v := range d {
		s += (v - m) * (v - m)
	}
	return math.Sqrt(s / float64(len(d)))
}

// percentile interpolates linearly between closest ranks, as numpy.percentile does by default.
func (d dist) percentile(p float64) float64 {
	if len(d) == 1 {
		return d[0]
	}
	rank := p / 100 * float64(len(d)-1)
	lo := int(math.Floor(rank))
	if lo >= len(d)-1 {
		return d[len(d)-1]
	}
	return d[lo] + (rank-float64(lo))*(d[lo+1]-d[lo])
}

// ordered is a JSON object that keeps its key order, so files read like inference-perf's.
type ordered []field

type field struct {
	key   string
	value any
}

func (o ordered) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.key)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// inferencePerf renders the distribution as inference-perf does: mean, min, percentiles
// (`median` for 50), max; null when empty.
func (d dist) inferencePerf() any {
	if len(d) == 0 {
		return nil
	}
	o := ordered{{"mean", d.mean()}, {"min", d[0]}}
	for _, p := range percentiles {
		key := "p" + strconv.FormatFloat(p, 'f', -1, 64)
		if p == 50 {
			key = "median"
		}
		o = append(o, field{key, d.percentile(p)})
	}
	return append(o, field{"max", d[len(d)-1]})
}

// summary is the numbers of one set of records, from which both file formats are rendered.
type summary struct {
	count, successes, failures int
	benchmarkTime              float64 // max(end) - min(start) over all records
	sendDuration               float64 // max(start) - min(start)
	scheduleDelay              dist
	latency, ttft, tpot, itl   dist
	ntpot, inputLen, outputLen dist
	requestSize                dist
	failedLatency, failedInput dist
	inputTotal, cachedTotal    int
	cachedReported             int // successes whose server said how many prompt tokens were cached
	outputTotal, mismatches    int
	byLabel                    map[string]*labelCount
	labels                     []string
}

type labelCount struct {
	count    int
	messages []string
}

// summarize computes the numbers of recs; maxMessages caps the distinct messages kept per
// failure label (inference-perf's report.request_lifecycle.max_error_messages).
func summarize(recs []Record, maxMessages int) *summary {
	s := &summary{count: len(recs), byLabel: map[string]*labelCount{}}
	if len(recs) == 0 {
		return s
	}
	minStart, maxStart, maxEnd := math.Inf(1), math.Inf(-1), math.Inf(-1)
	var delay, lat, ttft, tpot, itl, ntpot, in, out, size, flat, fin []float64
	for i := range recs {
		r := &recs[i]
		minStart, maxStart, maxEnd = min(minStart, r.Start), max(maxStart, r.Start), max(maxEnd, r.End)
		delay = append(delay, r.Start-r.Scheduled)
		if r.Err != nil {
			s.failures++
			flat = append(flat, r.End-r.Start)
			fin = append(fin, float64(r.InputTokens))
			l := r.Err.label()
			c := s.byLabel[l]
			if c == nil {
				c = &labelCount{}
				s.byLabel[l] = c
				s.labels = append(s.labels, l)
			}
			c.count++
			if len(c.messages) < maxMessages && !slices.Contains(c.messages, r.Err.Message) {
				c.messages = append(c.messages, r.Err.Message)
			}
			continue
		}
		s.successes++
		e2e := r.End - r.Start
		lat = append(lat, e2e)
		in = append(in, float64(r.InputTokens))
		out = append(out, float64(r.OutputTokens))
		size = append(size, float64(r.RequestSize))
		s.inputTotal += r.InputTokens
		if r.CachedTokens != nil {
			s.cachedTotal += *r.CachedTokens
			s.cachedReported++
		}
		s.outputTotal += r.OutputTokens
		if r.OutputTokens > 0 { // no tokens, no time per token: left out, never a 0
			ntpot = append(ntpot, e2e/float64(r.OutputTokens))
		}
		if n := len(r.ChunkTimes); n > 0 {
			if r.ServerUsage && n != r.OutputTokens {
				s.mismatches++
			}
			ttft = append(ttft, r.ChunkTimes[0]-r.Start)
			if r.OutputTokens > 1 {
				tpot = append(tpot, (r.ChunkTimes[n-1]-r.ChunkTimes[0])/float64(r.OutputTokens-1))
			}
			for j := 1; j < n; j++ {
				itl = append(itl, r.ChunkTimes[j]-r.ChunkTimes[j-1])
			}
		}
	}
	s.benchmarkTime, s.sendDuration = maxEnd-minStart, maxStart-minStart
	s.scheduleDelay, s.latency, s.ttft, s.tpot, s.itl = newDist(delay), newDist(lat), newDist(ttft), newDist(tpot), newDist(itl)
	s.ntpot, s.inputLen, s.outputLen, s.requestSize = newDist(ntpot), newDist(in), newDist(out), newDist(size)
	s.failedLatency, s.failedInput = newDist(flat), newDist(fin)
	return s
}

// perSecond is v over the benchmark time; nil (null) when no time elapsed, which measures no rate.
func (s *summary) perSecond(v float64) *float64 {
	if s.benchmarkTime <= 0 {
		return nil
	}
	r := v / s.benchmarkTime
	return &r
}

// orNull is nil when there were no records to measure v on.
func (s *summary) orNull(v float64) any {
	if s.count == 0 {
		return nil
	}
	return v
}

// stageInfo is what only stage files carry.
type stageInfo struct {
	requestedRate *float64
	concurrency   *int
}

// lifecycle renders inference-perf's summary/stage lifecycle file (v0.6 keys, plus the
// prompt_len key that readers of older releases look for).
func (s *summary) lifecycle(stage *stageInfo) ordered {
	load := ordered{{"count", s.count}, {"schedule_delay", s.scheduleDelay.inferencePerf()}}
	if stage != nil {
		load = append(load, field{"send_duration", s.orNull(s.sendDuration)})
		if stage.requestedRate != nil {
			load = append(load, field{"requested_rate", *stage.requestedRate})
		}
		// One request (or none) spans no send time: no rate was achieved that could be measured.
		var achieved any
		if s.sendDuration > 0 {
			achieved = float64(s.count) / s.sendDuration
		}
		load = append(load, field{"achieved_rate", achieved})
		if stage.concurrency != nil {
			load = append(load, field{"concurrency", *stage.concurrency})
		}
	}
	successes := ordered{
		{"count", s.successes},
		{"latency", ordered{
			{"request_latency", s.latency.inferencePerf()},
			{"normalized_time_per_output_token", s.ntpot.inferencePerf()},
			{"time_per_output_token", s.tpot.inferencePerf()},
			{"time_to_first_token", s.ttft.inferencePerf()},
			{"inter_token_latency", s.itl.inferencePerf()},
		}},
		{"throughput", ordered{
			{"input_tokens_per_sec", s.perSecond(float64(s.inputTotal))},
			{"output_tokens_per_sec", s.perSecond(float64(s.outputTotal))},
			{"total_tokens_per_sec", s.perSecond(float64(s.inputTotal + s.outputTotal))},
			{"requests_per_sec", s.perSecond(float64(s.successes))},
		}},
		{"request_size_bytes", s.requestSize.inferencePerf()},
		{"prompt_len", s.inputLen.inferencePerf()},
		{"prompt_tokens", s.promptTokens()},
		{"output_len", s.outputLen.inferencePerf()},
		{"output_tokens", ordered{{"total", s.outputTotal}}},
		{"token_count_mismatches", s.mismatches},
	}
	byLabel := ordered{}
	for _, l := range s.labels {
		c := s.byLabel[l]
		msgs := make([]ordered, len(c.messages))
		for i, m := range c.messages {
			msgs[i] = ordered{{"message", m}}
		}
		byLabel = append(byLabel, field{l, ordered{{"count", c.count}, {"messages", msgs}}})
	}
	failures := ordered{
		{"count", s.failures},
		{"request_latency", s.failedLatency.inferencePerf()},
		{"prompt_len", s.failedInput.inferencePerf()},
		{"by_label", byLabel},
	}
	return ordered{
		{"benchmark_time_seconds", s.orNull(s.benchmarkTime)},
		{"load_summary", load},
		{"successes", successes},
		{"failures", failures},
	}
}

// promptTokens is the summary's prompt_tokens: total, cached and uncached. cached and uncached
// are null unless the server said how many prompt tokens were cached for every successful
// request (a sum over some of them would be a wrong figure).
func (s *summary) promptTokens() ordered {
	var cached, uncached any
	if s.successes > 0 && s.cachedReported == s.successes {
		cached, uncached = s.cachedTotal, s.inputTotal-s.cachedTotal
	}
	return ordered{{"total", s.inputTotal}, {"cached", cached}, {"uncached", uncached}}
}
