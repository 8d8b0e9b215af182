package native

import (
	"context"
	"encoding/json"
	"math"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// pythonMerge runs the reference over files and returns, per stage id, its distributions.
func pythonMerge(t *testing.T, files []string) map[string]map[string]any {
	t.Helper()
	script, err := filepath.Abs("../../../hack/bench/merge_reference.py")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("python3", append([]string{script}, files...)...).Output()
	if err != nil {
		t.Fatalf("python3 reference: %v", err)
	}
	var ref struct {
		Stages map[string]map[string]any `json:"stages"`
	}
	if err := json.Unmarshal(out, &ref); err != nil {
		t.Fatal(err)
	}
	return ref.Stages
}

// Three launchers on three nodes share one benchmark (issue 16): one Indexed Job whose pods land on
// three nodes, the profile's rate split between them and started together, and a merged report
// whose counts are the sum of the three, whose achieved rate is the profile's, and whose
// percentiles are those computed independently (python3) over the union of their requests.
func TestThreeLaunchersOneMergedReport(t *testing.T) {
	sim := simulator(t, "127.0.0.5:80", "--time-to-first-token", "20ms", "--inter-token-latency", "5ms")
	cl.InstallPlugin(t)
	ns := cl.Namespace(t)
	gatewayService(t, ns, "127.0.0.5")
	cmd := cl.PluginCmd(t, "", "run", "--preset", "inference-scheduling", "-n", ns, "--pvc", "results", "--create-pvc",
		"--harness", "llmdbench", "--workload", "sanity_random", "--parallelism", "3", "--rates", "30", "--stage-duration", "20s")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	id := regexp.MustCompile(`Starting run (\S+) `).FindStringSubmatch(string(out))
	if id == nil || !strings.Contains(string(out), "3 of 3 workload(s) succeeded") {
		t.Fatalf("no success verdict:\n%s", out)
	}
	ctx := context.Background()
	// One Indexed Job of three completions (the controller counts them a moment after the pods
	// end), its pods on three nodes, each Succeeded.
	job := jobStatus(t, ns, func(j *batchv1.Job) bool { return j.Status.Succeeded == 3 })
	if *job.Spec.CompletionMode != batchv1.IndexedCompletion || *job.Spec.Completions != 3 || job.Status.Succeeded != 3 {
		t.Errorf("Job %s: mode %s, completions %d, succeeded %d", job.Name, *job.Spec.CompletionMode, *job.Spec.Completions, job.Status.Succeeded)
	}
	pods, err := cl.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: launcher.RunSelector(id[1])})
	if err != nil || len(pods.Items) != 3 {
		t.Fatalf("launcher pods: %v %d", err, len(pods.Items))
	}
	nodes := map[string]bool{}
	for _, p := range pods.Items {
		nodes[p.Spec.NodeName] = true
		if p.Status.Phase != corev1.PodSucceeded {
			t.Errorf("pod %s (launcher %d) is %s", p.Name, cluster.PodIndex(&p), p.Status.Phase)
		}
	}
	if len(nodes) != 3 {
		t.Errorf("the launchers ran on %d node(s), want 3: %v", len(nodes), nodes)
	}

	base := filepath.Join(cmd.Dir, "llmdbench-results", id[1])
	stack, _ := filepath.Glob(filepath.Join(base, "llmdbench_"+id[1]+"_sanity_random_*_0"))
	if len(stack) != 1 {
		t.Fatalf("fetched launcher folders: %v", stack)
	}
	mergedDir := strings.TrimSuffix(stack[0], "_0")
	var files []string
	total := 0
	for i := range 3 {
		dir := mergedDir + "_" + strconv.Itoa(i)
		files = append(files, filepath.Join(dir, runstate.PerRequestFile))
		l, err := runstate.ReadLaunch(dir)
		if err != nil || l.Index != i || l.Count != 3 || l.Mode != runstate.ModeSplit {
			t.Fatalf("launcher %d record: %v %+v", i, err, l)
		}
		rep := showJSON(t, dir)
		total += rep.Stages[0].Requests.Succeeded + rep.Stages[0].Requests.Failed
		if r := *rep.Stages[0].RequestedRate; r != 10 {
			t.Errorf("launcher %d requested %v req/s, want its third of 30", i, r)
		}
	}
	rep := showJSON(t, mergedDir)
	if rep.Merge == nil || len(rep.Merge.Missing) != 0 || len(rep.Merge.Merged) != 3 || len(rep.Stages) != 1 {
		t.Fatalf("merged report: %+v stages %d", rep.Merge, len(rep.Stages))
	}
	st := rep.Stages[0]
	if n := st.Requests.Succeeded + st.Requests.Failed; n != total || st.Requests.Failed != 0 || n != 600 {
		t.Errorf("merged requests %d (failed %d), the launchers sent %d; the profile's 30 req/s x 20 s is 600", n, st.Requests.Failed, total)
	}
	ms := rep.Merge.Stages[0]
	if ms.AchievedRate == nil || math.Abs(*ms.AchievedRate-30)/30 > 0.01 {
		t.Errorf("merged achieved rate %v, want within 1%% of 30 req/s", ms.AchievedRate)
	}
	if ms.StartSkewSeconds == nil || *ms.StartSkewSeconds >= 0.020 {
		t.Errorf("stage start skew %v s, want measured and below 20 ms", ms.StartSkewSeconds)
	} else {
		t.Logf("stage start skew %.3f ms, achieved rate %.3f req/s", *ms.StartSkewSeconds*1e3, *ms.AchievedRate)
	}
	// Percentiles over the union, computed independently.
	ref := pythonMerge(t, files)["0"]
	if int(ref["requests"].(float64)) != total {
		t.Errorf("python counts %v requests, the launchers %d", ref["requests"], total)
	}
	for name, d := range map[string]*results.Dist{"ttft": st.Latency.TTFT, "tpot": st.Latency.TPOT, "itl": st.Latency.ITL, "e2e": st.Latency.E2E} {
		want := ref[name].(map[string]any)
		for q, got := range map[string]*float64{"p50": d.P50, "p90": d.P90, "p99": d.P99, "mean": d.Mean} {
			w := want[q].(float64)
			if got == nil || math.Abs(*got-w) > 1e-9*math.Max(1, math.Abs(w)) {
				t.Errorf("%s %s: merged %v, python over the union %v", name, q, got, w)
			}
		}
	}
	if m, err := sim.Metrics(); err != nil || int(metric(m, "vllm:request_success_total")) != total {
		t.Errorf("the simulator served %v requests, the launchers sent %d (%v)", metric(m, "vllm:request_success_total"), total, err)
	}
}

