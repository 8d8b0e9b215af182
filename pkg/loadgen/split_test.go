package loadgen

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
	"sync"
	"testing"
	"time"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

func splitWorkload(typ string, stages ...Stage) *Workload {
	return &Workload{
		Load:   Load{Type: typ, Stages: stages},
		API:    API{Type: APICompletion},
		Server: Server{ModelName: "m", BaseURL: "http://127.0.0.1:1"},
		Data: Data{Type: DataRandom,
			InputDistribution:  &Distribution{Min: 5, Max: 5, Mean: 5, TotalCount: 10},
			OutputDistribution: &Distribution{Min: 2, Max: 2, Mean: 2, TotalCount: 10}},
	}
}

// Expected values are by hand: a rate stage has round(rate × duration) requests, dealt
// m ≡ i (mod N); integers split with the remainder to the lowest indexes.
func TestSplitSharesEachStage(t *testing.T) {
	cases := []struct {
		name  string
		w     *Workload
		count int
		want  [][]Stage // per launcher, per stage
	}{
		{"rate 30 over 3 is 10 each", splitWorkload(LoadConstant, Stage{Rate: 30, Duration: 20}), 3, [][]Stage{
			{{Rate: 10, Duration: 20, requests: 200, phase: 0}},
			{{Rate: 10, Duration: 20, requests: 200, phase: 1.0 / 30}},
			{{Rate: 10, Duration: 20, requests: 200, phase: 2.0 / 30}},
		}},
		{"20 requests over 3 are 7, 7, 6", splitWorkload(LoadConstant, Stage{Rate: 10, Duration: 2}), 3, [][]Stage{
			{{Rate: 10.0 / 3, Duration: 2, requests: 7, phase: 0}},
			{{Rate: 10.0 / 3, Duration: 2, requests: 7, phase: 0.1}},
			{{Rate: 10.0 / 3, Duration: 2, requests: 6, phase: 0.2}},
		}},
		{"poisson has no phase", splitWorkload(LoadPoisson, Stage{Rate: 8, Duration: 1}), 2, [][]Stage{
			{{Rate: 4, Duration: 1, requests: 4}},
			{{Rate: 4, Duration: 1, requests: 4}},
		}},
		{"concurrency 10 over 3 is 4, 3, 3", splitWorkload(LoadConcurrent, Stage{ConcurrencyLevel: 10, NumRequests: 100}, Stage{ConcurrencyLevel: 3, NumRequests: 5}), 3, [][]Stage{
			{{ConcurrencyLevel: 4, NumRequests: 34}, {ConcurrencyLevel: 1, NumRequests: 2}},
			{{ConcurrencyLevel: 3, NumRequests: 33}, {ConcurrencyLevel: 1, NumRequests: 2}},
			{{ConcurrencyLevel: 3, NumRequests: 33}, {ConcurrencyLevel: 1, NumRequests: 1}},
		}},
	}
	for _, c := range cases {
		before := append([]Stage(nil), c.w.Load.Stages...)
		for i, want := range c.want {
			got, err := c.w.Split(i, c.count)
			if err != nil {
				t.Fatalf("%s, launcher %d: %v", c.name, i, err)
			}
			for s := range want {
				g, w := got.Load.Stages[s], want[s]
				if math.Abs(g.Rate-w.Rate) > 1e-12 || math.Abs(g.phase-w.phase) > 1e-12 || g.Duration != w.Duration || g.requests != w.requests ||
					g.ConcurrencyLevel != w.ConcurrencyLevel || g.NumRequests != w.NumRequests {
					t.Errorf("%s, launcher %d, stage %d: got %+v, want %+v", c.name, i, s, g, w)
				}
			}
			if got.share == nil || *got.share != (share{i, c.count}) {
				t.Errorf("%s: share %+v", c.name, got.share)
			}
		}
		if !reflect.DeepEqual(c.w.Load.Stages, before) || c.w.share != nil {
			t.Errorf("%s: Split changed its workload", c.name)
		}
	}
}

