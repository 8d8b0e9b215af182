package loadgen

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// Several launchers, one benchmark (runstate.ModeSplit): launcher i of N sends its share of each
// stage, and the N shares together are the profile's load.
//
//   - constant stage: the profile's schedule has n = round(rate × duration) requests, request m at
//     m/rate seconds; launcher i sends the ones with m ≡ i (mod N), so its stage has rate rate/N,
//     its first request i/rate seconds after the stage's start, and n/N requests (the first n mod N
//     launchers one more). The union of the N schedules is the profile's schedule, request for
//     request.
//   - poisson stage: launcher i draws a Poisson process of rate rate/N with its own seed (the sum
//     of N independent Poisson processes of rate r/N is one of rate r), n/N arrivals as above.
//   - concurrent stage: concurrency_level and num_requests are each divided by N, the remainders
//     going one each to the lowest indexes (10 over 3: 4, 3, 3).
//   - data: every launcher builds the profile's data set from the same seed; random data: launcher i
//     keeps prompts m ≡ i (mod N) of it; shared_prefix: launcher i keeps the groups g ≡ i (mod N),
//     each whole, so no shared prefix is sent from two launchers. The sets are disjoint by
//     construction and their union is the profile's.
//   - LoRA: each launcher draws its requests' adapters by the profile's weights (its own seed).
//
// A split that would leave a launcher without requests, concurrency or prompts is refused
// (*SplitError). A load.sweep is refused: each launcher's saturation probe would measure the
// server under the other launchers' probes and find a different saturation rate, so the launchers
// would run different stages.
//
// Seeds: the run's seed s (Options.Seed, else load.base_seed) builds the data set in split mode;
// launcher i draws its Poisson arrivals and LoRA adapters with s+i. In runstate.ModeReplicate
// every launcher sends the whole profile with seed s+i for everything (its own prompts and
// arrivals; a data.shared_prefix.seed pins the prompts, which are then the same on every launcher).

// share is one launcher's part of a split workload.
type share struct {
	index, count int
}

// SplitError is a split refused: it would leave some launcher nothing of Key's load.
type SplitError struct {
	// Key is the profile key whose value cannot be shared (load.stages[1].concurrency_level, say).
	Key string
	// Value is the key's value, or what it amounts to (a stage's request count).
	Value int
	// What names Value's unit ("requests", "concurrency", "prompts", "groups").
	What string
	// Count is the number of launchers.
	Count int
}

// ErrSplit is wrapped by every error of Split.
var ErrSplit = errors.New("the load cannot be split among the launchers")

func (e *SplitError) Error() string {
	who := fmt.Sprintf("launchers %d to %d", e.Value, e.Count-1)
	if e.Value == e.Count-1 {
		who = fmt.Sprintf("launcher %d", e.Value)
	}
	return fmt.Sprintf("%s: %d %s cannot be split among %d launchers (%s would get none): use at most %d launchers, or have each launcher replicate the whole load",
		e.Key, e.Value, e.What, e.Count, who, max(e.Value, 1))
}

func (e *SplitError) Unwrap() error { return ErrSplit }

// Split returns launcher index's share of w when count launchers split it (see above). w is
// not changed; count 1 returns a copy of w. It assumes w is valid (Validate); its errors are
// *SplitError, or wrap ErrSplit, in one line.
func (w *Workload) Split(index, count int) (*Workload, error) {
	if count < 1 || index < 0 || index >= count {
		return nil, fmt.Errorf("%w: launcher %d of %d is not a launcher index (0 to count-1)", ErrSplit, index, count)
	}
	c := *w
	c.Load.Stages = slices.Clone(w.Load.Stages)
	if count == 1 {
		return &c, nil
	}
	if w.Load.Sweep != nil {
		return nil, fmt.Errorf("%w: load.sweep cannot be split: each launcher's saturation probe would measure the server under the others' probes, and the launchers would run different stages; give load.stages, or have each launcher replicate the whole load", ErrSplit)
	}
	part := func(v int) int { return v/count + b2i(index < v%count) }
	for i, st := range w.Load.Stages {
		key := fmt.Sprintf("load.stages[%d]", i)
		if w.Load.Type == LoadConcurrent {
			if st.ConcurrencyLevel < count {
				return nil, &SplitError{Key: key + ".concurrency_level", Value: st.ConcurrencyLevel, What: "concurrency", Count: count}
			}
			if st.NumRequests < count {
				return nil, &SplitError{Key: key + ".num_requests", Value: st.NumRequests, What: "requests", Count: count}
			}
			c.Load.Stages[i] = Stage{ConcurrencyLevel: part(st.ConcurrencyLevel), NumRequests: part(st.NumRequests)}
			continue
		}
		n := stageRequests(st)
		if n < count {
			return nil, &SplitError{Key: key, Value: n, What: fmt.Sprintf("requests (%g req/s for %gs)", st.Rate, st.Duration), Count: count}
		}
		s := Stage{Rate: st.Rate / float64(count), Duration: st.Duration, requests: part(n)}
		if w.Load.Type == LoadConstant {
			s.phase = float64(index) / st.Rate
		}
		c.Load.Stages[i] = s
	}
	switch w.Data.Type {
	case DataRandom:
		if n := randomPrompts(w.Data); n < count {
			return nil, &SplitError{Key: "data.input_distribution.total_count", Value: n, What: "prompts", Count: count}
		}
	case DataSharedPrefix:
		if sp := w.Data.SharedPrefix; sp != nil && sp.NumGroups < count {
			return nil, &SplitError{Key: "data.shared_prefix.num_groups", Value: sp.NumGroups, What: "groups", Count: count}
		}
	}
	c.share = &share{index: index, count: count}
	return &c, nil
}

// stageRequests is the number of requests of a rate stage: round(rate × duration), or the
// launcher's share of them after a split.
func stageRequests(st Stage) int {
	if st.requests > 0 {
		return st.requests
	}
	return int(math.Round(st.Rate * st.Duration))
}

// randomPrompts is the size of a random data set: the larger total_count of the two
// distributions, at least 1.
func randomPrompts(d Data) int {
	n := 1
	for _, dist := range []*Distribution{d.InputDistribution, d.OutputDistribution} {
		if dist != nil {
			n = max(n, dist.TotalCount)
		}
	}
	return n
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CheckSplit refuses, before anything is created, a profile that count launchers cannot share in
// mode (runstate.ModeSplit or runstate.ModeReplicate): it decodes the profile and splits it for
// every launcher index. Replicate and count 1 need no split and only decode. The profile's other
// values are not validated here (overrides may still complete them).
func CheckSplit(profile []byte, count int, mode string) error {
	if count < 1 {
		return fmt.Errorf("%w: %d launchers: need at least 1", ErrSplit, count)
	}
	if mode != runstate.ModeSplit && mode != runstate.ModeReplicate {
		return fmt.Errorf("%w: parallelism mode %q: use %s or %s", ErrSplit, mode, runstate.ModeSplit, runstate.ModeReplicate)
	}
	w, err := DecodeWorkload(profile)
	if err != nil {
		return err
	}
	if w.Load.FindMax != nil && count > 1 {
		return fmt.Errorf("%w: the capacity search (load.find_max) runs in one launcher, not %d", ErrFindMax, count)
	}
	if mode == runstate.ModeReplicate {
		return nil
	}
	for i := range count {
		if _, err := w.Split(i, count); err != nil {
			return err
		}
	}
	return nil
}
