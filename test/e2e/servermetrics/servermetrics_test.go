// Package servermetrics proves that a run finds the model servers and scrapes them: the vLLM
// simulator (llm-d-inference-sim v0.10.2) runs as a pod of the local control plane, found by its
// labels, read by the native launcher from inside the cluster and, for an image harness (the
// llm-d-benchmark entry point's stand-in, test/e2e/testdata/overlay), by run itself through the
// API server's pod proxy.
package servermetrics

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
	"github.com/llmdbench/kubectl-llmdbench/pkg/scrape"
	"github.com/llmdbench/kubectl-llmdbench/test/e2e/framework"
)

var cl *framework.Cluster

func TestMain(m *testing.M) {
	os.Exit(framework.Main(m, &cl, (*framework.Cluster).InstallHarnessStandIn))
}

const (
	model      = "Qwen/Qwen3-0.6B"
	simExe     = "usr/local/bin/llm-d-inference-sim"
	isolateExe = "usr/local/bin/localcluster"
)

// installSimulator puts the simulator binary (hack/sim/build.sh, cached) into every new pod root.
func installSimulator(t *testing.T) {
	t.Helper()
	bin := os.Getenv("SIM_BIN")
	if bin == "" {
		out, err := exec.Command(filepath.Join(cl.RepoRoot, "hack/sim/build.sh")).Output()
		if err != nil {
			t.Fatalf("hack/sim/build.sh: %v", err)
		}
		bin = strings.TrimSpace(string(out))
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	framework.WriteFile(t, cl.OverlayDir(), simExe, data, 0o755)
	installLocalcluster(t)
}

// installLocalcluster puts the local cluster's own binary into every new pod root, for
// `localcluster isolate` as a simulator pod's command.
func installLocalcluster(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cl.Bin, "localcluster"))
	if err != nil {
		t.Fatal(err)
	}
	framework.WriteFile(t, cl.OverlayDir(), isolateExe, data, 0o755)
}

// nextAddress numbers the simulator pods' addresses within this test binary.
var nextAddress atomic.Int32

// sim is a simulator pod and where it serves.
type sim struct {
	Pod  *corev1.Pod
	Host string // the loopback address it serves on
	Port int
}

// URL is where the simulator serves, from this host.
func (s sim) URL() string { return fmt.Sprintf("http://%s:%d", s.Host, s.Port) }

// freePort is a TCP port free on host.
func freePort(t *testing.T, host string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// simPod runs the simulator as a pod labelled app=sim, with the KV cache on (which needs POD_IP)
// and its port named http. Like every server the tests start, it binds only a loopback address:
// the pod's command is `localcluster isolate HOST:PORT PORT -- llm-d-inference-sim …` (the
// simulator has no bind-address flag; isolate gives it a network namespace of its own). The
// pod's status IP is set to where it is reached: HOST itself (127.77.0.N, which the launchers,
// sharing the host's network, dial directly), or, with proxied, an address of the local pod
// network, 10.250.0.N, served on 127.250.0.N: the API server refuses to proxy to a loopback
// address, and the local cluster's egress proxy takes 10.250.B.C to 127.250.B.C
// (hack/localcluster/README.md).
func simPod(t *testing.T, ns, name string, proxied bool, flags ...string) sim {
	t.Helper()
	n := nextAddress.Add(1)
	host, podIP := fmt.Sprintf("127.77.0.%d", n), fmt.Sprintf("127.77.0.%d", n)
	if proxied {
		host, podIP = fmt.Sprintf("127.250.0.%d", n), fmt.Sprintf("10.250.0.%d", n)
	}
	port := freePort(t, host)
	args := append([]string{"--model", model, "--port", strconv.Itoa(port), "--force-dummy-tokenizer",
		"--enable-kvcache", "--max-model-len", "16384", "--max-num-seqs", "256"}, flags...)
	command := append([]string{"/" + isolateExe, "isolate", net.JoinHostPort(host, strconv.Itoa(port)), strconv.Itoa(port), "--", "/" + simExe}, args...)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "sim"}},
		Spec: corev1.PodSpec{
			HostNetwork:   true,
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name: "sim", Image: "ghcr.io/llm-d/llm-d-inference-sim:v0.10.2",
				Command: command,
				Env: []corev1.EnvVar{{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
					{Name: "HOME", Value: "/tmp"}, {Name: "TMPDIR", Value: "/tmp"}},
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}},
			}},
		},
	}
	ctx := context.Background()
	if _, err := cl.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := cl.WaitPod(t, ns, name, time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" })
	s := sim{Host: host, Port: port}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL() + "/v1/models")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			logs, _ := os.ReadFile(filepath.Join(cl.Dir, "pods", ns, name))
			t.Fatalf("the simulator pod does not serve on %s: %v %s", s.URL(), err, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.Status.PodIP, p.Status.PodIPs = podIP, []corev1.PodIP{{IP: podIP}}
	var err error
	if p, err = cl.Client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("setting the pod IP: %v", err)
	}
	s.Pod = p
	return s
}

