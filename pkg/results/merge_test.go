package results

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// want is one expected distribution. Every number in this file's tables was computed by
// testdata/merge/gen.py (python3, run once: it wrote the launcher folders and printed the numbers
// over the union of their records, sorting in Python and interpolating like numpy's default).
type want struct {
	n                   int
	mean, p50, p90, p99 float64
}

// mergeNative: testdata/merge/native, stages 0 and 1, launchers 0-2 (launcher 3 failed).
var mergeNative = map[int]struct {
	requests, failed int
	labels           map[string]int
	skew, window     float64
	achieved         float64
	perLauncher      []LauncherCount
	dists            map[string]want
}{
	0: {
		requests: 111, failed: 11, labels: map[string]int{"0 - timeout": 5, "503 - Service Unavailable": 6},
		skew: 0.008489131927490234, window: 3.2339391708374023, achieved: 34.32346563626225,
		// gen.py: 30 + 7*launcher + 5*stage records per launcher and stage
		perLauncher: []LauncherCount{{0, 30, 0}, {1, 37, 0}, {2, 44, 0}},
		dists: map[string]want{
			"ttft":  {n: 100, mean: 0.1722637599999997, p50: 0.16744550000000102, p90: 0.28838170000000013, p99: 0.30914070000000016},
			"tpot":  {n: 88, mean: 0.019542051884920822, p50: 0.019410449999999725, p90: 0.024600166666667724, p99: 0.03113428000000417},
			"itl":   {n: 534, mean: 0.019310035580524448, p50: 0.019079499999999694, p90: 0.03155420000000007, p99: 0.034584809999998356},
			"ntpot": {n: 100, mean: 0.06873804257539681, p50: 0.04666981250000024, p90: 0.12037201666666672, p99: 0.3189902099999999},
			"e2e":   {n: 100, mean: 0.2968476199999996, p50: 0.2989894999999978, p90: 0.4315879999999994, p99: 0.5319694800000028},
		},
	},
	1: {
		requests: 126, failed: 13, labels: map[string]int{"0 - timeout": 7, "503 - Service Unavailable": 6},
		skew: 0.008440971374511719, window: 3.629629135131836, achieved: 34.71429044373246,
		perLauncher: []LauncherCount{{0, 35, 0}, {1, 42, 0}, {2, 49, 0}},
		dists: map[string]want{
			"ttft":  {n: 113, mean: 0.16451294690265492, p50: 0.1537489999999977, p90: 0.28223539999999936, p99: 0.3153852800000011},
			"tpot":  {n: 104, mean: 0.020072898080391952, p50: 0.020337600000000046, p90: 0.02543080000000136, p99: 0.032852999999998946},
			"itl":   {n: 592, mean: 0.019732570945945944, p50: 0.019740000000000535, p90: 0.03156559999999988, p99: 0.03483451999999446},
			"ntpot": {n: 113, mean: 0.06141126682820597, p50: 0.04946029999999997, p90: 0.11316249999999906, p99: 0.19535016000000033},
			"e2e":   {n: 113, mean: 0.2892078584070794, p50: 0.2979529999999997, p90: 0.4192220000000006, p99: 0.523952399999999},
		},
	},
}

// mergeIPF: testdata/merge/ipf, inference-perf records (no stage id), launchers 0 and 1.
var mergeIPF = struct {
	requests, failed int
	dists            map[string]want
}{
	requests: 83, failed: 11,
	dists: map[string]want{
		"ttft":  {n: 72, mean: 0.17678025000000572, p50: 0.1856779999999958, p90: 0.2959690000000251, p99: 0.3121471299999564},
		"tpot":  {n: 68, mean: 0.02007549770870291, p50: 0.01982933333332918, p90: 0.02648529000000508, p99: 0.030798544999976793},
		"itl":   {n: 384, mean: 0.019549778645833182, p50: 0.018980500000026268, p90: 0.03187120000003461, p99: 0.034609079999998474},
		"ntpot": {n: 72, mean: 0.06601672915464156, p50: 0.04645523214285621, p90: 0.14545559999999966, p99: 0.23270006000000612},
		"e2e":   {n: 72, mean: 0.30020943055555843, p50: 0.31260199999996985, p90: 0.46154890000001386, p99: 0.5570503099999833},
	},
}

func nativeDirs(n int) []string {
	var dirs []string
	for i := range n {
		dirs = append(dirs, filepath.Join("testdata", "merge", "native", "l"+string(rune('0'+i))))
	}
	return dirs
}

