package runstate

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitAll runs one Barrier per index in its own goroutine (as launchers) and returns their
// results and the wall-clock instant each Wait returned.
func waitAll(t *testing.T, dir string, indexes, expected []int, timeout time.Duration, delay func(int) time.Duration) ([]BarrierResult, []time.Time, []error) {
	t.Helper()
	res := make([]BarrierResult, len(indexes))
	back := make([]time.Time, len(indexes))
	errs := make([]error, len(indexes))
	var wg sync.WaitGroup
	for i, idx := range indexes {
		wg.Go(func() {
			if delay != nil {
				time.Sleep(delay(idx))
			}
			b := Barrier{Dir: dir, Index: idx, Expected: expected, Timeout: timeout, Lead: 100 * time.Millisecond}
			res[i], errs[i] = b.Wait(context.Background())
			back[i] = time.Now()
		})
	}
	wg.Wait()
	return res, back, errs
}

func TestBarrierAllLaunchersGetTheSameInstant(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "stage_0")
	res, back, errs := waitAll(t, dir, []int{0, 1, 2}, []int{0, 1, 2}, 5*time.Second,
		func(i int) time.Duration { return time.Duration(i) * 30 * time.Millisecond })
	resolvers := 0
	for i := range res {
		if errs[i] != nil {
			t.Fatalf("launcher %d: %v", i, errs[i])
		}
		if !res[i].Start.Equal(res[0].Start) {
			t.Fatalf("launcher %d starts at %v, launcher 0 at %v", i, res[i].Start, res[0].Start)
		}
		if !reflect.DeepEqual(res[i].Present, []int{0, 1, 2}) || res[i].Missing != nil || res[i].TimedOut || res[i].Late {
			t.Fatalf("launcher %d: %+v", i, res[i])
		}
		if res[i].Resolved {
			resolvers++
		}
		// Wait returns at the instant: not before it, and (on a 2-core machine under load) within 20 ms.
		if d := back[i].Sub(res[i].Start); d < 0 || d > 20*time.Millisecond {
			t.Errorf("launcher %d returned %v after the agreed start", i, d)
		}
	}
	if resolvers != 1 {
		t.Fatalf("%d launchers wrote %s, want exactly 1", resolvers, BarrierGo)
	}
	// The start is the latest arrival plus the lead (launcher 2 arrived last: it slept longest).
	if want := res[2].Arrived.Add(100 * time.Millisecond); !res[0].Start.Equal(time.Unix(0, want.UnixNano())) {
		t.Fatalf("start %v, want the latest arrival %v + 100ms", res[0].Start, res[2].Arrived)
	}
}

func TestBarrierMissingLauncherTimesOut(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Now()
	res, _, errs := waitAll(t, dir, []int{0, 2}, []int{0, 1, 2, 3}, 150*time.Millisecond, nil)
	for i := range res {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !res[i].TimedOut || !reflect.DeepEqual(res[i].Missing, []int{1, 3}) || !reflect.DeepEqual(res[i].Present, []int{0, 2}) {
			t.Fatalf("launcher %d: %+v, want timed out with 1 and 3 missing", i, res[i])
		}
	}
	if el := time.Since(t0); el < 250*time.Millisecond { // timeout 150 ms + lead 100 ms
		t.Fatalf("the barrier resolved after %v, before its timeout and lead", el)
	}
}

func TestBarrierLateArrivalStartsAtOnce(t *testing.T) {
	dir := t.TempDir()
	start := time.Now().Add(-3 * time.Second)
	if err := os.WriteFile(filepath.Join(dir, BarrierGo), []byte(FormatBarrierGo(start, []int{0, 1})), 0o644); err != nil {
		t.Fatal(err)
	}
	b := Barrier{Dir: dir, Index: 2, Expected: []int{0, 1, 2}, Timeout: time.Minute}
	t0 := time.Now()
	res, err := b.Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(t0) > 100*time.Millisecond {
		t.Fatalf("a late launcher waited %v", time.Since(t0))
	}
	if !res.Late || !res.TimedOut || res.Missing != nil || !reflect.DeepEqual(res.Present, []int{0, 1, 2}) || res.Start.UnixNano() != start.UnixNano() {
		t.Fatalf("%+v", res)
	}
	// It still leaves its arrival, for the record.
	if _, err := os.Stat(filepath.Join(dir, "2")); err != nil {
		t.Fatal(err)
	}
}

