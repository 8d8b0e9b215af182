package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	cmdtesting "k8s.io/kubectl/pkg/cmd/testing"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
)

const runLog = `[llmdbench] run r launcher 0: 2 workload(s) with harness inference-perf
[llmdbench] workload 1/2 first started
first line a
first line b
[llmdbench] workload 1/2 first succeeded after 3s
[llmdbench] workload 2/2 second started
second line
[llmdbench] workload 2/2 second failed with exit code 3
[llmdbench] run r launcher 0 finished: 1 of 2 workload(s) failed
`

func TestLogPrinterFiltersWorkloadsAndTails(t *testing.T) {
	var out bytes.Buffer
	p := &logPrinter{out: &out, tail: -1, workload: "first"}
	// Fed in pieces that split lines, as a follower receives them.
	for _, chunk := range []string{runLog[:50], runLog[50:97], runLog[97:]} {
		p.write([]byte(chunk))
	}
	p.flush()
	want := "[llmdbench] workload 1/2 first started\nfirst line a\nfirst line b\n[llmdbench] workload 1/2 first succeeded after 3s\n"
	if out.String() != want {
		t.Errorf("got %q\nwant %q", out.String(), want)
	}
	out.Reset()
	p = &logPrinter{out: &out, tail: 2, prefix: "[launcher 1] "}
	p.write([]byte(runLog))
	p.write([]byte("later line\n")) // --tail applies to what was there when following began
	want = "[launcher 1] [llmdbench] workload 2/2 second failed with exit code 3\n[launcher 1] [llmdbench] run r launcher 0 finished: 1 of 2 workload(s) failed\n[launcher 1] later line\n"
	if out.String() != want {
		t.Errorf("got %q\nwant %q", out.String(), want)
	}
}

// countingExec counts the commands run in pods.
type countingExec struct{ calls int }

func (c *countingExec) Exec(context.Context, cluster.PodRef, []string, io.Writer, io.Writer) error {
	c.calls++
	return errors.New("no pod")
}

// `logs RUN --pvc` put the run ID into the shell line read in the reader pod, unvalidated: a run
// ID of any other shape is now refused in one line naming the shape, before anything reads the
// cluster or runs in a pod.
func TestLogsRefusesAMalformedRunIDBeforeAnyRead(t *testing.T) {
	for _, bad := range []string{"x'; touch /tmp/PWNED; : '", "../1764000000-abcd", "1764000000-ABCD", "latest"} {
		streams, _, out, errOut := genericiooptions.NewTestIOStreams()
		tf := cmdtesting.NewTestFactory().WithNamespace("llm-d")
		o := NewLogsOptions(streams)
		var reads int
		cs := fake.NewClientset()
		cs.PrependReactor("*", "*", func(k8stesting.Action) (bool, runtime.Object, error) {
			reads++
			return false, nil, nil
		})
		ex := &countingExec{}
		o.access.Clients = &Clients{Client: cs, Executor: ex}
		cmd := newCmdLogs(tf, o)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		cmd.SetArgs([]string{bad, "--pvc", "results"})
		err := cmd.ExecuteContext(context.Background())
		tf.Cleanup()
		want := fmt.Sprintf("logs: %q is not a run ID: want <unix seconds>-<4 hex digits>, like 1795740000-ab12", bad)
		if err == nil || err.Error() != want {
			t.Errorf("%q: error %v\nwant %s", bad, err, want)
		}
		if reads != 0 || ex.calls != 0 || out.Len() != 0 || errOut.Len() != 0 {
			t.Errorf("%q: %d API calls, %d execs, out %q, err %q before refusing", bad, reads, ex.calls, out, errOut)
		}
	}
}

// A whole log whose last line is unfinished (a launcher still writing): --tail 2 gives the last two
// lines, the unfinished one among them, not three.
func TestLogPrinterTailCountsAnUnfinishedLastLine(t *testing.T) {
	var out bytes.Buffer
	p := &logPrinter{out: &out, tail: 2}
	p.writeAll([]byte("one\ntwo\nthree\nfour (still being writ"))
	if want := "three\nfour (still being writ\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