// sameMean tells whether a mean (summed in another order than Python's) is the expected one.
func sameMean(got, want float64) bool { return math.Abs(got-want) <= 1e-12*math.Max(1, math.Abs(want)) }

func readLifecycle(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// checkDist compares a merged distribution: percentiles exactly (the same order statistics and
// interpolation), the mean to 1e-12.
func checkDist(t *testing.T, where, metric string, got *Dist, w want) {
	t.Helper()
	if got == nil || got.Mean == nil || got.P50 == nil || got.P90 == nil || got.P99 == nil {
		t.Fatalf("%s %s: %+v, want every statistic", where, metric, got)
	}
	if *got.P50 != w.p50 || *got.P90 != w.p90 || *got.P99 != w.p99 {
		t.Errorf("%s %s p50/p90/p99 = %v/%v/%v, want %v/%v/%v", where, metric, *got.P50, *got.P90, *got.P99, w.p50, w.p90, w.p99)
	}
	if !sameMean(*got.Mean, w.mean) {
		t.Errorf("%s %s mean = %v, want %v", where, metric, *got.Mean, w.mean)
	}
}

func TestMergeNative(t *testing.T) {
	out := filepath.Join(t.TempDir(), "merged")
	// Launcher 3's folder says it failed: it is left out and named.
	sum, err := Merge(context.Background(), nativeDirs(4), 0, out)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Expected != 4 || len(sum.Merged) != 3 {
		t.Fatalf("expected %d, merged %+v", sum.Expected, sum.Merged)
	}
	if want := []MissingLauncher{{Index: 3, Dir: nativeDirs(4)[3], Reason: "verdict failed"}}; !reflect.DeepEqual(sum.Missing, want) {
		t.Errorf("missing = %+v, want %+v", sum.Missing, want)
	}
	if sum.Attribution != AttributionStageID || sum.PerLauncherStages {
		t.Errorf("attribution %q, per-launcher stages %v", sum.Attribution, sum.PerLauncherStages)
	}
	r, err := ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Format != FormatBR02 || len(r.Stages) != 2 {
		t.Fatalf("merged folder read as %s with %d stages", r.Format, len(r.Stages))
	}
	if r.Merge == nil || len(r.Merge.Merged) != 3 {
		t.Fatalf("the report does not carry the merge: %+v", r.Merge)
	}
	if r.Metadata == nil || r.Metadata.Verdict != runstate.VerdictIncomplete || r.Metadata.IsComplete() {
		t.Errorf("metadata %+v: a merge with a failed launcher is incomplete", r.Metadata)
	}
	for i, st := range r.Stages {
		w := mergeNative[st.Stage]
		ms := sum.Stages[i]
		if ms.Stage != st.Stage || ms.Requests != w.requests || ms.Failed != w.failed {
			t.Errorf("stage %d: merge file %+v, want %d requests, %d failed", st.Stage, ms, w.requests, w.failed)
		}
		var perLauncherFailed int
		for _, c := range ms.PerLauncher {
			perLauncherFailed += c.Failed
		}
		gotCounts := make([]LauncherCount, len(ms.PerLauncher))
		for j, c := range ms.PerLauncher {
			gotCounts[j] = LauncherCount{Launcher: c.Launcher, Requests: c.Requests}
		}
		if !reflect.DeepEqual(gotCounts, w.perLauncher) || perLauncherFailed != w.failed {
			t.Errorf("stage %d per launcher %+v, want %+v and %d failed in all", st.Stage, ms.PerLauncher, w.perLauncher, w.failed)
		}
		if ms.WindowSource != WindowLaunchFile || ms.StartSkewSeconds == nil || !sameMean(*ms.StartSkewSeconds, w.skew) ||
			ms.WindowSeconds == nil || !sameMean(*ms.WindowSeconds, w.window) {
			t.Errorf("stage %d: window %v (%s) skew %v, want %v and %v", st.Stage, ms.WindowSeconds, ms.WindowSource, ms.StartSkewSeconds, w.window, w.skew)
		}
		if st.Requests == nil || st.Requests.Succeeded+st.Requests.Failed != w.requests || st.Requests.Failed != w.failed {
			t.Errorf("stage %d requests %+v, want %d with %d failed", st.Stage, st.Requests, w.requests, w.failed)
		}
		if st.AchievedRate == nil || !sameMean(*st.AchievedRate, w.achieved) {
			t.Errorf("stage %d achieved rate %v, want %v", st.Stage, st.AchievedRate, w.achieved)
		}
		// 3 launchers asked for 2.5/s each (their stage files): the merged stage offered 7.5/s.
		if st.RequestedRate == nil || *st.RequestedRate != 7.5 {
			t.Errorf("stage %d requested rate %v, want 7.5", st.Stage, st.RequestedRate)
		}
		where := "stage " + string(rune('0'+st.Stage))
		checkDist(t, where, "ttft", st.Latency.TTFT, w.dists["ttft"])
		checkDist(t, where, "tpot", st.Latency.TPOT, w.dists["tpot"])
		checkDist(t, where, "itl", st.Latency.ITL, w.dists["itl"])
		checkDist(t, where, "ntpot", st.Latency.NTPOT, w.dists["ntpot"])
		checkDist(t, where, "e2e", st.Latency.E2E, w.dists["e2e"])
		// The stage file: failures by label summed over the launchers.
		lc := readLifecycle(t, filepath.Join(out, mergeStageFile(st.Stage)))
		for label, n := range w.labels {
			if got := at(lc, "failures", "by_label", label, "count"); got != float64(n) {
				t.Errorf("stage %d label %q: %v failures, want %d", st.Stage, label, got, n)
			}
		}
		if got := at(lc, "successes", "latency", "time_to_first_token", "median"); got != w.dists["ttft"].p50 {
			t.Errorf("stage %d file TTFT median %v, want %v", st.Stage, got, w.dists["ttft"].p50)
		}
	}
	// The summary file (read by readers that take inference-perf's files) holds both stages.
	whole := readLifecycle(t, filepath.Join(out, summaryFile))
	if got := at(whole, "load_summary", "count"); got != float64(111+126) {
		t.Errorf("summary count %v, want 237", got)
	}
	if got := at(whole, "failures", "count"); got != float64(11+13) {
		t.Errorf("summary failures %v, want 24", got)
	}
	if got := r.Merge.Describe(); !strings.Contains(got, "merged from 3 of 4 launchers (missing: 3 (verdict failed))") ||
		!strings.Contains(got, "start skew up to 8 ms") {
		t.Errorf("Describe() = %q", got)
	}
}

func TestMergeNamesAnAbsentLauncher(t *testing.T) {
	out := filepath.Join(t.TempDir(), "merged")
	sum, err := Merge(context.Background(), nativeDirs(4), 5, out)
	if err != nil {
		t.Fatal(err)
	}
	want := []MissingLauncher{{Index: 3, Dir: nativeDirs(4)[3], Reason: "verdict failed"}, {Index: 4, Reason: "no result folder"}}
	if !reflect.DeepEqual(sum.Missing, want) {
		t.Errorf("missing = %+v, want %+v", sum.Missing, want)
	}
}

func TestMergeAllSucceeded(t *testing.T) {
	out := filepath.Join(t.TempDir(), "merged")
	sum, err := Merge(context.Background(), nativeDirs(3), 3, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Missing) != 0 {
		t.Errorf("missing %+v", sum.Missing)
	}
	m, err := runstate.ReadMetadata(out)
	if err != nil || m == nil || m.Verdict != runstate.VerdictSucceeded || !m.IsComplete() {
		t.Errorf("metadata %+v (%v): every expected launcher succeeded", m, err)
	}
	// gen.py: launcher i started at 1000+i and finished at 2000+i.
	if m != nil && (m.Started != 1000 || m.Finished == nil || *m.Finished != 2002) {
		t.Errorf("started %d finished %v, want 1000 and 2002", m.Started, m.Finished)
	}
}

func TestMergeInferencePerfWholeRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "merged")
	dirs := []string{filepath.Join("testdata", "merge", "ipf", "l0"), filepath.Join("testdata", "merge", "ipf", "l1")}
	sum, err := Merge(context.Background(), dirs, 0, out)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Attribution != AttributionNone || !sum.PerLauncherStages || len(sum.Stages) != 1 || sum.Stages[0].Stage != -1 {
		t.Fatalf("summary %+v: records without stage ids merge the whole run only", sum)
	}
	st := sum.Stages[0]
	if st.Requests != mergeIPF.requests || st.Failed != mergeIPF.failed || st.StartSkewSeconds != nil || st.WindowSource != WindowPerRequest {
		t.Errorf("stage %+v", st)
	}
	if _, err := os.Stat(filepath.Join(out, mergeStageFile(0))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a stage file was written for records without stages (%v)", err)
	}
	r, err := ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Summary == nil {
		t.Fatal("no summary")
	}
	for name, d := range map[string]*Dist{"ttft": r.Summary.Latency.TTFT, "tpot": r.Summary.Latency.TPOT, "itl": r.Summary.Latency.ITL,
		"ntpot": r.Summary.Latency.NTPOT, "e2e": r.Summary.Latency.E2E} {
		checkDist(t, "run", name, d, mergeIPF.dists[name])
	}
	lc := readLifecycle(t, filepath.Join(out, summaryFile))
	if got := at(lc, "failures", "by_label", "ClientResponseError", "count"); got != float64(mergeIPF.failed) {
		t.Errorf("failures by label %v, want %d", got, mergeIPF.failed)
	}
	if !strings.Contains(r.Merge.Describe(), "whole run only") || !strings.Contains(r.Merge.Describe(), "start skew unknown") {
		t.Errorf("Describe() = %q", r.Merge.Describe())
	}
}

