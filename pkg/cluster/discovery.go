// Package cluster talks to the API server for a run: discovery, preflight, creating and waiting
// for the launcher, exec and logs. It prints nothing; callers decide what the user sees.
package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// GatewayNameLabel is the Gateway API label (GEP-1762) in-cluster gateways put on their Service.
const GatewayNameLabel = "gateway.networking.k8s.io/gateway-name"

// GatewayResource is the Gateway API's Gateway kind.
var GatewayResource = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}

// Gateway is what discovery found for a gateway name.
type Gateway struct {
	// Service is the gateway's Service name, when the implementation runs one in the cluster.
	Service string
	// Address is the Gateway's first status address (managed gateways have only this), or the
	// Service's cluster IP when the Gateway object is not readable.
	Address string
	// Port is the Gateway's HTTP listener port (its first listener's when none says HTTP), 0 when
	// the Gateway object was not read.
	Port int64
	// Warning says what discovery could not read and did without (a Forbidden on gateways).
	Warning string
}

// DiscoverGateway finds the Service labelled for gateway in namespace, falling back to the
// Gateway object's status address when no Service exists.
func DiscoverGateway(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface, namespace, gateway string) (Gateway, error) {
	if gateway == "" {
		return Gateway{}, ErrNoGatewayName
	}
	sel, err := labels.ValidatedSelectorFromSet(labels.Set{GatewayNameLabel: gateway})
	if err != nil {
		// A name no label can carry names no gateway Service either.
		return Gateway{}, fmt.Errorf("gateway name %q cannot be a label value: %w", gateway, err)
	}
	svcs, err := cs.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		if nsErr := namespaceMissing(ctx, cs, namespace); nsErr != nil {
			return Gateway{}, nsErr
		}
		return Gateway{}, fmt.Errorf("discovering gateway %s in namespace %s: %w: %w", gateway, namespace, ErrGatewayUnreadable, err)
	}
	var g Gateway
	switch len(svcs.Items) {
	case 0:
	case 1:
		g.Service = svcs.Items[0].Name
		g.Address = svcs.Items[0].Spec.ClusterIP
	default:
		names := make([]string, len(svcs.Items))
		for i, s := range svcs.Items {
			names[i] = s.Name
		}
		sort.Strings(names)
		return Gateway{}, &kindError{kind: ErrGatewayAmbiguous,
			msg: fmt.Sprintf("%d Services in namespace %s carry %s=%s (%s)", len(names), namespace, GatewayNameLabel, gateway, strings.Join(names, ", "))}
	}
	addr, port, err := gatewayAddress(ctx, dyn, namespace, gateway)
	switch {
	case apierrors.IsForbidden(err):
		// Reading Gateways is optional: their Services are enough for in-cluster gateways.
		g.Warning = fmt.Sprintf("cannot read Gateway %s in namespace %s (forbidden), so a managed gateway's address cannot be found; looked for its Service only (grant gateways get in gateway.networking.k8s.io, or give the endpoint's base URL)", gateway, namespace)
	case err != nil:
		return Gateway{}, err
	case addr != "":
		g.Address, g.Port = addr, port
	}
	if g.Service != "" || g.Address != "" {
		return g, nil
	}
	if nsErr := namespaceMissing(ctx, cs, namespace); nsErr != nil {
		return Gateway{}, nsErr
	}
	return Gateway{}, noGatewayError(ctx, cs, namespace, gateway)
}

// namespaceMissing returns the error to show first when namespace does not exist (or is being
// deleted): everything else discovery could say depends on it. It is nil when the namespace is
// fine or cannot be read.
func namespaceMissing(ctx context.Context, cs kubernetes.Interface, namespace string) error {
	if c, err := CheckNamespace(ctx, cs, namespace); err == nil && !c.OK {
		return &NamespaceError{Namespace: namespace, Check: c}
	}
	return nil
}

// NamespaceError is discovery's failure when the namespace itself is missing or being deleted:
// the same finding as the preflight's namespace check, which a caller that runs both reports once.
type NamespaceError struct {
	Namespace string
	Check     Check
}

func (e *NamespaceError) Error() string { return e.Check.Message + ": " + e.Check.Fix }

// gatewayAddress reads status.addresses[0].value of the Gateway and the port of its HTTP
// listener; a cluster without the Gateway API, or without that Gateway, simply has no address.
func gatewayAddress(ctx context.Context, dyn dynamic.Interface, namespace, gateway string) (string, int64, error) {
	if dyn == nil {
		return "", 0, fmt.Errorf("no dynamic client to read Gateway %s", gateway)
	}
	gw, err := dyn.Resource(GatewayResource).Namespace(namespace).Get(ctx, gateway, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("reading Gateway %s in namespace %s: %w", gateway, namespace, err)
	}
	var addr string
	addrs, _, _ := unstructured.NestedSlice(gw.Object, "status", "addresses")
	for _, a := range addrs {
		if m, ok := a.(map[string]any); ok {
			if v, _ := m["value"].(string); v != "" {
				addr = v
				break
			}
		}
	}
	var port int64
	listeners, _, _ := unstructured.NestedSlice(gw.Object, "spec", "listeners")
	for i, l := range listeners {
		m, _ := l.(map[string]any)
		p, _ := m["port"].(int64)
		if proto, _ := m["protocol"].(string); proto == "HTTP" || i == 0 {
			port = p
			if proto == "HTTP" {
				break
			}
		}
	}
	return addr, port, nil
}

func noGatewayError(ctx context.Context, cs kubernetes.Interface, namespace, gateway string) error {
	others, err := cs.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{LabelSelector: hasLabel(GatewayNameLabel).String()})
	hint := "no Service in it carries that label"
	if err == nil && len(others.Items) > 0 {
		var found []string
		for _, s := range others.Items {
			found = append(found, s.Name+" (gateway "+s.Labels[GatewayNameLabel]+")")
		}
		sort.Strings(found)
		hint = "gateway Services there: " + strings.Join(found, ", ")
	}
	return &GatewayNotFoundError{Gateway: gateway, Namespace: namespace, Detail: hint}
}

// GatewayNotFoundError is discovery finding neither a Service labelled for Gateway nor a Gateway
// with an address in Namespace; it wraps ErrGatewayNotFound.
type GatewayNotFoundError struct {
	Gateway, Namespace string
	// Detail names the gateway Services that are there, if any.
	Detail string
}

func (e *GatewayNotFoundError) Error() string {
	return fmt.Sprintf("gateway %s not found in namespace %s: %s", e.Gateway, e.Namespace, e.Detail)
}

// Unwrap lets errors.Is match ErrGatewayNotFound.
func (e *GatewayNotFoundError) Unwrap() error { return ErrGatewayNotFound }

// hasLabel selects objects that carry key, whatever its value.
func hasLabel(key string) labels.Selector {
	req, err := labels.NewRequirement(key, selection.Exists, nil)
	if err != nil {
		panic(err) // key is one of the package's own constants
	}
	return labels.NewSelector().Add(*req)
}
