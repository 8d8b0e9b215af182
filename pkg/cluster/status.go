package cluster

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// Phases of runs and workloads.
const (
	PhasePending   = "Pending"
	PhaseRunning   = "Running"
	PhaseSucceeded = "Succeeded"
	PhaseFailed    = "Failed"
	// PhaseUnknown: the run's state could not be read.
	PhaseUnknown = "Unknown"
)

// Status is a run's state, as `status -o json` prints it.
type Status struct {
	Run       string    `json:"run"`
	Namespace string    `json:"namespace"`
	Preset    string    `json:"preset,omitempty"`
	Stack     string    `json:"stack,omitempty"`
	Harness   string    `json:"harness,omitempty"`
	Phase     string    `json:"phase"`
	Message   string    `json:"message,omitempty"`
	Created   time.Time `json:"created"`
	// Succeeded, Failed and Total count the workloads (of every launcher): a workload that
	// failed, timed out or was cut short by a lost launcher is failed; one still pending or
	// running is neither.
	Succeeded int             `json:"succeeded"`
	Failed    int             `json:"failed"`
	Total     int             `json:"total"`
	Workloads []WorkloadState `json:"workloads"`
}

// WorkloadState is one workload on one launcher.
type WorkloadState struct {
	Name       string     `json:"name"`
	Launcher   int        `json:"launcher"`
	Pod        string     `json:"pod"`
	Phase      string     `json:"phase"`
	ExitCode   *int       `json:"exitCode"`
	TimedOut   bool       `json:"timedOut,omitempty"`
	StartedAt  *time.Time `json:"startedAt"`
	FinishedAt *time.Time `json:"finishedAt"`
	ResultsDir string     `json:"resultsDir,omitempty"`
	// Outcome is the workload's verdict word (runstate.Verdict*), "" while pending.
	Outcome string `json:"verdict,omitempty"`
	// HarnessFailed: the image's entry script reported a failed harness and the workload was
	// stopped instead of retried; Stderr holds the harness's last stderr lines.
	HarnessFailed bool     `json:"harnessFailed,omitempty"`
	Stderr        []string `json:"stderr,omitempty"`
	Message       string   `json:"message,omitempty"`
}

// Verdict is the human word for a workload's outcome.
func (w WorkloadState) Verdict() string {
	switch {
	case w.Phase == PhaseSucceeded:
		return runstate.VerdictSucceeded
	case w.Outcome == runstate.VerdictFailed && w.HarnessFailed:
		return runstate.VerdictFailed + " (harness failed)"
	case w.Outcome == runstate.VerdictFailed && w.ExitCode != nil:
		return fmt.Sprintf("%s (exit %d)", runstate.VerdictFailed, *w.ExitCode)
	case w.Outcome != "":
		return w.Outcome
	case w.TimedOut: // recorded before the verdict was
		return runstate.VerdictTimedOut
	case w.Phase == PhaseFailed:
		return runstate.VerdictFailed
	}
	return w.Phase
}

// Duration of a started workload (so far, if still running).
func (w WorkloadState) Duration(now time.Time) time.Duration {
	if w.StartedAt == nil {
		return 0
	}
	if w.FinishedAt != nil {
		return w.FinishedAt.Sub(*w.StartedAt)
	}
	return now.Sub(*w.StartedAt)
}

// count sets Succeeded, Failed and Total from the workloads' phases.
func (s *Status) count() {
	s.Succeeded, s.Failed, s.Total = 0, 0, len(s.Workloads)
	for _, w := range s.Workloads {
		switch w.Phase {
		case PhaseSucceeded:
			s.Succeeded++
		case PhaseFailed:
			s.Failed++
		}
	}
}

// Finished tells whether the run has ended, one way or the other.
func (s Status) Finished() bool { return s.Phase == PhaseSucceeded || s.Phase == PhaseFailed }

// launcherView is what is known of one launcher.
type launcherView struct {
	pod      *corev1.Pod // nil when gone
	snapshot *runstate.Snapshot
	lost     string // why the launcher can no longer finish
}

// InspectParallelism bounds how many launchers Inspect and InspectRuns read at once.
const InspectParallelism = 8

// Inspect reads a run's state once: the launcher pods, then each live launcher's run folder, at
// most InspectParallelism at a time.
func Inspect(ctx context.Context, cs kubernetes.Interface, ex Executor, run Run) (Status, error) {
	st := InspectRuns(ctx, ex, []Run{run}, InspectParallelism)
	return st[0].Status, st[0].Err
}

// RunStatus is one run's status as InspectRuns read it, or why it could not be read.
type RunStatus struct {
	Status
	Err error
}

