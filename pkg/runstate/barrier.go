package runstate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults of a Barrier whose fields are zero.
const (
	// DefaultBarrierLead is the time between the last arrival and the agreed start: it covers the
	// other launchers' polling and a slow shared volume, so that they all see BarrierGo before the
	// instant it names.
	DefaultBarrierLead = 500 * time.Millisecond
	// DefaultBarrierPoll is how often a waiting launcher looks at the barrier folder.
	DefaultBarrierPoll = 5 * time.Millisecond
	// barrierSpin is how far before the agreed instant Wait stops sleeping and polls the clock.
	barrierSpin = 2 * time.Millisecond
)

// barrierGoGrace is how long a BarrierGo that is still being written (no final newline yet) is
// read again before it is called corrupt (a variable for the tests).
var barrierGoGrace = 2 * time.Second

// ErrBarrierFile: a file of a barrier folder does not hold what the protocol says it holds.
var ErrBarrierFile = errors.New("barrier file is corrupt")

// BarrierStage is the name of a stage's barrier folder inside an entry's barrier folder: the last
// element of BarrierDir (stage_N, or "workload" for StageWorkload).
func BarrierStage(stage int) string {
	if stage == StageWorkload {
		return "workload"
	}
	return "stage_" + strconv.Itoa(stage)
}

// Barrier is one launcher's side of one start barrier (the protocol is in launch.go's comment).
type Barrier struct {
	// Dir is the barrier folder, shared by every launcher (created if missing).
	Dir string
	// Index is this launcher's index.
	Index int
	// Expected are the launchers waited for (this one included or not: it always arrives).
	Expected []int
	// Timeout bounds the wait from this launcher's arrival; 0 waits until ctx ends.
	Timeout time.Duration
	// Lead is added to the latest arrival (or to the resolving time after a timeout) to make the
	// agreed start; 0 means DefaultBarrierLead.
	Lead time.Duration
	// Poll is the folder polling period; 0 means DefaultBarrierPoll.
	Poll time.Duration
	// Now is the wall clock (time.Now when nil).
	Now func() time.Time
	// NoSleep makes Wait return as soon as the barrier resolves, before the agreed start: the
	// caller times the start itself (a load generator whose dispatcher sleeps precisely).
	NoSleep bool
}

// BarrierResult is what a barrier agreed.
type BarrierResult struct {
	// Start is the agreed start instant (wall clock, nanosecond precision).
	Start time.Time
	// Arrived is when this launcher arrived.
	Arrived time.Time
	// Present are the launchers BarrierGo names, and this one (which starts, if late), ascending;
	// Missing are the expected ones not present.
	Present []int
	Missing []int
	// TimedOut: the barrier resolved without every expected launcher (BarrierGo does not name
	// them all).
	TimedOut bool
	// Late: BarrierGo was already there when this launcher arrived (Wait returns at once if the
	// instant it names has passed).
	Late bool
	// Resolved: this launcher wrote BarrierGo.
	Resolved bool
}

