package native

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
)

// In a namespace whose PodSecurity admission enforces `restricted`: the native harness runs to its
// verdict, and the API server admits its launcher pod and the reader pod; an image harness that
// runs as root (inference-perf, the preset's) is refused by the preflight with the level and the
// reason, before anything is created — and the API server would refuse its pod for that reason.
func TestRestrictedNamespace(t *testing.T) {
	simulator(t, "127.0.0.9:80")
	cl.InstallPlugin(t)
	ctx := context.Background()
	ns := cl.Namespace(t)
	nsObj, err := cl.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nsObj.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
	if _, err := cl.Client.CoreV1().Namespaces().Update(ctx, nsObj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	gatewayService(t, ns, "127.0.0.9")

	// The image harness: refused by the preflight, nothing created.
	r := cl.Plugin(t, "", time.Minute, "run", "--preset", "inference-scheduling", "-n", ns, "--pvc", "results", "--create-pvc",
		"--workload", "sanity_random", "--cpu", "500m", "--memory", "512Mi")
	want := "namespace " + ns + " enforces PodSecurity restricted:latest, which refuses the launcher pods (harness inference-perf): unrestricted capabilities"
	if r.Code == 0 || !strings.Contains(r.Stderr, want) {
		t.Fatalf("inference-perf in a restricted namespace: exit %d\n%s\nwant %s", r.Code, r.Stderr, want)
	}
	for what, n := range map[string]func() (int, error){
		"ConfigMaps": func() (int, error) {
			l, err := cl.Client.CoreV1().ConfigMaps(ns).List(ctx, managed())
			return len(l.Items), err
		},
		"Jobs": func() (int, error) {
			l, err := cl.Client.BatchV1().Jobs(ns).List(ctx, managed())
			return len(l.Items), err
		},
		"PVCs": func() (int, error) {
			l, err := cl.Client.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
			return len(l.Items), err
		},
	} {
		if got, err := n(); err != nil || got != 0 {
			t.Errorf("after the refusal the namespace holds %d %s (%v)", got, what, err)
		}
	}
	// The API server's own admission agrees: the same pod, created as a dry run, is forbidden.
	r = cl.Plugin(t, "", time.Minute, "run", "--preset", "inference-scheduling", "-n", ns, "--pvc", "results",
		"--workload", "sanity_random", "--dry-run=client", "-o", "yaml")
	if r.Code != 0 {
		t.Fatalf("dry run: %d\n%s", r.Code, r.Stderr)
	}
	if err := createPodOf(ctx, t, ns, r.Stdout); err == nil || !strings.Contains(err.Error(), `violates PodSecurity "restricted:latest"`) {
		t.Errorf("the API server admits the root launcher pod: %v", err)
	}

	// The native harness runs.
	r = cl.Plugin(t, "", 3*time.Minute, "run", "--preset", "inference-scheduling", "-n", ns, "--pvc", "results", "--create-pvc",
		"--harness", "llmdbench", "--workload", "sanity_random", "--rates", "4", "--stage-duration", "2s", "--no-fetch")
	if r.Code != 0 || !strings.Contains(r.Stderr+r.Stdout, "1 of 1 workload(s) succeeded") {
		t.Fatalf("native harness in a restricted namespace: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	reader := launcher.BuildReaderPod(ns, "llmdbench-reader-e2e", "results", launcher.NativeImage("v0.0.0"))
	if _, err := cl.Client.CoreV1().Pods(ns).Create(ctx, reader, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Errorf("the API server refuses the reader pod: %v", err)
	}
}

func managed() metav1.ListOptions {
	return metav1.ListOptions{LabelSelector: launcher.LabelManagedBy + "=" + launcher.ManagedBy}
}

// createPodOf creates, as a server-side dry run, a pod from the Job among a dry run's objects.
func createPodOf(ctx context.Context, t *testing.T, ns, objects string) error {
	t.Helper()
	for _, doc := range strings.Split(objects, "\n---\n") {
		if !strings.Contains(doc, "kind: Job") {
			continue
		}
		var job struct {
			Spec struct {
				Template corev1.PodTemplateSpec `json:"template"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &job); err != nil {
			t.Fatal(err)
		}
		pod := &corev1.Pod{ObjectMeta: job.Spec.Template.ObjectMeta, Spec: job.Spec.Template.Spec}
		pod.Name, pod.Namespace = "launcher-dry-run", ns
		_, err := cl.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}
	t.Fatalf("no Job in the dry run's objects:\n%s", objects)
	return nil
}
