package results

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// ErrServerMetricsFormat: a ServerMetricsFile line does not follow the format documented in
// servermetrics.go.
var ErrServerMetricsFormat = errors.New("not a server metrics line")

// ReadServerSeries reads dir's ServerMetricsFile, streaming it line by line. A folder without
// the file gives (nil, nil): no scraper ran, which is not an error. Lines of an unknown kind are
// skipped (the format can grow); blank lines are skipped; a last line without its newline that
// is not JSON yet is a line still being written (the scraper appends while a stage's results are
// written) and is left out. Errors name the file and line
// (file:line) and wrap ErrServerMetricsFormat: a line that is not JSON, a header of another
// format, a sample or stage line without a time, a sample without a pod, a stage event other
// than start/end, an end without its start, or a second start of a stage still open.
//
// Times are converted from Unix seconds to UTC time.Time rounded to the microsecond (a float64 of
// today's Unix time holds about that much). Samples are returned per pod in time order (stable
// for equal times); failed scrapes keep their error and no values. Stage windows are in the
// order their start events came; a stage with no end event has a zero End.
func ReadServerSeries(dir string) (*ServerSeries, error) {
	path := filepath.Join(dir, ServerMetricsFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := &ServerSeries{Samples: map[string][]ServerSample{}}
	open := map[int]int{} // stage -> index in s.Stages of its window still open
	br := bufio.NewReaderSize(f, 64<<10)
	n := 0
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s:%d: %w: %s", path, n, ErrServerMetricsFormat, fmt.Sprintf(format, a...))
	}
	for {
		b, rerr := br.ReadBytes('\n')
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return nil, fmt.Errorf("%s:%d: %w", path, n+1, rerr)
		}
		if len(b) == 0 {
			break
		}
		n++
		complete := b[len(b)-1] == '\n'
		if len(trimSpace(b)) == 0 {
			continue
		}
		var l ServerMetricsLine
		if err := json.Unmarshal(b, &l); err != nil {
			if !complete {
				break // the last line, still being written (no newline yet): not part of the series
			}
			return nil, bad("%v", err)
		}
		switch l.Kind {
		case ServerLineHeader:
			if l.Format != ServerMetricsFormat {
				return nil, bad("header format %q, want %q", l.Format, ServerMetricsFormat)
			}
			s.IntervalSeconds = l.IntervalSeconds
			s.Targets = append(s.Targets, l.Targets...)
		case ServerLineSample:
			if l.Time <= 0 || l.Pod == "" {
				return nil, bad("a sample needs a time and a pod")
			}
			smp := ServerSample{Time: unixSeconds(l.Time), Err: l.Error}
			if l.Error == "" {
				smp.Values = l.Values
				if smp.Values == nil {
					smp.Values = map[string]float64{}
				}
			}
			s.Samples[l.Pod] = append(s.Samples[l.Pod], smp)
		case ServerLineStage:
			if l.Time <= 0 || l.Stage == nil {
				return nil, bad("a stage event needs a stage and a time")
			}
			st, t := *l.Stage, unixSeconds(l.Time)
			switch l.Event {
			case StageEventStart:
				if _, ok := open[st]; ok {
					return nil, bad("stage %d started again before it ended", st)
				}
				open[st] = len(s.Stages)
				s.Stages = append(s.Stages, StageWindow{Stage: st, Start: t})
			case StageEventEnd:
				i, ok := open[st]
				if !ok {
					return nil, bad("stage %d ended but never started", st)
				}
				delete(open, st)
				s.Stages[i].End = t
			default:
				return nil, bad("stage event %q, want %q or %q", l.Event, StageEventStart, StageEventEnd)
			}
		}
	}
	for pod, ss := range s.Samples {
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].Time.Before(ss[j].Time) })
		s.Samples[pod] = ss
	}
	return s, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	return b
}

// unixSeconds is a Unix time in float seconds as a time.Time, rounded to the microsecond.
func unixSeconds(sec float64) time.Time {
	return time.UnixMicro(int64(math.Round(sec * 1e6))).UTC()
}

// The server metrics ServerStages reads, by the name current vLLM exposes.
const (
	MetricKVCacheUsage     = "vllm:kv_cache_usage_perc"
	MetricRunning          = "vllm:num_requests_running"
	MetricWaiting          = "vllm:num_requests_waiting"
	MetricPrefixHits       = "vllm:prefix_cache_hits_total"
	MetricPrefixQueries    = "vllm:prefix_cache_queries_total"
	MetricPreemptions      = "vllm:num_preemptions_total"
	MetricPromptTokens     = "vllm:prompt_tokens_total"
	MetricGenerationTokens = "vllm:generation_tokens_total"
)

