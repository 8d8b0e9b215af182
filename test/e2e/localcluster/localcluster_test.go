// Package localcluster proves, against the real API server, that the local control plane behaves
// the way the plugin's end-to-end tests rely on: scheduling, volumes, exec, logs, failures, RBAC.
package localcluster

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/test/e2e/framework"
)

var cl *framework.Cluster

func TestMain(m *testing.M) { os.Exit(framework.Main(m, &cl)) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func createPVC(t *testing.T, ns, name string, mode corev1.PersistentVolumeAccessMode) {
	t.Helper()
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{mode},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if _, err := cl.Client.CoreV1().PersistentVolumeClaims(ns).Create(context.Background(), pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func pod(name string, mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{}},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"sleep", "3600"}}},
		},
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

func withClaim(claim, path string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
		p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "data", MountPath: path})
	}
}

func create(t *testing.T, ns string, p *corev1.Pod) {
	t.Helper()
	if _, err := cl.Client.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func running(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning }

func TestPodWithClaimAndConfigMapGoesPendingBoundRunning(t *testing.T) {
	ns := cl.Namespace(t)
	ctx := ctxT(t)
	createPVC(t, ns, "results", corev1.ReadWriteMany)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "profiles"}, Data: map[string]string{"w.yaml": "load:\n  type: constant\n"}}
	if _, err := cl.Client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := cl.Client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", "launcher").String()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	create(t, ns, pod("launcher", func(p *corev1.Pod) {
		withClaim("results", "/requests")(p)
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "profiles", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "profiles"}}}})
		p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "profiles", MountPath: "/workspace/profiles/inference-perf"})
	}))
	// Record what a watcher sees: unbound and Pending first, then bound, then Running.
	var seen []string
	for ev := range w.ResultChan() {
		if ev.Type != watch.Added && ev.Type != watch.Modified {
			continue
		}
		p := ev.Object.(*corev1.Pod)
		state := string(p.Status.Phase)
		if state == "" {
			state = "Pending"
		}
		if p.Spec.NodeName == "" {
			state += "/unbound"
		}
		if len(seen) == 0 || seen[len(seen)-1] != state {
			seen = append(seen, state)
		}
		if p.Status.Phase == corev1.PodRunning {
			break
		}
	}
	if len(seen) < 3 || seen[0] != "Pending/unbound" || seen[len(seen)-1] != "Running" || !contains(seen, "Pending") {
		t.Errorf("lifecycle %v, want Pending/unbound → Pending (bound) → Running", seen)
	}
	pvc, err := cl.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "results", metav1.GetOptions{})
	if err != nil || pvc.Status.Phase != corev1.ClaimBound || pvc.Status.AccessModes[0] != corev1.ReadWriteMany {
		t.Errorf("claim not bound RWX: %+v %v", pvc.Status, err)
	}
	out, stderr, err := cl.Exec(ctx, ns, "launcher", "cat", "/workspace/profiles/inference-perf/w.yaml")
	if err != nil || out != "load:\n  type: constant\n" {
		t.Errorf("exec cat of the ConfigMap file: %q %q %v", out, stderr, err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestClaimIsSharedBetweenPods(t *testing.T) {
	ns := cl.Namespace(t)
	ctx := ctxT(t)
	createPVC(t, ns, "shared", corev1.ReadWriteMany)
	create(t, ns, pod("writer", withClaim("shared", "/requests")))
	create(t, ns, pod("reader", withClaim("shared", "/data")))
	cl.WaitPod(t, ns, "writer", 20*time.Second, running)
	cl.WaitPod(t, ns, "reader", 20*time.Second, running)
	if _, stderr, err := cl.Exec(ctx, ns, "writer", "sh", "-c", "mkdir -p /requests/run1 && echo from-writer > /requests/run1/result.txt"); err != nil {
		t.Fatalf("%v %s", err, stderr)
	}
	out, _, err := cl.Exec(ctx, ns, "reader", "cat", "/data/run1/result.txt")
	if err != nil || out != "from-writer\n" {
		t.Errorf("reader saw %q, %v", out, err)
	}
	if b, err := os.ReadFile(filepath.Join(cl.ClaimDir(ns, "shared"), "run1/result.txt")); err != nil || string(b) != "from-writer\n" {
		t.Errorf("claim folder on the host: %q %v", b, err)
	}
}

func TestTarStreamFromClaimDecodes(t *testing.T) {
	ns := cl.Namespace(t)
	ctx := ctxT(t)
	createPVC(t, ns, "results", corev1.ReadWriteOnce)
	want := map[string]string{
		"x/summary_lifecycle_metrics.json": `{"load_summary":{"count":3}}`,
		"x/analysis/notes.txt":             strings.Repeat("line\n", 1000),
	}
	for rel, data := range want {
		framework.WriteFile(t, cl.ClaimDir(ns, "results"), rel, []byte(data), 0o644)
	}
	create(t, ns, pod("launcher", withClaim("results", "/requests")))
	cl.WaitPod(t, ns, "launcher", 20*time.Second, running)
	ex, err := cl.Executor(nil)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		var stderr strings.Builder
		err := ex.Exec(ctx, cluster.PodRef{Namespace: ns, Name: "launcher"}, []string{"tar", "czf", "-", "-C", "/requests", "x"}, pw, &stderr)
		pw.CloseWithError(err)
		errc <- err
	}()
	gz, err := gzip.NewReader(pr)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			got[h.Name] = string(b)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %d bytes, want %d", k, len(got[k]), len(v))
		}
	}
}

