package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
	"github.com/llmdbench/kubectl-llmdbench/pkg/scrape"
)

// Options tune a run; the zero value is usable.
type Options struct {
	// Progress receives one line per stage start and end, and a status line every ProgressEvery.
	Progress      io.Writer
	ProgressEvery time.Duration
	// KeepBodies keeps request and response text for the per-request file.
	KeepBodies bool
	// NetHTTP sends through net/http (with Client, if set) instead of the generator's own event
	// loop, which plain http:// endpoints use on Linux by default (see evloop).
	NetHTTP bool
	Client  *http.Client
	Seed    int64
	// Files, when set, is the open-file budget the capacity check uses instead of the
	// process's own (RLIMIT_NOFILE, raised to its hard limit at start on Linux).
	Files *FileLimit
	// Launcher, when set, makes this run one of several launchers of one benchmark: Run splits
	// or replicates the workload (see Split) and waits on a start barrier before each stage.
	Launcher *Launcher
	// OutputDir is the folder the run's files go to (Write's dir). Run writes the server-metrics
	// series there while it runs when the workload sets server_metrics, which needs it.
	OutputDir string
}

// Launcher says which launcher of a benchmark a run is, and how it starts its stages.
type Launcher struct {
	// Index is this launcher's index, 0 to Count-1.
	Index int
	Count int
	// Mode is runstate.ModeSplit or runstate.ModeReplicate.
	Mode string
	// Barrier, when set, is called before each stage (its StageResult.Index) and returns the
	// stage's agreed start, as runstate.BarrierSeries.Wait does, at or before that instant (with
	// NoSleep, the stage is prepared while the others arrive). The stage's schedule begins at the
	// instant, which the dispatcher sleeps to precisely; at once when the result is Late and the
	// instant has passed. An error ends the run.
	Barrier func(ctx context.Context, stage int) (runstate.BarrierResult, error)
}

// Result is everything a run measured.
type Result struct {
	Workload *Workload
	Started  time.Time
	Finished time.Time
	Stages   []StageResult
	// Sweep is the saturation probe of a load.sweep run; nil otherwise.
	Sweep *SweepResult
	// Launch is this launcher's record (runstate.LaunchFile) when Options.Launcher was set.
	Launch *runstate.Launch
	// Capacity is the capacity search's record (results.CapacityFile) of a load.find_max run,
	// final or as far as it got; nil otherwise.
	Capacity *results.Capacity
}

// StageResult holds one stage's records, in schedule order.
type StageResult struct {
	Index  int
	Config Stage
	// Started and Finished bracket the stage (wall clock and monotonic).
	Started  time.Time
	Finished time.Time
	// ScheduleStarted is the wall-clock instant the stage's schedule began as sent: the first
	// request's send time minus its offset in the schedule (so a launcher's lateness, not its
	// share's phase). SendEnded is when the last request was sent. Both are zero when no request
	// was sent.
	ScheduleStarted time.Time
	SendEnded       time.Time
	Records         []Record
	// Adapters[i] is the LoRA adapter Records[i] was sent to; nil without load.lora_traffic_split.
	Adapters []string
}

// Counts returns how many requests were sent and how many of them failed.
func (r *Result) Counts() (sent, failed int) {
	for _, s := range r.Stages {
		for i := range s.Records {
			sent++
			if s.Records[i].Err != nil {
				failed++
			}
		}
	}
	return sent, failed
}

// Records returns every record of every stage.
func (r *Result) Records() []Record {
	var all []Record
	for _, s := range r.Stages {
		all = append(all, s.Records...)
	}
	return all
}

