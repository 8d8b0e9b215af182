package run

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
)

// A pod bound to a node that does not exist stays Pending with a status that says nothing (the
// local agent only runs pods of its own node), as a pod waiting on a volume does in a real
// cluster. WaitReady, watching through the real API server, must name the kubelet's Warning
// event for this pod (field selectors on involvedObject, which a fake clientset ignores) and
// notice a deletion from the watch.
func TestWaitReadyExplainsFromEventsOnTheAPIServer(t *testing.T) {
	ns := cl.Namespace(t)
	ctx := context.Background()
	const runID = "1795740000-e2e1"
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: launcher.PodName(runID, 0), Labels: map[string]string{launcher.LabelRun: runID}},
		Spec:       corev1.PodSpec{NodeName: "no-such-node", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	created, err := cl.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	event := func(name, typ, reason, msg string, uid string) {
		t.Helper()
		ev := &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: name},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: ns, Name: created.Name, UID: created.UID},
			Type:           typ, Reason: reason, Message: msg, Count: 1,
			FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Source: corev1.EventSource{Component: "kubelet"},
		}
		if uid != "" {
			ev.InvolvedObject.UID = "00000000-0000-0000-0000-000000000000"
		}
		if _, err := cl.Client.CoreV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	const mount = `MountVolume.SetUp failed for volume "results" : persistentvolumeclaim "gone" not found`
	event("a-mount", corev1.EventTypeWarning, "FailedMount", mount, "")
	event("b-normal", corev1.EventTypeNormal, "Pulling", "Pulling image busybox", "")
	// An earlier pod of the same name: its events are not this pod's.
	event("c-stale", corev1.EventTypeWarning, "FailedScheduling", "from an earlier pod", "other")

	err = cluster.WaitReady(ctx, cl.Client, ns, launcher.RunSelector(runID), []string{created.Name}, 2*time.Second)
	want := "launcher pods not ready after 2s (" + created.Name + ": Pending); last warning: FailedMount: " + mount
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v\nwant it to hold %q", err, want)
	}

	// Deleted while waited on: the watch says so at once, not at the timeout.
	go func() {
		time.Sleep(500 * time.Millisecond)
		_ = cl.Client.CoreV1().Pods(ns).Delete(context.Background(), created.Name, metav1.DeleteOptions{})
	}()
	start := time.Now()
	err = cluster.WaitReady(ctx, cl.Client, ns, launcher.RunSelector(runID), []string{created.Name}, time.Minute)
	var pse *cluster.PodStartError
	if !errors.As(err, &pse) || pse.Reason != "Deleted" {
		t.Fatalf("got %v, want a Deleted start error", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the deletion was noticed after %s", d)
	}
}
