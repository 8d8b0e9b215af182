package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// ErrNoResults is returned for a folder that holds no result file of a known format.
var ErrNoResults = errors.New("no result files of a known format")

// ErrOnlyPerRequest is returned (wrapping ErrNoResults) for a folder whose only result is a
// non-empty per-request file, read without ReadOptions.PerRequestOnly.
var ErrOnlyPerRequest = fmt.Errorf("%w: only %s, no stage or summary lifecycle file", ErrNoResults, runstate.PerRequestFile)

// ErrNoRequests is returned for a folder whose harness ran but recorded no request: its
// per-request file is an empty array and it holds no stage or summary file.
var ErrNoRequests = errors.New("the harness recorded no requests")

var (
	stageFile = regexp.MustCompile(`^stage_(\d+)_lifecycle_metrics\.json$`)
	brV02File = regexp.MustCompile(`^benchmark_report_v0\.2,_.*\.ya?ml$`)
	brV01File = regexp.MustCompile(`^benchmark_report,_.*\.ya?ml$`)
)

// summaryFile is inference-perf's run-wide lifecycle report.
const summaryFile = "summary_lifecycle_metrics.json"

// ReadDir reads a result folder, preferring AIPerf's export (ReadAIPerf: profile_export_aiperf.json,
// else its CSV), then benchmark report v0.2, then each tool's native files
// (inference-perf stage and summary files; every GuideLLM and vLLM result JSON in the folder, each
// vLLM result one stage), then benchmark report v0.1; a capacity search's record (CapacityFile)
// fills Report.Capacity, the servers' time series (ServerMetricsFile) Report.ServerMetrics. Errors: ErrNoResults (wrapped, naming the
// folder) when no file of a known format is there; ErrNoRequests when the harness recorded no
// request; a file that cannot be read or parsed is named with the reason.
func ReadDir(dir string) (*Report, error) { return ReadDirWith(dir, ReadOptions{}) }

// ReadOptions change what ReadDir and ReadLocal accept.
type ReadOptions struct {
	// PerRequestOnly accepts a folder whose only result is a non-empty inference-perf
	// per_request_lifecycle_metrics.json: its report has no stages, for the caller to fill from
	// the per-request file (AnalyzePerRequestFile). Without it such a folder is ErrNoResults.
	PerRequestOnly bool
}

