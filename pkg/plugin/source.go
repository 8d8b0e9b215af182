package plugin

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"

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
	fl.StringVar(&s.Preset, "preset", s.Preset, "Preset to run: "+joinFormats(preset.Names()))
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
		return preset.Names(), cobra.ShellCompDirectiveNoFileComp
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
	case s.Preset != "" && !slices.Contains(preset.Names(), s.Preset):
		return fmt.Errorf("unknown preset %q: choose one of %s", s.Preset, joinFormats(preset.Names()))
	case s.Overrides.Harness != "" && !slices.Contains(config.Harnesses(), s.Overrides.Harness):
		return fmt.Errorf("--harness %q is not a known harness: use one of %s", s.Overrides.Harness, joinFormats(config.Harnesses()))
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
		return preset.Load(s.Preset)
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

// resolve produces the validated config; warnings go to warn.
func (s *configSource) resolve(ctx context.Context, warn func(string)) (*config.Config, error) {
	doc, err := s.load()
	if err != nil {
		return nil, err
	}
	o := s.Overrides
	if s.explicitNamespace {
		o.Namespace = s.namespace
	}
	doc.Apply(o)
	_, hasHarnessNS := doc.Lookup("harness", "namespace")
	_, hasEndpointNS := doc.Lookup("endpoint", "namespace")
	if !hasHarnessNS && !hasEndpointNS {
		doc.Apply(config.Overrides{Namespace: s.namespace})
	}

	vars := config.Variables{
		Values: map[string]string{},
		Env:    s.lookupEnv,
		Hints: map[string]string{
			config.VarNamespace:    "pass -n NAMESPACE",
			config.VarBenchmarkPVC: "pass --pvc NAME",
			config.VarGatewaySvc:   "pass --gateway NAME to discover it, or --base-url URL",
			config.VarGatewayIP:    "pass --gateway NAME to discover it, or --base-url URL",
		},
	}
	// The guide exports NAMESPACE and BENCHMARK_PVC; an explicit flag beats them, the current
	// kube context's namespace does not.
	if _, fromEnv := s.lookupEnv(config.VarNamespace); s.explicitNamespace || !fromEnv {
		vars.Values[config.VarNamespace] = s.namespace
	}
	if s.Overrides.PVC != "" {
		vars.Values[config.VarBenchmarkPVC] = s.Overrides.PVC
	}
	if err := s.discover(ctx, doc, &vars, warn); err != nil {
		return nil, err
	}
	extra, err := parseEnvPairs(s.EnvPairs)
	if err != nil {
		return nil, err
	}
	cfg, warnings, err := doc.Resolve(config.Options{Variables: vars, Workloads: s.Workloads, Env: extra, Sweep: &s.Sweep})
	for _, w := range warnings {
		warn(w)
	}
	if err != nil {
		return nil, err
	}
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

// discover fills ${GATEWAY_SVC}/${GATEWAY_IP} from the cluster when the config still uses them
// and the environment does not already set them.
func (s *configSource) discover(ctx context.Context, doc *config.Document, vars *config.Variables, warn func(string)) error {
	refs := doc.References()
	needSvc := slices.Contains(refs, config.VarGatewaySvc) && !s.inEnv(config.VarGatewaySvc)
	needIP := slices.Contains(refs, config.VarGatewayIP) && !s.inEnv(config.VarGatewayIP)
	if !needSvc && !needIP {
		return nil
	}
	gateway, _ := doc.Lookup("endpoint", "gateway")
	gateway, err := vars.Expand(gateway)
	if err != nil {
		return fmt.Errorf("endpoint.gateway: %w", err)
	}
	if gateway == "" {
		return fmt.Errorf("the config's base_url needs the gateway's Service, but it names no gateway: pass --gateway NAME or --base-url URL")
	}
	ns := s.namespace
	if raw, ok := doc.Lookup("endpoint", "namespace"); ok {
		if ns, err = vars.Expand(raw); err != nil {
			return fmt.Errorf("endpoint.namespace: %w", err)
		}
	}
	cl, err := s.conn.get()
	if err != nil {
		return fmt.Errorf("discovering gateway %s needs the cluster (or pass --base-url): %w", gateway, err)
	}
	g, err := cluster.DiscoverGateway(ctx, cl.Client, cl.Dynamic, ns, gateway)
	if err != nil {
		return err
	}
	if g.Warning != "" {
		warn(g.Warning)
	}
	if g.Service != "" {
		vars.Values[config.VarGatewaySvc] = g.Service
	} else if needSvc {
		// A managed gateway has no Service: reach it at its address instead.
		port := g.Port
		if port == 0 {
			port = 80
		}
		url := "http://" + net.JoinHostPort(g.Address, strconv.FormatInt(port, 10))
		warn(fmt.Sprintf("gateway %s has no Service in namespace %s; using its address: --base-url %s", gateway, ns, url))
		doc.Apply(config.Overrides{BaseURL: url})
	}
	if g.Address != "" {
		vars.Values[config.VarGatewayIP] = g.Address
	}
	return nil
}

func (s *configSource) inEnv(name string) bool {
	_, ok := s.lookupEnv(name)
	return ok
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
