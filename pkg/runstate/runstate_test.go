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
