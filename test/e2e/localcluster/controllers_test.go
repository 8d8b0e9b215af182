package localcluster

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// These tests need the real kube-controller-manager and kube-scheduler: the old agent bound pods
// itself and ran no Job controller, garbage collector, ServiceAccount controllers or PV controller.

func ref[T any](v T) *T { return &v }

func poll(t *testing.T, what string, timeout time.Duration, ok func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, timeout, true, ok); err != nil {
		t.Fatalf("%s: not within %s: %v", what, timeout, err)
	}
}

func TestIndexedJobCompletesAndItsPodsAreCollected(t *testing.T) {
	ns := cl.Namespace(t)
	ctx := ctxT(t)
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "bench"},
		Spec: batchv1.JobSpec{
			CompletionMode: ref(batchv1.IndexedCompletion),
			Completions:    ref[int32](2),
			Parallelism:    ref[int32](2),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
					// Long enough to exec into both pods while they run.
					"localcluster.llmdbench.io/exit-code": "0", "localcluster.llmdbench.io/exit-after": "15s"}},
				Spec: pod("x", nil).Spec,
			},
		},
	}
	if _, err := cl.Client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pods []corev1.Pod
	poll(t, "two running pods of the Job", 30*time.Second, func(ctx context.Context) (bool, error) {
		list, err := cl.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=bench"})
		if err != nil {
			return false, nil
		}
		pods = list.Items
		n := 0
		for _, p := range pods {
			if p.Status.Phase == corev1.PodRunning {
				n++
			}
		}
		return n == 2, nil
	})
	var indexes []string
	for _, p := range pods {
		owner := metav1.GetControllerOf(&p)
		if owner == nil || owner.Kind != "Job" || owner.Name != "bench" {
			t.Errorf("pod %s is not controlled by the Job: %+v", p.Name, owner)
		}
		out, stderr, err := cl.Exec(ctx, ns, p.Name, "sh", "-c", "echo $JOB_COMPLETION_INDEX")
		if err != nil {
			t.Fatalf("exec in %s: %v %s", p.Name, err, stderr)
		}
		got := strings.TrimSpace(out)
		if want := p.Annotations["batch.kubernetes.io/job-completion-index"]; got != want {
			t.Errorf("pod %s: JOB_COMPLETION_INDEX=%q, its completion index annotation is %q", p.Name, got, want)
		}
		indexes = append(indexes, got)
	}
	sort.Strings(indexes)
	if strings.Join(indexes, ",") != "0,1" {
		t.Errorf("completion indexes %v, want 0 and 1", indexes)
	}
	poll(t, "Job Complete", 60*time.Second, func(ctx context.Context) (bool, error) {
		j, err := cl.Client.BatchV1().Jobs(ns).Get(ctx, "bench", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range j.Status.Conditions {
			if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
				return j.Status.Succeeded == 2, nil
			}
		}
		return false, nil
	})
	// Background propagation: the Job goes at once, the garbage collector removes its pods.
	if err := cl.Client.BatchV1().Jobs(ns).Delete(ctx, "bench", metav1.DeleteOptions{PropagationPolicy: ref(metav1.DeletePropagationBackground)}); err != nil {
		t.Fatal(err)
	}
	poll(t, "the Job's pods garbage-collected", 30*time.Second, func(ctx context.Context) (bool, error) {
		list, err := cl.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		return err == nil && len(list.Items) == 0, nil
	})
}

