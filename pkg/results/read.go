package results

import (
	"encoding/json"
	"errors"
	"fmt"
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

var (
	stageFile = regexp.MustCompile(`^stage_(\d+)_lifecycle_metrics\.json$`)
	brV02File = regexp.MustCompile(`^benchmark_report_v0\.2,_.*\.ya?ml$`)
	brV01File = regexp.MustCompile(`^benchmark_report,_.*\.ya?ml$`)
)

// ReadDir reads a result folder, preferring benchmark report v0.2, then each tool's native files,
// then benchmark report v0.1.
func ReadDir(dir string) (*Report, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var v02, v01, stages, jsons []string
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
		case strings.HasSuffix(n, ".json") && n != "per_request_lifecycle_metrics.json" && !strings.HasSuffix(n, "_lifecycle_metrics.json") && !strings.Contains(n, "prometheus"):
			jsons = append(jsons, filepath.Join(dir, n))
		}
	}
	var r *Report
	switch {
	case len(v02) > 0:
		r, err = readBRs(v02, FormatBR02)
		if err == nil {
			err = achievedFromStageFiles(r, stages)
		}
	case len(stages) > 0:
		r, err = readInferencePerf(dir, stages)
	default:
		for _, f := range jsons {
			// Other JSON files (harness configs, logs) are simply not results.
			if found, ferr := readNativeJSON(f); ferr == nil {
				r = found
				break
			}
		}
		if r == nil && len(v01) > 0 {
			r, err = readBRs(v01, FormatBR01)
		}
	}
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("%s: %w (inference-perf stage_N_lifecycle_metrics.json, benchmark_report*.yaml, GuideLLM or vLLM JSON)", dir, ErrNoResults)
	}
	r.Source = dir
	if r.Metadata, err = runstate.ReadMetadata(dir); err != nil {
		return nil, err
	}
	if r.Model == "" && r.Metadata != nil {
		r.Model = r.Metadata.Model
	}
	if r.Model == "" {
		r.Model = modelFromProfiles(dir)
	}
	return r, nil
}

// obj is a decoded JSON or YAML document, read with lenient lookups: result formats drift.
type obj map[string]any

func readJSON(path string) (obj, error) { return readDoc(path, json.Unmarshal) }

// readYAML uses the YAML library directly: reports hold values JSON cannot (concurrency: .inf).
func readYAML(path string) (obj, error) { return readDoc(path, yaml.Unmarshal) }

