package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

const profile = `
load:
  type: constant
  interval: 0.1
  stages:
  - {rate: 20, duration: 1}
  - {rate: 40, duration: 1}
api: {type: completion, streaming: true}
server: {type: vllm, model_name: m, base_url: %s, ignore_eos: true}
tokenizer: {pretrained_model_name_or_path: m}
data:
  type: random
  input_distribution: {min: 10, max: 30, mean: 20, std: 5, total_count: 10}
  output_distribution: {min: 4, max: 4, mean: 4, std: 0, total_count: 10}
report:
  request_lifecycle: {summary: true, per_stage: true, per_request: true}
`

// sseServer streams max_tokens one-word chunks after ttft, itl apart, like vLLM; every fail-th
// request gets a 429 the way the simulator's failure injection answers.
func sseServer(t *testing.T, ttft, itl time.Duration, fail int64) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body requestBody
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.URL.Path != "/v1/completions" {
			http.Error(w, `{"error":{"message":"bad","type":"BadRequestError"}}`, http.StatusBadRequest)
			return
		}
		if i := n.Add(1); fail > 0 && i%fail == 0 {
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":{"message":"Rate limit reached","type":"TooManyRequestsError","param":null,"code":429}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		time.Sleep(ttft)
		for i := range body.MaxTokens {
			if i > 0 {
				time.Sleep(itl)
			}
			fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"finish_reason\":null,\"text\":\"w\\\"%d \"}],\"usage\":null}\n\n", i)
			fl.Flush()
		}
		fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"finish_reason\":\"length\",\"text\":\"\"}]}\n\n")
		words := len(strings.Fields(body.Prompt))
		fmt.Fprintf(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"prompt_tokens_details\":{\"cached_tokens\":3}}}\n\ndata: [DONE]\n\n", words, body.MaxTokens)
		fl.Flush()
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// transports runs a test over the generator's event loop and over net/http.
func transports(t *testing.T, test func(t *testing.T, o Options)) {
	t.Run("evloop", func(t *testing.T) { test(t, Options{}) })
	t.Run("net-http", func(t *testing.T) { test(t, Options{Client: newHTTPClient()}) })
}

func TestRunMeasuresAndWritesReadableFiles(t *testing.T) { transports(t, runMeasuresAndWrites) }

