package framework

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/llmdbench/kubectl-llmdbench/pkg/scrape"
)

// Simulator is llm-d-inference-sim v0.10.2 (hack/sim) serving one model on a loopback address.
// It runs in its own network namespace (it would bind every interface otherwise) behind the local
// cluster's relay.
type Simulator struct {
	Addr  string // host:port on loopback
	Model string
	cmd   *exec.Cmd
	log   bytes.Buffer
}

// URL is the simulator's base URL.
func (s *Simulator) URL() string { return "http://" + s.Addr }

// StartSimulator builds the simulator if needed (cached) and serves model on addr with the given
// extra flags (latencies, failure injection …). Stop it with Stop.
func (c *Cluster) StartSimulator(addr, model string, flags ...string) (*Simulator, error) {
	bin := os.Getenv("SIM_BIN")
	if bin == "" {
		out, err := exec.Command(filepath.Join(c.RepoRoot, "hack/sim/build.sh")).Output()
		if err != nil {
			return nil, fmt.Errorf("hack/sim/build.sh: %w", err)
		}
		bin = strings.TrimSpace(string(out))
	}
	args := append([]string{"isolate", addr, "8000", "--", bin, "--model", model, "--port", "8000", "--force-dummy-tokenizer"}, flags...)
	s := &Simulator{Addr: addr, Model: model, cmd: exec.Command(filepath.Join(c.Bin, "localcluster"), args...)}
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.URL() + "/v1/models")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("the simulator on %s is not ready after 20s: %v\n%s", addr, err, s.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop ends the simulator by its process id (SIGTERM; it drains in 1–2 s).
func (s *Simulator) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// Metrics scrapes the simulator's Prometheus text, parsed and reduced by scrape.Parse: each vllm:
// family's total over its label sets (histograms as <name>_sum and <name>_count).
func (s *Simulator) Metrics() (map[string]float64, error) {
	resp, err := http.Get(s.URL() + "/metrics")
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/metrics: %s", s.URL(), resp.Status)
	}
	return scrape.Parse(resp.Body)
}

// FreeLoopback returns a loopback address with a free port, for a simulator.
func FreeLoopback() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}
