package cluster

import (
	"context"
	"fmt"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
)

// Leftover is a pod this plugin made (labelled app.kubernetes.io/managed-by=kubectl-llmdbench)
// that no run's ConfigMap accounts for: a launcher pod whose run's ConfigMap is gone (Run is
// set), or a reader pod left behind by an interrupted 'cp', 'logs' or 'results' (Run is "").
type Leftover struct {
	Pod     string
	App     string // the pod's app label: launcher.AppLauncher or launcher.AppReader
	Run     string
	Created time.Time
}

// ListLeftovers lists the plugin's pods in namespace that belong to none of runs (a ListRuns
// result), oldest first; an orphan run's pods are one leftover (its first pod listed). It reads pods only (a user's Role lists pods, not Jobs). Errors: the
// pod list's, wrapped, naming the namespace.
func ListLeftovers(ctx context.Context, cs kubernetes.Interface, namespace string, runs []Run) ([]Leftover, error) {
	sel := labels.SelectorFromSet(labels.Set{launcher.LabelManagedBy: launcher.ManagedBy}).String()
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("listing the plugin's pods in namespace %s: %w", namespace, err)
	}
	known := map[string]bool{} // runs with a ConfigMap, then orphan runs already listed
	for _, r := range runs {
		known[r.ID] = true
	}
	var out []Leftover
	for _, p := range pods.Items {
		run := p.Labels[launcher.LabelRun]
		if run != "" && known[run] {
			continue
		}
		if run != "" {
			known[run] = true // one leftover per orphan run: DeleteLeftover removes all its pods
		}
		out = append(out, Leftover{Pod: p.Name, App: p.Labels[launcher.LabelApp], Run: run, Created: p.CreationTimestamp.Time})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// DeleteLeftover deletes a leftover: a launcher pod's whole run (its Job, pods and ConfigMap, by
// DeleteRun), else the pod alone. Results are never touched. A pod already gone is no error.
func DeleteLeftover(ctx context.Context, cs kubernetes.Interface, namespace string, l Leftover) error {
	if l.Run != "" {
		return DeleteRun(ctx, cs, namespace, l.Run)
	}
	zero := int64(0)
	err := cs.CoreV1().Pods(namespace).Delete(ctx, l.Pod, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting pod %s: %w", l.Pod, err)
	}
	return nil
}
