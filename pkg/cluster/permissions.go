package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Permission is one verb on one resource that a run needs.
type Permission struct {
	Group, Resource, Subresource, Verb string
	// Optional permissions only warn when missing.
	Optional bool
	Why      string
}

func (p Permission) String() string {
	r := p.Resource
	if p.Subresource != "" {
		r += "/" + p.Subresource
	}
	if p.Group != "" {
		r += "." + p.Group
	}
	return p.Verb + " " + r
}

// RunPermissions is every namespaced API call a run makes, with where it is made; the README's
// Role grants exactly these. A new call in this package adds its row here.
//
// Gateway discovery (services list) runs before the preflight and names its own refusal; the
// cluster-scoped reads (namespaces get, storageclasses get) are optional by construction: their
// callers treat a refusal as unknown.
var RunPermissions = []Permission{
	{Resource: "configmaps", Verb: "create", Why: "holds the workload profiles and run script"},               // Create
	{Resource: "configmaps", Verb: "get", Why: "reads a run"},                                                 // GetRun
	{Resource: "configmaps", Verb: "list", Why: "finds runs"},                                                 // ListRuns
	{Resource: "configmaps", Verb: "patch", Optional: true, Why: "records a finished run's verdict"},          // RecordFinal
	{Resource: "configmaps", Verb: "delete", Why: "cleans up a run"},                                          // DeleteRun
	{Group: "batch", Resource: "jobs", Verb: "create", Why: "starts the launchers (one Indexed Job)"},         // Create
	{Group: "batch", Resource: "jobs", Verb: "delete", Why: "cleans up a run"},                                // DeleteRun
	{Resource: "pods", Verb: "create", Why: "starts a reader pod on the results volume"},                      // OpenResults
	{Resource: "pods", Verb: "watch", Why: "waits for and follows the launchers"},                             // WaitLaunchers, WaitReady, Follow
	{Resource: "pods", Verb: "list", Why: "finds a run's launchers"},                                          // ListRuns, GetRun, OpenResults
	{Resource: "pods", Verb: "delete", Why: "cleans up a run"},                                                // DeleteRun, Access.Close
	{Resource: "pods", Subresource: "exec", Verb: "create", Why: "reads the launchers' progress and results"}, // ReadSnapshot, transfer
	{Resource: "persistentvolumeclaims", Verb: "get", Why: "checks the results volume"},                       // checkPVC
	{Resource: "secrets", Verb: "get", Optional: true, Why: "checks that the HF token secret exists"},         // checkSecret
	{Resource: "events", Verb: "list", Optional: true, Why: "explains why a launcher cannot start"},           // WaitReady (telling)
	// A managed gateway has no Service, only the Gateway's status address; without this
	// discovery falls back to Services (with a warning).
	{Group: "gateway.networking.k8s.io", Resource: "gateways", Verb: "get", Optional: true, Why: "reads a managed gateway's address"}, // managedGatewayAddress
	// Server metrics: the model servers behind the InferencePool(s) and their endpoint picker;
	// without these the run has no server metrics (it warns) or needs a server selector.
	{Group: "inference.networking.k8s.io", Resource: "inferencepools", Verb: "list", Optional: true, Why: "finds the model servers to scrape"},       // DiscoverServers
	{Group: "inference.networking.x-k8s.io", Resource: "inferencepools", Verb: "list", Optional: true, Why: "finds the model servers (older pools)"}, // DiscoverServers
	{Group: "gateway.networking.k8s.io", Resource: "httproutes", Verb: "list", Optional: true, Why: "chooses among several InferencePools"},          // routedPools
	PodsProxyPermission, // ProxyFetcher
}

// PodsProxyPermission lets the plugin read the model servers' metrics through the API server
// (ProxyFetcher), which it does for the image harnesses.
var PodsProxyPermission = Permission{Resource: "pods", Subresource: "proxy", Verb: "get", Optional: true, Why: "scrapes the model servers' metrics (image harnesses)"}

