package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// startControllers starts the real kube-controller-manager and kube-scheduler, each with its own
// client certificate (the identities the API server's bootstrap RBAC knows), serving its health
// endpoint on loopback with a certificate of the cluster CA, and waits until both are healthy.
func startControllers(ctx context.Context, dir, bin string, p pki, server string, kcmPort, schedPort int) error {
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(p.path("ca.crt"))
	if err != nil {
		return err
	}
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	type component struct {
		name, user string
		port       int
		args       []string
	}
	components := []component{
		{name: "kube-controller-manager", user: "system:kube-controller-manager", port: kcmPort, args: []string{
			"--leader-elect=false",
			// Each controller acts as its own ServiceAccount, as in a kubeadm cluster.
			"--use-service-account-credentials=true",
			"--service-account-private-key-file=" + p.path("sa.key"),
			"--root-ca-file=" + p.path("ca.crt"),
			"--cluster-signing-cert-file=" + p.path("ca.crt"), "--cluster-signing-key-file=" + p.path("ca.key"),
			// kwok's node sends no kubelet heartbeats the node lifecycle controller would accept as
			// such; it would taint the node unreachable and evict every pod.
			"--controllers=*,-node-lifecycle-controller",
			"--kube-api-qps=100", "--kube-api-burst=200",
		}},
		{name: "kube-scheduler", user: "system:kube-scheduler", port: schedPort, args: []string{
			"--leader-elect=false",
		}},
	}
	for _, c := range components {
		if err := p.issue(c.name, c.user, nil, nil, false); err != nil {
			return err
		}
		if err := p.issue(c.name+"-serving", "localhost", nil, []string{"localhost"}, true); err != nil {
			return err
		}
		kc, err := p.kubeconfig(server, c.name, "")
		if err != nil {
			return err
		}
		kubeconfig := p.path(c.name + ".kubeconfig")
		if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
			return err
		}
		args := append([]string{
			"--kubeconfig=" + kubeconfig,
			"--authentication-kubeconfig=" + kubeconfig, "--authorization-kubeconfig=" + kubeconfig,
			"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(c.port),
			"--tls-cert-file=" + p.path(c.name+"-serving.crt"), "--tls-private-key-file=" + p.path(c.name+"-serving.key"),
		}, c.args...)
		if err := spawn(dir, c.name, filepath.Join(bin, c.name), nil, args...); err != nil {
			return err
		}
	}
	for _, c := range components {
		url := "https://127.0.0.1:" + strconv.Itoa(c.port) + "/healthz"
		if err := waitHTTPClient(ctx, client, url, 60*time.Second); err != nil {
			return fmt.Errorf("%s did not become healthy (see %s): %w", c.name, filepath.Join(dir, "logs", c.name+".log"), err)
		}
	}
	return nil
}

// createStorageClass makes the default class, served by the agent's provisioner. Like kind's
// local-path class it binds at the first consumer: the scheduler picks the node, then the volume is
// provisioned there (an Immediate class would show a pod created right after its claim as
// Unschedulable for a moment). A released volume's folder is deleted with it.
func createStorageClass(ctx context.Context, cs kubernetes.Interface) error {
	reclaim := corev1.PersistentVolumeReclaimDelete
	mode := storagev1.VolumeBindingWaitForFirstConsumer
	sc := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{Name: "standard",
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner:       Provisioner,
		ReclaimPolicy:     &reclaim,
		VolumeBindingMode: &mode,
	}
	if _, err := cs.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the default storage class: %w", err)
	}
	return nil
}

// untaintReadyNode removes the node.kubernetes.io/not-ready taint from a Ready kwok node.
func untaintReadyNode(ctx context.Context, cs kubernetes.Interface, name string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		var keep []corev1.Taint
		for _, t := range node.Spec.Taints {
			if t.Key != corev1.TaintNodeNotReady {
				keep = append(keep, t)
			}
		}
		if len(keep) == len(node.Spec.Taints) {
			return nil
		}
		node.Spec.Taints = keep
		_, err = cs.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		return err
	})
}
