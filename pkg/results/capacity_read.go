package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ReadCapacity reads a result folder's capacity record (CapacityFile, written by the capacity
// search; the format is the Capacity type). It returns (nil, nil) when the folder has none. A file
// that is not JSON, or that breaks the contract (By neither ByRate nor ByConcurrency, a probe whose
// verdicts do not match the SLOs one for one), is a one-line error naming the file.
func ReadCapacity(dir string) (*Capacity, error) {
	path := filepath.Join(dir, CapacityFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c Capacity
	if err := json.Unmarshal(nonFiniteToNull(b), &c); err != nil {
		return nil, jsonError(path, b, err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// ErrCapacityContract: a capacity record does not follow the Capacity contract.
var ErrCapacityContract = errors.New("not a capacity record")

func (c *Capacity) check() error {
	if c.By != ByRate && c.By != ByConcurrency {
		return fmt.Errorf("%w: \"by\" is %q, want %q or %q", ErrCapacityContract, c.By, ByRate, ByConcurrency)
	}
	for i, p := range c.Probes {
		if len(p.Verdicts) != len(c.SLOs) {
			return fmt.Errorf("%w: probe %d has %d verdicts for %d SLOs", ErrCapacityContract, i, len(p.Verdicts), len(c.SLOs))
		}
	}
	return nil
}

// Level formats a level with its units, e.g. "42.5 req/s" or "16 concurrent requests": at most
// three decimals, trailing zeros dropped.
func (c *Capacity) Level(v float64) string {
	s := trimNum(v)
	if c.Units != "" {
		s += " " + c.Units
	}
	return s
}

func trimNum(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// Bracket is "[passing–failing]", an open end written as "…"; "" when neither is known.
func (c *Capacity) Bracket() string {
	if c.Passing == nil && c.Failing == nil {
		return ""
	}
	end := func(p *float64) string {
		if p == nil {
			return "…"
		}
		return trimNum(*p)
	}
	return "[" + end(c.Passing) + "–" + end(c.Failing) + "]"
}

// Summary is the answer in one line: the writer's Answer when it gave one, else one built from
// Passing, Failing and the probes: "max 42.5 req/s within SLO (bracket 42.5–44, 9 probes)",
// "no level passed every SLO (lowest probed 1 req/s, 1 probe)" or "≥ 64 concurrent requests:
// every level probed passed (4 probes)". A search that was cancelled, or has not ended (a record
// written while it runs has no Stop), says so.
func (c *Capacity) Summary() string {
	if c.Answer != "" {
		return c.Answer
	}
	probes := plural(len(c.Probes), "probe")
	var s string
	switch {
	case c.Passing == nil && c.Failing == nil:
		s = "no answer: no probe ran (" + probes + ")"
	case c.Passing == nil:
		s = fmt.Sprintf("no level passed every SLO (lowest failing %s, %s)", c.Level(*c.Failing), probes)
	case c.Failing == nil:
		s = fmt.Sprintf("≥ %s: every level probed passed (%s)", c.Level(*c.Passing), probes)
	default:
		s = fmt.Sprintf("max %s within SLO (bracket %s–%s, %s)", c.Level(*c.Passing), trimNum(*c.Passing), trimNum(*c.Failing), probes)
	}
	switch c.Stop {
	case StopCancelled:
		s += "; the search was cancelled"
	case "":
		s += "; the search has not ended"
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// Label names an SLO for a column or a legend, e.g. "TTFT p90 ≤ 500 ms", "E2E mean ≤ 2000 ms"
// or "errors ≤ 1%": latency limits in ms, error limits in percent.
func (s CapacitySLO) Label() string {
	if s.Metric == "errors" {
		return "errors ≤ " + trimNum(s.Limit*100) + "%"
	}
	stat := "mean"
	if s.Percentile > 0 {
		stat = "p" + trimNum(s.Percentile)
	}
	return strings.ToUpper(s.Metric) + " " + stat + " ≤ " + trimNum(s.Limit*1000) + " ms"
}

// Display converts a value of the SLO's metric to the unit its Label uses: ms for latencies
// (seconds ×1000), percent for the failed fraction (×100).
func (s CapacitySLO) Display(v float64) float64 {
	if s.Metric == "errors" {
		return v * 100
	}
	return v * 1000
}

// DisplayUnit is the unit of Display: "ms" or "%".
func (s CapacitySLO) DisplayUnit() string {
	if s.Metric == "errors" {
		return "%"
	}
	return "ms"
}