// serverAliases are the names each metric has had, first the current one: vLLM before v0.10
// exposed vllm:gpu_cache_usage_perc and vllm:gpu_prefix_cache_{hits,queries}_total; the
// llm-d inference simulator (v0.10.2) exposes vllm:prefix_cache_hits and
// vllm:prefix_cache_queries (no "_total"); older exporters vllm:num_preemptions.
var serverAliases = map[string][]string{
	MetricKVCacheUsage:     {MetricKVCacheUsage, "vllm:gpu_cache_usage_perc"},
	MetricRunning:          {MetricRunning},
	MetricWaiting:          {MetricWaiting},
	MetricPrefixHits:       {MetricPrefixHits, "vllm:prefix_cache_hits", "vllm:gpu_prefix_cache_hits_total"},
	MetricPrefixQueries:    {MetricPrefixQueries, "vllm:prefix_cache_queries", "vllm:gpu_prefix_cache_queries_total"},
	MetricPreemptions:      {MetricPreemptions, "vllm:num_preemptions"},
	MetricPromptTokens:     {MetricPromptTokens},
	MetricGenerationTokens: {MetricGenerationTokens},
}

// ServerValue is one metric of a sample's values, looked up under each name it has had (metric
// is one of the Metric* constants; any other name is looked up as it is). ok is false when the
// sample does not hold it.
func ServerValue(values map[string]float64, metric string) (v float64, ok bool) {
	names := serverAliases[metric]
	if names == nil {
		names = []string{metric}
	}
	for _, n := range names {
		if v, ok := values[n]; ok {
			return v, true
		}
	}
	return 0, false
}

// ServerStages computes each stage's server metrics from the series (nil for a nil series or
// one without any sample), per pod in target order (pods sampled but not in the header follow,
// by name) and for all pods (All). The fields are those of ServerPodMetrics:
//
//   - Gauges (KV-cache usage, running, waiting): mean and max over the pod's successful samples
//     with Start <= time <= End.
//   - Counters (prefix-cache hits and queries, preemptions, prompt and generation tokens): the
//     increase from the pod's last sample at or before Start (else its first inside the window)
//     to its first sample at or after End (else its last inside), counter resets handled as
//     Prometheus's increase() does: where a value drops, the counter restarted from 0, so the new
//     value is the increase since the previous sample. Per-second rates divide the increase by
//     the time between those two samples. Null without two such samples.
//   - The prefix-cache hit rate is Δhits/Δqueries; null when no query was counted.
//
// A sample counts only for the metrics it holds (under any of their names, see ServerValue);
// failed scrapes count for none. A counter is 0 in a pod's successful samples before its first
// sample holding it: Prometheus client libraries create a labelled counter on its first
// increment (the llm-d inference simulator's prompt, generation and prefix-cache counters are
// absent until its first request), so a counter first seen inside a stage counted from 0 there.
// A pod that never exposes a counter has null for it.
//
// All is over the model-server pods (role RoleModelServer, or a pod the header does not list;
// EPP pods are not engines): Samples summed; KV-cache usage the mean of the pods' means and
// the largest pod max (each pod's is a fraction of its own cache); running and waiting means
// summed, their max the largest sum over the pods' latest samples at each sample time in the
// window (times before every pod has a sample skipped); counters and rates summed; hit rate
// all hits over all queries. An All field is null when it is null for any of those pods (a
// sum over some of them would be a wrong figure).
//
// Windows: the stage events' (a stage with no end event runs to the series' last sample, since
// the run stopped there). Without stage events (a harness image scraped by the plugin, which
// sees no stage boundaries) there is one window, Stage -1, "the whole run": from the first to
// the last sample of any pod.
func ServerStages(s *ServerSeries) []ServerStageMetrics {
	if s == nil {
		return nil
	}
	first, last, found := sampleSpan(s)
	if !found {
		return nil
	}
	windows := s.Stages
	if len(windows) == 0 {
		windows = []StageWindow{{Stage: -1, Start: first, End: last}}
	}
	pods := podOrder(s)
	out := make([]ServerStageMetrics, 0, len(windows))
	for _, w := range windows {
		if w.End.IsZero() {
			w.End = last
			if w.End.Before(w.Start) {
				w.End = w.Start
			}
		}
		st := ServerStageMetrics{Stage: w.Stage, Start: w.Start, End: w.End}
		var engines []podWindow
		for _, p := range pods {
			pw := podWindow{samples: okSamples(s.Samples[p.Pod]), start: w.Start, end: w.End}
			m := pw.metrics()
			m.Pod, m.Role = p.Pod, p.Role
			st.Pods = append(st.Pods, m)
			if p.Role != RoleEPP {
				pw.m = m
				engines = append(engines, pw)
			}
		}
		st.All = allPods(engines)
		out = append(out, st)
	}
	return out
}

