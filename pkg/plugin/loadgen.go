package plugin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/llmdbench/kubectl-llmdbench/pkg/config"
	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
	"github.com/llmdbench/kubectl-llmdbench/pkg/loadgen"
	"github.com/llmdbench/kubectl-llmdbench/pkg/preset"
	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// LoadgenOptions holds the flags of `loadgen`.
type LoadgenOptions struct {
	ProfileFile      string
	Preset           string
	Workload         string
	BaseURL          string
	Model            string
	OutputDir        string
	PerRequest       bool
	ExperimentID     string
	Seed             int64
	MaxFailedPercent float64
	ProgressEvery    time.Duration
	Transport        string
	// LauncherIndex and LauncherCount place this generator among the launchers of one benchmark;
	// unset, they come from the launcher pod's environment (launcher.EnvLauncherIndex/Count).
	LauncherIndex   int
	LauncherCount   int
	ParallelismMode string
	BarrierDir      string
	BarrierTimeout  time.Duration
	// FindMax turns the run into a capacity search (the profile's load.find_max block).
	FindMax findMaxFlags

	indexSet, countSet bool

	namespace   string
	version     string
	description string
	keywords    []string
	genericiooptions.IOStreams
}

// NewLoadgenOptions returns the defaults.
func NewLoadgenOptions(streams genericiooptions.IOStreams, version string) *LoadgenOptions {
	return &LoadgenOptions{IOStreams: streams, version: version, MaxFailedPercent: 10, ProgressEvery: 10 * time.Second,
		LauncherCount: 1, ParallelismMode: runstate.ModeSplit, BarrierTimeout: 10 * time.Minute,
		FindMax: newFindMaxFlags()}
}

