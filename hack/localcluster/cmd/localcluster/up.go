package main

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

//go:embed kwok.yaml
var kwokStages []byte

// nodePrefix names the fake nodes: kwok-node-0 .. kwok-node-N-1. Every node of the cluster is
// one of them; kwok plays the kubelet of all, the agent the container runtime of all.
const nodePrefix = "kwok-node-"

// defaultNodes is how many nodes up creates when LOCALCLUSTER_NODES is unset.
const defaultNodes = 3

// nodeName is the name of fake node i.
func nodeName(i int) string { return nodePrefix + strconv.Itoa(i) }

// isClusterNode tells whether a pod bound to name is served by this cluster's agent.
func isClusterNode(name string) bool {
	i, ok := strings.CutPrefix(name, nodePrefix)
	if !ok {
		return false
	}
	n, err := strconv.Atoi(i)
	return err == nil && n >= 0 && strconv.Itoa(n) == i
}

// nodeCount reads LOCALCLUSTER_NODES (how many fake nodes up creates): unset or empty gives
// defaultNodes; anything but a whole number from 1 to 100 is an error.
func nodeCount() (int, error) {
	v := strings.TrimSpace(os.Getenv("LOCALCLUSTER_NODES"))
	if v == "" {
		return defaultNodes, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 100 {
		return 0, fmt.Errorf("LOCALCLUSTER_NODES=%q: want a whole number of nodes from 1 to 100", v)
	}
	return n, nil
}

// daemons in start order; down stops them in reverse.
var daemons = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "agent"}

// Provisioner is the storage class provisioner the agent serves (the default class, "standard").
const Provisioner = "localcluster.llmdbench.io/hostpath"