func TestBarrierCorruptGoIsAOneLineError(t *testing.T) {
	for _, content := range []string{"soon\n0 1\n", "1764000000000000000\n0 x\n", "1764000000000000000\n0\n1\n"} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, BarrierGo), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		b := Barrier{Dir: dir, Index: 0, Expected: []int{0}}
		_, err := b.Wait(context.Background())
		if !errors.Is(err, ErrBarrierFile) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), BarrierGo) {
			t.Fatalf("%q: got %v, want a one-line ErrBarrierFile naming the file", content, err)
		}
	}
}

func TestBarrierCorruptArrivalIsAnError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "1"), []byte("yesterday\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := Barrier{Dir: dir, Index: 0, Expected: []int{0, 1}}
	if _, err := b.Wait(context.Background()); !errors.Is(err, ErrBarrierFile) {
		t.Fatalf("got %v", err)
	}
}

func TestBarrierCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	b := Barrier{Dir: t.TempDir(), Index: 0, Expected: []int{0, 1}}
	if _, err := b.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

// The in-pod shell script writes arrivals as "<unix nanos>\n" and BarrierGo as
// "<nanos>\n<idx idx>\n"; these byte strings are what `date +%s%N` and printf give it.
func TestBarrierParsesTheShellFormats(t *testing.T) {
	at, err := ParseBarrierArrival([]byte("1764000000123456789\n"))
	if err != nil || at.UnixNano() != 1764000000123456789 {
		t.Fatalf("%v %v", at, err)
	}
	start, present, err := ParseBarrierGo([]byte("1764000000500000000\n0 1 2\n"))
	if err != nil || start.UnixNano() != 1764000000500000000 || !reflect.DeepEqual(present, []int{0, 1, 2}) {
		t.Fatalf("%v %v %v", start, present, err)
	}
	if _, _, err := ParseBarrierGo([]byte("1764000000500000000\n0 1")); err == nil {
		t.Fatal("content without its final newline was accepted")
	}
	for _, bad := range []string{"1764000000123456789", "", "-5\n", "12 34\n", "1\n2\n"} {
		if _, err := ParseBarrierArrival([]byte(bad)); !errors.Is(err, ErrBarrierFile) {
			t.Errorf("arrival %q: got %v", bad, err)
		}
	}
	// Our own go file is the same bytes.
	if got := FormatBarrierGo(time.Unix(0, 1764000000500000000), []int{0, 1, 2}); got != "1764000000500000000\n0 1 2\n" {
		t.Fatalf("%q", got)
	}
}

