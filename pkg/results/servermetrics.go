package results

import "time"

// Server metrics: what the model servers (and the endpoint picker) reported while a benchmark ran.
// A scraper (package scrape: in the native launcher, or the plugin through the API server's pod
// proxy) reads each server pod's Prometheus /metrics every interval and appends to
// ServerMetricsFile in the result folder; at every stage boundary it also appends a stage event
// and saves each pod's raw exposition text under ServerSnapshotDir. This file is the contract
// between that writer and every reader (results show --server-metrics, -o json, the benchmark
// report's observability section, results plot, results report).
//
// ServerMetricsFile is JSON Lines, one ServerMetricsLine per line, in the order written:
//
//	{"kind":"header","format":"llmdbench.server-metrics/v1","interval_seconds":5,
//	 "targets":[{"namespace":"ns","pod":"sim-0","role":"model-server","url":"http://10.0.0.5:8000/metrics","via":"direct"}]}
//	{"kind":"stage","stage":0,"event":"start","time":1764547200.125}
//	{"kind":"sample","time":1764547200.130,"pod":"sim-0","values":{"vllm:num_requests_running":3,"vllm:kv_cache_usage_perc":0.12,...}}
//	{"kind":"sample","time":1764547205.131,"pod":"sim-0","error":"Get ...: connection refused"}
//	{"kind":"stage","stage":0,"event":"end","time":1764547230.002}
//
// Times are Unix seconds (float, wall clock). A sample's values hold, for every metric family whose
// name starts with one of ServerMetricPrefixes, one number per family: the sum over all of the
// family's series (label sets) of gauges and counters (counter names as exposed, with "_total"),
// and for histograms and summaries "<name>_sum" and "<name>_count" summed likewise. Families of
// other names are not kept (the raw snapshots keep everything). A line of an unknown kind is
// skipped by readers, so the format can grow.
//
// "As exposed" matters to readers: vLLM exposes vllm:prefix_cache_hits_total and
// vllm:prefix_cache_queries_total, but llm-d-inference-sim v0.10.2 exposes the same counters as
// vllm:prefix_cache_hits and vllm:prefix_cache_queries (no "_total"; pkg/scrape/testdata holds a
// capture). A sample's time is when its fetch started (as Prometheus times a scrape); one pod's
// samples are written in time order, but a stage line can precede samples of a round that
// started before it, so readers order by time, not by line. A family whose total is not finite,
// or a histogram's _sum/_count that some series lack, is left out of values (never a made-up 0).

// ServerMetricsFile is the time series file in a result folder.
const ServerMetricsFile = "server_metrics.jsonl"

// ServerSnapshotDir holds the raw /metrics text of every pod at every stage boundary:
// "stage_<N>_<start|end>_<pod>.prom".
const ServerSnapshotDir = "server_metrics"

// ServerMetricsFormat is the header's format value.
const ServerMetricsFormat = "llmdbench.server-metrics/v1"

// ServerMetricPrefixes are the metric name prefixes a scraper keeps: vLLM's (vllm:) and the
// llm-d inference scheduler's / Gateway API inference extension's (inference_, llm_d_).
var ServerMetricPrefixes = []string{"vllm:", "inference_", "llm_d_"}

// Line kinds and stage events.
const (
	ServerLineHeader = "header"
	ServerLineSample = "sample"
	ServerLineStage  = "stage"
	StageEventStart  = "start"
	StageEventEnd    = "end"
)

// Server roles.
const (
	RoleModelServer = "model-server"
	RoleEPP         = "epp"
)

// ServerTarget is one scraped pod.
type ServerTarget struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	// Role is RoleModelServer or RoleEPP.
	Role string `json:"role"`
	// URL is the metrics URL as scraped: the pod's address ("direct", from inside the cluster) or
	// the API server's pod proxy path ("proxy").
	URL string `json:"url"`
	Via string `json:"via"`
}

