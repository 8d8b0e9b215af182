package results

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// One benchmark, many launchers (issue #16). When N launchers share a workload, each writes its
// own result folder; Merge reads them and writes ONE result folder for the workload whose numbers
// are those of the union of the launchers' requests: per stage, the exact order statistics of
// every request's TTFT, TPOT, ITL, NTPOT and E2E (never an average of the launchers'
// percentiles), counts and failures by label summed, and rates over the common window.
//
// Merge reads only the per-request files (inference-perf's per_request_lifecycle_metrics.json,
// as inference-perf and the native generator write it). It streams each file once for every
// metric, keeping per stage only one float64 per request and metric, never a record; ITL, whose
// values grow with the tokens, gets a histogram there and a second pass that gathers only the
// values around the wanted ranks (merge_itl.go).

// MergeFile describes a merged folder: which launchers it holds, which are missing, and how the
// stages' windows were found. Merge writes it; ReadMerge reads it.
const MergeFile = "llmdbench-merge.json"

// ErrNoPerRequest: a launcher folder holds no per-request file, the only input an exact merge
// can use (the percentiles of the stage files cannot be combined).
var ErrNoPerRequest = errors.New("no per-request data to merge")

// Window sources: where a merged stage's sending window comes from.
const (
	// WindowLaunchFile: the launchers' LaunchFile (wall clock): max send_ended - min started.
	WindowLaunchFile = "launcher-file"
	// WindowPerRequest: each launcher's own per-request start times (its own clock: launchers'
	// clocks cannot be compared), the longest launcher span; it assumes the launchers started
	// together.
	WindowPerRequest = "per-request"
)

// Stage attributions: how the requests were split into stages.
const (
	// AttributionStageID: by each record's info.extra_info.stage_id (the native generator).
	AttributionStageID = "stage-id"
	// AttributionNone: the records carry no stage (inference-perf does not write it, and its
	// per-request times are a monotonic clock of its own): only the whole run is merged.
	AttributionNone = "none"
)

// MergeSummary is the content of MergeFile.
type MergeSummary struct {
	// Expected is how many launchers the run had.
	Expected int `json:"expected"`
	// Merged are the launchers whose requests the folder holds, by index.
	Merged []MergedLauncher `json:"merged"`
	// Missing are the expected launchers that are not merged, with the reason.
	Missing []MissingLauncher `json:"missing"`
	// Attribution is AttributionStageID or AttributionNone.
	Attribution string `json:"stage_attribution"`
	// PerLauncherStages is true when the stages' boundaries are each launcher's own (a harness
	// the plugin does not drive stage by stage: its launchers met at one barrier per workload).
	PerLauncherStages bool `json:"per_launcher_stages"`
	// Stages are the merged stages in order; with AttributionNone a single entry, Stage -1, the
	// whole run.
	Stages []MergedStage `json:"stages"`
	// Excluded counts the records of negative stage ids (a sweep's saturation probe), which no
	// report counts, as inference-perf's do not.
	Excluded int `json:"excluded_records"`
}

// MergedLauncher is one merged launcher folder.
type MergedLauncher struct {
	Index int    `json:"index"`
	Dir   string `json:"dir"`
	// Verdict is the folder's metadata verdict, "" when it has no metadata.
	Verdict string `json:"verdict"`
}

// MissingLauncher is an expected launcher that is not in the merge.
type MissingLauncher struct {
	Index int `json:"index"`
	// Dir is its folder when one was given (a failed or incomplete launcher), else "".
	Dir    string `json:"dir,omitempty"`
	Reason string `json:"reason"`
}

// MergedStage is one merged stage.
type MergedStage struct {
	// Stage is the stage index; -1 for the whole run (AttributionNone).
	Stage int `json:"stage"`
	// Requests and Failed are the stage's totals over the merged launchers.
	Requests int `json:"requests"`
	Failed   int `json:"failed"`
	// PerLauncher counts each merged launcher's requests (failed ones included) in the stage.
	PerLauncher []LauncherCount `json:"per_launcher"`
	// StartSkewSeconds is max - min of the launchers' LaunchStage.Started; null when any merged
	// launcher's start is not known.
	StartSkewSeconds *float64 `json:"start_skew_seconds"`
	// WindowSeconds is the common sending window (see WindowSource); null when it spans no time.
	WindowSeconds *float64 `json:"window_seconds"`
	WindowSource  string   `json:"window_source"`
	// AchievedRate is Requests / WindowSeconds, requests per second; null when no window.
	AchievedRate *float64 `json:"achieved_rate"`
}

