package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	cmdtesting "k8s.io/kubectl/pkg/cmd/testing"
	"sigs.k8s.io/yaml"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/config"
	"github.com/llmdbench/kubectl-llmdbench/pkg/preset"
)

// execute runs the root command as a user would, with no kubeconfig on disk.
func execute(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "absent"))
	streams, in, out, errOut := genericiooptions.NewTestIOStreams()
	in.WriteString(stdin)
	cmd := NewCmdRoot(streams, BuildInfo{Version: "v1.2.3"})
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestVersion(t *testing.T) {
	out, _, err := execute(t, "", "version")
	if err != nil || !strings.HasPrefix(out, "kubectl-llmdbench v1.2.3 (go") {
		t.Errorf("%q %v", out, err)
	}
	out, _, err = execute(t, "", "version", "-o", "json")
	var v VersionInfo
	if err != nil || json.Unmarshal([]byte(out), &v) != nil || v.Version != "v1.2.3" || v.GoVersion == "" {
		t.Errorf("%q %v", out, err)
	}
	if _, _, err := execute(t, "", "version", "-o", "wide"); err == nil || !strings.Contains(err.Error(), `--output "wide" is not supported: use json or yaml`) {
		t.Errorf("got %v", err)
	}
}

func TestPresetsListAndShow(t *testing.T) {
	out, _, err := execute(t, "", "presets")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "GATEWAY") || len(lines) != 1+len(preset.Names()) {
		t.Errorf("table:\n%s", out)
	}
	if !strings.Contains(out, "infra-pd-inference-gateway") || !strings.Contains(out, "openai/gpt-oss-120b") {
		t.Errorf("pd row missing:\n%s", out)
	}
	out, _, err = execute(t, "", "presets", "-o", "yaml")
	var list []preset.Preset
	if err != nil || yaml.Unmarshal([]byte(out), &list) != nil || len(list) != 6 || list[4].Gateway != "infra-wide-ep-inference-gateway" {
		t.Errorf("yaml list %v %v", list, err)
	}
	// The pd row, read off pd.yaml's header and the pd.vllm-benchmark.yaml variant by hand.
	pdRow := regexp.MustCompile(`(?m)^pd +pd-disaggregation +infra-pd-inference-gateway +openai/gpt-oss-120b +inference-perf,llmdbench,vllm-benchmark +sanity_random,shared_prefix_synthetic +llm-d/llm-d guides/benchmark/pd_template.yaml \(2026-02\)$`)
	if table, _, _ := execute(t, "", "presets"); !pdRow.MatchString(table) {
		t.Errorf("pd row (aliases, harnesses, source):\n%s", table)
	}
	// An alias and a harness variant: the file as embedded.
	out, _, err = execute(t, "", "presets", "show", "pd-disaggregation", "--harness", "vllm-benchmark")
	if want, _ := preset.SourceFor("pd", "vllm-benchmark"); err != nil || out != string(want) || !strings.Contains(out, "name: &harness_name vllm-benchmark") {
		t.Errorf("show pd-disaggregation --harness vllm-benchmark: %v\n%s", err, out)
	}
	_, _, err = execute(t, "", "presets", "show", "wide-ep", "--harness", "guidellm")
	if err == nil || err.Error() != "preset wide-ep has no workloads for harness guidellm: it has them for inference-perf, llmdbench" {
		t.Errorf("show wide-ep --harness guidellm: %v", err)
	}
	out, _, err = execute(t, "", "presets", "show", "pd")
	src, _ := preset.Source("pd")
	if err != nil || out != string(src) || !strings.Contains(out, "${GATEWAY_SVC}") {
		t.Errorf("show must print the file as is: %v", err)
	}
	_, _, err = execute(t, "", "presets", "show", "nope")
	if err == nil || err.Error() != `unknown preset "nope": choose one of inference-scheduling, pd, precise-prefix-cache, tiered-prefix-cache, wide-ep, wva-inference-scheduling (aliases: optimized-baseline=inference-scheduling, pd-disaggregation=pd, precise-prefix-cache-aware=precise-prefix-cache, precise-prefix-cache-routing=precise-prefix-cache, wide-ep-lws=wide-ep, workload-autoscaling=wva-inference-scheduling)` {
		t.Errorf("got %v", err)
	}
}

