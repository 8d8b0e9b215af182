package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
)

func TestResultFoldersOncePerFolderInOrder(t *testing.T) {
	st := Status{Workloads: []WorkloadState{
		{Name: "b", ResultsDir: "/requests/inference-perf_1_b_s"},
		{Name: "pending"},
		{Name: "a", ResultsDir: "/requests/inference-perf_1_a_s"},
		{Name: "b", Launcher: 1, ResultsDir: "/requests/inference-perf_1_b_s"},
	}}
	if got := strings.Join(ResultFolders(st), ","); got != "inference-perf_1_b_s,inference-perf_1_a_s" {
		t.Errorf("got %s", got)
	}
	if got := ResultFolders(Status{}); got != nil {
		t.Errorf("no workloads: %v", got)
	}
}

// A launcher's index comes from its Job (annotation, else label) or, for a run made before
// launchers were a Job, from the plugin's index label; a live pod speaks for its index before an
// ended one, the newest among equals.
func TestLauncherPodsByIndex(t *testing.T) {
	const run = "1764000000-abcd"
	job := func(name, index string, phase corev1.PodPhase, age time.Duration) corev1.Pod {
		p := runningPod(run, 0)
		p.Name = name
		delete(p.Labels, launcher.LabelIndex)
		p.Annotations = map[string]string{launcher.JobCompletionIndex: index}
		p.Status.Phase = phase
		p.CreationTimestamp = metav1.NewTime(time.Unix(1764000000, 0).Add(-age))
		return *p
	}
	byLabel := job("label-only", "", corev1.PodRunning, 0)
	byLabel.Annotations = nil
	byLabel.Labels[launcher.JobCompletionIndex] = "3"
	old := *runningPod(run, 4) // a bare launcher pod
	none := job("no-index", "x", corev1.PodRunning, 0)
	pods := []corev1.Pod{
		job("a-failed", "0", corev1.PodFailed, 0), job("a-live", "0", corev1.PodRunning, time.Hour),
		job("b-old", "1", corev1.PodSucceeded, time.Hour), job("b-new", "1", corev1.PodSucceeded, 0),
		byLabel, old, none,
	}
	got := launcherPods(pods)
	want := map[int]string{0: "a-live", 1: "b-new", 3: "label-only", 4: launcher.PodName(run, 4)}
	if len(got) != len(want) {
		t.Errorf("indexes %v, want %v", got, want)
	}
	for i, name := range want {
		if got[i] == nil || got[i].Name != name {
			t.Errorf("index %d: %v, want %s", i, got[i], name)
		}
	}
	if PodIndex(&none) != -1 {
		t.Error("a pod without an index must not count as launcher 0")
	}
}

func TestWrittenFoldersKeepsOnlyWantedFoldersThatExist(t *testing.T) {
	listing := "@@llmdbench-folder 12 1764000000 0 inference-perf_1764000000-abcd_a_s\n" +
		"@@llmdbench-folder 4 1764000000 0 other_folder\n" +
		"@@llmdbench-folder 8 1764000000 0 inference-perf_1764000000-abcd_b_s\n"
	ex := &scriptedExecutor{answers: []any{listing}}
	pod := PodRef{Namespace: "ns", Name: "p"}
	got, err := WrittenFolders(context.Background(), ex, pod, []string{"inference-perf_1764000000-abcd_b_s", "inference-perf_1764000000-abcd_a_s", "never-written"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "inference-perf_1764000000-abcd_a_s,inference-perf_1764000000-abcd_b_s" {
		t.Errorf("got %v", got)
	}
	broken := errors.New("exec refused")
	_, err = WrittenFolders(context.Background(), &scriptedExecutor{answers: []any{broken}}, pod, []string{"x"})
	if !errors.Is(err, broken) || !strings.Contains(err.Error(), "listing the results through pod p") {
		t.Errorf("got %v", err)
	}
}
