package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/util/term"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
	"github.com/llmdbench/kubectl-llmdbench/pkg/transfer"
)

// cleanupTimeout bounds work done after the user pressed Ctrl-C (its own context).
const cleanupTimeout = 30 * time.Second

// follower streams a run's log and progress to stderr and prints its verdict: shared by run and
// attach so both behave, and exit, the same way.
type follower struct {
	Client   kubernetes.Interface
	Executor cluster.Executor
	Wait     time.Duration
	Output   string
	// Remove deletes the launchers and ConfigMap once the run finished (--rm).
	Remove bool
	// FetchTo, when set, receives the run's result folders; their per-request files too when
	// PerRequest is set, when launchers are merged (which needs every request), or when the
	// results are on a launcher's emptyDir (gone once fetched).
	FetchTo    string
	PerRequest bool
	// Scrape, when set, scrapes the model servers while the run is followed (image harnesses);
	// its series are moved into the fetched result folders.
	Scrape *followScraper
	genericiooptions.IOStreams
}

// follow follows run to its end and returns an *ExitError unless every workload succeeded.
func (f *follower) follow(ctx context.Context, run cluster.Run) error {
	p := newProgress(f.ErrOut, run)
	st, err := cluster.Follow(ctx, f.Client, f.Executor, run, cluster.FollowOptions{
		Wait:  f.Wait,
		OnLog: p.log,
		OnStatus: func(st cluster.Status) {
			p.status(st)
			if f.Scrape != nil {
				f.Scrape.status(st)
			}
		},
		OnRetry: func(err error, pause time.Duration) {
			p.note(fmt.Sprintf("reading run %s failed (%v); retrying in %s", run.ID, err, pause))
		},
	})
	p.done()
	if f.Scrape != nil {
		f.Scrape.stop()
	}
	if err != nil && errors.Is(err, ctx.Err()) {
		// One line (printed by MapInterrupt): following stopped, the run itself was not touched.
		return &Interrupted{Err: err, Cleaned: "stopped following run " + run.ID + ", nothing removed",
			Running: fmt.Sprintf("it goes on in the cluster (follow it again: kubectl llmdbench attach %s -n %s; stop it: kubectl llmdbench delete %s -n %s --force)",
				run.ID, run.Namespace, run.ID, run.Namespace)}
	}
	if err != nil {
		return err
	}
	cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := cluster.RecordFinal(cleanup, f.Client, st); err != nil {
		fmt.Fprintf(f.ErrOut, "Warning: could not record the verdict of run %s: %v\n", run.ID, err)
	}
	if err := f.printVerdict(st); err != nil {
		return err
	}
	var fetchErr error
	switch {
	case f.FetchTo != "" && run.NoPVC():
		fetchErr = f.fetchFromLauncher(ctx, run, st)
	case f.FetchTo != "":
		fetchErr = f.fetch(ctx, run, st)
	case run.NoPVC():
		fmt.Fprintf(f.ErrOut, "The results of run %s are only in its launcher pod, on an emptyDir, for %s after its workloads: fetch them with kubectl llmdbench attach %s -n %s\n",
			run.ID, run.KeepFor, run.ID, run.Namespace)
	}
	if f.Scrape != nil {
		notes, err := f.Scrape.place()
		for _, n := range notes {
			fmt.Fprintln(f.ErrOut, n)
		}
		if err != nil {
			fmt.Fprintf(f.ErrOut, "Warning: %v\n", err)
		}
	}
	if f.Remove && fetchErr == nil {
		if err := cluster.DeleteRun(cleanup, f.Client, run.Namespace, run.ID); err != nil {
			fmt.Fprintf(f.ErrOut, "Warning: could not remove run %s: %v\n", run.ID, err)
		}
	}
	if st.Phase != cluster.PhaseSucceeded {
		return &ExitError{Code: 1, Err: fmt.Errorf("run %s failed", run.ID)}
	}
	return fetchErr
}