// Wait arrives at the barrier, waits until it resolves, and then until the agreed start (it
// returns within a few hundred microseconds after it on an idle machine; at once when that instant
// has passed or the launcher is late; without the wait for the instant with NoSleep). A barrier file that breaks the protocol is a one-line error wrapping
// ErrBarrierFile; a cancelled ctx returns its error.
func (b *Barrier) Wait(ctx context.Context) (BarrierResult, error) {
	now := b.Now
	if now == nil {
		now = time.Now
	}
	lead, poll := b.Lead, b.Poll
	if lead <= 0 {
		lead = DefaultBarrierLead
	}
	if poll <= 0 {
		poll = DefaultBarrierPoll
	}
	if b.Index < 0 {
		return BarrierResult{}, fmt.Errorf("barrier %s: launcher index %d is negative", b.Dir, b.Index)
	}
	if err := os.MkdirAll(b.Dir, 0o755); err != nil {
		return BarrierResult{}, fmt.Errorf("barrier: %w", err)
	}
	goPath := filepath.Join(b.Dir, BarrierGo)
	_, err := os.Stat(goPath)
	late := err == nil
	arrived := now()
	if err := writeAtomic(b.Dir, BarrierArrival(b.Index), formatNanos(arrived)+"\n"); err != nil {
		return BarrierResult{}, fmt.Errorf("barrier: arriving: %w", err)
	}
	res := BarrierResult{Arrived: arrived, Late: late}
	var partialSince time.Time
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		data, err := os.ReadFile(goPath)
		switch {
		case err == nil:
			start, present, err := ParseBarrierGo(data)
			if errors.Is(err, errGoIncomplete) {
				// Its writer has created it and not yet written it: read it again shortly.
				if partialSince.IsZero() {
					partialSince = now()
				}
				if now().Sub(partialSince) < barrierGoGrace {
					break
				}
			}
			if err != nil {
				return res, fmt.Errorf("barrier %s: %w", goPath, err)
			}
			res.Start = start
			res.TimedOut = len(missing(b.Expected, present)) > 0
			if _, found := slices.BinarySearch(present, b.Index); !found {
				// Arrived after the resolver listed the folder: it takes part all the same.
				present = append(slices.Clone(present), b.Index)
				slices.Sort(present)
			}
			res.Present = present
			res.Missing = missing(b.Expected, present)
			return res, b.sleepUntil(ctx, now, res.Start)
		case !errors.Is(err, os.ErrNotExist):
			return res, fmt.Errorf("barrier: %w", err)
		default:
			done, err := b.tryResolve(now, arrived, lead, &res)
			if err != nil {
				return res, err
			}
			if done {
				res.Missing = missing(b.Expected, res.Present)
				res.TimedOut = len(res.Missing) > 0
				return res, b.sleepUntil(ctx, now, res.Start)
			}
		}
		if err := sleepCtx(ctx, poll); err != nil {
			return res, err
		}
	}
}

// tryResolve looks at the arrivals; when every expected launcher is there, or the timeout has
// passed, it creates BarrierGo. done reports that this launcher wrote it (res holds its content);
// another launcher having written it first is not done: the next poll reads theirs.
func (b *Barrier) tryResolve(now func() time.Time, arrived time.Time, lead time.Duration, res *BarrierResult) (bool, error) {
	entries, err := os.ReadDir(b.Dir)
	if err != nil {
		return false, fmt.Errorf("barrier: %w", err)
	}
	var present []int
	var latest time.Time
	for _, e := range entries {
		idx, err := strconv.Atoi(e.Name())
		if err != nil || idx < 0 || strconv.Itoa(idx) != e.Name() {
			continue // BarrierGo, temporary files
		}
		data, err := os.ReadFile(filepath.Join(b.Dir, e.Name()))
		if err != nil {
			return false, fmt.Errorf("barrier: %w", err)
		}
		at, err := ParseBarrierArrival(data)
		if err != nil {
			return false, fmt.Errorf("barrier %s: %w", filepath.Join(b.Dir, e.Name()), err)
		}
		present = append(present, idx)
		if at.After(latest) {
			latest = at
		}
	}
	slices.Sort(present)
	var start time.Time
	switch {
	case len(missing(b.Expected, present)) == 0:
		start = latest.Add(lead)
	case b.Timeout > 0 && now().Sub(arrived) >= b.Timeout:
		start = now().Add(lead)
	default:
		return false, nil
	}
	f, err := os.OpenFile(filepath.Join(b.Dir, BarrierGo), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("barrier: %w", err)
	}
	// One write, so a reader sees all of it or (briefly) an empty file.
	_, werr := f.WriteString(FormatBarrierGo(start, present))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return false, fmt.Errorf("barrier: %w", werr)
	}
	res.Start, res.Present, res.Resolved = start, present, true
	return true, nil
}

// sleepUntil sleeps until barrierSpin before t (the runtime's timers can wake a millisecond
// late), then polls the clock until t. With NoSleep it returns at once.
func (b *Barrier) sleepUntil(ctx context.Context, now func() time.Time, t time.Time) error {
	if b.NoSleep {
		return ctx.Err()
	}
	if d := t.Sub(now()) - barrierSpin; d > 0 {
		if err := sleepCtx(ctx, d); err != nil {
			return err
		}
	}
	for now().Before(t) && ctx.Err() == nil {
		runtime.Gosched()
	}
	return ctx.Err()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// missing returns the indexes of expected not in present (sorted), ascending.
func missing(expected, present []int) []int {
	var out []int
	for _, e := range expected {
		if _, found := slices.BinarySearch(present, e); !found && !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return out
}

func formatNanos(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }

// writeAtomic writes name in dir through a temporary file and a rename. The temporary name starts
// with a dot, so it is never read as an arrival.
func writeAtomic(dir, name, content string) error {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp*")
	if err != nil {
		return err
	}
	_, werr := tmp.WriteString(content)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), filepath.Join(dir, name))
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
	}
	return werr
}

