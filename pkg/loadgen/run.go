package loadgen

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
}

// Result is everything a run measured.
type Result struct {
	Workload *Workload
	Started  time.Time
	Finished time.Time
	Stages   []StageResult
}

// StageResult holds one stage's records, in schedule order.
type StageResult struct {
	Index    int
	Config   Stage
	Started  time.Time
	Finished time.Time
	Records  []Record
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
// schedule delay. After a cancel it returns what completed, with the context's error.
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
	g := &generator{w: w, o: o, s: s, src: newPromptSource(w, seed), rng: newRNG(seed), send: s.send}
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
	res := &Result{Workload: w, Started: epoch}
	var err error
	for i, st := range w.Load.Stages {
		if i > 0 {
			if err = sleep(ctx, time.Duration(w.Load.IntervalSeconds()*float64(time.Second))); err != nil {
				break
			}
		}
		var sr StageResult
		sr, err = g.stage(ctx, i, st)
		res.Stages = append(res.Stages, sr)
		if err != nil {
			break
		}
	}
	res.Finished = time.Now()
	return res, err
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
}

// schedule returns each request's send time, seconds after the stage starts.
func (g *generator) schedule(st Stage) []float64 {
	n := int(math.Round(st.Rate * st.Duration))
	times := make([]float64, n)
	t := 0.0
	for i := range times {
		if g.w.Load.Type == LoadPoisson {
			t += g.rng.ExpFloat64() / st.Rate
			times[i] = t
		} else {
			times[i] = float64(i) / st.Rate
		}
	}
	return times
}

func (g *generator) stage(ctx context.Context, index int, st Stage) (StageResult, error) {
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
	fmt.Fprintf(g.o.Progress, "stage %d/%d: %s\n", index+1, len(g.w.Load.Stages), what)
	sr.Records = make([]Record, total)
	stop := g.progress(index, total, &done, &failed)
	one := func(rec *Record, p prompt) {
		g.send(ctx, p, rec)
		if rec.Err != nil {
			failed.Add(1)
		}
		done.Add(1)
	}
	var sent int
	if g.w.Load.Type == LoadConcurrent {
		sent = g.closedLoop(ctx, index, sr.Records, st.ConcurrencyLevel, one)
	} else {
		sent = g.openLoop(ctx, index, sr.Records, times, one)
	}
	stop()
	sr.Records = sr.Records[:sent]
	sr.Finished = time.Now()
	if err := ctx.Err(); err != nil {
		return sr, err
	}
	fmt.Fprintf(g.o.Progress, "stage %d/%d: completed %d requests (%d failed) in %.1fs\n",
		index+1, len(g.w.Load.Stages), done.Load(), failed.Load(), sr.Finished.Sub(sr.Started).Seconds())
	return sr, nil
}

func (g *generator) openLoop(ctx context.Context, index int, recs []Record, times []float64, one func(*Record, prompt)) int {
	var wg sync.WaitGroup
	defer lockDispatcher()()
	base := g.s.clock()
	sent := 0
	for i, offset := range times {
		at := base + offset
		for d := at - g.s.clock(); d > 0 && ctx.Err() == nil; d = at - g.s.clock() {
			sleepFor(time.Duration(d * float64(time.Second)))
		}
		if ctx.Err() != nil {
			break
		}
		rec := &recs[i]
		rec.Stage, rec.Scheduled = index, at
		p := g.src.take()
		wg.Add(1)
		go func() {
			defer wg.Done()
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

func (g *generator) closedLoop(ctx context.Context, index int, recs []Record, workers int, one func(*Record, prompt)) int {
	var wg sync.WaitGroup
	var next atomic.Int64
	var mu sync.Mutex
	for range min(workers, len(recs)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(recs) {
					return
				}
				rec := &recs[i]
				mu.Lock()
				p := g.src.take()
				mu.Unlock()
				rec.Stage, rec.Scheduled = index, g.s.clock()
				one(rec, p)
			}
		})
	}
	wg.Wait()
	return min(int(next.Load()), len(recs))
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
					index+1, len(g.w.Load.Stages), done.Load(), total, failed.Load())
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
