package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
)

// ErrNoGateway: the config reaches its endpoint through ${GATEWAY_SVC} or ${GATEWAY_IP}, but
// names no gateway to discover them from.
var ErrNoGateway = errors.New("the config's base_url needs the gateway's Service, but it names no gateway")

// Gateway is what discovery found of a gateway.
type Gateway struct {
	// Service is the gateway's Service, "" for a managed gateway that has none.
	Service string
	// Address is the gateway's address; Port its HTTP port (0 when unknown: 80).
	Address string
	Port    int64
}

// GatewayFinder finds a gateway in a namespace (the cluster package does, for the plugin).
type GatewayFinder func(ctx context.Context, namespace, gateway string) (Gateway, error)

// Source is a config document with everything that completes it: overrides, the namespace the
// user is in, the environment, and how to discover the gateway.
type Source struct {
	Document  *Document
	Overrides Overrides
	// Namespace is the user's (kube context or explicit); Explicit tells whether the user chose it.
	Namespace         string
	ExplicitNamespace bool
	// LookupEnv reads the environment (os.LookupEnv in production).
	LookupEnv func(string) (string, bool)
	// Hints say how the caller's user sets each variable (see Variables.Hints).
	Hints     map[string]string
	Workloads []string
	Env       []EnvVar
	Sweep     *Sweep
	FindMax   *FindMax
	// FindGateway is asked only when the config still needs ${GATEWAY_SVC} or ${GATEWAY_IP}
	// and the environment does not set them.
	FindGateway GatewayFinder
}

// Resolved is a resolved config and what resolving it decided.
type Resolved struct {
	Config   *Config
	Warnings []string
	// ManagedURL is set when the gateway has no Service: the base URL its address gives, which
	// the config now uses.
	ManagedURL string
	// Gateway and GatewayNamespace name the gateway discovered, "" when none was.
	Gateway, GatewayNamespace string
}

// Resolve applies the overrides and namespace, fills the guide's variables (discovering the
// gateway when the config needs it), renders and validates. On error the warnings gathered so
// far are returned too.
func (s Source) Resolve(ctx context.Context) (Resolved, error) {
	var res Resolved
	doc := s.Document
	lookupEnv := s.LookupEnv
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	o := s.Overrides
	if s.ExplicitNamespace {
		o.Namespace = s.Namespace
	}
	doc.Apply(o)
	_, hasHarnessNS := doc.Lookup("harness", "namespace")
	_, hasEndpointNS := doc.Lookup("endpoint", "namespace")
	if !hasHarnessNS && !hasEndpointNS {
		doc.Apply(Overrides{Namespace: s.Namespace})
	}
	vars := Variables{Values: map[string]string{}, Env: lookupEnv, Hints: s.Hints}
	// The guide exports NAMESPACE and BENCHMARK_PVC; an explicit namespace beats them, the
	// current kube context's does not.
	if _, fromEnv := lookupEnv(VarNamespace); s.ExplicitNamespace || !fromEnv {
		vars.Values[VarNamespace] = s.Namespace
	}
	if s.Overrides.PVC != "" {
		vars.Values[VarBenchmarkPVC] = s.Overrides.PVC
	}
	if err := s.discover(ctx, &vars, &res); err != nil {
		return res, err
	}
	cfg, warnings, err := doc.Resolve(Options{Variables: vars, Workloads: s.Workloads, Env: s.Env, Sweep: s.Sweep, FindMax: s.FindMax})
	res.Warnings = append(res.Warnings, warnings...)
	if err != nil {
		return res, err
	}
	res.Config = cfg
	return res, nil
}

// discover fills ${GATEWAY_SVC}/${GATEWAY_IP} through FindGateway when the config still uses them
// and the environment does not already set them.
func (s Source) discover(ctx context.Context, vars *Variables, res *Resolved) error {
	doc := s.Document
	inEnv := func(name string) bool { _, ok := vars.Env(name); return ok }
	refs := doc.References()
	needSvc := slices.Contains(refs, VarGatewaySvc) && !inEnv(VarGatewaySvc)
	needIP := slices.Contains(refs, VarGatewayIP) && !inEnv(VarGatewayIP)
	if !needSvc && !needIP {
		return nil
	}
	gateway, _ := doc.Lookup("endpoint", "gateway")
	gateway, err := vars.Expand(gateway)
	if err != nil {
		return fmt.Errorf("endpoint.gateway: %w", err)
	}
	if gateway == "" {
		return ErrNoGateway
	}
	ns := s.Namespace
	if raw, ok := doc.Lookup("endpoint", "namespace"); ok {
		if ns, err = vars.Expand(raw); err != nil {
			return fmt.Errorf("endpoint.namespace: %w", err)
		}
	}
	if s.FindGateway == nil {
		return fmt.Errorf("discovering gateway %s needs a cluster", gateway)
	}
	g, err := s.FindGateway(ctx, ns, gateway)
	if err != nil {
		return err
	}
	res.Gateway, res.GatewayNamespace = gateway, ns
	if g.Service != "" {
		vars.Values[VarGatewaySvc] = g.Service
	} else if needSvc {
		// A managed gateway has no Service: reach it at its address instead.
		port := g.Port
		if port == 0 {
			port = 80
		}
		res.ManagedURL = "http://" + net.JoinHostPort(g.Address, strconv.FormatInt(port, 10))
		doc.Apply(Overrides{BaseURL: res.ManagedURL})
	}
	if g.Address != "" {
		vars.Values[VarGatewayIP] = g.Address
	}
	return nil
}