func TestLogsShowWhatTheContainerPrints(t *testing.T) {
	ns := cl.Namespace(t)
	ctx := ctxT(t)
	create(t, ns, pod("talker", nil))
	cl.WaitPod(t, ns, "talker", 20*time.Second, running)
	if _, _, err := cl.Exec(ctx, ns, "talker", "sh", "-c", "echo hello-out > /proc/1/fd/1; echo hello-err > /proc/1/fd/2"); err != nil {
		t.Fatal(err)
	}
	var logs string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := cl.Client.CoreV1().Pods(ns).GetLogs("talker", &corev1.PodLogOptions{}).DoRaw(ctx)
		if err == nil && strings.Contains(string(b), "hello-err") {
			logs = string(b)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if logs != "hello-out\nhello-err\n" {
		t.Errorf("logs %q", logs)
	}
}

func TestEnvironmentPathAndOverlay(t *testing.T) {
	ns := cl.Namespace(t)
	ctx := ctxT(t)
	framework.WriteFile(t, cl.OverlayDir(), "usr/local/bin/hello-tool", []byte("#!/bin/sh\necho tool says $GREETING\n"), 0o755)
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tok"}, StringData: map[string]string{"HF_TOKEN": "s3cret"}}
	if _, err := cl.Client.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	optional := true
	create(t, ns, pod("envy", func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []corev1.EnvVar{
			{Name: "GREETING", Value: "hi"},
			{Name: "HF_TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "tok"}, Key: "HF_TOKEN"}}},
			{Name: "ABSENT", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "x", Optional: &optional}}},
		}
	}))
	cl.WaitPod(t, ns, "envy", 20*time.Second, running)
	out, stderr, err := cl.Exec(ctx, ns, "envy", "sh", "-c", `echo "$PATH|$GREETING|$HF_TOKEN|${ABSENT-unset}|$HOSTNAME"; hello-tool`)
	want := "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin|hi|s3cret|unset|envy\ntool says hi\n"
	if err != nil || out != want {
		t.Errorf("got %q (stderr %q, %v), want %q", out, stderr, err, want)
	}
	// The overlay tool is called by bare name, as kubectl exec into a real image would.
	if out, _, err := cl.Exec(ctx, ns, "envy", "hello-tool"); err != nil || out != "tool says hi\n" {
		t.Errorf("bare exec of an overlay program: %q %v", out, err)
	}
}

