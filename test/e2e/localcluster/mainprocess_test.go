package localcluster

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/llmdbench/kubectl-llmdbench/test/e2e/framework"
)

// The local cluster has several nodes (LOCALCLUSTER_NODES, 3 by default) and runs each pod's
// container command as its main process: its exit code ends the pod as a kubelet would, so a Job
// completes or fails for real. This is what the many-launcher benchmark (one Indexed Job, one pod
// per launcher, spread over nodes) is proven against.

const jobIndexLabel = "batch.kubernetes.io/job-completion-index"

// terminated is the terminated state of a pod's first container, or nil.
func terminated(p *corev1.Pod) *corev1.ContainerStateTerminated {
	if len(p.Status.ContainerStatuses) == 0 {
		return nil
	}
	return p.Status.ContainerStatuses[0].State.Terminated
}

func finished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func TestMainProcessExitDecidesThePodPhase(t *testing.T) {
	ns := cl.Namespace(t)
	cases := map[string]struct {
		command []string
		phase   corev1.PodPhase
		code    int32
		reason  string
		logs    string
	}{
		"ok":     {[]string{"sh", "-c", "echo to stdout; echo to stderr >&2"}, corev1.PodSucceeded, 0, "Completed", "to stdout\nto stderr\n"},
		"three":  {[]string{"sh", "-c", "echo failing; exit 3"}, corev1.PodFailed, 3, "Error", "failing\n"},
		"killed": {[]string{"sh", "-c", "kill -KILL $$"}, corev1.PodFailed, 137, "Error", ""}, // 128 + SIGKILL (9)
		// No such program in the container: the runtime cannot start it (containerd's exit 128).
		"missing": {[]string{"no-such-program"}, corev1.PodFailed, 128, "Error", "exec: \"no-such-program\": executable file not found in $PATH\n"},
	}
	for name, tc := range cases {
		create(t, ns, pod(name, func(p *corev1.Pod) { p.Spec.Containers[0].Command = tc.command }))
	}
	for name, tc := range cases {
		p := cl.WaitPod(t, ns, name, 30*time.Second, finished)
		term := terminated(p)
		if p.Status.Phase != tc.phase || term == nil || term.ExitCode != tc.code || term.Reason != tc.reason {
			t.Errorf("%s: phase %s, container %+v; want %s with exit code %d (%s)", name, p.Status.Phase, p.Status.ContainerStatuses, tc.phase, tc.code, tc.reason)
		}
		if got := p.Annotations[framework.AnnoExitCode]; got == "" {
			t.Errorf("%s: the agent did not record the exit code on the pod", name)
		}
		// What the process wrote is in kubectl logs (the agent tails it every 100ms).
		poll(t, name+" logs", 10*time.Second, func(ctx context.Context) (bool, error) {
			b, err := cl.Client.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
			return err == nil && string(b) == tc.logs, nil
		})
	}
	// The main process ran chrooted in the pod root as the container user, in its working dir.
	create(t, ns, pod("where", func(p *corev1.Pod) {
		p.Spec.Containers[0].Command = []string{"sh", "-c", "id -u > /tmp/out; pwd >> /tmp/out; ls / >> /tmp/out; sleep 600"}
		p.Spec.Containers[0].WorkingDir = "/work/dir"
		p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ref[int64](1000), RunAsGroup: ref[int64](1000)}
	}))
	cl.WaitPod(t, ns, "where", 30*time.Second, running)
	var out string
	poll(t, "the main process's output file", 10*time.Second, func(ctx context.Context) (bool, error) {
		b, err := os.ReadFile(filepath.Join(cl.PodRoot(ns, "where"), "tmp", "out"))
		out = string(b)
		return err == nil && strings.Count(out, "\n") > 2, nil
	})
	// The host has /sys, the pod root has none.
	lines := strings.Split(out, "\n")
	if lines[0] != "1000" || lines[1] != "/work/dir" || !strings.Contains(out, "\nproc\n") || strings.Contains(out, "\nsys\n") {
		t.Errorf("main process: uid, working dir and / listing %q; want 1000, /work/dir and the pod root", out)
	}
}

