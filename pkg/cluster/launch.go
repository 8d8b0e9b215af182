package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
)

// Created records what a launch created, so a failed launch can remove exactly that.
type Created struct {
	Namespace string
	PVC       string
	ConfigMap string
	Pods      []string
}

// Create creates the run's objects in order. On error it returns what it had created so far.
func Create(ctx context.Context, cs kubernetes.Interface, objs []runtime.Object) (Created, error) {
	var c Created
	for _, obj := range objs {
		switch o := obj.(type) {
		case *corev1.PersistentVolumeClaim:
			c.Namespace = o.Namespace
			_, err := cs.CoreV1().PersistentVolumeClaims(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				continue // --create-pvc only creates a missing claim; an existing one is used as is
			}
			if err != nil {
				return c, fmt.Errorf("creating PVC %s: %w", o.Name, err)
			}
			c.PVC = o.Name
		case *corev1.ConfigMap:
			c.Namespace = o.Namespace
			if _, err := cs.CoreV1().ConfigMaps(o.Namespace).Create(ctx, o, metav1.CreateOptions{}); err != nil {
				return c, fmt.Errorf("creating ConfigMap %s: %w", o.Name, err)
			}
			c.ConfigMap = o.Name
		case *corev1.Pod:
			c.Namespace = o.Namespace
			if _, err := cs.CoreV1().Pods(o.Namespace).Create(ctx, o, metav1.CreateOptions{}); err != nil {
				return c, fmt.Errorf("creating pod %s: %w", o.Name, err)
			}
			c.Pods = append(c.Pods, o.Name)
		default:
			return c, fmt.Errorf("cannot create a %T", obj)
		}
	}
	return c, nil
}

// DeleteRun removes a run's launcher pods and ConfigMap (never its results, never a claim).
func DeleteRun(ctx context.Context, cs kubernetes.Interface, namespace, runID string) error {
	sel := metav1.ListOptions{LabelSelector: launcher.RunSelector(runID)}
	zero := int64(0)
	var errs []error
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, sel)
	if err != nil {
		return fmt.Errorf("listing the pods of run %s: %w", runID, err)
	}
	for _, p := range pods.Items {
		err := cs.CoreV1().Pods(namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	err = cs.CoreV1().ConfigMaps(namespace).Delete(ctx, launcher.ConfigMapName(runID), metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// PodStartError explains why a launcher pod cannot start.
type PodStartError struct {
	Pod    string
	Reason string
	Detail string
}

func (e *PodStartError) Error() string {
	return fmt.Sprintf("launcher pod %s cannot start: %s: %s", e.Pod, e.Reason, e.Detail)
}

// WaitReady waits until every pod is Ready, and fails fast, with the kubelet's or scheduler's own
// words, when one cannot start: an image that cannot be pulled, an Unschedulable pod, a container
// config error (missing Secret or key), a pod that ended or was deleted.
func WaitReady(ctx context.Context, cs kubernetes.Interface, namespace string, pods []string, timeout time.Duration) error {
	pending := map[string]bool{}
	for _, p := range pods {
		pending[p] = true
	}
	var lastState string
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		names := make([]string, 0, len(pending))
		for name := range pending {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			pod, err := cs.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, &PodStartError{Pod: name, Reason: "Deleted", Detail: "the pod was deleted while starting"}
			}
			if err != nil {
				return false, fmt.Errorf("reading pod %s: %w", name, err)
			}
			if err := startFailure(pod); err != nil {
				return false, err
			}
			if podReady(pod) {
				delete(pending, name)
				continue
			}
			lastState = describeWaiting(pod)
		}
		return len(pending) == 0, nil
	})
	var pse *PodStartError
	if errors.As(err, &pse) {
		return pse
	}
	if wait.Interrupted(err) && ctx.Err() == nil {
		return fmt.Errorf("%w after %s (%s)", ErrLaunchTimeout, timeout, lastState)
	}
	return err
}

// StartFailure returns why a pod can no longer start, or nil while it still may.
func startFailure(pod *corev1.Pod) error {
	if pod.DeletionTimestamp != nil {
		return &PodStartError{Pod: pod.Name, Reason: "Deleted", Detail: "the pod is being deleted"}
	}
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed:
		detail := string(pod.Status.Phase)
		if pod.Status.Reason != "" {
			detail = pod.Status.Reason + ": " + pod.Status.Message
		}
		return &PodStartError{Pod: pod.Name, Reason: "Ended", Detail: detail}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return &PodStartError{Pod: pod.Name, Reason: "Unschedulable", Detail: c.Message}
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil {
			switch w.Reason {
			case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull":
				return &PodStartError{Pod: pod.Name, Reason: w.Reason, Detail: fmt.Sprintf("image %s: %s", cs.Image, w.Message)}
			case "CreateContainerConfigError", "CreateContainerError":
				return &PodStartError{Pod: pod.Name, Reason: w.Reason, Detail: w.Message}
			}
		}
		if t := cs.State.Terminated; t != nil {
			return &PodStartError{Pod: pod.Name, Reason: "Terminated", Detail: fmt.Sprintf("container exited with code %d (%s)", t.ExitCode, t.Reason)}
		}
	}
	return nil
}

func podReady(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func describeWaiting(pod *corev1.Pod) string {
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			return pod.Name + ": " + w.Reason
		}
	}
	if pod.Spec.NodeName == "" {
		return pod.Name + ": not scheduled yet"
	}
	return pod.Name + ": " + string(pod.Status.Phase)
}
