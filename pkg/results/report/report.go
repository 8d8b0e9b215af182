// Package report writes a benchmark's results as one self-contained HTML file: run metadata, the
// stage table, SLO verdicts and the capacity answer, server metrics, and every chart inline as
// SVG. The file loads nothing (no script, no style sheet, font or image from elsewhere), so it
// opens offline and prints (a print style sheet is embedded).
package report

import (
	"bytes"
	_ "embed"
	"encoding/xml"
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
	"github.com/llmdbench/kubectl-llmdbench/pkg/results/plot"
)

// Run is one result folder and what was read beside it.
type Run struct {
	Label  string
	Report *results.Report
	// Client is the folder's client time series (results.ClientTimeSeriesDir); nil when none.
	Client *results.ClientSeries
	// Server is the folder's server-metrics series (results.ReadServerSeries) and ServerStages
	// its per-stage numbers (results.ServerStages); nil when the run scraped none.
	Server       *results.ServerSeries
	ServerStages []results.ServerStageMetrics
}

// Options shape the report.
type Options struct {
	// Title heads the page; "kubectl llmdbench report" when empty.
	Title string
	// Generated is printed as the report's creation time (UTC); not printed when zero.
	Generated time.Time
	// Stat is the latency statistic of the charts against rate: mean, p50 (the default), p90, p99.
	Stat string
}

// Section ids of the page, in order; a section without content is left out (SectionRuns and
// SectionStages are always there).
const (
	SectionRuns          = "runs"
	SectionStages        = "stages"
	SectionSLO           = "slo"
	SectionServerMetrics = "server-metrics"
	SectionCharts        = "charts"
)

//go:embed report.css
var css string

//go:embed report.html.tmpl
var pageTemplate string

var page = template.Must(template.New("report").Parse(pageTemplate))

