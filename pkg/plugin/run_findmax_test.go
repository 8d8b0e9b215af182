package plugin

import (
	"strings"
	"testing"
)

// run --find-max renders the search into the native profile (dry run: no cluster), and refuses
// in one line what cannot run it.
func TestRunFindMax(t *testing.T) {
	base := []string{"run", "--preset", "pd", "-n", "x", "--pvc", "p", "--base-url", "http://a.b:80", "--dry-run=client", "-o", "yaml"}
	search := []string{"--find-max", "--slo", "ttft_p90=500ms,errors=1%", "--max", "32", "--stage-duration", "30s"}
	out, errOut, err := execute(t, "", append(append(base, "--harness", "llmdbench"), search...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	for _, want := range []string{"find_max:", "slo: ttft_p90=500ms,errors=1%", "max: 32", "stage_duration: 30", "precision: 0.05", "max_probes: 12"} {
		if !strings.Contains(out, want) {
			t.Errorf("the rendered profile lacks %q", want)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{append(append(base, "--harness", "inference-perf"), search...), "--find-max needs the native harness (--harness llmdbench)"},
		{append(append(base, "--harness", "llmdbench", "--parallelism", "2"), search...), "--find-max runs in one launcher, not 2: drop --parallelism (or harness.parallelism)"},
		{append(append(base, "--harness", "llmdbench", "--rates", "2,4"), search...), "--find-max chooses every probe's load itself: drop --rates, --concurrency, --poisson and --requests-per-stage"},
		{append(base, "--harness", "llmdbench", "--slo", "ttft_p90=1s"), "--slo only tune(s) a capacity search: add --find-max"},
		{append(append(base, "--harness", "llmdbench"), "--find-max", "--slo", "ttft_p90=1s"), "--find-max needs --max, the highest level to probe"},
	} {
		_, _, err := execute(t, "", c.args...)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%v: got %v, want %q", c.args[len(base):], err, c.want)
		}
	}
}
