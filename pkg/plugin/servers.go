package plugin

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/labels"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"sigs.k8s.io/yaml"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/config"
	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

// defaultScrapeInterval is how often the model servers' /metrics are read during a run.
const defaultScrapeInterval = 5 * time.Second

// serverMetricsKey is the native workload profile's field that makes the in-pod generator scrape
// (loadgen's server_metrics: {interval_seconds, targets}).
const serverMetricsKey = "server_metrics"

// serverFlags are run's (and doctor's) server-metrics flags.
type serverFlags struct {
	Interval time.Duration
	Selector string
	Port     int
}

func (s *serverFlags) add(fl *pflag.FlagSet, withInterval bool) {
	if withInterval {
		fl.DurationVar(&s.Interval, "scrape-interval", defaultScrapeInterval, "How often the model servers' /metrics are read during the run; 0 turns server metrics off")
	}
	fl.StringVar(&s.Selector, "server-selector", "", "Label selector of the model-server pods to scrape, e.g. app=vllm (default: the InferencePool's selector)")
	fl.IntVar(&s.Port, "metrics-port", 0, "Port of the model servers' /metrics (default: the InferencePool's target port, else the pod's port named metrics or http, else its prometheus.io/port annotation)")
}

// validate refuses bad values before anything is created.
func (s *serverFlags) validate() error {
	switch {
	case s.Interval < 0 || s.Interval > 0 && s.Interval < time.Second:
		return fmt.Errorf("--scrape-interval %s: use 0 (off) or 1s or more", s.Interval)
	case s.Port < 0 || s.Port > 65535:
		return fmt.Errorf("--metrics-port %d: use a port from 1 to 65535", s.Port)
	}
	if s.Selector != "" {
		if _, err := labels.Parse(s.Selector); err != nil {
			return fmt.Errorf("--server-selector %q: %w", s.Selector, err)
		}
	}
	return nil
}

// serverNamespace is where the stack's servers run: the endpoint's namespace, else the harness's.
func serverNamespace(cfg *config.Config) string {
	if cfg.Endpoint.Namespace != "" {
		return cfg.Endpoint.Namespace
	}
	return cfg.Harness.Namespace
}

// discover finds the servers of cfg's stack.
func (s *serverFlags) discover(ctx context.Context, c *Clients, cfg *config.Config) (cluster.Servers, error) {
	return cluster.DiscoverServers(ctx, c.Client, c.Dynamic, cluster.ServerQuery{
		Namespace: serverNamespace(cfg), Gateway: cfg.Endpoint.Gateway, Selector: s.Selector, Port: s.Port})
}

// describeServers is one line naming the targets by role: "model servers sim-0, sim-1 (InferencePool
// gaie); endpoint picker epp-0".
func describeServers(sv cluster.Servers) string {
	var model, epp []string
	for _, t := range sv.Targets {
		if t.Role == results.RoleEPP {
			epp = append(epp, t.Pod)
		} else {
			model = append(model, t.Pod)
		}
	}
	line := "model servers " + strings.Join(model, ", ")
	if len(model) == 0 {
		line = "no model servers"
	}
	if len(sv.Pools) > 0 {
		line += " (InferencePool " + strings.Join(sv.Pools, ", ") + ")"
	}
	if len(epp) > 0 {
		line += "; endpoint picker " + strings.Join(epp, ", ")
	}
	return line
}

// noServersWarning is the one line a run prints when it found nothing to scrape.
func noServersWarning(sv cluster.Servers, err error) string {
	why := strings.Join(sv.Notes, "; ")
	if err != nil {
		why = err.Error()
	}
	if why == "" {
		why = "none found"
	}
	return fmt.Sprintf("no model servers to scrape (%s): the run goes on without server metrics (name them with --server-selector LABELS)", why)
}

// serverMetricsBlock is the native profile's server_metrics field.
type serverMetricsBlock struct {
	IntervalSeconds float64                `json:"interval_seconds"`
	Targets         []results.ServerTarget `json:"targets"`
}

// withServerMetrics returns profile with a top-level server_metrics field appended (the text
// before it untouched, so the ConfigMap keeps the user's comments and layout). A profile that
// already has the field is returned unchanged with false: the file's own setting wins.
func withServerMetrics(profile []byte, interval time.Duration, targets []results.ServerTarget) ([]byte, bool, error) {
	var top map[string]any
	if err := yaml.Unmarshal(profile, &top); err != nil {
		return nil, false, fmt.Errorf("reading the profile: %w", err)
	}
	if _, ok := top[serverMetricsKey]; ok {
		return profile, false, nil
	}
	block, err := yaml.Marshal(map[string]serverMetricsBlock{serverMetricsKey: {IntervalSeconds: interval.Seconds(), Targets: targets}})
	if err != nil {
		return nil, false, err
	}
	var out bytes.Buffer
	out.Write(profile)
	if len(profile) > 0 && !bytes.HasSuffix(profile, []byte("\n")) {
		out.WriteByte('\n')
	}
	out.WriteString("# added by kubectl llmdbench run: the model servers the generator scrapes\n")
	out.Write(block)
	return out.Bytes(), true, nil
}

// planServers finds the servers to scrape (unless --scrape-interval 0, or a client dry run without
// a cluster) and hands them to the run: the native harness gets them in every workload's
// server_metrics field (its launcher scrapes them from inside the cluster at their pod IPs).
// Finding none is one warning; the run goes on. Only a profile it cannot read is an error.
func (o *RunOptions) planServers(ctx context.Context, cfg *config.Config) error {
	if o.Servers.Interval == 0 || o.Clients == nil || o.Client == nil {
		return nil
	}
	image := cfg.Harness.Name != config.HarnessNative
	if image && o.DryRun != cmdutil.DryRunNone {
		return nil // nothing follows a dry run; the objects carry no targets
	}
	if image && (o.Detach || o.NoFetch) {
		fmt.Fprintln(o.ErrOut, "No server metrics: for an image harness this command reads them while it follows the run and fetches its results (not with --detach or --no-fetch).")
		return nil
	}
	sv, err := o.Servers.discover(ctx, o.Clients, cfg)
	if ctx.Err() != nil {
		return ctx.Err() // interrupted: not a warning about servers
	}
	if err != nil || len(sv.Targets) == 0 {
		o.warn(noServersWarning(sv, err))
		return nil
	}
	if image {
		// Image harnesses: scraped by this command through the API server while it follows.
		if o.scrapeTargets, err = cluster.ProxyTargets(sv.Targets); err != nil {
			return err
		}
		fmt.Fprintf(o.ErrOut, "Scraping %s every %s through the API server while following (a detached run has no server metrics).\n",
			describeServers(sv), o.Servers.Interval)
		return nil
	}
	for i := range cfg.Workloads {
		w := &cfg.Workloads[i]
		profile, added, err := withServerMetrics(w.Profile, o.Servers.Interval, sv.Targets)
		if err != nil {
			return fmt.Errorf("workload %s: %w", w.Name, err)
		}
		if !added {
			fmt.Fprintf(o.ErrOut, "Workload %s names its own server_metrics; it is kept.\n", w.Name)
		}
		w.Profile = profile
	}
	fmt.Fprintf(o.ErrOut, "The launcher scrapes %s every %s.\n", describeServers(sv), o.Servers.Interval)
	return nil
}