// LauncherCount is one launcher's share of a stage.
type LauncherCount struct {
	Launcher int `json:"launcher"`
	Requests int `json:"requests"`
	Failed   int `json:"failed"`
}

// maxMergeMessages caps the distinct error messages kept per failure label, as inference-perf's
// report.request_lifecycle.max_error_messages default (100) does.
const maxMergeMessages = 100

// stageAcc gathers one stage's requests (of one launcher, then of all). Values are seconds or
// token counts; series are exact (every value kept, float64 only).
type stageAcc struct {
	count, successes, failures int
	// Window, in the launcher's own clock (meaningless once launchers are combined: see spans).
	minStart, maxStart, maxEnd float64
	delay, e2e, ttft, tpot     series
	ntpot, inLen, outLen       series
	reqSize                    series // the successes' request bodies, bytes
	// ITL keeps no value in the first pass: a count, a sum, the stage's shared histogram, and
	// the distribution once the second pass computed it (see merge_itl.go).
	itlN                       int
	itlSum                     float64
	hist                       *keyHist
	itlStats                   *fullStats
	failedE2E, failedIn        series
	hasDelay                   bool
	inputTotal, outputTotal    float64
	cachedTotal                float64
	cachedReported, mismatches int
	labels                     []string
	byLabel                    map[string]*labelAcc
	// spans are the per-launcher windows of a combined stage.
	spans []launcherSpan
}

type labelAcc struct {
	count    int
	messages []string
}

// launcherSpan is one launcher's stage window in its own clock: first start, last start, last end.
type launcherSpan struct {
	launcher                   int
	count, failed              int
	minStart, maxStart, maxEnd float64
}

// mergeBlock is the block size, in values, of the merge's series: 512 KiB blocks, so that the
// many series of a merge (10 per stage and launcher) waste little in partly filled blocks.
const mergeBlock = 1 << 16

// push adds v like series.add, in blocks of mergeBlock values: the first block grows by doubling
// from 256 values, later ones are allocated whole.
func (s *series) push(v float64) {
	n := len(s.blocks)
	switch {
	case n == 0:
		s.blocks = append(s.blocks, make([]float64, 0, 256))
	case len(s.blocks[n-1]) < cap(s.blocks[n-1]):
	case cap(s.blocks[n-1]) < mergeBlock:
		grown := make([]float64, len(s.blocks[n-1]), 2*cap(s.blocks[n-1]))
		copy(grown, s.blocks[n-1])
		s.blocks[n-1] = grown
	default:
		s.blocks = append(s.blocks, make([]float64, 0, mergeBlock))
	}
	b := &s.blocks[len(s.blocks)-1]
	*b = append(*b, v)
	s.n++
	s.sum += v
}

func newStageAcc() *stageAcc {
	return &stageAcc{minStart: math.Inf(1), maxStart: math.Inf(-1), maxEnd: math.Inf(-1), byLabel: map[string]*labelAcc{}}
}

// mergeRecord is one per-request record reduced to what the merge needs.
type mergeRecord struct {
	start, end          float64
	failed              bool
	errType, errMsg     string
	inTokens, outTokens float64
	times               []float64
	timesAt, timesEnd   int64 // the byte range of the times' array in the file
	stage               float64
	hasStage            bool
	scheduled           float64
	hasScheduled        bool
	serverUsage         bool
	cached              float64
	hasCached           bool
	reqSize             int // the request body's bytes: its "request" string, decoded
	hasReqSize          bool
}

func (a *stageAcc) add(r *mergeRecord) {
	a.count++
	a.minStart, a.maxStart, a.maxEnd = min(a.minStart, r.start), max(a.maxStart, r.start), max(a.maxEnd, r.end)
	if r.hasScheduled {
		a.hasDelay = true
		a.delay.push(r.start - r.scheduled)
	}
	e2e := r.end - r.start
	if r.failed {
		a.failures++
		a.failedE2E.push(e2e)
		a.failedIn.push(r.inTokens)
		l := a.byLabel[r.errType]
		if l == nil {
			l = &labelAcc{}
			a.byLabel[r.errType] = l
			a.labels = append(a.labels, r.errType)
		}
		l.count++
		if len(l.messages) < maxMergeMessages && !slices.Contains(l.messages, r.errMsg) {
			l.messages = append(l.messages, r.errMsg)
		}
		return
	}
	a.successes++
	if r.hasReqSize {
		a.reqSize.push(float64(r.reqSize))
	}
	a.e2e.push(e2e)
	a.inLen.push(r.inTokens)
	a.outLen.push(r.outTokens)
	a.inputTotal += r.inTokens
	a.outputTotal += r.outTokens
	if r.hasCached {
		a.cachedTotal += r.cached
		a.cachedReported++
	}
	if r.outTokens > 0 { // no tokens, no time per token: left out, never a 0
		a.ntpot.push(e2e / r.outTokens)
	}
	if n := len(r.times); n > 0 {
		if r.serverUsage && float64(n) != r.outTokens {
			a.mismatches++
		}
		a.ttft.push(r.times[0] - r.start)
		if r.outTokens > 1 {
			a.tpot.push((r.times[n-1] - r.times[0]) / (r.outTokens - 1))
		}
		for j := 1; j < n; j++ {
			g := r.times[j] - r.times[j-1]
			a.itlN++
			a.itlSum += g
			a.hist.add(g)
		}
	}
}

