// Package runstate is the contract for the run folder the in-pod script keeps on the results
// volume: where it lives, which files it writes, and how they read back. The script builder (in
// package launcher) writes these names into the script; the plugin reads them back through exec.
package runstate

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const (
	// ResultsMount is where the results volume is mounted (the llm-d-benchmark image contract).
	ResultsMount = "/requests"
	// Root holds one folder per run; the leading dot keeps it out of harness result listings.
	Root = ResultsMount + "/.llmdbench"

	// LogFile is the launcher's log (its stdout and stderr), per launcher index.
	LogFile = "run.log"
	// LockDir is created atomically when a launcher starts, so a retried start is a no-op.
	LockDir = "lock"
	// DoneFile is written last, when every workload of the launcher has finished.
	DoneFile = "done"
	// FetchedFile is written by the plugin once it fetched a launcher's results from a run
	// without a results claim (an emptyDir): the launcher, which keeps its pod alive after its
	// done marker for that, then exits.
	FetchedFile = "fetched"
	// StatusSuffix names a workload's status file: <workload>.status.
	StatusSuffix = ".status"
)

// RunDir is the folder of one run.
func RunDir(runID string) string { return path.Join(Root, runID) }

// LauncherDir is the folder of one launcher (parallel index) of a run.
func LauncherDir(runID string, index int) string {
	return path.Join(RunDir(runID), strconv.Itoa(index))
}

// ResultsDir is where llm-d-benchmark.sh writes a workload's results:
// <harness>_<runID>_<workload>_<stack>, with _<index> appended when several launchers run.
func ResultsDir(harness, runID, workload, stack string, index, parallelism int) string {
	return path.Join(ResultsMount, harness+"_"+ExperimentID(runID, workload)+"_"+LauncherStack(stack, index, parallelism))
}

// ExperimentID is the LLMDBENCH_RUN_EXPERIMENT_ID of a workload.
func ExperimentID(runID, workload string) string { return runID + "_" + workload }

// LauncherStack is the stack name a launcher passes to the image; it carries the parallel index so
// that each launcher writes its own results folder.
func LauncherStack(stack string, index, parallelism int) string {
	if parallelism > 1 {
		return stack + "_" + strconv.Itoa(index)
	}
	return stack
}

// Status keys, written one key=value per line as a workload progresses.
const (
	KeyWorkload   = "workload"
	KeyIndex      = "index"
	KeyStarted    = "started"
	KeyFinished   = "finished"
	KeyExitCode   = "exit_code"
	KeyTimedOut   = "timed_out"
	KeyResultsDir = "results_dir"
	KeyFailed     = "failed"
	// KeyHarnessFailed is set when the image's entry script reported a failed harness (and would
	// retry it): the run script stopped the workload at once.
	KeyHarnessFailed = "harness_failed"
	// KeyStderr lines, one per line of the harness's last stderr lines, in order.
	KeyStderr = "stderr"
)

// Verdicts: the one word for a workload's (or a result folder's) outcome. The run script writes
// them into each folder's metadata and every reader shows them.
const (
	// VerdictSucceeded: the workload ended with exit code 0.
	VerdictSucceeded = "succeeded"
	// VerdictFailed: the workload ended with another exit code, or its harness failed.
	VerdictFailed = "failed"
	// VerdictTimedOut: the wait timeout stopped the workload.
	VerdictTimedOut = "timed-out"
	// VerdictRunning: the workload has started and its launcher still runs.
	VerdictRunning = "running"
	// VerdictIncomplete: the workload started but its launcher is gone (deleted, or the run was
	// removed) before it finished; its folder holds what was written until then.
	VerdictIncomplete = "incomplete"
)

// Complete tells whether a folder with this verdict holds everything its workload meant to
// write: only a succeeded workload does. An empty verdict (a folder not made by the plugin) is
// not known to be partial.
func Complete(verdict string) bool {
	return verdict == VerdictSucceeded || verdict == ""
}

// WorkloadStatus is what a launcher recorded about one workload.
type WorkloadStatus struct {
	Workload   string
	Index      int
	StartedAt  time.Time
	FinishedAt time.Time
	// ExitCode is set once the workload finished.
	ExitCode   *int
	TimedOut   bool
	ResultsDir string
	// HarnessFailed: the image's entry script reported a failed harness and the run script
	// stopped the workload instead of letting it retry.
	HarnessFailed bool
	// Stderr holds the harness's last stderr lines, when it failed.
	Stderr []string
}

// Finished tells whether the workload has ended.
func (s WorkloadStatus) Finished() bool { return s.ExitCode != nil }