// The launcher's idle command keeps its pod Running (its main process waits for a signal), and
// deleting the pod ends it.
func TestIdleCommandKeepsThePodRunning(t *testing.T) {
	ns := cl.Namespace(t)
	ctx := ctxT(t)
	create(t, ns, pod("idle", func(p *corev1.Pod) {
		p.Spec.Containers[0].Command = []string{"sh", "-c"}
		p.Spec.Containers[0].Args = []string{"trap 'exit 0' TERM INT; sleep 1000000 & wait"}
	}))
	cl.WaitPod(t, ns, "idle", 30*time.Second, running)
	root := cl.PodRoot(ns, "idle")
	poll(t, "the idle command's sh and sleep", 10*time.Second, func(ctx context.Context) (bool, error) {
		return processesUnder(root) == 2, nil
	})
	time.Sleep(3 * time.Second)
	p, err := cl.Client.CoreV1().Pods(ns).Get(ctx, "idle", metav1.GetOptions{})
	if err != nil || p.Status.Phase != corev1.PodRunning || p.Annotations[framework.AnnoExitCode] != "" {
		t.Fatalf("idle pod after 3s: %v %v %v, want Running with no exit code", p.Status.Phase, p.Annotations, err)
	}
	if out, _, err := cl.Exec(ctx, ns, "idle", "echo", "alive"); err != nil || out != "alive\n" {
		t.Errorf("exec into the idle pod: %q %v", out, err)
	}
	if err := cl.Client.CoreV1().Pods(ns).Delete(ctx, "idle", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "the idle pod's processes gone", 15*time.Second, func(ctx context.Context) (bool, error) {
		return processesUnder(root) == 0, nil
	})
}

// indexedJob is an Indexed Job of n pods at once running command, spread one per node
// (maxSkew 1 over kubernetes.io/hostname, DoNotSchedule), no retries of an index.
func indexedJob(name string, n int32, command string) *batchv1.Job {
	spec := pod("x", nil).Spec
	spec.Containers[0].Command = []string{"sh", "-c", command}
	spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
		MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/job-name": name}},
	}}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{
			CompletionMode:       ref(batchv1.IndexedCompletion),
			Completions:          ref(n),
			Parallelism:          ref(n),
			BackoffLimitPerIndex: ref[int32](0),
			Template:             corev1.PodTemplateSpec{Spec: spec},
		},
	}
}

func jobCondition(j *batchv1.Job, typ batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if j.Status.Conditions[i].Type == typ && j.Status.Conditions[i].Status == corev1.ConditionTrue {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}

func waitJob(t *testing.T, ns, name string, timeout time.Duration) *batchv1.Job {
	t.Helper()
	var job *batchv1.Job
	poll(t, "Job "+name+" finished", timeout, func(ctx context.Context) (bool, error) {
		j, err := cl.Client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		job = j
		return jobCondition(j, batchv1.JobComplete) != nil || jobCondition(j, batchv1.JobFailed) != nil, nil
	})
	return job
}

func jobPods(t *testing.T, ns, name string) []corev1.Pod {
	t.Helper()
	list, err := cl.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Labels[jobIndexLabel] < list.Items[j].Labels[jobIndexLabel] })
	return list.Items
}

