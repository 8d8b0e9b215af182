package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// Field case: `status` showed a Failed run with 0 successes as WORKLOADS 2/2.
func TestStatusTableCountsSucceededAndFailedApart(t *testing.T) {
	now := time.Unix(1764000600, 0)
	statuses := []cluster.Status{
		{Run: "1764000000-abcd", Preset: "pd", Stack: "s", Harness: "inference-perf", Phase: cluster.PhaseFailed,
			Created: now.Add(-5 * time.Minute), Succeeded: 0, Failed: 2, Total: 2},
		{Run: "1764000001-abcd", Stack: "s", Harness: "guidellm", Phase: cluster.PhaseRunning,
			Created: now.Add(-time.Minute), Succeeded: 1, Failed: 0, Total: 3},
	}
	var out bytes.Buffer
	if err := printRuns(&out, statuses, now); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := [][]string{
		{"RUN", "PRESET/STACK", "HARNESS", "PHASE", "SUCCEEDED", "FAILED", "TOTAL", "AGE"},
		{"1764000000-abcd", "pd/s", "inference-perf", "Failed", "0", "2", "2", "5m"},
		{"1764000001-abcd", "s", "guidellm", "Running", "1", "0", "3", "60s"},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines:\n%s", len(lines), out.String())
	}
	for i, w := range want {
		if got := strings.Fields(lines[i]); strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("line %d: %q, want %q", i, got, w)
		}
	}
}

