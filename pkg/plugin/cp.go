package plugin

import (
	"context"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"
	"k8s.io/kubectl/pkg/util/term"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
	"github.com/llmdbench/kubectl-llmdbench/pkg/transfer"
)

// DefaultResultsDir is where fetched results land, under a folder per run.
const DefaultResultsDir = "llmdbench-results"

// CpOptions holds the flags of `cp`.
type CpOptions struct {
	access     resultsAccess
	Source     string
	Dest       string
	PerRequest bool
	Retries    int
	MaxSize    string
	Compress   string

	maxBytes    int64
	compression transfer.Compression
	genericiooptions.IOStreams
}

// NewCpOptions returns the defaults.
func NewCpOptions(streams genericiooptions.IOStreams) *CpOptions {
	return &CpOptions{Retries: 3, MaxSize: "64Gi", Compress: string(transfer.CompressAuto), IOStreams: streams}
}

// NewCmdCp builds `kubectl llmdbench cp NAME|RUN [DEST]`.
func NewCmdCp(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewCpOptions(streams)
	cmd := &cobra.Command{
		Use:   "cp (NAME | RUN) [DEST]",
		Short: "Copy a result folder, or every folder of a run, to this machine",
		Long: templates.LongDesc(`
			Copy one result folder, or every folder of a run (all workloads, all launchers), as a
			compressed tar stream over exec; by default into ./llmdbench-results/<run>/. The
			per-request file (often GBs) is skipped unless --per-request. A cut stream is retried,
			fetching only the files not yet complete; a later cp into the same DEST resumes too:
			files already there with the size and SHA-256 they have in the pod are not sent again.
			Extraction never writes outside DEST.`),
		Example: templates.Examples(`
			# Every result folder of a run
			kubectl llmdbench cp 1795740000-ab12 -n llm-d

			# One folder, with its per-request file, into ./out
			kubectl llmdbench cp inference-perf_1795740000-ab12_sanity_random_pd-gpt-oss-120b ./out --per-request`),
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(f, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
		ValidArgsFunction: completeRuns(f),
	}
	o.access.addFlags(cmd)
	cmd.Flags().BoolVar(&o.PerRequest, "per-request", false, "Also copy the per-request file ("+runstate.PerRequestFile+")")
	cmd.Flags().StringVar(&o.Compress, "compress", o.Compress, "auto (zstd on every core by the plugin in the pod when it has one, as the native harness image does; else the image's zstd if any; else gzip), gzip (any image: a seventh of the bytes, one core) or none")
	cmd.Flags().StringVar(&o.MaxSize, "max-size", o.MaxSize, "Refuse to write more than this (a guard against runaway streams)")
	cmd.Flags().IntVar(&o.Retries, "retries", o.Retries, "Retries of a cut stream (each fetches only the files not yet complete)")
	return cmd
}

// Complete takes the source and destination and builds the clients.
func (o *CpOptions) Complete(f cmdutil.Factory, args []string) error {
	o.Source = args[0]
	if len(args) == 2 {
		o.Dest = args[1]
	}
	return o.access.complete(f)
}

// Validate checks the flags (no I/O).
func (o *CpOptions) Validate() error {
	if o.Retries < 0 {
		return fmt.Errorf("--retries must be 0 or more")
	}
	q, err := resource.ParseQuantity(o.MaxSize)
	if err != nil || q.Sign() <= 0 {
		return fmt.Errorf("--max-size %q: give a size such as 64Gi", o.MaxSize)
	}
	o.maxBytes = q.Value()
	if o.compression, err = transfer.ParseCompression(o.Compress); err != nil {
		return err
	}
	return nil
}

// Run copies.
func (o *CpOptions) Run(ctx context.Context) error {
	warn := func(m string) { fmt.Fprintf(o.ErrOut, "Warning: %s\n", m) }
	acc, folders, err := o.access.openTarget(ctx, o.Source, noteTo(o.ErrOut), warn)
	if err != nil {
		return err
	}
	defer closeAccess(ctx, acc, warn)
	dirs := make([]string, len(folders))
	for i, f := range folders {
		dirs[i] = f.Name
	}
	run := folders[0].Run
	dest := o.Dest
	if dest == "" {
		dest = filepath.Join(DefaultResultsDir, run)
	}
	res, err := fetchResults(ctx, o.access.Executor, acc.Pod, dirs, dest, o.PerRequest, o.Retries, transfer.ExtractOptions{MaxBytes: o.maxBytes}, o.compression, o.IOStreams)
	if err != nil && ctx.Err() != nil {
		return copyInterrupted(acc, dest, res, err)
	}
	return err
}

// copyInterrupted says what a copy stopped by Ctrl-C left: the complete files stay in dest
// (a new cp resumes), the reader pod goes (the deferred closeAccess removes it).
func copyInterrupted(acc *cluster.Access, dest string, res transfer.Result, cause error) error {
	in := &Interrupted{Err: cause, Running: "nothing runs"}
	in.Cleaned = fmt.Sprintf("%d file(s), %s, copied to %s (cp again resumes)", res.Files, humanBytes(res.Bytes), dest)
	if res.Present > 0 {
		in.Cleaned = fmt.Sprintf("%d file(s), %s, copied to %s besides %d already there (cp again resumes)", res.Files, humanBytes(res.Bytes), dest, res.Present)
	}
	if acc.Reader {
		in.Cleaned += fmt.Sprintf(", reader pod %s removed", acc.Pod.Name)
	}
	return in
}

// fetchResults copies folders (relative to the results mount) into dest and reports on stderr.
func fetchResults(ctx context.Context, ex cluster.Executor, pod cluster.PodRef, dirs []string, dest string, perRequest bool, retries int, limits transfer.ExtractOptions, compression transfer.Compression, streams genericiooptions.IOStreams) (transfer.Result, error) {
	var bar *progressbar.ProgressBar
	if term.IsTerminal(streams.ErrOut) {
		bar = progressbar.DefaultBytes(-1, "copying results")
	}
	start := time.Now()
	res, err := transfer.Copy(ctx, func(ctx context.Context, cmd []string, stdout, stderr io.Writer) error {
		return ex.Exec(ctx, pod, cmd, stdout, stderr)
	}, transfer.Options{
		Base:        runstate.ResultsMount,
		Dirs:        dirs,
		Dest:        dest,
		Retries:     retries,
		Limits:      limits,
		Compression: compression,
		Packer:      launcher.NativeExecutable,
		Skip: func(f transfer.File) bool {
			return !perRequest && path.Base(f.Path) == runstate.PerRequestFile
		},
		Progress: func(done, total int64) {
			if bar != nil {
				bar.ChangeMax64(total)
				_ = bar.Set64(done)
			}
		},
		OnRetry: func(attempt int, err error) {
			fmt.Fprintf(streams.ErrOut, "copy interrupted (%s); retry %d of %d fetches only what is missing\n", cluster.OneLine(err), attempt, retries)
		},
	})
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		return res, fmt.Errorf("copying results to %s: %w", dest, err)
	}
	took := time.Since(start).Round(time.Millisecond)
	if res.Files == 0 && res.Present > 0 {
		fmt.Fprintf(streams.ErrOut, "Nothing to copy: all %d file(s), %s, are already complete in %s (same size and SHA-256 as in the pod; checked in %s)\n",
			res.Present, humanBytes(res.PresentBytes), dest, took)
	} else {
		fmt.Fprintf(streams.ErrOut, "Copied %d file(s), %s, to %s in %s (%s over the wire, %s, %d attempt(s))\n",
			res.Files, humanBytes(res.Bytes), dest, took, humanBytes(res.WireBytes), res.Codec, res.Attempts)
		if res.Present > 0 {
			fmt.Fprintf(streams.ErrOut, "Kept %d file(s), %s, already complete in %s (same size and SHA-256 as in the pod)\n", res.Present, humanBytes(res.PresentBytes), dest)
		}
	}
	if len(res.Skipped) > 0 {
		var size int64
		for _, f := range res.Skipped {
			size += f.Size
		}
		fmt.Fprintf(streams.ErrOut, "Skipped %d per-request file(s), %s: add --per-request to copy them\n", len(res.Skipped), humanBytes(size))
	}
	return res, nil
}
