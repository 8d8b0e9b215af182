package loadgen

import (
	"os"
	"strings"
	"testing"
)

// baseProfile is valid; each case below adds or changes one thing.
const baseProfile = `
load:
  type: constant
  stages: [{rate: 1, duration: 1}]
api: {type: completion, streaming: true}
server: {type: vllm, model_name: m, base_url: "http://x:80", ignore_eos: true}
tokenizer: {pretrained_model_name_or_path: m, trust_remote_code: false}
data:
  type: random
  input_distribution: {min: 1, max: 9, mean: 5, std_dev: 1, total_count: 10}
  output_distribution: {min: 1, max: 9, mean: 5, std: 1}
report:
  request_lifecycle: {summary: true, per_stage: true, per_request: false}
storage:
  local_storage: {path: /workspace}
`

// oneLine fails unless err is a single line containing want.
func oneLine(t *testing.T, what string, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("%s: got %v, want one line with %q", what, err, want)
	}
}

func TestProfileKeysRefusedByName(t *testing.T) {
	if _, err := ParseWorkload([]byte(baseProfile)); err != nil {
		t.Fatalf("base profile: %v", err)
	}
	for _, tc := range []struct{ from, to, want string }{
		// Keys of inference-perf's config the native generator does not implement.
		{"  stages: [{rate: 1, duration: 1}]", "  stages: [{rate: 1, duration: 1}]\n  trace: {file: t.csv, format: AzurePublicDataset}", "load.trace is not supported by the native generator: it replays no trace"},
		{"  stages: [{rate: 1, duration: 1}]", "  stages: [{rate: 1, duration: 1}]\n  circuit_breakers: [cb]", "load.circuit_breakers is not supported by the native generator"},
		{"  stages: [{rate: 1, duration: 1}]", "  stages: [{concurrent_sessions: 2}]", "load.stages[0].concurrent_sessions is not supported by the native generator"},
		{"api: {type: completion, streaming: true}", "api: {type: completion, streaming: true, response_format: {type: json_object}}", "api.response_format is not supported by the native generator"},
		{"api: {type: completion, streaming: true}", "api: {type: completion, streaming: true, slo_unit: ms}", "api.slo_unit is not supported by the native generator"},
		{"api: {type: completion, streaming: true}", "api: {type: completion, streaming: true, session_id_header_key: x-session}", "api.session_id_header_key is not supported"},
		{"ignore_eos: true}", "ignore_eos: true, cert_path: /c.pem}", "server.cert_path is not supported by the native generator"},
		{"  type: random\n", "  type: random\n  path: ./ShareGPT.json\n", "data.path is not supported by the native generator: it reads no data set file"},
		{"  type: random\n", "  type: random\n  use_chat_template: true\n", "data.use_chat_template is not supported by the native generator"},
		{"  type: random\n", "  type: random\n  trace: {file: t.csv}\n", "data.trace is not supported"},
		{"std_dev: 1, total_count: 10}", "std_dev: 1, total_count: 10, type: lognormal}", `data.input_distribution.type "lognormal" is not supported by the native generator: use normal or fixed`},
		{"std_dev: 1, total_count: 10}", "std_dev: 1, total_count: 10, skew: 2}", "data.input_distribution.skew is not supported"},
		{"per_request: false}", "per_request: false, percentiles: [50, 90]}", "report.request_lifecycle.percentiles other than inference-perf's default list is not supported"},
		{"per_request: false}", "per_request: false, use_server_output_tokens: false}", "report.request_lifecycle.use_server_output_tokens: false is not supported"},
		{"per_request: false}", "per_request: false}\n  goodput: {constraints: {ttft: 0.2}}", "report.goodput is not supported by the native generator"},
		{"path: /workspace}", "path: /workspace, report_file_prefix: run1_}", "storage.local_storage.report_file_prefix is not supported"},
		{"storage:\n", "storage:\n  google_cloud_storage: {bucket_name: b}\n", "storage.google_cloud_storage is not supported"},
		{"storage:\n", "metrics: {type: prometheus, prometheus: {url: http://p:9090}}\nstorage:\n", "metrics is not supported by the native generator: it reads no Prometheus server: server_metrics scrapes the pods' /metrics instead"},
		{"storage:\n", "circuit_breakers: [{name: cb}]\nstorage:\n", "circuit_breakers is not supported by the native generator"},
		// Keys inference-perf does not know (it refuses them too).
		{"  stages: [{rate: 1, duration: 1}]", "  stages: [{rate: 1, duration: 1}]\n  rates: [1, 2]", "load.rates is not a key of an inference-perf profile"},
		{"  stages: [{rate: 1, duration: 1}]", "  stages: [{rate: 1, durration: 1}]", "load.stages[0].durration is not a key of an inference-perf profile"},
		{"storage:\n", "harness: {name: x}\nstorage:\n", "harness is not a key of an inference-perf profile"},
		{"std_dev: 1, total_count: 10}", "std_dev: 1, total_count: 10, stdev: 1}", "data.input_distribution.stdev is not a key"},
	} {
		if !strings.Contains(baseProfile, tc.from) {
			t.Fatalf("case %q: base profile lacks %q", tc.want, tc.from)
		}
		_, err := ParseWorkload([]byte(strings.Replace(baseProfile, tc.from, tc.to, 1)))
		oneLine(t, tc.to, err, tc.want)
	}
}

