// Package native proves the plugin's own load generator against llm-d's vLLM simulator
// (llm-d-inference-sim v0.10.2): its measurements against the simulator's configured latencies and
// its own /metrics, failure accounting, and the whole in-pod path — run --harness llmdbench on the
// local control plane, discovery, launcher, verdict, fetch and results show.
package native

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
	"github.com/llmdbench/kubectl-llmdbench/pkg/loadgen"
	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
	"github.com/llmdbench/kubectl-llmdbench/test/e2e/framework"
)

var cl *framework.Cluster

func TestMain(m *testing.M) {
	os.Exit(framework.Main(m, &cl))
}

const (
	model   = "Qwen/Qwen3-0.6B"
	gateway = "infra-inference-scheduling-inference-gateway" // the preset's
)

// gatewayService creates the preset's gateway Service, served on a loopback address of the local
// cluster (where a simulator listens on port 80).
func gatewayService(t *testing.T, ns, address string) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:        gateway,
			Labels:      map[string]string{cluster.GatewayNameLabel: gateway},
			Annotations: map[string]string{"localcluster.llmdbench.io/address": address},
		},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}
	if _, err := cl.Client.CoreV1().Services(ns).Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func simulator(t *testing.T, addr string, flags ...string) *framework.Simulator {
	t.Helper()
	if addr == "" {
		var err error
		if addr, err = framework.FreeLoopback(); err != nil {
			t.Fatal(err)
		}
	}
	sim, err := cl.StartSimulator(addr, model, append([]string{"--max-num-seqs", "256", "--max-model-len", "16384"}, flags...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Stop)
	return sim
}

func profile(t *testing.T, sim *framework.Simulator, api string, rate, duration float64, output int) string {
	t.Helper()
	p := fmt.Sprintf(`
load: {type: constant, interval: 0.5, stages: [{rate: %g, duration: %g}]}
api: {type: %s, streaming: true}
server: {type: vllm, model_name: %s, base_url: %s, ignore_eos: true}
data:
  type: random
  input_distribution: {min: 20, max: 60, mean: 40, std: 10, total_count: 50}
  output_distribution: {min: %d, max: %d, mean: %d, std: 0, total_count: 50}
report: {request_lifecycle: {summary: true, per_stage: true, per_request: true}}
`, rate, duration, api, model, sim.URL(), output, output, output)
	path := filepath.Join(t.TempDir(), "profile.yaml")
	if err := os.WriteFile(path, []byte(p), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func get(m map[string]any, path ...string) any {
	var v any = m
	for _, k := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

func num(t *testing.T, m map[string]any, path ...string) float64 {
	t.Helper()
	v, ok := get(m, path...).(float64)
	if !ok {
		t.Fatalf("%s is %v", strings.Join(path, "."), get(m, path...))
	}
	return v
}

// metric is a simulator metric's total over its series (Simulator.Metrics sums them: their labels
// vary by version).
func metric(m map[string]float64, name string) float64 { return m[name] }

func within(t *testing.T, what string, got, want, tolerance float64) {
	t.Helper()
	if math.Abs(got-want) > tolerance*want {
		t.Errorf("%s = %.4f, want %.4f ± %.0f%%", what, got, want, tolerance*100)
	}
}

// At moderate load the generator measures the simulator's configured TTFT and ITL within 5 %,
// agrees with the simulator's own histograms, and counts output tokens exactly (ignore_eos).
func TestAccuracyAgainstTheSimulator(t *testing.T) {
	for _, api := range []string{"completion", "chat"} {
		t.Run(api, func(t *testing.T) {
			sim := simulator(t, "", "--time-to-first-token", "100ms", "--inter-token-latency", "20ms")
			out := filepath.Join(t.TempDir(), "out")
			r := cl.Plugin(t, "", 2*time.Minute, "loadgen", "--config", profile(t, sim, api, 10, 8, 32), "--output-dir", out)
			if r.Code != 0 {
				t.Fatalf("loadgen exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
			}
			s := readJSON(t, filepath.Join(out, loadgen.SummaryFile))
			ok := num(t, s, "successes", "count")
			if ok != 80 || num(t, s, "failures", "count") != 0 {
				t.Fatalf("successes %v, failures %v", ok, get(s, "failures"))
			}
			within(t, "TTFT mean (s)", num(t, s, "successes", "latency", "time_to_first_token", "mean"), 0.100, 0.05)
			within(t, "ITL mean (s)", num(t, s, "successes", "latency", "inter_token_latency", "mean"), 0.020, 0.05)
			within(t, "ITL median (s)", num(t, s, "successes", "latency", "inter_token_latency", "median"), 0.020, 0.05)
			within(t, "TPOT mean (s)", num(t, s, "successes", "latency", "time_per_output_token", "mean"), 0.020, 0.05)
			if min, max := num(t, s, "successes", "output_len", "min"), num(t, s, "successes", "output_len", "max"); min != 32 || max != 32 {
				t.Errorf("output tokens %v..%v, want exactly 32", min, max)
			}
			if m := num(t, s, "successes", "token_count_mismatches"); m != 0 {
				t.Errorf("%v requests streamed a different number of chunks than the server counted", m)
			}
			// The simulator's own view of the same requests.
			m, err := sim.Metrics()
			if err != nil {
				t.Fatal(err)
			}
			if n := metric(m, "vllm:request_success_total"); n != ok {
				t.Errorf("simulator counted %v successes, generator %v", n, ok)
			}
			if n := metric(m, "vllm:generation_tokens_total"); n != 32*ok {
				t.Errorf("simulator generated %v tokens, generator counted %v", n, 32*ok)
			}
			serverTTFT := metric(m, "vllm:time_to_first_token_seconds_sum") / metric(m, "vllm:time_to_first_token_seconds_count")
			clientTTFT := num(t, s, "successes", "latency", "time_to_first_token", "mean")
			// The client sees the server's TTFT plus the network and relay: a little more, never less.
			if d := clientTTFT - serverTTFT; d < 0 || d > 0.005 {
				t.Errorf("client TTFT %.4f s vs the simulator's %.4f s: differ by %.4f s", clientTTFT, serverTTFT, d)
			}
			serverITL := metric(m, "vllm:inter_token_latency_seconds_sum") / metric(m, "vllm:inter_token_latency_seconds_count")
			within(t, "ITL mean vs the simulator's", num(t, s, "successes", "latency", "inter_token_latency", "mean"), serverITL, 0.05)

			// results show reads the same numbers the generator wrote.
			r = cl.Plugin(t, "", time.Minute, "results", "show", out, "-o", "json")
			if r.Code != 0 {
				t.Fatalf("results show: %s", r.Stderr)
			}
			var rep results.Report
			if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
				t.Fatal(err)
			}
			st := readJSON(t, filepath.Join(out, loadgen.StageFile(0)))
			if len(rep.Stages) != 1 || *rep.Stages[0].Latency.TTFT.P99 != num(t, st, "successes", "latency", "time_to_first_token", "p99") ||
				*rep.Stages[0].AchievedRate != num(t, st, "load_summary", "achieved_rate") {
				t.Errorf("results show disagrees with the stage file: %+v", rep.Stages)
			}
		})
	}
}

// Requests the simulator fails on purpose are failures with their reason, and too many fail the
// command — after the files are written.
func TestInjectedFailuresAreCountedWithReasons(t *testing.T) {
	sim := simulator(t, "", "--failure-injection-rate", "40", "--failure-types", "rate_limit")
	out := filepath.Join(t.TempDir(), "out")
	r := cl.Plugin(t, "", 2*time.Minute, "loadgen", "--config", profile(t, sim, "completion", 20, 3, 8), "--output-dir", out)
	if r.Code != 1 || !strings.Contains(r.Stderr, "requests failed") {
		t.Fatalf("exit %d with 40%% injected failures\n%s", r.Code, r.Stderr)
	}
	s := readJSON(t, filepath.Join(out, loadgen.SummaryFile))
	failed, ok := num(t, s, "failures", "count"), num(t, s, "successes", "count")
	if failed+ok != 60 || failed < 10 || failed > 40 {
		t.Fatalf("%v failed + %v succeeded, want 60 with about 40%% failed", failed, ok)
	}
	labels, _ := get(s, "failures", "by_label").(map[string]any)
	var counted float64
	for label, v := range labels {
		if !strings.HasPrefix(label, "429 - ") {
			t.Errorf("failure label %q, want a 429 rate limit", label)
		}
		counted += num(t, v.(map[string]any), "count")
		if msgs, _ := v.(map[string]any)["messages"].([]any); len(msgs) == 0 {
			t.Errorf("label %s has no message", label)
		}
	}
	if counted != failed {
		t.Errorf("by_label counts %v of %v failures", counted, failed)
	}
	m, err := sim.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if n := metric(m, "vllm:request_success_total"); n != ok {
		t.Errorf("simulator counted %v successes, generator %v", n, ok)
	}
}

// The native harness in a launcher pod, exactly as a user runs it: discovery of the gateway
// Service (served by the simulator), the preset's workload rewritten by --rates, the verdict,
// the fetched files and results show.
func TestRunWithTheNativeHarness(t *testing.T) {
	sim := simulator(t, "127.0.0.3:80", "--time-to-first-token", "50ms", "--inter-token-latency", "10ms")
	cl.InstallPlugin(t)
	ns := cl.Namespace(t)
	gatewayService(t, ns, "127.0.0.3")
	cmd := cl.PluginCmd(t, "", "run", "--preset", "inference-scheduling", "-n", ns, "--pvc", "results", "--create-pvc",
		"--harness", "llmdbench", "--workload", "sanity_random", "--rates", "4,8", "--stage-duration", "3s")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "1 of 1 workload(s) succeeded") {
		t.Fatalf("no success verdict:\n%s", out)
	}
	pods, err := cl.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("launcher pods: %v %v", err, pods)
	}
	c := pods.Items[0].Spec.Containers[0]
	if !strings.HasPrefix(c.Image, launcher.NativeImageRepo+":") || c.SecurityContext == nil || c.SecurityContext.RunAsUser != nil || c.Resources.Requests.Cpu().String() != "2" {
		t.Errorf("launcher container: image %s, security %v, cpu %s", c.Image, c.SecurityContext, c.Resources.Requests.Cpu())
	}
	folders, _ := filepath.Glob(filepath.Join(cmd.Dir, "llmdbench-results", "*", "llmdbench_*_sanity_random_*"))
	if len(folders) != 1 {
		t.Fatalf("fetched folders: %v\n%s", folders, out)
	}
	dir := folders[0]
	for _, f := range []string{loadgen.StageFile(0), loadgen.StageFile(1), loadgen.ReportFile(0), loadgen.ReportFile(1), loadgen.SummaryFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("fetched results lack %s", f)
		}
	}
	r := cl.Plugin(t, "", time.Minute, "results", "show", dir, "-o", "json")
	var rep results.Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("results show: %v\n%s", err, r.Stderr)
	}
	if rep.Harness != loadgen.Tool || rep.Model != model || len(rep.Stages) != 2 {
		t.Fatalf("report: harness %s model %s stages %d", rep.Harness, rep.Model, len(rep.Stages))
	}
	m, err := sim.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for i, st := range rep.Stages {
		want := []float64{4, 8}[i]
		if *st.RequestedRate != want || st.Requests.Failed != 0 || st.Requests.Succeeded != int(want*3) {
			t.Errorf("stage %d: rate %v, %+v", i, *st.RequestedRate, st.Requests)
		}
		within(t, fmt.Sprintf("stage %d TTFT mean", i), *st.Latency.TTFT.Mean, 0.050, 0.10)
		total += st.Requests.Succeeded
	}
	if n := metric(m, "vllm:request_success_total"); int(n) != total {
		t.Errorf("the simulator served %v requests, the report counts %d", n, total)
	}
}