// The API server's pod proxy reads the simulator pod's /metrics: what the plugin scrapes for the
// image harnesses.
func TestProxyFetcherReadsThePodThroughTheAPIServer(t *testing.T) {
	installSimulator(t)
	ns := cl.Namespace(t)
	s0 := simPod(t, ns, "sim-0", false)
	ctx := context.Background()
	sv, err := cluster.DiscoverServers(ctx, cl.Client, nil, cluster.ServerQuery{Namespace: ns, Selector: "app=sim"})
	if err != nil || len(sv.Targets) != 1 {
		t.Fatalf("discovery: %+v %v", sv, err)
	}
	want := s0.URL() + "/metrics"
	if tg := sv.Targets[0]; tg.Pod != "sim-0" || tg.URL != want || tg.Role != "model-server" || tg.Via != "direct" {
		t.Errorf("target %+v, want URL %s", tg, want)
	}
	// A loopback pod IP is one the API server will not dial.
	if _, err = (cluster.ProxyFetcher{Client: cl.Client}).Fetch(ctx, sv.Targets[0]); err == nil || !strings.Contains(err.Error(), "address not allowed") {
		t.Errorf("the API server proxied to %s: %v", s0.Host, err)
	}

	simPod(t, ns, "sim-1", true)
	sv, err = cluster.DiscoverServers(ctx, cl.Client, nil, cluster.ServerQuery{Namespace: ns, Selector: "app=sim"})
	if err != nil || len(sv.Targets) != 2 {
		t.Fatalf("discovery: %+v %v", sv, err)
	}
	body, err := cluster.ProxyFetcher{Client: cl.Client}.Fetch(ctx, sv.Targets[1])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), "vllm:num_requests_running") {
		t.Errorf("the pod proxy returned no vLLM metrics:\n%.500s", body)
	}
	// The same text as the pod serves itself.
	direct, err := scrape.Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := direct["vllm:kv_cache_usage_perc"]; !ok {
		t.Errorf("parsed: %v", direct)
	}
	if _, err := (cluster.ProxyFetcher{Client: cl.Client}).Fetch(ctx, results.ServerTarget{Namespace: ns, Pod: "nosuchpod", URL: "http://10.0.0.1:80/metrics"}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("a missing pod: %v", err)
	}
}