// Write renders runs as one HTML document to w. Charts are drawn with package plot as SVG into a
// temporary folder that is removed before Write returns, checked (well-formed XML, no script,
// event handler, foreign object or outside link) and inlined. Numbers print as `results show`
// prints them (latencies in ms with one decimal, rates with two); a number that was not measured
// prints `-`. Errors: no run, a chart that cannot be drawn or fails the check, w failing.
func Write(w io.Writer, runs []Run, o Options) error {
	if len(runs) == 0 {
		return errors.New("no result to report")
	}
	if o.Title == "" {
		o.Title = "kubectl llmdbench report"
	}
	tmp, err := os.MkdirTemp("", "llmdbench-report-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	d := pageData{Title: o.Title, CSS: template.CSS(css), StageHeader: StageHeader, ServerHeader: ServerHeader}
	if !o.Generated.IsZero() {
		d.Generated = o.Generated.UTC().Format(time.RFC3339)
	}
	var plotRuns []plot.Run
	for i, r := range runs {
		rv := runView(i, r)
		d.Runs = append(d.Runs, rv)
		d.HasSLO = d.HasSLO || rv.Capacity != nil || rv.Goodput != ""
		d.HasServer = d.HasServer || len(rv.Server) > 0
		plotRuns = append(plotRuns, plot.Run{Label: r.Label, Report: r.Report})
	}
	popt := plot.Options{Stat: o.Stat, Ext: "svg"}
	std, err := plot.Charts(plotRuns, tmp, popt)
	if err != nil && !errors.Is(err, plot.ErrNothingToPlot) {
		return err
	}
	if d.Charts, err = inline(std); err != nil {
		return err
	}
	for i, r := range runs {
		var cs []plot.Chart
		prefix := fmt.Sprintf("run%d_", i)
		if r.Report.Capacity != nil {
			c, err := plot.CapacityCharts(plotRuns[i], tmp, prefix+"capacity_", popt)
			if err != nil {
				return err
			}
			cs = append(cs, c...)
		}
		for _, draw := range []func() ([]plot.Chart, error){
			func() ([]plot.Chart, error) { return plot.ClientSeriesCharts(r.Label, r.Client, tmp, prefix, popt) },
			func() ([]plot.Chart, error) { return plot.ServerSeriesCharts(r.Label, r.Server, tmp, prefix, popt) },
			func() ([]plot.Chart, error) {
				return plot.ServerVsRateCharts(plotRuns[i], r.ServerStages, tmp, prefix, popt)
			},
		} {
			c, err := draw()
			if err != nil {
				return err
			}
			cs = append(cs, c...)
		}
		if d.Runs[i].Charts, err = inline(cs); err != nil {
			return err
		}
		d.HasCharts = d.HasCharts || len(d.Runs[i].Charts) > 0
	}
	d.HasCharts = d.HasCharts || len(d.Charts) > 0
	var buf bytes.Buffer
	if err := page.Execute(&buf, d); err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}

type pageData struct {
	Title, Generated             string
	CSS                          template.CSS
	Runs                         []runData
	Charts                       []figure
	HasSLO, HasServer, HasCharts bool
	StageHeader, ServerHeader    []string
}

type runData struct {
	ID, Label string
	Meta      [][2]string
	Stages    [][]string
	Notes     []string
	Goodput   string
	Capacity  *capacityData
	Server    []serverStage
	Charts    []figure
}

type capacityData struct {
	Answer, Stop string
	Header       []string
	Rows         [][]string
}

type serverStage struct {
	Title string
	Rows  [][]string
}

type figure struct {
	Title string
	SVG   template.HTML
}

// StageHeader is the stage table's header: the columns of `results show`.
var StageHeader = []string{"stage", "rate req/ach", "conc", "ok", "failed", "TTFT ms mean/p50/p90/p99", "TPOT ms", "ITL ms", "NTPOT ms", "E2E ms", "req/s", "in tok/s", "out tok/s"}

// ServerHeader is the server-metrics table's header.
var ServerHeader = []string{"pod", "role", "samples", "KV cache mean/max %", "running mean/max", "waiting mean/max", "prefix hit rate %", "preemptions", "prompt tok/s", "generation tok/s"}

func runView(i int, r Run) runData {
	rep := r.Report
	d := runData{ID: "run-" + strconv.Itoa(i), Label: r.Label}
	add := func(k, v string) {
		if v != "" {
			d.Meta = append(d.Meta, [2]string{k, v})
		}
	}
	add("source", rep.Source)
	add("format", rep.Format)
	add("harness", rep.Harness)
	add("model", rep.Model)
	if m := rep.Metadata; m != nil {
		add("run", m.Run)
		add("workload", m.Workload)
		add("preset", m.Preset)
		add("stack", m.Stack)
		add("endpoint", m.BaseURL)
		add("image", m.Image)
		add("plugin version", m.PluginVersion)
		add("description", m.Description)
		if m.Started > 0 {
			add("started", time.Unix(m.Started, 0).UTC().Format(time.RFC3339))
		}
		if m.Finished != nil {
			add("finished", time.Unix(*m.Finished, 0).UTC().Format(time.RFC3339))
		}
		add("verdict", m.Verdict)
		if m.Parallelism > 1 {
			add("parallel launchers", strconv.Itoa(m.Parallelism))
		}
	}
	if rep.Repeats > 1 {
		add("repeats averaged", strconv.Itoa(rep.Repeats))
	}
	if rep.Merge != nil {
		d.Notes = append(d.Notes, rep.Merge.Describe())
	}
	row := func(label string, m results.Metrics) {
		ok, failed := "-", "-"
		if m.Requests != nil {
			ok, failed = strconv.Itoa(m.Requests.Succeeded), strconv.Itoa(m.Requests.Failed)
			if m.Requests.Incomplete != nil && *m.Requests.Incomplete > 0 {
				failed += fmt.Sprintf(" (+%d incomplete)", *m.Requests.Incomplete)
			}
		}
		l := m.Latency
		d.Stages = append(d.Stages, []string{label, num(m.RequestedRate, 2) + "/" + num(m.AchievedRate, 2), num(m.Concurrency, 0), ok, failed,
			dist(l.TTFT), dist(l.TPOT), dist(l.ITL), dist(l.NTPOT), dist(l.E2E),
			num(m.Throughput.RequestsPerSec, 2), num(m.Throughput.InputTokensPerSec, 1), num(m.Throughput.OutputTokensPerSec, 1)})
	}
	for _, st := range rep.Stages {
		row(strconv.Itoa(st.Stage), st.Metrics)
	}
	if rep.Summary != nil {
		row("all", *rep.Summary)
	}
	if rep.PerRequest != nil {
		row("per-request", rep.PerRequest.Metrics)
		if g := rep.PerRequest.Goodput; g != nil {
			d.Goodput = fmt.Sprintf("Goodput: %d of %d requests (%.1f%%) met every SLO (%s); %.3f good requests/s",
				g.Good, g.Total, 100*g.Share, slos(g.SLOs), g.RatePerS)
		}
	}
	if t := rep.Definitions["tpot"]; t != "" {
		d.Notes = append(d.Notes, "TPOT: "+t+". ITL: "+rep.Definitions["itl"]+".")
	}
	if c := rep.Capacity; c != nil {
		d.Capacity = capacityView(c)
	}
	for _, sm := range r.ServerStages {
		s := serverStage{Title: fmt.Sprintf("stage %d", sm.Stage)}
		if !sm.Start.IsZero() {
			s.Title += ", " + sm.Start.UTC().Format("15:04:05")
			if !sm.End.IsZero() {
				s.Title += fmt.Sprintf(" for %.1f s", sm.End.Sub(sm.Start).Seconds())
			}
		}
		for _, p := range sm.Pods {
			s.Rows = append(s.Rows, serverRow(p.Pod, p.Role, p))
		}
		s.Rows = append(s.Rows, serverRow("all", "", sm.All))
		d.Server = append(d.Server, s)
	}
	return d
}

func serverRow(pod, role string, p results.ServerPodMetrics) []string {
	return []string{pod, role, strconv.Itoa(p.Samples),
		pct(p.KVCacheUsageMean) + "/" + pct(p.KVCacheUsageMax),
		num(p.RunningMean, 1) + "/" + num(p.RunningMax, 0), num(p.WaitingMean, 1) + "/" + num(p.WaitingMax, 0),
		pct(p.PrefixCacheHitRate), num(p.Preemptions, 0), num(p.PromptTokensPerSec, 1), num(p.GenerationTokensPerSec, 1)}
}

func capacityView(c *results.Capacity) *capacityData {
	d := &capacityData{Answer: c.Summary(), Stop: c.Stop}
	if why := results.StopReason(c.Stop); why != "" {
		d.Stop = why
	}
	unit := "req/s"
	if c.By == results.ByConcurrency {
		unit = "conc"
	}
	d.Header = []string{"probe", "stage", "level " + unit, "achieved req/s", "goodput req/s"}
	for _, s := range c.SLOs {
		d.Header = append(d.Header, s.Label())
	}
	d.Header = append(d.Header, "saturated", "pass")
	d.Rows = c.ProbeRows()
	return d
}

func slos(s results.SLOs) string {
	var parts []string
	for _, k := range []string{"ttft", "tpot", "itl", "ntpot", "e2e"} {
		if v, ok := s[k]; ok {
			parts = append(parts, k+" ≤ "+strconv.FormatFloat(v*1000, 'f', -1, 64)+" ms")
		}
	}
	return strings.Join(parts, ", ")
}

func num(p *float64, prec int) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'f', prec, 64)
}

