// Package loadgen is the plugin's native load generator. It reads the inference-perf workload
// YAML the presets carry, sends open-loop load to an OpenAI-compatible server, and writes the
// files inference-perf writes (plus a benchmark report v0.2 per stage) so every reader of those
// files works unchanged.
package loadgen

import (
	"fmt"
	"net/url"
	"strings"

	"sigs.k8s.io/yaml"
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
)

// Workload is the subset of inference-perf's config the generator honours. Field names and
// meanings are inference-perf's, so a profile written for it runs here unchanged.
type Workload struct {
	Load   Load   `json:"load"`
	API    API    `json:"api"`
	Server Server `json:"server"`
	Data   Data   `json:"data"`
	Report Report `json:"report"`
}

// Load says when requests are sent.
type Load struct {
	Type string `json:"type"`
	// Interval is the pause between stages, seconds (inference-perf's default is 1).
	Interval *float64 `json:"interval,omitempty"`
	Stages   []Stage  `json:"stages"`
	// RequestTimeout bounds each request, seconds; 0 means none.
	RequestTimeout float64 `json:"request_timeout,omitempty"`
	BaseSeed       int64   `json:"base_seed,omitempty"`
}

// Stage is one load level: rate+duration (constant, poisson) or num_requests+concurrency_level
// (concurrent).
type Stage struct {
	Rate             float64 `json:"rate,omitempty"`
	Duration         float64 `json:"duration,omitempty"`
	NumRequests      int     `json:"num_requests,omitempty"`
	ConcurrencyLevel int     `json:"concurrency_level,omitempty"`
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
// and `std_dev` in newer ones; both are accepted.
type Distribution struct {
	Min        int     `json:"min"`
	Max        int     `json:"max"`
	Mean       float64 `json:"mean"`
	Std        float64 `json:"std,omitempty"`
	StdDev     float64 `json:"std_dev,omitempty"`
	TotalCount int     `json:"total_count,omitempty"`
}

func (d Distribution) deviation() float64 {
	if d.StdDev != 0 {
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
}

// Report selects the files written.
type Report struct {
	RequestLifecycle struct {
		Summary    *bool `json:"summary,omitempty"`
		PerStage   *bool `json:"per_stage,omitempty"`
		PerRequest bool  `json:"per_request,omitempty"`
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

// DecodeWorkload reads an inference-perf workload profile and fills inference-perf's defaults,
// without validating it (overrides may still complete it). Unknown sections (tokenizer, storage,
// metrics …) are ignored: they configure things the native generator does not need.
func DecodeWorkload(data []byte) (*Workload, error) {
	var w Workload
	if err := yaml.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("workload is not valid YAML: %w", err)
	}
	if w.API.Type == "" {
		w.API.Type = APICompletion
	}
	if w.Load.Type == "" {
		w.Load.Type = LoadConstant
	}
	return &w, nil
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

// Validate checks everything the generator relies on, with one actionable line per problem.
func (w *Workload) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch w.Load.Type {
	case LoadConstant, LoadPoisson, LoadConcurrent:
	default:
		bad("load.type %q is not supported by the native generator: use constant, poisson or concurrent", w.Load.Type)
	}
	if len(w.Load.Stages) == 0 {
		bad("load.stages is empty: add at least one stage (rate+duration, or num_requests+concurrency_level)")
	}
	for i, s := range w.Load.Stages {
		if w.Load.Type == LoadConcurrent {
			if s.NumRequests < 1 || s.ConcurrencyLevel < 1 {
				bad("load.stages[%d]: a concurrent stage needs num_requests >= 1 and concurrency_level >= 1", i)
			}
			continue
		}
		if s.Rate <= 0 || s.Duration <= 0 {
			bad("load.stages[%d]: a %s stage needs rate > 0 and duration > 0 (seconds)", i, w.Load.Type)
		}
	}
	if w.Load.IntervalSeconds() < 0 || w.Load.RequestTimeout < 0 {
		bad("load.interval and load.request_timeout must not be negative")
	}
	switch w.API.Type {
	case APICompletion, APIChat:
	default:
		bad("api.type %q is not supported by the native generator: use completion or chat", w.API.Type)
	}
	if w.Server.ModelName == "" {
		bad("server.model_name is empty: set the model the server serves")
	}
	if u, err := url.Parse(w.Server.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("server.base_url %q is not an http(s) URL: set it or pass --base-url", w.Server.BaseURL)
	}
	switch w.Data.Type {
	case DataRandom:
		for name, d := range map[string]*Distribution{"input_distribution": w.Data.InputDistribution, "output_distribution": w.Data.OutputDistribution} {
			if d == nil {
				bad("data.%s is missing: random data needs min, max, mean (and std)", name)
				continue
			}
			if d.Min < 1 || d.Max < d.Min || d.Mean < float64(d.Min) || d.Mean > float64(d.Max) || d.deviation() < 0 {
				bad("data.%s: need 1 <= min <= mean <= max and std >= 0 (got min %d, mean %g, max %d)", name, d.Min, d.Mean, d.Max)
			}
		}
	case DataSharedPrefix:
		p := w.Data.SharedPrefix
		if p == nil || p.NumGroups < 1 || p.NumPromptsPerGroup < 1 || p.QuestionLen < 1 || p.OutputLen < 1 || p.SystemPromptLen < 0 {
			bad("data.shared_prefix needs num_groups, num_prompts_per_group, question_len and output_len >= 1")
		}
	default:
		bad("data.type %q is not supported by the native generator: use random or shared_prefix (no dataset can be downloaded)", w.Data.Type)
	}
	if len(errs) > 0 {
		return errs[0] // one actionable line; fixing it reveals the next
	}
	return nil
}

// SetBaseURL points the workload at another endpoint (a port-forward, say).
func (w *Workload) SetBaseURL(u string) { w.Server.BaseURL = strings.TrimRight(u, "/") }