// absorb moves b's values into a (blocks are moved, not copied); b's window becomes one span.
func (a *stageAcc) absorb(b *stageAcc, launcher int) {
	for _, p := range []struct{ dst, src *series }{
		{&a.delay, &b.delay}, {&a.e2e, &b.e2e}, {&a.ttft, &b.ttft}, {&a.tpot, &b.tpot},
		{&a.ntpot, &b.ntpot}, {&a.reqSize, &b.reqSize}, {&a.inLen, &b.inLen}, {&a.outLen, &b.outLen}, {&a.failedE2E, &b.failedE2E}, {&a.failedIn, &b.failedIn},
	} {
		p.dst.blocks = append(p.dst.blocks, p.src.blocks...)
		p.dst.n += p.src.n
		p.dst.sum += p.src.sum
	}
	a.itlN += b.itlN
	a.itlSum += b.itlSum
	a.count += b.count
	a.successes += b.successes
	a.failures += b.failures
	a.hasDelay = a.hasDelay || b.hasDelay
	a.inputTotal += b.inputTotal
	a.outputTotal += b.outputTotal
	a.cachedTotal += b.cachedTotal
	a.cachedReported += b.cachedReported
	a.mismatches += b.mismatches
	for _, l := range b.labels {
		src := b.byLabel[l]
		dst := a.byLabel[l]
		if dst == nil {
			dst = &labelAcc{}
			a.byLabel[l] = dst
			a.labels = append(a.labels, l)
		}
		dst.count += src.count
		for _, m := range src.messages {
			if len(dst.messages) < maxMergeMessages && !slices.Contains(dst.messages, m) {
				dst.messages = append(dst.messages, m)
			}
		}
	}
	a.spans = append(a.spans, b.spans...)
	if b.count > 0 && len(b.spans) == 0 {
		a.spans = append(a.spans, launcherSpan{launcher: launcher, count: b.count, failed: b.failures,
			minStart: b.minStart, maxStart: b.maxStart, maxEnd: b.maxEnd})
	}
}

// launcherData is what one launcher folder's per-request file holds, by stage.
type launcherData struct {
	stages   map[int]*stageAcc
	noStage  *stageAcc // records without a stage id
	records  int
	withID   int
	excluded int // records of negative stages
	launcher int
	// itl locates the token times of every successful request with two or more, for the ITL
	// second pass (24 bytes a request).
	itl []timesSpan
}

