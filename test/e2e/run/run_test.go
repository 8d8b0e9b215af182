// Package run proves `kubectl llmdbench run` and the commands around runs (attach, status, delete,
// doctor) end to end on the real local control plane. The launcher image's entry point is a
// test stand-in (test/e2e/testdata/overlay) that writes real inference-perf result files.
package run

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
	"github.com/llmdbench/kubectl-llmdbench/pkg/preset"
	"github.com/llmdbench/kubectl-llmdbench/test/e2e/framework"
	"sigs.k8s.io/yaml"
)

var cl *framework.Cluster

func TestMain(m *testing.M) {
	os.Exit(framework.Main(m, &cl, (*framework.Cluster).InstallHarnessStandIn))
}

// small keeps launchers within the one fake node (32 CPU) when several run at once.
var small = []string{"--cpu", "500m", "--memory", "512Mi"}

const timeout = 90 * time.Second

func setupNamespace(t testing.TB, pvcMode corev1.PersistentVolumeAccessMode) string {
	t.Helper()
	ns := cl.Namespace(t)
	ctx := context.Background()
	if pvcMode != "" {
		pvc := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: "workload-pvc"},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{pvcMode},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}},
			},
		}
		if _, err := cl.Client.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range preset.Names() {
		if p, _ := preset.Get(name); p.Gateway != "" {
			gatewayService(t, ns, p.Gateway+"-istio", p.Gateway)
		}
	}
	return ns
}

func gatewayService(t testing.TB, ns, name, gateway string) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{cluster.GatewayNameLabel: gateway}},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}
	if _, err := cl.Client.CoreV1().Services(ns).Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func args(ns string, a ...string) []string {
	return append(append([]string{"-n", ns}, a...), small...)
}

var runIDInText = regexp.MustCompile(`run ([0-9]{10}-[0-9a-f]{4})`)

// detach starts a run of one workload that takes seconds, with --detach, and returns its ID.
func detach(t *testing.T, ns string, seconds int) string {
	t.Helper()
	r := cl.Plugin(t, "", timeout, args(ns, "run", "-f", slowConfig(t, seconds), "--pvc", "workload-pvc", "--detach")...)
	if r.Code != 0 {
		t.Fatalf("run --detach: %d\n%s", r.Code, r.Stderr)
	}
	return runID(t, r)
}

func runID(t *testing.T, r framework.Result) string {
	t.Helper()
	m := runIDInText.FindStringSubmatch(r.Stderr)
	if m == nil {
		t.Fatalf("no run id in:\n%s", r.Stderr)
	}
	return m[1]
}

func status(t *testing.T, ns, id string) cluster.Status {
	t.Helper()
	r := cl.Plugin(t, "", timeout, "status", id, "-n", ns, "-o", "json")
	if r.Code != 0 {
		t.Fatalf("status: %d %s", r.Code, r.Stderr)
	}
	var st cluster.Status
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, r.Stdout)
	}
	return st
}

// runObjects lists what the cluster holds for a run.
func runObjects(t *testing.T, ns, id string) (pods, cms int) {
	t.Helper()
	sel := metav1.ListOptions{LabelSelector: launcher.RunSelector(id)}
	p, err := cl.Client.CoreV1().Pods(ns).List(context.Background(), sel)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cl.Client.CoreV1().ConfigMaps(ns).List(context.Background(), sel)
	if err != nil {
		t.Fatal(err)
	}
	return len(p.Items), len(c.Items)
}

// nothingLeft asserts a namespace holds no launcher pod or run ConfigMap at all.
func nothingLeft(t *testing.T, ns string) {
	t.Helper()
	sel := metav1.ListOptions{LabelSelector: launcher.LabelManagedBy + "=" + launcher.ManagedBy}
	pods, _ := cl.Client.CoreV1().Pods(ns).List(context.Background(), sel)
	cms, _ := cl.Client.CoreV1().ConfigMaps(ns).List(context.Background(), sel)
	if len(pods.Items)+len(cms.Items) != 0 {
		t.Errorf("left behind: %d pods, %d ConfigMaps", len(pods.Items), len(cms.Items))
	}
}

