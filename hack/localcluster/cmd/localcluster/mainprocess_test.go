package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestMainArgvResolvesCommandAndArgs(t *testing.T) {
	env := []string{"PATH=/bin", "JOB_COMPLETION_INDEX=2", "DIR=/out"}
	cases := []struct {
		name string
		c    corev1.Container
		want []string
	}{
		{"neither runs nothing", corev1.Container{}, nil},
		{"command only", corev1.Container{Command: []string{"sleep", "5"}}, []string{"sleep", "5"}},
		{"command then args", corev1.Container{Command: []string{"sh", "-c"}, Args: []string{"exit 3"}}, []string{"sh", "-c", "exit 3"}},
		// No image, so no ENTRYPOINT: args alone are the whole argv.
		{"args only", corev1.Container{Args: []string{"echo", "hi"}}, []string{"echo", "hi"}},
		// $(VAR) of a defined variable is expanded; shell $VAR and unknown $(X) are left alone.
		{"references", corev1.Container{Command: []string{"sh", "-c"}, Args: []string{"echo $(JOB_COMPLETION_INDEX) > $(DIR)/$JOB_COMPLETION_INDEX $(NOPE)"}},
			[]string{"sh", "-c", "echo 2 > /out/$JOB_COMPLETION_INDEX $(NOPE)"}},
	}
	for _, tc := range cases {
		if got := mainArgv(tc.c, env); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: argv %q, want %q", tc.name, got, tc.want)
		}
	}
	c := corev1.Container{Command: []string{"$(DIR)"}}
	mainArgv(c, env)
	if c.Command[0] != "$(DIR)" {
		t.Errorf("mainArgv changed the pod spec: %q", c.Command)
	}
}

func TestExitStatusOfExitAndSignal(t *testing.T) {
	// Expected by hand: an exit status is itself; SIGKILL is signal 9, SIGTERM 15 → 128+N.
	cases := map[string]int{"exit 0": 0, "exit 3": 3, "kill -KILL $$": 137, "kill -TERM $$": 143}
	for script, want := range cases {
		cmd := exec.Command("/bin/sh", "-c", script)
		_ = cmd.Run()
		if cmd.ProcessState == nil {
			t.Fatalf("%s: did not run", script)
		}
		if got := exitStatus(cmd.ProcessState); got != want {
			t.Errorf("%s: exit code %d, want %d", script, got, want)
		}
	}
}

func TestLookPathInSearchesTheContainerPath(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"bin", "usr/local/bin", "opt/tools"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(rel string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(root, rel), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("bin/busybox", 0o755)
	if err := os.Symlink("busybox", filepath.Join(root, "bin/sh")); err != nil { // as the applet links
		t.Fatal(err)
	}
	write("usr/local/bin/tool", 0o644) // not executable: skipped
	write("bin/tool", 0o755)
	write("opt/tools/mine", 0o755)
	if err := os.Symlink("/opt/tools/mine", filepath.Join(root, "bin/abs")); err != nil { // absolute: resolves only inside
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"sh", nil, "/bin/sh"},
		{"tool", nil, "/bin/tool"},
		{"abs", nil, "/bin/abs"},
		{"mine", nil, ""},
		{"mine", []string{"PATH=/opt/tools:/bin"}, "/opt/tools/mine"},
		{"/any/where", nil, "/any/where"},
		{"missing", nil, ""},
	}
	for _, tc := range cases {
		if got := lookPathIn(root, tc.name, tc.env); got != tc.want {
			t.Errorf("lookPathIn(%q, env %q) = %q, want %q", tc.name, tc.env, got, tc.want)
		}
	}
}

func TestNodeCountFromTheEnvironment(t *testing.T) {
	for v, want := range map[string]int{"": 3, "1": 1, " 5 ": 5, "100": 100} {
		t.Setenv("LOCALCLUSTER_NODES", v)
		if got, err := nodeCount(); err != nil || got != want {
			t.Errorf("LOCALCLUSTER_NODES=%q: %d, %v; want %d", v, got, err, want)
		}
	}
	for _, v := range []string{"0", "-1", "101", "three", "2.5"} {
		t.Setenv("LOCALCLUSTER_NODES", v)
		if got, err := nodeCount(); err == nil {
			t.Errorf("LOCALCLUSTER_NODES=%q: %d, want an error", v, got)
		}
	}
}

func TestClusterNodesAndSharedVolumes(t *testing.T) {
	for name, want := range map[string]bool{"kwok-node-0": true, "kwok-node-12": true, "": false, "kwok-node-": false,
		"kwok-node-01": false, "kwok-node-x": false, "other": false} {
		if got := isClusterNode(name); got != want {
			t.Errorf("isClusterNode(%q) = %v, want %v", name, got, want)
		}
	}
	if nodeName(2) != "kwok-node-2" {
		t.Errorf("nodeName(2) = %q", nodeName(2))
	}
	modes := map[corev1.PersistentVolumeAccessMode]bool{corev1.ReadWriteOnce: false, corev1.ReadWriteOncePod: false,
		corev1.ReadWriteMany: true, corev1.ReadOnlyMany: true}
	for m, want := range modes {
		if got := sharedAcrossNodes([]corev1.PersistentVolumeAccessMode{m}); got != want {
			t.Errorf("sharedAcrossNodes(%s) = %v, want %v", m, got, want)
		}
	}
}
