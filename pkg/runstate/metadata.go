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

// MetadataFile is written by the run script (not the harness) into every result folder when its
// workload ends, so a folder says what produced it wherever it is copied.
const MetadataFile = "llmdbench-run.json"

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
	if m.Parallelism > 1 {
		n += " #" + strconv.Itoa(m.ParallelIndex)
	}
	return n
}

// Group identifies the folders that are repeats of one another.
func (m *Metadata) Group() string {
	return fmt.Sprintf("%s/%s/%d", m.Run, m.Workload, m.ParallelIndex)
}

// Matches tells whether every selector label is set to its value.
func (m *Metadata) Matches(selector map[string]string) bool {
	return labels.SelectorFromValidatedSet(selector).Matches(labels.Set(m.Labels))
}

// ReadMetadata reads a result folder's metadata; (nil, nil) when it has none (a folder made
// outside the plugin).
func ReadMetadata(dir string) (*Metadata, error) {
	data, err := os.ReadFile(filepath.Join(dir, MetadataFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseMetadata(data)
}

// ParseMetadata decodes a metadata file.
func ParseMetadata(data []byte) (*Metadata, error) {
	var m Metadata
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", MetadataFile, err)
	}
	return &m, nil
}
