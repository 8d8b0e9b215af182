package plugin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
)

const attachRun = "1764000000-abcd"

// countingExecutor fails every exec with err and counts the attempts.
type countingExecutor struct {
	err   error
	calls atomic.Int32
}

func (c *countingExecutor) Exec(context.Context, cluster.PodRef, []string, io.Writer, io.Writer) error {
	c.calls.Add(1)
	return c.err
}

// attachCluster holds one running run with one launcher.
func attachCluster() *fake.Clientset {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: launcher.ConfigMapName(attachRun), Namespace: "ns",
		Labels:      map[string]string{launcher.LabelRun: attachRun},
		Annotations: map[string]string{launcher.AnnoWorkloads: "w1", launcher.AnnoParallelism: "1"}}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: launcher.PodName(attachRun, 0), Namespace: "ns",
		Labels: map[string]string{launcher.LabelRun: attachRun, launcher.LabelIndex: "0"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	return fake.NewClientset(cm, pod)
}

func attachWith(t *testing.T, cs *fake.Clientset, ex cluster.Executor, timeout time.Duration) (error, time.Duration, string) {
	t.Helper()
	var errOut bytes.Buffer
	o := NewAttachOptions(genericiooptions.IOStreams{Out: io.Discard, ErrOut: &errOut})
	o.RunID, o.namespace, o.Clients = attachRun, "ns", &Clients{Client: cs, Executor: ex}
	o.Interval = time.Second
	o.ResultsDir = t.TempDir()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	err := o.Run(ctx)
	return err, time.Since(start), errOut.String()
}

// Field case: attach retried a Forbidden exec forever ("retrying in 30s"), hiding the reason.
func TestAttachEndsAtOnceOnARefusal(t *testing.T) {
	gr := schema.GroupResource{Resource: "pods"}
	for name, refusal := range map[string]error{
		"forbidden exec": apierrors.NewForbidden(schema.GroupResource{Resource: "pods/exec"}, launcher.PodName(attachRun, 0), errors.New(`User "u" cannot create resource "pods/exec"`)),
		"pod not found":  apierrors.NewNotFound(gr, launcher.PodName(attachRun, 0)),
	} {
		ex := &countingExecutor{err: &cluster.ExecError{Pod: cluster.PodRef{Namespace: "ns", Name: "p"}, Program: "sh", Err: refusal}}
		err, took, stderr := attachWith(t, attachCluster(), ex, 10*time.Second)
		if err == nil || !errors.Is(err, refusal) || !strings.Contains(err.Error(), refusal.Error()) {
			t.Errorf("%s: got %v", name, err)
		}
		if n := ex.calls.Load(); n != 1 || took > 2*time.Second {
			t.Errorf("%s: %d attempt(s) in %s; a refusal is not retried", name, n, took)
		}
		if strings.Contains(stderr, "retrying") {
			t.Errorf("%s: announced a retry:\n%s", name, stderr)
		}
	}
	// The pod list refused: no exec at all.
	cs := attachCluster()
	cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(gr, "x", errors.New("no get"))
	})
	ex := &countingExecutor{}
	if err, took, _ := attachWith(t, cs, ex, 10*time.Second); !apierrors.IsForbidden(err) || ex.calls.Load() != 0 || took > 2*time.Second {
		t.Errorf("forbidden pod list: %v after %d exec(s), %s", err, ex.calls.Load(), took)
	}
}

// A transient failure (503, a reset connection) is retried until the context ends.
func TestAttachRetriesTransientErrors(t *testing.T) {
	for name, transient := range map[string]error{
		"unavailable": apierrors.NewServiceUnavailable("apiserver is restarting"),
		"reset":       errors.New("read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer"),
	} {
		ex := &countingExecutor{err: transient}
		// Pauses of 0.5 s and 1 s, each after up to 0.3 s of looking whether the pod ended: three
		// attempts within 3 s.
		err, _, stderr := attachWith(t, attachCluster(), ex, 3*time.Second)
		// Following ends with the context, saying the run goes on (MapInterrupt prints it, exit 130).
		var in *Interrupted
		if !errors.As(err, &in) || !strings.Contains(in.Running, "goes on in the cluster") {
			t.Errorf("%s: got %v", name, err)
		}
		if n := ex.calls.Load(); n < 3 {
			t.Errorf("%s: %d attempt(s); a transient error is retried", name, n)
		}
		if !strings.Contains(stderr, "retrying in") {
			t.Errorf("%s: retries are not announced:\n%s", name, stderr)
		}
	}
}

func TestAttachFetchesByDefault(t *testing.T) {
	cmd := NewCmdAttach(nil, genericiooptions.IOStreams{Out: io.Discard, ErrOut: io.Discard})
	for flag, want := range map[string]string{"no-fetch": "false", "results-dir": DefaultResultsDir} {
		f := cmd.Flags().Lookup(flag)
		if f == nil || f.DefValue != want {
			t.Errorf("--%s: %+v, want default %q", flag, f, want)
		}
	}
	o := NewAttachOptions(genericiooptions.IOStreams{})
	o.ResultsDir = ""
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--results-dir") {
		t.Errorf("an empty --results-dir: %v", err)
	}
	o.NoFetch = true
	if err := o.Validate(); err != nil {
		t.Errorf("--no-fetch needs no --results-dir: %v", err)
	}
}
