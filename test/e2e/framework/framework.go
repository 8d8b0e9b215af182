// Package framework starts the project's real local control plane (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok and the node agent from hack/localcluster) for end-to-end tests, and gives each test a namespace,
// clients, file access to pod roots and claims, and restricted users.
package framework

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
)

// Annotations understood by the local cluster (see hack/localcluster).
const (
	AnnoImagePull  = "localcluster.llmdbench.io/image-pull"
	AnnoExitCode   = "localcluster.llmdbench.io/exit-code"
	AnnoExitAfter  = "localcluster.llmdbench.io/exit-after"
	AnnoPVCPending = "localcluster.llmdbench.io/pending"
	// UnpullableImage is an image the local cluster fails to pull (the .invalid domain never resolves).
	UnpullableImage = "registry.invalid/llm-d-benchmark:v0"
)

// Cluster is one running local control plane.
type Cluster struct {
	Dir        string
	Kubeconfig string
	Config     *rest.Config
	Client     kubernetes.Interface
	Bin        string
	RepoRoot   string
}

// Main starts a cluster for a test package, runs its tests and stops it. Tests never skip: when
// the cluster cannot start, the package fails.
func Main(m *testing.M, c **Cluster, setup ...func(*Cluster) error) int {
	cl, err := Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cannot start the local cluster: %v\n", err)
		return 1
	}
	*c = cl
	for _, s := range setup {
		if err := s(cl); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: setting up the local cluster: %v\n", err)
			_ = cl.Stop()
			return 1
		}
	}
	code := m.Run()
	if err := cl.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: stopping the local cluster: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Start builds the cluster binaries if needed (hack/localcluster/build.sh, cached) and starts a
// cluster in a fresh folder.
func Start() (*Cluster, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	bin := os.Getenv("LOCALCLUSTER_BIN")
	if bin == "" || !fileExists(filepath.Join(bin, "localcluster")) {
		out, err := exec.Command(filepath.Join(root, "hack/localcluster/build.sh")).Output()
		if err != nil {
			return nil, fmt.Errorf("hack/localcluster/build.sh: %w", err)
		}
		bin = strings.TrimSpace(string(out))
	}
	dir, err := os.MkdirTemp("", "llmdbench-e2e-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(bin, "localcluster"), "up", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		_ = exec.Command(filepath.Join(bin, "localcluster"), "down", dir).Run()
		return nil, fmt.Errorf("localcluster up: %w: %s", err, stderr.String())
	}
	c := &Cluster{Dir: dir, Kubeconfig: filepath.Join(dir, "kubeconfig"), Bin: bin, RepoRoot: root}
	if c.Config, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
		return nil, err
	}
	c.Config.QPS, c.Config.Burst = 50, 100
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return nil, err
	}
	return c, nil
}

// Stop ends every process of the cluster and removes its folder.
func (c *Cluster) Stop() error {
	out, err := exec.Command(filepath.Join(c.Bin, "localcluster"), "down", c.Dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("localcluster down: %w: %s", err, out)
	}
	return os.RemoveAll(c.Dir)
}

// RepoRoot finds the repository root from the test's working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(dir, "hack/localcluster/build.sh")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("hack/localcluster not found above the working directory")
		}
		dir = parent
	}
}

// Namespace creates a fresh namespace for one test and waits for its default ServiceAccount (made
// by the controller-manager; until then the ServiceAccount admission refuses pods, as in any real
// cluster). It is not deleted afterwards: the cluster is thrown away at the end.
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := "e2e-" + strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.TrimRight(name, "-") + "-" + hex.EncodeToString(b)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.Client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := c.Client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("namespace %s: no default ServiceAccount: %v", name, err)
	}
	return name
}

// PodRoot is the folder that is "/" for a pod's container.
func (c *Cluster) PodRoot(ns, pod string) string {
	return filepath.Join(c.Dir, "pods", ns, pod, "root")
}

// LauncherPod is the name of the pod of launcher index of run (a Job pod, found by its run label
// and completion index), or "" when there is none.
func (c *Cluster) LauncherPod(t *testing.T, ns, runID string, index int) string {
	t.Helper()
	pods, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: launcher.RunSelector(runID)})
	if err != nil {
		t.Fatalf("listing the pods of run %s: %v", runID, err)
	}
	for i := range pods.Items {
		if cluster.PodIndex(&pods.Items[i]) == index {
			return pods.Items[i].Name
		}
	}
	return ""
}

