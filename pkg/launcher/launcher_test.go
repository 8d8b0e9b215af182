package launcher

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/llmdbench/kubectl-llmdbench/pkg/config"
	"github.com/llmdbench/kubectl-llmdbench/pkg/preset"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const testRunID = "1764000000-abcd"

func presetSpec(t *testing.T, name string, mutate func(*config.Overrides)) Spec {
	t.Helper()
	doc, err := preset.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	o := config.Overrides{BaseURL: "http://infra-gw-istio.llm-d.svc.cluster.local:80"}
	if mutate != nil {
		mutate(&o)
	}
	doc.Apply(o)
	cfg, _, err := doc.Resolve(config.Options{Variables: config.Variables{Values: map[string]string{
		config.VarNamespace: "llm-d", config.VarBenchmarkPVC: "workload-pvc",
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return Spec{Config: cfg, RunID: testRunID, Preset: name, Launcher: DefaultLauncher(), PVC: DefaultPVC()}
}

func render(t *testing.T, objs []runtime.Object) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("---\n")
		buf.Write(b)
	}
	return buf.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/launcher -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./pkg/launcher -update, then review the diff)\n--- got\n%s", name, got)
	}
}

func TestGoldenObjectsPerPreset(t *testing.T) {
	for _, name := range preset.Names() {
		t.Run(name, func(t *testing.T) {
			objs, err := Objects(presetSpec(t, name, nil))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name+".golden.yaml", render(t, objs))
		})
	}
}

func TestGoldenParallelWithCreatedPVCAndKnobs(t *testing.T) {
	p := 2
	s := presetSpec(t, "inference-scheduling", func(o *config.Overrides) { o.Parallelism = &p })
	uid := int64(1000)
	s.Launcher = Launcher{
		CPU: resource.MustParse("2"), Memory: resource.MustParse("4Gi"), RunAsUser: &uid,
		ServiceAccount: "bench", NodeSelector: map[string]string{"pool": "cpu"},
		Tolerations:     []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "bench", Effect: corev1.TaintEffectNoSchedule}},
		ImagePullPolicy: corev1.PullIfNotPresent,
	}
	s.PVC = PVC{Create: true, StorageClass: "nfs", Size: resource.MustParse("50Gi")}
	objs, err := Objects(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 3 {
		t.Fatalf("want PVC, ConfigMap and the Job, got %d objects", len(objs))
	}
	golden(t, "parallel-knobs.golden.yaml", render(t, objs))
}

