package cluster

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// ResultFolders names the result folders a run's workloads reported (their base names), in
// workload order, each once.
func ResultFolders(st Status) []string {
	var names []string
	seen := map[string]bool{}
	for _, w := range st.Workloads {
		if w.ResultsDir == "" {
			continue
		}
		if n := path.Base(w.ResultsDir); !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	return names
}

// ResultsPod chooses the launcher to read a finished run's results through: the pod of the first
// workload whose launcher still runs (every launcher mounts the run's claim). ok is false when
// none runs any more; a pod that cannot be read counts as gone.
func ResultsPod(ctx context.Context, cs kubernetes.Interface, namespace string, st Status) (ref PodRef, ok bool) {
	tried := map[string]bool{}
	for _, w := range st.Workloads {
		if w.Pod == "" || tried[w.Pod] {
			continue
		}
		tried[w.Pod] = true
		p, err := cs.CoreV1().Pods(namespace).Get(ctx, w.Pod, metav1.GetOptions{})
		if err == nil && p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			return PodRef{Namespace: namespace, Name: w.Pod, Container: launcher.ContainerName}, true
		}
	}
	return PodRef{}, false
}

// WrittenFolders lists the results volume through pod and returns the folders of wanted that are
// there, in the listing's order: a workload may report a folder it never wrote.
func WrittenFolders(ctx context.Context, ex Executor, pod PodRef, wanted []string) ([]string, error) {
	var out, stderr bytes.Buffer
	if err := ex.Exec(ctx, pod, runstate.ResultsListCommand(), &out, &stderr); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return nil, fmt.Errorf("listing the results through pod %s: %w", pod.Name, err)
	}
	folders, err := runstate.ParseResultsList(out.Bytes())
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, w := range wanted {
		want[w] = true
	}
	var dirs []string
	for _, f := range folders {
		if want[f.Name] {
			dirs = append(dirs, f.Name)
		}
	}
	return dirs, nil
}
