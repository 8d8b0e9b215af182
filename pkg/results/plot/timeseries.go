package plot

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

var colStage = color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff}

// ext is the file suffix of Options.Ext: ".png" (the default) or ".svg".
func ext(o Options) (string, error) {
	switch o.Ext {
	case "", "png":
		return ".png", nil
	case "svg":
		return ".svg", nil
	}
	return "", fmt.Errorf("chart file type %q: use png or svg", o.Ext)
}

func defaults(o Options) Options {
	if o.Width == 0 {
		o.Width, o.Height = 8*vg.Inch, 5*vg.Inch
	}
	return o
}

// ClientSeriesCharts draws a run's client time series (results.ClientTimeSeriesDir) into dir,
// against seconds since the run's first request: prefix+"client_latency" (TTFT and ITL p50 and
// p90 of the requests completing in each bucket, ms), prefix+"client_requests" (completed
// requests/s) and prefix+"client_tokens" (output tokens/s). Stage starts are vertical lines
// labelled "stage N". A bucket without a value leaves a gap in its line (never a 0). Files are
// PNG, or SVG with Options.Ext "svg". Errors: an unknown Ext, a file that cannot be written.
func ClientSeriesCharts(label string, ts *results.ClientSeries, dir, prefix string, o Options) ([]Chart, error) {
	o = defaults(o)
	suffix, err := ext(o)
	if err != nil {
		return nil, err
	}
	if ts == nil || len(ts.Buckets) == 0 {
		return nil, nil
	}
	mid := func(b results.ClientBucket) float64 { return b.Start + b.Seconds/2 }
	ms := func(d func(results.ClientBucket) *results.Dist, stat string) func(results.ClientBucket) *float64 {
		return func(b results.ClientBucket) *float64 {
			v := d(b).Get(stat)
			if v == nil {
				return nil
			}
			x := *v * 1000
			return &x
		}
	}
	ttft := func(b results.ClientBucket) *results.Dist { return b.TTFT }
	itl := func(b results.ClientBucket) *results.Dist { return b.ITL }
	type line struct {
		name string
		get  func(results.ClientBucket) *float64
	}
	specs := []struct {
		file, title, y string
		lines          []line
	}{
		{"client_latency", "client latency over time", "latency (ms)", []line{
			{"TTFT p50", ms(ttft, "p50")}, {"TTFT p90", ms(ttft, "p90")}, {"ITL p50", ms(itl, "p50")}, {"ITL p90", ms(itl, "p90")}}},
		{"client_requests", "completed requests over time", "requests/s", []line{
			{"completed requests/s", func(b results.ClientBucket) *float64 { return b.RequestsPerSec }}}},
		{"client_tokens", "output throughput over time", "output tokens/s", []line{
			{"output tokens/s", func(b results.ClientBucket) *float64 { return b.OutputTokensPerSec }}}},
	}
	var charts []Chart
	for _, sp := range specs {
		p := newTimePlot(label+": "+sp.title, "time since the first request (s, "+trim(ts.BucketSeconds)+" s buckets)", sp.y)
		series := 0
		top := 0.0
		for i, l := range sp.lines {
			var pts []*plotter.XY // nil where the bucket has no value
			for _, b := range ts.Buckets {
				if v := l.get(b); v != nil {
					pts = append(pts, &plotter.XY{X: mid(b), Y: *v})
					top = math.Max(top, *v)
				} else {
					pts = append(pts, nil)
				}
			}
			ok, err := addGappedLine(p, pts, l.name, plotutil.Color(i/2), i%2 == 1) // p90 dashed
			if err != nil {
				return nil, err
			}
			if ok {
				series++
			}
		}
		if series == 0 {
			continue
		}
		var stages []stageMark
		for _, s := range ts.Stages {
			stages = append(stages, stageMark{s.Stage, s.Start})
		}
		if err := markStages(p, stages, top); err != nil {
			return nil, err
		}
		ch, err := save(p, o, filepath.Join(dir, prefix+sp.file+suffix), p.Title.Text, series)
		if err != nil {
			return nil, err
		}
		charts = append(charts, *ch)
	}
	return charts, nil
}

