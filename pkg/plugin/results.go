package plugin

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// resultsAccess is what the commands that read the results volume share: which claim, which
// image a reader pod uses, and the clients.
type resultsAccess struct {
	PVC         string
	ReaderImage string
	kube
}

func (a *resultsAccess) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&a.PVC, "pvc", "", "Results PVC to read (default: the newest run's)")
	cmd.Flags().StringVar(&a.ReaderImage, "reader-image", "", "Image of the reader pod started when no launcher mounts the PVC (default: the newest run's)")
}

// open finds a pod mounting the claim (an idle launcher of an older run, or a new reader pod); a
// reader pod is announced on stderr (it is created in the user's namespace, and can take a while).
func (a *resultsAccess) open(ctx context.Context, pvc string, note func(string)) (*cluster.Access, error) {
	if pvc == "" {
		var err error
		if pvc, err = cluster.ResultsClaim(ctx, a.Client, a.namespace, "", a.PVC); err != nil {
			return nil, err
		}
	}
	acc, err := cluster.OpenResults(ctx, a.Client, a.namespace, pvc, cluster.ReaderOptions{Image: a.ReaderImage})
	if err == nil && acc.Reader {
		note(fmt.Sprintf("Reading PVC %s through reader pod %s (removed afterwards).", pvc, acc.Pod.Name))
	}
	return acc, err
}

// noteTo prints a progress line to w (stderr).
func noteTo(w io.Writer) func(string) { return func(m string) { fmt.Fprintln(w, m) } }

// closeAccess removes a reader pod with a context of its own (the command's may be cancelled).
func closeAccess(ctx context.Context, acc *cluster.Access, warn func(string)) {
	cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := acc.Close(cleanup); err != nil {
		warn(fmt.Sprintf("could not remove reader pod %s: %v", acc.Pod.Name, err))
	}
}

// openTarget opens the PVC holding target (a run's own claim when target is a run ID) and returns
// the result folders target names: the folder itself, or every folder of the run. The caller
// closes the access.
func (a *resultsAccess) openTarget(ctx context.Context, target string, note, warn func(string)) (*cluster.Access, []runstate.ResultFolder, error) {
	pvc, err := cluster.ResultsClaim(ctx, a.Client, a.namespace, target, a.PVC)
	if err != nil {
		return nil, nil, err
	}
	acc, err := a.open(ctx, pvc, note)
	if err != nil {
		return nil, nil, err
	}
	folders, err := a.list(ctx, acc)
	if err != nil {
		closeAccess(ctx, acc, warn)
		return nil, nil, err
	}
	matched := cluster.MatchResults(folders, target)
	if len(matched) == 0 {
		closeAccess(ctx, acc, warn)
		return nil, nil, fmt.Errorf("no result folder or run %q on the PVC: 'kubectl llmdbench results' lists them", target)
	}
	return acc, matched, nil
}

func (a *resultsAccess) list(ctx context.Context, acc *cluster.Access) ([]runstate.ResultFolder, error) {
	return cluster.ListResults(ctx, a.Client, a.Executor, acc.Pod)
}

// ResultsOptions holds the flags of `results` (the listing).
type ResultsOptions struct {
	access   resultsAccess
	RunID    string
	Output   string
	Selector []string
	selector map[string]string
	genericiooptions.IOStreams
}

// NewResultsOptions returns the defaults.
func NewResultsOptions(streams genericiooptions.IOStreams) *ResultsOptions {
	return &ResultsOptions{IOStreams: streams}
}

