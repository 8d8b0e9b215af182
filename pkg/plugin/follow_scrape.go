package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
	"github.com/llmdbench/kubectl-llmdbench/pkg/scrape"
)

// stagingDir is the folder, in a run's local results folder, where the server metrics of an image
// harness's workloads are written while the run is followed; fetch moves each into its result
// folder.
const stagingDir = ".server-metrics"

// followScraper scrapes the model servers through the API server while an image-harness run is
// followed: one series per workload (launcher 0's; the others ran at the same time), from when
// the follower sees it running until it sees it finish, written to dir/stagingDir/<result folder>.
// The plugin does not see an image harness's stage boundaries, so the series has no stage events.
type followScraper struct {
	targets  []results.ServerTarget
	interval time.Duration
	fetch    scrape.Fetcher
	dir      string
	warn     func(string)

	mu      sync.Mutex
	started map[string]bool
	running map[string]*runningScrape
	wg      sync.WaitGroup
}

type runningScrape struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func newFollowScraper(dir string, targets []results.ServerTarget, interval time.Duration, fetch scrape.Fetcher, warn func(string)) *followScraper {
	return &followScraper{targets: targets, interval: interval, fetch: fetch, dir: dir, warn: warn,
		started: map[string]bool{}, running: map[string]*runningScrape{}}
}

// status starts a series for every workload of launcher 0 that runs and ends it when it finished.
func (s *followScraper) status(st cluster.Status) {
	for _, w := range st.Workloads {
		if w.Launcher != 0 || w.ResultsDir == "" {
			continue
		}
		folder := path.Base(w.ResultsDir)
		switch w.Phase {
		case cluster.PhaseRunning:
			s.start(folder)
		case cluster.PhaseSucceeded, cluster.PhaseFailed:
			s.end(folder)
		}
	}
}

func (s *followScraper) start(folder string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started[folder] {
		return
	}
	s.started[folder] = true
	scr, err := scrape.New(filepath.Join(s.dir, stagingDir, folder), s.targets, s.interval, s.fetch)
	if err != nil {
		s.warn(fmt.Sprintf("workload folder %s: no server metrics: %v", folder, err))
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningScrape{cancel: cancel, done: make(chan struct{})}
	s.running[folder] = r
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(r.done)
		_ = scr.Run(ctx) // its error is Close's
		if err := scr.Close(); err != nil {
			s.warn(fmt.Sprintf("workload folder %s: %v", folder, err))
		}
	}()
}

// end stops folder's series; it returns at once (stop waits for every series).
func (s *followScraper) end(folder string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.running[folder]; r != nil {
		r.cancel()
		delete(s.running, folder)
	}
}

// stop ends every series and waits until each file is closed.
func (s *followScraper) stop() {
	s.mu.Lock()
	for folder, r := range s.running {
		r.cancel()
		delete(s.running, folder)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// place moves each staged series into its fetched result folder (dir/<folder>) and removes the
// staging folder. A series whose folder was not fetched stays where it is, and is named in the
// returned notes.
func (s *followScraper) place() ([]string, error) {
	root := filepath.Join(s.dir, stagingDir)
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var notes []string
	kept := false
	for _, e := range entries {
		dest := filepath.Join(s.dir, e.Name())
		if fi, err := os.Stat(dest); err != nil || !fi.IsDir() {
			notes = append(notes, fmt.Sprintf("The server metrics of %s stay in %s: its result folder was not fetched.", e.Name(), filepath.Join(root, e.Name())))
			kept = true
			continue
		}
		names, err := os.ReadDir(filepath.Join(root, e.Name()))
		if err != nil {
			return notes, err
		}
		sort.Slice(names, func(i, j int) bool { return names[i].Name() < names[j].Name() })
		for _, n := range names {
			if err := os.Rename(filepath.Join(root, e.Name(), n.Name()), filepath.Join(dest, n.Name())); err != nil {
				return notes, fmt.Errorf("placing the server metrics of %s: %w", e.Name(), err)
			}
		}
		if err := os.Remove(filepath.Join(root, e.Name())); err != nil {
			return notes, err
		}
	}
	if !kept {
		if err := os.Remove(root); err != nil {
			return notes, err
		}
	}
	return notes, nil
}
