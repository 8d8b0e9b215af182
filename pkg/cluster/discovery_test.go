package cluster

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func gatewayObject(name string, status []any, listeners ...map[string]any) *unstructured.Unstructured {
	ls := make([]any, len(listeners))
	for i, l := range listeners {
		ls[i] = l
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"name": name, "namespace": "llm-d"},
		"spec":     map[string]any{"gatewayClassName": "gke-l7-rilb", "listeners": ls},
		"status":   map[string]any{"addresses": status},
	}}
}

func dynamicWith(gateways ...*unstructured.Unstructured) *dynamicfake.FakeDynamicClient {
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{GatewayResource: "GatewayList"})
	for _, gw := range gateways {
		if _, err := dyn.Resource(GatewayResource).Namespace(gw.GetNamespace()).Create(context.Background(), gw, metav1.CreateOptions{}); err != nil {
			panic(err)
		}
	}
	return dyn
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func gatewayService(name, gateway string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "llm-d", Labels: map[string]string{GatewayNameLabel: gateway}},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.7"}}
}

func TestDiscoverManagedGatewayUsesItsAddressAndHTTPListener(t *testing.T) {
	gw := gatewayObject("gw", []any{map[string]any{"type": "IPAddress", "value": "34.1.2.3"}},
		map[string]any{"name": "https", "port": int64(443), "protocol": "HTTPS"},
		map[string]any{"name": "http", "port": int64(8080), "protocol": "HTTP"})
	g, err := DiscoverGateway(context.Background(), fake.NewClientset(namespace("llm-d")), dynamicWith(gw), "llm-d", "gw")
	if err != nil {
		t.Fatal(err)
	}
	if g.Service != "" || g.Address != "34.1.2.3" || g.Port != 8080 || g.Warning != "" {
		t.Errorf("got %+v, want address 34.1.2.3 port 8080 and no Service", g)
	}
}

func TestDiscoverGatewayForbiddenFallsBackToServicesWithAWarning(t *testing.T) {
	dyn := dynamicWith()
	dyn.PrependReactor("get", "gateways", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(GatewayResource.GroupResource(), "gw", nil)
	})
	cs := fake.NewClientset(namespace("llm-d"), gatewayService("gw-istio", "gw"))
	g, err := DiscoverGateway(context.Background(), cs, dyn, "llm-d", "gw")
	if err != nil {
		t.Fatal(err)
	}
	if g.Service != "gw-istio" || !strings.Contains(g.Warning, "forbidden") || !strings.Contains(g.Warning, "gateways get") {
		t.Errorf("got %+v", g)
	}
	// Forbidden and no Service: the usual not-found message, not the Forbidden.
	_, err = DiscoverGateway(context.Background(), fake.NewClientset(namespace("llm-d")), dyn, "llm-d", "gw")
	if err == nil || !strings.HasPrefix(err.Error(), "gateway gw not found in namespace llm-d") {
		t.Errorf("error %v", err)
	}
}

func TestDiscoverGatewayNamesAMissingNamespaceFirst(t *testing.T) {
	_, err := DiscoverGateway(context.Background(), fake.NewClientset(), dynamicWith(), "nosuchns", "gw")
	if err == nil || !strings.HasPrefix(err.Error(), "namespace nosuchns does not exist") || strings.Contains(err.Error(), "--gateway") {
		t.Errorf("error %v", err)
	}
}

func TestDiscoverGatewayWithoutDynamicClientIsAnError(t *testing.T) {
	// Every client is built together; a path without the dynamic one is a bug, not "no Gateway".
	_, err := DiscoverGateway(context.Background(), fake.NewClientset(namespace("llm-d")), nil, "llm-d", "gw")
	if err == nil || !strings.Contains(err.Error(), "no dynamic client") {
		t.Errorf("error %v", err)
	}
}
