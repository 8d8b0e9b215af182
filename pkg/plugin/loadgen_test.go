package plugin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
	"github.com/llmdbench/kubectl-llmdbench/pkg/loadgen"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// `loadgen --output-dir DIR` writes its results into DIR; the old `--output DIR` still does, with a
// deprecation warning on stderr.
func TestLoadgenOutputDirAndItsDeprecatedAlias(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Prompt    string `json:"prompt"`
			MaxTokens int    `json:"max_tokens"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for range body.MaxTokens {
			fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"finish_reason\":null,\"text\":\"w \"}]}\n\n")
		}
		fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"finish_reason\":\"length\",\"text\":\"\"}]}\n\n")
		fmt.Fprintf(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d}}\n\ndata: [DONE]\n\n", len(strings.Fields(body.Prompt)), body.MaxTokens)
	}))
	defer srv.Close()
	dir := t.TempDir()
	profile := filepath.Join(dir, "profile.yaml")
	if err := os.WriteFile(profile, []byte(`load: {type: constant, interval: 0, stages: [{rate: 4, duration: 1}]}
api: {type: completion, streaming: true}
server: {model_name: m, base_url: `+srv.URL+`}
data: {type: random, input_distribution: {min: 5, max: 5, mean: 5}, output_distribution: {min: 2, max: 2, mean: 2}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, spelling := range []string{"--output-dir", "--output"} {
		t.Run(spelling, func(t *testing.T) {
			out := filepath.Join(dir, strings.TrimLeft(spelling, "-"))
			// In the launcher the run script has put the run's metadata into the folder, with the
			// workload still running (it is: the generator is the workload). The generator's own
			// report is complete all the same, and must not be called PARTIAL.
			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}
			meta := `{"run": "1795740000-ab12", "workload": "w", "launcher": 0, "verdict": "running", "exitCode": null}`
			if err := os.WriteFile(filepath.Join(out, runstate.MetadataFile), []byte(meta), 0o644); err != nil {
				t.Fatal(err)
			}
			stdout, stderr, err := execute(t, "", "loadgen", "--config", profile, spelling, out, "--transport", "net-http")
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			if _, err := os.Stat(filepath.Join(out, loadgen.SummaryFile)); err != nil {
				t.Errorf("no %s in %s: %v", loadgen.SummaryFile, out, err)
			}
			deprecated := strings.Contains(stderr, "Flag --output has been deprecated, use --output-dir")
			if deprecated != (spelling == "--output") {
				t.Errorf("deprecation warning %v for %s:\n%s", deprecated, spelling, stderr)
			}
			if strings.Contains(stdout+stderr, "PARTIAL") || !strings.Contains(stdout, "STAGE") {
				t.Errorf("the generator's finished report must be printed whole, not PARTIAL:\n%s\n%s", stdout, stderr)
			}
			if strings.Contains(stdout, "deprecated") {
				t.Errorf("a warning on stdout: %s", stdout)
			}
		})
	}
}

