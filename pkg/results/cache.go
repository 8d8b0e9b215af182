package results

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// Cache keeps result folders fetched from the results volume on this machine, one folder per
// result folder name under Dir.
type Cache struct {
	Dir string
}

// DefaultCache is the user's cache of fetched result folders (kubectl-llmdbench/results under
// the OS cache folder).
func DefaultCache() (Cache, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return Cache{}, err
	}
	return Cache{Dir: filepath.Join(base, "kubectl-llmdbench", "results")}, nil
}

// Path is where the folder name is, or would be, cached.
func (c Cache) Path(name string) string { return filepath.Join(c.Dir, name) }

// Has tells whether name is cached and may be used as it is: with perRequest only when the copy
// holds the per-request file (a plain fetch leaves it out), and never a folder fetched while its
// workload still ran (a later fetch gets more of it).
func (c Cache) Has(name string, perRequest bool) bool {
	dir := c.Path(name)
	if perRequest {
		if _, err := os.Stat(filepath.Join(dir, runstate.PerRequestFile)); err != nil {
			return false
		}
	} else if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return false
	}
	return Cacheable(dir)
}

// Missing returns the names that Has does not hold, in order.
func (c Cache) Missing(names []string, perRequest bool) []string {
	var missing []string
	for _, n := range names {
		if !c.Has(n, perRequest) {
			missing = append(missing, n)
		}
	}
	return missing
}

// Fill fetches names into the cache: fetch copies them into a fresh folder inside Dir, and each
// is renamed into place only once fetch returned without error, so the cache never holds half a
// folder (a failed or interrupted fetch leaves the cache as it was). An older copy of a name is
// replaced.
func (c Cache) Fill(names []string, fetch func(dest string) error) error {
	if len(names) == 0 {
		return nil
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(c.Dir, ".fetch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := fetch(tmp); err != nil {
		return err
	}
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(tmp, n)); err != nil {
			return fmt.Errorf("the fetch brought no folder %s: %w", n, err)
		}
	}
	for _, n := range names {
		dir := c.Path(n)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(tmp, n), dir); err != nil {
			return err
		}
	}
	return nil
}

// Cacheable tells whether a fetched folder may be kept: not while its workload was still running
// when it was fetched. A folder without readable metadata (not written by kubectl llmdbench) is.
func Cacheable(dir string) bool {
	m, err := runstate.ReadMetadata(dir)
	return err != nil || m == nil || m.Verdict != runstate.VerdictRunning
}
