package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/klog/v2"
	"k8s.io/streaming/pkg/httpstream"
)

// PodRef names a container.
type PodRef struct {
	Namespace, Name, Container string
}

func (p PodRef) String() string { return p.Namespace + "/" + p.Name }

// Executor runs a command in a container, streaming its output. Commands use bare names (sh, tar,
// cat) since images differ in where tools live. It never sends stdin: nothing here needs it, and
// not every runtime closes it.
type Executor interface {
	Exec(ctx context.Context, pod PodRef, cmd []string, stdout, stderr io.Writer) error
}

// RemoteExecutor is kubectl's exec machinery: WebSocket, with SPDY as the fallback.
type RemoteExecutor struct {
	Client kubernetes.Interface
	Config *rest.Config
	// Remote defaults to kubectl's protocols: WebSocket, falling back to SPDY when the upgrade
	// fails (see remoteExecutor).
	Remote StreamExecutor
}

// StreamExecutor runs one exec request's streams (kubectl's exec.RemoteExecutor has this method;
// naming it here keeps kubectl's command packages, and their start-up cost, out of the binary).
type StreamExecutor interface {
	ExecuteWithContext(ctx context.Context, u *url.URL, config *rest.Config, stdin io.Reader, stdout, stderr io.Writer, tty bool, sizes remotecommand.TerminalSizeQueue) error
}

// Exec runs cmd in the pod and returns when it ends or ctx is cancelled. Its error is one line:
// the pod, the program and the cause, never the command's arguments (an in-pod script is many
// lines); the whole command is logged at -v 4, the raw error at -v 6.
func (e *RemoteExecutor) Exec(ctx context.Context, pod PodRef, cmd []string, stdout, stderr io.Writer) error {
	req := e.Client.CoreV1().RESTClient().Post().
		Resource("pods").Namespace(pod.Namespace).Name(pod.Name).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: pod.Container,
			Command:   cmd,
			Stdout:    stdout != nil,
			Stderr:    stderr != nil,
		}, scheme.ParameterCodec)
	remote := e.Remote
	if remote == nil {
		remote = remoteExecutor{}
	}
	klog.V(4).InfoS("exec", "pod", pod.String(), "container", pod.Container, "command", cmd)
	if err := remote.ExecuteWithContext(ctx, req.URL(), e.Config, nil, stdout, stderr, false, nil); err != nil {
		klog.V(6).InfoS("exec failed", "pod", pod.String(), "command", cmd, "err", err)
		return &ExecError{Pod: pod, Program: program(cmd), Err: err}
	}
	return nil
}

// ExecError is a failed exec: the pod, the program run and the cause. Its message is one line.
type ExecError struct {
	Pod     PodRef
	Program string
	Err     error
}

func (e *ExecError) Error() string {
	return fmt.Sprintf("exec %s in pod %s: %s", e.Program, e.Pod, OneLine(e.Err))
}

// Unwrap exposes the cause, with the API status inside a failed upgrade, so apierrors.IsForbidden
// and the like see it.
func (e *ExecError) Unwrap() error {
	var up *httpstream.UpgradeFailureError
	if errors.As(e.Err, &up) && up.Cause != nil {
		var status *apierrors.StatusError
		if errors.As(up.Cause, &status) {
			return status
		}
	}
	return e.Err
}

// program names a command by its program, or by sh's script name for "sh -c SCRIPT NAME ...".
func program(cmd []string) string {
	if len(cmd) == 0 {
		return "(nothing)"
	}
	if len(cmd) >= 4 && cmd[0] == "sh" && cmd[1] == "-c" {
		return "sh (" + cmd[3] + ")"
	}
	return cmd[0]
}

// urlQuery matches the query of a URL in an error text: an exec URL carries the whole command.
var urlQuery = regexp.MustCompile(`(https?://[^\s"?]+)\?[^\s"]*`)

// maxLine bounds a cause in a one-line message.
const maxLine = 300

