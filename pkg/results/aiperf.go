package results

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// AIPerf's aggregate exports (ai-dynamo/aiperf, OutputDefaults.PROFILE_EXPORT_AIPERF_JSON_FILE and
// PROFILE_EXPORT_AIPERF_CSV_FILE): one file per `aiperf profile` run, written into its artifact
// directory (llm-d-benchmark's aiperf harness passes the result folder as --output-artifact-dir).
const (
	AIPerfJSONFile = "profile_export_aiperf.json"
	AIPerfCSVFile  = "profile_export_aiperf.csv"
)

// AIPerf's metric tags (the JSON keys; each metric class's `tag` in aiperf/metrics/types/), and
// the CSV's display headers of the same metrics (each class's `header`). What each one measures,
// per request unless said otherwise, from the formula in the metric's docstring:
const (
	// aiperfTTFT, time_to_first_token: first response time - request start (TTFT).
	aiperfTTFT = "time_to_first_token"
	// aiperfITL, inter_token_latency: (request latency - TTFT) / (output sequence length - 1), one
	// value per request. This is what vLLM and inference-perf call TPOT, so it fills Latency.TPOT.
	aiperfITL = "inter_token_latency"
	// aiperfICL, inter_chunk_latency: every gap between consecutive response chunks, pooled over
	// all requests. This is ITL as vLLM and inference-perf define it, so it fills Latency.ITL.
	aiperfICL = "inter_chunk_latency"
	// aiperfE2E, request_latency: final response time - request start (E2E).
	aiperfE2E = "request_latency"
	// aiperfRPS, request_throughput: valid requests / benchmark duration (requests/sec).
	aiperfRPS = "request_throughput"
	// aiperfOutTPS, output_token_throughput: total output sequence length / benchmark duration
	// (tokens/sec, run-wide; reasoning tokens included).
	aiperfOutTPS = "output_token_throughput"
	// aiperfTotalTPS, total_token_throughput: input and output tokens / benchmark duration, in the
	// releases that export it (llm-d-benchmark's converter reads it); else derived, see below.
	aiperfTotalTPS = "total_token_throughput"
	// aiperfRequests, request_count: the number of valid (successful) requests.
	aiperfRequests = "request_count"
	// aiperfErrors, error_request_count: the number of failed requests. AIPerf exports it only
	// when a request failed, so its absence is zero failures.
	aiperfErrors = "error_request_count"
	// aiperfDuration, benchmark_duration: last response - first request (sec).
	aiperfDuration = "benchmark_duration"
	// aiperfTotalISL, total_isl: input tokens of the valid requests, summed.
	aiperfTotalISL = "total_isl"
	// aiperfTotalOSL, total_osl: output tokens of the valid requests, summed.
	aiperfTotalOSL = "total_osl"
)

// aiperfHeaders maps the CSV's display headers (without their " (unit)" suffix) to the tags.
var aiperfHeaders = map[string]string{
	"Time to First Token":          aiperfTTFT,
	"Inter Token Latency":          aiperfITL,
	"Inter Chunk Latency":          aiperfICL,
	"Request Latency":              aiperfE2E,
	"Request Throughput":           aiperfRPS,
	"Output Token Throughput":      aiperfOutTPS,
	"Total Token Throughput":       aiperfTotalTPS,
	"Request Count":                aiperfRequests,
	"Error Request Count":          aiperfErrors,
	"Benchmark Duration":           aiperfDuration,
	"Total Input Sequence Length":  aiperfTotalISL,
	"Total Output Sequence Length": aiperfTotalOSL,
}

// aiperfMetric is one exported metric: its unit and statistics (avg, p50, …) as written.
type aiperfMetric struct {
	unit  string
	stats map[string]float64
}

func (m *aiperfMetric) stat(name string) *float64 {
	if m == nil {
		return nil
	}
	if v, ok := m.stats[name]; ok {
		return f64(v)
	}
	return nil
}

// aiperfTimeScale is the factor from an AIPerf time unit to seconds (MetricTimeUnit's tags: ns,
// us, ms, sec); false for any other unit.
func aiperfTimeScale(unit string) (float64, bool) {
	switch unit {
	case "ns":
		return 1e-9, true
	case "us":
		return 1e-6, true
	case "ms":
		return 1e-3, true
	case "sec", "s":
		return 1, true
	}
	return 0, false
}

