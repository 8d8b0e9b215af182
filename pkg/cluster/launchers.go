package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
)

// PodIndex is a launcher pod's index: the Job's completion index of a Job pod, or the index label
// of a bare launcher pod (runs made before launchers were a Job). -1 when the pod has neither.
func PodIndex(p *corev1.Pod) int {
	for _, v := range []string{p.Annotations[launcher.JobCompletionIndex], p.Labels[launcher.JobCompletionIndex], p.Labels[launcher.LabelIndex]} {
		if i, err := strconv.Atoi(v); err == nil && i >= 0 {
			return i
		}
	}
	return -1
}

// ended tells whether a pod ran to its end by itself (not deleted): its run folder holds the
// launcher's final state, read through another pod that mounts the claim.
func ended(p *corev1.Pod) bool {
	return p.DeletionTimestamp == nil && (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed)
}

// launcherPods picks, per index, the pod that speaks for the launcher: a live one before an ended
// one, the newest among equals.
func launcherPods(pods []corev1.Pod) map[int]*corev1.Pod {
	byIndex := map[int]*corev1.Pod{}
	for i := range pods {
		p := &pods[i]
		idx := PodIndex(p)
		if idx < 0 {
			continue
		}
		cur, ok := byIndex[idx]
		if !ok || better(p, cur) {
			byIndex[idx] = p
		}
	}
	return byIndex
}

func better(p, than *corev1.Pod) bool {
	live := func(p *corev1.Pod) bool { return p.DeletionTimestamp == nil && !ended(p) }
	if live(p) != live(than) {
		return live(p)
	}
	return than.CreationTimestamp.Before(&p.CreationTimestamp)
}

// claimReaders opens, once per claim and only when needed, a pod through which the run folders of
// ended launchers are read (OpenResults: a pod that mounts the claim, or a reader pod).
type claimReaders struct {
	cs   kubernetes.Interface
	mu   sync.Mutex
	open map[string]*claimAccess
}

type claimAccess struct {
	once sync.Once
	acc  *Access
	err  error
}

func newClaimReaders(cs kubernetes.Interface) *claimReaders {
	return &claimReaders{cs: cs, open: map[string]*claimAccess{}}
}

// pod returns a pod that mounts the claim of run.
func (c *claimReaders) pod(ctx context.Context, run Run) (PodRef, error) {
	if run.PVC == "" {
		return PodRef{}, fmt.Errorf("run %s does not name its results claim", run.ID)
	}
	key := run.Namespace + "/" + run.PVC
	c.mu.Lock()
	a := c.open[key]
	if a == nil {
		a = &claimAccess{}
		c.open[key] = a
	}
	c.mu.Unlock()
	a.once.Do(func() {
		a.acc, a.err = OpenResults(ctx, c.cs, run.Namespace, run.PVC, ReaderOptions{Image: run.Image})
	})
	if a.err != nil {
		return PodRef{}, a.err
	}
	return a.acc.Pod, nil
}

// close removes the reader pods it started.
func (c *claimReaders) close(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.open {
		if a.acc != nil {
			_ = a.acc.Close(ctx)
		}
	}
}