// A shown preset, saved and run with -f (here through stdin), renders like the preset itself.
func TestShownPresetRunsFromStdin(t *testing.T) {
	for _, c := range []struct{ name, harness string }{
		{"wide-ep", ""}, {"pd", "vllm-benchmark"}, {"precise-prefix-cache", "guidellm"}, {"wva-inference-scheduling", ""},
	} {
		show := []string{"presets", "show", c.name}
		pick := []string{"run", "--preset", c.name}
		if c.harness != "" {
			show = append(show, "--harness", c.harness)
			pick = append(pick, "--harness", c.harness)
		}
		src, _, err := execute(t, "", show...)
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"-n", "llm-d", "--pvc", "p", "--base-url", "http://10.1.1.1:80", "--dry-run=client", "-o", "yaml"}
		fromFile, _, err := execute(t, src, append([]string{"run", "-f", "-"}, args...)...)
		if err != nil {
			t.Fatalf("%s %s: %v", c.name, c.harness, err)
		}
		fromPreset, _, err := execute(t, "", append(pick, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		// Only the preset's name differs: as a label, and in the results metadata; run ids differ.
		presetLabel := regexp.MustCompile(`(?m)^ *(llmdbench.io/preset: ` + c.name + `|"preset": "` + c.name + `",)\n`)
		if runIDPattern(fromFile) != presetLabel.ReplaceAllString(runIDPattern(fromPreset), "") {
			t.Errorf("%s %s: file and preset render differently\n--- file\n%s\n--- preset\n%s", c.name, c.harness, fromFile, fromPreset)
		}
	}
}

var runIDs = regexp.MustCompile(`[0-9]{10}-[0-9a-f]{4}`)

func runIDPattern(s string) string { return runIDs.ReplaceAllString(s, "RUNID") }

// Every preset, with each harness it has workloads for, dry-runs with two launchers.
// The few whose load two launchers cannot share (the guide's own numbers) are refused with two and
// run with one.
func TestRunDryRunAllPresetsWithoutCluster(t *testing.T) {
	unsplittable := map[string]string{
		// pd's sanity_random sets no total_count: the generator's data set is 1 prompt.
		"pd/llmdbench": "data.input_distribution.total_count: 1 prompts cannot be split among 2 launchers",
		// the guide's vllm bench workload runs at max-concurrency 1.
		"pd/vllm-benchmark": "max-concurrency 1 cannot be shared by 2 launchers",
	}
	for _, name := range preset.Names() {
		harnesses, err := preset.HarnessesOf(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, harness := range harnesses {
			t.Run(name+"/"+harness, func(t *testing.T) {
				launchers := "2"
				if refusal, ok := unsplittable[name+"/"+harness]; ok {
					_, _, err := execute(t, "", "run", "--preset", name, "--harness", harness, "-n", "bench", "--pvc", "results",
						"--base-url", "http://10.0.0.7:80", "--parallelism", "2", "--dry-run=client")
					if err == nil || !strings.Contains(err.Error(), refusal) {
						t.Errorf("two launchers: got %v, want %q", err, refusal)
					}
					launchers = "1"
				}
				out, errOut, err := execute(t, "", "run", "--preset", name, "--harness", harness, "-n", "bench", "--pvc", "results",
					"--base-url", "http://10.0.0.7:80", "--parallelism", launchers, "--dry-run=client", "-o", "json")
				if err != nil {
					t.Fatalf("%v\n%s", err, errOut)
				}
				var list corev1.List
				if err := json.Unmarshal([]byte(out), &list); err != nil {
					t.Fatalf("not one JSON List: %v\n%s", err, out)
				}
				kinds := []string{}
				for _, item := range list.Items {
					var u unstructured.Unstructured
					if err := json.Unmarshal(item.Raw, &u.Object); err != nil {
						t.Fatal(err)
					}
					kinds = append(kinds, u.GetKind())
					if u.GetNamespace() != "bench" {
						t.Errorf("%s/%s in namespace %q", u.GetKind(), u.GetName(), u.GetNamespace())
					}
				}
				if strings.Join(kinds, ",") != "ConfigMap,Job" {
					t.Errorf("kinds %v", kinds)
				}
			})
		}
	}
}

// An llm-d-benchmark spec name runs its preset exactly, recorded under the preset's name.
func TestRunPresetAlias(t *testing.T) {
	args := []string{"-n", "bench", "--pvc", "results", "--base-url", "http://10.0.0.7:80", "--dry-run=client", "-o", "yaml"}
	for alias, name := range map[string]string{"optimized-baseline": "inference-scheduling", "pd-disaggregation": "pd",
		"wide-ep-lws": "wide-ep", "precise-prefix-cache-aware": "precise-prefix-cache", "workload-autoscaling": "wva-inference-scheduling"} {
		viaAlias, errOut, err := execute(t, "", append([]string{"run", "--preset", alias}, args...)...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", alias, err, errOut)
		}
		direct, _, err := execute(t, "", append([]string{"run", "--preset", name}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		if runIDPattern(viaAlias) != runIDPattern(direct) {
			t.Errorf("--preset %s renders differently from --preset %s", alias, name)
		}
		if !strings.Contains(viaAlias, "llmdbench.io/preset: "+name+"\n") {
			t.Errorf("--preset %s is not labelled with preset %s", alias, name)
		}
	}
}

// --harness picks the preset's workloads for that harness, and refuses a harness it has none for.
func TestRunPresetHarnessVariants(t *testing.T) {
	args := []string{"-n", "bench", "--pvc", "results", "--base-url", "http://10.0.0.7:80", "--dry-run=client", "-o", "yaml"}
	for _, c := range []struct{ preset, harness, workload string }{
		{"inference-scheduling", "guidellm", "rate_comparison.yaml"},
		{"pd", "vllm-benchmark", "random_concurrent.yaml"},
		{"precise-prefix-cache", "guidellm", "rate_comparison.yaml"},
		{"precise-prefix-cache", "llmdbench", "guide_shared_prefix.yaml"},
		{"tiered-prefix-cache", "llmdbench", "guide_shared_prefix.yaml"},
		{"workload-autoscaling", "llmdbench", "rate_comparison.yaml"},
		{"wva-inference-scheduling", "inference-perf", "rate_comparison.yaml"},
		{"pd", "llmdbench", "shared_prefix_synthetic.yaml"},
	} {
		out, errOut, err := execute(t, "", append([]string{"run", "--preset", c.preset, "--harness", c.harness}, args...)...)
		if err != nil {
			t.Errorf("%s --harness %s: %v\n%s", c.preset, c.harness, err, errOut)
			continue
		}
		if !strings.Contains(out, "  "+c.workload+": ") {
			t.Errorf("%s --harness %s: no ConfigMap key %s\n%s", c.preset, c.harness, c.workload, out)
		}
	}
	_, _, err := execute(t, "", append([]string{"run", "--preset", "wide-ep", "--harness", "guidellm"}, args...)...)
	if err == nil || err.Error() != "preset wide-ep has no workloads for harness guidellm: it has them for inference-perf, llmdbench" {
		t.Errorf("wide-ep with guidellm: %v", err)
	}
	// The WVA and tiered guides name no gateway: without --gateway or --base-url there is nothing to discover.
	_, _, err = execute(t, "", "run", "--preset", "tiered-prefix-cache", "-n", "bench", "--pvc", "results", "--dry-run=client")
	if !errors.Is(err, config.ErrNoGateway) {
		t.Errorf("tiered without a gateway: %v", err)
	}
}

func TestRunDryRunNamesObjects(t *testing.T) {
	out, _, err := execute(t, "", "run", "--preset", "pd", "-n", "x", "--pvc", "p", "--base-url", "http://a.b:80", "--create-pvc", "--dry-run=client")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || lines[0] != "persistentvolumeclaim/p created (dry run)" ||
		!strings.HasPrefix(lines[1], "configmap/llmdbench-") || !strings.HasPrefix(lines[2], "job.batch/llmdbench-harness-launcher-") {
		t.Errorf("got:\n%s", out)
	}
}

func TestRunFlagsBeatTheConfig(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "c.yaml")
	src, _ := preset.Source("inference-scheduling")
	if err := os.WriteFile(cfgFile, src, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := execute(t, "", "run", "-f", cfgFile, "-n", "ns9", "--pvc", "p9", "--base-url", "http://10.9.9.9:8000",
		"--model", "org/m9", "--stack-name", "s9", "--image", "img:9", "--workload", "sanity_random", "--wait-timeout", "5m",
		"--env", "RAYON_NUM_THREADS=8", "--env", "EXTRA=1", "--cpu", "2", "--memory", "3Gi", "--run-as-user", "1000",
		"--node-selector", "pool=bench", "--toleration", "gpu:NoSchedule", "--image-pull-policy", "IfNotPresent",
		"--hf-token-secret", "tok", "--dry-run=client", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(out, "\n---\n")
	var cm corev1.ConfigMap
	var job batchv1.Job
	if len(docs) != 2 || yaml.Unmarshal([]byte(docs[0]), &cm) != nil || yaml.Unmarshal([]byte(docs[1]), &job) != nil {
		t.Fatalf("want a ConfigMap and a Job:\n%s", out)
	}
	pod := corev1.Pod{ObjectMeta: job.ObjectMeta, Spec: job.Spec.Template.Spec}
	if _, ok := cm.Data["shared_prefix_synthetic.yaml"]; ok {
		t.Error("--workload must select a subset")
	}
	profile := cm.Data["sanity_random.yaml"]
	for _, want := range []string{"base_url: http://10.9.9.9:8000", "model_name: org/m9", "pretrained_model_name_or_path: org/m9"} {
		if !strings.Contains(profile, want) {
			t.Errorf("profile lacks %q:\n%s", want, profile)
		}
	}
	if !strings.Contains(cm.Data["run.sh"], "timeout_s='300'\n") {
		t.Error("--wait-timeout not in the run script")
	}
	c := pod.Spec.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
		if e.Name == "HF_TOKEN" && e.ValueFrom.SecretKeyRef.Name != "tok" {
			t.Error("--hf-token-secret ignored")
		}
	}
	if pod.Namespace != "ns9" || c.Image != "img:9" || env["RAYON_NUM_THREADS"] != "8" || env["EXTRA"] != "1" ||
		env["LLMDBENCH_HARNESS_STACK_NAME"] != "s9" || c.Resources.Limits.Cpu().String() != "2" ||
		*c.SecurityContext.RunAsUser != 1000 || pod.Spec.NodeSelector["pool"] != "bench" ||
		pod.Spec.Tolerations[0].Key != "gpu" || c.ImagePullPolicy != corev1.PullIfNotPresent ||
		pod.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "p9" {
		t.Errorf("flags not applied: ns=%s image=%s env=%v pod=%+v", pod.Namespace, c.Image, env, pod.Spec)
	}
}

func TestRunBadFlags(t *testing.T) {
	base := []string{"run", "--preset", "pd", "-n", "x", "--pvc", "p", "--base-url", "http://a:80", "--dry-run=client"}
	cases := []badInput{
		{[]string{"run", "-n", "x"}, "choose what to run: --preset inference-scheduling, pd, precise-prefix-cache, tiered-prefix-cache, wide-ep or wva-inference-scheduling, or --config FILE"},
		{[]string{"run", "--preset", "pd", "-f", "x.yaml"}, "--preset and --config are exclusive"},
		{[]string{"run", "--preset", "nope"}, `unknown preset "nope": choose one of inference-scheduling, pd, precise-prefix-cache, tiered-prefix-cache, wide-ep, wva-inference-scheduling (aliases: optimized-baseline=inference-scheduling, pd-disaggregation=pd, precise-prefix-cache-aware=precise-prefix-cache, precise-prefix-cache-routing=precise-prefix-cache, wide-ep-lws=wide-ep, workload-autoscaling=wva-inference-scheduling)`},
		{append(base, "--harness", "locust"), `--harness "locust" is not a known harness`},
		{append(base, "--parallelism", "0"), "--parallelism 0: it must be 1 or more"},
		{append(base, "--parallelism-mode", "half"), `--parallelism-mode "half": use split or replicate`},
		{append(base, "--spread", "wide"), `--spread "wide": use required or preferred`},
		{append(base, "--ttl", "-1s"), "--ttl -1s: use 0 (at once) or a whole number of seconds or more"},
		// pd's workload asks for concurrency 50 at its first stage: 51 launchers cannot share it.
		{append(base, "--parallelism", "51"), "workload sanity_random: load.stages[0].concurrency_level 50 cannot be shared by 51 launchers"},
		{append(base, "--wait-timeout", "-1s"), "--wait-timeout -1s: it must be 0 (no limit) or more"},
		{append(base, "--cpu", "lots"), `--cpu "lots"`},
		{append(base, "--env", "NOVALUE"), `--env "NOVALUE": expected KEY=VALUE`},
		{append(base, "--node-selector", "x"), `--node-selector "x": expected KEY=VALUE`},
		{append(base, "--toleration", "k=v:Sometimes"), "effect must be NoSchedule, PreferNoSchedule or NoExecute"},
		{append(base, "--image-pull-policy", "Maybe"), `--image-pull-policy "Maybe"`},
		{append(base, "--workload", "ghost"), `workload "ghost" is not in the config preset pd: choose from sanity_random, shared_prefix_synthetic; pass one of them to --workload`},
		{[]string{"run", "--preset", "pd", "--base-url", "a.b", "--dry-run=client"}, "--base-url: endpoint.base_url \"a.b\" must start with http://"},
		{[]string{"run", "--preset", "pd", "-n", "x", "--base-url", "http://a:80", "--dry-run=client"}, "${BENCHMARK_PVC} in harness.results_pvc is not set: pass --pvc NAME (or export BENCHMARK_PVC)"},
		{[]string{"run", "--preset", "pd", "-n", "x", "--pvc", "p", "--base-url", "http://a:80", "-o", "name"}, `--output "name": a run prints its verdict as json or yaml`},
		{[]string{"run", "--preset", "pd", "-n", "x", "--pvc", "p", "--base-url", "http://a:80", "--detach", "--rm"}, "--rm needs the run to be followed to its end"},
		{append(base[:len(base)-1], "--dry-run=server"), "--dry-run=server is not supported"},
		{[]string{"run", "-f", "/does/not/exist.yaml", "--dry-run=client"}, "reading the config: open /does/not/exist.yaml"},
		{[]string{"run", "-f", "-", "--dry-run=client"}, "stdin: the file is empty"},
		// Field case 11: concurrent stages written as rate/duration, refused before any object.
		{[]string{"run", "-f", "../config/testdata/cases/11-concurrent-stages-with-rate-duration/config.yaml", "-n", "bench-ns", "--pvc", "results-pvc",
			"--base-url", "http://10.0.0.7:80", "--dry-run=client", "-o", "yaml"},
			"workload concurrent_users: load.stages[0]: a concurrent stage needs num_requests and concurrency_level"},
		// Without --base-url the gateway must be discovered, and there is no cluster here.
		{[]string{"run", "--preset", "pd", "-n", "x", "--pvc", "p", "--dry-run=client"}, "discovering gateway infra-pd-inference-gateway in namespace x: cannot list the gateway's Services: "},
	}
	refusesBadInput(t, cases)
}

type badInput struct {
	args []string
	want string
}

// refusesBadInput runs each case and expects its error, with nothing on stdout.
func refusesBadInput(t *testing.T, cases []badInput) {
	t.Helper()
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, _, err := execute(t, "", tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v\nwant %q", err, tc.want)
			}
			if out != "" {
				t.Errorf("nothing may be printed on bad input, got %q", out)
			}
		})
	}
}

func TestEnvironmentFillsGuideVariables(t *testing.T) {
	t.Setenv("BENCHMARK_PVC", "from-env-pvc")
	t.Setenv("GATEWAY_SVC", "from-env-svc")
	t.Setenv("NAMESPACE", "from-env-ns")
	out, _, err := execute(t, "", "run", "--preset", "inference-scheduling", "--dry-run=client", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"claimName: from-env-pvc", "base_url: http://from-env-svc.from-env-ns.svc.cluster.local:80", "namespace: from-env-ns"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q", want)
		}
	}
}

