package cluster

import (
	"context"
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
)

func claim(name string, mode corev1.PersistentVolumeAccessMode, volume string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec:   corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{mode}, VolumeName: volume},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: []corev1.PersistentVolumeAccessMode{mode}}}
}

func mountingPod(name, node, pvc string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec: corev1.PodSpec{NodeName: node, Volumes: []corev1.Volume{{Name: "r", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: pvc}}}}},
		Status: corev1.PodStatus{Phase: phase}}
}

// the volume's affinity, as a local (hostPath) provisioner writes it
var volumeAffinity = &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
	Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{"node-b"}}}}}}

func TestPinForClaim(t *testing.T) {
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-1"},
		Spec: corev1.PersistentVolumeSpec{NodeAffinity: &corev1.VolumeNodeAffinity{Required: volumeAffinity}}}
	ctx := context.Background()

	// A pod on node-a mounts the RWO claim: pinned there, by node name.
	cs := fake.NewClientset(claim("rwo", corev1.ReadWriteOnce, "pv-1"), pv,
		mountingPod("done", "node-c", "rwo", corev1.PodSucceeded), mountingPod("user", "node-a", "rwo", corev1.PodRunning))
	pin, err := PinForClaim(ctx, cs, "ns", "rwo")
	if err != nil || pin.Node != "node-a" || pin.Pod != "user" {
		t.Fatalf("got %+v %v", pin, err)
	}
	sel := pin.NodeSelector()
	if sel == nil || len(sel.NodeSelectorTerms) != 1 || len(sel.NodeSelectorTerms[0].MatchFields) != 1 ||
		sel.NodeSelectorTerms[0].MatchFields[0].Key != "metadata.name" || sel.NodeSelectorTerms[0].MatchFields[0].Values[0] != "node-a" {
		t.Errorf("selector %+v", sel)
	}
	if got := pin.String(); got != "node node-a, where pod user mounts it" {
		t.Errorf("String() = %q", got)
	}

	// No pod mounts it now (only a finished one): the volume's node affinity.
	cs = fake.NewClientset(claim("rwo", corev1.ReadWriteOnce, "pv-1"), pv, mountingPod("done", "node-c", "rwo", corev1.PodSucceeded))
	pin, err = PinForClaim(ctx, cs, "ns", "rwo")
	if err != nil || pin.Node != "" || pin.NodeSelector() == nil || pin.NodeSelector().NodeSelectorTerms[0].MatchExpressions[0].Values[0] != "node-b" {
		t.Fatalf("got %+v %v", pin, err)
	}
	if got := pin.String(); got != "the node(s) of volume pv-1's node affinity" {
		t.Errorf("String() = %q", got)
	}

	// A volume the user may not read pins nothing, and is no error.
	cs.PrependReactor("get", "persistentvolumes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "persistentvolumes"}, "pv-1", nil)
	})
	pin, err = PinForClaim(ctx, cs, "ns", "rwo")
	if err != nil || !pin.ReadWriteOnce || pin.NodeSelector() != nil || pin.String() != "" {
		t.Errorf("forbidden volume: %+v %v", pin, err)
	}

	// ReadWriteMany, and a claim that does not exist: nothing.
	cs = fake.NewClientset(claim("rwx", corev1.ReadWriteMany, "pv-1"), pv, mountingPod("user", "node-a", "rwx", corev1.PodRunning))
	for _, name := range []string{"rwx", "absent"} {
		if pin, err := PinForClaim(ctx, cs, "ns", name); err != nil || pin.ReadWriteOnce || pin.NodeSelector() != nil {
			t.Errorf("%s: %+v %v", name, pin, err)
		}
	}
}

// The reader pod of a ReadWriteOnce claim in use is created pinned to the node that mounts it.
func TestReaderPodPinnedToTheClaimsNode(t *testing.T) {
	cs := fake.NewClientset(claim("rwo", corev1.ReadWriteOnce, ""), mountingPod("launcher", "node-a", "rwo", corev1.PodRunning))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var created *corev1.Pod
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		created = a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		return false, nil, nil
	})
	_, _ = OpenResults(ctx, cs, "ns", "rwo", ReaderOptions{Image: "img:1"})
	if created == nil || created.Labels[launcher.LabelApp] != launcher.AppReader {
		t.Fatalf("no reader pod created: %+v", created)
	}
	a := created.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil ||
		a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields[0].Values[0] != "node-a" {
		t.Errorf("reader pod affinity %+v", a)
	}
}

// doctor and run's preflight say where the RWO claim's pods go.
func TestPreflightSaysWhereARWOClaimPins(t *testing.T) {
	cs := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}},
		claim("rwo", corev1.ReadWriteOnce, ""), mountingPod("user", "node-a", "rwo", corev1.PodRunning))
	cs.PrependReactor("create", "selfsubjectrulesreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectRulesReview)
		r.Status.ResourceRules = []authorizationv1.ResourceRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}}
		return true, r, nil
	})
	checks, err := Preflight(context.Background(), cs, PreflightSpec{Namespace: "ns", PVC: "rwo", Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if c.Name == "results-pvc" {
			if want := "PVC rwo is Bound (ReadWriteOnce); ReadWriteOnce: one launcher, pinned with the reader pods to node node-a, where pod user mounts it"; !c.OK || c.Message != want {
				t.Errorf("got %+v\nwant %s", c, want)
			}
			return
		}
	}
	t.Errorf("no results-pvc check in %+v", checks)
}

// A run without a results claim (emptyDir) is not read from a claim: the error says where its
// results are and how to get them; a claim given explicitly is still used.
func TestResultsClaimOfAnEmptyDirRun(t *testing.T) {
	const id = "1764000000-abcd"
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: launcher.ConfigMapName(id), Namespace: "ns",
		Labels:      map[string]string{launcher.LabelRun: id},
		Annotations: map[string]string{launcher.AnnoPVC: "", launcher.AnnoKeepFor: "30m0s"}}}
	cs := fake.NewClientset(cm)
	_, err := ResultsClaim(context.Background(), cs, "ns", id, "")
	want := "run 1764000000-abcd kept its results on its launcher's emptyDir, not on a claim: 'kubectl llmdbench attach 1764000000-abcd' fetches them while the launcher waits (30m0s after its workloads)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	if pvc, err := ResultsClaim(context.Background(), cs, "ns", id, "other"); err != nil || pvc != "other" {
		t.Errorf("an explicit claim: %q %v", pvc, err)
	}
}
