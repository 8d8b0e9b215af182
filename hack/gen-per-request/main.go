// Command gen-per-request writes a realistic inference-perf v0.6 per_request_lifecycle_metrics.json
// of about the requested size, streamed (constant memory): one JSON array of streamed completion
// records with prompts of a few KB, 64 to 1000 output tokens with their chunk and token times,
// server usage, and about 1% failed requests. Deterministic for a given seed.
//
// With -stages N the records are the native generator's instead (as one launcher of a
// many-launcher run writes them): each carries info.extra_info.stage_id and scheduled_time, the
// file split into N stages of about equal size, and the failures carry two labels.
//
//	go run ./hack/gen-per-request -size 1GiB -out per_request_lifecycle_metrics.json
//	go run ./hack/gen-per-request -size 250MiB -stages 3 -seed 2 -out l2/per_request_lifecycle_metrics.json
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

var words = strings.Fields(`the of and to in is was that for on with as by at from this be are it an or which
have has had were not but their its also more other after first new some time into model token request
latency throughput inference server cache prefix decode prefill batch queue gateway scheduler kubernetes`)

func main() {
	size := flag.String("size", "100MiB", "approximate file size (B, KiB, MiB, GiB)")
	out := flag.String("out", "per_request_lifecycle_metrics.json", "file to write")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.IntVar(&stages, "stages", 0, "native generator records in this many stages (0: inference-perf records, no stage id)")
	flag.Parse()
	if stages < 0 {
		fmt.Fprintln(os.Stderr, "gen-per-request: -stages must be 0 or more")
		os.Exit(2)
	}
	limit, err := parseSize(*size)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen-per-request:", err)
		os.Exit(2)
	}
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen-per-request:", err)
		os.Exit(1)
	}
	n, written, err := generate(f, limit, *seed)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen-per-request:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "wrote %d records, %d bytes to %s\n", n, written, *out)
}

func parseSize(s string) (int64, error) {
	units := map[string]int64{"GiB": 1 << 30, "MiB": 1 << 20, "KiB": 1 << 10, "B": 1}
	for _, u := range []string{"GiB", "MiB", "KiB", "B"} {
		if v, ok := strings.CutSuffix(s, u); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("bad size %q", s)
			}
			return int64(n * float64(units[u])), nil
		}
	}
	return 0, fmt.Errorf("bad size %q: use e.g. 512MiB or 1GiB", s)
}

// stages is -stages: 0 writes inference-perf records, N native generator records in N stages.
var stages int

type counter struct {
	w *bufio.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func generate(f *os.File, limit int64, seed uint64) (int, int64, error) {
	bw := bufio.NewWriterSize(f, 1<<20)
	c := &counter{w: bw}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	enc := json.NewEncoder(c)
	enc.SetEscapeHTML(false)
	c.Write([]byte("["))
	clock := 1283.0 // perf_counter-style seconds, as inference-perf writes them
	n := 0
	for ; c.n < limit; n++ {
		if n > 0 {
			c.Write([]byte(", "))
		}
		rec := record(rng, &clock)
		if stages > 0 {
			stage := min(int(c.n*int64(stages)/limit), stages-1)
			rec.Info["extra_info"] = map[string]any{"stage_id": stage, "scheduled_time": rec.StartTime - rng.Float64()*0.002}
			if rec.Error != nil && rng.IntN(2) == 0 {
				rec.Error = map[string]string{"error_type": "0 - timeout", "error_msg": "the request timed out"}
			}
		}
		if err := enc.Encode(rec); err != nil {
			return n, c.n, err
		}
	}
	c.Write([]byte("]\n"))
	return n, c.n, bw.Flush()
}

func sentence(rng *rand.Rand, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[rng.IntN(len(words))])
	}
	return b.String()
}

// entry keeps inference-perf's key order (a Python dict written with json.dumps).
type entry struct {
	StartTime float64        `json:"start_time"`
	EndTime   float64        `json:"end_time"`
	Request   string         `json:"request"`
	Response  string         `json:"response"`
	Info      map[string]any `json:"info"`
	Error     any            `json:"error"`
}

func record(rng *rand.Rand, clock *float64) entry {
	start := *clock
	*clock += 0.01 + rng.Float64()*0.05
	inTokens := 200 + rng.IntN(1800) // prompts of a few KB
	outTokens := 64 + rng.IntN(937)  // 64..1000
	prompt := sentence(rng, inTokens)
	req, _ := json.Marshal(map[string]any{"model": "Qwen/Qwen3-0.6B", "prompt": prompt, "max_tokens": outTokens,
		"stream": true, "ignore_eos": true, "stream_options": map[string]bool{"include_usage": true}})
	if rng.IntN(100) == 0 {
		end := start + 0.5 + rng.Float64()
		return entry{StartTime: start, EndTime: end, Request: string(req),
			Info: map[string]any{"request_metrics": map[string]any{"text": map[string]int{"input_tokens": inTokens}},
				"response_metrics": map[string]any{"output_tokens": 0}, "extra_info": map[string]any{}, "lora_adapter": nil,
				"labels": map[string]any{}, "input_tokens": inTokens},
			Error: map[string]string{"error_type": "ClientResponseError", "error_msg": "503, message='Service Unavailable'"}}
	}
	ttft := 0.05 + rng.Float64()*0.3
	itl := 0.008 + rng.Float64()*0.02
	t := start + ttft
	times := make([]float64, outTokens)
	chunks := make([]string, outTokens)
	var text strings.Builder
	for i := range outTokens {
		times[i] = t
		w := " " + words[rng.IntN(len(words))]
		text.WriteString(w)
		chunk, _ := json.Marshal(map[string]any{"choices": []map[string]any{{"index": 0, "text": w, "finish_reason": nil}}})
		chunks[i] = string(chunk)
		t += itl * (0.5 + rng.Float64())
	}
	end := t
	return entry{
		StartTime: start, EndTime: end, Request: string(req), Response: text.String(),
		Info: map[string]any{
			"request_metrics": map[string]any{"text": map[string]int{"input_tokens": inTokens}, "image": nil, "video": nil, "audio": nil},
			"response_metrics": map[string]any{
				"output_tokens":      outTokens,
				"server_usage":       map[string]int{"prompt_tokens": inTokens, "completion_tokens": outTokens, "total_tokens": inTokens + outTokens},
				"response_chunks":    chunks,
				"chunk_times":        times,
				"output_token_times": times,
			},
			"extra_info": map[string]any{}, "lora_adapter": nil, "labels": map[string]any{}, "input_tokens": inTokens,
		},
	}
}