// ReadDirWith is ReadDir with options.
func ReadDirWith(dir string, opts ReadOptions) (*Report, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var v02, v01, stages, jsons []string
	var summary, perRequest, aiperfJSON, aiperfCSV string
	for _, e := range entries {
		n := e.Name()
		switch {
		case e.IsDir():
		case brV02File.MatchString(n):
			v02 = append(v02, filepath.Join(dir, n))
		case brV01File.MatchString(n):
			v01 = append(v01, filepath.Join(dir, n))
		case stageFile.MatchString(n):
			stages = append(stages, filepath.Join(dir, n))
		case n == summaryFile:
			summary = filepath.Join(dir, n)
		case n == runstate.PerRequestFile:
			perRequest = filepath.Join(dir, n)
		case n == AIPerfJSONFile:
			aiperfJSON = filepath.Join(dir, n)
		case n == AIPerfCSVFile:
			aiperfCSV = filepath.Join(dir, n)
		case n == "profile_export.jsonl":
			// AIPerf's per-request records: not a summary
		case n == CapacityFile:
			// the capacity search's record (ReadCapacity), not a harness's result
		case n == ServerMetricsFile:
			// the servers' time series (ReadServerSeries), not a harness's result
		case strings.HasSuffix(n, "_lifecycle_metrics.json") || strings.Contains(n, "prometheus"):
			// inference-perf's adapter_*, session and Prometheus reports: not stages.
		case strings.HasSuffix(n, ".json") || strings.HasSuffix(n, ".jsonl"):
			jsons = append(jsons, filepath.Join(dir, n))
		}
	}
	var r *Report
	switch {
	case aiperfJSON != "":
		// AIPerf's own export beats the benchmark reports llm-d-benchmark converts from it: its
		// converter files AIPerf's per-request inter_token_latency as ITL and counts the kinds of
		// error, not the failed requests.
		r, err = ReadAIPerf(aiperfJSON)
	case aiperfCSV != "":
		r, err = ReadAIPerf(aiperfCSV)
	case len(v02) > 0:
		r, err = readBRs(v02, FormatBR02)
		if err == nil {
			err = achievedFromStageFiles(r, stages)
		}
	case len(stages) > 0 || summary != "":
		r, err = readInferencePerf(stages, summary)
	default:
		r, err = readNativeFiles(jsons)
		if err == nil && r == nil && len(v01) > 0 {
			r, err = readBRs(v01, FormatBR01)
		}
	}
	if err != nil {
		return nil, err
	}
	if r == nil {
		if perRequest != "" {
			empty, err := emptyArrayFile(perRequest)
			if err != nil {
				return nil, err
			}
			if empty {
				return nil, fmt.Errorf("%w in %s (%s is [] and there is no stage or summary file)", ErrNoRequests, dir, runstate.PerRequestFile)
			}
			if !opts.PerRequestOnly {
				return nil, fmt.Errorf("%s: %w", dir, ErrOnlyPerRequest)
			}
			r = &Report{Format: FormatInferencePerf, Harness: "inference-perf", Definitions: definitionsOf(FormatInferencePerf)}
		}
	}
	if r == nil {
		return nil, fmt.Errorf("%s: %w (inference-perf stage_N_lifecycle_metrics.json, benchmark_report*.yaml, GuideLLM or vLLM JSON, AIPerf profile_export_aiperf.json or .csv)", dir, ErrNoResults)
	}
	r.Source = dir
	if r.Metadata, err = runstate.ReadMetadata(dir); err != nil {
		return nil, err
	}
	if r.Merge, err = ReadMerge(dir); err != nil {
		return nil, err
	}
	if r.Capacity, err = ReadCapacity(dir); err != nil {
		return nil, err
	}
	series, err := ReadServerSeries(dir)
	if err != nil {
		return nil, err
	}
	r.ServerMetrics = ServerStages(series)
	if r.Model == "" && r.Metadata != nil {
		r.Model = r.Metadata.Model
	}
	if r.Model == "" {
		r.Model = modelFromProfiles(dir)
	}
	return r, nil
}

// ReadLocal reads a local result folder, or every result folder directly inside a folder (a run
// fetched by 'run' or 'cp'), in name order. Sub-folders without results are skipped and returned
// as skipped (each an ErrNoResults error naming the folder), so that the caller can say so; any
// other error of a sub-folder is returned. A folder with no result folder inside gives its own
// ReadDir error.
func ReadLocal(dir string) (reports []*Report, skipped []error, err error) {
	return ReadLocalWith(dir, ReadOptions{})
}

// ReadLocalWith is ReadLocal with options.
func ReadLocalWith(dir string, opts ReadOptions) (reports []*Report, skipped []error, err error) {
	r, err := ReadDirWith(dir, opts)
	if err == nil {
		return []*Report{r}, nil, nil
	}
	if !errors.Is(err, ErrNoResults) {
		return nil, nil, err
	}
	entries, lerr := os.ReadDir(dir)
	if lerr != nil {
		return nil, nil, lerr
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sub, serr := ReadDirWith(filepath.Join(dir, e.Name()), opts)
		switch {
		case serr == nil:
			reports = append(reports, sub)
		case errors.Is(serr, ErrNoResults):
			skipped = append(skipped, serr)
		default:
			return nil, nil, serr
		}
	}
	if len(reports) == 0 {
		if len(skipped) == 0 {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("%s: %w, and none of its %d sub-folders holds results", dir, ErrNoResults, len(skipped))
	}
	return reports, skipped, nil
}

// emptyArrayFile tells whether a JSON file holds an empty array (white space aside).
func emptyArrayFile(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	t := strings.Join(strings.Fields(string(b)), "")
	return t == "[]" || t == "", nil
}

// obj is a decoded JSON or YAML document, read with lenient lookups: result formats drift.
type obj map[string]any

// readJSON reads one JSON document; Python's NaN and ±Infinity tokens are read as null.
func readJSON(path string) (obj, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m obj
	if err := json.Unmarshal(nonFiniteToNull(b), &m); err != nil {
		return nil, jsonError(path, b, err)
	}
	return m, nil
}

// readYAML uses the YAML library directly: reports hold values JSON cannot (concurrency: .inf).
func readYAML(path string) (obj, error) { return readDoc(path, yaml.Unmarshal) }

func readDoc(path string, unmarshal func([]byte, any) error) (obj, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m obj
	if err := unmarshal(b, &m); err != nil {
		return nil, parseError(path, err)
	}
	return m, nil
}

// parseError names the file and says where it broke, on one line.
func parseError(path string, err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("%s: byte %d: %w", path, syn.Offset, err)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") { // YAML lists one problem per line
		return fmt.Errorf("%s: %s", path, strings.Join(strings.Fields(msg), " "))
	}
	return fmt.Errorf("%s: %w", path, err)
}