func TestHappyPathEveryPreset(t *testing.T) {
	for _, name := range preset.Names() {
		t.Run(name, func(t *testing.T) {
			ns := setupNamespace(t, corev1.ReadWriteMany)
			a := args(ns, "run", "--preset", name, "--pvc", "workload-pvc")
			if p, _ := preset.Get(name); p.Gateway == "" {
				// The guide names no gateway (the stand-in harness sends nothing).
				a = append(a, "--base-url", "http://127.0.0.1:80")
			}
			r := cl.Plugin(t, "", timeout, a...)
			if r.Code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
			}
			id := runID(t, r)
			p, _ := preset.Get(name)
			lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
			if !strings.HasPrefix(lines[0], "LAUNCHER") || len(lines) != 1+len(p.Workloads) {
				t.Errorf("verdict table:\n%s", r.Stdout)
			}
			// Workloads ran in file order, each succeeded, each left real results on the claim.
			var order []string
			for _, line := range strings.Split(r.Stderr, "\n") {
				if m := regexp.MustCompile(`workload \d+/\d+ (\S+) started`).FindStringSubmatch(line); m != nil {
					order = append(order, m[1])
				}
			}
			if strings.Join(order, ",") != strings.Join(p.Workloads, ",") {
				t.Errorf("workload order %v, want %v", order, p.Workloads)
			}
			st := status(t, ns, id)
			if st.Run != id || st.Phase != cluster.PhaseSucceeded || len(st.Workloads) != len(p.Workloads) {
				t.Fatalf("status %+v", st)
			}
			for i, w := range st.Workloads {
				want := fmt.Sprintf("/requests/%s_%s_%s_%s", p.Harness, id, p.Workloads[i], p.StackName)
				if w.Name != p.Workloads[i] || w.Phase != cluster.PhaseSucceeded || *w.ExitCode != 0 || w.ResultsDir != want ||
					w.StartedAt == nil || w.FinishedAt == nil {
					t.Errorf("workload %d: %+v (results dir want %s)", i, w, want)
				}
				local := filepath.Join(cl.ClaimDir(ns, "workload-pvc"), strings.TrimPrefix(w.ResultsDir, "/requests/"))
				if _, err := os.Stat(filepath.Join(local, "summary_lifecycle_metrics.json")); err != nil {
					t.Errorf("results of %s missing on the claim: %v", w.Name, err)
				}
			}
			// Unique names and the guide's label: the launcher's pod stays, Succeeded, with its log.
			pod, err := cl.Client.CoreV1().Pods(ns).Get(context.Background(), cl.LauncherPod(t, ns, id, 0), metav1.GetOptions{})
			if err == nil && pod.Status.Phase != corev1.PodSucceeded {
				t.Errorf("launcher pod %s is %s, want Succeeded (its exit code is the launcher's verdict)", pod.Name, pod.Status.Phase)
			}
			if err != nil || pod.Labels[launcher.LabelApp] != launcher.AppLauncher || pod.Labels[launcher.LabelRun] != id || pod.Labels[launcher.LabelPreset] != name {
				t.Errorf("launcher pod: %v %v", err, pod.Labels)
			}
			logs, err := cl.Client.CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(context.Background())
			if err != nil || !strings.Contains(string(logs), "[llmdbench] workload 1/") {
				t.Errorf("plain kubectl logs of the launcher must show the run: %v\n%s", err, logs)
			}
		})
	}
}

const failingConfig = `
endpoint:
  stack_name: verdicts
  model: &model m/one
  namespace: ${NAMESPACE}
  base_url: &url http://gw.example.svc:80
harness:
  name: inference-perf
  results_pvc: ${BENCHMARK_PVC}
  parallelism: 1
  wait_timeout: 3
  image: ghcr.io/llm-d/llm-d-benchmark:v0.4.0
workload:
  fails:
    e2e_exit_code: 3
    server: {model_name: *model, base_url: *url}
    load: {type: constant, stages: [{rate: 1, duration: 10}]}
  hangs:
    e2e_sleep: 600
    server: {model_name: *model, base_url: *url}
    load: {type: constant, stages: [{rate: 1, duration: 10}]}
  works:
    server: {model_name: *model, base_url: *url}
    load: {type: constant, stages: [{rate: 1, duration: 10}]}
`

