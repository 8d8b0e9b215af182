package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// exitStartError is the exit code a container runtime reports when the command cannot be started
// at all (no such executable): containerd's StartError is exit code 128.
const exitStartError = 128

// mainArgv is the argv of a container's main process as Kubernetes resolves it, with an image
// that has neither ENTRYPOINT nor CMD (there are no images here): command followed by args, or
// args alone when command is empty; nil when both are empty (nothing runs). $(VAR) references to
// the container's environment (env, "NAME=value" entries) are expanded as in the kubelet
// (expandRefs: defined names only, no $$ escape).
func mainArgv(c corev1.Container, env []string) []string {
	argv := append(append([]string{}, c.Command...), c.Args...)
	if len(argv) == 0 {
		return nil
	}
	vals := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vals[k] = v
		}
	}
	for i, s := range argv {
		argv[i] = expandRefs(s, vals)
	}
	return argv
}

// lookPathIn finds name the way the container would, seen from the host: a name with a slash is
// taken as is; else the first executable PATH entry (the container's PATH from env, else
// containerPath) below root. The result is a path inside the container, "" when none is found.
func lookPathIn(root, name string, env []string) string {
	if strings.Contains(name, "/") {
		return name
	}
	p := containerPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			p = v
		}
	}
	for _, dir := range strings.Split(p, ":") {
		if dir == "" {
			continue
		}
		candidate := path.Join(dir, name)
		host := filepath.Join(root, candidate)
		if st, err := os.Stat(host); err == nil {
			if !st.IsDir() && st.Mode()&0o111 != 0 {
				return candidate
			}
			continue
		}
		// A symlink with an absolute target points into the container, not the host: trust it.
		if st, err := os.Lstat(host); err == nil && st.Mode()&os.ModeSymlink != 0 {
			return candidate
		}
	}
	return ""
}

// exitStatus is the container exit code of a finished process: its exit status, or 128+N when
// signal N killed it (as container runtimes and shells report it).
func exitStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// startMain starts the first container's command as the container's main process, once: chrooted
// into the pod root with the container's environment, uid/gid and working directory (created if
// missing, as runc does), stdout and stderr into the files tailStdout turns into kubectl logs, in
// its own process group. A pod with neither command nor args runs nothing. When the process ends
// by itself, mainExited records its exit code on the pod. An error is the agent's own (a file of
// the pod root it cannot open): the start is retried.
func (a *agent) startMain(pod *corev1.Pod, st *podState) (err error) {
	a.mu.Lock()
	if st.started || st.stopping {
		a.mu.Unlock()
		return nil
	}
	st.started = true
	a.mu.Unlock()
	defer func() {
		if err != nil {
			a.mu.Lock()
			st.started = false
			a.mu.Unlock()
		}
	}()
	if len(pod.Spec.Containers) == 0 {
		return nil
	}
	argv := mainArgv(pod.Spec.Containers[0], st.env)
	if argv == nil {
		return nil
	}
	key := pod.Namespace + "/" + pod.Name
	stdout, err := os.OpenFile(filepath.Join(st.root, "proc/1/fd/1"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("main process stdout: %w", err)
	}
	defer stdout.Close()
	stderr, err := os.OpenFile(filepath.Join(st.root, "proc/1/fd/2"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("main process stderr: %w", err)
	}
	defer stderr.Close()
	bin := lookPathIn(st.root, argv[0], st.env)
	if bin == "" {
		fmt.Fprintf(stderr, "exec: %q: executable file not found in $PATH\n", argv[0])
		go a.mainExited(key, pod.UID, st, exitStartError)
		return nil
	}
	if err := os.MkdirAll(filepath.Join(st.root, filepath.Clean("/"+st.workdir)), 0o755); err != nil {
		return fmt.Errorf("working directory %s: %w", st.workdir, err)
	}
	attr := &syscall.SysProcAttr{Chroot: st.root, Setpgid: true}
	if st.runUID != 0 || st.runGID != 0 {
		attr.Credential = &syscall.Credential{Uid: uint32(st.runUID), Gid: uint32(st.runGID), Groups: []uint32{}}
	}
	cmd := &exec.Cmd{Path: bin, Args: argv, Env: st.env, Dir: st.workdir, Stdout: stdout, Stderr: stderr, SysProcAttr: attr}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "exec %s: %v\n", argv[0], err)
		go a.mainExited(key, pod.UID, st, exitStartError)
		return nil
	}
	fmt.Fprintf(os.Stderr, "%s %s: main process %d started: %q\n", time.Now().Format(time.RFC3339), key, cmd.Process.Pid, argv)
	go func() {
		_ = cmd.Wait() // a non-zero exit is the container's business, read from ProcessState
		a.mainExited(key, pod.UID, st, exitStatus(cmd.ProcessState))
	}()
	return nil
}

// mainExited records that the main process of pod key (uid) ended by itself with code: the
// exit-code annotation with exit-after 0s, which kwok's pod-container-exit stage turns into the
// terminated container state and the pod phase (0 Succeeded, else Failed), as a kubelet reports
// them. Nothing is recorded when the agent ended the process itself (pod terminal, deleted or
// replaced), or when the pod already carries an exit-code annotation (a test's, which wins).
func (a *agent) mainExited(key string, uid types.UID, st *podState, code int) {
	ns, name, _ := strings.Cut(key, "/")
	fmt.Fprintf(os.Stderr, "%s %s: main process exited with %d\n", time.Now().Format(time.RFC3339), key, code)
	ctx := context.Background()
	for attempt := 0; attempt < 20; attempt++ {
		if attempt > 0 {
			time.Sleep(250 * time.Millisecond)
		}
		a.mu.Lock()
		gone := st.stopping || a.running[key] != st
		a.mu.Unlock()
		if gone {
			return
		}
		pod, err := a.pods.Pods(ns).Get(name)
		if apierrors.IsNotFound(err) {
			return
		}
		if err != nil {
			continue
		}
		if pod.UID != uid || pod.DeletionTimestamp != nil || pod.Annotations[AnnoExitCode] != "" ||
			pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			return
		}
		// metadata.uid in a patch is a precondition: a new pod of the same name is left alone.
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
			"uid":         string(uid),
			"annotations": map[string]string{AnnoExitCode: strconv.Itoa(code), AnnoExitAfter: "0s"},
		}})
		if err != nil {
			return
		}
		_, err = a.cs.CoreV1().Pods(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return
		}
		fmt.Fprintf(os.Stderr, "%s %s: recording exit code %d: %v (retrying)\n", time.Now().Format(time.RFC3339), key, code, err)
	}
}
