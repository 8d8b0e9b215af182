package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// presetConfig resolves one of the plugin's real presets (pkg/preset/presets) with parallelism
// and mode written into it as the flags would.
func presetConfig(t *testing.T, file string, parallelism int, mode string) *Config {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "preset", "presets", file))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Parse(file, data)
	if err != nil {
		t.Fatal(err)
	}
	doc.Apply(Overrides{Parallelism: &parallelism, ParallelismMode: mode})
	cfg, _, err := doc.Resolve(Options{Variables: guideVars()})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func workload(t *testing.T, cfg *Config, name string) Workload {
	t.Helper()
	for _, w := range cfg.Workloads {
		if w.Name == name {
			return w
		}
	}
	t.Fatalf("no workload %s in %s", name, cfg.Source)
	return Workload{}
}

func mustSplit(t *testing.T, harness string, profile []byte, index, count int) (string, map[string]any) {
	t.Helper()
	out, err := SplitProfile(harness, profile, index, count)
	if err != nil {
		t.Fatalf("SplitProfile(%s, launcher %d of %d): %v", harness, index, count, err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(out, &m); err != nil {
		t.Fatalf("the split profile is not YAML: %v\n%s", err, out)
	}
	return string(out), m
}

func stagesOf(t *testing.T, m map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, s := range m["load"].(map[string]any)["stages"].([]any) {
		out = append(out, s.(map[string]any))
	}
	return out
}

// withoutStages is the decoded profile with load.stages (and load.base_seed) removed, to check
// that nothing else changed.
func withoutStages(t *testing.T, profile []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(profile, &m); err != nil {
		t.Fatal(err)
	}
	load := m["load"].(map[string]any)
	delete(load, "stages")
	delete(load, "base_seed")
	return m
}

// The inference-scheduling preset's constant-rate stages: every launcher gets rate/N. The rates
// were computed with python3 (repr(r/3)), whose float formatting the harness reads back.
func TestSplitInferenceSchedulingPresetRates(t *testing.T) {
	cfg := presetConfig(t, "inference-scheduling.yaml", 3, "")
	w := workload(t, cfg, "shared_prefix_synthetic")
	want := []string{"0.6666666666666666", "1.6666666666666667", "2.6666666666666665", "3.3333333333333335", "4", "5", "6.666666666666667"}
	for i := 0; i < 3; i++ {
		text, m := mustSplit(t, HarnessInferencePerf, w.Profile, i, 3)
		stages := stagesOf(t, m)
		if len(stages) != len(want) {
			t.Fatalf("launcher %d: %d stages, want %d", i, len(stages), len(want))
		}
		for j, st := range stages {
			wantRate, _ := strconv.ParseFloat(want[j], 64)
			got, _ := toFloat(st["rate"])
			if got != wantRate || st["duration"] != 50 {
				t.Errorf("launcher %d stage %d: %v, want rate %s duration 50", i, j, st, want[j])
			}
			if !strings.Contains(text, "rate: "+want[j]+"\n") {
				t.Errorf("launcher %d: rate %s is not written as %q:\n%s", i, want[j], want[j], text)
			}
		}
		// Everything but the stages is the profile's: data (shared-prefix groups and their
		// seed) stays whole on every launcher.
		_, m2 := mustSplit(t, HarnessInferencePerf, w.Profile, i, 3)
		delete(m2["load"].(map[string]any), "stages")
		if !reflect.DeepEqual(m2, withoutStages(t, w.Profile)) {
			t.Errorf("launcher %d: keys other than load.stages changed:\n%v", i, m2)
		}
	}
	// Comments stay (the sanity workload's data section is commented).
	text, _ := mustSplit(t, HarnessInferencePerf, workload(t, cfg, "sanity_random").Profile, 1, 3)
	if !strings.Contains(text, "rate: 0.3333333333333333") || !strings.Contains(text, "# min length of the synthetic prompts") {
		t.Errorf("sanity_random launcher 1 of 3:\n%s", text)
	}
}

// rate 1 for 30 s: inference-perf sends int(rate × duration) requests. 1/30 × 30 = 1.0 (one
// request each for 30 launchers); 1/31 × 30 = 0.967… gives int 0: refused (python3:
// (1/30)*30 == 1.0, int((1/31)*30) == 0). Likewise rate 2 for 50 s: 100 launchers, not 101.
func TestSplitRefusesALauncherWithNoRequest(t *testing.T) {
	cfg := presetConfig(t, "inference-scheduling.yaml", 1, "")
	sanity := workload(t, cfg, "sanity_random").Profile
	if _, m := mustSplit(t, HarnessInferencePerf, sanity, 29, 30); stagesOf(t, m)[0]["rate"] != 0.03333333333333333 {
		t.Errorf("launcher 29 of 30: %v", stagesOf(t, m))
	}
	_, err := SplitProfile(HarnessInferencePerf, sanity, 0, 31)
	wantSplitError(t, err, "load.stages[0].rate", "load.stages[0].rate 1 over 30 s cannot be shared by 31 launchers: each would get rate 0.03225806451612903 and send int(0.03225806451612903 × 30) = 0 requests")

	shared := workload(t, cfg, "shared_prefix_synthetic").Profile
	if _, err := SplitProfile(HarnessInferencePerf, shared, 99, 100); err != nil {
		t.Errorf("100 launchers: %v", err)
	}
	_, err = SplitProfile(HarnessInferencePerf, shared, 0, 101)
	wantSplitError(t, err, "load.stages[0].rate", "load.stages[0].rate 2 over 50 s cannot be shared by 101 launchers")
}

// The pd preset's concurrent stages: counts shared with remainders to the lowest indexes
// (by hand: 500 = 167+167+166, 50 = 17+17+16, 1000 = 334+333+333, 100 = 34+33+33,
// 2000 = 667+667+666, 200 = 67+67+66, 3000 = 3×1000, 300 = 3×100, 4000 = 1334+1333+1333,
// 400 = 134+133+133).
func TestSplitPDPresetConcurrency(t *testing.T) {
	cfg := presetConfig(t, "pd.yaml", 3, "")
	w := workload(t, cfg, "sanity_random")
	want := [3][5][2]int{ // [launcher][stage]{num_requests, concurrency_level}
		{{167, 17}, {334, 34}, {667, 67}, {1000, 100}, {1334, 134}},
		{{167, 17}, {333, 33}, {667, 67}, {1000, 100}, {1333, 133}},
		{{166, 16}, {333, 33}, {666, 66}, {1000, 100}, {1333, 133}},
	}
	for i := 0; i < 3; i++ {
		_, m := mustSplit(t, HarnessInferencePerf, w.Profile, i, 3)
		for j, st := range stagesOf(t, m) {
			if st["num_requests"] != want[i][j][0] || st["concurrency_level"] != want[i][j][1] {
				t.Errorf("launcher %d stage %d: %v, want num_requests %d concurrency_level %d", i, j, st, want[i][j][0], want[i][j][1])
			}
		}
		load := m["load"].(map[string]any)
		// Per-launcher capacity is not load: it stays as written.
		if load["num_workers"] != 45 || load["worker_max_concurrency"] != 10 || load["type"] != "concurrent" {
			t.Errorf("launcher %d: load %v", i, load)
		}
	}
	_, err := SplitProfile(HarnessInferencePerf, w.Profile, 0, 51)
	wantSplitError(t, err, "load.stages[0].concurrency_level", "load.stages[0].concurrency_level 50 cannot be shared by 51 launchers: launcher 50 would get no concurrency; raise it to 51 or more, or use fewer launchers (harness.parallelism) or harness.parallelism_mode: replicate")
}

// The wide-ep preset: 4 launchers divide exactly; 7 do not (python3: repr(r/7)).
func TestSplitWideEPPresetRates(t *testing.T) {
	cfg := presetConfig(t, "wide-ep.yaml", 1, "")
	w := workload(t, cfg, "sanity_random")
	for _, tc := range []struct {
		count int
		want  []float64
	}{
		{4, []float64{20, 25, 37.5, 50, 62.5}},
		{7, []float64{11.428571428571429, 14.285714285714286, 21.428571428571427, 28.571428571428573, 35.714285714285715}},
	} {
		_, m := mustSplit(t, HarnessInferencePerf, w.Profile, tc.count-1, tc.count)
		for j, st := range stagesOf(t, m) {
			if got, _ := toFloat(st["rate"]); got != tc.want[j] || st["duration"] != 30 {
				t.Errorf("%d launchers, stage %d: %v, want rate %v", tc.count, j, st, tc.want[j])
			}
		}
	}
}

// load.base_seed, when set, is spaced by 65536 per launcher (inference-perf seeds its workers
// base_seed + worker id); when unset none is written (inference-perf seeds from the clock).
func TestSplitInferencePerfSeed(t *testing.T) {
	const p = "load:\n  type: poisson\n  stages: [{rate: 9, duration: 10}]\n  base_seed: 42\n"
	for i, want := range []int{42, 65578, 131114} { // 42 + i·65536, by hand
		_, m := mustSplit(t, HarnessInferencePerf, []byte(p), i, 3)
		load := m["load"].(map[string]any)
		if load["base_seed"] != want || stagesOf(t, m)[0]["rate"] != 3 || load["type"] != "poisson" {
			t.Errorf("launcher %d: %v, want base_seed %d and rate 3", i, load, want)
		}
	}
	text, _ := mustSplit(t, HarnessInferencePerf, []byte("load:\n  stages: [{rate: 9, duration: 10}]\n"), 2, 3)
	if strings.Contains(text, "seed") {
		t.Errorf("a seed was written where the profile has none:\n%s", text)
	}
}

func TestSplitGuideLLM(t *testing.T) {
	cases := []struct {
		name, profile string
		index, count  int
		want          map[string]any
	}{
		{
			// rates/4 = 0.25, 0.625, 2.5; seed 42 (GuideLLM's default) + 3; max_seconds kept.
			name: "constant list", profile: "profile: constant\nrate: [1, 2.5, 10]\nmax_seconds: 30\n", index: 3, count: 4,
			want: map[string]any{"profile": "constant", "rate": []any{0.25, 0.625, 2.5}, "max_seconds": 30, "random_seed": 45},
		},
		{
			// 5/3 = 1.6666666666666667 (python3); 10 requests = 4+3+3; the hyphen spellings stay.
			name: "poisson scalar, hyphen keys", profile: "profile: poisson\nrate: 5\nmax-requests: 10\nrandom-seed: 7\n", index: 0, count: 3,
			want: map[string]any{"profile": "poisson", "rate": 1.6666666666666667, "max-requests": 4, "random-seed": 7},
		},
		{
			name: "poisson scalar, last launcher", profile: "profile: poisson\nrate: 5\nmax-requests: 10\nrandom-seed: 7\n", index: 2, count: 3,
			want: map[string]any{"profile": "poisson", "rate": 1.6666666666666667, "max-requests": 3, "random-seed": 9},
		},
		{
			// streams 2,5,8 over 2 = 1+1, 3+2, 4+4; 101 requests = 51+50.
			name: "concurrent", profile: "profile: concurrent\nrate: [2, 5, 8]\nmax_requests: 101\n", index: 1, count: 2,
			want: map[string]any{"profile": "concurrent", "rate": []any{1, 2, 4}, "max_requests": 50, "random_seed": 43},
		},
		{
			// the throughput profile's rate[0] is its concurrency cap: 5 = 3+2.
			name: "throughput", profile: "profile: throughput\nrate: 5\n", index: 0, count: 2,
			want: map[string]any{"profile": "throughput", "rate": 3, "random_seed": 42},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, m := mustSplit(t, HarnessGuideLLM, []byte(tc.profile), tc.index, tc.count)
			if !reflect.DeepEqual(m, tc.want) {
				t.Errorf("got  %v\nwant %v", m, tc.want)
			}
		})
	}
}

func TestSplitVLLMBenchmark(t *testing.T) {
	const capped = "executable: benchmark_serving.py\nmodel: m\ndataset-name: random\nmax-concurrency: 10\nnum-prompts: 100\nseed: 5\n"
	cases := []struct {
		name, harness, profile string
		index, count           int
		want                   map[string]any
	}{
		// 10 = 4+3+3, 100 = 34+33+33, seed 5 + index.
		{"capped 0", HarnessVLLMBenchmark, capped, 0, 3, map[string]any{"executable": "benchmark_serving.py", "model": "m", "dataset-name": "random", "max-concurrency": 4, "num-prompts": 34, "seed": 5}},
		{"capped 2", HarnessVLLMBenchmark, capped, 2, 3, map[string]any{"executable": "benchmark_serving.py", "model": "m", "dataset-name": "random", "max-concurrency": 3, "num-prompts": 33, "seed": 7}},
		// 7.5/2 = 3.75; num-prompts absent is benchmark_serving.py's 1000 = 500+500; seed 0 + 1.
		{"rate, default prompts", HarnessVLLMBenchmark, "executable: b.py\nrequest-rate: 7.5\n", 1, 2, map[string]any{"executable": "b.py", "request-rate": 3.75, "num-prompts": 500, "seed": 1}},
		// inf sends all prompts at once: the burst is shared, the rate stays inf.
		{"inf", HarnessVLLMBenchmark, "executable: b.py\nrequest-rate: inf\nnum-prompts: 7\n", 0, 2, map[string]any{"executable": "b.py", "request-rate": "inf", "num-prompts": 4, "seed": 0}},
		// inferencemax runs a fork of the same script, with the same flags.
		{"inferencemax", HarnessInferenceMAX, "executable: benchmark_serving.py\nmax-concurrency: 64\nnum-prompts: 640\n", 3, 4, map[string]any{"executable": "benchmark_serving.py", "max-concurrency": 16, "num-prompts": 160, "seed": 3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, m := mustSplit(t, tc.harness, []byte(tc.profile), tc.index, tc.count)
			if !reflect.DeepEqual(m, tc.want) {
				t.Errorf("got  %v\nwant %v", m, tc.want)
			}
		})
	}
}

// One launcher: the profile as given, byte for byte, for every harness; nop sends no load.
func TestSplitOneLauncherUnchanged(t *testing.T) {
	odd := []byte("# keep me\nload:    {type: constant,   stages: [ {rate: 3, duration: 9} ]}\nrate: [1,2]\n")
	for _, h := range []string{HarnessInferencePerf, HarnessGuideLLM, HarnessVLLMBenchmark, HarnessInferenceMAX, HarnessNop} {
		out, err := SplitProfile(h, odd, 0, 1)
		if err != nil || !bytes.Equal(out, odd) {
			t.Errorf("%s: %q, %v; want the input unchanged", h, out, err)
		}
	}
	if out, err := SplitProfile(HarnessNop, odd, 2, 3); err != nil || !bytes.Equal(out, odd) {
		t.Errorf("nop, 3 launchers: %q, %v; want the input unchanged", out, err)
	}
}

func wantSplitError(t *testing.T, err error, field, msg string) {
	t.Helper()
	var se *SplitError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a *SplitError", err)
	}
	if se.Field != field {
		t.Errorf("field %q, want %q", se.Field, field)
	}
	if !errors.Is(err, ErrSplit) {
		t.Errorf("error %q does not wrap ErrSplit", err)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q\nwant it to contain %q", err, msg)
	}
	if strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "--") {
		t.Errorf("error %q spans lines or names a flag", err)
	}
}

