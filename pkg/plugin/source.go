package plugin

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/config"
	"github.com/llmdbench/kubectl-llmdbench/pkg/loadgen"
	"github.com/llmdbench/kubectl-llmdbench/pkg/preset"
)

// configSource is the part of run (and doctor) that turns --preset/--config plus the override
// flags into a resolved config: read, override, discover the gateway if needed, render, validate.
type configSource struct {
	Preset     string
	ConfigFile string
	Overrides  config.Overrides
	Workloads  []string
	EnvPairs   []string
	// Sweep is set by run's load flags.
	Sweep config.Sweep
	// FindMax is set by run --find-max.
	FindMax *config.FindMax

	// Filled by complete.
	namespace         string
	explicitNamespace bool
	lookupEnv         func(string) (string, bool)
	in                io.Reader

	// conn reaches the cluster for discovery (and for the command that owns this source).
	conn connector
}

func (s *configSource) addFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&s.Preset, "preset", s.Preset, "Preset to run: "+joinFormats(preset.Names())+", or an llm-d-benchmark spec name (see 'presets')")
	fl.StringVarP(&s.ConfigFile, "config", "f", s.ConfigFile, "run_only.sh-style config file to run ('-' reads stdin)")
	fl.StringVar(&s.Overrides.Gateway, "gateway", "", "Gateway whose Service is discovered by its gateway-name label (beats endpoint.gateway)")
	fl.StringVar(&s.Overrides.BaseURL, "base-url", "", "Inference endpoint URL; skips gateway discovery (beats endpoint.base_url)")
	fl.StringVar(&s.Overrides.PVC, "pvc", "", "Results PersistentVolumeClaim (beats harness.results_pvc; fills ${BENCHMARK_PVC})")
	fl.StringVar(&s.Overrides.Model, "model", "", "Model name served by the stack (beats endpoint.model)")
	fl.StringVar(&s.Overrides.StackName, "stack-name", "", "Stack name used in result folder names (beats endpoint.stack_name)")
	fl.StringVar(&s.Overrides.Harness, "harness", "", "Harness: "+joinFormats(config.Harnesses())+" (beats harness.name)")
	fl.StringVar(&s.Overrides.Image, "image", "", "Launcher image (beats harness.image)")
	fl.StringVar(&s.Overrides.HFTokenSecret, "hf-token-secret", "", "Secret whose HF_TOKEN key becomes HF_TOKEN in the launcher (beats endpoint.hf_token_secret)")
	fl.StringArrayVar(&s.Workloads, "workload", nil, "Run only this workload (repeatable); default all, in file order")
	fl.StringArrayVar(&s.EnvPairs, "env", nil, "Extra launcher environment KEY=VALUE (repeatable; replaces a config env entry of the same name)")
	_ = cmd.RegisterFlagCompletionFunc("preset", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return presetChoices(), cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("harness", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return config.Harnesses(), cobra.ShellCompDirectiveNoFileComp
	})
}

func (s *configSource) complete(f cmdutil.Factory, in io.Reader) error {
	var err error
	s.namespace, s.explicitNamespace, err = f.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	if s.lookupEnv == nil {
		s.lookupEnv = os.LookupEnv
	}
	s.conn.factory, s.in = f, in
	return nil
}

func (s *configSource) validate() error {
	switch {
	case s.Preset == "" && s.ConfigFile == "":
		return fmt.Errorf("choose what to run: --preset %s, or --config FILE", joinFormats(preset.Names()))
	case s.Preset != "" && s.ConfigFile != "":
		return fmt.Errorf("--preset and --config are exclusive: a preset is a config; save it with 'presets show' to edit it")
	case s.Overrides.Harness != "" && !slices.Contains(config.Harnesses(), s.Overrides.Harness):
		return fmt.Errorf("--harness %q is not a known harness: use one of %s", s.Overrides.Harness, joinFormats(config.Harnesses()))
	}
	if s.Preset != "" {
		// An llm-d-benchmark spec name runs its preset, recorded under the preset's own name.
		name, err := preset.Resolve(s.Preset)
		if err != nil {
			return err
		}
		s.Preset = name
		if _, err := preset.SourceFor(name, s.Overrides.Harness); err != nil {
			return err
		}
	}
	if s.Overrides.BaseURL != "" {
		if err := config.ValidateBaseURL(s.Overrides.BaseURL); err != nil {
			return fmt.Errorf("--base-url: %w", err)
		}
	}
	_, err := parseEnvPairs(s.EnvPairs)
	return err
}

func (s *configSource) load() (*config.Document, error) {
	if s.Preset != "" {
		// The preset's workloads for --harness: its variant file for that harness, if it has one.
		return preset.LoadFor(s.Preset, s.Overrides.Harness)
	}
	if s.ConfigFile == "-" {
		data, err := io.ReadAll(s.in)
		if err != nil {
			return nil, fmt.Errorf("reading the config from stdin: %w", err)
		}
		return config.Parse("stdin", data)
	}
	data, err := os.ReadFile(s.ConfigFile)
	if err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	return config.Parse(s.ConfigFile, data)
}

// resolve produces the validated config (config.Source does the work); warnings go to warn.
func (s *configSource) resolve(ctx context.Context, warn func(string)) (*config.Config, error) {
	doc, err := s.load()
	if err != nil {
		return nil, err
	}
	extra, err := parseEnvPairs(s.EnvPairs)
	if err != nil {
		return nil, err
	}
	src := config.Source{
		Document: doc, Overrides: s.Overrides, Namespace: s.namespace, ExplicitNamespace: s.explicitNamespace,
		LookupEnv: s.lookupEnv, Workloads: s.Workloads, Env: extra, Sweep: &s.Sweep, FindMax: s.FindMax,
		Hints: variableHints,
		FindGateway: func(ctx context.Context, ns, gateway string) (config.Gateway, error) {
			cl, err := s.conn.get()
			if err != nil {
				return config.Gateway{}, fmt.Errorf("discovering gateway %s needs the cluster (or pass --base-url): %w", gateway, err)
			}
			g, err := cluster.DiscoverGateway(ctx, cl.Client, cl.Dynamic, ns, gateway)
			if g.Warning != "" {
				warn(g.Warning)
			}
			return config.Gateway{Service: g.Service, Address: g.Address, Port: g.Port}, err
		},
	}
	res, err := src.Resolve(ctx)
	if res.ManagedURL != "" {
		warn(fmt.Sprintf("gateway %s has no Service in namespace %s; using its address: --base-url %s", res.Gateway, res.GatewayNamespace, res.ManagedURL))
	}
	for _, w := range res.Warnings {
		warn(w)
	}
	if err != nil {
		return nil, err
	}
	cfg := res.Config
	if cfg.Harness.Name == config.HarnessNative {
		// The generator refuses, by key, what it does not implement: say so before the pod exists.
		for _, w := range cfg.Workloads {
			if _, err := loadgen.ParseWorkload(w.Profile); err != nil {
				return nil, fmt.Errorf("%s: workload %s: %w", cfg.Source, w.Name, err)
			}
		}
	}
	return cfg, nil
}

func parseEnvPairs(pairs []string) ([]config.EnvVar, error) {
	var out []config.EnvVar
	for _, p := range pairs {
		k, v, ok := splitPair(p, "=")
		if !ok {
			return nil, fmt.Errorf("--env %q: expected KEY=VALUE", p)
		}
		out = append(out, config.EnvVar{Name: k, Spec: map[string]any{"name": k, "value": v}})
	}
	return out, nil
}