// fetch copies the result folders the run wrote through one of its launchers.
func (f *follower) fetch(ctx context.Context, run cluster.Run, st cluster.Status) error {
	wanted := cluster.ResultFolders(st)
	if len(wanted) == 0 {
		return nil
	}
	later := fmt.Sprintf("fetch them later: kubectl llmdbench cp %s -n %s", run.ID, run.Namespace)
	// The launchers have ended: a pod that mounts the run's claim (a reader pod if none) serves it.
	acc, err := cluster.OpenResults(ctx, f.Client, run.Namespace, run.PVC, cluster.ReaderOptions{Image: run.Image})
	if err != nil {
		return fmt.Errorf("run %s: %w (%s)", run.ID, err, later)
	}
	defer func() {
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_ = acc.Close(cleanup)
	}()
	pod := acc.Pod
	dirs, err := cluster.WrittenFolders(ctx, f.Executor, pod, wanted)
	if err != nil {
		return fmt.Errorf("run %s: %w (%s)", run.ID, err, later)
	}
	if len(dirs) == 0 {
		fmt.Fprintf(f.ErrOut, "Run %s wrote no result folders.\n", run.ID)
		return nil
	}
	// Several launchers' folders are merged here, which needs every request.
	perRequest := f.PerRequest || run.Parallelism > 1
	if _, err := fetchResults(ctx, f.Executor, pod, dirs, f.FetchTo, perRequest, 3, transfer.ExtractOptions{}, transfer.CompressAuto, f.IOStreams); err != nil {
		return fmt.Errorf("%w (%s)", err, later)
	}
	merged, notes, err := mergeLaunchers(ctx, f.FetchTo, run, st)
	for _, n := range notes {
		fmt.Fprintln(f.ErrOut, n)
	}
	if err != nil {
		return fmt.Errorf("run %s: %w", run.ID, err)
	}
	for _, m := range merged {
		fmt.Fprintf(f.ErrOut, "Merged the %d launchers of %s into %s.\n", run.Parallelism, m, filepath.Join(f.FetchTo, m))
	}
	return nil
}

// fetchFromLauncher copies the result folders of a run without a results claim from its launcher
// pod, whose emptyDir holds them, then tells the launcher they are fetched (it exits). The
// verdict says where the results are.
func (f *follower) fetchFromLauncher(ctx context.Context, run cluster.Run, st cluster.Status) error {
	podName := ""
	for _, w := range st.Workloads {
		if w.Launcher == 0 && w.Pod != "" {
			podName = w.Pod
		}
	}
	later := fmt.Sprintf("they stay in launcher pod %s for %s after its workloads: kubectl llmdbench attach %s -n %s fetches them", podName, run.KeepFor, run.ID, run.Namespace)
	if podName == "" {
		return fmt.Errorf("run %s: no launcher pod to fetch its results from (they were on its emptyDir)", run.ID)
	}
	pod := cluster.PodRef{Namespace: run.Namespace, Name: podName, Container: launcher.ContainerName}
	if wanted := cluster.ResultFolders(st); len(wanted) > 0 {
		dirs, err := cluster.WrittenFolders(ctx, f.Executor, pod, wanted)
		if err != nil {
			return fmt.Errorf("run %s: %w (%s)", run.ID, err, later)
		}
		if len(dirs) > 0 {
			if _, err := fetchResults(ctx, f.Executor, pod, dirs, f.FetchTo, true, 3, transfer.ExtractOptions{}, transfer.CompressAuto, f.IOStreams); err != nil {
				return fmt.Errorf("%w (%s)", err, later)
			}
		}
	}
	if err := cluster.MarkFetched(ctx, f.Executor, pod, run.ID, 0); err != nil {
		fmt.Fprintf(f.ErrOut, "Warning: %v; the launcher stays up until its %s keep-for runs out\n", err, run.KeepFor)
	}
	fmt.Fprintf(f.ErrOut, "The results of run %s are in %s (fetched from its launcher's emptyDir; the cluster keeps no copy).\n", run.ID, f.FetchTo)
	return nil
}