func TestFailedAndTimedOutWorkloads(t *testing.T) {
	ns := setupNamespace(t, corev1.ReadWriteOnce)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(failingConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := cl.Plugin(t, "", timeout, args(ns, "run", "-f", cfg, "--pvc", "workload-pvc")...)
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if d := time.Since(start); d > 40*time.Second {
		t.Errorf("took %s: the 3 s wait timeout did not stop the hanging workload", d)
	}
	id := runID(t, r)
	st := status(t, ns, id)
	got := map[string]cluster.WorkloadState{}
	for _, w := range st.Workloads {
		got[w.Name] = w
	}
	if w := got["fails"]; w.Phase != cluster.PhaseFailed || w.ExitCode == nil || *w.ExitCode != 3 || w.TimedOut {
		t.Errorf("fails: %+v", w)
	}
	if w := got["hangs"]; w.Phase != cluster.PhaseFailed || !w.TimedOut {
		t.Errorf("hangs: %+v", w)
	}
	if w := got["works"]; w.Phase != cluster.PhaseSucceeded {
		t.Errorf("the workload after the failures must still run: %+v", w)
	}
	if st.Phase != cluster.PhaseFailed {
		t.Errorf("run phase %s", st.Phase)
	}
	for _, want := range []string{"failed (exit 3)", "timed-out", "succeeded"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("verdict table lacks %q:\n%s", want, r.Stdout)
		}
	}
	// The timed-out workload was really killed in the pod.
	if n := processesMatching(cl.PodRoot(ns, cl.LauncherPod(t, ns, id, 0)), "sleep 600"); n != 0 {
		t.Errorf("%d 'sleep 600' processes of the timed-out workload still run", n)
	}
}

func processesMatching(root, cmdline string) int {
	n := 0
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		link, err := os.Readlink(filepath.Join("/proc", e.Name(), "root"))
		if err != nil || !strings.HasPrefix(link, root) {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), cmdline) && !strings.Contains(string(stat), ") Z ") {
			n++
		}
	}
	return n
}

func TestLaunchFailuresExplainAndLeaveNothing(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, ns string)
		args  []string
		want  []string
	}{
		{name: "image pull", args: []string{"--image", framework.UnpullableImage},
			want: []string{"cannot start: ErrImagePull", "image " + framework.UnpullableImage}},
		{name: "unschedulable", args: []string{"--cpu", "64"},
			want: []string{"cannot start: Unschedulable", "Insufficient cpu"}},
		{name: "missing secret key", setup: func(t *testing.T, ns string) {
			sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bench-token"}, StringData: map[string]string{"OTHER": "x"}}
			if _, err := cl.Client.CoreV1().Secrets(ns).Create(context.Background(), sec, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}, args: []string{"--env", "X=1"}, want: []string{"CreateContainerConfigError", "couldn't find key TOKEN in Secret"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := setupNamespace(t, corev1.ReadWriteMany)
			extra := tc.args
			if tc.setup != nil {
				tc.setup(t, ns)
				// A required (not optional) secret key, through the config's env list.
				cfg := filepath.Join(t.TempDir(), "c.yaml")
				src, _ := preset.Source("pd")
				body := strings.Replace(string(src), "env:\n", "env:\n  - name: TOKEN\n    valueFrom:\n      secretKeyRef: {name: bench-token, key: TOKEN}\n", 1)
				if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
				extra = append([]string{"-f", cfg}, extra...)
			} else {
				extra = append([]string{"--preset", "pd"}, extra...)
			}
			r := cl.Plugin(t, "", timeout, append(args(ns, "run", "--pvc", "workload-pvc", "--launch-timeout", "30s"), extra...)...)
			if r.Code == 0 {
				t.Fatalf("the run must fail\n%s", r.Stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.Stderr)
				}
			}
			nothingLeft(t, ns)
		})
	}
}

