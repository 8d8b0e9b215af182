package plugin

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/llmdbench/kubectl-llmdbench/pkg/loadgen"
	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

// findMaxFlags are the capacity search's flags, shared by loadgen and run.
type findMaxFlags struct {
	On            bool
	SLO           string
	By            string
	Min, Max      float64
	StageDuration time.Duration
	Precision     string
	MaxStages     int
	// given names the search flags set, for the refusal without --find-max.
	given []string
}

func newFindMaxFlags() findMaxFlags {
	return findMaxFlags{By: results.ByRate, Min: 1, StageDuration: time.Duration(loadgen.DefaultFindMaxDuration) * time.Second,
		Precision: "5%", MaxStages: loadgen.DefaultFindMaxProbes}
}

// add registers every flag but --stage-duration, which each command words its own way.
func (f *findMaxFlags) add(fl *pflag.FlagSet) {
	fl.BoolVar(&f.On, "find-max", false, "Search for the highest load within --slo instead of running the profile's stages: each probe is a stage (the profile's load.find_max; native generator only)")
	fl.StringVar(&f.SLO, "slo", "", "With --find-max: the objectives every probe must meet, e.g. ttft_p90=500ms,tpot_p90=50ms,e2e_p99=10s,errors=1% (p50, p90, p99 or mean of ttft, tpot, itl, ntpot, e2e)")
	fl.StringVar(&f.By, "by", f.By, "With --find-max: search over request rate (rate, req/s) or requests in flight (concurrency)")
	fl.Float64Var(&f.Min, "min", f.Min, "With --find-max: the first level probed (req/s, or requests in flight)")
	fl.Float64Var(&f.Max, "max", 0, "With --find-max: the highest level probed (required)")
	fl.StringVar(&f.Precision, "precision", f.Precision, "With --find-max: stop when the bracket [passing, failing] is narrower than this share of the passing level")
	fl.IntVar(&f.MaxStages, "max-stages", f.MaxStages, "With --find-max: the most probes (stages) the search runs, repeats included")
}

// seen records which search flags the command line set.
func (f *findMaxFlags) seen(cmd *cobra.Command) {
	for _, name := range []string{"slo", "by", "min", "max", "precision", "max-stages"} {
		if cmd.Flags().Changed(name) {
			f.given = append(f.given, "--"+name)
		}
	}
}

// validate refuses search flags without --find-max, and checks them with it.
func (f *findMaxFlags) validate() error {
	if !f.On {
		if len(f.given) > 0 {
			return fmt.Errorf("%s only tune(s) a capacity search: add --find-max", strings.Join(f.given, ", "))
		}
		return nil
	}
	_, err := f.block()
	return err
}

// block is the load.find_max block the flags make, checked flag by flag.
func (f *findMaxFlags) block() (*loadgen.FindMax, error) {
	if f.SLO == "" {
		return nil, fmt.Errorf("--find-max needs --slo, e.g. --slo ttft_p90=500ms,tpot_p90=50ms")
	}
	if _, err := results.ParseCapacitySLOs(f.SLO); err != nil {
		return nil, fmt.Errorf("--slo: %w", err)
	}
	precision, err := parsePercent(f.Precision)
	switch {
	case f.By != results.ByRate && f.By != results.ByConcurrency:
		return nil, fmt.Errorf("--by %q: use %s or %s", f.By, results.ByRate, results.ByConcurrency)
	case f.Max == 0:
		return nil, fmt.Errorf("--find-max needs --max, the highest level to probe")
	case !(f.Min > 0):
		return nil, fmt.Errorf("--min %g: must be more than 0", f.Min)
	case !(f.Max > f.Min):
		return nil, fmt.Errorf("--max %g: must be more than --min %g", f.Max, f.Min)
	case f.By == results.ByConcurrency && (f.Min != float64(int(f.Min)) || f.Max != float64(int(f.Max))):
		return nil, fmt.Errorf("--by concurrency: --min and --max are whole numbers of requests in flight (got %g, %g)", f.Min, f.Max)
	case err != nil || !(precision > 0 && precision < 1):
		return nil, fmt.Errorf("--precision %q: give a percentage above 0%% and below 100%%, e.g. 5%%", f.Precision)
	case f.MaxStages < 1:
		return nil, fmt.Errorf("--max-stages %d: need at least 1", f.MaxStages)
	case f.StageDuration < time.Second:
		return nil, fmt.Errorf("--stage-duration %s: need at least 1s", f.StageDuration)
	}
	return &loadgen.FindMax{By: f.By, Min: f.Min, Max: f.Max, Precision: precision, MaxProbes: f.MaxStages,
		SLO: f.SLO, StageDuration: f.StageDuration.Seconds()}, nil
}

// parsePercent reads "5%" as 0.05.
func parsePercent(s string) (float64, error) {
	num, ok := strings.CutSuffix(strings.TrimSpace(s), "%")
	if !ok {
		return 0, fmt.Errorf("%q is not a percentage", s)
	}
	v, err := strconv.ParseFloat(num, 64)
	return v / 100, err
}