// WaitLaunchers waits until every launcher of a run (indexes 0 to n-1 of its Job) has a pod that
// started: Ready, or already ended by itself (a launcher may finish before a watch sees it Ready).
// It fails fast, with the kubelet's or scheduler's own words, when a launcher cannot start (as
// WaitReady), and explains a timeout with no pod at all by the Job's newest Warning event (a
// quota or admission refusal of the pods).
func WaitLaunchers(ctx context.Context, cs kubernetes.Interface, namespace, runID string, n int, timeout time.Duration) error {
	started := map[int]bool{}
	last := map[int]*corev1.Pod{}
	selector := launcher.RunSelector(runID)
	lw := podsListWatch(cs, namespace, selector)
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := watchtools.UntilWithSync(wctx, lw, &corev1.Pod{}, nil, func(ev watch.Event) (bool, error) {
		pod, ok := ev.Object.(*corev1.Pod)
		if !ok {
			return false, nil
		}
		idx := PodIndex(pod)
		if idx < 0 || idx >= n || started[idx] {
			return false, nil
		}
		switch ev.Type {
		case watch.Deleted:
			return false, &PodStartError{Pod: pod.Name, Reason: "Deleted", Detail: "the pod was deleted while starting"}
		case watch.Added, watch.Modified:
			if ended(pod) || podReady(pod) {
				started[idx] = true
				delete(last, idx)
				return len(started) == n, nil
			}
			if err := startFailure(pod); err != nil {
				return false, err
			}
			last[idx] = pod
		}
		return false, nil
	})
	if err == nil {
		return nil
	}
	ectx, ecancel := context.WithTimeout(context.WithoutCancel(ctx), eventsTimeout)
	defer ecancel()
	var pse *PodStartError
	if errors.As(err, &pse) {
		var uid = podUID(nil)
		for _, p := range last {
			if p.Name == pse.Pod {
				uid = p.UID
			}
		}
		if ev := telling(ectx, cs, namespace, pse.Pod, uid); ev != "" && !strings.Contains(pse.Detail, eventMessage(ev)) {
			pse.Event = ev
		}
		return pse
	}
	if ctx.Err() == nil && wctx.Err() != nil {
		var states []string
		why := ""
		for i := range n {
			if started[i] {
				continue
			}
			pod := last[i]
			if pod == nil {
				states = append(states, fmt.Sprintf("launcher %d: no pod yet", i))
				continue
			}
			states = append(states, describeWaiting(pod))
			if why == "" {
				why = telling(ectx, cs, namespace, pod.Name, pod.UID)
			}
		}
		if why == "" {
			why = jobWarning(ectx, cs, namespace, launcher.JobName(runID))
		}
		return launchTimeout(timeout, states, why)
	}
	return watchEnded(ctx, err)
}

// podsListWatch lists and watches the pods selector picks in namespace; a client that cannot
// stream the first list as watch events (a fake one) lists instead.
func podsListWatch(cs kubernetes.Interface, namespace, selector string) cache.ListerWatcher {
	return cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.LabelSelector = selector
			return cs.CoreV1().Pods(namespace).List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.LabelSelector = selector
			return cs.CoreV1().Pods(namespace).Watch(ctx, opts)
		},
	}, cs)
}

// jobWarning is the Job's newest Warning event ("Reason: message"), or "".
func jobWarning(ctx context.Context, cs kubernetes.Interface, namespace, job string) string {
	list, err := cs.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=Job,involvedObject.name=" + job + ",type=" + corev1.EventTypeWarning})
	if err != nil {
		return ""
	}
	var best *corev1.Event
	for i := range list.Items {
		e := &list.Items[i]
		if e.Type == corev1.EventTypeWarning && (best == nil || eventTime(e).After(eventTime(best))) {
			best = e
		}
	}
	if best == nil {
		return ""
	}
	return best.Reason + ": " + strings.Join(strings.Fields(best.Message), " ")
}

// createJob creates the run's Job.
func createJob(ctx context.Context, cs kubernetes.Interface, job *batchv1.Job) (*batchv1.Job, error) {
	created, err := cs.BatchV1().Jobs(job.Namespace).Create(ctx, job, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating Job %s: %w", job.Name, err)
	}
	return created, nil
}

// adoptConfigMap makes the Job the owner of the run's ConfigMap, so that the garbage collector
// removes it with the Job (ttlSecondsAfterFinished): the run then leaves nothing behind.
func adoptConfigMap(ctx context.Context, cs kubernetes.Interface, job *batchv1.Job, configMap string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": []metav1.OwnerReference{{
		APIVersion: "batch/v1", Kind: "Job", Name: job.Name, UID: job.UID,
	}}}})
	if err != nil {
		return err
	}
	_, err = cs.CoreV1().ConfigMaps(job.Namespace).Patch(ctx, configMap, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}
