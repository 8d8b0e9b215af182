package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// annoStorageProvisioner is how the PV controller hands a claim of an external provisioner's
	// class to that provisioner.
	annoStorageProvisioner = "volume.kubernetes.io/storage-provisioner"
	annoProvisionedBy      = "pv.kubernetes.io/provisioned-by"
	annoSelectedNode       = "volume.kubernetes.io/selected-node"
)

// syncPVC provisions a volume for a claim the PV controller handed to this provisioner (once the
// scheduler has picked a node for its first pod): a host folder (DIR/claims/NAMESPACE/CLAIM) and a
// PersistentVolume pre-bound to the claim, which the PV controller then binds. A ReadWriteOnce or
// ReadWriteOncePod volume is tied to that node (node affinity on kubernetes.io/hostname), as
// local-path-provisioner does; a volume that may be shared between nodes (ReadWriteMany or
// ReadOnlyMany) has no node affinity: every fake node is this host, so the one host folder is
// readable and writable from all of them, as a network file system would be. A claim annotated
// pending never gets one.
func (a *agent) syncPVC(ctx context.Context, ns, name string) error {
	pvc, err := a.pvcs.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if pvc.DeletionTimestamp != nil || pvc.Spec.VolumeName != "" || pvc.Annotations[AnnoPVCPending] != "" ||
		pvc.Annotations[annoStorageProvisioner] != Provisioner || pvc.Spec.StorageClassName == nil {
		return nil
	}
	pvName := "pvc-" + string(pvc.UID)
	if _, err := a.pvs.Get(pvName); err == nil {
		return nil
	}
	dir := a.claimDir(ns, name)
	if other := a.volumeAt(dir, pvName); other != "" {
		return fmt.Errorf("folder %s still belongs to volume %s (waiting for its deletion)", dir, other)
	}
	class, err := a.cs.StorageV1().StorageClasses().Get(ctx, *pvc.Spec.StorageClassName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("storage class of claim: %w", err)
	}
	reclaim := corev1.PersistentVolumeReclaimDelete
	if class.ReclaimPolicy != nil {
		reclaim = *class.ReclaimPolicy
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	_ = os.Chmod(dir, 0o777) // any container user may write, as on a fresh volume
	hostPathType := corev1.HostPathDirectoryOrCreate
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: pvName, Annotations: map[string]string{annoProvisionedBy: Provisioner}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:    corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes: pvc.Spec.AccessModes,
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: ns, Name: name, UID: pvc.UID},
			PersistentVolumeReclaimPolicy: reclaim,
			StorageClassName:              class.Name,
			VolumeMode:                    pvc.Spec.VolumeMode,
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &hostPathType}},
		},
	}
	if !sharedAcrossNodes(pvc.Spec.AccessModes) {
		node := pvc.Annotations[annoSelectedNode]
		if node == "" {
			node = nodeName(0)
		}
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}}}}
	}
	if _, err := a.cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating volume for claim: %w", err)
	}
	return nil
}

// syncPV deletes a volume of this provisioner that its claim released, with its folder, when the
// reclaim policy says Delete (Retain keeps both, as in a real cluster).
func (a *agent) syncPV(ctx context.Context, name string) error {
	pv, err := a.pvs.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if pv.Annotations[annoProvisionedBy] != Provisioner || pv.DeletionTimestamp != nil ||
		pv.Status.Phase != corev1.VolumeReleased || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete ||
		pv.Spec.HostPath == nil {
		return nil
	}
	dir := pv.Spec.HostPath.Path
	if !strings.HasPrefix(dir, filepath.Join(a.dir, "claims")+"/") {
		return fmt.Errorf("volume %s: %s is not a folder of this provisioner", name, dir)
	}
	// A new claim of the same name waits in syncPVC until this folder is gone.
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	err = a.cs.CoreV1().PersistentVolumes().Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// volumeAt names another volume of this provisioner that uses folder dir, if any.
func (a *agent) volumeAt(dir, except string) string {
	pvs, _ := a.pvs.List(everything())
	for _, pv := range pvs {
		if pv.Name != except && pv.Spec.HostPath != nil && pv.Spec.HostPath.Path == dir {
			return pv.Name
		}
	}
	return ""
}

// sharedAcrossNodes tells whether a claim with these access modes may be used from several nodes
// at once (ReadWriteMany, ReadOnlyMany): such a volume must not be pinned to one node.
func sharedAcrossNodes(modes []corev1.PersistentVolumeAccessMode) bool {
	for _, m := range modes {
		if m == corev1.ReadWriteMany || m == corev1.ReadOnlyMany {
			return true
		}
	}
	return false
}
