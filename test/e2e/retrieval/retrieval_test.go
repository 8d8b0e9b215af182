// Package retrieval proves logs, results and cp end to end on the real local control plane, with
// the real inference-perf fixture files plus a generated per-request file of about 100 MB.
package retrieval

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
	"github.com/llmdbench/kubectl-llmdbench/test/e2e/framework"
)

var cl *framework.Cluster

func TestMain(m *testing.M) {
	os.Exit(framework.Main(m, &cl, (*framework.Cluster).InstallHarnessStandIn))
}

const timeout = 2 * time.Minute

var small = []string{"--cpu", "500m", "--memory", "512Mi"}

func namespaceWithPVC(t *testing.T) string {
	t.Helper()
	ns := cl.Namespace(t)
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "workload-pvc"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}},
		},
	}
	if _, err := cl.Client.CoreV1().PersistentVolumeClaims(ns).Create(context.Background(), pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return ns
}

var runIDInText = regexp.MustCompile(`run ([0-9]{10}-[0-9a-f]{4})`)

// startRun runs the pd preset (base URL given: no gateway needed) and returns its id.
func startRun(t *testing.T, ns, dir string, extra ...string) string {
	t.Helper()
	cmd := cl.PluginCmd(t, "", append(append([]string{"run", "--preset", "pd", "--workload", "sanity_random", "-n", ns, "--pvc", "workload-pvc", "--base-url", "http://gw.example:80"}, small...), extra...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	m := runIDInText.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no run id:\n%s", out)
	}
	return m[1]
}

// writePerRequest writes a per-request file of about size bytes, shaped like inference-perf's
// (one JSON array of large records), into a result folder on the claim.
func writePerRequest(t *testing.T, folder string, size int64) {
	t.Helper()
	f, err := os.Create(filepath.Join(folder, runstate.PerRequestFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("[")
	var n int64
	for i := 0; n < size; i++ {
		rec := fmt.Sprintf(`{"start_time": %.6f, "end_time": %.6f, "request": "{\"model\": \"m\", \"prompt\": \"%s\", \"max_tokens\": %d}", "response": "{\"choices\": [{\"text\": \"tok%d\"}]}", "info": {"input_tokens": %d, "output_tokens": %d, "output_token_times": [%.6f, %.6f, %.6f]}}`,
			1764000000+float64(i)*0.01, 1764000001+float64(i)*0.013, strings.Repeat("lorem ipsum dolor ", 40+i%17), 64+i%900, i, 700+i%300, 64+i%900,
			1764000000.1+float64(i)*0.01, 1764000000.2+float64(i)*0.01, 1764000000.3+float64(i)*0.01)
		if i > 0 {
			w.WriteString(", ")
		}
		c, _ := w.WriteString(rec)
		n += int64(c)
	}
	w.WriteString("]")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

func sum(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestRunFetchesAndCpCopiesWithoutThePerRequestFile(t *testing.T) {
	ns := namespaceWithPVC(t)
	work := t.TempDir()
	id := startRun(t, ns, work, "--parallelism", "2")
	// run fetched both launchers' folders into ./llmdbench-results/<run>/
	fetched, _ := filepath.Glob(filepath.Join(work, "llmdbench-results", id, "inference-perf_"+id+"_sanity_random_pd-gpt-oss-120b_*"))
	if len(fetched) != 2 {
		t.Fatalf("run must fetch both launchers' results: %v", fetched)
	}
	claim := cl.ClaimDir(ns, "workload-pvc")
	folder := "inference-perf_" + id + "_sanity_random_pd-gpt-oss-120b_0"
	writePerRequest(t, filepath.Join(claim, folder), 100<<20)

	// results: the listing shows both folders, the per-request size, and the verdicts
	r := cl.Plugin(t, "", timeout, "results", "-n", ns, "--run", id, "-o", "json")
	var list []runstate.ResultFolder
	if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &list) != nil || len(list) != 2 {
		t.Fatalf("results: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
	for _, f := range list {
		if f.Harness != "inference-perf" || f.Run != id || f.Workload != "sanity_random" || f.Status == nil || !f.Status.Succeeded() {
			t.Errorf("folder %+v", f)
		}
		if f.Name == folder && f.PerRequestBytes < 100<<20 {
			t.Errorf("per-request size %d", f.PerRequestBytes)
		}
	}
	table := cl.Plugin(t, "", timeout, "results", "-n", ns)
	if !strings.Contains(table.Stdout, "NAME") || !regexp.MustCompile(`100\.\dMiB`).MatchString(table.Stdout) || !strings.Contains(table.Stdout, "succeeded") {
		t.Errorf("results table:\n%s", table.Stdout)
	}

	// cp of the whole run skips the per-request file by default
	dest := filepath.Join(t.TempDir(), "out")
	r = cl.Plugin(t, "", timeout, "cp", id, dest, "-n", ns)
	if r.Code != 0 || !regexp.MustCompile(`Skipped 1 per-request file\(s\), 100\.\dMiB: add --per-request`).MatchString(r.Stderr) {
		t.Fatalf("cp run: %d\n%s", r.Code, r.Stderr)
	}
	for _, f := range list {
		if _, err := os.Stat(filepath.Join(dest, f.Name, "summary_lifecycle_metrics.json")); err != nil {
			t.Errorf("missing %s: %v", f.Name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dest, folder, runstate.PerRequestFile)); !os.IsNotExist(err) {
		t.Errorf("the per-request file was copied without --per-request: %v", err)
	}
	// the fixture files arrive byte for byte
	fixture := filepath.Join(cl.FixtureDir(), "stage_3_lifecycle_metrics.json")
	if sum(t, fixture) != sum(t, filepath.Join(dest, folder, "stage_3_lifecycle_metrics.json")) {
		t.Error("a copied file differs from the original")
	}

	// cp of one folder with --per-request, into the default ./llmdbench-results/<run>/
	cmd := cl.PluginCmd(t, "", "cp", folder, "-n", ns, "--per-request")
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cp --per-request: %v\n%s", err, out)
	}
	got := filepath.Join(cmd.Dir, "llmdbench-results", id, folder, runstate.PerRequestFile)
	if sum(t, got) != sum(t, filepath.Join(claim, folder, runstate.PerRequestFile)) {
		t.Error("the per-request file differs")
	}
	// this image has no plugin: gzip, which every image has
	wire := regexp.MustCompile(`\(([0-9.]+)MiB over the wire, gzip,`).FindStringSubmatch(string(out))
	if wire == nil {
		t.Fatalf("no wire size in %s", out)
	}
	var mib float64
	fmt.Sscan(wire[1], &mib)
	if mib > 20 {
		t.Errorf("%.1f MiB over the wire for a 100 MiB JSON file: not compressed", mib)
	}
	// results show NAME fetches the folder (not its per-request file) and reads the real fixtures.
	show := cl.PluginCmd(t, "", "results", "show", folder, "-n", ns, "-o", "json")
	show.Env = append(show.Env, "XDG_CACHE_HOME="+t.TempDir())
	shown, err := show.Output()
	var report struct {
		Format string `json:"format"`
		Stages []struct {
			Stage int `json:"stage"`
		} `json:"stages"`
	}
	if err != nil || json.Unmarshal(shown, &report) != nil || report.Format != "inference-perf" || len(report.Stages) != 7 {
		t.Errorf("results show NAME: %v\n%s", err, shown)
	}
	if r := cl.Plugin(t, "", timeout, "cp", "nonexistent_folder", "-n", ns); r.Code == 0 || !strings.Contains(r.Stderr, `no result folder or run "nonexistent_folder" on the PVC`) {
		t.Errorf("cp of an unknown name: %d %s", r.Code, r.Stderr)
	}
}

// A cut stream (the tar in the pod killed mid-copy) is retried, fetching only what is missing.
func TestCpRetriesACutStream(t *testing.T) {
	ns, _, folder, claim := runWithPerRequest(t, 150<<20)
	dest := filepath.Join(t.TempDir(), "out")
	stderr := cpKillingOnce(t, ns, folder, dest, "tar\x00cf")
	if !strings.Contains(stderr, "2 attempt(s)") || strings.Count(stderr, "copy interrupted") != 1 {
		t.Errorf("the retry is not reported:\n%s", stderr)
	}
	for _, name := range []string{runstate.PerRequestFile, "summary_lifecycle_metrics.json", "stage_0_lifecycle_metrics.json"} {
		if sum(t, filepath.Join(dest, folder, name)) != sum(t, filepath.Join(claim, folder, name)) {
			t.Errorf("%s differs after the retry", name)
		}
	}
}

// A pod whose image has the plugin (as the native harness image does) packs with it: zstd on every
// core, about an eighth of the bytes; a cut stream is retried there too.
func TestCpPacksWithThePluginInThePod(t *testing.T) {
	ns, _, folder, claim := runWithPerRequest(t, 150<<20)
	// The launcher has ended: cp reads through a reader pod, which gets the plugin from the overlay
	// (removed again for the tests after this one).
	bin, err := framework.PluginBinary()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	framework.WriteFile(t, cl.OverlayDir(), "usr/local/bin/kubectl-llmdbench", data, 0o755)
	t.Cleanup(func() { _ = os.Remove(filepath.Join(cl.OverlayDir(), "usr/local/bin/kubectl-llmdbench")) })

	dest := filepath.Join(t.TempDir(), "out")
	r := cl.Plugin(t, "", timeout, "cp", folder, dest, "-n", ns, "--per-request")
	wire := regexp.MustCompile(`\(([0-9.]+)MiB over the wire, zstd, 1 attempt`).FindStringSubmatch(r.Stderr)
	if r.Code != 0 || wire == nil {
		t.Fatalf("cp with the plugin in the pod: %d\n%s", r.Code, r.Stderr)
	}
	var mib float64
	fmt.Sscan(wire[1], &mib)
	if mib > 0.2*150 {
		t.Errorf("%.1f MiB over the wire for 150 MiB of JSON", mib)
	}
	for _, name := range []string{runstate.PerRequestFile, "summary_lifecycle_metrics.json", "stage_3_lifecycle_metrics.json"} {
		if sum(t, filepath.Join(dest, folder, name)) != sum(t, filepath.Join(claim, folder, name)) {
			t.Errorf("%s differs", name)
		}
	}
	// --compress gzip still asks for gzip, plugin or not.
	r = cl.Plugin(t, "", timeout, "cp", folder, filepath.Join(t.TempDir(), "gz"), "-n", ns, "--compress", "gzip")
	if r.Code != 0 || !strings.Contains(r.Stderr, "over the wire, gzip,") {
		t.Errorf("cp --compress gzip: %d\n%s", r.Code, r.Stderr)
	}

	// The packer killed mid-stream: the retry fetches what is missing, with the packer again.
	dest = filepath.Join(t.TempDir(), "cut")
	stderr := cpKillingOnce(t, ns, folder, dest, "kubectl-llmdbench\x00pack\x00--\x00")
	if strings.Count(stderr, "copy interrupted") != 1 || !strings.Contains(stderr, "zstd, 2 attempt(s)") {
		t.Errorf("the retry is not reported:\n%s", stderr)
	}
	if sum(t, filepath.Join(dest, folder, runstate.PerRequestFile)) != sum(t, filepath.Join(claim, folder, runstate.PerRequestFile)) {
		t.Error("the per-request file differs after the retry")
	}
}

// runWithPerRequest starts a run whose result folder gets a per-request file of size bytes.
func runWithPerRequest(t *testing.T, size int64) (ns, id, folder, claim string) {
	t.Helper()
	ns = namespaceWithPVC(t)
	id = startRun(t, ns, t.TempDir(), "--no-fetch")
	folder = "inference-perf_" + id + "_sanity_random_pd-gpt-oss-120b"
	claim = cl.ClaimDir(ns, "workload-pvc")
	writePerRequest(t, filepath.Join(claim, folder), size)
	return ns, id, folder, claim
}

// cpKillingOnce copies folder with its per-request file while killing, once, a process of the
// namespace's pods (the reader pod that serves the copy) whose command line starts with prefix
// (cutting the stream); it returns cp's stderr.
func cpKillingOnce(t *testing.T, ns, folder, dest, prefix string) string {
	t.Helper()
	cmd := cl.PluginCmd(t, "", "cp", folder, dest, "-n", ns, "--per-request")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	for deadline := time.Now().Add(30 * time.Second); !killed && time.Now().Before(deadline); {
		for _, pid := range processes(filepath.Join(cl.Dir, "pods", ns)+string(filepath.Separator), prefix) {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed = true
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Wait(); err != nil || !killed {
		t.Fatalf("cp: %v (killed %q: %v)\n%s", err, prefix, killed, stderr.String())
	}
	return stderr.String()
}

// processes are the pids running in a pod root under roots whose command line starts with prefix.
func processes(roots, prefix string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		link, err := os.Readlink(filepath.Join("/proc", e.Name(), "root"))
		if err != nil || !strings.HasPrefix(link, roots) {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.HasPrefix(string(b), prefix) {
			var pid int
			fmt.Sscan(e.Name(), &pid)
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestLogsAndTheReaderPod(t *testing.T) {
	ns := namespaceWithPVC(t)
	// A slow run, detached: logs -f follows it and ends by itself when it is done.
	body := `
endpoint: {stack_name: logs, model: m/one, base_url: "http://gw.example:80"}
harness: {name: inference-perf, results_pvc: workload-pvc, wait_timeout: 0, image: ghcr.io/llm-d/llm-d-benchmark:v0.4.0}
workload:
  first:
    e2e_sleep: 2
    load: {stages: [{rate: 1, duration: 1}]}
  second:
    e2e_sleep: 1
    load: {stages: [{rate: 1, duration: 1}]}
`
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	r := cl.Plugin(t, "", timeout, append([]string{"run", "-f", cfg, "-n", ns, "--detach"}, small...)...)
	if r.Code != 0 {
		t.Fatalf("run --detach: %d %s", r.Code, r.Stderr)
	}
	id := strings.TrimSpace(r.Stdout)
	start := time.Now()
	f := cl.Plugin(t, "", timeout, "logs", id, "-n", ns, "-f")
	if f.Code != 0 || !strings.Contains(f.Stdout, "workload 2/2 second succeeded") || !strings.Contains(f.Stdout, "finished: 0 of 2 workload(s) failed") {
		t.Errorf("logs -f: %d\n%s\n%s", f.Code, f.Stdout, f.Stderr)
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("logs -f did not end with the run")
	}
	w := cl.Plugin(t, "", timeout, "logs", "-n", ns, "--workload", "first")
	if w.Code != 0 || !strings.Contains(w.Stdout, "workload 1/2 first started") || strings.Contains(w.Stdout, "second") {
		t.Errorf("logs --workload first (newest run):\n%s", w.Stdout)
	}
	tail := cl.Plugin(t, "", timeout, "logs", id, "-n", ns, "--tail", "1")
	if strings.Count(tail.Stdout, "\n") != 1 || !strings.Contains(tail.Stdout, "finished") {
		t.Errorf("--tail 1: %q", tail.Stdout)
	}

	// With the launcher gone, the log and the results are read through a reader pod, removed after.
	pod := cl.LauncherPod(t, ns, id, 0)
	if d := cl.Plugin(t, "", timeout, "delete", id, "-n", ns); d.Code != 0 {
		t.Fatalf("delete: %s", d.Stderr)
	}
	waitGone(t, ns, pod)
	l := cl.Plugin(t, "", timeout, "logs", id, "-n", ns, "--pvc", "workload-pvc")
	if l.Code != 0 || !strings.Contains(l.Stdout, "workload 2/2 second succeeded") || !strings.Contains(l.Stderr, "reader pod") {
		t.Errorf("the log of a deleted run, from its PVC: %d\n%s\n%s", l.Code, l.Stdout, l.Stderr)
	}
	if l := cl.Plugin(t, "", timeout, "logs", id, "-n", ns); l.Code == 0 || !strings.Contains(l.Stderr, "add --pvc NAME") {
		t.Errorf("without --pvc: %d %s", l.Code, l.Stderr)
	}
	res := cl.Plugin(t, "", timeout, "results", "-n", ns, "--pvc", "workload-pvc", "-o", "json")
	var list []runstate.ResultFolder
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &list) != nil || len(list) != 2 || !strings.Contains(res.Stderr, "reader pod") {
		t.Fatalf("results through a reader pod: %d %s %s", res.Code, res.Stdout, res.Stderr)
	}
	pods, err := cl.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: launcher.LabelApp + "=" + launcher.AppReader})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			t.Errorf("reader pod %s left behind", p.Name)
		}
	}
	if st := cl.Plugin(t, "", timeout, "status", "-n", ns); st.Code != 0 {
		t.Errorf("status: %s", st.Stderr)
	}
}

func waitGone(t *testing.T, ns, pod string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := cl.Client.CoreV1().Pods(ns).Get(context.Background(), pod, metav1.GetOptions{}); err != nil {
			return
		}
	}
	t.Fatalf("pod %s not gone", pod)
}
