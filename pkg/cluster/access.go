package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/kubernetes"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
)

// Access is a pod through which a results volume is read.
type Access struct {
	Pod PodRef
	// Reader tells whether the pod was started just for this (and is removed by Close).
	Reader bool
	close  func(context.Context) error
}

// Close removes a reader pod; a launcher is left alone.
func (a *Access) Close(ctx context.Context) error {
	if a.close == nil {
		return nil
	}
	return a.close(ctx)
}

// ReaderOptions shape OpenResults.
type ReaderOptions struct {
	// Image of a reader pod; empty means the newest run's harness image.
	Image string
	// Timeout bounds the wait for a reader pod.
	Timeout time.Duration
}

// DefaultReaderImage is used when nothing in the namespace names an image.
const DefaultReaderImage = "ghcr.io/llm-d/llm-d-benchmark:v0.4.0"

// OpenResults finds a way into the results claim pvc: a running launcher of a run made before
// launchers were a Job (those idle until deleted) that mounts it, or else a short-lived reader pod
// on the same claim (removed by Close), pinned, for a ReadWriteOnce claim, where it can be mounted
// (PinForClaim). A Job's launcher is never used: it ends by itself, maybe in
// the middle of a read.
func OpenResults(ctx context.Context, cs kubernetes.Interface, namespace, pvc string, o ReaderOptions) (*Access, error) {
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: mountingPods().String()})
	if err != nil {
		return nil, fmt.Errorf("looking for a pod that mounts PVC %s: %w", pvc, err)
	}
	for _, p := range pods.Items {
		if podReady(&p) && p.DeletionTimestamp == nil && mounts(&p, pvc) && p.Labels[launcher.LabelIndex] != "" && PodIndex(&p) >= 0 &&
			p.Annotations[launcher.JobCompletionIndex] == "" && p.Labels[launcher.LabelApp] == launcher.AppLauncher {
			return &Access{Pod: PodRef{Namespace: namespace, Name: p.Name, Container: launcher.ContainerName}}, nil
		}
	}
	image := o.Image
	if image == "" {
		image = newestImage(ctx, cs, namespace)
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	pod := launcher.BuildReaderPod(namespace, "llmdbench-reader-"+hex.EncodeToString(b), pvc, image)
	// A ReadWriteOnce claim mounts on one node at a time: the reader goes where it is mounted.
	pin, err := PinForClaim(ctx, cs, namespace, pvc)
	if err != nil {
		return nil, err
	}
	pod.Spec.Affinity = launcher.RequiredAffinity(pin.NodeSelector())
	if _, err := cs.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("starting a reader pod on PVC %s: %w", pvc, err)
	}
	remove := func(ctx context.Context) error {
		zero := int64(0)
		return cs.CoreV1().Pods(namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	if err := WaitReady(ctx, cs, namespace, launcher.LabelApp+"="+launcher.AppReader, []string{pod.Name}, timeout); err != nil {
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = remove(cleanup)
		return nil, fmt.Errorf("%w: PVC %s, image %s: %w", ErrReaderPod, pvc, image, err)
	}
	return &Access{Pod: PodRef{Namespace: namespace, Name: pod.Name, Container: launcher.ContainerName}, Reader: true, close: remove}, nil
}

// mountingPods selects the plugin's pods that mount a results claim: launchers and readers.
func mountingPods() labels.Selector {
	managed, err := labels.NewRequirement(launcher.LabelManagedBy, selection.Equals, []string{launcher.ManagedBy})
	if err != nil {
		panic(err) // the package's own constants
	}
	app, err := labels.NewRequirement(launcher.LabelApp, selection.In, []string{launcher.AppLauncher, launcher.AppReader})
	if err != nil {
		panic(err)
	}
	return labels.NewSelector().Add(*managed, *app)
}

func mounts(p *corev1.Pod, pvc string) bool {
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == pvc {
			return true
		}
	}
	return false
}

// newestImage is the harness image of the newest run: nodes that ran it already hold it.
func newestImage(ctx context.Context, cs kubernetes.Interface, namespace string) string {
	runs, err := ListRuns(ctx, cs, namespace)
	if err == nil {
		for _, r := range runs {
			if r.Image != "" {
				return r.Image
			}
		}
	}
	return DefaultReaderImage
}

// DefaultPVC is the results claim of the newest run in the namespace.
func DefaultPVC(ctx context.Context, cs kubernetes.Interface, namespace string) (string, error) {
	runs, err := ListRuns(ctx, cs, namespace)
	if err != nil {
		return "", err
	}
	for _, r := range runs {
		if r.PVC != "" {
			return r.PVC, nil
		}
	}
	return "", fmt.Errorf("%w in namespace %s", ErrNoResultsPVC, namespace)
}
