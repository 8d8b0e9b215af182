package plugin

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

func TestResultsMergeValidate(t *testing.T) {
	for _, c := range []struct {
		o    ResultsMergeOptions
		want string
	}{
		{ResultsMergeOptions{Dirs: []string{"a"}}, "--output-dir is required"},
		{ResultsMergeOptions{Dirs: []string{"a"}, OutputDir: "o", Expected: -1}, "--expected -1"},
		{ResultsMergeOptions{Dirs: []string{"a", "b", "c"}, OutputDir: "o", Expected: 2}, "3 folders but --expected 2"},
		{ResultsMergeOptions{Dirs: []string{"a"}, OutputDir: "o", Expected: 2}, ""},
	} {
		err := c.o.Validate()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: err = %v, want %q", c.o, err, c.want)
		}
	}
}

func TestResultsMergeRun(t *testing.T) {
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	base := filepath.Join("..", "results", "testdata", "merge", "native")
	o := &ResultsMergeOptions{IOStreams: streams, OutputDir: filepath.Join(t.TempDir(), "m"), Expected: 4}
	if err := o.Complete(nil, nil, []string{filepath.Join(base, "l0"), filepath.Join(base, "l1"), filepath.Join(base, "l2")}); err != nil {
		t.Fatal(err)
	}
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// ../results/testdata/merge/gen.py: stage 0 has 111 requests, 11 failed; launcher 3 wrote nothing here.
	for _, want := range []string{"merged from 3 of 4 launchers (missing: 3 (no result folder))", "stage 0: 111 requests (11 failed), achieved 34.32 req/s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output %q lacks %q", out.String(), want)
		}
	}
	// results show says what the folder merges, and that it is partial.
	r, err := results.ReadDir(o.OutputDir)
	if err != nil {
		t.Fatal(err)
	}
	var shown bytes.Buffer
	if err := printReport(&shown, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"merged from 3 of 4 launchers (missing: 3 (no result folder)), start skew up to 8 ms",
		"PARTIAL: workload w merges 3 of its 4 launchers"} {
		if !strings.Contains(shown.String(), want) {
			t.Errorf("results show %q lacks %q", shown.String(), want)
		}
	}
}