func TestSplitRefusals(t *testing.T) {
	cases := []struct {
		name, harness, profile string
		count                  int
		field, msg             string
	}{
		{"ip sweep", HarnessInferencePerf, "load: {type: constant, sweep: {type: linear}}\n", 2, "load.sweep", "load.sweep probes the saturation rate from each launcher alone"},
		{"ip trace replay", HarnessInferencePerf, "load: {type: trace_replay, stages: [{rate: 1, duration: 5}]}\n", 2, "load.type", "load.type trace_replay replays a trace's own request times"},
		{"ip session replay", HarnessInferencePerf, "load: {type: trace_session_replay, stages: [{concurrent_sessions: 4}]}\n", 2, "load.type", "load.type trace_session_replay replays a trace's sessions"},
		{"ip unknown type", HarnessInferencePerf, "load: {type: burst, stages: [{rate: 1, duration: 5}]}\n", 2, "load.type", `load.type "burst" is not an inference-perf load type that can be split`},
		{"ip no load", HarnessInferencePerf, "api: {type: completion}\n", 2, "load", "load is missing"},
		{"ip no stages", HarnessInferencePerf, "load: {type: constant}\n", 2, "load.stages", "load.stages is empty"},
		{"ip zero rate", HarnessInferencePerf, "load: {stages: [{rate: 0, duration: 5}]}\n", 2, "load.stages[0].rate", "load.stages[0].rate 0 is not a rate above 0 to split"},
		{"ip text rate", HarnessInferencePerf, "load: {stages: [{rate: fast, duration: 5}]}\n", 2, "load.stages[0].rate", `load.stages[0].rate "fast" is not a number`},
		{"ip no duration", HarnessInferencePerf, "load: {stages: [{rate: 4}]}\n", 2, "load.stages[0]", "load.stages[0] needs a rate and a duration to split"},
		{"ip concurrent without level", HarnessInferencePerf, "load: {type: concurrent, stages: [{num_requests: 10}]}\n", 2, "load.stages[0]", "load.stages[0] has no concurrency_level"},
		{"ip fractional requests", HarnessInferencePerf, "load: {type: concurrent, stages: [{num_requests: 10.5, concurrency_level: 4}]}\n", 2, "load.stages[0].num_requests", "load.stages[0].num_requests 10.5 is not a whole number of 1 or more to split"},
		{"ip requests below count", HarnessInferencePerf, "load: {type: concurrent, stages: [{num_requests: 2, concurrency_level: 8}]}\n", 5, "load.stages[0].num_requests", "load.stages[0].num_requests 2 cannot be shared by 5 launchers: launchers 2 to 4 would get no requests"},
		{"ip seed not a number", HarnessInferencePerf, "load: {stages: [{rate: 4, duration: 5}], base_seed: abc}\n", 2, "base_seed", `base_seed "abc" is not a whole-number seed`},
		{"guidellm default sweep", HarnessGuideLLM, "rate: 4\nmax_seconds: 30\n", 2, "profile", "profile sweep (GuideLLM's default profile) measures each launcher's synchronous and maximum throughput"},
		{"guidellm synchronous", HarnessGuideLLM, "profile: synchronous\n", 2, "profile", "profile synchronous sends one request at a time; N launchers would send N at a time"},
		{"guidellm replay", HarnessGuideLLM, "profile: replay\nrate: 1\n", 2, "profile", "profile replay replays a trace's own request times"},
		{"guidellm unknown profile", HarnessGuideLLM, "profile: burst\nrate: 1\n", 2, "profile", `profile "burst" is not a GuideLLM profile that can be split`},
		{"guidellm no rate", HarnessGuideLLM, "profile: constant\n", 2, "rate", "rate is missing: GuideLLM's constant profile needs it"},
		{"guidellm empty rate", HarnessGuideLLM, "profile: constant\nrate: []\n", 2, "rate", "rate is an empty list"},
		{"guidellm streams below count", HarnessGuideLLM, "profile: concurrent\nrate: [4, 2]\n", 3, "rate[1]", "rate[1] 2 cannot be shared by 3 launchers: launcher 2 would get no streams"},
		{"guidellm requests below count", HarnessGuideLLM, "profile: constant\nrate: 3\nmax_requests: 1\n", 2, "max_requests", "max_requests 1 cannot be shared by 2 launchers: launcher 1 would get no requests"},
		{"vllm concurrency below count", HarnessVLLMBenchmark, "executable: b.py\nmax-concurrency: 2\n", 3, "max-concurrency", "max-concurrency 2 cannot be shared by 3 launchers: launcher 2 would get no concurrency"},
		{"vllm prompts below count", HarnessVLLMBenchmark, "executable: b.py\nnum-prompts: 2\n", 3, "num-prompts", "num-prompts 2 cannot be shared by 3 launchers: launcher 2 would get no prompts"},
		{"vllm negative rate", HarnessVLLMBenchmark, "executable: b.py\nrequest-rate: -1\n", 2, "request-rate", "request-rate -1 is not a rate above 0 to split"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SplitProfile(tc.harness, []byte(tc.profile), 0, tc.count)
			wantSplitError(t, err, tc.field, tc.msg)
		})
	}
}

