// Package plot draws the standard benchmark charts as PNG from normalised results: latency and
// throughput against the achieved rate, and throughput against latency, one series per run.
package plot

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

// ErrNothingToPlot: no run has a stage with the numbers a chart needs.
var ErrNothingToPlot = errors.New("nothing to plot")

// Run is one labelled result folder.
type Run struct {
	Label  string
	Report *results.Report
}

// Options shape the charts.
type Options struct {
	// Stat is the latency statistic drawn: mean, p50, p90 or p99.
	Stat          string
	Width, Height vg.Length
	// Ext is the charts' file type: "png" (the default) or "svg".
	Ext string
}

// Chart is one written file.
type Chart struct {
	File   string `json:"file"`
	Title  string `json:"title"`
	Series int    `json:"series"`
}

type axis struct {
	label string
	get   func(results.Metrics) *float64
}

// Charts writes the three standard charts into dir, and the TTFT and request-latency CDFs of the
// runs with per-request data; PNG, or SVG with Options.Ext "svg".
func Charts(runs []Run, dir string, o Options) ([]Chart, error) {
	suffix, err := ext(o)
	if err != nil {
		return nil, err
	}
	if o.Stat == "" {
		o.Stat = "p50"
	}
	if o.Width == 0 {
		o.Width, o.Height = 8*vg.Inch, 5*vg.Inch
	}
	ms := func(f func(results.Latency) *results.Dist) func(results.Metrics) *float64 {
		return func(m results.Metrics) *float64 {
			v := f(m.Latency).Get(o.Stat)
			if v == nil {
				return nil
			}
			x := *v * 1000
			return &x
		}
	}
	rate := axis{"achieved rate (requests/s)", func(m results.Metrics) *float64 { return m.AchievedRate }}
	ttft := axis{"TTFT " + o.Stat + " (ms)", ms(func(l results.Latency) *results.Dist { return l.TTFT })}
	tpot := axis{"TPOT " + o.Stat + " (ms/token)", ms(func(l results.Latency) *results.Dist { return l.TPOT })}
	e2e := axis{"request latency " + o.Stat + " (ms)", ms(func(l results.Latency) *results.Dist { return l.E2E })}
	outTok := axis{"output throughput (tokens/s)", func(m results.Metrics) *float64 { return m.Throughput.OutputTokensPerSec }}
	specs := []struct {
		file, title string
		x           axis
		ys          []axis
	}{
		{"latency_vs_rate", "Latency vs achieved rate", rate, []axis{ttft, tpot}},
		{"throughput_vs_rate", "Throughput vs achieved rate", rate, []axis{outTok}},
		{"throughput_vs_latency", "Throughput vs latency", e2e, []axis{outTok}},
	}
	var charts []Chart
	for _, sp := range specs {
		p := plot.New()
		p.Title.Text = sp.title
		p.X.Label.Text = sp.x.label
		p.Y.Label.Text = sp.ys[0].label
		if len(sp.ys) > 1 {
			p.Y.Label.Text = "latency (ms); TTFT solid, TPOT dashed"
		}
		// Top left: the entries run rightwards over the headroom. At the right edge a browser, whose
		// font is wider than the one the layout was measured with, would cut off their ends
		// (" TTFT", " TPOT") and two entries of a run would read the same.
		p.Legend.Top = true
		p.Legend.Left = true
		p.Legend.XOffs = vg.Points(8)
		p.Legend.Padding = vg.Points(3) // and a browser's taller rows do not touch
		p.Add(plotter.NewGrid())
		series := 0
		for i, r := range runs {
			for j, y := range sp.ys {
				pts := points(r.Report, sp.x.get, y.get)
				if len(pts) == 0 {
					continue
				}
				line, scatter, err := plotter.NewLinePoints(pts)
				if err != nil {
					return nil, err
				}
				line.Color, scatter.Color = plotutil.Color(i), plotutil.Color(i)
				scatter.Shape = plotutil.Shape(i)
				if j > 0 {
					line.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
				}
				p.Add(line, scatter)
				name := r.Label
				if len(sp.ys) > 1 {
					name += map[int]string{0: " TTFT", 1: " TPOT"}[j]
				}
				p.Legend.Add(name, line, scatter)
				series++
			}
		}
		if series == 0 {
			continue // nothing to draw (e.g. a run without streaming has no TTFT)
		}
		// From zero, with headroom for the legend rows at the top so it never covers a point.
		p.Y.Min = 0
		p.Y.Max *= 1 + 0.09*float64(series)
		path := filepath.Join(dir, sp.file+suffix)
		if err := p.Save(o.Width, o.Height, path); err != nil {
			return nil, fmt.Errorf("writing %s: %w", path, err)
		}
		charts = append(charts, Chart{File: path, Title: sp.title, Series: series})
	}
	for _, metric := range []struct{ key, file, title string }{
		{"ttft", "cdf_ttft", "TTFT distribution (per request)"},
		{"e2e", "cdf_e2e", "Request latency distribution (per request)"},
	} {
		c, err := cdfChart(runs, metric.key, filepath.Join(dir, metric.file+suffix), metric.title, o)
		if err != nil {
			return nil, err
		}
		if c != nil {
			charts = append(charts, *c)
		}
	}
	if len(charts) == 0 {
		return nil, fmt.Errorf("%w: no stage has an achieved rate and latency", ErrNothingToPlot)
	}
	return charts, nil
}

// cdfChart draws the cumulative distribution of a per-request metric for the runs that have it.
func cdfChart(runs []Run, key, path, title string, o Options) (*Chart, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = key + " (ms)"
	if key == "e2e" {
		p.X.Label.Text = "request latency (ms)"
	} else {
		p.X.Label.Text = "TTFT (ms)"
	}
	p.Y.Label.Text = "share of requests (%)"
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	series := 0
	for i, r := range runs {
		if r.Report.PerRequest == nil || len(r.Report.PerRequest.CDF[key]) == 0 {
			continue
		}
		var pts plotter.XYs
		for pct, v := range r.Report.PerRequest.CDF[key] {
			pts = append(pts, plotter.XY{X: v * 1000, Y: float64(pct)})
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		line.Color = plotutil.Color(i)
		p.Add(line)
		p.Legend.Add(r.Label, line)
		series++
	}
	if series == 0 {
		return nil, nil
	}
	if err := p.Save(o.Width, o.Height, path); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return &Chart{File: path, Title: title, Series: series}, nil
}

// points takes the stages that have both values, sorted by x.
func points(r *results.Report, x, y func(results.Metrics) *float64) plotter.XYs {
	var pts plotter.XYs
	for _, s := range r.Stages {
		xv, yv := x(s.Metrics), y(s.Metrics)
		if xv != nil && yv != nil {
			pts = append(pts, plotter.XY{X: *xv, Y: *yv})
		}
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].X < pts[j].X })
	return pts
}