// ServerMetricsLine is one line of ServerMetricsFile; which fields are set depends on Kind.
type ServerMetricsLine struct {
	Kind string `json:"kind"`
	// header
	Format          string         `json:"format,omitempty"`
	IntervalSeconds float64        `json:"interval_seconds,omitempty"`
	Targets         []ServerTarget `json:"targets,omitempty"`
	// sample and stage
	Time float64 `json:"time,omitempty"`
	// sample
	Pod    string             `json:"pod,omitempty"`
	Values map[string]float64 `json:"values,omitempty"`
	Error  string             `json:"error,omitempty"`
	// stage
	Stage *int   `json:"stage,omitempty"`
	Event string `json:"event,omitempty"`
}

// ServerSeries is ServerMetricsFile read into memory (ReadServerSeries).
type ServerSeries struct {
	IntervalSeconds float64
	Targets         []ServerTarget
	// Samples per pod, in time order; failed scrapes are kept with Err set and no values.
	Samples map[string][]ServerSample
	// Stages are the stage windows from the stage events; End is zero for a stage that never ended.
	Stages []StageWindow
}

// ServerSample is one scrape of one pod.
type ServerSample struct {
	Time   time.Time
	Values map[string]float64
	Err    string
}

// StageWindow is a stage's wall-clock window.
type StageWindow struct {
	Stage      int
	Start, End time.Time
}

// ServerStageMetrics is one stage's server-side numbers: per pod and for all pods together.
type ServerStageMetrics struct {
	Stage int       `json:"stage"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Pods in target order; All sums them (KV-cache usage: the mean over pods, since each pod's is
	// a fraction of its own cache; hit rate: all hits over all queries). All covers the
	// model-server pods (not the EPP's) and is null where any of them is; ServerStages says how
	// each field combines.
	Pods []ServerPodMetrics `json:"pods"`
	All  ServerPodMetrics   `json:"all"`
}

// ServerPodMetrics are one pod's (or all pods') numbers over one stage. Every field is null when
// the pod did not expose the metric or too few samples fell in the stage (a rate or a hit rate
// needs a sample at or before the start and one at or after the end, or two inside).
type ServerPodMetrics struct {
	Pod  string `json:"pod"`
	Role string `json:"role"`
	// Samples is how many successful scrapes fell in the stage.
	Samples int `json:"samples"`
	// KVCacheUsageMean/Max: fraction 0..1 of the KV cache in use (vllm:kv_cache_usage_perc, or
	// vllm:gpu_cache_usage_perc on older vLLM).
	KVCacheUsageMean *float64 `json:"kv_cache_usage_mean"`
	KVCacheUsageMax  *float64 `json:"kv_cache_usage_max"`
	// Running/Waiting: requests running in / waiting for the engine (vllm:num_requests_running,
	// vllm:num_requests_waiting).
	RunningMean *float64 `json:"running_mean"`
	RunningMax  *float64 `json:"running_max"`
	WaitingMean *float64 `json:"waiting_mean"`
	WaitingMax  *float64 `json:"waiting_max"`
	// PrefixCacheHitRate = Δhits / Δqueries over the stage (vllm:prefix_cache_hits_total and
	// vllm:prefix_cache_queries_total, in tokens); null when no query was counted.
	PrefixCacheHitRate *float64 `json:"prefix_cache_hit_rate"`
	PrefixCacheHits    *float64 `json:"prefix_cache_hits"`
	PrefixCacheQueries *float64 `json:"prefix_cache_queries"`
	// Preemptions counted over the stage (vllm:num_preemptions_total).
	Preemptions *float64 `json:"preemptions"`
	// PromptTokensPerSec and GenerationTokensPerSec as the server counted them
	// (vllm:prompt_tokens_total, vllm:generation_tokens_total over the stage's duration).
	PromptTokensPerSec     *float64 `json:"prompt_tokens_per_sec"`
	GenerationTokensPerSec *float64 `json:"generation_tokens_per_sec"`
}
