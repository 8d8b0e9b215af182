package run

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// waitWorkloadRunning waits until the run's single workload runs and has written its results
// folder (the stand-in copies the result files, then sleeps), and returns the folder's name.
func waitWorkloadRunning(t *testing.T, ns, id string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		st := status(t, ns, id)
		if len(st.Workloads) == 1 && st.Workloads[0].Phase == cluster.PhaseRunning && st.Workloads[0].ResultsDir != "" {
			dir := filepath.Join(cl.ClaimDir(ns, "workload-pvc"), path.Base(st.Workloads[0].ResultsDir))
			if _, err := os.Stat(filepath.Join(dir, "summary_lifecycle_metrics.json")); err == nil {
				return path.Base(st.Workloads[0].ResultsDir)
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("the workload of run %s did not start writing results within %s", id, timeout)
	return ""
}

// provesPartialFolder checks what a user sees of a folder whose run ended without finishing it:
// `results` lists it as incomplete, and `results show` prints its stages marked PARTIAL (header
// and stderr), with "complete": false in -o json, and exits with code 3.
func provesPartialFolder(t *testing.T, ns, id, folder string) {
	t.Helper()
	list := cl.Plugin(t, "", timeout, "results", "-n", ns, "--pvc", "workload-pvc", "--run", id, "-o", "json")
	var folders []runstate.ResultFolder
	if err := json.Unmarshal([]byte(list.Stdout), &folders); err != nil || list.Code != 0 {
		t.Fatalf("results -o json: %d %v\n%s\n%s", list.Code, err, list.Stdout, list.Stderr)
	}
	if len(folders) != 1 || folders[0].Name != folder || folders[0].Verdict != runstate.VerdictIncomplete || folders[0].Complete == nil || *folders[0].Complete {
		t.Errorf("listing: %+v", folders)
	}
	table := cl.Plugin(t, "", timeout, "results", "-n", ns, "--pvc", "workload-pvc", "--run", id)
	if !strings.Contains(table.Stdout, "incomplete") || strings.Contains(table.Stdout, "running") {
		t.Errorf("results table:\n%s", table.Stdout)
	}
	show := cl.Plugin(t, "", timeout, "results", "show", folder, "-n", ns, "--pvc", "workload-pvc")
	header := strings.SplitN(show.Stdout, "\n", 3)
	if show.Code != 3 || len(header) < 3 || !strings.HasPrefix(header[1], "PARTIAL: workload slow was cut short") ||
		!strings.Contains(show.Stderr, "PARTIAL: workload slow was cut short") || !strings.Contains(show.Stdout, "STAGE") {
		t.Errorf("results show of a partial folder: exit %d\n%s\n%s", show.Code, show.Stdout, show.Stderr)
	}
	js := cl.Plugin(t, "", timeout, "results", "show", folder, "-n", ns, "--pvc", "workload-pvc", "-o", "json")
	var rep struct {
		Stages   []json.RawMessage `json:"stages"`
		Metadata struct {
			Verdict  string `json:"verdict"`
			Complete *bool  `json:"complete"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal([]byte(js.Stdout), &rep); err != nil || js.Code != 3 || len(rep.Stages) == 0 ||
		rep.Metadata.Complete == nil || *rep.Metadata.Complete || rep.Metadata.Verdict != runstate.VerdictIncomplete {
		t.Errorf("results show -o json: exit %d %v %+v\n%s", js.Code, err, rep.Metadata, js.Stderr)
	}
}

// `delete --force` of a running run: its folders are incomplete too, not running forever.
func TestDeleteForceMidRunLeavesIncompleteFolders(t *testing.T) {
	ns := setupNamespace(t, corev1.ReadWriteOnce)
	id := detach(t, ns, 60)
	folder := waitWorkloadRunning(t, ns, id)
	d := cl.Plugin(t, "", timeout, "delete", id, "-n", ns, "--force")
	if d.Code != 0 || !strings.Contains(d.Stderr, "result folders of its unfinished workloads are incomplete") {
		t.Fatalf("delete --force: %d\n%s\n%s", d.Code, d.Stdout, d.Stderr)
	}
	provesPartialFolder(t, ns, id, folder)
}

// failingHarnessConfig: one workload whose harness fails every time (the image's entry script
// would retry it every 30 s, forever), then one whose analyzer fails: a Failed run with no
// success at all. The wait timeout is long, so only the failure line can stop the first workload
// in time.
const failingHarnessConfig = `
endpoint:
  stack_name: broken
  model: &model m/one
  namespace: ${NAMESPACE}
  base_url: &url http://gw.example.svc:80
harness:
  name: inference-perf
  results_pvc: ${BENCHMARK_PVC}
  parallelism: 1
  wait_timeout: 300
  image: ghcr.io/llm-d/llm-d-benchmark:v0.4.0
workload:
  broken:
    e2e_harness_fails: true
    server: {model_name: *model, base_url: *url}
    load: {type: constant, stages: [{rate: 1, duration: 10}]}
  analysis:
    e2e_exit_code: 2
    server: {model_name: *model, base_url: *url}
    load: {type: constant, stages: [{rate: 1, duration: 10}]}
`

// A harness that always fails is a failure, found within one retry period (field: 304 s, "timed
// out", with wait_timeout 300), with the harness's last stderr lines; and status counts the
// succeeded, failed and total workloads apart (field: a Failed run with 0 successes showed 2/2).
func TestFailingHarnessFailsWithinARetryPeriod(t *testing.T) {
	ns := setupNamespace(t, corev1.ReadWriteOnce)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(failingHarnessConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := cl.Plugin(t, "", 2*timeout, args(ns, "run", "-f", cfg, "--pvc", "workload-pvc")...)
	took := time.Since(start)
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if took > 60*time.Second {
		t.Errorf("took %s: the failing harness was not stopped within one retry period", took)
	}
	id := runID(t, r)
	for _, want := range []string{
		"broken  ", "failed (harness failed)", "failed (exit 2)",
		"Workload broken (launcher 0), failed (harness failed); its last stderr lines:",
		"    ValueError: stage 0: concurrency_level is required for a concurrent load",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("verdict lacks %q:\n%s", want, r.Stdout)
		}
	}
	for _, want := range []string{
		"execution of /usr/local/bin/inference-perf-llm-d-benchmark.sh failed, wating 30 seconds and trying again",
		"workload 1/2 broken failed after",
		"run " + id + " failed: 0 of 2 workload(s) succeeded, 2 failed",
	} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("run log lacks %q:\n%s", want, r.Stderr)
		}
	}
	if n := strings.Count(r.Stderr, "trying again"); n != 1 {
		t.Errorf("the harness was tried %d times, want once", n)
	}
	st := status(t, ns, id)
	if st.Phase != cluster.PhaseFailed || st.Succeeded != 0 || st.Failed != 2 || st.Total != 2 {
		t.Errorf("status: %s %d/%d/%d", st.Phase, st.Succeeded, st.Failed, st.Total)
	}
	w := st.Workloads[0]
	if w.Name != "broken" || w.Outcome != runstate.VerdictFailed || !w.HarnessFailed || w.TimedOut || len(w.Stderr) != 2 ||
		w.Stderr[1] != "ValueError: stage 0: concurrency_level is required for a concurrent load" {
		t.Errorf("broken: %+v", w)
	}
	if d := w.Duration(time.Now()); d > 30*time.Second {
		t.Errorf("broken ran %s", d)
	}
	// The retry loop's sleep was stopped with the workload.
	if n := processesMatching(cl.PodRoot(ns, cl.LauncherPod(t, ns, id, 0)), "sleep 30 "); n != 0 {
		t.Errorf("%d 'sleep 30' processes of the failed harness still run", n)
	}
	table := cl.Plugin(t, "", timeout, "status", "-n", ns)
	fields := ""
	for _, line := range strings.Split(table.Stdout, "\n") {
		if strings.HasPrefix(line, id) {
			fields = strings.Join(strings.Fields(line)[3:7], " ")
		}
	}
	if !strings.Contains(table.Stdout, "SUCCEEDED") || fields != fmt.Sprintf("%s 0 2 2", cluster.PhaseFailed) {
		t.Errorf("status table (PHASE SUCCEEDED FAILED TOTAL = %q):\n%s", fields, table.Stdout)
	}
	// The folders say so too.
	list := cl.Plugin(t, "", timeout, "results", "-n", ns, "--run", id, "-o", "json")
	var folders []runstate.ResultFolder
	if err := json.Unmarshal([]byte(list.Stdout), &folders); err != nil || len(folders) != 2 {
		t.Fatalf("results: %v\n%s\n%s", err, list.Stdout, list.Stderr)
	}
	for _, f := range folders {
		if f.Verdict != runstate.VerdictFailed || f.Complete == nil || *f.Complete || f.Metadata == nil || f.Metadata.Verdict != runstate.VerdictFailed {
			t.Errorf("folder %s: %q complete=%v %+v", f.Name, f.Verdict, f.Complete, f.Metadata)
		}
	}
}
