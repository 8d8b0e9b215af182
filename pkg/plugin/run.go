package plugin

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/scheme"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/config"
	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
	"github.com/llmdbench/kubectl-llmdbench/pkg/loadgen"
	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// RunOptions holds the flags of `run`.
type RunOptions struct {
	source configSource
	// FindMax makes every workload a capacity search (native harness).
	FindMax findMaxFlags

	WaitTimeout      time.Duration
	Parallelism      int
	ParallelismMode  string
	Spread           string
	TTLAfterFinished time.Duration
	CPU              string
	Memory           string
	RunAsUser        int64
	ServiceAccount   string
	NodeSelector     []string
	Tolerations      []string
	ImagePullPolicy  string
	CreatePVC        bool
	StorageClass     string
	PVCSize          string
	LaunchTimeout    time.Duration
	KeepOnFailure    bool
	Detach           bool
	Remove           bool
	NoFetch          bool
	// PerRequest fetches the per-request files too.
	PerRequest bool
	ResultsDir string
	Interval   time.Duration
	// NoPVC keeps the results on an emptyDir in the launcher pod, which waits up to KeepFor
	// after its workloads to be fetched.
	NoPVC   bool
	KeepFor time.Duration
	// keepForSet tells whether --keep-for was given.
	keepForSet bool
	// Servers are the server-metrics flags (--scrape-interval, --server-selector, --metrics-port).
	Servers serverFlags

	PrintFlags *genericclioptions.PrintFlags
	DryRun     cmdutil.DryRunStrategy

	// Clients reach the cluster (o.Client, o.Executor); Complete sets them to the one set that
	// discovery uses too. A client dry run leaves them nil unless discovery needs the cluster.
	*Clients

	// Version is the plugin's, for the native harness image.
	Version string

	Repeat      int
	Description string
	Labels      []string

	// Resolved by Complete.
	launcher      launcher.Launcher
	launcherFlags map[string]bool // which launcher flags the user set
	pvc           launcher.PVC
	printer       printers.ResourcePrinter
	newRunID      func() (string, error)
	// scrapeTargets are the servers this command scrapes while following (image harnesses).
	scrapeTargets []results.ServerTarget

	genericiooptions.IOStreams
}

// NewRunOptions returns run_only.sh's defaults.
func NewRunOptions(streams genericiooptions.IOStreams) *RunOptions {
	return &RunOptions{
		FindMax:         newFindMaxFlags(),
		CPU:             "16",
		Memory:          "32Gi",
		ImagePullPolicy: string(corev1.PullAlways),
		PVCSize:         launcher.DefaultPVCSize,
		LaunchTimeout:   15 * time.Minute,
		Interval:        5 * time.Second,
		Servers:         serverFlags{Interval: defaultScrapeInterval},
		PrintFlags:      genericclioptions.NewPrintFlags("created (dry run)").WithTypeSetter(scheme.Scheme),
		newRunID:        func() (string, error) { return launcher.NewRunID(time.Now(), nil) },
		IOStreams:       streams,
	}
}

// NewCmdRun builds `kubectl llmdbench run`.
func NewCmdRun(f cmdutil.Factory, streams genericiooptions.IOStreams, version string) *cobra.Command {
	o := NewRunOptions(streams)
	o.Version = version
	return newCmdRun(f, o)
}

