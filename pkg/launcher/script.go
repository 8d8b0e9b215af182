package launcher

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"text/template"
	"time"

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

// BarrierTimeout bounds how long a launcher waits for the others at a start barrier: the first
// barrier also waits for pods that start late (an image pull on another node).
var BarrierTimeout = 10 * time.Minute

// splitProfiles is the folder, in the script folder, of each launcher's share of a workload
// profile (<workload>.<index>.yaml) when the harness is not the native one.
const splitProfiles = "split"

// Script renders the in-pod run script. It is POSIX sh (the real image has bash and dash, the
// local test cluster busybox) and is started detached, so nothing depends on a client connection:
// it runs the workloads in order, bounds each by the wait timeout (killing the workload's whole
// process group), and records each outcome in the run folder on the results volume. The files it
// writes and their words are package runstate's; every value goes into the script through
// runstate.ShellQuote, once, in the variables at its top.
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
	keepFor := ""
	if s.NoPVC() {
		keepFor = strconv.Itoa(int(math.Ceil(s.KeepFor.Seconds())))
	}
	err := scriptTemplate.Execute(&buf, map[string]string{
		"Native":         native,
		"NativeExec":     NativeExecutable,
		"Profiles":       ProfilesDir + "/" + s.Config.Harness.Name,
		"RunID":          s.RunID,
		"Harness":        s.Config.Harness.Name,
		"Workloads":      strings.Join(entries, " "),
		"ScriptDir":      ScriptDir,
		"Metadata":       runstate.MetadataFile,
		"Records":        runstate.MetadataRecordsFile,
		"Timeout":        strconv.Itoa(int(s.Config.Harness.WaitTimeout.Seconds())),
		"Executable":     Executable,
		"Root":           runstate.Root,
		"Prefix":         ProgressPrefix,
		"Log":            runstate.LogFile,
		"Lock":           runstate.LockDir,
		"Done":           runstate.DoneFile,
		"Status":         runstate.StatusSuffix,
		"KWorkload":      runstate.KeyWorkload,
		"KEntry":         runstate.KeyEntry,
		"KIndex":         runstate.KeyIndex,
		"KRepeat":        runstate.KeyRepeat,
		"KStarted":       runstate.KeyStarted,
		"KFinished":      runstate.KeyFinished,
		"KExit":          runstate.KeyExitCode,
		"KTimedOut":      runstate.KeyTimedOut,
		"KResults":       runstate.KeyResultsDir,
		"KFailed":        runstate.KeyFailed,
		"KVerdict":       runstate.KeyVerdict,
		"KComplete":      runstate.KeyComplete,
		"KHarnessFailed": runstate.KeyHarnessFailed,
		"KStderr":        runstate.KeyStderr,
		"EnvIndex":       EnvLauncherIndex,
		"EnvCount":       EnvLauncherCount,
		"EnvMode":        EnvParallelismMode,
		"ModeSplit":      runstate.ModeSplit,
		"SplitProfiles":  splitProfiles,
		"Barrier":        runstate.BarrierDirName,
		"BarrierGo":      runstate.BarrierGo,
		"BarrierTimeout": strconv.Itoa(int(BarrierTimeout.Seconds())),
		"LaunchFile":     runstate.LaunchFile,
		"EnvExpID":       EnvExperimentID,
		"EnvPrefix":      EnvResultsPrefix,
		"EnvStack":       EnvStackName,
		"EnvMaxTries":    EnvHarnessMaxTries,
		"ResultsDir":     runstate.ResultsMount,
		"RetryLine":      HarnessRetryPattern,
		"StderrLines":    strconv.Itoa(StderrLines),
		"VSucceeded":     runstate.VerdictSucceeded,
		"VFailed":        runstate.VerdictFailed,
		"VTimedOut":      runstate.VerdictTimedOut,
		"VRunning":       runstate.VerdictRunning,
		"KeepFor":        keepFor,
		"Fetched":        runstate.FetchedFile,
	})
	return buf.String(), err
}

