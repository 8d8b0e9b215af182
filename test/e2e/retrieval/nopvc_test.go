package retrieval

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// launcherEnds waits for the launcher pod of run to end by itself, Succeeded.
func launcherEnds(t *testing.T, ns, id string) {
	t.Helper()
	pod := cl.LauncherPod(t, ns, id, 0)
	if pod == "" {
		t.Fatalf("run %s has no launcher pod", id)
	}
	cl.WaitPod(t, ns, pod, 30*time.Second, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
}

func fetchedFolders(t *testing.T, dir, id string) []string {
	t.Helper()
	got, _ := filepath.Glob(filepath.Join(dir, "llmdbench-results", id, "inference-perf_"+id+"_*"))
	return got
}

// run --no-pvc: no claim in the namespace; the results come back from the launcher's emptyDir,
// the launcher then exits (long before its keep-for); the same after a detach and an attach.
func TestNoPVCRunFetchesFromTheLauncher(t *testing.T) {
	ns := cl.Namespace(t)
	ctx := context.Background()
	work := t.TempDir()
	cmd := cl.PluginCmd(t, "", append([]string{"run", "--preset", "pd", "--workload", "sanity_random", "-n", ns, "--base-url", "http://gw.example:80", "--no-pvc"}, small...)...)
	cmd.Dir = work
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run --no-pvc: %v\n%s", err, out)
	}
	m := runIDInText.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no run id:\n%s", out)
	}
	id := m[1]
	if !strings.Contains(string(out), "The results of run "+id+" are in llmdbench-results/"+id+" (fetched from its launcher's emptyDir") {
		t.Errorf("the verdict does not say where the results are:\n%s", out)
	}
	if got := fetchedFolders(t, work, id); len(got) != 1 {
		t.Errorf("fetched %v, want the one result folder", got)
	} else if entries, _ := os.ReadDir(got[0]); len(entries) == 0 {
		t.Errorf("fetched folder %s is empty", got[0])
	}
	launcherEnds(t, ns, id)
	if pvcs, _ := cl.Client.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{}); len(pvcs.Items) != 0 {
		t.Errorf("%d PVCs in the namespace of a --no-pvc run", len(pvcs.Items))
	}

	// Detached: the launcher waits with its results; attach fetches them, then it exits.
	body := `
endpoint: {stack_name: nopvc, model: m/one, base_url: "http://gw.example:80"}
harness: {name: inference-perf, results_pvc: unused, wait_timeout: 0, image: ghcr.io/llm-d/llm-d-benchmark:v0.4.0}
workload:
  slow:
    e2e_sleep: 2
    load: {stages: [{rate: 1, duration: 1}]}
`
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	// harness.results_pvc in the file is fine; --pvc is what --no-pvc excludes.
	r := cl.Plugin(t, "", timeout, append([]string{"run", "-f", cfg, "-n", ns, "--no-pvc", "--detach"}, small...)...)
	if r.Code != 0 {
		t.Fatalf("run --no-pvc --detach: %d %s", r.Code, r.Stderr)
	}
	second := strings.TrimSpace(r.Stdout)
	// Its workloads end after about 2 s; the launcher must still be there, waiting, well after.
	time.Sleep(6 * time.Second)
	pod := cl.LauncherPod(t, ns, second, 0)
	if p, err := cl.Client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{}); err != nil || p.Status.Phase != corev1.PodRunning {
		t.Fatalf("the launcher of a detached --no-pvc run did not wait to be fetched: %v %+v", err, p.Status.Phase)
	}
	attachDir := t.TempDir()
	a := cl.PluginCmd(t, "", "attach", second, "-n", ns)
	a.Dir = attachDir
	aout, err := a.CombinedOutput()
	if err != nil || !strings.Contains(string(aout), "fetched from its launcher's emptyDir") {
		t.Fatalf("attach: %v\n%s", err, aout)
	}
	if got := fetchedFolders(t, attachDir, second); len(got) != 1 {
		t.Errorf("attach fetched %v, want the one result folder", got)
	}
	launcherEnds(t, ns, second)
	if pvcs, _ := cl.Client.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{}); len(pvcs.Items) != 0 {
		t.Errorf("%d PVCs in the namespace of --no-pvc runs", len(pvcs.Items))
	}
}
