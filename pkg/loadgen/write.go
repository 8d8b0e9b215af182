package loadgen

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// Tool is the name the generator reports as its harness.
const Tool = "llmdbench"

// Files the generator writes, named as inference-perf and llm-d-benchmark name them.
const (
	SummaryFile    = "summary_lifecycle_metrics.json"
	PerRequestFile = "per_request_lifecycle_metrics.json"
	ConfigFile     = "config.yaml"
)

// StageFile is stage N's inference-perf lifecycle file.
func StageFile(n int) string { return fmt.Sprintf("stage_%d_lifecycle_metrics.json", n) }

// ReportFile is stage N's benchmark report v0.2, named as llm-d-benchmark names its conversion.
func ReportFile(n int) string { return "benchmark_report_v0.2,_" + StageFile(n) + ".yaml" }

// Meta describes the run for the benchmark reports.
type Meta struct {
	ToolVersion  string
	ExperimentID string
	Description  string
	Keywords     []string
}

// Write puts the result files into dir (created if needed) and returns their names; a run with
// Options.Launcher also gets runstate.LaunchFile, a load.find_max run results.CapacityFile (and
// a capacity section in each stage's benchmark report, see addCapacitySection). When dir already
// holds a scraper's results.ServerMetricsFile, each stage's benchmark report gets that stage's
// server metrics (addObservabilitySection). A series that cannot be read does not keep the
// client's results from being written: every file is written, the reports without server
// metrics, and then the series' error is returned (wrapped, naming its file and line).
func Write(dir string, r *Result, m Meta) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var written []string
	put := func(name string, data []byte) error {
		written = append(written, name)
		return os.WriteFile(filepath.Join(dir, name), data, 0o644)
	}
	w := r.Workload
	config, err := yaml.Marshal(w)
	if err != nil {
		return nil, err
	}
	if err := put(ConfigFile, config); err != nil {
		return nil, err
	}
	cfgID := sha256.Sum256(config)
	series, seriesErr := results.ReadServerSeries(dir)
	servers := map[int]results.ServerStageMetrics{}
	for _, sm := range results.ServerStages(series) {
		servers[sm.Stage] = sm
	}
	maxMsgs := w.Report.maxErrorMessages()
	var whole *summary // the run's summary: one stage's is the run's
	for _, st := range r.Stages {
		s := summarize(st.Records, maxMsgs)
		if len(r.Stages) == 1 {
			whole = s
		}
		info := &stageInfo{}
		if w.Load.Type == LoadConcurrent {
			info.concurrency = &st.Config.ConcurrencyLevel
		} else {
			info.requestedRate = &st.Config.Rate
		}
		if w.Report.WantPerStage() {
			data, err := json.MarshalIndent(s.lifecycle(info), "", "  ")
			if err != nil {
				return nil, err
			}
			if err := put(StageFile(st.Index), data); err != nil {
				return nil, err
			}
		}
		report := benchmarkReport(w, st, s, m, hex.EncodeToString(cfgID[:16]))
		if r.Capacity != nil {
			addCapacitySection(report, r.Capacity, st.Index)
		}
		if sm, ok := servers[st.Index]; ok {
			addObservabilitySection(report, sm)
		}
		br, err := yaml.Marshal(report)
		if err != nil {
			return nil, err
		}
		if err := put(ReportFile(st.Index), br); err != nil {
			return nil, err
		}
	}
	if w.Report.WantSummary() {
		if whole == nil {
			whole = summarize(r.Records(), maxMsgs)
		}
		data, err := json.MarshalIndent(whole.lifecycle(nil), "", "  ")
		if err != nil {
			return nil, err
		}
		if err := put(SummaryFile, data); err != nil {
			return nil, err
		}
	}
	if len(w.Load.LoRATrafficSplit) > 0 {
		if err := writeAdapterFiles(r, maxMsgs, put); err != nil {
			return nil, err
		}
	}
	if r.Capacity != nil {
		data, err := json.MarshalIndent(r.Capacity, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := put(results.CapacityFile, append(data, '\n')); err != nil {
			return nil, err
		}
	}
	if r.Launch != nil {
		written = append(written, runstate.LaunchFile)
		if err := runstate.WriteLaunch(dir, *r.Launch); err != nil {
			return nil, err
		}
	}
	if w.Report.RequestLifecycle.PerRequest {
		written = append(written, PerRequestFile)
		if err := writePerRequest(filepath.Join(dir, PerRequestFile), r); err != nil {
			return nil, err
		}
	}
	if seriesErr != nil {
		return written, fmt.Errorf("benchmark reports written without server metrics: %w", seriesErr)
	}
	return written, nil
}