// A launcher of the shell side (its arrival written with sh's printf, its go read by sh) and
// a Go launcher agree: the Go launcher resolves from the shell's arrival file.
func TestBarrierInteroperatesWithShell(t *testing.T) {
	dir := t.TempDir()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	arrive := exec.Command(sh, "-c", `printf '%s\n' "$(date +%s%N)" > "$1/.1.tmp" && mv "$1/.1.tmp" "$1/1"`, "sh", dir)
	if out, err := arrive.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	b := Barrier{Dir: dir, Index: 0, Expected: []int{0, 1}, Timeout: 5 * time.Second, Lead: 10 * time.Millisecond}
	res, err := b.Wait(context.Background())
	if err != nil || !res.Resolved || res.TimedOut {
		t.Fatalf("%+v %v", res, err)
	}
	out, err := exec.Command(sh, "-c", `{ read -r start; read -r present; } < "$1/go"; printf '%s|%s' "$start" "$present"`, "sh", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := formatNanos(res.Start) + "|0 1"; string(out) != want {
		t.Fatalf("the shell read %q, want %q", out, want)
	}
}

func TestBarrierSeriesExpectsThePresentOnes(t *testing.T) {
	root := t.TempDir()
	// Stage 0: launchers 0 and 1 of 3 arrive; 2 is missing and is not waited for at stage 1.
	var wg sync.WaitGroup
	series := []*BarrierSeries{
		{Root: root, Index: 0, Count: 3, Timeout: 100 * time.Millisecond, Lead: 10 * time.Millisecond},
		{Root: root, Index: 1, Count: 3, Timeout: 100 * time.Millisecond, Lead: 10 * time.Millisecond},
	}
	res := make([][2]BarrierResult, 2)
	for i, s := range series {
		wg.Go(func() {
			for stage := range 2 {
				r, err := s.Wait(context.Background(), stage)
				if err != nil {
					t.Error(err)
				}
				res[i][stage] = r
			}
		})
	}
	wg.Wait()
	for i := range res {
		if !res[i][0].TimedOut || !reflect.DeepEqual(res[i][0].Missing, []int{2}) {
			t.Fatalf("launcher %d stage 0: %+v", i, res[i][0])
		}
		if res[i][1].TimedOut || res[i][1].Missing != nil {
			t.Fatalf("launcher %d stage 1 waited for the missing launcher: %+v", i, res[i][1])
		}
	}
	for _, stage := range []int{0, 1} {
		if _, err := os.Stat(filepath.Join(root, BarrierStage(stage), BarrierGo)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := (&BarrierSeries{Root: root, Index: 3, Count: 3}).Wait(context.Background(), 0); err == nil {
		t.Fatal("launcher 3 of 3 was accepted")
	}
}

// BarrierStage is BarrierDir's last element.
func TestBarrierStageMatchesBarrierDir(t *testing.T) {
	for _, s := range []int{StageWorkload, 0, 7} {
		if got, want := BarrierStage(s), path.Base(BarrierDir("1764000000-abcd", "e", s)); got != want {
			t.Fatalf("stage %d: %q, want %q", s, got, want)
		}
	}
}

// A BarrierGo caught between its exclusive creation and its write is read again; one that stays
// incomplete past the grace is an error.
func TestBarrierGoBeingWritten(t *testing.T) {
	dir := t.TempDir()
	goPath := filepath.Join(dir, BarrierGo)
	if err := os.WriteFile(goPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(30 * time.Millisecond)
	go func() {
		time.Sleep(20 * time.Millisecond)
		_ = os.WriteFile(goPath, []byte(FormatBarrierGo(start, []int{0, 1})), 0o644)
	}()
	b := Barrier{Dir: dir, Index: 1, Expected: []int{0, 1}}
	res, err := b.Wait(context.Background())
	// Late: the file was there when it arrived, though the instant it names had not come.
	if err != nil || res.Start.UnixNano() != start.UnixNano() || res.TimedOut || !res.Late || time.Now().Before(start) {
		t.Fatalf("%+v %v", res, err)
	}

	defer func(g time.Duration) { barrierGoGrace = g }(barrierGoGrace)
	barrierGoGrace = 30 * time.Millisecond
	if err := os.WriteFile(goPath, []byte("1764000000500000000\n0"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Wait(context.Background()); !errors.Is(err, ErrBarrierFile) || !strings.Contains(err.Error(), "still being written") {
		t.Fatalf("got %v", err)
	}
}

// The other way round: a Go launcher arrives, a shell launcher resolves the barrier (BarrierGo
// with `set -C`, and its arrival), and the Go launcher starts at the shell's instant.
func TestBarrierFollowsAShellResolver(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	b := Barrier{Dir: dir, Index: 0, Expected: []int{0, 1}, Timeout: 10 * time.Second}
	type out struct {
		res BarrierResult
		err error
	}
	done := make(chan out, 1)
	go func() {
		r, err := b.Wait(context.Background())
		done <- out{r, err}
	}()
	for {
		if _, err := os.Stat(filepath.Join(dir, "0")); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// BarrierGo first, so that the Go launcher cannot resolve the barrier in between.
	script := `now=$(date +%s%N); start=$((now + 50000000)); set -C; printf '%s\n%s\n' "$start" "0 1" > "$1/go" &&
printf '%s\n' "$now" > "$1/.1.tmp" && mv "$1/.1.tmp" "$1/1" && printf '%s' "$start"`
	started, err := exec.Command(sh, "-c", script, "sh", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	o := <-done
	if o.err != nil || o.res.Resolved || o.res.TimedOut || formatNanos(o.res.Start) != string(started) || !reflect.DeepEqual(o.res.Present, []int{0, 1}) {
		t.Fatalf("%+v %v (the shell's start %s)", o.res, o.err, started)
	}
}
