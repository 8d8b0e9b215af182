package framework

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
)

var (
	buildOnce   sync.Once
	builtPlugin string
	buildErr    error
)

// PluginBinary is the plugin under test: $LLMDBENCH_PLUGIN (make e2e sets it to bin/), or a build.
func PluginBinary() (string, error) {
	if p := os.Getenv("LLMDBENCH_PLUGIN"); p != "" {
		return p, nil
	}
	buildOnce.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "llmdbench-plugin-")
		if err != nil {
			buildErr = err
			return
		}
		builtPlugin = filepath.Join(dir, "kubectl-llmdbench")
		cmd := exec.Command("go", "build", "-o", builtPlugin, "./cmd/kubectl-llmdbench")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w: %s", err, out)
		}
	})
	return builtPlugin, buildErr
}

// FixtureDir holds the real inference-perf result files the harness stand-in copies (kept with the
// results package's test inputs; see pkg/results/testdata/README.md for their source).
func (c *Cluster) FixtureDir() string {
	return filepath.Join(c.RepoRoot, "pkg/results/testdata/inference-perf/vllm")
}

// Result is what a plugin invocation did.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// PluginCmd prepares the plugin as a user runs it, with kubeconfig (the admin's when empty).
func (c *Cluster) PluginCmd(t testing.TB, kubeconfig string, args ...string) *exec.Cmd {
	t.Helper()
	bin, err := PluginBinary()
	if err != nil {
		t.Fatal(err)
	}
	if kubeconfig == "" {
		kubeconfig = c.Kubeconfig
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Dir = t.TempDir() // run fetches results into ./llmdbench-results
	return cmd
}

// Plugin runs the plugin to its end (at most timeout).
func (c *Cluster) Plugin(t testing.TB, kubeconfig string, timeout time.Duration, args ...string) Result {
	t.Helper()
	cmd := c.PluginCmd(t, kubeconfig, args...)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("kubectl llmdbench %v did not end within %s\nstdout:\n%s\nstderr:\n%s", args, timeout, out.String(), errOut.String())
	}
	r := Result{Stdout: out.String(), Stderr: errOut.String()}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		r.Code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// InstallPlugin puts the plugin binary into every new pod root as the native harness's
// executable: the launchers' image here.
func (c *Cluster) InstallPlugin(t testing.TB) {
	t.Helper()
	plugin, err := PluginBinary()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(plugin)
	if err != nil {
		t.Fatal(err)
	}
	WriteFile(t, c.OverlayDir(), "usr/local/bin/"+launcher.NativeExecutable, data, 0o755)
}
