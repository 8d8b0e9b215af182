package launcher

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/llmdbench/kubectl-llmdbench/pkg/config"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// entryScript behaves like build/llm-d-benchmark.sh of image v0.4.0 where it matters here: it runs
// the harness script until it succeeds, printing the same line and sleeping 30 s after each
// failure, then runs the analyzer (retried once after 120 s when it fails). The harness and the
// analyzer are told by the workload name what to do.
const entryScript = `#!/bin/sh
for a in "$@"; do case $a in --workload=*) workload=${a#--workload=} ;; esac; done
harness_script() {
  echo "Stage 0 - run started"
  case $workload in
    fails) echo "Traceback (most recent call last):" >&2; echo "ValueError: concurrency_level is required" >&2; return 1 ;;
    escapes) setsid sleep 30 & sleep 1 ;;
  esac
  return 0
}
echo "Running harness: /usr/local/bin/inference-perf-llm-d-benchmark.sh"
ec=1
while [ "$ec" -ne 0 ]; do
  harness_script
  ec=$?
  if [ "$ec" -ne 0 ]; then
    echo "execution of /usr/local/bin/inference-perf-llm-d-benchmark.sh failed, wating 30 seconds and trying again"
    sleep 30
  fi
done
echo "Running analysis: /usr/local/bin/inference-perf-analyze_results.sh"
if [ "$workload" = analyzer-retry ]; then
  echo "execution of /usr/local/bin/inference-perf-analyze_results.sh failed, wating 120 seconds and trying again"
fi
echo "Done. Data is available at \"$LLMDBENCH_RUN_EXPERIMENT_RESULTS_DIR_PREFIX\""
exit 0
`

// runScriptLocally renders the run script for workloads and runs it with the host's sh, with the
// volume, the script folder and the image's entry point in a temp dir. It returns the launcher's
// state folder and how long the script took.
func runScriptLocally(t *testing.T, shell []string, workloads ...string) (string, time.Duration) {
	t.Helper()
	for _, tool := range []string{"sh", "setsid", "mkfifo", "mktemp"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the run script needs %s: %v", tool, err)
		}
	}
	s := scenarioSpec(t, 120*time.Second, workloads)
	script, err := Script(s)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	root, scripts, bin, volume := scenarioDirs(t, dir)
	for _, w := range workloads {
		meta := "{\n  \"run\": \"" + testRunID + "\"\n}\n"
		if err := os.WriteFile(filepath.Join(scripts, w+".meta.json"), []byte(meta), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script = strings.ReplaceAll(script, runstate.ShellQuote(runstate.Root), runstate.ShellQuote(root))
	script = strings.ReplaceAll(script, runstate.ShellQuote(ScriptDir), runstate.ShellQuote(scripts))
	if err := os.WriteFile(filepath.Join(bin, Executable), []byte(entryScript), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(shell[0], append(shell[1:], "-c", script)...)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), EnvResultsPrefix+"="+volume, EnvStackName+"=stack", EnvLauncherIndex+"=0")
	start := time.Now()
	// A launcher with a failed workload exits 1, which fails its pod and its Job index.
	if out, err := cmd.CombinedOutput(); exitCode(err) != 1 {
		t.Fatalf("run script: %v, want exit status 1 (a workload failed)\n%s", err, out)
	}
	return filepath.Join(root, testRunID, "0"), time.Since(start)
}

// exitCode is a finished command's exit code (-1: it did not run or was killed).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

func readStatus(t *testing.T, state, workload string) runstate.WorkloadStatus {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(state, workload+runstate.StatusSuffix))
	if err != nil {
		t.Fatal(err)
	}
	st, err := runstate.ParseStatus(b)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func readMeta(t *testing.T, st runstate.WorkloadStatus) *runstate.Metadata {
	t.Helper()
	m, err := runstate.ReadMetadata(st.ResultsDir)
	if err != nil || m == nil {
		t.Fatalf("metadata of %s: %v", st.ResultsDir, err)
	}
	return m
}

