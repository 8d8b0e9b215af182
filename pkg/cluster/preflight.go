package cluster

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
)

// Check is one preflight result.
type Check struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Blocking checks stop a run; the others are warnings.
	Blocking bool   `json:"blocking"`
	Message  string `json:"message"`
	Fix      string `json:"fix,omitempty"`
}

// PreflightSpec says what a run needs.
type PreflightSpec struct {
	Namespace string
	PVC       string
	// NoPVC: the results go on an emptyDir in the launcher pod; no claim is checked.
	NoPVC         bool
	CreatePVC     bool
	Parallelism   int
	HFTokenSecret string
	// Pod is the launchers' pod template (the Job's), checked against the PodSecurity level the
	// namespace enforces; nil skips that check.
	Pod *corev1.PodTemplateSpec
	// OtherPods (doctor) are the pod templates of the other launchers the namespace could run,
	// keyed by who runs them (e.g. "the image harnesses (inference-perf, guidellm, …)"): the
	// PodSecurity check also says which of them the enforced level admits. Informational only.
	OtherPods map[string]*corev1.PodTemplateSpec
}

// Preflight checks, before anything is created, that a run can start, in the order the causes
// depend on one another: the namespace first (when it does not exist that is the only check,
// since everything else lives in it), the launcher pods against the PodSecurity level the
// namespace enforces (when s.Pod is set and the namespace is readable), then RBAC in it, the
// results volume and the HF token secret. It reads only.
func Preflight(ctx context.Context, cs kubernetes.Interface, s PreflightSpec) ([]Check, error) {
	nsCheck, ns, err := checkNamespace(ctx, cs, s.Namespace)
	if err != nil {
		return nil, err
	}
	checks := []Check{nsCheck}
	if !nsCheck.OK {
		return checks, nil
	}
	if s.Pod != nil && ns != nil {
		checks = append(checks, checkPodSecurity(s.Namespace, ns.Labels, s.Pod, s.OtherPods))
	}

	rbac, err := checkPermissions(ctx, cs, s)
	if err != nil {
		return nil, err
	}
	checks = append(checks, rbac...)
	pvc, err := checkPVC(ctx, cs, s)
	if err != nil {
		return nil, err
	}
	checks = append(checks, pvc)
	if s.HFTokenSecret != "" {
		checks = append(checks, checkSecret(ctx, cs, s))
	}
	return checks, nil
}

// CheckNamespace is the first preflight check: namespace exists and is not being deleted. A
// namespace the user may not read is assumed to exist (the RBAC checks speak for it). Callers
// that look into the namespace before the preflight (gateway discovery) run it first, so a
// missing namespace is reported as such, not as what is missing in it.
func CheckNamespace(ctx context.Context, cs kubernetes.Interface, namespace string) (Check, error) {
	c, _, err := checkNamespace(ctx, cs, namespace)
	return c, err
}

// checkNamespace is CheckNamespace that also returns the namespace when it could be read.
func checkNamespace(ctx context.Context, cs kubernetes.Interface, namespace string) (Check, *corev1.Namespace, error) {
	ns, err := cs.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return Check{Name: "namespace", Blocking: true,
			Message: fmt.Sprintf("namespace %s does not exist", namespace),
			Fix:     fmt.Sprintf("pass -n with the stack's namespace, or kubectl create namespace %s", namespace)}, nil, nil
	case apierrors.IsForbidden(err):
		return Check{Name: "namespace", OK: true, Message: fmt.Sprintf("namespace %s (not readable; assumed to exist)", namespace)}, nil, nil
	case err != nil:
		return Check{}, nil, fmt.Errorf("reading namespace %s: %w", namespace, err)
	case ns.DeletionTimestamp != nil:
		return Check{Name: "namespace", Blocking: true, Message: fmt.Sprintf("namespace %s is being deleted", namespace), Fix: "choose another namespace with -n"}, nil, nil
	}
	return Check{Name: "namespace", OK: true, Message: fmt.Sprintf("namespace %s exists", namespace)}, ns, nil
}