func TestProfileKeysLeftOffOrWithoutEffectAreAccepted(t *testing.T) {
	for _, tc := range []struct{ from, to string }{
		// Values that leave a feature off are not a use of it.
		{"  stages: [{rate: 1, duration: 1}]", "  stages: [{rate: 1, duration: 1}]\n  circuit_breakers: []\n  trace: null"},
		{"  type: random\n", "  type: random\n  use_chat_template: false\n  path: null\n"},
		{"api: {type: completion, streaming: true}", "api: {type: completion, streaming: true, response_format: null, headers: {x-a: b}}"},
		{"per_request: false}", "per_request: false, percentiles: [0.1, 1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9], use_server_output_tokens: true, max_error_messages: 5}"},
		// Reports that only a refused feature would write.
		{"per_request: false}", "per_request: false}\n  prometheus: {summary: true, per_stage: false}\n  session_lifecycle: {summary: true}"},
		// The generator's own equivalents.
		{"  stages: [{rate: 1, duration: 1}]", "  stages: [{rate: 1, duration: 1}]\n  num_workers: 4\n  worker_max_concurrency: 10\n  worker_max_tcp_connections: 100\n  base_seed: 42\n  request_timeout: 30"},
		{"std_dev: 1, total_count: 10}", "variance: 4, total_count: 10}"},
		{"std_dev: 1, total_count: 10}", "total_count: 10, type: fixed}"},
	} {
		if _, err := ParseWorkload([]byte(strings.Replace(baseProfile, tc.from, tc.to, 1))); err != nil {
			t.Errorf("%s: %v", tc.to, err)
		}
	}
}

