package main

import (
	"context"
	"encoding/json"
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
	annoPrefix      = "localcluster.llmdbench.io/"
	AnnoImagePull   = annoPrefix + "image-pull"   // "fail": ErrImagePull, then ImagePullBackOff
	AnnoConfigError = annoPrefix + "config-error" // set by the agent: CreateContainerConfigError
	AnnoContainer   = annoPrefix + "container"    // set by the agent once the pod's root is built
	AnnoExitCode    = annoPrefix + "exit-code"    // main container exits with this code…
	AnnoExitAfter   = annoPrefix + "exit-after"   // …after this long (e.g. "2s")
	AnnoPVCPending  = annoPrefix + "pending"      // on a PVC: never provision a volume for it
	// AnnoServiceAddress on a Service: the loopback address it is served on; pods resolve the
	// Service's cluster DNS names to it (see isolate for serving one).
	AnnoServiceAddress = annoPrefix + "address"
)

// agent plays the node-side parts a real cluster has and this one lacks: the container runtime
// (one root per pod bound to a kwok node, with its volumes, environment and stdout, and the first
// container's command run there as its main process, whose exit ends the pod)
// and a volume provisioner for the default storage class (one host folder per claim, as
// local-path-provisioner does). Scheduling and binding are the real scheduler's and PV controller's.
type agent struct {
	dir     string
	cs      kubernetes.Interface
	dyn     dynamic.Interface
	pods    corelisters.PodLister
	pvcs    corelisters.PersistentVolumeClaimLister
	pvs     corelisters.PersistentVolumeLister
	queue   workqueue.TypedRateLimitingInterface[string]
	applets []string

	mu      sync.Mutex
	running map[string]*podState // by namespace/name
}

type podState struct {
	uid      types.UID
	stopTail context.CancelFunc
	// What the container's processes run with (also written for the exec shim).
	root    string
	env     []string
	runUID  int64
	runGID  int64
	workdir string
	// started: the main process was started (or there is none to start). stopping: the agent
	// ends the pod's processes itself (pod terminal or gone), so how the main process ends is
	// not the container's exit. Both under agent.mu.
	started  bool
	stopping bool
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
	factory := informers.NewSharedInformerFactory(cs, 0)
	a := &agent{
		dir: dir, cs: cs, dyn: dyn, applets: applets,
		pods:    factory.Core().V1().Pods().Lister(),
		pvcs:    factory.Core().V1().PersistentVolumeClaims().Lister(),
		pvs:     factory.Core().V1().PersistentVolumes().Lister(),
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
	if _, err := factory.Core().V1().PersistentVolumes().Informer().AddEventHandler(enqueue("pv")); err != nil {
		return err
	}
	go func() {
		if err := serveEgress(ctx, dir); err != nil {
			fmt.Fprintf(os.Stderr, "egress proxy: %v\n", err)
		}
	}()
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
	case "pv":
		err = a.syncPV(ctx, ns) // cluster-scoped: the key is pv/NAME
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
	case !isClusterNode(pod.Spec.NodeName):
		return nil // not scheduled yet (the scheduler's), or not a node of this cluster
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		// The main container has exited: its processes end with it.
		if st != nil {
			a.mu.Lock()
			st.stopping = true
			a.mu.Unlock()
		}
		killPodProcesses(a.podRoot(ns, name))
		return nil
	case st != nil:
		// kwok moved the pod to Running: the container's command starts now, as a kubelet
		// starts it once the container is created.
		if pod.Status.Phase == corev1.PodRunning {
			return a.startMain(pod, st)
		}
		return nil
	case pod.Annotations[AnnoImagePull] != "" || pod.Annotations[AnnoConfigError] != "":
		return nil
	}
	// Bound to the node: what the kubelet would find out now (an image that cannot be pulled, a
	// missing Secret or key), else build the container. kwok's stages wait for one of the marks.
	mark, value := AnnoContainer, "created"
	if imageUnpullable(pod) {
		mark, value = AnnoImagePull, "fail"
	} else if _, err := a.containerEnv(pod); err != nil {
		mark, value = AnnoConfigError, err.Error()
	} else if err := a.createContainer(ctx, pod); err != nil {
		return err
	}
	if pod.Annotations[mark] == value {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{mark: value}}})
	if err != nil {
		return err
	}
	_, err = a.cs.CoreV1().Pods(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
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

func (a *agent) podDir(ns, name string) string  { return filepath.Join(a.dir, "pods", ns, name) }
func (a *agent) podRoot(ns, name string) string { return filepath.Join(a.podDir(ns, name), "root") }
func (a *agent) claimDir(ns, name string) string {
	return filepath.Join(a.dir, "claims", ns, name)
}
