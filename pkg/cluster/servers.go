package cluster

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

// The Gateway API inference extension's InferencePool, in its GA group (v1: spec.selector.
// matchLabels, spec.targetPorts[0].number, spec.endpointPickerRef.name) and its older
// experimental group (v1alpha2: spec.selector as a plain map, spec.targetPortNumber,
// spec.extensionRef.name). Source: sigs.k8s.io/gateway-api-inference-extension api/v1 and
// apix/v1alpha2 (2025).
var (
	InferencePoolResource         = schema.GroupVersionResource{Group: "inference.networking.k8s.io", Version: "v1", Resource: "inferencepools"}
	InferencePoolV1Alpha2Resource = schema.GroupVersionResource{Group: "inference.networking.x-k8s.io", Version: "v1alpha2", Resource: "inferencepools"}
)

// MetricsPath is where a server pod's Prometheus metrics are read unless its
// prometheus.io/path annotation says otherwise.
const MetricsPath = "/metrics"

// Prometheus' scrape annotations (the convention of the Prometheus Helm chart's kubernetes-pods
// job), read on server pods when no port is known otherwise.
const (
	annotationPromPort = "prometheus.io/port"
	annotationPromPath = "prometheus.io/path"
)

// ServerQuery says where to look for a run's servers.
type ServerQuery struct {
	Namespace string
	// Pool names the InferencePool to use; "" uses every pool in the namespace, or, when there
	// are several and Gateway is set, those its HTTPRoutes send to.
	Pool string
	// Gateway is the benchmarked Gateway's name (the preset's endpoint.gateway), to choose among
	// several pools.
	Gateway string
	// Selector, a label selector ("app=sim,tier in (a,b)"), picks the model-server pods instead of
	// an InferencePool; set, no pool is read.
	Selector string
	// Port, when not 0, is the model servers' metrics port, beating the pool's target port and
	// the pods' ports.
	Port int
}

// Servers is what DiscoverServers found.
type Servers struct {
	// Targets are the model-server pods, then the endpoint pickers, each with its direct metrics
	// URL (http://POD_IP:PORT/metrics, Via "direct"), sorted by pod name within a role.
	Targets []results.ServerTarget
	// Pools are the InferencePools the model servers came from ("" entries never; empty with a
	// Selector).
	Pools []string
	// Notes say, one line each, what discovery skipped or could not read (pods not running, a
	// pod without a metrics port, a Forbidden list).
	Notes []string
}

// ErrBadServerSelector: ServerQuery.Selector is not a label selector.
var ErrBadServerSelector = fmt.Errorf("not a label selector")

// pool is one InferencePool, read from either API version.
type pool struct {
	name     string
	selector map[string]string
	port     int
	epp      string // the endpoint picker's Service name, "" when none
}

// DiscoverServers finds the model-server pods (and the endpoint picker pods of their
// InferencePools) to scrape during a run: with q.Selector, the pods it selects; else the pods
// selected by q.Pool or by every InferencePool of the namespace (v1, else v1alpha2). Only Running
// pods with an IP are kept. A model server's port is q.Port, else the pool's target port, else
// the pod's container port named "metrics" (then "http"), else its prometheus.io/port
// annotation; an endpoint picker's is its "metrics" container port or annotation, else the
// "metrics" (or "http-metrics") port of its Service. Nothing found is not an error: Targets is
// empty and Notes say why. Errors: ErrBadServerSelector (wrapped), a named pool that does not
// exist, or an API error listing pods. The EPP's /metrics may need a bearer token (the chart
// protects it by default); a scrape it refuses is a sample with its error, as any failed scrape.
func DiscoverServers(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface, q ServerQuery) (Servers, error) {
	var out Servers
	if q.Selector != "" {
		sel, err := labels.Parse(q.Selector)
		if err != nil {
			return out, fmt.Errorf("server selector %q: %w: %w", q.Selector, ErrBadServerSelector, err)
		}
		pods, err := runningPods(ctx, cs, q.Namespace, sel, &out)
		if err != nil {
			return out, err
		}
		if len(pods) == 0 {
			out.Notes = append(out.Notes, fmt.Sprintf("no running pod in namespace %s matches %s", q.Namespace, sel))
		}
		out.Targets = modelTargets(pods, 0, q.Port, &out)
		return out, nil
	}
	pools, note, err := inferencePools(ctx, dyn, q.Namespace, q.Pool)
	if err != nil {
		return out, err
	}
	if note != "" {
		out.Notes = append(out.Notes, note)
	}
	if len(pools) > 1 {
		var chose string
		pools, chose = routedPools(ctx, dyn, q.Namespace, q.Gateway, pools)
		out.Notes = append(out.Notes, chose)
	}
	var eppTargets []results.ServerTarget
	seen := map[string]bool{}
	for _, p := range pools {
		out.Pools = append(out.Pools, p.name)
		if len(p.selector) == 0 {
			out.Notes = append(out.Notes, fmt.Sprintf("InferencePool %s has no selector", p.name))
			continue
		}
		pods, err := runningPods(ctx, cs, q.Namespace, labels.SelectorFromSet(p.selector), &out)
		if err != nil {
			return out, err
		}
		if len(pods) == 0 {
			out.Notes = append(out.Notes, fmt.Sprintf("InferencePool %s selects no running pod", p.name))
		}
		for _, t := range modelTargets(pods, p.port, q.Port, &out) {
			if !seen[t.Pod] {
				seen[t.Pod] = true
				out.Targets = append(out.Targets, t)
			}
		}
		if p.epp == "" {
			continue
		}
		epps, err := eppTargetsOf(ctx, cs, q.Namespace, p, &out)
		if err != nil {
			return out, err
		}
		for _, t := range epps {
			if !seen[t.Pod] {
				seen[t.Pod] = true
				eppTargets = append(eppTargets, t)
			}
		}
	}
	if len(pools) == 0 && note == "" {
		out.Notes = append(out.Notes, fmt.Sprintf("no InferencePool in namespace %s", q.Namespace))
	}
	sortTargets(out.Targets)
	sortTargets(eppTargets)
	out.Targets = append(out.Targets, eppTargets...)
	return out, nil
}