// InspectRuns reads the state of every run once, in the order given: every live launcher of every
// run is read in parallel, at most limit at a time (limit < 1: InspectParallelism). A run with an
// unreadable launcher gets that error and a status that says so (phase Unknown); the others are
// still read.
func InspectRuns(ctx context.Context, ex Executor, runs []Run, limit int) []RunStatus {
	if limit < 1 {
		limit = InspectParallelism
	}
	views := make([][]launcherView, len(runs))
	errs := make([][]error, len(runs))
	var g errgroup.Group
	g.SetLimit(limit)
	for r, run := range runs {
		if run.Final != nil && len(run.Pods) == 0 {
			continue // the launchers were removed after the run finished
		}
		views[r] = make([]launcherView, run.Parallelism)
		errs[r] = make([]error, run.Parallelism)
		byIndex := map[int]*corev1.Pod{}
		for i := range run.Pods {
			byIndex[PodIndex(&run.Pods[i])] = &run.Pods[i]
		}
		for i := range views[r] {
			v := &views[r][i]
			v.pod = byIndex[i]
			if !v.readable(run, i) {
				continue // nothing to exec into
			}
			g.Go(func() error {
				// Each read writes only its own slot; one failure does not stop the others.
				errs[r][i] = v.read(ctx, ex, run, i, runstate.SnapshotOptions{SkipLog: true})
				return nil
			})
		}
	}
	_ = g.Wait()
	out := make([]RunStatus, len(runs))
	now := time.Now()
	for r, run := range runs {
		if views[r] == nil {
			st := *run.Final
			st.count() // (recorded before the counts existed, maybe)
			out[r] = RunStatus{Status: st}
			continue
		}
		if err := firstError(errs[r]); err != nil {
			out[r] = RunStatus{Err: err, Status: Status{Run: run.ID, Namespace: run.Namespace, Preset: run.Preset, Stack: run.Stack,
				Harness: run.Harness, Created: run.Created, Phase: PhaseUnknown, Message: err.Error()}}
			continue
		}
		out[r] = RunStatus{Status: summarize(run, views[r], now)}
	}
	return out
}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// readable sets why the launcher is lost, if it is, and tells whether its pod can be exec'd into.
func (v *launcherView) readable(run Run, index int) bool {
	switch {
	case v.pod == nil:
		v.lost = fmt.Sprintf("launcher pod %s is gone", launcher.PodName(run.ID, index))
		return false
	case v.pod.DeletionTimestamp != nil:
		v.lost = fmt.Sprintf("launcher pod %s is being deleted", v.pod.Name)
		return false
	case v.pod.Status.Phase == corev1.PodSucceeded || v.pod.Status.Phase == corev1.PodFailed:
		v.lost = fmt.Sprintf("launcher pod %s ended (%s)", v.pod.Name, v.pod.Status.Phase)
		return false
	}
	return v.pod.Status.Phase == corev1.PodRunning // else still starting
}

// read refreshes a launcher's snapshot when its pod can be exec'd into.
func (v *launcherView) read(ctx context.Context, ex Executor, run Run, index int, o runstate.SnapshotOptions) error {
	if !v.readable(run, index) {
		return nil
	}
	snap, err := ReadSnapshot(ctx, ex, PodRef{Namespace: run.Namespace, Name: v.pod.Name, Container: launcher.ContainerName}, run.ID, index, o)
	if err != nil {
		return err
	}
	v.snapshot = &snap
	return nil
}

func summarize(run Run, views []launcherView, now time.Time) Status {
	st := Status{Run: run.ID, Namespace: run.Namespace, Preset: run.Preset, Stack: run.Stack, Harness: run.Harness, Created: run.Created}
	anyRunning, anyFailed, allDone, anyStarted := false, false, true, false
	for i, v := range views {
		byName := map[string]runstate.WorkloadStatus{}
		if v.snapshot != nil {
			for _, w := range v.snapshot.Workloads {
				byName[w.Workload] = w
			}
			anyStarted = anyStarted || v.snapshot.Started
		}
		done := v.snapshot != nil && v.snapshot.Done
		if !done {
			allDone = false
		}
		if v.lost != "" && !done {
			anyFailed = true
			if st.Message == "" {
				st.Message = v.lost
			}
		}
		podName := launcher.PodName(run.ID, i)
		for _, name := range run.Workloads {
			ws := WorkloadState{Name: name, Launcher: i, Pod: podName, Phase: PhasePending}
			if s, ok := byName[name]; ok {
				ws.ResultsDir = s.ResultsDir
				ws.TimedOut = s.TimedOut
				ws.ExitCode = s.ExitCode
				ws.HarnessFailed, ws.Stderr = s.HarnessFailed, s.Stderr
				ws.Outcome = s.Verdict(true) // a lost launcher is handled below
				if !s.StartedAt.IsZero() {
					t := s.StartedAt
					ws.StartedAt = &t
				}
				if !s.FinishedAt.IsZero() {
					t := s.FinishedAt
					ws.FinishedAt = &t
				}
				switch ws.Outcome {
				case runstate.VerdictSucceeded:
					ws.Phase = PhaseSucceeded
				case runstate.VerdictRunning:
					ws.Phase = PhaseRunning
				default:
					ws.Phase = PhaseFailed
				}
			}
			if v.lost != "" && !done && (ws.Phase == PhaseRunning || ws.Phase == PhasePending) {
				// A workload that had started is cut short; one that had not never ran.
				if ws.Phase == PhaseRunning {
					ws.Outcome = runstate.VerdictIncomplete
				}
				ws.Phase, ws.Message = PhaseFailed, v.lost
			}
			switch ws.Phase {
			case PhaseFailed:
				anyFailed = true
			case PhaseRunning:
				anyRunning = true
			}
			st.Workloads = append(st.Workloads, ws)
		}
	}
	st.count()
	switch {
	case allDone && !anyFailed:
		st.Phase = PhaseSucceeded
	case anyFailed && (allDone || !anyRunning && stopped(views)):
		st.Phase = PhaseFailed
	case anyStarted:
		st.Phase = PhaseRunning
	default:
		st.Phase = PhasePending
	}
	return st
}

