package cluster

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// kube-scheduler says a pod waits for its claims of an Immediate class to bind with an
// Unschedulable condition; it schedules the pod once they do, so a launch must wait, not fail.
// Any other Unschedulable still fails at once.
func TestUnboundImmediateClaimsAreWaitedFor(t *testing.T) {
	pod := func(msg string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: msg}}}}
	}
	// The scheduler's message, as kube-scheduler v1.37 writes it on the local cluster.
	waiting := "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. not found"
	if err := startFailure(pod(waiting)); err != nil {
		t.Errorf("a pod waiting for its claims to bind failed the launch: %v", err)
	}
	// A shared claim being provisioned for another launcher's node, in the words kube-scheduler
	// v1.37 used on the local cluster (two launchers of one Job, one ReadWriteMany claim).
	for _, msg := range []string{
		"0/3 nodes are available: 1 node(s) didn't match pod topology spread constraints, 2 node(s) didn't find available persistent volumes to bind. preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.",
		`0/3 nodes are available: persistentvolume "pvc-e6870da5-a17e-4879-928d-da134dc95be0" not found. not found`,
	} {
		if err := startFailure(pod(msg)); err != nil {
			t.Errorf("a pod waiting for a volume being provisioned failed the launch: %v", err)
		}
	}
	if err := startFailure(pod(`0/3 nodes are available: persistentvolumeclaim "gone" not found.`)); err == nil {
		t.Error("a claim that does not exist must fail the launch")
	}
	if err := startFailure(pod("0/1 nodes are available: 1 Insufficient cpu.")); err == nil {
		t.Error("an Unschedulable pod for want of CPU must fail the launch")
	}
}

func pendingClaim(class string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "results", Namespace: "ns"},
		Spec:   corev1.PersistentVolumeClaimSpec{StorageClassName: &class, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}}
}

// A Pending claim: fine when its class binds at the first consumer, blocking when it binds at once
// (nothing bound it), and only a warning when the user may not read the class (the mode is unknown).
func TestPendingClaimByBindingMode(t *testing.T) {
	wffc, immediate := storagev1.VolumeBindingWaitForFirstConsumer, storagev1.VolumeBindingImmediate
	for _, tc := range []struct {
		name          string
		class         *storagev1.StorageClass
		forbidden     bool
		ok, blocking  bool
		message, none string
	}{
		{name: "first consumer", class: &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "std"}, VolumeBindingMode: &wffc},
			ok: true, blocking: true, message: "PVC results is Pending until a pod uses it (WaitForFirstConsumer)"},
		{name: "immediate", class: &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "std"}, VolumeBindingMode: &immediate},
			ok: false, blocking: true, message: "PVC results is Pending: no volume is bound to it"},
		{name: "class unreadable", forbidden: true, ok: false, blocking: false,
			message: "PVC results is Pending and its storage class std cannot be read (", none: "\n"},
	} {
		objs := []runtime.Object{pendingClaim("std")}
		if tc.class != nil {
			objs = append(objs, tc.class)
		}
		cs := fake.NewClientset(objs...)
		if tc.forbidden {
			cs.PrependReactor("get", "storageclasses", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "storage.k8s.io", Resource: "storageclasses"}, "std", nil)
			})
		}
		c, err := checkPVC(context.Background(), cs, PreflightSpec{Namespace: "ns", PVC: "results", Parallelism: 1})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if c.OK != tc.ok || c.Blocking != tc.blocking || !strings.HasPrefix(c.Message, tc.message) || (tc.none != "" && strings.Contains(c.Message, tc.none)) {
			t.Errorf("%s: got %+v\nwant ok=%v blocking=%v message starting %q", tc.name, c, tc.ok, tc.blocking, tc.message)
		}
	}
}