func up(ctx context.Context, dir string) error {
	nodes, err := nodeCount()
	if err != nil {
		return err
	}
	if running := alive(dir); len(running) > 0 {
		return fmt.Errorf("a cluster already runs in %s (%s): run down first", dir, strings.Join(running, ", "))
	}
	bin, err := binDir()
	if err != nil {
		return err
	}
	if err := cleanState(dir); err != nil {
		return err
	}
	for _, d := range []string{"logs", "pods", "claims", "shim", "overlay"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	start := time.Now()
	p := pki{dir: dir}
	if err := p.create(); err != nil {
		return fmt.Errorf("creating certificates: %w", err)
	}
	ports, err := freePorts(6)
	if err != nil {
		return err
	}
	etcdPort, peerPort, apiPort, kwokPort, kcmPort, schedPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)

	if err := spawn(dir, "etcd", filepath.Join(bin, "etcd"), nil,
		"--name=default", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls=http://127.0.0.1:"+strconv.Itoa(peerPort),
		"--initial-advertise-peer-urls=http://127.0.0.1:"+strconv.Itoa(peerPort),
		"--initial-cluster=default=http://127.0.0.1:"+strconv.Itoa(peerPort),
		"--unsafe-no-fsync=true", "--log-level=warn"); err != nil {
		return err
	}
	if err := waitHTTP(ctx, etcdURL+"/health", 30*time.Second); err != nil {
		return fmt.Errorf("etcd did not start (see %s): %w", filepath.Join(dir, "logs", "etcd.log"), err)
	}

	server := "https://127.0.0.1:" + strconv.Itoa(apiPort)
	egress, err := egressConfig(dir, egressSocket(dir, apiPort))
	if err != nil {
		return err
	}
	if err := spawn(dir, "kube-apiserver", filepath.Join(bin, "kube-apiserver"), nil,
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(apiPort),
		"--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
		"--cert-dir="+p.path("apiserver-generated"),
		"--tls-cert-file="+p.path("apiserver.crt"), "--tls-private-key-file="+p.path("apiserver.key"),
		"--client-ca-file="+p.path("ca.crt"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+p.path("sa.pub"),
		"--service-account-signing-key-file="+p.path("sa.key"),
		"--service-cluster-ip-range=10.96.0.0/16",
		"--allow-privileged=true", "--egress-selector-config-file="+egress); err != nil {
		return err
	}
	kc, err := p.kubeconfig(server, "admin", "")
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "server"), []byte(server+"\n"), 0o644); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil, nil
	}); err != nil {
		return fmt.Errorf("kube-apiserver did not become ready (see %s): %w", filepath.Join(dir, "logs", "kube-apiserver.log"), err)
	}

	if err := startControllers(ctx, dir, bin, p, server, kcmPort, schedPort); err != nil {
		return err
	}
	if err := createStorageClass(ctx, cs); err != nil {
		return err
	}

	// kwok watches Exec and Logs objects (one per pod, made by the agent); their CRDs must exist
	// before kwok starts or it retries with a long backoff.
	if err := installCRDs(ctx, cfg, bin); err != nil {
		return err
	}
	if err := makeShim(dir); err != nil {
		return err
	}
	kwokConfig := filepath.Join(dir, "kwok.yaml")
	if err := os.WriteFile(kwokConfig, kwokStages, 0o644); err != nil {
		return err
	}
	// kwok runs exec'd commands through its PATH: only the shim, so nothing runs on the host.
	if err := spawn(dir, "kwok", filepath.Join(bin, "kwok"), []string{"PATH=" + filepath.Join(dir, "shim")},
		"--kubeconfig="+kubeconfig, "--config="+kwokConfig, "--enable-crds=Exec,Logs",
		"--manage-all-nodes=true", "--node-ip=127.0.0.1", "--node-name=localhost",
		"--node-port="+strconv.Itoa(kwokPort), "--server-address=127.0.0.1:"+strconv.Itoa(kwokPort),
		"--tls-cert-file="+p.path("kwok.crt"), "--tls-private-key-file="+p.path("kwok.key")); err != nil {
		return err
	}
	if err := waitHTTP(ctx, "http://127.0.0.1:"+strconv.Itoa(kwokPort)+"/healthz", 30*time.Second); err != nil {
		return fmt.Errorf("kwok did not start (see %s): %w", filepath.Join(dir, "logs", "kwok.log"), err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := spawn(dir, "agent", self, nil, "agent", dir); err != nil {
		return err
	}

	// All nodes are this host: each has its own kubernetes.io/hostname, so topology spread and
	// anti-affinity see distinct nodes, while every pod root and claim folder is on one disk.
	for i := range nodes {
		name := nodeName(i)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
			Labels:      map[string]string{corev1.LabelHostname: name, "kubernetes.io/os": "linux", "type": "kwok"}}}
		if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating node %s: %w", name, err)
		}
	}
	for i := range nodes {
		name := nodeName(i)
		if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		}); err != nil {
			return fmt.Errorf("node %s did not become Ready (see %s): %w", name, filepath.Join(dir, "logs", "kwok.log"), err)
		}
		// The TaintNodesByCondition admission gives a new node the not-ready taint; the node
		// lifecycle controller (off, see startControllers) would lift it once the node is Ready:
		// do that here.
		if err := untaintReadyNode(ctx, cs, name); err != nil {
			return err
		}
	}
	env := fmt.Sprintf("export KUBECONFIG=%s\nexport LOCALCLUSTER_DIR=%s\n", kubeconfig, dir)
	if err := os.WriteFile(filepath.Join(dir, "env"), []byte(env), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "local cluster up in %.1fs with %d nodes: %s (source %s)\n", time.Since(start).Seconds(), nodes, server, filepath.Join(dir, "env"))
	return nil
}

// binDir is where the cluster binaries live: beside this program (build.sh puts them together).
func binDir() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	bin := filepath.Dir(self)
	for _, b := range []string{"etcd", "kube-apiserver", "kwok", "kwok.x-k8s.io_execs.yaml", "kwok.x-k8s.io_logs.yaml"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return "", fmt.Errorf("%s is missing beside localcluster: run hack/localcluster/build.sh", b)
		}
	}
	return bin, nil
}

