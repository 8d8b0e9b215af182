package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/workqueue"
)

// Annotations tests put on pods (and PVCs) to drive lifecycles a real cluster shows.
const (
	annoPrefix        = "localcluster.llmdbench.io/"
	AnnoUnschedulable = annoPrefix + "unschedulable" // value: the scheduler's message (optional)
	AnnoImagePull     = annoPrefix + "image-pull"    // "fail": ErrImagePull, then ImagePullBackOff
	AnnoConfigError   = annoPrefix + "config-error"  // set by the agent: CreateContainerConfigError
	AnnoExitCode      = annoPrefix + "exit-code"     // main container exits with this code…
	AnnoExitAfter     = annoPrefix + "exit-after"    // …after this long (e.g. "2s")
	AnnoPVCPending    = annoPrefix + "pending"       // on a PVC: never bind it
	// AnnoServiceAddress on a Service: the loopback address it is served on; pods resolve the
	// Service's cluster DNS names to it (see isolate for serving one).
	AnnoServiceAddress = annoPrefix + "address"
)

// agent plays the node-side parts a real cluster has and this one lacks: kube-scheduler (binding,
// Unschedulable), the PV controller (binding claims), and the container runtime's file system
// (one root per pod with its volumes, environment and stdout).
type agent struct {
	dir     string
	cs      kubernetes.Interface
	dyn     dynamic.Interface
	pods    corelisters.PodLister
	pvcs    corelisters.PersistentVolumeClaimLister
	nodes   corelisters.NodeLister
	queue   workqueue.TypedRateLimitingInterface[string]
	applets []string

	mu      sync.Mutex
	running map[string]*podState // by namespace/name
}

type podState struct {
	uid      types.UID
	stopTail context.CancelFunc
}

func runAgent(ctx context.Context, dir string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 100, 200
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	applets, err := busyboxApplets()
	if err != nil {
		return err
	}
	// The resync makes pending pods retry scheduling, as the scheduler does when things change.
	factory := informers.NewSharedInformerFactory(cs, 2*time.Second)
	a := &agent{
		dir: dir, cs: cs, dyn: dyn, applets: applets,
		pods:    factory.Core().V1().Pods().Lister(),
		pvcs:    factory.Core().V1().PersistentVolumeClaims().Lister(),
		nodes:   factory.Core().V1().Nodes().Lister(),
		queue:   workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		running: map[string]*podState{},
	}
	enqueue := func(kind string) cache.ResourceEventHandlerFuncs {
		add := func(obj any) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				a.queue.Add(kind + "/" + key)
			}
		}
		return cache.ResourceEventHandlerFuncs{AddFunc: add, UpdateFunc: func(_, obj any) { add(obj) }, DeleteFunc: add}
	}
	if _, err := factory.Core().V1().Pods().Informer().AddEventHandler(enqueue("pod")); err != nil {
		return err
	}
	if _, err := factory.Core().V1().PersistentVolumeClaims().Informer().AddEventHandler(enqueue("pvc")); err != nil {
		return err
	}
	factory.Core().V1().Nodes().Informer()
	factory.Core().V1().Secrets().Informer()
	factory.Core().V1().ConfigMaps().Informer()
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	go func() {
		<-ctx.Done()
		a.queue.ShutDown()
	}()
	for a.process(ctx) {
	}
	return nil
}

func (a *agent) process(ctx context.Context) bool {
	key, quit := a.queue.Get()
	if quit {
		return false
	}
	defer a.queue.Done(key)
	kind, rest, _ := strings.Cut(key, "/")
	ns, name, _ := strings.Cut(rest, "/")
	var err error
	switch kind {
	case "pod":
		err = a.syncPod(ctx, ns, name)
	case "pvc":
		err = a.syncPVC(ctx, ns, name)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s %s: %v (retrying)\n", time.Now().Format(time.RFC3339), key, err)
		a.queue.AddRateLimited(key)
		return true
	}
	a.queue.Forget(key)
	return true
}