func runMeasuresAndWrites(t *testing.T, o Options) {
	srv, _ := sseServer(t, 30*time.Millisecond, 10*time.Millisecond, 10)
	w, err := ParseWorkload(fmt.Appendf(nil, profile, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	o.KeepBodies = true
	res, err := Run(context.Background(), w, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Stages) != 2 || len(res.Stages[0].Records) != 20 || len(res.Stages[1].Records) != 40 {
		t.Fatalf("stages/records: %d", len(res.Stages))
	}
	failed := 0
	for _, r := range res.Records() {
		if r.Err != nil {
			failed++
			if r.Err.label() != "429 - TooManyRequestsError" || r.Err.Message != "Rate limit reached" {
				t.Errorf("failure: %+v", r.Err)
			}
			continue
		}
		if r.OutputTokens != 4 || len(r.ChunkTimes) != 4 || !r.ServerUsage || r.CachedTokens == nil || *r.CachedTokens != 3 {
			t.Errorf("tokens %d chunks %d usage %v", r.OutputTokens, len(r.ChunkTimes), r.ServerUsage)
		}
		if r.InputTokens < 10 || r.InputTokens > 30 {
			t.Errorf("prompt of %d words, want 10..30", r.InputTokens)
		}
		if ttft := r.ChunkTimes[0] - r.Start; ttft < 0.03 || ttft > 0.2 {
			t.Errorf("ttft %.3f", ttft)
		}
		if !strings.HasPrefix(string(r.Response), `w"0 w"1 `) {
			t.Errorf("response text %q", r.Response)
		}
	}
	if failed != 6 {
		t.Errorf("%d failures, want 6 (every 10th of 60)", failed)
	}
	// Open loop: stage 1 sends at 40/s, 25 ms apart, regardless of the 60 ms responses.
	recs := res.Stages[1].Records
	if gap := recs[39].Scheduled - recs[0].Scheduled; math.Abs(gap-39.0/40) > 1e-9 {
		t.Errorf("schedule span %.4f, want %.4f", gap, 39.0/40)
	}

	dir := t.TempDir()
	files, err := Write(dir, res, Meta{ToolVersion: "v0.0.0-test", ExperimentID: "run_w"})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 7 { // config, 2 stage files, 2 reports, summary, per-request
		t.Errorf("files %v", files)
	}
	var summary map[string]any
	readJSON(t, filepath.Join(dir, SummaryFile), &summary)
	for _, k := range []string{"benchmark_time_seconds", "load_summary", "successes", "failures"} {
		if _, ok := summary[k]; !ok {
			t.Errorf("summary lacks %s", k)
		}
	}
	fails := summary["failures"].(map[string]any)
	if fails["count"].(float64) != 6 || fails["by_label"].(map[string]any)["429 - TooManyRequestsError"].(map[string]any)["count"].(float64) != 6 {
		t.Errorf("failures block %v", fails)
	}
	var perRequest []map[string]any
	readJSON(t, filepath.Join(dir, PerRequestFile), &perRequest)
	if len(perRequest) != 60 {
		t.Fatalf("per-request records %d", len(perRequest))
	}

	// Read back through the results package: the benchmark report and the stage files agree.
	report, err := results.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if report.Format != results.FormatBR02 || report.Harness != Tool || len(report.Stages) != 2 {
		t.Fatalf("report %s %s %d", report.Format, report.Harness, len(report.Stages))
	}
	for i, st := range report.Stages {
		s := summarize(res.Stages[i].Records, 100)
		if st.Requests.Succeeded != s.successes || st.Requests.Failed != s.failures {
			t.Errorf("stage %d counts %+v", i, st.Requests)
		}
		if got, want := *st.Latency.TTFT.P90, s.ttft.percentile(90); got != want {
			t.Errorf("stage %d ttft p90 %v != %v", i, got, want)
		}
		if *st.RequestedRate != res.Stages[i].Config.Rate {
			t.Errorf("stage %d rate %v", i, *st.RequestedRate)
		}
		var native map[string]any
		readJSON(t, filepath.Join(dir, StageFile(i)), &native)
		nttft := native["successes"].(map[string]any)["latency"].(map[string]any)["time_to_first_token"].(map[string]any)
		if a := native["load_summary"].(map[string]any)["achieved_rate"].(float64); st.AchievedRate == nil || a != *st.AchievedRate {
			t.Errorf("stage %d: achieved rate %v not taken from the stage file (%v)", i, st.AchievedRate, a)
		}
		if nttft["p90"].(float64) != *st.Latency.TTFT.P90 || nttft["median"].(float64) != *st.Latency.TTFT.P50 {
			t.Errorf("stage %d: stage file %v vs report %v", i, nttft["p90"], *st.Latency.TTFT.P90)
		}
	}
	validateReports(t, dir)
}

// The benchmark reports must satisfy llm-d-benchmark's published v0.2 JSON schema.
func validateReports(t *testing.T, dir string) {
	t.Helper()
	c := jsonschema.NewCompiler()
	schemaPath, _ := filepath.Abs("testdata/br_v0_2_json_schema.json")
	sch, err := c.Compile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	reports, _ := filepath.Glob(filepath.Join(dir, "benchmark_report_v0.2,_*.yaml"))
	if len(reports) == 0 {
		t.Fatal("no benchmark reports")
	}
	for _, p := range reports {
		raw, _ := os.ReadFile(p)
		js, err := yaml.YAMLToJSON(raw)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(js)))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(doc); err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
		}
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestConcurrentLoadKeepsTheLevel(t *testing.T) { transports(t, concurrentKeepsLevel) }

func concurrentKeepsLevel(t *testing.T, o Options) {
	var inflight, peak atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		inflight.Add(-1)
		fmt.Fprint(w, `{"choices":[{"text":"a b"}],"usage":{"prompt_tokens":7,"completion_tokens":2}}`)
	}))
	defer srv.Close()
	w, err := ParseWorkload([]byte(`
load: {type: concurrent, stages: [{num_requests: 30, concurrency_level: 3}]}
api: {type: completion, streaming: false}
server: {model_name: m, base_url: ` + srv.URL + `}
data: {type: shared_prefix, shared_prefix: {num_groups: 2, num_prompts_per_group: 3, system_prompt_len: 5, question_len: 2, output_len: 2}}
`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), w, o)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(res.Records()); got != 30 || peak.Load() != 3 {
		t.Fatalf("%d records, peak concurrency %d (want 30, 3)", got, peak.Load())
	}
	s := summarize(res.Records(), 100)
	if s.successes != 30 || s.outputTotal != 60 || s.inputTotal != 210 || len(s.ttft) != 0 {
		t.Errorf("summary: %d ok, %d out, %d in, %d ttft", s.successes, s.outputTotal, s.inputTotal, len(s.ttft))
	}
}

