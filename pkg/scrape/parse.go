// Package scrape reads the model servers' (and the endpoint picker's) Prometheus /metrics while
// a benchmark runs and writes the server-metrics time series of a result folder: the format is
// results.ServerMetricsFile's (see pkg/results/servermetrics.go), this package is its writer.
//
// Parse reduces one exposition to the numbers the series keeps; a Fetcher reads one pod's text
// (HTTPFetcher directly, or the API server's pod proxy); a Scraper scrapes every target each
// interval and at stage boundaries and appends the lines. The package prints nothing.
package scrape

import (
	"fmt"
	"io"
	"math"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

// Parse reads Prometheus text exposition format 0.0.4 (what vLLM, llm-d-inference-sim and the
// endpoint picker serve; parsed by github.com/prometheus/common/expfmt's TextParser with UTF-8
// name validation, so vLLM's "vllm:" names with a colon are accepted) and reduces it as
// results.ServerMetricsLine's values: for every metric family whose name starts with one of
// results.ServerMetricPrefixes, one number per family name, the sum over all of its series (label
// sets):
//
//   - gauges, counters and untyped metrics under the family's name as exposed (a counter exposed
//     as "x_total" is "x_total"; one exposed as "x" stays "x");
//   - histograms and summaries as "<name>_sum" and "<name>_count" (buckets and quantiles are not
//     kept; the raw snapshots keep them).
//
// A number is left out rather than guessed: a histogram or summary "_sum"/"_count" that some of
// the family's series do not give, and a total that is not finite (NaN or ±Inf: JSON has no such
// numbers). Families of other names are dropped. The map is empty, not nil, when nothing is kept.
// Malformed text is an error (wrapping expfmt's, which names the line).
func Parse(r io.Reader) (map[string]float64, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("metrics text: %w", err)
	}
	out := map[string]float64{}
	for name, mf := range families {
		if !kept(name) {
			continue
		}
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			var sum, count total
			for _, m := range mf.GetMetric() {
				h := m.GetHistogram()
				sum.add(h.SampleSum)
				switch {
				case h.SampleCountFloat != nil:
					count.add(h.SampleCountFloat)
				case h.SampleCount != nil:
					c := float64(*h.SampleCount)
					count.add(&c)
				default:
					count.add(nil)
				}
			}
			sum.put(out, name+"_sum")
			count.put(out, name+"_count")
		case dto.MetricType_SUMMARY:
			var sum, count total
			for _, m := range mf.GetMetric() {
				s := m.GetSummary()
				sum.add(s.SampleSum)
				if s.SampleCount != nil {
					c := float64(*s.SampleCount)
					count.add(&c)
				} else {
					count.add(nil)
				}
			}
			sum.put(out, name+"_sum")
			count.put(out, name+"_count")
		default: // gauge, counter, untyped
			var v total
			for _, m := range mf.GetMetric() {
				switch {
				case m.Gauge != nil:
					v.add(m.Gauge.Value)
				case m.Counter != nil:
					v.add(m.Counter.Value)
				case m.Untyped != nil:
					v.add(m.Untyped.Value)
				default:
					v.add(nil)
				}
			}
			v.put(out, name)
		}
	}
	return out, nil
}

// kept reports whether a family name starts with one of results.ServerMetricPrefixes.
func kept(name string) bool {
	for _, p := range results.ServerMetricPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// total sums one number over a family's series; a series without it makes the total unknown.
type total struct {
	sum     float64
	n       int
	missing bool
}

func (t *total) add(v *float64) {
	if v == nil {
		t.missing = true
		return
	}
	t.sum += *v
	t.n++
}

func (t *total) put(out map[string]float64, key string) {
	if t.missing || t.n == 0 || math.IsNaN(t.sum) || math.IsInf(t.sum, 0) {
		return
	}
	out[key] = t.sum
}
