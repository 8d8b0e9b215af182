package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// isolate runs a server that insists on binding every interface (llm-d-inference-sim has no bind
// address flag) inside its own network namespace, where the only interface is a private loopback,
// and makes it reachable on one loopback address of the host. The two sides meet through a unix
// socket, which crosses network namespaces because it lives in the file system:
//
//	localcluster isolate LISTEN_ADDR INNER_PORT -- COMMAND [ARGS]
//
// Connections to LISTEN_ADDR (say 127.0.0.2:80) reach 127.0.0.1:INNER_PORT inside the namespace.
// SIGTERM stops the command; isolate exits with it.
func isolate(ctx context.Context, args []string) error {
	if len(args) < 4 || args[2] != "--" {
		return errors.New("usage: localcluster isolate LISTEN_ADDR INNER_PORT -- COMMAND [ARGS]")
	}
	listenAddr, innerPort, command := args[0], args[1], args[3:]
	if _, err := strconv.Atoi(innerPort); err != nil {
		return fmt.Errorf("INNER_PORT %q is not a port", innerPort)
	}
	if host, _, err := net.SplitHostPort(listenAddr); err != nil || !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("LISTEN_ADDR %q must be a loopback address with a port", listenAddr)
	}
	dir, err := os.MkdirTemp("", "localcluster-isolate-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	sock := filepath.Join(dir, "relay.sock")
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return err
	}
	defer func() { _ = ln.Close() }()

	// In a pod's root (chrooted, no /proc) the path it was started by names it.
	self, err := os.Executable()
	if err != nil {
		if !filepath.IsAbs(os.Args[0]) {
			return err
		}
		self = os.Args[0]
	}
	inner := exec.Command(self, append([]string{"isolated", sock, innerPort, "--"}, command...)...)
	inner.Stdout, inner.Stderr = os.Stdout, os.Stderr
	inner.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGTERM}
	if err := inner.Start(); err != nil {
		return fmt.Errorf("starting %s in a new network namespace: %w", command[0], err)
	}
	exited := make(chan error, 1)
	go func() { exited <- inner.Wait() }()
	go relay(ln, func() (net.Conn, error) { return net.Dial("unix", sock) })
	select {
	case <-ctx.Done():
		// Stopped on purpose: how the command ended is not an error.
		_ = inner.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = inner.Process.Kill()
			<-exited
		}
		return nil
	case err = <-exited:
		return fmt.Errorf("%s exited: %v", command[0], err)
	}
}

// isolated is the inside half: loopback up, the command started, the unix socket relayed to it.
func isolated(args []string) error {
	if len(args) < 4 || args[2] != "--" {
		return errors.New("usage: localcluster isolated SOCKET INNER_PORT -- COMMAND [ARGS]")
	}
	sock, innerPort, command := args[0], args[1], args[3:]
	if err := loopbackUp(); err != nil {
		return fmt.Errorf("bringing up the namespace's loopback: %w", err)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	defer func() { _ = ln.Close() }()
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, os.Interrupt)
	go func() {
		for s := range signals {
			_ = cmd.Process.Signal(s)
		}
	}()
	go relay(ln, func() (net.Conn, error) { return net.Dial("tcp", net.JoinHostPort("127.0.0.1", innerPort)) })
	return cmd.Wait()
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer func() { _ = unix.Close(fd) }()
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// relay copies every accepted connection to a fresh one from dial, both ways, until either side
// closes.
func relay(ln net.Listener, dial func() (net.Conn, error)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer func() { _ = c.Close() }()
			var up net.Conn
			// The inner side may still be starting: retry briefly.
			for i := 0; i < 50; i++ {
				if up, err = dial(); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				return
			}
			defer func() { _ = up.Close() }()
			var wg sync.WaitGroup
			pipe := func(dst, src net.Conn) {
				defer wg.Done()
				_, _ = io.Copy(dst, src)
				if cw, ok := dst.(interface{ CloseWrite() error }); ok {
					_ = cw.CloseWrite()
				}
			}
			wg.Add(2)
			go pipe(up, c)
			go pipe(c, up)
			wg.Wait()
		}()
	}
}
