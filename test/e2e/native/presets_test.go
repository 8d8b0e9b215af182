package native

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/llmdbench/kubectl-llmdbench/pkg/config"
	"github.com/llmdbench/kubectl-llmdbench/pkg/preset"
	"github.com/llmdbench/kubectl-llmdbench/test/e2e/framework"
)

// Every preset the native generator has workloads for runs end to end with --harness llmdbench
// against the simulator serving the preset's model (issue 19): short stages (--rates 4
// --stage-duration 2s, so 8 requests per workload), each workload's result folder fetched, every
// request succeeded and counted by the simulator, and the model recorded is the preset's.
func TestEveryPresetRunsNatively(t *testing.T) {
	names := preset.Names()
	cl.InstallPlugin(t)
	ns := cl.Namespace(t)
	ran := 0
	for _, name := range names {
		has, err := preset.HarnessesOf(name)
		if err != nil {
			t.Fatal(err)
		}
		if !contains(has, config.HarnessNative) {
			t.Errorf("preset %s has no workloads for the native harness (%v)", name, has)
			continue
		}
		doc, err := preset.LoadFor(name, config.HarnessNative)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := doc.Lookup("endpoint", "model")
		workloads := doc.Workloads()
		t.Run(name, func(t *testing.T) {
			// The simulator serves the preset's model (it refuses requests naming another); the
			// longest guide prompts (tiered-prefix-cache: 16000-token prefixes) fit in 65536.
			addr, err := framework.FreeLoopback()
			if err != nil {
				t.Fatal(err)
			}
			sim, err := cl.StartSimulator(addr, m, "--max-num-seqs", "256", "--max-model-len", "65536")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(sim.Stop)
			cmd := cl.PluginCmd(t, "", "run", "--preset", name, "--harness", "llmdbench", "-n", ns,
				"--pvc", "results", "--create-pvc", "--base-url", "http://"+sim.Addr,
				"--rates", "4", "--stage-duration", "2s")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("run: %v\n%s", err, out)
			}
			for _, w := range workloads {
				dirs, _ := filepath.Glob(filepath.Join(cmd.Dir, "llmdbench-results", "*", fmt.Sprintf("llmdbench_*_%s_*", w)))
				if len(dirs) != 1 {
					t.Errorf("workload %s: result folders %v\n%s", w, dirs, out)
					continue
				}
				rep := showJSON(t, dirs[0])
				if len(rep.Stages) != 1 || rep.Stages[0].Requests == nil || rep.Stages[0].Requests.Succeeded != 8 || rep.Stages[0].Requests.Failed != 0 {
					t.Errorf("workload %s: want one stage of 8 requests, all succeeded: %+v", w, rep.Stages)
				}
				if rep.Model != m {
					t.Errorf("workload %s: model %q, want the preset's %q", w, rep.Model, m)
				}
			}
			if got, err := sim.Metrics(); err != nil || int(metric(got, "vllm:request_success_total")) != 8*len(workloads) {
				t.Errorf("the simulator served %v requests, want %d (%v)", metric(got, "vllm:request_success_total"), 8*len(workloads), err)
			}
		})
		ran++
	}
	if ran < 6 {
		t.Errorf("%d presets ran natively, want all 6", ran)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
