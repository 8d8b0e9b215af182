package plugin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// aiperfConfig is a run_only.sh config with the aiperf harness (its profile in the shape of
// llm-d-benchmark's workload/profiles/aiperf/synthetic.yaml.in) and the given image.
func aiperfConfig(t *testing.T, image string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "aiperf.yaml")
	body := `endpoint:
  stack_name: sim
  model: m
  namespace: ns
  base_url: http://gw.ns.svc.cluster.local:80
  hf_token_secret: ""
harness:
  name: aiperf
  results_pvc: workload-pvc
  namespace: ns
  parallelism: 1
  wait_timeout: 600
  image: ` + image + `
workload:
  synthetic:
    model: m
    url: http://gw.ns.svc.cluster.local:80
    endpoint-type: chat
    concurrency: 16
    request-count: 500
    isl: 1000
    osl: 200
`
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// --harness aiperf is refused in one line, before anything is printed or created, with an image
// that has no aiperf harness; accepted with one that has it.
func TestRunAIPerfHarnessByImage(t *testing.T) {
	old := aiperfConfig(t, "ghcr.io/llm-d/llm-d-benchmark:v0.4.0")
	refusesBadInput(t, []badInput{
		{[]string{"run", "--config", old, "--dry-run=client"},
			"harness aiperf is not in the image ghcr.io/llm-d/llm-d-benchmark:v0.4.0: llm-d-benchmark images have it from v0.6.8 on"},
		{[]string{"run", "--config", old}, "harness aiperf is not in the image"},
		{[]string{"run", "--config", aiperfConfig(t, "ghcr.io/llm-d/llm-d-benchmark:v0.8.0"), "--image", "ghcr.io/llm-d/llm-d-benchmark:v0.6.7", "--dry-run=client"},
			"harness aiperf is not in the image ghcr.io/llm-d/llm-d-benchmark:v0.6.7"},
		{[]string{"run", "--config", aiperfConfig(t, "ghcr.io/llm-d/llm-d-benchmark:v0.8.0"), "--parallelism", "2", "--dry-run=client"},
			"the aiperf profile is not split among launchers"},
	})
	out, _, err := execute(t, "", "run", "--config", old, "--image", "ghcr.io/llm-d/llm-d-benchmark:v0.6.8", "--dry-run=client", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"image: ghcr.io/llm-d/llm-d-benchmark:v0.6.8", "synthetic.yaml: |", "request-count: 500"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run misses %q", want)
		}
	}
}

// --no-pvc's flags are refused in one line before anything is printed or created.
func TestRunNoPVCRefusals(t *testing.T) {
	base := []string{"run", "--preset", "pd", "-n", "x", "--base-url", "http://a:80", "--dry-run=client", "--no-pvc"}
	refusesBadInput(t, []badInput{
		{append(base, "--pvc", "p"), "--no-pvc and --pvc are exclusive"},
		{append(base, "--create-pvc"), "--no-pvc and --create-pvc are exclusive"},
		{append(base, "--keep-for", "0s"), "--keep-for 0s: it must be more than zero"},
		{append(base, "--parallelism", "2"), "--no-pvc runs one launcher, not 2"},
		{[]string{"run", "--preset", "pd", "-n", "x", "--pvc", "p", "--base-url", "http://a:80", "--dry-run=client", "--keep-for", "1h"},
			"--keep-for is for --no-pvc runs"},
		{[]string{"run", "--preset", "pd", "-n", "x", "--base-url", "http://a:80", "--no-pvc", "--no-fetch"},
			"--no-fetch with --no-pvc would leave the results to vanish"},
	})
	// The dry run shows the emptyDir, the keep-for and no claim.
	out, _, err := execute(t, "", append(base, "--keep-for", "10m", "-o", "yaml")...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"emptyDir: {}", "llmdbench.io/keep-for: 10m0s", "keep_for_s='600'"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run misses %q", want)
		}
	}
	if strings.Contains(out, "claimName") || strings.Contains(out, "kind: PersistentVolumeClaim") {
		t.Error("a --no-pvc run mounts or creates a claim")
	}
}
