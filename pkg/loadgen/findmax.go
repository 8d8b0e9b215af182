package loadgen

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

// FindMax is the plugin's extension block load.find_max (not an inference-perf key): instead of
// load.stages, the generator searches for the highest load at which every SLO holds, one probe
// stage per level (see Search), and writes results.CapacityFile beside the stages' files.
//
//	load:
//	  type: constant            # by: rate (constant or poisson) | concurrency (concurrent)
//	  find_max:
//	    by: rate                # rate (req/s) or concurrency (requests in flight); default rate
//	    min: 1                  # first level probed, > 0 (a whole number by concurrency)
//	    max: 64                 # highest level probed, > min
//	    precision: 0.05         # stop when (failing-passing)/passing < precision; default 0.05
//	    max_probes: 12          # probe budget, repeats included; default 12
//	    slo: "ttft_p90=500ms,tpot_p90=50ms,errors=1%"   # see results.ParseCapacitySLOs
//	    stage_duration: 60      # seconds per rate probe; default 60
//	    requests_per_stream: 20 # by concurrency: each probe sends level × this many requests; default 20
type FindMax struct {
	By                string  `json:"by,omitempty"`
	Min               float64 `json:"min"`
	Max               float64 `json:"max"`
	Precision         float64 `json:"precision,omitempty"`
	MaxProbes         int     `json:"max_probes,omitempty"`
	SLO               string  `json:"slo"`
	StageDuration     float64 `json:"stage_duration,omitempty"`
	RequestsPerStream int     `json:"requests_per_stream,omitempty"`
}

// Defaults of load.find_max.
const (
	DefaultFindMaxPrecision  = 0.05
	DefaultFindMaxProbes     = 12
	DefaultFindMaxDuration   = 60.0
	DefaultRequestsPerStream = 20
)

// Search tuning: a verdict within noiseShare of an SLO's limit is repeated once; a rate probe
// whose achieved rate is below saturationShare of the offered one is saturated.
const (
	noiseShare      = 0.05
	saturationShare = 0.95
)

// withDefaults fills the keys left out.
func (f FindMax) withDefaults() FindMax {
	if f.By == "" {
		f.By = results.ByRate
	}
	if f.Precision == 0 {
		f.Precision = DefaultFindMaxPrecision
	}
	if f.MaxProbes == 0 {
		f.MaxProbes = DefaultFindMaxProbes
	}
	if f.StageDuration == 0 {
		f.StageDuration = DefaultFindMaxDuration
	}
	if f.RequestsPerStream == 0 {
		f.RequestsPerStream = DefaultRequestsPerStream
	}
	return f
}

// ErrFindMax: the load.find_max block cannot be searched with.
var ErrFindMax = errors.New("load.find_max is not usable")

// check validates a block with its defaults filled; loadType is the profile's load.type.
func (f FindMax) check(loadType string) ([]results.CapacitySLO, error) {
	bad := func(format string, args ...any) ([]results.CapacitySLO, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrFindMax}, args...)...)
	}
	switch {
	case f.By != results.ByRate && f.By != results.ByConcurrency:
		return bad("by %q: use %s or %s", f.By, results.ByRate, results.ByConcurrency)
	case f.By == results.ByRate && loadType == LoadConcurrent:
		return bad("by rate needs a constant or poisson load, not concurrent")
	case f.By == results.ByConcurrency && loadType != LoadConcurrent:
		return bad("by concurrency needs load.type concurrent (got %s)", loadType)
	case !(f.Min > 0) || math.IsInf(f.Min, 0):
		return bad("min must be more than 0 (got %g)", f.Min)
	case !(f.Max > f.Min) || math.IsInf(f.Max, 0):
		return bad("max must be more than min (got min %g, max %g)", f.Min, f.Max)
	case f.By == results.ByConcurrency && (f.Min != math.Trunc(f.Min) || f.Max != math.Trunc(f.Max)):
		return bad("by concurrency, min and max are whole numbers of requests in flight (got %g, %g)", f.Min, f.Max)
	case !(f.Precision > 0 && f.Precision < 1):
		return bad("precision is a fraction above 0 and below 1, 0.05 for 5%% (got %g)", f.Precision)
	case f.MaxProbes < 1:
		return bad("max_probes must be at least 1 (got %d)", f.MaxProbes)
	case !(f.StageDuration > 0):
		return bad("stage_duration must be more than 0 seconds (got %g)", f.StageDuration)
	case f.RequestsPerStream < 1:
		return bad("requests_per_stream must be at least 1 (got %d)", f.RequestsPerStream)
	}
	slos, err := results.ParseCapacitySLOs(f.SLO)
	if err != nil {
		return nil, fmt.Errorf("%w: slo: %w", ErrFindMax, err)
	}
	return slos, nil
}

