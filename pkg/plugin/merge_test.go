package plugin

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// After a run with several launchers, each workload's launcher folders are merged beside them
// under the name one launcher would have written; a launcher whose folder never came is named
// missing; a harness without per-request data leaves the folders unmerged with a note, not an
// error; one launcher merges nothing.
func TestMergeLaunchersAfterFetch(t *testing.T) {
	const id = "1764000000-abcd"
	dest := t.TempDir()
	run := cluster.Run{ID: id, Harness: "llmdbench", Stack: "s", Parallelism: 3}
	st := cluster.Status{}
	for i, src := range []string{"l0", "l1"} {
		name := "llmdbench_" + id + "_w_s_" + string(rune('0'+i))
		copyDir(t, filepath.Join("..", "results", "testdata", "merge", "native", src), filepath.Join(dest, name))
		st.Workloads = append(st.Workloads, cluster.WorkloadState{Name: "w", Launcher: i, ResultsDir: "/requests/" + name})
	}
	// Launcher 2 reported a folder it never wrote.
	st.Workloads = append(st.Workloads, cluster.WorkloadState{Name: "w", Launcher: 2, ResultsDir: "/requests/llmdbench_" + id + "_w_s_2"})
	merged, notes, err := mergeLaunchers(context.Background(), dest, run, st)
	if err != nil || len(notes) != 0 || len(merged) != 1 || merged[0] != "llmdbench_"+id+"_w_s" {
		t.Fatalf("merged %v notes %v err %v", merged, notes, err)
	}
	sum, err := results.ReadMerge(filepath.Join(dest, merged[0]))
	if err != nil || sum.Expected != 3 || len(sum.Merged) != 2 || len(sum.Missing) != 1 || sum.Missing[0].Index != 2 {
		t.Errorf("merge record %+v %v", sum, err)
	}

	// No per-request data: a note, the folders stay as they are.
	bare := t.TempDir()
	st2 := cluster.Status{}
	for i := range 2 {
		name := "inference-perf_" + id + "_w_s_" + string(rune('0'+i))
		copyDir(t, filepath.Join("..", "results", "testdata", "inference-perf", "vllm"), filepath.Join(bare, name))
		_ = os.Remove(filepath.Join(bare, name, "per_request_lifecycle_metrics.json"))
		st2.Workloads = append(st2.Workloads, cluster.WorkloadState{Name: "w", Launcher: i, ResultsDir: "/requests/" + name})
	}
	run.Harness, run.Parallelism = "inference-perf", 2
	merged, notes, err = mergeLaunchers(context.Background(), bare, run, st2)
	if err != nil || len(merged) != 0 || len(notes) != 1 || !strings.Contains(notes[0], "not merged, each stands alone") || strings.Contains(notes[0], "\n") {
		t.Errorf("no per-request data: merged %v notes %q err %v", merged, notes, err)
	}
	run.Parallelism = 1
	if merged, notes, err := mergeLaunchers(context.Background(), dest, run, st); merged != nil || notes != nil || err != nil {
		t.Errorf("one launcher: %v %v %v", merged, notes, err)
	}
}
