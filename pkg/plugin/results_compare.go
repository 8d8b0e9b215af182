package plugin

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

// ResultsCompareOptions holds the flags of `results compare`.
type ResultsCompareOptions struct {
	show      ResultsShowOptions
	Targets   []string
	Names     []string
	Workload  string
	Stat      string
	Threshold float64
	Output    string
	genericiooptions.IOStreams
}

// NewResultsCompareOptions returns the defaults: p50 latencies, 5% noise.
func NewResultsCompareOptions(streams genericiooptions.IOStreams) *ResultsCompareOptions {
	return &ResultsCompareOptions{Stat: "p50", Threshold: 5, IOStreams: streams}
}

// NewCmdResultsCompare builds `kubectl llmdbench results compare A B [C…]`.
func NewCmdResultsCompare(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewResultsCompareOptions(streams)
	cmd := &cobra.Command{
		Use:   "compare A B [C...]",
		Short: "Compare result folders or runs stage by stage, against the first",
		Long: templates.LongDesc(`
			Compare result folders or runs (local, or names and run IDs on the PVC) side by side.
			Stages are matched by requested rate, else concurrency, else stage number. Each metric
			shows its change against the first in percent, marked better or worse when the change
			exceeds the noise: with repeats on both sides (run --repeat), the two standard
			deviations together; otherwise --threshold.`),
		Example: templates.Examples(`
			# Yesterday's run against today's, on p90 latencies
			kubectl llmdbench results compare ./old ./new --stat p90 --name before --name after

			# Two runs of the same workload with repeats: only changes beyond their spread are marked
			kubectl llmdbench results compare 1795740000-ab12 1795790000-cd34 --workload sanity_random -n llm-d`),
		Args: cobra.MinimumNArgs(2),
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
	cmd.Flags().StringArrayVar(&o.Names, "name", nil, "Name of each folder or run, in order (default: run and workload, else the folder name)")
	cmd.Flags().StringVar(&o.Workload, "workload", "", "The workload to compare when the runs hold several")
	addStatFlag(cmd, &o.Stat)
	cmd.Flags().Float64Var(&o.Threshold, "threshold", o.Threshold, "Changes smaller than this many percent are noise")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: json, yaml or csv")
	return cmd
}

// Complete takes the targets; the clients are built only if one is not local (see
// ResultsShowOptions.factory).
func (o *ResultsCompareOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.Targets = args
	o.show.IOStreams = o.IOStreams
	return o.show.Complete(f, cmd, nil)
}

// Validate checks the flags without I/O.
func (o *ResultsCompareOptions) Validate() error {
	if err := validateOutput(o.Output, "csv"); err != nil {
		return err
	}
	if len(o.Names) > 0 && len(o.Names) != len(o.Targets) {
		return fmt.Errorf("%d --name for %d folders: give one per folder, or none", len(o.Names), len(o.Targets))
	}
	if err := validateStat(o.Stat); err != nil {
		return err
	}
	if err := o.show.validateShared(); err != nil {
		return err
	}
	if o.Threshold < 0 {
		return fmt.Errorf("--threshold must be 0 or more")
	}
	return nil
}

// Run compares.
func (o *ResultsCompareOptions) Run(ctx context.Context) error {
	args := o.Targets
	groups, names, err := o.show.readGroups(ctx, args, o.Names, o.Workload)
	if err != nil {
		return err
	}
	var reports []*results.Report
	var labels []string
	for i, g := range groups {
		if len(g) > 1 {
			var ws []string
			for _, r := range g {
				ws = append(ws, workloadOf(r))
			}
			return fmt.Errorf("%s holds workloads %s: choose one with --workload", args[i], strings.Join(ws, ", "))
		}
		reports, labels = append(reports, g[0]), append(labels, names[i][0])
	}
	c, err := results.Compare(reports, labels, results.CompareOptions{Stat: o.Stat, Threshold: o.Threshold})
	if err != nil {
		return err
	}
	switch o.Output {
	case "":
		return printComparison(o.Out, c)
	case "csv":
		return printComparisonCSV(o.Out, c)
	}
	return printStructured(o.Out, o.Output, c)
}

// readGroups reads targets and averages repeats: one report per workload of each target, named by
// names[i] when given (with the workload appended when a target holds several).
func (o *ResultsShowOptions) readGroups(ctx context.Context, targets, names []string, workload string) ([][]*results.Report, [][]string, error) {
	var all [][]*results.Report
	var labels [][]string
	for i, t := range targets {
		reports, err := o.readTarget(ctx, t)
		if err != nil {
			return nil, nil, err
		}
		var groups []*results.Report
		var groupLabels []string
		for _, g := range results.Repeats(reports) {
			r, err := results.Aggregate(g)
			if err != nil {
				return nil, nil, err
			}
			if workload != "" && (r.Metadata == nil || r.Metadata.Workload != workload) {
				continue
			}
			groups = append(groups, r)
			groupLabels = append(groupLabels, r.Name())
		}
		if len(groups) == 0 {
			return nil, nil, fmt.Errorf("%s has no workload %q", t, workload)
		}
		if len(names) > 0 {
			for j := range groupLabels {
				groupLabels[j] = names[i]
				if len(groups) > 1 {
					groupLabels[j] += " " + workloadOf(groups[j])
				}
			}
		}
		all = append(all, groups)
		labels = append(labels, groupLabels)
	}
	return all, labels, nil
}

// addStatFlag adds --stat, and --percentile as its deprecated alias (it always took mean too).
func addStatFlag(cmd *cobra.Command, stat *string) {
	cmd.Flags().StringVar(stat, "stat", *stat, "Latency statistic: mean, p50, p90 or p99")
	cmd.Flags().StringVar(stat, "percentile", *stat, "Latency statistic (use --stat)")
	_ = cmd.Flags().MarkDeprecated("percentile", "use --stat (it takes mean as well as p50, p90 and p99)")
}

// validateStat checks --stat before any folder is read.
func validateStat(stat string) error {
	switch stat {
	case "mean", "p50", "p90", "p99":
		return nil
	}
	return fmt.Errorf("--stat %q: use mean, p50, p90 or p99", stat)
}

// workloadOf names a report within its run: its workload, or its folder when it has no metadata.
func workloadOf(r *results.Report) string {
	if r.Metadata != nil {
		return r.Metadata.Workload
	}
	return filepath.Base(r.Source)
}

func printComparison(out io.Writer, c *results.Comparison) error {
	if c.Capacity != nil {
		printCapacityComparison(out, c.Labels, c.Capacity)
	}
	fmt.Fprintf(out, "Matched on %s; latencies are %s in ms; change against %s\n", c.Key, c.Stat, c.Labels[0])
	w := printers.GetNewTabWriter(out)
	header := []string{strings.ToUpper(c.Key)}
	names := []string{}
	for _, m := range results.CompareMetrics(c.Stat) {
		names = append(names, m.Name)
		header = append(header, strings.ToUpper(m.Name))
	}
	fmt.Fprintln(w, strings.Join(append([]string{"RUN"}, header...), "\t"))
	for _, row := range c.Rows {
		for i, label := range c.Labels {
			cells := []string{label, strconv.FormatFloat(row.Key, 'g', -1, 64)}
			for _, n := range names {
				mc := row.Metrics[n]
				cell := "-"
				if v := mc.Values[i]; v != nil {
					if strings.Contains(n, "_per_sec") {
						cell = strconv.FormatFloat(*v, 'f', 1, 64)
					} else {
						cell = strconv.FormatFloat(*v*1000, 'f', 1, 64)
					}
				}
				if d := mc.DeltaPct[i]; d != nil {
					cell += fmt.Sprintf(" (%+.1f%%", *d)
					if mc.Verdict[i] != "" {
						cell += " " + mc.Verdict[i]
					}
					cell += ")"
				}
				cells = append(cells, cell)
			}
			fmt.Fprintln(w, strings.Join(cells, "\t"))
		}
	}
	return w.Flush()
}

func printComparisonCSV(out io.Writer, c *results.Comparison) error {
	w := csv.NewWriter(out)
	if err := w.Write([]string{c.Key, "run", "metric", "value", "delta_pct", "verdict"}); err != nil {
		return err
	}
	for _, row := range c.Rows {
		for _, m := range results.CompareMetrics(c.Stat) {
			mc := row.Metrics[m.Name]
			for i, label := range c.Labels {
				rec := []string{strconv.FormatFloat(row.Key, 'g', -1, 64), label, m.Name, "", "", mc.Verdict[i]}
				if v := mc.Values[i]; v != nil {
					rec[3] = strconv.FormatFloat(*v, 'g', -1, 64)
				}
				if d := mc.DeltaPct[i]; d != nil {
					rec[4] = strconv.FormatFloat(*d, 'g', -1, 64)
				}
				if err := w.Write(rec); err != nil {
					return err
				}
			}
		}
	}
	w.Flush()
	return w.Error()
}
