package main

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// shim runs command name inside the pod root that kwok names in PODROOT_DIR, with the container's
// environment, user and working directory, as `kubectl exec` into a real container would.
func shim(name string, args []string) int {
	root := os.Getenv("PODROOT_DIR")
	if root == "" {
		fmt.Fprintf(os.Stderr, "localcluster exec: no pod root for %s (PODROOT_DIR unset)\n", name)
		return 127
	}
	base := filepath.Dir(root)
	rawEnv, err := os.ReadFile(filepath.Join(base, "env"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "localcluster exec: the container is gone: %v\n", err)
		return 126
	}
	var env []string
	for _, kv := range bytes.Split(rawEnv, []byte{0}) {
		if len(kv) > 0 {
			env = append(env, string(kv))
		}
	}
	var uid, gid int
	if b, err := os.ReadFile(filepath.Join(base, "user")); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 {
			uid, _ = strconv.Atoi(f[0])
			gid, _ = strconv.Atoi(f[1])
		}
	}
	workdir := "/"
	if b, err := os.ReadFile(filepath.Join(base, "workdir")); err == nil && strings.TrimSpace(string(b)) != "" {
		workdir = strings.TrimSpace(string(b))
	}
	if err := syscall.Chroot(root); err != nil {
		fmt.Fprintf(os.Stderr, "localcluster exec: chroot %s: %v\n", root, err)
		return 126
	}
	if err := os.Chdir(workdir); err != nil {
		_ = os.Chdir("/")
	}
	bin := lookPath(name, env)
	if bin == "" {
		fmt.Fprintf(os.Stderr, "exec: %q: executable file not found in $PATH\n", name)
		return 127
	}
	if uid != 0 || gid != 0 {
		if err := syscall.Setgroups(nil); err == nil {
			_ = syscall.Setgid(gid)
		}
		if err := syscall.Setuid(uid); err != nil {
			fmt.Fprintf(os.Stderr, "localcluster exec: setuid %d: %v\n", uid, err)
			return 126
		}
	}
	err = syscall.Exec(bin, append([]string{name}, args...), env)
	fmt.Fprintf(os.Stderr, "exec %s: %v\n", bin, err)
	return 126
}

// lookPath searches the container's PATH (already inside the chroot).
func lookPath(name string, env []string) string {
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
		if st, err := os.Stat(candidate); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return candidate
		}
	}
	return ""
}
