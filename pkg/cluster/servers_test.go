package cluster

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	restclient "k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

func poolDynamic(pools ...*unstructured.Unstructured) *dynamicfake.FakeDynamicClient {
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		InferencePoolResource: "InferencePoolList", InferencePoolV1Alpha2Resource: "InferencePoolList"})
	for _, p := range pools {
		gvr := InferencePoolResource
		if strings.HasSuffix(p.GetAPIVersion(), "v1alpha2") {
			gvr = InferencePoolV1Alpha2Resource
		}
		if _, err := dyn.Resource(gvr).Namespace(p.GetNamespace()).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			panic(err)
		}
	}
	return dyn
}

func poolV1Object(name string, sel map[string]any, port int64, epp string) *unstructured.Unstructured {
	spec := map[string]any{"selector": map[string]any{"matchLabels": sel},
		"targetPorts": []any{map[string]any{"number": port}}}
	if epp != "" {
		spec["endpointPickerRef"] = map[string]any{"name": epp, "port": map[string]any{"number": int64(9002)}}
	}
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "inference.networking.k8s.io/v1", "kind": "InferencePool",
		"metadata": map[string]any{"name": name, "namespace": "llm-d"}, "spec": spec}}
}

type podOpt func(*corev1.Pod)

func serverPod(name, ip string, lbl map[string]string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "llm-d", Labels: lbl},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "main"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func withPort(name string, port int32) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: name, ContainerPort: port})
	}
}

func pending(p *corev1.Pod) { p.Status.Phase, p.Status.PodIP = corev1.PodPending, "" }

func eppService() *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "gaie-epp", Namespace: "llm-d"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "epp"}, Ports: []corev1.ServicePort{
			{Name: "grpc-ext-proc", Port: 9002}, {Name: "http-metrics", Port: 9090, TargetPort: intstr.FromString("prom")}}}}
}

func TestDiscoverServersFromAnInferencePoolAndItsEndpointPicker(t *testing.T) {
	vllm := map[string]string{"llm-d.ai/inferenceServing": "true"}
	cs := fake.NewClientset(
		serverPod("decode-b", "10.0.0.6", vllm),
		serverPod("decode-a", "10.0.0.5", vllm, withPort("metrics", 9999)), // the pool's port wins
		serverPod("decode-c", "", vllm, pending),
		serverPod("other", "10.0.0.7", map[string]string{"app": "x"}),
		serverPod("epp-0", "10.0.0.9", map[string]string{"app": "epp"}, withPort("grpc", 9002), withPort("prom", 9090)),
		eppService())
	dyn := poolDynamic(poolV1Object("gaie", map[string]any{"llm-d.ai/inferenceServing": "true"}, 8000, "gaie-epp"))
	got, err := DiscoverServers(context.Background(), cs, dyn, ServerQuery{Namespace: "llm-d"})
	if err != nil {
		t.Fatal(err)
	}
	want := []results.ServerTarget{
		{Namespace: "llm-d", Pod: "decode-a", Role: "model-server", URL: "http://10.0.0.5:8000/metrics", Via: "direct"},
		{Namespace: "llm-d", Pod: "decode-b", Role: "model-server", URL: "http://10.0.0.6:8000/metrics", Via: "direct"},
		{Namespace: "llm-d", Pod: "epp-0", Role: "epp", URL: "http://10.0.0.9:9090/metrics", Via: "direct"},
	}
	if !reflect.DeepEqual(got.Targets, want) {
		t.Errorf("targets:\n got %+v\nwant %+v", got.Targets, want)
	}
	if !reflect.DeepEqual(got.Pools, []string{"gaie"}) {
		t.Errorf("pools %v", got.Pools)
	}
	if len(got.Notes) != 1 || got.Notes[0] != "skipped 1 pod(s) not running (decode-c)" {
		t.Errorf("notes %q", got.Notes)
	}
}

