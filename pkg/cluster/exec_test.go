package cluster

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/klog/v2"
	"k8s.io/streaming/pkg/httpstream"
)

// failingRemote is an exec transport that fails with err and records the URL it was given.
type failingRemote struct {
	err  error
	urls []*url.URL
}

func (f *failingRemote) Execute(u *url.URL, c *rest.Config, in io.Reader, out, errOut io.Writer, tty bool, q remotecommand.TerminalSizeQueue) error {
	return f.ExecuteWithContext(context.Background(), u, c, in, out, errOut, tty, q)
}

func (f *failingRemote) ExecuteWithContext(_ context.Context, u *url.URL, _ *rest.Config, _ io.Reader, _, _ io.Writer, _ bool, _ remotecommand.TerminalSizeQueue) error {
	f.urls = append(f.urls, u)
	return f.err
}

// script is a many-line in-pod script, as the snapshot and copy commands are.
const script = "d='/requests/run/0'\ni=0\nwhile [ \"$i\" -lt 25 ]; do\n  sleep 0.2\n  i=$((i + 1))\ndone\ncat \"$d/log\"\n"

func execWith(t *testing.T, err error) (error, *failingRemote) {
	t.Helper()
	remote := &failingRemote{err: err}
	cfg := &rest.Config{Host: "https://127.0.0.1:6443"} // never dialled: the transport is remote
	cs, err2 := kubernetes.NewForConfig(cfg)
	if err2 != nil {
		t.Fatal(err2)
	}
	ex := &RemoteExecutor{Client: cs, Config: cfg, Remote: remote}
	got := ex.Exec(context.Background(), PodRef{Namespace: "ns", Name: "p", Container: "c"}, []string{"sh", "-c", script, "snapshot"}, io.Discard, io.Discard)
	return got, remote
}