func (a *agent) syncPod(ctx context.Context, ns, name string) error {
	key := ns + "/" + name
	pod, err := a.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return a.removeContainer(ctx, ns, name)
	}
	if err != nil {
		return err
	}
	if pod.DeletionTimestamp != nil {
		return a.removeContainer(ctx, ns, name)
	}
	a.mu.Lock()
	st := a.running[key]
	a.mu.Unlock()
	if st != nil && st.uid != pod.UID {
		if err := a.removeContainer(ctx, ns, name); err != nil {
			return err
		}
		st = nil
	}
	switch {
	case pod.Spec.NodeName == "":
		return a.schedule(ctx, pod)
	case pod.Spec.NodeName != NodeName:
		return nil
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		// The main container has exited: its processes end with it.
		killPodProcesses(a.podRoot(ns, name))
		return nil
	case st == nil && pod.Annotations[AnnoImagePull] == "" && pod.Annotations[AnnoConfigError] == "":
		// Bound elsewhere (e.g. nodeName set by the creator): build the container now.
		return a.createContainer(ctx, pod)
	}
	return nil
}

// schedule does what kube-scheduler would for the one node: check claims, selector and resources,
// then bind, or report Unschedulable with the scheduler's wording.
func (a *agent) schedule(ctx context.Context, pod *corev1.Pod) error {
	if msg, forced := pod.Annotations[AnnoUnschedulable]; forced {
		if msg == "" {
			msg = "0/1 nodes are available: 1 node(s) were unschedulable."
		}
		return a.unschedulable(ctx, pod, msg)
	}
	node, err := a.nodes.Get(NodeName)
	if err != nil {
		return err
	}
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		claim, err := a.pvcs.PersistentVolumeClaims(pod.Namespace).Get(v.PersistentVolumeClaim.ClaimName)
		if apierrors.IsNotFound(err) {
			return a.unschedulable(ctx, pod, fmt.Sprintf("0/1 nodes are available: persistentvolumeclaim %q not found. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.", v.PersistentVolumeClaim.ClaimName))
		}
		if err != nil {
			return err
		}
		if claim.Status.Phase != corev1.ClaimBound {
			return a.unschedulable(ctx, pod, "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")
		}
	}
	for k, v := range pod.Spec.NodeSelector {
		if node.Labels[k] != v {
			return a.unschedulable(ctx, pod, "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")
		}
	}
	if short := a.insufficient(pod, node); len(short) > 0 {
		parts := make([]string, len(short))
		for i, r := range short {
			parts[i] = "1 Insufficient " + r
		}
		return a.unschedulable(ctx, pod, "0/1 nodes are available: "+strings.Join(parts, ", ")+". preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")
	}
	// What the kubelet would find out after binding, decided now so kwok's stages can show it.
	marks := map[string]string{}
	if imageUnpullable(pod) && pod.Annotations[AnnoImagePull] == "" {
		marks[AnnoImagePull] = "fail"
	}
	if pod.Annotations[AnnoImagePull] == "" && marks[AnnoImagePull] == "" {
		if _, err := a.containerEnv(pod); err != nil {
			marks[AnnoConfigError] = err.Error()
		} else if err := a.createContainer(ctx, pod); err != nil {
			return err
		}
	}
	if len(marks) > 0 {
		patch := pod.DeepCopy()
		for k, v := range marks {
			patch.Annotations = setKey(patch.Annotations, k, v)
		}
		if _, err := a.cs.CoreV1().Pods(pod.Namespace).Update(ctx, patch, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: NodeName},
	}
	err = a.cs.CoreV1().Pods(pod.Namespace).Bind(ctx, binding, metav1.CreateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil // already bound, or gone
	}
	if err == nil {
		a.event(ctx, pod, corev1.EventTypeNormal, "Scheduled", fmt.Sprintf("Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, NodeName))
	}
	return err
}

// imageUnpullable: the reserved .invalid domain (RFC 2606) never resolves, so images there fail
// to pull exactly as a missing image would.
func imageUnpullable(pod *corev1.Pod) bool {
	for _, c := range pod.Spec.Containers {
		host, _, found := strings.Cut(c.Image, "/")
		if found {
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			if strings.HasSuffix(host, ".invalid") {
				return true
			}
		}
	}
	return false
}

func (a *agent) insufficient(pod *corev1.Pod, node *corev1.Node) []string {
	used := corev1.ResourceList{}
	others, _ := a.pods.List(everything())
	for _, p := range others {
		if p.Spec.NodeName != NodeName || p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		addRequests(used, p)
	}
	want := corev1.ResourceList{}
	addRequests(want, pod)
	var short []string
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		total := used[r].DeepCopy()
		total.Add(want[r])
		if alloc, ok := node.Status.Allocatable[r]; ok && total.Cmp(alloc) > 0 {
			short = append(short, string(r))
		}
	}
	return short
}