func TestMergeRefuses(t *testing.T) {
	tmp := t.TempDir()
	noPR := filepath.Join(tmp, "no-per-request")
	if err := os.MkdirAll(noPR, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(noPR, summaryFile), []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(tmp, "empty")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(empty, runstate.PerRequestFile), []byte("[]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(tmp, "full")
	if _, err := Merge(context.Background(), nativeDirs(1), 4, full); err != nil {
		t.Fatal(err)
	}
	l0 := nativeDirs(1)[0]
	for _, c := range []struct {
		name     string
		dirs     []string
		expected int
		out      string
		is       error
		contains string
	}{
		{"no per-request file", []string{l0, noPR}, 4, filepath.Join(tmp, "o1"), ErrNoPerRequest, "no-per-request: no per-request data to merge: no per_request_lifecycle_metrics.json; it holds no result of a known format either"},
		{"GuideLLM folder", []string{l0, filepath.Join("testdata", "cases", "01-guidellm-v07-config-schema")}, 4, filepath.Join(tmp, "o7"), ErrNoPerRequest, "it holds a GuideLLM report, whose per-request samples are not all the requests"},
		{"vLLM folder", []string{l0, filepath.Join("testdata", "cases", "04-vllm-append-result-jsonl")}, 4, filepath.Join(tmp, "o8"), ErrNoPerRequest, "it holds a vLLM benchmark result"},
		{"inference-perf folder without per-request file", []string{l0, filepath.Join("testdata", "inference-perf", "vllm")}, 4, filepath.Join(tmp, "o9"), ErrNoPerRequest, "it holds only inference-perf summaries"},
		{"empty per-request file", []string{l0, empty}, 4, filepath.Join(tmp, "o2"), ErrNoRequests, "an empty array"},
		{"more folders than expected", nativeDirs(3), 2, filepath.Join(tmp, "o3"), nil, "3 launcher folders but 2 launchers expected"},
		{"one launcher twice", []string{l0, l0}, 4, filepath.Join(tmp, "o4"), nil, "are both launcher 0"},
		{"output holds results", nativeDirs(1), 4, full, nil, "already holds results"},
		{"no folder", nil, 0, filepath.Join(tmp, "o5"), nil, "no launcher folder"},
		{"stage ids in some launchers only", []string{l0, filepath.Join("testdata", "merge", "ipf", "l1")}, 4, filepath.Join(tmp, "o6"), nil, "carry stage ids"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Merge(context.Background(), c.dirs, c.expected, c.out)
			if err == nil || !strings.Contains(err.Error(), c.contains) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line containing %q", err, c.contains)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("err = %v, want %v", err, c.is)
			}
			if c.out != full {
				if _, serr := os.Stat(c.out); !errors.Is(serr, os.ErrNotExist) {
					t.Errorf("a refused merge wrote %s", c.out)
				}
			}
		})
	}
}