// streamRecords streams a per-request file, calling visit with each record (the same
// mergeRecord, reused); it returns how many records the file holds.
func streamRecords(ctx context.Context, path string, visit func(*mergeRecord) error) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := newScanner(bufio.NewReaderSize(f, 1<<20))
	var rec mergeRecord
	n := 0
	err = s.array(func() error {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rec = mergeRecord{times: rec.times[:0]}
		if err := s.object(func(k []byte) error { return mergeRecordField(s, k, &rec) }); err != nil {
			return err
		}
		n++
		if rec.hasStage && float64(int(rec.stage)) != rec.stage {
			return s.errorf("stage_id %v is not a whole number", rec.stage)
		}
		return visit(&rec)
	})
	if err == nil {
		if c, perr := s.peek(); perr == nil {
			err = s.errorf("unexpected %q after the array", c)
		}
	}
	if err != nil {
		return n, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

// scanLauncherFile streams one per-request file (the first pass), ITL into the stages' shared
// histograms of hists.
func scanLauncherFile(ctx context.Context, path string, launcher int, hists *histRegistry) (*launcherData, error) {
	d := &launcherData{stages: map[int]*stageAcc{}, noStage: newStageAcc(), launcher: launcher}
	d.noStage.hist = hists.get(-1)
	n, err := streamRecords(ctx, path, func(rec *mergeRecord) error {
		acc := d.noStage
		if rec.hasStage {
			d.withID++
			id := int(rec.stage)
			if id < 0 {
				d.excluded++
				return nil
			}
			if acc = d.stages[id]; acc == nil {
				acc = newStageAcc()
				acc.hist = hists.get(id)
				d.stages[id] = acc
			}
		}
		acc.add(rec)
		if !rec.failed && len(rec.times) > 1 {
			stage := -1
			if rec.hasStage {
				stage = int(rec.stage)
			}
			d.itl = append(d.itl, timesSpan{at: rec.timesAt, size: uint32(rec.timesEnd - rec.timesAt), n: uint32(len(rec.times)), stage: int32(stage)})
		}
		return nil
	})
	d.records = n
	if err != nil {
		return nil, err
	}
	if d.records == 0 {
		return nil, fmt.Errorf("%w in %s (an empty array)", ErrNoRequests, path)
	}
	if d.withID > 0 && d.withID < d.records {
		return nil, fmt.Errorf("%s: %d of %d records carry info.extra_info.stage_id: the stages cannot be told apart", path, d.withID, d.records)
	}
	return d, nil
}

func mergeRecordField(s *scanner, k []byte, rec *mergeRecord) error {
	var err error
	switch string(k) {
	case "start_time":
		rec.start, _, err = s.number()
	case "end_time":
		rec.end, _, err = s.number()
	case "request":
		rec.reqSize, rec.hasReqSize, err = decodedLen(s)
	case "error":
		c, perr := s.peek()
		if perr != nil {
			return perr
		}
		if c == 'n' {
			return s.literal("null")
		}
		rec.failed = true
		if c != '{' {
			return s.skipValue()
		}
		return s.object(func(k []byte) error {
			switch string(k) {
			case "error_type":
				return scanStringOrNull(s, &rec.errType)
			case "error_msg":
				return scanStringOrNull(s, &rec.errMsg)
			}
			return s.skipValue()
		})
	case "info":
		return s.object(func(k []byte) error { return mergeInfoField(s, k, rec) })
	default:
		return s.skipValue()
	}
	return err
}

func mergeInfoField(s *scanner, k []byte, rec *mergeRecord) error {
	switch string(k) {
	case "input_tokens":
		v, _, err := s.number()
		rec.inTokens = v
		return err
	case "output_tokens": // ≤ v0.4
		v, _, err := s.number()
		rec.outTokens = v
		return err
	case "output_token_times": // ≤ v0.4
		return mergeTimes(s, rec)
	case "response_info", "response_metrics": // v0.5, v0.6
		return objectOrNull(s, func(k []byte) error {
			switch string(k) {
			case "output_tokens":
				v, _, err := s.number()
				rec.outTokens = v
				return err
			case "output_token_times":
				return mergeTimes(s, rec)
			case "server_usage":
				return objectOrNull(s, func(k []byte) error {
					rec.serverUsage = true
					if string(k) != "prompt_tokens_details" {
						return s.skipValue()
					}
					return objectOrNull(s, func(k []byte) error {
						if string(k) != "cached_tokens" {
							return s.skipValue()
						}
						v, ok, err := s.number()
						rec.cached, rec.hasCached = v, ok
						return err
					})
				})
			}
			return s.skipValue()
		})
	case "request_metrics": // v0.6: {"text": {"input_tokens": N}, …}
		return objectOrNull(s, func(k []byte) error {
			if string(k) != "text" {
				return s.skipValue()
			}
			return objectOrNull(s, func(k []byte) error {
				if string(k) == "input_tokens" {
					v, _, err := s.number()
					rec.inTokens = v
					return err
				}
				return s.skipValue()
			})
		})
	case "extra_info": // the native generator: {"stage_id": N, "scheduled_time": T}
		return objectOrNull(s, func(k []byte) error {
			switch string(k) {
			case "stage_id":
				v, ok, err := s.number()
				rec.stage, rec.hasStage = v, ok
				return err
			case "scheduled_time":
				v, ok, err := s.number()
				rec.scheduled, rec.hasScheduled = v, ok
				return err
			}
			return s.skipValue()
		})
	}
	return s.skipValue()
}

// objectOrNull walks an object, or consumes a null.
func objectOrNull(s *scanner, field func(k []byte) error) error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	if c == 'n' {
		return s.literal("null")
	}
	if c != '{' {
		return s.skipValue()
	}
	return s.object(field)
}

