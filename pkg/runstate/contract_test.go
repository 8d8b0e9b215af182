package runstate

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// shells are the sh implementations the contract's commands run under: the image's (dash), the
// local test cluster's (busybox) and the host's sh.
func shells(t *testing.T) [][]string {
	t.Helper()
	var out [][]string
	for _, s := range [][]string{{"sh"}, {"dash"}, {"busybox", "sh"}} {
		if _, err := exec.LookPath(s[0]); err == nil {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		t.Skip("no sh on this machine")
	}
	return out
}

// Every value reaches a shell line through ShellQuote: whatever it holds comes out of the shell as
// the same one word, and nothing in it runs.
func TestShellQuoteKeepsEveryValueOneWord(t *testing.T) {
	values := []string{"", "plain", "it's", "'", "''", `a\'b`, "$(touch PWNED)", "`touch PWNED`", "a b\tc\nd", `"$HOME"`, "*", "-n", "x'; touch PWNED; : '"}
	for _, sh := range shells(t) {
		dir := t.TempDir()
		for _, v := range values {
			cmd := exec.Command(sh[0], append(sh[1:], "-c", "printf '%s|' "+ShellQuote(v)+"; printf '%s' \"$#\"", "sh")...)
			cmd.Dir = dir
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v %q: %v", sh, v, err)
			}
			if want := v + "|0"; string(out) != want {
				t.Errorf("%v: %q came out as %q, want %q", sh, v, out, want)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "PWNED")); err == nil {
			t.Errorf("%v: a quoted value ran a command", sh)
		}
	}
}

