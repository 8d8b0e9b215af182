package plugin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