// A harness that always fails: the image's entry script would retry it every 30 s forever; the run
// script stops the workload at the first failure line, well within one retry period, and keeps the
// harness's last stderr lines. The next workload still runs, and an analyzer's retry line is not a
// harness failure. A process the harness left behind in a session of its own (holding its output
// open) delays the script by the relays' 2 s grace, not its own 30 s.
func TestScriptStopsAFailingHarnessAtItsFirstRetry(t *testing.T) {
	// The real image runs it with dash (Debian's sh), the local test cluster with busybox sh.
	shells := [][]string{{"sh"}}
	if _, err := exec.LookPath("busybox"); err == nil {
		shells = append(shells, []string{"busybox", "sh"})
	}
	for _, shell := range shells {
		t.Run(strings.Join(shell, "-"), func(t *testing.T) { stopsAFailingHarness(t, shell) })
	}
}

func stopsAFailingHarness(t *testing.T, shell []string) {
	state, took := runScriptLocally(t, shell, "fails", "works", "analyzer-retry", "escapes")
	if took > 20*time.Second {
		t.Errorf("the script took %s: the failing harness was not stopped at its first retry", took)
	}
	fails := readStatus(t, state, "fails")
	if fails.Verdict(false) != runstate.VerdictFailed || !fails.HarnessFailed || !fails.Finished() || fails.TimedOut {
		t.Errorf("fails: %+v", fails)
	}
	want := []string{"Traceback (most recent call last):", "ValueError: concurrency_level is required"}
	if strings.Join(fails.Stderr, "\n") != strings.Join(want, "\n") {
		t.Errorf("stderr tail %q, want %q", fails.Stderr, want)
	}
	if m := readMeta(t, fails); m.Verdict != runstate.VerdictFailed || m.IsComplete() || m.ExitCode == nil || m.Finished == nil {
		t.Errorf("fails metadata: %+v", m)
	}
	for _, w := range []string{"works", "analyzer-retry", "escapes"} {
		st := readStatus(t, state, w)
		if st.Verdict(false) != runstate.VerdictSucceeded || st.HarnessFailed || len(st.Stderr) != 0 {
			t.Errorf("%s: %+v", w, st)
		}
		if m := readMeta(t, st); m.Verdict != runstate.VerdictSucceeded || !m.IsComplete() || *m.ExitCode != 0 {
			t.Errorf("%s metadata: %+v", w, m)
		}
	}
	log, err := os.ReadFile(filepath.Join(state, runstate.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"workload 1/4 fails failed after",
		"the harness failed (the image would retry it every 30 s); stopped",
		"    ValueError: concurrency_level is required",
		"workload 2/4 works succeeded",
		"workload 4/4 escapes succeeded",
		"run " + testRunID + " launcher 0 finished: 1 of 4 workload(s) failed",
	} {
		if !strings.Contains(string(log), line) {
			t.Errorf("run log lacks %q:\n%s", line, log)
		}
	}
	t.Log(string(log))
	if _, err := os.Stat(filepath.Join(state, runstate.DoneFile)); err != nil {
		t.Errorf("no done marker: %v", err)
	}
}

// The same failure line, matched by the script's own pattern, and lines that must not match.
func TestHarnessRetryPattern(t *testing.T) {
	cases := map[string]bool{
		"execution of /usr/local/bin/inference-perf-llm-d-benchmark.sh failed, wating 30 seconds and trying again":  true,
		"execution of /usr/local/bin/guidellm-llm-d-benchmark.sh failed, waiting 30 seconds and trying again":       true,
		"execution of /usr/local/bin/inference-perf-analyze_results.sh failed, wating 120 seconds and trying again": false,
		"Running harness: /usr/local/bin/inference-perf-llm-d-benchmark.sh":                                         false,
	}
	for line, want := range cases {
		out, err := exec.Command("sh", "-c", `case $1 in `+HarnessRetryPattern+`) echo yes ;; *) echo no ;; esac`, "sh", line).Output()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(out)) == "yes"; got != want {
			t.Errorf("%q: matched %v, want %v", line, got, want)
		}
	}
}

// standIn is the harness for the scenario tests: it does what its workload name says, and records
// its pid so a test can stop what a killed script left behind.
const standIn = `#!/bin/sh
for a in "$@"; do case $a in --workload=*) workload=${a#--workload=} ;; esac; done
echo "stand-in harness: $workload"
echo $$ >>"$STANDIN_PIDS"
case $workload in
  ok) exit 0 ;;
  fails) echo "boom" >&2; exit 3 ;;
  sleeps) exec sleep 30 ;;
esac
exit 99
`

