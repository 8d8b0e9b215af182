// Package results reads what every harness writes (inference-perf, benchmark reports v0.1 and
// v0.2, GuideLLM, vLLM's benchmark, AIPerf) into one normalised model, recomputes distributions from
// per-request files by streaming them, and compares runs. Latencies in the model are seconds.
package results

import (
	"encoding/json"
	"path/filepath"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// Formats a report can come from.
const (
	FormatInferencePerf = "inference-perf"
	FormatBR01          = "benchmark-report-v0.1"
	FormatBR02          = "benchmark-report-v0.2"
	FormatGuideLLM      = "guidellm"
	FormatVLLM          = "vllm-benchmark"
	FormatAIPerf        = "aiperf"
)

// Dist summarises a distribution (seconds for latencies).
type Dist struct {
	Mean *float64 `json:"mean"`
	P50  *float64 `json:"p50"`
	P90  *float64 `json:"p90"`
	P99  *float64 `json:"p99"`
}

// Get returns one statistic by name: mean, p50, p90 or p99.
func (d *Dist) Get(stat string) *float64 {
	if d == nil {
		return nil
	}
	switch stat {
	case "mean":
		return d.Mean
	case "p50":
		return d.P50
	case "p90":
		return d.P90
	case "p99":
		return d.P99
	}
	return nil
}

// Latency holds the latency distributions. TPOT and ITL follow the source tool's definitions
// (see Report.Definitions); NTPOT is (end - start) / output tokens; E2E is the request latency.
type Latency struct {
	TTFT  *Dist `json:"ttft"`
	TPOT  *Dist `json:"tpot"`
	ITL   *Dist `json:"itl"`
	NTPOT *Dist `json:"ntpot"`
	E2E   *Dist `json:"e2e"`
}

// Throughput is per second over the stage.
type Throughput struct {
	RequestsPerSec     *float64 `json:"requests_per_sec"`
	InputTokensPerSec  *float64 `json:"input_tokens_per_sec"`
	OutputTokensPerSec *float64 `json:"output_tokens_per_sec"`
	TotalTokensPerSec  *float64 `json:"total_tokens_per_sec"`
}

// Requests counts outcomes. Incomplete is set only by harnesses that count requests cut off at
// the end of a stage apart from failures (GuideLLM, benchmark reports that carry it); it is nil
// when the file does not hold it.
type Requests struct {
	Succeeded  int  `json:"succeeded"`
	Failed     int  `json:"failed"`
	Incomplete *int `json:"incomplete"`
}

// Metrics is one stage's (or the whole run's) numbers.
type Metrics struct {
	RequestedRate *float64 `json:"requested_rate"`
	AchievedRate  *float64 `json:"achieved_rate"`
	// Concurrency is the stage's concurrency level (a concurrent load's streams, 1 for a
	// synchronous stage); nil for rate-driven stages, whatever worker cap the harness had.
	Concurrency *float64 `json:"concurrency"`
	// Requests is nil when the file holds no request counts.
	Requests   *Requests  `json:"requests"`
	Latency    Latency    `json:"latency"`
	Throughput Throughput `json:"throughput"`
	// Goodput is set when computed from per-request data with SLOs.
	Goodput *Goodput `json:"goodput,omitempty"`
}

// Stage is one load level.
type Stage struct {
	Stage int `json:"stage"`
	Metrics
	// Repeats and Spread are set on aggregated stages: how many repeats were averaged, and each
	// number's sample standard deviation across them (keys: ttft_p50, requests_per_sec, …).
	Repeats int                `json:"repeats,omitempty"`
	Spread  map[string]float64 `json:"spread,omitempty"`
}

// Report is one result folder, normalised. Its JSON is the stable `results show -o json` interface.
type Report struct {
	Source  string `json:"source"`
	Format  string `json:"format"`
	Harness string `json:"harness"`
	Model   string `json:"model"`
	// Definitions say what TPOT and ITL mean for the source tool.
	Definitions map[string]string `json:"definitions,omitempty"`
	Stages      []Stage           `json:"stages"`
	Summary     *Metrics          `json:"summary"`
	// PerRequest is recomputed from the per-request file when asked (--per-request).
	PerRequest *PerRequest `json:"per_request,omitempty"`
	// Metadata is what the plugin recorded about the run that produced the folder.
	Metadata *runstate.Metadata `json:"metadata,omitempty"`
	// Repeats is how many folders an aggregated report averages.
	Repeats int `json:"repeats,omitempty"`
	// Merge says, for a folder Merge wrote, which launchers it merges and which are missing.
	Merge *MergeSummary `json:"merge,omitempty"`
	// Capacity is the folder's capacity search record (CapacityFile), when it has one; its probes
	// are the folder's stages.
	Capacity *Capacity `json:"capacity,omitempty"`
	// ServerMetrics are the model servers' numbers per stage (ServerStages), from the folder's
	// ServerMetricsFile when it has one with samples; an aggregate of repeats has none (each
	// repeat's servers are shown from its own folder).
	ServerMetrics []ServerStageMetrics `json:"server_metrics,omitempty"`
}

// Name is the report's series label: from its metadata when it has some, else its folder.
func (r *Report) Name() string {
	if r.Metadata != nil {
		if r.Repeats > 1 {
			return r.Metadata.Run + " " + r.Metadata.Workload
		}
		return r.Metadata.Run + " " + r.Metadata.Name()
	}
	return filepath.Base(filepath.Clean(r.Source))
}

// Goodput is the share and rate of requests that met every SLO.
type Goodput struct {
	SLOs     map[string]float64 `json:"slos"`
	Good     int                `json:"good"`
	Total    int                `json:"total"`
	Share    float64            `json:"share"`
	RatePerS float64            `json:"rate_per_sec"`
}

func f64(v float64) *float64 { return &v }

// definitionsOf says, per format, what TPOT and ITL mean (from each tool's own formulas).
func definitionsOf(format string) map[string]string {
	return map[string]map[string]string{
		FormatInferencePerf: {
			"tpot": "(last token time - first token time) / (output tokens - 1), per request",
			"itl":  "every gap between consecutive tokens, pooled over requests",
		},
		FormatGuideLLM: {
			"tpot": "(last token time - request start) / output tokens: includes TTFT (GuideLLM's TPOT)",
			"itl":  "(last token time - first token time) / (output tokens - 1), per request (GuideLLM's ITL)",
		},
		FormatVLLM: {
			"tpot": "(latency - TTFT) / (output tokens - 1), per request",
			"itl":  "every gap between consecutive chunks, pooled over requests",
		},
		FormatAIPerf: {
			"tpot": "(request latency - TTFT) / (output tokens - 1), per request (AIPerf's inter_token_latency)",
			"itl":  "every gap between consecutive chunks, pooled over requests (AIPerf's inter_chunk_latency)",
		},
	}[format]
}

// MarshalJSON writes the report with "model": null when no model is known (never "").
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report // without this method
	var model *string
	if r.Model != "" {
		model = &r.Model
	}
	return json.Marshal(struct {
		plain
		Model *string `json:"model"`
	}{plain(r), model})
}
