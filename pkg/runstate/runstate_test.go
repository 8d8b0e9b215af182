package runstate

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPaths(t *testing.T) {
	if got := LauncherDir("1764000000-abcd", 1); got != "/requests/.llmdbench/1764000000-abcd/1" {
		t.Errorf("launcher dir %s", got)
	}
	if got := ResultsDir("inference-perf", "r1", "sanity_random", "stack-a", 0, 1); got != "/requests/inference-perf_r1_sanity_random_stack-a" {
		t.Errorf("single launcher results dir %s", got)
	}
	if got := ResultsDir("guidellm", "r1", "w", "s", 2, 3); got != "/requests/guidellm_r1_w_s_2" {
		t.Errorf("parallel results dir %s", got)
	}
}

func TestParseStatus(t *testing.T) {
	s, err := ParseStatus([]byte("workload=w1\nindex=2\nresults_dir=/requests/x\nstarted=1764000000\nfinished=1764000060\ntimed_out=true\nexit_code=143\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Workload != "w1" || s.Index != 2 || s.ResultsDir != "/requests/x" || !s.TimedOut || *s.ExitCode != 143 ||
		s.FinishedAt.Sub(s.StartedAt) != time.Minute || s.Succeeded() || !s.Finished() {
		t.Errorf("%+v", s)
	}
	running, err := ParseStatus([]byte("workload=w2\nstarted=1764000000\n"))
	if err != nil || running.Finished() || running.Succeeded() {
		t.Errorf("running: %+v %v", running, err)
	}
	for _, bad := range []string{"exit_code=x\n", "started=yesterday\n", "index=one\n"} {
		if _, err := ParseStatus([]byte(bad)); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// The listing pairs folders with their status and metadata; a folder with broken metadata is still
// listed.
func TestParseResultsListWithMetadata(t *testing.T) {
	out := markFolder + "12 1795754512 0 llmdbench_1795754512-4cc6_sanity_random_run2_stack-a\n" +
		markFolder + "4 1795754512 0 llmdbench_1795754512-4cc6_other_stack-a\n" +
		markMeta + "llmdbench_1795754512-4cc6_sanity_random_run2_stack-a\n" +
		"{\n  \"run\": \"1795754512-4cc6\",\n  \"labels\": {\"sut\": \"a\"},\n  \"workload\": \"sanity_random\",\n  \"entry\": \"sanity_random_run2\",\n  \"repeat\": 2,\n  \"verdict\": \"succeeded\"\n}\n" +
		markMeta + "llmdbench_1795754512-4cc6_other_stack-a\n{broken\n"
	folders, err := ParseResultsList([]byte(out))
	if err != nil || len(folders) != 2 {
		t.Fatalf("%v, %d folders", err, len(folders))
	}
	m := folders[0].Metadata
	if m == nil || m.Repeat != 2 || !m.Matches(map[string]string{"sut": "a"}) || m.Matches(map[string]string{"sut": "b"}) {
		t.Fatalf("metadata %+v", m)
	}
	if folders[0].Workload != "sanity_random_run2" || folders[0].Stack != "stack-a" || folders[0].Run != "1795754512-4cc6" {
		t.Errorf("names: %+v", folders[0])
	}
	if folders[1].Metadata != nil || m.Name() != "sanity_random run2" {
		t.Errorf("broken metadata kept, or name %q", m.Name())
	}
}

// Every way a workload's status and its launcher's existence combine, with the verdict each must
// give (field case: a run whose launcher pod was deleted, or that was `delete --force`d, was listed
// as "running" forever).
func TestWorkloadVerdictFromStatusAndLauncher(t *testing.T) {
	cases := []struct {
		name   string
		status string
		alive  bool
		want   string
	}{
		{"succeeded", "workload=w\nstarted=1\nfinished=2\ntimed_out=false\nexit_code=0\n", true, "succeeded"},
		{"succeeded, launcher gone since", "workload=w\nstarted=1\nfinished=2\ntimed_out=false\nexit_code=0\n", false, "succeeded"},
		{"failed", "workload=w\nstarted=1\nfinished=2\ntimed_out=false\nexit_code=3\n", true, "failed"},
		{"timed out", "workload=w\nstarted=1\nfinished=2\ntimed_out=true\nexit_code=143\n", false, "timed-out"},
		{"harness failed, stopped", "workload=w\nstarted=1\nharness_failed=true\nfinished=2\ntimed_out=false\nexit_code=143\n", true, "failed"},
		{"harness failed, not yet stopped", "workload=w\nstarted=1\nharness_failed=true\n", true, "failed"},
		// The harness's exit code may be 0 when the stop came between retries: still failed.
		{"harness failed, exit 0", "workload=w\nstarted=1\nharness_failed=true\nfinished=2\nexit_code=0\n", true, "failed"},
		{"running", "workload=w\nstarted=1\n", true, "running"},
		{"launcher deleted mid-run", "workload=w\nstarted=1\n", false, "incomplete"},
	}
	for _, c := range cases {
		s, err := ParseStatus([]byte(c.status))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := s.Verdict(c.alive); got != c.want {
			t.Errorf("%s: verdict %q, want %q", c.name, got, c.want)
		}
	}
}

func TestStatusKeepsEveryStderrLineInOrder(t *testing.T) {
	s, err := ParseStatus([]byte("workload=w\nstderr=Traceback (most recent call last):\nharness_failed=true\nstderr=ValueError: a=b\nstderr=\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Traceback (most recent call last):", "ValueError: a=b", ""}
	if len(s.Stderr) != len(want) || !s.HarnessFailed {
		t.Fatalf("%+v", s)
	}
	for i := range want {
		if s.Stderr[i] != want[i] {
			t.Errorf("line %d: %q, want %q", i, s.Stderr[i], want[i])
		}
	}
}

func TestFolderVerdict(t *testing.T) {
	running := &Metadata{Verdict: VerdictRunning}
	failed := &Metadata{Verdict: VerdictFailed}
	unfinished := &WorkloadStatus{Workload: "w"}
	code := 0
	done := &WorkloadStatus{Workload: "w", ExitCode: &code}
	cases := []struct {
		name  string
		st    *WorkloadStatus
		meta  *Metadata
		alive bool
		want  string
		full  bool
	}{
		{"status wins over metadata", done, running, false, "succeeded", true},
		{"unfinished status, launcher alive", unfinished, running, true, "running", false},
		{"unfinished status, launcher gone", unfinished, running, false, "incomplete", false},
		{"run folder gone, metadata running, launcher gone", nil, running, false, "incomplete", false},
		{"run folder gone, metadata running, launcher alive", nil, running, true, "running", false},
		{"metadata failed", nil, failed, false, "failed", false},
		{"foreign folder", nil, nil, false, "", true},
	}
	for _, c := range cases {
		got := FolderVerdict(c.st, c.meta, c.alive)
		if got != c.want || Complete(got) != c.full {
			t.Errorf("%s: %q complete=%v, want %q complete=%v", c.name, got, Complete(got), c.want, c.full)
		}
	}
}

// The listing of a run whose launcher was deleted mid-run: its folder is incomplete; the same
// listing with the launcher alive says running; a finished folder of the same run stays succeeded.
func TestDecideFromTheListing(t *testing.T) {
	out := markFolder + "8 1795754512 0 inference-perf_1795754512-4cc6_slow_stack-a\n" +
		markFolder + "8 1795754512 0 inference-perf_1795754512-4cc6_quick_stack-a\n" +
		markFolder + "8 1795754512 0 someone-elses-folder\n" +
		markStatus + ".llmdbench/1795754512-4cc6/0/slow.status\n" +
		"workload=slow\nindex=0\nresults_dir=/requests/inference-perf_1795754512-4cc6_slow_stack-a\nstarted=1795754512\n" +
		markStatus + ".llmdbench/1795754512-4cc6/0/quick.status\n" +
		"workload=quick\nindex=0\nresults_dir=/requests/inference-perf_1795754512-4cc6_quick_stack-a\nstarted=1795754512\nfinished=1795754520\ntimed_out=false\nexit_code=0\n"
	for _, alive := range []bool{false, true} {
		folders, err := ParseResultsList([]byte(out))
		if err != nil || len(folders) != 3 {
			t.Fatalf("%v %d", err, len(folders))
		}
		var asked []string
		Decide(folders, func(run string, index int) bool {
			asked = append(asked, run+"/"+strconv.Itoa(index))
			return alive
		})
		slow := VerdictIncomplete
		if alive {
			slow = VerdictRunning
		}
		if f := folders[0]; f.Verdict != slow || f.Complete == nil || *f.Complete {
			t.Errorf("alive=%v slow: %q complete=%v", alive, f.Verdict, f.Complete)
		}
		if f := folders[1]; f.Verdict != VerdictSucceeded || f.Complete == nil || !*f.Complete {
			t.Errorf("alive=%v quick: %q complete=%v", alive, f.Verdict, f.Complete)
		}
		if f := folders[2]; f.Verdict != "" || f.Complete != nil {
			t.Errorf("foreign folder: %q complete=%v", f.Verdict, f.Complete)
		}
		if len(asked) != 2 || asked[0] != "1795754512-4cc6/0" {
			t.Errorf("launchers asked about: %v", asked)
		}
	}
}

// The run script writes the metadata twice: at the start (running, no exit code, not complete)
// and at the end. A null exit code stays null, never a 0.
func TestMetadataWhileRunningAndSettled(t *testing.T) {
	m, err := ParseMetadata([]byte(`{"run": "r", "workload": "w", "started": 5, "finished": null, "exitCode": null, "verdict": "running", "complete": false}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.ExitCode != nil || m.Finished != nil || m.IsComplete() {
		t.Errorf("running metadata: %+v", m)
	}
	m.Settle(VerdictIncomplete)
	if m.Verdict != VerdictIncomplete || m.Complete == nil || *m.Complete || m.IsComplete() {
		t.Errorf("settled: %+v", m)
	}
	old, err := ParseMetadata([]byte(`{"run": "r", "exitCode": 0, "finished": 9, "verdict": "succeeded"}`))
	if err != nil || !old.IsComplete() || *old.ExitCode != 0 || *old.Finished != 9 {
		t.Errorf("metadata without the complete field: %+v %v", old, err)
	}
	old.Settle("")
	if old.Verdict != VerdictSucceeded || old.Complete != nil {
		t.Errorf("an empty verdict changes nothing: %+v", old)
	}
}