func newCmdRun(f cmdutil.Factory, o *RunOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run (--preset NAME | -f CONFIG)",
		Short: "Run a benchmark against an llm-d stack",
		Long: templates.LongDesc(`
			Run a benchmark against an llm-d stack: choose a preset (see 'kubectl llmdbench presets')
			or a run_only.sh config file. The gateway Service is discovered by its
			gateway.networking.k8s.io/gateway-name label unless --base-url is given.

			Every flag you set beats the preset or config file; flags you leave unset keep the
			file's values. ${NAMESPACE}, ${GATEWAY_SVC}, ${GATEWAY_IP} and ${BENCHMARK_PVC} are
			filled from -n, discovery and --pvc; any other ${VAR} comes from your environment, and
			an unset one is an error.

			With --parallelism N, the launchers are one Indexed Job of N pods spread over N nodes,
			started together before each stage: by default they split each workload's load (each
			sends 1/N of each stage's rate or concurrency, and its own prompts), so together they
			offer the profile's load, and the fetched results hold one merged report per workload
			beside each launcher's folder. --parallelism-mode replicate has each send the whole
			profile (N times the load).`),
		Example: templates.Examples(`
			# Run the pd preset in namespace llm-d, results on the workload-pvc claim
			kubectl llmdbench run --preset pd -n llm-d --pvc workload-pvc

			# Show every object a run would create, without a cluster
			kubectl llmdbench run --preset inference-scheduling -n llm-d --pvc workload-pvc \
			  --base-url http://10.0.0.7:80 --dry-run=client -o yaml

			# Run one workload of your own config with a smaller launcher
			kubectl llmdbench run -f config.yaml --workload sanity_random --cpu 2 --memory 4Gi`),
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
	fl := cmd.Flags()
	fl.DurationVar(&o.WaitTimeout, "wait-timeout", 0, "Longest a workload may run before it is stopped, e.g. 30m; 0 = no limit (beats harness.wait_timeout)")
	fl.Float64SliceVar(&o.source.Sweep.Rates, "rates", nil, "Replace every workload's load with one stage per request rate (req/s), e.g. 2,5,8")
	fl.DurationVar(&o.source.Sweep.StageDuration, "stage-duration", 0, "Length of each --rates stage (default: the profile's, else 60s), or of each --find-max probe (default 60s)")
	fl.BoolVar(&o.source.Sweep.Poisson, "poisson", false, "Poisson arrivals for --rates instead of constant spacing")
	fl.IntSliceVar(&o.source.Sweep.Concurrency, "concurrency", nil, "Replace every workload's load with one stage per concurrency level, e.g. 50,100,200")
	fl.IntVar(&o.source.Sweep.RequestsPerStage, "requests-per-stage", 0, "Requests in each --concurrency stage (default 10 per concurrent slot)")
	o.FindMax.add(fl)
	fl.IntVar(&o.Repeat, "repeat", 1, "Run every workload this many times (experiment IDs end in _run<i>); 'results show RUN' reports mean and spread")
	fl.StringVar(&o.Description, "description", "", "Description kept with the results (beats description.text)")
	fl.StringArrayVar(&o.Labels, "label", nil, "Label KEY=VALUE kept with the results, for 'results --label' filters (repeatable)")
	fl.IntVar(&o.Parallelism, "parallelism", 1, "Launcher pods (one Indexed Job) sharing the workloads' load (beats harness.parallelism)")
	fl.StringVar(&o.ParallelismMode, "parallelism-mode", runstate.ModeSplit, "How launchers share the load: split (together the profile's load) or replicate (each the whole profile) (beats harness.parallelism_mode)")
	fl.StringVar(&o.Spread, "spread", string(launcher.SpreadRequired), "Spread of launchers over nodes: required (one per node while nodes fit) or preferred")
	fl.DurationVar(&o.TTLAfterFinished, "ttl", 0, "Let Kubernetes remove the run's launchers and ConfigMap this long after they finished, even with this machine gone (default: kept until 'delete'; results stay)")
	fl.StringVar(&o.CPU, "cpu", o.CPU, "CPU request and limit of each launcher pod")
	fl.StringVar(&o.Memory, "memory", o.Memory, "Memory request and limit of each launcher pod")
	fl.Int64Var(&o.RunAsUser, "run-as-user", 0, "User ID the launcher runs as (default: 0 for image harnesses, as the llm-d-benchmark image expects, which PodSecurity restricted refuses; the native harness runs as its image's non-root user and passes restricted)")
	fl.StringVar(&o.ServiceAccount, "service-account", "", "ServiceAccount of the launcher pods")
	fl.StringArrayVar(&o.NodeSelector, "node-selector", nil, "Node selector KEY=VALUE for the launcher pods (repeatable)")
	fl.StringArrayVar(&o.Tolerations, "toleration", nil, "Toleration KEY[=VALUE]:EFFECT for the launcher pods (repeatable)")
	fl.StringVar(&o.ImagePullPolicy, "image-pull-policy", o.ImagePullPolicy, "Image pull policy: Always, IfNotPresent or Never")
	fl.BoolVar(&o.CreatePVC, "create-pvc", false, "Create the results PVC (ReadWriteMany) if the run needs it")
	fl.StringVar(&o.StorageClass, "storage-class", "", "Storage class of a PVC created with --create-pvc")
	fl.StringVar(&o.PVCSize, "pvc-size", o.PVCSize, "Size of a PVC created with --create-pvc")
	fl.DurationVar(&o.LaunchTimeout, "launch-timeout", o.LaunchTimeout, "Longest wait for the launcher pods to be ready (the image is about 3 GB)")
	fl.BoolVar(&o.KeepOnFailure, "keep-on-failure", false, "Keep the run's pods and ConfigMap when the launch fails, to inspect them")
	fl.BoolVar(&o.Detach, "detach", false, "Return once the workloads started; follow later with 'kubectl llmdbench attach RUN'")
	fl.BoolVar(&o.Remove, "rm", false, "Remove the launcher pods and ConfigMap once the results are fetched (results stay on the PVC)")
	fl.BoolVar(&o.NoFetch, "no-fetch", false, "Do not copy the results to this machine at the end")
	fl.StringVar(&o.ResultsDir, "results-dir", DefaultResultsDir, "Where fetched results go, under a folder per run")
	fl.BoolVar(&o.PerRequest, "per-request", false, "Also fetch the per-request files (always with several launchers or --no-pvc)")
	fl.BoolVar(&o.NoPVC, "no-pvc", false, "No results PVC: results go on an emptyDir in the (single) launcher pod, which stays up after its workloads until run or attach fetched them, or --keep-for ran out")
	fl.DurationVar(&o.KeepFor, "keep-for", DefaultKeepFor, "With --no-pvc: how long the launcher waits after its workloads for its results to be fetched (then they are gone)")
	fl.DurationVar(&o.Interval, "interval", o.Interval, "Longest wait of one read of the run folder while following (changes show at once)")
	o.Servers.add(fl, true)
	cmdutil.AddDryRunFlag(cmd)
	o.PrintFlags.AddFlags(cmd)
	return cmd
}