// TestMergeKeepsOnlyValues: the accumulators hold float64 series and counters, never a record
// (the record type is reused, one per file): memory is 8 bytes per request and metric, and no
// ITL value at all (a histogram, then a second pass: merge_itl.go).
func TestMergeKeepsOnlyValues(t *testing.T) {
	typ := reflect.TypeOf(stageAcc{})
	for i := range typ.NumField() {
		f := typ.Field(i)
		switch f.Type.Kind() {
		case reflect.Int, reflect.Float64, reflect.Bool, reflect.Map, reflect.Slice:
		case reflect.Pointer: // the stage's shared ITL histogram and the ITL distribution
			if f.Type != reflect.TypeOf(&keyHist{}) && f.Type != reflect.TypeOf(&fullStats{}) {
				t.Errorf("stageAcc.%s is a %s", f.Name, f.Type)
			}
		case reflect.Struct:
			if f.Type != reflect.TypeOf(series{}) {
				t.Errorf("stageAcc.%s is a %s", f.Name, f.Type)
			}
		default:
			t.Errorf("stageAcc.%s is a %s", f.Name, f.Type)
		}
		if f.Type.Kind() == reflect.Slice && f.Type.Elem() != reflect.TypeOf("") && f.Type.Elem() != reflect.TypeOf(launcherSpan{}) {
			t.Errorf("stageAcc.%s is a %s", f.Name, f.Type)
		}
	}
	d, err := scanLauncherFile(context.Background(), filepath.Join(nativeDirs(1)[0], runstate.PerRequestFile), 0, &histRegistry{})
	if err != nil {
		t.Fatal(err)
	}
	// gen.py: launcher 0 has 30 requests in stage 0 and 35 in stage 1.
	if d.records != 65 || d.stages[0].count != 30 || d.stages[1].count != 35 {
		t.Errorf("records %d, stage counts %d and %d", d.records, d.stages[0].count, d.stages[1].count)
	}
}