// countingServer answers every completion with two streamed tokens and counts the requests.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"finish_reason\":null,\"text\":\"w \"}]}\n\n")
		fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"finish_reason\":\"length\",\"text\":\"w\"}]}\n\n")
		fmt.Fprint(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n")
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// Launcher 1 of 2 from the pod's environment sends half of the profile's 8 requests; its
// barrier, which launcher 0 never reaches, times out and says so in llmdbench-launcher.json.
func TestLoadgenAsOneOfTwoLaunchers(t *testing.T) {
	srv, served := countingServer(t)
	dir := t.TempDir()
	profile := filepath.Join(dir, "profile.yaml")
	if err := os.WriteFile(profile, []byte(`load: {type: constant, interval: 0, stages: [{rate: 8, duration: 1}]}
api: {type: completion, streaming: true}
server: {model_name: m, base_url: `+srv.URL+`}
data: {type: random, input_distribution: {min: 5, max: 5, mean: 5, total_count: 4}, output_distribution: {min: 2, max: 2, mean: 2}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(launcher.EnvLauncherIndex, "1")
	t.Setenv(launcher.EnvLauncherCount, "2")
	out := filepath.Join(dir, "out")
	barrier := filepath.Join(dir, "barrier", "w")
	_, stderr, err := execute(t, "", "loadgen", "--config", profile, "--output-dir", out, "--barrier-dir", barrier, "--barrier-timeout", "200ms")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if served.Load() != 4 {
		t.Fatalf("launcher 1 of 2 sent %d requests, want 4 of the profile's 8", served.Load())
	}
	l, err := runstate.ReadLaunch(out)
	if err != nil {
		t.Fatal(err)
	}
	if l.Index != 1 || l.Count != 2 || l.Mode != runstate.ModeSplit || len(l.Stages) != 1 {
		t.Fatalf("%+v", l)
	}
	st := l.Stages[0]
	if !st.TimedOut || !reflect.DeepEqual(st.Missing, []int{0}) || !reflect.DeepEqual(st.Present, []int{1}) || st.AgreedStart == nil || st.Started == nil || *st.Started < *st.AgreedStart {
		t.Fatalf("%+v", st)
	}
	if _, err := os.Stat(filepath.Join(barrier, "stage_0", runstate.BarrierGo)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "launcher 1 of 2, split") {
		t.Errorf("stderr does not say which launcher this is:\n%s", stderr)
	}

	// The flags beat the environment; one launcher writes no launch file and waits at no barrier.
	one := filepath.Join(dir, "one")
	if _, stderr, err := execute(t, "", "loadgen", "--config", profile, "--output-dir", one, "--launcher-count", "1", "--launcher-index", "0", "--barrier-dir", filepath.Join(dir, "b1")); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if served.Load() != 4+8 {
		t.Fatalf("one launcher sent %d requests, want the profile's 8", served.Load()-4)
	}
	if _, err := os.Stat(filepath.Join(one, runstate.LaunchFile)); !os.IsNotExist(err) {
		t.Fatalf("one launcher wrote %s: %v", runstate.LaunchFile, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "b1")); !os.IsNotExist(err) {
		t.Fatalf("one launcher made a barrier: %v", err)
	}
}

// A split that leaves a launcher nothing is refused in one line before any request is sent.
func TestLoadgenRefusesABadSplit(t *testing.T) {
	srv, served := countingServer(t)
	dir := t.TempDir()
	profile := filepath.Join(dir, "profile.yaml")
	if err := os.WriteFile(profile, []byte(`load: {type: concurrent, stages: [{num_requests: 10, concurrency_level: 2}]}
api: {type: completion, streaming: true}
server: {model_name: m, base_url: `+srv.URL+`}
data: {type: random, input_distribution: {min: 5, max: 5, mean: 5, total_count: 4}, output_distribution: {min: 2, max: 2, mean: 2}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := execute(t, "", "loadgen", "--config", profile, "--output-dir", filepath.Join(dir, "out"), "--launcher-count", "3", "--launcher-index", "0")
	want := "load.stages[0].concurrency_level: 2 concurrency cannot be split among 3 launchers (launcher 2 would get none): use at most 2 launchers, or have each launcher replicate the whole load"
	if err == nil || err.Error() != want || served.Load() != 0 {
		t.Fatalf("got %v (%d requests sent), want %s", err, served.Load(), want)
	}
	// Replicate sends the whole profile from each launcher: nothing to split.
	if _, stderr, err := execute(t, "", "loadgen", "--config", profile, "--output-dir", filepath.Join(dir, "rep"), "--launcher-count", "3", "--launcher-index", "2", "--parallelism-mode", "replicate"); err != nil || served.Load() != 10 {
		t.Fatalf("%v (%d requests)\n%s", err, served.Load(), stderr)
	}
}

func TestLoadgenLauncherFlagsValidate(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"--launcher-count", "0"}, "", "--launcher-count 0: need at least 1"},
		{[]string{"--launcher-count", "3", "--launcher-index", "3"}, "", "--launcher-index 3: use 0 to 2 (--launcher-count 3)"},
		{[]string{"--launcher-index", "-1"}, "", "--launcher-index -1: use 0 to 0 (--launcher-count 1)"},
		{[]string{"--parallelism-mode", "share"}, "", `--parallelism-mode "share": use split or replicate`},
		{[]string{"--barrier-timeout", "0s"}, "", "--barrier-timeout must be positive"},
		{nil, "two", `$` + launcher.EnvLauncherCount + ` is "two", not a whole number`},
		{nil, "2", "index 0 of 2 from the environment passes"},
	} {
		t.Run(c.want, func(t *testing.T) {
			if c.env != "" {
				t.Setenv(launcher.EnvLauncherCount, c.env)
			}
			args := append([]string{"loadgen", "--config", "/nonexistent/profile.yaml"}, c.args...)
			_, _, err := execute(t, "", args...)
			if c.env == "2" {
				// Validation passed: the run fails reading the profile.
				if err == nil || !strings.Contains(err.Error(), "reading the profile") {
					t.Fatalf("got %v", err)
				}
				return
			}
			if err == nil || err.Error() != c.want {
				t.Fatalf("got %v, want %s", err, c.want)
			}
		})
	}
}
