package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
)

func rule(verbs, groups, resources []string, names ...string) authorizationv1.ResourceRule {
	return authorizationv1.ResourceRule{Verbs: verbs, APIGroups: groups, Resources: resources, ResourceNames: names}
}

func l(s ...string) []string { return s }

func TestRulesAllow(t *testing.T) {
	podsGet := Permission{Resource: "pods", Verb: "get"}
	exec := Permission{Resource: "pods", Subresource: "exec", Verb: "create"}
	podLog := Permission{Resource: "pods", Subresource: "log", Verb: "get"}
	gw := Permission{Group: "gateway.networking.k8s.io", Resource: "gateways", Verb: "get"}
	cases := []struct {
		name string
		rule authorizationv1.ResourceRule
		p    Permission
		want bool
	}{
		{"exact", rule(l("get"), l(""), l("pods")), podsGet, true},
		{"other verb", rule(l("list"), l(""), l("pods")), podsGet, false},
		{"star verbs", rule(l("*"), l(""), l("pods")), podsGet, true},
		{"star resources", rule(l("get"), l(""), l("*")), podsGet, true},
		{"star groups", rule(l("get"), l("*"), l("gateways")), gw, true},
		{"all stars", rule(l("*"), l("*"), l("*")), exec, true},
		{"core group does not grant another group", rule(l("get"), l(""), l("gateways")), gw, false},
		{"other group does not grant core", rule(l("get"), l("apps"), l("pods")), podsGet, false},
		{"resource names restrict the grant", rule(l("get"), l(""), l("pods"), "one-pod"), podsGet, false},
		{"resource names with stars still restrict", rule(l("*"), l("*"), l("*"), "x"), podsGet, false},
		{"pods does not grant pods/exec", rule(l("create"), l(""), l("pods")), exec, false},
		{"pods/exec does not grant pods", rule(l("get", "create"), l(""), l("pods/exec")), Permission{Resource: "pods", Verb: "create"}, false},
		{"pods/exec", rule(l("create"), l(""), l("pods/exec")), exec, true},
		{"pods/exec with get only", rule(l("get"), l(""), l("pods/exec")), exec, false},
		{"pods/log", rule(l("get"), l(""), l("pods/log")), podLog, true},
		{"pods/exec does not grant pods/log", rule(l("get"), l(""), l("pods/exec")), podLog, false},
		{"*/log grants pods/log", rule(l("get"), l(""), l("*/log")), podLog, true},
		{"*/log does not grant pods", rule(l("get"), l(""), l("*/log")), podsGet, false},
		{"*/log does not grant pods/exec", rule(l("create"), l(""), l("*/log")), exec, false},
		{"pods/* is not an RBAC wildcard", rule(l("get"), l(""), l("pods/*")), podLog, false},
	}
	for _, c := range cases {
		if got := RulesAllow([]authorizationv1.ResourceRule{c.rule}, c.p); got != c.want {
			t.Errorf("%s: %+v allows %s = %v, want %v", c.name, c.rule, c.p, got, c.want)
		}
	}
	// Rules add up: a restricted rule next to a general one still grants.
	if !RulesAllow([]authorizationv1.ResourceRule{rule(l("get"), l(""), l("pods"), "x"), rule(l("get"), l(""), l("pods"))}, podsGet) {
		t.Error("a general rule after a restricted one grants")
	}
	if RulesAllow(nil, podsGet) {
		t.Error("no rules grant nothing")
	}
}

// reviews counts the authorization API calls of a fake clientset.
type reviews struct{ rules, access atomic.Int32 }

func fakeWithRules(t *testing.T, status authorizationv1.SubjectRulesReviewStatus, refuse error, allow func(*authorizationv1.ResourceAttributes) bool) (*fake.Clientset, *reviews) {
	t.Helper()
	cs := fake.NewClientset()
	n := &reviews{}
	cs.PrependReactor("create", "selfsubjectrulesreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		n.rules.Add(1)
		if refuse != nil {
			return true, nil, refuse
		}
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectRulesReview).DeepCopy()
		if r.Spec.Namespace != "ns" {
			t.Errorf("rules review for namespace %q", r.Spec.Namespace)
		}
		r.Status = status
		return true, r, nil
	})
	cs.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		n.access.Add(1)
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
		if r.Spec.ResourceAttributes.Namespace != "ns" {
			t.Errorf("access review for namespace %q", r.Spec.ResourceAttributes.Namespace)
		}
		r.Status.Allowed = allow != nil && allow(r.Spec.ResourceAttributes)
		return true, r, nil
	})
	return cs, n
}

