package run

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
	"github.com/llmdbench/kubectl-llmdbench/test/e2e/framework"
)

// klogLine is a klog-formatted line (client-go's own logging).
var klogLine = regexp.MustCompile(`(?m)^[IWEF]\d{4} `)

// A Role granting only some of what a run needs: the preflight names exactly the missing verbs,
// from one SelfSubjectRulesReview (counted in the -v 6 request log), no access review.
func TestPreflightWithAPartialRoleNamesTheMissingVerbs(t *testing.T) {
	ns := setupNamespace(t, corev1.ReadWriteOnce)
	partial := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"*"}},
		{APIGroups: []string{""}, Resources: []string{"persistentvolumeclaims", "services", "namespaces"}, Verbs: []string{"get", "list"}},
		// Exec on one pod only: not the general permission a run needs.
		{APIGroups: []string{""}, Resources: []string{"pods/exec"}, Verbs: []string{"create"}, ResourceNames: []string{"some-pod"}},
	}
	kc, _ := cl.User(t, ns, "partial-user", partial)
	base := []string{"run", "--preset", "pd", "--pvc", "workload-pvc"}
	r := cl.Plugin(t, kc, timeout, append(base, small...)...)
	for _, want := range []string{"you may not create jobs.batch (", "delete jobs.batch (", "create pods (", "delete pods (", "create pods/exec ("} {
		if r.Code == 0 || !strings.Contains(r.Stderr, want) {
			t.Errorf("preflight must name %q: exit %d\n%s", want, r.Code, r.Stderr)
		}
	}
	for _, granted := range []string{"get pods", "list pods", "delete configmaps", "get persistentvolumeclaims"} {
		if strings.Contains(r.Stderr, granted+" (") {
			t.Errorf("%s is granted but named missing:\n%s", granted, r.Stderr)
		}
	}
	if klogLine.MatchString(r.Stderr) {
		t.Errorf("klog lines without -v:\n%s", r.Stderr)
	}
	nothingLeft(t, ns)

	// The same with -v 6: client-go logs every request; count the authorization calls.
	r = cl.Plugin(t, kc, timeout, append(append(base, small...), "-v", "6")...)
	rules := regexp.MustCompile(`(?m)^I\d{4} .*POST.*/selfsubjectrulesreviews`).FindAllString(r.Stderr, -1)
	access := regexp.MustCompile(`(?m)^I\d{4} .*POST.*/selfsubjectaccessreviews`).FindAllString(r.Stderr, -1)
	t.Logf("authorization API calls of one preflight: %d rules review(s), %d access review(s)", len(rules), len(access))
	if len(rules) != 1 || len(access) != 0 {
		t.Errorf("want 1 rules review and no access review, got %d and %d:\n%s", len(rules), len(access), r.Stderr)
	}
}

