package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

func snap(t *testing.T, done bool, statuses map[string]string) *runstate.Snapshot {
	t.Helper()
	s, err := runstate.ParseSnapshot([]byte(snapshotText(statuses, done, "")))
	if err != nil {
		t.Fatal(err)
	}
	return &s
}

// Field case: a Failed run with 0 successes was shown as WORKLOADS 2/2 (finished, not succeeded).
// The counts tell succeeded, failed and total apart, for every way a workload ends.
func TestStatusCountsSucceededFailedAndTotal(t *testing.T) {
	run := Run{ID: "1764000000-abcd", Namespace: "ns", Workloads: []string{"a", "b"}, Parallelism: 1}
	pod := runningPod(run.ID, 0)
	cases := []struct {
		name                     string
		view                     launcherView
		phase                    string
		succeeded, failed, total int
		verdicts                 []string
	}{
		{"both failed", launcherView{pod: pod, snapshot: snap(t, true, map[string]string{
			"a": "workload=a\nstarted=1\nfinished=2\nexit_code=3\n",
			"b": "workload=b\nstarted=2\nfinished=3\ntimed_out=true\nexit_code=143\n"})},
			PhaseFailed, 0, 2, 2, []string{"failed (exit 3)", "timed-out"}},
		{"one of two", launcherView{pod: pod, snapshot: snap(t, true, map[string]string{
			"a": "workload=a\nstarted=1\nfinished=2\nexit_code=0\n",
			"b": "workload=b\nstarted=2\nharness_failed=true\nstderr=boom\nfinished=3\nexit_code=143\n"})},
			PhaseFailed, 1, 1, 2, []string{"succeeded", "failed (harness failed)"}},
		{"running", launcherView{pod: pod, snapshot: snap(t, false, map[string]string{
			"a": "workload=a\nstarted=1\nfinished=2\nexit_code=0\n",
			"b": "workload=b\nstarted=2\n"})},
			PhaseRunning, 1, 0, 2, []string{"succeeded", "running"}},
		{"launcher deleted mid-run", launcherView{lost: "launcher pod x is gone"},
			PhaseFailed, 0, 2, 2, []string{"failed", "failed"}},
		{"launcher deleted in the second workload", launcherView{lost: "launcher pod x is gone", snapshot: snap(t, false, map[string]string{
			"a": "workload=a\nstarted=1\nfinished=2\nexit_code=0\n",
			"b": "workload=b\nstarted=2\n"})},
			PhaseFailed, 1, 1, 2, []string{"succeeded", "incomplete"}},
	}
	for _, c := range cases {
		st := summarize(run, []launcherView{c.view}, time.Unix(10, 0))
		if st.Phase != c.phase || st.Succeeded != c.succeeded || st.Failed != c.failed || st.Total != c.total {
			t.Errorf("%s: phase %s, %d succeeded %d failed of %d; want %s, %d %d of %d", c.name, st.Phase,
				st.Succeeded, st.Failed, st.Total, c.phase, c.succeeded, c.failed, c.total)
		}
		for i, want := range c.verdicts {
			if got := st.Workloads[i].Verdict(); got != want {
				t.Errorf("%s: workload %s verdict %q, want %q", c.name, st.Workloads[i].Name, got, want)
			}
		}
	}
	// The harness's stderr tail reaches the status.
	st := summarize(run, []launcherView{cases[1].view}, time.Unix(10, 0))
	if w := st.Workloads[1]; !w.HarnessFailed || len(w.Stderr) != 1 || w.Stderr[0] != "boom" {
		t.Errorf("harness failure: %+v", w)
	}
}

// A final status recorded before the counts existed gets them when read back.
func TestInspectCountsARecordedFinalStatus(t *testing.T) {
	final := &Status{Run: "r", Phase: PhaseFailed, Workloads: []WorkloadState{{Name: "a", Phase: PhaseFailed}, {Name: "b", Phase: PhaseFailed, TimedOut: true}}}
	st, err := Inspect(context.Background(), fake.NewClientset(), nil, Run{ID: "r", Final: final})
	if err != nil || st.Succeeded != 0 || st.Failed != 2 || st.Total != 2 {
		t.Errorf("%+v %v", st, err)
	}
	if v := st.Workloads[1].Verdict(); v != "timed-out" {
		t.Errorf("an old record's timed-out workload: %q", v)
	}
}

