package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

// ResultsMergeOptions holds the flags of `results merge`.
type ResultsMergeOptions struct {
	Dirs      []string
	OutputDir string
	// Expected is the run's number of launchers; 0 takes it from the folders.
	Expected int
	genericiooptions.IOStreams
}

// NewResultsMergeOptions returns the defaults.
func NewResultsMergeOptions(streams genericiooptions.IOStreams) *ResultsMergeOptions {
	return &ResultsMergeOptions{IOStreams: streams}
}

// NewCmdResultsMerge builds `kubectl llmdbench results merge DIR... --output-dir OUT [--expected N]`.
func NewCmdResultsMerge(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewResultsMergeOptions(streams)
	cmd := &cobra.Command{
		Use:   "merge DIR... --output-dir OUT [--expected N]",
		Short: "Merge the result folders of one workload's launchers into one exact result",
		Long: templates.LongDesc(`
			Merge the result folders that the launchers of one workload wrote (one folder per
			launcher) into one result folder: per stage, every launcher's requests together, with
			percentiles computed over all of them (never an average of the launchers'
			percentiles), failures by label summed, and the achieved rate over the launchers'
			common window. The merge reads each folder's per-request file once.

			A launcher whose folder says it failed or is incomplete, or that wrote no folder, is
			left out and named; the merged folder's verdict is succeeded only when every
			expected launcher succeeded.`),
		Example: templates.Examples(`
			# The 4 launchers of a workload, of which only 3 wrote a folder
			kubectl llmdbench results merge ./run/w_0 ./run/w_1 ./run/w_2 --expected 4 --output-dir ./run/w`),
		Args: cobra.MinimumNArgs(1),
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
	cmd.Flags().StringVar(&o.OutputDir, "output-dir", "", "Folder to write the merged result into (created; it must not hold results)")
	cmd.Flags().IntVar(&o.Expected, "expected", 0, "How many launchers the workload had (default: from the folders' llmdbench-launcher.json, else the folders given)")
	return cmd
}

// Complete takes the folders.
func (o *ResultsMergeOptions) Complete(_ cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.Dirs = args
	return nil
}

// Validate checks the flags without I/O.
func (o *ResultsMergeOptions) Validate() error {
	switch {
	case strings.TrimSpace(o.OutputDir) == "":
		return errors.New("--output-dir is required: the folder to write the merged result into")
	case o.Expected < 0:
		return fmt.Errorf("--expected %d: give the number of launchers (1 or more), or leave it out", o.Expected)
	case o.Expected > 0 && len(o.Dirs) > o.Expected:
		return fmt.Errorf("%d folders but --expected %d: one folder per launcher", len(o.Dirs), o.Expected)
	}
	return nil
}

// Run merges and says what was merged.
func (o *ResultsMergeOptions) Run(ctx context.Context) error {
	sum, err := results.Merge(ctx, o.Dirs, o.Expected, o.OutputDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "%s: %s\n", o.OutputDir, sum.Describe())
	for _, st := range sum.Stages {
		name := fmt.Sprintf("stage %d", st.Stage)
		if st.Stage < 0 {
			name = "whole run"
		}
		fmt.Fprintf(o.Out, "  %s: %d requests (%d failed), achieved %s req/s over %s s (%s)\n",
			name, st.Requests, st.Failed, num(st.AchievedRate, 2), num(st.WindowSeconds, 3), st.WindowSource)
	}
	return nil
}
