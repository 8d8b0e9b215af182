package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The saturation probe of inference-perf's load.sweep (inference_perf/loadgen/load_generator.py,
// LoadGenerator.preprocess): NumRequests requests over probeSeconds, the in-flight count sampled
// every probeSampleEvery.
const (
	probeSeconds     = 5
	probeSampleEvery = 500 * time.Millisecond
)

// SweepResult is what a load.sweep's saturation probe measured and the stages it chose.
type SweepResult struct {
	// Probe holds the probe's requests (stage index -1); like inference-perf, no report counts them.
	Probe StageResult
	// Samples are the in-flight counts seen every 0.5 s, seconds after the probe started.
	Samples []InflightSample
	// Saturation is the estimated saturation rate, req/s.
	Saturation float64
	// Rates are the generated stages' rates, req/s.
	Rates []float64
}

// InflightSample is the number of requests in flight at a time (seconds after the probe began).
type InflightSample struct {
	At       float64
	InFlight int
}

// probeStage is the probe's load: num_requests over 5 s.
func probeStage(sw *Sweep) Stage {
	return Stage{Rate: float64(sw.NumRequests) / probeSeconds, Duration: probeSeconds}
}

// sweep runs the saturation probe and returns the stages it generates; res.Sweep records it.
func (g *generator) sweep(ctx context.Context, res *Result, files *FileLimit) ([]Stage, error) {
	sw := g.w.Load.Sweep
	st := probeStage(sw)
	fmt.Fprintf(g.o.Progress, "sweep: saturation probe, %d requests over %ds (at most %gs)\n", sw.NumRequests, probeSeconds, sw.Timeout)
	pctx, cancel := context.WithTimeout(ctx, time.Duration(sw.Timeout*float64(time.Second)))
	defer cancel()
	probe := StageResult{Index: -1, Config: st, Started: time.Now()}
	times := g.schedule(st)
	probe.Records = make([]Record, len(times))
	if g.lora != nil {
		probe.Adapters = make([]string, len(times))
	}
	var inflight, done, failed atomic.Int64
	var samples []InflightSample
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(probeSampleEvery)
		defer t.Stop()
		for {
			samples = append(samples, InflightSample{At: time.Since(probe.Started).Seconds(), InFlight: int(inflight.Load())})
			select {
			case <-quit:
				return
			case <-t.C:
			}
		}
	})
	sent := g.openLoop(pctx, -1, &probe, times, -1, g.inflightCap, g.sendOne(pctx, &inflight, &done, &failed))
	close(quit)
	wg.Wait()
	probe.Records = probe.Records[:sent]
	if probe.Adapters != nil {
		probe.Adapters = probe.Adapters[:sent]
	}
	probe.Finished = time.Now()
	res.Sweep = &SweepResult{Probe: probe, Samples: samples}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := probeFailures(probe.Records, failed.Load()); err != nil {
		return nil, err
	}
	sat, err := saturation(samples, sw.Timeout, sw.SaturationPercentile)
	if err != nil {
		return nil, err
	}
	rates, err := sweepRates(sat, sw.NumStages, sw.Type)
	if err != nil {
		return nil, err
	}
	res.Sweep.Saturation, res.Sweep.Rates = sat, rates
	stages := make([]Stage, len(rates))
	for i, r := range rates {
		stages[i] = Stage{Rate: r, Duration: sw.StageDuration}
	}
	fmt.Fprintf(g.o.Progress, "sweep: %d requests (%d failed); saturation %.2f req/s; stages at %v req/s\n",
		sent, failed.Load(), sat, rates)
	warnings, err := checkCapacity(g.w.Load, stages, "load.sweep's stage %d", files)
	if err != nil {
		return nil, err
	}
	for _, warn := range warnings {
		fmt.Fprintf(g.o.Progress, "warning: %s\n", warn)
	}
	g.numStages = len(stages)
	return stages, nil
}

// probeFailures refuses a probe in which more than half of the requests sent failed: the
// in-flight count then falls as fast as the server fails requests, not as fast as it serves them,
// so any "saturation rate" from it would be the failures' rate (a dead endpoint or an HTTP 500 on
// every request would otherwise start minutes of stages at a made-up rate).
func probeFailures(recs []Record, failed int64) error {
	if failed == 0 || 2*failed <= int64(len(recs)) {
		return nil
	}
	for i := range recs {
		if e := recs[i].Err; e != nil {
			msg := strings.Join(strings.Fields(e.Message), " ")
			if len(msg) > 160 {
				msg = msg[:160] + "…"
			}
			return fmt.Errorf("load.sweep: %d of %d probe requests failed (the first: %s: %s), so the server's saturation rate cannot be measured", failed, len(recs), e.label(), msg)
		}
	}
	return nil
}

// saturation is inference-perf's estimate from the in-flight samples: for each pair of
// consecutive samples taken before the probe's timeout in which the count fell, the rate of the
// fall (requests/s); the percentile (numpy's linear method) of those rates. It needs two falls.
func saturation(samples []InflightSample, timeout, percentile float64) (float64, error) {
	var rates []float64
	for i := 1; i < len(samples); i++ {
		prev, cur := samples[i-1], samples[i]
		if cur.At >= timeout || cur.InFlight >= prev.InFlight || cur.At <= prev.At {
			continue
		}
		rates = append(rates, float64(prev.InFlight-cur.InFlight)/(cur.At-prev.At))
	}
	if len(rates) <= 1 {
		return 0, errors.New("load.sweep: the saturation probe saw the in-flight requests fall too rarely to estimate the saturation rate: raise load.sweep.num_requests or load.sweep.timeout")
	}
	return newDist(rates).percentile(percentile), nil
}

// sweepRates spaces n stage rates between 1 req/s and the saturation rate, as inference-perf
// does: linear is numpy.linspace(1, sat, n); geometric is 1 + sat − r for each r of
// numpy.geomspace(sat, 1, n) (dense near the saturation rate). Each rate is rounded to 0.01.
func sweepRates(sat float64, n int, kind string) ([]float64, error) {
	rates := make([]float64, n)
	for i := range n {
		f := 0.0
		if n > 1 {
			f = float64(i) / float64(n-1)
		}
		switch kind {
		case SweepLinear:
			rates[i] = 1 + f*(sat-1)
			if i == n-1 && n > 1 {
				rates[i] = sat
			}
		case SweepGeometric:
			r := math.Exp(math.Log(sat) * (1 - f)) // geomspace(sat, 1, n)[i]
			if i == 0 {
				r = sat
			} else if i == n-1 {
				r = 1
			}
			rates[i] = 1 + sat - r
		default:
			return nil, fmt.Errorf("load.sweep.type %q is not a sweep type: use linear or geometric", kind)
		}
		rates[i] = round2(rates[i])
		if rates[i] <= 0 {
			return nil, fmt.Errorf("load.sweep: the saturation rate %.4g req/s is too low to space %d stages below it", sat, n)
		}
	}
	return rates, nil
}

// round2 rounds to two decimals as Python's round(x, 2) does (correctly, from the exact value).
func round2(x float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 2, 64), 64)
	return v
}
