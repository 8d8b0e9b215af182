package results

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// entries lists what the cache folder holds, hidden fetch folders included.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestCacheFillRenamesCompleteFoldersIntoPlace(t *testing.T) {
	c := Cache{Dir: filepath.Join(t.TempDir(), "cache")}
	writeFile(t, filepath.Join(c.Dir, "a", "old.json"), "old") // an older copy is replaced whole
	err := c.Fill([]string{"a", "b"}, func(dest string) error {
		writeFile(t, filepath.Join(dest, "a", "summary.json"), "A")
		writeFile(t, filepath.Join(dest, "b", "summary.json"), "B")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if readFile(t, filepath.Join(c.Path("a"), "summary.json")) != "A" || readFile(t, filepath.Join(c.Path("b"), "summary.json")) != "B" {
		t.Error("folders not in place")
	}
	if _, err := os.Stat(filepath.Join(c.Path("a"), "old.json")); !os.IsNotExist(err) {
		t.Error("the older copy's file survived")
	}
	if got := entries(t, c.Dir); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("cache holds %v, want [a b] and no fetch folder", got)
	}
}

// A copy that fails half way leaves no half folder and keeps the older copy as it was.
func TestCacheFillFailureLeavesNoHalfFolder(t *testing.T) {
	c := Cache{Dir: filepath.Join(t.TempDir(), "cache")}
	writeFile(t, filepath.Join(c.Path("a"), "summary.json"), "old A")
	broken := errors.New("connection reset")
	err := c.Fill([]string{"a", "b"}, func(dest string) error {
		writeFile(t, filepath.Join(dest, "a", "summary.json"), "new A")
		writeFile(t, filepath.Join(dest, "b", "stage_0.json"), "half of B")
		return broken
	})
	if !errors.Is(err, broken) {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(c.Path("b")); !os.IsNotExist(err) {
		t.Error("half of b is in the cache")
	}
	if got := readFile(t, filepath.Join(c.Path("a"), "summary.json")); got != "old A" {
		t.Errorf("a holds %q, want the older copy", got)
	}
	if got := entries(t, c.Dir); len(got) != 1 || got[0] != "a" {
		t.Errorf("cache holds %v, want only a (no fetch folder left)", got)
	}
}

// A fetch that returns without bringing every folder moves none of them.
func TestCacheFillMissingFolderMovesNothing(t *testing.T) {
	c := Cache{Dir: filepath.Join(t.TempDir(), "cache")}
	err := c.Fill([]string{"a", "b"}, func(dest string) error {
		writeFile(t, filepath.Join(dest, "a", "summary.json"), "A")
		return nil
	})
	if err == nil {
		t.Fatal("want an error naming b")
	}
	if got := entries(t, c.Dir); len(got) != 0 {
		t.Errorf("cache holds %v, want nothing", got)
	}
}

func TestCacheFillNothingTouchesNothing(t *testing.T) {
	c := Cache{Dir: filepath.Join(t.TempDir(), "cache")}
	if err := c.Fill(nil, func(string) error { t.Error("fetch called"); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.Dir); !os.IsNotExist(err) {
		t.Error("an empty fill created the cache folder")
	}
}

// A folder fetched while its workload ran is fetched again next time; others stay cached. With
// --per-request a copy without the per-request file is fetched again.
// (Moved here from pkg/plugin with the cache.)
func TestCacheHas(t *testing.T) {
	c := Cache{Dir: t.TempDir()}
	for name, meta := range map[string]string{
		"running": `{"run": "r", "verdict": "running", "exitCode": null}`,
		"done":    `{"run": "r", "verdict": "failed", "exitCode": 3, "finished": 9, "complete": false}`,
	} {
		writeFile(t, filepath.Join(c.Path(name), runstate.MetadataFile), meta)
	}
	writeFile(t, filepath.Join(c.Path("plain"), "summary.json"), "{}")
	writeFile(t, filepath.Join(c.Path("with-pr"), runstate.PerRequestFile), "[]")
	writeFile(t, filepath.Join(c.Dir, "a-file"), "not a folder")
	for _, tc := range []struct {
		name       string
		perRequest bool
		want       bool
	}{
		{"running", false, false}, {"done", false, true}, {"plain", false, true}, {"absent", false, false}, {"a-file", false, false},
		{"plain", true, false}, {"with-pr", true, true}, {"with-pr", false, true},
	} {
		if got := c.Has(tc.name, tc.perRequest); got != tc.want {
			t.Errorf("Has(%s, perRequest=%v) = %v, want %v", tc.name, tc.perRequest, got, tc.want)
		}
	}
	if got := c.Missing([]string{"done", "running", "absent"}, false); len(got) != 2 || got[0] != "running" || got[1] != "absent" {
		t.Errorf("Missing = %v", got)
	}
	if Cacheable(c.Path("running")) || !Cacheable(c.Path("done")) || !Cacheable(c.Path("no-metadata")) {
		t.Error("Cacheable")
	}
}
