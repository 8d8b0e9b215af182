// Package loadgen is the plugin's native load generator. It reads the inference-perf workload
// YAML the presets carry, sends open-loop load to an OpenAI-compatible server, and writes the
// files inference-perf writes (plus a benchmark report v0.2 per stage) so every reader of those
// files works unchanged.
package loadgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
	"github.com/llmdbench/kubectl-llmdbench/pkg/scrape"
)

// Load types, API types and data types the generator understands.
const (
	LoadConstant   = "constant"
	LoadPoisson    = "poisson"
	LoadConcurrent = "concurrent"

	APICompletion = "completion"
	APIChat       = "chat"

	DataRandom       = "random"
	DataSharedPrefix = "shared_prefix"

	DistNormal = "normal"
	DistFixed  = "fixed"

	SweepLinear    = "linear"
	SweepGeometric = "geometric"
)

// Workload is the part of inference-perf's config the generator honours. Field names and
// meanings are inference-perf's, so a profile written for it runs here unchanged; a profile
// that sets any other key is refused by DecodeWorkload, naming the key (see profileKeys).
type Workload struct {
	Load   Load   `json:"load"`
	API    API    `json:"api"`
	Server Server `json:"server"`
	Data   Data   `json:"data"`
	Report Report `json:"report"`
	// ServerMetrics, when set, scrapes the model servers' /metrics during the run into the
	// output folder (see ServerMetrics). It is the plugin's extension, not an inference-perf key:
	// the image harnesses cannot run such a profile.
	ServerMetrics *ServerMetrics `json:"server_metrics,omitempty"`

	// share is this launcher's part of the data set after Split; nil: all of it.
	share *share
}

// Load says when requests are sent.
type Load struct {
	Type string `json:"type"`
	// Interval is the pause between stages, seconds (inference-perf's default is 1).
	Interval *float64 `json:"interval,omitempty"`
	Stages   []Stage  `json:"stages"`
	// Sweep, when set, replaces Stages at run time: a saturation probe, then stages up to the
	// saturation rate (see Sweep).
	Sweep *Sweep `json:"sweep,omitempty"`
	// FindMax, when set, replaces Stages at run time: a capacity search, one probe stage per
	// level, for the highest load within the SLOs (see FindMax and Search). It is the plugin's
	// extension, not an inference-perf key: the image harnesses cannot run such a profile.
	FindMax *FindMax `json:"find_max,omitempty"`
	// RequestTimeout bounds each request, seconds; 0 means none.
	RequestTimeout float64 `json:"request_timeout,omitempty"`
	BaseSeed       int64   `json:"base_seed,omitempty"`
	// LoRATrafficSplit sends each request to one LoRA adapter, drawn by the splits' weights
	// (which sum to 1); none goes to the base model.
	LoRATrafficSplit []LoRASplit `json:"lora_traffic_split,omitempty"`
	// NumWorkers × min(WorkerMaxConcurrency, WorkerMaxTCPConnections) caps the requests in
	// flight in a rate stage, as inference-perf's worker pool does; with none of the three set
	// rate stages are not capped. Concurrent stages ignore them in inference-perf as here.
	NumWorkers              *int `json:"num_workers,omitempty"`
	WorkerMaxConcurrency    *int `json:"worker_max_concurrency,omitempty"`
	WorkerMaxTCPConnections *int `json:"worker_max_tcp_connections,omitempty"`
}

// ServerMetrics says which pods Run scrapes, and how often, while it sends the load: it writes
// results.ServerMetricsFile and the stage snapshots (results.ServerSnapshotDir) into
// Options.OutputDir with a scrape.Scraper over plain HTTP (the targets' URLs are the pods'
// addresses, reached from where the generator runs), marking every stage's start and end.
type ServerMetrics struct {
	// IntervalSeconds is the time between scrapes, seconds (> 0).
	IntervalSeconds float64 `json:"interval_seconds"`
	// Targets are the pods, in the order the series lists them (see scrape.CheckTargets).
	Targets []results.ServerTarget `json:"targets"`
}

// LoRASplit is one adapter's share of the requests (inference-perf's MultiLoRAConfig).
type LoRASplit struct {
	Name  string  `json:"name"`
	Split float64 `json:"split"`
}