func TestDiscoverServersFallsBackToV1Alpha2PoolsAndThePortOverride(t *testing.T) {
	old := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "inference.networking.x-k8s.io/v1alpha2", "kind": "InferencePool",
		"metadata": map[string]any{"name": "old", "namespace": "llm-d"},
		"spec": map[string]any{"selector": map[string]any{"app": "vllm"}, "targetPortNumber": int64(8200),
			"extensionRef": map[string]any{"name": "old-epp"}}}}
	cs := fake.NewClientset(serverPod("vllm-0", "10.0.1.1", map[string]string{"app": "vllm"}))
	got, err := DiscoverServers(context.Background(), cs, poolDynamic(old), ServerQuery{Namespace: "llm-d"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Targets) != 1 || got.Targets[0].URL != "http://10.0.1.1:8200/metrics" || !reflect.DeepEqual(got.Pools, []string{"old"}) {
		t.Errorf("got %+v", got)
	}
	// The endpoint picker's Service is missing: a note, not an error.
	if len(got.Notes) != 1 || !strings.Contains(got.Notes[0], "endpoint picker Service old-epp of InferencePool old is missing") {
		t.Errorf("notes %q", got.Notes)
	}
	got, err = DiscoverServers(context.Background(), cs, poolDynamic(old), ServerQuery{Namespace: "llm-d", Pool: "old", Port: 9100})
	if err != nil || len(got.Targets) != 1 || got.Targets[0].URL != "http://10.0.1.1:9100/metrics" {
		t.Errorf("override: %+v %v", got, err)
	}
}

func TestDiscoverServersBySelectorUsesPodPorts(t *testing.T) {
	sim := map[string]string{"app": "sim"}
	annotated := func(p *corev1.Pod) {
		p.Annotations = map[string]string{"prometheus.io/port": "7000", "prometheus.io/path": "/m"}
	}
	cs := fake.NewClientset(
		serverPod("sim-http", "10.0.2.1", sim, withPort("grpc", 50051), withPort("http", 8080)),
		serverPod("sim-both", "10.0.2.2", sim, withPort("http", 8080), withPort("metrics", 8081)),
		serverPod("sim-ann", "10.0.2.3", sim, annotated),
		serverPod("sim-none", "fd00::4", sim),
		serverPod("sim6", "fd00::5", sim, withPort("http", 8000)))
	got, err := DiscoverServers(context.Background(), cs, poolDynamic(poolV1Object("ignored", map[string]any{"app": "sim"}, 1, "")),
		ServerQuery{Namespace: "llm-d", Selector: "app=sim"})
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, tg := range got.Targets {
		urls = append(urls, tg.Pod+" "+tg.URL)
	}
	want := []string{"sim-ann http://10.0.2.3:7000/m", "sim-both http://10.0.2.2:8081/metrics",
		"sim-http http://10.0.2.1:8080/metrics", "sim6 http://[fd00::5]:8000/metrics"}
	if !reflect.DeepEqual(urls, want) {
		t.Errorf("got %q\nwant %q", urls, want)
	}
	if got.Pools != nil || len(got.Notes) != 1 || !strings.HasPrefix(got.Notes[0], "pod sim-none has no metrics port") {
		t.Errorf("pools %v notes %q", got.Pools, got.Notes)
	}
}

func TestDiscoverServersNothingFoundIsNotes(t *testing.T) {
	cs := fake.NewClientset()
	got, err := DiscoverServers(context.Background(), cs, poolDynamic(), ServerQuery{Namespace: "llm-d"})
	if err != nil || len(got.Targets) != 0 || !reflect.DeepEqual(got.Notes, []string{"no InferencePool in namespace llm-d"}) {
		t.Errorf("no pools: %+v %v", got, err)
	}
	got, err = DiscoverServers(context.Background(), cs, poolDynamic(), ServerQuery{Namespace: "llm-d", Selector: "app=sim"})
	if err != nil || len(got.Targets) != 0 || !reflect.DeepEqual(got.Notes, []string{"no running pod in namespace llm-d matches app=sim"}) {
		t.Errorf("selector: %+v %v", got, err)
	}
	dyn := poolDynamic()
	dyn.PrependReactor("list", "inferencepools", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "inference.networking.k8s.io", Resource: "inferencepools"}, "", errors.New("no"))
	})
	got, err = DiscoverServers(context.Background(), cs, dyn, ServerQuery{Namespace: "llm-d"})
	if err != nil || len(got.Targets) != 0 || len(got.Notes) != 1 || !strings.Contains(got.Notes[0], "cannot read InferencePools (inferencepools.inference.networking.k8s.io) in namespace llm-d (forbidden)") {
		t.Errorf("forbidden: %+v %v", got, err)
	}
}

func TestDiscoverServersRefusesBadInput(t *testing.T) {
	cs := fake.NewClientset()
	_, err := DiscoverServers(context.Background(), cs, poolDynamic(), ServerQuery{Namespace: "llm-d", Selector: "app in ("})
	if !errors.Is(err, ErrBadServerSelector) {
		t.Errorf("bad selector: %v", err)
	}
	_, err = DiscoverServers(context.Background(), cs, poolDynamic(), ServerQuery{Namespace: "llm-d", Pool: "nope"})
	if err == nil || err.Error() != "InferencePool nope not found in namespace llm-d" {
		t.Errorf("missing pool: %v", err)
	}
	cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("etcd down")
	})
	_, err = DiscoverServers(context.Background(), cs, poolDynamic(), ServerQuery{Namespace: "llm-d", Selector: "app=sim"})
	if err == nil || !strings.Contains(err.Error(), "listing pods app=sim in namespace llm-d: etcd down") {
		t.Errorf("pods error: %v", err)
	}
}