func TestSplitOfOneIsTheWorkload(t *testing.T) {
	w := splitWorkload(LoadConstant, Stage{Rate: 1, Duration: 1})
	got, err := w.Split(0, 1)
	if err != nil || got == w || !reflect.DeepEqual(got, w) {
		t.Fatalf("%+v %v", got, err)
	}
}

func TestSplitRefusesToLeaveALauncherNothing(t *testing.T) {
	sp := splitWorkload(LoadConstant, Stage{Rate: 10, Duration: 10})
	sp.Data = Data{Type: DataSharedPrefix, SharedPrefix: &SharedPrefix{NumGroups: 2, NumPromptsPerGroup: 5, QuestionLen: 3, OutputLen: 2}}
	few := splitWorkload(LoadConstant, Stage{Rate: 10, Duration: 10})
	few.Data.InputDistribution.TotalCount, few.Data.OutputDistribution.TotalCount = 2, 0
	sweep := splitWorkload(LoadConstant)
	sweep.Load.Sweep = &Sweep{Type: SweepLinear, NumRequests: 10, Timeout: 5, NumStages: 2, StageDuration: 1}
	cases := []struct {
		name string
		w    *Workload
		want string
	}{
		{"concurrency 2 over 3", splitWorkload(LoadConcurrent, Stage{ConcurrencyLevel: 2, NumRequests: 10}),
			"load.stages[0].concurrency_level: 2 concurrency cannot be split among 3 launchers (launcher 2 would get none): use at most 2 launchers, or have each launcher replicate the whole load"},
		{"num_requests 1 over 3", splitWorkload(LoadConcurrent, Stage{ConcurrencyLevel: 6, NumRequests: 6}, Stage{ConcurrencyLevel: 3, NumRequests: 1}),
			"load.stages[1].num_requests: 1 requests cannot be split among 3 launchers (launchers 1 to 2 would get none): use at most 1 launchers, or have each launcher replicate the whole load"},
		{"2 requests over 3", splitWorkload(LoadPoisson, Stage{Rate: 10, Duration: 10}, Stage{Rate: 1, Duration: 2}),
			"load.stages[1]: 2 requests (1 req/s for 2s) cannot be split among 3 launchers (launcher 2 would get none): use at most 2 launchers, or have each launcher replicate the whole load"},
		{"2 groups over 3", sp,
			"data.shared_prefix.num_groups: 2 groups cannot be split among 3 launchers (launcher 2 would get none): use at most 2 launchers, or have each launcher replicate the whole load"},
		{"2 prompts over 3", few,
			"data.input_distribution.total_count: 2 prompts cannot be split among 3 launchers (launcher 2 would get none): use at most 2 launchers, or have each launcher replicate the whole load"},
	}
	for _, c := range cases {
		for i := range 3 { // every launcher refuses, not only the ones left out
			_, err := c.w.Split(i, 3)
			var se *SplitError
			if !errors.As(err, &se) || !errors.Is(err, ErrSplit) || err.Error() != c.want {
				t.Fatalf("%s, launcher %d:\n got %v\nwant %s", c.name, i, err, c.want)
			}
		}
	}
	if _, err := sweep.Split(0, 2); !errors.Is(err, ErrSplit) || !strings.Contains(err.Error(), "load.sweep cannot be split") {
		t.Fatalf("sweep: %v", err)
	}
	for _, bad := range [][2]int{{3, 3}, {-1, 3}, {0, 0}} {
		if _, err := sp.Split(bad[0], bad[1]); !errors.Is(err, ErrSplit) {
			t.Fatalf("launcher %d of %d: %v", bad[0], bad[1], err)
		}
	}
}

