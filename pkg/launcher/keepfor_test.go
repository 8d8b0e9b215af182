package launcher

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// startKeepFor starts the run script of a one-workload emptyDir run (the workload succeeds at
// once) with the host's sh, and returns the launcher's state folder and the running command.
func startKeepFor(t *testing.T, keepFor time.Duration) (string, *exec.Cmd) {
	t.Helper()
	s := scenarioSpec(t, 60*time.Second, []string{"ok"})
	s.KeepFor = keepFor
	script, err := Script(s)
	if err != nil {
		t.Fatal(err)
	}
	root, scripts, bin, volume := scenarioDirs(t, t.TempDir())
	if err := os.WriteFile(filepath.Join(scripts, "ok.meta.json"), []byte("{\"run\": \""+testRunID+"\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script = strings.ReplaceAll(script, runstate.ShellQuote(runstate.Root), runstate.ShellQuote(root))
	script = strings.ReplaceAll(script, runstate.ShellQuote(ScriptDir), runstate.ShellQuote(scripts))
	if err := os.WriteFile(filepath.Join(bin, Executable), []byte(entryScript), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), EnvResultsPrefix+"="+volume, EnvStackName+"=stack", EnvLauncherIndex+"=0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return filepath.Join(root, testRunID, "0"), cmd
}

func waitFile(t *testing.T, path string, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	t.Fatalf("%s not written within %s", path, within)
}

// An emptyDir run's launcher stays up after its done marker until the plugin writes the fetched
// marker, then exits with its verdict (0: the workload succeeded).
func TestScriptKeepsTheLauncherUntilFetched(t *testing.T) {
	state, cmd := startKeepFor(t, time.Hour)
	waitFile(t, filepath.Join(state, runstate.DoneFile), 30*time.Second)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		t.Fatalf("the launcher exited before its results were fetched: %v", err)
	case <-time.After(2 * time.Second):
	}
	if err := os.WriteFile(filepath.Join(state, runstate.FetchedFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if exitCode(err) != 0 {
			t.Errorf("exit %v, want 0", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the launcher did not exit within 5 s of the fetched marker")
	}
}

// Nobody fetches: the launcher exits when keep-for runs out (2 s here), not before.
func TestScriptKeepForRunsOut(t *testing.T) {
	state, cmd := startKeepFor(t, 2*time.Second)
	waitFile(t, filepath.Join(state, runstate.DoneFile), 30*time.Second)
	done := time.Now()
	err := cmd.Wait()
	if took := time.Since(done); exitCode(err) != 0 || took < time.Second || took > 6*time.Second {
		t.Errorf("exit %v after %s past the done marker, want 0 after about 2 s", err, took)
	}
}

// The pod of an emptyDir run mounts an emptyDir at the results path, its Job and ConfigMap say
// so, and no PVC object is built even with PVC.Create; two launchers are refused.
func TestObjectsOfAnEmptyDirRun(t *testing.T) {
	s := presetSpec(t, "inference-scheduling", nil)
	s.KeepFor, s.PVC.Create = 30*time.Minute, true
	objs, err := Objects(s)
	if err != nil || len(objs) != 2 {
		t.Fatalf("got %d objects, %v; want the ConfigMap and the Job", len(objs), err)
	}
	job, err := BuildJob(s)
	if err != nil {
		t.Fatal(err)
	}
	var results *corev1.Volume
	for i, v := range job.Spec.Template.Spec.Volumes {
		if v.Name == volumeResults {
			results = &job.Spec.Template.Spec.Volumes[i]
		}
	}
	if results == nil || results.EmptyDir == nil || results.PersistentVolumeClaim != nil {
		t.Errorf("results volume %+v, want an emptyDir", results)
	}
	if a := job.Annotations; a[AnnoPVC] != "" || a[AnnoKeepFor] != "30m0s" {
		t.Errorf("annotations %v", a)
	}
	s.Config.Harness.Parallelism = 2
	if _, err := Objects(s); err == nil || !strings.Contains(err.Error(), "results on an emptyDir need one launcher, not 2") {
		t.Errorf("two launchers: %v", err)
	}
}
