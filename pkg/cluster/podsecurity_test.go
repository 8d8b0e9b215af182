package cluster

import (
	"context"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	psaapi "k8s.io/pod-security-admission/api"

	"github.com/llmdbench/kubectl-llmdbench/pkg/config"
	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
	"github.com/llmdbench/kubectl-llmdbench/pkg/preset"
)

// launcherPod is the pod template of a run of the inference-scheduling preset with harness
// (empty: the preset's, inference-perf) and the launcher run picks for it.
func launcherPod(t *testing.T, harness string) *corev1.PodTemplateSpec {
	t.Helper()
	doc, err := preset.Load("inference-scheduling")
	if err != nil {
		t.Fatal(err)
	}
	doc.Apply(config.Overrides{BaseURL: "http://gw.ns.svc:80", Harness: harness})
	cfg, _, err := doc.Resolve(config.Options{Variables: config.Variables{Values: map[string]string{
		config.VarNamespace: "ns", config.VarBenchmarkPVC: "p",
	}}})
	if err != nil {
		t.Fatal(err)
	}
	l := launcher.DefaultLauncher()
	if harness == config.HarnessNative {
		l = launcher.NativeLauncher()
	}
	job, err := launcher.BuildJob(launcher.Spec{Config: cfg, RunID: "1764000000-abcd", Launcher: l})
	if err != nil {
		t.Fatal(err)
	}
	return &job.Spec.Template
}

// podSecurityCheck runs the preflight in namespace ns labelled with labels and returns its
// pod-security check.
func podSecurityCheck(t *testing.T, labels map[string]string, pod *corev1.PodTemplateSpec) Check {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns", Labels: labels}}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec:   corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}, Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}}
	checks, err := Preflight(context.Background(), permitted(ns, pvc), PreflightSpec{Namespace: "ns", PVC: "p", Parallelism: 1, Pod: pod})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if c.Name == "pod-security" {
			return c
		}
	}
	t.Fatalf("no pod-security check in %+v", checks)
	return Check{}
}

// permitted is a fake client holding objs, where the user may do everything.
func permitted(objs ...runtime.Object) *fake.Clientset {
	cs := fake.NewClientset(objs...)
	cs.PrependReactor("create", "selfsubjectrulesreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectRulesReview)
		r.Status.ResourceRules = []authorizationv1.ResourceRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}}
		return true, r, nil
	})
	return cs
}

func TestPreflightPodSecurity(t *testing.T) {
	native, root := launcherPod(t, config.HarnessNative), launcherPod(t, "")
	restricted := map[string]string{psaapi.EnforceLevelLabel: "restricted"}
	baseline := map[string]string{psaapi.EnforceLevelLabel: "baseline"}

	if c := podSecurityCheck(t, restricted, native); !c.OK {
		t.Errorf("restricted must admit the native harness: %+v", c)
	}
	c := podSecurityCheck(t, restricted, root)
	// The first of the library's restricted checks inference-perf's root launcher breaks is the
	// capabilities one (it keeps the runtime's defaults); two more follow (runAsNonRoot, runAsUser).
	want := `namespace ns enforces PodSecurity restricted:latest, which refuses the launcher pods (harness inference-perf): unrestricted capabilities (container "harness" must set securityContext.capabilities.drop=["ALL"]) (and 2 more)`
	if c.OK || !c.Blocking || c.Message != want || strings.Contains(c.Message, "\n") || c.Fix == "" {
		t.Errorf("restricted, inference-perf:\n got %+v\nwant message %s", c, want)
	}
	for name, pod := range map[string]*corev1.PodTemplateSpec{config.HarnessNative: native, "inference-perf": root} {
		if c := podSecurityCheck(t, baseline, pod); !c.OK || c.Message != "namespace ns enforces PodSecurity baseline:latest; the launcher pods (harness "+name+") pass it" {
			t.Errorf("baseline, %s: %+v", name, c)
		}
		if c := podSecurityCheck(t, nil, pod); !c.OK || c.Message != "namespace ns enforces no PodSecurity level (privileged)" {
			t.Errorf("no label, %s: %+v", name, c)
		}
	}
	// A pinned version is read as the admission reads it.
	pinned := map[string]string{psaapi.EnforceLevelLabel: "restricted", psaapi.EnforceVersionLabel: "v1.30"}
	if c := podSecurityCheck(t, pinned, root); c.OK || !strings.Contains(c.Message, "restricted:v1.30") {
		t.Errorf("pinned version: %+v", c)
	}
	// A label the admission cannot read blocks with what is wrong.
	if c := podSecurityCheck(t, map[string]string{psaapi.EnforceLevelLabel: "strict"}, native); c.OK || !c.Blocking ||
		!strings.Contains(c.Message, "strict") {
		t.Errorf("bad label: %+v", c)
	}
}

// Without a pod template the preflight makes no pod-security check (callers that build none).
func TestPreflightWithoutPod(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns", Labels: map[string]string{psaapi.EnforceLevelLabel: "restricted"}}}
	checks, err := Preflight(context.Background(), permitted(ns), PreflightSpec{Namespace: "ns", PVC: "p", CreatePVC: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) == 0 || checks[0].Name != "namespace" {
		t.Fatalf("%+v", checks)
	}
	for _, c := range checks {
		if c.Name == "pod-security" {
			t.Errorf("unexpected %+v", c)
		}
	}
}