// The union of the shares' constant schedules is the profile's: rate 4 for 2.5 s is requests
// m/4 s, m = 0..9; over 3 launchers m ≡ i (mod 3).
func TestSplitConstantSchedulesInterleave(t *testing.T) {
	w := splitWorkload(LoadConstant, Stage{Rate: 4, Duration: 2.5})
	want := [][]float64{{0, 0.75, 1.5, 2.25}, {0.25, 1, 1.75}, {0.5, 1.25, 2}}
	for i := range 3 {
		s, err := w.Split(i, 3)
		if err != nil {
			t.Fatal(err)
		}
		g := &generator{w: s}
		got := g.schedule(s.Load.Stages[0])
		if len(got) != len(want[i]) {
			t.Fatalf("launcher %d: %v, want %v", i, got, want[i])
		}
		for k := range got {
			if math.Abs(got[k]-want[i][k]) > 1e-12 {
				t.Fatalf("launcher %d: %v, want %v", i, got, want[i])
			}
		}
	}
}

func promptTexts(src *promptSource) []string {
	var out []string
	for _, p := range src.prompts {
		var b requestBody
		_ = json.Unmarshal(p.body, &b)
		out = append(out, b.Prompt)
	}
	return out
}

// Random data: launcher i keeps prompts m ≡ i (mod N) of the profile's set (10 over 3: 4, 3, 3);
// shared prefix: groups g ≡ i (mod N), whole (4 groups of 2 over 3: 2, 1, 1 groups).
func TestSplitPartitionsTheDataSet(t *testing.T) {
	w := splitWorkload(LoadConstant, Stage{Rate: 30, Duration: 1})
	whole := promptTexts(newPromptSource(w, 7))
	seen := map[string]int{}
	for i, n := range []int{4, 3, 3} {
		s, _ := w.Split(i, 3)
		got := promptTexts(newPromptSource(s, 7))
		if len(got) != n {
			t.Fatalf("launcher %d has %d prompts, want %d", i, len(got), n)
		}
		for k, p := range got {
			if p != whole[i+3*k] {
				t.Fatalf("launcher %d prompt %d is not the profile's prompt %d", i, k, i+3*k)
			}
			seen[p]++
		}
	}
	if len(seen) != len(whole) {
		t.Fatalf("the shares hold %d distinct prompts, the profile %d", len(seen), len(whole))
	}

	w.Data = Data{Type: DataSharedPrefix, SharedPrefix: &SharedPrefix{NumGroups: 4, NumPromptsPerGroup: 2, SystemPromptLen: 6, QuestionLen: 3, OutputLen: 2}}
	owner := map[string]int{} // system prompt (the first 6 words) → launcher
	for i, n := range []int{4, 2, 2} {
		s, _ := w.Split(i, 3)
		got := promptTexts(newPromptSource(s, 7))
		if len(got) != n {
			t.Fatalf("shared prefix: launcher %d has %d prompts, want %d", i, len(got), n)
		}
		for _, p := range got {
			prefix := strings.Join(strings.Fields(p)[:6], " ")
			if o, ok := owner[prefix]; ok && o != i {
				t.Fatalf("a shared prefix is sent by launchers %d and %d", o, i)
			}
			owner[prefix] = i
		}
	}
	if len(owner) != 4 {
		t.Fatalf("%d groups among the launchers, want 4", len(owner))
	}
}

func TestCheckSplit(t *testing.T) {
	prof := func(c int) []byte {
		return []byte(fmt.Sprintf("load:\n  type: concurrent\n  stages: [{num_requests: 30, concurrency_level: %d}]\nserver: {model_name: m, base_url: http://x}\ndata:\n  type: shared_prefix\n  shared_prefix: {num_groups: 8, num_prompts_per_group: 2, system_prompt_len: 4, question_len: 4, output_len: 4}\n", c))
	}
	if err := CheckSplit(prof(3), 3, runstate.ModeSplit); err != nil {
		t.Fatal(err)
	}
	err := CheckSplit(prof(2), 3, runstate.ModeSplit)
	if !errors.Is(err, ErrSplit) || !strings.HasPrefix(err.Error(), "load.stages[0].concurrency_level: 2 concurrency cannot be split among 3 launchers") {
		t.Fatalf("got %v", err)
	}
	if err := CheckSplit(prof(2), 3, runstate.ModeReplicate); err != nil {
		t.Fatalf("replicate: %v", err)
	}
	if err := CheckSplit(prof(2), 1, runstate.ModeSplit); err != nil {
		t.Fatalf("one launcher: %v", err)
	}
	if err := CheckSplit(prof(2), 3, "share"); !errors.Is(err, ErrSplit) {
		t.Fatalf("bad mode: %v", err)
	}
	if err := CheckSplit(prof(2), 0, runstate.ModeSplit); !errors.Is(err, ErrSplit) {
		t.Fatalf("0 launchers: %v", err)
	}
	if err := CheckSplit([]byte("load: {typo: 1}"), 2, runstate.ModeSplit); err == nil {
		t.Fatal("an unknown key passed")
	}
}