// TestRankPlan: the ranks found from the histogram and the gathered buckets are the sorted
// values' (values and expected statistics by hand).
func TestRankPlan(t *testing.T) {
	vals := []float64{0.5, 0.25, 3, 0.125, 1, 2, 0.75, 1.5, 0.0625, 4}
	h := newKeyHist()
	sum := 0.0
	for _, v := range vals {
		h.add(v)
		sum += v
	}
	p := planRanks(h.counts, len(vals), sum)
	var g gathered
	for _, v := range vals {
		g.add(p, v)
	}
	st, err := p.stats(&g)
	if err != nil {
		t.Fatal(err)
	}
	// sorted: 0.0625 0.125 0.25 0.5 0.75 1 1.5 2 3 4; p50 at rank 4.5 = (0.75+1)/2;
	// p90 at rank 8.1 = 3 + 0.1*(4-3); mean 13.1875/10.
	if st.min != 0.0625 || st.max != 4 || st.pct[5] != 0.875 || math.Abs(st.pct[7]-3.1) > 1e-15 || st.mean != 1.31875 {
		t.Errorf("min %v max %v p50 %v p90 %v mean %v", st.min, st.max, st.pct[5], st.pct[7], st.mean)
	}
	// A second pass that finds fewer values than the first counted says so.
	var short gathered
	for _, v := range vals[:5] {
		short.add(p, v)
	}
	if _, err := p.stats(&short); !errors.Is(err, errChanged) {
		t.Errorf("err = %v, want errChanged", err)
	}
}

// TestMergeWorkloadBarrier: launchers of a harness the plugin does not drive stage by stage meet
// at one barrier per workload (LaunchStage.Stage = StageWorkload); the whole run's window and
// skew come from their LaunchFile.
func TestMergeWorkloadBarrier(t *testing.T) {
	tmp := t.TempDir()
	var dirs []string
	for i, times := range [][2]float64{{1000, 1004}, {1000.25, 1004.5}} {
		dir := filepath.Join(tmp, "l"+string(rune('0'+i)))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join("testdata", "merge", "ipf", "l"+string(rune('0'+i)), runstate.PerRequestFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, runstate.PerRequestFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		started, ended := times[0], times[1]
		l := runstate.Launch{Index: i, Count: 2, Mode: runstate.ModeSplit, Stages: []runstate.LaunchStage{
			{Stage: runstate.StageWorkload, Started: &started, SendEnded: &ended, Present: []int{0, 1}}}}
		if err := runstate.WriteLaunch(dir, l); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	sum, err := Merge(context.Background(), dirs, 0, filepath.Join(tmp, "merged"))
	if err != nil {
		t.Fatal(err)
	}
	st := sum.Stages[0]
	// skew 1000.25 - 1000 = 0.25 s; window 1004.5 - 1000 = 4.5 s; 83 requests / 4.5 s
	// (python3: 83/4.5 = 18.444444444444443).
	if !sum.PerLauncherStages || sum.Expected != 2 || st.WindowSource != WindowLaunchFile ||
		st.StartSkewSeconds == nil || *st.StartSkewSeconds != 0.25 || st.WindowSeconds == nil || *st.WindowSeconds != 4.5 ||
		st.AchievedRate == nil || *st.AchievedRate != 18.444444444444443 {
		t.Errorf("summary %+v, stage %+v", sum, st)
	}
	if got := sum.Describe(); !strings.Contains(got, "merged from 2 of 2 launchers, start skew up to 250 ms") ||
		!strings.Contains(got, "stage boundaries are each launcher's own") {
		t.Errorf("Describe() = %q", got)
	}
}

func TestMergeCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(t.TempDir(), "merged")
	if _, err := Merge(ctx, nativeDirs(3), 3, out); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a cancelled merge wrote %s", out)
	}
}

