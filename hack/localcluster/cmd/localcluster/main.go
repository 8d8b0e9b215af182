// Command localcluster runs a real Kubernetes control plane on loopback for the plugin's
// end-to-end tests and demo: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
// (the fake kubelet of N nodes, LOCALCLUSTER_NODES, default 3), plus an agent that plays the nodes'
// container runtime (one file system per pod, the container's command run there as its main
// process) and the default storage class's volume provisioner. See hack/localcluster/README.md.
//
//	localcluster up DIR            start everything in the background; writes DIR/kubeconfig, DIR/env
//	localcluster down DIR          stop everything started by up, by recorded process id
//	localcluster user DIR NAME     write DIR/users/NAME.kubeconfig, a client certificate for NAME
//	localcluster agent ...         the node agent (started by up)
//	localcluster isolate ADDR PORT -- CMD   run CMD in its own network namespace, reachable on ADDR
//
// Invoked under any other name (through a symlink in DIR/shim), it runs that command inside the
// calling pod's root: this is how kwok's exec reaches a container-like file system.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

func main() {
	if name := filepath.Base(os.Args[0]); name != "localcluster" {
		os.Exit(shim(name, os.Args[1:]))
	}
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: localcluster up|down|user|agent DIR [args]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := filepath.Abs(os.Args[2])
	if err == nil {
		switch os.Args[1] {
		case "isolate":
			err = isolate(ctx, os.Args[2:])
		case "isolated":
			stop() // the inside half forwards signals to its command itself
			err = isolated(os.Args[2:])
		case "up":
			err = up(ctx, dir)
		case "down":
			err = down(dir)
		case "user":
			if len(os.Args) < 4 {
				err = fmt.Errorf("usage: localcluster user DIR NAME [GROUP...]")
				break
			}
			var path string
			path, err = writeUserKubeconfig(dir, os.Args[3], os.Args[4:])
			if err == nil {
				fmt.Println(path)
			}
		case "agent":
			err = runAgent(ctx, dir)
		default:
			err = fmt.Errorf("unknown command %q", os.Args[1])
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
}