func TestSplitBadArguments(t *testing.T) {
	p := []byte("load: {stages: [{rate: 4, duration: 5}]}\n")
	for _, tc := range []struct {
		name, harness string
		profile       []byte
		index, count  int
		msg           string
		is            error
	}{
		{"index past the end", HarnessInferencePerf, p, 3, 3, "launcher 3 of 3 does not exist", nil},
		{"negative index", HarnessInferencePerf, p, -1, 3, "launcher -1 of 3 does not exist", nil},
		{"no launchers", HarnessInferencePerf, p, 0, 0, "launcher 0 of 0 does not exist", nil},
		{"unknown harness", "locust", p, 0, 2, `harness "locust" is not a known harness`, ErrUnknownHarness},
		{"native", HarnessNative, p, 0, 2, "the llmdbench harness splits its own load in each launcher", nil},
		{"not yaml", HarnessInferencePerf, []byte("load: [\n"), 0, 2, "the profile is not YAML", nil},
		{"not a mapping", HarnessGuideLLM, []byte("- a\n- b\n"), 0, 2, "the profile is not a mapping", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SplitProfile(tc.harness, tc.profile, tc.index, tc.count)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want it to contain %q", err, tc.msg)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q does not wrap %v", err, tc.is)
			}
			if errors.Is(err, ErrSplit) {
				t.Errorf("error %q is a split refusal; it is a bad argument", err)
			}
		})
	}
}