func TestJobFollowsTheImageContract(t *testing.T) {
	p := 3
	s := presetSpec(t, "pd", func(o *config.Overrides) { o.Parallelism = &p })
	s.Config.Env = append(s.Config.Env, config.EnvVar{Name: "HF_TOKEN", Spec: map[string]any{"name": "HF_TOKEN", "value": "mine"}})
	job, err := BuildJob(s)
	if err != nil {
		t.Fatal(err)
	}
	if errs := validation.IsDNS1123Label(job.Name + "-2"); len(errs) > 0 || !strings.Contains(job.Name, "llmdbench-harness-launcher") {
		t.Errorf("Job %q: its pods' hostname %v, or no longer matches the guide's lookup", job.Name, errs)
	}
	sp := job.Spec
	if *sp.CompletionMode != batchv1.IndexedCompletion || *sp.Completions != 3 || *sp.Parallelism != 3 ||
		*sp.BackoffLimitPerIndex != 0 || *sp.MaxFailedIndexes != 3 || sp.TTLSecondsAfterFinished != nil {
		t.Errorf("Job spec: %+v", sp)
	}
	// Every failure fails its index, none restarts it.
	rules := sp.PodFailurePolicy.Rules
	if len(rules) != 2 || rules[0].Action != batchv1.PodFailurePolicyActionFailIndex || rules[0].OnExitCodes.Operator != batchv1.PodFailurePolicyOnExitCodesOpNotIn ||
		rules[1].Action != batchv1.PodFailurePolicyActionFailIndex || rules[1].OnPodConditions[0].Type != corev1.DisruptionTarget {
		t.Errorf("pod failure policy: %+v", rules)
	}
	pod := sp.Template
	if tsc := pod.Spec.TopologySpreadConstraints; len(tsc) != 1 || tsc[0].TopologyKey != "kubernetes.io/hostname" || tsc[0].MaxSkew != 1 ||
		tsc[0].WhenUnsatisfiable != corev1.DoNotSchedule || tsc[0].LabelSelector.MatchLabels[LabelRun] != testRunID {
		t.Errorf("spread: %+v", tsc)
	}
	c := pod.Spec.Containers[0]
	if strings.Join(c.Command, " ") != "sh "+ScriptPath || len(c.Args) != 0 {
		t.Errorf("the main process must be the run script, got %v %v", c.Command, c.Args)
	}
	env := map[string]corev1.EnvVar{}
	var order []string
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("duplicate env %s", e.Name)
		}
		env[e.Name] = e
		order = append(order, e.Name)
	}
	if order[0] != "RAYON_NUM_THREADS" {
		t.Errorf("user env must come first, got %v", order)
	}
	if env["HF_TOKEN"].Value != "mine" {
		t.Errorf("a user HF_TOKEN must not be replaced by the secret ref")
	}
	for k, v := range map[string]string{
		EnvWorkspaceDir: "/workspace", EnvMagic: "harness_pod", EnvHarnessName: "inference-perf",
		EnvResultsPrefix: "/requests", EnvDatasetDir: "/workspace", EnvLauncherCount: "3", EnvParallelismMode: "split",
		// The kubelet expands the index, defined before it.
		EnvStackName: "pd-gpt-oss-120b_$(LLMDBENCH_LAUNCHER_INDEX)",
	} {
		if env[k].Value != v {
			t.Errorf("%s=%q, want %q", k, env[k].Value, v)
		}
	}
	if slices.Index(order, EnvLauncherIndex) > slices.Index(order, EnvStackName) ||
		env[EnvLauncherIndex].ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
		t.Errorf("index env: %+v (order %v)", env[EnvLauncherIndex], order)
	}
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever || pod.Labels[LabelApp] != AppLauncher || pod.Labels[LabelRun] != testRunID || pod.Labels[LabelIndex] != "" {
		t.Errorf("restart policy or labels wrong: %v", pod.Labels)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	if mounts["/requests"] == "" || mounts["/workspace/profiles/inference-perf"] == "" {
		t.Errorf("mounts %v", mounts)
	}
}