// NewCmdResults builds `kubectl llmdbench results`.
func NewCmdResults(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewResultsOptions(streams)
	cmd := &cobra.Command{
		Use:     "results",
		Aliases: []string{"result"},
		Short:   "List the result folders on the results PVC",
		Long: templates.LongDesc(`
			List the result folders on the results PVC, read through a running launcher that mounts
			it, or else through a short-lived reader pod on the same claim (removed afterwards).
			PER-REQUEST shows the size of inference-perf's per-request file, which 'cp' skips
			unless asked. VERDICT is the workload's: succeeded, failed, timed-out, running (its
			launcher still runs it) or incomplete (its launcher is gone, deleted or removed with
			'delete --force', before the workload finished: the folder holds only part of it);
			'-' for folders not written by kubectl llmdbench.`),
		Example: templates.Examples(`
			# Every result folder on the newest run's PVC
			kubectl llmdbench results -n llm-d

			# The folders of one run, as JSON
			kubectl llmdbench results -n llm-d --run 1795740000-ab12 -o json`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(f, cmd, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.access.addFlags(cmd)
	cmd.Flags().StringVar(&o.RunID, "run", "", "Only the folders of this run")
	cmd.Flags().StringArrayVar(&o.Selector, "label", nil, "Only folders whose run has this label KEY=VALUE (run --label; repeatable)")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("run", completeRuns(f))
	cmd.AddCommand(NewCmdResultsShow(f, streams), NewCmdResultsCompare(f, streams), NewCmdResultsPlot(f, streams), NewCmdResultsReport(f, streams), NewCmdResultsMerge(f, streams))
	return cmd
}

// Complete resolves the namespace and clients (the listing always reads the cluster).
func (o *ResultsOptions) Complete(f cmdutil.Factory, _ *cobra.Command, _ []string) error {
	return o.access.complete(f)
}

// Validate checks the flags without I/O.
func (o *ResultsOptions) Validate() error {
	if err := validateOutput(o.Output); err != nil {
		return err
	}
	var err error
	o.selector, err = parseSelector(o.Selector)
	return err
}

// Run lists.
func (o *ResultsOptions) Run(ctx context.Context) error {
	warn := func(m string) { fmt.Fprintf(o.ErrOut, "Warning: %s\n", m) }
	acc, err := o.access.open(ctx, "", noteTo(o.ErrOut))
	if err != nil {
		return err
	}
	defer closeAccess(ctx, acc, warn)
	folders, err := o.access.list(ctx, acc)
	if err != nil {
		return err
	}
	var shown []runstate.ResultFolder
	for _, f := range folders {
		if (o.RunID == "" || f.Run == o.RunID) && (len(o.selector) == 0 || (f.Metadata != nil && f.Metadata.Matches(o.selector))) {
			shown = append(shown, f)
		}
	}
	if o.Output != "" {
		if shown == nil {
			shown = []runstate.ResultFolder{}
		}
		return printStructured(o.Out, o.Output, shown)
	}
	if len(shown) == 0 {
		_, err := fmt.Fprintln(o.ErrOut, "No result folders.")
		return err
	}
	return printFolders(o.Out, shown, time.Now())
}

// printFolders prints the result folder table, with each folder's verdict (runstate.Decide).
func printFolders(out io.Writer, shown []runstate.ResultFolder, now time.Time) error {
	w := printers.GetNewTabWriter(out)
	fmt.Fprintln(w, "NAME\tHARNESS\tRUN\tWORKLOAD\tSTACK\tSTARTED\tSIZE\tPER-REQUEST\tVERDICT\tLABELS")
	for _, f := range shown {
		started, verdict, labels := duration.HumanDuration(now.Sub(f.Modified))+" ago", dash(f.Verdict), "-"
		if m := f.Metadata; m != nil {
			// The metadata outlives the run folder (delete removes that, never results).
			started = duration.HumanDuration(now.Sub(m.StartedAt())) + " ago"
			if len(m.Labels) > 0 {
				labels = formatLabels(m.Labels)
			}
		}
		if f.Status != nil && !f.Status.StartedAt.IsZero() {
			started = duration.HumanDuration(now.Sub(f.Status.StartedAt)) + " ago"
		}
		if f.Verdict == runstate.VerdictFailed && f.Status != nil && f.Status.ExitCode != nil && !f.Status.HarnessFailed {
			verdict = fmt.Sprintf("%s (exit %d)", f.Verdict, *f.Status.ExitCode)
		}
		pr := "-"
		if f.PerRequestBytes > 0 {
			pr = humanBytes(f.PerRequestBytes)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, dash(f.Harness), dash(f.Run), dash(f.Workload), dash(f.Stack),
			started, humanBytes(f.KiB*1024), pr, verdict, labels)
	}
	return w.Flush()
}

func formatLabels(l map[string]string) string { return labels.Set(l).String() }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func humanBytes(n int64) string {
	for _, unit := range []struct {
		div  int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= unit.div {
			return fmt.Sprintf("%.1f%s", float64(n)/float64(unit.div), unit.name)
		}
	}
	return fmt.Sprintf("%dB", n)
}

// ExitPartial is the exit code of `results show` when it printed the numbers of a folder known to
// be partial: its workload did not succeed (still running, incomplete, failed or timed out), so
// its stages cover only what was written before it stopped. Every such folder is also named on
// stderr and marked PARTIAL in the table's header; -o json carries "complete": false in its
// metadata.
const ExitPartial = 3

// partialNote says why a report's folder holds only part of its workload, or "" when it is
// complete or not known to be partial (no metadata).
func partialNote(r *results.Report) string {
	m := r.Metadata
	if m == nil || m.IsComplete() {
		return ""
	}
	why := map[string]string{
		runstate.VerdictRunning:    "is still running",
		runstate.VerdictIncomplete: "was cut short (its launcher is gone)",
		runstate.VerdictFailed:     "failed",
		runstate.VerdictTimedOut:   "timed out",
	}[m.Verdict]
	if why == "" {
		why = "did not succeed (" + m.Verdict + ")"
	}
	name := m.Entry
	if name == "" {
		name = m.Workload
	}
	if g := r.Merge; g != nil && len(g.Missing) > 0 {
		return fmt.Sprintf("PARTIAL: workload %s merges %d of its %d launchers; these numbers cover only their requests", name, len(g.Merged), g.Expected)
	}
	return fmt.Sprintf("PARTIAL: workload %s %s; these numbers cover only what it wrote before that", name, why)
}

// warnPartial names every partial folder among reports on stderr and returns the error that ends
// the command with ExitPartial once the numbers are printed, or nil when none is partial.
func warnPartial(errOut io.Writer, reports []*results.Report) error {
	n := 0
	for _, r := range reports {
		if note := partialNote(r); note != "" {
			n++
			fmt.Fprintf(errOut, "Warning: %s: %s\n", r.Source, note)
		}
	}
	if n == 0 {
		return nil
	}
	return &ExitError{Code: ExitPartial, Err: fmt.Errorf("%d of %d result folder(s) are partial", n, len(reports))}
}

// folderVerdicts maps folder names to the verdicts the listing decided (runstate.Decide).
func folderVerdicts(folders []runstate.ResultFolder) map[string]string {
	v := make(map[string]string, len(folders))
	for _, f := range folders {
		v[f.Name] = f.Verdict
	}
	return v
}

// settleVerdict gives a fetched folder's report the verdict decided on the volume, which knows
// more than the folder's own metadata (that says "running" until the workload ends, even when
// its launcher is gone).
func settleVerdict(r *results.Report, verdicts map[string]string) {
	if r.Metadata != nil {
		r.Metadata.Settle(verdicts[filepath.Base(filepath.Clean(r.Source))])
	}
}
