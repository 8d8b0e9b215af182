package plugin

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"
	"k8s.io/kubectl/pkg/util/term"

	"github.com/llmdbench/kubectl-llmdbench/pkg/transfer"
)

// PackOptions holds the flags of `pack`.
type PackOptions struct {
	Paths   []string
	Check   bool
	Workers int
	genericiooptions.IOStreams
}

// NewPackOptions returns the defaults.
func NewPackOptions(streams genericiooptions.IOStreams) *PackOptions {
	return &PackOptions{IOStreams: streams}
}

// NewCmdPack builds `kubectl llmdbench pack`, which `cp` runs inside pods that have the plugin.
func NewCmdPack(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewPackOptions(streams)
	cmd := &cobra.Command{
		Use:   "pack PATH...",
		Short: "Write folders as a zstd-compressed tar to stdout (what cp runs inside a pod)",
		Long: templates.LongDesc(`
			Write the named folders and files (relative to the working directory) to stdout as a
			tar stream compressed with zstd on every core. cp runs it inside launcher pods whose
			image has the plugin (the native harness image does) and falls back to tar and gzip
			elsewhere. --check only tells, by its exit code, that this version can pack.`),
		Example: templates.Examples(`
			# What cp runs in a pod
			cd /requests && kubectl-llmdbench pack inference-perf_1795740000-ab12_sanity_random > results.tar.zst`),
		Hidden: true,
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
	cmd.Flags().BoolVar(&o.Check, "check", false, "Exit 0 without writing anything (cp's probe)")
	cmd.Flags().IntVar(&o.Workers, "workers", 0, "Parallel encoders (0: one per usable CPU)")
	return cmd
}

// Complete takes the paths (pack runs inside pods: it never reaches the cluster).
func (o *PackOptions) Complete(_ cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.Paths = args
	return nil
}

// Validate refuses what cannot be packed, before anything is written.
func (o *PackOptions) Validate() error {
	if o.Check {
		return nil
	}
	if len(o.Paths) == 0 {
		return errors.New("name at least one folder or file to pack")
	}
	if o.Workers < 0 {
		return errors.New("--workers must be 0 (one per CPU) or more")
	}
	return nil
}

// Run packs into stdout.
func (o *PackOptions) Run(ctx context.Context) error {
	if o.Check {
		return nil
	}
	if term.IsTerminal(o.Out) {
		return errors.New("refusing to write a compressed archive to a terminal: redirect stdout")
	}
	return transfer.Pack(ctx, o.Out, ".", o.Paths, o.Workers)
}
