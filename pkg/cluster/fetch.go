package cluster

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// ResultFolders names the result folders a run's workloads reported (their base names), in
// workload order, each once.
func ResultFolders(st Status) []string {
	var names []string
	seen := map[string]bool{}
	for _, w := range st.Workloads {
		if w.ResultsDir == "" {
			continue
		}
		if n := path.Base(w.ResultsDir); !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	return names
}

// WrittenFolders lists the results volume through pod and returns the folders of wanted that are
// there, in the listing's order: a workload may report a folder it never wrote.
func WrittenFolders(ctx context.Context, ex Executor, pod PodRef, wanted []string) ([]string, error) {
	var out, stderr bytes.Buffer
	if err := ex.Exec(ctx, pod, runstate.ResultsListCommand(), &out, &stderr); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return nil, fmt.Errorf("listing the results through pod %s: %w", pod.Name, err)
	}
	folders, err := runstate.ParseResultsList(out.Bytes())
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, w := range wanted {
		want[w] = true
	}
	var dirs []string
	for _, f := range folders {
		if want[f.Name] {
			dirs = append(dirs, f.Name)
		}
	}
	return dirs, nil
}
