package plugin

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/config"
	"github.com/llmdbench/kubectl-llmdbench/pkg/loadgen"
	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
	"github.com/llmdbench/kubectl-llmdbench/pkg/transfer"
)

// The capability packages say what is wrong in their own terms (a config key, a gateway, a
// statistic); this table is the one place that says which flag fixes it.
type hint struct {
	err error // the package's sentinel, matched with errors.Is
	// flags are the flags the text names: a command that lacks one of them gives no hint,
	// so no command points at a flag it does not have.
	flags []string
	text  string
}

var hints = []hint{
	{config.ErrTemplate, []string{"preset"}, "or run a built-in config with --preset NAME"},
	{config.ErrUnknownWorkload, []string{"workload"}, "pass one of them to --workload"},
	{config.ErrNoStackName, []string{"stack-name"}, "set it or pass --stack-name"},
	{config.ErrNoModel, []string{"model"}, "set it or pass --model"},
	{config.ErrNoNamespace, []string{"namespace"}, "set it or pass -n/--namespace"},
	{config.ErrNoResultsPVC, []string{"pvc"}, "set it or pass --pvc"},
	{config.ErrNoImage, []string{"image"}, "set it or pass --image"},
	{config.ErrUnknownHarness, []string{"harness"}, "or pass --harness"},
	{config.ErrNoEndpoint, []string{"base-url", "gateway"}, "pass --base-url URL or let the gateway be discovered (--gateway NAME)"},
	{config.ErrSweepRatesAndConcurrency, []string{"rates", "concurrency"}, "pass --rates or --concurrency, not both"},
	{config.ErrSweepPoissonWithoutRates, []string{"poisson", "rates"}, "--poisson shapes the arrivals of --rates: add --rates"},
	{config.ErrSweepStageDurationWithoutRates, []string{"stage-duration", "rates", "concurrency", "requests-per-stage"}, "--stage-duration applies to --rates stages; with --concurrency use --requests-per-stage"},
	{config.ErrSweepRequestsWithoutConcurrency, []string{"requests-per-stage", "concurrency", "rates", "stage-duration"}, "--requests-per-stage applies to --concurrency stages; with --rates use --stage-duration"},
	{config.ErrSweepStageDuration, []string{"stage-duration"}, "raise --stage-duration"},
	{config.ErrSweepRequestsPerStage, []string{"requests-per-stage"}, "check --requests-per-stage"},
	{config.ErrSweepRate, []string{"rates"}, "check --rates"},
	{config.ErrSweepConcurrency, []string{"concurrency"}, "check --concurrency"},
	{config.ErrSweepOneLevel, []string{"rates", "concurrency"}, "pass one value to --rates or --concurrency"},
	{config.ErrSweepNeedsPoisson, []string{"poisson"}, "add --poisson"},
	{config.ErrNoGateway, []string{"gateway", "base-url"}, "pass --gateway NAME or --base-url URL"},
	{cluster.ErrNoGatewayName, []string{"gateway", "base-url"}, "pass --gateway NAME or --base-url URL"},
	{cluster.ErrGatewayNotFound, []string{"gateway", "base-url"}, "pass --gateway NAME or --base-url URL"},
	{cluster.ErrGatewayAmbiguous, []string{"base-url"}, "pass --base-url to choose one"},
	{cluster.ErrGatewayUnreadable, []string{"base-url"}, "pass --base-url to skip discovery"},
	{cluster.ErrReaderPod, []string{"reader-image"}, "choose its image with --reader-image"},
	{cluster.ErrNoResultsPVC, []string{"pvc"}, "pass --pvc NAME"},
	{cluster.ErrLaunchTimeout, []string{"launch-timeout"}, "raise --launch-timeout if the image is still pulling"},
	{results.ErrUnknownStat, []string{"stat"}, "check --stat"},
	{results.ErrSLO, []string{"slo"}, "check --slo"},
	{transfer.ErrCompression, []string{"compress"}, "check --compress"},
	{loadgen.ErrBaseURL, []string{"base-url"}, "or pass --base-url URL"},
}

// variableHints say which flag fills each of the variables the plugin resolves natively; the
// config puts them into its UnsetVariableError.
var variableHints = map[string]string{
	config.VarNamespace:    "pass -n NAMESPACE",
	config.VarBenchmarkPVC: "pass --pvc NAME",
	config.VarGatewaySvc:   "pass --gateway NAME to discover it, or --base-url URL",
	config.VarGatewayIP:    "pass --gateway NAME to discover it, or --base-url URL",
}

// hintedError is a capability package's error with the flag hint of the command that returned it.
type hintedError struct {
	err  error
	hint string
}

func (e *hintedError) Error() string { return e.err.Error() + "; " + e.hint }
func (e *hintedError) Unwrap() error { return e.err }

// withHint adds to err the hint of the first sentinel it wraps, when cmd has every flag the hint
// names. An ExitError has already explained itself and is left alone.
func withHint(cmd *cobra.Command, err error) error {
	var exit *ExitError
	if err == nil || errors.As(err, &exit) {
		return err
	}
	for _, h := range hints {
		if !errors.Is(err, h.err) {
			continue
		}
		for _, name := range h.flags {
			if cmd.Flag(name) == nil {
				return err
			}
		}
		return &hintedError{err: err, hint: h.text}
	}
	return err
}

// addHints makes every command of the tree below cmd return its errors through withHint.
func addHints(cmd *cobra.Command) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error { return withHint(c, run(c, args)) }
	}
	for _, sub := range cmd.Commands() {
		addHints(sub)
	}
}