// CreatePVCPermission is needed only when the run creates its results claim (Create).
var CreatePVCPermission = Permission{Resource: "persistentvolumeclaims", Verb: "create", Why: "creates the results volume (--create-pvc)"}

// runPermissions is what the run described by s needs.
func runPermissions(s PreflightSpec) []Permission {
	perms := slices.Clone(RunPermissions)
	if s.CreatePVC {
		perms = append(perms, CreatePVCPermission)
	}
	return perms
}

// accessReviewParallelism bounds the SelfSubjectAccessReviews in flight when the rules review
// cannot answer.
const accessReviewParallelism = 4

// Denied returns the permissions of perms that the current user lacks in namespace. It asks one
// SelfSubjectRulesReview and evaluates its rules here; only when the server cannot list the rules
// (it refuses the review, or the answer is incomplete because an authorizer such as a webhook
// cannot enumerate rules) are the permissions the rules do not grant asked one by one with
// SelfSubjectAccessReviews, a few at a time.
func Denied(ctx context.Context, cs kubernetes.Interface, namespace string, perms []Permission) ([]Permission, error) {
	review, err := cs.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx, &authorizationv1.SelfSubjectRulesReview{
		Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: namespace}}, metav1.CreateOptions{})
	var unknown []Permission
	switch {
	case err == nil:
		for _, p := range perms {
			if !RulesAllow(review.Status.ResourceRules, p) {
				unknown = append(unknown, p)
			}
		}
		if !review.Status.Incomplete {
			return unknown, nil
		}
	case refusesReview(err):
		unknown = perms
	default:
		return nil, fmt.Errorf("listing your permissions in namespace %s: %w", namespace, err)
	}
	return accessReviews(ctx, cs, namespace, unknown)
}

// refusesReview tells whether the server cannot answer rules reviews (an old or restricted
// authorization API), as opposed to failing.
func refusesReview(err error) bool {
	return apierrors.IsNotFound(err) || apierrors.IsForbidden(err) || apierrors.IsMethodNotSupported(err) || apierrors.IsBadRequest(err)
}

// accessReviews asks a SelfSubjectAccessReview per permission, accessReviewParallelism at a
// time, and returns the denied ones in their order.
func accessReviews(ctx context.Context, cs kubernetes.Interface, namespace string, perms []Permission) ([]Permission, error) {
	allowed := make([]bool, len(perms))
	errs := make([]error, len(perms))
	sem := make(chan struct{}, accessReviewParallelism)
	var wg sync.WaitGroup
	for i, p := range perms {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			res, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
				Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: namespace, Group: p.Group, Resource: p.Resource, Subresource: p.Subresource, Verb: p.Verb,
				}}}, metav1.CreateOptions{})
			if err != nil {
				errs[i] = fmt.Errorf("checking permission to %s: %w", p, err)
				return
			}
			allowed[i] = res.Status.Allowed
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var denied []Permission
	for i, p := range perms {
		if !allowed[i] {
			denied = append(denied, p)
		}
	}
	return denied, nil
}

// RulesAllow tells whether rules grant p on every object of its resource, as RBAC matches a
// request: the verb, API group and resource (with its subresource) each match exactly or by
// "*", and "*/sub" matches the subresource sub of any resource. A rule restricted to
// resourceNames grants only those objects, never the general permission.
func RulesAllow(rules []authorizationv1.ResourceRule, p Permission) bool {
	for _, r := range rules {
		if len(r.ResourceNames) == 0 && matches(r.Verbs, p.Verb) && matches(r.APIGroups, p.Group) && resourceMatches(r.Resources, p) {
			return true
		}
	}
	return false
}

func matches(list []string, want string) bool {
	return slices.Contains(list, "*") || slices.Contains(list, want)
}

func resourceMatches(list []string, p Permission) bool {
	want := p.Resource
	if p.Subresource != "" {
		want += "/" + p.Subresource
	}
	for _, r := range list {
		if r == "*" || r == want {
			return true
		}
		if p.Subresource != "" && strings.HasPrefix(r, "*/") && r[2:] == p.Subresource {
			return true
		}
	}
	return false
}