// Run sends the workload's stages one after another. Requests are open loop: each is sent at its
// scheduled time in its own goroutine, whatever earlier ones are doing, and the lag is recorded as
// schedule delay. After a cancel it returns what completed, with the context's error. A load it
// cannot offer (too few file descriptors, a LoRA adapter the server does not serve, a sweep
// whose probe finds no saturation rate) is refused with a nil result.
func Run(ctx context.Context, w *Workload, o Options) (*Result, error) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.ProgressEvery == 0 {
		o.ProgressEvery = 10 * time.Second
	}
	forceStd := o.NetHTTP || o.Client != nil
	if o.Client == nil {
		o.Client = newHTTPClient()
	}
	seed := o.Seed
	if seed == 0 {
		seed = w.Load.BaseSeed
	}
	// promptSeed builds the data set; seed draws arrivals and adapters (see Split for launchers).
	promptSeed := seed
	var search *Search
	if fm := w.Load.FindMax; fm != nil {
		var err error
		if search, err = NewSearch(*fm, w.Load.Type, seed); err != nil {
			return nil, err
		}
		if l := o.Launcher; l != nil && l.Count > 1 {
			// Each launcher would judge only its share of every probe, and their searches could
			// go different ways.
			return nil, fmt.Errorf("%w: the capacity search runs in one launcher, not %d", ErrFindMax, l.Count)
		}
	}
	var launch *runstate.Launch
	if l := o.Launcher; l != nil {
		switch l.Mode {
		case runstate.ModeSplit:
			split, err := w.Split(l.Index, l.Count)
			if err != nil {
				return nil, err
			}
			w = split
			seed += int64(l.Index)
		case runstate.ModeReplicate:
			if l.Count < 1 || l.Index < 0 || l.Index >= l.Count {
				return nil, fmt.Errorf("launcher %d of %d is not a launcher index (0 to count-1)", l.Index, l.Count)
			}
			seed += int64(l.Index)
			promptSeed = seed
		default:
			return nil, fmt.Errorf("parallelism mode %q: use %s or %s", l.Mode, runstate.ModeSplit, runstate.ModeReplicate)
		}
		launch = &runstate.Launch{Index: l.Index, Count: l.Count, Mode: l.Mode, Stages: []runstate.LaunchStage{}}
	}
	files := o.fileLimit()
	warnings, err := checkCapacity(w.Load, w.Load.Stages, "load.stages[%d]", files)
	if err != nil {
		return nil, err
	}
	if w.Load.Sweep != nil {
		// The probe's requests end by its timeout at the latest.
		probe := w.Load
		if probe.RequestTimeout <= 0 || probe.RequestTimeout > w.Load.Sweep.Timeout {
			probe.RequestTimeout = w.Load.Sweep.Timeout
		}
		if _, err := checkCapacity(probe, []Stage{probeStage(w.Load.Sweep)}, "load.sweep's saturation probe", files); err != nil {
			return nil, err
		}
	}
	if search != nil {
		// The highest level is the most any probe needs: refused before the first request.
		f := search.Config()
		if _, err := checkCapacity(w.Load, []Stage{search.Stage(f.Max)}, fmt.Sprintf("load.find_max's highest level (%g %s)", f.Max, search.Units()), files); err != nil {
			return nil, err
		}
	}
	for _, warn := range warnings {
		fmt.Fprintf(o.Progress, "warning: %s\n", warn)
	}
	if len(w.Load.LoRATrafficSplit) > 0 {
		if err := checkAdapters(ctx, o.Client, w, requestHeaders(w)); err != nil {
			return nil, err
		}
	}
	epoch := time.Now()
	s := &sender{
		client:     o.Client,
		url:        endpointURL(w),
		headers:    requestHeaders(w),
		chat:       w.API.Type == APIChat,
		streaming:  w.API.Streaming,
		keepBodies: o.KeepBodies,
		clock:      func() float64 { return time.Since(epoch).Seconds() },
		timeout:    time.Duration(w.Load.RequestTimeout * float64(time.Second)),
	}
	g := &generator{w: w, o: o, s: s, src: newPromptSource(w, promptSeed), rng: newRNG(seed), send: s.send,
		lora: newLoRAPicker(w.Load.LoRATrafficSplit, seed), numStages: len(w.Load.Stages), inflightCap: inflightCap(w.Load)}
	if !forceStd {
		ev, err := newEvloop(ctx, s, s.url, s.headers)
		if err != nil {
			return nil, err
		}
		if ev != nil {
			defer ev.close()
			g.send = ev.send
		}
	}
	if sm := w.ServerMetrics; sm != nil && (o.Launcher == nil || o.Launcher.Index == 0) {
		// One launcher scrapes: the others would read the same pods.
		scr, stop, err := startScraper(ctx, sm, o)
		if err != nil {
			return nil, err
		}
		defer stop()
		g.scr = scr
	}
	res := &Result{Workload: w, Started: epoch, Launch: launch}
	if search != nil {
		err = g.findMax(ctx, res, search, files)
		res.Finished = time.Now()
		return res, err
	}
	stages := w.Load.Stages
	if w.Load.Sweep != nil {
		if stages, err = g.sweep(ctx, res, files); err != nil {
			// The probe's requests are in no report: nothing was measured that could be written.
			return nil, err
		}
	}
	for i, st := range stages {
		if i > 0 || res.Sweep != nil {
			if err = sleep(ctx, time.Duration(w.Load.IntervalSeconds()*float64(time.Second))); err != nil {
				break
			}
		}
		base := -1.0 // the stage's schedule begins now
		var br *runstate.BarrierResult
		if l := o.Launcher; l != nil && l.Barrier != nil {
			b, berr := l.Barrier(ctx, i)
			if berr != nil {
				err = fmt.Errorf("stage %d's start barrier: %w", i, berr)
				break
			}
			// The schedule's t0 is the agreed instant, so what delays the first request is lateness;
			// a late launcher whose instant has passed starts now instead of catching up in a burst.
			if until := time.Until(b.Start); !b.Late || until > 0 {
				base = s.clock() + until.Seconds()
			}
			br = &b
		}
		var sr StageResult
		sr, err = g.stage(ctx, i, st, base)
		res.Stages = append(res.Stages, sr)
		if launch != nil {
			launch.Stages = append(launch.Stages, launchStage(sr, br))
		}
		if err != nil {
			break
		}
	}
	res.Finished = time.Now()
	return res, err
}

