package launcher

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// standInStamp is a harness that records when it started (GNU date's nanoseconds) and the profile
// it was given, then succeeds.
const standInStamp = `#!/bin/sh
for a in "$@"; do case $a in --workload=*) workload=${a#--workload=} ;; esac; done
date +%s%N >"$STANDIN_OUT/$LLMDBENCH_LAUNCHER_INDEX.start"
cp "$STANDIN_PROFILES/$workload.yaml" "$STANDIN_OUT/$LLMDBENCH_LAUNCHER_INDEX.yaml"
exit 0
`

// launchersLocally renders the run of n launchers splitting workload "ok" (inference-perf), and
// starts launchers 0..started-1 under dash, each stagger after the previous, with barrier timeout
// bt. It returns the results volume, the stand-in's output folder and each launcher's exit error.
func launchersLocally(t *testing.T, n, started int, stagger, bt time.Duration) (volume, out string, errs []error) {
	t.Helper()
	if _, err := exec.LookPath("dash"); err != nil {
		t.Skip("dash is not on this machine")
	}
	if o, _ := exec.Command("date", "+%N").Output(); strings.Contains(string(o), "N") {
		t.Skip("this date has no nanoseconds")
	}
	old := BarrierTimeout
	BarrierTimeout = bt
	t.Cleanup(func() { BarrierTimeout = old })
	s := scenarioSpec(t, time.Minute, []string{"ok"})
	s.Config.Harness.Parallelism = n
	cm, err := BuildConfigMap(s)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	root, scripts, bin, volume := scenarioDirs(t, dir)
	out = filepath.Join(dir, "out")
	for k, v := range cm.Data {
		name := k
		if w, i, ok := strings.Cut(strings.TrimSuffix(k, ".split.yaml"), "."); ok && strings.HasSuffix(k, ".split.yaml") {
			name = filepath.Join(splitProfiles, w+"."+i+".yaml")
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(scripts, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(scripts, name), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, Executable), []byte(standInStamp), 0o755); err != nil {
		t.Fatal(err)
	}
	script := cm.Data[ScriptKey]
	profiles := ProfilesDir + "/" + s.Config.Harness.Name
	cmds := make([]*exec.Cmd, started)
	for i := range started {
		// Each launcher has its own profiles folder (an emptyDir in the pod).
		pdir := filepath.Join(dir, "profiles"+strconv.Itoa(i))
		if err := os.MkdirAll(pdir, 0o755); err != nil {
			t.Fatal(err)
		}
		sc := script
		for from, to := range map[string]string{runstate.Root: root, ScriptDir: scripts, profiles: pdir} {
			sc = strings.ReplaceAll(sc, runstate.ShellQuote(from), runstate.ShellQuote(to))
		}
		cmds[i] = exec.Command("dash", "-c", sc)
		cmds[i].Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), EnvResultsPrefix+"="+volume,
			EnvStackName+"=stack_"+strconv.Itoa(i), EnvLauncherIndex+"="+strconv.Itoa(i), EnvLauncherCount+"="+strconv.Itoa(n),
			"STANDIN_OUT="+out, "STANDIN_PROFILES="+pdir)
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(stagger)
	}
	for _, c := range cmds {
		errs = append(errs, c.Wait())
	}
	return volume, out, errs
}

func readLaunch(t *testing.T, volume string, i int) *runstate.Launch {
	t.Helper()
	l, err := runstate.ReadLaunch(filepath.Join(volume, fmt.Sprintf("inference-perf_%s_ok_stack_%d", testRunID, i)))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Three launchers started 0.3 s apart wait for each other and start their harness at the instant
// the last arrival plus the lead names, each with its own share of the profile, and record it.
func TestScriptLaunchersStartTogether(t *testing.T) {
	volume, out, errs := launchersLocally(t, 3, 3, 300*time.Millisecond, time.Minute)
	var agreed float64
	for i, err := range errs {
		if err != nil {
			t.Fatalf("launcher %d: %v", i, err)
		}
		l := readLaunch(t, volume, i)
		st := l.Stages[0]
		if l.Index != i || l.Count != 3 || l.Mode != runstate.ModeSplit || st.Stage != runstate.StageWorkload ||
			!slices.Equal(st.Present, []int{0, 1, 2}) || len(st.Missing) != 0 || st.TimedOut || st.SendEnded != nil {
			t.Errorf("launcher %d: %+v %+v", i, l, st)
		}
		if i == 0 {
			agreed = *st.AgreedStart
		} else if *st.AgreedStart != agreed {
			t.Errorf("launcher %d agreed on %f, launcher 0 on %f", i, *st.AgreedStart, agreed)
		}
		b, err := os.ReadFile(filepath.Join(out, strconv.Itoa(i)+".start"))
		if err != nil {
			t.Fatal(err)
		}
		ns, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		// The harness starts after the agreed instant, within what a shell needs to start it (about
		// 0.1 s on a busy 2-core machine; the bound only catches a launcher that did not wait or
		// waited for the wrong instant). The recorded start is when its output had readers.
		t.Logf("launcher %d: recorded start %.3f s after the agreed instant", i, *st.Started-agreed)
		if late := float64(ns)/1e9 - agreed; late < 0 || late > 0.5 || *st.Started < agreed {
			t.Errorf("launcher %d's harness started %.3f s after the agreed instant", i, late)
		}
		// Its profile is its share: inference-scheduling's sanity_random stage rate 1 over 3.
		p, err := os.ReadFile(filepath.Join(out, strconv.Itoa(i)+".yaml"))
		if err != nil || !strings.Contains(string(p), "rate: 0.3333333333333333") {
			t.Errorf("launcher %d profile (%v):\n%s", i, err, p)
		}
	}
}

// A launcher that never comes is waited for until the barrier timeout; the others start then and
// name it missing.
func TestScriptBarrierTimesOutOnAMissingLauncher(t *testing.T) {
	start := time.Now()
	volume, _, errs := launchersLocally(t, 3, 2, 0, 2*time.Second)
	if took := time.Since(start); took < 2*time.Second || took > 10*time.Second {
		t.Errorf("took %s, want the 2 s barrier timeout and little more", took)
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("launcher %d: %v", i, err)
		}
		st := readLaunch(t, volume, i).Stages[0]
		if !st.TimedOut || !slices.Equal(st.Present, []int{0, 1}) || !slices.Equal(st.Missing, []int{2}) {
			t.Errorf("launcher %d: %+v", i, st)
		}
	}
}
