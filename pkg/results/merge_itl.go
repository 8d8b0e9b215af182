package results

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// ITL in two passes. A request contributes one value to TTFT, TPOT, NTPOT and E2E, but one per
// token gap to ITL: ITL alone grows with the tokens (16 million values, 128 MB of float64, for
// 8 launchers' 250 MB files). So the merge keeps no ITL value in its first pass, only a histogram
// of their order keys per stage (histBits top bits, 4 MiB); from the counts it knows which
// buckets hold the ranks the percentiles need, and a second pass over the files gathers the
// values of those buckets only. The order statistics are the same as from sorting every value.

const histBits = 20

// keyHist counts values by the top histBits bits of their order key (see orderKey); adds are
// atomic (the launchers are scanned in parallel).
type keyHist struct{ counts []uint32 }

func newKeyHist() *keyHist { return &keyHist{counts: make([]uint32, 1<<histBits)} }

func bucketOf(v float64) uint32 { return uint32(orderKey(v) >> (64 - histBits)) }

func (h *keyHist) add(v float64) { atomic.AddUint32(&h.counts[bucketOf(v)], 1) }

// histRegistry holds one keyHist per stage (-1: records without a stage), made on first use.
type histRegistry struct {
	mu sync.Mutex
	m  map[int]*keyHist
}

func (r *histRegistry) get(stage int) *keyHist {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[int]*keyHist{}
	}
	h := r.m[stage]
	if h == nil {
		h = newKeyHist()
		r.m[stage] = h
	}
	return h
}

// rankPlan says, for the ranks a fullStats needs, which bucket holds each and how many values
// lie in the buckets below it.
type rankPlan struct {
	n      int
	mean   float64
	want   map[int][2]int // rank -> {bucket, values below the bucket}
	bucket []bool         // the wanted buckets, by bucket
}

// statRanks are the 0-based ranks fullStats needs of n values: min, max and both neighbours of
// every percentile's rank.
func statRanks(n int) []int {
	ranks := []int{0, n - 1}
	for _, p := range percentileKeys {
		rank := p / 100 * float64(n-1)
		ranks = append(ranks, int(math.Floor(rank)), int(math.Ceil(rank)))
	}
	return ranks
}

func planRanks(counts []uint32, n int, sum float64) *rankPlan {
	p := &rankPlan{n: n, mean: sum / float64(n), want: map[int][2]int{}, bucket: make([]bool, len(counts))}
	ranks := slices.Clone(statRanks(n))
	slices.Sort(ranks)
	acc, b := 0, 0
	for _, k := range ranks {
		for b < len(counts) && acc+int(counts[b]) <= k {
			acc += int(counts[b])
			b++
		}
		if b < len(counts) {
			p.want[k] = [2]int{b, acc}
			p.bucket[b] = true
		}
	}
	return p
}

// gathered is what the second pass collects for one plan: the wanted buckets' values and the sum
// of squared deviations from the mean of every value.
type gathered struct {
	values map[uint32][]float64
	dev    float64
}

func (g *gathered) add(p *rankPlan, v float64) {
	g.dev += (v - p.mean) * (v - p.mean)
	if b := bucketOf(v); p.bucket[b] {
		if g.values == nil {
			g.values = map[uint32][]float64{}
		}
		g.values[b] = append(g.values[b], v)
	}
}

func (g *gathered) absorb(o *gathered) {
	g.dev += o.dev
	for b, vs := range o.values {
		if g.values == nil {
			g.values = map[uint32][]float64{}
		}
		g.values[b] = append(g.values[b], vs...)
	}
}

// errChanged: the second pass did not find what the first counted.
var errChanged = errors.New("the per-request files changed while they were merged")

// stats is the plan's fullStats from the gathered values.
func (p *rankPlan) stats(g *gathered) (*fullStats, error) {
	for _, vs := range g.values {
		slices.Sort(vs)
	}
	ok := true
	at := func(k int) float64 {
		w := p.want[k]
		vs := g.values[uint32(w[0])]
		if k-w[1] >= len(vs) {
			ok = false
			return math.NaN()
		}
		return vs[k-w[1]]
	}
	out := &fullStats{n: p.n, mean: p.mean, std: math.Sqrt(g.dev / float64(p.n)), min: at(0), max: at(p.n - 1)}
	for _, q := range percentileKeys {
		rank := q / 100 * float64(p.n-1)
		lo, hi := int(math.Floor(rank)), int(math.Ceil(rank))
		out.pct = append(out.pct, at(lo)+(at(hi)-at(lo))*(rank-float64(lo)))
	}
	if !ok {
		return nil, errChanged
	}
	return out, nil
}