// OneLine renders err for a one-line message: without the request URL's query (an exec's
// command), on one line, and at most maxLine characters.
func OneLine(err error) string {
	var uerr *url.Error
	msg := err.Error()
	if errors.As(err, &uerr) {
		// "Post URL: cause" becomes "Post: cause" wherever it is in the chain.
		msg = strings.Replace(msg, uerr.Error(), uerr.Op+": "+uerr.Err.Error(), 1)
	}
	msg = urlQuery.ReplaceAllString(msg, "$1")
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > maxLine {
		msg = msg[:maxLine] + "…"
	}
	return msg
}

// remoteExecutor is kubectl's default exec: WebSocket, falling back to SPDY when the upgrade
// fails (as kubectl does: an API server may authorize the WebSocket GET as "get pods/exec" and
// refuse a user who has only "create"). When both are refused, the error keeps the API status
// of the refusal (SPDY's own error is only text), so IsForbidden and Refused see it.
type remoteExecutor struct{}

func (remoteExecutor) Execute(u *url.URL, config *rest.Config, stdin io.Reader, stdout, stderr io.Writer, tty bool, sizes remotecommand.TerminalSizeQueue) error {
	return remoteExecutor{}.ExecuteWithContext(context.Background(), u, config, stdin, stdout, stderr, tty, sizes)
}

func (remoteExecutor) ExecuteWithContext(ctx context.Context, u *url.URL, config *rest.Config, stdin io.Reader, stdout, stderr io.Writer, tty bool, sizes remotecommand.TerminalSizeQueue) error {
	opts := remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr, Tty: tty, TerminalSizeQueue: sizes}
	// WebSocket needs GET (RFC 6455 4.1).
	ws, err := remotecommand.NewWebSocketExecutor(config, "GET", u.String())
	if err != nil {
		return err
	}
	err = ws.StreamWithContext(ctx, opts)
	if err == nil || !(httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)) {
		return err
	}
	refusal := upgradeStatus(err)
	spdy, err := remotecommand.NewSPDYExecutor(config, "POST", u)
	if err != nil {
		return err
	}
	err = spdy.StreamWithContext(ctx, opts)
	if msg, ok := strings.CutPrefix(fmt.Sprint(err), spdyUpgradeFailed); ok && refusal != nil {
		status := refusal.ErrStatus
		status.Message = msg // SPDY's reason (its verb) is the one that counts
		return &apierrors.StatusError{ErrStatus: status}
	}
	return err
}

// spdyUpgradeFailed starts client-go's error for an SPDY upgrade the server answered with an error.
const spdyUpgradeFailed = "unable to upgrade connection: "

// upgradeStatus is the API status inside a failed upgrade, else nil.
func upgradeStatus(err error) *apierrors.StatusError {
	var up *httpstream.UpgradeFailureError
	var status *apierrors.StatusError
	if errors.As(err, &up) && up.Cause != nil && errors.As(up.Cause, &status) {
		return status
	}
	return nil
}

// Transient tells whether a failed API call or exec may pass when retried: a timeout, a 429 or
// 5xx answer, a refused or reset connection, a stream cut short.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || utilnet.IsTimeout(err) || utilnet.IsConnectionRefused(err) ||
		utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	if code := statusCode(err); code != 0 {
		return code == 408 || code == 429 || code >= 500
	}
	return false
}

// Refused tells whether the API server refused a request for a reason no retry changes: an
// answer with a 4xx status other than 408 and 429 (Forbidden, Unauthorized, NotFound, Invalid …).
func Refused(err error) bool {
	code := statusCode(err)
	return code >= 400 && code < 500 && code != 408 && code != 429
}

// statusCode is the HTTP code of an API status error in err's chain, else 0.
func statusCode(err error) int32 {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Code
	}
	var up *httpstream.UpgradeFailureError
	if errors.As(err, &up) && up.Cause != nil {
		return statusCode(up.Cause)
	}
	return 0
}
