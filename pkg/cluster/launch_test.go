package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
)

const waitRun = "1795740000-ab12"

func pendingPod(index int) *corev1.Pod {
	p := runningPod(waitRun, index)
	p.UID = types.UID("uid-" + p.Name)
	p.Status = corev1.PodStatus{Phase: corev1.PodPending}
	return p
}

func readyPod(index int) *corev1.Pod {
	p := pendingPod(index)
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	return p
}

func warning(pod *corev1.Pod, reason, msg string, at time.Time) *corev1.Event {
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: pod.Name + "." + reason, Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Type:           corev1.EventTypeWarning, Reason: reason, Message: msg, LastTimestamp: metav1.NewTime(at),
	}
}

// watched is a fake clientset whose pod watches are one FakeWatcher the test drives, recording
// the label selector each list and watch asked for.
type watched struct {
	*fake.Clientset
	w         *watch.FakeWatcher
	selectors []string
}

func newWatched(objs ...runtime.Object) *watched {
	c := &watched{Clientset: fake.NewClientset(objs...), w: watch.NewFakeWithChanSize(16, false)}
	c.PrependWatchReactor("pods", func(a k8stesting.Action) (bool, watch.Interface, error) {
		c.selectors = append(c.selectors, a.(k8stesting.WatchAction).GetWatchRestrictions().Labels.String())
		return true, c.w, nil
	})
	return c
}

// podReads counts the reads of single pods: a watch needs none.
func (c *watched) podReads() int {
	n := 0
	for _, a := range c.Actions() {
		if a.GetVerb() == "get" && a.GetResource().Resource == "pods" {
			n++
		}
	}
	return n
}

func TestWaitReadyWatchesTheRunsPods(t *testing.T) {
	c := newWatched(pendingPod(0), pendingPod(1))
	c.w.Modify(readyPod(0))
	// A pod of another run, ready or not, changes nothing.
	other := runningPod("1795740000-zz99", 0)
	c.w.Add(other)
	c.w.Modify(readyPod(1))
	sel := launcher.RunSelector(waitRun)
	err := WaitReady(context.Background(), c, "ns", sel, []string{launcher.PodName(waitRun, 0), launcher.PodName(waitRun, 1)}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if n := c.podReads(); n != 0 {
		t.Errorf("%d GETs of single pods: a watch needs none", n)
	}
	if len(c.selectors) == 0 || c.selectors[0] != sel {
		t.Errorf("watch selectors %q, want %q", c.selectors, sel)
	}
	var listed bool
	for _, a := range c.Actions() {
		if l, ok := a.(k8stesting.ListAction); ok && a.GetResource().Resource == "pods" {
			listed = true
			if got := l.GetListRestrictions().Labels.String(); got != sel {
				t.Errorf("list selector %q, want %q", got, sel)
			}
		}
	}
	if !listed {
		t.Error("the pods were never listed")
	}
}

func TestWaitReadyAlreadyReadyAtList(t *testing.T) {
	c := newWatched(readyPod(0))
	if err := WaitReady(context.Background(), c, "ns", launcher.RunSelector(waitRun), []string{launcher.PodName(waitRun, 0)}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestWaitReadyFailsFast(t *testing.T) {
	pull := pendingPod(0)
	pull.Status.ContainerStatuses = []corev1.ContainerStatus{{Image: "bad:1", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "not found"}}}}
	gone := pendingPod(0)
	bare := pendingPod(0)
	bare.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable}}
	said := pendingPod(0)
	said.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: "0/1 nodes are available: 1 Insufficient cpu."}}
	now := time.Now()
	cases := []struct {
		name   string
		events []runtime.Object
		send   func(w *watch.FakeWatcher)
		reason string
		want   string
		not    string
	}{
		{name: "image pull", send: func(w *watch.FakeWatcher) { w.Modify(pull) }, reason: "ErrImagePull",
			want: "launcher pod " + pull.Name + " cannot start: ErrImagePull: image bad:1: not found"},
		{name: "deleted", send: func(w *watch.FakeWatcher) { w.Delete(gone) }, reason: "Deleted", want: "deleted while starting"},
		// The status says only "Unschedulable": the scheduler's event says why.
		{name: "unschedulable, event explains", send: func(w *watch.FakeWatcher) { w.Modify(bare) }, reason: "Unschedulable",
			events: []runtime.Object{warning(bare, "FailedScheduling", "0/1 nodes are available: 1 Insufficient memory.", now)},
			want:   "cannot start: Unschedulable (event FailedScheduling: 0/1 nodes are available: 1 Insufficient memory.)"},
		// The status already says what the event says: not twice.
		{name: "unschedulable, said once", send: func(w *watch.FakeWatcher) { w.Modify(said) }, reason: "Unschedulable",
			events: []runtime.Object{warning(said, "FailedScheduling", "0/1 nodes are available: 1 Insufficient cpu.", now)},
			want:   "Unschedulable: 0/1 nodes are available: 1 Insufficient cpu.", not: "event"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newWatched(append([]runtime.Object{pendingPod(0)}, tc.events...)...)
			tc.send(c.w)
			err := WaitReady(context.Background(), c, "ns", launcher.RunSelector(waitRun), []string{launcher.PodName(waitRun, 0)}, 10*time.Second)
			var pse *PodStartError
			if !errors.As(err, &pse) || pse.Reason != tc.reason {
				t.Fatalf("got %v, want a PodStartError %s", err, tc.reason)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %q, want %q in it", err, tc.want)
			}
			if tc.not != "" && strings.Contains(err.Error(), tc.not) {
				t.Errorf("got %q, must not hold %q", err, tc.not)
			}
		})
	}
}

