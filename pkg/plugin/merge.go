package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// mergeLaunchers writes into dest, for each workload of a run with several launchers, the merged
// folder <harness>_<run>_<workload>_<stack> beside the launchers' <...>_<i> folders fetched there
// (results.Merge: exact percentiles over the union of their requests). A launcher whose folder is
// not there is named missing in the merged report. It returns the merged folders' names, and
// notes for the workloads it could not merge because their harness wrote no per-request data
// (the launchers' own folders stay, each a result of its own).
func mergeLaunchers(ctx context.Context, dest string, run cluster.Run, st cluster.Status) (merged, notes []string, err error) {
	if run.Parallelism < 2 {
		return nil, nil, nil
	}
	byEntry := map[string][]string{}
	var entries []string
	for _, w := range st.Workloads {
		if w.ResultsDir == "" {
			continue
		}
		dir := filepath.Join(dest, path.Base(w.ResultsDir))
		if _, err := os.Stat(dir); err != nil {
			continue // never written: the merge names the launcher missing
		}
		if _, seen := byEntry[w.Name]; !seen {
			entries = append(entries, w.Name)
		}
		byEntry[w.Name] = append(byEntry[w.Name], dir)
	}
	sort.Strings(entries)
	for _, entry := range entries {
		name := path.Base(runstate.ResultsDir(run.Harness, run.ID, entry, run.Stack, 0, 1))
		_, err := results.Merge(ctx, byEntry[entry], run.Parallelism, filepath.Join(dest, name))
		switch {
		case errors.Is(err, results.ErrNoPerRequest):
			notes = append(notes, fmt.Sprintf("Workload %s: the %d launchers' results are not merged, each stands alone: %v", entry, len(byEntry[entry]), err))
		case err != nil:
			return merged, notes, fmt.Errorf("merging the launchers of workload %s: %w", entry, err)
		default:
			merged = append(merged, name)
		}
	}
	return merged, notes, nil
}
