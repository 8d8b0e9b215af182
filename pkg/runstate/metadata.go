package runstate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/labels"
)

// A result folder says what produced it wherever it is copied, in two files the run script (not
// the harness) writes when its workload starts:
//
//   - MetadataFile: the RunInfo as the plugin rendered it to JSON (MetadataJSON), copied verbatim;
//   - MetadataRecordsFile: what is known only in the pod, one key=value line per fact (the Key*
//     constants), appended as the workload progresses; later lines win.
//
// Folders written before the records file existed hold the whole Metadata in MetadataFile (the
// script completed the JSON itself); ReadMetadata reads both forms.
const (
	MetadataFile        = "llmdbench-run.json"
	MetadataRecordsFile = "llmdbench-run.records"
)

// Metadata record keys (beside KeyWorkload, KeyIndex, KeyStarted, KeyFinished and KeyExitCode).
const (
	KeyEntry    = "entry"
	KeyRepeat   = "repeat"
	KeyVerdict  = "verdict"
	KeyComplete = "complete"
)

// MetadataJSON renders the static part of a result folder's metadata, which the run script copies
// verbatim into MetadataFile.
func MetadataJSON(info RunInfo) (string, error) {
	out, err := json.MarshalIndent(info, "", "  ")
	return string(out) + "\n", err
}

// RunInfo is what the plugin knows of a workload's results when it plans the run; the launcher
// renders it into the run's ConfigMap.
type RunInfo struct {
	Run           string            `json:"run"`
	Preset        string            `json:"preset,omitempty"`
	Stack         string            `json:"stack"`
	Model         string            `json:"model"`
	BaseURL       string            `json:"baseURL"`
	Harness       string            `json:"harness"`
	Image         string            `json:"image"`
	PluginVersion string            `json:"pluginVersion"`
	Description   string            `json:"description,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	Parallelism   int               `json:"parallelism"`
	Repeats       int               `json:"repeats"`
	// ConfigHash is the SHA-256 of Config, the workload profile exactly as the harness read it.
	ConfigHash string `json:"configHash"`
	Config     string `json:"config"`
}

// Metadata describes the run that produced one result folder: the RunInfo, completed by the run
// script with what is known only when the workload ends.
type Metadata struct {
	RunInfo
	Workload      string `json:"workload"`
	Entry         string `json:"entry"` // the workload plus _run<i> when repeated
	ParallelIndex int    `json:"parallelIndex"`
	Repeat        int    `json:"repeat"` // 1-based; 0 when not repeated
	Started       int64  `json:"started"`
	// Finished and ExitCode are null while the workload runs (the script writes the file when
	// the workload starts, and again when it ends).
	Finished *int64 `json:"finished"`
	ExitCode *int   `json:"exitCode"`
	// Verdict is one of the Verdict constants; "running" in a folder whose launcher is gone
	// means the folder is incomplete.
	Verdict string `json:"verdict"`
	// Complete is false while the workload runs and when it did not succeed; nil in folders
	// written before the field existed.
	Complete *bool `json:"complete,omitempty"`
	// Merged is, in a folder that merges several launchers' folders, how many it merges (0 in a
	// launcher's own folder).
	Merged int `json:"merged,omitempty"`
}

// IsComplete tells whether the folder holds its whole workload's results, as its verdict says.
func (m *Metadata) IsComplete() bool {
	if m.Complete != nil && !*m.Complete {
		return false
	}
	return Complete(m.Verdict)
}

// Settle records a verdict decided from outside the folder (FolderVerdict on the volume's run
// state), so a folder fetched while its workload was cut short says so.
func (m *Metadata) Settle(verdict string) {
	if verdict == "" || verdict == m.Verdict {
		return
	}
	m.Verdict = verdict
	c := Complete(verdict)
	m.Complete = &c
}

// StartedAt is the workload's start.
func (m *Metadata) StartedAt() time.Time { return time.Unix(m.Started, 0).UTC() }

// Name is a short series label: the workload, with the repeat and parallel index when there are
// several.
func (m *Metadata) Name() string {
	n := m.Workload
	if m.Repeat > 0 {
		n += " run" + strconv.Itoa(m.Repeat)
	}
	switch {
	case m.Merged > 0:
		n += " (" + strconv.Itoa(m.Merged) + " launchers)"
	case m.Parallelism > 1:
		n += " #" + strconv.Itoa(m.ParallelIndex)
	}
	return n
}

// Group identifies the folders that are repeats of one another.
func (m *Metadata) Group() string {
	if m.Merged > 0 {
		return fmt.Sprintf("%s/%s/merged", m.Run, m.Workload)
	}
	return fmt.Sprintf("%s/%s/%d", m.Run, m.Workload, m.ParallelIndex)
}

// Matches tells whether every selector label is set to its value.
func (m *Metadata) Matches(selector map[string]string) bool {
	return labels.SelectorFromValidatedSet(selector).Matches(labels.Set(m.Labels))
}

// ReadMetadata reads a result folder's metadata, completed by its records when it has them; (nil,
// nil) when it has none (a folder made outside the plugin).
func ReadMetadata(dir string) (*Metadata, error) {
	data, err := os.ReadFile(filepath.Join(dir, MetadataFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := ParseMetadata(data)
	if err != nil {
		return nil, err
	}
	records, err := os.ReadFile(filepath.Join(dir, MetadataRecordsFile))
	if os.IsNotExist(err) {
		return m, nil // written before the records file existed: the JSON is whole
	}
	if err != nil {
		return nil, err
	}
	return m, m.ApplyRecords(records)
}

// ParseMetadata decodes a metadata file.
func ParseMetadata(data []byte) (*Metadata, error) {
	var m Metadata
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", MetadataFile, err)
	}
	return &m, nil
}

// ApplyRecords completes m with a records file (see MetadataRecordsFile); later lines win.
func (m *Metadata) ApplyRecords(data []byte) error {
	kv := parseKV(data)
	bad := func(key, v string) error { return fmt.Errorf("%s: bad %s %q", MetadataRecordsFile, key, v) }
	integer := func(key string, set func(int64)) error {
		v, ok := kv[key]
		if !ok || v == "" {
			return nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return bad(key, v)
		}
		set(n)
		return nil
	}
	if v, ok := kv[KeyWorkload]; ok {
		m.Workload = v
	}
	if v, ok := kv[KeyEntry]; ok {
		m.Entry = v
	}
	if v, ok := kv[KeyVerdict]; ok {
		m.Verdict = v
	}
	if v, ok := kv[KeyComplete]; ok {
		c, err := strconv.ParseBool(v)
		if err != nil {
			return bad(KeyComplete, v)
		}
		m.Complete = &c
	}
	for _, err := range []error{
		integer(KeyIndex, func(n int64) { m.ParallelIndex = int(n) }),
		integer(KeyRepeat, func(n int64) { m.Repeat = int(n) }),
		integer(KeyStarted, func(n int64) { m.Started = n }),
		integer(KeyFinished, func(n int64) { m.Finished = &n }),
		integer(KeyExitCode, func(n int64) { c := int(n); m.ExitCode = &c }),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}
