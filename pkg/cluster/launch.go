package cluster

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
)

// Created records what a launch created, so a failed launch can remove exactly that.
type Created struct {
	Namespace string
	PVC       string
	ConfigMap string
	// Job is the launchers' Job; Pods the launcher pods of a run made before launchers were a Job.
	Job  string
	Pods []string
	// Warnings say what was created other than asked, without failing the launch.
	Warnings []string
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
		case *batchv1.Job:
			c.Namespace = o.Namespace
			job, err := createJob(ctx, cs, o)
			if err != nil {
				return c, err
			}
			c.Job = o.Name
			if o.Spec.TTLSecondsAfterFinished != nil && c.ConfigMap != "" {
				// The run's ConfigMap goes with the Job when its time-to-live ends.
				if err := adoptConfigMap(ctx, cs, job, c.ConfigMap); err != nil {
					c.Warnings = append(c.Warnings, fmt.Sprintf("ConfigMap %s will outlive the Job's time-to-live (remove it with delete): %v", c.ConfigMap, OneLine(err)))
				}
			}
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

// DeleteRun removes a run's Job, launcher pods and ConfigMap (never its results, never a claim).
// The pods go at once (grace period 0) rather than by the garbage collector, so a launcher stops
// now; a run without a Job (made before launchers were a Job) has only pods.
func DeleteRun(ctx context.Context, cs kubernetes.Interface, namespace, runID string) error {
	sel := metav1.ListOptions{LabelSelector: launcher.RunSelector(runID)}
	zero := int64(0)
	var errs []error
	background := metav1.DeletePropagationBackground
	err := cs.BatchV1().Jobs(namespace).Delete(ctx, launcher.JobName(runID), metav1.DeleteOptions{PropagationPolicy: &background})
	if err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("deleting Job %s: %w", launcher.JobName(runID), err))
	}
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
	// Event is the pod's most telling Warning event ("Reason: message") when it says more than
	// Detail, else "".
	Event string
}

func (e *PodStartError) Error() string {
	msg := fmt.Sprintf("launcher pod %s cannot start: %s", e.Pod, e.Reason)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Event != "" {
		msg += " (event " + e.Event + ")"
	}
	return msg
}

// WaitReady waits until every pod is Ready, and fails fast, with the kubelet's or scheduler's own
// words, when one cannot start: an image that cannot be pulled, an Unschedulable pod, a container
// config error (missing Secret or key), a pod that ended or was deleted. It watches the pods the
// selector picks (one list, then a watch that re-lists on its own after a dropped connection)
// rather than reading each pod in turn. A failure or a timeout whose status says little is
// explained by the pod's newest telling Warning event (FailedScheduling, FailedMount, ...).
func WaitReady(ctx context.Context, cs kubernetes.Interface, namespace, selector string, pods []string, timeout time.Duration) error {
	pending := map[string]bool{}
	for _, p := range pods {
		pending[p] = true
	}
	if len(pending) == 0 {
		return nil
	}
	// The latest state of each pod still pending, for the timeout message and its events.
	last := map[string]*corev1.Pod{}
	lw := podsListWatch(cs, namespace, selector)
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Every pod must be there once the first list is in: one missing was deleted already.
	precondition := func(store cache.Store) (bool, error) {
		for _, name := range sortedKeys(pending) {
			if _, ok, err := store.GetByKey(namespace + "/" + name); err == nil && !ok {
				return false, &PodStartError{Pod: name, Reason: "Deleted", Detail: "the pod was deleted while starting"}
			}
		}
		return false, nil
	}
	// A client that cannot stream the first list as watch events (a fake one) lists instead.
	_, err := watchtools.UntilWithSync(wctx, lw, &corev1.Pod{}, precondition, func(ev watch.Event) (bool, error) {
		switch ev.Type {
		case watch.Deleted:
			// The informer unwraps a deletion it missed (DeletedFinalStateUnknown) for us.
			if pod, ok := ev.Object.(*corev1.Pod); ok && pending[pod.Name] {
				return false, &PodStartError{Pod: pod.Name, Reason: "Deleted", Detail: "the pod was deleted while starting"}
			}
		case watch.Added, watch.Modified:
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok || !pending[pod.Name] {
				return false, nil
			}
			if err := startFailure(pod); err != nil {
				return false, err
			}
			if podReady(pod) {
				delete(pending, pod.Name)
				delete(last, pod.Name)
			} else {
				last[pod.Name] = pod
			}
		}
		return len(pending) == 0, nil
	})
	if err == nil {
		return nil
	}
	// The explanation has a context of its own: the wait's may be what ran out.
	ectx, ecancel := context.WithTimeout(context.WithoutCancel(ctx), eventsTimeout)
	defer ecancel()
	var pse *PodStartError
	if errors.As(err, &pse) {
		if ev := telling(ectx, cs, namespace, pse.Pod, podUID(last[pse.Pod])); ev != "" && !strings.Contains(pse.Detail, eventMessage(ev)) {
			pse.Event = ev
		}
		return pse
	}
	if ctx.Err() == nil && wctx.Err() != nil {
		names := sortedKeys(pending)
		states := make([]string, 0, len(names))
		why := ""
		for _, name := range names {
			pod := last[name]
			if pod == nil {
				states = append(states, name+": not seen yet")
				continue
			}
			states = append(states, describeWaiting(pod))
			if why == "" {
				why = telling(ectx, cs, namespace, name, pod.UID)
			}
		}
		return launchTimeout(timeout, states, why)
	}
	return watchEnded(ctx, err)
}

