package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	execResource = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "execs"}
	logsResource = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "logs"}
)

// containerPath is what a container's processes search when the image sets nothing else.
const containerPath = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"

func everything() labels.Selector { return labels.Everything() }

func busyboxApplets() ([]string, error) {
	out, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list (install busybox-static): %w", err)
	}
	return strings.Fields(string(out)), nil
}

// serviceHosts is the cluster DNS of this cluster: every Service annotated with a loopback address
// (where a test or the demo serves it) resolves to that address by its cluster names.
func (a *agent) serviceHosts(ctx context.Context, podNamespace string) string {
	list, err := a.cs.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, svc := range list.Items {
		addr := svc.Annotations[AnnoServiceAddress]
		if ip := net.ParseIP(addr); ip == nil || !ip.IsLoopback() {
			continue
		}
		fmt.Fprintf(&b, "%s\t%s.%s.svc.cluster.local %[2]s.%[3]s.svc %[2]s.%[3]s", addr, svc.Name, svc.Namespace)
		if svc.Namespace == podNamespace {
			b.WriteString(" " + svc.Name)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// createContainer builds the pod's root: busybox, device nodes, the overlay, its volumes (ConfigMap
// and Secret files, emptyDirs, claim folders bind-mounted), its environment and user for exec, and
// a stdout that kubectl logs serves; then tells kwok to exec and serve logs there.
func (a *agent) createContainer(ctx context.Context, pod *corev1.Pod) error {
	env, err := a.containerEnv(pod)
	if err != nil {
		return err
	}
	base := a.podDir(pod.Namespace, pod.Name)
	root := filepath.Join(base, "root")
	if err := a.removeFiles(base); err != nil {
		return err
	}
	// kwok serves exec and logs from its cache of these objects: create them first, so its watch
	// has seen them by the time the pod is marked and turns Running.
	logFile := filepath.Join(base, "container.log")
	if err := a.applyKwokObjects(ctx, pod, root, logFile); err != nil {
		return err
	}
	for _, d := range []string{"bin", "dev", "etc", "tmp", "root", "proc/1/fd", "usr/bin", "usr/local/bin", "var/tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	_ = os.Chmod(filepath.Join(root, "tmp"), 0o1777)
	if err := copyFile("/bin/busybox", filepath.Join(root, "bin", "busybox"), 0o755); err != nil {
		return err
	}
	for _, app := range a.applets {
		if app != "busybox" {
			_ = os.Symlink("busybox", filepath.Join(root, "bin", app))
		}
	}
	for name, dev := range map[string]int{"null": 3, "zero": 5, "random": 8, "urandom": 9} {
		path := filepath.Join(root, "dev", name)
		if err := syscall.Mknod(path, syscall.S_IFCHR|0o666, (1<<8)|dev); err != nil && !os.IsExist(err) {
			return fmt.Errorf("mknod /dev/%s: %w", name, err)
		}
		// The umask took write from group and others; a container's devices are 0666, so a
		// non-root process can write to /dev/null.
		if err := os.Chmod(path, 0o666); err != nil {
			return fmt.Errorf("chmod /dev/%s: %w", name, err)
		}
	}
	files := map[string]string{
		"etc/passwd":   "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":    "root:x:0:\nnogroup:x:65534:\n",
		"etc/hostname": pod.Name + "\n",
		"etc/hosts":    "127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.0.1\t" + pod.Name + "\n" + a.serviceHosts(ctx, pod.Namespace),
		"proc/1/fd/1":  "",
		"proc/1/fd/2":  "",
	}
	for path, content := range files {
		if err := os.WriteFile(filepath.Join(root, path), []byte(content), 0o666); err != nil {
			return err
		}
	}
	if err := copyTree(a.overlayDir(), root); err != nil {
		return fmt.Errorf("overlay: %w", err)
	}
	if err := a.mountVolumes(ctx, pod, root); err != nil {
		return err
	}
	uid, gid, workdir := containerUser(pod)
	var envBuf bytes.Buffer
	for _, kv := range env {
		envBuf.WriteString(kv)
		envBuf.WriteByte(0)
	}
	meta := map[string]string{
		"env":     envBuf.String(),
		"user":    fmt.Sprintf("%d %d\n", uid, gid),
		"workdir": workdir + "\n",
		"uid":     string(pod.UID) + "\n",
	}
	for name, content := range meta {
		if err := os.WriteFile(filepath.Join(base, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	if err := a.linkExecutables(root); err != nil {
		return err
	}
	if err := os.WriteFile(logFile, nil, 0o644); err != nil {
		return err
	}
	tailCtx, stop := context.WithCancel(context.Background())
	go tailStdout(tailCtx, root, logFile)
	a.mu.Lock()
	a.running[pod.Namespace+"/"+pod.Name] = &podState{uid: pod.UID, stopTail: stop,
		root: root, env: env, runUID: uid, runGID: gid, workdir: workdir}
	a.mu.Unlock()
	return nil
}

func (a *agent) overlayDir() string {
	if d := os.Getenv("LOCALCLUSTER_OVERLAY"); d != "" {
		return d
	}
	return filepath.Join(a.dir, "overlay")
}

// linkExecutables makes the overlay's programs callable by name through kwok's exec.
func (a *agent) linkExecutables(root string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for _, d := range strings.Split(containerPath, ":") {
		entries, _ := os.ReadDir(filepath.Join(root, d))
		for _, e := range entries {
			if err := linkShim(a.dir, self, e.Name()); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *agent) applyKwokObjects(ctx context.Context, pod *corev1.Pod, root, logFile string) error {
	owner := []any{map[string]any{"apiVersion": "v1", "kind": "Pod", "name": pod.Name, "uid": string(pod.UID)}}
	objs := map[schema.GroupVersionResource]*unstructured.Unstructured{
		execResource: {Object: map[string]any{
			"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Exec",
			"metadata": map[string]any{"name": pod.Name, "namespace": pod.Namespace, "ownerReferences": owner},
			"spec": map[string]any{"execs": []any{map[string]any{"local": map[string]any{
				"workDir": root,
				"envs":    []any{map[string]any{"name": "PODROOT_DIR", "value": root}},
			}}}},
		}},
		logsResource: {Object: map[string]any{
			"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Logs",
			"metadata": map[string]any{"name": pod.Name, "namespace": pod.Namespace, "ownerReferences": owner},
			"spec":     map[string]any{"logs": []any{map[string]any{"logsFile": logFile}}},
		}},
	}
	for gvr, obj := range objs {
		res := a.dyn.Resource(gvr).Namespace(pod.Namespace)
		_ = res.Delete(ctx, pod.Name, metav1.DeleteOptions{}) // a leftover of an earlier pod of that name
		if _, err := res.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating kwok %s: %w", gvr.Resource, err)
		}
	}
	return nil
}

// removeContainer ends the pod's processes and removes its root, as a runtime removes a container.
func (a *agent) removeContainer(ctx context.Context, ns, name string) error {
	key := ns + "/" + name
	a.mu.Lock()
	st := a.running[key]
	delete(a.running, key)
	if st != nil {
		st.stopping = true
	}
	a.mu.Unlock()
	if st != nil {
		st.stopTail()
	}
	if err := a.removeFiles(a.podDir(ns, name)); err != nil {
		return err
	}
	for _, gvr := range []schema.GroupVersionResource{execResource, logsResource} {
		err := a.dyn.Resource(gvr).Namespace(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// removeFiles kills what runs in a pod folder's root, unmounts its volumes, and only then deletes
// it, so a claim's data behind a bind mount is never touched.
func (a *agent) removeFiles(base string) error {
	if _, err := os.Stat(base); os.IsNotExist(err) {
		return nil
	}
	root := filepath.Join(base, "root")
	killPodProcesses(root)
	if err := unmountUnder(root); err != nil {
		return err
	}
	if left := mountsUnder(root); len(left) > 0 {
		return fmt.Errorf("refusing to delete %s: still mounted: %s", base, strings.Join(left, ", "))
	}
	return os.RemoveAll(base)
}

func (a *agent) mountVolumes(ctx context.Context, pod *corev1.Pod, root string) error {
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = v
	}
	if len(pod.Spec.Containers) == 0 {
		return nil
	}
	mounts := append([]corev1.VolumeMount{}, pod.Spec.Containers[0].VolumeMounts...)
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].MountPath) < len(mounts[j].MountPath) })
	for _, m := range mounts {
		v, ok := volumes[m.Name]
		if !ok {
			return fmt.Errorf("volume mount %s names no volume", m.Name)
		}
		target := filepath.Join(root, filepath.Clean("/"+m.MountPath))
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		switch {
		case v.PersistentVolumeClaim != nil:
			src := filepath.Join(a.claimDir(pod.Namespace, v.PersistentVolumeClaim.ClaimName), filepath.Clean("/"+m.SubPath))
			if err := os.MkdirAll(src, 0o777); err != nil {
				return err
			}
			if err := syscall.Mount(src, target, "", syscall.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind-mounting claim %s at %s: %w", v.PersistentVolumeClaim.ClaimName, m.MountPath, err)
			}
		case v.ConfigMap != nil:
			cm, err := a.cs.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, v.ConfigMap.Name, metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) && v.ConfigMap.Optional != nil && *v.ConfigMap.Optional {
					continue
				}
				return fmt.Errorf("configmap volume %s: %w", m.Name, err)
			}
			data := map[string][]byte{}
			for k, s := range cm.Data {
				data[k] = []byte(s)
			}
			for k, b := range cm.BinaryData {
				data[k] = b
			}
			if err := writeProjected(target, data, v.ConfigMap.Items, v.ConfigMap.DefaultMode); err != nil {
				return err
			}
		case v.Secret != nil:
			sec, err := a.cs.CoreV1().Secrets(pod.Namespace).Get(ctx, v.Secret.SecretName, metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) && v.Secret.Optional != nil && *v.Secret.Optional {
					continue
				}
				return fmt.Errorf("secret volume %s: %w", m.Name, err)
			}
			if err := writeProjected(target, sec.Data, v.Secret.Items, v.Secret.DefaultMode); err != nil {
				return err
			}
		case v.Projected != nil:
			if err := a.writeProjectedSources(ctx, pod, target, v.Projected); err != nil {
				return fmt.Errorf("projected volume %s: %w", m.Name, err)
			}
		}
	}
	return nil
}

// writeProjectedSources fills a projected volume as the kubelet does; the ServiceAccount admission
// adds one to every pod (kube-api-access-*: token, ca.crt from kube-root-ca.crt, namespace), mounted
// at /var/run/secrets/kubernetes.io/serviceaccount. The token is a real bound token of the pod.
func (a *agent) writeProjectedSources(ctx context.Context, pod *corev1.Pod, dir string, v *corev1.ProjectedVolumeSource) error {
	for _, src := range v.Sources {
		switch {
		case src.ServiceAccountToken != nil:
			t := src.ServiceAccountToken
			req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
				ExpirationSeconds: t.ExpirationSeconds,
				BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
			}}
			if t.Audience != "" {
				req.Spec.Audiences = []string{t.Audience}
			}
			tok, err := a.cs.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, pod.Spec.ServiceAccountName, req, metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("token of service account %s: %w", pod.Spec.ServiceAccountName, err)
			}
			item := []corev1.KeyToPath{{Key: "token", Path: t.Path}}
			if err := writeProjected(dir, map[string][]byte{"token": []byte(tok.Status.Token)}, item, v.DefaultMode); err != nil {
				return err
			}
		case src.ConfigMap != nil:
			cm, err := a.cs.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, src.ConfigMap.Name, metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) && src.ConfigMap.Optional != nil && *src.ConfigMap.Optional {
					continue
				}
				return fmt.Errorf("configmap %s: %w", src.ConfigMap.Name, err)
			}
			data := map[string][]byte{}
			for k, s := range cm.Data {
				data[k] = []byte(s)
			}
			if err := writeProjected(dir, data, src.ConfigMap.Items, v.DefaultMode); err != nil {
				return err
			}
		case src.Secret != nil:
			sec, err := a.cs.CoreV1().Secrets(pod.Namespace).Get(ctx, src.Secret.Name, metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) && src.Secret.Optional != nil && *src.Secret.Optional {
					continue
				}
				return fmt.Errorf("secret %s: %w", src.Secret.Name, err)
			}
			if err := writeProjected(dir, sec.Data, src.Secret.Items, v.DefaultMode); err != nil {
				return err
			}
		case src.DownwardAPI != nil:
			for _, it := range src.DownwardAPI.Items {
				if it.FieldRef == nil {
					continue // resourceFieldRef: no container limits to report
				}
				val, _, _ := a.valueFrom(pod, &corev1.EnvVarSource{FieldRef: it.FieldRef})
				mode := v.DefaultMode
				if it.Mode != nil {
					mode = it.Mode
				}
				item := []corev1.KeyToPath{{Key: "v", Path: it.Path}}
				if err := writeProjected(dir, map[string][]byte{"v": []byte(val)}, item, mode); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func writeProjected(dir string, data map[string][]byte, items []corev1.KeyToPath, defaultMode *int32) error {
	mode := os.FileMode(0o644)
	if defaultMode != nil {
		mode = os.FileMode(*defaultMode)
	}
	if len(items) == 0 {
		for k := range data {
			items = append(items, corev1.KeyToPath{Key: k, Path: k})
		}
	}
	for _, it := range items {
		b, ok := data[it.Key]
		if !ok {
			return fmt.Errorf("key %s not found", it.Key)
		}
		m := mode
		if it.Mode != nil {
			m = os.FileMode(*it.Mode)
		}
		path := filepath.Join(dir, filepath.Clean("/"+it.Path))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, b, m); err != nil {
			return err
		}
		if err := os.Chmod(path, m); err != nil {
			return err
		}
	}
	return nil
}