// inferencePools reads the named pool (or all) from v1, falling back to v1alpha2 when the v1
// API is not served. A cluster without either CRD has no pools (note ""), a Forbidden list is a
// note, a named pool that is missing is an error.
func inferencePools(ctx context.Context, dyn dynamic.Interface, namespace, name string) ([]pool, string, error) {
	if dyn == nil {
		return nil, "no dynamic client to read InferencePools", nil
	}
	for _, gvr := range []schema.GroupVersionResource{InferencePoolResource, InferencePoolV1Alpha2Resource} {
		var items []unstructured.Unstructured
		var err error
		if name != "" {
			var u *unstructured.Unstructured
			if u, err = dyn.Resource(gvr).Namespace(namespace).Get(ctx, name, metav1.GetOptions{}); err == nil {
				items = []unstructured.Unstructured{*u}
			}
		} else {
			var list *unstructured.UnstructuredList
			if list, err = dyn.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{}); err == nil {
				items = list.Items
			}
		}
		switch {
		case meta.IsNoMatchError(err) || (apierrors.IsNotFound(err) && name == ""):
			continue // this API version is not served
		case apierrors.IsNotFound(err):
			// Served but the pool is not there; the older version may still hold it.
			if gvr == InferencePoolResource {
				continue
			}
			return nil, "", fmt.Errorf("InferencePool %s not found in namespace %s", name, namespace)
		case apierrors.IsForbidden(err):
			return nil, fmt.Sprintf("cannot read InferencePools (%s) in namespace %s (forbidden)", gvr.GroupResource(), namespace), nil
		case err != nil:
			return nil, "", fmt.Errorf("reading InferencePools (%s) in namespace %s: %w", gvr.GroupResource(), namespace, err)
		}
		pools := make([]pool, 0, len(items))
		for _, u := range items {
			if gvr == InferencePoolResource {
				pools = append(pools, poolV1(u))
			} else {
				pools = append(pools, poolV1Alpha2(u))
			}
		}
		if len(pools) == 0 && gvr == InferencePoolResource {
			continue // an empty v1 list: a cluster may still run the older pools
		}
		sort.Slice(pools, func(i, j int) bool { return pools[i].name < pools[j].name })
		return pools, "", nil
	}
	if name != "" {
		return nil, "", fmt.Errorf("InferencePool %s not found in namespace %s", name, namespace)
	}
	return nil, "", nil
}

// poolV1 reads spec.selector.matchLabels, spec.targetPorts[0].number and
// spec.endpointPickerRef.name of an inference.networking.k8s.io/v1 InferencePool.
func poolV1(u unstructured.Unstructured) pool {
	p := pool{name: u.GetName()}
	p.selector, _, _ = unstructured.NestedStringMap(u.Object, "spec", "selector", "matchLabels")
	if ports, _, _ := unstructured.NestedSlice(u.Object, "spec", "targetPorts"); len(ports) > 0 {
		if m, ok := ports[0].(map[string]any); ok {
			p.port = intValue(m["number"])
		}
	}
	p.epp, _, _ = unstructured.NestedString(u.Object, "spec", "endpointPickerRef", "name")
	return p
}