func mergeTimes(s *scanner, rec *mergeRecord) error {
	rec.times = rec.times[:0]
	c, err := s.peek()
	if err != nil {
		return err
	}
	if c == 'n' {
		return s.literal("null")
	}
	rec.timesAt = s.consumed + int64(s.pos)
	err = s.array(func() error {
		v, ok, err := s.number()
		if ok {
			rec.times = append(rec.times, v)
		}
		return err
	})
	rec.timesEnd = s.consumed + int64(s.pos)
	return err
}

// scanStringOrNull reads a JSON string (decoding its escapes) into dst, or consumes a null (dst
// unchanged); another value is skipped. Only short strings (error labels and messages) are read.
func scanStringOrNull(s *scanner, dst *string) error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	if c != '"' {
		return s.skipValue()
	}
	s.pos++ // the opening quote; fill keeps buf[pos:end], so the string stays in view
	off := 0
	for {
		j := bytes.IndexByte(s.buf[s.pos+off:s.end], '"')
		if j < 0 {
			off = s.end - s.pos
			if !s.fill() {
				return s.truncated()
			}
			continue
		}
		q := s.pos + off + j
		slashes := 0
		for i := q - 1; i >= s.pos && s.buf[i] == '\\'; i-- {
			slashes++
		}
		if slashes%2 == 1 {
			off = q + 1 - s.pos
			continue
		}
		raw := make([]byte, 0, q-s.pos+2)
		raw = append(append(append(raw, '"'), s.buf[s.pos:q]...), '"')
		s.pos = q + 1
		if err := json.Unmarshal(raw, dst); err != nil {
			return s.errorf("bad string: %v", err)
		}
		return nil
	}
}

// decodedLen consumes a JSON string and returns the byte length of its decoded value, streaming
// through the scanner's buffer (the string is not kept); another value is skipped (false).
// Escapes decode as encoding/json decodes them: \uXXXX to its UTF-8 bytes, a surrogate pair to
// 4 bytes, a lone surrogate to U+FFFD (3 bytes).
func decodedLen(s *scanner) (int, bool, error) {
	c, err := s.peek()
	if err != nil {
		return 0, false, err
	}
	if c != '"' {
		return 0, false, s.skipValue()
	}
	s.pos++
	n := 0
	// need makes k bytes available from pos (false at the end of the file).
	need := func(k int) bool {
		for s.end-s.pos < k {
			if !s.fill() {
				return false
			}
		}
		return true
	}
	hex4 := func(at int) (rune, bool) {
		var r rune
		for _, c := range s.buf[at : at+4] {
			switch {
			case c >= '0' && c <= '9':
				r = r<<4 | rune(c-'0')
			case c >= 'a' && c <= 'f':
				r = r<<4 | rune(c-'a'+10)
			case c >= 'A' && c <= 'F':
				r = r<<4 | rune(c-'A'+10)
			default:
				return 0, false
			}
		}
		return r, true
	}
	for {
		if s.pos >= s.end && !s.fill() {
			return 0, false, s.truncated()
		}
		seg := s.buf[s.pos:s.end]
		q := bytes.IndexByte(seg, '"')
		lim := len(seg)
		if q >= 0 {
			lim = q
		}
		if b := bytes.IndexByte(seg[:lim], '\\'); b >= 0 {
			n += b
			s.pos += b
			if !need(2) {
				return 0, false, s.truncated()
			}
			if s.buf[s.pos+1] != 'u' {
				n++
				s.pos += 2
				continue
			}
			if !need(6) {
				return 0, false, s.truncated()
			}
			r, ok := hex4(s.pos + 2)
			if !ok {
				return 0, false, s.errorf(`bad \u escape`)
			}
			s.pos += 6
			if utf16.IsSurrogate(r) {
				if need(6) && s.buf[s.pos] == '\\' && s.buf[s.pos+1] == 'u' {
					if r2, ok := hex4(s.pos + 2); ok && utf16.DecodeRune(r, r2) != utf8.RuneError {
						n += 4
						s.pos += 6
						continue
					}
				}
				n += 3 // U+FFFD
				continue
			}
			n += utf8.RuneLen(r)
			continue
		}
		if q >= 0 {
			n += q
			s.pos += q + 1
			return n, true, nil
		}
		n += len(seg)
		s.pos = s.end
	}
}

// launcherFolder is one launcher folder as given to Merge.
type launcherFolder struct {
	dir    string
	index  int
	launch *runstate.Launch
	meta   *runstate.Metadata
	data   *launcherData
}

