package preset

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/llmdbench/kubectl-llmdbench/pkg/config"
	"github.com/llmdbench/kubectl-llmdbench/pkg/loadgen"
)

// The catalogue reads wait_timeout with config's parser: the values below are the presets'
// own lines (wait_timeout: 1200 / 6000 / 1800 / 6000 / 6000 / 6000), read by hand.
func TestWaitTimeout(t *testing.T) {
	for name, want := range map[string]time.Duration{
		"inference-scheduling": 1200 * time.Second,
		"pd":                   6000 * time.Second,
		"wide-ep":              1800 * time.Second,
		"precise-prefix-cache": 6000 * time.Second,
		"tiered-prefix-cache":  6000 * time.Second,
		"workload-autoscaling": 6000 * time.Second, // an alias reads its preset's file
	} {
		p, err := Get(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.WaitTimeout != want || p.WaitTimeoutSeconds != int(want/time.Second) {
			t.Errorf("%s: wait timeout %v (%d s), want %v", name, p.WaitTimeout, p.WaitTimeoutSeconds, want)
		}
	}
}

// vars are what the plugin fills for a run (-n, --pvc, gateway discovery).
func vars() config.Variables {
	return config.Variables{
		Values: map[string]string{config.VarNamespace: "bench", config.VarBenchmarkPVC: "results",
			config.VarGatewaySvc: "gw-istio", config.VarGatewayIP: "10.0.0.7"},
		Env: func(string) (string, bool) { return "", false },
	}
}

// Every preset and alias, for every harness it lists, renders and validates; where that harness
// is the native generator the workloads parse as its profiles.
func TestEveryPresetRendersForEachHarness(t *testing.T) {
	names := Names()
	for a := range Aliases() {
		names = append(names, a)
	}
	for _, name := range names {
		harnesses, err := HarnessesOf(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, h := range append([]string{""}, harnesses...) {
			doc, err := LoadFor(name, h)
			if err != nil {
				t.Fatalf("%s/%s: %v", name, h, err)
			}
			if h != "" {
				doc.Apply(config.Overrides{Harness: h})
			}
			cfg, warnings, err := doc.Resolve(config.Options{Variables: vars()})
			if err != nil || len(warnings) > 0 {
				t.Errorf("%s/%s: %v %v", name, h, err, warnings)
				continue
			}
			if cfg.Endpoint.BaseURL != "http://gw-istio.bench.svc.cluster.local:80" || len(cfg.Workloads) == 0 {
				t.Errorf("%s/%s: base_url %q, %d workloads", name, h, cfg.Endpoint.BaseURL, len(cfg.Workloads))
			}
			if h != config.HarnessNative {
				continue
			}
			for _, w := range cfg.Workloads {
				if _, err := loadgen.ParseWorkload(w.Profile); err != nil {
					t.Errorf("%s: workload %s is not a native profile: %v", name, w.Name, err)
				}
			}
		}
	}
}

// The catalogue, read off the preset files by hand: each one's harnesses (base harness.name,
// llmdbench beside inference-perf, one per NAME.HARNESS.yaml), gateway, aliases and source line.
func TestCatalogue(t *testing.T) {
	want := map[string]struct {
		harnesses, aliases, gateway, source string
	}{
		"inference-scheduling": {"guidellm,inference-perf,llmdbench", "optimized-baseline", "infra-inference-scheduling-inference-gateway",
			"llm-d/llm-d guides/benchmark/inference_scheduling_template.yaml (2026-01)"},
		"pd": {"inference-perf,llmdbench,vllm-benchmark", "pd-disaggregation", "infra-pd-inference-gateway",
			"llm-d/llm-d guides/benchmark/pd_template.yaml (2026-02)"},
		"precise-prefix-cache": {"guidellm,inference-perf,llmdbench", "precise-prefix-cache-aware,precise-prefix-cache-routing", "infra-kv-events-inference-gateway",
			"llm-d/llm-d guides/benchmark/precise_template.yaml (2026-02)"},
		"tiered-prefix-cache": {"inference-perf,llmdbench", "", "",
			"llm-d/llm-d-benchmark workload/profiles/inference-perf/guide_tiered-prefix-cache_1.yaml.in (2026-06)"},
		"wide-ep": {"inference-perf,llmdbench", "wide-ep-lws", "infra-wide-ep-inference-gateway",
			"llm-d/llm-d guides/benchmark/wide_ep_template.yaml (2026-02)"},
		"wva-inference-scheduling": {"guidellm,inference-perf,llmdbench", "workload-autoscaling", "",
			"llm-d/llm-d guides/benchmark/wva_inference_scheduling_guidellm_template.yaml (2026-02)"},
	}
	list, err := List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(want) {
		t.Fatalf("%d presets, want %d", len(list), len(want))
	}
	for _, p := range list {
		w, ok := want[p.Name]
		if !ok {
			t.Errorf("unexpected preset %s", p.Name)
			continue
		}
		got := struct{ harnesses, aliases, gateway, source string }{
			strings.Join(p.Harnesses, ","), strings.Join(p.Aliases, ","), p.Gateway, p.Source}
		if got != w {
			t.Errorf("%s:\n got %+v\nwant %+v", p.Name, got, w)
		}
	}
}

func TestResolveAndHarnessErrors(t *testing.T) {
	if got, err := Resolve("optimized-baseline"); err != nil || got != "inference-scheduling" {
		t.Errorf("alias: %q %v", got, err)
	}
	_, err := Resolve("inference-scheduling.guidellm") // a variant file is not a preset
	if !errors.Is(err, ErrUnknownPreset) || !strings.Contains(err.Error(), "(aliases: optimized-baseline=inference-scheduling,") {
		t.Errorf("variant as a name: %v", err)
	}
	_, err = SourceFor("wide-ep", config.HarnessGuideLLM)
	if !errors.Is(err, ErrNoHarnessWorkloads) || err.Error() != "preset wide-ep has no workloads for harness guidellm: it has them for inference-perf, llmdbench" {
		t.Errorf("wide-ep guidellm: %v", err)
	}
	_, err = LoadFor("pd", config.HarnessGuideLLM)
	if !errors.Is(err, ErrNoHarnessWorkloads) {
		t.Errorf("pd guidellm: %v", err)
	}
	// A GuideLLM preset with an inference-perf variant: the native generator reads that variant.
	for _, h := range []string{config.HarnessNative, config.HarnessInferencePerf} {
		doc, err := LoadFor("workload-autoscaling", h)
		if err != nil {
			t.Fatalf("wva %s: %v", h, err)
		}
		if name, _ := doc.Lookup("harness", "name"); name != config.HarnessInferencePerf || strings.Join(doc.Workloads(), ",") != "rate_comparison" {
			t.Errorf("wva %s: harness %s, workloads %v", h, name, doc.Workloads())
		}
	}
	// nop sends no load: any preset's base file does.
	base, _ := Source("wva-inference-scheduling")
	if got, err := SourceFor("workload-autoscaling", config.HarnessNop); err != nil || string(got) != string(base) {
		t.Errorf("nop: %v", err)
	}
	// A variant is its own file, with its own harness.name.
	if doc, err := LoadFor("pd", config.HarnessVLLMBenchmark); err != nil {
		t.Error(err)
	} else if h, _ := doc.Lookup("harness", "name"); h != config.HarnessVLLMBenchmark || strings.Join(doc.Workloads(), ",") != "random_concurrent" {
		t.Errorf("pd vllm-benchmark: harness %s, workloads %v", h, doc.Workloads())
	}
}

func TestSourceLine(t *testing.T) {
	for in, want := range map[string]string{
		"# kubectl llmdbench preset: x\n# source: a b (2026-01)\nendpoint:\n": "a b (2026-01)",
		"# no source here\nendpoint:\n# source: too late\n":                   "",
		"endpoint:\n": "",
	} {
		if got := sourceLine([]byte(in)); got != want {
			t.Errorf("sourceLine(%q) = %q, want %q", in, got, want)
		}
	}
}
