package plugin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/config"
	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

func TestWithServerMetricsAppendsTheField(t *testing.T) {
	profile := []byte("# my profile\nload:\n  type: constant\n  stages: [{rate: 1, duration: 5}]")
	targets := []results.ServerTarget{{Namespace: "ns", Pod: "sim-0", Role: "model-server", URL: "http://10.0.0.5:8000/metrics", Via: "direct"}}
	got, added, err := withServerMetrics(profile, 5*time.Second, targets)
	if err != nil || !added {
		t.Fatal(added, err)
	}
	if !strings.HasPrefix(string(got), string(profile)+"\n") {
		t.Errorf("the profile's own text must stay as written:\n%s", got)
	}
	var doc struct {
		Load          map[string]any     `json:"load"`
		ServerMetrics serverMetricsBlock `json:"server_metrics"`
	}
	if err := yaml.UnmarshalStrict(got, &doc); err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	if doc.ServerMetrics.IntervalSeconds != 5 || len(doc.ServerMetrics.Targets) != 1 || doc.ServerMetrics.Targets[0] != targets[0] || doc.Load["type"] != "constant" {
		t.Errorf("decoded %+v", doc)
	}
	// A profile that names its own server_metrics keeps it.
	own := []byte("load: {type: constant}\nserver_metrics: {interval_seconds: 2, targets: []}\n")
	got, added, err = withServerMetrics(own, 5*time.Second, targets)
	if err != nil || added || string(got) != string(own) {
		t.Errorf("own field: %v %v\n%s", added, err, got)
	}
	if _, _, err := withServerMetrics([]byte("load: [unclosed"), time.Second, targets); err == nil {
		t.Error("a profile that is not YAML must be an error")
	}
}

func TestServerFlagsRefuseBadValues(t *testing.T) {
	for _, c := range []struct {
		f    serverFlags
		want string
	}{
		{serverFlags{Interval: -time.Second}, "--scrape-interval -1s: use 0 (off) or 1s or more"},
		{serverFlags{Interval: 500 * time.Millisecond}, "--scrape-interval 500ms: use 0 (off) or 1s or more"},
		{serverFlags{Interval: time.Second, Port: 70000}, "--metrics-port 70000: use a port from 1 to 65535"},
		{serverFlags{Interval: time.Second, Selector: "app in ("}, `--server-selector "app in ("`},
	} {
		err := c.f.validate()
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %s", c.f, err, c.want)
		}
	}
	for _, ok := range []serverFlags{{}, {Interval: time.Second, Selector: "app=sim", Port: 8000}} {
		if err := ok.validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	// run refuses them before anything else happens.
	refusesBadInput(t, []badInput{
		{[]string{"run", "--preset", "pd", "-n", "x", "--pvc", "p", "--base-url", "http://a.b:80", "--scrape-interval", "100ms", "--dry-run=client"}, "--scrape-interval 100ms"},
		{[]string{"doctor", "--server-selector", "a b"}, `--server-selector "a b"`},
	})
}

func simPod(name, ip string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "llm-d", Labels: map[string]string{"app": "sim"}},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "sim", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8000}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip}}
}

func poolClients(objs ...runtime.Object) *Clients {
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		cluster.InferencePoolResource: "InferencePoolList", cluster.InferencePoolV1Alpha2Resource: "InferencePoolList"})
	return &Clients{Client: fake.NewClientset(objs...), Dynamic: dyn}
}

