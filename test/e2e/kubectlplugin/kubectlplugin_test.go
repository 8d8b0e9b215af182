// Package kubectlplugin runs the built plugin the way users do: through kubectl's plugin mechanism.
package kubectlplugin

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/llmdbench/kubectl-llmdbench/test/e2e/framework"
)

// pluginDir returns a folder holding only kubectl-llmdbench: the one `make build` made, or a fresh build.
func pluginDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := os.Getenv("LLMDBENCH_PLUGIN")
	if bin == "" {
		root, err := framework.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		bin = filepath.Join(dir, "build", "kubectl-llmdbench")
		build := exec.Command("go", "build", "-o", bin, "./cmd/kubectl-llmdbench")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	if err := os.Symlink(bin, filepath.Join(dir, "kubectl-llmdbench")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func kubectl(t *testing.T, dir string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command("kubectl", args...)
	// Only the plugin and kubectl's own folder on PATH; no cluster anywhere.
	kubectlPath, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+filepath.Dir(kubectlPath), "KUBECONFIG="+filepath.Join(dir, "none"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	return string(out), stderr.String(), err
}

func TestPluginListFindsItWithoutWarnings(t *testing.T) {
	dir := pluginDir(t)
	out, stderr, err := kubectl(t, dir, "plugin", "list")
	if err != nil || !strings.Contains(out, filepath.Join(dir, "kubectl-llmdbench")) {
		t.Fatalf("kubectl plugin list: %v\n%s\n%s", err, out, stderr)
	}
	if strings.Contains(strings.ToLower(out+stderr), "warning:") || strings.Contains(stderr, "error") {
		t.Errorf("kubectl plugin list warns:\n%s%s", out, stderr)
	}
}

func TestCommandsThroughKubectl(t *testing.T) {
	dir := pluginDir(t)
	out, _, err := kubectl(t, dir, "llmdbench", "presets")
	if err != nil || !strings.Contains(out, "inference-scheduling") || !strings.Contains(out, "wide-ep") {
		t.Fatalf("presets: %v\n%s", err, out)
	}
	out, _, err = kubectl(t, dir, "llmdbench", "presets", "show", "pd")
	if err != nil || !strings.Contains(out, "stack_name: &stack_name pd-gpt-oss-120b") {
		t.Fatalf("presets show pd: %v\n%s", err, out)
	}
	for _, p := range []string{"inference-scheduling", "pd", "wide-ep"} {
		out, stderr, err := kubectl(t, dir, "llmdbench", "run", "--preset", p, "-n", "ns", "--base-url", "http://10.0.0.7:80",
			"--pvc", "p", "--dry-run=client", "-o", "yaml")
		if err != nil {
			t.Fatalf("%s: %v\n%s", p, err, stderr)
		}
		docs := strings.Split(out, "\n---\n")
		if len(docs) != 2 {
			t.Fatalf("%s: want a ConfigMap and a Pod, got %d documents", p, len(docs))
		}
		for _, d := range docs {
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(d), &obj); err != nil || obj["kind"] == nil {
				t.Errorf("%s: not an object: %v", p, err)
			}
		}
	}
	_, stderr, err := kubectl(t, dir, "llmdbench", "run", "--preset", "nope")
	if err == nil || !strings.Contains(stderr, `unknown preset "nope"`) {
		t.Errorf("a bad preset must fail with its message: %v %q", err, stderr)
	}
}