// Complete reads the flags the user set and prepares the printer.
func (o *RunOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, _ []string) error {
	var err error
	if o.DryRun, err = cmdutil.GetDryRunStrategy(cmd); err != nil {
		return err
	}
	if err := o.source.complete(f, o.In); err != nil {
		return err
	}
	o.FindMax.seen(cmd)
	// Only flags the user set override the file.
	if cmd.Flags().Changed("wait-timeout") {
		o.source.Overrides.WaitTimeout = &o.WaitTimeout
	}
	if cmd.Flags().Changed("parallelism") {
		o.source.Overrides.Parallelism = &o.Parallelism
	}
	if cmd.Flags().Changed("parallelism-mode") {
		o.source.Overrides.ParallelismMode = o.ParallelismMode
	}
	o.keepForSet = cmd.Flags().Changed("keep-for")
	if o.NoPVC && o.source.Overrides.PVC == "" {
		// The config keeps a results_pvc (run_only.sh needs one); nothing mounts it.
		o.source.Overrides.PVC = NoPVCName
	}
	if o.launcher, err = o.launcherSpec(cmd); err != nil {
		return err
	}
	o.launcherFlags = map[string]bool{}
	for _, name := range []string{"cpu", "memory", "run-as-user", "image"} {
		o.launcherFlags[name] = cmd.Flags().Changed(name)
	}
	size, err := resource.ParseQuantity(o.PVCSize)
	if err != nil {
		return fmt.Errorf("--pvc-size %q: %w", o.PVCSize, err)
	}
	o.pvc = launcher.PVC{Create: o.CreatePVC, StorageClass: o.StorageClass, Size: size}
	if o.DryRun == cmdutil.DryRunClient {
		if o.printer, err = o.PrintFlags.ToPrinter(); err != nil {
			return err
		}
		return nil
	}
	o.Clients, err = o.source.conn.get()
	return err
}

// kube is what the commands that read a namespace share: the namespace from the kube flags and
// the command's clients (k.Client, k.Executor; tests preset Clients).
type kube struct {
	namespace string
	*Clients
}

// complete reads the namespace and builds the clients with newClients, the one constructor.
func (k *kube) complete(f cmdutil.Factory) error {
	var err error
	if k.namespace, _, err = f.ToRawKubeConfigLoader().Namespace(); err != nil {
		return err
	}
	if k.Clients == nil {
		k.Clients, err = newClients(f)
	}
	return err
}