func TestBackgroundProcessOutlivesExec(t *testing.T) {
	ns := cl.Namespace(t)
	ctx := ctxT(t)
	createPVC(t, ns, "results", corev1.ReadWriteOnce)
	create(t, ns, pod("launcher", withClaim("results", "/requests")))
	cl.WaitPod(t, ns, "launcher", 20*time.Second, running)
	start := time.Now()
	if _, _, err := cl.Exec(ctx, ns, "launcher", "sh", "-c", `(sleep 2; echo finished > /requests/marker) >/dev/null 2>&1 </dev/null &`); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("exec of a detached job took %s; it must return at once", d)
	}
	marker := filepath.Join(cl.ClaimDir(ns, "results"), "marker")
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the job finished before it could have")
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(marker); err == nil && string(b) == "finished\n" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Error("the background job did not finish after the exec returned")
}

func TestDeletionStopsProcessesAndKeepsClaimData(t *testing.T) {
	ns := cl.Namespace(t)
	ctx := ctxT(t)
	createPVC(t, ns, "results", corev1.ReadWriteOnce)
	create(t, ns, pod("doomed", withClaim("results", "/requests")))
	cl.WaitPod(t, ns, "doomed", 20*time.Second, running)
	if _, _, err := cl.Exec(ctx, ns, "doomed", "sh", "-c", `echo kept > /requests/data; sleep 600 >/dev/null 2>&1 </dev/null &`); err != nil {
		t.Fatal(err)
	}
	root := cl.PodRoot(ns, "doomed")
	if n := processesUnder(root); n == 0 {
		t.Fatal("the background sleep is not running in the pod")
	}
	if err := cl.Client.CoreV1().Pods(ns).Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		_, err := cl.Client.CoreV1().Pods(ns).Get(ctx, "doomed", metav1.GetOptions{})
		_, statErr := os.Stat(root)
		if apierrors.IsNotFound(err) && os.IsNotExist(statErr) && processesUnder(root) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := processesUnder(root); n != 0 {
		t.Errorf("%d processes of the deleted pod still run", n)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("pod root not removed: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(cl.ClaimDir(ns, "results"), "data")); err != nil || string(b) != "kept\n" {
		t.Errorf("claim data lost with the pod: %q %v", b, err)
	}
}

func processesUnder(root string) int {
	n := 0
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		link, err := os.Readlink(filepath.Join("/proc", e.Name(), "root"))
		if err != nil || !(link == root || strings.HasPrefix(link, root+"/")) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && !strings.Contains(string(stat), ") Z ") {
			n++
		}
	}
	return n
}

func waitingReason(p *corev1.Pod) string {
	if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
		return ""
	}
	return p.Status.ContainerStatuses[0].State.Waiting.Reason
}

func TestImagePullFailureLooksLikeAKubelet(t *testing.T) {
	ns := cl.Namespace(t)
	create(t, ns, pod("nopull", func(p *corev1.Pod) { p.Spec.Containers[0].Image = framework.UnpullableImage }))
	p := cl.WaitPod(t, ns, "nopull", 20*time.Second, func(p *corev1.Pod) bool { return waitingReason(p) == "ErrImagePull" })
	if !strings.Contains(p.Status.ContainerStatuses[0].State.Waiting.Message, framework.UnpullableImage) {
		t.Errorf("message %q does not name the image", p.Status.ContainerStatuses[0].State.Waiting.Message)
	}
	p = cl.WaitPod(t, ns, "nopull", 20*time.Second, func(p *corev1.Pod) bool { return waitingReason(p) == "ImagePullBackOff" })
	if p.Status.Phase != corev1.PodPending || p.Spec.NodeName == "" {
		t.Errorf("a pod whose image cannot be pulled is bound and Pending; got %s on %q", p.Status.Phase, p.Spec.NodeName)
	}
	// The annotation drives the same for any image.
	create(t, ns, pod("forced", func(p *corev1.Pod) { p.Annotations[framework.AnnoImagePull] = "fail" }))
	cl.WaitPod(t, ns, "forced", 20*time.Second, func(p *corev1.Pod) bool { return waitingReason(p) == "ImagePullBackOff" })
}

