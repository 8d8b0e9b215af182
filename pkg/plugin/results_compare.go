package plugin

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// ResultsCompareOptions holds the flags of `results compare`.
type ResultsCompareOptions struct {
	show      ResultsShowOptions
	Labels    []string
	Stat      string
	Threshold float64
	Output    string
	genericiooptions.IOStreams
}

// NewCmdResultsCompare builds `kubectl llmdbench results compare A B [C…]`.
func NewCmdResultsCompare(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ResultsCompareOptions{Stat: "p50", Threshold: 5, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "compare A B [C...]",
		Short: "Compare result folders stage by stage, against the first",
		Long: templates.LongDesc(`
			Compare result folders (local, or names on the PVC) side by side. Stages are matched by
			requested rate, else concurrency, else stage number. Each metric shows its change
			against the first folder in percent, marked better or worse when the change exceeds
			--threshold (noise below it is not marked).`),
		Example: templates.Examples(`
			# Yesterday's run against today's, on p90 latencies
			kubectl llmdbench results compare ./old ./new --percentile p90 --label before --label after`),
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateOutput(o.Output, "csv"); err != nil {
				return err
			}
			if len(o.Labels) > 0 && len(o.Labels) != len(args) {
				return fmt.Errorf("%d --label for %d folders: give one per folder, or none", len(o.Labels), len(args))
			}
			if o.Threshold < 0 {
				return fmt.Errorf("--threshold must be 0 or more")
			}
			return o.Run(cmd.Context(), f, args)
		},
	}
	o.show.access.addFlags(cmd)
	cmd.Flags().StringArrayVar(&o.Labels, "label", nil, "Label of each folder, in order (default: the folder names)")
	cmd.Flags().StringVar(&o.Stat, "percentile", o.Stat, "Latency statistic: mean, p50, p90 or p99")
	cmd.Flags().Float64Var(&o.Threshold, "threshold", o.Threshold, "Changes smaller than this many percent are noise")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: json, yaml or csv")
	return cmd
}

// Run compares.
func (o *ResultsCompareOptions) Run(ctx context.Context, f cmdutil.Factory, args []string) error {
	o.show.IOStreams = o.IOStreams
	reports, labels, err := o.show.readAll(ctx, f, args)
	if err != nil {
		return err
	}
	if len(o.Labels) > 0 {
		labels = o.Labels
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

// readAll reads folders (local or on the PVC) and names them.
func (o *ResultsShowOptions) readAll(ctx context.Context, f cmdutil.Factory, targets []string) ([]*results.Report, []string, error) {
	var reports []*results.Report
	var labels []string
	for _, t := range targets {
		o.Target = t
		dir, err := o.resolve(ctx, f)
		if err != nil {
			return nil, nil, err
		}
		r, err := results.ReadDir(dir)
		if err != nil {
			return nil, nil, err
		}
		if o.PerRequest {
			path := filepath.Join(dir, runstate.PerRequestFile)
			if _, err := os.Stat(path); err != nil {
				fmt.Fprintf(o.ErrOut, "Warning: %s has no %s; its per-request charts are skipped\n", t, runstate.PerRequestFile)
			} else if r.PerRequest, err = results.AnalyzePerRequestFile(path, o.slos); err != nil {
				return nil, nil, fmt.Errorf("--per-request: %w", err)
			}
		}
		reports = append(reports, r)
		labels = append(labels, filepath.Base(filepath.Clean(t)))
	}
	return reports, labels, nil
}

func printComparison(out io.Writer, c *results.Comparison) error {
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
