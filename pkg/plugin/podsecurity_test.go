package plugin

import (
	"context"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
)

// doctor in a namespace that enforces PodSecurity restricted names the preset's root harness as
// refused, with the reason, and the native harness as admitted.
func TestDoctorSaysWhichHarnessPassesPodSecurity(t *testing.T) {
	doctor := func(harness string) (string, error) {
		streams, _, out, _ := genericiooptions.NewTestIOStreams()
		o := NewDoctorOptions(streams)
		o.source.Preset = "pd"
		o.source.Overrides.PVC = "p"
		o.source.Overrides.BaseURL = "http://a.b:80"
		o.source.Overrides.Harness = harness
		o.source.namespace = "ns"
		o.source.lookupEnv = func(string) (string, bool) { return "", false }
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns", Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}
		pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
			Spec:   corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}},
			Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}}
		cs := fake.NewClientset(ns, pvc)
		cs.PrependReactor("create", "selfsubjectrulesreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
			r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectRulesReview)
			r.Status.ResourceRules = []authorizationv1.ResourceRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}}
			return true, r, nil
		})
		dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
			map[schema.GroupVersionResource]string{cluster.GatewayResource: "GatewayList",
				cluster.InferencePoolResource: "InferencePoolList", cluster.InferencePoolV1Alpha2Resource: "InferencePoolList"})
		o.source.conn.clients = &Clients{Client: cs, Dynamic: dyn}
		o.Clients = o.source.conn.clients
		err := o.Run(context.Background())
		return out.String(), err
	}
	out, err := doctor("")
	if err == nil || !strings.Contains(out, "namespace ns enforces PodSecurity restricted:latest, which refuses the launcher pods (harness inference-perf): unrestricted capabilities") ||
		!strings.Contains(out, "; the native harness (llmdbench) can run here\n") {
		t.Errorf("inference-perf: %v\n%s", err, out)
	}
	out, err = doctor("llmdbench")
	if err != nil || !strings.Contains(out, "namespace ns enforces PodSecurity restricted:latest; the launcher pods (harness llmdbench) pass it; "+
		"the image harnesses (inference-perf, guidellm, vllm-benchmark, inferencemax, aiperf, nop) cannot: unrestricted capabilities") {
		t.Errorf("llmdbench: %v\n%s", err, out)
	}
}