// Discovery logic on a fake clientset; the real API server proves it end to end in test/e2e.
func TestRunDiscoversTheGatewayService(t *testing.T) {
	svc := func(name, gw string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "llm-d", Labels: map[string]string{cluster.GatewayNameLabel: gw}},
			Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10"}}
	}
	gateway := func(addr string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
			"metadata": map[string]any{"name": "infra-pd-inference-gateway", "namespace": "llm-d"},
			"status":   map[string]any{"addresses": []any{map[string]any{"type": "IPAddress", "value": addr}}},
		}}
		return u
	}
	cases := []struct {
		name        string
		services    []runtime.Object
		gateways    []*unstructured.Unstructured
		noNamespace bool
		want        string
		wantErr     string
	}{
		{name: "one service", services: []runtime.Object{svc("infra-pd-inference-gateway-istio", "infra-pd-inference-gateway")},
			want: "base_url: http://infra-pd-inference-gateway-istio.llm-d.svc.cluster.local:80"},
		{name: "managed gateway", gateways: []*unstructured.Unstructured{gateway("34.1.2.3")}, want: "base_url: http://34.1.2.3:80"},
		{name: "none", services: []runtime.Object{svc("other-istio", "other")},
			wantErr: "gateway infra-pd-inference-gateway not found in namespace llm-d: gateway Services there: other-istio (gateway other); pass --gateway NAME or --base-url URL"},
		{name: "no namespace", noNamespace: true,
			wantErr: "namespace llm-d does not exist: pass -n with the stack's namespace, or kubectl create namespace llm-d"},
		{name: "two", services: []runtime.Object{svc("a", "infra-pd-inference-gateway"), svc("b", "infra-pd-inference-gateway")},
			wantErr: "2 Services in namespace llm-d carry gateway.networking.k8s.io/gateway-name=infra-pd-inference-gateway (a, b); pass --base-url to choose one"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			streams, _, out, errOut := genericiooptions.NewTestIOStreams()
			tf := cmdtesting.NewTestFactory().WithNamespace("llm-d")
			defer tf.Cleanup()
			o := NewRunOptions(streams)
			dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
				map[schema.GroupVersionResource]string{cluster.GatewayResource: "GatewayList",
					cluster.InferencePoolResource: "InferencePoolList", cluster.InferencePoolV1Alpha2Resource: "InferencePoolList"})
			for _, gw := range tc.gateways {
				if _, err := dyn.Resource(cluster.GatewayResource).Namespace("llm-d").Create(context.Background(), gw, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			objs := tc.services
			if !tc.noNamespace {
				objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "llm-d"}})
			}
			o.source.conn.clients = &Clients{Client: fake.NewClientset(objs...), Dynamic: dyn}
			o.source.lookupEnv = func(string) (string, bool) { return "", false }
			cmd := newCmdRun(tf, o)
			addHints(cmd) // as NewCmdRoot does
			cmd.SilenceUsage = true
			cmd.SetArgs([]string{"--preset", "pd", "--pvc", "p", "--dry-run=client", "-o", "yaml"})
			err := cmd.ExecuteContext(context.Background())
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("error %v\nwant %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v (%s)", err, errOut)
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("want %q in:\n%s\n%s", tc.want, out, errOut)
			}
			if tc.name == "managed gateway" && !strings.Contains(errOut.String(), "has no Service") {
				t.Errorf("the switch to the gateway address must be announced: %q", errOut)
			}
		})
	}
}

