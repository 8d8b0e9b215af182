package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

func runConfigMap(id, pvc string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: launcher.ConfigMapName(id), Namespace: "ns",
		Labels:      map[string]string{launcher.LabelManagedBy: launcher.ManagedBy, launcher.LabelRun: id},
		Annotations: map[string]string{launcher.AnnoPVC: pvc}}}
}

func TestResultsClaimPrefersTheRunsOwnClaim(t *testing.T) {
	older, newer := "1764000000-aaaa", "1764000100-bbbb"
	cs := fake.NewClientset(runConfigMap(older, "old-claim"), runConfigMap(newer, "new-claim"))
	ctx := context.Background()
	for _, tc := range []struct{ target, claim, want string }{
		{older, "", "old-claim"},       // a run's own claim
		{older, "chosen", "old-claim"}, // beats --pvc, as before the move
		{"inference-perf_1764000000-aaaa_w_s", "chosen", "chosen"},
		{"some-folder", "", "new-claim"},     // the newest run's
		{"1764000200-cccc", "", "new-claim"}, // a run that is gone
		{"1764000200-cccc", "mine", "mine"},  // a run that is gone, with a claim chosen
	} {
		got, err := ResultsClaim(ctx, cs, "ns", tc.target, tc.claim)
		if err != nil || got != tc.want {
			t.Errorf("ResultsClaim(%s, %q) = %q, %v; want %q", tc.target, tc.claim, got, err, tc.want)
		}
	}
	if _, err := ResultsClaim(ctx, fake.NewClientset(), "ns", "x", ""); !errors.Is(err, ErrNoResultsPVC) || err.Error() != "no run names a results PVC in namespace ns" {
		t.Errorf("no runs: got %v", err)
	}
}

func TestListResultsDecidesVerdicts(t *testing.T) {
	const run = "1764000000-abcd"
	listing := "@@llmdbench-folder 12 1764000000 0 inference-perf_" + run + "_w_s\n" +
		"@@llmdbench-meta inference-perf_" + run + "_w_s\n" +
		`{"run": "` + run + `", "workload": "w", "launcher": 0, "verdict": "running", "exitCode": null}` + "\n"
	pod := PodRef{Namespace: "ns", Name: launcher.PodName(run, 0)}
	// The launcher is gone: the folder whose metadata says running is incomplete.
	folders, err := ListResults(context.Background(), fake.NewClientset(), &scriptedExecutor{answers: []any{listing}}, pod)
	if err != nil {
		t.Fatal(err)
	}
	if len(folders) != 1 || folders[0].Verdict != runstate.VerdictIncomplete {
		t.Fatalf("launcher gone: %+v", folders)
	}
	// Its launcher runs: still running.
	folders, err = ListResults(context.Background(), fake.NewClientset(runningPodManaged(run, 0)), &scriptedExecutor{answers: []any{listing}}, pod)
	if err != nil || len(folders) != 1 || folders[0].Verdict != runstate.VerdictRunning {
		t.Fatalf("launcher runs: %+v %v", folders, err)
	}
	broken := errors.New("exec refused")
	if _, err := ListResults(context.Background(), fake.NewClientset(), &scriptedExecutor{answers: []any{broken}}, pod); !errors.Is(err, broken) {
		t.Errorf("got %v", err)
	}
}

func runningPodManaged(run string, index int) *corev1.Pod {
	p := runningPod(run, index)
	p.Labels[launcher.LabelManagedBy] = launcher.ManagedBy
	return p
}

func TestMatchResults(t *testing.T) {
	folders := []runstate.ResultFolder{{Name: "a", Run: "r1"}, {Name: "b", Run: "r1"}, {Name: "c", Run: "r2"}}
	names := func(fs []runstate.ResultFolder) string {
		var n []string
		for _, f := range fs {
			n = append(n, f.Name)
		}
		return strings.Join(n, ",")
	}
	for target, want := range map[string]string{"r1": "a,b", "c": "c", "r3": ""} {
		if got := names(MatchResults(folders, target)); got != want {
			t.Errorf("%s: got %q, want %q", target, got, want)
		}
	}
}