func (o *RunOptions) launcherSpec(cmd *cobra.Command) (launcher.Launcher, error) {
	l := launcher.DefaultLauncher()
	var err error
	if l.CPU, err = resource.ParseQuantity(o.CPU); err != nil {
		return l, fmt.Errorf("--cpu %q: %w", o.CPU, err)
	}
	if l.Memory, err = resource.ParseQuantity(o.Memory); err != nil {
		return l, fmt.Errorf("--memory %q: %w", o.Memory, err)
	}
	if cmd.Flags().Changed("run-as-user") {
		uid := o.RunAsUser
		l.RunAsUser = &uid
	}
	l.ServiceAccount = o.ServiceAccount
	l.ImagePullPolicy = corev1.PullPolicy(o.ImagePullPolicy)
	l.Spread = launcher.Spread(o.Spread)
	if cmd.Flags().Changed("ttl") {
		ttl := int32(o.TTLAfterFinished / time.Second)
		l.TTLAfterFinished = &ttl
	}
	for _, s := range o.NodeSelector {
		k, v, ok := splitPair(s, "=")
		if !ok {
			return l, fmt.Errorf("--node-selector %q: expected KEY=VALUE", s)
		}
		if l.NodeSelector == nil {
			l.NodeSelector = map[string]string{}
		}
		l.NodeSelector[k] = v
	}
	for _, s := range o.Tolerations {
		t, err := launcher.ParseToleration(s)
		if err != nil {
			return l, fmt.Errorf("--toleration %q: %w", s, err)
		}
		l.Tolerations = append(l.Tolerations, t)
	}
	return l, nil
}

// DefaultKeepFor is how long a --no-pvc launcher waits after its workloads to be fetched.
const DefaultKeepFor = 30 * time.Minute

// NoPVCName stands for the results claim in the config of a --no-pvc run (run_only.sh's config
// needs one); no claim of that name is read or mounted.
const NoPVCName = "none-emptydir"

// Validate checks the flags without touching the cluster.
func (o *RunOptions) Validate() error {
	if err := o.source.validate(); err != nil {
		return err
	}
	if err := o.findMaxValidate(); err != nil {
		return err
	}
	if err := o.source.Sweep.Validate(); err != nil {
		return err
	}
	if o.Repeat < 1 {
		return fmt.Errorf("--repeat %d: it must be 1 or more", o.Repeat)
	}
	if _, err := parseLabels(o.Labels); err != nil {
		return err
	}
	if err := o.Servers.validate(); err != nil {
		return err
	}
	switch {
	case o.source.Overrides.Parallelism != nil && *o.source.Overrides.Parallelism < 1:
		return fmt.Errorf("--parallelism %d: it must be 1 or more", *o.source.Overrides.Parallelism)
	case o.source.Overrides.WaitTimeout != nil && *o.source.Overrides.WaitTimeout < 0:
		return fmt.Errorf("--wait-timeout %s: it must be 0 (no limit) or more", *o.source.Overrides.WaitTimeout)
	case o.launcher.CPU.Sign() <= 0 || o.launcher.Memory.Sign() <= 0:
		return fmt.Errorf("--cpu and --memory must be more than zero")
	case o.launcher.RunAsUser != nil && *o.launcher.RunAsUser < 0:
		return fmt.Errorf("--run-as-user %d: it must be 0 or more", *o.launcher.RunAsUser)
	case o.pvc.Size.Sign() <= 0:
		return fmt.Errorf("--pvc-size must be more than zero")
	case o.DryRun == cmdutil.DryRunServer:
		return fmt.Errorf("--dry-run=server is not supported: use --dry-run=client")
	case o.DryRun == cmdutil.DryRunNone && o.output() != "" && o.output() != outputJSON && o.output() != outputYAML:
		return fmt.Errorf("--output %q: a run prints its verdict as json or yaml (other formats need --dry-run=client)", o.output())
	case o.DryRun == cmdutil.DryRunNone && o.Detach && o.Remove:
		return fmt.Errorf("--rm needs the run to be followed to its end: drop --detach")
	case o.source.Overrides.ParallelismMode != "" && o.source.Overrides.ParallelismMode != runstate.ModeSplit && o.source.Overrides.ParallelismMode != runstate.ModeReplicate:
		return fmt.Errorf("--parallelism-mode %q: use %s or %s", o.ParallelismMode, runstate.ModeSplit, runstate.ModeReplicate)
	case o.Spread != string(launcher.SpreadRequired) && o.Spread != string(launcher.SpreadPreferred):
		return fmt.Errorf("--spread %q: use %s or %s", o.Spread, launcher.SpreadRequired, launcher.SpreadPreferred)
	case o.TTLAfterFinished < 0 || o.TTLAfterFinished > 0 && o.TTLAfterFinished < time.Second:
		return fmt.Errorf("--ttl %s: use 0 (at once) or a whole number of seconds or more", o.TTLAfterFinished)
	case o.NoPVC && o.source.Overrides.PVC != NoPVCName:
		return fmt.Errorf("--no-pvc and --pvc are exclusive: results go on an emptyDir or on a claim")
	case o.NoPVC && o.CreatePVC:
		return fmt.Errorf("--no-pvc and --create-pvc are exclusive: results go on an emptyDir or on a claim")
	case o.NoPVC && o.KeepFor <= 0:
		return fmt.Errorf("--keep-for %s: it must be more than zero (the launcher's wait to be fetched)", o.KeepFor)
	case o.keepForSet && !o.NoPVC:
		return fmt.Errorf("--keep-for is for --no-pvc runs, whose results wait in the launcher pod: add --no-pvc or drop --keep-for")
	case o.NoPVC && o.NoFetch && !o.Detach:
		return fmt.Errorf("--no-fetch with --no-pvc would leave the results to vanish when --keep-for runs out: drop --no-fetch (or --detach and attach later)")
	case o.LaunchTimeout <= 0:
		return fmt.Errorf("--launch-timeout must be more than zero")
	case o.Interval < time.Second:
		return fmt.Errorf("--interval must be at least 1s")
	}
	switch corev1.PullPolicy(o.ImagePullPolicy) {
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		return fmt.Errorf("--image-pull-policy %q: use Always, IfNotPresent or Never", o.ImagePullPolicy)
	}
	return nil
}