// containerEnv resolves the first container's environment as the kubelet would; a missing
// non-optional Secret, ConfigMap or key is the kubelet's CreateContainerConfigError.
func (a *agent) containerEnv(pod *corev1.Pod) ([]string, error) {
	if len(pod.Spec.Containers) == 0 {
		return nil, nil
	}
	c := pod.Spec.Containers[0]
	vals := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	set("PATH", containerPath)
	set("HOSTNAME", pod.Name)
	set("HOME", "/root")
	for _, from := range c.EnvFrom {
		data, err := a.sourceData(pod.Namespace, from.ConfigMapRef, from.SecretRef)
		if err != nil {
			return nil, err
		}
		for k, v := range data {
			set(from.Prefix+k, v)
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expandRefs(e.Value, vals))
			continue
		}
		v, ok, err := a.valueFrom(pod, e.ValueFrom)
		if err != nil {
			return nil, err
		}
		if ok {
			set(e.Name, v)
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vals[k])
	}
	return out, nil
}

// expandRefs does the kubelet's $(VAR) expansion of earlier variables.
func expandRefs(s string, vals map[string]string) string {
	if !strings.Contains(s, "$(") {
		return s
	}
	for k, v := range vals {
		s = strings.ReplaceAll(s, "$("+k+")", v)
	}
	return s
}