func (o obj) get(path ...string) any {
	var cur any = map[string]any(o)
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			if om, ok2 := cur.(obj); ok2 {
				m = om
			} else {
				return nil
			}
		}
		cur = m[p]
	}
	return cur
}

func (o obj) sub(path ...string) obj {
	switch m := o.get(path...).(type) {
	case map[string]any:
		return m
	case obj: // the YAML decoder gives nested maps the named type
		return m
	}
	return nil
}

func (o obj) num(path ...string) *float64 {
	switch v := o.get(path...).(type) {
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return nil
		}
		return f64(v)
	case int:
		return f64(float64(v))
	case int64:
		return f64(float64(v))
	case uint64: // YAML integers above MaxInt64
		return f64(float64(v))
	case string: // vLLM writes the rate "inf"; a rate that is not a finite number is none
		if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f64(f)
		}
	}
	return nil
}

func (o obj) str(path ...string) string {
	s, _ := o.get(path...).(string)
	return s
}

func intOf(p *float64) int {
	if p == nil {
		return 0
	}
	return int(*p)
}

// dist reads a distribution block; median/p50 and the scale factor to seconds are handled here.
func (o obj) dist(scale float64, path ...string) *Dist {
	m := o.sub(path...)
	if m == nil {
		return nil
	}
	d := &Dist{Mean: m.num("mean"), P50: m.num("median"), P90: m.num("p90"), P99: m.num("p99")}
	if d.P50 == nil {
		d.P50 = m.num("p50")
	}
	if pct := m.sub("percentiles"); pct != nil { // GuideLLM
		if d.P50 == nil {
			d.P50 = pct.num("p50")
		}
		d.P90, d.P99 = pct.num("p90"), pct.num("p99")
	}
	for _, p := range []**float64{&d.Mean, &d.P50, &d.P90, &d.P99} {
		if *p != nil {
			*p = f64(**p * scale)
		}
	}
	if d.Mean == nil && d.P50 == nil && d.P90 == nil && d.P99 == nil {
		return nil
	}
	return d
}

// readInferencePerf reads the stage and summary lifecycle files of any inference-perf version. A
// folder with only the summary (report.request_lifecycle.per_stage: false) is one stage, 0.
func readInferencePerf(stages []string, summary string) (*Report, error) {
	r := &Report{Format: FormatInferencePerf, Harness: "inference-perf", Definitions: definitionsOf(FormatInferencePerf)}
	sort.Slice(stages, func(i, j int) bool { return stageNumber(stages[i]) < stageNumber(stages[j]) })
	for _, f := range stages {
		m, err := readJSON(f)
		if err != nil {
			return nil, err
		}
		st := Stage{Stage: stageNumber(f), Metrics: inferencePerfMetrics(m)}
		if !st.measured() {
			return nil, fmt.Errorf("%s: no inference-perf metrics in it (unknown schema?)", f)
		}
		r.Stages = append(r.Stages, st)
	}
	if summary != "" {
		m, err := readJSON(summary)
		if err != nil {
			return nil, err
		}
		s := inferencePerfMetrics(m)
		if !s.measured() {
			return nil, fmt.Errorf("%s: no inference-perf metrics in it (unknown schema?)", summary)
		}
		r.Summary = &s
		if len(r.Stages) == 0 {
			r.Stages = []Stage{{Stage: 0, Metrics: inferencePerfMetrics(m)}}
		}
	}
	return r, nil
}