// ShareCount against shares worked out by hand, and the sum property over a range.
func TestShareCount(t *testing.T) {
	for _, tc := range []struct {
		total        int64
		index, count int
		want         int64
	}{
		{10, 0, 3, 4}, {10, 1, 3, 3}, {10, 2, 3, 3},
		{11, 0, 3, 4}, {11, 1, 3, 4}, {11, 2, 3, 3},
		{3, 2, 3, 1}, {2, 2, 3, 0}, {7, 0, 1, 7},
	} {
		if got := ShareCount(tc.total, tc.index, tc.count); got != tc.want {
			t.Errorf("ShareCount(%d, %d, %d) = %d, want %d", tc.total, tc.index, tc.count, got, tc.want)
		}
	}
	for total := int64(0); total < 40; total++ {
		for count := 1; count < 9; count++ {
			var sum int64
			for i := 0; i < count; i++ {
				sum += ShareCount(total, i, count)
			}
			if sum != total {
				t.Errorf("shares of %d among %d add up to %d", total, count, sum)
			}
		}
	}
}

func TestCheckSplit(t *testing.T) {
	if err := presetConfig(t, "pd.yaml", 3, "").CheckSplit(); err != nil {
		t.Errorf("pd, 3 launchers: %v", err)
	}
	err := presetConfig(t, "pd.yaml", 51, "").CheckSplit()
	if err == nil || !errors.Is(err, ErrSplit) || !strings.HasPrefix(err.Error(), "workload sanity_random: load.stages[0].concurrency_level 50 cannot be shared by 51 launchers") {
		t.Errorf("pd, 51 launchers: %v", err)
	}
	// The second workload is the one refused: 101 launchers leave rate 2 for 50 s with nothing.
	err = presetConfig(t, "inference-scheduling.yaml", 101, "").CheckSplit()
	if err == nil || !strings.HasPrefix(err.Error(), "workload sanity_random: load.stages[0].rate 1 over 30 s cannot be shared by 101 launchers") {
		t.Errorf("inference-scheduling, 101 launchers: %v", err)
	}
	if err := presetConfig(t, "pd.yaml", 51, runstate.ModeReplicate).CheckSplit(); err != nil {
		t.Errorf("replicate mode is not split: %v", err)
	}
	// The native generator's split is checked by the load generator, not here.
	cfg := presetConfig(t, "pd.yaml", 51, "")
	cfg.Harness.Name = HarnessNative
	if err := cfg.CheckSplit(); err != nil {
		t.Errorf("native harness: %v", err)
	}
	cfg = presetConfig(t, "pd.yaml", 1, "")
	cfg.Workloads[0].Profile = []byte("load: {type: trace_replay}\n")
	if err := cfg.CheckSplit(); err != nil {
		t.Errorf("one launcher: %v", err)
	}
}

