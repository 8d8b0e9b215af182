package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/config"
	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
)

// DoctorOptions holds the flags of `doctor`.
type DoctorOptions struct {
	source      configSource
	Output      string
	CreatePVC   bool
	Parallelism int
	// Servers are the server-metrics flags run takes (--server-selector, --metrics-port).
	Servers serverFlags

	*Clients
	genericiooptions.IOStreams
}

// DoctorReport is what `doctor -o json` prints.
type DoctorReport struct {
	OK     bool            `json:"ok"`
	Checks []cluster.Check `json:"checks"`
}

// NewDoctorOptions returns the defaults.
func NewDoctorOptions(streams genericiooptions.IOStreams) *DoctorOptions {
	return &DoctorOptions{IOStreams: streams}
}

// NewCmdDoctor builds `kubectl llmdbench doctor`.
func NewCmdDoctor(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewDoctorOptions(streams)
	cmd := &cobra.Command{
		Use:   "doctor [--preset NAME | -f CONFIG]",
		Short: "Check that a run can start here, and say how to fix what blocks it",
		Long: templates.LongDesc(`
			Run the checks 'run' makes before it creates anything: the config renders, the gateway
			is found, the namespace exists, the results PVC is usable, the HF token secret exists,
			and you hold every permission a run needs. Each failed check says how to fix it. The
			exit code is non-zero when a check blocks a run.`),
		Example: templates.Examples(`
			# Check the pd preset against namespace llm-d
			kubectl llmdbench doctor --preset pd -n llm-d --pvc workload-pvc`),
		Args: cobra.NoArgs,
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
	o.source.addFlags(cmd)
	cmd.Flags().BoolVar(&o.CreatePVC, "create-pvc", false, "The run would create the results PVC")
	cmd.Flags().IntVar(&o.Parallelism, "parallelism", 1, "Launchers the run would start (more than 1 needs a ReadWriteMany claim)")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: json or yaml")
	o.Servers.add(cmd.Flags(), false)
	return cmd
}

// Complete resolves the namespace and clients.
func (o *DoctorOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, _ []string) error {
	if err := o.source.complete(f, o.In); err != nil {
		return err
	}
	if cmd.Flags().Changed("parallelism") {
		o.source.Overrides.Parallelism = &o.Parallelism
	}
	var err error
	o.Clients, err = o.source.conn.get()
	return err
}

// Validate checks the flags.
func (o *DoctorOptions) Validate() error {
	if o.source.Preset != "" || o.source.ConfigFile != "" {
		if err := o.source.validate(); err != nil {
			return err
		}
	}
	if err := o.Servers.validate(); err != nil {
		return err
	}
	return validateOutput(o.Output)
}

// Run prints the checklist.
func (o *DoctorOptions) Run(ctx context.Context) error {
	var checks []cluster.Check
	var resolved *config.Config
	spec := cluster.PreflightSpec{Namespace: o.source.namespace, PVC: o.source.Overrides.PVC, CreatePVC: o.CreatePVC, Parallelism: o.Parallelism}
	if o.source.Preset != "" || o.source.ConfigFile != "" {
		cfg, err := o.source.resolve(ctx, func(w string) { checks = append(checks, cluster.Check{Name: "config", Message: w}) })
		var nsErr *cluster.NamespaceError
		switch {
		case errors.As(err, &nsErr):
			// The preflight's namespace check below says it, once.
			spec.Namespace = nsErr.Namespace
		case err != nil:
			checks = append(checks, cluster.Check{Name: "config", Blocking: true, Message: err.Error()})
		default:
			resolved = cfg
			checks = append(checks, cluster.Check{Name: "config", OK: true,
				Message: fmt.Sprintf("%s renders: %d workload(s), endpoint %s", cfg.Source, len(cfg.Workloads), cfg.Endpoint.BaseURL)})
			if err := launcher.CheckHarnessImage(cfg.Harness.Name, cfg.Harness.Image); err != nil {
				checks = append(checks, cluster.Check{Name: "harness-image", Blocking: true, Message: err.Error(),
					Fix: "pass --image with an llm-d-benchmark image of " + launcher.AIPerfFirstImage + " or later"})
			}
			if cfg.Harness.Parallelism > 1 {
				// The same refusal run gives before it creates anything.
				if err := splitCheck(cfg); err != nil {
					checks = append(checks, cluster.Check{Name: "split", Blocking: true, Message: err.Error(),
						Fix: "fewer launchers (--parallelism) or --parallelism-mode replicate on run"})
				} else {
					checks = append(checks, cluster.Check{Name: "split", OK: true,
						Message: fmt.Sprintf("%d launchers can share every workload's load (%s)", cfg.Harness.Parallelism, cfg.Harness.ParallelismMode)})
				}
			}
			spec = cluster.PreflightSpec{Namespace: cfg.Harness.Namespace, PVC: cfg.Harness.ResultsPVC, CreatePVC: o.CreatePVC,
				Parallelism: cfg.Harness.Parallelism, HFTokenSecret: cfg.Endpoint.HFTokenSecret,
				Pod: doctorPod(cfg), OtherPods: doctorOtherPods(cfg)}
		}
	}
	if spec.PVC == "" {
		checks = append(checks, cluster.Check{Name: "results-pvc", Message: "no results PVC named", Fix: "pass --pvc NAME (or a preset/config)"})
		spec.PVC = "-" // still check the rest
	}
	pre, err := cluster.Preflight(ctx, o.Client, spec)
	if err != nil {
		return err
	}
	for _, c := range pre {
		if c.Name == "results-pvc" && spec.PVC == "-" {
			continue
		}
		checks = append(checks, c)
	}
	servers, err := o.serverCheck(ctx, spec.Namespace, resolved)
	if err != nil {
		return err
	}
	checks = append(checks, servers)
	report := DoctorReport{OK: len(cluster.Blocking(checks)) == 0, Checks: checks}
	if o.Output != "" {
		if err := printStructured(o.Out, o.Output, report); err != nil {
			return err
		}
	} else {
		for _, c := range checks {
			mark := "✔"
			switch {
			case !c.OK && c.Blocking:
				mark = "✘"
			case !c.OK:
				mark = "!"
			}
			fmt.Fprintf(o.Out, "%s %s: %s\n", mark, c.Name, c.Message)
			if !c.OK && c.Fix != "" {
				fmt.Fprintf(o.Out, "    fix: %s\n", c.Fix)
			}
		}
	}
	if !report.OK {
		return &ExitError{Code: 1, Err: fmt.Errorf("a check blocks the run")}
	}
	return nil
}

// doctorOtherPods are the pod templates of the launchers cfg's namespace could run besides its
// own: the native harness's, and the image's (one template serves every image harness), so the
// PodSecurity check says which harnesses can run there.
func doctorOtherPods(cfg *config.Config) map[string]*corev1.PodTemplateSpec {
	var images []string
	for _, h := range config.Harnesses() {
		if h != config.HarnessNative {
			images = append(images, h)
		}
	}
	out := map[string]*corev1.PodTemplateSpec{}
	for who, native := range map[string]bool{
		"the native harness (llmdbench)":                           true,
		"the image harnesses (" + strings.Join(images, ", ") + ")": false,
	} {
		if native == (cfg.Harness.Name == config.HarnessNative) {
			continue // the run's own: the check's verdict
		}
		c := *cfg
		c.Harness.Name = config.HarnessInferencePerf
		if native {
			c.Harness.Name = config.HarnessNative
		}
		if pod := doctorPod(&c); pod != nil {
			out[who] = pod
		}
	}
	return out
}

// doctorPod is the pod template a run of cfg with the default launcher would create, for the
// PodSecurity check (nil when it cannot be built: the config check already says why).
func doctorPod(cfg *config.Config) *corev1.PodTemplateSpec {
	l := launcher.DefaultLauncher()
	if cfg.Harness.Name == config.HarnessNative {
		l = launcher.NativeLauncher()
	}
	job, err := launcher.BuildJob(launcher.Spec{Config: cfg, RunID: "doctor", Launcher: l})
	if err != nil {
		return nil
	}
	return &job.Spec.Template
}

// serverCheck says which servers a run would scrape and whether this user may read them through
// the API server (pods/proxy, which the image harnesses need). It never blocks a run: a run
// without server metrics still runs.
func (o *DoctorOptions) serverCheck(ctx context.Context, namespace string, cfg *config.Config) (cluster.Check, error) {
	c := cluster.Check{Name: "server-metrics"}
	if cfg == nil {
		cfg = &config.Config{Harness: config.Harness{Namespace: namespace}}
	}
	sv, err := o.Servers.discover(ctx, o.Clients, cfg)
	if err != nil || len(sv.Targets) == 0 {
		c.Message = noServersWarning(sv, err)
		c.Fix = "pass --server-selector LABELS (and --metrics-port PORT if needed) to run"
		return c, nil
	}
	denied, err := cluster.Denied(ctx, o.Client, serverNamespace(cfg), []cluster.Permission{cluster.PodsProxyPermission})
	if err != nil {
		return c, err
	}
	c.Message = "would scrape " + describeServers(sv)
	switch {
	case len(denied) == 0:
		c.OK = true
		c.Message += "; pods/proxy allowed"
	case cfg.Harness.Name == config.HarnessNative:
		c.OK = true
		c.Message += "; pods/proxy denied (the native harness scrapes from inside the cluster and does not need it)"
	default:
		c.Message += "; pods/proxy denied, so an image harness's run has no server metrics"
		c.Fix = "ask for get on pods/proxy (the README's Role)"
	}
	return c, nil
}
