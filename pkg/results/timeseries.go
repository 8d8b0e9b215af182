package results

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// Client time series: what the load generator saw, second by second, recomputed from a result
// folder's per-request file (streamed with the same reader as the per-request analysis).
//
// Which per-request timestamps each harness gives:
//   - inference-perf and the native generator (per_request_lifecycle_metrics.json): start_time
//     and end_time of every request and the time of every output token (output_token_times),
//     seconds in the load generator's own clock (monotonic for inference-perf, so only relative
//     times mean anything). The native generator also writes each request's stage
//     (info.extra_info.stage_id); inference-perf does not, so its stages cannot be told apart.
//   - GuideLLM (benchmarks.json): per request request_start_time / request_end_time and the
//     first and last token iteration, but only for the requests it keeps (sample_size, formerly
//     --sample-requests), and no time per token: not read here.
//   - vLLM bench serve (its result JSON): latencies[] per request but no start times; only with
//     --save-detailed also start_times[], ttfts[] and itls[][] (from which every token time
//     follows): not read here yet.
//
// A folder without a per-request file is refused with ErrNoRequestTimes.

// ErrNoRequestTimes: a result folder holds no per-request start and end times to build a time
// series from.
var ErrNoRequestTimes = errors.New("no per-request start and end times")

// maxBuckets bounds a series' length (a run of 115 days at 1 s buckets).
const maxBuckets = 10_000_000

// ClientSeries is a run's client-side time series.
type ClientSeries struct {
	// BucketSeconds is the bucket width (seconds).
	BucketSeconds float64 `json:"bucket_seconds"`
	// Origin is the earliest request start, in the per-request file's clock (seconds); every
	// other time here is seconds since Origin.
	Origin float64 `json:"origin"`
	// Buckets cover [0, the last request end], one per BucketSeconds, in order, none skipped.
	Buckets []ClientBucket `json:"buckets"`
	// Stages are the stage windows (earliest start to latest end of the stage's requests), by
	// stage; nil when the records carry no stage (inference-perf). Stages below 0 (a warm-up)
	// have no window, though their requests are counted in the buckets.
	Stages []ClientStage `json:"stages"`
}

// ClientBucket is one bucket: the requests that completed (ended) in [Start, Start+Seconds).
type ClientBucket struct {
	// Start is seconds since ClientSeries.Origin.
	Start float64 `json:"start"`
	// Seconds is the bucket's width: BucketSeconds, except the last, which ends at the last
	// request's end.
	Seconds float64 `json:"seconds"`
	// Completed counts the successful requests that ended in the bucket, Failed the failed ones.
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	// RequestsPerSec is Completed / Seconds; OutputTokensPerSec is the output tokens of those
	// requests / Seconds. Null only when Seconds is 0.
	RequestsPerSec     *float64 `json:"requests_per_sec"`
	OutputTokensPerSec *float64 `json:"output_tokens_per_sec"`
	// TTFT and ITL of the successful requests that ended in the bucket (seconds): TTFT is the
	// first token time - start, ITL every gap between consecutive token times, pooled (the
	// per-request analysis's definitions; requests with fewer than two token times have
	// neither). Percentiles are exact, interpolated linearly between the closest ranks (numpy's
	// default). Null when no request in the bucket has a value.
	TTFT *Dist `json:"ttft"`
	ITL  *Dist `json:"itl"`
}