func TestPreflightRefusesBeforeCreatingAnything(t *testing.T) {
	t.Run("missing pvc", func(t *testing.T) {
		ns := setupNamespace(t, "")
		r := cl.Plugin(t, "", timeout, args(ns, "run", "--preset", "pd", "--pvc", "nope")...)
		if r.Code == 0 || !strings.Contains(r.Stderr, "PVC nope does not exist in namespace "+ns) || !strings.Contains(r.Stderr, "--create-pvc") {
			t.Errorf("exit %d:\n%s", r.Code, r.Stderr)
		}
		nothingLeft(t, ns)
		// --create-pvc creates a ReadWriteMany claim and the run goes through.
		r = cl.Plugin(t, "", timeout, args(ns, "run", "--preset", "pd", "--pvc", "nope", "--create-pvc")...)
		if r.Code != 0 {
			t.Fatalf("--create-pvc: exit %d\n%s", r.Code, r.Stderr)
		}
		pvc, err := cl.Client.CoreV1().PersistentVolumeClaims(ns).Get(context.Background(), "nope", metav1.GetOptions{})
		if err != nil || pvc.Spec.AccessModes[0] != corev1.ReadWriteMany {
			t.Errorf("created claim: %v %+v", err, pvc.Spec)
		}
	})
	t.Run("rwo with parallelism", func(t *testing.T) {
		ns := setupNamespace(t, corev1.ReadWriteOnce)
		r := cl.Plugin(t, "", timeout, args(ns, "run", "--preset", "pd", "--pvc", "workload-pvc", "--parallelism", "2")...)
		if r.Code == 0 || !strings.Contains(r.Stderr, "PVC workload-pvc is ReadWriteOnce, but 2 launchers must write to it at once") {
			t.Errorf("exit %d:\n%s", r.Code, r.Stderr)
		}
		nothingLeft(t, ns)
	})
	t.Run("missing namespace", func(t *testing.T) {
		r := cl.Plugin(t, "", timeout, "run", "--preset", "pd", "-n", "no-such-ns", "--pvc", "p", "--base-url", "http://a:80")
		if r.Code == 0 || !strings.Contains(r.Stderr, "namespace no-such-ns does not exist") {
			t.Errorf("exit %d:\n%s", r.Code, r.Stderr)
		}
	})
	t.Run("missing namespace before gateway discovery", func(t *testing.T) {
		// Field case: without --base-url, discovery looked into the namespace first and named the
		// gateway (suggesting --gateway) instead of the namespace.
		r := cl.Plugin(t, "", timeout, "run", "--preset", "pd", "-n", "nosuchns", "--pvc", "p")
		if r.Code == 0 || !strings.Contains(r.Stderr, "namespace nosuchns does not exist") || strings.Contains(r.Stderr, "--gateway") {
			t.Errorf("exit %d:\n%s", r.Code, r.Stderr)
		}
	})
	t.Run("no gateway service", func(t *testing.T) {
		ns := cl.Namespace(t)
		gatewayService(t, ns, "other-istio", "other-gateway")
		r := cl.Plugin(t, "", timeout, args(ns, "run", "--preset", "pd", "--pvc", "p")...)
		want := "gateway infra-pd-inference-gateway not found in namespace " + ns + ": gateway Services there: other-istio (gateway other-gateway); pass --gateway NAME or --base-url URL"
		if r.Code == 0 || !strings.Contains(r.Stderr, want) {
			t.Errorf("exit %d:\n%s\nwant %s", r.Code, r.Stderr, want)
		}
		nothingLeft(t, ns)
	})
	t.Run("two gateway services", func(t *testing.T) {
		ns := cl.Namespace(t)
		gatewayService(t, ns, "a-istio", "infra-pd-inference-gateway")
		gatewayService(t, ns, "b-istio", "infra-pd-inference-gateway")
		r := cl.Plugin(t, "", timeout, args(ns, "run", "--preset", "pd", "--pvc", "p")...)
		if r.Code == 0 || !strings.Contains(r.Stderr, "2 Services in namespace "+ns+" carry gateway.networking.k8s.io/gateway-name=infra-pd-inference-gateway (a-istio, b-istio)") {
			t.Errorf("exit %d:\n%s", r.Code, r.Stderr)
		}
		nothingLeft(t, ns)
	})
}

