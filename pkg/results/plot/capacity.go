package plot

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

var (
	colGoodput  = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colAchieved = color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}
	colValue    = color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}
	colLimit    = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	colAnswer   = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	colBracket  = color.NRGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0x40}
	colFailing  = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
)

// CapacityCharts draws a capacity search (r.Report.Capacity) into dir, against the offered level
// (req/s or concurrency): prefix+"goodput" (goodput and achieved rate, req/s) and one chart per
// latency or error SLO, prefix+"slo_<metric>_<stat>" (its measured value, ms or % of requests,
// with the SLO's limit as a horizontal line). Every chart marks the answer: a vertical line at the
// highest passing level, the bracket up to the lowest failing level shaded, or, when no level
// passed, a line at the lowest failing one. Files are PNG, or SVG with Options.Ext "svg". A
// probe's value that was not measured (null) is left out, never drawn as 0. Errors: a report with
// no capacity record, or a file that cannot be written.
func CapacityCharts(r Run, dir, prefix string, o Options) ([]Chart, error) {
	c := r.Report.Capacity
	if c == nil {
		return nil, fmt.Errorf("%s has no %s: not a capacity search", r.Label, results.CapacityFile)
	}
	if o.Width == 0 {
		o.Width, o.Height = 8*vg.Inch, 5*vg.Inch
	}
	var ext string
	switch o.Ext {
	case "", "png":
		ext = ".png"
	case "svg":
		ext = ".svg"
	default:
		return nil, fmt.Errorf("chart file type %q: use png or svg", o.Ext)
	}
	xLabel := "offered rate (" + c.Units + ")"
	if c.By == results.ByConcurrency {
		xLabel = "offered concurrency (" + c.Units + ")"
	}
	var charts []Chart

	// Goodput and achieved rate.
	goodput := probePoints(c, func(p results.CapacityProbe) *float64 { return p.Goodput })
	achieved := probePoints(c, func(p results.CapacityProbe) *float64 { return p.Achieved })
	if len(goodput)+len(achieved) > 0 {
		p := newCapacityPlot(r.Label+": goodput vs offered load", xLabel, "requests/s")
		series := 0
		if err := addSeries(p, &series, goodput, "goodput (req/s meeting every SLO)", colGoodput, false); err != nil {
			return nil, err
		}
		if err := addSeries(p, &series, achieved, "achieved rate", colAchieved, true); err != nil {
			return nil, err
		}
		failed := probePoints(c, func(p results.CapacityProbe) *float64 {
			if p.Pass {
				return nil
			}
			return p.Goodput
		})
		if err := addFails(p, failed, "failed probe (an SLO, or saturated)"); err != nil {
			return nil, err
		}
		top := maxY(goodput, achieved)
		if err := markAnswer(p, c, top); err != nil {
			return nil, err
		}
		ch, err := save(p, o, filepath.Join(dir, prefix+"goodput"+ext), p.Title.Text, series)
		if err != nil {
			return nil, err
		}
		charts = append(charts, *ch)
	}

	// One chart per SLO.
	for i, s := range c.SLOs {
		pts := probePoints(c, func(p results.CapacityProbe) *float64 {
			if i >= len(p.Verdicts) || p.Verdicts[i].Value == nil {
				return nil
			}
			v := s.Display(*p.Verdicts[i].Value)
			return &v
		})
		name := sloName(s)
		p := newCapacityPlot(r.Label+": "+name+" vs offered load", xLabel, name+" ("+s.DisplayUnit()+")")
		series := 0
		if err := addSeries(p, &series, pts, name+" measured", colValue, false); err != nil {
			return nil, err
		}
		failed := probePoints(c, func(p results.CapacityProbe) *float64 {
			if i >= len(p.Verdicts) || p.Verdicts[i].Pass || p.Verdicts[i].Value == nil {
				return nil
			}
			v := s.Display(*p.Verdicts[i].Value)
			return &v
		})
		if err := addFails(p, failed, "fails this SLO"); err != nil {
			return nil, err
		}
		limit := s.Display(s.Limit)
		top := math.Max(maxY(pts), limit)
		minX, maxX := levelRange(c)
		if err := addLine(p, plotter.XYs{{X: minX, Y: limit}, {X: maxX, Y: limit}}, "SLO limit "+trim(limit)+" "+s.DisplayUnit(), colLimit, true); err != nil {
			return nil, err
		}
		if err := markAnswer(p, c, top); err != nil {
			return nil, err
		}
		file := prefix + "slo_" + FileSafe(strings.ToLower(name)) + ext // e.g. slo_ttft_p90.png
		ch, err := save(p, o, filepath.Join(dir, file), p.Title.Text, series)
		if err != nil {
			return nil, err
		}
		charts = append(charts, *ch)
	}
	return charts, nil
}

