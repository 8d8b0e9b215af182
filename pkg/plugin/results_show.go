package plugin

import (
	"context"
	"encoding/csv"
	"errors"
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

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
	"github.com/llmdbench/kubectl-llmdbench/pkg/transfer"
)

// ResultsShowOptions holds the flags of `results show`.
type ResultsShowOptions struct {
	access     resultsAccess
	Target     string
	Output     string
	PerRequest bool
	// Launchers keeps the launcher folders a merged folder covers.
	Launchers bool
	// ServerMetrics prints each folder's server metrics table (--server-metrics).
	ServerMetrics bool
	SLO           string
	slos          results.SLOs
	// Selector keeps only folders whose run carries these labels (--label KEY=VALUE).
	Selector []string
	selector map[string]string
	// CacheDir keeps result folders fetched from the PVC.
	CacheDir string
	// verdicts are the fetched folders' verdicts as the PVC's run state decides them.
	verdicts map[string]string
	// factory reaches the cluster only when a target is not local: reading a local folder needs
	// no kubeconfig, so the clients are built on first use (access.complete), not in Complete.
	factory cmdutil.Factory
	genericiooptions.IOStreams
}

// NewResultsShowOptions returns the defaults.
func NewResultsShowOptions(streams genericiooptions.IOStreams) *ResultsShowOptions {
	return &ResultsShowOptions{IOStreams: streams}
}

