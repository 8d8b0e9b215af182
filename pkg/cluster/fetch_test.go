package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

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

func TestResultsPodIsARunningLauncher(t *testing.T) {
	const run = "1764000000-abcd"
	ended := runningPod(run, 0)
	ended.Status.Phase = corev1.PodSucceeded
	leaving := runningPod(run, 1)
	leaving.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	leaving.Finalizers = []string{"x"}
	live := runningPod(run, 2)
	cs := fake.NewClientset(ended, leaving, live)
	st := Status{Workloads: []WorkloadState{
		{Name: "w", Pod: launcher.PodName(run, 0)}, {Name: "w", Pod: launcher.PodName(run, 3)}, // 3 is gone
		{Name: "w", Pod: launcher.PodName(run, 1)}, {Name: "w", Pod: launcher.PodName(run, 2)},
	}}
	ref, ok := ResultsPod(context.Background(), cs, "ns", st)
	if !ok || ref != (PodRef{Namespace: "ns", Name: launcher.PodName(run, 2), Container: launcher.ContainerName}) {
		t.Errorf("got %+v %v", ref, ok)
	}
	if _, ok := ResultsPod(context.Background(), cs, "ns", Status{Workloads: st.Workloads[:3]}); ok {
		t.Error("no launcher runs: want none")
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