func TestLiveLaunchers(t *testing.T) {
	alive := runningPod("r1", 0)
	ended := runningPod("r1", 1)
	ended.Status.Phase = corev1.PodFailed
	deleting := runningPod("r2", 0)
	now := metav1.Now()
	deleting.DeletionTimestamp = &now
	deleting.Finalizers = []string{"test"}
	for _, p := range []*corev1.Pod{alive, ended, deleting} {
		p.Labels[launcher.LabelManagedBy] = launcher.ManagedBy
	}
	live, err := LiveLaunchers(context.Background(), fake.NewClientset(alive, ended, deleting), "ns")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		run   string
		index int
		want  bool
	}{{"r1", 0, true}, {"r1", 1, false}, {"r2", 0, false}, {"r3", 0, false}} {
		if got := live(c.run, c.index); got != c.want {
			t.Errorf("%s/%d live %v, want %v", c.run, c.index, got, c.want)
		}
	}
	cs := fake.NewClientset()
	cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", nil)
	})
	if _, err := LiveLaunchers(context.Background(), cs, "ns"); err == nil || !strings.Contains(err.Error(), "listing launcher pods in namespace ns") {
		t.Errorf("forbidden: %v", err)
	}
}

// Field case: `run -n nosuchns` named the gateway instead of the namespace. The namespace check
// comes first and alone; a namespace the user may not read is assumed to exist and the rest is
// checked, in dependency order.
func TestPreflightOrderNamespaceFirst(t *testing.T) {
	c, err := CheckNamespace(context.Background(), fake.NewClientset(), "nosuchns")
	if err != nil || c.OK || !c.Blocking || c.Message != "namespace nosuchns does not exist" {
		t.Errorf("missing namespace: %+v %v", c, err)
	}
	cs := fake.NewClientset()
	cs.PrependReactor("get", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, "ns", nil)
	})
	cs.PrependReactor("create", "selfsubjectrulesreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "selfsubjectrulesreviews"}, "") // asked one by one
	})
	var asked []string
	cs.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
		ra := r.Spec.ResourceAttributes
		asked = append(asked, ra.Verb+" "+ra.Resource+"."+ra.Group)
		r.Status.Allowed = ra.Resource != "gateways"
		return true, r, nil
	})
	checks, err := Preflight(context.Background(), cs, PreflightSpec{Namespace: "ns", PVC: "p", HFTokenSecret: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range checks {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ","); got != "namespace,rbac,rbac-optional,results-pvc,hf-token" {
		t.Errorf("checks in order %s", got)
	}
	if !checks[0].OK || !strings.Contains(checks[0].Message, "not readable") {
		t.Errorf("forbidden namespace: %+v", checks[0])
	}
	if !strings.Contains(strings.Join(asked, ";"), "get gateways.gateway.networking.k8s.io") {
		t.Errorf("gateways get is not checked: %v", asked)
	}
	if !checks[1].OK || checks[2].Blocking || !strings.Contains(checks[2].Message, "get gateways.gateway.networking.k8s.io") {
		t.Errorf("a missing gateways get warns only: %+v %+v", checks[1], checks[2])
	}
}

// deletingExecutor answers one snapshot, then deletes the launcher pod (as a user deleting it
// mid-run), and fails every later read.
type deletingExecutor struct {
	cs    *fake.Clientset
	pod   string
	first string
	calls int
}

func (d *deletingExecutor) Exec(ctx context.Context, _ PodRef, _ []string, stdout, _ io.Writer) error {
	d.calls++
	if d.calls > 1 {
		return errors.New("pod gone")
	}
	_, err := io.WriteString(stdout, d.first)
	if err == nil {
		err = d.cs.CoreV1().Pods("ns").Delete(ctx, d.pod, metav1.DeleteOptions{})
	}
	return err
}

// A follower that saw a workload start and then lost its launcher calls the workload incomplete.
func TestFollowLauncherDeletedMidRunLeavesTheWorkloadIncomplete(t *testing.T) {
	run := Run{ID: "1764000000-abcd", Namespace: "ns", Workloads: []string{"slow", "next"}, Parallelism: 1}
	cs := fake.NewClientset(runningPod(run.ID, 0))
	ex := &deletingExecutor{cs: cs, pod: launcher.PodName(run.ID, 0),
		first: snapshotText(map[string]string{"slow": "workload=slow\nstarted=1764000000\n"}, false, "[llmdbench] workload 1/2 slow started\n")}
	st, err := Follow(context.Background(), cs, ex, run, FollowOptions{Wait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != PhaseFailed || st.Succeeded != 0 || st.Failed != 2 || !strings.Contains(st.Message, "has no pod") {
		t.Fatalf("%+v", st)
	}
	if v := st.Workloads[0].Verdict(); v != runstate.VerdictIncomplete {
		t.Errorf("slow: %q", v)
	}
	if v := st.Workloads[1]; v.Verdict() != runstate.VerdictFailed || v.Outcome != "" || !strings.Contains(v.Message, "has no pod (deleted)") {
		t.Errorf("next (never started): %+v", v)
	}
}

// countingExecutor answers every launcher's status read after a pause, counting the reads in
// flight at once. Launcher pods of run number k answer that their workload ended with exit code
// k; pods named in fail answer an error.
type countingExecutor struct {
	mu            sync.Mutex
	inFlight, max int
	calls         int
	withLog       int
	code          map[string]int
	fail          map[string]bool
}

func (c *countingExecutor) Exec(_ context.Context, pod PodRef, cmd []string, stdout, _ io.Writer) error {
	c.mu.Lock()
	c.calls++
	c.inFlight++
	c.max = max(c.max, c.inFlight)
	if strings.Contains(cmd[len(cmd)-1], "tail -c") {
		c.withLog++
	}
	c.mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	c.mu.Lock()
	c.inFlight--
	c.mu.Unlock()
	if c.fail[pod.Name] {
		return errors.New("exec refused")
	}
	_, err := io.WriteString(stdout, snapshotText(map[string]string{"w": fmt.Sprintf("workload=w\nstarted=1\nfinished=2\nexit_code=%d\n", c.code[pod.Name])}, true, ""))
	return err
}

// status reads every live launcher of every run in parallel, never more than the bound at once,
// without the log, and returns the runs in the order given, each with its own launchers' state
// in launcher order; an unreadable run shows as Unknown without hiding the others, and a run
// recorded as finished whose pods are gone is not exec'd into.
func TestInspectRunsReadsInParallelWithABoundAndKeepsOrder(t *testing.T) {
	ex := &countingExecutor{code: map[string]int{}, fail: map[string]bool{}}
	var runs []Run
	for k := range 5 {
		r := Run{ID: fmt.Sprintf("17640000%02d-abcd", k), Namespace: "ns", Workloads: []string{"w"}, Parallelism: 4}
		for i := range 4 {
			p := runningPod(r.ID, i)
			r.Pods = append(r.Pods, *p)
			ex.code[p.Name] = k
		}
		runs = append(runs, r)
	}
	ex.fail[launcher.PodName(runs[3].ID, 2)] = true
	final := &Status{Run: "1764000099-abcd", Phase: PhaseSucceeded, Workloads: []WorkloadState{{Name: "w", Phase: PhaseSucceeded}}}
	runs = append(runs, Run{ID: final.Run, Parallelism: 4, Final: final})

	got := InspectRuns(context.Background(), fake.NewClientset(), ex, runs, 8)

	if ex.calls != 20 || ex.max != 8 || ex.withLog != 0 {
		t.Errorf("%d reads (want 20, one per live launcher), at most %d at once (want 8), %d with the log (want 0)", ex.calls, ex.max, ex.withLog)
	}
	if len(got) != len(runs) {
		t.Fatalf("%d statuses for %d runs", len(got), len(runs))
	}
	for k, rs := range got {
		if rs.Run != runs[k].ID {
			t.Errorf("status %d is run %s, want %s", k, rs.Run, runs[k].ID)
		}
	}
	for _, k := range []int{0, 1, 2, 4} {
		rs := got[k]
		if rs.Err != nil || len(rs.Workloads) != 4 {
			t.Fatalf("run %d: %v, %d workloads", k, rs.Err, len(rs.Workloads))
		}
		wantPhase := PhaseFailed
		if k == 0 {
			wantPhase = PhaseSucceeded
		}
		if rs.Phase != wantPhase {
			t.Errorf("run %d: phase %s, want %s", k, rs.Phase, wantPhase)
		}
		for i, w := range rs.Workloads {
			if w.Launcher != i || w.ExitCode == nil || *w.ExitCode != k {
				t.Errorf("run %d workload %d: launcher %d exit %v, want launcher %d exit %d", k, i, w.Launcher, w.ExitCode, i, k)
			}
		}
	}
	if rs := got[3]; rs.Err == nil || rs.Phase != PhaseUnknown || !strings.Contains(rs.Message, "exec refused") {
		t.Errorf("unreadable run: %+v", rs)
	}
	if rs := got[5]; rs.Err != nil || rs.Phase != PhaseSucceeded || rs.Succeeded != 1 {
		t.Errorf("finished run: %+v", rs)
	}
}