// The template quotes every value with q (runstate.ShellQuote). Environment variable names are
// the only words it writes unquoted: they are names, not values. HarnessRetryPattern is a case
// pattern, written as the pattern it is.
var scriptTemplate = template.Must(template.New("run.sh").Funcs(template.FuncMap{"q": runstate.ShellQuote}).Parse(`#!/bin/sh
# Written by kubectl-llmdbench. Runs this launcher's workloads one after another, each bounded by
# the wait timeout, and records every outcome in the run folder on the results volume.
set -u
run_id={{q .RunID}}
harness={{q .Harness}}
workloads={{q .Workloads}}
timeout_s={{q .Timeout}}
executable={{q .Executable}}
profiles={{q .Profiles}}
{{- if .Native}}
native_exec={{q .NativeExec}}
{{- end}}
prefix={{q .Prefix}}
script_dir={{q .ScriptDir}}
root={{q .Root}}
stderr_lines={{q .StderrLines}}
# The run folder's contract (package runstate): file names, record keys and verdict words.
log_file={{q .Log}} lock_dir={{q .Lock}} done_file={{q .Done}} status_suffix={{q .Status}}
meta_file={{q .Metadata}} records_file={{q .Records}}
k_workload={{q .KWorkload}} k_entry={{q .KEntry}} k_index={{q .KIndex}} k_repeat={{q .KRepeat}}
k_started={{q .KStarted}} k_finished={{q .KFinished}} k_exit={{q .KExit}} k_timed_out={{q .KTimedOut}}
k_results={{q .KResults}} k_failed={{q .KFailed}} k_verdict={{q .KVerdict}} k_complete={{q .KComplete}}
k_harness_failed={{q .KHarnessFailed}} k_stderr={{q .KStderr}}
v_succeeded={{q .VSucceeded}} v_failed={{q .VFailed}} v_timed_out={{q .VTimedOut}} v_running={{q .VRunning}}
index="${ {{- .EnvIndex}}:-0}"
count="${ {{- .EnvCount}}:-1}"
mode="${ {{- .EnvMode}}:-{{.ModeSplit}}}"
state="$root/$run_id/$index"
barrier_timeout_s={{q .BarrierTimeout}}
barrier_go={{q .BarrierGo}}
launch_file={{q .LaunchFile}}
split_profiles={{q .SplitProfiles}}

mkdir -p "$state" || exit 1
# mkdir is atomic: a launcher that ran already in this run (a restarted pod) must not run its
# workloads a second time into the same folders.
if ! mkdir "$state/$lock_dir" 2>/dev/null; then
  echo "{{.Prefix}} launcher $index of run $run_id ran already: a benchmark is not run twice" >&2
  exit 1
fi

now() { date +%s; }
# now_ns is the wall clock in nanoseconds (whole seconds where date has no %N).
now_ns() {
  t=$(date +%s%N 2>/dev/null)
  case $t in ''|*[!0-9]*) t=$(($(date +%s) * 1000000000)) ;; esac
  echo "$t"
}
# secs turns nanoseconds into decimal seconds.
secs() { printf '%d.%09d' "$(($1 / 1000000000))" "$(($1 % 1000000000))"; }

# barrier DIR waits until every launcher reached DIR (or the barrier timeout passed), then sleeps
# to the start instant they agreed on; the protocol is runstate's (package doc of launch.go). It
# sets b_agreed (ns), b_present and b_timed_out.
barrier() {
  bdir=$1
  mkdir -p "$bdir" || return 1
  printf '%s\n' "$(now_ns)" >"$bdir/.$index.tmp" && mv "$bdir/.$index.tmp" "$bdir/$index" || return 1
  deadline=$(($(now_ns) + barrier_timeout_s * 1000000000))
  b_timed_out=false
  while [ ! -f "$bdir/$barrier_go" ]; do
    arrived=0 latest=0 present="" i=0
    while [ "$i" -lt "$count" ]; do
      if [ -f "$bdir/$i" ]; then
        a=$(cat "$bdir/$i")
        arrived=$((arrived + 1))
        present="$present $i"
        if [ "$a" -gt "$latest" ]; then latest=$a; fi
      fi
      i=$((i + 1))
    done
    at=""
    if [ "$arrived" -ge "$count" ]; then
      at=$((latest + 500000000))
    elif [ "$(now_ns)" -ge "$deadline" ]; then
      b_timed_out=true
      at=$(($(now_ns) + 500000000))
    fi
    if [ -n "$at" ]; then
      # A complete file, linked into place: the first link wins and nobody reads half a file.
      printf '%s\n%s\n' "$at" "${present# }" >"$bdir/.go.$index" && ln "$bdir/.go.$index" "$bdir/$barrier_go" 2>/dev/null
      rm -f "$bdir/.go.$index"
      break
    fi
    sleep 0.05
  done
  b_agreed=$(sed -n 1p "$bdir/$barrier_go")
  b_present=$(sed -n 2p "$bdir/$barrier_go")
  case $b_agreed in ''|*[!0-9]*) return 1 ;; esac
  # Whoever resolved it, a barrier that lists fewer launchers than there are timed out.
  set -- $b_present
  if [ "$#" -lt "$count" ]; then b_timed_out=true; fi
  wait_ns=$((b_agreed - $(now_ns)))
  if [ "$wait_ns" -gt 0 ]; then sleep "$(secs "$wait_ns")"; fi
}

# launch_record writes the launcher's part of a shared workload (runstate.Launch) into its results
# folder: the barrier it started from, per launcher; its stages are the harness's own.
launch_record() {
  missing="" i=0
  while [ "$i" -lt "$count" ]; do
    case " $b_present " in *" $i "*) ;; *) missing="$missing $i" ;; esac
    i=$((i + 1))
  done
  list() { echo "$1" | sed 's/^ *//; s/ *$//; s/  */,/g'; }
  printf '{"index": %s, "count": %s, "mode": "%s", "stages": [{"stage": -1, "agreed_start": %s, "started": %s, "send_ended": null, "present": [%s], "missing": [%s], "timed_out": %s}]}\n' \
    "$index" "$count" "$mode" "$(secs "$b_agreed")" "$(secs "$1")" "$(list "$b_present")" "$(list "$missing")" "$b_timed_out" \
    >"$results/$launch_file.tmp" && mv "$results/$launch_file.tmp" "$results/$launch_file"
}
# Per-run scratch space in the container (FIFOs and stderr copies), never on the results volume.
tmp=$(mktemp -d 2>/dev/null) || { tmp="${TMPDIR:-/tmp}/llmdbench.$$"; mkdir -p "$tmp" || exit 1; }
say() { echo "$prefix $*"; }
record() { printf '%s=%s\n' "$2" "$3" >>"$state/$1$status_suffix"; }

# begin_metadata gives the workload's results folder its metadata when the workload starts: the
# records known only here (one key=value per line), then a verbatim copy of the static part the
# plugin rendered (renamed into place last, so a reader that sees it sees the records too).
# record_meta appends a record; later lines win.
has_meta=""
record_meta() { [ -z "$has_meta" ] || printf '%s=%s\n' "$1" "$2" >>"$results/$records_file"; }
begin_metadata() {
  has_meta=""
  src="$script_dir/$profile.meta.json"
  [ -f "$src" ] || return 0
  mkdir -p "$results" 2>/dev/null || return 0
  : >"$results/$records_file" || return 0
  has_meta=yes
  record_meta "$k_workload" "$profile"
  record_meta "$k_entry" "$w"
  record_meta "$k_index" "$index"
  record_meta "$k_repeat" "$repeat"
  record_meta "$k_started" "$1"
  record_meta "$k_verdict" "$v_running"
  record_meta "$k_complete" false
  cp "$src" "$results/$meta_file.tmp" && mv "$results/$meta_file.tmp" "$results/$meta_file"
}
# end_metadata records the outcome: finished, exit code, verdict, complete.
end_metadata() {
  record_meta "$k_finished" "$1"
  record_meta "$k_exit" "$2"
  record_meta "$k_verdict" "$3"
  record_meta "$k_complete" "$4"
}

# setsid gives each workload its own process group, so a timeout stops the harness's children too.
detach=""
if command -v setsid >/dev/null 2>&1; then detach=setsid; fi

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
          record "$w" "$k_harness_failed" true
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
  results="${ {{- .EnvPrefix}}:-{{q .ResultsDir}}}/${harness}_${ {{- .EnvExpID}}}_${ {{- .EnvStack}}:-}"
  : >"$state/$w$status_suffix"
  record "$w" "$k_workload" "$w"
  record "$w" "$k_index" "$index"
  record "$w" "$k_results" "$results"
  started_at=$(now)
  record "$w" "$k_started" "$started_at"
  begin_metadata "$started_at"
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
    record "$w" "$k_stderr" "mkfifo failed in $tmp"
    end_metadata "$(now)" "$rc" "$v_failed" false
    record "$w" "$k_finished" "$(now)"
    record "$w" "$k_exit" "$rc"
    return "$rc"
  fi
  mkdir -p "$results"
{{- if .Native}}
  # The native generator reads the same profile and writes the same files into the results folder;
  # with several launchers it shares the load and waits for the others before each stage itself.
  set -- --config="$profiles/$profile.yaml" --output-dir="$results"
  if [ "$count" -gt 1 ]; then
    # The merge of the launchers' results needs every request.
    set -- "$@" --per-request --launcher-index="$index" --launcher-count="$count" --parallelism-mode="$mode" \
      --barrier-dir="$root/$run_id/{{.Barrier}}/$w" --barrier-timeout="${barrier_timeout_s}s"
  fi
  $detach "$native_exec" loadgen "$@" </dev/null >"$out_fifo" 2>"$err_fifo" &
{{- else}}
  if [ "$count" -gt 1 ]; then
    # This launcher's share of the profile (rendered by the plugin) is what the harness reads.
    if [ "$mode" = {{q .ModeSplit}} ]; then
      cp "$script_dir/$split_profiles/$profile.$index.yaml" "$profiles/$profile.yaml" || say "workload $w: no profile for launcher $index"
    fi
    say "workload $w: waiting for the other launchers"
    b_agreed=""
    if ! barrier "$root/$run_id/{{.Barrier}}/$w/workload"; then
      say "workload $w: the start barrier failed; starting now"
    fi
  fi
  $detach "$executable" --harness="$harness" --workload="$profile" </dev/null >"$out_fifo" 2>"$err_fifo" &
{{- end}}
  pid=$!
  relay_output "$pid" <"$out_fifo" &
  relay=$!
  tee -a "$errors" <"$err_fifo" >&2 &
  relay_err=$!
{{- if not .Native}}
  # The harness runs once its output has readers: that is when this launcher started.
  if [ "$count" -gt 1 ] && [ -n "${b_agreed:-}" ]; then launch_record "$(now_ns)"; fi
{{- end}}
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
  verdict=$v_succeeded
  if [ "$timed_out" = true ]; then
    verdict=$v_timed_out
  elif [ "$rc" -ne 0 ] || [ "$harness_failed" = true ]; then
    verdict=$v_failed
  fi
  complete=true
  if [ "$verdict" != "$v_succeeded" ]; then
    complete=false
    tail -n "$stderr_lines" "$errors" | cut -c1-1000 | while IFS= read -r line || [ -n "$line" ]; do record "$w" "$k_stderr" "$line"; done
  fi
  end_metadata "$finished_at" "$rc" "$verdict" "$complete"
  record "$w" "$k_finished" "$finished_at"
  record "$w" "$k_timed_out" "$timed_out"
  record "$w" "$k_exit" "$rc"
  [ "$verdict" = "$v_succeeded" ] && return 0
  [ "$rc" -ne 0 ] || rc=1
  return "$rc"
}

# say_stderr shows a failed workload's last stderr lines in the log.
say_stderr() {
  [ -s "$tmp/$1.stderr" ] || return 0
  say "its last stderr lines:"
  tail -n "$stderr_lines" "$tmp/$1.stderr" | sed 's/^/    /'
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
  printf '%s=%s\n%s=%s\n' "$k_finished" "$(now)" "$k_failed" "$failed" >"$state/$done_file.tmp"
}

# Output goes to the run log and, where the container allows it, to its own stdout so that plain
# kubectl logs shows it too.
out=/dev/null
if [ -w /proc/1/fd/1 ]; then out=/proc/1/fd/1; fi
main 2>&1 | tee -a "$state/$log_file" >"$out"
rm -rf "$tmp"
# The done marker comes last, once the log is complete, so a reader that sees it has seen everything.
mv "$state/$done_file.tmp" "$state/$done_file"
# The exit code is the launcher's verdict, which its pod (and the Job) reports.
{{- if .KeepFor}}
rc=0
grep -qx "$k_failed=0" "$state/$done_file" || rc=1
# The results are on an emptyDir, gone with the pod: it stays up until the plugin fetched them
# (it writes the fetched marker) or the keep-for time ran out.
keep_for_s={{q .KeepFor}}
keep_until=$(($(now) + keep_for_s))
while [ ! -e "$state/"{{q .Fetched}} ] && [ "$(now)" -lt "$keep_until" ]; do sleep 1; done
exit "$rc"
{{- else}}
grep -qx "$k_failed=0" "$state/$done_file"
{{- end}}
`))
