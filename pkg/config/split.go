package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// Splitting one workload's load among the N launchers of a run (parallelism mode split).
//
// Launcher index i of count N gets, from the profile as written:
//   - each request rate (requests per second) divided by N, as a float written in fixed notation
//     with the fewest digits that read back as the same float64 (strconv 'f', -1), so Python's
//     float() and YAML 1.1 loaders read exactly that value; every launcher gets the same rate;
//   - each whole count (a concurrency level, a number of requests or prompts) split as
//     total/N, plus one for the launchers whose index is below total mod N (lower indexes get
//     the remainder), so the shares add up to the total exactly;
//   - its own random seed where the harness has one, derived from the profile's seed (or the
//     harness's documented default) so that launchers do not send identical prompts or arrival
//     sequences (see each harness below for the derivation).
//
// A launcher that would get nothing (a count below N, or a rate stage that gives it no
// request) and a load shape whose split would not offer the profile's load (adaptive sweeps,
// trace replays, one-at-a-time profiles) are refused with a *SplitError naming the field.
// The harness keys and defaults read here are those of inference-perf v0.6.1 (as checkProfile),
// GuideLLM v0.5.0 (the commit the llm-d-benchmark v0.4.0 image pins) and vLLM's
// benchmarks/benchmark_serving.py; SplitProfile's comment names the file of each.

// SplitError says why a profile's load cannot be shared among launchers. It wraps ErrSplit.
type SplitError struct {
	// Field is where in the profile, as a path: load.stages[2].concurrency_level, rate, num-prompts.
	Field string
	// Reason completes the sentence "<Field> <Reason>", with how to proceed.
	Reason string
}

func (e *SplitError) Error() string { return e.Field + " " + e.Reason }

// Unwrap lets errors.Is(err, ErrSplit) match.
func (e *SplitError) Unwrap() error { return ErrSplit }

// The way out every refusal offers, in the config's own terms.
const splitRemedy = "use fewer launchers (harness.parallelism) or harness.parallelism_mode: replicate"

// seedStride spaces the inference-perf base seeds of launchers: inference-perf (v0.6.1,
// inference_perf/loadgen/load_generator.py) seeds worker w with base_seed + w, so launcher
// seeds one apart would give launcher i's worker 1 the seed of launcher i+1's worker 0. With
// base_seed + index·65536 the worker seeds of different launchers never meet while a launcher
// has fewer than 65536 workers.
const seedStride = 1 << 16

// Defaults the harnesses apply when a key is absent, for the keys a split must write.
const (
	// guideLLMDefaultSeed: BenchmarkGenerativeTextArgs.random_seed's default (GuideLLM v0.5.0,
	// src/guidellm/benchmark/schemas/generative/entrypoints.py).
	guideLLMDefaultSeed = 42
	// vllmDefaultSeed and vllmDefaultPrompts: --seed and --num-prompts defaults of vLLM's
	// benchmarks/benchmark_serving.py (and of its bench_serving fork run for inferencemax).
	vllmDefaultSeed    = 0
	vllmDefaultPrompts = 1000
)