func TestMissingSecretIsCreateContainerConfigError(t *testing.T) {
	ns := cl.Namespace(t)
	create(t, ns, pod("nosecret", func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "HF_TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "llm-d-hf-token"}, Key: "HF_TOKEN"}}}}
	}))
	p := cl.WaitPod(t, ns, "nosecret", 20*time.Second, func(p *corev1.Pod) bool { return waitingReason(p) == "CreateContainerConfigError" })
	if msg := p.Status.ContainerStatuses[0].State.Waiting.Message; msg != `secret "llm-d-hf-token" not found` {
		t.Errorf("message %q", msg)
	}
}

func scheduledCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodScheduled {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// The real kube-scheduler explains why a pod cannot be placed, in its condition and in a
// FailedScheduling event (the agent no longer schedules: an annotation cannot fake this).
func TestUnschedulableComesFromTheScheduler(t *testing.T) {
	ns := cl.Namespace(t)
	ctx := ctxT(t)
	cases := map[string]struct {
		mutate func(*corev1.Pod)
		want   string
	}{
		// Each kwok node offers 32 CPUs (hack/localcluster/cmd/localcluster/kwok.yaml).
		"toobig": {func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64")}
		}, "Insufficient cpu"},
		"selector":     {func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"gpu": "h100"} }, "didn't match Pod's node affinity/selector"},
		"missingclaim": {withClaim("ghost", "/requests"), `persistentvolumeclaim "ghost" not found`},
		"affinity": {func(p *corev1.Pod) {
			// Required node affinity that excludes every node.
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
					{Key: "type", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"kwok"}}}}}}}}
		}, "didn't match Pod's node affinity/selector"},
	}
	for name, tc := range cases {
		create(t, ns, pod(name, tc.mutate))
	}
	for name, tc := range cases {
		p := cl.WaitPod(t, ns, name, 30*time.Second, func(p *corev1.Pod) bool { return scheduledCondition(p) != nil })
		c := scheduledCondition(p)
		if c.Status != corev1.ConditionFalse || c.Reason != corev1.PodReasonUnschedulable || !strings.Contains(c.Message, tc.want) || p.Spec.NodeName != "" {
			t.Errorf("%s: condition %+v on node %q, want Unschedulable with %q", name, c, p.Spec.NodeName, tc.want)
		}
	}
	ev := waitEvent(t, ctx, ns, "selector", "FailedScheduling")
	if ev.Type != corev1.EventTypeWarning || !strings.Contains(ev.Message, "didn't match Pod's node affinity/selector") ||
		(ev.Source.Component != "default-scheduler" && ev.ReportingController != "default-scheduler") {
		t.Errorf("FailedScheduling event: %s %q from %q/%q, want a Warning from default-scheduler", ev.Type, ev.Message, ev.Source.Component, ev.ReportingController)
	}
}

