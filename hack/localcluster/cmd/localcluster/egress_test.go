package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEgressTarget(t *testing.T) {
	for in, want := range map[string]string{
		"10.250.0.7:8000":    "127.250.0.7:8000",
		"10.250.3.200:80":    "127.250.3.200:80",
		"10.251.0.7:8000":    "10.251.0.7:8000",
		"127.0.0.1:10250":    "127.0.0.1:10250",
		"localhost:10250":    "localhost:10250",
		"[::1]:80":           "[::1]:80",
		"no-port-10.250.0.1": "no-port-10.250.0.1",
	} {
		if got := egressTarget(in); got != want {
			t.Errorf("egressTarget(%q) = %q, want %q", in, got, want)
		}
	}
}

// A CONNECT to a pod-network address reaches the server on the matching loopback address, and
// what the client sends right after the request is not lost.
func TestEgressProxyTunnels(t *testing.T) {
	srv, err := net.Listen("tcp", "127.250.0.9:0")
	if err != nil {
		t.Skipf("no 127.250.0.9 on this host's loopback: %v", err)
	}
	defer func() { _ = srv.Close() }()
	go func() {
		for {
			c, err := srv.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { _ = c.Close() }()
				line, _ := bufio.NewReader(c).ReadString('\n')
				_, _ = io.WriteString(c, "echo "+line)
			}()
		}
	}()
	port := srv.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	if _, err := egressConfig(dir, filepath.Join(dir, "e.sock")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serveEgress(ctx, dir) }()
	var c net.Conn
	for i := 0; i < 100; i++ {
		if c, err = net.Dial("unix", filepath.Join(dir, "e.sock")); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	// The request and the first bytes of the tunnel in one write.
	if _, err := fmt.Fprintf(c, "CONNECT 10.250.0.9:%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nhello\n", port); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	got, _ := br.ReadString('\n')
	if got != "echo hello\n" {
		t.Errorf("through the tunnel: %q", got)
	}

	// A target nobody serves: 502 with the reason.
	c2, err := net.Dial("unix", filepath.Join(dir, "e.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c2.Close() }()
	_, _ = io.WriteString(c2, "CONNECT 10.250.0.9:1 HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err = http.ReadResponse(bufio.NewReader(c2), nil)
	if err != nil || resp.StatusCode != 502 {
		t.Fatalf("unserved target: %v %v", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "127.250.0.9:1") {
		t.Errorf("502 body %q does not name the dialled address", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "egress.yaml"))
	if !strings.Contains(string(cfg), "udsName: "+filepath.Join(dir, "e.sock")) || !strings.Contains(string(cfg), "proxyProtocol: HTTPConnect") {
		t.Errorf("egress.yaml:\n%s", cfg)
	}
}