// stopped tells whether no launcher can make progress any more (each is done or lost).
func stopped(views []launcherView) bool {
	for _, v := range views {
		if v.lost == "" && (v.snapshot == nil || !v.snapshot.Done) {
			return false
		}
	}
	return true
}

// FollowOptions shape Follow.
type FollowOptions struct {
	// Wait is the longest one read waits in the pod for news (new log or the done marker).
	Wait time.Duration
	// OnLog receives new run log bytes of a launcher.
	OnLog func(launcher int, data []byte)
	// OnStatus receives the state after every change.
	OnStatus func(Status)
	// OnRetry is told when a read failed and will be retried after a pause.
	OnRetry func(err error, pause time.Duration)
}

type launcherUpdate struct {
	index int
	view  launcherView
	err   error
	pause time.Duration
}

// Follow reads the run until it finishes, streaming each launcher's log. Every launcher has its own
// reader that waits in the pod for news, so changes show within a fifth of a second; a failed read
// (a dropped connection) is retried with backoff; a refusal by the API server (Forbidden,
// NotFound …) ends following at once, as does ctx.
func Follow(ctx context.Context, cs kubernetes.Interface, ex Executor, run Run, o FollowOptions) (Status, error) {
	if o.Wait <= 0 {
		o.Wait = 5 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	updates := make(chan launcherUpdate)
	for i := range run.Parallelism {
		go followLauncher(ctx, cs, ex, run, i, o.Wait, updates)
	}
	views := make([]launcherView, run.Parallelism)
	for {
		select {
		case <-ctx.Done():
			return summarize(run, views, time.Now()), ctx.Err()
		case u := <-updates:
			if u.err != nil {
				if Refused(u.err) { // Forbidden, NotFound …: no retry changes the answer
					return summarize(run, views, time.Now()), fmt.Errorf("reading run %s: %w", run.ID, u.err)
				}
				if o.OnRetry != nil {
					o.OnRetry(u.err, u.pause)
				}
				continue
			}
			views[u.index] = u.view
			if s := u.view.snapshot; s != nil && len(s.Log) > 0 && o.OnLog != nil {
				o.OnLog(u.index, s.Log)
			}
			st := summarize(run, views, time.Now())
			if o.OnStatus != nil {
				o.OnStatus(st)
			}
			if st.Finished() {
				return st, nil
			}
		}
	}
}

// followLauncher reads one launcher until it is done or lost, sending every read.
func followLauncher(ctx context.Context, cs kubernetes.Interface, ex Executor, run Run, index int, wait time.Duration, updates chan<- launcherUpdate) {
	var offset int64
	// The last snapshot read: when the launcher is lost it still tells which workloads had
	// started (and are now incomplete).
	var last *runstate.Snapshot
	pause := 500 * time.Millisecond
	send := func(u launcherUpdate) bool {
		select {
		case updates <- u:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for ctx.Err() == nil {
		var v launcherView
		pod, err := cs.CoreV1().Pods(run.Namespace).Get(ctx, launcher.PodName(run.ID, index), metav1.GetOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			if err == nil {
				v.pod = pod
			}
			err = v.read(ctx, ex, run, index, runstate.SnapshotOptions{Offset: offset, Wait: wait})
		}
		if err != nil {
			if ctx.Err() != nil || !send(launcherUpdate{index: index, err: err, pause: pause}) {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
			pause = min(pause*2, 30*time.Second)
			continue
		}
		pause = 500 * time.Millisecond
		if v.snapshot != nil {
			offset += int64(len(v.snapshot.Log))
			last = v.snapshot
		} else if v.lost != "" && last != nil {
			known := *last
			known.Log = nil
			v.snapshot = &known
		}
		if !send(launcherUpdate{index: index, view: v}) || v.lost != "" || v.snapshot != nil && v.snapshot.Done {
			return
		}
		if v.snapshot == nil {
			// Not running yet: nothing waits in the pod, so pace the reads here.
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait / 5):
			}
		}
	}
}
