package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/transfer"
)

func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func TestMapInterrupt(t *testing.T) {
	canceledErr := fmt.Errorf("listing your permissions in namespace ns: %w", context.Canceled)
	cases := []struct {
		name     string
		ctx      context.Context
		err      error
		wantLine string // "" when nothing may be printed
		wantCode int    // 0: the error is returned as it is
	}{
		{"live context", context.Background(), canceledErr, "", 0},
		{"no error", cancelled(), nil, "", 0},
		{"preflight", cancelled(), canceledErr, "Interrupted: nothing was left behind; nothing runs.\n", 130},
		{"exec cut by the cancel", cancelled(), errors.New("exec sh in pod ns/p: websocket: close 1006"), "Interrupted: nothing was left behind; nothing runs.\n", 130},
		{"the command's own account", cancelled(), fmt.Errorf("launcher 0: %w", &Interrupted{Cleaned: "removed run r (its ConfigMap)", Running: "nothing runs", Err: context.Canceled}),
			"Interrupted: removed run r (its ConfigMap); nothing runs.\n", 130},
		{"already explained", cancelled(), &ExitError{Code: 130, Err: errors.New("interrupted")}, "", 130},
	}
	for _, c := range cases {
		var out bytes.Buffer
		err := MapInterrupt(c.ctx, &out, c.err)
		if out.String() != c.wantLine {
			t.Errorf("%s: printed %q, want %q", c.name, out.String(), c.wantLine)
		}
		if strings.Contains(out.String(), "context canceled") {
			t.Errorf("%s: the context error is shown", c.name)
		}
		var exit *ExitError
		switch {
		case c.wantCode == 0 && err != c.err:
			t.Errorf("%s: got %v, want the error unchanged", c.name, err)
		case c.wantCode != 0 && (!errors.As(err, &exit) || exit.Code != c.wantCode):
			t.Errorf("%s: got %v, want exit %d", c.name, err, c.wantCode)
		}
	}
}

func TestLaunchInterrupted(t *testing.T) {
	both := cluster.Created{ConfigMap: "llmdbench-r", Pods: []string{"a", "b"}}
	cause := fmt.Errorf("waiting for launchers: %w", context.Canceled)
	cases := []struct {
		name    string
		created cluster.Created
		kept    bool
		remove  error
		want    string
	}{
		{"before creating", cluster.Created{}, false, nil, "Interrupted: nothing was created; nothing runs.\n"},
		{"removed", both, false, nil, "Interrupted: removed run r (its ConfigMap and 2 launcher pod(s)); nothing runs.\n"},
		{"created claim stays", cluster.Created{PVC: "res", ConfigMap: "llmdbench-r"}, false, nil, "Interrupted: removed run r (its ConfigMap); nothing runs (PVC res stays).\n"},
		{"kept", both, true, nil, "Interrupted: kept run r (its ConfigMap and 2 launcher pod(s), --keep-on-failure); its launchers may still run; remove them with: kubectl llmdbench delete r -n ns --force.\n"},
		{"removal failed", both, false, errors.New("connection refused"), "Interrupted: could not remove run r (its ConfigMap and 2 launcher pod(s)): connection refused; remove it with: kubectl llmdbench delete r -n ns --force.\n"},
	}
	for _, c := range cases {
		ctx := cancelled()
		var out bytes.Buffer
		err := MapInterrupt(ctx, &out, launchInterrupted(ctx, "r", "ns", c.created, c.kept, c.remove, cause))
		if out.String() != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, out.String(), c.want)
		}
		if strings.Count(out.String(), "\n") != 1 || !errors.Is(err, context.Canceled) {
			t.Errorf("%s: not one line, or the cause is lost: %v", c.name, err)
		}
	}
	// A launch that failed on its own (live context) keeps its error.
	if err := launchInterrupted(context.Background(), "r", "ns", both, false, nil, cause); err != cause {
		t.Errorf("got %v", err)
	}
}

func TestCopyInterruptedLine(t *testing.T) {
	acc := &cluster.Access{Pod: cluster.PodRef{Name: "llmdbench-reader-abc"}, Reader: true}
	ctx := cancelled()
	var out bytes.Buffer
	_ = MapInterrupt(ctx, &out, copyInterrupted(acc, "out/r", transfer.Result{Files: 3, Bytes: 3 << 20, Present: 2}, context.Canceled))
	want := "Interrupted: 3 file(s), 3.0MiB, copied to out/r besides 2 already there (cp again resumes), reader pod llmdbench-reader-abc removed; nothing runs.\n"
	if out.String() != want {
		t.Errorf("got  %q\nwant %q", out.String(), want)
	}
}

// klog's lines (client-go's included) reach the terminal only with -v.
var klogLine = regexp.MustCompile(`(?m)^[IWEF]\d{4} `)

func TestKlogOnlyWithV(t *testing.T) {
	defer klog.Flush()
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"version"}, false},
		{[]string{"version", "-v", "2"}, true},
		{[]string{"version", "--v=6"}, true},
	} {
		var errOut bytes.Buffer
		cmd := NewCmdRoot(genericiooptions.IOStreams{Out: &bytes.Buffer{}, ErrOut: &errOut}, BuildInfo{})
		cmd.SetArgs(c.args)
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		klog.ErrorS(errors.New("watch closed"), "Unhandled Error") // as client-go reports
		klog.Warning("a client-go warning")
		klog.V(2).Info("level 2")
		klog.Flush()
		if got := klogLine.MatchString(errOut.String()); got != c.want {
			t.Errorf("%v: klog lines shown = %v, want %v:\n%s", c.args, got, c.want, errOut.String())
		}
	}
	// Leave klog quiet for the other tests.
	cmd := NewCmdRoot(genericiooptions.IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, BuildInfo{})
	cmd.SetArgs([]string{"version", "-v", "0"})
	_ = cmd.Execute()
}