func TestHelpSaysKubectlLlmdbench(t *testing.T) {
	out, _, err := execute(t, "", "run", "--help")
	if err != nil || !strings.Contains(out, "kubectl llmdbench run (--preset NAME | -f CONFIG)") || !strings.Contains(out, "--kubeconfig") {
		t.Errorf("help:\n%s", out)
	}
	var buf bytes.Buffer
	cmd := NewCmdRoot(genericiooptions.IOStreams{In: &buf, Out: &buf, ErrOut: &buf}, BuildInfo{})
	for _, c := range cmd.Commands() {
		if c.Short == "" || strings.HasSuffix(c.Short, ".") {
			t.Errorf("%s: Short must be set and end without a period", c.Name())
		}
	}
}

// --rates, --repeat and --label show up in what a dry run would create: the rewritten profiles,
// one entry per repeat, and the metadata the script completes.
func TestDryRunShowsSweepRepeatsAndMetadata(t *testing.T) {
	out, _, err := execute(t, "", "run", "--preset", "inference-scheduling", "-n", "llm-d", "--pvc", "p", "--base-url", "http://10.1.1.1:80",
		"--harness", "llmdbench", "--rates", "2,5", "--stage-duration", "20s", "--poisson", "--repeat", "2", "--label", "team=perf",
		"--dry-run=client", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"type: poisson", "- {rate: 5, duration: 20}",
		"llmdbench.io/workloads: sanity_random_run1,shared_prefix_synthetic_run1,sanity_random_run2,shared_prefix_synthetic_run2",
		`"team": "perf"`, `"pluginVersion": "v1.2.3"`, `"repeats": 2`, "image: ghcr.io/llmdbench/kubectl-llmdbench:v1.2.3",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q", want)
		}
	}
	for _, tc := range []struct{ flags, want string }{
		{"--repeat 0", "--repeat 0: it must be 1 or more"},
		{"--label nokey", `--label "nokey": expected KEY=VALUE`},
		{"--concurrency 4 --stage-duration 5s", "--stage-duration applies to --rates"},
	} {
		args := append([]string{"run", "--preset", "pd", "-n", "x", "--pvc", "p", "--base-url", "http://a:80", "--dry-run=client"}, strings.Fields(tc.flags)...)
		if _, _, err := execute(t, "", args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.flags, err, tc.want)
		}
	}
}