func (o *RunOptions) output() string {
	if o.PrintFlags.OutputFormat == nil {
		return ""
	}
	return *o.PrintFlags.OutputFormat
}

// Run resolves the config, checks the cluster, launches the run and follows it to its verdict.
func (o *RunOptions) Run(ctx context.Context) error {
	spec, err := o.plan(ctx)
	if err != nil {
		return err
	}
	if err := o.planServers(ctx, spec.Config); err != nil {
		return err
	}
	objs, err := launcher.Objects(spec)
	if err != nil {
		return err
	}
	if o.DryRun == cmdutil.DryRunClient {
		return o.printObjects(objs)
	}
	cfg := spec.Config
	checks, err := cluster.Preflight(ctx, o.Client, cluster.PreflightSpec{
		Namespace: cfg.Harness.Namespace, PVC: cfg.Harness.ResultsPVC, CreatePVC: o.CreatePVC, NoPVC: o.NoPVC,
		Parallelism: cfg.Harness.Parallelism, HFTokenSecret: cfg.Endpoint.HFTokenSecret,
		Pod: podTemplate(objs),
	})
	if err != nil {
		return err
	}
	if blocking := cluster.Blocking(checks); len(blocking) > 0 {
		return preflightError(blocking)
	}
	for _, c := range checks {
		if !c.OK {
			o.warn(c.Message)
		}
	}
	if cfg.Harness.Parallelism == 1 && !o.NoPVC {
		// One launcher on a ReadWriteOnce claim goes where the claim can be mounted; more were
		// refused by the preflight.
		pin, err := cluster.PinForClaim(ctx, o.Client, cfg.Harness.Namespace, cfg.Harness.ResultsPVC)
		if err != nil {
			return err
		}
		if sel := pin.NodeSelector(); sel != nil {
			spec.Launcher.NodeAffinity = sel
			if objs, err = launcher.Objects(spec); err != nil {
				return err
			}
			fmt.Fprintf(o.ErrOut, "PVC %s is ReadWriteOnce: the launcher is pinned to %s.\n", cfg.Harness.ResultsPVC, pin)
		}
	}
	ns := cfg.Harness.Namespace
	fmt.Fprintf(o.ErrOut, "Starting run %s in namespace %s: %d launcher(s), harness %s, workloads %s\n",
		spec.RunID, ns, cfg.Harness.Parallelism, cfg.Harness.Name, workloadNames(spec))
	created, err := cluster.Create(ctx, o.Client, objs)
	for _, w := range created.Warnings {
		o.warn(w)
	}
	if err == nil {
		// Each launcher runs its workloads as soon as its pod starts (they wait for each other
		// at the start barrier); a launcher that cannot start fails the launch.
		err = cluster.WaitLaunchers(ctx, o.Client, ns, spec.RunID, cfg.Harness.Parallelism, o.LaunchTimeout)
	}
	if err != nil {
		return o.abandon(ctx, spec, created, err)
	}
	if o.Detach {
		fmt.Fprintf(o.ErrOut, "Run %s started.\n  follow it: kubectl llmdbench attach %s -n %s\n  its state: kubectl llmdbench status %s -n %s\n",
			spec.RunID, spec.RunID, ns, spec.RunID, ns)
		_, err := fmt.Fprintln(o.Out, spec.RunID)
		return err
	}
	run, err := cluster.GetRun(ctx, o.Client, ns, spec.RunID)
	if err != nil {
		return err
	}
	f := &follower{Client: o.Client, Executor: o.Executor, Wait: o.Interval, Output: o.output(), Remove: o.Remove, IOStreams: o.IOStreams}
	if !o.NoFetch {
		f.FetchTo, f.PerRequest = filepath.Join(o.ResultsDir, spec.RunID), o.PerRequest
		if len(o.scrapeTargets) > 0 {
			f.Scrape = newFollowScraper(f.FetchTo, o.scrapeTargets, o.Servers.Interval, cluster.ProxyFetcher{Client: o.Client}, o.warn)
		}
	}
	return f.follow(ctx, run)
}