// launchStage is a stage's record in runstate.LaunchFile; b is its barrier's result (nil without
// a barrier: no agreed start, no presence).
func launchStage(sr StageResult, b *runstate.BarrierResult) runstate.LaunchStage {
	ls := runstate.LaunchStage{Stage: sr.Index, Started: unixSeconds(sr.ScheduleStarted), SendEnded: unixSeconds(sr.SendEnded)}
	if b != nil {
		ls.AgreedStart = unixSeconds(b.Start)
		// Known lists: empty is [], not null (unknown).
		ls.Present, ls.Missing, ls.TimedOut = append([]int{}, b.Present...), append([]int{}, b.Missing...), b.TimedOut
	}
	return ls
}

// unixSeconds is t in Unix seconds, nil for the zero time.
func unixSeconds(t time.Time) *float64 {
	if t.IsZero() {
		return nil
	}
	v := float64(t.UnixNano()) / 1e9
	return &v
}

func newRNG(seed int64) *rand.Rand { return rand.New(rand.NewPCG(uint64(seed), 0x73636864)) }

func endpointURL(w *Workload) string {
	base := strings.TrimRight(w.Server.BaseURL, "/")
	path := "/v1/completions"
	if w.API.Type == APIChat {
		path = "/v1/chat/completions"
	}
	// A base URL that already names the API version (…/v1) is used as is.
	if strings.HasSuffix(base, "/v1") {
		path = strings.TrimPrefix(path, "/v1")
	}
	return base + path
}

func requestHeaders(w *Workload) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	if w.API.Streaming {
		h.Set("Accept", "text/event-stream")
	}
	if w.Server.APIKey != "" {
		h.Set("Authorization", "Bearer "+w.Server.APIKey)
	}
	for k, v := range w.API.Headers {
		h.Set(k, v)
	}
	return h
}

type generator struct {
	w    *Workload
	o    Options
	s    *sender
	src  *promptSource
	rng  *rand.Rand
	send func(context.Context, prompt, *Record)
	// lora draws each request's adapter; nil without load.lora_traffic_split.
	lora *loraPicker
	// numStages is the number of stages the progress lines count.
	numStages int
	// inflightCap bounds the requests in flight in a rate stage; 0 means no bound.
	inflightCap int
	// scr marks the stages in the server-metrics series; nil without server_metrics.
	scr *scrape.Scraper
}