// achievedFromStageFiles completes a benchmark report v0.2 with what it cannot hold: the load
// generator's achieved rate (requests over the sending window), which inference-perf and the
// native generator write in their stage files beside the reports.
func achievedFromStageFiles(r *Report, stages []string) error {
	byNumber := map[int]string{}
	for _, f := range stages {
		byNumber[stageNumber(f)] = f
	}
	for i := range r.Stages {
		f, ok := byNumber[r.Stages[i].Stage]
		if !ok {
			continue
		}
		m, err := readJSON(f)
		if err != nil {
			return err
		}
		if a := m.num("load_summary", "achieved_rate"); a != nil {
			r.Stages[i].AchievedRate = a
		}
	}
	return nil
}

func stageNumber(path string) int {
	m := stageFile.FindStringSubmatch(filepath.Base(path))
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// measured tells whether a stage holds at least one number read from its file: a request count,
// a latency or a throughput. One that holds none is not a result (an unknown schema, or a report
// without results), and is refused rather than shown as a row of nulls; the rates and concurrency
// of the load alone are settings, not measurements.
func (m Metrics) measured() bool {
	l, t := m.Latency, m.Throughput
	return m.Requests != nil || m.AchievedRate != nil ||
		l.TTFT != nil || l.TPOT != nil || l.ITL != nil || l.NTPOT != nil || l.E2E != nil ||
		t.RequestsPerSec != nil || t.InputTokensPerSec != nil || t.OutputTokensPerSec != nil || t.TotalTokensPerSec != nil
}

// inferencePerfMetrics reads a lifecycle report of any inference-perf version: latencies under
// successes.latency (before v0.1 they sat on successes itself), p50 spelt median (since 2025-08)
// or p50 (before).
func inferencePerfMetrics(m obj) Metrics {
	lat := m.sub("successes", "latency")
	if lat == nil {
		lat = m.sub("successes")
	}
	tp := m.sub("successes", "throughput")
	var req *Requests
	if ok, failed := m.num("successes", "count"), m.num("failures", "count"); ok != nil || failed != nil {
		req = &Requests{Succeeded: intOf(ok), Failed: intOf(failed)}
	}
	return Metrics{
		RequestedRate: m.num("load_summary", "requested_rate"),
		AchievedRate:  m.num("load_summary", "achieved_rate"),
		Concurrency:   m.num("load_summary", "concurrency"),
		Requests:      req,
		Latency: Latency{
			TTFT:  lat.dist(1, "time_to_first_token"),
			TPOT:  lat.dist(1, "time_per_output_token"),
			ITL:   lat.dist(1, "inter_token_latency"),
			NTPOT: lat.dist(1, "normalized_time_per_output_token"),
			E2E:   lat.dist(1, "request_latency"),
		},
		Throughput: Throughput{
			RequestsPerSec:     tp.num("requests_per_sec"),
			InputTokensPerSec:  tp.num("input_tokens_per_sec"),
			OutputTokensPerSec: tp.num("output_tokens_per_sec"),
			TotalTokensPerSec:  tp.num("total_tokens_per_sec"),
		},
	}
}

// unitScale converts a benchmark report's units into seconds (or keeps rates as they are).
func unitScale(units string) float64 {
	switch units {
	case "ms", "ms/token":
		return 1e-3
	case "us", "us/token":
		return 1e-6
	}
	return 1
}

// readBRs reads benchmark reports, one per stage.
func readBRs(files []string, format string) (*Report, error) {
	r := &Report{Format: format}
	for i, f := range files {
		m, err := readYAML(f)
		if err != nil {
			return nil, err
		}
		var st Stage
		if format == FormatBR02 {
			st, err = br02Stage(m, r, i)
		} else {
			st, err = br01Stage(m, r, i)
		}
		if err == nil && !st.measured() {
			if m.get("results") == nil && m.get("metrics") == nil {
				err = errors.New("a benchmark report without results")
			} else {
				err = errors.New("a benchmark report whose results hold no request count, latency or throughput")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if toolFormat(r.Harness) == FormatAIPerf && st.Latency.TPOT == nil {
			// llm-d-benchmark's import_aiperf files AIPerf's inter_token_latency, which is
			// per request (E2E - TTFT) / (output tokens - 1), as inter_token_latency: our TPOT.
			st.Latency.TPOT, st.Latency.ITL = st.Latency.ITL, nil
		}
		r.Stages = append(r.Stages, st)
	}
	sort.SliceStable(r.Stages, func(i, j int) bool { return r.Stages[i].Stage < r.Stages[j].Stage })
	r.Definitions = definitionsOf(toolFormat(r.Harness))
	return r, nil
}

func toolFormat(tool string) string {
	switch tool {
	case "guidellm":
		return FormatGuideLLM
	case "vllm-benchmark", "inferencemax":
		return FormatVLLM
	case "aiperf":
		return FormatAIPerf
	}
	return FormatInferencePerf
}

func statsDist(s obj) *Dist {
	if s == nil {
		return nil
	}
	return s.dist(unitScale(s.str("units")))
}

// brLatency reads a benchmark report's latency block (the same keys in v0.1 and v0.2).
func brLatency(lat obj) Latency {
	return Latency{
		TTFT: statsDist(lat.sub("time_to_first_token")), TPOT: statsDist(lat.sub("time_per_output_token")),
		ITL: statsDist(lat.sub("inter_token_latency")), NTPOT: statsDist(lat.sub("normalized_time_per_output_token")),
		E2E: statsDist(lat.sub("request_latency")),
	}
}

// brRequests reads a benchmark report's request counts: total, and the optional failures and
// incomplete (both part of the total). Nil when the report holds no total.
func brRequests(req obj) *Requests {
	total := req.num("total")
	if total == nil {
		return nil
	}
	out := &Requests{Failed: intOf(req.num("failures"))}
	if inc := req.num("incomplete"); inc != nil {
		n := int(*inc)
		out.Incomplete = &n
	}
	out.Succeeded = int(*total) - out.Failed
	if out.Incomplete != nil {
		out.Succeeded -= *out.Incomplete
	}
	return out
}

func br02Stage(m obj, r *Report, index int) (Stage, error) {
	if v := m.str("version"); !strings.HasPrefix(v, "0.2") {
		return Stage{}, fmt.Errorf("version %q is not a benchmark report v0.2", v)
	}
	load := m.sub("scenario", "load", "standardized")
	if r.Harness == "" {
		r.Harness = load.str("tool")
	}
	if r.Model == "" {
		if stack, ok := m.get("scenario", "stack").([]any); ok && len(stack) > 0 {
			r.Model = obj{"c": stack[0]}.str("c", "standardized", "model", "name")
		}
	}
	agg := m.sub("results", "request_performance", "aggregate")
	lat, tp := agg.sub("latency"), agg.sub("throughput")
	st := Stage{Stage: index, Metrics: Metrics{
		RequestedRate: load.num("rate_qps"),
		Concurrency:   load.num("concurrency"),
		Requests:      brRequests(agg.sub("requests")),
		Latency:       brLatency(lat),
		Throughput: Throughput{
			RequestsPerSec: tp.num("request_rate", "mean"), InputTokensPerSec: tp.num("input_token_rate", "mean"),
			OutputTokensPerSec: tp.num("output_token_rate", "mean"), TotalTokensPerSec: tp.num("total_token_rate", "mean"),
		},
	}}
	st.AchievedRate = st.Throughput.RequestsPerSec
	if s := load.num("stage"); s != nil {
		st.Stage = int(*s)
	}
	return st, nil
}

func br01Stage(m obj, r *Report, index int) (Stage, error) {
	if v := m.str("version"); v != "0.1" {
		return Stage{}, fmt.Errorf("version %q is not a benchmark report v0.1", v)
	}
	if r.Harness == "" {
		r.Harness = m.str("scenario", "load", "name")
	}
	if r.Model == "" {
		r.Model = m.str("scenario", "model", "name")
		if r.Model == "unknown" {
			r.Model = ""
		}
	}
	lat, tp := m.sub("metrics", "latency"), m.sub("metrics", "throughput")
	st := Stage{Stage: index, Metrics: Metrics{
		Requests: brRequests(m.sub("metrics", "requests")),
		Latency:  brLatency(lat),
		Throughput: Throughput{
			RequestsPerSec: tp.num("requests_per_sec"), InputTokensPerSec: tp.num("input_tokens_per_sec"),
			OutputTokensPerSec: tp.num("output_tokens_per_sec"), TotalTokensPerSec: tp.num("total_tokens_per_sec"),
		},
	}}
	st.AchievedRate = st.Throughput.RequestsPerSec
	if s := m.num("scenario", "load", "metadata", "stage"); s != nil {
		st.Stage = int(*s)
	}
	// v0.1 keeps the harness's own arguments: vLLM's request_rate and max_concurrency are the
	// load; GuideLLM's max_concurrency is its worker cap, not a concurrency level.
	if args := m.sub("scenario", "load", "args"); args != nil {
		st.RequestedRate = args.num("request_rate")
		if toolFormat(r.Harness) != FormatGuideLLM {
			st.Concurrency = args.num("max_concurrency")
		}
	}
	return st, nil
}

// nativeResult is what one JSON value of a native result file turned out to be.
type nativeResult struct {
	file   string
	report *Report
	// date is when a vLLM benchmark ran (its "date", YYYYMMDD-HHMMSS): stages are in run order.
	date string
}

// readNativeFiles reads every GuideLLM or vLLM result among a folder's JSON files (in name order)
// into one report: each vLLM result (one per file, or one per line of a JSON Lines file written
// with --append-result) is a stage, as is each GuideLLM benchmark. JSON that is neither (harness
// configs, legends) is skipped; a file that is not JSON is an error naming it; results of two
// different harnesses in one folder are refused. Nil when none is a result.
func readNativeFiles(files []string) (*Report, error) {
	var found []nativeResult
	for _, f := range files {
		results, err := readNativeFile(f)
		if err != nil {
			return nil, err
		}
		found = append(found, results...)
	}
	if len(found) == 0 {
		return nil, nil
	}
	// vLLM results in several files are put in the order they ran (file names sort 16 before 8).
	dated := true
	for _, n := range found {
		dated = dated && n.date != ""
	}
	if dated {
		sort.SliceStable(found, func(i, j int) bool { return found[i].date < found[j].date })
	}
	out := found[0].report
	for _, n := range found[1:] {
		if n.report.Format != out.Format {
			return nil, fmt.Errorf("%s is a %s result but %s is a %s result: one result folder holds one harness's results",
				found[0].file, out.Format, n.file, n.report.Format)
		}
		out.Stages = append(out.Stages, n.report.Stages...)
		if out.Model == "" {
			out.Model = n.report.Model
		}
	}
	for i := range out.Stages {
		out.Stages[i].Stage = i
	}
	return out, nil
}

// readNativeFile decodes every JSON value in a file (one, or JSON Lines) and keeps the results.
// Python's NaN and ±Infinity tokens are read as null; a value that cannot be decoded is named by
// the line it starts on.
func readNativeFile(path string) ([]nativeResult, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b := nonFiniteToNull(raw)
	dec := json.NewDecoder(bytes.NewReader(b))
	var out []nativeResult
	for {
		start := dec.InputOffset()
		var v any
		if err := dec.Decode(&v); err == io.EOF {
			return out, nil
		} else if err != nil {
			// the value starts after the white space that precedes it
			for start < int64(len(b)) && strings.ContainsRune(" \t\r\n", rune(b[start])) {
				start++
			}
			line, _ := lineCol(b, start)
			return nil, fmt.Errorf("%s: the JSON value starting on line %d: %w", path, line, jsonDetail(b, err))
		}
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		o := obj(m)
		switch {
		case isGuideLLM(o):
			list := o.get("benchmarks").([]any)
			if len(list) == 0 {
				return nil, fmt.Errorf("%s: a GuideLLM report with no benchmark in its benchmarks list", path)
			}
			r, err := readGuideLLM(o, list)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			out = append(out, nativeResult{file: path, report: r})
		case isVLLM(o):
			out = append(out, nativeResult{file: path, report: readVLLM(o), date: o.str("date")})
		}
	}
}

// isGuideLLM recognises a GuideLLM report by its list of benchmarks.
func isGuideLLM(o obj) bool {
	_, ok := o.get("benchmarks").([]any)
	return ok
}

// isVLLM recognises a `vllm bench serve` (or benchmark_serving.py) result by the keys every
// version writes.
func isVLLM(o obj) bool {
	_, completed := o["completed"]
	_, throughput := o["request_throughput"]
	return completed && throughput
}

// readGuideLLM reads a GuideLLM benchmarks report of any version, one stage per benchmark:
//   - <= 0.3: benchmarks[].args.strategy, request_totals on the benchmark, model in
//     benchmarks[].worker.backend_model, percentiles without p50 (median instead);
//   - 0.4 to 0.6: benchmarks[].config.strategy, metrics.request_totals, model in the top-level
//     args.model or benchmarks[].config.backend.model (a list of rates is one benchmark per rate);
//   - >= 0.7 (metadata.version 2): as 0.4 to 0.6, model in config.spec.backend.model.
//
// Latencies are the successful requests' (ms in the file, seconds here). A synchronous stage is
// concurrency 1, a concurrent one its streams; rate-driven and throughput stages have none
// (max_concurrency is GuideLLM's worker cap, not a load level).
func readGuideLLM(m obj, list []any) (*Report, error) {
	r := &Report{Format: FormatGuideLLM, Harness: "guidellm", Definitions: definitionsOf(FormatGuideLLM)}
	r.Model = firstString(m.str("config", "spec", "backend", "model"), m.str("args", "model"))
	measured := 0
	for i, b := range list {
		bo := obj{"b": b}.sub("b")
		if bo == nil {
			return nil, fmt.Errorf("benchmark %d is not an object", i)
		}
		met := bo.sub("metrics")
		succ := func(name string) obj { return met.sub(name, "successful") }
		st := Stage{Stage: i, Metrics: Metrics{
			Requests: guidellmRequests(firstObj(met.sub("request_totals"), bo.sub("request_totals"))),
			Latency: Latency{
				TTFT: guidellmDist(succ("time_to_first_token_ms"), 1e-3), TPOT: guidellmDist(succ("time_per_output_token_ms"), 1e-3),
				ITL: guidellmDist(succ("inter_token_latency_ms"), 1e-3), E2E: guidellmDist(succ("request_latency"), 1),
			},
			Throughput: Throughput{
				RequestsPerSec:     guidellmMean(succ("requests_per_second")),
				InputTokensPerSec:  guidellmMean(succ("prompt_tokens_per_second")),
				OutputTokensPerSec: guidellmMean(succ("output_tokens_per_second")),
				TotalTokensPerSec:  guidellmMean(succ("tokens_per_second")),
			},
		}}
		st.AchievedRate = st.Throughput.RequestsPerSec
		strategy := firstObj(bo.sub("config", "strategy"), bo.sub("args", "strategy"))
		switch strategy.str("type_") {
		case "synchronous":
			st.Concurrency = f64(1)
		case "concurrent":
			st.Concurrency = strategy.num("streams")
		case "throughput":
		default: // constant, poisson, async: rate-driven
			st.RequestedRate = strategy.num("rate")
		}
		if st.measured() {
			measured++
		}
		r.Stages = append(r.Stages, st)
		if r.Model == "" {
			r.Model = firstString(bo.str("config", "backend", "model"), bo.str("worker", "backend_model"), bo.str("config", "requests", "model"))
		}
	}
	switch {
	case measured == 0:
		return nil, errors.New("no benchmark holds GuideLLM metrics (unknown schema?)")
	case measured < len(r.Stages):
		for _, st := range r.Stages {
			if !st.measured() {
				return nil, fmt.Errorf("benchmark %d of %d holds no GuideLLM metrics (unknown schema?)", st.Stage, len(r.Stages))
			}
		}
	}
	return r, nil
}

// guidellmRequests reads GuideLLM's request_totals; errored requests are failures, incomplete
// ones (cut off when the benchmark ended) are counted apart.
func guidellmRequests(t obj) *Requests {
	ok := t.num("successful")
	if ok == nil {
		return nil
	}
	out := &Requests{Succeeded: int(*ok), Failed: intOf(t.num("errored"))}
	if inc := t.num("incomplete"); inc != nil {
		n := int(*inc)
		out.Incomplete = &n
	}
	return out
}

// guidellmDist reads a GuideLLM DistributionSummary: p50 from percentiles (or median, which
// <= 0.3 writes instead), p90 and p99 from percentiles. A summary of no value (count 0, which
// GuideLLM fills with zeros) is nil.
func guidellmDist(d obj, scale float64) *Dist {
	if d == nil || guidellmEmpty(d) {
		return nil
	}
	pct := d.sub("percentiles")
	out := &Dist{Mean: d.num("mean"), P50: pct.num("p50"), P90: pct.num("p90"), P99: pct.num("p99")}
	if out.P50 == nil {
		out.P50 = d.num("median")
	}
	for _, p := range []**float64{&out.Mean, &out.P50, &out.P90, &out.P99} {
		if *p != nil {
			*p = f64(**p * scale)
		}
	}
	if out.Mean == nil && out.P50 == nil && out.P90 == nil && out.P99 == nil {
		return nil
	}
	return out
}

func guidellmMean(d obj) *float64 {
	if d == nil || guidellmEmpty(d) {
		return nil
	}
	return d.num("mean")
}

func guidellmEmpty(d obj) bool {
	c := d.num("count")
	return c != nil && *c == 0
}

func firstObj(objs ...obj) obj {
	for _, o := range objs {
		if o != nil {
			return o
		}
	}
	return nil
}

func firstString(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// readVLLM reads one `vllm bench serve` result (the JSON its --save-result writes). The rate
// "inf" (all requests at once) is no requested rate. A result with no completed request has no
// latencies: vLLM writes zeros for them, which are not measurements.
func readVLLM(m obj) *Report {
	completed := intOf(m.num("completed"))
	d := func(metric string) *Dist {
		if completed == 0 {
			return nil
		}
		dd := &Dist{Mean: m.num("mean_" + metric + "_ms"), P50: m.num("median_" + metric + "_ms"),
			P90: m.num("p90_" + metric + "_ms"), P99: m.num("p99_" + metric + "_ms")}
		if dd.P50 == nil {
			dd.P50 = m.num("p50_" + metric + "_ms")
		}
		for _, p := range []**float64{&dd.Mean, &dd.P50, &dd.P90, &dd.P99} {
			if *p != nil {
				*p = f64(**p / 1000)
			}
		}
		if dd.Mean == nil && dd.P50 == nil && dd.P90 == nil && dd.P99 == nil {
			return nil
		}
		return dd
	}
	st := Stage{Metrics: Metrics{
		RequestedRate: m.num("request_rate"),
		Concurrency:   m.num("max_concurrency"),
		AchievedRate:  m.num("request_throughput"),
		Requests:      &Requests{Succeeded: completed, Failed: intOf(m.num("failed"))},
		Latency:       Latency{TTFT: d("ttft"), TPOT: d("tpot"), ITL: d("itl"), E2E: d("e2el")},
		Throughput: Throughput{
			RequestsPerSec: m.num("request_throughput"), OutputTokensPerSec: m.num("output_throughput"),
			TotalTokensPerSec: m.num("total_token_throughput"),
		},
	}}
	if dur := m.num("duration"); dur != nil && *dur > 0 {
		if in := m.num("total_input_tokens"); in != nil {
			if v := *in / *dur; !math.IsInf(v, 0) {
				st.Throughput.InputTokensPerSec = f64(v)
			}
		}
	}
	return &Report{Format: FormatVLLM, Harness: "vllm-benchmark", Model: m.str("model_id"), Definitions: definitionsOf(FormatVLLM), Stages: []Stage{st}}
}

// modelFromProfiles finds the model in the workload profile the harness copied into the folder.
func modelFromProfiles(dir string) string {
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range append([]string{filepath.Join(dir, "config.yaml")}, files...) {
		m, err := readYAML(f)
		if err != nil {
			continue
		}
		if s := m.str("server", "model_name"); s != "" {
			return s
		}
	}
	return ""
}