// FormatBarrierGo is BarrierGo's content: "<start, Unix nanoseconds>\n<present indexes,
// space-separated, ascending>\n".
func FormatBarrierGo(start time.Time, present []int) string {
	ids := make([]string, len(present))
	for i, p := range present {
		ids[i] = strconv.Itoa(p)
	}
	return formatNanos(start) + "\n" + strings.Join(ids, " ") + "\n"
}

var errGoIncomplete = fmt.Errorf("%w: it does not end in a newline after two lines (still being written?)", ErrBarrierFile)

// ParseBarrierGo reads BarrierGo's content as the shell and Go writers write it:
// "<Unix nanoseconds>\n<index index …>\n" (the list may be empty). Anything else is an error
// wrapping ErrBarrierFile; content without its final newline is reported as incomplete.
func ParseBarrierGo(data []byte) (time.Time, []int, error) {
	lines := bytes.Split(data, []byte("\n"))
	// "a\nb\n" splits into three parts, the last empty.
	if len(lines) < 3 {
		return time.Time{}, nil, errGoIncomplete
	}
	if len(lines) > 3 || len(lines[2]) != 0 {
		return time.Time{}, nil, fmt.Errorf("%w: want 2 lines (start nanoseconds, present indexes), got %q", ErrBarrierFile, shorten(data))
	}
	start, err := parseNanos(lines[0])
	if err != nil {
		return time.Time{}, nil, err
	}
	var present []int
	for _, f := range strings.Fields(string(lines[1])) {
		idx, err := strconv.Atoi(f)
		if err != nil || idx < 0 {
			return time.Time{}, nil, fmt.Errorf("%w: %q is not a launcher index", ErrBarrierFile, f)
		}
		present = append(present, idx)
	}
	slices.Sort(present)
	return start, slices.Compact(present), nil
}

// ParseBarrierArrival reads an arrival file: "<Unix nanoseconds>\n". Anything else is an error
// wrapping ErrBarrierFile.
func ParseBarrierArrival(data []byte) (time.Time, error) {
	line, ok := bytes.CutSuffix(data, []byte("\n"))
	if !ok || bytes.Contains(line, []byte("\n")) {
		return time.Time{}, fmt.Errorf("%w: want one line of Unix nanoseconds, got %q", ErrBarrierFile, shorten(data))
	}
	return parseNanos(line)
}

func parseNanos(b []byte) (time.Time, error) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, fmt.Errorf("%w: %q is not a time in Unix nanoseconds", ErrBarrierFile, shorten(b))
	}
	return time.Unix(0, n), nil
}

func shorten(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

// BarrierSeries is one launcher's barriers of one entry: one folder per stage under Root, the
// expected launchers being all Count of them at the first barrier and, after that, the ones
// present at the previous one (a launcher that missed a barrier is not waited for again).
type BarrierSeries struct {
	// Root is the entry's barrier folder (BarrierDir without its last element).
	Root         string
	Index, Count int
	// Timeout, Lead, Poll, Now and NoSleep are each Barrier's.
	Timeout, Lead, Poll time.Duration
	Now                 func() time.Time
	NoSleep             bool
	expected            []int
}

// Wait waits on stage's barrier, Root/BarrierStage(stage) (see Barrier.Wait).
func (s *BarrierSeries) Wait(ctx context.Context, stage int) (BarrierResult, error) {
	if s.Count < 1 || s.Index < 0 || s.Index >= s.Count {
		return BarrierResult{}, fmt.Errorf("barrier: launcher %d of %d is not a launcher index", s.Index, s.Count)
	}
	if s.expected == nil {
		for i := range s.Count {
			s.expected = append(s.expected, i)
		}
	}
	b := Barrier{Dir: filepath.Join(s.Root, BarrierStage(stage)), Index: s.Index, Expected: s.expected,
		Timeout: s.Timeout, Lead: s.Lead, Poll: s.Poll, Now: s.Now, NoSleep: s.NoSleep}
	res, err := b.Wait(ctx)
	if err == nil {
		s.expected = res.Present
	}
	return res, err
}