// Three launchers as one Indexed Job: one pod per node, each writes its index to a shared
// ReadWriteMany claim and waits until all three have (a start barrier), then exits 0.
func TestIndexedJobSpreadsOverNodesAndCompletes(t *testing.T) {
	ns := cl.Namespace(t)
	ctx := ctxT(t)
	nodes, err := cl.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) < 3 {
		t.Fatalf("want at least 3 nodes (LOCALCLUSTER_NODES), got %d %v", len(nodes.Items), err)
	}
	createPVC(t, ns, "out", corev1.ReadWriteMany)
	job := indexedJob("spread", 3, `echo $JOB_COMPLETION_INDEX > /out/$JOB_COMPLETION_INDEX; while [ "$(ls /out | wc -l)" -lt 3 ]; do sleep 0.2; done`)
	job.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "out"}}}}
	job.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/out"}}
	start := time.Now()
	if _, err := cl.Client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	j := waitJob(t, ns, "spread", 90*time.Second)
	t.Logf("Job of 3 finished in %s", time.Since(start).Round(100*time.Millisecond))
	if jobCondition(j, batchv1.JobComplete) == nil || j.Status.Succeeded != 3 || j.Status.Failed != 0 {
		t.Fatalf("Job: conditions %+v, succeeded %d, failed %d; want Complete with 3 succeeded", j.Status.Conditions, j.Status.Succeeded, j.Status.Failed)
	}
	pods := jobPods(t, ns, "spread")
	seen := map[string]string{}
	for i, p := range pods {
		if term := terminated(&p); p.Status.Phase != corev1.PodSucceeded || term == nil || term.ExitCode != 0 || term.Reason != "Completed" {
			t.Errorf("pod %s: %s %+v, want Succeeded with exit code 0", p.Name, p.Status.Phase, p.Status.ContainerStatuses)
		}
		if other, dup := seen[p.Spec.NodeName]; dup {
			t.Errorf("pods %s and %s share node %s: the topology spread is not honoured", other, p.Name, p.Spec.NodeName)
		}
		seen[p.Spec.NodeName] = p.Name
		if want := []string{"0", "1", "2"}[min(i, 2)]; p.Labels[jobIndexLabel] != want {
			t.Errorf("pod %s has index %q, want %s", p.Name, p.Labels[jobIndexLabel], want)
		}
	}
	if len(pods) != 3 || len(seen) != 3 {
		t.Errorf("%d pods on %d nodes (%v), want 3 on 3", len(pods), len(seen), seen)
	}
	for _, i := range []string{"0", "1", "2"} {
		if b, err := os.ReadFile(filepath.Join(cl.ClaimDir(ns, "out"), i)); err != nil || string(b) != i+"\n" {
			t.Errorf("claim file %s: %q %v, want the index the pod wrote", i, b, err)
		}
	}
	// The shared volume is not pinned to one node (that would make the other pods unschedulable).
	claim, err := cl.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "out", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pv, err := cl.Client.CoreV1().PersistentVolumes().Get(ctx, claim.Spec.VolumeName, metav1.GetOptions{}); err != nil || pv.Spec.NodeAffinity != nil {
		t.Errorf("RWX volume %s: node affinity %+v %v, want none", claim.Spec.VolumeName, pv.Spec.NodeAffinity, err)
	}
}

// One launcher of three exits 3: with a FailIndex rule for that code, no retries per index and
// one failed index allowed, the other two still complete and the Job names the failed index.
func TestIndexedJobReportsTheFailedIndex(t *testing.T) {
	ns := cl.Namespace(t)
	ctx := ctxT(t)
	job := indexedJob("onefails", 3, `if [ "$JOB_COMPLETION_INDEX" = 1 ]; then echo index 1 fails; exit 3; fi; sleep 2`)
	job.Spec.MaxFailedIndexes = ref[int32](1)
	job.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
		Action:      batchv1.PodFailurePolicyActionFailIndex,
		OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{ContainerName: ref("main"), Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{3}},
	}}}
	if _, err := cl.Client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	j := waitJob(t, ns, "onefails", 90*time.Second)
	if j.Status.FailedIndexes == nil || *j.Status.FailedIndexes != "1" || j.Status.Succeeded != 2 || j.Status.Failed != 1 {
		t.Errorf("Job: failedIndexes %v, succeeded %d, failed %d; want index 1 failed and 2 succeeded", j.Status.FailedIndexes, j.Status.Succeeded, j.Status.Failed)
	}
	if c := jobCondition(j, batchv1.JobFailed); c == nil || c.Reason != batchv1.JobReasonFailedIndexes {
		t.Errorf("Job conditions %+v, want Failed with reason %s", j.Status.Conditions, batchv1.JobReasonFailedIndexes)
	}
	if j.Status.CompletedIndexes != "0,2" {
		t.Errorf("completed indexes %q, want 0,2", j.Status.CompletedIndexes)
	}
	pods := jobPods(t, ns, "onefails")
	if len(pods) != 3 {
		t.Fatalf("%d pods, want 3 (no retry of the failed index)", len(pods))
	}
	for _, p := range pods {
		want, code := corev1.PodSucceeded, int32(0)
		if p.Labels[jobIndexLabel] == "1" {
			want, code = corev1.PodFailed, 3
		}
		if term := terminated(&p); p.Status.Phase != want || term == nil || term.ExitCode != code {
			t.Errorf("pod %s (index %s): %s %+v, want %s with exit code %d", p.Name, p.Labels[jobIndexLabel], p.Status.Phase, p.Status.ContainerStatuses, want, code)
		}
	}
}
