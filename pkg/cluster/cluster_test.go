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
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// These are unit tests of the logic; test/e2e proves the same paths against the real API server.

func runningPod(run string, index int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: launcher.PodName(run, index), Namespace: "ns",
			Labels: map[string]string{launcher.LabelRun: run, launcher.LabelIndex: fmt.Sprint(index)}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

// scriptedExecutor answers snapshot reads from a list of outputs (or errors), in order.
type scriptedExecutor struct {
	mu      sync.Mutex
	answers []any
	calls   int
}

func (s *scriptedExecutor) Exec(_ context.Context, _ PodRef, _ []string, stdout, _ io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.answers[min(s.calls, len(s.answers)-1)]
	s.calls++
	if err, ok := a.(error); ok {
		return err
	}
	_, err := io.WriteString(stdout, a.(string))
	return err
}

func snapshotText(statuses map[string]string, done bool, log string) string {
	var b strings.Builder
	b.WriteString(markStartedForTest + "\n")
	for name, body := range statuses {
		b.WriteString("@@llmdbench-status " + name + ".status\n" + body)
	}
	if done {
		b.WriteString("@@llmdbench-done\nfinished=1764000100\nfailed=0\n")
	}
	b.WriteString("@@llmdbench-log\n" + log)
	return b.String()
}

const markStartedForTest = "@@llmdbench-started"

func TestFollowRetriesACutStreamAndReachesTheVerdict(t *testing.T) {
	run := Run{ID: "1764000000-abcd", Namespace: "ns", Workloads: []string{"w1"}, Parallelism: 1}
	cs := fake.NewClientset(runningPod(run.ID, 0))
	ex := &scriptedExecutor{answers: []any{
		snapshotText(map[string]string{"w1": "workload=w1\nstarted=1764000000\n"}, false, "[llmdbench] workload 1/1 w1 started\n"),
		errors.New("connection reset by peer"),
		snapshotText(map[string]string{"w1": "workload=w1\nstarted=1764000000\nfinished=1764000060\ntimed_out=false\nexit_code=0\n"}, true, "done\n"),
	}}
	var logs strings.Builder
	retries := 0
	st, err := Follow(context.Background(), cs, ex, run, FollowOptions{
		Wait:    time.Second,
		OnLog:   func(_ int, b []byte) { logs.Write(b) },
		OnRetry: func(error, time.Duration) { retries++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != PhaseSucceeded || retries != 1 || logs.String() != "[llmdbench] workload 1/1 w1 started\ndone\n" {
		t.Errorf("phase %s, retries %d, logs %q", st.Phase, retries, logs.String())
	}
	if w := st.Workloads[0]; w.Duration(time.Now()) != time.Minute || w.Verdict() != "succeeded" {
		t.Errorf("workload %+v", w)
	}
}

func TestFollowStopsOnContextAndReportsLostLaunchers(t *testing.T) {
	run := Run{ID: "1764000000-abcd", Namespace: "ns", Workloads: []string{"w1", "w2"}, Parallelism: 2}
	// Launcher 1 is gone: its workloads fail with a reason, launcher 0 finishes well.
	cs := fake.NewClientset(runningPod(run.ID, 0))
	ex := &scriptedExecutor{answers: []any{snapshotText(map[string]string{
		"w1": "workload=w1\nstarted=1\nfinished=2\nexit_code=0\n",
		"w2": "workload=w2\nstarted=2\nfinished=3\nexit_code=0\n"}, true, "")}}
	st, err := Follow(context.Background(), cs, ex, run, FollowOptions{Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != PhaseFailed || !strings.Contains(st.Message, "launcher 1 of run 1764000000-abcd has no pod") || len(st.Workloads) != 4 {
		t.Fatalf("%+v", st)
	}
	for _, w := range st.Workloads {
		want := PhaseSucceeded
		if w.Launcher == 1 {
			want = PhaseFailed
		}
		if w.Phase != want {
			t.Errorf("%+v", w)
		}
	}
	// A run that never finishes stops following when the context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	pending := &scriptedExecutor{answers: []any{snapshotText(nil, false, "")}}
	one := Run{ID: run.ID, Namespace: "ns", Workloads: []string{"w1"}, Parallelism: 1}
	if _, err := Follow(ctx, fake.NewClientset(runningPod(run.ID, 0)), pending, one, FollowOptions{Wait: time.Second}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v", err)
	}
}

func TestStartFailureReasons(t *testing.T) {
	waiting := func(reason, msg string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			ContainerStatuses: []corev1.ContainerStatus{{Image: "img:1", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}}}}
	}
	unsched := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: corev1.PodStatus{Phase: corev1.PodPending,
		Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: "0/1 nodes are available"}}}}
	cases := map[*corev1.Pod]string{
		waiting("ImagePullBackOff", "Back-off"):                       "ImagePullBackOff: image img:1: Back-off",
		waiting("CreateContainerConfigError", `secret "x" not found`): `CreateContainerConfigError: secret "x" not found`,
		unsched:                          "Unschedulable: 0/1 nodes are available",
		waiting("ContainerCreating", ""): "",
	}
	for pod, want := range cases {
		err := startFailure(pod)
		switch {
		case want == "" && err != nil:
			t.Errorf("%+v must keep waiting, got %v", pod.Status, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("got %v, want %q", err, want)
		}
	}
}

func TestPreflightNamesEveryProblem(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}}
	rwo := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec:   corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}}
	cs := fake.NewClientset(ns, rwo)
	cs.PrependReactor("create", "selfsubjectrulesreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectRulesReview)
		// Everything but pods/exec ("pods" does not grant its subresources).
		r.Status.ResourceRules = []authorizationv1.ResourceRule{{Verbs: []string{"*"}, APIGroups: []string{"*"},
			Resources: []string{"configmaps", "pods", "persistentvolumeclaims", "secrets", "events", "gateways"}}}
		return true, r, nil
	})
	checks, err := Preflight(context.Background(), cs, PreflightSpec{Namespace: "ns", PVC: "p", Parallelism: 2, HFTokenSecret: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	blocking := Blocking(checks)
	if len(blocking) != 2 || !strings.Contains(blocking[0].Message, "create pods/exec") ||
		!strings.Contains(blocking[1].Message, "PVC p is ReadWriteOnce, but 2 launchers") {
		t.Errorf("blocking: %+v", blocking)
	}
	var hf *Check
	for i := range checks {
		if checks[i].Name == "hf-token" {
			hf = &checks[i]
		}
	}
	if hf == nil || hf.OK || hf.Blocking || !strings.Contains(hf.Message, "secret tok not found") {
		t.Errorf("a missing token secret is a warning: %+v", hf)
	}
	missing, err := Preflight(context.Background(), fake.NewClientset(), PreflightSpec{Namespace: "gone", PVC: "p"})
	if err != nil || len(missing) != 1 || !strings.Contains(missing[0].Message, "namespace gone does not exist") {
		t.Errorf("%+v %v", missing, err)
	}
}

func TestParseSnapshotRoundTrip(t *testing.T) {
	text := snapshotText(map[string]string{"w1": "workload=w1\nstarted=5\nfinished=9\nexit_code=2\n"}, true, "line @@llmdbench-status fake\n")
	s, err := runstate.ParseSnapshot([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Started || !s.Done || len(s.Workloads) != 1 || *s.Workloads[0].ExitCode != 2 || string(s.Log) != "line @@llmdbench-status fake\n" {
		t.Errorf("%+v", s)
	}
	if _, err := runstate.ParseSnapshot([]byte("garbage")); err == nil {
		t.Error("output without the log marker must be an error")
	}
}