// ClaimDir is the folder that backs a PersistentVolumeClaim.
func (c *Cluster) ClaimDir(ns, claim string) string { return filepath.Join(c.Dir, "claims", ns, claim) }

// OverlayDir holds files copied into every new pod root (e.g. in-pod programs).
func (c *Cluster) OverlayDir() string { return filepath.Join(c.Dir, "overlay") }

// InstallHarnessStandIn puts the test stand-in for the llm-d-benchmark image's entry point
// (test/e2e/testdata/overlay) and the real inference-perf result files it copies (under
// /fixtures/inference-perf) into every new pod root.
func (c *Cluster) InstallHarnessStandIn() error {
	if err := copyDir(filepath.Join(c.RepoRoot, "test/e2e/testdata/overlay"), c.OverlayDir()); err != nil {
		return err
	}
	src := c.FixtureDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("the inference-perf fixtures: %w", err)
	}
	dst := filepath.Join(c.OverlayDir(), "fixtures/inference-perf")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "_lifecycle_metrics.json") {
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
}

// WriteFile writes a file below base (a pod root, claim or overlay folder), creating folders.
func WriteFile(t testing.TB, base, rel string, data []byte, mode os.FileMode) {
	t.Helper()
	path := filepath.Join(base, filepath.Clean("/"+rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

// Executor returns the plugin's exec implementation against this cluster (or a user's config).
func (c *Cluster) Executor(cfg *rest.Config) (*cluster.RemoteExecutor, error) {
	if cfg == nil {
		cfg = c.Config
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &cluster.RemoteExecutor{Client: cs, Config: cfg}, nil
}

// Exec runs a command in a pod and returns its stdout and stderr.
func (c *Cluster) Exec(ctx context.Context, ns, pod string, cmd ...string) (string, string, error) {
	ex, err := c.Executor(nil)
	if err != nil {
		return "", "", err
	}
	var out, errOut bytes.Buffer
	// kwok answers from its own cache of the pod's Exec object, which the agent created before the
	// pod started but which kwok may not have seen yet when the pod is first Running: a moment later
	// it has. Nothing ran then, so the command is tried again.
	for try := 0; ; try++ {
		out.Reset()
		errOut.Reset()
		err = ex.Exec(ctx, cluster.PodRef{Namespace: ns, Name: pod}, cmd, &out, &errOut)
		if err == nil || try == 20 || !strings.Contains(err.Error(), "no exec found for container") {
			return out.String(), errOut.String(), err
		}
		select {
		case <-ctx.Done():
			return out.String(), errOut.String(), err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// User creates a user with its own client certificate, bound in ns to a Role with rules, and
// returns its kubeconfig path and REST config.
func (c *Cluster) User(t testing.TB, ns, name string, rules []rbacv1.PolicyRule) (string, *rest.Config) {
	t.Helper()
	ctx := context.Background()
	out, err := exec.Command(filepath.Join(c.Bin, "localcluster"), "user", c.Dir, name).Output()
	if err != nil {
		t.Fatalf("localcluster user: %v", err)
	}
	path := strings.TrimSpace(string(out))
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Rules: rules}
	if _, err := c.Client.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: name}},
	}
	if _, err := c.Client.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Point the user's default namespace at ns, as a user given a namespace would have it.
	kc, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, ctxt := range kc.Contexts {
		ctxt.Namespace = ns
	}
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	return path, cfg
}

// WaitPod polls until ok(pod) holds, failing the test after timeout; it returns the last pod seen.
func (c *Cluster) WaitPod(t testing.TB, ns, name string, timeout time.Duration, ok func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = p
		return ok(p), nil
	})
	if err != nil {
		t.Fatalf("pod %s/%s: condition not met within %s; last status: %+v", ns, name, timeout, statusOf(last))
	}
	return last
}

func statusOf(p *corev1.Pod) any {
	if p == nil {
		return "never seen"
	}
	return p.Status
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