func addRequests(list corev1.ResourceList, pod *corev1.Pod) {
	for _, c := range pod.Spec.Containers {
		for r, q := range c.Resources.Requests {
			cur := list[r].DeepCopy()
			cur.Add(q)
			list[r] = cur
		}
	}
}

func (a *agent) unschedulable(ctx context.Context, pod *corev1.Pod, msg string) error {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Message == msg {
			return nil
		}
	}
	p := pod.DeepCopy()
	cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: msg, LastTransitionTime: metav1.Now()}
	replaced := false
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodScheduled {
			p.Status.Conditions[i], replaced = cond, true
		}
	}
	if !replaced {
		p.Status.Conditions = append(p.Status.Conditions, cond)
	}
	p.Status.Phase = corev1.PodPending
	if _, err := a.cs.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
		return err
	}
	a.event(ctx, pod, corev1.EventTypeWarning, "FailedScheduling", msg)
	return nil
}

func (a *agent) event(ctx context.Context, pod *corev1.Pod, typ, reason, msg string) {
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: pod.Name + ".", Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, APIVersion: "v1"},
		Type:           typ, Reason: reason, Message: msg, Count: 1,
		FirstTimestamp: now, LastTimestamp: now,
		Source: corev1.EventSource{Component: "localcluster-scheduler"},
	}
	_, _ = a.cs.CoreV1().Events(pod.Namespace).Create(ctx, ev, metav1.CreateOptions{})
}

// syncPVC plays the PV controller: claims bind at once (unless marked pending), and a deleted claim
// loses its data and its protection finalizer once no pod uses it.
func (a *agent) syncPVC(ctx context.Context, ns, name string) error {
	pvc, err := a.pvcs.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	dir := a.claimDir(ns, name)
	if pvc.DeletionTimestamp != nil {
		if a.claimInUse(ns, name) {
			return nil
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		if len(pvc.Finalizers) > 0 {
			p := pvc.DeepCopy()
			p.Finalizers = nil
			_, err = a.cs.CoreV1().PersistentVolumeClaims(ns).Update(ctx, p, metav1.UpdateOptions{})
			if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
				return nil
			}
		}
		return err
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	if pvc.Status.Phase == corev1.ClaimBound || pvc.Annotations[AnnoPVCPending] != "" {
		return nil
	}
	p := pvc.DeepCopy()
	p.Status.Phase = corev1.ClaimBound
	p.Status.AccessModes = p.Spec.AccessModes
	p.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: p.Spec.Resources.Requests[corev1.ResourceStorage]}
	_, err = a.cs.CoreV1().PersistentVolumeClaims(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return fmt.Errorf("claim changed while binding: %w", err)
	}
	return err
}

func (a *agent) claimInUse(ns, name string) bool {
	pods, _ := a.pods.Pods(ns).List(everything())
	for _, p := range pods {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == name {
				return true
			}
		}
	}
	return false
}

func (a *agent) podDir(ns, name string) string  { return filepath.Join(a.dir, "pods", ns, name) }
func (a *agent) podRoot(ns, name string) string { return filepath.Join(a.podDir(ns, name), "root") }
func (a *agent) claimDir(ns, name string) string {
	return filepath.Join(a.dir, "claims", ns, name)
}

func setKey(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}