const splitProfile = `
load:
  type: constant
  interval: 0.05
  stages:
  - {rate: 30, duration: 1}
  - {rate: 60, duration: 0.5}
api: {type: completion, streaming: true}
server: {type: vllm, model_name: m, base_url: %s, ignore_eos: true}
data:
  type: random
  input_distribution: {min: 10, max: 30, mean: 20, std: 5, total_count: 30}
  output_distribution: {min: 2, max: 2, mean: 2, std: 0, total_count: 30}
`

// Three in-process launchers split the profile (30 + 30 requests), meeting at a barrier in a
// temporary folder before each stage: the server gets the profile's requests, each launcher its
// share, every launcher the same agreed start, and each starts within a few ms of it.
func TestThreeLaunchersSplitOneBenchmark(t *testing.T) {
	srv, served := sseServer(t, 2*time.Millisecond, time.Millisecond, 0)
	root := t.TempDir()
	out := make([]*Result, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			w, err := ParseWorkload([]byte(fmt.Sprintf(splitProfile, srv.URL)))
			if err != nil {
				errs[i] = err
				return
			}
			series := &runstate.BarrierSeries{Root: filepath.Join(root, "barrier"), Index: i, Count: 3, NoSleep: i != 1, Timeout: 10 * time.Second, Lead: 150 * time.Millisecond}
			out[i], errs[i] = Run(context.Background(), w, Options{Launcher: &Launcher{Index: i, Count: 3, Mode: runstate.ModeSplit, Barrier: series.Wait}})
		})
	}
	wg.Wait()
	for i := range 3 {
		if errs[i] != nil {
			t.Fatalf("launcher %d: %v", i, errs[i])
		}
	}
	if served.Load() != 60 {
		t.Fatalf("the server got %d requests, want the profile's 60", served.Load())
	}
	for i, r := range out {
		// 30 requests over 3: 10 each in both stages.
		if len(r.Stages) != 2 || len(r.Stages[0].Records) != 10 || len(r.Stages[1].Records) != 10 {
			t.Fatalf("launcher %d sent %d stages", i, len(r.Stages))
		}
		dir := filepath.Join(root, fmt.Sprint(i))
		if _, err := Write(dir, r, Meta{}); err != nil {
			t.Fatal(err)
		}
		l, err := runstate.ReadLaunch(dir)
		if err != nil {
			t.Fatal(err)
		}
		if l.Index != i || l.Count != 3 || l.Mode != runstate.ModeSplit || len(l.Stages) != 2 {
			t.Fatalf("launcher %d's launch file: %+v", i, l)
		}
		for s, ls := range l.Stages {
			agreed := *out[0].Launch.Stages[s].AgreedStart
			if ls.Stage != s || *ls.AgreedStart != agreed || !reflect.DeepEqual(ls.Present, []int{0, 1, 2}) || ls.Missing == nil || len(ls.Missing) != 0 || ls.TimedOut {
				t.Fatalf("launcher %d stage %d: %+v", i, s, ls)
			}
			lateness := *ls.Started - agreed
			t.Logf("launcher %d stage %d: started %.3f ms after the agreed start, sent for %.3f s", i, s, 1e3*lateness, *ls.SendEnded-*ls.Started)
			// A few ms on an idle machine (launcher 1 sleeps to the instant in the barrier, the others
			// in the dispatcher); the bound leaves room for a 2-core machine shared with other builds.
			if lateness < 0 || lateness > 0.050 {
				t.Errorf("launcher %d stage %d started %.3f ms after the agreed start", i, s, 1e3*lateness)
			}
		}
	}
	// Each launcher's config.yaml is its share: rate 10 for the first stage.
	cfg, err := os.ReadFile(filepath.Join(root, "1", ConfigFile))
	if err != nil || !strings.Contains(string(cfg), "rate: 10") {
		t.Fatalf("launcher 1's config.yaml:\n%s %v", cfg, err)
	}
}