// poolV1Alpha2 reads spec.selector (a plain map), spec.targetPortNumber and
// spec.extensionRef.name of an inference.networking.x-k8s.io/v1alpha2 InferencePool.
func poolV1Alpha2(u unstructured.Unstructured) pool {
	p := pool{name: u.GetName()}
	p.selector, _, _ = unstructured.NestedStringMap(u.Object, "spec", "selector")
	v, _, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "targetPortNumber")
	p.port = intValue(v)
	p.epp, _, _ = unstructured.NestedString(u.Object, "spec", "extensionRef", "name")
	return p
}

func intValue(v any) int {
	switch n := v.(type) {
	case int64:
		return int(n)
	case int32:
		return int(n)
	case int:
		return n
	case float64:
		return int(n)
	}
	return 0
}

// runningPods lists the pods sel selects and keeps the Running ones with an IP; the others are
// counted in a note.
func runningPods(ctx context.Context, cs kubernetes.Interface, namespace string, sel labels.Selector, out *Servers) ([]corev1.Pod, error) {
	list, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("listing pods %s in namespace %s: %w", sel, namespace, err)
	}
	var pods []corev1.Pod
	var skipped []string
	for _, p := range list.Items {
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || p.DeletionTimestamp != nil {
			skipped = append(skipped, p.Name)
			continue
		}
		pods = append(pods, p)
	}
	if len(skipped) > 0 {
		sort.Strings(skipped)
		out.Notes = append(out.Notes, fmt.Sprintf("skipped %d pod(s) not running (%s)", len(skipped), strings.Join(skipped, ", ")))
	}
	return pods, nil
}

// modelTargets turns model-server pods into targets: port is override, else poolPort, else the
// pod's own (see podMetricsPort); a pod with none is a note.
func modelTargets(pods []corev1.Pod, poolPort, override int, out *Servers) []results.ServerTarget {
	var ts []results.ServerTarget
	for _, p := range pods {
		port := override
		if port == 0 {
			port = poolPort
		}
		if port == 0 {
			port = podMetricsPort(p, "metrics", "http")
		}
		if port == 0 {
			out.Notes = append(out.Notes, fmt.Sprintf("pod %s has no metrics port (no container port named metrics or http, no %s annotation)", p.Name, annotationPromPort))
			continue
		}
		ts = append(ts, directTarget(p, results.RoleModelServer, port))
	}
	sortTargets(ts)
	return ts
}

// eppTargetsOf finds the endpoint picker pods of p through its Service's selector.
func eppTargetsOf(ctx context.Context, cs kubernetes.Interface, namespace string, p pool, out *Servers) ([]results.ServerTarget, error) {
	svcs, err := cs.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", p.epp).String()})
	if err != nil {
		if apierrors.IsForbidden(err) {
			out.Notes = append(out.Notes, fmt.Sprintf("cannot read the endpoint picker Service %s (forbidden)", p.epp))
			return nil, nil
		}
		return nil, fmt.Errorf("reading the endpoint picker Service %s of InferencePool %s: %w", p.epp, p.name, err)
	}
	if len(svcs.Items) == 0 || len(svcs.Items[0].Spec.Selector) == 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("endpoint picker Service %s of InferencePool %s is missing or selects no pods", p.epp, p.name))
		return nil, nil
	}
	svc := svcs.Items[0]
	pods, err := runningPods(ctx, cs, namespace, labels.SelectorFromSet(svc.Spec.Selector), out)
	if err != nil {
		return nil, err
	}
	var ts []results.ServerTarget
	for _, pod := range pods {
		port := podMetricsPort(pod, "metrics")
		if port == 0 {
			port = serviceMetricsPort(svc, pod)
		}
		if port == 0 {
			out.Notes = append(out.Notes, fmt.Sprintf("endpoint picker pod %s has no metrics port (no port named metrics on it, none named metrics or http-metrics on Service %s)", pod.Name, svc.Name))
			continue
		}
		ts = append(ts, directTarget(pod, results.RoleEPP, port))
	}
	return ts, nil
}

// podMetricsPort is the first container port with one of names (in the order of names), else the
// prometheus.io/port annotation, else 0.
func podMetricsPort(p corev1.Pod, names ...string) int {
	for _, want := range names {
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == want {
					return int(cp.ContainerPort)
				}
			}
		}
	}
	if n, err := strconv.Atoi(p.Annotations[annotationPromPort]); err == nil && n > 0 && n < 65536 {
		return n
	}
	return 0
}

