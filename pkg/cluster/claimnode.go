package cluster

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ClaimPin is where the pods that mount a ReadWriteOnce results claim must run: a
// ReadWriteOnce volume is mounted by the pods of one node at a time, so a launcher or reader pod
// scheduled elsewhere while it is in use waits forever (Multi-Attach), and several launchers on
// several nodes cannot share it. The zero ClaimPin pins nothing.
type ClaimPin struct {
	// ReadWriteOnce tells whether the claim is ReadWriteOnce or ReadWriteOncePod (and not also
	// ReadWriteMany).
	ReadWriteOnce bool
	// Node and Pod: the node of a pod that mounts the claim now, and that pod ("" when none).
	Node, Pod string
	// Volume and VolumeAffinity: the bound volume's name and its required node affinity, when
	// it has one and may be read (PersistentVolumes are cluster-wide; a namespaced user often may
	// not read them). Used when no pod mounts the claim.
	Volume         string
	VolumeAffinity *corev1.NodeSelector
}

// NodeSelector is the required node affinity of the pin: the node of the pod that mounts the
// claim (by metadata.name, as the DaemonSet controller pins pods), else the volume's own node
// affinity; nil when neither is known or the claim is not ReadWriteOnce.
func (p ClaimPin) NodeSelector() *corev1.NodeSelector {
	switch {
	case !p.ReadWriteOnce:
		return nil
	case p.Node != "":
		return &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{
			Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{p.Node}}}}}}
	case p.VolumeAffinity != nil:
		return p.VolumeAffinity.DeepCopy()
	}
	return nil
}

// String says where the pin puts pods, for doctor and the run's log; "" when it pins nothing.
func (p ClaimPin) String() string {
	switch {
	case !p.ReadWriteOnce:
		return ""
	case p.Node != "":
		return fmt.Sprintf("node %s, where pod %s mounts it", p.Node, p.Pod)
	case p.VolumeAffinity != nil:
		return fmt.Sprintf("the node(s) of volume %s's node affinity", p.Volume)
	}
	return ""
}

// PinForClaim finds where pods that mount claim pvc in namespace must run (see ClaimPin): the
// node of a pod there that mounts it (not finished, not being deleted, already scheduled), else
// the node affinity of the volume bound to it. A claim that does not exist or may not be read,
// and a volume that may not be read, pin nothing (the preflight speaks for the claim). Errors:
// listing the namespace's pods, or reading the claim or the volume for another reason, wrapped.
func PinForClaim(ctx context.Context, cs kubernetes.Interface, namespace, pvc string) (ClaimPin, error) {
	claim, err := cs.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, pvc, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) || apierrors.IsForbidden(err):
		return ClaimPin{}, nil
	case err != nil:
		return ClaimPin{}, fmt.Errorf("reading PVC %s: %w", pvc, err)
	}
	rwo := (hasMode(claim, corev1.ReadWriteOnce) || hasMode(claim, corev1.ReadWriteOncePod)) && !hasMode(claim, corev1.ReadWriteMany)
	if !rwo {
		return ClaimPin{}, nil
	}
	pin := ClaimPin{ReadWriteOnce: true, Volume: claim.Spec.VolumeName}
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return ClaimPin{}, fmt.Errorf("looking for the pod that mounts PVC %s: %w", pvc, err)
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" && p.DeletionTimestamp == nil && mounts(&p, pvc) &&
			p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			pin.Node, pin.Pod = p.Spec.NodeName, p.Name
			return pin, nil
		}
	}
	if pin.Volume == "" {
		return pin, nil
	}
	pv, err := cs.CoreV1().PersistentVolumes().Get(ctx, pin.Volume, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) || apierrors.IsForbidden(err):
		return pin, nil
	case err != nil:
		return ClaimPin{}, fmt.Errorf("reading volume %s of PVC %s: %w", pin.Volume, pvc, err)
	}
	if pv.Spec.NodeAffinity != nil && pv.Spec.NodeAffinity.Required != nil {
		pin.VolumeAffinity = pv.Spec.NodeAffinity.Required.DeepCopy()
	}
	return pin, nil
}
