package config

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// gatewayConfig reaches its endpoint through the guide's variables, as the presets do.
const gatewayConfig = `
endpoint:
  stack_name: s1
  model: &model m/one
  namespace: ${NAMESPACE}
  gateway: gw1
  base_url: &url http://${GATEWAY_SVC}.${NAMESPACE}.svc.cluster.local:80
harness:
  name: inference-perf
  results_pvc: ${BENCHMARK_PVC}
  namespace: ${NAMESPACE}
  parallelism: 1
  wait_timeout: 60
  image: img:1
workload:
  first:
    load: {stages: [{rate: 1, duration: 10}]}
    server:
      model_name: *model
      base_url: *url
`

type finderCall struct{ ns, gateway string }

func finder(g Gateway, err error, calls *[]finderCall) GatewayFinder {
	return func(_ context.Context, ns, gateway string) (Gateway, error) {
		*calls = append(*calls, finderCall{ns, gateway})
		return g, err
	}
}

func env(pairs map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := pairs[k]; return v, ok }
}

func TestSourceDiscoversTheGatewayService(t *testing.T) {
	var calls []finderCall
	s := Source{Document: mustParse(t, "c.yaml", gatewayConfig), Namespace: "bench", Overrides: Overrides{PVC: "results"},
		FindGateway: finder(Gateway{Service: "gw1-istio", Address: "10.0.0.7"}, nil, &calls)}
	res, err := s.Resolve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0] != (finderCall{"bench", "gw1"}) {
		t.Errorf("finder calls %v", calls)
	}
	c := res.Config
	if c.Endpoint.BaseURL != "http://gw1-istio.bench.svc.cluster.local:80" || c.Harness.ResultsPVC != "results" || c.Harness.Namespace != "bench" {
		t.Errorf("endpoint %q, pvc %q, namespace %q", c.Endpoint.BaseURL, c.Harness.ResultsPVC, c.Harness.Namespace)
	}
	if res.ManagedURL != "" || res.Gateway != "gw1" || res.GatewayNamespace != "bench" {
		t.Errorf("%+v", res)
	}
}

// A managed gateway has no Service: its address (port 80 when the Gateway says none) becomes the
// base URL.
func TestSourceManagedGatewayUsesItsAddress(t *testing.T) {
	for _, tc := range []struct {
		port int64
		want string
	}{{0, "http://10.0.0.8:80"}, {8080, "http://10.0.0.8:8080"}} {
		var calls []finderCall
		s := Source{Document: mustParse(t, "c.yaml", gatewayConfig), Namespace: "bench", Overrides: Overrides{PVC: "results"},
			FindGateway: finder(Gateway{Address: "10.0.0.8", Port: tc.port}, nil, &calls)}
		res, err := s.Resolve(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if res.ManagedURL != tc.want || res.Config.Endpoint.BaseURL != tc.want || res.Config.Workloads[0].Profile == nil {
			t.Errorf("port %d: managed %q, base_url %q", tc.port, res.ManagedURL, res.Config.Endpoint.BaseURL)
		}
	}
}

func TestSourceAsksNoClusterWhenItNeedsNone(t *testing.T) {
	var calls []finderCall
	never := finder(Gateway{}, errors.New("no cluster"), &calls)
	// --base-url replaces the variables; the environment may set them too.
	for name, s := range map[string]Source{
		"base url": {Document: mustParse(t, "c.yaml", gatewayConfig), Namespace: "bench", Overrides: Overrides{PVC: "r", BaseURL: "http://10.0.0.9:8000"}, FindGateway: never},
		"env":      {Document: mustParse(t, "c.yaml", gatewayConfig), Namespace: "bench", Overrides: Overrides{PVC: "r"}, LookupEnv: env(map[string]string{"GATEWAY_SVC": "from-env"}), FindGateway: never},
	} {
		if _, err := s.Resolve(context.Background()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if len(calls) != 0 {
		t.Errorf("the finder was asked: %v", calls)
	}
}

func TestSourceDiscoveryErrors(t *testing.T) {
	noGateway := strings.Replace(gatewayConfig, "  gateway: gw1\n", "", 1)
	var calls []finderCall
	down := errors.New("connection refused")
	for _, tc := range []struct {
		name string
		s    Source
		want error
		msg  string
	}{
		{"no gateway named", Source{Document: mustParse(t, "c.yaml", noGateway), Namespace: "b", FindGateway: finder(Gateway{}, nil, &calls)}, ErrNoGateway, ""},
		{"finder fails", Source{Document: mustParse(t, "c.yaml", gatewayConfig), Namespace: "b", FindGateway: finder(Gateway{}, down, &calls)}, down, ""},
		{"no finder", Source{Document: mustParse(t, "c.yaml", gatewayConfig), Namespace: "b"}, nil, "discovering gateway gw1 needs a cluster"},
	} {
		_, err := tc.s.Resolve(context.Background())
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || (tc.msg != "" && err.Error() != tc.msg) {
			t.Errorf("%s: got %v", tc.name, err)
		}
		if err != nil && strings.Contains(err.Error(), "--") {
			t.Errorf("%s: a capability error names a flag: %v", tc.name, err)
		}
	}
}

// The guide exports NAMESPACE: it beats the kube context's namespace, an explicit one beats it.
func TestSourceNamespacePrecedence(t *testing.T) {
	for _, tc := range []struct {
		explicit bool
		env      map[string]string
		want     string
	}{
		{false, nil, "ctx"},
		{false, map[string]string{"NAMESPACE": "exported"}, "exported"},
		{true, map[string]string{"NAMESPACE": "exported"}, "ctx"},
	} {
		var calls []finderCall
		s := Source{Document: mustParse(t, "c.yaml", gatewayConfig), Namespace: "ctx", ExplicitNamespace: tc.explicit, Overrides: Overrides{PVC: "r"},
			LookupEnv: env(tc.env), FindGateway: finder(Gateway{Service: "svc"}, nil, &calls)}
		res, err := s.Resolve(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if res.Config.Harness.Namespace != tc.want || calls[0].ns != tc.want {
			t.Errorf("explicit=%v env=%v: namespace %q, discovered in %q; want %q", tc.explicit, tc.env, res.Config.Harness.Namespace, calls[0].ns, tc.want)
		}
	}
}
