package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/launcher"
)

var deleteNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// runCM is a run's ConfigMap created age before deleteNow, its final status recorded as phase.
func runCM(t *testing.T, id string, age time.Duration, phase string) *corev1.ConfigMap {
	t.Helper()
	st, err := json.Marshal(cluster.Status{Run: id, Namespace: "ns", Phase: phase})
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: launcher.ConfigMapName(id), Namespace: "ns",
		CreationTimestamp: metav1.NewTime(deleteNow.Add(-age)),
		Labels:            map[string]string{launcher.LabelRun: id, launcher.LabelManagedBy: launcher.ManagedBy, launcher.LabelApp: launcher.AppLauncher},
		Annotations:       map[string]string{launcher.AnnoWorkloads: "w", launcher.AnnoParallelism: "1", cluster.AnnoFinalStatus: string(st)}}}
}

func pluginPod(name, app, run string, age time.Duration) *corev1.Pod {
	l := map[string]string{launcher.LabelManagedBy: launcher.ManagedBy, launcher.LabelApp: app}
	if run != "" {
		l[launcher.LabelRun], l[launcher.LabelIndex] = run, "0"
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: l,
		CreationTimestamp: metav1.NewTime(deleteNow.Add(-age))}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}
}

// deleteCluster: finished runs "old" (48h) and "young" (1h), a run "busy" (72h) still running,
// the pod of "orphan" (30h) whose ConfigMap is gone, reader pods 50h and 10m old, and what is
// not the plugin's to delete: a pod without its labels (100h) and the results claim.
func deleteCluster(t *testing.T) *fake.Clientset {
	return fake.NewClientset(
		runCM(t, "1764000000-old0", 48*time.Hour, cluster.PhaseSucceeded),
		runCM(t, "1764100000-yng0", time.Hour, cluster.PhaseSucceeded),
		runCM(t, "1763900000-bsy0", 72*time.Hour, cluster.PhaseRunning),
		pluginPod("launcher-orphan", launcher.AppLauncher, "1763950000-orph", 30*time.Hour),
		pluginPod("llmdbench-reader-aaaa", launcher.AppReader, "", 50*time.Hour),
		pluginPod("llmdbench-reader-bbbb", launcher.AppReader, "", 10*time.Minute),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "someone-else", Namespace: "ns", CreationTimestamp: metav1.NewTime(deleteNow.Add(-100 * time.Hour))}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "workload-pvc", Namespace: "ns",
			Labels: map[string]string{launcher.LabelManagedBy: launcher.ManagedBy}, CreationTimestamp: metav1.NewTime(deleteNow.Add(-100 * time.Hour))}},
	)
}

func runDelete(t *testing.T, cs *fake.Clientset, set func(*DeleteOptions)) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	o := NewDeleteOptions(genericiooptions.IOStreams{Out: &out, ErrOut: &errOut})
	o.namespace, o.Clients, o.now = "ns", &Clients{Client: cs}, func() time.Time { return deleteNow }
	set(o)
	if err := o.Validate(); err != nil {
		return out.String(), errOut.String(), err
	}
	err := o.Run(context.Background())
	return out.String(), errOut.String(), err
}

// left lists the ConfigMaps and pods still in the namespace, and whether the claim is.
func left(t *testing.T, cs *fake.Clientset) string {
	t.Helper()
	ctx := context.Background()
	var names []string
	cms, _ := cs.CoreV1().ConfigMaps("ns").List(ctx, metav1.ListOptions{})
	for _, c := range cms.Items {
		names = append(names, c.Name)
	}
	pods, _ := cs.CoreV1().Pods("ns").List(ctx, metav1.ListOptions{})
	for _, p := range pods.Items {
		names = append(names, p.Name)
	}
	if _, err := cs.CoreV1().PersistentVolumeClaims("ns").Get(ctx, "workload-pvc", metav1.GetOptions{}); err == nil {
		names = append(names, "workload-pvc")
	}
	return strings.Join(names, " ")
}

const everything = "llmdbench-1763900000-bsy0 llmdbench-1764000000-old0 llmdbench-1764100000-yng0 launcher-orphan llmdbench-reader-aaaa llmdbench-reader-bbbb someone-else workload-pvc"

