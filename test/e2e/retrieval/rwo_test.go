package retrieval

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
)

// readerWatch records the node and required node affinity of every reader pod it sees.
type readerWatch struct {
	mu    sync.Mutex
	nodes map[string]string
	pins  map[string]string // pod -> first required term, as text
	stop  chan struct{}
	done  chan struct{}
}

func watchReaders(t *testing.T, ns string) *readerWatch {
	w := &readerWatch{nodes: map[string]string{}, pins: map[string]string{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			pods, err := cl.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: launcher.LabelApp + "=" + launcher.AppReader})
			if err == nil {
				w.mu.Lock()
				for _, p := range pods.Items {
					if p.Spec.NodeName != "" {
						w.nodes[p.Name] = p.Spec.NodeName
					}
					if a := p.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
						w.pins[p.Name] = a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].String()
					}
				}
				w.mu.Unlock()
			}
			select {
			case <-w.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(w.end)
	return w
}

func (w *readerWatch) end() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// take returns what was seen since the last take, and forgets it.
func (w *readerWatch) take() (nodes, pins map[string]string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	nodes, pins = w.nodes, w.pins
	w.nodes, w.pins = map[string]string{}, map[string]string{}
	return nodes, pins
}

func nodeOf(t *testing.T, ns, pod string) string {
	t.Helper()
	p, err := cl.Client.CoreV1().Pods(ns).Get(context.Background(), pod, metav1.GetOptions{})
	if err != nil || p.Spec.NodeName == "" {
		t.Fatalf("pod %s: %v (node %q)", pod, err, p.Spec.NodeName)
	}
	return p.Spec.NodeName
}