func TestWaitReadyPodMissingAtListIsDeleted(t *testing.T) {
	c := newWatched()
	err := WaitReady(context.Background(), c, "ns", launcher.RunSelector(waitRun), []string{launcher.PodName(waitRun, 0)}, 10*time.Second)
	var pse *PodStartError
	if !errors.As(err, &pse) || pse.Reason != "Deleted" {
		t.Fatalf("got %v, want Deleted", err)
	}
}

func TestWaitReadyTimeoutNamesStateAndEvent(t *testing.T) {
	p := pendingPod(0)
	p.Spec.NodeName = "node-1"
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}
	now := time.Now()
	mount := warning(p, "FailedMount", `MountVolume.SetUp failed for volume "results" : configmap "x" not found`, now.Add(-time.Minute))
	// Newer, but a bare back-off says less than the mount failure.
	backoff := warning(p, "BackOff", "Back-off restarting failed container", now)
	backoff.Name = "later"
	// An event of an earlier pod of the same name is not this one's.
	stale := warning(p, "FailedScheduling", "from an older pod", now)
	stale.Name, stale.InvolvedObject.UID = "stale", "uid-old"
	normal := warning(p, "Pulling", "Pulling image", now)
	normal.Name, normal.Type = "normal", corev1.EventTypeNormal
	c := newWatched(p, mount, backoff, stale, normal)
	start := time.Now()
	err := WaitReady(context.Background(), c, "ns", launcher.RunSelector(waitRun), []string{p.Name}, 300*time.Millisecond)
	if err == nil {
		t.Fatal("want a timeout")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the timeout took %s", d)
	}
	want := "launcher pods not ready after 300ms (" + p.Name + `: ContainerCreating); last warning: FailedMount: MountVolume.SetUp failed for volume "results" : configmap "x" not found`
	if err.Error() != want || !errors.Is(err, ErrLaunchTimeout) {
		t.Errorf("got\n%q\nwant exactly (wrapping ErrLaunchTimeout)\n%q", err, want)
	}
	var pse *PodStartError
	if errors.As(err, &pse) {
		t.Errorf("a timeout is not a start failure: %v", err)
	}
}

func TestWaitReadyCancelledIsTheContextsError(t *testing.T) {
	c := newWatched(pendingPod(0))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	err := WaitReady(ctx, c, "ns", launcher.RunSelector(waitRun), []string{launcher.PodName(waitRun, 0)}, time.Minute)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestMostTellingEvent(t *testing.T) {
	p := pendingPod(0)
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	ev := func(reason, msg string, at time.Time) corev1.Event { return *warning(p, reason, msg, at) }
	other := ev("FailedScheduling", "other pod", t0)
	other.InvolvedObject.Name = "someone-else"
	cases := []struct {
		name   string
		events []corev1.Event
		want   string
	}{
		{"none", nil, ""},
		{"another pod's only", []corev1.Event{other}, ""},
		{"newest of one reason", []corev1.Event{ev("FailedMount", "old", t0), ev("FailedMount", "new", t0.Add(time.Second))}, "FailedMount: new"},
		{"scheduling beats a newer mount", []corev1.Event{ev("FailedMount", "m", t0.Add(time.Hour)), ev("FailedScheduling", "s", t0)}, "FailedScheduling: s"},
		{"any reason beats back-off", []corev1.Event{ev("BackOff", "b", t0.Add(time.Hour)), ev("Whatever", "w", t0)}, "Whatever: w"},
		{"one line", []corev1.Event{ev("FailedMount", "a\n  b", t0)}, "FailedMount: a b"},
	}
	for _, tc := range cases {
		if got := mostTelling(tc.events, p.Name, p.UID); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}