func readDoc(path string, unmarshal func([]byte, any) error) (obj, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m obj
	if err := unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
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
	case string:
		if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) {
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

// readInferencePerf reads the stage and summary lifecycle files of any inference-perf version.
func readInferencePerf(dir string, stages []string) (*Report, error) {
	r := &Report{Format: FormatInferencePerf, Harness: "inference-perf", Definitions: definitionsOf(FormatInferencePerf)}
	sort.Slice(stages, func(i, j int) bool { return stageNumber(stages[i]) < stageNumber(stages[j]) })
	for _, f := range stages {
		m, err := readJSON(f)
		if err != nil {
			return nil, err
		}
		r.Stages = append(r.Stages, Stage{Stage: stageNumber(f), Metrics: inferencePerfMetrics(m)})
	}
	if m, err := readJSON(filepath.Join(dir, "summary_lifecycle_metrics.json")); err == nil {
		s := inferencePerfMetrics(m)
		r.Summary = &s
	} else if !os.IsNotExist(err) {
		return nil, err
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

func inferencePerfMetrics(m obj) Metrics {
	lat := m.sub("successes", "latency")
	tp := m.sub("successes", "throughput")
	return Metrics{
		RequestedRate: m.num("load_summary", "requested_rate"),
		AchievedRate:  m.num("load_summary", "achieved_rate"),
		Concurrency:   m.num("load_summary", "concurrency"),
		Requests:      Requests{Succeeded: intOf(m.num("successes", "count")), Failed: intOf(m.num("failures", "count"))},
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
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
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
	total, failures := intOf(agg.num("requests", "total")), intOf(agg.num("requests", "failures"))
	st := Stage{Stage: index, Metrics: Metrics{
		RequestedRate: load.num("rate_qps"),
		Concurrency:   load.num("concurrency"),
		Requests:      Requests{Succeeded: total - failures, Failed: failures},
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
	total, failures := intOf(m.num("metrics", "requests", "total")), intOf(m.num("metrics", "requests", "failures"))
	st := Stage{Stage: index, Metrics: Metrics{
		Requests: Requests{Succeeded: total - failures, Failed: failures},
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
	if args := m.sub("scenario", "load", "args"); args != nil {
		st.RequestedRate = args.num("request_rate")
		st.Concurrency = args.num("max_concurrency")
	}
	return st, nil
}

// readNativeJSON reads a GuideLLM report or a vLLM benchmark result.
func readNativeJSON(path string) (*Report, error) {
	m, err := readJSON(path)
	if err != nil {
		return nil, err
	}
	if list, ok := m["benchmarks"].([]any); ok {
		return readGuideLLM(m, list)
	}
	if m.num("request_throughput") != nil && m.num("completed") != nil {
		return readVLLM(m), nil
	}
	return nil, ErrNoResults
}

func readGuideLLM(m obj, list []any) (*Report, error) {
	r := &Report{Format: FormatGuideLLM, Harness: "guidellm", Definitions: definitionsOf(FormatGuideLLM)}
	for i, b := range list {
		bo := obj{"b": b}.sub("b")
		if bo == nil {
			continue
		}
		met := bo.sub("metrics")
		succ := func(name string) obj { return met.sub(name, "successful") }
		st := Stage{Stage: i, Metrics: Metrics{
			Requests: Requests{
				Succeeded: intOf(met.num("request_totals", "successful")),
				Failed:    intOf(met.num("request_totals", "errored")) + intOf(met.num("request_totals", "incomplete")),
			},
			Latency: Latency{
				TTFT: succ("time_to_first_token_ms").dist(1e-3), TPOT: succ("time_per_output_token_ms").dist(1e-3),
				ITL: succ("inter_token_latency_ms").dist(1e-3), E2E: succ("request_latency").dist(1),
			},
			Throughput: Throughput{
				RequestsPerSec:     met.num("requests_per_second", "successful", "mean"),
				InputTokensPerSec:  met.num("prompt_tokens_per_second", "successful", "mean"),
				OutputTokensPerSec: met.num("output_tokens_per_second", "successful", "mean"),
				TotalTokensPerSec:  met.num("tokens_per_second", "successful", "mean"),
			},
		}}
		st.AchievedRate = st.Throughput.RequestsPerSec
		strategy := bo.sub("config", "strategy")
		st.RequestedRate = strategy.num("rate")
		if c := strategy.num("streams"); c != nil {
			st.Concurrency = c
		} else {
			st.Concurrency = strategy.num("max_concurrency")
		}
		r.Stages = append(r.Stages, st)
		if r.Model == "" {
			r.Model = bo.str("config", "requests", "model")
		}
	}
	if len(r.Stages) == 0 {
		return nil, ErrNoResults
	}
	return r, nil
}

func readVLLM(m obj) *Report {
	d := func(metric string) *Dist {
		dd := &Dist{Mean: m.num("mean_" + metric + "_ms"), P50: m.num("median_" + metric + "_ms"),
			P90: m.num("p90_" + metric + "_ms"), P99: m.num("p99_" + metric + "_ms")}
		for _, p := range []**float64{&dd.Mean, &dd.P50, &dd.P90, &dd.P99} {
			if *p != nil {
				*p = f64(**p / 1000)
			}
		}
		if dd.Mean == nil && dd.P50 == nil {
			return nil
		}
		return dd
	}
	st := Stage{Metrics: Metrics{
		RequestedRate: m.num("request_rate"),
		Concurrency:   m.num("max_concurrency"),
		AchievedRate:  m.num("request_throughput"),
		Requests:      Requests{Succeeded: intOf(m.num("completed")), Failed: intOf(m.num("failed"))},
		Latency:       Latency{TTFT: d("ttft"), TPOT: d("tpot"), ITL: d("itl"), E2E: d("e2el")},
		Throughput: Throughput{
			RequestsPerSec: m.num("request_throughput"), OutputTokensPerSec: m.num("output_throughput"),
			TotalTokensPerSec: m.num("total_token_throughput"),
		},
	}}
	if dur := m.num("duration"); dur != nil && *dur > 0 {
		if in := m.num("total_input_tokens"); in != nil {
			st.Throughput.InputTokensPerSec = f64(*in / *dur)
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