func names(perms []Permission) string {
	s := make([]string, len(perms))
	for i, p := range perms {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// One rules review answers the whole table: no access review at all.
func TestDeniedAsksOneRulesReview(t *testing.T) {
	status := authorizationv1.SubjectRulesReviewStatus{ResourceRules: []authorizationv1.ResourceRule{
		rule(l("*"), l(""), l("configmaps")),
		rule(l("get", "list", "create"), l(""), l("pods")),
		rule(l("delete"), l(""), l("pods"), "only-this-one"),
		rule(l("get"), l(""), l("persistentvolumeclaims", "secrets")),
	}}
	cs, n := fakeWithRules(t, status, nil, nil)
	denied, err := Denied(context.Background(), cs, "ns", RunPermissions)
	if err != nil {
		t.Fatal(err)
	}
	// By hand from the rules above: batch Jobs not at all, pods watch is not granted, pods delete only by
	// name, pods/exec not at all, events, gateways, inferencepools, httproutes and pods/proxy not at all.
	want := "create jobs.batch, delete jobs.batch, watch pods, delete pods, create pods/exec, list events, get gateways.gateway.networking.k8s.io, " +
		"list inferencepools.inference.networking.k8s.io, list inferencepools.inference.networking.x-k8s.io, list httproutes.gateway.networking.k8s.io, get pods/proxy"
	if got := names(denied); got != want {
		t.Errorf("denied %s\nwant   %s", got, want)
	}
	if n.rules.Load() != 1 || n.access.Load() != 0 {
		t.Errorf("API calls: %d rules reviews, %d access reviews; want 1 and 0", n.rules.Load(), n.access.Load())
	}
}

// An incomplete rules review (a webhook authorizer cannot list rules) asks access reviews for
// what the rules do not grant, and only for that.
func TestDeniedIncompleteFallsBackForTheRest(t *testing.T) {
	status := authorizationv1.SubjectRulesReviewStatus{Incomplete: true, EvaluationError: "webhook cannot list",
		ResourceRules: []authorizationv1.ResourceRule{rule(l("*"), l(""), l("configmaps", "pods", "persistentvolumeclaims", "secrets", "events")), rule(l("*"), l("batch"), l("jobs"))}}
	var asked []string
	cs, n := fakeWithRules(t, status, nil, func(ra *authorizationv1.ResourceAttributes) bool {
		return ra.Subresource == "exec" // the webhook grants exec, not gateways, inferencepools, httproutes or pods/proxy
	})
	cs.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ra := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).Spec.ResourceAttributes
		asked = append(asked, ra.Verb+" "+ra.Resource+"/"+ra.Subresource)
		return false, nil, nil
	})
	denied, err := Denied(context.Background(), cs, "ns", RunPermissions)
	if err != nil {
		t.Fatal(err)
	}
	// The rules name "pods", which does not grant the pods/proxy subresource: asked too.
	if got := names(denied); got != "get gateways.gateway.networking.k8s.io, list inferencepools.inference.networking.k8s.io, list inferencepools.inference.networking.x-k8s.io, list httproutes.gateway.networking.k8s.io, get pods/proxy" {
		t.Errorf("denied %s", got)
	}
	if n.rules.Load() != 1 || n.access.Load() != 6 {
		t.Errorf("API calls: %d rules reviews, %d access reviews (%v); want 1 and 6", n.rules.Load(), n.access.Load(), asked)
	}
}

