package cluster

import (
	"context"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	kubectlexec "k8s.io/kubectl/pkg/cmd/exec"
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
	// Remote defaults to kubectl's DefaultRemoteExecutor.
	Remote kubectlexec.RemoteExecutor
}

// Exec runs cmd in the pod and returns when it ends or ctx is cancelled.
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
		remote = &kubectlexec.DefaultRemoteExecutor{}
	}
	if err := remote.ExecuteWithContext(ctx, req.URL(), e.Config, nil, stdout, stderr, false, nil); err != nil {
		return fmt.Errorf("exec %q in pod %s: %w", cmd[0], pod, err)
	}
	return nil
}