func TestProxyTargetsAndParts(t *testing.T) {
	in := []results.ServerTarget{{Namespace: "ns", Pod: "sim-0", Role: "model-server", URL: "http://10.0.0.5:8000/metrics", Via: "direct"}}
	got, err := ProxyTargets(in)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].URL != "/api/v1/namespaces/ns/pods/http:sim-0:8000/proxy/metrics" || got[0].Via != "proxy" || in[0].Via != "direct" {
		t.Errorf("got %+v (input %+v)", got[0], in[0])
	}
	for _, tg := range []results.ServerTarget{in[0], got[0]} {
		s, p, path, err := proxyParts(tg)
		if err != nil || s != "http" || p != "8000" || path != "/metrics" {
			t.Errorf("%s: %q %q %q %v", tg.URL, s, p, path, err)
		}
	}
	if _, err := ProxyTargets([]results.ServerTarget{{Pod: "x", URL: "http://10.0.0.5/metrics"}}); err == nil {
		t.Error("a URL without a port must be refused")
	}
	for _, bad := range []results.ServerTarget{
		{Namespace: "ns", Pod: "sim-0", Via: "proxy", URL: "/api/v1/namespaces/ns/pods/http:other:8000/proxy/metrics"},
		{Namespace: "ns", Pod: "sim-0", Via: "proxy", URL: "/api/v1/namespaces/ns/pods/sim-0/proxy/metrics"},
		{Namespace: "ns", Pod: "sim-0", Via: "direct", URL: "http://10.0.0.5:99999/metrics"},
	} {
		if _, _, _, err := proxyParts(bad); err == nil {
			t.Errorf("%s: must be refused", bad.URL)
		}
	}
}

// rawResponse is a ResponseWrapper with a fixed answer.
type rawResponse struct {
	body []byte
	err  error
}

func (r rawResponse) DoRaw(context.Context) ([]byte, error) { return r.body, r.err }
func (r rawResponse) Stream(context.Context) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(string(r.body))), r.err
}

func TestProxyFetcherGetsThroughThePodProxy(t *testing.T) {
	cs := fake.NewClientset()
	var seen k8stesting.ProxyGetAction
	cs.PrependProxyReactor("pods", func(a k8stesting.Action) (bool, restclient.ResponseWrapper, error) {
		seen = a.(k8stesting.ProxyGetAction)
		return true, rawResponse{body: []byte("vllm:num_requests_running 2\n")}, nil
	})
	f := ProxyFetcher{Client: cs}
	body, err := f.Fetch(context.Background(), results.ServerTarget{Namespace: "ns", Pod: "sim-0", URL: "http://10.0.0.5:8000/metrics", Via: "direct"})
	if err != nil || string(body) != "vllm:num_requests_running 2\n" {
		t.Fatalf("%q %v", body, err)
	}
	if seen.GetNamespace() != "ns" || seen.GetName() != "sim-0" || seen.GetScheme() != "http" || seen.GetPort() != "8000" || seen.GetPath() != "/metrics" {
		t.Errorf("proxy call %+v", seen)
	}
	cs.PrependProxyReactor("pods", func(k8stesting.Action) (bool, restclient.ResponseWrapper, error) {
		return true, rawResponse{err: apierrors.NewForbidden(schema.GroupResource{Resource: "pods/proxy"}, "sim-0", errors.New("no"))}, nil
	})
	_, err = f.Fetch(context.Background(), results.ServerTarget{Namespace: "ns", Pod: "sim-0", URL: "http://10.0.0.5:8000/metrics"})
	if !apierrors.IsForbidden(err) || !strings.HasPrefix(err.Error(), "reading /metrics of pod sim-0 through the API server: ") {
		t.Errorf("forbidden: %v", err)
	}
}