// Replicate: each launcher sends the whole profile, with its own prompts (seed + index).
func TestReplicateSendsTheWholeProfile(t *testing.T) {
	srv, served := sseServer(t, time.Millisecond, time.Millisecond, 0)
	w, err := ParseWorkload([]byte(fmt.Sprintf(splitProfile, srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	w.Load.Stages = w.Load.Stages[:1]
	r, err := Run(context.Background(), w, Options{Launcher: &Launcher{Index: 2, Count: 3, Mode: runstate.ModeReplicate}})
	if err != nil {
		t.Fatal(err)
	}
	if served.Load() != 30 || len(r.Stages[0].Records) != 30 || r.Launch == nil || r.Launch.Stages[0].AgreedStart != nil || r.Launch.Stages[0].Started == nil {
		t.Fatalf("served %d; %+v", served.Load(), r.Launch)
	}
	if a, b := promptTexts(newPromptSource(w, 2)), promptTexts(newPromptSource(w, 0)); reflect.DeepEqual(a, b) {
		t.Fatal("seeds 2 and 0 give the same prompts")
	}
	if _, err := Run(context.Background(), w, Options{Launcher: &Launcher{Index: 0, Count: 3, Mode: "both"}}); err == nil {
		t.Fatal("mode both was accepted")
	}
}

// A barrier that fails ends the run before the stage, with the error.
func TestBarrierErrorEndsTheRun(t *testing.T) {
	srv, served := sseServer(t, time.Millisecond, time.Millisecond, 0)
	w, err := ParseWorkload([]byte(fmt.Sprintf(splitProfile, srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	r, err := Run(context.Background(), w, Options{Launcher: &Launcher{Index: 0, Count: 2, Mode: runstate.ModeSplit,
		Barrier: func(context.Context, int) (runstate.BarrierResult, error) { return runstate.BarrierResult{}, boom }}})
	if !errors.Is(err, boom) || served.Load() != 0 || r == nil || len(r.Stages) != 0 {
		t.Fatalf("%v, %d served", err, served.Load())
	}
}

// A launcher that reaches a barrier after its instant has passed starts now, at the stage's
// pace: it does not send the requests it missed in a burst. Its lateness is recorded.
func TestLateLauncherStartsNowWithoutABurst(t *testing.T) {
	srv, _ := sseServer(t, time.Millisecond, time.Millisecond, 0)
	w, err := ParseWorkload([]byte(fmt.Sprintf(splitProfile, srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	w.Load.Stages = []Stage{{Rate: 20, Duration: 0.5}} // 10 requests, 50 ms apart
	agreed := time.Now().Add(-3 * time.Second)
	r, err := Run(context.Background(), w, Options{Launcher: &Launcher{Index: 0, Count: 1, Mode: runstate.ModeSplit,
		Barrier: func(context.Context, int) (runstate.BarrierResult, error) {
			return runstate.BarrierResult{Start: agreed, Late: true, Present: []int{0}}, nil
		}}})
	if err != nil {
		t.Fatal(err)
	}
	st := r.Stages[0]
	// The 10th request is due 9 × 50 ms = 450 ms after the first.
	if sent := st.SendEnded.Sub(st.ScheduleStarted); len(st.Records) != 10 || sent < 440*time.Millisecond {
		t.Fatalf("%d requests sent over %v: a burst", len(st.Records), sent)
	}
	ls := r.Launch.Stages[0]
	if late := *ls.Started - *ls.AgreedStart; late < 3 || late > 4 {
		t.Fatalf("lateness %.3f s, want about 3", late)
	}
}
