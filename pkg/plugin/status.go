package plugin

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// StatusOptions holds the flags of `status`.
type StatusOptions struct {
	RunID  string
	Output string

	kube
	genericiooptions.IOStreams
}

// NewStatusOptions returns the defaults.
func NewStatusOptions(streams genericiooptions.IOStreams) *StatusOptions {
	return &StatusOptions{IOStreams: streams}
}

// NewCmdStatus builds `kubectl llmdbench status [RUN]`.
func NewCmdStatus(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewStatusOptions(streams)
	cmd := &cobra.Command{
		Use:   "status [RUN]",
		Short: "Show the runs in a namespace, or one run's workloads",
		Example: templates.Examples(`
			# Every run in the namespace
			kubectl llmdbench status -n llm-d

			# One run's workloads, as JSON
			kubectl llmdbench status 1795740000-ab12 -n llm-d -o json`),
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
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: json or yaml")
	return cmd
}

// Complete resolves the namespace and clients.
func (o *StatusOptions) Complete(f cmdutil.Factory, args []string) error {
	if len(args) == 1 {
		o.RunID = args[0]
	}
	return o.kube.complete(f)
}

// Validate checks the flags and the run ID's shape.
func (o *StatusOptions) Validate() error {
	if o.RunID != "" {
		if err := runstate.ValidateRunID(o.RunID); err != nil {
			return fmt.Errorf("status: %w", err)
		}
	}
	return validateOutput(o.Output)
}

// Run prints the runs or one run.
func (o *StatusOptions) Run(ctx context.Context) error {
	if o.RunID != "" {
		run, err := cluster.GetRun(ctx, o.Client, o.namespace, o.RunID)
		if err != nil {
			return err
		}
		st, err := cluster.Inspect(ctx, o.Client, o.Executor, run)
		if err != nil {
			return err
		}
		if o.Output != "" {
			return printStructured(o.Out, o.Output, st)
		}
		fmt.Fprintf(o.Out, "Run %s in %s: %s", st.Run, st.Namespace, st.Phase)
		if st.Message != "" {
			fmt.Fprintf(o.Out, " (%s)", st.Message)
		}
		fmt.Fprintln(o.Out)
		return printWorkloads(o.Out, st, time.Now())
	}
	runs, err := cluster.ListRuns(ctx, o.Client, o.namespace)
	if err != nil {
		return err
	}
	// Every live launcher of every run is read in parallel (bounded); one unreadable run does
	// not hide the others, it shows as Unknown with the reason.
	statuses := make([]cluster.Status, 0, len(runs))
	for _, rs := range cluster.InspectRuns(ctx, o.Client, o.Executor, runs, cluster.InspectParallelism) {
		statuses = append(statuses, rs.Status)
	}
	if o.Output != "" {
		return printStructured(o.Out, o.Output, statuses)
	}
	if len(statuses) == 0 {
		_, err := fmt.Fprintf(o.ErrOut, "No runs in namespace %s.\n", o.namespace)
		return err
	}
	return printRuns(o.Out, statuses, time.Now())
}

// printRuns prints one line per run. Workloads that succeeded and failed are counted apart (a
// Failed run is not "2/2"); pending and running ones are in neither count.
func printRuns(out io.Writer, statuses []cluster.Status, now time.Time) error {
	w := printers.GetNewTabWriter(out)
	fmt.Fprintln(w, "RUN\tPRESET/STACK\tHARNESS\tPHASE\tSUCCEEDED\tFAILED\tTOTAL\tAGE")
	for _, st := range statuses {
		label := st.Stack
		if st.Preset != "" {
			label = st.Preset + "/" + st.Stack
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", st.Run, label, st.Harness, st.Phase, st.Succeeded, st.Failed, st.Total,
			duration.HumanDuration(now.Sub(st.Created)))
	}
	return w.Flush()
}