// CheckSplit on the other harnesses: the first refusal, named by workload.
func TestCheckSplitGuideLLMAndVLLM(t *testing.T) {
	for _, tc := range []struct{ harness, profile, want string }{
		{HarnessGuideLLM, "    profile: concurrent\n    rate: 1\n    max_seconds: 30\n", "workload w: rate 1 cannot be shared by 2 launchers: launcher 1 would get no streams"},
		{HarnessVLLMBenchmark, "    executable: benchmark_serving.py\n    max-concurrency: 1\n", "workload w: max-concurrency 1 cannot be shared by 2 launchers: launcher 1 would get no concurrency"},
	} {
		cfg, _, err := mustParse(t, "c.yaml", sweepConfig(tc.harness, tc.profile)).Resolve(Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.CheckSplit(); err != nil {
			t.Errorf("%s, one launcher: %v", tc.harness, err)
		}
		cfg.Harness.Parallelism = 2
		if err := cfg.CheckSplit(); err == nil || !strings.HasPrefix(err.Error(), tc.want) || !errors.Is(err, ErrSplit) {
			t.Errorf("%s, two launchers: %v\nwant %s…", tc.harness, err, tc.want)
		}
	}
}

// aiperf's profile (aiperf profile's options, flat) goes unchanged to one launcher; it is not
// split among more.
func TestSplitProfileAIPerf(t *testing.T) {
	profile := []byte("model: m\nurl: http://gw:80\nconcurrency: 16\nrequest-count: 500\n")
	got, err := SplitProfile(HarnessAIPerf, profile, 0, 1)
	if err != nil || string(got) != string(profile) {
		t.Fatalf("one launcher: got %q, %v; want the profile unchanged", got, err)
	}
	_, err = SplitProfile(HarnessAIPerf, profile, 1, 2)
	var se *SplitError
	if !errors.As(err, &se) || !errors.Is(err, ErrSplit) || !strings.Contains(err.Error(), "harness.parallelism_mode: replicate") {
		t.Fatalf("two launchers: got %v, want a SplitError offering replicate", err)
	}
}