// ReadAIPerf reads AIPerf's aggregate export of one run into a one-stage report: path is
// profile_export_aiperf.json (preferred: full precision, the run's config) or
// profile_export_aiperf.csv (numbers rounded to 2 decimals by AIPerf). Latencies are converted
// from the file's unit (ms as AIPerf displays them) into seconds: TTFT from time_to_first_token,
// TPOT from inter_token_latency (AIPerf's per-request (E2E - TTFT) / (output tokens - 1)), ITL from
// inter_chunk_latency (pooled chunk gaps), E2E from request_latency, each as avg (Mean), p50,
// p90 and p99. Requests: request_count succeeded, error_request_count failed (0 when AIPerf
// exported none). Throughput: request_throughput and output_token_throughput as written; input
// tokens/s is total_isl / benchmark_duration, and total tokens/s is total_token_throughput, else
// (total_isl + total_osl) / benchmark_duration; each nil when its inputs are missing. From the
// JSON's input_config: the model (endpoint.model_names[0]), the concurrency and request rate of
// the load (loadgen.concurrency, loadgen.request_rate). Errors name the file: unreadable, not
// parseable, a latency whose unit is not a time unit, or no request count, latency or throughput
// in it.
func ReadAIPerf(path string) (*Report, error) {
	var (
		metrics map[string]*aiperfMetric
		cfg     obj
		err     error
	)
	if strings.HasSuffix(path, ".csv") {
		metrics, err = readAIPerfCSV(path)
	} else {
		metrics, cfg, err = readAIPerfJSON(path)
	}
	if err != nil {
		return nil, err
	}
	r := &Report{Format: FormatAIPerf, Harness: "aiperf", Definitions: definitionsOf(FormatAIPerf)}
	st := Stage{}
	if ok := metrics[aiperfRequests].stat("avg"); ok != nil {
		st.Requests = &Requests{Succeeded: int(*ok), Failed: intOf(metrics[aiperfErrors].stat("avg"))}
	}
	lat := func(tag string) (*Dist, error) {
		m := metrics[tag]
		if m == nil {
			return nil, nil
		}
		scale, ok := aiperfTimeScale(m.unit)
		if !ok {
			return nil, fmt.Errorf("%s: %s has unit %q, not a time unit (ns, us, ms, sec)", path, tag, m.unit)
		}
		d := &Dist{Mean: m.stat("avg"), P50: m.stat("p50"), P90: m.stat("p90"), P99: m.stat("p99")}
		for _, p := range []**float64{&d.Mean, &d.P50, &d.P90, &d.P99} {
			if *p != nil {
				*p = f64(**p * scale)
			}
		}
		if d.Mean == nil && d.P50 == nil && d.P90 == nil && d.P99 == nil {
			return nil, nil
		}
		return d, nil
	}
	for _, f := range []struct {
		tag string
		to  **Dist
	}{{aiperfTTFT, &st.Latency.TTFT}, {aiperfITL, &st.Latency.TPOT}, {aiperfICL, &st.Latency.ITL}, {aiperfE2E, &st.Latency.E2E}} {
		if *f.to, err = lat(f.tag); err != nil {
			return nil, err
		}
	}
	st.Throughput.RequestsPerSec = metrics[aiperfRPS].stat("avg")
	st.Throughput.OutputTokensPerSec = metrics[aiperfOutTPS].stat("avg")
	st.AchievedRate = st.Throughput.RequestsPerSec
	if dur := aiperfSeconds(metrics[aiperfDuration]); dur != nil && *dur > 0 {
		in, out := metrics[aiperfTotalISL].stat("avg"), metrics[aiperfTotalOSL].stat("avg")
		if in != nil {
			st.Throughput.InputTokensPerSec = f64(*in / *dur)
		}
		if in != nil && out != nil {
			st.Throughput.TotalTokensPerSec = f64((*in + *out) / *dur)
		}
	}
	if t := metrics[aiperfTotalTPS].stat("avg"); t != nil {
		st.Throughput.TotalTokensPerSec = t
	}
	if cfg != nil {
		if names, ok := cfg.get("endpoint", "model_names").([]any); ok && len(names) > 0 {
			r.Model, _ = names[0].(string)
		}
		st.Concurrency = cfg.num("loadgen", "concurrency")
		st.RequestedRate = cfg.num("loadgen", "request_rate")
	}
	if !st.measured() {
		return nil, fmt.Errorf("%s: no AIPerf metrics in it (unknown schema?)", path)
	}
	r.Stages = []Stage{st}
	return r, nil
}

