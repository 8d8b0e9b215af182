package plugin

import (
	"fmt"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
)

// Client-side rate limits for every command. client-go's defaults (5 QPS, burst 10) throttle a
// run with several launchers (a watch, a status read and an exec per pod); these stay well
// under the API server's default priority-and-fairness share for one user.
const (
	clientQPS   = 50
	clientBurst = 100
)

// Clients is every way a command reaches the cluster, built together by newClients so that no
// path runs with only some of them (discovery once ran without its dynamic client). Options
// structs embed *Clients, so a command reads o.Client and o.Executor; tests preset the struct.
type Clients struct {
	REST     *rest.Config
	Client   kubernetes.Interface
	Dynamic  dynamic.Interface
	Executor cluster.Executor
}

// newClients is the one constructor of a command's clients: it builds all of them from the kube
// flags, or none. Commands call it in Complete (through kube.complete, or connector.get for run
// and doctor).
func newClients(f cmdutil.Factory) (*Clients, error) {
	cfg, err := f.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = clientQPS, clientBurst
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the API client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the dynamic API client: %w", err)
	}
	return &Clients{REST: cfg, Client: kube, Dynamic: dyn, Executor: &cluster.RemoteExecutor{Client: kube, Config: cfg}}, nil
}

// connector hands out one Clients per command, built on first use. It is lazy for one reason
// only: `run --dry-run=client` with --base-url (or a config that needs no gateway discovery)
// never touches the cluster and must work without a kubeconfig; every other path calls get in
// Complete.
type connector struct {
	factory cmdutil.Factory
	clients *Clients
}

// get returns the command's clients; tests preset them.
func (c *connector) get() (*Clients, error) {
	if c.clients != nil {
		return c.clients, nil
	}
	if c.factory == nil {
		return nil, fmt.Errorf("no cluster connection configured")
	}
	cl, err := newClients(c.factory)
	if err != nil {
		return nil, err
	}
	c.clients = cl
	return cl, nil
}