// Sweep is inference-perf's load.sweep: a probe stage sends NumRequests requests over 5 s (at
// most Timeout seconds, its requests excluded from every report), the in-flight count is sampled
// every 0.5 s, and the SaturationPercentile of the rates at which it fell is the saturation rate;
// then NumStages stages of StageDuration seconds run at rates spaced linearly or geometrically
// between 1 and that rate (req/s, rounded to 0.01).
type Sweep struct {
	Type                 string  `json:"type"`
	NumRequests          int     `json:"num_requests"`
	Timeout              float64 `json:"timeout"`
	NumStages            int     `json:"num_stages"`
	StageDuration        float64 `json:"stage_duration"`
	SaturationPercentile float64 `json:"saturation_percentile"`
}

// Stage is one load level: rate+duration (constant, poisson) or num_requests+concurrency_level
// (concurrent).
type Stage struct {
	Rate             float64 `json:"rate,omitempty"`
	Duration         float64 `json:"duration,omitempty"`
	NumRequests      int     `json:"num_requests,omitempty"`
	ConcurrencyLevel int     `json:"concurrency_level,omitempty"`

	// After Split, a rate stage's request count (0: round(Rate × Duration)) and the offset of its
	// first request, seconds after the stage's start (see Split).
	requests int
	phase    float64
}

// API selects the endpoint.
type API struct {
	Type      string            `json:"type"`
	Streaming bool              `json:"streaming"`
	Headers   map[string]string `json:"headers,omitempty"`
}

// Server is the endpoint under test.
type Server struct {
	Type      string `json:"type,omitempty"`
	ModelName string `json:"model_name"`
	BaseURL   string `json:"base_url"`
	IgnoreEOS bool   `json:"ignore_eos"`
	APIKey    string `json:"api_key,omitempty"`
}

// Data describes the prompts.
type Data struct {
	Type               string        `json:"type"`
	InputDistribution  *Distribution `json:"input_distribution,omitempty"`
	OutputDistribution *Distribution `json:"output_distribution,omitempty"`
	SharedPrefix       *SharedPrefix `json:"shared_prefix,omitempty"`
}

// Distribution of a length in tokens. inference-perf spells the deviation `std` in older images
// and `std_dev` in newer ones, or gives a variance; all are accepted. Type is normal (the
// default: a normal draw kept within [min, max]) or fixed (always int(mean)).
type Distribution struct {
	Type       string   `json:"type,omitempty"`
	Min        int      `json:"min"`
	Max        int      `json:"max"`
	Mean       float64  `json:"mean"`
	Std        float64  `json:"std,omitempty"`
	StdDev     float64  `json:"std_dev,omitempty"`
	Variance   *float64 `json:"variance,omitempty"`
	TotalCount int      `json:"total_count,omitempty"`
}

func (d Distribution) deviation() float64 {
	switch {
	case d.Type == DistFixed:
		return 0
	case d.Variance != nil:
		return math.Sqrt(*d.Variance)
	case d.StdDev != 0:
		return d.StdDev
	}
	return d.Std
}

// SharedPrefix is inference-perf's prefix-cache workload: groups of questions behind a shared
// system prompt.
type SharedPrefix struct {
	NumGroups          int `json:"num_groups"`
	NumPromptsPerGroup int `json:"num_prompts_per_group"`
	SystemPromptLen    int `json:"system_prompt_len"`
	QuestionLen        int `json:"question_len"`
	OutputLen          int `json:"output_len"`
	// Seed, when set, seeds the prompts instead of the run's seed.
	Seed *int64 `json:"seed,omitempty"`
}

// Report selects the files written.
type Report struct {
	RequestLifecycle struct {
		Summary    *bool `json:"summary,omitempty"`
		PerStage   *bool `json:"per_stage,omitempty"`
		PerRequest bool  `json:"per_request,omitempty"`
		// PerAdapter (default true) and PerAdapterStage (default false) write
		// adapter_<name>_lifecycle_metrics.json and adapter_<name>_stage_<N>_lifecycle_metrics.json
		// when load.lora_traffic_split is set.
		PerAdapter      *bool `json:"per_adapter,omitempty"`
		PerAdapterStage *bool `json:"per_adapter_stage,omitempty"`
		// MaxErrorMessages caps the distinct messages kept per failure label (default 100).
		MaxErrorMessages *int `json:"max_error_messages,omitempty"`
	} `json:"request_lifecycle"`
}

// WantSummary and WantPerStage default to true, as in inference-perf.
func (r Report) WantSummary() bool {
	return r.RequestLifecycle.Summary == nil || *r.RequestLifecycle.Summary
}

