package plugin

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
)

// DeleteOptions holds the flags of `delete`.
type DeleteOptions struct {
	RunID       string
	AllFinished bool
	Force       bool

	kube
	genericiooptions.IOStreams
}

// NewDeleteOptions returns the defaults.
func NewDeleteOptions(streams genericiooptions.IOStreams) *DeleteOptions {
	return &DeleteOptions{IOStreams: streams}
}

// NewCmdDelete builds `kubectl llmdbench delete RUN`.
func NewCmdDelete(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewDeleteOptions(streams)
	cmd := &cobra.Command{
		Use:   "delete (RUN | --all-finished)",
		Short: "Remove a run's launcher pods and ConfigMap (never its results)",
		Long: templates.LongDesc(`
			Remove a run's launcher pods and ConfigMap. Results on the PVC are never deleted, and
			no other run's objects are touched. A run that is still running needs --force, which
			stops its workloads.`),
		Example: templates.Examples(`
			# Remove a finished run's launcher
			kubectl llmdbench delete 1795740000-ab12 -n llm-d

			# Remove every finished run in the namespace
			kubectl llmdbench delete --all-finished -n llm-d`),
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeRuns(f),
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
	cmd.Flags().BoolVar(&o.AllFinished, "all-finished", false, "Remove every run that has finished")
	cmd.Flags().BoolVar(&o.Force, "force", false, "Also remove a run that is still running (its workloads stop)")
	return cmd
}

// Complete resolves the namespace and clients.
func (o *DeleteOptions) Complete(f cmdutil.Factory, _ *cobra.Command, args []string) error {
	if len(args) == 1 {
		o.RunID = args[0]
	}
	return o.kube.complete(f)
}

// Validate checks the arguments.
func (o *DeleteOptions) Validate() error {
	switch {
	case o.RunID == "" && !o.AllFinished:
		return fmt.Errorf("name a run, or pass --all-finished ('kubectl llmdbench status' lists the runs)")
	case o.RunID != "" && o.AllFinished:
		return fmt.Errorf("a run and --all-finished are exclusive")
	}
	return nil
}

// Run deletes.
func (o *DeleteOptions) Run(ctx context.Context) error {
	var runs []cluster.Run
	if o.RunID != "" {
		r, err := cluster.GetRun(ctx, o.Client, o.namespace, o.RunID)
		if err != nil {
			return err
		}
		runs = []cluster.Run{r}
	} else {
		all, err := cluster.ListRuns(ctx, o.Client, o.namespace)
		if err != nil {
			return err
		}
		runs = all
	}
	deleted := 0
	for _, r := range runs {
		st, err := cluster.Inspect(ctx, o.Client, o.Executor, r)
		if err != nil {
			return fmt.Errorf("reading run %s: %w", r.ID, err)
		}
		if !st.Finished() {
			if o.AllFinished {
				continue
			}
			if !o.Force {
				return fmt.Errorf("run %s is %s: pass --force to stop and remove it", r.ID, st.Phase)
			}
		}
		if err := cluster.DeleteRun(ctx, o.Client, o.namespace, r.ID); err != nil {
			return err
		}
		deleted++
		fmt.Fprintf(o.Out, "run %s deleted\n", r.ID)
		if !st.Finished() {
			// Its result folders stay on the PVC; 'results' lists the unfinished ones as incomplete.
			fmt.Fprintf(o.ErrOut, "Run %s was stopped before it finished: the result folders of its unfinished workloads are incomplete.\n", r.ID)
		}
	}
	if deleted == 0 && o.AllFinished {
		fmt.Fprintf(o.ErrOut, "No finished runs in namespace %s.\n", o.namespace)
	}
	return nil
}