// simCounters reads the simulator pod's own counters.
func simCounters(t *testing.T, s sim) map[string]float64 {
	t.Helper()
	resp, err := http.Get(s.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	m, err := scrape.Parse(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// prefixHits is the simulator's prefix-cache hit counter (v0.10.2 names it without vLLM's _total).
func prefixHits(m map[string]float64) (float64, bool) {
	for _, k := range []string{"vllm:prefix_cache_hits_total", "vllm:prefix_cache_hits"} {
		if v, ok := m[k]; ok {
			return v, true
		}
	}
	return 0, false
}

// A native run with --server-selector finds the simulator pod by its labels and its launcher
// scrapes it from inside the cluster: the fetched result holds the series with both stages'
// boundaries, the prefix-cache hits it counted are the simulator's own, and the running and
// waiting series are there and rise with the rate.
func TestNativeRunScrapesTheSimulatorPod(t *testing.T) {
	installSimulator(t)
	cl.InstallPlugin(t)
	ns := cl.Namespace(t)
	s0 := simPod(t, ns, "sim-0", false, "--time-to-first-token", "100ms", "--inter-token-latency", "10ms", "--kv-cache-size", "16384")
	// A fresh simulator exposes no prefix-cache series before its first request: zero hits.
	hits0, _ := prefixHits(simCounters(t, s0))

	r := cl.Plugin(t, "", time.Minute, "doctor", "--preset", "inference-scheduling", "-n", ns, "--pvc", "results", "--create-pvc",
		"--harness", "llmdbench", "--base-url", s0.URL(), "--server-selector", "app=sim")
	if !strings.Contains(r.Stdout, "server-metrics: would scrape model servers sim-0; pods/proxy allowed") {
		t.Errorf("doctor does not list the simulator pod (exit %d):\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}

	out := t.TempDir()
	r = cl.Plugin(t, "", 4*time.Minute, "run", "--preset", "inference-scheduling", "-n", ns, "--pvc", "results", "--create-pvc",
		"--harness", "llmdbench", "--workload", "shared_prefix_synthetic", "--rates", "2,6", "--stage-duration", "5s",
		"--base-url", s0.URL(), "--server-selector", "app=sim", "--scrape-interval", "1s",
		"--results-dir", out)
	if r.Code != 0 || !strings.Contains(r.Stdout+r.Stderr, "1 of 1 workload(s) succeeded") {
		t.Fatalf("run (exit %d):\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "The launcher scrapes model servers sim-0 every 1s.") {
		t.Errorf("the run does not say what it scrapes:\n%s", r.Stderr)
	}
	after := simCounters(t, s0)
	hits1, ok := prefixHits(after)
	if !ok {
		t.Fatalf("the simulator exposes no prefix-cache hits after the run: %v", after)
	}

	files, _ := filepath.Glob(filepath.Join(out, "*", "*", results.ServerMetricsFile))
	if len(files) != 1 {
		all, _ := exec.Command("find", out).Output()
		t.Fatalf("want one %s in the fetched results, found %v:\n%s", results.ServerMetricsFile, files, all)
	}
	lines := readSeries(t, files[0])
	if h := lines[0]; h.Kind != "header" || h.Format != results.ServerMetricsFormat || h.IntervalSeconds != 1 || len(h.Targets) != 1 ||
		h.Targets[0].Pod != "sim-0" || h.Targets[0].URL != s0.URL()+"/metrics" || h.Targets[0].Via != "direct" {
		t.Fatalf("header %+v", h)
	}
	var events []string
	var samples []results.ServerMetricsLine
	windows := map[int][2]float64{}
	for _, l := range lines[1:] {
		switch l.Kind {
		case "stage":
			events = append(events, fmt.Sprintf("%d %s", *l.Stage, l.Event))
			w := windows[*l.Stage]
			if l.Event == "start" {
				w[0] = l.Time
			} else {
				w[1] = l.Time
			}
			windows[*l.Stage] = w
		case "sample":
			if l.Pod != "sim-0" || l.Error != "" {
				t.Errorf("sample %+v", l)
				continue
			}
			samples = append(samples, l)
		}
	}
	if strings.Join(events, ",") != "0 start,0 end,1 start,1 end" {
		t.Errorf("stage events %v", events)
	}
	if len(samples) < 10 {
		t.Fatalf("%d samples in a 10 s run scraped every second", len(samples))
	}
	for _, k := range []string{"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc"} {
		for _, s := range samples {
			if _, ok := s.Values[k]; !ok {
				t.Fatalf("a sample lacks %s: %v", k, s.Values)
			}
		}
	}
	first, _ := prefixHits(samples[0].Values) // absent before the first request: zero
	last, _ := prefixHits(samples[len(samples)-1].Values)
	if last-first <= 0 || last-first != hits1-hits0 {
		t.Errorf("prefix-cache hits in the series %v → %v (Δ %v); the simulator counted %v → %v (Δ %v)", first, last, last-first, hits0, hits1, hits1-hits0)
	}
	// Requests run longer than a second (100 ms + 256 × 10 ms): three times the rate keeps more
	// of them running at once.
	mean := func(stage int) float64 {
		w, sum, n := windows[stage], 0.0, 0
		for _, s := range samples {
			if s.Time >= w[0] && s.Time <= w[1] {
				sum += s.Values["vllm:num_requests_running"]
				n++
			}
		}
		if n == 0 {
			t.Fatalf("no sample in stage %d", stage)
		}
		return sum / float64(n)
	}
	m0, m1 := mean(0), mean(1)
	t.Logf("%d samples; prefix-cache hits Δ %v (simulator Δ %v); running mean %.2f at 2 req/s, %.2f at 6 req/s", len(samples), last-first, hits1-hits0, m0, m1)
	if !(m1 > m0 && m0 > 0) {
		t.Errorf("running requests: stage 0 mean %.2f, stage 1 mean %.2f; want both > 0 and rising", m0, m1)
	}
	snaps, _ := filepath.Glob(filepath.Join(filepath.Dir(files[0]), results.ServerSnapshotDir, "stage_*_sim-0.prom"))
	if len(snaps) != 4 {
		t.Errorf("stage snapshots %v", snaps)
	}

	// results show's per-stage prefix-cache hit rate against the simulator's own counters in the
	// raw snapshots taken at each stage's start and end (the window's edges may be a scrape apart,
	// so within 0.05).
	r = cl.Plugin(t, "", time.Minute, "results", "show", filepath.Dir(files[0]), "-o", "json")
	var shown struct {
		ServerMetrics []results.ServerStageMetrics `json:"server_metrics"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &shown); err != nil || len(shown.ServerMetrics) != 2 {
		t.Fatalf("results show -o json (exit %d): %v\n%.2000s\n%s", r.Code, err, r.Stdout, r.Stderr)
	}
	snapshot := func(stage int, event string) map[string]float64 {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(files[0]), results.ServerSnapshotDir, fmt.Sprintf("stage_%d_%s_sim-0.prom", stage, event)))
		if err != nil {
			t.Fatal(err)
		}
		m, err := scrape.Parse(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	queries := func(m map[string]float64) float64 {
		for _, k := range []string{"vllm:prefix_cache_queries_total", "vllm:prefix_cache_queries"} {
			if v, ok := m[k]; ok {
				return v
			}
		}
		return 0
	}
	for stage, st := range shown.ServerMetrics {
		a, b := snapshot(stage, "start"), snapshot(stage, "end")
		ha, _ := prefixHits(a)
		hb, _ := prefixHits(b)
		want := (hb - ha) / (queries(b) - queries(a))
		got := st.All.PrefixCacheHitRate
		t.Logf("stage %d: prefix-cache hit rate %v; from the simulator's snapshots %.4f (hits %v→%v, queries %v→%v); KV cache mean %v; running mean %v",
			stage, deref(got), want, ha, hb, queries(a), queries(b), deref(st.All.KVCacheUsageMean), deref(st.All.RunningMean))
		if got == nil || *got <= 0 || math.Abs(*got-want) > 0.05 {
			t.Errorf("stage %d: prefix-cache hit rate %v, the simulator's counters say %.4f", stage, deref(got), want)
		}
		if st.All.KVCacheUsageMean == nil || *st.All.KVCacheUsageMean <= 0 {
			t.Errorf("stage %d: KV-cache usage %v, want > 0", stage, deref(st.All.KVCacheUsageMean))
		}
	}
	r = cl.Plugin(t, "", time.Minute, "results", "show", filepath.Dir(files[0]), "--server-metrics")
	if r.Code != 0 || !strings.Contains(r.Stdout, "sim-0") {
		t.Errorf("results show --server-metrics (exit %d):\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// deref prints a nullable number.
func deref(v *float64) string {
	if v == nil {
		return "null"
	}
	return strconv.FormatFloat(*v, 'f', 4, 64)
}

func readSeries(t *testing.T, path string) []results.ServerMetricsLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []results.ServerMetricsLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l results.ServerMetricsLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: %v: %s", path, err, sc.Bytes())
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil || len(out) == 0 {
		t.Fatalf("%s: %v, %d lines", path, err, len(out))
	}
	return out
}

// imageConfig runs the image harness's stand-in for a few seconds (it sends nothing).
const imageConfig = `
endpoint:
  stack_name: scraped
  model: &model m/one
  namespace: ${NAMESPACE}
  base_url: &url http://gw.example.svc:80
harness:
  name: inference-perf
  results_pvc: ${BENCHMARK_PVC}
  image: ghcr.io/llm-d/llm-d-benchmark:v0.4.0
workload:
  slow:
    e2e_sleep: 4
    server: {model_name: *model, base_url: *url}
    load: {type: constant, stages: [{rate: 1, duration: 10}]}
`

// An image-harness run scrapes the servers itself, through the pod proxy, while it follows the
// run, and puts the series into the workload's fetched result folder.
func TestImageHarnessRunScrapesThroughThePodProxy(t *testing.T) {
	installSimulator(t)
	cl.InstallPlugin(t) // the results reader packs with it
	ns := cl.Namespace(t)
	simPod(t, ns, "sim-0", true)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(imageConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	r := cl.Plugin(t, "", 3*time.Minute, "run", "-f", cfg, "-n", ns, "--pvc", "results", "--create-pvc",
		"--server-selector", "app=sim", "--scrape-interval", "1s", "--results-dir", out)
	if r.Code != 0 || !strings.Contains(r.Stdout+r.Stderr, "1 of 1 workload(s) succeeded") {
		t.Fatalf("run (exit %d):\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "Scraping model servers sim-0 every 1s through the API server while following (a detached run has no server metrics).") {
		t.Errorf("the run does not say what it scrapes:\n%s", r.Stderr)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*", "*", results.ServerMetricsFile))
	if len(files) != 1 {
		all, _ := exec.Command("find", out).Output()
		t.Fatalf("want one %s in the fetched results, found %v:\n%s\n%s", results.ServerMetricsFile, files, all, r.Stderr)
	}
	if staged, _ := filepath.Glob(filepath.Join(out, "*", ".server-metrics")); len(staged) != 0 {
		t.Errorf("the staging folder is left: %v", staged)
	}
	lines := readSeries(t, files[0])
	h := lines[0]
	want := "/api/v1/namespaces/" + ns + "/pods/http:sim-0:"
	if h.Kind != "header" || len(h.Targets) != 1 || h.Targets[0].Via != "proxy" || !strings.HasPrefix(h.Targets[0].URL, want) {
		t.Fatalf("header %+v", h)
	}
	samples := 0
	for _, l := range lines[1:] {
		switch {
		case l.Kind == "sample" && l.Error == "":
			if _, ok := l.Values["vllm:num_requests_running"]; !ok {
				t.Errorf("sample without the running requests: %+v", l)
			}
			samples++
		case l.Kind == "sample":
			t.Errorf("failed scrape: %s", l.Error)
		case l.Kind == "stage":
			t.Errorf("a stage event the plugin cannot have seen: %+v", l)
		}
	}
	t.Logf("%d samples over the workload", samples)
	if samples < 2 {
		t.Errorf("%d samples of a 4 s workload scraped every second", samples)
	}
}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// installInferencePoolCRD serves inference.networking.k8s.io/v1 InferencePools with an open schema
// (written for this test: discovery reads only spec.selector.matchLabels, spec.targetPorts and
// spec.endpointPickerRef) and waits until the API server lists them.
func installInferencePoolCRD(t *testing.T, dyn dynamic.Interface) {
	t.Helper()
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		// A *.k8s.io group needs the API-review annotation; "unapproved…" is its test value.
		"metadata": map[string]any{"name": "inferencepools.inference.networking.k8s.io",
			"annotations": map[string]any{"api-approved.kubernetes.io": "unapproved, written for the kubectl-llmdbench e2e tests"}},
		"spec": map[string]any{
			"group": "inference.networking.k8s.io", "scope": "Namespaced",
			"names": map[string]any{"plural": "inferencepools", "singular": "inferencepool", "kind": "InferencePool", "listKind": "InferencePoolList"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}}
	ctx := context.Background()
	if _, err := dyn.Resource(crdResource).Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := dyn.Resource(cluster.InferencePoolResource).Namespace("default").List(ctx, metav1.ListOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("the InferencePool CRD is not served: %v", err)
	}
}

// Without a flag, a run scrapes the pods of the namespace's InferencePool at its target port and
// its endpoint picker through the picker's Service; doctor lists them. Before the CRD exists,
// discovery finds no pool and says so.
func TestInferencePoolDiscovery(t *testing.T) {
	dyn, err := dynamic.NewForConfig(cl.Config)
	if err != nil {
		t.Fatal(err)
	}
	installSimulator(t)
	cl.InstallPlugin(t)
	ns := cl.Namespace(t)
	ctx := context.Background()
	sv, err := cluster.DiscoverServers(ctx, cl.Client, dyn, cluster.ServerQuery{Namespace: ns})
	if err != nil || len(sv.Targets) != 0 || len(sv.Notes) != 1 || sv.Notes[0] != "no InferencePool in namespace "+ns {
		t.Fatalf("without the CRD: %+v %v", sv, err)
	}
	installInferencePoolCRD(t, dyn)

	decode := simPod(t, ns, "decode-0", false)
	port := decode.Port
	// The endpoint picker's stand-in: a second simulator whose /metrics the run reads as the EPP's.
	eppSim := simPod(t, ns, "epp-0", false)
	eppPort, epp := eppSim.Port, eppSim.Pod
	epp.Labels = map[string]string{"app": "epp"}
	if _, err := cl.Client.CoreV1().Pods(ns).Update(ctx, epp, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "pool-epp"}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "epp"},
		Ports:    []corev1.ServicePort{{Name: "grpc-ext-proc", Port: 9002}, {Name: "metrics", Port: 9090, TargetPort: intstr.FromInt(eppPort)}}}}
	if _, err := cl.Client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pool := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "inference.networking.k8s.io/v1", "kind": "InferencePool",
		"metadata": map[string]any{"name": "pool"},
		"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "sim"}},
			"targetPorts":       []any{map[string]any{"number": int64(port)}},
			"endpointPickerRef": map[string]any{"name": "pool-epp", "port": map[string]any{"number": int64(9002)}}},
	}}
	if _, err := dyn.Resource(cluster.InferencePoolResource).Namespace(ns).Create(ctx, pool, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	base := decode.URL()
	r := cl.Plugin(t, "", time.Minute, "doctor", "--preset", "inference-scheduling", "-n", ns, "--pvc", "results", "--create-pvc",
		"--harness", "llmdbench", "--base-url", base)
	if !strings.Contains(r.Stdout, "server-metrics: would scrape model servers decode-0 (InferencePool pool); endpoint picker epp-0; pods/proxy allowed") {
		t.Errorf("doctor (exit %d):\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	out := t.TempDir()
	r = cl.Plugin(t, "", 3*time.Minute, "run", "--preset", "inference-scheduling", "-n", ns, "--pvc", "results", "--create-pvc",
		"--harness", "llmdbench", "--workload", "sanity_random", "--rates", "4", "--stage-duration", "2s",
		"--base-url", base, "--scrape-interval", "1s", "--results-dir", out)
	if r.Code != 0 || !strings.Contains(r.Stderr, "The launcher scrapes model servers decode-0 (InferencePool pool); endpoint picker epp-0 every 1s.") {
		t.Fatalf("run (exit %d):\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*", "*", results.ServerMetricsFile))
	if len(files) != 1 {
		t.Fatalf("series files %v", files)
	}
	lines := readSeries(t, files[0])
	want := []results.ServerTarget{
		{Namespace: ns, Pod: "decode-0", Role: "model-server", URL: decode.URL() + "/metrics", Via: "direct"},
		{Namespace: ns, Pod: "epp-0", Role: "epp", URL: eppSim.URL() + "/metrics", Via: "direct"},
	}
	if got := lines[0].Targets; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("targets %+v\nwant %+v", got, want)
	}
	byPod := map[string]int{}
	for _, l := range lines[1:] {
		if l.Kind == "sample" && l.Error == "" {
			byPod[l.Pod]++
		}
	}
	if byPod["decode-0"] < 2 || byPod["epp-0"] < 2 {
		t.Errorf("samples per pod %v", byPod)
	}
}