// Field case: folders of a run whose launcher was deleted were listed "running" forever.
func TestResultsListingShowsIncompleteFolders(t *testing.T) {
	out := "@@llmdbench-folder 8 1764000000 0 inference-perf_1764000000-abcd_slow_stack\n" +
		"@@llmdbench-folder 8 1764000000 0 inference-perf_1764000000-abcd_fails_stack\n" +
		"@@llmdbench-status .llmdbench/1764000000-abcd/0/slow.status\n" +
		"workload=slow\nindex=0\nresults_dir=/requests/inference-perf_1764000000-abcd_slow_stack\nstarted=1764000000\n" +
		"@@llmdbench-status .llmdbench/1764000000-abcd/0/fails.status\n" +
		"workload=fails\nindex=0\nresults_dir=/requests/inference-perf_1764000000-abcd_fails_stack\nstarted=1764000000\nfinished=1764000010\ntimed_out=false\nexit_code=3\n"
	folders, err := runstate.ParseResultsList([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	runstate.Decide(folders, func(string, int) bool { return false })
	var buf bytes.Buffer
	if err := printFolders(&buf, folders, time.Unix(1764000060, 0)); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, want := range []string{"slow  ", "incomplete", "failed (exit 3)"} {
		if !strings.Contains(text, want) {
			t.Errorf("listing lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "running") {
		t.Errorf("a folder whose launcher is gone is not running:\n%s", text)
	}
}

func report(source, verdict string) *results.Report {
	r := &results.Report{Source: source, Format: "inference-perf"}
	if verdict != "" {
		r.Metadata = &runstate.Metadata{Workload: "slow", Entry: "slow", Verdict: verdict}
	}
	return r
}

// A partial folder is named on stderr, marked PARTIAL in its header, and ends the command with
// ExitPartial; complete folders and folders without metadata are not.
func TestPartialFoldersAreMarked(t *testing.T) {
	var stderr bytes.Buffer
	all := []*results.Report{report("/c/ok", runstate.VerdictSucceeded), report("/c/foreign", ""), report("/c/cut", runstate.VerdictRunning)}
	// The volume knows better than the folder: its launcher is gone.
	settleVerdict(all[2], map[string]string{"cut": runstate.VerdictIncomplete})
	err := warnPartial(&stderr, all)
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Code != 3 {
		t.Fatalf("exit: %v", err)
	}
	if got := stderr.String(); got != "Warning: /c/cut: PARTIAL: workload slow was cut short (its launcher is gone); these numbers cover only what it wrote before that\n" {
		t.Errorf("stderr %q", got)
	}
	if m := all[2].Metadata; m.Complete == nil || *m.Complete || m.Verdict != runstate.VerdictIncomplete {
		t.Errorf("settled metadata %+v", m)
	}
	var out bytes.Buffer
	if err := printReport(&out, all[2]); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(out.String(), "\n"); len(lines) < 2 || !strings.HasPrefix(lines[1], "PARTIAL: workload slow was cut short") {
		t.Errorf("header:\n%s", out.String())
	}
	out.Reset()
	if err := printReport(&out, all[0]); err != nil || strings.Contains(out.String(), "PARTIAL") {
		t.Errorf("a complete folder is marked: %v\n%s", err, out.String())
	}
	stderr.Reset()
	if err := warnPartial(&stderr, all[:2]); err != nil || stderr.Len() != 0 {
		t.Errorf("complete folders: %v %q", err, stderr.String())
	}
	for verdict, why := range map[string]string{runstate.VerdictRunning: "is still running", runstate.VerdictFailed: "failed", runstate.VerdictTimedOut: "timed out"} {
		if note := partialNote(report("/x", verdict)); !strings.Contains(note, "workload slow "+why+";") {
			t.Errorf("%s: %q", verdict, note)
		}
	}
}

func TestWorkloadTableShowsTheHarnessStderr(t *testing.T) {
	code := 143
	st := cluster.Status{Workloads: []cluster.WorkloadState{{Name: "fails", Phase: cluster.PhaseFailed, Outcome: runstate.VerdictFailed,
		ExitCode: &code, HarnessFailed: true, Stderr: []string{"Traceback (most recent call last):", "ValueError: x"}}}}
	var out bytes.Buffer
	if err := printWorkloads(&out, st, time.Now()); err != nil {
		t.Fatal(err)
	}
	want := "Workload fails (launcher 0), failed (harness failed); its last stderr lines:\n    Traceback (most recent call last):\n    ValueError: x\n"
	if !strings.Contains(out.String(), "failed (harness failed)") || !strings.HasSuffix(out.String(), want) {
		t.Errorf("table:\n%s", out.String())
	}
}

// slowExec answers every launcher's status read after a pause, counting the reads in flight; the
// pods of the run named broken refuse the exec.
type slowExec struct {
	mu            sync.Mutex
	inFlight, max int
	broken        string
}

func (s *slowExec) Exec(_ context.Context, pod cluster.PodRef, _ []string, stdout, _ io.Writer) error {
	s.mu.Lock()
	s.inFlight++
	s.max = max(s.max, s.inFlight)
	s.mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	s.mu.Lock()
	s.inFlight--
	s.mu.Unlock()
	if strings.Contains(pod.Name, s.broken) {
		return errors.New("container not found")
	}
	_, err := io.WriteString(stdout, "@@llmdbench-started\n@@llmdbench-status w.status\nworkload=w\nstarted=1\nfinished=2\nexit_code=0\n"+
		"@@llmdbench-done\nfinished=2\nfailed=0\n@@llmdbench-log\n")
	return err
}

// `status` read every live launcher of every run one after another; it now reads them in
// parallel (bounded), still lists the runs newest first, and an unreadable run shows as Unknown
// with the reason without hiding the others.
func TestStatusReadsRunsInParallelInOrder(t *testing.T) {
	ids := []string{"1764000000-aaaa", "1764000001-bbbb", "1764000002-cccc"}
	var objs []runtime.Object
	for _, id := range ids {
		objs = append(objs, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: launcher.ConfigMapName(id), Namespace: "ns",
			Labels:      map[string]string{launcher.LabelManagedBy: launcher.ManagedBy, launcher.LabelRun: id},
			Annotations: map[string]string{launcher.AnnoWorkloads: "w", launcher.AnnoParallelism: "3"}}})
		for i := range 3 {
			objs = append(objs, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: launcher.PodName(id, i), Namespace: "ns",
				Labels: map[string]string{launcher.LabelManagedBy: launcher.ManagedBy, launcher.LabelRun: id, launcher.LabelIndex: strconv.Itoa(i)}},
				Status: corev1.PodStatus{Phase: corev1.PodRunning}})
		}
	}
	ex := &slowExec{broken: ids[1]}
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	o := NewStatusOptions(streams)
	o.Clients, o.namespace, o.Output = &Clients{Client: fake.NewClientset(objs...), Executor: ex}, "ns", "json"
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []cluster.Status
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := []struct{ run, phase string }{{ids[2], "Succeeded"}, {ids[1], "Unknown"}, {ids[0], "Succeeded"}}
	if len(got) != len(want) {
		t.Fatalf("%d runs: %s", len(got), out)
	}
	for i, w := range want {
		if got[i].Run != w.run || got[i].Phase != w.phase {
			t.Errorf("line %d: %s %s, want %s %s", i, got[i].Run, got[i].Phase, w.run, w.phase)
		}
	}
	if !strings.Contains(got[1].Message, "container not found") {
		t.Errorf("the unreadable run does not say why: %q", got[1].Message)
	}
	// 9 reads of 100 ms each: read one after another, never two at once.
	if ex.max < 2 || ex.max > cluster.InspectParallelism {
		t.Errorf("%d reads at once, want 2 to %d", ex.max, cluster.InspectParallelism)
	}
}

// `status RUN` refuses a malformed run ID in one line naming the shape, before any read.
func TestStatusValidatesTheRunID(t *testing.T) {
	o := NewStatusOptions(genericiooptions.NewTestIOStreamsDiscard())
	o.RunID = "1764000000-abcd; rm"
	want := `status: "1764000000-abcd; rm" is not a run ID: want <unix seconds>-<4 hex digits>, like 1795740000-ab12`
	if err := o.Validate(); err == nil || err.Error() != want {
		t.Errorf("error %v\nwant %s", err, want)
	}
	o.RunID = "1764000000-abcd"
	if err := o.Validate(); err != nil {
		t.Errorf("a run ID refused: %v", err)
	}
}