func TestDeleteAllOlderThan(t *testing.T) {
	// A run still running stops --all before anything goes.
	cs := deleteCluster(t)
	_, _, err := runDelete(t, cs, func(o *DeleteOptions) { o.All, o.OlderThan = true, 24*time.Hour })
	if err == nil || err.Error() != "run 1763900000-bsy0 is Running: pass --force to stop and remove them too, or --all-finished to keep them; nothing was removed" {
		t.Fatalf("got %v", err)
	}
	if got := left(t, cs); got != everything {
		t.Fatalf("a refused delete removed something: left %s", got)
	}

	// --dry-run=client lists what would go (created 24h ago or more) and removes nothing.
	out, _, err := runDelete(t, cs, func(o *DeleteOptions) {
		o.All, o.OlderThan, o.Force, o.DryRun = true, 24*time.Hour, true, cmdutil.DryRunClient
	})
	// runs newest first (as 'status' lists them), then leftover pods oldest first
	want := "run 1764000000-old0 would be deleted (Succeeded, created 48h0m0s ago)\n" +
		"run 1763900000-bsy0 would be deleted (Running, created 72h0m0s ago)\n" +
		"pod llmdbench-reader-aaaa (llmdbench-reader) would be deleted (created 50h0m0s ago)\n" +
		"run 1763950000-orph (its ConfigMap is gone; pod launcher-orphan) would be deleted (created 30h0m0s ago)\n"
	if err != nil || out != want {
		t.Fatalf("dry run: %v\n%s\nwant\n%s", err, out, want)
	}
	if got := left(t, cs); got != everything {
		t.Fatalf("a dry run removed something: left %s", got)
	}

	// The same for real: the young run, the young reader pod, the pod and the claim that are not
	// the plugin's stay.
	out, _, err = runDelete(t, cs, func(o *DeleteOptions) { o.All, o.OlderThan, o.Force = true, 24*time.Hour, true })
	if err != nil || strings.Count(out, " deleted\n") != 4 {
		t.Fatalf("got %v\n%s", err, out)
	}
	if got, want := left(t, cs), "llmdbench-1764100000-yng0 llmdbench-reader-bbbb someone-else workload-pvc"; got != want {
		t.Errorf("left %s, want %s", got, want)
	}

	// Without --older-than, --all takes the rest of the plugin's objects, never the others.
	if _, _, err := runDelete(t, cs, func(o *DeleteOptions) { o.All = true }); err != nil {
		t.Fatal(err)
	}
	if got, want := left(t, cs), "someone-else workload-pvc"; got != want {
		t.Errorf("left %s, want %s", got, want)
	}
	_, stderr, err := runDelete(t, cs, func(o *DeleteOptions) { o.All, o.OlderThan = true, time.Hour })
	if err != nil || stderr != "No runs or leftover pods of kubectl llmdbench older than 1h0m0s in namespace ns.\n" {
		t.Errorf("nothing to delete: %v %q", err, stderr)
	}
}

// --all-finished --older-than keeps running runs, young runs and leftover pods.
func TestDeleteAllFinishedOlderThan(t *testing.T) {
	cs := deleteCluster(t)
	out, _, err := runDelete(t, cs, func(o *DeleteOptions) { o.AllFinished, o.OlderThan = true, 24*time.Hour })
	if err != nil || out != "run 1764000000-old0 deleted\n" {
		t.Fatalf("got %v %q", err, out)
	}
	if got, want := left(t, cs), strings.Replace(everything, "llmdbench-1764000000-old0 ", "", 1); got != want {
		t.Errorf("left %s, want %s", got, want)
	}
}

func TestDeleteRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		set  func(*DeleteOptions)
		want string
	}{
		{func(o *DeleteOptions) {}, "name a run, or pass --all-finished or --all"},
		{func(o *DeleteOptions) { o.All, o.AllFinished = true, true }, "a run, --all-finished and --all are exclusive: pass one"},
		{func(o *DeleteOptions) { o.RunID, o.All = "1764000000-old0", true }, "a run, --all-finished and --all are exclusive: pass one"},
		{func(o *DeleteOptions) { o.RunID, o.OlderThan = "1764000000-old0", time.Hour }, "--older-than selects among all runs: use it with --all or --all-finished, not with a run"},
		{func(o *DeleteOptions) { o.All, o.OlderThan = true, -time.Hour }, "--older-than -1h0m0s: it must be more than zero"},
		{func(o *DeleteOptions) { o.All, o.DryRun = true, cmdutil.DryRunServer }, "--dry-run=server is not supported: use --dry-run=client"},
	} {
		cs := deleteCluster(t)
		_, _, err := runDelete(t, cs, tc.set)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
		if got := left(t, cs); got != everything {
			t.Errorf("bad flags removed something: left %s", got)
		}
	}
}
