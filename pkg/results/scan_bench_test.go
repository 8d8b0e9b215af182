package results

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// benchFile is a realistic inference-perf v0.6 per-request file of about 64 MiB, in the shape
// hack/gen-per-request writes (prompts of a few KB, 64..1000 streamed chunks with their chunk
// and token times, 1% failed), built once for the benchmarks.
var benchFile = sync.OnceValue(func() []byte {
	words := strings.Fields("the of and to in is was that for on with as by at from model token request latency cache prefix decode")
	rng := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteString("[")
	clock := 1283.0
	for n := 0; b.Len() < 64<<20; n++ {
		if n > 0 {
			b.WriteString(", ")
		}
		start := clock
		clock += 0.01 + rng.Float64()*0.05
		in, out := 200+rng.IntN(1800), 64+rng.IntN(937)
		var prompt strings.Builder
		for range in {
			prompt.WriteString(words[rng.IntN(len(words))] + " ")
		}
		req, _ := json.Marshal(map[string]any{"model": "m", "prompt": prompt.String(), "max_tokens": out, "stream": true})
		rec := map[string]any{"start_time": start, "request": string(req)}
		if rng.IntN(100) == 0 {
			rec["end_time"] = start + 0.5 + rng.Float64()
			rec["info"] = map[string]any{"request_metrics": map[string]any{"text": map[string]int{"input_tokens": in}},
				"response_metrics": map[string]any{"output_tokens": 0}, "input_tokens": in}
			rec["error"] = map[string]string{"error_type": "ClientResponseError", "error_msg": "503"}
		} else {
			t := start + 0.05 + rng.Float64()*0.3
			times := make([]float64, out)
			chunks := make([]string, out)
			var text strings.Builder
			for i := range out {
				times[i] = t
				w := " " + words[rng.IntN(len(words))]
				text.WriteString(w)
				c, _ := json.Marshal(map[string]any{"choices": []map[string]any{{"index": 0, "text": w, "finish_reason": nil}}})
				chunks[i] = string(c)
				t += (0.008 + rng.Float64()*0.02) * (0.5 + rng.Float64())
			}
			rec["end_time"], rec["response"] = t, text.String()
			rec["info"] = map[string]any{
				"request_metrics": map[string]any{"text": map[string]int{"input_tokens": in}, "image": nil},
				"response_metrics": map[string]any{"output_tokens": out, "response_chunks": chunks,
					"chunk_times": times, "output_token_times": times,
					"server_usage": map[string]int{"prompt_tokens": in, "completion_tokens": out}},
				"extra_info": map[string]any{}, "lora_adapter": nil, "input_tokens": in}
			rec["error"] = nil
		}
		if err := enc.Encode(rec); err != nil {
			panic(err)
		}
	}
	b.WriteString("]\n")
	return b.Bytes()
})

// cpuSeconds is the user and system CPU time of this process so far.
func cpuSeconds(b testing.TB) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// BenchmarkScanPerRequest is the single-stream scan (one core) of a realistic per-request file;
// its MB/s is the scanner's speed. On a shared machine the wall clock also counts the time other
// processes hold the core, so MB/cpu-s (bytes over this process's CPU time, the garbage
// collector's included) is reported too.
func BenchmarkScanPerRequest(b *testing.B) {
	data := benchFile()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	cpu := cpuSeconds(b)
	for range b.N {
		res, err := AnalyzePerRequest(bytes.NewReader(data), nil)
		if err != nil || res.Records == 0 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(data))*float64(b.N)/(cpuSeconds(b)-cpu)/1e6, "MB/cpu-s")
}
