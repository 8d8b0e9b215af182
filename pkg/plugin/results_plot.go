package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results/plot"
)

// ResultsPlotOptions holds the flags of `results plot`.
type ResultsPlotOptions struct {
	show    ResultsShowOptions
	Targets []string
	// OutDir receives the PNG files (--out); not to be confused with IOStreams.Out.
	OutDir string
	Stat   string
	Names  []string
	Output string
	// Bucket is the width of the client time series' buckets (--bucket).
	Bucket time.Duration
	genericiooptions.IOStreams
}

// NewResultsPlotOptions returns the defaults.
func NewResultsPlotOptions(streams genericiooptions.IOStreams) *ResultsPlotOptions {
	return &ResultsPlotOptions{OutDir: "llmdbench-plots", Stat: "p50", Bucket: time.Second, IOStreams: streams}
}

// NewCmdResultsPlot builds `kubectl llmdbench results plot DIR... --out DIR`.
func NewCmdResultsPlot(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewResultsPlotOptions(streams)
	cmd := &cobra.Command{
		Use:   "plot DIR|NAME... [--out DIR]",
		Short: "Draw latency and throughput charts (PNG), one series per run",
		Long: templates.LongDesc(`
			Draw the standard charts as PNG: latency (TTFT and TPOT) and output throughput against
			the achieved request rate, and throughput against request latency. Several folders
			are overlaid, one labelled series each, so runs can be compared on one chart.

			A capacity search (run --find-max) also gets its own charts against the offered level:
			goodput and achieved rate, and each SLO's measured value with its limit, the answer
			marked by a vertical line and the bracket [passing, failing] shaded.

			A folder with a per-request file also gets its client time series: TTFT and ITL
			p50/p90, completed requests/s and output tokens/s per --bucket, with stage starts
			marked. A folder whose run scraped the model servers gets their KV-cache usage,
			running and waiting requests and prefix-cache hit rate per pod over time, and the
			servers' per-stage numbers against the rate.`),
		Example: templates.Examples(`
			# Two runs on one set of charts, at p90
			kubectl llmdbench results plot ./old ./new --name before --name after --stat p90 --out ./charts

			# Every workload of a run (repeats averaged), one series each
			kubectl llmdbench results plot ./llmdbench-results/1795740000-ab12`),
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
	o.show.addFlags(cmd)
	cmd.Flags().StringVar(&o.OutDir, "out", o.OutDir, "Folder for the PNG files")
	addStatFlag(cmd, &o.Stat)
	cmd.Flags().StringArrayVar(&o.Names, "name", nil, "Series name of each folder or run, in order (default: run and workload, else the folder name)")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "List the charts as json or yaml")
	cmd.Flags().BoolVar(&o.show.PerRequest, "per-request", false, "Also draw TTFT and request-latency CDFs from each folder's per-request file")
	cmd.Flags().DurationVar(&o.Bucket, "bucket", o.Bucket, "Width of the client time series' buckets")
	return cmd
}

// Complete takes the targets; the clients are built only if one is not local (see
// ResultsShowOptions.factory).
func (o *ResultsPlotOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.Targets = args
	o.show.IOStreams = o.IOStreams
	return o.show.Complete(f, cmd, nil)
}

// Validate checks the flags without I/O.
func (o *ResultsPlotOptions) Validate() error {
	if len(o.Names) > 0 && len(o.Names) != len(o.Targets) {
		return fmt.Errorf("%d --name for %d folders: give one per folder, or none", len(o.Names), len(o.Targets))
	}
	if err := o.show.validateShared(); err != nil {
		return err
	}
	if err := validateStat(o.Stat); err != nil {
		return err
	}
	if o.Bucket <= 0 {
		return fmt.Errorf("--bucket %v: it must be more than zero", o.Bucket)
	}
	return validateOutput(o.Output)
}

// Run draws.
func (o *ResultsPlotOptions) Run(ctx context.Context) error {
	groups, names, err := o.show.readGroups(ctx, o.Targets, o.Names, "")
	if err != nil {
		return err
	}
	var runs []plot.Run
	for i, g := range groups {
		for j, r := range g {
			runs = append(runs, plot.Run{Label: names[i][j], Report: r})
		}
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return err
	}
	// A capacity search's charts first: goodput and each SLO against the offered level.
	var charts []plot.Chart
	var capacityRuns []plot.Run
	for _, r := range runs {
		if r.Report.Capacity != nil {
			capacityRuns = append(capacityRuns, r)
		}
	}
	for _, r := range capacityRuns {
		prefix := "capacity_"
		if len(capacityRuns) > 1 {
			prefix += plot.FileSafe(r.Label) + "_"
		}
		cs, err := plot.CapacityCharts(r, o.OutDir, prefix, plot.Options{})
		if err != nil {
			return err
		}
		charts = append(charts, cs...)
	}
	std, err := plot.Charts(runs, o.OutDir, plot.Options{Stat: o.Stat})
	if err != nil && !(errors.Is(err, plot.ErrNothingToPlot) && len(charts) > 0) {
		return err
	}
	charts = append(charts, std...)
	// Time series, where the folders have them.
	for _, r := range runs {
		client, server, stages, err := readSeries(ctx, r.Report, o.Bucket)
		if err != nil {
			return err
		}
		prefix := ""
		if len(runs) > 1 {
			prefix = plot.FileSafe(r.Label) + "_"
		}
		for _, draw := range []func() ([]plot.Chart, error){
			func() ([]plot.Chart, error) {
				return plot.ClientSeriesCharts(r.Label, client, o.OutDir, prefix, plot.Options{})
			},
			func() ([]plot.Chart, error) {
				return plot.ServerSeriesCharts(r.Label, server, o.OutDir, prefix, plot.Options{})
			},
			func() ([]plot.Chart, error) {
				return plot.ServerVsRateCharts(r, stages, o.OutDir, prefix, plot.Options{})
			},
		} {
			cs, err := draw()
			if err != nil {
				return err
			}
			charts = append(charts, cs...)
		}
	}
	if o.Output != "" {
		return printStructured(o.Out, o.Output, charts)
	}
	for _, c := range charts {
		fmt.Fprintf(o.Out, "%s\t%s, %d series\n", c.File, c.Title, c.Series)
	}
	return nil
}