// Succeeded tells whether the workload ended well.
func (s WorkloadStatus) Succeeded() bool {
	return s.ExitCode != nil && *s.ExitCode == 0 && !s.TimedOut && !s.HarnessFailed
}

// Verdict is the status's verdict, given whether the launcher that runs it still exists (a
// workload that has not finished and has no launcher any more never will).
func (s WorkloadStatus) Verdict(launcherAlive bool) string {
	switch {
	case s.Succeeded():
		return VerdictSucceeded
	case s.TimedOut:
		return VerdictTimedOut
	case s.Finished() || s.HarnessFailed:
		return VerdictFailed
	case launcherAlive:
		return VerdictRunning
	}
	return VerdictIncomplete
}

// FolderVerdict decides a result folder's verdict from what the volume says and whether the
// folder's launcher still exists: the status file the run script keeps (nil when the run folder
// is gone) wins over the folder's own metadata, which says "running" until the workload ends. A
// folder with neither was not written by the plugin: "".
func FolderVerdict(st *WorkloadStatus, meta *Metadata, launcherAlive bool) string {
	switch {
	case st != nil:
		return st.Verdict(launcherAlive)
	case meta == nil:
		return ""
	case meta.Verdict == VerdictRunning && !launcherAlive:
		return VerdictIncomplete
	}
	return meta.Verdict
}

// ParseStatus reads a status file. Later lines win, so the script may append as it goes.
func ParseStatus(data []byte) (WorkloadStatus, error) {
	var s WorkloadStatus
	kv := parseKV(data)
	s.Workload = kv[KeyWorkload]
	s.ResultsDir = kv[KeyResultsDir]
	s.TimedOut = kv[KeyTimedOut] == "true"
	s.HarnessFailed = kv[KeyHarnessFailed] == "true"
	s.Stderr = stderrLines(data)
	var err error
	if v, ok := kv[KeyIndex]; ok {
		if s.Index, err = strconv.Atoi(v); err != nil {
			return s, fmt.Errorf("status %s: bad index %q", s.Workload, v)
		}
	}
	if s.StartedAt, err = epoch(kv, KeyStarted); err != nil {
		return s, err
	}
	if s.FinishedAt, err = epoch(kv, KeyFinished); err != nil {
		return s, err
	}
	if v, ok := kv[KeyExitCode]; ok {
		code, err := strconv.Atoi(v)
		if err != nil {
			return s, fmt.Errorf("status %s: bad exit code %q", s.Workload, v)
		}
		s.ExitCode = &code
	}
	return s, nil
}

// stderrLines collects every KeyStderr line, in order (parseKV keeps only the last).
func stderrLines(data []byte) []string {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), KeyStderr+"="); ok {
			lines = append(lines, v)
		}
	}
	return lines
}

func parseKV(data []byte) map[string]string {
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return kv
}