// inference-perf's own example configs (testdata/inference-perf-*.yml) each use a key the native
// generator refuses: the first one in key order is named.
func TestInferencePerfExamplesRefusedByKey(t *testing.T) {
	for file, want := range map[string]string{
		"inference-perf-vllm-config-sweep.yml":          "metrics is not supported by the native generator",
		"inference-perf-multilora-multilora_config.yml": "metrics is not supported by the native generator",
		"inference-perf-vllm-config-trace-replay.yml":   "data.trace is not supported by the native generator",
	} {
		data, err := os.ReadFile("testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		_, err = DecodeWorkload(data)
		oneLine(t, file, err, want)
	}
	// Without its metrics section and with random data, the sweep example runs, with
	// inference-perf's defaults for the sweep keys it leaves out (num_requests 2000).
	data, _ := os.ReadFile("testdata/inference-perf-vllm-config-sweep.yml")
	text := strings.Replace(string(data), "metrics:\n  type: prometheus\n  prometheus:\n    url: http://localhost:9090\n    scrape_interval: 15\n", "", 1)
	text = strings.Replace(text, "  type: shareGPT", "  type: random\n  input_distribution: {min: 10, max: 10, mean: 10}\n  output_distribution: {min: 5, max: 5, mean: 5}", 1)
	text = strings.Replace(text, "  base_url: http://0.0.0.0:8000", "  base_url: http://0.0.0.0:8000\n  model_name: m", 1)
	w, err := ParseWorkload([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := Sweep{Type: SweepLinear, NumRequests: 2000, Timeout: 60, NumStages: 10, StageDuration: 60, SaturationPercentile: 95}
	if *w.Load.Sweep != want || w.Load.IntervalSeconds() != 15 {
		t.Errorf("sweep %+v interval %v, want %+v and 15", *w.Load.Sweep, w.Load.IntervalSeconds(), want)
	}
}

func TestSharedPrefixAliasesAndFixedLengths(t *testing.T) {
	profile := strings.Replace(baseProfile, `data:
  type: random
  input_distribution: {min: 1, max: 9, mean: 5, std_dev: 1, total_count: 10}
  output_distribution: {min: 1, max: 9, mean: 5, std: 1}`, `data:
  type: shared_prefix
  shared_prefix: {num_unique_system_prompts: 3, num_users_per_system_prompt: 4, system_prompt_len: 7, question_len: 2, output_len: 5, seed: 9}`, 1)
	w, err := ParseWorkload([]byte(profile))
	if err != nil {
		t.Fatal(err)
	}
	if sp := w.Data.SharedPrefix; sp.NumGroups != 3 || sp.NumPromptsPerGroup != 4 || sp.Seed == nil || *sp.Seed != 9 {
		t.Errorf("shared prefix %+v", *sp)
	}
	// The seed of the data, not the run's, decides the prompts.
	a, b := newPromptSource(w, 1), newPromptSource(w, 2)
	if len(a.prompts) != 12 || string(a.prompts[5].body) != string(b.prompts[5].body) {
		t.Errorf("prompts differ with data.shared_prefix.seed set")
	}
	_, err = DecodeWorkload([]byte(strings.Replace(profile, "seed: 9}", "seed: 9, num_groups: 2}", 1)))
	oneLine(t, "both spellings", err, "data.shared_prefix.num_unique_system_prompts and data.shared_prefix.num_groups are the same key")
	_, err = DecodeWorkload([]byte(strings.Replace(profile, "question_len: 2", "question_len: {min: 1, max: 3, mean: 2}", 1)))
	oneLine(t, "distribution length", err, "data.shared_prefix.question_len as a distribution is not supported")
}

func TestDistributionFixedAndVariance(t *testing.T) {
	rng := newRNG(1)
	// inference-perf's fixed distribution is int(mean): 7.9 gives 7.
	if got := sample(rng, Distribution{Type: DistFixed, Min: 1, Max: 100, Mean: 7.9, StdDev: 30}); got != 7 {
		t.Errorf("fixed sample %d, want 7", got)
	}
	v := 16.0
	if d := (Distribution{Variance: &v}).deviation(); d != 4 {
		t.Errorf("deviation from variance 16 = %v, want 4", d)
	}
	for _, tc := range []struct{ dist, want string }{
		{"{min: 1, max: 9, mean: 5, std_dev: 1, variance: 1}", "give std_dev or variance, not both"},
		{"{min: 1, max: 9, mean: 5, variance: -1}", "data.input_distribution.variance must not be negative"},
		{"{min: 1, max: 9, mean: 0.5, type: fixed}", "a fixed distribution needs mean >= 1"},
	} {
		_, err := ParseWorkload([]byte(strings.Replace(baseProfile, "{min: 1, max: 9, mean: 5, std_dev: 1, total_count: 10}", tc.dist, 1)))
		oneLine(t, tc.dist, err, tc.want)
	}
}

func TestLoadRulesOfInferencePerf(t *testing.T) {
	for _, tc := range []struct{ from, to, want string }{
		// Field case 11: a concurrent load written with rate/duration stages.
		{"  type: constant\n  stages: [{rate: 1, duration: 1}]", "  type: concurrent\n  stages: [{rate: 5, duration: 60}, {rate: 10, duration: 60}]", "load.stages[0]: a concurrent stage needs num_requests >= 1 and concurrency_level >= 1"},
		{"  type: constant\n  stages: [{rate: 1, duration: 1}]", "  type: concurrent\n  stages: [{num_requests: 10, concurrency_level: 2, rate: 5}]", "load.stages[0]: a concurrent stage takes num_requests and concurrency_level, not rate or duration"},
		{"  stages: [{rate: 1, duration: 1}]", "  stages: [{rate: 1, duration: 1, num_requests: 10}]", "load.stages[0]: a constant stage takes rate and duration, not num_requests or concurrency_level"},
		// Sweep: never with concurrent, never beside stages, and its own keys checked.
		{"  type: constant\n  stages: [{rate: 1, duration: 1}]", "  type: concurrent\n  sweep: {type: linear}", "load.sweep cannot be used with a concurrent load (inference-perf refuses it too)"},
		{"  stages: [{rate: 1, duration: 1}]", "  stages: [{rate: 1, duration: 1}]\n  sweep: {type: linear}", "load.stages and load.sweep are both set"},
		{"  stages: [{rate: 1, duration: 1}]", "  sweep: {type: exponential}", `load.sweep.type "exponential" is not a sweep type`},
		{"  stages: [{rate: 1, duration: 1}]", "  sweep: {type: linear, num_stages: 0}", "load.sweep.num_stages must be at least 1"},
		{"  stages: [{rate: 1, duration: 1}]", "  sweep: {type: linear, saturation_percentile: 101}", "load.sweep.saturation_percentile must be within 0..100"},
		{"  stages: [{rate: 1, duration: 1}]", "  stages: []", "load.stages is empty"},
		// LoRA: inference-perf's exact float sum; python3: sum([0.7, 0.2, 0.1]) == 0.9999999999999999.
		{"  stages: [{rate: 1, duration: 1}]", "  stages: [{rate: 1, duration: 1}]\n  lora_traffic_split: [{name: a, split: 0.7}, {name: b, split: 0.2}, {name: c, split: 0.1}]", "load.lora_traffic_split: the splits add up to 0.9999999999999999, not 1"},
		{"  stages: [{rate: 1, duration: 1}]", "  stages: [{rate: 1, duration: 1}]\n  lora_traffic_split: [{name: a, split: 0.6}]", "the splits add up to 0.6, not 1"},
		{"  stages: [{rate: 1, duration: 1}]", "  stages: [{rate: 1, duration: 1}]\n  lora_traffic_split: [{name: a, split: 1.5}, {name: b, split: -0.5}]", "load.lora_traffic_split[1].split must not be negative"},
		{"  stages: [{rate: 1, duration: 1}]", "  stages: [{rate: 1, duration: 1}]\n  lora_traffic_split: [{name: a, split: 0.5}, {name: a, split: 0.5}]", `adapter "a" is listed twice`},
		{"  stages: [{rate: 1, duration: 1}]", "  stages: [{rate: 1, duration: 1}]\n  lora_traffic_split: []", "load.lora_traffic_split is empty"},
		{"  stages: [{rate: 1, duration: 1}]", "  stages: [{rate: 1, duration: 1}]\n  num_workers: 0", "load.num_workers must be at least 1"},
		{"type: vllm,", "type: mock,", `server.type "mock" is not supported by the native generator`},
		{"per_request: false}", "per_request: false, max_error_messages: -1}", "report.request_lifecycle.max_error_messages must not be negative"},
	} {
		if !strings.Contains(baseProfile, tc.from) {
			t.Fatalf("case %q: base profile lacks %q", tc.want, tc.from)
		}
		_, err := ParseWorkload([]byte(strings.Replace(baseProfile, tc.from, tc.to, 1)))
		oneLine(t, tc.to, err, tc.want)
	}
	// python3: sum([0.1, 0.2, 0.7]) == 1.0, so inference-perf takes it, and so does the generator.
	ok := strings.Replace(baseProfile, "  stages: [{rate: 1, duration: 1}]", "  stages: [{rate: 1, duration: 1}]\n  lora_traffic_split: [{name: a, split: 0.1}, {name: b, split: 0.2}, {name: c, split: 0.7}]", 1)
	if _, err := ParseWorkload([]byte(ok)); err != nil {
		t.Errorf("0.1+0.2+0.7: %v", err)
	}
	// A sweep alone takes inference-perf's defaults for what it leaves out.
	w, err := ParseWorkload([]byte(strings.Replace(baseProfile, "  stages: [{rate: 1, duration: 1}]", "  sweep: {type: geometric, num_stages: 3}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Sweep{Type: SweepGeometric, NumRequests: 2000, Timeout: 60, NumStages: 3, StageDuration: 180, SaturationPercentile: 95}); *w.Load.Sweep != want {
		t.Errorf("sweep %+v, want %+v", *w.Load.Sweep, want)
	}
}

// Any document decodes to a workload or to one line of error, and never panics.
func FuzzDecodeWorkload(f *testing.F) {
	f.Add([]byte(baseProfile))
	for _, name := range []string{"multilora-profile.yaml", "inference-perf-vllm-config-sweep.yml", "inference-perf-vllm-config-trace-replay.yml"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("load: [1, 2]\ndata: {shared_prefix: {num_groups: 1, num_unique_system_prompts: x}}"))
	f.Add([]byte("report: {request_lifecycle: {percentiles: [a]}}\nload: {stages: [null, 3]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := DecodeWorkload(data)
		if err != nil {
			if w != nil || strings.Contains(err.Error(), "\n") && !strings.Contains(err.Error(), "YAML") && !strings.Contains(err.Error(), "wrong type") {
				t.Fatalf("workload %v with error %q", w, err)
			}
			return
		}
		if err := w.Validate(); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("validation error of more than one line: %q", err)
		}
	})
}

// A value of the wrong type is named by its key in the profile's terms, not by Go's struct field.
func TestDecodeNamesTheKeyOfAWrongType(t *testing.T) {
	for profile, want := range map[string]string{
		`load: {stages: [{rate: 2, duration: "2s"}]}`:                                    "load.stages.duration holds text where the profile needs a number",
		`load: {type: concurrent, stages: [{num_requests: 10.5, concurrency_level: 2}]}`: "load.stages.num_requests holds number 10.5 where the profile needs a whole number",
		`api: {streaming: "yes please"}`:                                                 "api.streaming holds text where the profile needs true or false",
	} {
		_, err := DecodeWorkload([]byte(profile))
		if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "Go struct") {
			t.Errorf("%s: %v\nwant %q", profile, err, want)
		}
	}
}