// sampleSpan is the time of the first and last sample of any pod, failed ones included.
func sampleSpan(s *ServerSeries) (first, last time.Time, found bool) {
	for _, ss := range s.Samples {
		if len(ss) == 0 {
			continue
		}
		if !found || ss[0].Time.Before(first) {
			first = ss[0].Time
		}
		if !found || ss[len(ss)-1].Time.After(last) {
			last = ss[len(ss)-1].Time
		}
		found = true
	}
	return first, last, found
}

// podOrder is the targets in header order, then pods sampled but not listed, by name.
func podOrder(s *ServerSeries) []ServerTarget {
	var out []ServerTarget
	seen := map[string]bool{}
	for _, t := range s.Targets {
		if !seen[t.Pod] {
			seen[t.Pod] = true
			out = append(out, t)
		}
	}
	var extra []string
	for p := range s.Samples {
		if !seen[p] {
			extra = append(extra, p)
		}
	}
	sort.Strings(extra)
	for _, p := range extra {
		out = append(out, ServerTarget{Pod: p})
	}
	return out
}

func okSamples(ss []ServerSample) []ServerSample {
	var out []ServerSample
	for _, s := range ss {
		if s.Err == "" {
			out = append(out, s)
		}
	}
	return out
}

// podWindow is one pod's successful samples and one stage window.
type podWindow struct {
	samples    []ServerSample
	start, end time.Time
	m          ServerPodMetrics
}

func (p podWindow) inside(t time.Time) bool { return !t.Before(p.start) && !t.After(p.end) }

func (p podWindow) metrics() ServerPodMetrics {
	var m ServerPodMetrics
	for _, s := range p.samples {
		if p.inside(s.Time) {
			m.Samples++
		}
	}
	m.KVCacheUsageMean, m.KVCacheUsageMax = p.gauge(MetricKVCacheUsage)
	m.RunningMean, m.RunningMax = p.gauge(MetricRunning)
	m.WaitingMean, m.WaitingMax = p.gauge(MetricWaiting)
	m.PrefixCacheHits, _ = p.counter(MetricPrefixHits)
	m.PrefixCacheQueries, _ = p.counter(MetricPrefixQueries)
	m.PrefixCacheHitRate = ratio(m.PrefixCacheHits, m.PrefixCacheQueries)
	m.Preemptions, _ = p.counter(MetricPreemptions)
	m.PromptTokensPerSec = perSec(p.counter(MetricPromptTokens))
	m.GenerationTokensPerSec = perSec(p.counter(MetricGenerationTokens))
	return m
}

// gauge is the mean and max of metric over the samples inside the window that hold it.
func (p podWindow) gauge(metric string) (mean, maxV *float64) {
	sum, n, hi := 0.0, 0, math.Inf(-1)
	for _, s := range p.samples {
		if !p.inside(s.Time) {
			continue
		}
		if v, ok := ServerValue(s.Values, metric); ok {
			sum, n, hi = sum+v, n+1, max(hi, v)
		}
	}
	if n == 0 {
		return nil, nil
	}
	return f64(sum / float64(n)), f64(hi)
}

// counter is metric's increase over the window and the seconds between the two samples it is
// taken between (see ServerStages); nil when there are not two such samples.
func (p podWindow) counter(metric string) (*float64, float64) {
	type point struct {
		t time.Time
		v float64
	}
	var pts []point
	var before []time.Time // successful samples before the counter's first appearance
	for _, s := range p.samples {
		if v, ok := ServerValue(s.Values, metric); ok {
			pts = append(pts, point{s.Time, v})
		} else if len(pts) == 0 {
			before = append(before, s.Time)
		}
	}
	if len(pts) == 0 {
		return nil, 0
	}
	// A labelled counter appears on its first increment (the simulator's do): before that it was 0.
	zeros := make([]point, len(before), len(before)+len(pts))
	for i, t := range before {
		zeros[i] = point{t, 0}
	}
	pts = append(zeros, pts...)
	from, to := -1, -1
	for i, pt := range pts {
		if !pt.t.After(p.start) {
			from = i // the last at or before start
		}
	}
	if from < 0 {
		for i, pt := range pts {
			if p.inside(pt.t) {
				from = i // else the first inside
				break
			}
		}
	}
	for i, pt := range pts {
		if !pt.t.Before(p.end) {
			to = i // the first at or after end
			break
		}
	}
	if to < 0 {
		for i, pt := range pts {
			if p.inside(pt.t) {
				to = i // else the last inside
			}
		}
	}
	if from < 0 || to <= from {
		return nil, 0
	}
	inc := 0.0
	for i := from + 1; i <= to; i++ {
		if d := pts[i].v - pts[i-1].v; d >= 0 {
			inc += d
		} else {
			inc += pts[i].v // reset: counted again from 0
		}
	}
	return &inc, pts[to].t.Sub(pts[from].t).Seconds()
}