// stage is the probe stage of one level.
func (f FindMax) stage(level float64) Stage {
	if f.By == results.ByConcurrency {
		c := int(level)
		return Stage{ConcurrencyLevel: c, NumRequests: c * f.RequestsPerStream}
	}
	return Stage{Rate: level, Duration: f.StageDuration}
}

// Observation is what one probe measured: its stage's achieved rate (req/s, nil when not
// measured), goodput (req/s of requests meeting every per-request limit, see
// results.PerRequestSLOs; nil when not measured), and exact distributions and request counts.
type Observation struct {
	Stage    int
	Achieved *float64
	Goodput  *float64
	Latency  results.Latency
	Requests *results.Requests
}

// Search is the capacity search as a deterministic state machine, with no I/O and no clock:
// Next says which level to probe, Observe takes what it measured, Capacity is the record.
//
// The algorithm: levels Min, 2·Min, 4·Min, … (the last capped at Max) until a probe fails (an
// SLO does not hold, or, by rate, the achieved rate is below 95 % of the offered rate); then
// bisection of [highest passing, lowest failing] until (failing-passing)/passing < Precision (by
// concurrency levels are whole numbers: also when no whole number lies between them). A probe
// with any SLO value within 5 % of its limit is repeated once at the same level, and the repeat's
// verdict decides. Every probe, repeats included, counts against MaxProbes. Min failing ends the
// search with no answer (StopMinFails), Max passing with "≥ Max" (StopMaxPasses).
type Search struct {
	cfg     FindMax
	slos    []results.CapacitySLO
	seed    int64
	probes  []results.CapacityProbe
	passing *float64
	failing *float64
	bisect  bool
	next    float64
	repeat  bool
	stop    string
	answer  string
	// failedBySaturation: the lowest failing level failed by saturation alone.
	failedBySaturation bool
}

// NewSearch validates the block (with its defaults) for a load of loadType and starts a search;
// seed is recorded in the result. Errors wrap ErrFindMax or results.ErrCapacitySLO.
func NewSearch(f FindMax, loadType string, seed int64) (*Search, error) {
	f = f.withDefaults()
	slos, err := f.check(loadType)
	if err != nil {
		return nil, err
	}
	return &Search{cfg: f, slos: slos, seed: seed, next: f.Min}, nil
}

// Next returns the level to probe next and whether that probe repeats the one before it;
// ok is false once the search has ended.
func (s *Search) Next() (level float64, repeat, ok bool) {
	if s.stop != "" {
		return 0, false, false
	}
	return s.next, s.repeat, true
}

// Stage is the probe stage for a level (rate+stage_duration, or concurrency+requests).
func (s *Search) Stage(level float64) Stage { return s.cfg.stage(level) }

// Config is the search's block with its defaults filled.
func (s *Search) Config() FindMax { return s.cfg }

// Observe records the probe of the level Next returned and chooses the next one.
func (s *Search) Observe(o Observation) {
	if s.stop != "" {
		return
	}
	level := s.next
	p := results.CapacityProbe{Stage: o.Stage, Level: level, Achieved: o.Achieved, Goodput: o.Goodput, Repeat: s.repeat}
	p.Verdicts = results.JudgeCapacity(s.slos, o.Latency, o.Requests)
	p.Saturated = s.cfg.By == results.ByRate && (o.Achieved == nil || *o.Achieved < saturationShare*level)
	p.Pass = !p.Saturated
	noisy := false
	for i, v := range p.Verdicts {
		p.Pass = p.Pass && v.Pass
		// errors=0% has no noise band: one failed request fails it.
		if lim := s.slos[i].Limit; v.Value != nil && lim > 0 && math.Abs(*v.Value-lim) <= noiseShare*lim {
			noisy = true
		}
	}
	s.probes = append(s.probes, p)
	if noisy && !s.repeat && len(s.probes) < s.cfg.MaxProbes {
		s.repeat = true // the same level once more; its verdict decides
		return
	}
	s.repeat = false
	s.decide(level, p)
}