// NewCmdLoadgen builds `kubectl llmdbench loadgen`.
func NewCmdLoadgen(f cmdutil.Factory, streams genericiooptions.IOStreams, version string) *cobra.Command {
	o := NewLoadgenOptions(streams, version)
	cmd := &cobra.Command{
		Use:   "loadgen (--config PROFILE.yaml | --preset NAME [--workload W]) [--base-url URL] [--output-dir DIR]",
		Short: "Send a workload with the native Go load generator and write inference-perf-style results",
		Long: templates.LongDesc(`
			Run an inference-perf workload profile with the plugin's own load generator, from here or
			from a launcher pod (harness "llmdbench"). Requests are sent open loop at their scheduled
			times; TTFT and ITL come from SSE chunk arrival times and token counts from the server's
			usage block. It writes stage_N/summary(/per_request)_lifecycle_metrics.json exactly as
			inference-perf names them, plus a benchmark report v0.2 per stage, so 'results show',
			'results compare' and 'results plot' read them.

			Prompts are made of common words that tokenizers encode as one token each, so a prompt
			of N words is about N tokens; the reports use the server's counts.

			As launcher I of N (--launcher-index, --launcher-count, or the launcher pod's
			environment) it sends its share of the load: 1/N of each stage's rate, concurrency and
			requests (remainders to the lowest indexes) and its part of the data set (prompts, or
			whole shared-prefix groups, dealt by index); --parallelism-mode replicate sends the whole
			profile instead. With --barrier-dir, every launcher starts each stage at the same
			instant, agreed through files in DIR/stage_N, and llmdbench-launcher.json records it.`),
		Example: templates.Examples(`
			# Smoke-test a stack from your laptop through a port-forward
			kubectl port-forward -n llm-d svc/infra-inference-scheduling-inference-gateway 8000:80 &
			kubectl llmdbench loadgen --preset inference-scheduling --workload sanity_random --base-url http://127.0.0.1:8000

			# Run a saved inference-perf profile and keep every request
			kubectl llmdbench loadgen --config profile.yaml --per-request --output-dir ./smoke`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.indexSet, o.countSet = cmd.Flags().Changed("launcher-index"), cmd.Flags().Changed("launcher-count")
			o.FindMax.seen(cmd)
			if cmd.Flags().Changed("stage-duration") {
				o.FindMax.given = append(o.FindMax.given, "--stage-duration")
			}
			if err := o.Complete(f); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.ProfileFile, "config", "", "inference-perf workload profile (YAML) to run")
	fl.StringVar(&o.Preset, "preset", "", "Take the workload from this preset: "+joinFormats(preset.Names()))
	fl.StringVar(&o.Workload, "workload", "", "Workload of the preset (default: its first)")
	fl.StringVar(&o.BaseURL, "base-url", "", "Inference endpoint URL (beats server.base_url)")
	fl.StringVar(&o.Model, "model", "", "Model name (beats server.model_name)")
	fl.StringVar(&o.OutputDir, "output-dir", "", "Folder for the result files (default ./llmdbench-results/loadgen-<time>)")
	// --output is a format in every other command; the old spelling of the folder still works.
	fl.StringVar(&o.OutputDir, "output", "", "Folder for the result files")
	_ = fl.MarkDeprecated("output", "use --output-dir")
	fl.BoolVar(&o.PerRequest, "per-request", false, "Also write per_request_lifecycle_metrics.json (the profile's report.request_lifecycle.per_request turns it on too)")
	fl.StringVar(&o.ExperimentID, "experiment-id", "", "Experiment ID for the benchmark reports (default $"+launcher.EnvExperimentID+")")
	fl.Int64Var(&o.Seed, "seed", 0, "Seed for prompt generation and Poisson arrivals (default load.base_seed, else 0)")
	fl.Float64Var(&o.MaxFailedPercent, "max-failed-percent", o.MaxFailedPercent, "Exit non-zero when more than this percentage of requests failed")
	fl.DurationVar(&o.ProgressEvery, "progress-every", o.ProgressEvery, "How often to print a progress line")
	fl.StringVar(&o.Transport, "transport", "auto", "HTTP transport: auto (the generator's own event loop for http:// on Linux, else net/http) or net-http")
	fl.IntVar(&o.LauncherIndex, "launcher-index", 0, "This launcher's index among --launcher-count (default $"+launcher.EnvLauncherIndex+", else 0)")
	fl.IntVar(&o.LauncherCount, "launcher-count", 1, "Number of launchers running this benchmark together (default $"+launcher.EnvLauncherCount+", else 1)")
	fl.StringVar(&o.ParallelismMode, "parallelism-mode", o.ParallelismMode, "With several launchers: split (each sends 1/N of the load and its part of the data set) or replicate (each sends the whole profile)")
	fl.StringVar(&o.BarrierDir, "barrier-dir", "", "Shared folder of the launchers' start barriers (DIR/stage_N); every launcher starts each stage at the same instant (no barrier with one launcher)")
	fl.DurationVar(&o.BarrierTimeout, "barrier-timeout", o.BarrierTimeout, "How long a launcher waits at a start barrier for the others before starting without them")
	o.FindMax.add(fl)
	fl.DurationVar(&o.FindMax.StageDuration, "stage-duration", o.FindMax.StageDuration, "With --find-max --by rate: how long each probe sends")
	_ = cmd.RegisterFlagCompletionFunc("preset", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return presetChoices(), cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// Complete reads the environment the launcher sets and the current namespace (for presets).
func (o *LoadgenOptions) Complete(f cmdutil.Factory) error {
	if o.ExperimentID == "" {
		o.ExperimentID = os.Getenv(launcher.EnvExperimentID)
	}
	o.description = os.Getenv(launcher.EnvDescriptionText)
	if k := os.Getenv(launcher.EnvDescriptionWords); k != "" {
		o.keywords = strings.Split(k, ",")
	}
	if o.Preset != "" {
		ns, _, err := f.ToRawKubeConfigLoader().Namespace()
		if err != nil {
			return err
		}
		o.namespace = ns
	}
	if o.OutputDir == "" {
		o.OutputDir = filepath.Join("llmdbench-results", "loadgen-"+time.Now().Format("20060102-150405"))
	}
	for _, e := range []struct {
		set  bool
		name string
		to   *int
	}{{o.indexSet, launcher.EnvLauncherIndex, &o.LauncherIndex}, {o.countSet, launcher.EnvLauncherCount, &o.LauncherCount}} {
		v, ok := os.LookupEnv(e.name)
		if e.set || !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("$%s is %q, not a whole number", e.name, v)
		}
		*e.to = n
	}
	return nil
}

// Validate checks the flags without any I/O.
func (o *LoadgenOptions) Validate() error {
	switch {
	case o.ProfileFile == "" && o.Preset == "":
		return fmt.Errorf("choose the workload: --config PROFILE.yaml, or --preset NAME [--workload W]")
	case o.ProfileFile != "" && o.Preset != "":
		return fmt.Errorf("--config and --preset are exclusive")
	case o.Workload != "" && o.Preset == "":
		return fmt.Errorf("--workload picks a workload of a --preset; a --config profile is one workload")
	case o.MaxFailedPercent < 0 || o.MaxFailedPercent > 100:
		return fmt.Errorf("--max-failed-percent %g: use 0 to 100", o.MaxFailedPercent)
	case o.ProgressEvery <= 0:
		return fmt.Errorf("--progress-every must be positive")
	case o.Transport != "auto" && o.Transport != "net-http":
		return fmt.Errorf("--transport %q: use auto or net-http", o.Transport)
	case o.Preset != "" && o.BaseURL == "":
		return fmt.Errorf("a preset's base_url is the gateway's in-cluster name: pass --base-url (a port-forward, say)")
	case o.LauncherCount < 1:
		return fmt.Errorf("--launcher-count %d: need at least 1", o.LauncherCount)
	case o.LauncherIndex < 0 || o.LauncherIndex >= o.LauncherCount:
		return fmt.Errorf("--launcher-index %d: use 0 to %d (--launcher-count %d)", o.LauncherIndex, o.LauncherCount-1, o.LauncherCount)
	case o.ParallelismMode != runstate.ModeSplit && o.ParallelismMode != runstate.ModeReplicate:
		return fmt.Errorf("--parallelism-mode %q: use %s or %s", o.ParallelismMode, runstate.ModeSplit, runstate.ModeReplicate)
	case o.BarrierTimeout <= 0:
		return fmt.Errorf("--barrier-timeout must be positive")
	}
	if o.BaseURL != "" {
		if err := config.ValidateBaseURL(o.BaseURL); err != nil {
			return fmt.Errorf("--base-url: %w", err)
		}
	}
	return o.FindMax.validate()
}

// profile returns the workload profile's YAML.
func (o *LoadgenOptions) profile() ([]byte, error) {
	if o.ProfileFile != "" {
		data, err := os.ReadFile(o.ProfileFile)
		if err != nil {
			return nil, fmt.Errorf("reading the profile: %w", err)
		}
		return data, nil
	}
	// The native generator reads inference-perf profiles: a preset without them is refused here.
	doc, err := preset.LoadFor(o.Preset, config.HarnessNative)
	if err != nil {
		return nil, err
	}
	doc.Apply(config.Overrides{BaseURL: o.BaseURL, Model: o.Model})
	var only []string
	if o.Workload != "" {
		only = []string{o.Workload}
	}
	// The launcher-only variables do not matter to a local run.
	vars := config.Variables{Values: map[string]string{config.VarNamespace: o.namespace, config.VarBenchmarkPVC: "unused"}, Env: os.LookupEnv}
	cfg, _, err := doc.Resolve(config.Options{Variables: vars, Workloads: only})
	if err != nil {
		return nil, err
	}
	return cfg.Workloads[0].Profile, nil
}

// Run sends the load, writes the files and prints the stage table.
func (o *LoadgenOptions) Run(ctx context.Context) error {
	data, err := o.profile()
	if err != nil {
		return err
	}
	w, err := loadgen.DecodeWorkload(data)
	if err != nil {
		return fmt.Errorf("workload: %w", err)
	}
	// The flags complete the profile before it is checked: its own base_url may be unusable here.
	if o.BaseURL != "" {
		w.SetBaseURL(o.BaseURL)
	}
	if o.Model != "" {
		w.Server.ModelName = o.Model
	}
	if o.PerRequest {
		w.Report.RequestLifecycle.PerRequest = true
	}
	if o.FindMax.On {
		block, err := o.FindMax.block()
		if err != nil {
			return err
		}
		// The search's probes replace the profile's stages; the load type follows --by.
		w.Load.FindMax, w.Load.Stages, w.Load.Sweep = block, nil, nil
		switch {
		case block.By == results.ByConcurrency:
			w.Load.Type = loadgen.LoadConcurrent
		case w.Load.Type == loadgen.LoadConcurrent:
			w.Load.Type = loadgen.LoadConstant
		}
	}
	if err := w.Validate(); err != nil {
		return fmt.Errorf("workload: %w", err)
	}
	stages := fmt.Sprintf("%d stage(s)", len(w.Load.Stages))
	if sw := w.Load.Sweep; sw != nil {
		stages = fmt.Sprintf("a %s sweep of %d stage(s) after a saturation probe", sw.Type, sw.NumStages)
	}
	if fm := w.Load.FindMax; fm != nil {
		stages = fmt.Sprintf("a capacity search by %s, at most %d probe stage(s)", cmp.Or(fm.By, results.ByRate), cmp.Or(fm.MaxProbes, loadgen.DefaultFindMaxProbes))
	}
	lopts := loadgen.Options{
		Progress: o.ErrOut, ProgressEvery: o.ProgressEvery, KeepBodies: w.Report.RequestLifecycle.PerRequest, Seed: o.Seed,
		NetHTTP: o.Transport == "net-http",
		// A profile's server_metrics series is written beside the result files.
		OutputDir: o.OutputDir,
	}
	if o.LauncherCount > 1 {
		l := &loadgen.Launcher{Index: o.LauncherIndex, Count: o.LauncherCount, Mode: o.ParallelismMode}
		barrier := "no start barrier"
		if o.BarrierDir != "" {
			// The generator's dispatcher sleeps to the agreed instant itself (NoSleep).
			series := &runstate.BarrierSeries{Root: o.BarrierDir, Index: o.LauncherIndex, Count: o.LauncherCount, Timeout: o.BarrierTimeout, NoSleep: true}
			l.Barrier = series.Wait
			barrier = "start barrier in " + o.BarrierDir
		}
		lopts.Launcher = l
		stages += fmt.Sprintf("; launcher %d of %d, %s, %s", o.LauncherIndex, o.LauncherCount, o.ParallelismMode, barrier)
	}
	fmt.Fprintf(o.ErrOut, "sending to %s (model %s, %s load, %s)\n", w.Server.BaseURL, w.Server.ModelName, w.Load.Type, stages)
	res, runErr := loadgen.Run(ctx, w, lopts)
	if res == nil {
		return runErr
	}
	if first, n := res.StreamFailures(); first != nil {
		fmt.Fprintf(o.ErrOut, "warning: %d request(s) failed on a stream that could not be measured (%d - %s), the first: %s\n", n, first.Status, first.Type, first.Message)
	}
	// Whatever completed is written, also after Ctrl-C.
	if _, err := loadgen.Write(o.OutputDir, res, loadgen.Meta{
		ToolVersion: o.version, ExperimentID: o.ExperimentID, Description: o.description, Keywords: o.keywords,
	}); err != nil {
		return fmt.Errorf("writing results to %s: %w", o.OutputDir, err)
	}
	if runErr != nil {
		return fmt.Errorf("stopped early (partial results in %s): %w", o.OutputDir, runErr)
	}
	report, err := results.ReadDir(o.OutputDir)
	if err != nil {
		return err
	}
	// In a launcher the folder also holds the run's metadata, whose verdict is still "running":
	// the generator is the workload, and the script records the verdict once it exits. What the
	// generator just finished is complete, so the run's verdict is not applied to it here.
	report.Metadata = nil
	if err := printReport(o.Out, report); err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "results in %s\n", o.OutputDir)
	if c := res.Capacity; c != nil {
		// Probes above the capacity fail requests by design: the answer is the verdict.
		fmt.Fprintf(o.Out, "capacity: %s\n", c.Answer)
		return nil
	}
	total, failed := res.Counts()
	if total == 0 {
		return errors.New("no request was sent")
	}
	if pct := 100 * float64(failed) / float64(total); pct > o.MaxFailedPercent {
		return fmt.Errorf("%d of %d requests failed (%.1f%%, more than --max-failed-percent %g): see failures.by_label in %s",
			failed, total, pct, o.MaxFailedPercent, filepath.Join(o.OutputDir, loadgen.SummaryFile))
	}
	return nil
}