func (a *agent) sourceData(ns string, cmRef *corev1.ConfigMapEnvSource, secRef *corev1.SecretEnvSource) (map[string]string, error) {
	out := map[string]string{}
	if cmRef != nil {
		cm, err := a.cs.CoreV1().ConfigMaps(ns).Get(context.Background(), cmRef.Name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) && cmRef.Optional != nil && *cmRef.Optional {
				return out, nil
			}
			return nil, fmt.Errorf("configmap %q not found", cmRef.Name)
		}
		for k, v := range cm.Data {
			out[k] = v
		}
	}
	if secRef != nil {
		s, err := a.cs.CoreV1().Secrets(ns).Get(context.Background(), secRef.Name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) && secRef.Optional != nil && *secRef.Optional {
				return out, nil
			}
			return nil, fmt.Errorf("secret %q not found", secRef.Name)
		}
		for k, v := range s.Data {
			out[k] = string(v)
		}
	}
	return out, nil
}

func (a *agent) valueFrom(pod *corev1.Pod, src *corev1.EnvVarSource) (string, bool, error) {
	ns := pod.Namespace
	switch {
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		s, err := a.cs.CoreV1().Secrets(ns).Get(context.Background(), ref.Name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) && optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("secret %q not found", ref.Name)
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, ns, ref.Name)
		}
		return string(v), true, nil
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		optional := ref.Optional != nil && *ref.Optional
		cm, err := a.cs.CoreV1().ConfigMaps(ns).Get(context.Background(), ref.Name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) && optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("configmap %q not found", ref.Name)
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, ns, ref.Name)
		}
		return v, true, nil
	case src.FieldRef != nil:
		// metadata.labels['KEY'] and metadata.annotations['KEY'] (the Job controller's
		// JOB_COMPLETION_INDEX comes from one).
		path := src.FieldRef.FieldPath
		for prefix, m := range map[string]map[string]string{"metadata.labels": pod.Labels, "metadata.annotations": pod.Annotations} {
			if rest, ok := strings.CutPrefix(path, prefix+"['"); ok && strings.HasSuffix(rest, "']") {
				return m[strings.TrimSuffix(rest, "']")], true, nil
			}
		}
		switch path {
		case "metadata.name":
			return pod.Name, true, nil
		case "metadata.namespace":
			return pod.Namespace, true, nil
		case "metadata.uid":
			return string(pod.UID), true, nil
		case "spec.nodeName":
			return pod.Spec.NodeName, true, nil
		case "spec.serviceAccountName":
			return pod.Spec.ServiceAccountName, true, nil
		case "status.podIP", "status.hostIP":
			return "127.0.0.1", true, nil
		}
	}
	return "", false, nil
}