// A server that refuses rules reviews is asked with access reviews, in parallel but bounded:
// counted on the wire (a real client against a loopback server) since the fake clientset
// serialises its reactors.
func TestDeniedRefusedRulesReviewAsksAccessReviewsBounded(t *testing.T) {
	var rulesCalls, accessCalls, inFlight, most atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews":
			rulesCalls.Add(1)
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`))
		case "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
			accessCalls.Add(1)
			now := inFlight.Add(1)
			for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
			}
			time.Sleep(30 * time.Millisecond)
			inFlight.Add(-1)
			var review authorizationv1.SelfSubjectAccessReview
			if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
				t.Error(err)
			}
			review.Status.Allowed = review.Spec.ResourceAttributes.Resource != "secrets"
			_ = json.NewEncoder(w).Encode(review)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL, QPS: 1000, Burst: 1000,
		ContentConfig: rest.ContentConfig{ContentType: "application/json", AcceptContentTypes: "application/json"}})
	if err != nil {
		t.Fatal(err)
	}
	perms := append(slices.Clone(RunPermissions), CreatePVCPermission)
	denied, err := Denied(context.Background(), cs, "ns", perms)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(denied); got != "get secrets" {
		t.Errorf("denied %s", got)
	}
	if int(accessCalls.Load()) != len(perms) || rulesCalls.Load() != 1 {
		t.Errorf("API calls: %d access reviews for %d permissions, %d rules reviews", accessCalls.Load(), len(perms), rulesCalls.Load())
	}
	if m := most.Load(); m < 2 || m > accessReviewParallelism {
		t.Errorf("%d access reviews at once; want between 2 and %d", m, accessReviewParallelism)
	}
}

// A failing review (not a refusal) is an error naming what was asked, not a list of denials.
func TestDeniedReviewErrors(t *testing.T) {
	cs, _ := fakeWithRules(t, authorizationv1.SubjectRulesReviewStatus{}, apierrors.NewInternalError(errors.New("etcd down")), nil)
	if _, err := Denied(context.Background(), cs, "ns", RunPermissions); err == nil || !strings.Contains(err.Error(), "listing your permissions in namespace ns") || !strings.Contains(err.Error(), "etcd down") {
		t.Errorf("got %v", err)
	}
	cs, _ = fakeWithRules(t, authorizationv1.SubjectRulesReviewStatus{Incomplete: true}, nil, nil)
	cs.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewTooManyRequests("slow down", 1)
	})
	if _, err := Denied(context.Background(), cs, "ns", RunPermissions); err == nil || !strings.Contains(err.Error(), "checking permission to create configmaps") {
		t.Errorf("got %v", err)
	}
}

// The preflight reads the permissions through the rules review and reports the missing ones
// in one blocking check, the optional ones in a warning.
func TestPreflightRBACFromRules(t *testing.T) {
	status := authorizationv1.SubjectRulesReviewStatus{ResourceRules: []authorizationv1.ResourceRule{
		rule(l("get", "list", "create", "delete"), l(""), l("pods", "configmaps")),
		rule(l("get"), l(""), l("persistentvolumeclaims")),
	}}
	cs, n := fakeWithRules(t, status, nil, nil)
	_ = cs.Tracker().Add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}})
	checks, err := Preflight(context.Background(), cs, PreflightSpec{Namespace: "ns", PVC: "p", CreatePVC: true})
	if err != nil {
		t.Fatal(err)
	}
	var rbac, optional Check
	for _, c := range checks {
		switch c.Name {
		case "rbac":
			rbac = c
		case "rbac-optional":
			optional = c
		}
	}
	wantMissing := "in namespace ns you may not create jobs.batch (starts the launchers (one Indexed Job)); delete jobs.batch (cleans up a run); " +
		"watch pods (waits for and follows the launchers); create pods/exec (reads the launchers' progress and results); create persistentvolumeclaims (creates the results volume (--create-pvc))"
	if rbac.OK || !rbac.Blocking || rbac.Message != wantMissing {
		t.Errorf("rbac: %+v\nwant message %s", rbac, wantMissing)
	}
	for _, p := range []string{"patch configmaps", "get secrets", "list events", "get gateways.gateway.networking.k8s.io",
		"list inferencepools.inference.networking.k8s.io", "list inferencepools.inference.networking.x-k8s.io", "list httproutes.gateway.networking.k8s.io", "get pods/proxy"} {
		if optional.Blocking || !strings.Contains(optional.Message, p) {
			t.Errorf("optional check must name %s: %+v", p, optional)
		}
	}
	if n.rules.Load() != 1 || n.access.Load() != 0 {
		t.Errorf("API calls: %d rules reviews, %d access reviews", n.rules.Load(), n.access.Load())
	}
}