func epoch(kv map[string]string, key string) (time.Time, error) {
	v, ok := kv[key]
	if !ok || v == "" {
		return time.Time{}, nil
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad %s time %q", key, v)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// Snapshot is one read of a launcher's run folder: every status so far, the done marker, and the
// run log from a byte offset on.
type Snapshot struct {
	Workloads []WorkloadStatus
	Done      bool
	// Failed is the launcher's own count of failed workloads, once done.
	Failed int
	// Log holds the run log bytes from the requested offset.
	Log []byte
	// Started tells whether the launcher's script has begun (its folder exists).
	Started bool
}

const (
	markStatus  = "@@llmdbench-status "
	markDone    = "@@llmdbench-done"
	markLog     = "@@llmdbench-log"
	markStarted = "@@llmdbench-started"
)

// SnapshotOptions shape one read of a launcher's run folder.
type SnapshotOptions struct {
	// Offset is the run log byte from which the snapshot carries the log.
	Offset int64
	// SkipLog leaves the log out (a status read needs none of it).
	SkipLog bool
	// Wait > 0 makes the read first wait, in the pod, until the log grows past Offset or the
	// launcher is done (at most Wait).
	Wait time.Duration
}

// SnapshotCommand is the exec command that prints a Snapshot of one launcher in one round trip.
// With o.Wait > 0 it first waits in the pod for news, so a follower learns of changes within a
// fifth of a second without polling over the network. It uses only POSIX sh, cat, tail, wc, sleep.
func SnapshotCommand(runID string, index int, o SnapshotOptions) []string {
	rounds := int(o.Wait / (200 * time.Millisecond))
	logCmd := `[ -f "$d/$log" ] && tail -c +` + ShellQuote(strconv.FormatInt(o.Offset+1, 10)) + ` "$d/$log"`
	if o.SkipLog {
		rounds, logCmd = 0, ":"
	}
	script := `d=` + ShellQuote(LauncherDir(runID, index)) + `
log=` + ShellQuote(LogFile) + ` done=` + ShellQuote(DoneFile) + ` lock=` + ShellQuote(LockDir) + ` suffix=` + ShellQuote(StatusSuffix) + `
i=0
while [ "$i" -lt ` + ShellQuote(strconv.Itoa(rounds)) + ` ] && [ ! -f "$d/$done" ]; do
  [ -f "$d/$log" ] && [ "$(wc -c <"$d/$log")" -gt ` + ShellQuote(strconv.FormatInt(o.Offset, 10)) + ` ] && break
  sleep 0.2
  i=$((i + 1))
done
[ -d "$d/$lock" ] && echo ` + ShellQuote(markStarted) + `
for f in "$d"/*"$suffix"; do [ -f "$f" ] && { echo ` + ShellQuote(markStatus) + `"${f##*/}"; cat "$f"; }; done
[ -f "$d/$done" ] && { echo ` + ShellQuote(markDone) + `; cat "$d/$done"; }
echo ` + ShellQuote(markLog) + `
` + logCmd + `
exit 0`
	return []string{"sh", "-c", script}
}

// ParseSnapshot reads what SnapshotCommand printed.
func ParseSnapshot(out []byte) (Snapshot, error) {
	var s Snapshot
	head, log, found := bytes.Cut(out, []byte(markLog+"\n"))
	if !found {
		return s, fmt.Errorf("unexpected run folder listing (no log marker): %.200q", out)
	}
	s.Log = log
	var section string
	var body bytes.Buffer
	flush := func() error {
		switch {
		case strings.HasPrefix(section, markStatus):
			st, err := ParseStatus(body.Bytes())
			if err != nil {
				return err
			}
			if st.Workload == "" {
				st.Workload = strings.TrimSuffix(strings.TrimPrefix(section, markStatus), StatusSuffix)
			}
			s.Workloads = append(s.Workloads, st)
		case section == markDone:
			s.Done = true
			kv := parseKV(body.Bytes())
			s.Failed, _ = strconv.Atoi(kv[KeyFailed])
		}
		body.Reset()
		return nil
	}
	for _, line := range strings.SplitAfter(string(head), "\n") {
		trimmed := strings.TrimSuffix(line, "\n")
		if strings.HasPrefix(trimmed, "@@llmdbench-") {
			if err := flush(); err != nil {
				return s, err
			}
			section = trimmed
			if section == markStarted {
				s.Started = true
			}
			continue
		}
		body.WriteString(line)
	}
	return s, flush()
}

// ResultFolder is one results folder on the volume.
type ResultFolder struct {
	Name     string `json:"name"`
	Harness  string `json:"harness,omitempty"`
	Run      string `json:"run,omitempty"`
	Workload string `json:"workload,omitempty"`
	Stack    string `json:"stack,omitempty"`
	// KiB is the folder's size on disk; PerRequestBytes the per-request file's size (0: none).
	KiB             int64           `json:"kib"`
	PerRequestBytes int64           `json:"perRequestBytes"`
	Modified        time.Time       `json:"modified"`
	Status          *WorkloadStatus `json:"status,omitempty"`
	Metadata        *Metadata       `json:"metadata,omitempty"`
	// Verdict is the folder's verdict (see FolderVerdict), "" for folders not made by the
	// plugin; Complete says whether the folder holds its whole workload (null when the verdict
	// is not known).
	Verdict  string `json:"verdict,omitempty"`
	Complete *bool  `json:"complete,omitempty"`
}

// Decide sets each folder's Verdict and Complete; alive tells whether the launcher of a run's
// parallel index still exists (see FolderVerdict).
func Decide(folders []ResultFolder, alive func(run string, index int) bool) {
	for i := range folders {
		f := &folders[i]
		run, index := f.Run, 0
		switch {
		case f.Status != nil:
			index = f.Status.Index
		case f.Metadata != nil:
			run, index = f.Metadata.Run, f.Metadata.ParallelIndex
		}
		f.Verdict = FolderVerdict(f.Status, f.Metadata, run != "" && alive(run, index))
		f.Complete = nil
		if f.Verdict != "" {
			c := Complete(f.Verdict)
			f.Complete = &c
		}
	}
}

// PerRequestFile is inference-perf's per-request file: often GBs, rarely needed locally.
const PerRequestFile = "per_request_lifecycle_metrics.json"

const (
	markFolder  = "@@llmdbench-folder "
	markMeta    = "@@llmdbench-meta "
	markRecords = "@@llmdbench-records "
)

// ResultsListCommand prints every results folder under the mount (size, time, per-request file
// size), every status file and every folder's metadata (its records too), so one exec answers
// `results`.
func ResultsListCommand() []string {
	script := `cd ` + ShellQuote(ResultsMount) + ` || exit 1
per_request=` + ShellQuote(PerRequestFile) + ` meta=` + ShellQuote(MetadataFile) + ` records=` + ShellQuote(MetadataRecordsFile) + `
for d in *; do
  [ -d "$d" ] || continue
  kib=$(du -sk "$d" | cut -f1)
  mod=$(date -r "$d" +%s)
  pr=0
  [ -f "$d/$per_request" ] && pr=$(stat -c %s "$d/$per_request")
  echo ` + ShellQuote(markFolder) + `"$kib $mod $pr $d"
done
for f in ` + ShellQuote(path.Base(Root)) + `/*/*/*` + ShellQuote(StatusSuffix) + `; do [ -f "$f" ] && { echo ` + ShellQuote(markStatus) + `"$f"; cat "$f"; }; done
for f in */"$meta"; do [ -f "$f" ] && { echo ` + ShellQuote(markMeta) + `"${f%/*}"; cat "$f"; echo; }; done
for f in */"$records"; do [ -f "$f" ] && { echo ` + ShellQuote(markRecords) + `"${f%/*}"; cat "$f"; }; done
exit 0`
	return []string{"sh", "-c", script}
}

// resultsName splits <harness>_<run>_<rest> (see ResultsDir).
var resultsName = regexp.MustCompile(`^([a-z][a-z0-9-]*)_(` + runIDExpr + `)_(.+)$`)

// ParseResultsList reads what ResultsListCommand printed. Folders are matched to the status that
// named them, which tells the workload apart from the stack (both may contain '_').
func ParseResultsList(out []byte) ([]ResultFolder, error) {
	var folders []ResultFolder
	byDir := map[string]WorkloadStatus{}
	metaByDir := map[string]*Metadata{}
	recordsByDir := map[string][]byte{}
	var section string
	var body bytes.Buffer
	flush := func() {
		if strings.HasPrefix(section, markStatus) {
			if st, err := ParseStatus(body.Bytes()); err == nil && st.ResultsDir != "" {
				byDir[path.Base(st.ResultsDir)] = st
			}
		}
		if dir, ok := strings.CutPrefix(section, markMeta); ok {
			// A folder whose metadata is unreadable is still listed, just without it.
			if m, err := ParseMetadata(body.Bytes()); err == nil {
				metaByDir[dir] = m
			}
		}
		if dir, ok := strings.CutPrefix(section, markRecords); ok {
			recordsByDir[dir] = bytes.Clone(body.Bytes())
		}
		body.Reset()
		section = ""
	}
	for _, line := range strings.SplitAfter(string(out), "\n") {
		trimmed := strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(trimmed, markFolder):
			flush()
			f := strings.SplitN(strings.TrimPrefix(trimmed, markFolder), " ", 4)
			if len(f) != 4 {
				return nil, fmt.Errorf("unexpected results listing line %q", trimmed)
			}
			kib, _ := strconv.ParseInt(f[0], 10, 64)
			mod, _ := strconv.ParseInt(f[1], 10, 64)
			pr, _ := strconv.ParseInt(strings.TrimSpace(f[2]), 10, 64)
			folders = append(folders, ResultFolder{Name: f[3], KiB: kib, Modified: time.Unix(mod, 0).UTC(), PerRequestBytes: pr})
		case strings.HasPrefix(trimmed, markStatus), strings.HasPrefix(trimmed, markMeta), strings.HasPrefix(trimmed, markRecords):
			flush()
			section = trimmed
		default:
			body.WriteString(line)
		}
	}
	flush()
	for dir, records := range recordsByDir {
		// The script's records complete the metadata it copied (see MetadataRecordsFile).
		if m := metaByDir[dir]; m != nil && m.ApplyRecords(records) != nil {
			delete(metaByDir, dir)
		}
	}
	for i := range folders {
		f := &folders[i]
		if m := resultsName.FindStringSubmatch(f.Name); m != nil {
			f.Harness, f.Run, f.Stack = m[1], m[2], m[3]
		}
		if st, ok := byDir[f.Name]; ok {
			st := st
			f.Status = &st
			f.Workload = st.Workload
			f.Stack = strings.TrimPrefix(f.Stack, st.Workload+"_")
		}
		if m := metaByDir[f.Name]; m != nil {
			f.Metadata = m
			f.Workload, f.Stack = m.Entry, strings.TrimPrefix(f.Stack, m.Entry+"_")
		}
	}
	return folders, nil
}