// Server metric names (vLLM; older vLLM's spellings second).
var (
	kvNames      = []string{"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"}
	runningNames = []string{"vllm:num_requests_running"}
	waitingNames = []string{"vllm:num_requests_waiting"}
	hitsNames    = []string{"vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total"}
	queryNames   = []string{"vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total"}
)

// value is the first of names a sample holds.
func value(s results.ServerSample, names []string) (float64, bool) {
	for _, n := range names {
		if v, ok := s.Values[n]; ok {
			return v, true
		}
	}
	return 0, false
}

// ServerSeriesCharts draws the model servers' series (results.ReadServerSeries) into dir, one
// line per pod, against seconds since the first stage start (the first sample when no stage was
// recorded): prefix+"server_kv_cache" (KV-cache usage, % of each pod's cache),
// prefix+"server_queue" (requests running, solid, and waiting, dashed) and
// prefix+"server_prefix_hit_rate" (prefix-cache hits / queries between consecutive samples, %;
// no point where no query was counted or a counter went back, a restart). Failed scrapes leave
// gaps. Stage starts are vertical lines. A chart no pod has the metric for is not drawn. Errors:
// an unknown Ext, a file that cannot be written.
func ServerSeriesCharts(label string, ss *results.ServerSeries, dir, prefix string, o Options) ([]Chart, error) {
	o = defaults(o)
	suffix, err := ext(o)
	if err != nil {
		return nil, err
	}
	if ss == nil {
		return nil, nil
	}
	pods := serverPods(ss)
	origin := math.Inf(1)
	for _, st := range ss.Stages {
		origin = math.Min(origin, unix(st.Start))
	}
	if math.IsInf(origin, 1) {
		for _, pod := range pods {
			if s := ss.Samples[pod]; len(s) > 0 {
				origin = math.Min(origin, unix(s[0].Time))
			}
		}
	}
	var stages []stageMark
	for _, st := range ss.Stages {
		stages = append(stages, stageMark{st.Stage, unix(st.Start) - origin})
	}
	gauge := func(names []string, scale float64) func([]results.ServerSample, int) *float64 {
		return func(s []results.ServerSample, i int) *float64 {
			if v, ok := value(s[i], names); ok && s[i].Err == "" {
				v *= scale
				return &v
			}
			return nil
		}
	}
	type metric struct {
		suffix string
		get    func([]results.ServerSample, int) *float64
		dashed bool
	}
	specs := []struct {
		file, title, y string
		metrics        []metric
	}{
		{"server_kv_cache", "KV-cache usage per pod", "KV cache in use (%)", []metric{{"", gauge(kvNames, 100), false}}},
		{"server_queue", "requests running (solid) and waiting (dashed) per pod", "requests", []metric{
			{" running", gauge(runningNames, 1), false}, {" waiting", gauge(waitingNames, 1), true}}},
		{"server_prefix_hit_rate", "prefix-cache hit rate per pod", "prefix-cache hit rate (% of queried tokens)", []metric{{"", hitRateAt, false}}},
	}
	var charts []Chart
	for _, sp := range specs {
		p := newTimePlot(label+": "+sp.title, "time since the first stage start (s)", sp.y)
		series, top := 0, 0.0
		for i, pod := range pods {
			samples := ss.Samples[pod]
			for _, m := range sp.metrics {
				var pts []*plotter.XY
				for j := range samples {
					if v := m.get(samples, j); v != nil {
						pts = append(pts, &plotter.XY{X: unix(samples[j].Time) - origin, Y: *v})
						top = math.Max(top, *v)
					} else {
						pts = append(pts, nil)
					}
				}
				ok, err := addGappedLine(p, pts, pod+m.suffix, plotutil.Color(i), m.dashed)
				if err != nil {
					return nil, err
				}
				if ok {
					series++
				}
			}
		}
		if series == 0 {
			continue
		}
		if err := markStages(p, stages, top); err != nil {
			return nil, err
		}
		ch, err := save(p, o, filepath.Join(dir, prefix+sp.file+suffix), p.Title.Text, series)
		if err != nil {
			return nil, err
		}
		charts = append(charts, *ch)
	}
	return charts, nil
}

