package results

import (
	"fmt"
	"math"
)

// CapacityComparison lines up the answers of capacity searches, against the first run.
type CapacityComparison struct {
	// By and Units are the first run's; runs searched along another dimension are not compared.
	By    string `json:"by"`
	Units string `json:"units"`
	// Per run, in the order of Comparison.Labels: its answer line, Passing and Failing (null when
	// the run has no capacity record, or the end is open), and Passing's change against the first
	// run in percent (null when either has no passing level or they were searched differently).
	Answers  []string   `json:"answers"`
	Passing  []*float64 `json:"passing"`
	Failing  []*float64 `json:"failing"`
	DeltaPct []*float64 `json:"delta_pct"`
	// Bound per run says how to read DeltaPct: "" when both answers are bracketed, "at least"
	// when this run passed every level it probed (its true capacity may be higher), "at most"
	// when the first run did, "unbounded" when both did (DeltaPct is then only the ratio of
	// their search ceilings).
	Bound []string `json:"bound"`
	// Notes say what makes the answers not comparable as they stand: another search dimension,
	// other SLOs, a run without a capacity record.
	Notes []string `json:"notes,omitempty"`
}

// CompareCapacity compares the capacity answers of reports (labelled by labels); nil when none of
// them has a capacity record. A report without one, or searched by another dimension than the
// first capacity run, gets null numbers and a note; different SLOs are compared but noted.
func CompareCapacity(reports []*Report, labels []string) *CapacityComparison {
	var ref *Capacity
	for _, r := range reports {
		if r.Capacity != nil {
			ref = r.Capacity
			break
		}
	}
	if ref == nil {
		return nil
	}
	n := len(reports)
	cc := &CapacityComparison{By: ref.By, Units: ref.Units, Answers: make([]string, n), Passing: make([]*float64, n),
		Failing: make([]*float64, n), DeltaPct: make([]*float64, n), Bound: make([]string, n)}
	usable := make([]bool, n)
	for i, r := range reports {
		c := r.Capacity
		switch {
		case c == nil:
			cc.Notes = append(cc.Notes, fmt.Sprintf("%s has no capacity record", labels[i]))
			continue
		case c.By != ref.By:
			cc.Notes = append(cc.Notes, fmt.Sprintf("%s searched by %s, not %s: its answer is not compared", labels[i], c.By, ref.By))
			cc.Answers[i] = c.Summary()
			continue
		case !sameSLOs(c.SLOs, ref.SLOs):
			cc.Notes = append(cc.Notes, fmt.Sprintf("%s was judged by other SLOs (%s) than the first (%s)", labels[i], sloSpecs(c.SLOs), sloSpecs(ref.SLOs)))
		}
		usable[i] = true
		cc.Answers[i], cc.Passing[i], cc.Failing[i] = c.Summary(), c.Passing, c.Failing
	}
	if !usable[0] {
		return cc
	}
	base := cc.Passing[0]
	for i := 1; i < n; i++ {
		v := cc.Passing[i]
		if !usable[i] || base == nil || v == nil || *base == 0 {
			continue
		}
		cc.DeltaPct[i] = f64((*v - *base) / math.Abs(*base) * 100)
		switch open0, openI := cc.Failing[0] == nil, cc.Failing[i] == nil; {
		case open0 && openI:
			cc.Bound[i] = "unbounded"
		case openI:
			cc.Bound[i] = "at least"
		case open0:
			cc.Bound[i] = "at most"
		}
	}
	return cc
}

func sameSLOs(a, b []CapacitySLO) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Metric != b[i].Metric || a[i].Percentile != b[i].Percentile || a[i].Limit != b[i].Limit {
			return false
		}
	}
	return true
}

func sloSpecs(s []CapacitySLO) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x.Spec
	}
	return out
}
