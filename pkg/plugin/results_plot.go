package plugin

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results/plot"
)

// ResultsPlotOptions holds the flags of `results plot`.
type ResultsPlotOptions struct {
	show   ResultsShowOptions
	Out    string
	Stat   string
	Names  []string
	Output string
	genericiooptions.IOStreams
}

// NewCmdResultsPlot builds `kubectl llmdbench results plot DIR... --out DIR`.
func NewCmdResultsPlot(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ResultsPlotOptions{Out: "llmdbench-plots", Stat: "p50", IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "plot DIR|NAME... [--out DIR]",
		Short: "Draw latency and throughput charts (PNG), one series per run",
		Long: templates.LongDesc(`
			Draw the standard charts as PNG: latency (TTFT and TPOT) and output throughput against
			the achieved request rate, and throughput against request latency. Several folders
			are overlaid, one labelled series each, so runs can be compared on one chart.`),
		Example: templates.Examples(`
			# Two runs on one set of charts, at p90
			kubectl llmdbench results plot ./old ./new --name before --name after --percentile p90 --out ./charts

			# Every workload of a run (repeats averaged), one series each
			kubectl llmdbench results plot ./llmdbench-results/1795740000-ab12`),
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(o.Names) > 0 && len(o.Names) != len(args) {
				return fmt.Errorf("%d --name for %d folders: give one per folder, or none", len(o.Names), len(args))
			}
			if err := o.show.complete(); err != nil {
				return err
			}
			switch o.Stat {
			case "mean", "p50", "p90", "p99":
			default:
				return fmt.Errorf("--percentile %q: use mean, p50, p90 or p99", o.Stat)
			}
			if err := validateOutput(o.Output); err != nil {
				return err
			}
			return o.Run(cmd.Context(), f, args)
		},
	}
	o.show.addFlags(cmd)
	cmd.Flags().StringVar(&o.Out, "out", o.Out, "Folder for the PNG files")
	cmd.Flags().StringVar(&o.Stat, "percentile", o.Stat, "Latency statistic: mean, p50, p90 or p99")
	cmd.Flags().StringArrayVar(&o.Names, "name", nil, "Series name of each folder or run, in order (default: run and workload, else the folder name)")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "List the charts as json or yaml")
	cmd.Flags().BoolVar(&o.show.PerRequest, "per-request", false, "Also draw TTFT and request-latency CDFs from each folder's per-request file")
	return cmd
}

// Run draws.
func (o *ResultsPlotOptions) Run(ctx context.Context, f cmdutil.Factory, args []string) error {
	o.show.IOStreams = o.IOStreams
	groups, names, err := o.show.readGroups(ctx, f, args, o.Names, "")
	if err != nil {
		return err
	}
	var runs []plot.Run
	for i, g := range groups {
		for j, r := range g {
			runs = append(runs, plot.Run{Label: names[i][j], Report: r})
		}
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	charts, err := plot.Charts(runs, o.Out, plot.Options{Stat: o.Stat})
	if err != nil {
		return err
	}
	if o.Output != "" {
		return printStructured(o.IOStreams.Out, o.Output, charts)
	}
	for _, c := range charts {
		fmt.Fprintf(o.IOStreams.Out, "%s\t%s, %d series\n", c.File, c.Title, c.Series)
	}
	return nil
}