// ClientStage is one stage's window, seconds since ClientSeries.Origin.
type ClientStage struct {
	Stage int     `json:"stage"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// ClientTimeSeriesDir builds the client time series of a result folder from its per-request
// file (ClientTimeSeriesFile). A folder without one is ErrNoRequestTimes (wrapped, naming the
// folder).
func ClientTimeSeriesDir(ctx context.Context, dir string, bucketSeconds float64) (*ClientSeries, error) {
	path := filepath.Join(dir, runstate.PerRequestFile)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%s: %w: no %s (GuideLLM and vLLM results are not read for time series)", dir, ErrNoRequestTimes, runstate.PerRequestFile)
	}
	return ClientTimeSeriesFile(ctx, path, bucketSeconds)
}

// ClientTimeSeriesFile streams an inference-perf or native per-request file twice (the first
// pass finds the origin and the extent) and buckets every request by its end time, bucketSeconds
// wide. Errors: a bucket width that is not a positive finite number; an empty array
// (ErrNoRequests); a record that ends before it starts; a series of more than 10 million
// buckets; a file that cannot be read or parsed (named, with the byte).
func ClientTimeSeriesFile(ctx context.Context, path string, bucketSeconds float64) (*ClientSeries, error) {
	if !(bucketSeconds > 0) || math.IsInf(bucketSeconds, 0) {
		return nil, fmt.Errorf("bucket width %v s: it must be a positive number of seconds", bucketSeconds)
	}
	origin, last := math.Inf(1), math.Inf(-1)
	n, err := streamRecords(ctx, path, func(rec *mergeRecord) error {
		if rec.end < rec.start {
			return fmt.Errorf("a request ends (end_time %v) before it starts (start_time %v)", rec.end, rec.start)
		}
		origin, last = math.Min(origin, rec.start), math.Max(last, rec.end)
		return nil
	})
	if err != nil {
		return nil, err // streamRecords names the file
	}
	if n == 0 {
		return nil, fmt.Errorf("%w in %s (an empty array)", ErrNoRequests, path)
	}
	count := int(math.Floor((last-origin)/bucketSeconds)) + 1
	if count > maxBuckets || count < 1 {
		return nil, fmt.Errorf("%s: %.0f s of requests make more than %d buckets of %v s: use wider buckets", path, last-origin, maxBuckets, bucketSeconds)
	}
	type acc struct {
		done, failed int
		tokens       float64
		ttft, itl    []float64
	}
	accs := make([]acc, count)
	stages := map[int]*ClientStage{}
	_, err = streamRecords(ctx, path, func(rec *mergeRecord) error {
		start, end := rec.start-origin, rec.end-origin
		if rec.hasStage && rec.stage >= 0 {
			id := int(rec.stage)
			if w := stages[id]; w == nil {
				stages[id] = &ClientStage{Stage: id, Start: start, End: end}
			} else {
				w.Start, w.End = math.Min(w.Start, start), math.Max(w.End, end)
			}
		}
		a := &accs[min(count-1, int(math.Floor(end/bucketSeconds)))]
		if rec.failed {
			a.failed++
			return nil
		}
		a.done++
		a.tokens += rec.outTokens
		if v := valuesOf(rec.start, rec.end, rec.outTokens, rec.times); v.hasTokens {
			a.ttft = append(a.ttft, v.ttft)
			for i := 1; i < len(rec.times); i++ {
				a.itl = append(a.itl, rec.times[i]-rec.times[i-1])
			}
		}
		return nil
	})
	if err != nil {
		return nil, err // streamRecords names the file
	}
	out := &ClientSeries{BucketSeconds: bucketSeconds, Origin: origin, Buckets: make([]ClientBucket, count)}
	for i, a := range accs {
		b := ClientBucket{Start: float64(i) * bucketSeconds, Seconds: bucketSeconds, Completed: a.done, Failed: a.failed,
			TTFT: exactDist(a.ttft), ITL: exactDist(a.itl)}
		if i == count-1 {
			b.Seconds = (last - origin) - b.Start
		}
		if b.Seconds > 0 {
			b.RequestsPerSec = f64(float64(a.done) / b.Seconds)
			b.OutputTokensPerSec = f64(a.tokens / b.Seconds)
		}
		out.Buckets[i] = b
	}
	for _, w := range stages {
		out.Stages = append(out.Stages, *w)
	}
	slices.SortFunc(out.Stages, func(a, b ClientStage) int { return a.Stage - b.Stage })
	return out, nil
}

// exactDist is the mean and the p50, p90 and p99 of vs (sorted in place), interpolated linearly
// between the closest ranks as series.dist does; nil for no value.
func exactDist(vs []float64) *Dist {
	if len(vs) == 0 {
		return nil
	}
	slices.Sort(vs)
	sum := 0.0
	for _, v := range vs {
		sum += v
	}
	pct := func(p float64) *float64 {
		rank := p / 100 * float64(len(vs)-1)
		lo, hi := int(math.Floor(rank)), int(math.Ceil(rank))
		return f64(vs[lo] + (vs[hi]-vs[lo])*(rank-float64(lo)))
	}
	return &Dist{Mean: f64(sum / float64(len(vs))), P50: pct(50), P90: pct(90), P99: pct(99)}
}