// waitEvent waits for an event with reason about the named object of ns.
func waitEvent(t *testing.T, ctx context.Context, ns, object, reason string) corev1.Event {
	t.Helper()
	var found *corev1.Event
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := cl.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for i, e := range list.Items {
			if e.InvolvedObject.Name == object && e.Reason == reason {
				found = &list.Items[i]
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no %s event for %s/%s: %v", reason, ns, object, err)
	}
	return *found
}

func TestMainContainerExitCodes(t *testing.T) {
	ns := cl.Namespace(t)
	for name, code := range map[string]string{"ok": "0", "bad": "3"} {
		create(t, ns, pod(name, func(p *corev1.Pod) {
			p.Annotations[framework.AnnoExitCode] = code
			p.Annotations[framework.AnnoExitAfter] = "1s"
		}))
	}
	ok := cl.WaitPod(t, ns, "ok", 20*time.Second, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	bad := cl.WaitPod(t, ns, "bad", 20*time.Second, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if term := bad.Status.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 3 || term.Reason != "Error" {
		t.Errorf("failed pod's container: %+v", bad.Status.ContainerStatuses[0].State)
	}
	if term := ok.Status.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 0 || term.Reason != "Completed" {
		t.Errorf("succeeded pod's container: %+v", ok.Status.ContainerStatuses[0].State)
	}
}

func TestRestrictedUserIsForbiddenWhatItsRoleLacks(t *testing.T) {
	ns := cl.Namespace(t)
	ctx := ctxT(t)
	create(t, ns, pod("target", nil))
	cl.WaitPod(t, ns, "target", 20*time.Second, running)
	_, cfg := cl.User(t, ns, "reader", []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}})
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods(ns).Get(ctx, "target", metav1.GetOptions{}); err != nil {
		t.Errorf("the Role grants get: %v", err)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing configmaps must be Forbidden, got %v", err)
	}
	ex, err := cl.Executor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = ex.Exec(ctx, cluster.PodRef{Namespace: ns, Name: "target"}, []string{"ls"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "forbidden") || !strings.Contains(err.Error(), `"pods/exec"`) {
		t.Errorf("exec without pods/exec must be forbidden, got %v", err)
	}
}

// up.sh and down.sh as a person runs them, with one node (LOCALCLUSTER_NODES=1): a Ready node,
// then nothing left running.
func TestUpDownScripts(t *testing.T) {
	dir := t.TempDir()
	// A node count that is not a whole number from 1 to 100 is refused before anything starts.
	bad := exec.Command(filepath.Join(cl.Bin, "localcluster"), "up", dir)
	bad.Env = append(os.Environ(), "LOCALCLUSTER_NODES=0")
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), `LOCALCLUSTER_NODES="0"`) {
		t.Errorf("up with LOCALCLUSTER_NODES=0: %v %s, want a refusal naming it", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "pids")); !os.IsNotExist(err) {
		t.Errorf("a refused up started something: pids file %v", err)
	}
	up := exec.Command(filepath.Join(cl.RepoRoot, "hack/localcluster/up.sh"), dir)
	up.Env = append(os.Environ(), "LOCALCLUSTER_BIN="+cl.Bin, "LOCALCLUSTER_NODES=1")
	if out, err := up.CombinedOutput(); err != nil {
		t.Fatalf("up.sh: %v\n%s", err, out)
	}
	env, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil || !strings.Contains(string(env), "export KUBECONFIG="+filepath.Join(dir, "kubeconfig")) {
		t.Fatalf("env file: %q %v", env, err)
	}
	get := exec.Command("sh", "-c", ". "+filepath.Join(dir, "env")+" && kubectl get nodes --no-headers")
	out, err := get.Output()
	if err != nil || !strings.HasPrefix(string(out), "kwok-node-0 ") || !strings.Contains(string(out), " Ready ") || strings.Count(string(out), "\n") != 1 {
		t.Errorf("kubectl get nodes: %q %v, want kwok-node-0 alone and Ready", out, err)
	}
	pids := readPIDs(t, dir)
	down := exec.Command(filepath.Join(cl.RepoRoot, "hack/localcluster/down.sh"), dir)
	down.Env = up.Env
	if out, err := down.CombinedOutput(); err != nil {
		t.Fatalf("down.sh: %v\n%s", err, out)
	}
	for name, pid := range pids {
		if alive(pid) {
			t.Errorf("%s (pid %d) still runs after down.sh", name, pid)
		}
	}
}

func readPIDs(t *testing.T, dir string) map[string]int {
	b, err := os.ReadFile(filepath.Join(dir, "pids"))
	if err != nil {
		t.Fatal(err)
	}
	pids := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var name string
		var pid int
		if _, err := fmt.Sscan(line, &name, &pid); err == nil {
			pids[name] = pid
		}
	}
	want := []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "agent"}
	for _, name := range want {
		if pids[name] == 0 {
			t.Fatalf("want %v in pids, got %v", want, pids)
		}
	}
	return pids
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	return err == nil && !strings.Contains(string(stat), ") Z ")
}