func (f *follower) printVerdict(st cluster.Status) error {
	if f.Output != "" {
		return printStructured(f.Out, f.Output, st)
	}
	if err := printWorkloads(f.Out, st, time.Now()); err != nil {
		return err
	}
	msg := fmt.Sprintf("run %s %s: %d of %d workload(s) succeeded, %d failed", st.Run, strings.ToLower(st.Phase), st.Succeeded, st.Total, st.Failed)
	if st.Message != "" {
		msg += " (" + st.Message + ")"
	}
	_, err := fmt.Fprintln(f.ErrOut, msg)
	return err
}

// printWorkloads prints the per-workload table (run's verdict and `status RUN`).
func printWorkloads(out io.Writer, st cluster.Status, now time.Time) error {
	w := printers.GetNewTabWriter(out)
	fmt.Fprintln(w, "LAUNCHER\tWORKLOAD\tVERDICT\tDURATION\tRESULTS")
	for _, ws := range st.Workloads {
		d := "-"
		if ws.StartedAt != nil {
			d = ws.Duration(now).Round(time.Second).String()
		}
		results := ws.ResultsDir
		if results == "" {
			results = "-"
		}
		verdict := ws.Verdict()
		if ws.Message != "" {
			verdict += ": " + ws.Message
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", ws.Launcher, ws.Name, verdict, d, results)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	// A failed harness explains itself with its last stderr lines.
	for _, ws := range st.Workloads {
		if len(ws.Stderr) == 0 {
			continue
		}
		fmt.Fprintf(out, "Workload %s (launcher %d), %s; its last stderr lines:\n", ws.Name, ws.Launcher, ws.Verdict())
		for _, line := range ws.Stderr {
			if _, err := fmt.Fprintf(out, "    %s\n", line); err != nil {
				return err
			}
		}
	}
	return nil
}

// progress shows the run log, and on a terminal a progress bar of finished workloads.
type progress struct {
	out      io.Writer
	bar      *progressbar.ProgressBar
	parallel bool
	started  time.Time
	lines    map[int]*runstate.LineBuffer
}

func newProgress(out io.Writer, run cluster.Run) *progress {
	p := &progress{out: out, parallel: run.Parallelism > 1, started: time.Now(), lines: map[int]*runstate.LineBuffer{}}
	if term.IsTerminal(out) {
		p.bar = progressbar.NewOptions(len(run.Workloads)*run.Parallelism,
			progressbar.OptionSetWriter(out),
			progressbar.OptionSetDescription("starting"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionThrottle(100*time.Millisecond),
		)
	}
	return p
}

// log prints whole lines, prefixed with the launcher when several run.
func (p *progress) log(index int, data []byte) {
	b := p.lines[index]
	if b == nil {
		b = &runstate.LineBuffer{}
		p.lines[index] = b
	}
	p.print(index, b.Lines(data))
}

func (p *progress) print(index int, lines [][]byte) {
	if len(lines) == 0 {
		return
	}
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	for _, line := range lines {
		if p.parallel {
			fmt.Fprintf(p.out, "[launcher %d] ", index)
		}
		_, _ = p.out.Write(line)
	}
	if p.bar != nil {
		_ = p.bar.RenderBlank()
	}
}

func (p *progress) note(msg string) {
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	fmt.Fprintln(p.out, msg)
}

// status moves the bar: finished workloads of all launchers, and what runs now.
func (p *progress) status(st cluster.Status) {
	if p.bar == nil {
		return
	}
	finished, current := 0, ""
	for _, w := range st.Workloads {
		switch w.Phase {
		case cluster.PhaseSucceeded, cluster.PhaseFailed:
			finished++
		case cluster.PhaseRunning:
			if current == "" {
				current = fmt.Sprintf("%s for %s", w.Name, w.Duration(time.Now()).Round(time.Second))
			}
		}
	}
	if current == "" {
		current = strings.ToLower(st.Phase)
	}
	p.bar.Describe(current)
	_ = p.bar.Set(finished)
}

func (p *progress) done() {
	for i, b := range p.lines {
		if rest := b.Flush(); rest != nil {
			p.print(i, [][]byte{rest})
		}
	}
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
