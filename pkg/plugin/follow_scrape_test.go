package plugin

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

// countingFetcher serves a fixed exposition and counts the fetches.
type countingFetcher struct{ n atomic.Int32 }

func (f *countingFetcher) Fetch(context.Context, results.ServerTarget) ([]byte, error) {
	f.n.Add(1)
	return []byte("# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running 3\n"), nil
}

func TestFollowScraperOneSeriesPerWorkloadPlacedInItsFolder(t *testing.T) {
	dir := t.TempDir()
	var warnings []string
	fetch := &countingFetcher{}
	targets := []results.ServerTarget{{Namespace: "ns", Pod: "sim-0", Role: "model-server", URL: "/api/v1/namespaces/ns/pods/http:sim-0:8000/proxy/metrics", Via: "proxy"}}
	s := newFollowScraper(dir, targets, 20*time.Millisecond, fetch, func(w string) { warnings = append(warnings, w) })
	st := func(phases ...string) cluster.Status {
		var out cluster.Status
		for i, ph := range phases {
			out.Workloads = append(out.Workloads, cluster.WorkloadState{Name: "w", Launcher: 0, Phase: ph, ResultsDir: "/requests/folder" + string(rune('A'+i))},
				// Launcher 1 ran the same workload at the same time: not scraped twice.
				cluster.WorkloadState{Name: "w", Launcher: 1, Phase: ph, ResultsDir: "/requests/other" + string(rune('A'+i))})
		}
		return out
	}
	s.status(st(cluster.PhaseRunning, cluster.PhasePending))
	time.Sleep(150 * time.Millisecond)
	s.status(st(cluster.PhaseSucceeded, cluster.PhaseRunning))
	s.status(st(cluster.PhaseSucceeded, cluster.PhaseRunning)) // seen again: nothing restarts
	time.Sleep(60 * time.Millisecond)
	s.stop()
	if len(warnings) != 0 {
		t.Fatalf("warnings %v", warnings)
	}
	// folderA was fetched, folderB was not.
	if err := os.MkdirAll(filepath.Join(dir, "folderA"), 0o755); err != nil {
		t.Fatal(err)
	}
	notes, err := s.place()
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.HasPrefix(notes[0], "The server metrics of folderB stay in "+filepath.Join(dir, stagingDir, "folderB")) {
		t.Errorf("notes %q", notes)
	}
	f, err := os.Open(filepath.Join(dir, "folderA", results.ServerMetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var kinds []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l results.ServerMetricsLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if l.Kind == results.ServerLineSample && (l.Values["vllm:num_requests_running"] != 3 || l.Pod != "sim-0") {
			t.Errorf("sample %+v", l)
		}
		kinds = append(kinds, l.Kind)
	}
	// A header, then samples only: the plugin does not see an image harness's stages.
	if len(kinds) < 3 || kinds[0] != "header" || strings.Contains(strings.Join(kinds[1:], ","), "stage") || strings.Contains(strings.Join(kinds[1:], ","), "header") {
		t.Errorf("kinds %v", kinds)
	}
	if _, err := os.Stat(filepath.Join(dir, stagingDir, "folderA")); !os.IsNotExist(err) {
		t.Errorf("the staged folder of folderA is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "otherA")); !os.IsNotExist(err) {
		t.Errorf("launcher 1's folder was scraped too: %v", err)
	}
	// Everything was placed: the staging folder goes.
	if err := os.MkdirAll(filepath.Join(dir, "folderB"), 0o755); err != nil {
		t.Fatal(err)
	}
	if notes, err := s.place(); err != nil || len(notes) != 0 {
		t.Fatal(notes, err)
	}
	if _, err := os.Stat(filepath.Join(dir, stagingDir)); !os.IsNotExist(err) {
		t.Errorf("the staging folder is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "folderB", results.ServerMetricsFile)); err != nil {
		t.Error(err)
	}
}

func TestFollowScraperWarnsWhenItCannotWrite(t *testing.T) {
	dir := t.TempDir()
	// The staging path is a file: no series can be created there.
	if err := os.WriteFile(filepath.Join(dir, stagingDir), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	targets := []results.ServerTarget{{Namespace: "ns", Pod: "sim-0", Role: "model-server", URL: "http://10.0.0.5:8000/metrics", Via: "direct"}}
	s := newFollowScraper(dir, targets, time.Second, &countingFetcher{}, func(w string) { warnings = append(warnings, w) })
	s.status(cluster.Status{Workloads: []cluster.WorkloadState{{Launcher: 0, Phase: cluster.PhaseRunning, ResultsDir: "/requests/f"}}})
	s.stop()
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "workload folder f: no server metrics: ") {
		t.Errorf("warnings %q", warnings)
	}
}