// slowConfig's single workload runs long enough to interrupt the follower, cut the stream, or
// delete the launcher mid-run.
func slowConfig(t *testing.T, seconds int) string {
	t.Helper()
	body := strings.Replace(failingConfig, "wait_timeout: 3", "wait_timeout: 0", 1)
	body = body[:strings.Index(body, "workload:")] + fmt.Sprintf("workload:\n  slow:\n    e2e_sleep: %d\n    load: {type: constant, stages: [{rate: 1, duration: 10}]}\n", seconds)
	path := filepath.Join(t.TempDir(), "slow.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestInterruptedFollowerThenAttach(t *testing.T) {
	ns := setupNamespace(t, corev1.ReadWriteOnce)
	cmd := cl.PluginCmd(t, "", args(ns, "run", "-f", slowConfig(t, 4), "--pvc", "workload-pvc")...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt following as Ctrl-C would, once the workload runs.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), "workload 1/1 slow started") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if cmd.ProcessState.ExitCode() != 130 || !strings.Contains(stderr.String(), "it goes on in the cluster") {
		t.Fatalf("interrupted follower: %v %d\n%s", err, cmd.ProcessState.ExitCode(), stderr.String())
	}
	// One line says it, the last one: no "context canceled", no "error:".
	lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "Interrupted: stopped following run ") || strings.Contains(stderr.String(), "context canceled") || strings.Contains(stderr.String(), "error:") {
		t.Errorf("Ctrl-C must end with one line saying what still runs:\n%s", stderr.String())
	}
	id := runIDInText.FindStringSubmatch(stderr.String())[1]
	if !strings.Contains(stderr.String(), "kubectl llmdbench attach "+id+" -n "+ns) {
		t.Errorf("the attach command is not shown:\n%s", stderr.String())
	}
	if st := status(t, ns, id); st.Phase != cluster.PhaseRunning {
		t.Errorf("after Ctrl-C the run goes on; status %s", st.Phase)
	}
	r := cl.Plugin(t, "", timeout, "attach", id, "-n", ns)
	if r.Code != 0 || !strings.Contains(r.Stdout, "succeeded") || !strings.Contains(r.Stderr, "Done. Data is available") {
		t.Errorf("attach: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

func TestLauncherDeletedMidRunIsAClearFailure(t *testing.T) {
	ns := setupNamespace(t, corev1.ReadWriteOnce)
	r := cl.Plugin(t, "", timeout, args(ns, "run", "-f", slowConfig(t, 30), "--pvc", "workload-pvc", "--detach")...)
	if r.Code != 0 {
		t.Fatalf("detach: %d %s", r.Code, r.Stderr)
	}
	id := strings.TrimSpace(r.Stdout)
	if !launcher.IsRunID(id) || !strings.Contains(r.Stderr, "kubectl llmdbench attach "+id) {
		t.Fatalf("--detach must print the run id and how to follow: %q\n%s", r.Stdout, r.Stderr)
	}
	// delete without --force refuses a running run
	if d := cl.Plugin(t, "", timeout, "delete", id, "-n", ns); d.Code == 0 || !strings.Contains(d.Stderr, "pass --force") {
		t.Errorf("delete of a running run: %d %s", d.Code, d.Stderr)
	}
	folder := waitWorkloadRunning(t, ns, id)
	pod := cl.LauncherPod(t, ns, id, 0)
	if err := cl.Client.CoreV1().Pods(ns).Delete(context.Background(), pod, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	a := cl.Plugin(t, "", timeout, "attach", id, "-n", ns)
	if a.Code != 1 || !strings.Contains(a.Stderr, "launcher 0 of run "+id+" has no pod (deleted)") && !strings.Contains(a.Stderr, "launcher pod "+pod+" is being deleted") {
		t.Errorf("attach after the launcher was deleted: %d\n%s\n%s", a.Code, a.Stdout, a.Stderr)
	}
	st := status(t, ns, id)
	if st.Phase != cluster.PhaseFailed || st.Succeeded != 0 || st.Failed != 1 || st.Total != 1 {
		t.Errorf("status %+v", st)
	}
	// Its result folder is incomplete, never "running" forever, and shown as PARTIAL.
	provesPartialFolder(t, ns, id, folder)
}

func TestConcurrentRunsAndParallelism(t *testing.T) {
	ns := setupNamespace(t, corev1.ReadWriteMany)
	results := make(chan framework.Result, 2)
	for _, p := range []string{"1", "2"} {
		go func() {
			results <- cl.Plugin(t, "", timeout, args(ns, "run", "--preset", "wide-ep", "--pvc", "workload-pvc", "--parallelism", p)...)
		}()
	}
	ids := map[string]framework.Result{}
	for range 2 {
		r := <-results
		if r.Code != 0 {
			t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
		}
		ids[runID(t, r)] = r
	}
	if len(ids) != 2 {
		t.Fatalf("two runs must have two ids: %v", ids)
	}
	for id := range ids {
		st := status(t, ns, id)
		pods, cms := runObjects(t, ns, id)
		if st.Phase != cluster.PhaseSucceeded || cms != 1 || pods != len(st.Workloads) {
			t.Errorf("run %s: %s, %d pods, %d ConfigMaps, %d workloads", id, st.Phase, pods, cms, len(st.Workloads))
		}
		if pods == 2 {
			for i, w := range st.Workloads {
				if !strings.HasSuffix(w.ResultsDir, fmt.Sprintf("wide-ep-deepseek-r1-0528_%d", i)) {
					t.Errorf("parallel launcher %d writes to %s", i, w.ResultsDir)
				}
			}
		}
	}
	list := cl.Plugin(t, "", timeout, "status", "-n", ns)
	for id := range ids {
		// SUCCEEDED FAILED TOTAL: one launcher runs one workload, two run it twice.
		if !regexp.MustCompile(id+`\s+wide-ep/wide-ep-deepseek-r1-0528\s+inference-perf\s+Succeeded\s+1\s+0\s+1\s`).MatchString(list.Stdout) &&
			!regexp.MustCompile(id+`\s+wide-ep/wide-ep-deepseek-r1-0528\s+inference-perf\s+Succeeded\s+2\s+0\s+2\s`).MatchString(list.Stdout) {
			t.Errorf("status list lacks %s:\n%s", id, list.Stdout)
		}
	}
	d := cl.Plugin(t, "", timeout, "delete", "--all-finished", "-n", ns)
	if d.Code != 0 || strings.Count(d.Stdout, "deleted") != 2 {
		t.Errorf("delete --all-finished: %d %s %s", d.Code, d.Stdout, d.Stderr)
	}
	nothingLeft(t, ns)
	if entries, _ := os.ReadDir(cl.ClaimDir(ns, "workload-pvc")); len(entries) < 3 {
		t.Errorf("delete must keep the results: %d entries left on the claim", len(entries))
	}
}

// RunRole is the Role the README documents for users of kubectl llmdbench, read from the README
// itself (its "The Role a user needs" YAML block), so the tests run with exactly what users are told.
var RunRole = readmeRole()

func readmeRole() []rbacv1.PolicyRule {
	root, err := framework.RepoRoot()
	if err != nil {
		panic(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		panic(err)
	}
	_, rest, ok := strings.Cut(string(data), "### The Role a user needs")
	if ok {
		_, rest, ok = strings.Cut(rest, "```yaml\n")
	}
	block, _, closed := strings.Cut(rest, "```")
	if !ok || !closed {
		panic("README.md has no YAML block under \"### The Role a user needs\"")
	}
	var role struct {
		Rules []rbacv1.PolicyRule `json:"rules"`
	}
	if err := yaml.UnmarshalStrict([]byte(block), &role); err != nil || len(role.Rules) == 0 {
		panic(fmt.Sprintf("README.md's Role: %v (%d rules)", err, len(role.Rules)))
	}
	return role.Rules
}

func TestRestrictedUserWithTheDocumentedRole(t *testing.T) {
	ns := setupNamespace(t, corev1.ReadWriteOnce)
	kc, _ := cl.User(t, ns, "bench-user", RunRole)
	r := cl.Plugin(t, kc, timeout, append([]string{"run", "--preset", "pd", "--pvc", "workload-pvc"}, small...)...)
	if r.Code != 0 {
		t.Fatalf("a user with the documented Role must be able to run: %d\n%s", r.Code, r.Stderr)
	}
	var noExec []rbacv1.PolicyRule
	for _, rule := range RunRole {
		if rule.Resources[0] != "pods/exec" {
			noExec = append(noExec, rule)
		}
	}
	kc2, _ := cl.User(t, ns, "no-exec", noExec)
	r = cl.Plugin(t, kc2, timeout, append([]string{"run", "--preset", "pd", "--pvc", "workload-pvc"}, small...)...)
	if r.Code == 0 || !strings.Contains(r.Stderr, "you may not create pods/exec") {
		t.Errorf("preflight must name the missing pods/exec: %d\n%s", r.Code, r.Stderr)
	}
	d := cl.Plugin(t, kc2, timeout, "doctor", "--preset", "pd", "--pvc", "workload-pvc", "-o", "json")
	var report struct {
		OK     bool            `json:"ok"`
		Checks []cluster.Check `json:"checks"`
	}
	if err := json.Unmarshal([]byte(d.Stdout), &report); err != nil || d.Code != 1 || report.OK {
		t.Fatalf("doctor: %d %v\n%s", d.Code, err, d.Stdout)
	}
	found := false
	for _, c := range report.Checks {
		if c.Name == "rbac" && !c.OK && strings.Contains(c.Message, "create pods/exec") {
			found = true
		}
	}
	if !found {
		t.Errorf("doctor does not name pods/exec: %+v", report.Checks)
	}
	ok := cl.Plugin(t, kc, timeout, "doctor", "--preset", "pd", "--pvc", "workload-pvc")
	if ok.Code != 0 || !strings.Contains(ok.Stdout, "✔ rbac") {
		t.Errorf("doctor with the full Role: %d\n%s%s", ok.Code, ok.Stdout, ok.Stderr)
	}
	// Launchers that cannot share the load: doctor says so as run would (pd's first stage has
	// concurrency 50).
	split := cl.Plugin(t, kc, timeout, "doctor", "--preset", "pd", "--pvc", "workload-pvc", "--parallelism", "51")
	if split.Code != 1 || !strings.Contains(split.Stdout, "✘ split") || !strings.Contains(split.Stdout, "concurrency_level 50 cannot be shared by 51 launchers") {
		t.Errorf("doctor with 51 launchers: %d\n%s%s", split.Code, split.Stdout, split.Stderr)
	}
}

// --ttl: Kubernetes' TTL-after-finished controller removes the launchers' Job, the garbage
// collector its pods and (owned by the Job) the run's ConfigMap: nothing of the run is left, with
// no plugin running; its results stay on the claim.
func TestTTLLeavesNothing(t *testing.T) {
	ns := setupNamespace(t, corev1.ReadWriteOnce)
	r := cl.Plugin(t, "", timeout, args(ns, "run", "--preset", "pd", "--pvc", "workload-pvc", "--ttl", "3s", "--no-fetch")...)
	if r.Code != 0 {
		t.Fatalf("run: %d\n%s", r.Code, r.Stderr)
	}
	id := runID(t, r)
	ctx := context.Background()
	deadline := time.Now().Add(90 * time.Second)
	for {
		pods, cms := runObjects(t, ns, id)
		jobs, err := cl.Client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: launcher.RunSelector(id)})
		if err != nil {
			t.Fatal(err)
		}
		if pods+cms+len(jobs.Items) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("90 s after a run with --ttl 3s: %d pod(s), %d ConfigMap(s), %d Job(s) left", pods, cms, len(jobs.Items))
		}
		time.Sleep(time.Second)
	}
	folders, _ := filepath.Glob(filepath.Join(cl.ClaimDir(ns, "workload-pvc"), "inference-perf_"+id+"_*"))
	if len(folders) == 0 {
		t.Error("the results went with the run")
	}
}
