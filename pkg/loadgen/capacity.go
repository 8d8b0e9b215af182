package loadgen

import (
	"fmt"
	"math"
	"runtime"
	"strings"
)

// FileLimit is the open-file budget of the process: the RLIMIT_NOFILE soft and hard limits and
// how many descriptors are already open.
type FileLimit struct {
	Soft, Hard uint64
	Open       int
}

// fileReserve is kept free of connections for the generator's own files (the event loop's
// epoll descriptor, result files, the progress output).
const fileReserve = 32

// available is how many connections the limit leaves for requests.
func (l FileLimit) available() int {
	free := int64(min(l.Soft, math.MaxInt32)) - int64(l.Open) - fileReserve
	return int(max(free, 0))
}

func (o Options) fileLimit() *FileLimit {
	if o.Files != nil {
		return o.Files
	}
	lim, err := processFileLimit()
	if err != nil {
		return nil // unknown: nothing to check against
	}
	return lim
}

// rateBoundSeconds bounds how long a request of a rate stage is assumed to stay in flight when
// the profile sets no load.request_timeout: a stage that would exceed the file limit only with
// slower answers than this is sent (the excess would fail as connection errors, counted).
const rateBoundSeconds = 30

// inflightCap is inference-perf's bound on the requests in flight in a rate stage:
// num_workers × min(worker_max_concurrency, worker_max_tcp_connections), with its defaults
// (the CPU count, 100, 2500) for the keys not given; 0 (no bound) when none is given.
func inflightCap(l Load) int {
	if l.NumWorkers == nil && l.WorkerMaxConcurrency == nil && l.WorkerMaxTCPConnections == nil {
		return 0
	}
	workers, perWorker, conns := runtime.NumCPU(), 100, 2500
	if l.NumWorkers != nil {
		workers = *l.NumWorkers
	}
	if l.WorkerMaxConcurrency != nil {
		perWorker = *l.WorkerMaxConcurrency
	}
	if l.WorkerMaxTCPConnections != nil {
		conns = *l.WorkerMaxTCPConnections
	}
	return workers * min(perWorker, conns)
}

// connectionsNeeded is the most requests a stage can hold in flight at once, each on its own
// connection. A concurrent stage holds its concurrency_level (hard: certain). A rate stage holds
// at most its requests, the in-flight cap and rate × request timeout (hard: a real bound); with
// neither a cap nor a timeout, rate × rateBoundSeconds is an estimate (hard false).
func connectionsNeeded(l Load, st Stage) (n int, hard bool) {
	if l.Type == LoadConcurrent {
		return st.ConcurrencyLevel, true
	}
	n = int(math.Round(st.Rate * st.Duration))
	if c := inflightCap(l); c > 0 {
		n, hard = min(n, c), true
	}
	switch {
	case l.RequestTimeout > 0:
		return min(n, int(math.Ceil(st.Rate*l.RequestTimeout))), true
	case hard:
		return n, true
	}
	return min(n, int(math.Ceil(st.Rate*rateBoundSeconds))), false
}

// checkCapacity refuses, before the first request, a stage that needs more connections than
// the open-file limit leaves; a rate stage that would need more only if its answers took
// longer than rateBoundSeconds is let through with a warning. what names the stages: with a
// %d for the stage's index ("load.stages[%d]"), or without for a single one; lim nil means the
// limit is unknown and nothing is checked.
func checkCapacity(l Load, stages []Stage, what string, lim *FileLimit) (warnings []string, err error) {
	if lim == nil {
		return nil, nil
	}
	avail := lim.available()
	for i, st := range stages {
		need, hard := connectionsNeeded(l, st)
		if need <= avail {
			continue
		}
		name := what
		if strings.Contains(what, "%d") {
			name = fmt.Sprintf(what, i)
		}
		if hard {
			return nil, fmt.Errorf("%s needs up to %d connections but only %d file descriptors are available (ulimit -n %d, hard limit %d): lower its load or raise the open-file limit",
				name, need, avail, lim.Soft, lim.Hard)
		}
		warnings = append(warnings, fmt.Sprintf("%s at %g req/s would hold more than the %d connections the open-file limit leaves (ulimit -n %d) if answers took over %d s; those requests would fail: set load.request_timeout or raise the limit",
			name, st.Rate, avail, lim.Soft, rateBoundSeconds))
	}
	return warnings, nil
}