func (s *Search) decide(level float64, p results.CapacityProbe) {
	if p.Pass {
		s.passing = &level
	} else {
		s.failing = &level
		s.failedBySaturation = p.Saturated && allPass(p.Verdicts)
	}
	switch {
	case !s.bisect && p.Pass && level >= s.cfg.Max:
		s.end(results.StopMaxPasses)
		return
	case !s.bisect && p.Pass:
		s.next = math.Min(2*level, s.cfg.Max)
	case !s.bisect && s.passing == nil:
		s.end(results.StopMinFails)
		return
	default:
		s.bisect = true
		lo, hi := *s.passing, *s.failing
		mid := (lo + hi) / 2
		if s.cfg.By == results.ByConcurrency {
			mid = math.Floor(mid)
		}
		if (hi-lo)/lo < s.cfg.Precision || mid <= lo {
			if s.failedBySaturation {
				s.end(results.StopSaturation)
			} else {
				s.end(results.StopPrecision)
			}
			return
		}
		s.next = mid
	}
	if len(s.probes) >= s.cfg.MaxProbes {
		s.end(results.StopBudget)
	}
}

func allPass(vs []results.CapacityVerdict) bool {
	for _, v := range vs {
		if !v.Pass {
			return false
		}
	}
	return true
}

// Cancel ends the search early (the run was stopped); what was probed is kept.
func (s *Search) Cancel() {
	if s.stop == "" {
		s.end(results.StopCancelled)
	}
}

// Done reports whether the search has ended.
func (s *Search) Done() bool { return s.stop != "" }

func (s *Search) end(stop string) {
	s.stop = stop
	s.answer = s.say()
}

// Units is the levels' unit: "req/s" or "concurrent requests".
func (s *Search) Units() string {
	if s.cfg.By == results.ByConcurrency {
		return "concurrent requests"
	}
	return "req/s"
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// say is the answer in one line.
func (s *Search) say() string {
	u, n := s.Units(), len(s.probes)
	bracket := func() string {
		return fmt.Sprintf("max %s %s within SLO (bracket %s-%s, %d probes", num(*s.passing), u, num(*s.passing), num(*s.failing), n)
	}
	switch {
	case s.stop == results.StopMinFails:
		return "even --min " + s.whyFailed(s.probes[n-1])
	case s.stop == results.StopMaxPasses:
		return fmt.Sprintf("max ≥ %s %s within SLO: even --max passes (%d probes)", num(*s.passing), u, n)
	case s.passing == nil:
		return fmt.Sprintf("stopped after %d probes before any level passed", n)
	case s.failing == nil:
		return fmt.Sprintf("max ≥ %s %s within SLO (stopped by %s before a level failed, %d probes)", num(*s.passing), u, s.stop, n)
	case s.stop == results.StopBudget:
		return bracket() + fmt.Sprintf("; budget spent before %s%% precision)", num(100*s.cfg.Precision))
	case s.stop == results.StopSaturation:
		return bracket() + fmt.Sprintf("; saturated above: achieved < %s%% of offered)", num(100*saturationShare))
	case s.stop == results.StopCancelled:
		return bracket() + "; stopped early)"
	}
	return bracket() + ")"
}

// whyFailed says why a level failed: "fails TTFT p90: 812 ms > 500 ms", for the first failing
// SLO, else its saturation.
func (s *Search) whyFailed(p results.CapacityProbe) string {
	for i, v := range p.Verdicts {
		if v.Pass {
			continue
		}
		slo := s.slos[i]
		if v.Value == nil {
			return fmt.Sprintf("(%s %s) fails %s: not measured (no successful request)", num(p.Level), s.Units(), slo.Stat())
		}
		return fmt.Sprintf("fails %s: %s > %s", slo.Stat(), slo.Format(*v.Value), slo.Format(slo.Limit))
	}
	achieved := "not measured"
	if p.Achieved != nil {
		achieved = strconv.FormatFloat(*p.Achieved, 'f', 2, 64) + " req/s"
	}
	return fmt.Sprintf("(%s req/s) saturates: achieved %s, below %s%% of offered", num(p.Level), achieved, num(100*saturationShare))
}

// Capacity is the search's record (results.CapacityFile), so far or final.
func (s *Search) Capacity() results.Capacity {
	probes := s.probes
	if probes == nil {
		probes = []results.CapacityProbe{}
	}
	return results.Capacity{
		By: s.cfg.By, Units: s.Units(), SLOs: s.slos,
		Min: s.cfg.Min, Max: s.cfg.Max, Precision: s.cfg.Precision, MaxProbes: s.cfg.MaxProbes, Seed: s.seed,
		Probes: probes, Passing: s.passing, Failing: s.failing, Stop: s.stop, Answer: s.answer,
	}
}
