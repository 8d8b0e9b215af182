package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// AnnoFinalStatus records a finished run's status (JSON) on its ConfigMap, so it stays known after
// the launcher pods are gone.
const AnnoFinalStatus = "llmdbench.io/final-status"

// Run is a run as the cluster shows it: its ConfigMap and launcher pods.
type Run struct {
	ID          string
	Namespace   string
	Preset      string
	Stack       string
	Harness     string
	Workloads   []string
	Parallelism int
	PVC         string
	Image       string
	// KeepFor is set for a run whose results are on an emptyDir in its launcher pod: how long
	// the launcher waits to be fetched after its workloads (launcher.AnnoKeepFor).
	KeepFor time.Duration
	Created time.Time
	// Final is the status recorded when the run finished, if it was followed to the end.
	Final *Status
	Pods  []corev1.Pod // by launcher index
}

// ListRuns finds every run in namespace, newest first.
func ListRuns(ctx context.Context, cs kubernetes.Interface, namespace string) ([]Run, error) {
	cms, err := cs.CoreV1().ConfigMaps(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: launcher.AllRunsSelector()})
	if err != nil {
		return nil, fmt.Errorf("listing runs in namespace %s: %w", namespace, err)
	}
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: launcher.AllRunsSelector()})
	if err != nil {
		return nil, fmt.Errorf("listing launcher pods in namespace %s: %w", namespace, err)
	}
	byRun := map[string][]corev1.Pod{}
	for _, p := range pods.Items {
		id := p.Labels[launcher.LabelRun]
		byRun[id] = append(byRun[id], p)
	}
	runs := make([]Run, 0, len(cms.Items))
	for _, cm := range cms.Items {
		r := runFromConfigMap(&cm)
		r.Pods = sortPods(byRun[r.ID])
		runs = append(runs, r)
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].ID > runs[j].ID })
	return runs, nil
}

// GetRun reads one run.
func GetRun(ctx context.Context, cs kubernetes.Interface, namespace, id string) (Run, error) {
	cm, err := cs.CoreV1().ConfigMaps(namespace).Get(ctx, launcher.ConfigMapName(id), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Run{}, fmt.Errorf("run %s not found in namespace %s: 'kubectl llmdbench status' lists the runs", id, namespace)
	}
	if err != nil {
		return Run{}, fmt.Errorf("reading run %s: %w", id, err)
	}
	r := runFromConfigMap(cm)
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: launcher.RunSelector(id)})
	if err != nil {
		return Run{}, fmt.Errorf("listing the pods of run %s: %w", id, err)
	}
	r.Pods = sortPods(pods.Items)
	return r, nil
}

func runFromConfigMap(cm *corev1.ConfigMap) Run {
	r := Run{
		ID:        cm.Labels[launcher.LabelRun],
		Namespace: cm.Namespace,
		Preset:    cm.Labels[launcher.LabelPreset],
		Harness:   cm.Labels[launcher.LabelHarness],
		Stack:     cm.Annotations[launcher.AnnoStackName],
		PVC:       cm.Annotations[launcher.AnnoPVC],
		Image:     cm.Annotations[launcher.AnnoImage],
		Created:   cm.CreationTimestamp.Time,
	}
	if raw := cm.Annotations[AnnoFinalStatus]; raw != "" {
		var st Status
		if json.Unmarshal([]byte(raw), &st) == nil {
			r.Final = &st
		}
	}
	if w := cm.Annotations[launcher.AnnoWorkloads]; w != "" {
		r.Workloads = strings.Split(w, ",")
	}
	if k := cm.Annotations[launcher.AnnoKeepFor]; k != "" {
		r.KeepFor, _ = time.ParseDuration(k)
	}
	r.Parallelism, _ = strconv.Atoi(cm.Annotations[launcher.AnnoParallelism])
	if r.Parallelism < 1 {
		r.Parallelism = 1
	}
	return r
}

// NoPVC tells whether the run's results are on an emptyDir in its launcher pod, not a claim.
func (r Run) NoPVC() bool { return r.KeepFor > 0 }

// MarkFetched tells the launcher of an emptyDir run (Run.NoPVC) that its results were fetched:
// it writes runstate.FetchedFile in the launcher's state folder, and the launcher exits. Errors:
// the exec's, wrapped, naming the pod.
func MarkFetched(ctx context.Context, ex Executor, pod PodRef, runID string, index int) error {
	marker := path.Join(runstate.RunDir(runID), strconv.Itoa(index), runstate.FetchedFile)
	var stderr bytes.Buffer
	if err := ex.Exec(ctx, pod, []string{"sh", "-c", `: >"$1"`, "sh", marker}, io.Discard, &stderr); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return fmt.Errorf("telling launcher pod %s its results were fetched: %w", pod.Name, err)
	}
	return nil
}

func sortPods(pods []corev1.Pod) []corev1.Pod {
	sort.Slice(pods, func(i, j int) bool { return PodIndex(&pods[i]) < PodIndex(&pods[j]) })
	return pods
}

// RecordFinal stores a finished run's status on its ConfigMap.
func RecordFinal(ctx context.Context, cs kubernetes.Interface, st Status) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{AnnoFinalStatus: string(raw)}}})
	if err != nil {
		return err
	}
	_, err = cs.CoreV1().ConfigMaps(st.Namespace).Patch(ctx, launcher.ConfigMapName(st.Run), types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}

// ReadSnapshot reads one launcher's run folder (see runstate.SnapshotOptions).
func ReadSnapshot(ctx context.Context, ex Executor, pod PodRef, runID string, index int, o runstate.SnapshotOptions) (runstate.Snapshot, error) {
	var out, stderr bytes.Buffer
	if err := ex.Exec(ctx, pod, runstate.SnapshotCommand(runID, index, o), &out, &stderr); err != nil {
		return runstate.Snapshot{}, fmt.Errorf("%w %s", err, runstate.StderrLine(stderr.String()))
	}
	return runstate.ParseSnapshot(out.Bytes())
}

// LiveLaunchers tells, for every run in namespace, which launcher indexes still have a pod that
// can finish their workloads: one that exists, is not being deleted and has not ended. A result
// folder whose workload has not finished and whose launcher is not live is incomplete
// (runstate.Decide).
func LiveLaunchers(ctx context.Context, cs kubernetes.Interface, namespace string) (func(run string, index int) bool, error) {
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: launcher.AllRunsSelector()})
	if err != nil {
		return nil, fmt.Errorf("listing launcher pods in namespace %s: %w", namespace, err)
	}
	live := map[string]bool{}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			live[p.Labels[launcher.LabelRun]+"/"+strconv.Itoa(PodIndex(p))] = true
		}
	}
	return func(run string, index int) bool { return live[run+"/"+strconv.Itoa(index)] }, nil
}
