package plot

import (
	"encoding/xml"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

// svgTexts returns every text an SVG file draws (legend labels, titles, tick labels).
func svgTexts(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	var texts []string
	inText := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return texts
		}
		if err != nil {
			t.Fatalf("%s is not valid SVG: %v", path, err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			inText = e.Name.Local == "text"
		case xml.EndElement:
			inText = false
		case xml.CharData:
			if s := strings.TrimSpace(string(e)); inText && s != "" {
				texts = append(texts, s)
			}
		}
	}
}

func readCapacityRun(t *testing.T, name string) Run {
	t.Helper()
	r, err := results.ReadDir(filepath.Join("../testdata/capacity", name))
	if err != nil {
		t.Fatal(err)
	}
	return Run{Label: name, Report: r}
}

func TestCapacityChartsMarkTheAnswer(t *testing.T) {
	dir := t.TempDir()
	charts, err := CapacityCharts(readCapacityRun(t, "found"), dir, "capacity_", Options{Ext: "svg"})
	if err != nil {
		t.Fatal(err)
	}
	// found/capacity.json: SLOs TTFT p90 ≤ 500 ms and errors ≤ 1 %, answer 45 req/s, bracket 45–47.5.
	want := map[string][]string{
		"capacity_goodput.svg": {"goodput (req/s meeting every SLO)", "achieved rate", "failed probe (an SLO, or saturated)", "bracket 45–47.5 req/s",
			"max within SLO: 45 req/s", "offered rate (req/s)"},
		"capacity_slo_ttft_p90.svg":        {"TTFT p90 measured", "SLO limit 500 ms", "bracket 45–47.5 req/s", "max within SLO: 45 req/s", "TTFT p90 (ms)"},
		"capacity_slo_failed_requests.svg": {"failed requests measured", "SLO limit 1 %", "max within SLO: 45 req/s"},
	}
	if len(charts) != len(want) {
		t.Fatalf("%+v", charts)
	}
	for _, c := range charts {
		labels, ok := want[filepath.Base(c.File)]
		if !ok {
			t.Errorf("unexpected chart %s", c.File)
			continue
		}
		texts := strings.Join(svgTexts(t, c.File), "\n")
		for _, l := range labels {
			if !strings.Contains(texts, l) {
				t.Errorf("%s lacks %q; its texts:\n%s", c.File, l, texts)
			}
		}
	}
}

func TestCapacityChartsNeverAndAlwaysMet(t *testing.T) {
	dir := t.TempDir()
	charts, err := CapacityCharts(readCapacityRun(t, "never-met"), dir, "", Options{Ext: "svg"})
	if err != nil {
		t.Fatal(err)
	}
	// goodput was not measured, but the achieved rate was: the goodput chart is drawn without it.
	got := map[string]string{}
	series := map[string]int{}
	for _, c := range charts {
		got[filepath.Base(c.File)] = strings.Join(svgTexts(t, c.File), "\n")
		series[filepath.Base(c.File)] = c.Series
	}
	// Series count measured data only: achieved rate alone; TTFT p90; no TPOT p90.
	if series["goodput.svg"] != 1 || series["slo_ttft_p90.svg"] != 1 || series["slo_tpot_p90.svg"] != 0 {
		t.Errorf("series %v", series)
	}
	if g := got["goodput.svg"]; !strings.Contains(g, "no level within SLO: fails at 1 req/s") || strings.Contains(g, "goodput (req/s") || strings.Contains(g, "bracket") {
		t.Errorf("goodput chart texts:\n%s", g)
	}
	// TPOT p90 was never measured: its chart has the limit and the mark, no measured series.
	if g := got["slo_tpot_p90.svg"]; !strings.Contains(g, "SLO limit 50 ms") || strings.Contains(g, "TPOT p90 measured") {
		t.Errorf("TPOT chart texts:\n%s", g)
	}

	charts, err = CapacityCharts(readCapacityRun(t, "always-met"), dir, "always_", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(charts) != 2 || filepath.Base(charts[1].File) != "always_slo_e2e_p99.png" {
		t.Fatalf("%+v", charts)
	}
	for _, c := range charts {
		f, err := os.Open(c.File)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s is not a PNG: %v", c.File, err)
		}
		if b := img.Bounds(); b.Dx() != 768 || b.Dy() != 480 {
			t.Errorf("%s is %dx%d", c.File, b.Dx(), b.Dy())
		}
	}
	svg, err := CapacityCharts(readCapacityRun(t, "always-met"), dir, "always_", Options{Ext: "svg"})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing failed: no failure marks.
	if texts := strings.Join(svgTexts(t, svg[0].File), "\n"); !strings.Contains(texts, "every level passed: ≥ 64 concurrent requests") ||
		!strings.Contains(texts, "offered concurrency (concurrent requests)") || strings.Contains(texts, "failed probe") {
		t.Errorf("always-met texts:\n%s", texts)
	}
}

func TestCapacityChartsRefuse(t *testing.T) {
	if _, err := CapacityCharts(Run{Label: "plain", Report: &results.Report{}}, t.TempDir(), "", Options{}); err == nil || !strings.Contains(err.Error(), "plain has no capacity.json") {
		t.Errorf("no capacity record: %v", err)
	}
	if _, err := CapacityCharts(readCapacityRun(t, "found"), t.TempDir(), "", Options{Ext: "gif"}); err == nil || !strings.Contains(err.Error(), `"gif"`) {
		t.Errorf("unknown file type: %v", err)
	}
}
