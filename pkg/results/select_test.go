package results

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

func TestSelectByRunLabels(t *testing.T) {
	a := &Report{Source: "a", Metadata: &runstate.Metadata{RunInfo: runstate.RunInfo{Labels: map[string]string{"team": "x", "gpu": "h100"}}}}
	b := &Report{Source: "b", Metadata: &runstate.Metadata{RunInfo: runstate.RunInfo{Labels: map[string]string{"team": "y"}}}}
	bare := &Report{Source: "bare"}
	all := []*Report{a, b, bare}
	names := func(rs []*Report) (s string) {
		for _, r := range rs {
			s += r.Source
		}
		return s
	}
	for _, tc := range []struct {
		sel  map[string]string
		want string
	}{
		{nil, "abbare"},
		{map[string]string{"team": "x"}, "a"},
		{map[string]string{"team": "x", "gpu": "h100"}, "a"},
		{map[string]string{"team": "x", "gpu": "a100"}, ""},
		{map[string]string{"team": "z"}, ""},
	} {
		if got := names(Select(all, tc.sel)); got != tc.want {
			t.Errorf("Select(%v) = %q, want %q", tc.sel, got, tc.want)
		}
	}
}

func TestAddPerRequest(t *testing.T) {
	// 20 records (counted with python3's json module), from the tester's inputs.
	src := "testdata/tester/pr_only"
	r := &Report{Source: src}
	if err := AddPerRequest(r, nil); err != nil {
		t.Fatal(err)
	}
	if r.PerRequest == nil || r.PerRequest.Records != 20 {
		t.Fatalf("per-request %+v", r.PerRequest)
	}
	none := &Report{Source: t.TempDir()}
	if err := AddPerRequest(none, nil); !errors.Is(err, ErrNoPerRequestFile) || none.PerRequest != nil {
		t.Errorf("no file: got %v", err)
	}
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, runstate.PerRequestFile), []byte("[]"), 0o644); err != nil {
		t.Fatal(err)
	}
	er := &Report{Source: empty}
	if err := AddPerRequest(er, nil); !errors.Is(err, ErrNoRequests) || er.PerRequest != nil {
		t.Errorf("empty array: got %v", err)
	}
}

// A merged folder stands for the launcher folders it merges or names missing; a launcher folder of
// another run, and any folder when no merge is shown, stay, in order.
func TestPreferMerged(t *testing.T) {
	r := func(src string, m *MergeSummary) *Report { return &Report{Source: src, Merge: m} }
	merge := &MergeSummary{
		Merged:  []MergedLauncher{{Index: 0, Dir: "/elsewhere/x_run_w_s_0"}, {Index: 1, Dir: "x_run_w_s_1"}},
		Missing: []MissingLauncher{{Index: 2, Dir: "/tmp/x_run_w_s_2", Reason: "verdict failed"}, {Index: 3, Reason: "no result folder"}},
	}
	all := []*Report{r("d/x_run_w_s_0", nil), r("d/x_run_w_s", merge), r("d/x_run_w_s_1/", nil), r("d/x_run_w_s_2", nil), r("d/other_run_w_s_0", nil)}
	var got []string
	for _, k := range PreferMerged(all) {
		got = append(got, k.Source)
	}
	if want := []string{"d/x_run_w_s", "d/other_run_w_s_0"}; !slices.Equal(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
	plain := all[:1]
	if k := PreferMerged(plain); len(k) != 1 || k[0] != plain[0] {
		t.Errorf("no merge among them: %v", k)
	}
}