func TestProxyFetcherNamesTheRefusalInTheBody(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependProxyReactor("pods", func(k8stesting.Action) (bool, restclient.ResponseWrapper, error) {
		return true, rawResponse{body: []byte("address not allowed\n"), err: apierrors.NewBadRequest("the server rejected our request for an unknown reason")}, nil
	})
	_, err := ProxyFetcher{Client: cs}.Fetch(context.Background(), results.ServerTarget{Namespace: "ns", Pod: "sim-0", URL: "http://127.0.0.1:8000/metrics"})
	if !apierrors.IsBadRequest(err) || !strings.HasSuffix(err.Error(), "unknown reason: address not allowed") {
		t.Errorf("%v", err)
	}
}

func routeObject(name string, parents []any, backends ...map[string]any) *unstructured.Unstructured {
	refs := make([]any, len(backends))
	for i, b := range backends {
		refs[i] = b
	}
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": name, "namespace": "llm-d"},
		"spec":     map[string]any{"parentRefs": parents, "rules": []any{map[string]any{"backendRefs": refs}}}}}
}

// Of several pools, the ones the gateway's HTTPRoutes send to are scraped; without such a route
// (or without reading routes) all of them, and the note says which.
func TestDiscoverServersChoosesThePoolsTheGatewayRoutesTo(t *testing.T) {
	a, b := map[string]string{"pool": "a"}, map[string]string{"pool": "b"}
	cs := fake.NewClientset(serverPod("a-0", "10.0.3.1", a), serverPod("b-0", "10.0.3.2", b))
	newDyn := func(routes ...*unstructured.Unstructured) *dynamicfake.FakeDynamicClient {
		dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
			InferencePoolResource: "InferencePoolList", InferencePoolV1Alpha2Resource: "InferencePoolList", HTTPRouteResource: "HTTPRouteList"})
		ctx := context.Background()
		for _, p := range []*unstructured.Unstructured{poolV1Object("pool-a", map[string]any{"pool": "a"}, 8000, ""), poolV1Object("pool-b", map[string]any{"pool": "b"}, 8000, "")} {
			if _, err := dyn.Resource(InferencePoolResource).Namespace("llm-d").Create(ctx, p, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range routes {
			if _, err := dyn.Resource(HTTPRouteResource).Namespace("llm-d").Create(ctx, r, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		return dyn
	}
	pods := func(s Servers) string {
		var ps []string
		for _, tg := range s.Targets {
			ps = append(ps, tg.Pod)
		}
		return strings.Join(ps, ",")
	}
	toB := routeObject("r", []any{map[string]any{"name": "gw"}},
		map[string]any{"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "pool-b"},
		map[string]any{"kind": "Service", "name": "pool-a"}) // a Service of the same name is not the pool
	other := routeObject("o", []any{map[string]any{"name": "other-gw"}}, map[string]any{"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "pool-a"})
	got, err := DiscoverServers(context.Background(), cs, newDyn(toB, other), ServerQuery{Namespace: "llm-d", Gateway: "gw"})
	if err != nil || pods(got) != "b-0" || !reflect.DeepEqual(got.Pools, []string{"pool-b"}) ||
		!reflect.DeepEqual(got.Notes, []string{"2 InferencePools in namespace llm-d: scraping pool-b, where gateway gw's HTTPRoutes send"}) {
		t.Errorf("routed: %+v %v", got, err)
	}
	got, err = DiscoverServers(context.Background(), cs, newDyn(other), ServerQuery{Namespace: "llm-d", Gateway: "gw"})
	if err != nil || pods(got) != "a-0,b-0" ||
		!reflect.DeepEqual(got.Notes, []string{"2 InferencePools in namespace llm-d (pool-a, pool-b): scraping all of them (no HTTPRoute of gateway gw names one)"}) {
		t.Errorf("no route: %+v %v", got, err)
	}
	got, err = DiscoverServers(context.Background(), cs, newDyn(toB), ServerQuery{Namespace: "llm-d"})
	if err != nil || pods(got) != "a-0,b-0" || !reflect.DeepEqual(got.Notes, []string{"2 InferencePools in namespace llm-d (pool-a, pool-b): scraping all of them"}) {
		t.Errorf("no gateway: %+v %v", got, err)
	}
	dyn := newDyn(toB)
	dyn.PrependReactor("list", "httproutes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "gateway.networking.k8s.io", Resource: "httproutes"}, "", errors.New("no"))
	})
	got, err = DiscoverServers(context.Background(), cs, dyn, ServerQuery{Namespace: "llm-d", Gateway: "gw"})
	if err != nil || pods(got) != "a-0,b-0" || len(got.Notes) != 1 || !strings.Contains(got.Notes[0], "scraping all of them (the HTTPRoutes of gateway gw are not readable: ") {
		t.Errorf("forbidden: %+v %v", got, err)
	}
}