func TestCpAndPackBadInput(t *testing.T) {
	cases := []badInput{
		{[]string{"cp", "x", "--compress", "xz"}, `compression "xz" is not one the copy knows: use auto, gzip or none; check --compress`},
		{[]string{"pack"}, "name at least one folder or file to pack"},
		{[]string{"pack", "--workers", "-1", "d"}, "--workers must be 0 (one per CPU) or more"},
		{[]string{"pack", "../outside"}, `"../outside": give a path inside the folder (no leading /, no ..)`},
	}
	refusesBadInput(t, cases)
}

func TestPackWritesZstdAndCheckWritesNothing(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "run", "summary.json"), []byte(`{"ok":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	out, _, err := execute(t, "", "pack", "--check")
	if err != nil || out != "" {
		t.Fatalf("pack --check: %v %q", err, out)
	}
	out, _, err = execute(t, "", "pack", "--", "run")
	if err != nil || !strings.HasPrefix(out, "\x28\xb5\x2f\xfd") {
		t.Fatalf("pack: %v, %d bytes starting %q", err, len(out), out[:min(len(out), 4)])
	}
}

// The native generator's refusals (a key it does not implement) come before any object, named.
func TestRunNativeHarnessRefusesWhatTheGeneratorCannotDo(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	data := `endpoint: {stack_name: s, model: m, namespace: ns, base_url: "http://gw:80"}
harness: {name: llmdbench, results_pvc: pvc, image: img}
workload:
  replay:
    load: {type: trace_replay, stages: [{rate: 1, duration: 5}]}
    api: {type: completion, streaming: true}
    server: {type: vllm, model_name: m, base_url: "http://gw:80"}
    data: {type: random}
`
	if err := os.WriteFile(cfg, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	refusesBadInput(t, []badInput{{[]string{"run", "-f", cfg, "--dry-run=client"}, `workload replay: load.type "trace_replay" is not supported by the native generator`}})
}

// doctor in a namespace that does not exist says so once, not also as a config failure.
func TestDoctorReportsAMissingNamespaceOnce(t *testing.T) {
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	o := NewDoctorOptions(streams)
	o.source.Preset = "pd"
	o.source.Overrides.PVC = "p"
	o.source.namespace = "nosuchns"
	o.source.lookupEnv = func(string) (string, bool) { return "", false }
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{cluster.GatewayResource: "GatewayList",
			cluster.InferencePoolResource: "InferencePoolList", cluster.InferencePoolV1Alpha2Resource: "InferencePoolList"})
	o.source.conn.clients = &Clients{Client: fake.NewClientset(), Dynamic: dyn}
	o.Clients = o.source.conn.clients
	err := o.Run(context.Background())
	if err == nil {
		t.Fatal("doctor passed in a namespace that does not exist")
	}
	if n := strings.Count(out.String(), "namespace nosuchns does not exist"); n != 1 {
		t.Errorf("the missing namespace is reported %d times:\n%s", n, out)
	}
}

// A native run of a preset swaps the llm-d-benchmark image for the plugin's own and says so; an
// image the user named, or any other image in the config, stays.
func TestRunNativeSwapsOnlyTheBenchmarkImage(t *testing.T) {
	image := func(out string) string {
		m := regexp.MustCompile(`(?m)^\s+image: (\S+)$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no image in:\n%s", out)
		}
		return m[1]
	}
	base := []string{"run", "--preset", "pd", "-n", "x", "--pvc", "p", "--base-url", "http://a.b:80", "--harness", "llmdbench", "--dry-run=client", "-o", "yaml"}
	out, errOut, err := execute(t, "", base...)
	if err != nil {
		t.Fatal(err)
	}
	if got := image(out); got != "ghcr.io/llmdbench/kubectl-llmdbench:v1.2.3" {
		t.Errorf("image %s", got)
	}
	if !strings.Contains(errOut, "The native harness runs image ghcr.io/llmdbench/kubectl-llmdbench:v1.2.3 in place of ghcr.io/llm-d/llm-d-benchmark:v0.4.0.") {
		t.Errorf("stderr does not say so:\n%s", errOut)
	}
	for _, keep := range []string{"ghcr.io/llm-d/llm-d-benchmark-tools:v1", "ghcr.io/llm-d/llm-d-benchmark:v0.4.0"} {
		out, errOut, err := execute(t, "", append(base, "--image", keep)...)
		if err != nil {
			t.Fatal(err)
		}
		if got := image(out); got != keep || strings.Contains(errOut, "in place of") {
			t.Errorf("--image %s: got %s\n%s", keep, got, errOut)
		}
	}
}