// A 3-rate sweep with --repeat 2 over the preset's two workloads: four result folders (three
// stages each) with metadata; results show aggregates the repeats; compare against a second run
// on a slower stack marks TTFT and nothing that only moved within the spread.
func TestSweepRepeatsMetadataAndCompare(t *testing.T) {
	fast := simulator(t, "127.0.0.5:80", "--time-to-first-token", "40ms", "--inter-token-latency", "10ms")
	_ = simulator(t, "127.0.0.6:80", "--time-to-first-token", "80ms", "--inter-token-latency", "10ms")
	cl.InstallPlugin(t)
	ns := cl.Namespace(t)
	gatewayService(t, ns, "127.0.0.5")
	ctx := context.Background()
	run := func(label string) string {
		t.Helper()
		r := cl.Plugin(t, "", 5*time.Minute, "run", "--preset", "inference-scheduling", "-n", ns, "--pvc", "results", "--create-pvc",
			"--harness", "llmdbench", "--rates", "2,4,6", "--stage-duration", "2s", "--repeat", "2",
			"--label", "sut="+label, "--description", "stack "+label, "--no-fetch")
		if r.Code != 0 || !strings.Contains(r.Stderr+r.Stdout, "4 of 4 workload(s) succeeded") {
			t.Fatalf("run exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
		}
		m := regexp.MustCompile(`run ([0-9]{10}-[0-9a-f]{4})`).FindStringSubmatch(r.Stderr + r.Stdout)
		if m == nil {
			t.Fatalf("no run id in\n%s", r.Stderr)
		}
		return m[1]
	}
	first := run("fast")

	// Four folders, each saying what produced it.
	r := cl.Plugin(t, "", time.Minute, "results", "-n", ns, "--run", first, "-o", "json")
	var folders []runstate.ResultFolder
	if err := json.Unmarshal([]byte(r.Stdout), &folders); err != nil || len(folders) != 4 {
		t.Fatalf("listing: %v, %d folders\n%s", err, len(folders), r.Stderr)
	}
	hashes := map[string]string{}
	for _, f := range folders {
		m := f.Metadata
		if m == nil {
			t.Fatalf("%s has no metadata", f.Name)
		}
		if m.Run != first || m.Harness != loadgen.Tool || m.Preset != "inference-scheduling" || m.Model != model ||
			m.Labels["sut"] != "fast" || m.Description != "stack fast" || m.Verdict != "succeeded" || m.Repeats != 2 ||
			(m.Repeat != 1 && m.Repeat != 2) || m.Finished == nil || *m.Finished < m.Started || !strings.Contains(m.Config, "rate: 6") ||
			!strings.HasSuffix(f.Name, "_run"+strconv.Itoa(m.Repeat)+"_"+m.Stack) {
			t.Errorf("%s: metadata %+v", f.Name, m)
		}
		// Repeats of a workload ran the same resolved profile.
		if h, ok := hashes[m.Workload]; ok && h != m.ConfigHash {
			t.Errorf("%s: config hash differs between repeats", f.Name)
		}
		hashes[m.Workload] = m.ConfigHash
	}
	if len(hashes) != 2 || hashes["sanity_random"] == hashes["shared_prefix_synthetic"] {
		t.Errorf("config hashes %v", hashes)
	}

	// Switch the gateway to the slower stack and run again.
	svc, _ := cl.Client.CoreV1().Services(ns).Get(ctx, gateway, metav1.GetOptions{})
	svc.Annotations["localcluster.llmdbench.io/address"] = "127.0.0.6"
	if _, err := cl.Client.CoreV1().Services(ns).Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	second := run("slow")
	if r := cl.Plugin(t, "", time.Minute, "results", "-n", ns, "--label", "sut=slow", "-o", "json"); !strings.Contains(r.Stdout, second) || strings.Contains(r.Stdout, first+"_") {
		t.Errorf("--label sut=slow lists other runs:\n%s", r.Stdout)
	}

	// show over a run: one aggregate per workload, three stages, each with its spread.
	r = cl.Plugin(t, "", 2*time.Minute, "results", "show", first, "-n", ns, "-o", "json")
	var shown []results.Report
	if err := json.Unmarshal([]byte(r.Stdout), &shown); err != nil || len(shown) != 2 {
		t.Fatalf("show %s: %v (%d reports)\n%s", first, err, len(shown), r.Stderr)
	}
	for _, rep := range shown {
		if rep.Repeats != 2 || len(rep.Stages) != 3 {
			t.Fatalf("%s: %d repeats, %d stages", rep.Source, rep.Repeats, len(rep.Stages))
		}
		for i, st := range rep.Stages {
			if *st.RequestedRate != []float64{2, 4, 6}[i] || st.Repeats != 2 || st.Requests.Succeeded != int(2*2*(*st.RequestedRate)) {
				t.Errorf("%s stage %d: rate %v, repeats %d, %+v", rep.Metadata.Workload, i, *st.RequestedRate, st.Repeats, st.Requests)
			}
			if _, ok := st.Spread["ttft_p50"]; !ok {
				t.Errorf("%s stage %d has no spread", rep.Metadata.Workload, i)
			}
		}
	}
	text := cl.Plugin(t, "", time.Minute, "results", "show", first, "-n", ns)
	if !strings.Contains(text.Stdout, "Means of 2 repeats") {
		t.Errorf("table lacks the spread:\n%s", text.Stdout)
	}

	// compare: TTFT doubled beyond any spread and is marked worse. Every mark, on any metric, is
	// beyond the noise and every change beyond it is marked. TPOT (the same ITL on both stacks)
	// stays close; the two simulators may still differ in it by a percent or two under load.
	r = cl.Plugin(t, "", 2*time.Minute, "results", "compare", first, second, "--workload", "sanity_random", "-n", ns, "-o", "json")
	var c results.Comparison
	if err := json.Unmarshal([]byte(r.Stdout), &c); err != nil || len(c.Rows) != 3 {
		t.Fatalf("compare: %v\n%s\n%s", err, r.Stdout, r.Stderr)
	}
	for _, row := range c.Rows {
		ttft, tpot := row.Metrics["ttft_p50"], row.Metrics["tpot_p50"]
		if ttft.Verdict[1] != "worse" || *ttft.DeltaPct[1] < 50 {
			t.Errorf("rate %v: TTFT %v%% %q, want worse", row.Key, *ttft.DeltaPct[1], ttft.Verdict[1])
		}
		if math.Abs(*tpot.DeltaPct[1]) > 5 {
			t.Errorf("rate %v: TPOT changed %.2f%% for the same inter-token latency", row.Key, *tpot.DeltaPct[1])
		}
		for name, m := range row.Metrics {
			if m.DeltaPct[1] == nil || m.NoisePct[1] == nil {
				continue
			}
			if beyond := math.Abs(*m.DeltaPct[1]) > *m.NoisePct[1]; beyond != (m.Verdict[1] != "") {
				t.Errorf("rate %v: %s changed %.2f%% with noise %.2f%% and was marked %q", row.Key, name, *m.DeltaPct[1], *m.NoisePct[1], m.Verdict[1])
			}
		}
	}
	if r := cl.Plugin(t, "", time.Minute, "results", "compare", first, second, "-n", ns); r.Code == 0 || !strings.Contains(r.Stderr, "choose one with --workload") {
		t.Errorf("comparing two-workload runs without --workload: exit %d %s", r.Code, r.Stderr)
	}
	if m, err := fast.Metrics(); err != nil || metric(m, "vllm:request_success_total") == 0 {
		t.Errorf("the first stack served nothing: %v", err)
	}
}