// aiperfSeconds is a duration metric's avg in seconds; nil when missing or not a time unit.
func aiperfSeconds(m *aiperfMetric) *float64 {
	v := m.stat("avg")
	if v == nil {
		return nil
	}
	scale, ok := aiperfTimeScale(m.unit)
	if !ok {
		return nil
	}
	return f64(*v * scale)
}

// readAIPerfJSON reads profile_export_aiperf.json: every top-level object with a "unit" is a
// metric (JsonMetricResult: unit, avg, min, max, p1…p99, std); input_config is returned apart.
func readAIPerfJSON(path string) (map[string]*aiperfMetric, obj, error) {
	m, err := readJSON(path)
	if err != nil {
		return nil, nil, err
	}
	out := map[string]*aiperfMetric{}
	for tag := range m {
		res := m.sub(tag)
		if res == nil {
			continue
		}
		unit, ok := res.get("unit").(string)
		if !ok {
			continue
		}
		am := &aiperfMetric{unit: unit, stats: map[string]float64{}}
		for k := range res {
			if v := res.num(k); v != nil && k != "unit" {
				am.stats[k] = *v
			}
		}
		out[tag] = am
	}
	return out, m.sub("input_config"), nil
}

// readAIPerfCSV reads profile_export_aiperf.csv, AIPerf's "legacy, two-section format": a table
// headed Metric,avg,min,max,p1,…,p99,std (one row per per-request metric), a blank line, then a
// table headed Metric,Value (run-wide metrics, the value being avg); newer releases may append a
// GPU telemetry table (headed Endpoint,GPU_Index,…), which is skipped. A metric cell is
// "<header> (<unit>)", the unit left out for counts ("count", "requests"). Rows of metrics not in
// aiperfHeaders are skipped; an empty cell is no value.
func readAIPerfCSV(path string) (map[string]*aiperfMetric, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rd := csv.NewReader(f)
	rd.FieldsPerRecord = -1 // the sections have different widths
	var header []string
	out := map[string]*aiperfMetric{}
	for {
		rec, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(rec) > 0 && (rec[0] == "Metric" || rec[0] == "Endpoint") {
			header = rec
			continue
		}
		if len(header) == 0 || header[0] != "Metric" || len(rec) == 0 {
			continue
		}
		name, unit := splitAIPerfName(rec[0])
		tag, ok := aiperfHeaders[name]
		if !ok {
			continue
		}
		am := &aiperfMetric{unit: unit, stats: map[string]float64{}}
		for i := 1; i < len(rec) && i < len(header); i++ {
			cell := strings.TrimSpace(rec[i])
			if cell == "" {
				continue
			}
			v, perr := strconv.ParseFloat(cell, 64)
			if perr != nil {
				ln, _ := rd.FieldPos(i)
				return nil, fmt.Errorf("%s: line %d: %s %s is %q, not a number", path, ln, name, header[i], cell)
			}
			key := header[i]
			if key == "Value" {
				key = "avg"
			}
			am.stats[key] = v
		}
		out[tag] = am
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no AIPerf metric rows in it (unknown schema?)", path)
	}
	return out, nil
}

// splitAIPerfName splits "Time to First Token (ms)" into its header and unit.
func splitAIPerfName(cell string) (name, unit string) {
	cell = strings.TrimSpace(cell)
	if strings.HasSuffix(cell, ")") {
		if i := strings.LastIndex(cell, " ("); i > 0 {
			return cell[:i], cell[i+2 : len(cell)-1]
		}
	}
	return cell, ""
}