// Blocking returns the blocking failures among checks.
func Blocking(checks []Check) []Check {
	var out []Check
	for _, c := range checks {
		if !c.OK && c.Blocking {
			out = append(out, c)
		}
	}
	return out
}

func checkPermissions(ctx context.Context, cs kubernetes.Interface, s PreflightSpec) ([]Check, error) {
	denied, err := Denied(ctx, cs, s.Namespace, runPermissions(s))
	if err != nil {
		return nil, err
	}
	var missing, optional []string
	for _, p := range denied {
		entry := fmt.Sprintf("%s (%s)", p, p.Why)
		if p.Optional {
			optional = append(optional, entry)
		} else {
			missing = append(missing, entry)
		}
	}
	var checks []Check
	if len(missing) > 0 {
		checks = append(checks, Check{Name: "rbac", Blocking: true,
			Message: fmt.Sprintf("in namespace %s you may not %s", s.Namespace, strings.Join(missing, "; ")),
			Fix:     "ask for the Role in the README (kubectl llmdbench needs it to run)"})
	} else {
		checks = append(checks, Check{Name: "rbac", OK: true, Message: fmt.Sprintf("you may do everything a run needs in %s", s.Namespace)})
	}
	if len(optional) > 0 {
		checks = append(checks, Check{Name: "rbac-optional",
			Message: fmt.Sprintf("in namespace %s you may not %s", s.Namespace, strings.Join(optional, "; ")),
			Fix:     "optional: without it some explanations or the server metrics are missing"})
	}
	return checks, nil
}

func checkPVC(ctx context.Context, cs kubernetes.Interface, s PreflightSpec) (Check, error) {
	c := Check{Name: "results-pvc", Blocking: true}
	if s.NoPVC {
		c.OK, c.Message = true, "no results PVC: the results go on an emptyDir in the launcher pod and are fetched from it"
		return c, nil
	}
	createHint := fmt.Sprintf("pass --pvc with an existing claim, or add --create-pvc [--storage-class S] [--pvc-size 200Gi] to create %s", s.PVC)
	pvc, err := cs.CoreV1().PersistentVolumeClaims(s.Namespace).Get(ctx, s.PVC, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) && s.CreatePVC:
		c.OK, c.Message = true, fmt.Sprintf("PVC %s will be created (ReadWriteMany)", s.PVC)
		return c, nil
	case apierrors.IsNotFound(err):
		c.Message, c.Fix = fmt.Sprintf("PVC %s does not exist in namespace %s", s.PVC, s.Namespace), createHint
		return c, nil
	case apierrors.IsForbidden(err):
		c.Message, c.Fix = fmt.Sprintf("you may not read PVC %s", s.PVC), "ask for get on persistentvolumeclaims"
		return c, nil
	case err != nil:
		return c, fmt.Errorf("reading PVC %s: %w", s.PVC, err)
	}
	if s.Parallelism > 1 && !hasMode(pvc, corev1.ReadWriteMany) {
		c.Message = fmt.Sprintf("PVC %s is %s, but %d launchers must write to it at once", s.PVC, modes(pvc), s.Parallelism)
		c.Fix = "use a ReadWriteMany claim (or --create-pvc with a new --pvc name), or --parallelism 1"
		return c, nil
	}
	switch pvc.Status.Phase {
	case corev1.ClaimBound:
		c.OK, c.Message = true, fmt.Sprintf("PVC %s is Bound (%s)", s.PVC, modes(pvc))
	case corev1.ClaimPending:
		switch waits, err := waitsForConsumer(ctx, cs, pvc); {
		case err != nil:
			// A namespaced user often may not read storage classes: the binding mode is unknown,
			// and a claim that binds at its first consumer is the common case; warn, do not stop.
			c.Blocking = false
			c.Message = fmt.Sprintf("PVC %s is Pending and its storage class %s cannot be read (%s): it binds when a pod uses it only if the class waits for the first consumer", s.PVC, *pvc.Spec.StorageClassName, OneLine(err))
			c.Fix = "if the launchers stay Pending, check the claim's events (kubectl describe pvc " + s.PVC + ")"
		case waits:
			c.OK, c.Message = true, fmt.Sprintf("PVC %s is Pending until a pod uses it (WaitForFirstConsumer)", s.PVC)
		default:
			c.Message, c.Fix = fmt.Sprintf("PVC %s is Pending: no volume is bound to it", s.PVC), "check its events (kubectl describe pvc "+s.PVC+") or the storage class"
		}
	default:
		c.Message, c.Fix = fmt.Sprintf("PVC %s is %s", s.PVC, pvc.Status.Phase), createHint
	}
	if c.OK {
		pin, err := PinForClaim(ctx, cs, s.Namespace, s.PVC)
		if err != nil {
			return c, err
		}
		switch where := pin.String(); {
		case where != "":
			c.Message += "; ReadWriteOnce: one launcher, pinned with the reader pods to " + where
		case pin.ReadWriteOnce:
			c.Message += "; ReadWriteOnce: one launcher, and pods that mount it are pinned to the node where it is in use (none now)"
		}
	}
	return c, nil
}