// launchTimeout is the error of a launch wait that ran out: the pods' states and the most telling
// warning seen.
func launchTimeout(timeout time.Duration, states []string, why string) error {
	msg := fmt.Sprintf("after %s (%s)", timeout, strings.Join(states, ", "))
	if why != "" {
		msg += "; last warning: " + why
	}
	return fmt.Errorf("%w %s", ErrLaunchTimeout, msg)
}

// watchEnded is the error of a launch wait that ended otherwise: the caller's context, or the watch.
func watchEnded(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("watching the launcher pods: %w", err)
}

// eventsTimeout bounds the read of a pod's events that explains a failed start.
const eventsTimeout = 10 * time.Second

// tellingReasons ranks the Warning event reasons that explain a pod that cannot start, most
// telling first; any other Warning comes after them, and a bare back-off last.
var tellingReasons = []string{"FailedScheduling", "FailedMount", "FailedAttachVolume", "FailedCreatePodSandBox", "Failed", "FailedCreatePodContainer", "FailedSync"}

// telling returns the pod's most telling recent Warning event as "Reason: message", or "" when
// it has none or they cannot be read (the explanation is a bonus, never a new failure).
func telling(ctx context.Context, cs kubernetes.Interface, namespace, pod string, uid types.UID) string {
	fs := fields.Set{"involvedObject.kind": "Pod", "involvedObject.name": pod, "type": corev1.EventTypeWarning}
	if uid != "" {
		fs["involvedObject.uid"] = string(uid)
	}
	list, err := cs.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{FieldSelector: fields.SelectorFromSet(fs).String()})
	if err != nil {
		return ""
	}
	return mostTelling(list.Items, pod, uid)
}

// mostTelling picks, among events about pod (and uid when known), the Warning whose reason ranks
// first in tellingReasons, the newest among equals.
func mostTelling(events []corev1.Event, pod string, uid types.UID) string {
	rank := func(reason string) int {
		if i := slices.Index(tellingReasons, reason); i >= 0 {
			return i
		}
		if reason == "BackOff" {
			return len(tellingReasons) + 1
		}
		return len(tellingReasons)
	}
	var best *corev1.Event
	for i := range events {
		e := &events[i]
		if e.Type != corev1.EventTypeWarning || e.InvolvedObject.Name != pod || (uid != "" && e.InvolvedObject.UID != "" && e.InvolvedObject.UID != uid) {
			continue
		}
		if best == nil || rank(e.Reason) < rank(best.Reason) || (rank(e.Reason) == rank(best.Reason) && eventTime(e).After(eventTime(best))) {
			best = e
		}
	}
	if best == nil {
		return ""
	}
	return best.Reason + ": " + strings.Join(strings.Fields(best.Message), " ")
}

// eventTime is when an event last happened, whichever API wrote it.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// eventMessage is the message part of mostTelling's "Reason: message".
func eventMessage(ev string) string {
	_, msg, _ := strings.Cut(ev, ": ")
	return msg
}

func podUID(pod *corev1.Pod) types.UID {
	if pod == nil {
		return ""
	}
	return pod.UID
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// waitingForClaims are kube-scheduler's words for a pod whose claims are not bound yet: of an
// Immediate class, or of a WaitForFirstConsumer class whose volume is being provisioned for another
// launcher's node (a shared claim: the other nodes "didn't find available persistent volumes to
// bind" until the volume exists). It schedules the pod once they are bound, so this is waiting,
// not failing (a claim that never binds ends in the launch timeout, explained by the claim's
// state).
var waitingForClaims = []string{"pod has unbound immediate PersistentVolumeClaims", "didn't find available persistent volumes to bind"}

// volumeBeingBound is the scheduler's word for a claim bound to a volume its cache has not seen
// yet (a volume just provisioned for another launcher): it retries once the volume shows.
var volumeBeingBound = regexp.MustCompile(`persistentvolume "[^"]+" not found`)

func waitsForClaims(msg string) bool {
	for _, w := range waitingForClaims {
		if strings.Contains(msg, w) {
			return true
		}
	}
	return volumeBeingBound.MatchString(msg)
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
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable &&
			!waitsForClaims(c.Message) {
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
