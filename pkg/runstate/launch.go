package runstate

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
)

// Several launchers, one benchmark. When a run has more than one launcher (an Indexed Job of N
// pods), each launcher writes, into each workload's results folder, a LaunchFile that says which
// launcher it was, how the load was shared, and when each stage began on it. The merge of the
// launchers' folders reads these files to compute the stage-start skew and to name the launchers
// that are missing.
//
// Start barrier. Before each stage (native harness) or each workload (other harnesses), every
// launcher waits on a barrier: a folder on the results volume, BarrierDir(run, entry, stage),
// shared by all launchers.
//
//   - A launcher arrives by writing the file "<index>" (BarrierArrival), holding its wall-clock
//     arrival time in Unix nanoseconds as decimal digits and a newline, written to a temporary
//     name first and renamed into place.
//   - The barrier resolves when every expected launcher has arrived, or when its timeout passes.
//     The launcher that sees it resolved first publishes BarrierGo, exclusively (the first one
//     wins): the shell script hard-links a complete temporary file to it (`ln` fails when the
//     name exists), the Go generator creates it with O_EXCL in one write and its readers re-read
//     a file caught mid-write (Barrier): line 1 the
//     agreed start instant in Unix nanoseconds (the latest arrival plus a lead, or the resolving
//     time plus the lead after a timeout), line 2 the indexes present, space-separated, ascending. Every launcher then starts at the instant BarrierGo names; one
//     that arrives after it was written starts at once and is late.
//   - The expected launchers of a barrier are all of them for the first barrier of an entry, and
//     the ones present at the entry's previous barrier after that: a launcher that missed one
//     barrier is not waited for again.
const (
	LaunchFile     = "llmdbench-launcher.json"
	BarrierDirName = "barrier"
	BarrierGo      = "go"
)

// Parallelism modes: how N launchers share a workload's load.
const (
	// ModeSplit: each launcher sends 1/N of each stage's rate or concurrency, and its own part of
	// the data set; together they offer the profile's load.
	ModeSplit = "split"
	// ModeReplicate: each launcher sends the whole profile; together they offer N times its load.
	ModeReplicate = "replicate"
)

// StageWorkload is the LaunchStage.Stage of a barrier taken once per workload (harnesses whose
// stages the plugin does not drive).
const StageWorkload = -1

// BarrierDir is the barrier folder of one stage (StageWorkload: the workload's start) of one
// entry of a run.
func BarrierDir(runID, entry string, stage int) string {
	name := "workload"
	if stage != StageWorkload {
		name = "stage_" + strconv.Itoa(stage)
	}
	return path.Join(RunDir(runID), BarrierDirName, entry, name)
}

// BarrierArrival is the arrival file of a launcher in a barrier folder.
func BarrierArrival(index int) string { return strconv.Itoa(index) }

// Launch is the content of LaunchFile.
type Launch struct {
	// Index is the launcher's index, 0 to Count-1.
	Index int `json:"index"`
	// Count is the number of launchers of the run.
	Count int `json:"count"`
	// Mode is ModeSplit or ModeReplicate.
	Mode string `json:"mode"`
	// Stages, in the order they ran.
	Stages []LaunchStage `json:"stages"`
}

// LaunchStage is one barrier-started stage of one launcher. Times are wall-clock Unix seconds
// (float, microsecond precision or better); a time not known is null.
type LaunchStage struct {
	// Stage is the stage index, or StageWorkload.
	Stage int `json:"stage"`
	// AgreedStart is the instant the barrier named.
	AgreedStart *float64 `json:"agreed_start"`
	// Started is when this launcher began sending the stage; Started - AgreedStart is its lateness.
	Started *float64 `json:"started"`
	// SendEnded is when this launcher scheduled its last request of the stage (null when not
	// known, as for harnesses the plugin does not drive).
	SendEnded *float64 `json:"send_ended"`
	// Present lists the launchers the barrier saw; Missing the expected ones it did not.
	Present []int `json:"present"`
	Missing []int `json:"missing"`
	// TimedOut: the barrier resolved by its timeout, not by every expected launcher arriving.
	TimedOut bool `json:"timed_out,omitempty"`
}

// WriteLaunch writes l into dir/LaunchFile (through a temporary file and a rename).
func WriteLaunch(dir string, l Launch) error {
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, LaunchFile+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, LaunchFile))
}

// ReadLaunch reads dir/LaunchFile. A folder without one gives an error that wraps os.ErrNotExist.
func ReadLaunch(dir string) (*Launch, error) {
	data, err := os.ReadFile(filepath.Join(dir, LaunchFile))
	if err != nil {
		return nil, err
	}
	var l Launch
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, LaunchFile), err)
	}
	if l.Count < 1 || l.Index < 0 || l.Index >= l.Count {
		return nil, fmt.Errorf("%s: launcher %d of %d is not a launcher index", filepath.Join(dir, LaunchFile), l.Index, l.Count)
	}
	return &l, nil
}
