package native

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The simulator has a known capacity: with --max-num-seqs M, time-to-first-token T, inter-token
// latency I and outputs of L tokens it serves about M / (T + L·I) requests per second before
// queueing raises TTFT: 8 / (0.05 + 50·0.007) = 20 req/s here (sanity_random's outputs average 50
// tokens). A dense sweep measures where TTFT p90 crosses 150 ms; `run --find-max` must answer within
// 10 % of it in at most 10 probes (issue 17).
func TestFindMaxAgainstADenseSweep(t *testing.T) {
	simulator(t, "127.0.0.7:80", "--max-num-seqs", "8", "--time-to-first-token", "50ms", "--inter-token-latency", "7ms")
	installPlugin(t)
	ns := cl.Namespace(t)
	gatewayService(t, ns, "127.0.0.7")
	const slo = 0.150
	base := []string{"run", "--preset", "inference-scheduling", "-n", ns, "--pvc", "results", "--create-pvc",
		"--harness", "llmdbench", "--workload", "sanity_random", "--stage-duration", "6s"}

	// The dense sweep: every 2 req/s from 12 to 30.
	cmd := cl.PluginCmd(t, "", append(base, "--rates", "12,14,16,18,20,22,24,26,28,30")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sweep: %v\n%s", err, out)
	}
	sweep, _ := filepath.Glob(filepath.Join(cmd.Dir, "llmdbench-results", "*", "llmdbench_*_sanity_random_*"))
	if len(sweep) != 1 {
		t.Fatalf("sweep folders: %v", sweep)
	}
	dense := 0.0
	var seen []string
	for _, st := range showJSON(t, sweep[0]).Stages {
		p90 := st.Latency.TTFT.P90
		if p90 == nil || st.RequestedRate == nil {
			t.Fatalf("sweep stage without TTFT p90 or rate: %+v", st)
		}
		seen = append(seen, fmt.Sprintf("%g:%.0f", *st.RequestedRate, *p90*1000))
		if *p90 <= slo && st.Requests.Failed == 0 && *st.RequestedRate > dense {
			dense = *st.RequestedRate
		}
	}
	t.Logf("dense sweep, rate:TTFT p90 ms: %s; highest within 150 ms: %g req/s", strings.Join(seen, " "), dense)
	if dense == 0 {
		t.Fatal("no sweep stage met the SLO")
	}

	cmd = cl.PluginCmd(t, "", append(base, "--find-max", "--slo", "ttft_p90=150ms", "--min", "4", "--max", "64",
		"--precision", "5%", "--max-stages", "10")...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("find-max: %v\n%s", err, out)
	}
	found, _ := filepath.Glob(filepath.Join(cmd.Dir, "llmdbench-results", "*", "llmdbench_*_sanity_random_*"))
	if len(found) != 1 {
		t.Fatalf("find-max folders: %v", found)
	}
	rep := showJSON(t, found[0])
	c := rep.Capacity
	if c == nil || c.Passing == nil {
		t.Fatalf("no capacity answer: %+v\n%s", c, out)
	}
	t.Logf("find-max: %s (%d probes); dense sweep: %g req/s", c.Answer, len(c.Probes), dense)
	if len(c.Probes) > 10 {
		t.Errorf("%d probes, want at most 10", len(c.Probes))
	}
	if math.Abs(*c.Passing-dense)/dense > 0.10 {
		t.Errorf("find-max answered %g req/s, the dense sweep %g req/s: more than 10 %% apart", *c.Passing, dense)
	}
	show := cl.Plugin(t, "", time.Minute, "results", "show", found[0])
	if !strings.Contains(show.Stdout, "Capacity: ") {
		t.Errorf("results show does not put the answer on top:\n%s", show.Stdout)
	}
}
