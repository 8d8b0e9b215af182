package results

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// The merged folder's files, in the layout the native generator (pkg/loadgen) writes, so that
// every reader reads a merged folder as a normal result.

// mergeStageFile is stage N's lifecycle file (loadgen.StageFile).
func mergeStageFile(n int) string { return fmt.Sprintf("stage_%d_lifecycle_metrics.json", n) }

// mergeReportFile is stage N's benchmark report v0.2 (loadgen.ReportFile).
func mergeReportFile(n int) string { return "benchmark_report_v0.2,_" + mergeStageFile(n) + ".yaml" }

// mergeConfigFile is the workload profile the native generator copies into its folder.
const mergeConfigFile = "config.yaml"

// percentileKeys are inference-perf's default percentiles, in its key order.
var percentileKeys = []float64{0.1, 1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9}

// okv is a JSON object that keeps its key order.
type okv []kv

type kv struct {
	k string
	v any
}

func (o okv) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(f.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// fullStats is a series' distribution: mean, population standard deviation, min, max, and the
// percentiles of percentileKeys (numpy's default linear interpolation between closest ranks).
type fullStats struct {
	n                   int
	mean, std, min, max float64
	pct                 []float64
}

// stats computes a series' fullStats exactly (order statistics over every value); nil when empty.
func (s *series) stats() *fullStats {
	if s.n == 0 {
		return nil
	}
	ranks := []int{0, s.n - 1}
	for _, p := range percentileKeys {
		rank := p / 100 * float64(s.n-1)
		ranks = append(ranks, int(math.Floor(rank)), int(math.Ceil(rank)))
	}
	v := s.selectRanks(ranks)
	out := &fullStats{n: s.n, mean: s.sum / float64(s.n), min: v[0], max: v[s.n-1]}
	dev := 0.0
	for _, b := range s.blocks {
		for _, x := range b {
			dev += (x - out.mean) * (x - out.mean)
		}
	}
	out.std = math.Sqrt(dev / float64(s.n))
	for _, p := range percentileKeys {
		rank := p / 100 * float64(s.n-1)
		lo, hi := int(math.Floor(rank)), int(math.Ceil(rank))
		out.pct = append(out.pct, v[lo]+(v[hi]-v[lo])*(rank-float64(lo)))
	}
	return out
}

// lifecycle renders a distribution as inference-perf does: mean, min, percentiles (median for
// 50), max; null when empty.
func (f *fullStats) lifecycle() any {
	if f == nil {
		return nil
	}
	o := okv{{"mean", f.mean}, {"min", f.min}}
	for i, p := range percentileKeys {
		key := "p" + strconv.FormatFloat(p, 'f', -1, 64)
		if p == 50 {
			key = "median"
		}
		o = append(o, kv{key, f.pct[i]})
	}
	return append(o, kv{"max", f.max})
}

// report renders a distribution as a benchmark report v0.2 Statistics block; nil when empty.
func (f *fullStats) report(units string) map[string]any {
	if f == nil {
		return nil
	}
	out := map[string]any{"units": units, "mean": f.mean, "stddev": f.std, "min": f.min, "max": f.max}
	for i, key := range []string{"p0p1", "p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99", "p99p9"} {
		out[key] = f.pct[i]
	}
	return out
}

// renderedStage is one merged stage on its way to its files.
type renderedStage struct {
	id     int
	acc    *stageAcc
	info   MergedStage
	window stageWindow
}

// accStats are a stageAcc's distributions.
type accStats struct {
	delay, e2e, ttft, tpot, itl, ntpot, reqSize, inLen, outLen, failedE2E, failedIn *fullStats
}

func (a *stageAcc) allStats() accStats {
	out := accStats{e2e: a.e2e.stats(), ttft: a.ttft.stats(), tpot: a.tpot.stats(), itl: a.itlStats,
		ntpot: a.ntpot.stats(), reqSize: a.reqSize.stats(), inLen: a.inLen.stats(), outLen: a.outLen.stats(), failedE2E: a.failedE2E.stats(), failedIn: a.failedIn.stats()}
	if a.hasDelay {
		out.delay = a.delay.stats()
	}
	return out
}

// stageLoad is a merged stage's offered load: the sum of the merged launchers' requested rates
// (or concurrencies) from their stage files; nil when any launcher's is not known.
type stageLoad struct{ rate, concurrency *float64 }

func loadOf(id int, folders []*launcherFolder) stageLoad {
	var rate, conc float64
	rateOK, concOK := true, true
	for _, f := range folders {
		m, err := readJSON(filepath.Join(f.dir, mergeStageFile(id)))
		if err != nil {
			return stageLoad{}
		}
		if r := m.num("load_summary", "requested_rate"); r != nil {
			rate += *r
		} else {
			rateOK = false
		}
		if c := m.num("load_summary", "concurrency"); c != nil {
			conc += *c
		} else {
			concOK = false
		}
	}
	var out stageLoad
	if rateOK {
		out.rate = f64(rate)
	}
	if concOK {
		out.concurrency = f64(conc)
	}
	return out
}

// perSecond is v over the window; nil (null) when the window is not known.
func perSecond(v float64, window *float64) *float64 {
	if window == nil {
		return nil
	}
	return f64(v / *window)
}

// lifecycleDoc renders the native generator's stage (stage != nil) or summary lifecycle file.
func lifecycleDoc(a *stageAcc, st accStats, win stageWindow, stage *MergedStage, load stageLoad) okv {
	loadSummary := okv{{"count", a.count}, {"schedule_delay", st.delay.lifecycle()}}
	if stage != nil {
		loadSummary = append(loadSummary, kv{"send_duration", win.send})
		if load.rate != nil {
			loadSummary = append(loadSummary, kv{"requested_rate", *load.rate})
		}
		loadSummary = append(loadSummary, kv{"achieved_rate", stage.AchievedRate})
		if load.concurrency != nil {
			loadSummary = append(loadSummary, kv{"concurrency", *load.concurrency})
		}
	}
	var cached, uncached any
	if a.successes > 0 && a.cachedReported == a.successes {
		cached, uncached = a.cachedTotal, a.inputTotal-a.cachedTotal
	}
	successes := okv{
		{"count", a.successes},
		{"latency", okv{
			{"request_latency", st.e2e.lifecycle()},
			{"normalized_time_per_output_token", st.ntpot.lifecycle()},
			{"time_per_output_token", st.tpot.lifecycle()},
			{"time_to_first_token", st.ttft.lifecycle()},
			{"inter_token_latency", st.itl.lifecycle()},
		}},
		{"throughput", okv{
			{"input_tokens_per_sec", perSecond(a.inputTotal, win.bench)},
			{"output_tokens_per_sec", perSecond(a.outputTotal, win.bench)},
			{"total_tokens_per_sec", perSecond(a.inputTotal+a.outputTotal, win.bench)},
			{"requests_per_sec", perSecond(float64(a.successes), win.bench)},
		}},
		{"request_size_bytes", st.reqSize.lifecycle()},
		{"prompt_len", st.inLen.lifecycle()},
		{"prompt_tokens", okv{{"total", a.inputTotal}, {"cached", cached}, {"uncached", uncached}}},
		{"output_len", st.outLen.lifecycle()},
		{"output_tokens", okv{{"total", a.outputTotal}}},
		{"token_count_mismatches", a.mismatches},
	}
	byLabel := okv{}
	for _, l := range a.labels {
		c := a.byLabel[l]
		msgs := make([]okv, len(c.messages))
		for i, m := range c.messages {
			msgs[i] = okv{{"message", m}}
		}
		byLabel = append(byLabel, kv{l, okv{{"count", c.count}, {"messages", msgs}}})
	}
	failures := okv{
		{"count", a.failures},
		{"request_latency", st.failedE2E.lifecycle()},
		{"prompt_len", st.failedIn.lifecycle()},
		{"by_label", byLabel},
	}
	return okv{
		{"benchmark_time_seconds", win.bench},
		{"load_summary", loadSummary},
		{"successes", successes},
		{"failures", failures},
	}
}

// reportDoc renders stage id's benchmark report v0.2: the first merged launcher's report with its
// results, load and times replaced by the merged ones (a report built from nothing when the
// launcher wrote none).
func reportDoc(r renderedStage, st accStats, load stageLoad, folders []*launcherFolder, harness string) (map[string]any, error) {
	doc := map[string]any{}
	if b, err := os.ReadFile(filepath.Join(folders[0].dir, mergeReportFile(r.id))); err == nil {
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return nil, parseError(filepath.Join(folders[0].dir, mergeReportFile(r.id)), err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	doc["version"] = "0.2"
	uid := make([]byte, 16)
	_, _ = rand.Read(uid)
	run := mapAt(doc, "run")
	run["uid"] = hex.EncodeToString(uid)
	delete(run, "time")
	if start := minStarted(r.id, folders); start != nil && r.window.bench != nil && r.window.source == WindowLaunchFile {
		t0 := time.Unix(0, int64(*start*1e9)).UTC()
		run["time"] = map[string]any{
			"start":    t0.Format(time.RFC3339Nano),
			"end":      t0.Add(time.Duration(*r.window.bench * 1e9)).Format(time.RFC3339Nano),
			"duration": fmt.Sprintf("PT%gS", *r.window.bench),
		}
	}
	std := mapAt(mapAt(mapAt(doc, "scenario"), "load"), "standardized")
	if _, ok := std["tool"]; !ok {
		std["tool"] = harness
	}
	std["stage"] = r.id
	delete(std, "rate_qps")
	delete(std, "concurrency")
	if load.rate != nil {
		std["rate_qps"] = *load.rate
	}
	if load.concurrency != nil {
		std["concurrency"] = *load.concurrency
	}
	a := r.acc
	requests := map[string]any{"total": a.count, "failures": a.failures}
	putIf(requests, "input_length", st.inLen.report("count"))
	putIf(requests, "output_length", st.outLen.report("count"))
	latency := map[string]any{}
	putIf(latency, "time_to_first_token", st.ttft.report("s"))
	putIf(latency, "normalized_time_per_output_token", st.ntpot.report("s/token"))
	putIf(latency, "time_per_output_token", st.tpot.report("s/token"))
	putIf(latency, "inter_token_latency", st.itl.report("s/token"))
	putIf(latency, "request_latency", st.e2e.report("s"))
	throughput := map[string]any{}
	rate := func(units string, v *float64) map[string]any {
		if v == nil {
			return nil
		}
		return map[string]any{"units": units, "mean": *v}
	}
	putIf(throughput, "input_token_rate", rate("tokens/s", perSecond(a.inputTotal, r.window.bench)))
	putIf(throughput, "output_token_rate", rate("tokens/s", perSecond(a.outputTotal, r.window.bench)))
	putIf(throughput, "total_token_rate", rate("tokens/s", perSecond(a.inputTotal+a.outputTotal, r.window.bench)))
	putIf(throughput, "request_rate", rate("queries/s", perSecond(float64(a.successes), r.window.bench)))
	doc["results"] = map[string]any{"request_performance": map[string]any{"aggregate": map[string]any{
		"requests": requests, "latency": latency, "throughput": throughput,
	}}}
	return doc, nil
}

// mapAt returns m[key] as a map, replacing whatever else is there with an empty one.
func mapAt(m map[string]any, key string) map[string]any {
	if sub, ok := m[key].(map[string]any); ok {
		return sub
	}
	sub := map[string]any{}
	m[key] = sub
	return sub
}

func putIf(m map[string]any, key string, v map[string]any) {
	if v != nil {
		m[key] = v
	}
}

func minStarted(stage int, folders []*launcherFolder) *float64 {
	var out *float64
	for _, f := range folders {
		started, _, _ := launchStage(f.launch, stage)
		if started == nil {
			return nil
		}
		if out == nil || *started < *out {
			out = f64(*started)
		}
	}
	return out
}

// mergedMetadata is the merged folder's metadata: the first merged launcher's, for the whole
// workload: verdict succeeded only when every expected launcher is merged and succeeded, else
// incomplete. Nil when no merged launcher has metadata.
func mergedMetadata(sum *MergeSummary, folders []*launcherFolder) *runstate.Metadata {
	var out *runstate.Metadata
	allOK := len(sum.Missing) == 0
	for _, f := range folders {
		if f.meta == nil {
			allOK = false
			continue
		}
		if f.meta.Verdict != runstate.VerdictSucceeded {
			allOK = false
		}
		if out == nil {
			m := *f.meta
			out = &m
			continue
		}
		out.Started = min(out.Started, f.meta.Started)
		switch {
		case out.Finished == nil || f.meta.Finished == nil:
			out.Finished = nil
		case *f.meta.Finished > *out.Finished:
			out.Finished = f.meta.Finished
		}
		switch {
		case out.ExitCode == nil || f.meta.ExitCode == nil:
			out.ExitCode = nil
		case *out.ExitCode == 0:
			out.ExitCode = f.meta.ExitCode
		}
	}
	if out == nil {
		return nil
	}
	out.ParallelIndex = 0
	out.Merged = len(sum.Merged)
	out.Verdict = runstate.VerdictIncomplete
	if allOK {
		out.Verdict = runstate.VerdictSucceeded
	}
	c := allOK
	out.Complete = &c
	return out
}

// writeMerged writes the merged folder (see Merge).
func writeMerged(out string, sum *MergeSummary, stages []renderedStage, run *stageAcc, runWin stageWindow, folders []*launcherFolder) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	put := func(name string, data []byte) error { return os.WriteFile(filepath.Join(out, name), data, 0o644) }
	putJSON := func(name string, v any) error {
		data, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		return put(name, append(data, '\n'))
	}
	harness := "inference-perf"
	if sum.Attribution == AttributionStageID {
		harness = "llmdbench"
	}
	if folders[0].meta != nil && folders[0].meta.Harness != "" {
		harness = folders[0].meta.Harness
	}
	if sum.Attribution == AttributionStageID {
		for _, r := range stages {
			st := r.acc.allStats()
			load := loadOf(r.id, folders)
			info := r.info
			if err := putJSON(mergeStageFile(r.id), lifecycleDoc(r.acc, st, r.window, &info, load)); err != nil {
				return err
			}
			doc, err := reportDoc(r, st, load, folders, harness)
			if err != nil {
				return err
			}
			data, err := yaml.Marshal(doc)
			if err != nil {
				return err
			}
			if err := put(mergeReportFile(r.id), data); err != nil {
				return err
			}
		}
	}
	if err := putJSON(summaryFile, lifecycleDoc(run, run.allStats(), runWin, nil, stageLoad{})); err != nil {
		return err
	}
	if b, err := os.ReadFile(filepath.Join(folders[0].dir, mergeConfigFile)); err == nil {
		if err := put(mergeConfigFile, b); err != nil {
			return err
		}
	}
	if m := mergedMetadata(sum, folders); m != nil {
		if err := putJSON(runstate.MetadataFile, m); err != nil {
			return err
		}
	}
	return putJSON(MergeFile, sum)
}

// ReadMerge reads a merged folder's MergeFile; (nil, nil) when the folder is not a merge.
func ReadMerge(dir string) (*MergeSummary, error) {
	b, err := os.ReadFile(filepath.Join(dir, MergeFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m MergeSummary
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, jsonError(filepath.Join(dir, MergeFile), b, err)
	}
	return &m, nil
}

// Describe says in one line what a merge holds, e.g. "merged from 3 of 4 launchers (missing: 2
// (no result folder)), start skew 4 ms".
func (m *MergeSummary) Describe() string {
	s := fmt.Sprintf("merged from %d of %d launchers", len(m.Merged), m.Expected)
	if len(m.Missing) > 0 {
		s += " (missing:"
		for i, l := range m.Missing {
			if i > 0 {
				s += ","
			}
			s += fmt.Sprintf(" %d (%s)", l.Index, l.Reason)
		}
		s += ")"
	}
	var skew *float64
	for _, st := range m.Stages {
		if st.StartSkewSeconds != nil && (skew == nil || *st.StartSkewSeconds > *skew) {
			skew = st.StartSkewSeconds
		}
	}
	if skew != nil {
		s += fmt.Sprintf(", start skew up to %.0f ms", *skew*1000)
	} else {
		s += ", start skew unknown"
	}
	if m.Attribution == AttributionNone {
		s += "; whole run only (the per-request records carry no stage)"
	}
	if m.PerLauncherStages {
		s += "; stage boundaries are each launcher's own"
	}
	return s
}
