package results

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// ErrNoPerRequestFile: a result folder holds no per-request file (the harness wrote none, or a
// fetch left it out).
var ErrNoPerRequestFile = errors.New("no " + runstate.PerRequestFile)

// Select keeps the reports whose run carries every label of selector, in order; every report
// when selector is empty. A report without metadata (a folder not written by kubectl llmdbench)
// carries no labels.
func Select(reports []*Report, selector map[string]string) []*Report {
	if len(selector) == 0 {
		return reports
	}
	var kept []*Report
	for _, r := range reports {
		if r.Metadata != nil && r.Metadata.Matches(selector) {
			kept = append(kept, r)
		}
	}
	return kept
}

// AddPerRequest recomputes r's numbers from its folder's per-request file into r.PerRequest,
// with goodput against slos. It returns ErrNoPerRequestFile when the folder has none and
// ErrNoRequests when the file is an empty array; r is unchanged then.
func AddPerRequest(r *Report, slos SLOs) error {
	path := filepath.Join(r.Source, runstate.PerRequestFile)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%s: %w", r.Source, ErrNoPerRequestFile)
	}
	pr, err := AnalyzePerRequestFile(path, slos)
	if err != nil {
		return err
	}
	r.PerRequest = pr
	return nil
}

// PreferMerged drops, from reports read together, each launcher folder that a merged folder among
// them merges (or names missing): a run with several launchers is shown by its merged result, in
// order. A launcher folder whose merge is not among reports stays.
func PreferMerged(reports []*Report) []*Report {
	covered := map[string]bool{}
	for _, r := range reports {
		if r.Merge == nil {
			continue
		}
		for _, l := range r.Merge.Merged {
			covered[filepath.Base(filepath.Clean(l.Dir))] = true
		}
		for _, l := range r.Merge.Missing {
			if l.Dir != "" {
				covered[filepath.Base(filepath.Clean(l.Dir))] = true
			}
		}
	}
	if len(covered) == 0 {
		return reports
	}
	kept := make([]*Report, 0, len(reports))
	for _, r := range reports {
		if r.Merge != nil || !covered[filepath.Base(filepath.Clean(r.Source))] {
			kept = append(kept, r)
		}
	}
	return kept
}