// WantPerStage reports whether stage_N files are written.
func (r Report) WantPerStage() bool {
	return r.RequestLifecycle.PerStage == nil || *r.RequestLifecycle.PerStage
}

// WantPerAdapter reports whether adapter_<name> files are written (inference-perf's default: true).
func (r Report) WantPerAdapter() bool {
	return r.RequestLifecycle.PerAdapter == nil || *r.RequestLifecycle.PerAdapter
}

// WantPerAdapterStage reports whether adapter_<name>_stage_<N> files are written (default false).
func (r Report) WantPerAdapterStage() bool {
	return r.RequestLifecycle.PerAdapterStage != nil && *r.RequestLifecycle.PerAdapterStage
}

// maxErrorMessages is inference-perf's cap on distinct messages per failure label.
func (r Report) maxErrorMessages() int {
	if m := r.RequestLifecycle.MaxErrorMessages; m != nil {
		return *m
	}
	return 100
}

// typeError says which key holds a value of the wrong type, in the profile's terms (encoding/json
// names its Go struct field and type otherwise). The key path has no list index: encoding/json
// does not keep it.
func typeError(err error) error {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Field == "" {
		return fmt.Errorf("workload has a value of the wrong type: %w", err)
	}
	want := "text"
	switch te.Type.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want = "a whole number"
	case reflect.Float32, reflect.Float64:
		want = "a number (seconds, rates and shares are plain numbers, without quotes or units)"
	case reflect.Bool:
		want = "true or false"
	case reflect.Slice, reflect.Array:
		want = "a list"
	case reflect.Struct, reflect.Map:
		want = "a mapping"
	}
	got := te.Value
	switch got {
	case "string":
		got = "text"
	case "number":
		got = "a number with a fraction"
	}
	return fmt.Errorf("%s holds %s where the profile needs %s", te.Field, got, want)
}

// DecodeWorkload reads an inference-perf workload profile and fills inference-perf's defaults,
// without validating its values (overrides may still complete it). Every key is checked first:
// a key the native generator does not implement, or that inference-perf does not know, is
// refused in one line naming its dotted path (see profileKeys); nothing is silently ignored.
func DecodeWorkload(data []byte) (*Workload, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("workload is not valid YAML: %w", err)
	}
	if err := auditKeys(doc); err != nil {
		return nil, err
	}
	if err := normalizeAliases(doc); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("workload: %w", err)
	}
	var w Workload
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, typeError(err)
	}
	if w.API.Type == "" {
		w.API.Type = APICompletion
	}
	if w.Load.Type == "" {
		w.Load.Type = LoadConstant
	}
	if sw := w.Load.Sweep; sw != nil {
		// inference-perf's SweepConfig defaults; only `type` is required.
		sweepDefaults(sw, doc)
	}
	return &w, nil
}

// sweepDefaults fills the keys a load.sweep block leaves out with inference-perf's defaults.
func sweepDefaults(sw *Sweep, doc map[string]any) {
	load, _ := doc["load"].(map[string]any)
	given, _ := load["sweep"].(map[string]any)
	def := func(key string, set func()) {
		if v, ok := given[key]; !ok || v == nil {
			set()
		}
	}
	def("num_requests", func() { sw.NumRequests = 2000 })
	def("timeout", func() { sw.Timeout = 60 })
	def("num_stages", func() { sw.NumStages = 5 })
	def("stage_duration", func() { sw.StageDuration = 180 })
	def("saturation_percentile", func() { sw.SaturationPercentile = 95 })
}

// ParseWorkload decodes and validates a workload profile.
func ParseWorkload(data []byte) (*Workload, error) {
	w, err := DecodeWorkload(data)
	if err != nil {
		return nil, err
	}
	return w, w.Validate()
}

// IntervalSeconds is the pause between stages.
func (l Load) IntervalSeconds() float64 {
	if l.Interval == nil {
		return 1
	}
	return *l.Interval
}

// ErrBaseURL: the profile's server.base_url is not an http(s) URL with a host.
var ErrBaseURL = errors.New("not an http(s) URL")

