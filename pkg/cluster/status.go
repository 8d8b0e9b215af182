package cluster

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

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
	st := InspectRuns(ctx, cs, ex, []Run{run}, InspectParallelism)
	return st[0].Status, st[0].Err
}

// RunStatus is one run's status as InspectRuns read it, or why it could not be read.
type RunStatus struct {
	Status
	Err error
}

// InspectRuns reads the state of every run once, in the order given: every launcher of every run
// is read in parallel, at most limit at a time (limit < 1: InspectParallelism), a live one through
// its own pod and one whose pod ended through a pod that mounts the run's claim (a reader pod
// when none runs, removed afterwards). A run with an unreadable launcher gets that error and a
// status that says so (phase Unknown); the others are still read.
func InspectRuns(ctx context.Context, cs kubernetes.Interface, ex Executor, runs []Run, limit int) []RunStatus {
	if limit < 1 {
		limit = InspectParallelism
	}
	readers := newClaimReaders(cs)
	defer func() {
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), eventsTimeout)
		defer cancel()
		readers.close(cleanup)
	}()
	views := make([][]launcherView, len(runs))
	errs := make([][]error, len(runs))
	var g errgroup.Group
	g.SetLimit(limit)
	for r, run := range runs {
		if run.Final != nil && !anyLive(run.Pods) {
			continue // the run finished and was followed to its end: its status is recorded
		}
		views[r] = make([]launcherView, run.Parallelism)
		errs[r] = make([]error, run.Parallelism)
		byIndex := launcherPods(run.Pods)
		for i := range views[r] {
			v := &views[r][i]
			v.pod = byIndex[i]
			if !v.readable(run, i) && !v.endedByItself() {
				continue // nothing to read it through
			}
			g.Go(func() error {
				// Each read writes only its own slot; one failure does not stop the others.
				errs[r][i] = v.read(ctx, ex, readers, run, i, runstate.SnapshotOptions{SkipLog: true})
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

// anyLive tells whether a pod of the run can still change its state.
func anyLive(pods []corev1.Pod) bool {
	for i := range pods {
		if pods[i].DeletionTimestamp == nil && !ended(&pods[i]) {
			return true
		}
	}
	return false
}

// endedByItself tells whether the launcher's pod ran to its end (its final state is on the claim).
func (v *launcherView) endedByItself() bool { return v.pod != nil && ended(v.pod) }

// readable sets why the launcher is lost, if it is, and tells whether its pod can be exec'd into.
func (v *launcherView) readable(run Run, index int) bool {
	switch {
	case v.pod == nil:
		v.lost = fmt.Sprintf("launcher %d of run %s has no pod (deleted)", index, run.ID)
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

// read refreshes a launcher's snapshot: through its own pod while it runs, through a pod that
// mounts the run's claim once it ended by itself. A launcher whose pod ended before its done
// marker is lost.
func (v *launcherView) read(ctx context.Context, ex Executor, readers *claimReaders, run Run, index int, o runstate.SnapshotOptions) error {
	if v.readable(run, index) {
		snap, err := ReadSnapshot(ctx, ex, PodRef{Namespace: run.Namespace, Name: v.pod.Name, Container: launcher.ContainerName}, run.ID, index, o)
		if err != nil {
			return err
		}
		v.snapshot = &snap
		return nil
	}
	if !v.endedByItself() {
		return nil
	}
	if run.NoPVC() {
		// Its run folder was on the pod's emptyDir, gone with it.
		v.lost = fmt.Sprintf("launcher pod %s ended (%s); its results were on an emptyDir, gone with it", v.pod.Name, v.pod.Status.Phase)
		return nil
	}
	pod, err := readers.pod(ctx, run)
	if err != nil {
		return fmt.Errorf("reading launcher %d of run %s, whose pod ended: %w", index, run.ID, err)
	}
	o.Wait = 0
	snap, err := ReadSnapshot(ctx, ex, pod, run.ID, index, o)
	if err != nil {
		return err
	}
	v.snapshot = &snap
	if snap.Done {
		v.lost = ""
	} else {
		v.lost = fmt.Sprintf("launcher pod %s ended (%s) before its workloads finished", v.pod.Name, v.pod.Status.Phase)
	}
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
		podName := ""
		if v.pod != nil {
			podName = v.pod.Name
		}
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
	// One watch of the run's pods serves every launcher's reader.
	selector := launcher.RunSelector(run.ID)
	informer := cache.NewSharedIndexInformer(podsListWatch(cs, run.Namespace, selector), &corev1.Pod{}, 0, cache.Indexers{})
	// A refused read of the pods ends following at once (the informer would retry it forever).
	if _, err := cs.CoreV1().Pods(run.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector, Limit: 1}); err != nil {
		return summarize(run, make([]launcherView, run.Parallelism), time.Now()), fmt.Errorf("reading run %s: %w", run.ID, err)
	}
	go informer.RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		return summarize(run, make([]launcherView, run.Parallelism), time.Now()), ctx.Err()
	}
	podOf := func(index int) *corev1.Pod {
		var pods []corev1.Pod
		for _, obj := range informer.GetStore().List() {
			if p, ok := obj.(*corev1.Pod); ok && PodIndex(p) == index {
				pods = append(pods, *p)
			}
		}
		return launcherPods(pods)[index]
	}
	readers := newClaimReaders(cs)
	defer func() {
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), eventsTimeout)
		defer cancel()
		readers.close(cleanup)
	}()
	updates := make(chan launcherUpdate)
	for i := range run.Parallelism {
		go followLauncher(ctx, podOf, ex, readers, run, i, o.Wait, updates)
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

// podGoneGrace is how long the pod watch is given to show that a launcher's pod ended or went,
// after a read of it failed: a second when the API server says the pod or container is no longer
// there to exec into (400, 404), a moment when the connection dropped (no API status), none for
// any other failure.
func podGoneGrace(err error) time.Duration {
	switch statusCode(err) {
	case 400, 404:
		return time.Second
	case 0:
		return 300 * time.Millisecond
	}
	return 0
}

// stoppedSince tells whether the launcher's pod, running when a read of it failed, has ended or
// gone since; the watch may trail the failed exec by a moment, so it is given one.
func stoppedSince(ctx context.Context, podOf func(int) *corev1.Pod, index int, was *corev1.Pod, grace time.Duration) bool {
	deadline := time.Now().Add(grace)
	for {
		p := podOf(index)
		if p == nil || p.UID != was.UID || p.DeletionTimestamp != nil || ended(p) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// followLauncher reads one launcher until it is done or lost, sending every read.
func followLauncher(ctx context.Context, podOf func(int) *corev1.Pod, ex Executor, readers *claimReaders, run Run, index int, wait time.Duration, updates chan<- launcherUpdate) {
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
		v := launcherView{pod: podOf(index)}
		err := v.read(ctx, ex, readers, run, index, runstate.SnapshotOptions{Offset: offset, Wait: wait})
		if err != nil && v.pod != nil && v.readable(run, index) && stoppedSince(ctx, podOf, index, v.pod, podGoneGrace(err)) {
			// The pod ended (or went) while being read: the next read goes through the claim.
			continue
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
