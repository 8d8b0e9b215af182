package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
	htmlreport "github.com/llmdbench/kubectl-llmdbench/pkg/results/report"
)

// ResultsReportOptions holds the flags of `results report`.
type ResultsReportOptions struct {
	show    ResultsShowOptions
	Targets []string
	// HTML is the report file written (--html).
	HTML   string
	Title  string
	Stat   string
	Names  []string
	Bucket time.Duration
	genericiooptions.IOStreams
}

// NewResultsReportOptions returns the defaults.
func NewResultsReportOptions(streams genericiooptions.IOStreams) *ResultsReportOptions {
	return &ResultsReportOptions{Stat: "p50", Bucket: time.Second, IOStreams: streams}
}

// NewCmdResultsReport builds `kubectl llmdbench results report RUN|DIR... --html FILE`.
func NewCmdResultsReport(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewResultsReportOptions(streams)
	cmd := &cobra.Command{
		Use:   "report RUN|DIR|NAME... --html FILE",
		Short: "Write one self-contained HTML report: metadata, stage tables, SLOs, server metrics and charts",
		Long: templates.LongDesc(`
			Write the results as one HTML file that opens offline and prints: each run's
			metadata, the stage table (the numbers of 'results show'), goodput and the capacity
			answer when there are some, the model servers' metrics per stage when the run
			scraped them, and every chart inline as SVG: latency and throughput against rate,
			the capacity search's charts, the client's latency and throughput over time (from the
			per-request file) and the servers' KV cache, queue and prefix-cache hit rate over
			time. The file holds no script and loads nothing.`),
		Example: templates.Examples(`
			# A local run, with the per-request numbers and goodput
			kubectl llmdbench results report ./llmdbench-results/1795740000-ab12 --per-request --slo ttft=200ms --html report.html

			# Two runs side by side
			kubectl llmdbench results report ./old ./new --name before --name after --html compare.html`),
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
	cmd.Flags().StringVar(&o.HTML, "html", "", "The HTML file to write (required)")
	cmd.Flags().StringVar(&o.Title, "title", "", "The report's title (default: kubectl llmdbench report)")
	addStatFlag(cmd, &o.Stat)
	cmd.Flags().StringArrayVar(&o.Names, "name", nil, "Name of each folder or run, in order (default: run and workload, else the folder name)")
	cmd.Flags().BoolVar(&o.show.PerRequest, "per-request", false, "Also recompute each folder's numbers from its per-request file (a per-request row, goodput with --slo)")
	cmd.Flags().StringVar(&o.show.SLO, "slo", "", "Goodput SLOs with --per-request, e.g. ttft=500ms,tpot=50ms")
	cmd.Flags().DurationVar(&o.Bucket, "bucket", o.Bucket, "Width of the client time series' buckets")
	return cmd
}

// Complete takes the targets; the clients are built only if one is not local.
func (o *ResultsReportOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.Targets = args
	o.show.IOStreams = o.IOStreams
	return o.show.Complete(f, cmd, nil)
}

// Validate checks the flags without I/O.
func (o *ResultsReportOptions) Validate() error {
	if o.HTML == "" {
		return errors.New("--html FILE is required: the report is written there")
	}
	if len(o.Names) > 0 && len(o.Names) != len(o.Targets) {
		return fmt.Errorf("%d --name for %d folders: give one per folder, or none", len(o.Names), len(o.Targets))
	}
	if o.Bucket <= 0 {
		return fmt.Errorf("--bucket %v: it must be more than zero", o.Bucket)
	}
	if err := o.show.validateShared(); err != nil {
		return err
	}
	if len(o.show.slos) > 0 && !o.show.PerRequest {
		return errors.New("--slo needs the per-request data: add --per-request")
	}
	return validateStat(o.Stat)
}

// Run reads every target with its time series and writes the report.
func (o *ResultsReportOptions) Run(ctx context.Context) error {
	groups, names, err := o.show.readGroups(ctx, o.Targets, o.Names, "")
	if err != nil {
		return err
	}
	var runs []htmlreport.Run
	for i, g := range groups {
		for j, r := range g {
			run := htmlreport.Run{Label: names[i][j], Report: r}
			if run.Client, run.Server, run.ServerStages, err = readSeries(ctx, r, o.Bucket); err != nil {
				return err
			}
			runs = append(runs, run)
		}
	}
	dir := filepath.Dir(o.HTML)
	tmp, err := os.CreateTemp(dir, ".llmdbench-report-*.html")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := htmlreport.Write(tmp, runs, htmlreport.Options{Title: o.Title, Generated: time.Now(), Stat: o.Stat}); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), o.HTML); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "%s\t%d result folders\n", o.HTML, len(runs))
	return nil
}

// readSeries reads the time series beside a report's folder: the client's, from its per-request
// file, and the model servers' (results.ServerMetricsFile) with their per-stage numbers. Each is
// nil when the folder has none, and for a report averaging repeats (its folders' times cannot be
// laid over one another).
func readSeries(ctx context.Context, r *results.Report, bucket time.Duration) (*results.ClientSeries, *results.ServerSeries, []results.ServerStageMetrics, error) {
	if r.Repeats > 1 || !dirExists(r.Source) {
		return nil, nil, nil, nil
	}
	client, err := results.ClientTimeSeriesDir(ctx, r.Source, bucket.Seconds())
	if errors.Is(err, results.ErrNoRequestTimes) || errors.Is(err, results.ErrNoRequests) {
		client, err = nil, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if _, err := os.Stat(filepath.Join(r.Source, results.ServerMetricsFile)); err != nil {
		return client, nil, nil, nil
	}
	server, err := results.ReadServerSeries(r.Source)
	if err != nil {
		return nil, nil, nil, err
	}
	return client, server, results.ServerStages(server), nil
}