func TestPodGetsTheDefaultServiceAccountAndAWorkingToken(t *testing.T) {
	ns := cl.Namespace(t) // waits for the controller-made default ServiceAccount
	ctx := ctxT(t)
	create(t, ns, pod("sa", nil))
	p := cl.WaitPod(t, ns, "sa", 30*time.Second, running)
	if p.Spec.ServiceAccountName != "default" {
		t.Errorf("serviceAccountName %q, want default (set by the ServiceAccount admission)", p.Spec.ServiceAccountName)
	}
	const dir = "/var/run/secrets/kubernetes.io/serviceaccount"
	read := func(name string) string {
		out, stderr, err := cl.Exec(ctx, ns, "sa", "cat", dir+"/"+name)
		if err != nil {
			t.Fatalf("cat %s/%s: %v %s", dir, name, err, stderr)
		}
		return out
	}
	if got := read("namespace"); got != ns {
		t.Errorf("namespace file %q, want %q", got, ns)
	}
	ca, err := os.ReadFile(filepath.Join(cl.Dir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if got := read("ca.crt"); got != string(ca) {
		t.Errorf("ca.crt in the pod is not the cluster CA")
	}
	// The token is a real one: the API server says whose it is.
	cfg := rest.AnonymousClientConfig(cl.Config)
	cfg.BearerToken = strings.TrimSpace(read("token"))
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("the pod's token does not authenticate: %v", err)
	}
	if want := "system:serviceaccount:" + ns + ":default"; review.Status.UserInfo.Username != want {
		t.Errorf("token of %q, want %q", review.Status.UserInfo.Username, want)
	}
}

func TestClaimGetsAProvisionedVolumeThatGoesWithIt(t *testing.T) {
	ns := cl.Namespace(t)
	ctx := ctxT(t)
	createPVC(t, ns, "data", corev1.ReadWriteOnce)
	// The default class binds at the first consumer: nothing is provisioned before a pod uses it.
	time.Sleep(time.Second)
	if c, err := cl.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{}); err != nil || c.Status.Phase != corev1.ClaimPending {
		t.Fatalf("claim without a pod: %v %v, want Pending (WaitForFirstConsumer)", c.Status.Phase, err)
	}
	create(t, ns, pod("writer", withClaim("data", "/data")))
	cl.WaitPod(t, ns, "writer", 30*time.Second, running)
	claim, err := cl.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
	if err != nil || claim.Status.Phase != corev1.ClaimBound {
		t.Fatalf("claim of a running pod: %v %v, want Bound", claim.Status.Phase, err)
	}
	if claim.Spec.StorageClassName == nil || *claim.Spec.StorageClassName != "standard" {
		t.Errorf("claim class %v, want the default class standard", claim.Spec.StorageClassName)
	}
	pv, err := cl.Client.CoreV1().PersistentVolumes().Get(ctx, claim.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the bound volume %q: %v", claim.Spec.VolumeName, err)
	}
	if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != claim.UID || pv.Spec.HostPath == nil || pv.Spec.HostPath.Path != cl.ClaimDir(ns, "data") ||
		pv.Annotations["pv.kubernetes.io/provisioned-by"] != "localcluster.llmdbench.io/hostpath" {
		t.Fatalf("volume %s: claimRef %+v, hostPath %+v, annotations %v", pv.Name, pv.Spec.ClaimRef, pv.Spec.HostPath, pv.Annotations)
	}
	if got := pv.Spec.Capacity[corev1.ResourceStorage]; got.String() != "1Gi" {
		t.Errorf("volume capacity %s, want the 1Gi requested", got.String())
	}
	// The pod writes into it; the data is in the claim's folder.
	if _, stderr, err := cl.Exec(ctx, ns, "writer", "sh", "-c", "echo kept > /data/f"); err != nil {
		t.Fatalf("write: %v %s", err, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(cl.ClaimDir(ns, "data"), "f")); err != nil || string(b) != "kept\n" {
		t.Fatalf("claim folder holds %q, %v", b, err)
	}
	// pvc-protection keeps the claim while the pod uses it; after both go, the volume and its
	// folder are deleted (reclaim policy Delete).
	if err := cl.Client.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if c, err := cl.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{}); err != nil || c.DeletionTimestamp == nil {
		t.Errorf("a claim in use must stay (terminating) until its pod goes: %v", err)
	}
	if err := cl.Client.CoreV1().Pods(ns).Delete(ctx, "writer", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "volume deleted", 60*time.Second, func(ctx context.Context) (bool, error) {
		_, err := cl.Client.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if _, err := os.Stat(cl.ClaimDir(ns, "data")); !os.IsNotExist(err) {
		t.Errorf("the volume's folder is still there: %v", err)
	}
}