// A launcher killed mid-run: its index fails (the Job does not restart it), the others finish,
// and the merged report says which launcher is missing.
func TestKilledLauncherIsNamedMissing(t *testing.T) {
	simulator(t, "127.0.0.6:80", "--time-to-first-token", "10ms", "--inter-token-latency", "2ms")
	cl.InstallPlugin(t)
	ns := cl.Namespace(t)
	gatewayService(t, ns, "127.0.0.6")
	cmd := cl.PluginCmd(t, "", "run", "--preset", "inference-scheduling", "-n", ns, "--pvc", "results", "--create-pvc",
		"--harness", "llmdbench", "--workload", "sanity_random", "--parallelism", "3", "--rates", "6", "--stage-duration", "15s")
	var outBuf strings.Builder
	cmd.Stdout, cmd.Stderr = &outBuf, &outBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Kill launcher 2 once its workload runs (its records are on the claim).
	deadline := time.Now().Add(2 * time.Minute)
	killed := ""
	for killed == "" && time.Now().Before(deadline) {
		pods, _ := cl.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: launcher.LabelApp + "=" + launcher.AppLauncher})
		for _, p := range pods.Items {
			if cluster.PodIndex(&p) == 2 && p.Status.Phase == corev1.PodRunning && strings.Contains(outBuf.String(), "started") {
				time.Sleep(4 * time.Second) // well inside the 15 s stage
				if err := cl.Client.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
				killed = p.Name
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if killed == "" {
		t.Fatalf("launcher 2 never ran:\n%s", outBuf.String())
	}
	err := cmd.Wait()
	out := outBuf.String()
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 1 || !strings.Contains(out, "2 of 3 workload(s) succeeded, 1 failed") {
		t.Fatalf("run after a killed launcher: %v\n%s", err, out)
	}
	// The Job failed index 2 and did not restart it; 0 and 1 completed.
	failed := func(j *batchv1.Job) bool { return j.Status.FailedIndexes != nil && *j.Status.FailedIndexes == "2" }
	job := jobStatus(t, ns, func(j *batchv1.Job) bool { return failed(j) && j.Status.Succeeded == 2 })
	if !failed(&job) || job.Status.Succeeded != 2 || job.Status.CompletedIndexes != "0,1" {
		t.Errorf("Job status: %+v", job.Status)
	}
	merged, _ := filepath.Glob(filepath.Join(cmd.Dir, "llmdbench-results", "*", "llmdbench_*_sanity_random_*"))
	var dir string
	for _, m := range merged {
		if !regexp.MustCompile(`_\d$`).MatchString(m) {
			dir = m
		}
	}
	if dir == "" {
		t.Fatalf("no merged folder among %v\n%s", merged, out)
	}
	rep := showJSON(t, dir)
	if rep.Merge == nil || len(rep.Merge.Merged) != 2 || len(rep.Merge.Missing) != 1 || rep.Merge.Missing[0].Index != 2 {
		t.Fatalf("merge: %+v", rep.Merge)
	}
	show := cl.Plugin(t, "", time.Minute, "results", "show", dir)
	if !strings.Contains(show.Stdout+show.Stderr, "missing") {
		t.Errorf("results show does not say a launcher is missing:\n%s\n%s", show.Stdout, show.Stderr)
	}
}

// jobStatus waits up to a minute for the namespace's one Job to satisfy done and returns it as it
// last was.
func jobStatus(t *testing.T, ns string, done func(*batchv1.Job) bool) batchv1.Job {
	t.Helper()
	var job batchv1.Job
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		jobs, err := cl.Client.BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil || len(jobs.Items) != 1 {
			t.Fatalf("jobs: %v %v", err, jobs)
		}
		if job = jobs.Items[0]; done(&job) {
			break
		}
	}
	return job
}

func showJSON(t *testing.T, dir string) results.Report {
	t.Helper()
	r := cl.Plugin(t, "", time.Minute, "results", "show", dir, "-o", "json")
	var rep results.Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("results show %s: %v\n%s", dir, err, r.Stderr)
	}
	return rep
}
