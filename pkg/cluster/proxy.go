package cluster

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"k8s.io/client-go/kubernetes"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

// How a target is scraped (results.ServerTarget.Via): from inside the cluster at the pod's
// address, or through the API server's pod proxy.
const (
	ViaDirect = "direct"
	ViaProxy  = "proxy"
)

// ProxyTargets returns targets as scraped through the API server: each URL becomes the pod
// proxy path /api/v1/namespaces/NS/pods/SCHEME:POD:PORT/proxy/PATH (the API server's
// pods/proxy subresource, Kubernetes API reference "Proxy" operations) and Via ViaProxy. A
// target whose URL has no port is an error.
func ProxyTargets(targets []results.ServerTarget) ([]results.ServerTarget, error) {
	out := make([]results.ServerTarget, len(targets))
	for i, t := range targets {
		if t.Via == ViaProxy {
			out[i] = t
			continue
		}
		u, err := url.Parse(t.URL)
		if err != nil || u.Port() == "" {
			return nil, fmt.Errorf("server %s: metrics URL %q has no port", t.Pod, t.URL)
		}
		path := u.EscapedPath()
		if path == "" {
			path = MetricsPath
		}
		t.URL = fmt.Sprintf("/api/v1/namespaces/%s/pods/%s:%s:%s/proxy%s", t.Namespace, u.Scheme, t.Pod, u.Port(), path)
		t.Via = ViaProxy
		out[i] = t
	}
	return out, nil
}

// ProxyFetcher reads a pod's metrics through the API server's pod proxy (GET on the pods/proxy
// subresource, which the caller needs permission for). It implements scrape.Fetcher.
type ProxyFetcher struct {
	Client kubernetes.Interface
}

// Fetch GETs t's metrics through the pod proxy and returns the body. t is a direct target
// (http://IP:PORT/PATH: its port and path are used) or a ProxyTargets one. Errors: a URL without
// a port, or the API server's answer (a non-2xx status, e.g. Forbidden without pods/proxy, or
// the pod's own error status) wrapped.
func (f ProxyFetcher) Fetch(ctx context.Context, t results.ServerTarget) ([]byte, error) {
	scheme, port, path, err := proxyParts(t)
	if err != nil {
		return nil, err
	}
	body, err := f.Client.CoreV1().Pods(t.Namespace).ProxyGet(scheme, t.Pod, port, path, nil).DoRaw(ctx)
	if err != nil {
		// A refusal that is not a Status (the pod's own error page, or "address not allowed")
		// comes back as the body: its first line says more than the generic message.
		if line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n"); line != "" && !strings.Contains(err.Error(), line) {
			if len(line) > 200 {
				line = line[:200]
			}
			return nil, fmt.Errorf("reading %s of pod %s through the API server: %w: %s", path, t.Pod, err, line)
		}
		return nil, fmt.Errorf("reading %s of pod %s through the API server: %w", path, t.Pod, err)
	}
	return body, nil
}

// proxyParts is the scheme, port and path of t's metrics.
func proxyParts(t results.ServerTarget) (scheme, port, path string, err error) {
	if t.Via == ViaProxy {
		prefix := "/api/v1/namespaces/" + t.Namespace + "/pods/"
		rest, ok := strings.CutPrefix(t.URL, prefix)
		target, tail, ok2 := strings.Cut(rest, "/proxy")
		parts := strings.Split(target, ":")
		if !ok || !ok2 || len(parts) != 3 || parts[1] != t.Pod {
			return "", "", "", fmt.Errorf("server %s: %q is not a pod proxy path of it", t.Pod, t.URL)
		}
		scheme, port, path = parts[0], parts[2], tail
	} else {
		u, perr := url.Parse(t.URL)
		if perr != nil || u.Port() == "" {
			return "", "", "", fmt.Errorf("server %s: metrics URL %q has no port", t.Pod, t.URL)
		}
		scheme, port, path = u.Scheme, u.Port(), u.EscapedPath()
	}
	if n, perr := strconv.Atoi(port); perr != nil || n < 1 || n > 65535 {
		return "", "", "", fmt.Errorf("server %s: metrics port %q is not a port number", t.Pod, port)
	}
	if path == "" {
		path = MetricsPath
	}
	return scheme, port, path, nil
}