// startScraper starts scraping sm's targets into o.OutputDir on goroutines of its own, with an
// HTTP client of its own (the load's connections are not shared). stop ends the scraping (a round
// in flight completes, the snapshots still queued are taken) and reports a write error to
// o.Progress as a warning: the series is secondary to the run, which goes on.
func startScraper(ctx context.Context, sm *ServerMetrics, o Options) (*scrape.Scraper, func(), error) {
	if o.OutputDir == "" {
		return nil, nil, errors.New("server_metrics is set but the run has no output folder to write the series to")
	}
	client := &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
	}}
	scr, err := scrape.New(o.OutputDir, sm.Targets, time.Duration(sm.IntervalSeconds*float64(time.Second)), scrape.HTTPFetcher(client))
	if err != nil {
		return nil, nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = scr.Run(sctx) // its error is Close's
	}()
	return scr, func() {
		cancel()
		<-done
		if err := scr.Close(); err != nil {
			fmt.Fprintf(o.Progress, "warning: %v\n", err)
		}
		client.CloseIdleConnections()
	}, nil
}

// mark appends a stage event to the server-metrics series, if any. It does not wait for the
// stage snapshot (the scraper takes it on its own goroutine), and an interrupted run's last
// snapshot is still taken.
func (g *generator) mark(ctx context.Context, stage int, event string) {
	if g.scr != nil {
		g.scr.Stage(context.WithoutCancel(ctx), stage, event)
	}
}

// take hands out the next request's prompt and, with a LoRA split, draws its adapter.
func (g *generator) take() (prompt, string) {
	p := g.src.take()
	if g.lora == nil {
		return p, ""
	}
	i := g.lora.pick()
	return p.withModel(g.lora.fields[i]), g.lora.names[i]
}

// schedule returns each request's send time, seconds after the stage starts.
func (g *generator) schedule(st Stage) []float64 {
	times := make([]float64, stageRequests(st))
	t := 0.0
	for i := range times {
		if g.w.Load.Type == LoadPoisson {
			t += g.rng.ExpFloat64() / st.Rate
			times[i] = t
		} else {
			times[i] = st.phase + float64(i)/st.Rate
		}
	}
	return times
}

// stage runs one stage whose schedule begins at base (seconds on g.s.clock; negative: now).
func (g *generator) stage(ctx context.Context, index int, st Stage, base float64) (StageResult, error) {
	sr := StageResult{Index: index, Config: st, Started: time.Now()}
	var done, failed atomic.Int64
	total := st.NumRequests
	what := fmt.Sprintf("%d requests at concurrency %d", st.NumRequests, st.ConcurrencyLevel)
	var times []float64
	if g.w.Load.Type != LoadConcurrent {
		times = g.schedule(st)
		total = len(times)
		what = fmt.Sprintf("%s %g req/s for %gs (%d requests)", g.w.Load.Type, st.Rate, st.Duration, total)
	}
	fmt.Fprintf(g.o.Progress, "stage %d/%d: %s\n", index+1, g.numStages, what)
	sr.Records = make([]Record, total)
	if g.lora != nil {
		sr.Adapters = make([]string, total)
	}
	stop := g.progress(index, total, &done, &failed)
	one := g.sendOne(ctx, nil, &done, &failed)
	var sent int
	if g.scr != nil && base >= 0 {
		// The stage starts at its agreed instant, not when this launcher arrived.
		g.waitUntil(ctx, base)
	}
	g.mark(ctx, index, results.StageEventStart)
	if g.w.Load.Type == LoadConcurrent {
		g.waitUntil(ctx, base)
		sent = g.closedLoop(ctx, index, &sr, st.ConcurrencyLevel, one)
	} else {
		sent = g.openLoop(ctx, index, &sr, times, base, g.inflightCap, one)
	}
	g.mark(ctx, index, results.StageEventEnd)
	stop()
	sr.Records = sr.Records[:sent]
	if sr.Adapters != nil {
		sr.Adapters = sr.Adapters[:sent]
	}
	sr.Finished = time.Now()
	if err := ctx.Err(); err != nil {
		return sr, err
	}
	fmt.Fprintf(g.o.Progress, "stage %d/%d: completed %d requests (%d failed) in %.1fs\n",
		index+1, g.numStages, done.Load(), failed.Load(), sr.Finished.Sub(sr.Started).Seconds())
	return sr, nil
}

