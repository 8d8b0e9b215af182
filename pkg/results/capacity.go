package results

import "strconv"

// Capacity search (kubectl llmdbench run|loadgen --find-max): the native generator probes load
// levels, one normal stage each, until it has bracketed the highest level at which every SLO holds,
// and writes CapacityFile beside the stages' files. This file is the contract between that writer
// (package loadgen) and every reader (results show, plot, compare).

// CapacityFile is the capacity search's record in a result folder.
const CapacityFile = "capacity.json"

// Search dimensions.
const (
	ByRate        = "rate"        // levels are request rates, req/s (constant arrivals)
	ByConcurrency = "concurrency" // levels are concurrency levels, requests in flight
)

// Why a capacity search stopped.
const (
	StopPrecision  = "precision"  // the bracket is narrower than the precision asked for
	StopBudget     = "budget"     // the probe budget is spent
	StopMinFails   = "min-fails"  // even the lowest level fails an SLO (or saturates)
	StopMaxPasses  = "max-passes" // even the highest level passes every SLO
	StopSaturation = "saturation" // reported with StopPrecision/StopBudget when the knee is saturation
	StopCancelled  = "cancelled"  // the run was stopped before the search ended
)

// StopReason says in words why a capacity search ended (Capacity.Stop); "" for a reason it does
// not know.
func StopReason(stop string) string {
	return map[string]string{
		StopPrecision:  "the bracket is narrower than the precision asked for",
		StopBudget:     "the probe budget is spent",
		StopMinFails:   "even the lowest level fails an SLO or saturates",
		StopMaxPasses:  "even the highest level passes every SLO",
		StopSaturation: "the bracket is narrower than the precision, and above it the stack saturates (achieved rate below 95% of offered)",
		StopCancelled:  "the run was stopped before the search ended",
	}[stop]
}

// Capacity is the content of CapacityFile.
type Capacity struct {
	// By is ByRate or ByConcurrency.
	By string `json:"by"`
	// Units of the levels: "req/s" or "concurrent requests".
	Units string `json:"units"`
	// SLOs are the objectives every probe is judged by, as given (e.g. "ttft_p90=500ms").
	SLOs []CapacitySLO `json:"slos"`
	// Min, Max, Precision (a fraction, 0.05 for 5 %), MaxProbes and Seed are the search's settings.
	Min       float64 `json:"min"`
	Max       float64 `json:"max"`
	Precision float64 `json:"precision"`
	MaxProbes int     `json:"max_probes"`
	Seed      int64   `json:"seed"`
	// Probes in the order they ran.
	Probes []CapacityProbe `json:"probes"`
	// Passing is the highest level that passed every SLO (the answer); null when none did.
	Passing *float64 `json:"passing"`
	// Failing is the lowest level that failed one; null when none did (the answer is ">= Max").
	Failing *float64 `json:"failing"`
	// Stop is why the search ended (Stop*); Answer says it in one line, e.g.
	// "max 42.5 req/s within SLO (bracket 41.9-44.0, 9 probes)" or
	// "even --min fails TTFT p90: 812 ms > 500 ms".
	Stop   string `json:"stop"`
	Answer string `json:"answer"`
}

// CapacitySLO is one objective: Metric (ttft, tpot, itl, ntpot, e2e) at Percentile (50, 90, 99,
// or 0 for the mean) at most Limit seconds; or Metric "errors" with Limit the highest failed
// fraction (0.01 for 1 %).
type CapacitySLO struct {
	Spec       string  `json:"spec"`
	Metric     string  `json:"metric"`
	Percentile float64 `json:"percentile"`
	Limit      float64 `json:"limit"`
}

// CapacityProbe is one probe: a normal stage of the result folder.
type CapacityProbe struct {
	// Stage is the stage index whose files hold the probe's results.
	Stage int `json:"stage"`
	// Level is the offered rate or concurrency.
	Level float64 `json:"level"`
	// Achieved is the achieved request rate, req/s.
	Achieved *float64 `json:"achieved_rate"`
	// Goodput is the rate of requests that met every per-request limit implied by the SLOs
	// (the same definition as results show --per-request --slo), req/s.
	Goodput *float64 `json:"goodput"`
	// Saturated: the achieved rate was below 95 % of the offered rate (ByRate only).
	Saturated bool `json:"saturated"`
	// Verdicts per SLO, in the order of Capacity.SLOs.
	Verdicts []CapacityVerdict `json:"verdicts"`
	// Pass: every SLO held and the stage was not saturated.
	Pass bool `json:"pass"`
	// Repeat: the probe repeats the one before it, whose verdict was within noise of an SLO.
	Repeat bool `json:"repeat,omitempty"`
}

// CapacityVerdict is one SLO's value in one probe; Value is null when it could not be measured
// (no successful request), which fails the SLO.
type CapacityVerdict struct {
	Value *float64 `json:"value"`
	Pass  bool     `json:"pass"`
}

// ProbeRows are c's probes as text cells, one row per probe, for the probe tables of results show
// and the HTML report: the probe's number ("2 (repeat)"), stage, level, achieved and goodput req/s
// (2 decimals), each SLO's measured value in its display unit (1 decimal) with ✔ or ✘, saturated
// ("yes"/"no"; "-" for a concurrency search, where it is not judged) and pass. A value not
// measured is "-".
func (c *Capacity) ProbeRows() [][]string {
	cell := func(p *float64, prec int) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatFloat(*p, 'f', prec, 64)
	}
	yesNo := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	rows := make([][]string, 0, len(c.Probes))
	for i, p := range c.Probes {
		probe := strconv.Itoa(i + 1)
		if p.Repeat {
			probe += " (repeat)"
		}
		cells := []string{probe, strconv.Itoa(p.Stage), strconv.FormatFloat(p.Level, 'f', -1, 64), cell(p.Achieved, 2), cell(p.Goodput, 2)}
		for j, s := range c.SLOs {
			value, mark := "-", "✘"
			if j < len(p.Verdicts) {
				v := p.Verdicts[j]
				if v.Value != nil {
					value = strconv.FormatFloat(s.Display(*v.Value), 'f', 1, 64)
					if s.DisplayUnit() == "%" {
						value += "%"
					}
				}
				if v.Pass {
					mark = "✔"
				}
			}
			cells = append(cells, value+" "+mark)
		}
		saturated := "-"
		if c.By == ByRate {
			saturated = yesNo(p.Saturated)
		}
		rows = append(rows, append(cells, saturated, yesNo(p.Pass)))
	}
	return rows
}