func ratio(num, den *float64) *float64 {
	if num == nil || den == nil || *den <= 0 {
		return nil
	}
	return f64(*num / *den)
}

func perSec(inc *float64, seconds float64) *float64 {
	if inc == nil || seconds <= 0 {
		return nil
	}
	return f64(*inc / seconds)
}

// allPods is the All row over the model-server pods (see ServerStages).
func allPods(pods []podWindow) ServerPodMetrics {
	all := ServerPodMetrics{Pod: "all", Role: RoleModelServer}
	if len(pods) == 0 {
		return all
	}
	ms := make([]ServerPodMetrics, len(pods))
	for i, p := range pods {
		ms[i] = p.m
		all.Samples += p.m.Samples
	}
	field := func(get func(*ServerPodMetrics) *float64) []float64 {
		var vs []float64
		for i := range ms {
			v := get(&ms[i])
			if v == nil {
				return nil
			}
			vs = append(vs, *v)
		}
		return vs
	}
	sum := func(get func(*ServerPodMetrics) *float64) *float64 {
		vs := field(get)
		if vs == nil {
			return nil
		}
		t := 0.0
		for _, v := range vs {
			t += v
		}
		return &t
	}
	if vs := field(func(m *ServerPodMetrics) *float64 { return m.KVCacheUsageMean }); vs != nil {
		t := 0.0
		for _, v := range vs {
			t += v
		}
		all.KVCacheUsageMean = f64(t / float64(len(vs)))
	}
	if vs := field(func(m *ServerPodMetrics) *float64 { return m.KVCacheUsageMax }); vs != nil {
		hi := vs[0]
		for _, v := range vs[1:] {
			hi = max(hi, v)
		}
		all.KVCacheUsageMax = &hi
	}
	all.RunningMean = sum(func(m *ServerPodMetrics) *float64 { return m.RunningMean })
	all.WaitingMean = sum(func(m *ServerPodMetrics) *float64 { return m.WaitingMean })
	if all.RunningMean != nil {
		all.RunningMax = maxOfSum(pods, MetricRunning)
	}
	if all.WaitingMean != nil {
		all.WaitingMax = maxOfSum(pods, MetricWaiting)
	}
	all.PrefixCacheHits = sum(func(m *ServerPodMetrics) *float64 { return m.PrefixCacheHits })
	all.PrefixCacheQueries = sum(func(m *ServerPodMetrics) *float64 { return m.PrefixCacheQueries })
	all.PrefixCacheHitRate = ratio(all.PrefixCacheHits, all.PrefixCacheQueries)
	all.Preemptions = sum(func(m *ServerPodMetrics) *float64 { return m.Preemptions })
	all.PromptTokensPerSec = sum(func(m *ServerPodMetrics) *float64 { return m.PromptTokensPerSec })
	all.GenerationTokensPerSec = sum(func(m *ServerPodMetrics) *float64 { return m.GenerationTokensPerSec })
	return all
}

// maxOfSum is the largest sum over pods of each pod's latest value of metric at or before t,
// for every sample time t inside the window at which every pod has such a value; nil if none.
func maxOfSum(pods []podWindow, metric string) *float64 {
	type point struct {
		t time.Time
		v float64
	}
	series := make([][]point, len(pods))
	var times []time.Time
	for i, p := range pods {
		for _, s := range p.samples {
			if !p.inside(s.Time) {
				continue
			}
			if v, ok := ServerValue(s.Values, metric); ok {
				series[i] = append(series[i], point{s.Time, v})
				times = append(times, s.Time)
			}
		}
	}
	var best *float64
	for _, t := range times {
		total, all := 0.0, true
		for _, ser := range series {
			j := sort.Search(len(ser), func(k int) bool { return ser[k].t.After(t) }) - 1
			if j < 0 {
				all = false
				break
			}
			total += ser[j].v
		}
		if all && (best == nil || total > *best) {
			best = f64(total)
		}
	}
	return best
}