// waitsForConsumer tells whether the claim's storage class binds it only once a pod uses it; an
// error when the class cannot be read (the answer is then unknown). A claim without a class
// waits for a matching volume, not for a consumer.
func waitsForConsumer(ctx context.Context, cs kubernetes.Interface, pvc *corev1.PersistentVolumeClaim) (bool, error) {
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName == "" {
		return false, nil
	}
	sc, err := cs.StorageV1().StorageClasses().Get(ctx, *pvc.Spec.StorageClassName, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	return sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer, nil
}

func hasMode(pvc *corev1.PersistentVolumeClaim, mode corev1.PersistentVolumeAccessMode) bool {
	list := pvc.Status.AccessModes
	if len(list) == 0 {
		list = pvc.Spec.AccessModes
	}
	for _, m := range list {
		if m == mode {
			return true
		}
	}
	return false
}

func modes(pvc *corev1.PersistentVolumeClaim) string {
	list := pvc.Status.AccessModes
	if len(list) == 0 {
		list = pvc.Spec.AccessModes
	}
	s := make([]string, len(list))
	for i, m := range list {
		s[i] = string(m)
	}
	return strings.Join(s, ",")
}

func checkSecret(ctx context.Context, cs kubernetes.Interface, s PreflightSpec) Check {
	c := Check{Name: "hf-token"}
	sec, err := cs.CoreV1().Secrets(s.Namespace).Get(ctx, s.HFTokenSecret, metav1.GetOptions{})
	switch {
	case err == nil && len(sec.Data[launcher.HFTokenKey]) > 0:
		c.OK, c.Message = true, fmt.Sprintf("secret %s holds %s", s.HFTokenSecret, launcher.HFTokenKey)
	case err == nil:
		c.Message = fmt.Sprintf("secret %s has no %s key; the launcher runs without a token", s.HFTokenSecret, launcher.HFTokenKey)
		c.Fix = "only gated models need it: kubectl create secret generic " + s.HFTokenSecret + " --from-literal=" + launcher.HFTokenKey + "=…"
	case apierrors.IsNotFound(err):
		c.Message = fmt.Sprintf("secret %s not found; the launcher runs without an HF token", s.HFTokenSecret)
		c.Fix = "only gated models need it: kubectl create secret generic " + s.HFTokenSecret + " --from-literal=" + launcher.HFTokenKey + "=…"
	default:
		c.Message = fmt.Sprintf("cannot read secret %s: %v", s.HFTokenSecret, err)
	}
	return c
}