// One launcher has no spread and no index in its stack name; a preferred spread may pack.
func TestJobOneLauncherAndPreferredSpread(t *testing.T) {
	s := presetSpec(t, "pd", nil)
	job, err := BuildJob(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(job.Spec.Template.Spec.TopologySpreadConstraints) != 0 || *job.Spec.Completions != 1 {
		t.Errorf("one launcher: %+v", job.Spec)
	}
	for _, e := range job.Spec.Template.Spec.Containers[0].Env {
		if e.Name == EnvStackName && e.Value != "pd-gpt-oss-120b" {
			t.Errorf("stack %q", e.Value)
		}
	}
	p := 2
	s = presetSpec(t, "pd", func(o *config.Overrides) { o.Parallelism = &p })
	s.Launcher.Spread = SpreadPreferred
	ttl := int32(600)
	s.Launcher.TTLAfterFinished = &ttl
	job, _ = BuildJob(s)
	if tsc := job.Spec.Template.Spec.TopologySpreadConstraints; tsc[0].WhenUnsatisfiable != corev1.ScheduleAnyway || *job.Spec.TTLSecondsAfterFinished != 600 {
		t.Errorf("preferred spread / ttl: %+v", job.Spec)
	}
}

func TestConfigMapKeysAndSizeLimit(t *testing.T) {
	s := presetSpec(t, "inference-scheduling", nil)
	cm, err := BuildConfigMap(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"sanity_random.yaml", "shared_prefix_synthetic.yaml", ScriptKey} {
		if cm.Data[k] == "" {
			t.Errorf("missing key %s", k)
		}
	}
	s.Config.Workloads = append(s.Config.Workloads, config.Workload{Name: "huge", Profile: bytes.Repeat([]byte("x"), 1<<20)})
	if _, err := BuildConfigMap(s); err == nil || !strings.Contains(err.Error(), "over the 1 MiB a ConfigMap can hold") {
		t.Errorf("oversized profiles: %v", err)
	}
}

func TestBadEnvIsRejected(t *testing.T) {
	s := presetSpec(t, "pd", nil)
	s.Config.Env = []config.EnvVar{{Name: "X", Spec: map[string]any{"name": "X", "valu": "typo"}}}
	if _, err := BuildJob(s); err == nil || !strings.Contains(err.Error(), `env[0] (X) is not a Kubernetes env entry`) {
		t.Errorf("got %v", err)
	}
	s.Config.Env = []config.EnvVar{{Name: "X", Spec: map[string]any{"name": "X", "value": "a", "valueFrom": map[string]any{"fieldRef": map[string]any{"fieldPath": "metadata.name"}}}}}
	if _, err := BuildJob(s); err == nil || !strings.Contains(err.Error(), "both value and valueFrom") {
		t.Errorf("got %v", err)
	}
}

func TestRunIDs(t *testing.T) {
	id, err := NewRunID(time.Unix(1764000000, 0), bytes.NewReader([]byte{0xab, 0xcd}))
	if err != nil || id != testRunID || !IsRunID(id) {
		t.Errorf("got %q %v", id, err)
	}
	if _, err := NewRunID(time.Now(), bytes.NewReader(nil)); err == nil {
		t.Error("a failing random source must be reported")
	}
	now, seen := time.Now(), map[string]bool{}
	for range 20 {
		id, err := NewRunID(now, nil)
		if err != nil || !IsRunID(id) {
			t.Fatalf("%q %v", id, err)
		}
		seen[id] = true
	}
	if len(seen) < 2 {
		t.Error("20 run ids started in the same second are all equal: the random part is not random")
	}
	for _, bad := range []string{"", "1764000000", "1764000000-ABCD", "x764000000-abcd"} {
		if IsRunID(bad) {
			t.Errorf("%q accepted as run id", bad)
		}
	}
}

func TestLabelValueIsValid(t *testing.T) {
	for _, in := range []string{strings.Repeat("a", 100), "-x-", "a.b_c"} {
		if errs := validation.IsValidLabelValue(labelValue(in)); len(errs) > 0 {
			t.Errorf("%q -> %q: %v", in, labelValue(in), errs)
		}
	}
}

// The native harness runs the plugin's generator on the same profile and results folder, as the
// image's non-root user with the volume group-writable.
func TestNativeHarnessPodAndScript(t *testing.T) {
	s := presetSpec(t, "inference-scheduling", func(o *config.Overrides) { o.Harness = config.HarnessNative })
	s.Launcher = NativeLauncher()
	script, err := Script(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(script, "profiles='/workspace/profiles/llmdbench'\nnative_exec='kubectl-llmdbench'\n") ||
		!strings.Contains(script, `set -- --config="$profiles/$profile.yaml" --output-dir="$results"`) ||
		!strings.Contains(script, `"$native_exec" loadgen "$@"`) ||
		strings.Contains(script, "--workload=") {
		t.Errorf("script does not start the native generator:\n%s", script)
	}
	job, err := BuildJob(s)
	if err != nil {
		t.Fatal(err)
	}
	p := job.Spec.Template
	c := p.Spec.Containers[0]
	// No fixed user (the image's 65532, or the one OpenShift assigns); the group owns the volume.
	if c.SecurityContext == nil || c.SecurityContext.RunAsUser != nil || p.Spec.SecurityContext == nil ||
		p.Spec.SecurityContext.RunAsUser != nil || *p.Spec.SecurityContext.FSGroup != NativeUID {
		t.Errorf("security: container %v pod %v", c.SecurityContext, p.Spec.SecurityContext)
	}
	if c.Resources.Requests.Cpu().String() != "2" || c.VolumeMounts[1].MountPath != "/workspace/profiles/llmdbench" {
		t.Errorf("cpu %s, profiles at %s", c.Resources.Requests.Cpu(), c.VolumeMounts[1].MountPath)
	}
	// Every other harness keeps llm-d-benchmark's entry point.
	other, _ := Script(presetSpec(t, "inference-scheduling", nil))
	if strings.Contains(other, "loadgen") || !strings.Contains(other, `"$executable" --harness="$harness" --workload="$profile"`) {
		t.Error("inference-perf script changed")
	}
}

func TestSelectors(t *testing.T) {
	if got, want := AllRunsSelector(), "app.kubernetes.io/managed-by=kubectl-llmdbench,llmdbench.io/run"; got != want {
		t.Errorf("AllRunsSelector() = %q, want %q", got, want)
	}
	if got, want := RunSelector("1795740000-ab12"), "llmdbench.io/run=1795740000-ab12"; got != want {
		t.Errorf("RunSelector = %q, want %q", got, want)
	}
}
