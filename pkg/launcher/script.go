package launcher

import (
	"bytes"
	"strconv"
	"strings"
	"text/template"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// ProgressPrefix starts every line the run script itself prints, so a follower can tell the
// script's progress from the harness output it relays.
const ProgressPrefix = "[llmdbench]"

// HarnessRetryPattern is a sh case pattern for the line llm-d-benchmark.sh prints when its harness
// script failed, before it sleeps 30 s and tries again ("execution of
// /usr/local/bin/inference-perf-llm-d-benchmark.sh failed, wating 30 seconds and trying again",
// build/llm-d-benchmark.sh of image v0.4.0, which retries forever, and v0.5.0+). It matches the
// harness script only, not the analyzer's own retry line, and the spelling "waiting" too.
const HarnessRetryPattern = `*"execution of "*"-llm-d-benchmark"*" failed, wa"*"ing "*" seconds and trying again"*`

// EnvHarnessMaxTries bounds the harness retries of images v0.5.0 and newer (default 3); the run
// script sets it to 1.
const EnvHarnessMaxTries = "LLMDBENCH_RUN_EXPERIMENT_HARNESS_MAX_TRIES"

// StderrLines is how many of a failed workload's last stderr lines the run script keeps.
const StderrLines = 5

// Script renders the in-pod run script. It is POSIX sh (the real image has bash and dash, the
// local test cluster busybox) and is started detached, so nothing depends on a client connection:
// it runs the workloads in order, bounds each by the wait timeout (killing the workload's whole
// process group), and records each outcome in the run folder on the results volume.
func Script(s Spec) (string, error) {
	// Each entry is name:workload:repeat; names are validated to letters, digits, '-' and '_'.
	var entries []string
	for _, e := range s.Entries() {
		entries = append(entries, e.Name+":"+e.Workload+":"+strconv.Itoa(e.Repeat))
	}
	var buf bytes.Buffer
	native := ""
	if s.Native() {
		native = "yes"
	}
	err := scriptTemplate.Execute(&buf, map[string]string{
		"Native":         native,
		"NativeExec":     shQuote(NativeExecutable),
		"Profiles":       shQuote(ProfilesDir + "/" + s.Config.Harness.Name),
		"RunID":          shQuote(s.RunID),
		"Harness":        shQuote(s.Config.Harness.Name),
		"Workloads":      shQuote(strings.Join(entries, " ")),
		"ScriptDir":      shQuote(ScriptDir),
		"Metadata":       runstate.MetadataFile,
		"Timeout":        strconv.Itoa(int(s.Config.Harness.WaitTimeout.Seconds())),
		"Executable":     shQuote(Executable),
		"Root":           shQuote(runstate.Root),
		"Prefix":         shQuote(ProgressPrefix),
		"Log":            runstate.LogFile,
		"Lock":           runstate.LockDir,
		"Done":           runstate.DoneFile,
		"Status":         runstate.StatusSuffix,
		"KWorkload":      runstate.KeyWorkload,
		"KIndex":         runstate.KeyIndex,
		"KStarted":       runstate.KeyStarted,
		"KFinished":      runstate.KeyFinished,
		"KExit":          runstate.KeyExitCode,
		"KTimedOut":      runstate.KeyTimedOut,
		"KResults":       runstate.KeyResultsDir,
		"KFailed":        runstate.KeyFailed,
		"EnvIndex":       EnvLauncherIndex,
		"EnvExpID":       EnvExperimentID,
		"EnvPrefix":      EnvResultsPrefix,
		"EnvStack":       EnvStackName,
		"ResultsDir":     runstate.ResultsMount,
		"RetryLine":      HarnessRetryPattern,
		"EnvMaxTries":    EnvHarnessMaxTries,
		"KHarnessFailed": runstate.KeyHarnessFailed,
		"KStderr":        runstate.KeyStderr,
		"StderrLines":    strconv.Itoa(StderrLines),
		"VSucceeded":     runstate.VerdictSucceeded,
		"VFailed":        runstate.VerdictFailed,
		"VTimedOut":      runstate.VerdictTimedOut,
		"VRunning":       runstate.VerdictRunning,
	})
	return buf.String(), err
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

var scriptTemplate = template.Must(template.New("run.sh").Parse(`#!/bin/sh
# Written by kubectl-llmdbench. Runs this launcher's workloads one after another, each bounded by
# the wait timeout, and records every outcome in the run folder on the results volume.
set -u
run_id={{.RunID}}
harness={{.Harness}}
workloads={{.Workloads}}
timeout_s={{.Timeout}}
executable={{.Executable}}
prefix={{.Prefix}}
index="${ {{- .EnvIndex}}:-0}"
state={{.Root}}/"$run_id/$index"

mkdir -p "$state" || exit 1
# mkdir is atomic: a second start of the same launcher (a retried exec) does nothing.
mkdir "$state/{{.Lock}}" 2>/dev/null || exit 0

now() { date +%s; }
# Per-run scratch space in the container (FIFOs and stderr copies), never on the results volume.
tmp=$(mktemp -d 2>/dev/null) || { tmp="${TMPDIR:-/tmp}/llmdbench.$$"; mkdir -p "$tmp" || exit 1; }
say() { echo "$prefix $*"; }
record() { printf '%s=%s\n' "$2" "$3" >>"$state/$1{{.Status}}"; }

# setsid gives each workload its own process group, so a timeout stops the harness's children too.
detach=""
if command -v setsid >/dev/null 2>&1; then detach=setsid; fi

# write_metadata completes the workload's static metadata (rendered by the plugin, its last line the
# closing brace) with what is known only now, into the results folder: once when the workload
# starts (verdict running, not complete) and again when it ends.
write_metadata() {
  meta={{.ScriptDir}}/"$profile.meta.json"
  [ -f "$meta" ] || return 0
  mkdir -p "$results" 2>/dev/null || return 0
  { sed '$d' "$meta"
    printf ',\n  "workload": "%s",\n  "entry": "%s",\n  "parallelIndex": %s,\n  "repeat": %s,\n' "$profile" "$w" "$index" "$repeat"
    printf '  "started": %s,\n  "finished": %s,\n  "exitCode": %s,\n  "verdict": "%s",\n  "complete": %s\n}\n' "$1" "$2" "$3" "$4" "$5"
  } >"$results/{{.Metadata}}.tmp" && mv "$results/{{.Metadata}}.tmp" "$results/{{.Metadata}}"
}

# stop_group ends the workload's whole process group: TERM, then KILL after 10 s (from a process
# that holds none of our output, so it cannot keep the log open).
stop_group() {
  kill -TERM -"$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null
  sh -c 'sleep 10; kill -KILL -"$1" 2>/dev/null || kill -KILL "$1" 2>/dev/null' stop "$1" >/dev/null 2>&1 </dev/null &
}

# relay_output passes the workload's output on, line by line, and stops the workload when the
# image's entry script says its harness failed: that script would retry it every 30 s, forever
# (image v0.4.0), so the line is the failure.
relay_output() {
  while IFS= read -r line || [ -n "$line" ]; do
    printf '%s\n' "$line"
    case $line in
      {{.RetryLine}})
        if [ ! -e "$state/$w.harnessfailed" ]; then
          : >"$state/$w.harnessfailed"
          record "$w" {{.KHarnessFailed}} true
          stop_group "$1"
        fi ;;
    esac
  done
}

run_workload() {
  w=$1
  export {{.EnvExpID}}="${run_id}_$w"
  # Newer images bound the harness retries themselves; a benchmark gets one try.
  export {{.EnvMaxTries}}=1
  results="${ {{- .EnvPrefix}}:-{{.ResultsDir}}}/${harness}_${ {{- .EnvExpID}}}_${ {{- .EnvStack}}:-}"
  : >"$state/$w{{.Status}}"
  record "$w" {{.KWorkload}} "$w"
  record "$w" {{.KIndex}} "$index"
  record "$w" {{.KResults}} "$results"
  started_at=$(now)
  record "$w" {{.KStarted}} "$started_at"
  write_metadata "$started_at" null null {{.VRunning}} false
  # The workload's output goes through FIFOs in the container's temp dir (a results volume may not
  # hold FIFOs): stdout to the relay that spots a failed harness, stderr also into a file whose
  # last lines explain a failure.
  out_fifo="$tmp/$w.out"
  err_fifo="$tmp/$w.err"
  errors="$tmp/$w.stderr"
  rm -f "$out_fifo" "$err_fifo" "$state/$w.harnessfailed"
  : >"$errors"
  if ! mkfifo "$out_fifo" "$err_fifo"; then
    rc=1
    record "$w" {{.KStderr}} "mkfifo failed in $tmp"
    write_metadata "$started_at" "$(now)" "$rc" {{.VFailed}} false
    record "$w" {{.KFinished}} "$(now)"
    record "$w" {{.KExit}} "$rc"
    return "$rc"
  fi
{{- if .Native}}
  # The native generator reads the same profile and writes the same files into the results folder.
  mkdir -p "$results"
  $detach {{.NativeExec}} loadgen --config={{.Profiles}}/"$profile.yaml" --output-dir="$results" </dev/null >"$out_fifo" 2>"$err_fifo" &
{{- else}}
  $detach "$executable" --harness="$harness" --workload="$profile" </dev/null >"$out_fifo" 2>"$err_fifo" &
{{- end}}
  pid=$!
  relay_output "$pid" <"$out_fifo" &
  relay=$!
  tee -a "$errors" <"$err_fifo" >&2 &
  relay_err=$!
  watchdog=""
  if [ "$timeout_s" -gt 0 ]; then
    # The watchdog holds none of our output (a sleeping child that did would keep the log pipe
    # open), and it stops the workload's whole process group: TERM, then KILL after 10 s.
    $detach sh -c 'sleep "$1"; kill -0 "$2" 2>/dev/null || exit 0; : >"$3"
      kill -TERM -"$2" 2>/dev/null || kill -TERM "$2"; sleep 10; kill -KILL -"$2" 2>/dev/null || kill -KILL "$2"' \
      watchdog "$timeout_s" "$pid" "$state/$w.timedout" >/dev/null 2>&1 </dev/null &
    watchdog=$!
  fi
  wait "$pid"
  rc=$?
  if [ -n "$watchdog" ]; then kill -TERM -"$watchdog" 2>/dev/null || kill -TERM "$watchdog" 2>/dev/null; fi
  # Nothing a finished workload started may outlive it (or hold the log open); once its group is
  # gone the relays see the end of their FIFOs. A process that left the group could keep a FIFO
  # open: the relays get 2 s to drain, then they are stopped.
  if [ -n "$detach" ]; then kill -KILL -"$pid" 2>/dev/null; fi
  sh -c 'sleep 2; kill "$1" "$2" 2>/dev/null' reaper "$relay" "$relay_err" >/dev/null 2>&1 </dev/null &
  reaper=$!
  wait "$relay" "$relay_err"
  kill "$reaper" 2>/dev/null
  rm -f "$out_fifo" "$err_fifo"
  timed_out=false
  if [ -e "$state/$w.timedout" ]; then timed_out=true; fi
  harness_failed=false
  if [ -e "$state/$w.harnessfailed" ]; then harness_failed=true; fi
  finished_at=$(now)
  verdict={{.VSucceeded}}
  if [ "$timed_out" = true ]; then
    verdict={{.VTimedOut}}
  elif [ "$rc" -ne 0 ] || [ "$harness_failed" = true ]; then
    verdict={{.VFailed}}
  fi
  complete=true
  if [ "$verdict" != {{.VSucceeded}} ]; then
    complete=false
    tail -n {{.StderrLines}} "$errors" | cut -c1-1000 | while IFS= read -r line || [ -n "$line" ]; do record "$w" {{.KStderr}} "$line"; done
  fi
  write_metadata "$started_at" "$finished_at" "$rc" "$verdict" "$complete"
  record "$w" {{.KFinished}} "$finished_at"
  record "$w" {{.KTimedOut}} "$timed_out"
  record "$w" {{.KExit}} "$rc"
  [ "$verdict" = {{.VSucceeded}} ] && return 0
  [ "$rc" -ne 0 ] || rc=1
  return "$rc"
}

# say_stderr shows a failed workload's last stderr lines in the log.
say_stderr() {
  [ -s "$tmp/$1.stderr" ] || return 0
  say "its last stderr lines:"
  tail -n {{.StderrLines}} "$tmp/$1.stderr" | sed 's/^/    /'
}

main() {
  total=0
  for w in $workloads; do total=$((total + 1)); done
  n=0
  failed=0
  say "run $run_id launcher $index: $total workload(s) with harness $harness"
  for entry in $workloads; do
    w=${entry%%:*}
    rest=${entry#*:}
    profile=${rest%%:*}
    repeat=${rest#*:}
    n=$((n + 1))
    say "workload $n/$total $w started"
    started=$(now)
    if run_workload "$w"; then
      say "workload $n/$total $w succeeded after $(($(now) - started))s"
    elif [ -e "$state/$w.timedout" ]; then
      failed=$((failed + 1))
      say "workload $n/$total $w timed out after ${timeout_s}s"
      say_stderr "$w"
    elif [ -e "$state/$w.harnessfailed" ]; then
      failed=$((failed + 1))
      say "workload $n/$total $w failed after $(($(now) - started))s: the harness failed (the image would retry it every 30 s); stopped"
      say_stderr "$w"
    else
      failed=$((failed + 1))
      say "workload $n/$total $w failed with exit code $rc"
      say_stderr "$w"
    fi
  done
  say "run $run_id launcher $index finished: $failed of $total workload(s) failed"
  printf '{{.KFinished}}=%s\n{{.KFailed}}=%s\n' "$(now)" "$failed" >"$state/{{.Done}}.tmp"
}

# Output goes to the run log and, where the container allows it, to its own stdout so that plain
# kubectl logs shows it too.
out=/dev/null
if [ -w /proc/1/fd/1 ]; then out=/proc/1/fd/1; fi
main 2>&1 | tee -a "$state/{{.Log}}" >"$out"
rm -rf "$tmp"
# The done marker comes last, once the log is complete, so a reader that sees it has seen everything.
mv "$state/{{.Done}}.tmp" "$state/{{.Done}}"
`))
