package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

func guideVars() Variables {
	return Variables{Values: map[string]string{
		VarNamespace:    "my-ns",
		VarGatewaySvc:   "infra-inference-scheduling-inference-gateway-istio",
		VarBenchmarkPVC: "workload-pvc",
	}}
}

func mustParse(t *testing.T, name string, data string) *Document {
	t.Helper()
	doc, err := Parse(name, []byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return doc
}

// The guide's own config (anchors, env, two workloads) must render to exactly what run_only.sh
// puts in its ConfigMap. The expected files come from envsubst + the real mikefarah yq v4.44.6
// (hack/gen-yq-golden.sh), not from this code.
func TestGuideConfigMatchesRunOnlyConfigMap(t *testing.T) {
	data, err := os.ReadFile("testdata/guide-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := mustParse(t, "guide-config.yaml", string(data))
	cfg, warnings, err := doc.Resolve(Options{Variables: guideVars()})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("unexpected warnings: %v", warnings)
	}
	order, err := os.ReadFile("testdata/guide-config.workloads.yq.txt")
	if err != nil {
		t.Fatal(err)
	}
	wantNames := strings.Fields(string(order))
	if len(cfg.Workloads) != len(wantNames) {
		t.Fatalf("got %d workloads, yq lists %d", len(cfg.Workloads), len(wantNames))
	}
	for i, w := range cfg.Workloads {
		if w.Name != wantNames[i] {
			t.Errorf("workload %d: got %q, yq order says %q", i, w.Name, wantNames[i])
		}
		want, err := os.ReadFile(filepath.Join("testdata", "guide-config."+w.Name+".yq.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if string(w.Profile) != string(want) {
			t.Errorf("workload %s differs from run_only.sh's ConfigMap value\n--- got\n%s\n--- want (yq)\n%s", w.Name, w.Profile, want)
		}
	}
	if cfg.Endpoint.BaseURL != "http://infra-inference-scheduling-inference-gateway-istio.my-ns.svc.cluster.local:80" {
		t.Errorf("base url %q", cfg.Endpoint.BaseURL)
	}
	if cfg.Harness.Namespace != "my-ns" || cfg.Harness.ResultsPVC != "workload-pvc" || cfg.Harness.Parallelism != 1 ||
		cfg.Harness.WaitTimeout != 600*time.Second || cfg.Harness.Image != "ghcr.io/llm-d/llm-d-benchmark:v0.4.0" {
		t.Errorf("harness %+v", cfg.Harness)
	}
	if len(cfg.Env) != 1 || cfg.Env[0].Name != "RAYON_NUM_THREADS" || cfg.Env[0].Spec["value"] != "4" {
		t.Errorf("env %+v", cfg.Env)
	}
}

const minimal = `
endpoint:
  stack_name: &stack s1
  model: &model m/one
  namespace: &ns ns1
  base_url: &url http://svc.ns1.svc.cluster.local:80
harness:
  name: inference-perf
  results_pvc: pvc1
  namespace: *ns
  parallelism: 1
  wait_timeout: 60
  image: img:1
workload:
  first:
    load: {stages: [{rate: 1, duration: 10}]}
    server:
      model_name: *model
      base_url: *url
  second:
    load: {stages: [{rate: 1, duration: 10}]}
    server:
      model_name: m/one
      base_url: http://svc.ns1.svc.cluster.local:80
`

func TestOverridesReachAliasesAndLiterals(t *testing.T) {
	doc := mustParse(t, "c.yaml", minimal)
	p, w := 3, 90*time.Second
	doc.Apply(Overrides{BaseURL: "http://10.0.0.9:8000", Model: "m/two", Namespace: "other", Parallelism: &p, WaitTimeout: &w, Image: "img:2", PVC: "pvc2", StackName: "s2", Harness: "guidellm"})
	cfg, _, err := doc.Resolve(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, wl := range cfg.Workloads {
		body := string(wl.Profile)
		if !strings.Contains(body, "base_url: http://10.0.0.9:8000") || !strings.Contains(body, "model_name: m/two") {
			t.Errorf("workload %s did not follow the overrides:\n%s", wl.Name, body)
		}
	}
	h := cfg.Harness
	if h.Namespace != "other" || cfg.Endpoint.Namespace != "other" || h.Parallelism != 3 || h.WaitTimeout != 90*time.Second ||
		h.Image != "img:2" || h.ResultsPVC != "pvc2" || cfg.Endpoint.StackName != "s2" || h.Name != "guidellm" {
		t.Errorf("overrides not applied: %+v %+v", h, cfg.Endpoint)
	}
}

func TestWorkloadSubsetKeepsFileOrder(t *testing.T) {
	doc := mustParse(t, "c.yaml", minimal)
	cfg, _, err := doc.Resolve(Options{Workloads: []string{"second", "first"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Workloads) != 2 || cfg.Workloads[0].Name != "first" || cfg.Workloads[1].Name != "second" {
		t.Errorf("got %v", cfg.Workloads)
	}
	cfg, _, err = doc.Resolve(Options{Workloads: []string{"second"}})
	if err != nil || len(cfg.Workloads) != 1 || cfg.Workloads[0].Name != "second" {
		t.Errorf("subset: %v %v", cfg, err)
	}
}

func TestEnvOverridesReplaceByName(t *testing.T) {
	doc := mustParse(t, "c.yaml", minimal+"env:\n- name: A\n  value: \"1\"\n- name: B\n  value: \"2\"\n")
	cfg, _, err := doc.Resolve(Options{Env: []EnvVar{
		{Name: "B", Spec: map[string]any{"name": "B", "value": "3"}},
		{Name: "C", Spec: map[string]any{"name": "C", "value": "4"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range cfg.Env {
		got = append(got, e.Name+"="+e.Spec["value"].(string))
	}
	if strings.Join(got, ",") != "A=1,B=3,C=4" {
		t.Errorf("env order/values: %v", got)
	}
}

func TestVariablesFromValuesThenEnvironment(t *testing.T) {
	doc := mustParse(t, "c.yaml", strings.Replace(minimal, "image: img:1", "image: reg/${IMG}:${TAG}", 1))
	env := map[string]string{"IMG": "bench", "TAG": "v9"}
	cfg, _, err := doc.Resolve(Options{Variables: Variables{
		Values: map[string]string{"TAG": "v1"},
		Env:    func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Harness.Image != "reg/bench:v1" {
		t.Errorf("image %q: plugin values must win over the environment", cfg.Harness.Image)
	}
	if refs := doc.References(); strings.Join(refs, ",") != "IMG,TAG" {
		t.Errorf("references %v", refs)
	}
}

func TestRenderedNumbersAreNumbers(t *testing.T) {
	doc := mustParse(t, "c.yaml", strings.Replace(minimal, "wait_timeout: 60", "wait_timeout: ${T}", 1)+"  third:\n    load:\n      stages:\n      - rate: ${RATE}\n        duration: 5\n")
	cfg, _, err := doc.Resolve(Options{Variables: Variables{Values: map[string]string{"T": "120", "RATE": "2.5"}}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Harness.WaitTimeout != 2*time.Minute {
		t.Errorf("wait timeout %v", cfg.Harness.WaitTimeout)
	}
	if !strings.Contains(string(cfg.Workloads[2].Profile), "rate: 2.5") || strings.Contains(string(cfg.Workloads[2].Profile), `"2.5"`) {
		t.Errorf("a substituted number must stay a number, as after envsubst:\n%s", cfg.Workloads[2].Profile)
	}
}

func TestMergeKeysExpand(t *testing.T) {
	doc := mustParse(t, "c.yaml", minimal+"  third:\n    load: {stages: [{rate: 1, duration: 5}]}\n    base: &base {api: {type: chat}, keep: 1}\n    derived:\n      <<: *base\n      keep: 2\n")
	cfg, _, err := doc.Resolve(Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Derived map[string]any `yaml:"derived"`
	}
	if err := yaml.Unmarshal(cfg.Workloads[2].Profile, &got); err != nil {
		t.Fatal(err)
	}
	if got.Derived["keep"] != 2 || got.Derived["api"] == nil || got.Derived["<<"] != nil {
		t.Errorf("merge key not expanded with own keys winning: %v\n%s", got.Derived, cfg.Workloads[2].Profile)
	}
}

func TestStackNameIsSanitisedWithWarning(t *testing.T) {
	doc := mustParse(t, "c.yaml", strings.Replace(minimal, "stack_name: &stack s1", "stack_name: &stack 'my stack/v1'", 1))
	cfg, warnings, err := doc.Resolve(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Endpoint.StackName != "my_stack_v1" {
		t.Errorf("stack %q", cfg.Endpoint.StackName)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], `"my_stack_v1"`) {
		t.Errorf("warnings %v", warnings)
	}
}

func TestUnknownSectionWarns(t *testing.T) {
	doc := mustParse(t, "c.yaml", minimal+"harnes:\n  name: x\n")
	_, warnings, err := doc.Resolve(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], `unknown section "harnes"`) {
		t.Errorf("warnings %v", warnings)
	}
}

// Every bad input gets one actionable line.
func TestBadInputs(t *testing.T) {
	cases := []struct {
		name, data string
		vars       Variables
		opts       func(*Options)
		want       string
		is         error // the sentinel the error wraps, when it has one
	}{
		{name: "coming soon", data: "COMING SOON\n\n" + minimal, want: `starts with a bare "COMING SOON" line, so it is an unfinished upstream template, not a config: delete that line`, is: ErrTemplate},
		{name: "malformed", data: "endpoint:\n  a: b\n c: d\n", want: "c.yaml: yaml: line 2:"},
		{name: "empty", data: "", want: "the file is empty"},
		{name: "not a mapping", data: "- a\n- b\n", want: "line 1: the top level must be a mapping"},
		{name: "two documents", data: minimal + "---\nfoo: bar\n", want: "more than one YAML document"},
		{name: "unknown harness", data: strings.Replace(minimal, "name: inference-perf", "name: inference_perf", 1), want: `harness.name "inference_perf" is not a known harness: use one of inference-perf, guidellm, vllm-benchmark, inferencemax, aiperf, nop, llmdbench`, is: ErrUnknownHarness},
		{name: "flat workload", data: strings.Split(minimal, "workload:")[0] + "workload:\n  executable: benchmark_serving.py\n  model: m\n", want: "workload.executable is a scalar (benchmark_serving.py), not a profile: workload: looks flat"},
		{name: "dotted workload", data: minimal + "  my.load:\n    a: 1\n", want: `workload name "my.load" is not allowed`},
		{name: "no workloads", data: strings.Split(minimal, "workload:")[0] + "workload:\n", want: "no workloads"},
		{name: "parallelism", data: strings.Replace(minimal, "parallelism: 1", "parallelism: 0", 1), want: "harness.parallelism is 0: it must be 1 or more"},
		{name: "parallelism not a number", data: strings.Replace(minimal, "parallelism: 1", "parallelism: two", 1), want: `line 11: harness.parallelism is "two": it must be a whole number`},
		{name: "negative timeout", data: strings.Replace(minimal, "wait_timeout: 60", "wait_timeout: -5", 1), want: "harness.wait_timeout is -5s: it must be 0 (no limit) or more"},
		{name: "empty base url", data: strings.Replace(minimal, "base_url: &url http://svc.ns1.svc.cluster.local:80", "base_url: &url ''", 1), want: "endpoint.base_url is empty", is: ErrNoEndpoint},
		{name: "blank host part", data: strings.Replace(minimal, "http://svc.ns1", "http://${GATEWAY_SVC}.ns1", 1), vars: Variables{Values: map[string]string{VarGatewaySvc: ""}}, want: "has an empty host name part"},
		{name: "no scheme", data: strings.Replace(minimal, "http://svc", "svc", 1), want: "must start with http:// or https://"},
		{name: "empty image", data: strings.Replace(minimal, "image: img:1", "image: ''", 1), want: "c.yaml: harness.image is empty", is: ErrNoImage},
		{name: "no pvc", data: strings.Replace(minimal, "results_pvc: pvc1", "", 1), want: "c.yaml: harness.results_pvc is empty", is: ErrNoResultsPVC},
		{name: "no model", data: strings.Replace(minimal, "model: &model m/one", "model: &model ''", 1), want: "c.yaml: endpoint.model is empty", is: ErrNoModel},
		{name: "no stack name", data: strings.Replace(minimal, "stack_name: &stack s1", "stack_name: &stack ''", 1), want: "c.yaml: endpoint.stack_name is empty", is: ErrNoStackName},
		{name: "no namespace", data: strings.Replace(minimal, "namespace: &ns ns1", "namespace: &ns ''", 1), want: "c.yaml: harness.namespace is empty", is: ErrNoNamespace},
		{name: "wait timeout not a duration", data: strings.Replace(minimal, "wait_timeout: 60", "wait_timeout: soon", 1), want: `c.yaml: line 12: harness.wait_timeout "soon" is not a wait timeout: use whole seconds (1200) or a duration (20m)`, is: ErrWaitTimeout},
		{name: "wait timeout fraction", data: strings.Replace(minimal, "wait_timeout: 60", "wait_timeout: 1.5s", 1), want: `harness.wait_timeout "1.5s" is not a wait timeout: the launcher counts whole seconds`, is: ErrWaitTimeout},
		{name: "unset variable", data: strings.Replace(minimal, "pvc1", "${BENCHMARK_PVC}", 1), vars: Variables{Hints: map[string]string{VarBenchmarkPVC: "pass --pvc NAME"}}, want: "line 9: ${BENCHMARK_PVC} in harness.results_pvc is not set: pass --pvc NAME (or export BENCHMARK_PVC)"},
		{name: "unset plain variable", data: strings.Replace(minimal, "img:1", "$REGISTRY/img:1", 1), want: "${REGISTRY} in harness.image is not set: export REGISTRY=…"},
		{name: "vllm profile without executable", data: strings.Replace(minimal, "name: inference-perf", "name: vllm-benchmark", 1), want: "workload first: a vllm-benchmark profile needs an executable key"},
		{name: "env not a list", data: minimal + "env:\n  A: b\n", want: "env must be a list"},
		{name: "env without name", data: minimal + "env:\n- value: b\n", want: "env[0] has no name"},
		{name: "unknown selected workload", data: minimal, opts: func(o *Options) { o.Workloads = []string{"third"} }, want: `workload "third" is not in the config c.yaml: choose from first, second`, is: ErrUnknownWorkload},
		{name: "duplicate workload", data: minimal + "  first:\n    a: 1\n", want: `workload "first" is defined twice`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := Parse("c.yaml", []byte(tc.data))
			if err == nil {
				opts := Options{Variables: tc.vars}
				if tc.opts != nil {
					tc.opts(&opts)
				}
				_, _, err = doc.Resolve(opts)
			}
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q does not wrap %q", err, tc.is)
			}
			// The config speaks of its own keys; only a caller's hint may name a flag.
			if tc.vars.Hints == nil && strings.Contains(err.Error(), "--") {
				t.Errorf("error %q names a command-line flag", err)
			}
		})
	}
}

func TestValidateBaseURL(t *testing.T) {
	for _, ok := range []string{"http://a.b.svc.cluster.local:80", "https://10.1.2.3", "http://[::1]:8000/v1"} {
		if err := ValidateBaseURL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://:80", "http://a..b", "ftp://x", "http://x:99999"} {
		if err := ValidateBaseURL(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestShowRoundTripKeepsPlaceholders(t *testing.T) {
	doc := mustParse(t, "c.yaml", "endpoint:\n  base_url: &url http://${GATEWAY_SVC}:80 # keep me\nworkload:\n  w:\n    url: *url\n")
	out, err := doc.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"${GATEWAY_SVC}", "&url", "*url", "# keep me"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("%q lost in:\n%s", want, out)
		}
	}
}

// The one wait_timeout parser: the forms configs use (whole seconds, a Go duration of whole
// seconds, blank for none) and a one-line refusal of the rest. Expected values by hand.
func TestParseWaitTimeout(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"":      0,
		"0":     0,
		"600":   600 * time.Second,
		" 1200": 1200 * time.Second,
		"20m":   1200 * time.Second,
		"1h30m": 5400 * time.Second,
		"90s":   90 * time.Second,
		"-5":    -5 * time.Second, // parsed; Resolve refuses it as negative
	} {
		got, err := ParseWaitTimeout(in)
		if err != nil || got != want {
			t.Errorf("ParseWaitTimeout(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"soon":                 `wait_timeout "soon" is not a wait timeout: use whole seconds (1200) or a duration (20m)`,
		"10 min":               `wait_timeout "10 min" is not a wait timeout: use whole seconds (1200) or a duration (20m)`,
		"1.5":                  `wait_timeout "1.5" is not a wait timeout: use whole seconds (1200) or a duration (20m)`,
		"1500ms":               `wait_timeout "1500ms" is not a wait timeout: the launcher counts whole seconds`,
		"99999999999999999999": `wait_timeout "99999999999999999999" is not a wait timeout: use whole seconds (1200) or a duration (20m)`,
		"9999999999999":        `wait_timeout "9999999999999" is not a wait timeout: too long`,
	} {
		_, err := ParseWaitTimeout(in)
		if err == nil || err.Error() != want || !errors.Is(err, ErrWaitTimeout) {
			t.Errorf("ParseWaitTimeout(%q) = %v; want %q wrapping ErrWaitTimeout", in, err, want)
		}
	}
	// The writer gives back what the parser reads, in whole seconds.
	for d, want := range map[time.Duration]string{90 * time.Second: "90", 1500 * time.Millisecond: "2", 20 * time.Minute: "1200"} {
		if got := FormatWaitTimeout(d); got != want {
			t.Errorf("FormatWaitTimeout(%v) = %q, want %q", d, got, want)
		}
	}
}

// A Go duration in the config is read by the same parser as whole seconds.
func TestWaitTimeoutDurationInConfig(t *testing.T) {
	doc := mustParse(t, "c.yaml", strings.Replace(minimal, "wait_timeout: 60", "wait_timeout: 20m", 1))
	cfg, _, err := doc.Resolve(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Harness.WaitTimeout != 20*time.Minute {
		t.Errorf("wait timeout %v, want 20m", cfg.Harness.WaitTimeout)
	}
}

func TestParallelismModeSetting(t *testing.T) {
	cfg, _, err := mustParse(t, "c.yaml", minimal).Resolve(Options{})
	if err != nil || cfg.Harness.ParallelismMode != runstate.ModeSplit {
		t.Fatalf("default mode %q, %v; want split", cfg.Harness.ParallelismMode, err)
	}
	file := strings.Replace(minimal, "parallelism: 1", "parallelism: 2\n  parallelism_mode: replicate", 1)
	cfg, _, err = mustParse(t, "c.yaml", file).Resolve(Options{})
	if err != nil || cfg.Harness.ParallelismMode != runstate.ModeReplicate {
		t.Fatalf("file mode %+v, %v; want replicate", cfg.Harness, err)
	}
	doc := mustParse(t, "c.yaml", file)
	doc.Apply(Overrides{ParallelismMode: runstate.ModeSplit})
	if cfg, _, err = doc.Resolve(Options{}); err != nil || cfg.Harness.ParallelismMode != runstate.ModeSplit {
		t.Fatalf("override mode %+v, %v; want split", cfg.Harness, err)
	}
	for _, bad := range []struct{ file, value string }{
		{strings.Replace(minimal, "parallelism: 1", "parallelism: 1\n  parallelism_mode: both", 1), "both"},
		{minimal, "Split"},
	} {
		doc := mustParse(t, "c.yaml", bad.file)
		if bad.value == "Split" {
			doc.Apply(Overrides{ParallelismMode: bad.value})
		}
		_, _, err := doc.Resolve(Options{})
		want := `c.yaml: harness.parallelism_mode "` + bad.value + `" is not a parallelism mode: use split (the launchers share the load) or replicate (each sends all of it)`
		if err == nil || err.Error() != want || !errors.Is(err, ErrParallelismMode) {
			t.Errorf("mode %s: error %v\nwant %s", bad.value, err, want)
		}
	}
}