// writeAdapterFiles writes inference-perf's per-adapter lifecycle files: over the whole run
// (report.request_lifecycle.per_adapter) and per stage (per_adapter_stage), each of the same
// shape as the summary (the stage ones with the stage's send_duration, requested and achieved
// rate, as inference-perf's), computed over that adapter's requests only. An adapter that got no
// request has no file, as in inference-perf.
func writeAdapterFiles(r *Result, maxMsgs int, put func(string, []byte) error) error {
	w := r.Workload
	type bucket struct{ recs []Record }
	whole := map[string]*bucket{}
	var order []string
	for _, st := range r.Stages {
		if st.Adapters == nil {
			continue
		}
		perStage := map[string]*bucket{}
		var stageOrder []string
		for i := range st.Records {
			name := st.Adapters[i]
			if whole[name] == nil {
				whole[name] = &bucket{}
				order = append(order, name)
			}
			whole[name].recs = append(whole[name].recs, st.Records[i])
			if perStage[name] == nil {
				perStage[name] = &bucket{}
				stageOrder = append(stageOrder, name)
			}
			perStage[name].recs = append(perStage[name].recs, st.Records[i])
		}
		if !w.Report.WantPerAdapterStage() {
			continue
		}
		info := &stageInfo{}
		if w.Load.Type != LoadConcurrent {
			info.requestedRate = &st.Config.Rate
		}
		for _, name := range stageOrder {
			data, err := json.MarshalIndent(summarize(perStage[name].recs, maxMsgs).lifecycle(info), "", "  ")
			if err != nil {
				return err
			}
			if err := put(AdapterStageFile(name, st.Index), data); err != nil {
				return err
			}
		}
	}
	if !w.Report.WantPerAdapter() {
		return nil
	}
	for _, name := range order {
		data, err := json.MarshalIndent(summarize(whole[name].recs, maxMsgs).lifecycle(nil), "", "  ")
		if err != nil {
			return err
		}
		if err := put(AdapterFile(name), data); err != nil {
			return err
		}
	}
	return nil
}

// writePerRequest streams the per-request file in inference-perf's v0.6 layout, one record at a
// time, so its size never sits in memory twice.
func writePerRequest(path string, r *Result) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	b := bufio.NewWriterSize(f, 1<<20)
	b.WriteString("[")
	first := true
	for _, st := range r.Stages {
		for i := range st.Records {
			rec := &st.Records[i]
			var adapter *string
			if st.Adapters != nil {
				adapter = &st.Adapters[i]
			}
			data, err := json.Marshal(perRequestRecord(rec, adapter))
			if err != nil {
				return err
			}
			if !first {
				b.WriteString(",")
			}
			first = false
			b.WriteString("\n  ")
			b.Write(data)
		}
	}
	b.WriteString("\n]\n")
	return b.Flush()
}

