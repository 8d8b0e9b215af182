package loadgen

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// The child half of TestFileLimitInAProcess: it lowers its own limits, which the parent's
// must not see.
func fileLimitChild() {
	var orig syscall.Rlimit
	must := func(err error) {
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(0)
		}
	}
	must(syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig))
	// A soft limit below the hard one is raised back to it.
	must(syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: 64, Max: orig.Max}))
	lim, err := processFileLimit()
	must(err)
	var now syscall.Rlimit
	must(syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now))
	fmt.Printf("RAISED %d %d %d %d\n", lim.Soft, lim.Hard, now.Cur, orig.Max)
	// A hard limit of 100 leaves too few descriptors for 500 connections.
	must(syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: 100, Max: 100}))
	w, err := ParseWorkload([]byte(`
load: {type: concurrent, stages: [{num_requests: 1000, concurrency_level: 500}]}
server: {model_name: m, base_url: "http://127.0.0.1:9"}
data: {type: random, input_distribution: {min: 3, max: 3, mean: 3}, output_distribution: {min: 2, max: 2, mean: 2}}
`))
	must(err)
	_, err = Run(context.Background(), w, Options{})
	fmt.Printf("RUN %v\n", err)
	os.Exit(0)
}

func TestFileLimitInAProcess(t *testing.T) {
	if os.Getenv("LOADGEN_FILE_LIMIT_CHILD") == "1" {
		fileLimitChild()
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileLimitInAProcess$")
	cmd.Env = append(os.Environ(), "LOADGEN_FILE_LIMIT_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	text := string(out)
	var soft, hard, now, origMax uint64
	if _, err := fmt.Sscanf(text[strings.Index(text, "RAISED"):], "RAISED %d %d %d %d", &soft, &hard, &now, &origMax); err != nil {
		t.Fatalf("child output %q: %v", text, err)
	}
	if soft != origMax || hard != origMax || now != origMax {
		t.Errorf("soft limit 64 raised to %d (process now %d), want the hard limit %d", soft, now, origMax)
	}
	if !strings.Contains(text, "RUN load.stages[0] needs up to 500 connections but only ") ||
		!strings.Contains(text, " file descriptors are available (ulimit -n 100, hard limit 100)") {
		t.Errorf("child output:\n%s", text)
	}
}