// itlSecondPass computes the ITL fullStats of every merged stage (and of the whole run) by
// streaming the launchers' files again and gathering the values of the wanted buckets only.
func itlSecondPass(ctx context.Context, folders []*launcherFolder, stages map[int]*stageAcc, run *stageAcc, hists *histRegistry, attribution string) error {
	plans := map[int]*rankPlan{}
	runCounts := make([]uint32, 1<<histBits)
	for id, acc := range stages {
		if acc.itlN == 0 {
			continue
		}
		h := hists.get(id)
		plans[id] = planRanks(h.counts, acc.itlN, acc.itlSum)
		for b, c := range h.counts {
			runCounts[b] += c
		}
	}
	if len(plans) == 0 {
		return nil // no request had two token times: no ITL
	}
	runPlan := planRanks(runCounts, run.itlN, run.itlSum)
	runCounts = nil
	type found struct {
		stage map[int]*gathered
		run   gathered
	}
	results := make([]found, len(folders))
	err := forEachFolder(folders, func(i int, f *launcherFolder) error {
		res := found{stage: map[int]*gathered{}}
		err := readSpans(ctx, filepath.Join(f.dir, runstate.PerRequestFile), f.data.itl, func(stage int, times []float64) {
			p := plans[stage]
			g := res.stage[stage]
			if g == nil {
				g = &gathered{}
				res.stage[stage] = g
			}
			for j := 1; j < len(times); j++ {
				v := times[j] - times[j-1]
				g.add(p, v)
				res.run.add(runPlan, v)
			}
		})
		results[i] = res
		return err
	})
	if err != nil {
		return err
	}
	var all gathered
	byStage := map[int]*gathered{}
	for _, res := range results {
		all.absorb(&res.run)
		for id, g := range res.stage {
			if byStage[id] == nil {
				byStage[id] = &gathered{}
			}
			byStage[id].absorb(g)
		}
	}
	for id, p := range plans {
		if byStage[id] == nil {
			return errChanged
		}
		if stages[id].itlStats, err = p.stats(byStage[id]); err != nil {
			return err
		}
	}
	run.itlStats, err = runPlan.stats(&all)
	return err
}

// timesSpan is where a request's token times are in its per-request file: the JSON array of
// size bytes at offset at, holding n numbers, of stage (-1: none).
type timesSpan struct {
	at    int64
	size  uint32
	n     uint32
	stage int32
}

// readSpans reads the token-time arrays the first pass located, in file order, and calls visit
// with each request's times. Only these arrays are read and parsed again (about a fifth of a
// streamed file's bytes), with the same number conversion as the first pass.
func readSpans(ctx context.Context, path string, spans []timesSpan, visit func(stage int, times []float64)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var buf []byte
	var times []float64
	for i, sp := range spans {
		if i%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if cap(buf) < int(sp.size) {
			buf = make([]byte, sp.size)
		}
		b := buf[:sp.size]
		if _, err := f.ReadAt(b, sp.at); err != nil {
			return fmt.Errorf("%s: %w (%w)", path, errChanged, err)
		}
		times, err = numbersOf(b, times[:0])
		if err != nil || len(times) != int(sp.n) {
			return fmt.Errorf("%s, byte %d: %w", path, sp.at, errChanged)
		}
		visit(int(sp.stage), times)
	}
	return nil
}

// numbersOf parses a JSON array of numbers (nulls skipped, as the first pass skips them).
func numbersOf(b []byte, out []float64) ([]float64, error) {
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return out, errChanged
	}
	for i := 1; i < len(b)-1; {
		switch c := b[i]; {
		case c == ' ' || c == ',' || c == '\n' || c == '\t' || c == '\r':
			i++
		case c == 'n' && i+4 <= len(b) && string(b[i:i+4]) == "null":
			i += 4
		default:
			j := i
			for j < len(b) && isNumberByte(b[j]) {
				j++
			}
			if j == i {
				return out, errChanged
			}
			v, err := strconv.ParseFloat(unsafe.String(&b[i], j-i), 64) // not retained
			if err != nil {
				return out, errChanged
			}
			out = append(out, v)
			i = j
		}
	}
	return out, nil
}