// SplitProfile rewrites one workload profile (harness-native YAML, as Workload.Profile holds it)
// so that launcher index (0 to count-1) of count offers its share of the profile's load; see the
// comment at the top of this file for the rules. count 1 returns profile unchanged, byte for
// byte. Comments and key order are kept; the output is YAML as the ConfigMap holds it.
//
// Per harness:
//   - inference-perf (load section of inference_perf/config/loadgen/config.py, v0.6.1): constant
//     and poisson stages get rate/N (duration unchanged; each launcher must get at least one
//     request, int(rate/N·duration) ≥ 1, inference-perf's own request count for a stage).
//     As each launcher truncates int(rate/N·duration), a stage may send up to N-1 requests fewer
//     in all than int(rate·duration); the offered rate is the profile's. Concurrent stages get
//     their share of concurrency_level and of num_requests. load.base_seed, when set, becomes
//     base_seed + index·65536; when unset none is written and inference-perf seeds each launcher
//     from its own start time in milliseconds (distinct unless launchers start within a few ms
//     of each other: set base_seed for reproducible, distinct launchers). data.shared_prefix.seed
//     is kept: every launcher must send the profile's prefixes. load.sweep, trace_replay and
//     trace_session_replay are refused.
//   - guidellm (scenario keys of GuideLLM v0.5.0; a key may be written with _ or -): profile
//     constant, poisson and async get each rate/N; concurrent gets its share of each stream count
//     in rate; throughput gets its share of rate[0], its concurrency cap; max_requests is shared;
//     random_seed (default 42) becomes seed + index. sweep (the default profile), synchronous
//     and replay are refused.
//   - vllm-benchmark and inferencemax (benchmark_serving.py flags, flat): request-rate/N unless it
//     is inf; max-concurrency and num-prompts (default 1000, then written) are shared; seed
//     (default 0) becomes seed + index.
//   - nop sends no load: its profile is returned unchanged.
//   - aiperf is not split: one launcher gets its profile unchanged, more are refused.
//
// Errors: index or count out of range; a profile that is not a YAML mapping; a refusal, as a
// *SplitError (errors.Is ErrSplit); the native harness (llmdbench), which splits its own load
// in the launcher; any other harness name (errors.Is ErrUnknownHarness).
func SplitProfile(harness string, profile []byte, index, count int) ([]byte, error) {
	if count < 1 || index < 0 || index >= count {
		return nil, fmt.Errorf("launcher %d of %d does not exist: the index must be 0 to count-1, and count 1 or more", index, count)
	}
	switch harness {
	case HarnessInferencePerf, HarnessGuideLLM, HarnessVLLMBenchmark, HarnessInferenceMAX, HarnessNop:
	case HarnessAIPerf:
		if count > 1 {
			return nil, &SplitError{Field: "the aiperf profile", Reason: "is not split among launchers (its concurrency, request-rate and request-count are not rewritten): " + splitRemedy}
		}
	case HarnessNative:
		return nil, fmt.Errorf("the %s harness splits its own load in each launcher; its profile is not rewritten", harness)
	default:
		return nil, fmt.Errorf("harness %q is %w: cannot split its load", harness, ErrUnknownHarness)
	}
	if count == 1 || harness == HarnessNop {
		return profile, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(profile, &doc); err != nil {
		return nil, fmt.Errorf("the profile is not YAML: %w", err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	root = explode(root)
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the profile is not a mapping of harness keys")
	}
	s := splitter{index: index, count: count}
	var err error
	switch harness {
	case HarnessInferencePerf:
		err = s.inferencePerf(root)
	case HarnessGuideLLM:
		err = s.guideLLM(root)
	case HarnessVLLMBenchmark, HarnessInferenceMAX:
		err = s.vllmBench(root)
	}
	if err != nil {
		return nil, err
	}
	return encode(root)
}

// ShareCount is launcher index's share of total among count launchers: total/count, plus one
// when index < total mod count. The shares of indexes 0 to count-1 add up to total.
func ShareCount(total int64, index, count int) int64 {
	c := int64(count)
	share := total / c
	if int64(index) < total%c {
		share++
	}
	return share
}

type splitter struct{ index, count int }

// refuse builds the *SplitError for field.
func refuse(field, format string, args ...any) error {
	return &SplitError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// rate divides the rate n holds by the count, in place.
func (s splitter) rate(n *yaml.Node, field string) (float64, error) {
	r, err := s.number(n, field)
	if err != nil {
		return 0, err
	}
	if !(r > 0) || math.IsInf(r, 0) {
		return 0, refuse(field, "%s is not a rate above 0 to split", n.Value)
	}
	share := r / float64(s.count)
	setNumber(n, share)
	return share, nil
}

// whole replaces the whole count n holds by the launcher's share, refusing a count that would
// leave a launcher with none.
func (s splitter) whole(n *yaml.Node, field, what string) (int64, error) {
	v, err := s.number(n, field)
	if err != nil {
		return 0, err
	}
	if v != math.Trunc(v) || v < 1 || v >= math.MaxInt64 {
		return 0, refuse(field, "%s is not a whole number of 1 or more to split", n.Value)
	}
	total := int64(v)
	if total < int64(s.count) {
		left := fmt.Sprintf("launchers %d to %d", total, s.count-1)
		if total == int64(s.count-1) {
			left = fmt.Sprintf("launcher %d", total)
		}
		return 0, refuse(field, "%d cannot be shared by %d launchers: %s would get no %s; raise it to %d or more, or %s",
			total, s.count, left, what, s.count, splitRemedy)
	}
	share := ShareCount(total, s.index, s.count)
	setNumber(n, float64(share))
	return share, nil
}

func (s splitter) number(n *yaml.Node, field string) (float64, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, refuse(field, "is not a single number")
	}
	v, err := strconv.ParseFloat(n.Value, 64)
	if err != nil || math.IsNaN(v) {
		return 0, refuse(field, "%q is not a number", n.Value)
	}
	return v, nil
}

// seed sets key to base + offset, where base is the profile's value, or def when it has none.
func seed(root *yaml.Node, key string, def, offset int64) error {
	n, name := mapValue(root, key), key
	base := def
	if n != nil && n.Tag != "!!null" {
		v, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil || n.Kind != yaml.ScalarNode {
			return refuse(name, "%q is not a whole-number seed", n.Value)
		}
		base = v
	}
	if offset > 0 && base > math.MaxInt64-offset {
		return refuse(name, "%d is too large to derive the launchers' seeds from: use a smaller seed", base)
	}
	v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(base+offset, 10)}
	if n != nil {
		n.Kind, n.Tag, n.Value, n.Style = yaml.ScalarNode, "!!int", v.Value, 0
		return nil
	}
	setKey(root, key, v)
	return nil
}

// setNumber writes v into n in place (comments stay) as number() writes it.
func setNumber(n *yaml.Node, v float64) {
	w := number(v)
	n.Tag, n.Value, n.Style = w.Tag, w.Value, 0
}

// inference-perf load types whose split is refused, with the reason.
var ipUnsplittable = map[string]string{
	"trace_replay":         "replays a trace's own request times; every launcher would replay all of it: " + splitRemedy,
	"trace_session_replay": "replays a trace's sessions; every launcher would replay all of them: " + splitRemedy,
}

func (s splitter) inferencePerf(root *yaml.Node) error {
	load := mapValue(root, "load")
	if load == nil || load.Kind != yaml.MappingNode {
		return refuse("load", "is missing: there are no stages to split")
	}
	if sw := mapValue(load, "sweep"); sw != nil && sw.Tag != "!!null" {
		return refuse("load.sweep", "probes the saturation rate from each launcher alone, so the launchers' stages would not add up to one sweep: write load.stages, or %s", splitRemedy)
	}
	typ := "constant" // LoadConfig's default
	if t := mapValue(load, "type"); t != nil && t.Tag != "!!null" {
		typ = t.Value
	}
	if why, ok := ipUnsplittable[typ]; ok {
		return refuse("load.type", "%s %s", typ, why)
	}
	if typ != "constant" && typ != "poisson" && typ != "concurrent" {
		return refuse("load.type", "%q is not an inference-perf load type that can be split: use constant, poisson or concurrent", typ)
	}
	stages := mapValue(load, "stages")
	if stages == nil || stages.Kind != yaml.SequenceNode || len(stages.Content) == 0 {
		return refuse("load.stages", "is empty: there are no stages to split")
	}
	for i, st := range stages.Content {
		at := fmt.Sprintf("load.stages[%d]", i)
		if st.Kind != yaml.MappingNode {
			return refuse(at, "is not a mapping")
		}
		if typ == "concurrent" {
			for _, k := range []struct{ key, what string }{{"concurrency_level", "concurrency"}, {"num_requests", "requests"}} {
				n := mapValue(st, k.key)
				if n == nil {
					return refuse(at, "has no %s: a concurrent stage needs num_requests and concurrency_level", k.key)
				}
				if _, err := s.whole(n, at+"."+k.key, k.what); err != nil {
					return err
				}
			}
			continue
		}
		rn, dn := mapValue(st, "rate"), mapValue(st, "duration")
		if rn == nil || dn == nil {
			return refuse(at, "needs a rate and a duration to split")
		}
		orig := rn.Value
		share, err := s.rate(rn, at+".rate")
		if err != nil {
			return err
		}
		d, err := s.number(dn, at+".duration")
		if err != nil {
			return err
		}
		// inference-perf sends int(rate × duration) requests in a stage (load_generator.py).
		if share*d < 1 {
			return refuse(at+".rate", "%s over %s s cannot be shared by %d launchers: each would get rate %s and send int(%s × %s) = 0 requests; raise the rate or the duration, or %s",
				orig, dn.Value, s.count, rn.Value, rn.Value, dn.Value, splitRemedy)
		}
	}
	if n := mapValue(load, "base_seed"); n != nil && n.Tag != "!!null" {
		return seed(load, "base_seed", 0, int64(s.index)*seedStride)
	}
	return nil
}

// GuideLLM profiles whose split is refused, with the reason.
var guideLLMUnsplittable = map[string]string{
	"sweep":       "(GuideLLM's default profile) measures each launcher's synchronous and maximum throughput and sweeps between them, so the launchers' benchmarks would not add up to one sweep: use profile constant, poisson or concurrent, or " + splitRemedy,
	"synchronous": "sends one request at a time; N launchers would send N at a time: use profile concurrent, or " + splitRemedy,
	"replay":      "replays a trace's own request times; every launcher would replay all of it: " + splitRemedy,
}

// guideLLMKey finds key in its _ or - spelling (GuideLLM accepts both), returning the spelling used.
func guideLLMKey(root *yaml.Node, key string) (*yaml.Node, string) {
	if n := mapValue(root, key); n != nil {
		return n, key
	}
	alt := strings.ReplaceAll(key, "_", "-")
	return mapValue(root, alt), alt
}

func (s splitter) guideLLM(root *yaml.Node) error {
	profile := "sweep" // BenchmarkGenerativeTextArgs.profile's default
	if p := mapValue(root, "profile"); p != nil && p.Tag != "!!null" {
		profile = p.Value
	}
	if why, ok := guideLLMUnsplittable[profile]; ok {
		return refuse("profile", "%s %s", profile, why)
	}
	var rates []*yaml.Node
	rn := mapValue(root, "rate")
	switch {
	case rn == nil || rn.Tag == "!!null":
		return refuse("rate", "is missing: GuideLLM's %s profile needs it", profile)
	case rn.Kind == yaml.SequenceNode:
		rates = rn.Content
	case rn.Kind == yaml.ScalarNode:
		rates = []*yaml.Node{rn}
	default:
		return refuse("rate", "is not a number or a list of numbers")
	}
	if len(rates) == 0 {
		return refuse("rate", "is an empty list: GuideLLM's %s profile needs a rate", profile)
	}
	field := func(i int) string {
		if rn.Kind == yaml.SequenceNode {
			return fmt.Sprintf("rate[%d]", i)
		}
		return "rate"
	}
	switch profile {
	case "constant", "poisson", "async":
		for i, n := range rates {
			if _, err := s.rate(n, field(i)); err != nil {
				return err
			}
		}
	case "concurrent":
		for i, n := range rates {
			if _, err := s.whole(n, field(i), "streams"); err != nil {
				return err
			}
		}
	case "throughput":
		// Only rate[0] is read: the throughput profile's max_concurrency (profiles.py).
		if _, err := s.whole(rates[0], field(0), "concurrency"); err != nil {
			return err
		}
	default:
		return refuse("profile", "%q is not a GuideLLM profile that can be split: use constant, poisson, async, concurrent or throughput", profile)
	}
	if n, name := guideLLMKey(root, "max_requests"); n != nil && n.Tag != "!!null" {
		if _, err := s.whole(n, name, "requests"); err != nil {
			return err
		}
	}
	name := "random_seed"
	if n, spelt := guideLLMKey(root, name); n != nil {
		name = spelt
	}
	return seed(root, name, guideLLMDefaultSeed, int64(s.index))
}

func (s splitter) vllmBench(root *yaml.Node) error {
	// inf (the default) sends every prompt at once: sharing num-prompts shares that burst.
	if n := mapValue(root, "request-rate"); n != nil && n.Tag != "!!null" {
		if v, err := strconv.ParseFloat(n.Value, 64); err != nil || !math.IsInf(v, 1) {
			if _, err := s.rate(n, "request-rate"); err != nil {
				return err
			}
		}
	}
	if n := mapValue(root, "max-concurrency"); n != nil && n.Tag != "!!null" {
		if _, err := s.whole(n, "max-concurrency", "concurrency"); err != nil {
			return err
		}
	}
	n := mapValue(root, "num-prompts")
	if n == nil || n.Tag == "!!null" {
		n = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(vllmDefaultPrompts)}
		setKey(root, "num-prompts", n)
	}
	if _, err := s.whole(n, "num-prompts", "prompts"); err != nil {
		return err
	}
	return seed(root, "seed", vllmDefaultSeed, int64(s.index))
}

// CheckSplit refuses, before anything is created, a run whose workloads cannot be split: with
// harness.parallelism above 1 in split mode it splits every workload for every launcher index
// and returns the first refusal, wrapped with the workload's name. It returns nil for
// parallelism 1, replicate mode, and the native harness (llmdbench), whose split the load
// generator itself checks (loadgen.CheckSplit).
func (c *Config) CheckSplit() error {
	h := c.Harness
	if h.Parallelism <= 1 || h.ParallelismMode == runstate.ModeReplicate || h.Name == HarnessNative {
		return nil
	}
	for _, w := range c.Workloads {
		for i := 0; i < h.Parallelism; i++ {
			if _, err := SplitProfile(h.Name, w.Profile, i, h.Parallelism); err != nil {
				return fmt.Errorf("workload %s: %w", w.Name, err)
			}
		}
	}
	return nil
}