// pidOf reads a local cluster daemon's pid from its pids file.
func pidOf(t *testing.T, daemon string) int {
	t.Helper()
	f, err := os.Open(filepath.Join(cl.Dir, "pids"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, pid, ok := strings.Cut(sc.Text(), " "); ok && name == daemon {
			n, err := strconv.Atoi(pid)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in the pids file", daemon)
	return 0
}

// pause stops a daemon of the local cluster until the test ends (or resume is called).
func pause(t *testing.T, daemon string) (resume func()) {
	t.Helper()
	pid := pidOf(t, daemon)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resume = func() { _ = syscall.Kill(pid, syscall.SIGCONT) }
	t.Cleanup(resume)
	return resume
}

// interruptPlugin starts the plugin, sends SIGINT once ready() says so, and returns its stderr
// and exit code.
func interruptPlugin(t *testing.T, kubeconfig string, ready func(stderr string) bool, args ...string) (string, int) {
	t.Helper()
	cmd := cl.PluginCmd(t, kubeconfig, args...)
	var stderr syncBuilder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for !ready(stderr.String()) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	_ = cmd.Wait()
	return stderr.String(), cmd.ProcessState.ExitCode()
}

// noNoise asserts the only thing after Ctrl-C is the one Interrupted line.
func noNoise(t *testing.T, stderr string) {
	t.Helper()
	if strings.Contains(stderr, "context canceled") || klogLine.MatchString(stderr) || strings.Contains(stderr, "error:") {
		t.Errorf("noise after Ctrl-C:\n%s", stderr)
	}
	if n := strings.Count(stderr, "Interrupted: "); n != 1 {
		t.Errorf("%d Interrupted lines:\n%s", n, stderr)
	}
}

// Ctrl-C while the launchers start (the node agent paused, so they stay Pending): exit 130,
// one line saying the run was removed and nothing runs, and nothing is left.
func TestCtrlCDuringLaunch(t *testing.T) {
	ns := setupNamespace(t, corev1.ReadWriteOnce)
	resume := pause(t, "agent")
	pending := func(string) bool {
		pods, err := cl.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: launcher.LabelManagedBy + "=" + launcher.ManagedBy})
		return err == nil && len(pods.Items) > 0
	}
	stderr, code := interruptPlugin(t, "", pending, args(ns, "run", "--preset", "pd", "--pvc", "workload-pvc")...)
	resume()
	t.Logf("stderr:\n%s", stderr)
	if code != 130 {
		t.Fatalf("exit %d, want 130:\n%s", code, stderr)
	}
	id := runID(t, resultOf(stderr))
	want := "Interrupted: removed run " + id + " (its ConfigMap and its launcher Job); nothing runs.\n"
	if !strings.HasSuffix(stderr, want) {
		t.Errorf("want the last line %q:\n%s", want, stderr)
	}
	noNoise(t, stderr)
	nothingLeft(t, ns)
}

// Ctrl-C during the preflight (the API server paused, so its first read hangs): exit 130 with
// one line, nothing created.
func TestCtrlCDuringPreflight(t *testing.T) {
	ns := setupNamespace(t, corev1.ReadWriteOnce)
	resume := pause(t, "kube-apiserver")
	start := time.Now()
	stderr, code := interruptPlugin(t, "", func(string) bool { return time.Since(start) > 2*time.Second },
		args(ns, "run", "--preset", "pd", "--pvc", "workload-pvc", "--base-url", "http://gw.example:80")...)
	resume()
	if code != 130 || stderr != "Interrupted: nothing was left behind; nothing runs.\n" {
		t.Errorf("exit %d, want 130 and one line:\n%s", code, stderr)
	}
	noNoise(t, stderr)
	nothingLeft(t, ns)
}

// Ctrl-C while following, then attach: attach fetches the results as run would have.
func TestAttachFetchesTheResults(t *testing.T) {
	ns := setupNamespace(t, corev1.ReadWriteOnce)
	id := detach(t, ns, 2)
	work := t.TempDir()
	cmd := cl.PluginCmd(t, "", "attach", id, "-n", ns)
	cmd.Dir = work
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("attach: %v\n%s", err, out)
	}
	folders, _ := filepath.Glob(filepath.Join(work, "llmdbench-results", id, "inference-perf_"+id+"_slow_*"))
	if len(folders) != 1 || !strings.Contains(string(out), "Copied ") {
		t.Fatalf("attach fetched %v:\n%s", folders, out)
	}
	if entries, _ := os.ReadDir(folders[0]); len(entries) < 3 {
		t.Errorf("%d files in the fetched folder", len(entries))
	}
	// --no-fetch leaves them in the cluster.
	other := t.TempDir()
	cmd = cl.PluginCmd(t, "", "attach", id, "-n", ns, "--no-fetch")
	cmd.Dir = other
	if out, err := cmd.CombinedOutput(); err != nil || strings.Contains(string(out), "Copied ") {
		t.Errorf("attach --no-fetch: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(other, "llmdbench-results")); !os.IsNotExist(err) {
		t.Errorf("attach --no-fetch wrote results: %v", err)
	}
}

// syncBuilder collects a process's output while the test reads it.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func resultOf(stderr string) framework.Result { return framework.Result{Stderr: stderr} }

// attach by a user who may not exec ends at once with the API server's reason, not after
// retries.
func TestAttachForbiddenEndsAtOnce(t *testing.T) {
	ns := setupNamespace(t, corev1.ReadWriteOnce)
	id := detach(t, ns, 30)
	var noExec []rbacv1.PolicyRule
	for _, rule := range RunRole {
		if rule.Resources[0] != "pods/exec" {
			noExec = append(noExec, rule)
		}
	}
	kc, _ := cl.User(t, ns, "no-exec-attach", noExec)
	start := time.Now()
	a := cl.Plugin(t, kc, timeout, "attach", id, "--no-fetch")
	took := time.Since(start)
	t.Logf("attach without exec: exit %d after %s:\n%s", a.Code, took.Round(time.Millisecond), a.Stderr)
	if a.Code == 0 || !strings.Contains(a.Stderr, `cannot create resource "pods/exec"`) || strings.Contains(a.Stderr, "retrying") || took > 15*time.Second {
		t.Errorf("attach must end at once naming the refusal")
	}
	if strings.Contains(a.Stderr, "sh -c") || strings.Count(strings.TrimSpace(a.Stderr), "\n") > 2 {
		t.Errorf("the refusal is not one short line")
	}
	_ = cl.Plugin(t, "", timeout, "delete", id, "-n", ns, "--force")
}