// perRequestRecord is one request in inference-perf's per-request layout; adapter is the LoRA
// adapter it was sent to (null without a split).
func perRequestRecord(rec *Record, adapter *string) ordered {
	var e any
	if rec.Err != nil {
		e = ordered{{"error_type", rec.Err.label()}, {"error_msg", rec.Err.Message}}
	}
	response := ordered{{"output_tokens", rec.OutputTokens}}
	if rec.ServerUsage {
		// inference-perf writes the server's usage block as it came; the reasoning tokens sit
		// where OpenAI-compatible servers put them.
		usage := ordered{
			{"prompt_tokens", rec.InputTokens}, {"completion_tokens", rec.OutputTokens},
			{"total_tokens", rec.InputTokens + rec.OutputTokens},
		}
		if rec.CachedTokens != nil {
			// Absent when the server did not say, as inference-perf writes it: never a 0.
			usage = append(usage, field{"prompt_tokens_details", ordered{{"cached_tokens", *rec.CachedTokens}}})
		}
		if rec.ReasoningTokens != nil {
			usage = append(usage, field{"completion_tokens_details", ordered{{"reasoning_tokens", *rec.ReasoningTokens}}})
		}
		response = append(response, field{"server_usage", usage})
	}
	if rec.ChunkTimes != nil {
		response = append(response, field{"chunk_times", rec.ChunkTimes}, field{"output_token_times", rec.ChunkTimes})
	}
	return ordered{
		{"start_time", rec.Start},
		{"end_time", rec.End},
		{"request", string(rec.Request)},
		{"response", string(rec.Response)},
		{"info", ordered{
			{"request_metrics", ordered{{"text", ordered{{"input_tokens", rec.InputTokens}}}}},
			{"response_metrics", response},
			{"extra_info", ordered{{"stage_id", rec.Stage}, {"scheduled_time", rec.Scheduled}}},
			{"lora_adapter", adapter},
			{"labels", ordered{}},
			{"input_tokens", rec.InputTokens},
		}},
		{"error", e},
	}
}

// statistics renders a distribution as a benchmark report Statistics block.
func (d dist) statistics(units string) map[string]any {
	if len(d) == 0 {
		return nil
	}
	st := map[string]any{"units": units, "mean": d.mean(), "stddev": d.stddev(), "min": d[0], "max": d[len(d)-1]}
	for _, p := range []struct {
		key string
		p   float64
	}{{"p0p1", 0.1}, {"p1", 1}, {"p5", 5}, {"p10", 10}, {"p25", 25}, {"p50", 50}, {"p75", 75}, {"p90", 90}, {"p95", 95}, {"p99", 99}, {"p99p9", 99.9}} {
		st[p.key] = d.percentile(p.p)
	}
	return st
}

// rate is a benchmark report Rates block; nil (left out) when v was not measured.
func rate(units string, v *float64) map[string]any {
	if v == nil {
		return nil
	}
	return map[string]any{"units": units, "mean": *v}
}

func putIfAny(m map[string]any, key string, v map[string]any) {
	if v != nil {
		m[key] = v
	}
}