func TestPlanServersRendersTheNativeProfiles(t *testing.T) {
	streams, _, _, errOut := genericiooptions.NewTestIOStreams()
	o := NewRunOptions(streams)
	o.Servers.Selector = "app=sim"
	o.Clients = poolClients(simPod("sim-0", "10.0.0.5"))
	cfg := &config.Config{Endpoint: config.Endpoint{Namespace: "llm-d"}, Harness: config.Harness{Name: config.HarnessNative, Namespace: "bench"},
		Workloads: []config.Workload{{Name: "a", Profile: []byte("load: {type: constant}\n")}, {Name: "b", Profile: []byte("server_metrics: {targets: []}\n")}}}
	if err := o.planServers(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	want := "load: {type: constant}\n# added by kubectl llmdbench run: the model servers the generator scrapes\nserver_metrics:\n  interval_seconds: 5\n  targets:\n" +
		"  - namespace: llm-d\n    pod: sim-0\n    role: model-server\n    url: http://10.0.0.5:8000/metrics\n    via: direct\n"
	if got := string(cfg.Workloads[0].Profile); got != want {
		t.Errorf("profile a:\n%s\nwant:\n%s", got, want)
	}
	if got := string(cfg.Workloads[1].Profile); got != "server_metrics: {targets: []}\n" {
		t.Errorf("profile b changed:\n%s", got)
	}
	if e := errOut.String(); e != "Workload b names its own server_metrics; it is kept.\nThe launcher scrapes model servers sim-0 every 5s.\n" {
		t.Errorf("stderr:\n%s", e)
	}
}

func TestPlanServersWarnsOnceWhenNothingIsFound(t *testing.T) {
	streams, _, _, errOut := genericiooptions.NewTestIOStreams()
	o := NewRunOptions(streams)
	o.Clients = poolClients()
	profile := []byte("load: {type: constant}\n")
	cfg := &config.Config{Harness: config.Harness{Name: config.HarnessNative, Namespace: "bench"}, Workloads: []config.Workload{{Name: "a", Profile: profile}}}
	if err := o.planServers(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	want := "Warning: no model servers to scrape (no InferencePool in namespace bench): the run goes on without server metrics (name them with --server-selector LABELS)\n"
	if errOut.String() != want || string(cfg.Workloads[0].Profile) != string(profile) {
		t.Errorf("stderr %q profile %q", errOut.String(), cfg.Workloads[0].Profile)
	}
	// --scrape-interval 0: nothing is looked up, nothing said.
	errOut.Reset()
	o.Servers.Interval = 0
	o.Clients = &Clients{Client: fake.NewClientset()} // no dynamic client: a lookup would say so
	if err := o.planServers(context.Background(), cfg); err != nil || errOut.Len() != 0 {
		t.Errorf("off: %v %q", err, errOut.String())
	}
}

// Ctrl-C during discovery is the interruption, not a warning about servers.
func TestPlanServersInterruptedSaysNothing(t *testing.T) {
	streams, _, _, errOut := genericiooptions.NewTestIOStreams()
	o := NewRunOptions(streams)
	o.Clients = poolClients()
	cfg := &config.Config{Harness: config.Harness{Name: config.HarnessNative, Namespace: "bench"}, Workloads: []config.Workload{{Name: "a", Profile: []byte("load: {type: constant}\n")}}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := o.planServers(ctx, cfg); !errors.Is(err, context.Canceled) || errOut.Len() != 0 {
		t.Errorf("interrupted: %v, stderr %q", err, errOut.String())
	}
}

func TestPlanServersImageHarnessSaysDetachedRunsHaveNone(t *testing.T) {
	streams, _, _, errOut := genericiooptions.NewTestIOStreams()
	o := NewRunOptions(streams)
	o.Servers.Selector = "app=sim"
	o.Clients = poolClients(simPod("sim-0", "10.0.0.5"))
	profile := []byte("load: {type: constant}\n")
	cfg := &config.Config{Harness: config.Harness{Name: config.HarnessInferencePerf, Namespace: "llm-d"}, Workloads: []config.Workload{{Name: "a", Profile: profile}}}
	if err := o.planServers(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	want := results.ServerTarget{Namespace: "llm-d", Pod: "sim-0", Role: "model-server", URL: "/api/v1/namespaces/llm-d/pods/http:sim-0:8000/proxy/metrics", Via: "proxy"}
	if string(cfg.Workloads[0].Profile) != string(profile) || len(o.scrapeTargets) != 1 || o.scrapeTargets[0] != want {
		t.Errorf("profile %q targets %+v", cfg.Workloads[0].Profile, o.scrapeTargets)
	}
	if !strings.Contains(errOut.String(), "(a detached run has no server metrics)") {
		t.Errorf("stderr %q", errOut.String())
	}
	// Detached, nothing follows the run to scrape it: one line says so, nothing is looked up.
	errOut.Reset()
	o.scrapeTargets, o.Detach = nil, true
	o.Clients = &Clients{Client: fake.NewClientset()}
	if err := o.planServers(context.Background(), cfg); err != nil || o.scrapeTargets != nil ||
		errOut.String() != "No server metrics: for an image harness this command reads them while it follows the run and fetches its results (not with --detach or --no-fetch).\n" {
		t.Errorf("detached: %v %+v %q", err, o.scrapeTargets, errOut.String())
	}
}

func TestDoctorServerCheck(t *testing.T) {
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	o := NewDoctorOptions(streams)
	o.Servers.Selector = "app=sim"
	o.Clients = poolClients(simPod("sim-1", "10.0.0.6"), simPod("sim-0", "10.0.0.5"))
	var rules []authorizationv1.ResourceRule // first none: pods/proxy is denied
	o.Client.(*fake.Clientset).PrependReactor("create", "selfsubjectrulesreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectRulesReview).DeepCopy()
		r.Status.ResourceRules = rules
		return true, r, nil
	})
	image := &config.Config{Harness: config.Harness{Name: config.HarnessGuideLLM, Namespace: "llm-d"}}
	c, err := o.serverCheck(context.Background(), "llm-d", image)
	if err != nil {
		t.Fatal(err)
	}
	if c.OK || c.Blocking || c.Message != "would scrape model servers sim-0, sim-1; pods/proxy denied, so an image harness's run has no server metrics" || c.Fix == "" {
		t.Errorf("denied: %+v", c)
	}
	native := &config.Config{Harness: config.Harness{Name: config.HarnessNative, Namespace: "llm-d"}}
	if c, _ := o.serverCheck(context.Background(), "llm-d", native); !c.OK || !strings.Contains(c.Message, "does not need it") {
		t.Errorf("native: %+v", c)
	}
	rules = []authorizationv1.ResourceRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods/proxy"}}}
	if c, _ := o.serverCheck(context.Background(), "llm-d", image); !c.OK || c.Message != "would scrape model servers sim-0, sim-1; pods/proxy allowed" {
		t.Errorf("allowed: %+v", c)
	}
	o.Servers.Selector = "app=none"
	if c, _ := o.serverCheck(context.Background(), "llm-d", nil); c.OK || c.Blocking || !strings.Contains(c.Message, "no running pod in namespace llm-d matches app=none") {
		t.Errorf("none: %+v", c)
	}
}