// cleanState removes what a previous cluster left, after making sure nothing is still mounted.
func cleanState(dir string) error {
	if err := unmountUnder(dir); err != nil {
		return err
	}
	killPodProcesses(filepath.Join(dir, "pods"))
	for _, d := range []string{"etcd", "pods", "claims", "shim", "logs", "pki", "users", "pids"} {
		if err := os.RemoveAll(filepath.Join(dir, d)); err != nil {
			return err
		}
	}
	return nil
}

func down(dir string) error {
	pids := readPIDs(dir)
	for i := len(daemons) - 1; i >= 0; i-- {
		if pid, ok := pids[daemons[i]]; ok {
			stopProcess(pid, 5*time.Second)
		}
	}
	killPodProcesses(filepath.Join(dir, "pods"))
	if err := unmountUnder(dir); err != nil {
		return err
	}
	return os.Remove(filepath.Join(dir, "pids"))
}

// alive lists the daemons of dir that still run.
func alive(dir string) []string {
	var out []string
	for name, pid := range readPIDs(dir) {
		if running(pid) {
			out = append(out, name)
		}
	}
	return out
}

func readPIDs(dir string) map[string]int {
	pids := map[string]int{}
	f, err := os.Open(filepath.Join(dir, "pids"))
	if err != nil {
		return pids
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, pid, ok := strings.Cut(sc.Text(), " ")
		if n, err := strconv.Atoi(pid); ok && err == nil {
			pids[name] = n
		}
	}
	return pids
}

// spawn starts a daemon in its own session, logging to DIR/logs/NAME.log, and records its pid.
func spawn(dir, name, path string, env []string, args ...string) error {
	logFile, err := os.OpenFile(filepath.Join(dir, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	f, err := os.OpenFile(filepath.Join(dir, "pids"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "%s %d\n", name, pid)
	return err
}

// running tells whether pid is a live (not zombie) process.
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

func stopProcess(pid int, grace time.Duration) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) && running(pid) {
		time.Sleep(50 * time.Millisecond)
	}
	if running(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	return waitHTTPClient(ctx, http.DefaultClient, url, timeout)
}

func waitHTTPClient(ctx context.Context, client *http.Client, url string, timeout time.Duration) error {
	return wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func installCRDs(ctx context.Context, cfg *rest.Config, bin string) error {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	var names []string
	for _, f := range []string{"kwok.x-k8s.io_execs.yaml", "kwok.x-k8s.io_logs.yaml"} {
		name, err := applyCRD(ctx, dyn, filepath.Join(bin, f))
		if err != nil {
			return err
		}
		names = append(names, name)
	}
	for _, name := range names {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			crd, err := dyn.Resource(crdResource).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, c := range conds {
				if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("CRD %s not established: %w", name, err)
		}
	}
	return nil
}

// makeShim links every busybox applet name to this program, which runs it inside the pod root.
func makeShim(dir string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	out, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		return fmt.Errorf("listing busybox applets (install busybox-static): %w", err)
	}
	for _, name := range strings.Fields(string(out)) {
		if err := linkShim(dir, self, name); err != nil {
			return err
		}
	}
	return nil
}

func linkShim(dir, self, name string) error {
	if name == "" || strings.ContainsRune(name, '/') || name == "localcluster" {
		return nil
	}
	link := filepath.Join(dir, "shim", name)
	if err := os.Symlink(self, link); err != nil && !os.IsExist(err) {
		return err
	}
	return nil
}

func applyCRD(ctx context.Context, dyn dynamic.Interface, path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var obj map[string]any
	if err := yaml.Unmarshal(data, &obj); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	u := &unstructured.Unstructured{Object: obj}
	_, err = dyn.Resource(crdResource).Create(ctx, u, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("creating CRD %s: %w", u.GetName(), err)
	}
	return u.GetName(), nil
}