// A ReadWriteOnce results claim: one launcher, pinned with every reader pod to the node the
// volume is on (the volume's node affinity, or the node of the launcher that mounts it now);
// doctor says so; two launchers are refused before anything is created. Then delete --all.
func TestReadWriteOnceClaimPinsLauncherAndReaders(t *testing.T) {
	ns := cl.Namespace(t)
	ctx := context.Background()
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "workload-pvc"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if _, err := cl.Client.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	readers := watchReaders(t, ns)

	// The first run binds the claim on its launcher's node.
	first := startRun(t, ns, t.TempDir())
	node := nodeOf(t, ns, cl.LauncherPod(t, ns, first, 0))
	nodes, _ := readers.take()
	for pod, n := range nodes { // run fetched its results (through a reader pod once the launcher ended)
		if n != node {
			t.Errorf("reader pod %s of the first run's fetch on %s, the volume is on %s", pod, n, node)
		}
	}

	d := cl.Plugin(t, "", timeout, "doctor", "-n", ns, "--pvc", "workload-pvc")
	if !strings.Contains(d.Stdout+d.Stderr, "ReadWriteOnce: one launcher, pinned with the reader pods to the node(s) of volume") {
		t.Errorf("doctor does not say where the RWO claim pins:\n%s\n%s", d.Stdout, d.Stderr)
	}

	// results and cp read through reader pods on the volume's node, pinned by its node affinity.
	if r := cl.Plugin(t, "", timeout, "results", "-n", ns, "--pvc", "workload-pvc"); r.Code != 0 || !strings.Contains(r.Stderr, "reader pod") {
		t.Fatalf("results: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
	if r := cl.Plugin(t, "", timeout, "cp", first, filepath.Join(t.TempDir(), "out"), "-n", ns, "--pvc", "workload-pvc"); r.Code != 0 {
		t.Fatalf("cp: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
	nodes, pins := readers.take()
	if len(nodes) < 2 {
		t.Fatalf("saw %d reader pods for results and cp, want 2: %v", len(nodes), nodes)
	}
	for pod, n := range nodes {
		if n != node || !strings.Contains(pins[pod], "kubernetes.io/hostname") {
			t.Errorf("reader pod %s on %s (pin %q), the volume is on %s", pod, n, pins[pod], node)
		}
	}

	// A slow second run: its launcher is pinned there too, and while it mounts the claim a
	// reader pod is pinned to its node by name.
	body := `
endpoint: {stack_name: rwo, model: m/one, base_url: "http://gw.example:80"}
harness: {name: inference-perf, results_pvc: workload-pvc, wait_timeout: 0, image: ghcr.io/llm-d/llm-d-benchmark:v0.4.0}
workload:
  slow:
    e2e_sleep: 4
    load: {stages: [{rate: 1, duration: 1}]}
`
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	r := cl.Plugin(t, "", timeout, append([]string{"run", "-f", cfg, "-n", ns, "--detach"}, small...)...)
	if r.Code != 0 || !strings.Contains(r.Stderr, "PVC workload-pvc is ReadWriteOnce: the launcher is pinned to the node(s) of volume") {
		t.Fatalf("run --detach: %d %s", r.Code, r.Stderr)
	}
	second := strings.TrimSpace(r.Stdout)
	var name string
	for deadline := time.Now().Add(timeout); name == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		name = cl.LauncherPod(t, ns, second, 0)
	}
	pod := cl.WaitPod(t, ns, name, timeout, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	if pod.Spec.NodeName != node {
		t.Errorf("second launcher on %s, the volume is on %s", pod.Spec.NodeName, node)
	}
	if res := cl.Plugin(t, "", timeout, "results", "-n", ns, "--pvc", "workload-pvc"); res.Code != 0 {
		t.Fatalf("results while running: %d %s", res.Code, res.Stderr)
	}
	nodes, pins = readers.take()
	if len(nodes) == 0 {
		t.Fatal("no reader pod seen while the second run ran")
	}
	for p, n := range nodes {
		if n != node || !strings.Contains(pins[p], "metadata.name") || !strings.Contains(pins[p], node) {
			t.Errorf("reader pod %s on %s (pin %q) while launcher %s mounts the claim on %s", p, n, pins[p], pod.Name, node)
		}
	}

	// Two launchers cannot share a ReadWriteOnce claim: refused before anything is created.
	before, _ := cl.Client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: launcher.AllRunsSelector()})
	two := cl.Plugin(t, "", timeout, append([]string{"run", "--preset", "pd", "-n", ns, "--pvc", "workload-pvc", "--base-url", "http://gw.example:80", "--parallelism", "2"}, small...)...)
	after, _ := cl.Client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: launcher.AllRunsSelector()})
	if two.Code == 0 || !strings.Contains(two.Stderr, "PVC workload-pvc is ReadWriteOnce, but 2 launchers must write to it at once") || len(after.Items) != len(before.Items) {
		t.Errorf("--parallelism 2 on RWO: %d %s (%d ConfigMaps before, %d after)", two.Code, two.Stderr, len(before.Items), len(after.Items))
	}

	// delete --all: the running run stops it unless --force; --dry-run=client lists both runs
	// and removes nothing; then both go, the claim and its results stay.
	if d := cl.Plugin(t, "", timeout, "delete", "--all", "-n", ns); d.Code == 0 || !strings.Contains(d.Stderr, "run "+second+" is ") || !strings.Contains(d.Stderr, "nothing was removed") {
		t.Errorf("delete --all with a running run: %d %s", d.Code, d.Stderr)
	}
	dry := cl.Plugin(t, "", timeout, "delete", "--all", "--force", "-n", ns, "--dry-run=client")
	if dry.Code != 0 || !strings.Contains(dry.Stdout, "run "+first+" would be deleted") || !strings.Contains(dry.Stdout, "run "+second+" would be deleted") {
		t.Errorf("delete --all --dry-run=client: %d %s %s", dry.Code, dry.Stdout, dry.Stderr)
	}
	if cms, _ := cl.Client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: launcher.AllRunsSelector()}); len(cms.Items) != 2 {
		t.Errorf("a dry run removed runs: %d ConfigMaps left", len(cms.Items))
	}
	if d := cl.Plugin(t, "", timeout, "delete", "--all", "--force", "-n", ns); d.Code != 0 || strings.Count(d.Stdout, " deleted\n") != 2 {
		t.Errorf("delete --all --force: %d %s %s", d.Code, d.Stdout, d.Stderr)
	}
	if cms, _ := cl.Client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: launcher.AllRunsSelector()}); len(cms.Items) != 0 {
		t.Errorf("%d run ConfigMaps left after delete --all", len(cms.Items))
	}
	if _, err := cl.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "workload-pvc", metav1.GetOptions{}); err != nil {
		t.Errorf("delete --all touched the claim: %v", err)
	}
	if entries, _ := os.ReadDir(cl.ClaimDir(ns, "workload-pvc")); len(entries) < 2 {
		t.Errorf("delete --all must keep the results: %d entries on the claim", len(entries))
	}
}
