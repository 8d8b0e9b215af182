package plugin

import (
	"context"
	"fmt"
	"strings"
	"time"

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
	All         bool
	// OlderThan keeps runs (and leftover pods) created less than this long ago; 0 keeps none.
	OlderThan time.Duration
	Force     bool
	DryRun    cmdutil.DryRunStrategy
	// now is the clock --older-than measures against.
	now func() time.Time

	kube
	genericiooptions.IOStreams
}

// NewDeleteOptions returns the defaults.
func NewDeleteOptions(streams genericiooptions.IOStreams) *DeleteOptions {
	return &DeleteOptions{IOStreams: streams, now: time.Now}
}

// NewCmdDelete builds `kubectl llmdbench delete RUN`.
func NewCmdDelete(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewDeleteOptions(streams)
	cmd := &cobra.Command{
		Use:   "delete (RUN | --all-finished | --all) [--older-than DURATION]",
		Short: "Remove a run's launcher pods and ConfigMap (never its results)",
		Long: templates.LongDesc(`
			Remove a run's launcher pods and ConfigMap. Results on the PVC are never deleted, nor
			is any PVC, and no object without this plugin's labels is touched. A run that is still
			running needs --force, which stops its workloads.

			--all removes every run in the namespace and the plugin's leftover pods (launchers
			whose run's ConfigMap is gone, reader pods an interrupted command left); with a run
			still running it refuses, before removing anything, unless --force. --older-than
			keeps what was created less than that long ago. --dry-run=client lists what would go.`),
		Example: templates.Examples(`
			# Remove a finished run's launcher
			kubectl llmdbench delete 1795740000-ab12 -n llm-d

			# Remove every finished run in the namespace
			kubectl llmdbench delete --all-finished -n llm-d

			# See what a clean-up of everything older than a day would remove, then do it
			kubectl llmdbench delete --all --older-than 24h -n llm-d --dry-run=client
			kubectl llmdbench delete --all --older-than 24h -n llm-d`),
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
	cmd.Flags().BoolVar(&o.All, "all", false, "Remove every run and leftover pod of this plugin in the namespace (running runs need --force)")
	cmd.Flags().DurationVar(&o.OlderThan, "older-than", 0, "With --all or --all-finished: only what was created at least this long ago (e.g. 24h)")
	cmd.Flags().BoolVar(&o.Force, "force", false, "Also remove a run that is still running (its workloads stop)")
	cmdutil.AddDryRunFlag(cmd)
	return cmd
}

// Complete resolves the namespace and clients.
func (o *DeleteOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, args []string) error {
	if len(args) == 1 {
		o.RunID = args[0]
	}
	var err error
	if o.DryRun, err = cmdutil.GetDryRunStrategy(cmd); err != nil {
		return err
	}
	return o.kube.complete(f)
}

// Validate checks the arguments.
func (o *DeleteOptions) Validate() error {
	picks := 0
	for _, p := range []bool{o.RunID != "", o.AllFinished, o.All} {
		if p {
			picks++
		}
	}
	switch {
	case picks == 0:
		return fmt.Errorf("name a run, or pass --all-finished or --all ('kubectl llmdbench status' lists the runs)")
	case picks > 1:
		return fmt.Errorf("a run, --all-finished and --all are exclusive: pass one")
	case o.OlderThan < 0:
		return fmt.Errorf("--older-than %s: it must be more than zero", o.OlderThan)
	case o.OlderThan > 0 && o.RunID != "":
		return fmt.Errorf("--older-than selects among all runs: use it with --all or --all-finished, not with a run")
	case o.DryRun == cmdutil.DryRunServer:
		return fmt.Errorf("--dry-run=server is not supported: use --dry-run=client")
	}
	return nil
}

// old tells whether something created at t is older than --older-than (always, without it).
func (o *DeleteOptions) old(t time.Time) bool {
	return o.OlderThan == 0 || !t.After(o.now().Add(-o.OlderThan))
}

// age says how long ago t was, to the second.
func (o *DeleteOptions) age(t time.Time) string {
	return o.now().Sub(t).Truncate(time.Second).String()
}

// Run deletes: everything it picked is read and checked first (a run still running without
// --force stops it before anything is removed), then removed, or only listed with --dry-run=client.
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
	var leftovers []cluster.Leftover
	if o.All {
		all, err := cluster.ListLeftovers(ctx, o.Client, o.namespace, runs)
		if err != nil {
			return err
		}
		for _, l := range all {
			if o.old(l.Created) {
				leftovers = append(leftovers, l)
			}
		}
	}
	type pick struct {
		run cluster.Run
		st  cluster.Status
	}
	var picks []pick
	var running []string
	for _, r := range runs {
		if !o.old(r.Created) {
			continue
		}
		st, err := cluster.Inspect(ctx, o.Client, o.Executor, r)
		if err != nil {
			return fmt.Errorf("reading run %s: %w", r.ID, err)
		}
		if !st.Finished() {
			if o.AllFinished {
				continue
			}
			if !o.Force {
				running = append(running, r.ID+" is "+st.Phase)
				continue
			}
		}
		picks = append(picks, pick{r, st})
	}
	switch {
	case len(running) == 1 && o.RunID != "":
		return fmt.Errorf("run %s: pass --force to stop and remove it", running[0])
	case len(running) > 0:
		return fmt.Errorf("run %s: pass --force to stop and remove them too, or --all-finished to keep them; nothing was removed", strings.Join(running, ", run "))
	}
	dry := o.DryRun == cmdutil.DryRunClient
	for _, p := range picks {
		if dry {
			fmt.Fprintf(o.Out, "run %s would be deleted (%s, created %s ago)\n", p.run.ID, p.st.Phase, o.age(p.run.Created))
			continue
		}
		if err := cluster.DeleteRun(ctx, o.Client, o.namespace, p.run.ID); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "run %s deleted\n", p.run.ID)
		if !p.st.Finished() {
			// Its result folders stay on the PVC; 'results' lists the unfinished ones as incomplete.
			fmt.Fprintf(o.ErrOut, "Run %s was stopped before it finished: the result folders of its unfinished workloads are incomplete.\n", p.run.ID)
		}
	}
	for _, l := range leftovers {
		what := "pod " + l.Pod + " (" + l.App + ")"
		if l.Run != "" {
			what = "run " + l.Run + " (its ConfigMap is gone; pod " + l.Pod + ")"
		}
		if dry {
			fmt.Fprintf(o.Out, "%s would be deleted (created %s ago)\n", what, o.age(l.Created))
			continue
		}
		if err := cluster.DeleteLeftover(ctx, o.Client, o.namespace, l); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "%s deleted\n", what)
	}
	if len(picks) == 0 && len(leftovers) == 0 && o.RunID == "" {
		what := "finished runs"
		if o.All {
			what = "runs or leftover pods of kubectl llmdbench"
		}
		if o.OlderThan > 0 {
			what += " older than " + o.OlderThan.String()
		}
		fmt.Fprintf(o.ErrOut, "No %s in namespace %s.\n", what, o.namespace)
	}
	return nil
}