// testdata/merge/loadgen: two real runs of the native generator (`kubectl llmdbench loadgen
// --per-request`, profile.yaml, against server.py: 3 to 8 chunks, 8 % of requests refused with
// 503), as two launchers of one workload.
func loadgenDirs() []string {
	return []string{filepath.Join("testdata", "merge", "loadgen", "l0"), filepath.Join("testdata", "merge", "loadgen", "l1")}
}

// sameJSON compares two decoded JSON documents: numbers within 1e-12 relative, the rest equal.
func sameJSON(t *testing.T, where string, got, want any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: %v, want %v", where, got, want)
			return
		}
		for k := range w {
			sameJSON(t, where+"."+k, g[k], w[k])
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: %v, want %v", where, got, want)
			return
		}
		for i := range w {
			sameJSON(t, where, g[i], w[i])
		}
	case float64:
		if g, ok := got.(float64); !ok || !sameMean(g, w) {
			t.Errorf("%s: %v, want %v", where, got, want)
		}
	default:
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, want %v", where, got, want)
		}
	}
}

// TestMergeOneLauncherIsTheGenerator: merging one launcher's folder rewrites the native
// generator's own stage and summary files (pkg/loadgen computed those, from the records in
// memory): the same numbers, to 1e-12 (means are summed in another order).
func TestMergeOneLauncherIsTheGenerator(t *testing.T) {
	out := filepath.Join(t.TempDir(), "merged")
	if _, err := Merge(context.Background(), loadgenDirs()[:1], 1, out); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{mergeStageFile(0), mergeStageFile(1), summaryFile} {
		got, want := readLifecycle(t, filepath.Join(out, name)), readLifecycle(t, filepath.Join(loadgenDirs()[0], name))
		sameJSON(t, name, got, want)
	}
}

// TestMergeLoadgenLaunchers: the two runs merged; the numbers are python3
// hack/bench/merge_reference.py over the two per-request files (run once).
func TestMergeLoadgenLaunchers(t *testing.T) {
	out := filepath.Join(t.TempDir(), "merged")
	if _, err := Merge(context.Background(), loadgenDirs(), 2, out); err != nil {
		t.Fatal(err)
	}
	type pcts struct{ p50, p90, p99 float64 }
	for stage, w := range map[int]struct {
		requests, failed int
		labels           map[string]int
		dists            map[string]pcts
	}{
		0: {32, 9, map[string]int{"0 - connection_error": 4, "503 - ServiceUnavailable": 5}, map[string]pcts{
			"time_to_first_token":              {p50: 0.03247961900000007, p90: 0.054106927199999884, p99: 0.05902134798000001},
			"time_per_output_token":            {p50: 0.007312535799999997, p90: 0.00945470461000003, p99: 0.010639325199999964},
			"inter_token_latency":              {p50: 0.0073900929999999865, p90: 0.011402472799999997, p99: 0.012170623399999992},
			"normalized_time_per_output_token": {p50: 0.013799266166666676, p90: 0.019472342666666673, p99: 0.02253403378},
			"request_latency":                  {p50: 0.0719318969999998, p90: 0.09048392719999998, p99: 0.11560687590000002},
		}},
		1: {64, 5, map[string]int{"503 - ServiceUnavailable": 5}, map[string]pcts{
			"time_to_first_token":              {p50: 0.04376926499999989, p90: 0.05525887360000033, p99: 0.08103085902000033},
			"time_per_output_token":            {p50: 0.007051863142857139, p90: 0.008882104233333415, p99: 0.01189529314685718},
			"inter_token_latency":              {p50: 0.006967481500000039, p90: 0.011036374999999586, p99: 0.012871523949999863},
			"normalized_time_per_output_token": {p50: 0.015844537666666565, p90: 0.02052924904000003, p99: 0.028384282432500053},
			"request_latency":                  {p50: 0.07997967700000075, p90: 0.10600445060000041, p99: 0.1605449387600003},
		}},
	} {
		lc := readLifecycle(t, filepath.Join(out, mergeStageFile(stage)))
		if at(lc, "load_summary", "count") != float64(w.requests) || at(lc, "failures", "count") != float64(w.failed) {
			t.Errorf("stage %d: %v requests, %v failed; want %d, %d", stage, at(lc, "load_summary", "count"), at(lc, "failures", "count"), w.requests, w.failed)
		}
		for label, n := range w.labels {
			if got := at(lc, "failures", "by_label", label, "count"); got != float64(n) {
				t.Errorf("stage %d label %q: %v, want %d", stage, label, got, n)
			}
		}
		for metric, p := range w.dists {
			got := [3]any{at(lc, "successes", "latency", metric, "median"), at(lc, "successes", "latency", metric, "p90"), at(lc, "successes", "latency", metric, "p99")}
			if got != [3]any{p.p50, p.p90, p.p99} {
				t.Errorf("stage %d %s: %v, want %v", stage, metric, got, p)
			}
		}
	}
}