func TestValidateRunID(t *testing.T) {
	for _, ok := range []string{"1764000000-abcd", "1795740000-ab12"} {
		if err := ValidateRunID(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "latest", "1764000000", "1764000000-ABCD", "176400000-abcd", "1764000000-abcd/..", "x'; touch PWNED; : '", "1764000000-abcd\n"} {
		err := ValidateRunID(bad)
		if err == nil {
			t.Errorf("%q accepted", bad)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "<unix seconds>-<4 hex digits>") {
			t.Errorf("%q: error %q is not one line naming the shape", bad, msg)
		}
	}
}

// Folders written by the previous run script (the whole Metadata in one JSON file, see
// testdata/README.md) are still read, with their verdicts.
func TestReadMetadataOfOldFormFolders(t *testing.T) {
	cases := []struct {
		folder      string
		workload    string
		verdict     string // as written
		exitCode    int    // -1: null
		finished    bool
		complete    bool
		verdictGone string // FolderVerdict with no status and no launcher
	}{
		{"inference-perf_1764000000-abcd_sanity_random_stack", "sanity_random", "succeeded", 0, true, true, "succeeded"},
		{"inference-perf_1764000000-abcd_failing_stack", "failing", "failed", 3, true, false, "failed"},
		{"inference-perf_1764000000-abcd_killed_stack", "killed", "running", -1, false, false, "incomplete"},
	}
	for _, c := range cases {
		m, err := ReadMetadata(filepath.Join("testdata", "old-form", c.folder))
		if err != nil || m == nil {
			t.Fatalf("%s: %v %v", c.folder, m, err)
		}
		if m.Run != "1764000000-abcd" || m.Harness != "inference-perf" || m.Workload != c.workload || m.Entry != c.workload ||
			m.Verdict != c.verdict || (m.Finished != nil) != c.finished || m.IsComplete() != c.complete || m.Started == 0 {
			t.Errorf("%s: %+v", c.folder, m)
		}
		if c.exitCode < 0 && m.ExitCode != nil || c.exitCode >= 0 && (m.ExitCode == nil || *m.ExitCode != c.exitCode) {
			t.Errorf("%s: exit code %v, want %d", c.folder, m.ExitCode, c.exitCode)
		}
		if v := FolderVerdict(nil, m, false); v != c.verdictGone {
			t.Errorf("%s: verdict with its launcher gone %q, want %q", c.folder, v, c.verdictGone)
		}
	}
}

// The new form: the static JSON the plugin rendered, completed by records (later lines win).
func TestReadMetadataWithRecords(t *testing.T) {
	dir := t.TempDir()
	info, err := MetadataJSON(RunInfo{Run: "1764000000-abcd", Harness: "guidellm", Parallelism: 2, Repeats: 2})
	if err != nil {
		t.Fatal(err)
	}
	records := "workload=w\nentry=w_run2\nindex=1\nrepeat=2\nstarted=100\nverdict=running\ncomplete=false\n" +
		"finished=160\nexit_code=3\nverdict=failed\ncomplete=false\n"
	write(t, dir, MetadataFile, info)
	write(t, dir, MetadataRecordsFile, records)
	m, err := ReadMetadata(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Run != "1764000000-abcd" || m.Harness != "guidellm" || m.Workload != "w" || m.Entry != "w_run2" || m.ParallelIndex != 1 ||
		m.Repeat != 2 || m.Started != 100 || m.Finished == nil || *m.Finished != 160 || m.ExitCode == nil || *m.ExitCode != 3 ||
		m.Verdict != VerdictFailed || m.IsComplete() || m.Name() != "w run2 #1" {
		t.Errorf("%+v", m)
	}
	// Only started so far: running, not finished.
	write(t, dir, MetadataRecordsFile, "workload=w\nentry=w\nindex=0\nrepeat=0\nstarted=100\nverdict=running\ncomplete=false\n")
	if m, err = ReadMetadata(dir); err != nil || m.Finished != nil || m.ExitCode != nil || m.Verdict != VerdictRunning || FolderVerdict(nil, m, false) != VerdictIncomplete {
		t.Errorf("started only: %+v %v", m, err)
	}
	for _, bad := range []string{"exit_code=x\n", "started=soon\n", "complete=maybe\n", "index=one\n"} {
		write(t, dir, MetadataRecordsFile, bad)
		if _, err := ReadMetadata(dir); err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), MetadataRecordsFile) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func write(t *testing.T, dir, name, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The real listing command, run over a volume holding old-form folders and a new-form one, reads
// back every folder's metadata.
func TestResultsListCommandReadsBothForms(t *testing.T) {
	for _, sh := range shells(t) {
		mount := t.TempDir()
		if err := os.CopyFS(mount, os.DirFS(filepath.Join("testdata", "old-form"))); err != nil {
			t.Fatal(err)
		}
		newDir := filepath.Join(mount, "guidellm_1795754512-4cc6_chat_stack-a")
		if err := os.MkdirAll(newDir, 0o755); err != nil {
			t.Fatal(err)
		}
		info, _ := MetadataJSON(RunInfo{Run: "1795754512-4cc6", Harness: "guidellm"})
		write(t, newDir, MetadataFile, info)
		write(t, newDir, MetadataRecordsFile, "workload=chat\nentry=chat\nstarted=7\nverdict=running\nfinished=9\nexit_code=0\nverdict=succeeded\ncomplete=true\n")
		cmd := ResultsListCommand()
		script := strings.Replace(cmd[2], ShellQuote(ResultsMount), ShellQuote(mount), 1)
		out, err := exec.Command(sh[0], append(sh[1:], "-c", script)...).Output()
		if err != nil {
			t.Fatalf("%v: %v", sh, err)
		}
		folders, err := ParseResultsList(out)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, f := range folders {
			if f.Metadata == nil {
				t.Errorf("%v: %s has no metadata", sh, f.Name)
				continue
			}
			got[f.Workload] = f.Metadata.Verdict
		}
		want := map[string]string{"sanity_random": "succeeded", "failing": "failed", "killed": "running", "chat": "succeeded"}
		if len(got) != len(want) {
			t.Errorf("%v: %v, want %v", sh, got, want)
		}
		for w, v := range want {
			if got[w] != v {
				t.Errorf("%v: %s verdict %q, want %q", sh, w, got[w], v)
			}
		}
	}
}

// A snapshot command quotes its run ID (nothing in it runs), and with SkipLog it carries no log.
func TestSnapshotCommand(t *testing.T) {
	for _, sh := range shells(t) {
		dir := t.TempDir()
		evil := "x'; touch PWNED; : '"
		cmd := exec.Command(sh[0], append(sh[1:], "-c", SnapshotCommand(evil, 0, SnapshotOptions{})[2])...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", sh, err, out)
		}
		if _, err := os.Stat(filepath.Join(dir, "PWNED")); err == nil {
			t.Errorf("%v: the run ID ran a command", sh)
		}

		state := filepath.Join(dir, "state")
		if err := os.MkdirAll(filepath.Join(state, LockDir), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, state, LogFile, "line one\nline two\n")
		write(t, state, "w"+StatusSuffix, "workload=w\nstarted=1\nfinished=2\nexit_code=0\ntimed_out=false\n")
		for _, c := range []struct {
			o   SnapshotOptions
			log string
		}{
			{SnapshotOptions{}, "line one\nline two\n"},
			{SnapshotOptions{Offset: 9}, "line two\n"},
			{SnapshotOptions{SkipLog: true}, ""},
		} {
			script := strings.Replace(SnapshotCommand("1764000000-abcd", 0, c.o)[2], ShellQuote(LauncherDir("1764000000-abcd", 0)), ShellQuote(state), 1)
			out, err := exec.Command(sh[0], append(sh[1:], "-c", script)...).Output()
			if err != nil {
				t.Fatal(err)
			}
			snap, err := ParseSnapshot(out)
			if err != nil {
				t.Fatal(err)
			}
			if string(snap.Log) != c.log || !snap.Started || snap.Done || len(snap.Workloads) != 1 || snap.Workloads[0].Verdict(true) != "succeeded" {
				t.Errorf("%v %+v: log %q, snapshot %+v", sh, c.o, snap.Log, snap)
			}
		}
	}
}

// A merged folder is named and grouped by the launchers it merges, not by launcher 0.
func TestMergedFolderName(t *testing.T) {
	m := &Metadata{RunInfo: RunInfo{Run: "r", Parallelism: 3}, Workload: "w", ParallelIndex: 0}
	if m.Name() != "w #0" || m.Group() != "r/w/0" {
		t.Errorf("launcher 0: %q %q", m.Name(), m.Group())
	}
	m.Merged = 3
	if m.Name() != "w (3 launchers)" || m.Group() != "r/w/merged" {
		t.Errorf("merged: %q %q", m.Name(), m.Group())
	}
}