// Validate checks everything the generator relies on, with one actionable line per problem:
// the rules inference-perf applies at start (a concurrent stage needs num_requests and
// concurrency_level, sweep is refused with a concurrent load, LoRA splits sum to 1), and what
// the native generator can do.
func (w *Workload) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch w.Load.Type {
	case LoadConstant, LoadPoisson, LoadConcurrent:
	default:
		bad("load.type %q is not supported by the native generator: use constant, poisson or concurrent", w.Load.Type)
	}
	switch {
	case w.Load.Sweep != nil && w.Load.Type == LoadConcurrent:
		bad("load.sweep cannot be used with a concurrent load (inference-perf refuses it too): remove load.sweep or use a constant or poisson load")
	case w.Load.Sweep != nil && len(w.Load.Stages) > 0:
		bad("load.stages and load.sweep are both set: the sweep would replace the stages; remove one of them")
	case w.Load.FindMax != nil && w.Load.Sweep != nil:
		bad("load.find_max and load.sweep are both set: each chooses the stages; remove one of them")
	case w.Load.FindMax != nil && len(w.Load.Stages) > 0:
		bad("load.stages and load.find_max are both set: the capacity search's probes would replace the stages; remove one of them")
	case w.Load.FindMax != nil:
		if _, err := NewSearch(*w.Load.FindMax, w.Load.Type, 0); err != nil {
			errs = append(errs, err)
		}
	case w.Load.Sweep != nil:
		w.Load.Sweep.validate(bad)
	case len(w.Load.Stages) == 0:
		bad("load.stages is empty: add at least one stage (rate+duration, or num_requests+concurrency_level) or a load.sweep")
	}
	for i, s := range w.Load.Stages {
		if w.Load.Type == LoadConcurrent {
			if s.NumRequests < 1 || s.ConcurrencyLevel < 1 {
				bad("load.stages[%d]: a concurrent stage needs num_requests >= 1 and concurrency_level >= 1", i)
			} else if s.Rate != 0 || s.Duration != 0 {
				bad("load.stages[%d]: a concurrent stage takes num_requests and concurrency_level, not rate or duration: remove them", i)
			}
			continue
		}
		if s.Rate <= 0 || s.Duration <= 0 {
			bad("load.stages[%d]: a %s stage needs rate > 0 and duration > 0 (seconds)", i, w.Load.Type)
		} else if s.NumRequests != 0 || s.ConcurrencyLevel != 0 {
			bad("load.stages[%d]: a %s stage takes rate and duration, not num_requests or concurrency_level (inference-perf refuses them too): remove them", i, w.Load.Type)
		}
	}
	if w.Load.IntervalSeconds() < 0 || w.Load.RequestTimeout < 0 {
		bad("load.interval and load.request_timeout must not be negative")
	}
	for name, v := range map[string]*int{"num_workers": w.Load.NumWorkers, "worker_max_concurrency": w.Load.WorkerMaxConcurrency, "worker_max_tcp_connections": w.Load.WorkerMaxTCPConnections} {
		if v != nil && *v < 1 {
			bad("load.%s must be at least 1 (got %d)", name, *v)
		}
	}
	if split := w.Load.LoRATrafficSplit; split != nil {
		validateSplit(split, bad)
	}
	switch w.API.Type {
	case APICompletion, APIChat:
	default:
		bad("api.type %q is not supported by the native generator: use completion or chat", w.API.Type)
	}
	switch w.Server.Type {
	case "", "vllm", "sglang", "tgi": // inference-perf speaks the OpenAI API to all three
	default:
		bad("server.type %q is not supported by the native generator: use vllm, sglang or tgi (any OpenAI-compatible server)", w.Server.Type)
	}
	if w.Server.ModelName == "" {
		bad("server.model_name is empty: set the model the server serves")
	}
	if u, err := url.Parse(w.Server.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("server.base_url %q is %w: set it to the server's address", w.Server.BaseURL, ErrBaseURL)
	}
	switch w.Data.Type {
	case DataRandom:
		for _, d := range []struct {
			name string
			d    *Distribution
		}{{"input_distribution", w.Data.InputDistribution}, {"output_distribution", w.Data.OutputDistribution}} {
			if d.d == nil {
				bad("data.%s is missing: random data needs min, max, mean (and std)", d.name)
				continue
			}
			d.d.validate("data."+d.name, bad)
		}
	case DataSharedPrefix:
		p := w.Data.SharedPrefix
		if p == nil || p.NumGroups < 1 || p.NumPromptsPerGroup < 1 || p.QuestionLen < 1 || p.OutputLen < 1 || p.SystemPromptLen < 0 {
			bad("data.shared_prefix needs num_groups, num_prompts_per_group, question_len and output_len >= 1")
		}
	default:
		bad("data.type %q is not supported by the native generator: use random or shared_prefix (no dataset can be downloaded)", w.Data.Type)
	}
	if sm := w.ServerMetrics; sm != nil {
		sm.validate(bad)
	}
	if m := w.Report.RequestLifecycle.MaxErrorMessages; m != nil && *m < 0 {
		bad("report.request_lifecycle.max_error_messages must not be negative (got %d)", *m)
	}
	if len(errs) > 0 {
		return errs[0] // one actionable line; fixing it reveals the next
	}
	return nil
}

