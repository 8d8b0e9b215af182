package plugin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// LogsOptions holds the flags of `logs`.
type LogsOptions struct {
	access   resultsAccess
	RunID    string
	Follow   bool
	Tail     int
	Workload string
	Launcher int
	Wait     time.Duration
	genericiooptions.IOStreams
}

// NewLogsOptions returns the defaults.
func NewLogsOptions(streams genericiooptions.IOStreams) *LogsOptions {
	return &LogsOptions{Tail: -1, Launcher: -1, Wait: 5 * time.Second, IOStreams: streams}
}

// NewCmdLogs builds `kubectl llmdbench logs [RUN]`.
func NewCmdLogs(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdLogs(f, NewLogsOptions(streams))
}

func newCmdLogs(f cmdutil.Factory, o *LogsOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logs [RUN]",
		Short: "Print a run's log, kept on the results PVC",
		Long: templates.LongDesc(`
			Print a run's log. It is kept on the results PVC, so it outlives the launcher pods; when
			none runs, it is read through a short-lived reader pod. Without RUN, the newest run in
			the namespace. With -f, follow until the run is done (or its launcher ends),
			reconnecting when the connection drops.`),
		Example: templates.Examples(`
			# The newest run's log
			kubectl llmdbench logs -n llm-d

			# Follow one workload of a run
			kubectl llmdbench logs 1795740000-ab12 -f --workload sanity_random`),
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeRuns(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(f, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.access.addFlags(cmd)
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "Follow the log until the run is done")
	cmd.Flags().IntVar(&o.Tail, "tail", o.Tail, "Lines of the log to show per launcher (-1: all)")
	cmd.Flags().StringVar(&o.Workload, "workload", "", "Only the lines of this workload")
	cmd.Flags().IntVar(&o.Launcher, "launcher", o.Launcher, "Only this launcher (parallel index; -1: all)")
	return cmd
}

// Complete takes the run and resolves the namespace and clients.
func (o *LogsOptions) Complete(f cmdutil.Factory, args []string) error {
	if len(args) == 1 {
		o.RunID = args[0]
	}
	return o.access.complete(f)
}

// Validate checks the arguments before anything reads the cluster: a run ID goes into the
// commands run in the pods, so it must have a run ID's shape.
func (o *LogsOptions) Validate() error {
	if o.RunID != "" {
		if err := runstate.ValidateRunID(o.RunID); err != nil {
			return fmt.Errorf("logs: %w", err)
		}
	}
	return nil
}

// Run prints the log.
func (o *LogsOptions) Run(ctx context.Context) error {
	cs, ns := o.access.Client, o.access.namespace
	var run cluster.Run
	if o.RunID == "" {
		runs, err := cluster.ListRuns(ctx, cs, ns)
		if err != nil {
			return err
		}
		if len(runs) == 0 {
			return fmt.Errorf("no runs in namespace %s", ns)
		}
		run = runs[0]
	} else {
		r, err := cluster.GetRun(ctx, cs, ns, o.RunID)
		if err != nil && o.access.PVC == "" {
			return fmt.Errorf("%w (a deleted run's log stays on its PVC: add --pvc NAME)", err)
		}
		if err != nil {
			// The run was deleted; its folder on the PVC tells how many launchers it had.
			return o.printDeleted(ctx)
		}
		run = r
	}
	if o.Launcher >= run.Parallelism {
		return fmt.Errorf("--launcher %d: run %s has launchers 0 to %d", o.Launcher, run.ID, run.Parallelism-1)
	}
	printers := make([]*logPrinter, run.Parallelism)
	for i := range printers {
		printers[i] = &logPrinter{out: o.Out, tail: o.Tail, workload: o.Workload}
		if run.Parallelism > 1 {
			printers[i].prefix = fmt.Sprintf("[launcher %d] ", i)
		}
	}
	show := func(i int, data []byte) {
		if o.Launcher < 0 || o.Launcher == i {
			printers[i].write(data)
		}
	}
	if o.Follow && len(run.Pods) > 0 {
		_, err := cluster.Follow(ctx, cs, o.access.Executor, run, cluster.FollowOptions{
			Wait:  o.Wait,
			OnLog: show,
			OnRetry: func(err error, pause time.Duration) {
				fmt.Fprintf(o.ErrOut, "reading the log failed (%v); retrying in %s\n", err, pause)
			},
		})
		for _, p := range printers {
			p.flush()
		}
		if ctx.Err() != nil {
			return nil // Ctrl-C ends following, as with kubectl logs -f
		}
		return err
	}
	warn := func(m string) { fmt.Fprintf(o.ErrOut, "Warning: %s\n", m) }
	acc, err := o.access.open(ctx, run.PVC, noteTo(o.ErrOut))
	if err != nil {
		return err
	}
	defer closeAccess(ctx, acc, warn)
	for i := range run.Parallelism {
		if o.Launcher >= 0 && o.Launcher != i {
			continue
		}
		snap, err := cluster.ReadSnapshot(ctx, o.access.Executor, acc.Pod, run.ID, i, runstate.SnapshotOptions{})
		if err != nil {
			return fmt.Errorf("reading the log of launcher %d of run %s: %w", i, run.ID, err)
		}
		printers[i].writeAll(snap.Log)
	}
	return nil
}

// printDeleted prints the log of a run whose objects are gone, straight from its PVC folder.
func (o *LogsOptions) printDeleted(ctx context.Context) error {
	warn := func(m string) { fmt.Fprintf(o.ErrOut, "Warning: %s\n", m) }
	acc, err := o.access.open(ctx, o.access.PVC, noteTo(o.ErrOut))
	if err != nil {
		return err
	}
	defer closeAccess(ctx, acc, warn)
	var out, stderr bytes.Buffer
	dir := runstate.RunDir(o.RunID)
	if err := o.access.Executor.Exec(ctx, acc.Pod, []string{"ls", dir}, &out, &stderr); err != nil {
		return fmt.Errorf("run %s not found in namespace %s nor on PVC %s: %s", o.RunID, o.access.namespace, o.access.PVC, strings.TrimSpace(stderr.String()))
	}
	indices := strings.Fields(out.String())
	for _, idx := range indices {
		i, err := strconv.Atoi(idx)
		if err != nil || o.Launcher >= 0 && o.Launcher != i {
			continue
		}
		p := &logPrinter{out: o.Out, tail: o.Tail, workload: o.Workload}
		if len(indices) > 1 {
			p.prefix = fmt.Sprintf("[launcher %d] ", i)
		}
		snap, err := cluster.ReadSnapshot(ctx, o.access.Executor, acc.Pod, o.RunID, i, runstate.SnapshotOptions{})
		if err != nil {
			return err
		}
		p.writeAll(snap.Log)
	}
	return nil
}

// logPrinter filters a launcher's log by workload, applies --tail to what it is first given, and
// prints whole lines.
type logPrinter struct {
	out      io.Writer
	prefix   string
	tail     int
	workload string
	lines    runstate.LineBuffer
	started  bool
	inside   bool
}

func (p *logPrinter) write(data []byte) {
	p.print(p.lines.Lines(data))
}

func (p *logPrinter) print(lines [][]byte) {
	var keep [][]byte
	for _, l := range lines {
		if p.keep(string(l)) {
			keep = append(keep, l)
		}
	}
	if !p.started {
		p.started = true
		if p.tail >= 0 && len(keep) > p.tail {
			keep = keep[len(keep)-p.tail:]
		}
	}
	for _, l := range keep {
		fmt.Fprintf(p.out, "%s%s", p.prefix, l)
	}
}

// writeAll prints a whole log at once: --tail counts an unfinished last line too.
func (p *logPrinter) writeAll(data []byte) {
	lines := p.lines.Lines(data)
	if rest := p.lines.Flush(); rest != nil {
		lines = append(lines, rest)
	}
	p.print(lines)
}

func (p *logPrinter) flush() {
	if rest := p.lines.Flush(); rest != nil {
		p.print([][]byte{rest})
	}
}

// keep tracks which workload a line belongs to from the run script's own progress lines.
func (p *logPrinter) keep(line string) bool {
	if p.workload == "" {
		return true
	}
	if rest, ok := strings.CutPrefix(line, launcher.ProgressPrefix+" "); ok {
		f := strings.Fields(rest)
		switch {
		case len(f) >= 3 && f[0] == "workload":
			p.inside = f[2] == p.workload
			if !strings.Contains(rest, " started") && p.inside {
				defer func() { p.inside = false }()
			}
		default:
			p.inside = false
		}
	}
	return p.inside
}