// waitUntil sleeps until at (seconds on g.s.clock) as the open loop's dispatcher does, or until
// ctx ends.
func (g *generator) waitUntil(ctx context.Context, at float64) {
	defer lockDispatcher()()
	for d := at - g.s.clock(); d > 0 && ctx.Err() == nil; d = at - g.s.clock() {
		sleepFor(time.Duration(d * float64(time.Second)))
	}
}

// sendOne returns the function that sends one request and counts it; inflight, if not nil,
// counts the requests between their send and their end.
func (g *generator) sendOne(ctx context.Context, inflight, done, failed *atomic.Int64) func(*Record, prompt) {
	return func(rec *Record, p prompt) {
		if inflight != nil {
			inflight.Add(1)
			defer inflight.Add(-1)
		}
		g.send(ctx, p, rec)
		if rec.Err != nil {
			// A failed request's prompt length is the one it was built with, unless the server
			// said otherwise: never a placeholder 0.
			if !rec.ServerUsage {
				rec.InputTokens = p.inputTokens
			}
			failed.Add(1)
		}
		done.Add(1)
	}
}

// openLoop sends each request at its time in its own goroutine. With a cap, a request whose
// time has come waits for a free slot (the wait shows as schedule delay), as in inference-perf's
// worker pool.
func (g *generator) openLoop(ctx context.Context, index int, sr *StageResult, times []float64, base float64, limit int, one func(*Record, prompt)) int {
	var wg sync.WaitGroup
	var slots chan struct{}
	if limit > 0 {
		slots = make(chan struct{}, limit)
	}
	defer lockDispatcher()()
	if base < 0 {
		base = g.s.clock()
	}
	sent := 0
	for i, offset := range times {
		at := base + offset
		for d := at - g.s.clock(); d > 0 && ctx.Err() == nil; d = at - g.s.clock() {
			sleepFor(time.Duration(d * float64(time.Second)))
		}
		if ctx.Err() != nil {
			break
		}
		rec := &sr.Records[i]
		rec.Stage, rec.Scheduled = index, at
		sr.SendEnded = time.Now()
		if i == 0 {
			sr.ScheduleStarted = sr.SendEnded.Add(-time.Duration(offset * float64(time.Second)))
		}
		p, adapter := g.take()
		if sr.Adapters != nil {
			sr.Adapters[i] = adapter
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if slots != nil {
				select {
				case slots <- struct{}{}:
					defer func() { <-slots }()
				case <-ctx.Done():
				}
			}
			one(rec, p)
		}()
		// Run the request now: the dispatcher's next sleep holds its P in a syscall, where the new
		// goroutine would wait for the runtime to notice.
		runtime.Gosched()
		sent++
	}
	wg.Wait()
	return sent
}

// closedLoop keeps workers requests in flight until every record is sent. Request i always
// gets the i-th prompt and adapter, so a seed gives the same requests whatever the timing.
func (g *generator) closedLoop(ctx context.Context, index int, sr *StageResult, workers int, one func(*Record, prompt)) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	recs := sr.Records
	for range min(workers, len(recs)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				mu.Lock()
				i := next
				if i >= len(recs) {
					mu.Unlock()
					return
				}
				next++
				p, adapter := g.take()
				sr.SendEnded = time.Now()
				if i == 0 {
					sr.ScheduleStarted = sr.SendEnded
				}
				mu.Unlock()
				if sr.Adapters != nil {
					sr.Adapters[i] = adapter
				}
				rec := &recs[i]
				rec.Stage, rec.Scheduled = index, g.s.clock()
				one(rec, p)
			}
		})
	}
	wg.Wait()
	return min(next, len(recs))
}

func (g *generator) progress(index, total int, done, failed *atomic.Int64) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(g.o.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				fmt.Fprintf(g.o.Progress, "stage %d/%d: %d/%d requests done, %d failed\n",
					index+1, g.numStages, done.Load(), total, failed.Load())
			}
		}
	})
	return func() { close(quit); wg.Wait() }
}

// maxSleepSlice bounds one dispatcher sleep, so a cancel is noticed promptly between requests.
const maxSleepSlice = 50 * time.Millisecond

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