func (d *Distribution) validate(at string, bad func(string, ...any)) {
	switch {
	case d.Type != "" && d.Type != DistNormal && d.Type != DistFixed:
		bad("%s.type %q is not supported by the native generator: use normal or fixed", at, d.Type)
	case d.Variance != nil && d.StdDev > 0:
		bad("%s: give std_dev or variance, not both", at)
	case d.Variance != nil && *d.Variance < 0:
		bad("%s.variance must not be negative", at)
	case d.Type == DistFixed && int(d.Mean) < 1:
		bad("%s: a fixed distribution needs mean >= 1 (got %g)", at, d.Mean)
	case d.Type == DistFixed:
	case d.Min < 1 || d.Max < d.Min || d.Mean < float64(d.Min) || d.Mean > float64(d.Max) || d.deviation() < 0 || d.Std < 0 || d.StdDev < 0:
		bad("%s: need 1 <= min <= mean <= max and std >= 0 (got min %d, mean %g, max %d)", at, d.Min, d.Mean, d.Max)
	}
}

func (sm *ServerMetrics) validate(bad func(string, ...any)) {
	if !(sm.IntervalSeconds > 0) || math.IsInf(sm.IntervalSeconds, 0) {
		bad("server_metrics.interval_seconds must be more than 0 seconds (got %g)", sm.IntervalSeconds)
		return
	}
	if err := scrape.CheckTargets(sm.Targets); err != nil {
		bad("server_metrics.targets: %w", err)
		return
	}
	for i, t := range sm.Targets {
		if u, err := url.Parse(t.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("server_metrics.targets[%d].url %q is %w: give the pod's metrics URL, e.g. http://10.0.0.5:8000/metrics", i, t.URL, ErrBaseURL)
			return
		}
	}
}

func (sw *Sweep) validate(bad func(string, ...any)) {
	switch {
	case sw.Type != SweepLinear && sw.Type != SweepGeometric:
		bad("load.sweep.type %q is not a sweep type: use linear or geometric", sw.Type)
	case sw.NumRequests < 1:
		bad("load.sweep.num_requests must be at least 1 (got %d)", sw.NumRequests)
	case sw.Timeout <= 0:
		bad("load.sweep.timeout must be more than 0 seconds (got %g)", sw.Timeout)
	case sw.NumStages < 1:
		bad("load.sweep.num_stages must be at least 1 (got %d)", sw.NumStages)
	case sw.StageDuration <= 0:
		bad("load.sweep.stage_duration must be more than 0 seconds (got %g)", sw.StageDuration)
	case sw.SaturationPercentile < 0 || sw.SaturationPercentile > 100:
		bad("load.sweep.saturation_percentile must be within 0..100 (got %g)", sw.SaturationPercentile)
	}
}

// validateSplit applies inference-perf's rule: the splits, added in order as Python's sum()
// adds them, must equal 1.0 exactly (so 0.5+0.5 and 0.1+0.2+0.7 pass, 0.7+0.2+0.1 = 0.9999999999999999 does not); names are
// the adapters' model IDs.
func validateSplit(split []LoRASplit, bad func(string, ...any)) {
	if len(split) == 0 {
		bad("load.lora_traffic_split is empty: list at least one adapter with its split, or remove the key")
		return
	}
	seen := map[string]bool{}
	total := 0.0
	for i, s := range split {
		switch {
		case s.Name == "":
			bad("load.lora_traffic_split[%d].name is empty: give the adapter's model ID", i)
		case seen[s.Name]:
			bad("load.lora_traffic_split[%d]: adapter %q is listed twice", i, s.Name)
		case s.Split < 0 || math.IsNaN(s.Split):
			bad("load.lora_traffic_split[%d].split must not be negative (got %g)", i, s.Split)
		}
		seen[s.Name] = true
		total += s.Split
	}
	if total != 1.0 {
		bad("load.lora_traffic_split: the splits add up to %v, not 1 (inference-perf refuses it too)", total)
	}
}

// SetBaseURL points the workload at another endpoint (a port-forward, say).
func (w *Workload) SetBaseURL(u string) { w.Server.BaseURL = strings.TrimRight(u, "/") }