// abandon removes what a failed launch created (never a claim, never results), unless the user
// asked to keep it, and returns the launch error.
func (o *RunOptions) abandon(ctx context.Context, spec launcher.Spec, created cluster.Created, cause error) error {
	ns := spec.Config.Harness.Namespace
	if o.KeepOnFailure {
		o.warn(fmt.Sprintf("keeping the objects of run %s (--keep-on-failure); remove them with: kubectl llmdbench delete %s -n %s --force", spec.RunID, spec.RunID, spec.Config.Harness.Namespace))
		return launchInterrupted(ctx, spec.RunID, ns, created, true, nil, cause)
	}
	cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	var removeErr error
	if created.ConfigMap != "" || created.Job != "" || len(created.Pods) > 0 {
		if removeErr = cluster.DeleteRun(cleanup, o.Client, ns, spec.RunID); removeErr != nil && ctx.Err() == nil {
			o.warn(fmt.Sprintf("could not remove run %s: %v", spec.RunID, removeErr))
		}
	}
	return launchInterrupted(ctx, spec.RunID, ns, created, false, removeErr, cause)
}

func workloadNames(spec launcher.Spec) string {
	names := make([]string, len(spec.Config.Workloads))
	for i, w := range spec.Config.Workloads {
		names[i] = w.Name
	}
	return strings.Join(names, ", ")
}

// podTemplate is the launchers' pod template among a run's objects (nil without a Job).
func podTemplate(objs []runtime.Object) *corev1.PodTemplateSpec {
	for _, o := range objs {
		if job, ok := o.(*batchv1.Job); ok {
			return &job.Spec.Template
		}
	}
	return nil
}

// preflightError reports every blocking check, one per line after a summary.
func preflightError(blocking []cluster.Check) error {
	lines := make([]string, len(blocking))
	for i, c := range blocking {
		lines[i] = c.Message
		if c.Fix != "" {
			lines[i] += ": " + c.Fix
		}
	}
	return fmt.Errorf("%s", strings.Join(lines, "; "))
}

// nativeDefaults fits the launcher to the native generator where the user did not choose: its
// own image instead of the llm-d-benchmark one the presets name (and only that one), and a small
// non-root pod.
func (o *RunOptions) nativeDefaults(cfg *config.Config) {
	if !o.launcherFlags["image"] {
		if img, swapped := launcher.NativeHarnessImage(cfg.Harness.Image, o.Version); swapped {
			fmt.Fprintf(o.ErrOut, "The native harness runs image %s in place of %s.\n", img, cfg.Harness.Image)
			cfg.Harness.Image = img
		}
	}
	native := launcher.NativeLauncher()
	if !o.launcherFlags["cpu"] {
		o.launcher.CPU = native.CPU
	}
	if !o.launcherFlags["memory"] {
		o.launcher.Memory = native.Memory
	}
	if !o.launcherFlags["run-as-user"] {
		o.launcher.RunAsUser = nil
	}
}

