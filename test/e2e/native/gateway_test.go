package native

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
)

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// installGatewayCRD installs the Gateway API's own Gateway CRD (v1.3.0, standard channel) and
// waits until the API server serves it.
func installGatewayCRD(t *testing.T, dyn dynamic.Interface) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cl.RepoRoot, "test/e2e/testdata/crds/gateway.networking.k8s.io_gateways.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd unstructured.Unstructured
	if err := yaml.Unmarshal(data, &crd.Object); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := dyn.Resource(crdResource).Create(ctx, &crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := dyn.Resource(cluster.GatewayResource).Namespace("default").List(ctx, metav1.ListOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("the Gateway CRD is not served: %v", err)
	}
}

// managedGateway creates a Gateway the way a cloud's managed implementation leaves it: an
// HTTP listener, an address in its status, and no Service in the namespace.
func managedGateway(t *testing.T, dyn dynamic.Interface, ns, address string, port int64) {
	t.Helper()
	gw := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"name": gateway},
		"spec": map[string]any{"gatewayClassName": "gke-l7-rilb",
			"listeners": []any{map[string]any{"name": "http", "port": port, "protocol": "HTTP"}}},
	}}
	ctx := context.Background()
	created, err := dyn.Resource(cluster.GatewayResource).Namespace(ns).Create(ctx, gw, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedSlice(created.Object, []any{map[string]any{"type": "IPAddress", "value": address}}, "status", "addresses"); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(cluster.GatewayResource).Namespace(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// A managed gateway (a Gateway with a status address and no labelled Service, as GKE's are)
// is found by doctor and reached by a real run, on its listener's port.
func TestManagedGatewayWithoutAService(t *testing.T) {
	dyn, err := dynamic.NewForConfig(cl.Config)
	if err != nil {
		t.Fatal(err)
	}
	installGatewayCRD(t, dyn)
	sim := simulator(t, "127.0.0.7:8080", "--time-to-first-token", "20ms", "--inter-token-latency", "5ms")
	cl.InstallPlugin(t)
	ns := cl.Namespace(t)
	managedGateway(t, dyn, ns, "127.0.0.7", 8080)
	if svcs, _ := cl.Client.CoreV1().Services(ns).List(context.Background(), metav1.ListOptions{}); len(svcs.Items) != 0 {
		t.Fatalf("the namespace must hold no Service: %v", svcs.Items)
	}

	r := cl.Plugin(t, "", time.Minute, "doctor", "--preset", "inference-scheduling", "-n", ns, "--pvc", "results", "--create-pvc", "--harness", "llmdbench")
	if !strings.Contains(r.Stdout, "endpoint http://127.0.0.7:8080") {
		t.Fatalf("doctor did not reach the gateway's address (exit %d):\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}

	r = cl.Plugin(t, "", 3*time.Minute, "run", "--preset", "inference-scheduling", "-n", ns, "--pvc", "results", "--create-pvc",
		"--harness", "llmdbench", "--workload", "sanity_random", "--rates", "4", "--stage-duration", "2s")
	if r.Code != 0 || !strings.Contains(r.Stdout+r.Stderr, "1 of 1 workload(s) succeeded") {
		t.Fatalf("run (exit %d):\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "gateway "+gateway+" has no Service in namespace "+ns+"; using its address: --base-url http://127.0.0.7:8080") {
		t.Errorf("the switch to the gateway's address must be announced:\n%s", r.Stderr)
	}
	m, err := sim.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if n := metric(m, "vllm:request_success_total"); n != 8 {
		t.Errorf("the simulator behind the gateway served %v requests, want 4 req/s × 2 s = 8", n)
	}
}