// TestDecodedLen: the decoded length of a JSON string, streamed through a buffer of 3 bytes (so
// that escapes straddle refills), is what encoding/json decodes it to.
func TestDecodedLen(t *testing.T) {
	for _, lit := range []string{
		`""`, `"plain prompt"`, `"a \"quoted\" \\ word\n"`, `"\u003cb\u003e \u00e9\u20ac"`,
		`"\ud83d\ude00 pair"`, `"\ud83d lone"`, `"\ude00\ud83d"`, `"end\\"`, `"x\/y\t"`,
	} {
		var want string
		if err := json.Unmarshal([]byte(lit), &want); err != nil {
			t.Fatalf("%s: %v", lit, err)
		}
		s := &scanner{r: strings.NewReader(lit + ` 7]`), buf: make([]byte, 3)}
		n, ok, err := decodedLen(s)
		if err != nil || !ok || n != len(want) {
			t.Errorf("%s: %d %v %v, want %d", lit, n, ok, err, len(want))
		}
		if v, _, err := s.number(); err != nil || v != 7 {
			t.Errorf("%s: the scanner is not after the string: %v %v", lit, v, err)
		}
	}
	s := &scanner{r: strings.NewReader(`"cut \u00`), buf: make([]byte, 3)}
	if _, _, err := decodedLen(s); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("a cut string: %v", err)
	}
}

// TestMergeLeavesOutTheProbe: records of a negative stage (a sweep's saturation probe) are in no
// stage and no summary; the merge file counts them.
func TestMergeLeavesOutTheProbe(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "l0")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rec := func(stage int, start float64) string {
		return fmt.Sprintf(`{"start_time":%g,"end_time":%g,"request":"{}","info":{"input_tokens":5,"response_metrics":{"output_tokens":2,"output_token_times":[%g,%g]},"extra_info":{"stage_id":%d}},"error":null}`,
			start, start+1, start+0.25, start+0.5, stage)
	}
	data := "[" + strings.Join([]string{rec(-1, 1), rec(0, 10), rec(0, 12)}, ",") + "]"
	if err := os.WriteFile(filepath.Join(dir, runstate.PerRequestFile), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "merged")
	sum, err := Merge(context.Background(), []string{dir}, 1, out)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Excluded != 1 || len(sum.Stages) != 1 || sum.Stages[0].Stage != 0 || sum.Stages[0].Requests != 2 {
		t.Errorf("summary %+v", sum)
	}
	// Stage 0: starts 10 and 12, so a 2 s sending window: 2 requests / 2 s.
	if st := sum.Stages[0]; st.AchievedRate == nil || *st.AchievedRate != 1 {
		t.Errorf("achieved rate %v, want 1", st.AchievedRate)
	}
	if got := at(readLifecycle(t, filepath.Join(out, summaryFile)), "load_summary", "count"); got != float64(2) {
		t.Errorf("summary count %v, want 2", got)
	}
}