// sloName is "TTFT p90", "E2E mean" or "failed requests".
func sloName(s results.CapacitySLO) string {
	if s.Metric == "errors" {
		return "failed requests"
	}
	stat := "mean"
	if s.Percentile > 0 {
		stat = "p" + trim(s.Percentile)
	}
	return strings.ToUpper(s.Metric) + " " + stat
}

func newCapacityPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	return p
}

// probePoints takes the probes whose value is measured, sorted by level.
func probePoints(c *results.Capacity, get func(results.CapacityProbe) *float64) plotter.XYs {
	var pts plotter.XYs
	for _, p := range c.Probes {
		if v := get(p); v != nil {
			pts = append(pts, plotter.XY{X: p.Level, Y: *v})
		}
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].X < pts[j].X })
	return pts
}

// addSeries draws a measured series, if it has a point, and counts it in *n.
func addSeries(p *plot.Plot, n *int, pts plotter.XYs, label string, col color.Color, dashed bool) error {
	if len(pts) == 0 {
		return nil
	}
	*n++
	line, scatter, err := plotter.NewLinePoints(pts)
	if err != nil {
		return err
	}
	line.Color, scatter.Color = col, col
	if dashed {
		line.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		scatter.Shape = draw.BoxGlyph{}
	}
	p.Add(line, scatter)
	p.Legend.Add(label, line, scatter)
	return nil
}

// addFails marks failing probes with red crosses, if there are any.
func addFails(p *plot.Plot, pts plotter.XYs, label string) error {
	if len(pts) == 0 {
		return nil
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return err
	}
	sc.Shape = draw.CrossGlyph{}
	sc.Color = colFailing
	sc.Radius = vg.Points(5)
	p.Add(sc)
	p.Legend.Add(label, sc)
	return nil
}

func addLine(p *plot.Plot, pts plotter.XYs, label string, col color.Color, dashed bool) error {
	l, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	l.Color = col
	l.Width = vg.Points(1.5)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
	}
	p.Add(l)
	p.Legend.Add(label, l)
	return nil
}

// markAnswer draws the answer up to top (the data's highest y): the bracket shaded and a vertical
// line at the passing level, or a line at the lowest failing level when none passed. The y axis
// is set from 0 to top with headroom for the legend.
func markAnswer(p *plot.Plot, c *results.Capacity, top float64) error {
	if top <= 0 {
		top = 1
	}
	yMax := top * 1.35 // the legend's rows sit above the data
	unit := " " + c.Units
	if c.Passing != nil && c.Failing != nil {
		a, b := *c.Passing, *c.Failing
		poly, err := plotter.NewPolygon(plotter.XYs{{X: a, Y: 0}, {X: b, Y: 0}, {X: b, Y: yMax}, {X: a, Y: yMax}})
		if err != nil {
			return err
		}
		poly.Color = colBracket
		poly.LineStyle.Width = 0
		p.Add(poly)
		p.Legend.Add("bracket "+trim(a)+"–"+trim(b)+unit, poly)
	}
	switch {
	case c.Passing != nil:
		label := "max within SLO: " + trim(*c.Passing) + unit
		if c.Failing == nil {
			label = "every level passed: ≥ " + trim(*c.Passing) + unit
		}
		if err := addLine(p, plotter.XYs{{X: *c.Passing, Y: 0}, {X: *c.Passing, Y: yMax}}, label, colAnswer, false); err != nil {
			return err
		}
	case c.Failing != nil:
		if err := addLine(p, plotter.XYs{{X: *c.Failing, Y: 0}, {X: *c.Failing, Y: yMax}}, "no level within SLO: fails at "+trim(*c.Failing)+unit, colFailing, false); err != nil {
			return err
		}
	}
	p.Y.Min, p.Y.Max = 0, yMax
	return nil
}

func save(p *plot.Plot, o Options, path, title string, series int) (*Chart, error) {
	if err := p.Save(o.Width, o.Height, path); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return &Chart{File: path, Title: title, Series: series}, nil
}

func maxY(sets ...plotter.XYs) float64 {
	top := 0.0
	for _, s := range sets {
		for _, p := range s {
			top = math.Max(top, p.Y)
		}
	}
	return top
}

// levelRange is the lowest and highest level probed (the limit lines span it).
func levelRange(c *results.Capacity) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range c.Probes {
		lo, hi = math.Min(lo, p.Level), math.Max(hi, p.Level)
	}
	if len(c.Probes) == 0 {
		return c.Min, c.Max
	}
	return lo, hi
}

func trim(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// FileSafe turns a name into a file-name part: letters, digits and _ are kept, anything else becomes _.
func FileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			return r
		}
		return '_'
	}, s)
}