// benchmarkReport is one stage as a benchmark report v0.2 (llm-d-benchmark's common format).
func benchmarkReport(w *Workload, st StageResult, s *summary, m Meta, cfgID string) map[string]any {
	uid := make([]byte, 16)
	_, _ = rand.Read(uid)
	eid := sha256.Sum256([]byte(m.ExperimentID))
	run := map[string]any{
		"uid": hex.EncodeToString(uid),
		"eid": hex.EncodeToString(eid[:16]),
		"time": map[string]any{
			"start":    st.Started.UTC().Format(time.RFC3339Nano),
			"end":      st.Finished.UTC().Format(time.RFC3339Nano),
			"duration": fmt.Sprintf("PT%gS", st.Finished.Sub(st.Started).Seconds()),
		},
	}
	if m.Description != "" {
		run["description"] = m.Description
	}
	if len(m.Keywords) > 0 {
		run["keywords"] = m.Keywords
	}
	std := map[string]any{
		"tool":         Tool,
		"tool_version": m.ToolVersion,
		"source":       "random",
		"stage":        st.Index,
	}
	switch w.Data.Type {
	case DataRandom:
		std["input_seq_len"] = seqLen(*w.Data.InputDistribution)
		std["output_seq_len"] = seqLen(*w.Data.OutputDistribution)
	case DataSharedPrefix:
		sp := w.Data.SharedPrefix
		std["input_seq_len"] = map[string]any{"distribution": "fixed", "value": sp.SystemPromptLen + sp.QuestionLen}
		std["output_seq_len"] = map[string]any{"distribution": "fixed", "value": sp.OutputLen}
		if sp.SystemPromptLen > 0 {
			std["prefix"] = map[string]any{
				"prefix_len":          map[string]any{"distribution": "fixed", "value": sp.SystemPromptLen},
				"num_groups":          sp.NumGroups,
				"num_users_per_group": sp.NumPromptsPerGroup,
				"num_prefixes":        1,
			}
		}
	}
	if w.Load.Type == LoadConcurrent {
		std["concurrency"] = st.Config.ConcurrencyLevel
	} else {
		std["rate_qps"] = st.Config.Rate
	}
	requests := map[string]any{"total": s.count, "failures": s.failures}
	putIfAny(requests, "input_length", s.inputLen.statistics("count"))
	putIfAny(requests, "output_length", s.outputLen.statistics("count"))
	latency := map[string]any{}
	putIfAny(latency, "time_to_first_token", s.ttft.statistics("s"))
	putIfAny(latency, "normalized_time_per_output_token", s.ntpot.statistics("s/token"))
	putIfAny(latency, "time_per_output_token", s.tpot.statistics("s/token"))
	putIfAny(latency, "inter_token_latency", s.itl.statistics("s/token"))
	putIfAny(latency, "request_latency", s.latency.statistics("s"))
	// Rates over no elapsed time were not measured: left out (null), never 0.
	throughput := map[string]any{}
	putIfAny(throughput, "input_token_rate", rate("tokens/s", s.perSecond(float64(s.inputTotal))))
	putIfAny(throughput, "output_token_rate", rate("tokens/s", s.perSecond(float64(s.outputTotal))))
	putIfAny(throughput, "total_token_rate", rate("tokens/s", s.perSecond(float64(s.inputTotal+s.outputTotal))))
	putIfAny(throughput, "request_rate", rate("queries/s", s.perSecond(float64(s.successes))))
	return map[string]any{
		"version": "0.2",
		"run":     run,
		"scenario": map[string]any{"load": map[string]any{
			"metadata":     map[string]any{"schema_version": "0.0.1", "cfg_id": cfgID},
			"standardized": std,
			"native":       map[string]any{"config": w},
		}},
		"results": map[string]any{"request_performance": map[string]any{"aggregate": map[string]any{
			"requests":   requests,
			"latency":    latency,
			"throughput": throughput,
		}}},
	}
}

func seqLen(d Distribution) map[string]any {
	if d.deviation() == 0 {
		return map[string]any{"distribution": "fixed", "value": d.Mean}
	}
	return map[string]any{"distribution": "gaussian", "value": d.Mean, "std_dev": d.deviation(), "min": d.Min, "max": d.Max}
}

// addCapacitySection puts the capacity search into a stage's benchmark report, under
// results.profiling (the report's one free-form block, "Profiling results" in schema v0.2):
//
//	capacity_search: {by, units, slos: [spec…], answer, passing, failing, stop, probes,
//	                  probe: {level, pass, saturated, repeat, verdicts: [{slo, value, pass}]}}
//
// probe is this stage's own probe; passing/failing are null when not found, values null when
// not measured.
func addCapacitySection(report map[string]any, c *results.Capacity, stage int) {
	specs := make([]string, len(c.SLOs))
	for i, s := range c.SLOs {
		specs[i] = s.Spec
	}
	section := map[string]any{
		"by": c.By, "units": c.Units, "slos": specs, "answer": c.Answer,
		"passing": c.Passing, "failing": c.Failing, "stop": c.Stop, "probes": len(c.Probes),
	}
	for _, p := range c.Probes {
		if p.Stage != stage {
			continue
		}
		verdicts := make([]map[string]any, len(p.Verdicts))
		for i, v := range p.Verdicts {
			verdicts[i] = map[string]any{"slo": specs[i], "value": v.Value, "pass": v.Pass}
		}
		section["probe"] = map[string]any{"level": p.Level, "pass": p.Pass, "saturated": p.Saturated, "repeat": p.Repeat,
			"achieved_rate": p.Achieved, "goodput": p.Goodput, "verdicts": verdicts}
	}
	res, _ := report["results"].(map[string]any)
	if res == nil {
		return
	}
	res["profiling"] = map[string]any{"capacity_search": section}
}
