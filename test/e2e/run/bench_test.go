package run

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// BenchmarkRunOverhead measures what the plugin itself adds to a run on the local cluster:
// from starting `run` to the launcher pod being created (config, discovery, preflight, creates),
// and from the in-pod done marker being written to `run` having printed its verdict and exited.
// Pod start and the workloads are not the plugin's and are excluded. Run: hack/bench-run.sh
func BenchmarkRunOverhead(b *testing.B) {
	ns := setupNamespace(b, corev1.ReadWriteOnce)
	var toCreated, toVerdict time.Duration
	for range b.N {
		w, err := cl.Client.CoreV1().Pods(ns).Watch(context.Background(), metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		created := make(chan time.Time, 1)
		go func() {
			for ev := range w.ResultChan() {
				if ev.Type == watch.Added {
					created <- time.Now()
					return
				}
			}
		}()
		cmd := cl.PluginCmd(b, "", append([]string{"run", "-n", ns, "--preset", "pd", "--pvc", "workload-pvc"}, small...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("%v\n%s", err, stderr.String())
		}
		end := time.Now()
		w.Stop()
		id := runIDInText.FindStringSubmatch(stderr.String())[1]
		st, err := os.Stat(filepath.Join(cl.ClaimDir(ns, "workload-pvc"), strings.TrimPrefix(runstate.LauncherDir(id, 0), "/requests/"), runstate.DoneFile))
		if err != nil {
			b.Fatal(err)
		}
		toCreated += (<-created).Sub(start)
		toVerdict += end.Sub(st.ModTime())
	}
	b.ReportMetric(float64(toCreated.Milliseconds())/float64(b.N), "ms-start-to-pod-created")
	b.ReportMetric(float64(toVerdict.Milliseconds())/float64(b.N), "ms-done-to-verdict")
}
