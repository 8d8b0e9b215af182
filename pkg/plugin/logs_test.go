package plugin

import (
	"bytes"
	"testing"
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
