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
		"Native":     native,
		"NativeExec": shQuote(NativeExecutable),
		"Profiles":   shQuote(ProfilesDir + "/" + s.Config.Harness.Name),
		"RunID":      shQuote(s.RunID),
		"Harness":    shQuote(s.Config.Harness.Name),
		"Workloads":  shQuote(strings.Join(entries, " ")),
		"ScriptDir":  shQuote(ScriptDir),
		"Metadata":   runstate.MetadataFile,
		"Timeout":    strconv.Itoa(int(s.Config.Harness.WaitTimeout.Seconds())),
		"Executable": shQuote(Executable),
		"Root":       shQuote(runstate.Root),
		"Prefix":     shQuote(ProgressPrefix),
		"Log":        runstate.LogFile,
		"Lock":       runstate.LockDir,
		"Done":       runstate.DoneFile,
		"Status":     runstate.StatusSuffix,
		"KWorkload":  runstate.KeyWorkload,
		"KIndex":     runstate.KeyIndex,
		"KStarted":   runstate.KeyStarted,
		"KFinished":  runstate.KeyFinished,
		"KExit":      runstate.KeyExitCode,
		"KTimedOut":  runstate.KeyTimedOut,
		"KResults":   runstate.KeyResultsDir,
		"KFailed":    runstate.KeyFailed,
		"EnvIndex":   EnvLauncherIndex,
		"EnvExpID":   EnvExperimentID,
		"EnvPrefix":  EnvResultsPrefix,
		"EnvStack":   EnvStackName,
		"ResultsDir": runstate.ResultsMount,
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
say() { echo "$prefix $*"; }
record() { printf '%s=%s\n' "$2" "$3" >>"$state/$1{{.Status}}"; }

# setsid gives each workload its own process group, so a timeout stops the harness's children too.
detach=""
if command -v setsid >/dev/null 2>&1; then detach=setsid; fi

# write_metadata completes the workload's static metadata (rendered by the plugin, its last line the
# closing brace) with what is known only now, into the results folder.
write_metadata() {
  meta={{.ScriptDir}}/"$profile.meta.json"
  [ -f "$meta" ] || return 0
  mkdir -p "$results" 2>/dev/null || return 0
  { sed '$d' "$meta"
    printf ',\n  "workload": "%s",\n  "entry": "%s",\n  "parallelIndex": %s,\n  "repeat": %s,\n' "$profile" "$w" "$index" "$repeat"
    printf '  "started": %s,\n  "finished": %s,\n  "exitCode": %s,\n  "verdict": "%s"\n}\n' "$1" "$2" "$3" "$4"
  } >"$results/{{.Metadata}}.tmp" && mv "$results/{{.Metadata}}.tmp" "$results/{{.Metadata}}"
}

run_workload() {
  w=$1
  export {{.EnvExpID}}="${run_id}_$w"
  results="${ {{- .EnvPrefix}}:-{{.ResultsDir}}}/${harness}_${ {{- .EnvExpID}}}_${ {{- .EnvStack}}:-}"
  : >"$state/$w{{.Status}}"
  record "$w" {{.KWorkload}} "$w"
  record "$w" {{.KIndex}} "$index"
  record "$w" {{.KResults}} "$results"
  started_at=$(now)
  record "$w" {{.KStarted}} "$started_at"
{{- if .Native}}
  # The native generator reads the same profile and writes the same files into the results folder.
  mkdir -p "$results"
  $detach {{.NativeExec}} loadgen --config={{.Profiles}}/"$profile.yaml" --output="$results" </dev/null &
{{- else}}
  $detach "$executable" --harness="$harness" --workload="$profile" </dev/null &
{{- end}}
  pid=$!
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
  # Nothing a finished workload started may outlive it (or hold the log open).
  if [ -n "$detach" ]; then kill -KILL -"$pid" 2>/dev/null; fi
  timed_out=false
  if [ -e "$state/$w.timedout" ]; then timed_out=true; fi
  finished_at=$(now)
  verdict=succeeded
  if [ "$timed_out" = true ]; then verdict=timed-out; elif [ "$rc" -ne 0 ]; then verdict=failed; fi
  write_metadata "$started_at" "$finished_at" "$rc" "$verdict"
  record "$w" {{.KFinished}} "$finished_at"
  record "$w" {{.KTimedOut}} "$timed_out"
  record "$w" {{.KExit}} "$rc"
  return "$rc"
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
    else
      failed=$((failed + 1))
      say "workload $n/$total $w failed with exit code $rc"
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
# The done marker comes last, once the log is complete, so a reader that sees it has seen everything.
mv "$state/{{.Done}}.tmp" "$state/{{.Done}}"
`))