// NewCmdResultsShow builds `kubectl llmdbench results show DIR|NAME|RUN`.
func NewCmdResultsShow(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewResultsShowOptions(streams)
	cmd := &cobra.Command{
		Use:   "show (DIR | NAME | RUN)",
		Short: "Show a result folder's numbers per stage, from any harness; a run's repeats as mean and spread",
		Long: templates.LongDesc(`
			Show a result folder per stage: requested and achieved rate (or concurrency), requests,
			TTFT, TPOT, ITL, NTPOT and end-to-end latency (mean/p50/p90/p99, ms in the table, seconds
			in json/yaml/csv), and throughput. Reads inference-perf's files, benchmark reports v0.1
			and v0.2, GuideLLM and vLLM benchmark JSON. A NAME from 'kubectl llmdbench results' is
			fetched from the PVC (without the per-request file) and kept in a local cache.

			Given a run (its ID, or a local folder holding its result folders), every workload is
			shown once: repeats (run --repeat) are averaged stage by stage, with each number's
			standard deviation across them.

			A folder holding the model servers' metrics (server_metrics.jsonl, scraped during the
			run) says so in one line; --server-metrics prints them per stage and pod: KV-cache
			usage, requests running and waiting, prefix-cache hit rate, preemptions, and the
			prompt and generation tokens per second the servers counted. -o json and -o yaml
			always carry them (server_metrics).

			A folder whose workload did not succeed (still running, incomplete because its
			launcher is gone, failed or timed out) is PARTIAL: its numbers are printed, marked
			PARTIAL in the header and named on stderr, -o json has "complete": false in its
			metadata, and the command exits with code 3.`),
		Example: templates.Examples(`
			# A local folder
			kubectl llmdbench results show ./llmdbench-results/1795740000-ab12/inference-perf_1795740000-ab12_sanity_random_pd

			# A folder on the PVC, as JSON
			kubectl llmdbench results show inference-perf_1795740000-ab12_sanity_random_pd -n llm-d -o json

			# Every workload of a run, repeats averaged
			kubectl llmdbench results show 1795740000-ab12 -n llm-d`),
		Args: cobra.ExactArgs(1),
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
	o.addFlags(cmd)
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: json, yaml or csv")
	cmd.Flags().BoolVar(&o.Launchers, "launchers", false, "Also show each launcher's own folder of a run with several launchers (by default only their merged result)")
	cmd.Flags().BoolVar(&o.PerRequest, "per-request", false, "Recompute the distributions exactly from "+runstate.PerRequestFile+" (streamed)")
	cmd.Flags().StringVar(&o.SLO, "slo", "", "Goodput SLOs with --per-request, e.g. ttft=500ms,tpot=50ms[,itl=…,ntpot=…,e2e=…]")
	cmd.Flags().BoolVar(&o.ServerMetrics, "server-metrics", false, "Also show what the model servers reported per stage and pod (from "+results.ServerMetricsFile+"; -o json/yaml always carry it)")
	return cmd
}

func (o *ResultsShowOptions) addFlags(cmd *cobra.Command) {
	o.access.addFlags(cmd)
	cmd.Flags().StringArrayVar(&o.Selector, "label", nil, "Only folders whose run has this label KEY=VALUE (run --label; repeatable)")
}

// Complete takes the target and keeps the factory for a target that is not local.
func (o *ResultsShowOptions) Complete(f cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.factory = f
	if len(args) > 0 {
		o.Target = args[0]
	}
	return nil
}

// Validate checks the flags without I/O.
func (o *ResultsShowOptions) Validate() error {
	if err := validateOutput(o.Output, "csv"); err != nil {
		return err
	}
	if err := o.validateShared(); err != nil {
		return err
	}
	if len(o.slos) > 0 && !o.PerRequest {
		return fmt.Errorf("--slo needs the per-request data: add --per-request")
	}
	if o.ServerMetrics && o.Output == "csv" {
		return fmt.Errorf("--server-metrics is a table; -o json and -o yaml carry server_metrics, csv does not")
	}
	return nil
}

// validateShared parses the flags shared by show, compare and plot (no I/O).
func (o *ResultsShowOptions) validateShared() error {
	var err error
	if o.slos, err = results.ParseSLOs(o.SLO); err != nil {
		return err
	}
	o.selector, err = parseSelector(o.Selector)
	return err
}

// parseSelector validates --label as run does, so a filter names only labels a run can carry.
func parseSelector(pairs []string) (map[string]string, error) { return parseLabels(pairs) }

// Run reads and prints.
func (o *ResultsShowOptions) Run(ctx context.Context) error {
	reports, err := o.readTarget(ctx, o.Target)
	if err != nil {
		return err
	}
	partial := warnPartial(o.ErrOut, reports)
	shown, err := results.AggregateRepeats(reports)
	if err != nil {
		return err
	}
	if err := o.print(shown); err != nil {
		return err
	}
	return partial
}

func (o *ResultsShowOptions) print(shown []*results.Report) error {
	switch o.Output {
	case "":
		for i, r := range shown {
			if i > 0 {
				fmt.Fprintln(o.Out)
			}
			if err := printReport(o.Out, r); err != nil {
				return err
			}
			if o.ServerMetrics {
				if err := printServerMetrics(o.Out, r); err != nil {
					return err
				}
			} else if n := len(r.ServerMetrics); n > 0 {
				over := fmt.Sprintf("%d %s", n, plural(n, "stage", "stages"))
				if r.ServerMetrics[0].Stage < 0 {
					over = "the whole run"
				}
				pods := len(r.ServerMetrics[0].Pods)
				fmt.Fprintf(o.Out, "Server metrics: %d %s scraped over %s (--server-metrics shows them).\n", pods, plural(pods, "pod", "pods"), over)
			}
		}
		return nil
	case "csv":
		return printReportsCSV(o.Out, shown)
	}
	if len(shown) == 1 {
		return printStructured(o.Out, o.Output, shown[0])
	}
	return printStructured(o.Out, o.Output, shown)
}

// readTarget reads every result folder a target names: a local result folder, a local folder of
// result folders (a fetched run), a run ID or a folder name on the PVC (fetched into the cache).
// Folders not matching --label are left out.
func (o *ResultsShowOptions) readTarget(ctx context.Context, target string) ([]*results.Report, error) {
	var all []*results.Report
	var err error
	switch {
	case dirExists(target):
		all, err = o.readLocal(target)
	case strings.ContainsAny(target, `/\`):
		err = fmt.Errorf("%s is not a result folder", target)
	default:
		var dirs []string
		if dirs, err = o.fetch(ctx, target); err == nil {
			for _, dir := range dirs {
				r, rerr := results.ReadDir(dir)
				if rerr != nil {
					return nil, rerr
				}
				settleVerdict(r, o.verdicts)
				all = append(all, r)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	reports := results.Select(all, o.selector)
	if !o.Launchers {
		reports = results.PreferMerged(reports)
	}
	for _, r := range reports {
		if !o.PerRequest {
			continue
		}
		switch err := results.AddPerRequest(r, o.slos); {
		case errors.Is(err, results.ErrNoPerRequestFile):
			fmt.Fprintf(o.ErrOut, "Warning: %s has no %s; its per-request numbers are skipped\n", r.Source, runstate.PerRequestFile)
		case errors.Is(err, results.ErrNoRequests):
			fmt.Fprintf(o.ErrOut, "Warning: %s is an empty array; %s has no per-request numbers\n", filepath.Join(r.Source, runstate.PerRequestFile), r.Source)
		case err != nil:
			return nil, fmt.Errorf("--per-request: %w", err)
		}
	}
	if len(reports) == 0 {
		return nil, fmt.Errorf("%s: no result folder matches --label %s", target, strings.Join(o.Selector, ","))
	}
	return reports, nil
}

// readLocal reads a local result folder, or every result folder inside a folder (a run fetched by
// 'run' or 'cp'), and names on stderr each sub-folder left out because it holds no results.
func (o *ResultsShowOptions) readLocal(dir string) ([]*results.Report, error) {
	// With --per-request a folder holding only the per-request file is read from that file alone.
	reports, skipped, err := results.ReadLocalWith(dir, results.ReadOptions{PerRequestOnly: o.PerRequest})
	if errors.Is(err, results.ErrOnlyPerRequest) {
		err = fmt.Errorf("%w (--per-request reads it)", err)
	}
	for _, s := range skipped {
		fmt.Fprintf(o.ErrOut, "Warning: %v; left out\n", s)
	}
	return reports, err
}

// fetch copies a result folder, or every folder of a run, from the PVC into the local cache and
// returns their local paths. Folders already cached are not fetched again.
func (o *ResultsShowOptions) fetch(ctx context.Context, target string) ([]string, error) {
	cache := results.Cache{Dir: o.CacheDir}
	if cache.Dir == "" {
		var err error
		if cache, err = results.DefaultCache(); err != nil {
			return nil, err
		}
	}
	if !launcher.IsRunID(target) && cache.Has(target, o.PerRequest) {
		return []string{cache.Path(target)}, nil
	}
	if o.factory == nil {
		return nil, fmt.Errorf("%s is not a local folder, and no cluster is configured to fetch it from", target)
	}
	if err := o.access.complete(o.factory); err != nil {
		return nil, err
	}
	warn := func(m string) { fmt.Fprintf(o.ErrOut, "Warning: %s\n", m) }
	acc, folders, err := o.access.openTarget(ctx, target, noteTo(o.ErrOut), warn)
	if err != nil {
		return nil, err
	}
	o.verdicts = folderVerdicts(folders)
	defer closeAccess(ctx, acc, warn)
	var dirs, names []string
	for _, fl := range folders {
		dirs, names = append(dirs, cache.Path(fl.Name)), append(names, fl.Name)
	}
	missing := cache.Missing(names, o.PerRequest)
	err = cache.Fill(missing, func(tmp string) error {
		_, err := fetchResults(ctx, o.access.Executor, acc.Pod, missing, tmp, o.PerRequest, 3, transfer.ExtractOptions{}, transfer.CompressAuto, o.IOStreams)
		return err
	})
	if err != nil {
		return nil, err
	}
	return dirs, nil
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func ms(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p*1000, 'f', 1, 64)
}

func num(p *float64, prec int) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'f', prec, 64)
}

func distCell(d *results.Dist) string {
	if d == nil {
		return "-"
	}
	return ms(d.Mean) + "/" + ms(d.P50) + "/" + ms(d.P90) + "/" + ms(d.P99)
}

// requestCells shows request counts, `-` when the file holds none; incomplete requests (GuideLLM)
// follow the failures as "+N incomplete".
func requestCells(r *results.Requests) (string, string) {
	if r == nil {
		return "-", "-"
	}
	failed := strconv.Itoa(r.Failed)
	if r.Incomplete != nil && *r.Incomplete > 0 {
		failed += fmt.Sprintf(" (+%d incomplete)", *r.Incomplete)
	}
	return strconv.Itoa(r.Succeeded), failed
}

func printReport(out io.Writer, r *results.Report) error {
	fmt.Fprintf(out, "%s (%s", r.Source, r.Format)
	if r.Model != "" {
		fmt.Fprintf(out, ", model %s", r.Model)
	}
	fmt.Fprintln(out, ")")
	if r.Capacity != nil {
		if err := printCapacity(out, r.Capacity); err != nil {
			return err
		}
	}
	if r.Merge != nil {
		fmt.Fprintln(out, r.Merge.Describe())
	}
	if note := partialNote(r); note != "" {
		fmt.Fprintln(out, note)
	}
	w := printers.GetNewTabWriter(out)
	fmt.Fprintln(w, "STAGE\tRATE REQ/ACH\tCONC\tOK\tFAILED\tTTFT ms mean/p50/p90/p99\tTPOT ms\tITL ms\tNTPOT ms\tE2E ms\tREQ/S\tIN TOK/S\tOUT TOK/S")
	row := func(label string, m results.Metrics) {
		ok, failed := requestCells(m.Requests)
		fmt.Fprintf(w, "%s\t%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", label,
			num(m.RequestedRate, 2), num(m.AchievedRate, 2), num(m.Concurrency, 0), ok, failed,
			distCell(m.Latency.TTFT), distCell(m.Latency.TPOT), distCell(m.Latency.ITL), distCell(m.Latency.NTPOT), distCell(m.Latency.E2E),
			num(m.Throughput.RequestsPerSec, 2), num(m.Throughput.InputTokensPerSec, 1), num(m.Throughput.OutputTokensPerSec, 1))
	}
	for _, st := range r.Stages {
		row(strconv.Itoa(st.Stage), st.Metrics)
	}
	if r.Summary != nil {
		row("all", *r.Summary)
	}
	if r.PerRequest != nil {
		row("per-request", r.PerRequest.Metrics)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if r.Repeats > 1 {
		if err := printSpread(out, r); err != nil {
			return err
		}
	}
	if pr := r.PerRequest; pr != nil && pr.Goodput != nil {
		fmt.Fprintf(out, "Goodput: %d of %d requests (%.1f%%) met every SLO; %.3f good requests/s\n",
			pr.Goodput.Good, pr.Goodput.Total, 100*pr.Goodput.Share, pr.Goodput.RatePerS)
	}
	if t := r.Definitions["tpot"]; t != "" {
		fmt.Fprintf(out, "TPOT: %s. ITL: %s.\n", t, r.Definitions["itl"])
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// printServerMetrics prints a report's server metrics: per stage a table of its pods and all
// model-server pods together (KV-cache usage in %, requests running and waiting, prefix-cache
// hit rate in %, preemptions, and the servers' prompt and generation tokens per second); `-`
// where a number was not measured.
func printServerMetrics(out io.Writer, r *results.Report) error {
	if len(r.ServerMetrics) == 0 {
		why := "no " + results.ServerMetricsFile + " with samples in " + r.Source
		if r.Repeats > 1 {
			why = "repeats are averaged; each repeat's folder shows its own"
		}
		fmt.Fprintf(out, "Server metrics: none (%s).\n", why)
		return nil
	}
	pct := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatFloat(*p*100, 'f', 1, 64)
	}
	exact := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatFloat(*p, 'f', -1, 64)
	}
	for _, st := range r.ServerMetrics {
		label := "stage " + strconv.Itoa(st.Stage)
		if st.Stage < 0 {
			label = "whole run (no stage boundaries were recorded)"
		}
		fmt.Fprintf(out, "\nServer metrics, %s, %.1f s:\n", label, st.End.Sub(st.Start).Seconds())
		w := printers.GetNewTabWriter(out)
		fmt.Fprintln(w, "POD\tROLE\tSAMPLES\tKV % mean/max\tRUNNING mean/max\tWAITING mean/max\tPREFIX HIT %\tPREEMPTIONS\tPROMPT TOK/S\tGEN TOK/S")
		row := func(m results.ServerPodMetrics) {
			fmt.Fprintf(w, "%s\t%s\t%d\t%s/%s\t%s/%s\t%s/%s\t%s\t%s\t%s\t%s\n", m.Pod, m.Role, m.Samples,
				pct(m.KVCacheUsageMean), pct(m.KVCacheUsageMax), num(m.RunningMean, 1), exact(m.RunningMax),
				num(m.WaitingMean, 1), exact(m.WaitingMax), pct(m.PrefixCacheHitRate), exact(m.Preemptions),
				num(m.PromptTokensPerSec, 1), num(m.GenerationTokensPerSec, 1))
		}
		for _, p := range st.Pods {
			row(p)
		}
		row(st.All)
		if err := w.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(out, "all: the model-server pods together (KV % the mean of theirs; a number any of them lacks is -).")
	return nil
}

// printSpread shows how much each stage's numbers varied across repeats (sample standard
// deviation, and as a share of the mean).
func printSpread(out io.Writer, r *results.Report) error {
	fmt.Fprintf(out, "Means of %d repeats above; their spread (standard deviation across repeats):\n", r.Repeats)
	w := printers.GetNewTabWriter(out)
	fmt.Fprintln(w, "STAGE\tREPEATS\tTTFT p50\tTPOT p50\tITL p50\tE2E p50\tREQ/S\tOUT TOK/S")
	cell := func(st results.Stage, key string, mean *float64, scale float64, unit string) string {
		sd, ok := st.Spread[key]
		if !ok || mean == nil {
			return "-"
		}
		rel := ""
		if *mean != 0 {
			rel = fmt.Sprintf(" (%.1f%%)", 100*sd / *mean)
		}
		return fmt.Sprintf("±%.*f%s%s", 1, sd*scale, unit, rel)
	}
	p50 := func(d *results.Dist) *float64 { return d.Get("p50") }
	for _, st := range r.Stages {
		fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", st.Stage, st.Repeats,
			cell(st, "ttft_p50", p50(st.Latency.TTFT), 1000, "ms"), cell(st, "tpot_p50", p50(st.Latency.TPOT), 1000, "ms"),
			cell(st, "itl_p50", p50(st.Latency.ITL), 1000, "ms"), cell(st, "e2e_p50", p50(st.Latency.E2E), 1000, "ms"),
			cell(st, "requests_per_sec", st.Throughput.RequestsPerSec, 1, ""), cell(st, "output_tokens_per_sec", st.Throughput.OutputTokensPerSec, 1, ""))
	}
	return w.Flush()
}

// printReportsCSV writes every report's stages (and summary and per-request rows) as one CSV with
// one header row. Latencies are seconds; a number the report does not hold is an empty cell.
func printReportsCSV(out io.Writer, reports []*results.Report) error {
	w := csv.NewWriter(out)
	header := []string{"source", "format", "model", "stage", "requested_rate", "achieved_rate", "concurrency", "succeeded", "failed", "incomplete"}
	metrics := []string{"ttft", "tpot", "itl", "ntpot", "e2e"}
	for _, m := range metrics {
		for _, s := range []string{"mean", "p50", "p90", "p99"} {
			header = append(header, m+"_"+s+"_s")
		}
	}
	header = append(header, "requests_per_sec", "input_tokens_per_sec", "output_tokens_per_sec", "total_tokens_per_sec")
	if err := w.Write(header); err != nil {
		return err
	}
	cell := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'g', -1, 64)
	}
	count := func(p *int) string {
		if p == nil {
			return ""
		}
		return strconv.Itoa(*p)
	}
	for _, r := range reports {
		write := func(stage string, m results.Metrics) error {
			var ok, failed, incomplete *int
			if m.Requests != nil {
				ok, failed, incomplete = &m.Requests.Succeeded, &m.Requests.Failed, m.Requests.Incomplete
			}
			rec := []string{r.Source, r.Format, r.Model, stage, cell(m.RequestedRate), cell(m.AchievedRate), cell(m.Concurrency),
				count(ok), count(failed), count(incomplete)}
			for _, d := range []*results.Dist{m.Latency.TTFT, m.Latency.TPOT, m.Latency.ITL, m.Latency.NTPOT, m.Latency.E2E} {
				for _, s := range []string{"mean", "p50", "p90", "p99"} {
					rec = append(rec, cell(d.Get(s)))
				}
			}
			rec = append(rec, cell(m.Throughput.RequestsPerSec), cell(m.Throughput.InputTokensPerSec), cell(m.Throughput.OutputTokensPerSec), cell(m.Throughput.TotalTokensPerSec))
			return w.Write(rec)
		}
		for _, st := range r.Stages {
			if err := write(strconv.Itoa(st.Stage), st.Metrics); err != nil {
				return err
			}
		}
		if r.Summary != nil {
			if err := write("summary", *r.Summary); err != nil {
				return err
			}
		}
		if r.PerRequest != nil {
			if err := write("per-request", r.PerRequest.Metrics); err != nil {
				return err
			}
		}
	}
	w.Flush()
	return w.Error()
}
