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
	"github.com/llmdbench/kubectl-llmdbench/pkg/transfer"
)

// ResultsShowOptions holds the flags of `results show`.
type ResultsShowOptions struct {
	access     resultsAccess
	Target     string
	Output     string
	PerRequest bool
	SLO        string
	slos       results.SLOs
	// CacheDir keeps result folders fetched from the PVC.
	CacheDir string
	genericiooptions.IOStreams
}

// NewCmdResultsShow builds `kubectl llmdbench results show DIR|NAME`.
func NewCmdResultsShow(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ResultsShowOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "show (DIR | NAME)",
		Short: "Show a result folder's numbers per stage, from any harness",
		Long: templates.LongDesc(`
			Show a result folder per stage: requested and achieved rate (or concurrency), requests,
			TTFT, TPOT, ITL, NTPOT and end-to-end latency (mean/p50/p90/p99, ms in the table, seconds
			in json/yaml/csv), and throughput. Reads inference-perf's files, benchmark reports v0.1
			and v0.2, GuideLLM and vLLM benchmark JSON. A NAME from 'kubectl llmdbench results' is
			fetched from the PVC (without the per-request file) and kept in a local cache.`),
		Example: templates.Examples(`
			# A local folder
			kubectl llmdbench results show ./llmdbench-results/1795740000-ab12/inference-perf_1795740000-ab12_sanity_random_pd

			# A folder on the PVC, as JSON
			kubectl llmdbench results show inference-perf_1795740000-ab12_sanity_random_pd -n llm-d -o json`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Target = args[0]
			if err := validateOutput(o.Output, "csv"); err != nil {
				return err
			}
			var err error
			if o.slos, err = results.ParseSLOs(o.SLO); err != nil {
				return err
			}
			if len(o.slos) > 0 && !o.PerRequest {
				return fmt.Errorf("--slo needs the per-request data: add --per-request")
			}
			return o.Run(cmd.Context(), f)
		},
	}
	o.access.addFlags(cmd)
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: json, yaml or csv")
	cmd.Flags().BoolVar(&o.PerRequest, "per-request", false, "Recompute the distributions exactly from "+runstate.PerRequestFile+" (streamed)")
	cmd.Flags().StringVar(&o.SLO, "slo", "", "Goodput SLOs with --per-request, e.g. ttft=500ms,tpot=50ms[,itl=…,ntpot=…,e2e=…]")
	return cmd
}

// resolve returns the local folder of the target: itself, or a copy fetched from the PVC.
func (o *ResultsShowOptions) resolve(ctx context.Context, f cmdutil.Factory) (string, error) {
	if st, err := os.Stat(o.Target); err == nil && st.IsDir() {
		return o.Target, nil
	}
	if strings.ContainsAny(o.Target, `/\`) {
		return "", fmt.Errorf("%s is not a result folder", o.Target)
	}
	return o.fetch(ctx, f)
}

// Run reads and prints.
func (o *ResultsShowOptions) Run(ctx context.Context, f cmdutil.Factory) error {
	dir, err := o.resolve(ctx, f)
	if err != nil {
		return err
	}
	r, err := results.ReadDir(dir)
	if err != nil {
		return err
	}
	if o.PerRequest {
		if r.PerRequest, err = results.AnalyzePerRequestFile(filepath.Join(dir, runstate.PerRequestFile), o.slos); err != nil {
			return fmt.Errorf("--per-request: %w", err)
		}
	}
	switch o.Output {
	case "":
		return printReport(o.Out, r)
	case "csv":
		return printReportCSV(o.Out, r)
	}
	return printStructured(o.Out, o.Output, r)
}

// fetch copies a result folder from the PVC into the local cache, once.
func (o *ResultsShowOptions) fetch(ctx context.Context, f cmdutil.Factory) (string, error) {
	cache := o.CacheDir
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(base, "kubectl-llmdbench", "results")
	}
	dir := filepath.Join(cache, o.Target)
	if _, err := os.Stat(filepath.Join(dir, runstate.PerRequestFile)); err == nil || (!o.PerRequest && dirExists(dir)) {
		return dir, nil
	}
	if err := o.access.complete(f); err != nil {
		return "", err
	}
	warn := func(m string) { fmt.Fprintf(o.ErrOut, "Warning: %s\n", m) }
	acc, err := o.access.open(ctx, "", warn)
	if err != nil {
		return "", err
	}
	defer closeAccess(ctx, acc, warn)
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(cache, ".fetch-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if _, err := fetchResults(ctx, o.access.Executor, acc.Pod, []string{o.Target}, tmp, o.PerRequest, 3, transfer.ExtractOptions{}, false, o.IOStreams); err != nil {
		return "", fmt.Errorf("%w ('kubectl llmdbench results' lists the names on the PVC)", err)
	}
	// Renamed into place only when complete, so the cache never holds half a folder.
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return dir, os.Rename(filepath.Join(tmp, o.Target), dir)
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

func printReport(out io.Writer, r *results.Report) error {
	fmt.Fprintf(out, "%s (%s", r.Source, r.Format)
	if r.Model != "" {
		fmt.Fprintf(out, ", model %s", r.Model)
	}
	fmt.Fprintln(out, ")")
	w := printers.GetNewTabWriter(out)
	fmt.Fprintln(w, "STAGE\tRATE REQ/ACH\tCONC\tOK\tFAILED\tTTFT ms mean/p50/p90/p99\tTPOT ms\tITL ms\tNTPOT ms\tE2E ms\tREQ/S\tIN TOK/S\tOUT TOK/S")
	row := func(label string, m results.Metrics) {
		fmt.Fprintf(w, "%s\t%s/%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", label,
			num(m.RequestedRate, 2), num(m.AchievedRate, 2), num(m.Concurrency, 0), m.Requests.Succeeded, m.Requests.Failed,
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
	if pr := r.PerRequest; pr != nil && pr.Goodput != nil {
		fmt.Fprintf(out, "Goodput: %d of %d requests (%.1f%%) met every SLO; %.3f good requests/s\n",
			pr.Goodput.Good, pr.Goodput.Total, 100*pr.Goodput.Share, pr.Goodput.RatePerS)
	}
	if t := r.Definitions["tpot"]; t != "" {
		fmt.Fprintf(out, "TPOT: %s. ITL: %s.\n", t, r.Definitions["itl"])
	}
	return nil
}

func printReportCSV(out io.Writer, r *results.Report) error {
	w := csv.NewWriter(out)
	header := []string{"source", "format", "model", "stage", "requested_rate", "achieved_rate", "concurrency", "succeeded", "failed"}
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
	write := func(stage string, m results.Metrics) error {
		rec := []string{r.Source, r.Format, r.Model, stage, cell(m.RequestedRate), cell(m.AchievedRate), cell(m.Concurrency),
			strconv.Itoa(m.Requests.Succeeded), strconv.Itoa(m.Requests.Failed)}
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
	w.Flush()
	return w.Error()
}
