package plugin

import (
	"strings"
	"testing"
)

func TestParseLabels(t *testing.T) {
	set, err := parseLabels([]string{"team=perf", "llm-d.ai/stack=pd", "empty="})
	if err != nil || len(set) != 3 || set["team"] != "perf" || set["llm-d.ai/stack"] != "pd" || set["empty"] != "" {
		t.Errorf("%v %v", set, err)
	}
	for in, want := range map[string]string{
		"nokey":                        `--label "nokey": expected KEY=VALUE with a Kubernetes label key and value`,
		"=v":                           `--label "=v": expected KEY=VALUE with a Kubernetes label key and value`,
		"bad key=v":                    `--label "bad key=v": expected KEY=VALUE with a Kubernetes label key and value: key "bad key": name part must consist of alphanumeric characters`,
		"k=two words":                  `--label "k=two words": expected KEY=VALUE with a Kubernetes label key and value: value "two words": a valid label must be`,
		"k=" + strings.Repeat("x", 64): `value "` + strings.Repeat("x", 64) + `": must be no more than 63 bytes`,
	} {
		_, err := parseLabels([]string{"ok=1", in})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v\nwant %q", in, err, want)
		}
	}
}

// results --label is validated as run --label is: the same bad pair, the same refusal, before
// anything is read.
func TestResultsLabelValidatedLikeRun(t *testing.T) {
	const want = `--label "two words=x": expected KEY=VALUE with a Kubernetes label key and value: key "two words"`
	for _, args := range [][]string{
		{"run", "--preset", "pd", "-n", "x", "--pvc", "p", "--base-url", "http://a:80", "--dry-run=client", "--label", "two words=x"},
		{"results", "-n", "x", "--label", "two words=x"},
		{"results", "show", t.TempDir(), "--label", "two words=x"},
	} {
		out, _, err := execute(t, "", args...)
		if err == nil || !strings.Contains(err.Error(), want) || out != "" {
			t.Errorf("%v: %v (stdout %q)", args, err, out)
		}
	}
}

func TestFormatLabels(t *testing.T) {
	// Sorted by key, joined with commas: computed by hand.
	if got := formatLabels(map[string]string{"team": "perf", "sut": "fast", "a.b/c": "1"}); got != "a.b/c=1,sut=fast,team=perf" {
		t.Errorf("got %q", got)
	}
	if got := formatLabels(nil); got != "" {
		t.Errorf("no labels: %q", got)
	}
}
