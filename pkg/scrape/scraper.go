package scrape

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

// Parallel bounds the fetches a Scraper has in flight at once.
const Parallel = 8

// ErrExists: the result folder already holds a server-metrics file.
var ErrExists = errors.New("already exists")

// Scraper writes one result folder's server-metrics series (results.ServerMetricsFile and the
// snapshots under results.ServerSnapshotDir). Run scrapes every target each interval; Stage marks
// a stage boundary; Close ends the file. Every line is written with one write call as soon as its
// round (or snapshot) is complete, so a process killed mid-run loses at most the round in flight.
// A failed scrape is a sample line with its error, never the end of the series.
//
// Scrapes never overlap: rounds and stage snapshots take turns, so one pod's sample lines are in
// time order. A round's fetches run in parallel (at most Parallel at once), each bounded by a
// timeout of 4/5 of the interval.
type Scraper struct {
	dir      string
	targets  []results.ServerTarget
	interval time.Duration
	timeout  time.Duration
	fetch    Fetcher
	clock    clock

	scrapeMu sync.Mutex // one round or snapshot batch at a time

	mu     sync.Mutex // guards everything below
	f      *os.File
	err    error // the first write error
	queue  []snapshot
	closed bool
	wake   chan struct{} // a snapshot was queued (capacity 1)
}

// snapshot is a stage boundary whose pods are still to be scraped.
type snapshot struct {
	ctx   context.Context
	stage int
	event string
}