// containerUser returns the uid and gid exec'd commands run as, and their working directory.
func containerUser(pod *corev1.Pod) (int64, int64, string) {
	var uid, gid int64
	if sc := pod.Spec.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = *sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			gid = *sc.RunAsGroup
		}
	}
	workdir := "/"
	if len(pod.Spec.Containers) > 0 {
		c := pod.Spec.Containers[0]
		if sc := c.SecurityContext; sc != nil {
			if sc.RunAsUser != nil {
				uid = *sc.RunAsUser
			}
			if sc.RunAsGroup != nil {
				gid = *sc.RunAsGroup
			}
		}
		if c.WorkingDir != "" {
			workdir = c.WorkingDir
		}
	}
	return uid, gid, workdir
}

// tailStdout turns what the container writes to /proc/1/fd/1 and /proc/1/fd/2 into CRI log lines,
// the format kwok serves to kubectl logs.
func tailStdout(ctx context.Context, root, logFile string) {
	out, err := os.OpenFile(logFile, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer out.Close()
	type stream struct {
		name    string
		path    string
		offset  int64
		partial []byte
	}
	streams := []*stream{{name: "stdout", path: filepath.Join(root, "proc/1/fd/1")}, {name: "stderr", path: filepath.Join(root, "proc/1/fd/2")}}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, s := range streams {
			f, err := os.Open(s.path)
			if err != nil {
				continue
			}
			if _, err := f.Seek(s.offset, io.SeekStart); err == nil {
				r := bufio.NewReader(f)
				for {
					line, err := r.ReadBytes('\n')
					s.offset += int64(len(line))
					if err != nil {
						s.partial = append(s.partial, line...)
						break
					}
					text := append(s.partial, bytes.TrimRight(line, "\n")...)
					s.partial = nil
					fmt.Fprintf(out, "%s %s F %s\n", time.Now().UTC().Format(time.RFC3339Nano), s.name, text)
				}
			}
			f.Close()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyTree copies the overlay into a pod root, keeping modes and symlinks.
func copyTree(src, dst string) error {
	if _, err := os.Stat(src); os.IsNotExist(err) {
		return nil
	}
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case info.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			_ = os.Remove(target)
			return os.Symlink(link, target)
		case info.Mode().IsRegular():
			return copyFile(path, target, info.Mode().Perm())
		}
		return nil
	})
}

// killPodProcesses ends every process whose root is inside dir (TERM, then KILL), as a runtime
// does when a container stops.
func killPodProcesses(dir string) {
	find := func() []int {
		var pids []int
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			root, err := os.Readlink(filepath.Join("/proc", e.Name(), "root"))
			if err == nil && (root == dir || strings.HasPrefix(root, dir+"/")) && running(pid) {
				pids = append(pids, pid)
			}
		}
		return pids
	}
	pids := find()
	if len(pids) == 0 {
		return
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && len(find()) > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	for _, pid := range find() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