// plan resolves everything a run needs before any object is created.
func (o *RunOptions) plan(ctx context.Context) (launcher.Spec, error) {
	cfg, err := o.source.resolve(ctx, o.warn)
	if errors.Is(err, config.ErrFindMaxHarness) {
		return launcher.Spec{}, fmt.Errorf("--find-max needs the native harness (--harness llmdbench): %w", err)
	}
	if err != nil {
		return launcher.Spec{}, err
	}
	if o.FindMax.On && cfg.Harness.Parallelism > 1 {
		return launcher.Spec{}, fmt.Errorf("--find-max runs in one launcher, not %d: drop --parallelism (or harness.parallelism)", cfg.Harness.Parallelism)
	}
	runID, err := o.newRunID()
	if err != nil {
		return launcher.Spec{}, err
	}
	if cfg.Harness.Name == config.HarnessNative {
		o.nativeDefaults(cfg)
	}
	if o.Description != "" {
		cfg.Description.Text = o.Description
	}
	labels := map[string]string{}
	for _, l := range o.Labels {
		k, v, _ := splitPair(l, "=")
		labels[k] = v
	}
	// A split that leaves a launcher with nothing is refused before anything is created.
	if err := splitCheck(cfg); err != nil {
		return launcher.Spec{}, err
	}
	spec := launcher.Spec{Config: cfg, RunID: runID, Preset: o.source.Preset, Launcher: o.launcher, PVC: o.pvc,
		Repeat: o.Repeat, Labels: labels, Version: o.Version, Mode: cfg.Harness.ParallelismMode}
	if o.NoPVC {
		if cfg.Harness.Parallelism > 1 {
			return launcher.Spec{}, fmt.Errorf("--no-pvc runs one launcher, not %d: each launcher's emptyDir is its own and launchers meet on the shared results volume; drop --parallelism (or harness.parallelism) or use a ReadWriteMany --pvc", cfg.Harness.Parallelism)
		}
		spec.KeepFor = o.KeepFor
	}
	return spec, nil
}

func (o *RunOptions) warn(msg string) { fmt.Fprintf(o.ErrOut, "Warning: %s\n", msg) }

// printObjects prints each object (YAML documents separated by ---, names) or, for JSON, one List
// so the output stays a single JSON value.
func (o *RunOptions) printObjects(objs []runtime.Object) error {
	if f := o.PrintFlags.OutputFormat; f != nil && *f == "json" && len(objs) > 1 {
		list := &corev1.List{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "List"}}
		for _, obj := range objs {
			list.Items = append(list.Items, runtime.RawExtension{Object: obj})
		}
		return o.printer.PrintObj(list, o.Out)
	}
	for _, obj := range objs {
		if err := o.printer.PrintObj(obj, o.Out); err != nil {
			return err
		}
	}
	return nil
}

func splitPair(s, sep string) (string, string, bool) {
	k, v, ok := strings.Cut(s, sep)
	if !ok || strings.TrimSpace(k) == "" {
		return "", "", false
	}
	return strings.TrimSpace(k), v, true
}

// splitCheck refuses a run whose launchers cannot share its workloads' load: the native generator
// splits each profile itself (loadgen), the other harnesses read shares the plugin renders
// (config).
func splitCheck(cfg *config.Config) error {
	if cfg.Harness.Name != config.HarnessNative || cfg.Harness.Parallelism < 2 {
		return cfg.CheckSplit()
	}
	for _, w := range cfg.Workloads {
		if err := loadgen.CheckSplit(w.Profile, cfg.Harness.Parallelism, cfg.Harness.ParallelismMode); err != nil {
			return fmt.Errorf("workload %s: %w", w.Name, err)
		}
	}
	return nil
}

// findMaxValidate checks the search flags and, with --find-max, renders them for the config: the
// search replaces every workload's load, so the load flags are refused with it, and
// --stage-duration is the probes' length (default 60s).
func (o *RunOptions) findMaxValidate() error {
	f := &o.FindMax
	if !f.On {
		return f.validate()
	}
	sw := &o.source.Sweep
	if sw.Active() || sw.Poisson || sw.RequestsPerStage != 0 {
		return fmt.Errorf("--find-max chooses every probe's load itself: drop --rates, --concurrency, --poisson and --requests-per-stage")
	}
	if sw.StageDuration != 0 {
		f.StageDuration, sw.StageDuration = sw.StageDuration, 0
	}
	b, err := f.block()
	if err != nil {
		return err
	}
	o.source.FindMax = &config.FindMax{By: b.By, Min: b.Min, Max: b.Max, Precision: b.Precision, MaxProbes: b.MaxProbes,
		SLO: b.SLO, StageDuration: b.StageDuration}
	return nil
}
