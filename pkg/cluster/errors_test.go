package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
)

// Discovery's failures are typed: a caller tells them apart with errors.Is/As, and their text
// speaks of gateways and Services, never of a command-line flag.
func TestDiscoveryErrorsAreTyped(t *testing.T) {
	ctx := context.Background()
	listFails := fake.NewClientset(namespace("llm-d"))
	listFails.PrependReactor("list", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewInternalError(errors.New("etcd is away"))
	})
	for _, tc := range []struct {
		name    string
		run     func() error
		is      error
		want    string
		wrapped func(error) bool
	}{
		{name: "no name", run: func() error {
			_, err := DiscoverGateway(ctx, fake.NewClientset(namespace("llm-d")), dynamicWith(), "llm-d", "")
			return err
		}, is: ErrNoGatewayName, want: "no gateway name to discover"},
		{name: "not found", run: func() error {
			cs := fake.NewClientset(namespace("llm-d"), gatewayService("other-istio", "other"))
			_, err := DiscoverGateway(ctx, cs, dynamicWith(), "llm-d", "gw")
			return err
		}, is: ErrGatewayNotFound, want: "gateway gw not found in namespace llm-d: gateway Services there: other-istio (gateway other)"},
		{name: "two Services", run: func() error {
			cs := fake.NewClientset(namespace("llm-d"), gatewayService("b-istio", "gw"), gatewayService("a-istio", "gw"), gatewayService("c-istio", "other"))
			_, err := DiscoverGateway(ctx, cs, dynamicWith(), "llm-d", "gw")
			return err
		}, is: ErrGatewayAmbiguous, want: "2 Services in namespace llm-d carry gateway.networking.k8s.io/gateway-name=gw (a-istio, b-istio)"},
		{name: "list fails", run: func() error {
			_, err := DiscoverGateway(ctx, listFails, dynamicWith(), "llm-d", "gw")
			return err
		}, is: ErrGatewayUnreadable, want: "discovering gateway gw in namespace llm-d: cannot list the gateway's Services: Internal error occurred: etcd is away",
			wrapped: apierrors.IsInternalError},
		{name: "no run names a PVC", run: func() error {
			_, err := DefaultPVC(ctx, fake.NewClientset(), "llm-d")
			return err
		}, is: ErrNoResultsPVC, want: "no run names a results PVC in namespace llm-d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error %v\nwant %q", err, tc.want)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("%v does not wrap %q", err, tc.is)
			}
			if tc.wrapped != nil && !tc.wrapped(err) {
				t.Errorf("%v lost the API error it wraps", err)
			}
			if strings.Contains(err.Error(), "--") {
				t.Errorf("%q names a command-line flag", err)
			}
		})
	}
	cs := fake.NewClientset(namespace("llm-d"))
	_, err := DiscoverGateway(ctx, cs, dynamicWith(), "llm-d", "gw")
	var nf *GatewayNotFoundError
	if !errors.As(err, &nf) || nf.Gateway != "gw" || nf.Namespace != "llm-d" || nf.Detail != "no Service in it carries that label" {
		t.Errorf("errors.As GatewayNotFoundError: %#v from %v", nf, err)
	}
}

// The Forbidden fallback's warning says what to do without naming a flag.
func TestDiscoveryWarningNamesNoFlag(t *testing.T) {
	dyn := dynamicWith()
	dyn.PrependReactor("get", "gateways", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(GatewayResource.GroupResource(), "gw", nil)
	})
	g, err := DiscoverGateway(context.Background(), fake.NewClientset(namespace("llm-d"), gatewayService("gw-istio", "gw")), dyn, "llm-d", "gw")
	if err != nil || g.Warning == "" || strings.Contains(g.Warning, "--") {
		t.Errorf("warning %q, error %v", g.Warning, err)
	}
}

// Selectors are built by apimachinery: the exact strings the API server receives, and a gateway
// name no label value can hold is refused before any request.
func TestSelectors(t *testing.T) {
	var got []string
	cs := fake.NewClientset(namespace("llm-d"))
	cs.PrependReactor("list", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
		got = append(got, a.(k8stesting.ListAction).GetListRestrictions().Labels.String())
		return false, nil, nil
	})
	_, _ = DiscoverGateway(context.Background(), cs, dynamicWith(), "llm-d", "gw")
	want := []string{"gateway.networking.k8s.io/gateway-name=gw", "gateway.networking.k8s.io/gateway-name"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Service selectors %q, want %q", got, want)
	}
	if s := mountingPods().String(); s != "app in (llmdbench-harness-launcher,llmdbench-reader),app.kubernetes.io/managed-by=kubectl-llmdbench" {
		t.Errorf("mounting pods selector %q", s)
	}
	if s := launcher.RunSelector("abc123"); s != "llmdbench.io/run=abc123" {
		t.Errorf("run selector %q", s)
	}
	got = nil
	_, err := DiscoverGateway(context.Background(), cs, dynamicWith(), "llm-d", "gw,app=x")
	if err == nil || !strings.Contains(err.Error(), `gateway name "gw,app=x" cannot be a label value`) || len(got) != 0 {
		t.Errorf("error %v after %d list(s)", err, len(got))
	}
}

// The reader pod that never gets ready is reported as such, with its image, and the wait's cause.
func TestReaderPodErrorIsTyped(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the wait ends at once
	cs := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "llm-d"}})
	_, err := OpenResults(ctx, cs, "llm-d", "results", ReaderOptions{Image: "img:1"})
	if !errors.Is(err, ErrReaderPod) || !strings.HasPrefix(err.Error(), "reader pod not ready: PVC results, image img:1: ") || strings.Contains(err.Error(), "--") {
		t.Errorf("error %v", err)
	}
}