// Field case: a failed exec printed the whole in-pod script (the request URL carries it) on
// every retry line.
func TestExecErrorIsOneLineWithoutTheScript(t *testing.T) {
	// The URL as client-go reports it, with the command in its query.
	execURL := "https://127.0.0.1:6443/api/v1/namespaces/ns/pods/p/exec?command=sh&command=-c&command=" + url.QueryEscape(script) + "&container=c&stdout=true"
	refused := &url.Error{Op: "Get", URL: execURL, Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	cases := map[string]struct {
		err       error
		want      string
		transient bool
	}{
		"refused connection":  {refused, "exec sh (snapshot) in pod ns/p: Get: dial tcp: connect: connection refused", true},
		"wrapped url error":   {fmt.Errorf("error dialing backend: %w", refused), "exec sh (snapshot) in pod ns/p: error dialing backend: Get: dial tcp: connect: connection refused", true},
		"url in a plain text": {errors.New("error sending request: Post \"" + execURL + "\": EOF"), "exec sh (snapshot) in pod ns/p: error sending request: Post \"https://127.0.0.1:6443/api/v1/namespaces/ns/pods/p/exec\": EOF", false},
		"many lines":          {errors.New("command terminated:\n" + script), "exec sh (snapshot) in pod ns/p: command terminated: d='/requests/run/0' i=0 while", false},
		"server error":        {apierrors.NewServiceUnavailable("try later"), "exec sh (snapshot) in pod ns/p: try later", true},
	}
	for name, c := range cases {
		err, remote := execWith(t, c.err)
		msg := err.Error()
		if !strings.HasPrefix(msg, c.want) {
			t.Errorf("%s: %q\nwant prefix %q", name, msg, c.want)
		}
		if strings.Contains(msg, "\n") || strings.Contains(msg, "command=") || strings.Contains(msg, "sleep 0.2") && name != "many lines" || len(msg) > 400 {
			t.Errorf("%s: not one short line without the command: %q", name, msg)
		}
		if Transient(err) != c.transient {
			t.Errorf("%s: transient = %v, want %v", name, Transient(err), c.transient)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%s: the cause is not kept in the chain", name)
		}
		if len(remote.urls) != 1 || remote.urls[0].Query()["command"][2] != script {
			t.Errorf("%s: the command must still reach the pod: %v", name, remote.urls)
		}
	}
}

// The whole command goes to the -v logs: at -v 4, and not at the default level.
func TestExecLogsTheCommandAtV4(t *testing.T) {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	var buf bytes.Buffer
	klog.SetOutput(&buf)
	klog.LogToStderr(false)
	t.Cleanup(func() { _ = fs.Set("v", "0"); klog.LogToStderr(true); klog.SetOutput(os.Stderr) })
	_ = fs.Set("stderrthreshold", "FATAL")
	_ = fs.Set("one_output", "true")

	_ = fs.Set("v", "0")
	_, _ = execWith(t, errors.New("boom"))
	klog.Flush()
	if strings.Contains(buf.String(), "sleep 0.2") {
		t.Errorf("the command is logged without -v:\n%s", buf.String())
	}
	_ = fs.Set("v", "4")
	_, _ = execWith(t, errors.New("boom"))
	klog.Flush()
	if !strings.Contains(buf.String(), "sleep 0.2") || !strings.Contains(buf.String(), `pod="ns/p"`) {
		t.Errorf("-v 4 must log the command:\n%s", buf.String())
	}
}

// A server that refuses the exec: WebSocket (GET) is refused, SPDY (POST) is tried as kubectl
// does and refused too; the error keeps the Forbidden status and SPDY's reason, so it is no
// transient error and IsForbidden sees it.
func TestExecRefusalIsForbidden(t *testing.T) {
	var methods []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		methods = append(methods, r.Method)
		mu.Unlock()
		verb := map[string]string{"GET": "get", "POST": "create"}[r.Method]
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"p\" is forbidden: User \"u\" cannot ` + verb + ` resource \"pods/exec\"","reason":"Forbidden","code":403}`))
	}))
	defer srv.Close()
	cfg := &rest.Config{Host: srv.URL}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ex := &RemoteExecutor{Client: cs, Config: cfg}
	err = ex.Exec(context.Background(), PodRef{Namespace: "ns", Name: "p", Container: "c"}, []string{"sh", "-c", script, "snapshot"}, io.Discard, io.Discard)
	if !apierrors.IsForbidden(err) || !Refused(err) || Transient(err) {
		t.Errorf("want a Forbidden refusal, got %T %v (refused %v, transient %v)", err, err, Refused(err), Transient(err))
	}
	if err == nil || strings.Contains(err.Error(), "sleep") || !strings.Contains(err.Error(), `cannot create resource "pods/exec"`) {
		t.Errorf("message: %v", err)
	}
	if strings.Join(methods, ",") != "GET,POST" {
		t.Errorf("requests %v; want the WebSocket GET, then the SPDY POST", methods)
	}
}

func TestTransientAndRefused(t *testing.T) {
	gr := schema.GroupResource{Resource: "pods"}
	cases := []struct {
		err                error
		transient, refused bool
	}{
		{apierrors.NewForbidden(gr, "p", errors.New("no")), false, true},
		{apierrors.NewNotFound(gr, "p"), false, true},
		{apierrors.NewUnauthorized("who"), false, true},
		{apierrors.NewTooManyRequests("slow", 1), true, false},
		{apierrors.NewInternalError(errors.New("x")), true, false},
		{apierrors.NewServiceUnavailable("x"), true, false},
		{apierrors.NewTimeoutError("x", 1), true, false},
		{&httpstream.UpgradeFailureError{Cause: apierrors.NewForbidden(gr, "p", errors.New("no"))}, false, true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true, false},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true, false},
		{io.ErrUnexpectedEOF, true, false},
		{context.DeadlineExceeded, true, false},
		{errors.New("command terminated with exit code 2"), false, false},
	}
	for _, c := range cases {
		if Transient(c.err) != c.transient || Refused(c.err) != c.refused {
			t.Errorf("%v: transient %v refused %v, want %v %v", c.err, Transient(c.err), Refused(c.err), c.transient, c.refused)
		}
	}
}