func TestChatStreamAndUnreachableServer(t *testing.T) { transports(t, chatStreamAndUnreachable) }

func chatStreamAndUnreachable(t *testing.T, o Options) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		// The role chunk carries no content and must not count as a token.
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n")
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n")
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\" there\"}}]}\n\ndata: [DONE]\n\n")
	}))
	defer srv.Close()
	base := `
load: {type: poisson, stages: [{rate: 50, duration: 0.2}]}
api: {type: chat, streaming: true}
server: {model_name: m, base_url: %s}
data: {type: random, input_distribution: {min: 3, max: 3, mean: 3}, output_distribution: {min: 2, max: 2, mean: 2}}
`
	w, err := ParseWorkload(fmt.Appendf(nil, base, srv.URL+"/v1"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), w, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Records() {
		// No usage block: the counts fall back to the prompt's words and the content chunks.
		if r.Err != nil || r.OutputTokens != 2 || r.InputTokens != 3 || r.ServerUsage {
			t.Fatalf("chat record %+v", r)
		}
	}
	srv.Close()
	res, err = Run(context.Background(), w, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Records() {
		if r.Err == nil || r.Err.label() != "0 - connection_error" {
			t.Fatalf("want a connection error, got %+v", r.Err)
		}
	}
}

func TestCancelStopsSendingAndKeepsWhatFinished(t *testing.T) { transports(t, cancelStops) }

func cancelStops(t *testing.T, o Options) {
	srv, sent := sseServer(t, 0, 0, 0)
	w, err := ParseWorkload(fmt.Appendf(nil, profile, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res, err := Run(ctx, w, o)
	if err == nil || len(res.Stages) != 1 {
		t.Fatalf("err %v, %d stages", err, len(res.Stages))
	}
	ok := 0
	for _, r := range res.Stages[0].Records {
		switch {
		case r.Err == nil:
			ok++
		case r.Err.Type != "canceled":
			t.Errorf("unexpected failure %+v", r.Err)
		}
	}
	// A request sent just before the cancel reaches the server and still counts as canceled.
	if n := len(res.Stages[0].Records); n < 3 || n > 10 || int64(ok) > sent.Load() || sent.Load() > int64(n) || ok < n-1 {
		t.Errorf("%d records (%d ok) after 0.3 s at 20/s, server saw %d", n, ok, sent.Load())
	}
}

func TestPercentileIsNumpyLinear(t *testing.T) {
	d := newDist([]float64{4, 1, 3, 2})
	// numpy.percentile([1,2,3,4], [0.1, 50, 90, 99.9]) = 1.003, 2.5, 3.7, 3.997
	for p, want := range map[float64]float64{0.1: 1.003, 50: 2.5, 90: 3.7, 99.9: 3.997, 100: 4} {
		if got := d.percentile(p); math.Abs(got-want) > 1e-12 {
			t.Errorf("p%g = %v, want %v", p, got, want)
		}
	}
	if got := newDist([]float64{7}).percentile(99); got != 7 {
		t.Errorf("single value p99 = %v", got)
	}
}

func TestScheduleConstantAndPoisson(t *testing.T) {
	g := &generator{w: &Workload{Load: Load{Type: LoadConstant}}}
	times := g.schedule(Stage{Rate: 4, Duration: 2.5})
	if len(times) != 10 || times[1] != 0.25 || times[9] != 2.25 {
		t.Errorf("constant schedule %v", times)
	}
	g = &generator{w: &Workload{Load: Load{Type: LoadPoisson}}, rng: newRNG(1)}
	times = g.schedule(Stage{Rate: 100, Duration: 100})
	if len(times) != 10000 {
		t.Fatalf("%d requests", len(times))
	}
	// Mean gap 1/rate; exponential gaps have a coefficient of variation of 1.
	mean := times[len(times)-1] / float64(len(times))
	if math.Abs(mean-0.01) > 0.0005 {
		t.Errorf("mean gap %v, want 0.01", mean)
	}
}

func TestWorkloadErrors(t *testing.T) {
	valid := `
load: {type: constant, stages: [{rate: 1, duration: 1}]}
api: {type: completion, streaming: true}
server: {model_name: m, base_url: "http://x:80"}
data: {type: random, input_distribution: {min: 1, max: 9, mean: 5}, output_distribution: {min: 1, max: 9, mean: 5}}
`
	if _, err := ParseWorkload([]byte(valid)); err != nil {
		t.Fatalf("valid profile: %v", err)
	}
	for _, tc := range []struct{ from, to, want string }{
		{"type: constant", "type: trace_replay", `load.type "trace_replay" is not supported`},
		{"[{rate: 1, duration: 1}]", "[]", "load.stages is empty"},
		{"rate: 1,", "rate: 0,", "needs rate > 0 and duration > 0"},
		{"type: constant, stages: [{rate: 1, duration: 1}]", "type: concurrent, stages: [{num_requests: 1}]", "num_requests >= 1 and concurrency_level >= 1"},
		{"api: {type: completion", "api: {type: anthropic_messages", `api.type "anthropic_messages"`},
		{"model_name: m,", "model_name: '',", "server.model_name is empty"},
		{`"http://x:80"`, `"x:80"`, "is not an http(s) URL"},
		{"type: random", "type: shareGPT", `data.type "shareGPT" is not supported`},
		{"input_distribution: {min: 1, max: 9, mean: 5}", "input_distribution: {min: 5, max: 2, mean: 5}", "data.input_distribution: need 1 <= min <= mean <= max"},
		{"output_distribution: {min: 1, max: 9, mean: 5}", "output_distribution: null", "data.output_distribution is missing"},
		{"load:", "load: [\nx:", "not valid YAML"},
	} {
		_, err := ParseWorkload([]byte(strings.Replace(valid, tc.from, tc.to, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s -> %s: got %v, want one line with %q", tc.from, tc.to, err, tc.want)
		}
		// The generator runs in the launcher pod too: its errors name profile keys, no flags.
		if err != nil && strings.Contains(err.Error(), "--") {
			t.Errorf("%s -> %s: %q names a command-line flag", tc.from, tc.to, err)
		}
	}
	_, err := ParseWorkload([]byte(strings.Replace(valid, `"http://x:80"`, `""`, 1)))
	if !errors.Is(err, ErrBaseURL) || err.Error() != `server.base_url "" is not an http(s) URL: set it to the server's address` {
		t.Errorf("empty base_url: %v", err)
	}
}

// A failed request's prompt_len is the length its prompt was built with (20 words here), never
// a placeholder 0; a rate over no elapsed time is null.
func TestFailuresKeepTheirPromptLength(t *testing.T) { transports(t, failuresKeepPromptLength) }

func failuresKeepPromptLength(t *testing.T, o Options) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error":{"message":"overloaded","type":"ServiceUnavailableError"}}`)
	}))
	defer srv.Close()
	profile := `
load: {type: constant, interval: 0, stages: [{rate: 20, duration: 0.5}, {rate: 1, duration: 1}]}
api: {type: completion, streaming: true}
server: {model_name: m, base_url: %s}
data: {type: random, input_distribution: {min: 20, max: 20, mean: 20}, output_distribution: {min: 4, max: 4, mean: 4}}
report: {request_lifecycle: {per_request: true}}
`
	w, err := ParseWorkload(fmt.Appendf(nil, profile, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), w, o)
	if err != nil {
		t.Fatal(err)
	}
	if sent, failed := res.Counts(); sent != 11 || failed != 11 {
		t.Fatalf("%d sent, %d failed; want 11, 11", sent, failed)
	}
	dir := t.TempDir()
	if _, err := Write(dir, res, Meta{}); err != nil {
		t.Fatal(err)
	}
	var summary, stage0, stage1 map[string]any
	readJSON(t, filepath.Join(dir, SummaryFile), &summary)
	readJSON(t, filepath.Join(dir, StageFile(0)), &stage0)
	readJSON(t, filepath.Join(dir, StageFile(1)), &stage1)
	pl := summary["failures"].(map[string]any)["prompt_len"].(map[string]any)
	if pl["mean"] != 20.0 || pl["min"] != 20.0 || pl["max"] != 20.0 {
		t.Errorf("failures.prompt_len %v, want 20 throughout", pl)
	}
	var perRequest []map[string]any
	readJSON(t, filepath.Join(dir, PerRequestFile), &perRequest)
	for i, r := range perRequest {
		if n := r["info"].(map[string]any)["input_tokens"]; n != 20.0 {
			t.Errorf("request %d input_tokens %v, want 20", i, n)
		}
	}
	// Stage 1 sent one request: no send time, so no achieved rate could be measured.
	ls1 := stage1["load_summary"].(map[string]any)
	if v, ok := ls1["achieved_rate"]; !ok || v != nil {
		t.Errorf("one-request stage achieved_rate %v (present %v), want null", v, ok)
	}
	// Stage 0 sent 10 over 9 × 50 ms: achieved = 10 / send_duration.
	ls0 := stage0["load_summary"].(map[string]any)
	if a, d := ls0["achieved_rate"].(float64), ls0["send_duration"].(float64); d < 0.44 || math.Abs(a-10/d) > 1e-9 {
		t.Errorf("stage 0 achieved %v over %v s", a, d)
	}
}

func TestEmptySummaryHasNullTimesAndRates(t *testing.T) {
	s := summarize(nil, 100)
	l := s.lifecycle(&stageInfo{})
	raw, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	_ = json.Unmarshal(raw, &got)
	if got["benchmark_time_seconds"] != nil {
		t.Errorf("benchmark_time_seconds %v over no request", got["benchmark_time_seconds"])
	}
	ls := got["load_summary"].(map[string]any)
	if ls["send_duration"] != nil || ls["achieved_rate"] != nil || ls["count"] != 0.0 {
		t.Errorf("load summary %v", ls)
	}
	for k, v := range got["successes"].(map[string]any)["throughput"].(map[string]any) {
		if v != nil {
			t.Errorf("throughput %s = %v over no time", k, v)
		}
	}
}

// Reasoning tokens the server's usage reports go where inference-perf keeps the usage block.
func TestPerRequestRecordCarriesReasoningTokens(t *testing.T) {
	four, adapter := 4, "a1"
	for _, tc := range []struct {
		reasoning *int
		want      any
	}{{&four, 4.0}, {nil, nil}} {
		rec := &Record{ServerUsage: true, InputTokens: 5, OutputTokens: 9, ReasoningTokens: tc.reasoning}
		raw, err := json.Marshal(perRequestRecord(rec, &adapter))
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Info struct {
				LoRAAdapter     string `json:"lora_adapter"`
				ResponseMetrics struct {
					ServerUsage map[string]any `json:"server_usage"`
				} `json:"response_metrics"`
			} `json:"info"`
		}
		_ = json.Unmarshal(raw, &got)
		u := got.Info.ResponseMetrics.ServerUsage
		var reasoning any
		if d, ok := u["completion_tokens_details"].(map[string]any); ok {
			reasoning = d["reasoning_tokens"]
		}
		if reasoning != tc.want || u["total_tokens"] != 14.0 || got.Info.LoRAAdapter != "a1" {
			t.Errorf("reasoning %v: server_usage %v, adapter %q", tc.reasoning, u, got.Info.LoRAAdapter)
		}
	}
}

// A success with no output tokens (none were asked for) has no time per output token: NTPOT is
// over the requests that have tokens only, never pulled down by a placeholder 0.
func TestNTPOTLeavesOutRequestsWithoutTokens(t *testing.T) {
	recs := []Record{
		{Start: 0, End: 2, InputTokens: 5, OutputTokens: 4, ServerUsage: true}, // 2 s / 4 = 0.5 s per token
		{Start: 0, End: 1, InputTokens: 5, OutputTokens: 0, ServerUsage: true},
	}
	s := summarize(recs, 10)
	if len(s.ntpot) != 1 || s.ntpot[0] != 0.5 {
		t.Errorf("NTPOT samples %v, want [0.5]", s.ntpot)
	}
	if none := summarize(recs[1:], 10); none.ntpot.inferencePerf() != nil {
		t.Errorf("NTPOT of requests without tokens: %v, want null", none.ntpot.inferencePerf())
	}
}