// ServerVsRateCharts draws the servers' per-stage numbers (results.ServerStages, all pods
// together) against each stage's rate: prefix+"server_cache_vs_rate" (the KV-cache usage mean and
// the prefix-cache hit rate, %) and prefix+"server_queue_vs_rate" (the means of the running and
// waiting requests). The x axis is the achieved rate when every stage with server metrics has
// one, else the requested rate; a stage with neither, or a number that is null, is left out, and
// a chart with no point is not drawn. Errors: an unknown Ext, a file that cannot be written.
func ServerVsRateCharts(r Run, server []results.ServerStageMetrics, dir, prefix string, o Options) ([]Chart, error) {
	o = defaults(o)
	suffix, err := ext(o)
	if err != nil {
		return nil, err
	}
	byStage := map[int]results.Metrics{}
	for _, s := range r.Report.Stages {
		byStage[s.Stage] = s.Metrics
	}
	achieved := true
	for _, sm := range server {
		if m, ok := byStage[sm.Stage]; !ok || m.AchievedRate == nil {
			achieved = false
		}
	}
	rate := func(m results.Metrics) *float64 {
		if achieved {
			return m.AchievedRate
		}
		return m.RequestedRate
	}
	xLabel := "requested rate (requests/s)"
	if achieved {
		xLabel = "achieved rate (requests/s)"
	}
	pct := func(v *float64) *float64 {
		if v == nil {
			return nil
		}
		x := *v * 100
		return &x
	}
	type line struct {
		name string
		get  func(results.ServerPodMetrics) *float64
	}
	specs := []struct {
		file, title, y string
		lines          []line
	}{
		{"server_cache_vs_rate", "KV cache and prefix cache vs rate", "%", []line{
			{"KV-cache usage mean (%)", func(a results.ServerPodMetrics) *float64 { return pct(a.KVCacheUsageMean) }},
			{"prefix-cache hit rate (%)", func(a results.ServerPodMetrics) *float64 { return pct(a.PrefixCacheHitRate) }}}},
		{"server_queue_vs_rate", "running and waiting requests vs rate", "requests (mean over the stage)", []line{
			{"running requests, mean", func(a results.ServerPodMetrics) *float64 { return a.RunningMean }},
			{"waiting requests, mean", func(a results.ServerPodMetrics) *float64 { return a.WaitingMean }}}},
	}
	var charts []Chart
	for _, sp := range specs {
		p := newTimePlot(r.Label+": "+sp.title, xLabel, sp.y)
		series := 0
		for i, l := range sp.lines {
			var pts plotter.XYs
			for _, sm := range server {
				m, ok := byStage[sm.Stage]
				if !ok {
					continue
				}
				x, y := rate(m), l.get(sm.All)
				if x != nil && y != nil {
					pts = append(pts, plotter.XY{X: *x, Y: *y})
				}
			}
			sort.Slice(pts, func(a, b int) bool { return pts[a].X < pts[b].X })
			if err := addSeries(p, &series, pts, l.name, plotutil.Color(i), i == 1); err != nil {
				return nil, err
			}
		}
		if series == 0 {
			continue
		}
		p.Y.Min = 0
		p.Y.Max *= 1 + 0.09*float64(series)
		ch, err := save(p, o, filepath.Join(dir, prefix+sp.file+suffix), p.Title.Text, series)
		if err != nil {
			return nil, err
		}
		charts = append(charts, *ch)
	}
	return charts, nil
}

func newTimePlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true // top right: stage 0 starts at the left edge
	p.Legend.XOffs = -vg.Points(12)
	p.Add(plotter.NewGrid())
	return p
}

// addGappedLine draws pts as one line per run of values (a nil breaks the line) under one
// legend entry; false when there is no value at all.
func addGappedLine(p *plot.Plot, pts []*plotter.XY, name string, col color.Color, dashed bool) (bool, error) {
	var runs []plotter.XYs
	var cur plotter.XYs
	for _, pt := range append(pts, nil) {
		if pt != nil {
			cur = append(cur, *pt)
			continue
		}
		if len(cur) > 0 {
			runs = append(runs, cur)
			cur = nil
		}
	}
	if len(runs) == 0 {
		return false, nil
	}
	for i, run := range runs {
		line, scatter, err := plotter.NewLinePoints(run)
		if err != nil {
			return false, err
		}
		line.Color, scatter.Color = col, col
		scatter.Radius = vg.Points(1.5)
		if dashed {
			line.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		}
		p.Add(line, scatter)
		if i == 0 {
			p.Legend.Add(name, line, scatter)
		}
	}
	return true, nil
}

type stageMark struct {
	stage int
	at    float64
}

// markStages draws a vertical line at each stage start, labelled at its top, and sets the y
// axis from 0 with headroom above top for the legend and the labels.
func markStages(p *plot.Plot, stages []stageMark, top float64) error {
	if top <= 0 {
		top = 1
	}
	yMax := top * 1.4
	var labels plotter.XYLabels
	for i, s := range stages {
		l, err := plotter.NewLine(plotter.XYs{{X: s.at, Y: 0}, {X: s.at, Y: yMax}})
		if err != nil {
			return err
		}
		l.Color = colStage
		l.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(l)
		if i == 0 {
			p.Legend.Add("stage start", l)
		}
		labels.XYs = append(labels.XYs, plotter.XY{X: s.at, Y: top * 1.05})
		labels.Labels = append(labels.Labels, "stage "+strconv.Itoa(s.stage))
	}
	if len(labels.XYs) > 0 {
		lb, err := plotter.NewLabels(labels)
		if err != nil {
			return err
		}
		for i := range lb.TextStyle {
			lb.TextStyle[i].Color = colStage
		}
		p.Add(lb)
	}
	p.Y.Min, p.Y.Max = 0, yMax
	return nil
}

// serverPods are the pods with samples: in target order, then any other by name.
func serverPods(ss *results.ServerSeries) []string {
	var pods []string
	seen := map[string]bool{}
	for _, t := range ss.Targets {
		if _, ok := ss.Samples[t.Pod]; ok && !seen[t.Pod] {
			pods = append(pods, t.Pod)
			seen[t.Pod] = true
		}
	}
	var rest []string
	for pod := range ss.Samples {
		if !seen[pod] {
			rest = append(rest, pod)
		}
	}
	sort.Strings(rest)
	return append(pods, rest...)
}

func unix(t interface{ UnixNano() int64 }) float64 { return float64(t.UnixNano()) / 1e9 }

// hitRateAt is the prefix-cache hit rate (%) between samples i-1 and i: Δhits / Δqueries; nil
// for the first sample, a failed scrape on either side, a missing counter, no query counted, or
// a counter that went back (a restart).
func hitRateAt(s []results.ServerSample, i int) *float64 {
	if i == 0 || s[i].Err != "" || s[i-1].Err != "" {
		return nil
	}
	h1, ok1 := value(s[i], hitsNames)
	q1, ok2 := value(s[i], queryNames)
	h0, ok3 := value(s[i-1], hitsNames)
	q0, ok4 := value(s[i-1], queryNames)
	dq, dh := q1-q0, h1-h0
	if !ok1 || !ok2 || !ok3 || !ok4 || dq <= 0 || dh < 0 {
		return nil
	}
	v := 100 * dh / dq
	return &v
}
