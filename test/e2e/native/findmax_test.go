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
	cl.InstallPlugin(t)
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
	// The sweep places the knee between its last passing rate and its first failing one (2 req/s
	// apart); find-max must land within 10 % of that interval. Comparing with the passing end alone
	// would fail whenever the knee sits just below a sweep point, as one run here showed (16 passed
	// at 58 ms, 18 failed at 160 ms, find-max's own probe at 18 passed at 148 ms).
	dense, firstFail := 0.0, 0.0
	var seen []string
	for _, st := range showJSON(t, sweep[0]).Stages {
		p90 := st.Latency.TTFT.P90
		if p90 == nil || st.RequestedRate == nil {
			t.Fatalf("sweep stage without TTFT p90 or rate: %+v", st)
		}
		seen = append(seen, fmt.Sprintf("%g:%.0f", *st.RequestedRate, *p90*1000))
		pass := *p90 <= slo && st.Requests.Failed == 0
		if pass && firstFail == 0 {
			dense = *st.RequestedRate
		} else if !pass && firstFail == 0 {
			firstFail = *st.RequestedRate
		}
	}
	t.Logf("dense sweep, rate:TTFT p90 ms: %s; knee within 150 ms between %g and %g req/s", strings.Join(seen, " "), dense, firstFail)
	if dense == 0 || firstFail == 0 {
		t.Fatal("the sweep does not bracket the knee")
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
	t.Logf("find-max: %s (%d probes); dense sweep: %g-%g req/s", c.Answer, len(c.Probes), dense, firstFail)
	if len(c.Probes) > 10 {
		t.Errorf("%d probes, want at most 10", len(c.Probes))
	}
	if *c.Passing < 0.9*dense || *c.Passing > 1.1*firstFail {
		t.Errorf("find-max answered %g req/s, the dense sweep's knee is in %g-%g req/s: more than 10 %% outside", *c.Passing, dense, firstFail)
	}
	show := cl.Plugin(t, "", time.Minute, "results", "show", found[0])
	if !strings.Contains(show.Stdout, "Capacity: ") {
		t.Errorf("results show does not put the answer on top:\n%s", show.Stdout)
	}
}

// By concurrency: the simulator runs 8 requests at once, so TTFT stays at 50 ms up to 8 requests in
// flight and grows with the queue beyond. A dense sweep of concurrency levels and `--find-max --by
// concurrency` must agree within 10 % (whole levels: here, the same level or one apart at most
// when the knee is near 10).
func TestFindMaxByConcurrencyAgainstADenseSweep(t *testing.T) {
	simulator(t, "127.0.0.8:80", "--max-num-seqs", "8", "--time-to-first-token", "50ms", "--inter-token-latency", "7ms")
	cl.InstallPlugin(t)
	ns := cl.Namespace(t)
	gatewayService(t, ns, "127.0.0.8")
	const slo = 0.150
	base := []string{"run", "--preset", "inference-scheduling", "-n", ns, "--pvc", "results", "--create-pvc",
		"--harness", "llmdbench", "--workload", "sanity_random"}

	// --concurrency sends 10 requests per stream by default (find-max's probes send 20).
	levels := []int{4, 6, 8, 9, 10, 11, 12, 14, 16}
	cmd := cl.PluginCmd(t, "", append(base, "--concurrency", "4,6,8,9,10,11,12,14,16")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sweep: %v\n%s", err, out)
	}
	sweep, _ := filepath.Glob(filepath.Join(cmd.Dir, "llmdbench-results", "*", "llmdbench_*_sanity_random_*"))
	if len(sweep) != 1 {
		t.Fatalf("sweep folders: %v", sweep)
	}
	// As by rate: the knee is between the sweep's last passing level and its first failing one.
	dense, firstFail := 0, 0
	var seen []string
	for i, st := range showJSON(t, sweep[0]).Stages {
		p90 := st.Latency.TTFT.P90
		if p90 == nil || i >= len(levels) {
			t.Fatalf("sweep stage %d: %+v", i, st)
		}
		seen = append(seen, fmt.Sprintf("%d:%.0f", levels[i], *p90*1000))
		pass := *p90 <= slo && st.Requests.Failed == 0
		if pass && firstFail == 0 {
			dense = levels[i]
		} else if !pass && firstFail == 0 {
			firstFail = levels[i]
		}
	}
	t.Logf("dense sweep, concurrency:TTFT p90 ms: %s; knee within 150 ms between %d and %d", strings.Join(seen, " "), dense, firstFail)
	if dense == 0 || firstFail == 0 {
		t.Fatal("the sweep does not bracket the knee")
	}
	cmd = cl.PluginCmd(t, "", append(base, "--find-max", "--by", "concurrency", "--slo", "ttft_p90=150ms", "--min", "2", "--max", "64",
		"--precision", "5%", "--max-stages", "10")...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("find-max: %v\n%s", err, out)
	}
	found, _ := filepath.Glob(filepath.Join(cmd.Dir, "llmdbench-results", "*", "llmdbench_*_sanity_random_*"))
	if len(found) != 1 {
		t.Fatalf("find-max folders: %v", found)
	}
	c := showJSON(t, found[0]).Capacity
	if c == nil || c.Passing == nil {
		t.Fatalf("no capacity answer: %+v\n%s", c, out)
	}
	t.Logf("find-max by concurrency: %s (%d probes); dense sweep: %d-%d", c.Answer, len(c.Probes), dense, firstFail)
	slack := math.Max(1, 0.10*float64(dense))
	if len(c.Probes) > 10 || *c.Passing < float64(dense)-slack || *c.Passing > float64(firstFail) {
		t.Errorf("find-max answered %g in %d probes, the dense sweep's knee is in %d-%d", *c.Passing, len(c.Probes), dense, firstFail)
	}
}
