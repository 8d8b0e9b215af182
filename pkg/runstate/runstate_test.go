package runstate

import (
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