// scriptTempDir is a temp folder for a script run that may be killed: processes it started in
// sessions of their own can still write a last file into it for a moment after they are killed,
// so its removal is retried (t.TempDir's is not).
func scriptTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "llmdbench-script-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; i < 50; i++ {
			if err := os.RemoveAll(dir); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("could not remove %s", dir)
	})
	return dir
}

// scriptRun is one run of the rendered script on a temp folder standing for the results volume.
type scriptRun struct {
	cmd         *exec.Cmd
	state, pids string
}

// startScript renders the script as the launcher does (the ConfigMap's script and metadata) for
// workloads bounded by timeout, and starts it under shell with the stand-in harness.
func startScript(t *testing.T, shell []string, timeout time.Duration, workloads ...string) *scriptRun {
	t.Helper()
	s := scenarioSpec(t, timeout, workloads)
	cm, err := BuildConfigMap(s)
	if err != nil {
		t.Fatal(err)
	}
	dir := scriptTempDir(t)
	root, scripts, bin, volume := scenarioDirs(t, dir)
	for _, w := range workloads {
		if err := os.WriteFile(filepath.Join(scripts, MetadataKey(w)), []byte(cm.Data[MetadataKey(w)]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := cm.Data[ScriptKey]
	for from, to := range map[string]string{runstate.Root: root, ScriptDir: scripts} {
		if !strings.Contains(script, runstate.ShellQuote(from)) {
			t.Fatalf("the script does not name %s", from)
		}
		script = strings.ReplaceAll(script, runstate.ShellQuote(from), runstate.ShellQuote(to))
	}
	if err := os.WriteFile(filepath.Join(bin, Executable), []byte(standIn), 0o755); err != nil {
		t.Fatal(err)
	}
	r := &scriptRun{state: filepath.Join(root, testRunID, "0"), pids: filepath.Join(dir, "pids")}
	r.cmd = exec.Command(shell[0], append(shell[1:], "-c", script)...)
	r.cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), EnvResultsPrefix+"="+volume, EnvStackName+"=stack",
		EnvLauncherIndex+"=0", "STANDIN_PIDS="+r.pids)
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	return r
}

// stop kills what the run left: the script's process group and the stand-ins (in sessions of
// their own).
func (r *scriptRun) stop() {
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	_ = r.cmd.Wait()
	b, _ := os.ReadFile(r.pids)
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// outcome is what runstate's readers say of one workload of a launcher whose pod is gone: from
// the run folder's status, from the results folder's metadata alone (the run folder deleted), and
// both together.
func (r *scriptRun) outcome(t *testing.T, workload string) (st runstate.WorkloadStatus, meta *runstate.Metadata) {
	t.Helper()
	st = readStatus(t, r.state, workload)
	meta = readMeta(t, st)
	return st, meta
}

// The rendered script, run for real under busybox sh and dash, leaves run state that runstate's
// readers read as the scenario says: a harness that exits 0 succeeded, one that exits 3 failed
// with exit code 3, one that outlives a 1 s wait timeout timed out, and one whose script was
// killed mid-run is incomplete, never succeeded.
func TestScriptOutcomesReadByRunstate(t *testing.T) {
	// busybox sh is the local test cluster's shell, dash the real image's.
	for _, shell := range [][]string{{"/bin/busybox", "sh"}, {"dash"}} {
		t.Run(filepath.Base(shell[0]), func(t *testing.T) {
			if _, err := exec.LookPath(shell[0]); err != nil {
				t.Skipf("%s is not on this machine: the script is not tested under it", shell[0])
			}
			t.Run("finished", func(t *testing.T) {
				r := startScript(t, shell, time.Second, "ok", "fails", "sleeps")
				done := make(chan error, 1)
				go func() { done <- r.cmd.Wait() }()
				select {
				case err := <-done:
					if exitCode(err) != 1 {
						t.Fatalf("script: %v, want exit status 1 (workloads failed)", err)
					}
				case <-time.After(25 * time.Second):
					t.Fatal("the script did not end: the 1 s wait timeout did not stop the sleeping harness")
				}
				cases := []struct {
					workload string
					verdict  string
					exitCode int
					timedOut bool
				}{
					{"ok", "succeeded", 0, false},
					{"fails", "failed", 3, false},
					{"sleeps", "timed-out", 143, true}, // SIGTERM from the watchdog: 128+15
				}
				for _, c := range cases {
					st, meta := r.outcome(t, c.workload)
					for reader, v := range map[string]string{
						"status":             st.Verdict(false),
						"metadata":           meta.Verdict,
						"folder":             runstate.FolderVerdict(&st, meta, false),
						"folder, no run dir": runstate.FolderVerdict(nil, meta, false),
					} {
						if v != c.verdict {
							t.Errorf("%s: %s verdict %q, want %q", c.workload, reader, v, c.verdict)
						}
					}
					if st.ExitCode == nil || *st.ExitCode != c.exitCode || meta.ExitCode == nil || *meta.ExitCode != c.exitCode ||
						st.TimedOut != c.timedOut || meta.Finished == nil || meta.IsComplete() != (c.verdict == "succeeded") {
						t.Errorf("%s: status %+v, metadata exit %v finished %v complete %v", c.workload, st, meta.ExitCode, meta.Finished, meta.Complete)
					}
					if meta.Run != testRunID || meta.Workload != c.workload || meta.Harness != "inference-perf" || meta.ConfigHash == "" {
						t.Errorf("%s: static metadata %+v", c.workload, meta.RunInfo)
					}
				}
				b, err := os.ReadFile(filepath.Join(r.state, runstate.DoneFile))
				if err != nil || !strings.Contains(string(b), "failed=2\n") {
					t.Errorf("done marker %q %v, want 2 failed", b, err)
				}
			})
			t.Run("killed", func(t *testing.T) {
				// No wait timeout: only the kill ends the workload.
				r := startScript(t, shell, 0, "sleeps")
				statusFile := filepath.Join(r.state, "sleeps"+runstate.StatusSuffix)
				deadline := time.Now().Add(10 * time.Second)
				for {
					if b, err := os.ReadFile(statusFile); err == nil && strings.Contains(string(b), "started=") {
						if st, err := runstate.ParseStatus(b); err == nil {
							if m, err := runstate.ReadMetadata(st.ResultsDir); err == nil && m != nil {
								break
							}
						}
					}
					if time.Now().After(deadline) {
						t.Fatal("the workload did not start within 10 s")
					}
					time.Sleep(50 * time.Millisecond)
				}
				if err := syscall.Kill(r.cmd.Process.Pid, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				_ = r.cmd.Wait()
				st, meta := r.outcome(t, "sleeps")
				for reader, v := range map[string]string{
					"status":             st.Verdict(false),
					"folder":             runstate.FolderVerdict(&st, meta, false),
					"folder, no run dir": runstate.FolderVerdict(nil, meta, false),
				} {
					if v != "incomplete" {
						t.Errorf("%s verdict %q, want incomplete", reader, v)
					}
				}
				if meta.IsComplete() || st.Finished() || meta.Finished != nil || meta.ExitCode != nil {
					t.Errorf("a killed workload reads as finished: status %+v, metadata %+v", st, meta)
				}
				if _, err := os.Stat(filepath.Join(r.state, runstate.DoneFile)); err == nil {
					t.Error("a killed script left a done marker")
				}
			})
		})
	}
}

// scenarioSpec is the inference-scheduling preset with one copy of its first workload per name.
func scenarioSpec(t *testing.T, timeout time.Duration, workloads []string) Spec {
	t.Helper()
	s := presetSpec(t, "inference-scheduling", nil)
	s.Config.Harness.WaitTimeout = timeout
	var kept []config.Workload
	for _, name := range workloads {
		w := s.Config.Workloads[0]
		w.Name = name
		kept = append(kept, w)
	}
	s.Config.Workloads = kept
	return s
}

// scenarioDirs makes the launcher's folders under dir: state root, script folder, image bin and
// results volume.
func scenarioDirs(t *testing.T, dir string) (root, scripts, bin, volume string) {
	t.Helper()
	root, scripts, bin, volume = filepath.Join(dir, "state"), filepath.Join(dir, "llmdbench"), filepath.Join(dir, "bin"), filepath.Join(dir, "requests")
	for _, d := range []string{scripts, bin, volume} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root, scripts, bin, volume
}