// serviceMetricsPort is the target port of svc's port named "metrics" or "http-metrics" (the
// inferencepool Helm chart's EPP Service, gateway-api-inference-extension
// config/charts/inferencepool), resolved against pod when it is a port name; 0 when there is none.
func serviceMetricsPort(svc corev1.Service, pod corev1.Pod) int {
	for _, sp := range svc.Spec.Ports {
		if sp.Name != "metrics" && sp.Name != "http-metrics" {
			continue
		}
		switch {
		case sp.TargetPort.IntValue() > 0:
			return sp.TargetPort.IntValue()
		case sp.TargetPort.StrVal != "":
			return podMetricsPort(corev1.Pod{Spec: pod.Spec}, sp.TargetPort.StrVal)
		default:
			return int(sp.Port)
		}
	}
	return 0
}

func directTarget(p corev1.Pod, role string, port int) results.ServerTarget {
	path := p.Annotations[annotationPromPath]
	if !strings.HasPrefix(path, "/") {
		path = MetricsPath
	}
	u := url.URL{Scheme: "http", Host: net.JoinHostPort(p.Status.PodIP, strconv.Itoa(port)), Path: path}
	return results.ServerTarget{Namespace: p.Namespace, Pod: p.Name, Role: role, URL: u.String(), Via: ViaDirect}
}

func sortTargets(ts []results.ServerTarget) {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Pod < ts[j].Pod })
}

// HTTPRouteResource is the Gateway API's HTTPRoute kind.
var HTTPRouteResource = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

// routedPools keeps, of several pools, those that an HTTPRoute of gateway sends to (a backendRef
// of kind InferencePool, in either API group, in namespace); all of them when there is no gateway,
// its routes cannot be read, or none names a pool. The note says which.
func routedPools(ctx context.Context, dyn dynamic.Interface, namespace, gateway string, pools []pool) ([]pool, string) {
	names := make([]string, len(pools))
	for i, p := range pools {
		names[i] = p.name
	}
	all := fmt.Sprintf("%d InferencePools in namespace %s (%s): scraping all of them", len(pools), namespace, strings.Join(names, ", "))
	if gateway == "" || dyn == nil {
		return pools, all
	}
	routes, err := dyn.Resource(HTTPRouteResource).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return pools, all + fmt.Sprintf(" (the HTTPRoutes of gateway %s are not readable: %s)", gateway, OneLine(err))
	}
	routed := map[string]bool{}
	for _, r := range routes.Items {
		if !routeAttaches(r, namespace, gateway) {
			continue
		}
		rules, _, _ := unstructured.NestedSlice(r.Object, "spec", "rules")
		for _, rule := range rules {
			rm, _ := rule.(map[string]any)
			refs, _, _ := unstructured.NestedSlice(rm, "backendRefs")
			for _, ref := range refs {
				m, _ := ref.(map[string]any)
				kind, _ := m["kind"].(string)
				group, _ := m["group"].(string)
				ns, _ := m["namespace"].(string)
				name, _ := m["name"].(string)
				if kind == "InferencePool" && (group == InferencePoolResource.Group || group == InferencePoolV1Alpha2Resource.Group) && (ns == "" || ns == namespace) {
					routed[name] = true
				}
			}
		}
	}
	var kept []pool
	var keptNames []string
	for _, p := range pools {
		if routed[p.name] {
			kept = append(kept, p)
			keptNames = append(keptNames, p.name)
		}
	}
	if len(kept) == 0 {
		return pools, all + fmt.Sprintf(" (no HTTPRoute of gateway %s names one)", gateway)
	}
	return kept, fmt.Sprintf("%d InferencePools in namespace %s: scraping %s, where gateway %s's HTTPRoutes send", len(pools), namespace, strings.Join(keptNames, ", "), gateway)
}

// routeAttaches tells whether route r has gateway (in namespace) among its parentRefs.
func routeAttaches(r unstructured.Unstructured, namespace, gateway string) bool {
	parents, _, _ := unstructured.NestedSlice(r.Object, "spec", "parentRefs")
	for _, p := range parents {
		m, _ := p.(map[string]any)
		kind, _ := m["kind"].(string)
		ns, _ := m["namespace"].(string)
		name, _ := m["name"].(string)
		if name == gateway && (kind == "" || kind == "Gateway") && (ns == "" || ns == namespace) {
			return true
		}
	}
	return false
}