// clock is the time source; tests fake it.
type clock interface {
	Now() time.Time
	// NewTicker ticks every d, as time.Ticker does (dropping ticks a slow reader misses).
	NewTicker(d time.Duration) (ticks <-chan time.Time, stop func())
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// CheckTargets refuses a target list a Scraper cannot write: empty, a target without a pod name or
// URL, a pod name that is not a file name (it names the snapshots) or appears twice (samples are
// keyed by pod), a role other than results.RoleModelServer or results.RoleEPP.
func CheckTargets(targets []results.ServerTarget) error {
	if len(targets) == 0 {
		return errors.New("no target to scrape: give at least one pod")
	}
	seen := map[string]bool{}
	for i, t := range targets {
		switch {
		case t.Pod == "" || t.Pod == "." || t.Pod == ".." || strings.ContainsAny(t.Pod, `/\`):
			return fmt.Errorf("target %d: pod name %q is not a pod name", i, t.Pod)
		case seen[t.Pod]:
			return fmt.Errorf("target %d: pod %q is listed twice (samples are keyed by pod name)", i, t.Pod)
		case t.URL == "":
			return fmt.Errorf("target %d (pod %s): the metrics URL is empty", i, t.Pod)
		case t.Role != results.RoleModelServer && t.Role != results.RoleEPP:
			return fmt.Errorf("target %d (pod %s): role %q is not %s or %s", i, t.Pod, t.Role, results.RoleModelServer, results.RoleEPP)
		}
		seen[t.Pod] = true
	}
	return nil
}

// New creates dir (if needed), its results.ServerSnapshotDir, and dir/results.ServerMetricsFile
// with the header line (format results.ServerMetricsFormat, the interval in seconds, the targets).
// A run's folder is new, so the file must not exist: an existing one is refused (ErrExists), not
// appended to (two runs' series would interleave) nor truncated (it is a measured record).
// interval must be positive; targets must pass CheckTargets; f fetches each target's text.
// Nothing is scraped until Run or Stage.
func New(dir string, targets []results.ServerTarget, interval time.Duration, f Fetcher) (*Scraper, error) {
	switch {
	case dir == "":
		return nil, errors.New("server metrics: no result folder given")
	case interval <= 0:
		return nil, fmt.Errorf("server metrics: the scrape interval must be positive (got %s)", interval)
	case f == nil:
		return nil, errors.New("server metrics: no fetcher given")
	}
	if err := CheckTargets(targets); err != nil {
		return nil, fmt.Errorf("server metrics: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, results.ServerSnapshotDir), 0o755); err != nil {
		return nil, fmt.Errorf("server metrics: %w", err)
	}
	path := filepath.Join(dir, results.ServerMetricsFile)
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("server metrics: %s %w: write each run into a new folder", path, ErrExists)
	}
	if err != nil {
		return nil, fmt.Errorf("server metrics: %w", err)
	}
	s := &Scraper{
		dir: dir, targets: append([]results.ServerTarget(nil), targets...), interval: interval,
		timeout: interval - interval/5, fetch: f, clock: realClock{}, f: file, wake: make(chan struct{}, 1),
	}
	s.write(results.ServerMetricsLine{
		Kind: results.ServerLineHeader, Format: results.ServerMetricsFormat,
		IntervalSeconds: interval.Seconds(), Targets: s.targets,
	})
	if s.err != nil {
		_ = file.Close()
		return nil, s.err
	}
	return s, nil
}

// Run scrapes every target at once and then every interval, and takes the snapshots Stage queues,
// until ctx ends; a round in flight then completes (within the fetch timeout) so its lines are
// whole. It returns the first write error (nil when every line was written). Call it once; call
// Close after it returns.
func (s *Scraper) Run(ctx context.Context) error {
	if ctx.Err() != nil {
		return s.firstErr()
	}
	ticks, stop := s.clock.NewTicker(s.interval)
	defer stop()
	// A round in flight finishes after ctx ends: its fetches are bounded by the timeout.
	scrapeCtx := context.WithoutCancel(ctx)
	s.round(scrapeCtx)
	for {
		select {
		case <-s.wake:
			s.snapshots()
			continue
		default:
		}
		select {
		case <-ctx.Done():
			return s.firstErr()
		case <-s.wake:
			s.snapshots()
		case <-ticks:
			s.round(scrapeCtx)
		}
	}
}

// Stage marks a stage boundary: it appends the stage line (stage index as in the result's stage
// files, event results.StageEventStart or results.StageEventEnd, the current time) at once and
// queues a scrape of every target, which Run takes next (before its next round), or Close if Run
// is not running: each target's raw text is saved as
// results.ServerSnapshotDir/stage_<stage>_<event>_<pod>.prom and a sample line is appended. Stage
// does not wait for the scrape, so a caller's timing is not disturbed. The scrape is bounded by
// ctx and the fetch timeout (a cancelled ctx makes error lines). A negative stage or an unknown
// event is not written; Close returns the error. After Close, Stage does nothing.
func (s *Scraper) Stage(ctx context.Context, stage int, event string) {
	if stage < 0 || (event != results.StageEventStart && event != results.StageEventEnd) {
		s.fail(fmt.Errorf("server metrics: stage %d event %q is not a stage index and start or end", stage, event))
		return
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return
	}
	n := stage
	s.write(results.ServerMetricsLine{Kind: results.ServerLineStage, Stage: &n, Event: event, Time: unix(s.clock.Now())})
	s.mu.Lock()
	s.queue = append(s.queue, snapshot{ctx: ctx, stage: stage, event: event})
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close takes the snapshots still queued, closes the file and returns the first write error.
// Call it after Run has returned; a second Close does nothing.
func (s *Scraper) Close() error {
	s.snapshots()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.f.Close(); err != nil && s.err == nil {
		s.err = fmt.Errorf("server metrics: %w", err)
	}
	return s.err
}

// round scrapes every target once and appends their sample lines.
func (s *Scraper) round(ctx context.Context) {
	s.scrapeMu.Lock()
	defer s.scrapeMu.Unlock()
	s.write(s.scrapeAll(ctx, nil)...)
}

// snapshots takes the queued stage snapshots, oldest first.
func (s *Scraper) snapshots() {
	s.scrapeMu.Lock()
	defer s.scrapeMu.Unlock()
	for {
		s.mu.Lock()
		if len(s.queue) == 0 || s.closed {
			s.mu.Unlock()
			return
		}
		snap := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		lines := s.scrapeAll(snap.ctx, func(t results.ServerTarget, body []byte) {
			name := fmt.Sprintf("stage_%d_%s_%s.prom", snap.stage, snap.event, t.Pod)
			if err := os.WriteFile(filepath.Join(s.dir, results.ServerSnapshotDir, name), body, 0o644); err != nil {
				s.fail(fmt.Errorf("server metrics: snapshot: %w", err))
			}
		})
		s.write(lines...)
	}
}

// scrapeAll fetches and parses every target, at most Parallel at once, and returns one sample
// line per target in target order; keep, when set, gets each body fetched.
func (s *Scraper) scrapeAll(ctx context.Context, keep func(results.ServerTarget, []byte)) []results.ServerMetricsLine {
	lines := make([]results.ServerMetricsLine, len(s.targets))
	slots := make(chan struct{}, Parallel)
	var wg sync.WaitGroup
	for i, t := range s.targets {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			lines[i] = s.scrapeOne(ctx, t, keep)
		})
	}
	wg.Wait()
	return lines
}

// scrapeOne is one sample line, timed at the fetch's start (as Prometheus times a scrape).
func (s *Scraper) scrapeOne(ctx context.Context, t results.ServerTarget, keep func(results.ServerTarget, []byte)) results.ServerMetricsLine {
	line := results.ServerMetricsLine{Kind: results.ServerLineSample, Pod: t.Pod, Time: unix(s.clock.Now())}
	fctx, cancel := context.WithTimeout(ctx, s.timeout)
	body, err := s.fetch.Fetch(fctx, t)
	cancel()
	if err != nil {
		line.Error = oneLine(err.Error())
		return line
	}
	if keep != nil {
		keep(t, body)
	}
	values, err := Parse(bytes.NewReader(body))
	if err != nil {
		line.Error = oneLine(err.Error())
		return line
	}
	line.Values = values
	return line
}

// write appends lines with one write call.
func (s *Scraper) write(lines ...results.ServerMetricsLine) {
	var buf bytes.Buffer
	for _, l := range lines {
		data, err := json.Marshal(l)
		if err != nil { // not reached: values are finite (Parse leaves the others out)
			s.fail(fmt.Errorf("server metrics: %w", err))
			continue
		}
		buf.Write(data)
		buf.WriteByte('\n')
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if _, err := s.f.Write(buf.Bytes()); err != nil && s.err == nil {
		s.err = fmt.Errorf("server metrics: %w", err)
	}
}

func (s *Scraper) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

func (s *Scraper) firstErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// unix is t in Unix seconds (float, microsecond resolution at today's dates).
func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
