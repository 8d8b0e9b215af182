package plot

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

func TestChartsOfRealSweeps(t *testing.T) {
	var runs []Run
	for _, name := range []string{"vllm", "vllm-quantization"} {
		r, err := results.ReadDir(filepath.Join("../testdata/inference-perf", name))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, Run{Label: name, Report: r})
	}
	dir := t.TempDir()
	charts, err := Charts(runs, dir, Options{Stat: "p90"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"latency_vs_rate.png": 4, "throughput_vs_rate.png": 2, "throughput_vs_latency.png": 2}
	if len(charts) != len(want) {
		t.Fatalf("charts %+v", charts)
	}
	for _, c := range charts {
		if want[filepath.Base(c.File)] != c.Series {
			t.Errorf("%s: %d series, want %d", c.File, c.Series, want[filepath.Base(c.File)])
		}
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
			t.Errorf("%s is %dx%d, want 768x480 (8x5 in)", c.File, b.Dx(), b.Dy())
		}
	}
	if _, err := Charts([]Run{{Label: "empty", Report: &results.Report{}}}, dir, Options{}); err == nil {
		t.Error("nothing to plot must be an error")
	}
}

func TestCDFChartsWithPerRequestData(t *testing.T) {
	r := &results.Report{PerRequest: &results.PerRequest{CDF: map[string][]float64{}}}
	for p := 0; p <= 100; p++ {
		r.PerRequest.CDF["ttft"] = append(r.PerRequest.CDF["ttft"], 0.1+float64(p)/1000)
		r.PerRequest.CDF["e2e"] = append(r.PerRequest.CDF["e2e"], 1+float64(p)/100)
	}
	charts, err := Charts([]Run{{Label: "one", Report: r}}, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(charts) != 2 || filepath.Base(charts[0].File) != "cdf_ttft.png" || charts[1].Series != 1 {
		t.Errorf("%+v", charts)
	}
}

func TestChartsAsSVG(t *testing.T) {
	r, err := results.ReadDir("../testdata/inference-perf/vllm")
	if err != nil {
		t.Fatal(err)
	}
	charts, err := Charts([]Run{{Label: "vllm", Report: r}}, t.TempDir(), Options{Ext: "svg"})
	if err != nil || len(charts) != 3 || filepath.Ext(charts[0].File) != ".svg" {
		t.Fatalf("%+v %v", charts, err)
	}
	hasAll(t, charts[0].File, svgTexts(t, charts[0].File), "Latency vs achieved rate", "vllm TTFT", "vllm TPOT")
	if _, err := Charts([]Run{{Label: "vllm", Report: r}}, t.TempDir(), Options{Ext: "jpg"}); err == nil {
		t.Error("jpg must be refused")
	}
}
