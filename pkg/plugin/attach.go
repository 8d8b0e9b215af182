package plugin

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
)

// AttachOptions holds the flags of `attach`.
type AttachOptions struct {
	RunID    string
	Output   string
	Remove   bool
	Interval time.Duration
	// NoFetch leaves the results in the cluster; else they are copied under ResultsDir as run does.
	NoFetch bool
	// PerRequest fetches the per-request files too.
	PerRequest bool
	ResultsDir string

	kube
	genericiooptions.IOStreams
}

// NewAttachOptions returns the defaults.
func NewAttachOptions(streams genericiooptions.IOStreams) *AttachOptions {
	return &AttachOptions{Interval: 5 * time.Second, ResultsDir: DefaultResultsDir, IOStreams: streams}
}

// NewCmdAttach builds `kubectl llmdbench attach RUN`.
func NewCmdAttach(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewAttachOptions(streams)
	cmd := &cobra.Command{
		Use:   "attach RUN",
		Short: "Follow a run again: its log, progress and verdict",
		Long: templates.LongDesc(`
			Follow a run started earlier (with --detach, or whose follower was interrupted): the
			same log, progress, verdict table and exit code as 'run', and like run it copies the
			results to this machine at the end unless --no-fetch. Ctrl-C stops following only. A
			dropped connection is retried; a refusal (Forbidden, NotFound) ends attach at once.`),
		Example: templates.Examples(`
			# Follow run 1795740000-ab12 to its end
			kubectl llmdbench attach 1795740000-ab12 -n llm-d`),
		Args:              cobra.ExactArgs(1),
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
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Print the final status as json or yaml instead of the table")
	cmd.Flags().BoolVar(&o.Remove, "rm", false, "Remove the launcher pods and ConfigMap when the run finished")
	cmd.Flags().BoolVar(&o.NoFetch, "no-fetch", false, "Do not copy the results to this machine at the end")
	cmd.Flags().StringVar(&o.ResultsDir, "results-dir", o.ResultsDir, "Where fetched results go, under a folder per run")
	cmd.Flags().BoolVar(&o.PerRequest, "per-request", false, "Also fetch the per-request files (always with several launchers or --no-pvc)")
	cmd.Flags().DurationVar(&o.Interval, "interval", o.Interval, "Longest wait of one read of the run folder (changes show at once)")
	return cmd
}

// Complete resolves the namespace and clients.
func (o *AttachOptions) Complete(f cmdutil.Factory, args []string) error {
	o.RunID = args[0]
	return o.kube.complete(f)
}

// Validate checks the flags.
func (o *AttachOptions) Validate() error {
	if !o.NoFetch && o.ResultsDir == "" {
		return fmt.Errorf("--results-dir must name a folder (or pass --no-fetch)")
	}
	if o.Interval < time.Second {
		return fmt.Errorf("--interval must be at least 1s")
	}
	return validateOutput(o.Output)
}

// Run follows the run.
func (o *AttachOptions) Run(ctx context.Context) error {
	run, err := cluster.GetRun(ctx, o.Client, o.namespace, o.RunID)
	if err != nil {
		return err
	}
	f := &follower{Client: o.Client, Executor: o.Executor, Wait: o.Interval, Output: o.Output, Remove: o.Remove, IOStreams: o.IOStreams}
	if !o.NoFetch {
		f.FetchTo, f.PerRequest = filepath.Join(o.ResultsDir, run.ID), o.PerRequest
	}
	return f.follow(ctx, run)
}

// completeRuns completes run ids in the current namespace.
func completeRuns(f cmdutil.Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ns, _, err := f.ToRawKubeConfigLoader().Namespace()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		cl, err := newClients(f)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		runs, err := cluster.ListRuns(cmd.Context(), cl.Client, ns)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ids := make([]string, len(runs))
		for i, r := range runs {
			ids[i] = r.ID
		}
		return ids, cobra.ShellCompDirectiveNoFileComp
	}
}
