package plugin

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"k8s.io/cli-runtime/pkg/printers"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

// printCapacity prints a capacity search's answer, then its probes: level, achieved rate, goodput,
// each SLO's value with ✔ or ✘, saturation and the verdict. A number not measured prints "-".
func printCapacity(out io.Writer, c *results.Capacity) error {
	fmt.Fprintf(out, "Capacity: %s\n", c.Summary())
	if why := results.StopReason(c.Stop); why != "" {
		fmt.Fprintf(out, "Search stopped: %s\n", why)
	} else if c.Stop == "" {
		fmt.Fprintln(out, "Search not ended: the probes so far")
	}
	if len(c.Probes) == 0 {
		return nil
	}
	w := printers.GetNewTabWriter(out)
	header := []string{"PROBE", "STAGE", "LEVEL " + levelUnit(c), "ACHIEVED REQ/S", "GOODPUT REQ/S"}
	for _, s := range c.SLOs {
		header = append(header, s.Label())
	}
	header = append(header, "SATURATED", "PASS")
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, cells := range c.ProbeRows() {
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(out) // the stages' table follows
	return err
}

// levelUnit is the probe table's level column unit.
func levelUnit(c *results.Capacity) string {
	if c.By == results.ByConcurrency {
		return "CONC"
	}
	return "REQ/S"
}

// printCapacityComparison prints the capacity answers before the stage table, e.g.
// "capacity: A 45 req/s [45–47.5] → B 54 req/s [54–57.375] (+20.0%)", then a note per reason the
// answers are not comparable as they stand.
func printCapacityComparison(out io.Writer, labels []string, cc *results.CapacityComparison) {
	unit := ""
	if cc.Units != "" {
		unit = " " + cc.Units
	}
	var parts []string
	for i, label := range labels {
		var part string
		switch p, f := cc.Passing[i], cc.Failing[i]; {
		case cc.Answers[i] == "":
			part = label + " -"
		case p == nil && f == nil:
			part = label + " - (" + cc.Answers[i] + ")"
		case p == nil:
			part = fmt.Sprintf("%s none within SLO (fails at %s%s)", label, strconv.FormatFloat(*f, 'f', -1, 64), unit)
		case f == nil:
			part = fmt.Sprintf("%s ≥ %s%s (every level passed)", label, strconv.FormatFloat(*p, 'f', -1, 64), unit)
		default:
			part = fmt.Sprintf("%s %s%s [%s–%s]", label, strconv.FormatFloat(*p, 'f', -1, 64), unit,
				strconv.FormatFloat(*p, 'f', -1, 64), strconv.FormatFloat(*f, 'f', -1, 64))
		}
		if d := cc.DeltaPct[i]; d != nil {
			part += fmt.Sprintf(" (%+.1f%%", *d)
			if b := cc.Bound[i]; b != "" {
				part += ", " + b
			}
			part += ")"
		}
		parts = append(parts, part)
	}
	fmt.Fprintf(out, "capacity: %s\n", strings.Join(parts, " → "))
	for _, n := range cc.Notes {
		fmt.Fprintf(out, "  note: %s\n", n)
	}
}