// Merge merges the result folders of one workload's launchers (dirs, one per launcher) into out
// (created; it must not hold results already). expected is the run's number of launchers; 0
// takes it from the folders' LaunchFile (their count), else len(dirs).
//
// Each folder must hold a per-request file (ErrNoPerRequest otherwise) unless its metadata
// verdict says it failed or is incomplete: such a launcher is left out and listed as missing,
// like an expected launcher index that no folder has. A launcher's index is its LaunchFile's, else
// its metadata's parallel index, else its place in dirs.
//
// out receives: stage_N_lifecycle_metrics.json per stage and summary_lifecycle_metrics.json in
// the native generator's layout, a benchmark report v0.2 per stage (loadgen.ReportFile naming),
// MergeFile, and the metadata (MetadataFile) with verdict succeeded only when every expected
// launcher is merged and succeeded. With records that carry no stage (inference-perf), only the
// summary is written. Errors name the folder or file and why.
func Merge(ctx context.Context, dirs []string, expected int, out string) (*MergeSummary, error) {
	if len(dirs) == 0 {
		return nil, errors.New("no launcher folder to merge")
	}
	if expected < 0 {
		return nil, fmt.Errorf("expected launchers %d: must be 0 (from the folders) or more", expected)
	}
	folders, err := readLauncherFolders(dirs)
	if err != nil {
		return nil, err
	}
	if expected == 0 {
		expected = len(dirs)
		for _, f := range folders {
			if f.launch != nil {
				expected = max(expected, f.launch.Count)
			}
		}
	}
	if len(dirs) > expected {
		return nil, fmt.Errorf("%d launcher folders but %d launchers expected", len(dirs), expected)
	}
	seen := map[int]string{}
	for _, f := range folders {
		if f.index >= expected {
			return nil, fmt.Errorf("%s: launcher %d, but only %d launchers expected (0 to %d)", f.dir, f.index, expected, expected-1)
		}
		if d, ok := seen[f.index]; ok {
			return nil, fmt.Errorf("%s and %s are both launcher %d", d, f.dir, f.index)
		}
		seen[f.index] = f.dir
	}
	sum := &MergeSummary{Expected: expected, Merged: []MergedLauncher{}, Missing: []MissingLauncher{}}
	var merged []*launcherFolder
	for _, f := range folders {
		verdict := ""
		if f.meta != nil {
			verdict = f.meta.Verdict
			if !f.meta.IsComplete() {
				sum.Missing = append(sum.Missing, MissingLauncher{Index: f.index, Dir: f.dir, Reason: "verdict " + orUnknown(verdict)})
				continue
			}
		}
		if _, err := os.Stat(filepath.Join(f.dir, runstate.PerRequestFile)); err != nil {
			return nil, noPerRequest(f.dir)
		}
		merged = append(merged, f)
		sum.Merged = append(sum.Merged, MergedLauncher{Index: f.index, Dir: f.dir, Verdict: verdict})
	}
	for i := range expected {
		if _, ok := seen[i]; !ok {
			sum.Missing = append(sum.Missing, MissingLauncher{Index: i, Reason: "no result folder"})
		}
	}
	sort.Slice(sum.Missing, func(i, j int) bool { return sum.Missing[i].Index < sum.Missing[j].Index })
	if len(merged) == 0 {
		return nil, fmt.Errorf("none of the %d launcher folders can be merged: every one failed or is incomplete", len(dirs))
	}
	if err := checkOut(out); err != nil {
		return nil, err
	}
	hists := &histRegistry{}
	if err := scanLaunchers(ctx, merged, hists); err != nil {
		return nil, err
	}
	withID := 0
	for _, f := range merged {
		if f.data.withID > 0 {
			withID++
		}
		sum.Excluded += f.data.excluded
	}
	if withID > 0 && withID < len(merged) {
		return nil, fmt.Errorf("%d of %d launchers' per-request files carry stage ids: they were not written by one harness", withID, len(merged))
	}
	sum.Attribution = AttributionNone
	if withID > 0 {
		sum.Attribution = AttributionStageID
	}
	for _, f := range merged {
		if f.launch == nil {
			sum.PerLauncherStages = true
			continue
		}
		for _, st := range f.launch.Stages {
			if st.Stage == runstate.StageWorkload {
				sum.PerLauncherStages = true
			}
		}
	}
	// Combine: per stage, every launcher's values (blocks moved, not copied).
	stages := map[int]*stageAcc{}
	run := newStageAcc()
	for _, f := range merged {
		launcherRun := newStageAcc()
		if sum.Attribution == AttributionNone {
			launcherRun.absorb(f.data.noStage, f.index)
			stages[-1] = orNew(stages[-1])
			stages[-1].absorb(f.data.noStage, f.index)
			run.absorb(launcherRun, f.index)
			continue
		}
		for id, acc := range f.data.stages {
			stages[id] = orNew(stages[id])
			stages[id].absorb(acc, f.index)
			launcherRun.absorb(acc, f.index)
		}
		// The run's window for this launcher is one span over all its stages (its own clock).
		launcherRun.spans = []launcherSpan{spanOf(launcherRun.spans, f.index)}
		run.absorb(launcherRun, f.index)
	}
	if err := itlSecondPass(ctx, merged, stages, run, hists, sum.Attribution); err != nil {
		return nil, err
	}
	ids := make([]int, 0, len(stages))
	for id := range stages {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var rendered []renderedStage
	for _, id := range ids {
		acc := stages[id]
		ms, win := mergedStage(id, acc, merged)
		sum.Stages = append(sum.Stages, ms)
		rendered = append(rendered, renderedStage{id: id, acc: acc, info: ms, window: win})
	}
	runWin := runWindow(run, merged, sum.Attribution)
	if err := writeMerged(out, sum, rendered, run, runWin, merged); err != nil {
		return nil, err
	}
	return sum, nil
}

// noPerRequest is the error of a launcher folder without a per-request file, saying what the
// folder holds instead: the stage summaries of GuideLLM and vLLM hold percentiles, which cannot
// be merged exactly.
func noPerRequest(dir string) error {
	r, err := ReadDir(dir)
	var what string
	switch {
	case err != nil:
		what = "it holds no result of a known format either"
	case r.Format == FormatGuideLLM:
		what = "it holds a GuideLLM report, whose per-request samples are not all the requests"
	case r.Format == FormatVLLM:
		what = "it holds a vLLM benchmark result, whose per-request arrays (--save-detailed) the merge does not read"
	case r.Format == FormatAIPerf:
		what = "it holds an AIPerf summary, whose per-request profile_export.jsonl the merge does not read"
	default:
		what = "it holds only " + r.Format + " summaries (run inference-perf or the native generator with report.request_lifecycle.per_request)"
	}
	return fmt.Errorf("%s: %w: no %s; %s", dir, ErrNoPerRequest, runstate.PerRequestFile, what)
}

func orNew(a *stageAcc) *stageAcc {
	if a == nil {
		return newStageAcc()
	}
	return a
}

func orUnknown(v string) string {
	if v == "" {
		return "unknown"
	}
	return v
}

// spanOf joins one launcher's spans (all in its own clock) into one.
func spanOf(spans []launcherSpan, launcher int) launcherSpan {
	out := launcherSpan{launcher: launcher, minStart: math.Inf(1), maxStart: math.Inf(-1), maxEnd: math.Inf(-1)}
	for _, s := range spans {
		out.count += s.count
		out.failed += s.failed
		out.minStart, out.maxStart, out.maxEnd = min(out.minStart, s.minStart), max(out.maxStart, s.maxStart), max(out.maxEnd, s.maxEnd)
	}
	return out
}

// checkOut refuses an output folder that already holds results (a merge never mixes runs).
func checkOut(out string) error {
	entries, err := os.ReadDir(out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		n := e.Name()
		if n == summaryFile || n == MergeFile || n == runstate.PerRequestFile || stageFile.MatchString(n) || brV02File.MatchString(n) {
			return fmt.Errorf("%s already holds results (%s): merge into an empty folder", out, n)
		}
	}
	return nil
}

func readLauncherFolders(dirs []string) ([]*launcherFolder, error) {
	var out []*launcherFolder
	for i, dir := range dirs {
		st, err := os.Stat(dir)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("%s is not a folder", dir)
		}
		f := &launcherFolder{dir: dir, index: i}
		f.launch, err = runstate.ReadLaunch(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if f.meta, err = runstate.ReadMetadata(dir); err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		switch {
		case f.launch != nil:
			f.index = f.launch.Index
		case f.meta != nil && f.meta.Parallelism > 1:
			f.index = f.meta.ParallelIndex
		}
		out = append(out, f)
	}
	return out, nil
}

// scanLaunchers streams the launchers' per-request files (the first pass).
func scanLaunchers(ctx context.Context, folders []*launcherFolder, hists *histRegistry) error {
	return forEachFolder(folders, func(_ int, f *launcherFolder) error {
		var err error
		f.data, err = scanLauncherFile(ctx, filepath.Join(f.dir, runstate.PerRequestFile), f.index, hists)
		return err
	})
}

// forEachFolder runs fn on every folder, as many at once as there are cores.
func forEachFolder(folders []*launcherFolder, fn func(int, *launcherFolder) error) error {
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	errs := make([]error, len(folders))
	var wg sync.WaitGroup
	for i, f := range folders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = fn(i, f)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// stageWindow is a merged stage's windows, seconds.
type stageWindow struct {
	// send is the sending window (achieved rate); bench the first start to the last end
	// (throughputs). Nil when not known or zero.
	send, bench *float64
	source      string
}

// launchStage finds a launcher's LaunchStage for a merged stage (-1: the whole run, which is the
// StageWorkload entry, or the span of every stage).
func launchStage(l *runstate.Launch, stage int) (started, sendEnded *float64, ok bool) {
	if l == nil {
		return nil, nil, false
	}
	if stage >= 0 {
		for _, st := range l.Stages {
			if st.Stage == stage {
				return st.Started, st.SendEnded, true
			}
		}
		return nil, nil, false
	}
	for _, st := range l.Stages {
		if st.Stage == runstate.StageWorkload {
			return st.Started, st.SendEnded, true
		}
	}
	if len(l.Stages) == 0 {
		return nil, nil, false
	}
	return l.Stages[0].Started, l.Stages[len(l.Stages)-1].SendEnded, true
}

// windowOf computes a merged set's windows. With every launcher's started and send_ended known
// (wall clock): send = max send_ended - min started; bench = max(started + (last end - first
// start)) - min started, each launcher's request times taken relative to its first request,
// which it sent when it started. Otherwise each launcher's own spans, the longest: send = last
// start - first start (as the native generator's send_duration), bench = last end - first start.
func windowOf(spans []launcherSpan, folders map[int]*launcherFolder, stage int) (stageWindow, *float64) {
	var starts []float64
	minStarted, maxSendEnded, maxWallEnd := math.Inf(1), math.Inf(-1), math.Inf(-1)
	known := len(spans) > 0
	for _, sp := range spans {
		started, sendEnded, _ := launchStage(folders[sp.launcher].launch, stage)
		if started == nil {
			known = false
			continue
		}
		starts = append(starts, *started)
		if sendEnded == nil {
			known = false
			continue
		}
		minStarted = min(minStarted, *started)
		maxSendEnded = max(maxSendEnded, *sendEnded)
		maxWallEnd = max(maxWallEnd, *started+(sp.maxEnd-sp.minStart))
	}
	var skew *float64
	if len(starts) == len(spans) && len(starts) > 0 {
		skew = f64(slices.Max(starts) - slices.Min(starts))
	}
	positive := func(v float64) *float64 {
		if v > 0 && !math.IsInf(v, 0) {
			return f64(v)
		}
		return nil
	}
	if known {
		return stageWindow{send: positive(maxSendEnded - minStarted), bench: positive(maxWallEnd - minStarted), source: WindowLaunchFile}, skew
	}
	send, bench := 0.0, 0.0
	for _, sp := range spans {
		send, bench = max(send, sp.maxStart-sp.minStart), max(bench, sp.maxEnd-sp.minStart)
	}
	return stageWindow{send: positive(send), bench: positive(bench), source: WindowPerRequest}, skew
}

func byIndex(folders []*launcherFolder) map[int]*launcherFolder {
	m := map[int]*launcherFolder{}
	for _, f := range folders {
		m[f.index] = f
	}
	return m
}

func mergedStage(id int, acc *stageAcc, folders []*launcherFolder) (MergedStage, stageWindow) {
	win, skew := windowOf(acc.spans, byIndex(folders), id)
	ms := MergedStage{Stage: id, Requests: acc.count, Failed: acc.failures, StartSkewSeconds: skew,
		WindowSeconds: win.send, WindowSource: win.source}
	for _, sp := range acc.spans {
		ms.PerLauncher = append(ms.PerLauncher, LauncherCount{Launcher: sp.launcher, Requests: sp.count, Failed: sp.failed})
	}
	sort.Slice(ms.PerLauncher, func(i, j int) bool { return ms.PerLauncher[i].Launcher < ms.PerLauncher[j].Launcher })
	if win.send != nil {
		ms.AchievedRate = f64(float64(acc.count) / *win.send)
	}
	return ms, win
}

// runWindow is the whole run's window: over the stage -1 LaunchStage or every stage.
func runWindow(run *stageAcc, folders []*launcherFolder, attribution string) stageWindow {
	w, _ := windowOf(run.spans, byIndex(folders), -1)
	return w
}
