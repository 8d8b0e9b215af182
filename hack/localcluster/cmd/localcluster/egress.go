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
	"strconv"
	"sync"
	"time"
)

// The API server's "cluster" traffic (pods/proxy, services/proxy, the kubelet's logs and exec)
// goes through an egress selector: an HTTP CONNECT proxy on a unix socket, served by the agent.
// It is how a pod's metrics are read through the pod proxy here, where every server binds a
// loopback address, which the API server refuses to proxy to ("address not allowed"): a pod whose
// status IP is in the local pod network 10.250.0.0/16 is reached at the loopback address with the
// same last three bytes (10.250.B.C → 127.250.B.C), where a test serves it (localcluster isolate).
// Every other address is dialled as it is.

// podNetwork is the local pod network's first byte pair.
var podNetwork = [2]byte{10, 250}

// egressSocketFile holds the path of the proxy's socket, written by up, read by the agent.
const egressSocketFile = "egress-socket"

// egressConfig writes the API server's EgressSelectorConfiguration for socket and returns its path.
func egressConfig(dir, socket string) (string, error) {
	path := filepath.Join(dir, "egress.yaml")
	cfg := fmt.Sprintf(`apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: %s
`, socket)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return "", err
	}
	return path, os.WriteFile(filepath.Join(dir, egressSocketFile), []byte(socket), 0o644)
}

// egressSocket is where the proxy listens: in dir when the path fits a unix socket's 108 bytes.
func egressSocket(dir string, apiPort int) string {
	if p := filepath.Join(dir, "egress.sock"); len(p) < 100 {
		return p
	}
	return filepath.Join(os.TempDir(), "localcluster-egress-"+strconv.Itoa(apiPort)+".sock")
}

// egressTarget maps a CONNECT target: 10.250.B.C:P → 127.250.B.C:P, the rest unchanged.
func egressTarget(hostport string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	ip := net.ParseIP(host).To4()
	if ip == nil || ip[0] != podNetwork[0] || ip[1] != podNetwork[1] {
		return hostport
	}
	return net.JoinHostPort(net.IPv4(127, ip[1], ip[2], ip[3]).String(), port)
}

// serveEgress runs the CONNECT proxy on the socket named in dir until ctx ends.
func serveEgress(ctx context.Context, dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, egressSocketFile))
	if err != nil {
		return err
	}
	socket := string(b)
	_ = os.Remove(socket)
	ln, err := net.Listen("unix", socket)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		_ = ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return nil
		}
		go connect(c)
	}
}

// connect answers one CONNECT request and relays the tunnel both ways.
func connect(c net.Conn) {
	defer func() { _ = c.Close() }()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if req.Method != http.MethodConnect {
		_, _ = io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\n\r\n")
		return
	}
	up, err := net.DialTimeout("tcp", egressTarget(req.Host), 10*time.Second)
	if err != nil {
		_, _ = fmt.Fprintf(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: %d\r\n\r\n%s", len(err.Error()), err.Error())
		return
	}
	defer func() { _ = up.Close() }()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(up, br) // what the client sent after the request, then the rest
		if cw, ok := up.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}()
	go func() {
		defer wg.Done()
		_, _ = io.Copy(c, up)
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}()
	wg.Wait()
}