func ms(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p*1000, 'f', 1, 64)
}

func pct(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p*100, 'f', 1, 64)
}

func dist(d *results.Dist) string {
	if d == nil {
		return "-"
	}
	return ms(d.Mean) + "/" + ms(d.P50) + "/" + ms(d.P90) + "/" + ms(d.P99)
}

// inline reads each chart's SVG file and makes it an inline <svg> element.
func inline(charts []plot.Chart) ([]figure, error) {
	var out []figure
	for _, c := range charts {
		b, err := os.ReadFile(c.File)
		if err != nil {
			return nil, err
		}
		svg, err := InlineSVG(b)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", filepath.Base(c.File), err)
		}
		out = append(out, figure{Title: c.Title, SVG: svg})
	}
	return out, nil
}

var (
	svgStart = regexp.MustCompile(`(?s)^.*?(<svg[\s>])`)
	xmlnsAtt = regexp.MustCompile(`\s+xmlns(:\w+)?="[^"]*"`)
)

// InlineSVG turns an SVG document (as gonum's vgsvg writes it) into an element for an HTML page:
// the XML prolog and comments before <svg> are dropped, and the namespace attributes (HTML's
// parser gives inline SVG its namespace). Errors: not well-formed XML, no <svg> element, or
// anything that could run or load: a script or foreignObject element, an on* attribute, an
// href that is not a fragment (#id), a url() or @import naming something outside the document.
func InlineSVG(doc []byte) (template.HTML, error) {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	root := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("not well-formed SVG: %w", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if e.Name.Local == "svg" {
				root = true
			}
			if n := strings.ToLower(e.Name.Local); n == "script" || n == "foreignobject" || n == "iframe" {
				return "", fmt.Errorf("SVG holds a <%s> element", e.Name.Local)
			}
			for _, a := range e.Attr {
				n := strings.ToLower(a.Name.Local)
				if strings.HasPrefix(n, "on") {
					return "", fmt.Errorf("SVG holds an event handler (%s)", a.Name.Local)
				}
				if n == "href" && !strings.HasPrefix(a.Value, "#") {
					return "", fmt.Errorf("SVG links outside itself (%s)", a.Value)
				}
				if a.Name.Local != "xmlns" && a.Name.Space != "xmlns" && outside(a.Value) {
					return "", fmt.Errorf("SVG attribute %s loads %s", a.Name.Local, a.Value)
				}
			}
		case xml.CharData:
			if outside(string(e)) {
				return "", errors.New("SVG style loads something outside the document")
			}
		}
	}
	if !root {
		return "", errors.New("no <svg> element")
	}
	s := string(doc)
	m := svgStart.FindStringSubmatchIndex(s)
	if m == nil {
		return "", errors.New("no <svg> element")
	}
	s = s[m[2]:]
	end := strings.Index(s, ">")
	s = xmlnsAtt.ReplaceAllString(s[:end], "") + s[end:]
	return template.HTML(strings.TrimSpace(s)), nil // checked above: markup of the chart only
}

// outside tells whether text names a resource to load: url(…) other than a fragment, or @import.
func outside(s string) bool {
	l := strings.ToLower(s)
	if strings.Contains(l, "@import") {
		return true
	}
	for {
		i := strings.Index(l, "url(")
		if i < 0 {
			return false
		}
		rest := strings.TrimLeft(l[i+4:], " '\"")
		if !strings.HasPrefix(rest, "#") {
			return true
		}
		l = rest
	}
}
