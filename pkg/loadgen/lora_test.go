package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// loraServer serves /v1/models listing models, and completions that record the model each
// request named (streamed, with a usage block, like vLLM).
type loraServer struct {
	*httptest.Server
	mu          sync.Mutex
	models      map[string]int // completion requests per requested model
	completions atomic.Int64
}

func newLoRAServer(t *testing.T, listed ...string) *loraServer {
	s := &loraServer{models: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/models":
			var data []map[string]string
			for _, m := range listed {
				data = append(data, map[string]string{"id": m, "object": "model"})
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
			return
		case "/v1/completions":
		default:
			http.NotFound(w, r)
			return
		}
		s.completions.Add(1)
		var body requestBody
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, `{"error":{"message":"bad","type":"BadRequestError"}}`, http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.models[body.Model]++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range body.MaxTokens {
			fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"text\":\"t%d \"}]}\n\n", i)
		}
		words := len(strings.Fields(body.Prompt))
		fmt.Fprintf(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d}}\n\ndata: [DONE]\n\n", words, body.MaxTokens)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *loraServer) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := map[string]int{}
	for k, v := range s.models {
		c[k] = v
	}
	return c
}

// caseProfile is field case 16's profile (testdata/multilora-profile.yaml) pointed at url.
func caseProfile(t *testing.T, url string) *Workload {
	t.Helper()
	data, err := os.ReadFile("testdata/multilora-profile.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w, err := DecodeWorkload(data)
	if err != nil {
		t.Fatal(err)
	}
	w.SetBaseURL(url)
	if err := w.Validate(); err != nil {
		t.Fatal(err)
	}
	return w
}

// Field case 16: every request goes to an adapter by the split's weights, none to the base model,
// and the per-adapter files hold each adapter's requests.
func TestLoRATrafficSplitCase16(t *testing.T) {
	const base = "Qwen/Qwen2.5-0.5B-Instruct"
	srv := newLoRAServer(t, base, "movie", "consumer")
	w := caseProfile(t, srv.URL)
	res, err := Run(context.Background(), w, Options{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	// rate 20 × 3 s = 60 requests.
	if sent, failed := res.Counts(); sent != 60 || failed != 0 {
		t.Fatalf("%d sent, %d failed; want 60, 0", sent, failed)
	}
	seen := srv.counts()
	if seen[base] != 0 || seen["movie"]+seen["consumer"] != 60 || len(seen) != 2 {
		t.Fatalf("models the server saw: %v (want only movie and consumer, 60 in all)", seen)
	}
	// Binomial(60, 0.5): sd = sqrt(60·0.5·0.5) = 3.873; 4 sd = 15.5, so each gets 15..45.
	for _, a := range []string{"movie", "consumer"} {
		if math.Abs(float64(seen[a])-30) > 15.5 {
			t.Errorf("%s got %d of 60 requests at split 0.5", a, seen[a])
		}
	}
	// The generator's own record of each request's adapter is what the server saw.
	mine := map[string]int{}
	for _, a := range res.Stages[0].Adapters {
		mine[a]++
	}
	if mine["movie"] != seen["movie"] || mine["consumer"] != seen["consumer"] {
		t.Errorf("recorded adapters %v, server saw %v", mine, seen)
	}

	dir := t.TempDir()
	files, err := Write(dir, res, Meta{ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// per_adapter and per_adapter_stage are both true in the case; per_request is false.
	for _, f := range []string{"adapter_movie_lifecycle_metrics.json", "adapter_consumer_lifecycle_metrics.json",
		"adapter_movie_stage_0_lifecycle_metrics.json", "adapter_consumer_stage_0_lifecycle_metrics.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s (wrote %v)", f, files)
		}
	}
	total := 0
	for _, a := range []string{"movie", "consumer"} {
		var whole, stage map[string]any
		readJSON(t, filepath.Join(dir, AdapterFile(a)), &whole)
		readJSON(t, filepath.Join(dir, AdapterStageFile(a, 0)), &stage)
		n := int(whole["load_summary"].(map[string]any)["count"].(float64))
		ok := int(whole["successes"].(map[string]any)["count"].(float64))
		if n != seen[a] || ok != seen[a] {
			t.Errorf("%s file counts %d requests (%d ok), server saw %d", a, n, ok, seen[a])
		}
		total += n
		// The whole-run file has the summary's shape; the stage one adds the stage's rates.
		if _, has := whole["load_summary"].(map[string]any)["requested_rate"]; has {
			t.Errorf("%s whole-run file has a requested_rate", a)
		}
		ls := stage["load_summary"].(map[string]any)
		if ls["count"].(float64) != float64(seen[a]) || ls["requested_rate"].(float64) != 20 {
			t.Errorf("%s stage file load summary %v", a, ls)
		}
		// Every request asked for 8 tokens and got them: the output_len is the adapter's own.
		if ol := whole["successes"].(map[string]any)["output_len"].(map[string]any); ol["mean"].(float64) != 8 {
			t.Errorf("%s output_len %v", a, ol)
		}
	}
	if total != 60 {
		t.Errorf("adapter files count %d requests, want 60", total)
	}
	var summary map[string]any
	readJSON(t, filepath.Join(dir, SummaryFile), &summary)
	if c := summary["load_summary"].(map[string]any)["count"].(float64); c != 60 {
		t.Errorf("summary counts %v", c)
	}
}

// The adapters, and which request gets which, follow from the seed alone.
func TestLoRADeterministicAndInPerRequestFile(t *testing.T) {
	srv := newLoRAServer(t, "m", "a1", "a2", "a3")
	profile := `
load:
  type: concurrent
  stages: [{num_requests: 40, concurrency_level: 4}]
  lora_traffic_split: [{name: a1, split: 0.25}, {name: a2, split: 0.25}, {name: a3, split: 0.5}]
api: {type: completion, streaming: true}
server: {model_name: m, base_url: ` + srv.URL + `}
data:
  type: random
  input_distribution: {min: 3, max: 3, mean: 3, total_count: 5}
  output_distribution: {min: 2, max: 2, mean: 2}
report: {request_lifecycle: {per_request: true, per_adapter: false}}
`
	w, err := ParseWorkload([]byte(profile))
	if err != nil {
		t.Fatal(err)
	}
	run := func(seed int64) *Result {
		res, err := Run(context.Background(), w, Options{Seed: seed, KeepBodies: true})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first, again, other := run(11), run(11), run(12)
	if strings.Join(first.Stages[0].Adapters, ",") != strings.Join(again.Stages[0].Adapters, ",") {
		t.Errorf("same seed, different adapters:\n%v\n%v", first.Stages[0].Adapters, again.Stages[0].Adapters)
	}
	if strings.Join(first.Stages[0].Adapters, ",") == strings.Join(other.Stages[0].Adapters, ",") {
		t.Errorf("seeds 11 and 12 drew the same 40 adapters")
	}
	dir := t.TempDir()
	files, err := Write(dir, first, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasPrefix(f, "adapter_") {
			t.Errorf("per_adapter false, per_adapter_stage unset, yet %s was written", f)
		}
	}
	var recs []struct {
		Request string `json:"request"`
		Info    struct {
			LoRAAdapter *string `json:"lora_adapter"`
		} `json:"info"`
	}
	readJSON(t, filepath.Join(dir, PerRequestFile), &recs)
	if len(recs) != 40 {
		t.Fatalf("%d per-request records", len(recs))
	}
	for i, r := range recs {
		var body requestBody
		if err := json.Unmarshal([]byte(r.Request), &body); err != nil {
			t.Fatalf("record %d request %q: %v", i, r.Request, err)
		}
		if r.Info.LoRAAdapter == nil || *r.Info.LoRAAdapter != body.Model || body.Model != first.Stages[0].Adapters[i] {
			t.Errorf("record %d: lora_adapter %v, request model %q, recorded %q", i, r.Info.LoRAAdapter, body.Model, first.Stages[0].Adapters[i])
		}
	}
}

func TestLoRAPickerFollowsTheWeights(t *testing.T) {
	p := newLoRAPicker([]LoRASplit{{"a", 0.2}, {"zero", 0}, {"b", 0.3}, {"c", 0.5}}, 3)
	n := map[string]int{}
	for range 10000 {
		n[p.names[p.pick()]]++
	}
	// Binomial(10000, p): 4 sd = 4·sqrt(10000·p·(1−p)) = 160, 183.3, 200 for p = 0.2, 0.3, 0.5.
	for name, want := range map[string]struct{ mean, tol float64 }{"a": {2000, 160}, "b": {3000, 183.3}, "c": {5000, 200}} {
		if math.Abs(float64(n[name])-want.mean) > want.tol {
			t.Errorf("%s drawn %d times of 10000, want %g ± %g", name, n[name], want.mean, want.tol)
		}
	}
	if n["zero"] != 0 {
		t.Errorf("an adapter with split 0 was drawn %d times", n["zero"])
	}
	// The body keeps everything but the model.
	w := &Workload{Server: Server{ModelName: "base"}, API: API{Type: APIChat, Streaming: true}}
	pr := newPrompt(w, "sys", "hello there", 2, 5)
	var got, orig map[string]any
	_ = json.Unmarshal(pr.withModel(modelField(`org/ad"apter`)).body, &got)
	_ = json.Unmarshal(pr.body, &orig)
	if got["model"] != `org/ad"apter` || orig["model"] != "base" {
		t.Errorf("models %v / %v", got["model"], orig["model"])
	}
	delete(got, "model")
	delete(orig, "model")
	g, _ := json.Marshal(got)
	o, _ := json.Marshal(orig)
	if string(g) != string(o) {
		t.Errorf("body changed beyond the model:\n%s\n%s", g, o)
	}
}

// An adapter the server does not serve is refused before the first request, in one line.
func TestLoRAAdapterMissingIsRefusedBeforeLoad(t *testing.T) {
	srv := newLoRAServer(t, "Qwen/Qwen2.5-0.5B-Instruct", "movie")
	w := caseProfile(t, srv.URL)
	res, err := Run(context.Background(), w, Options{})
	oneLine(t, "missing adapter", err, `load.lora_traffic_split: adapter "consumer" is not served by `+srv.URL+` (GET `+srv.URL+`/v1/models lists "Qwen/Qwen2.5-0.5B-Instruct", "movie")`)
	if res != nil || srv.completions.Load() != 0 {
		t.Errorf("result %v, %d completion requests sent", res, srv.completions.Load())
	}
	// A server without a model listing cannot confirm the adapters either.
	bare := httptest.NewServer(http.NotFoundHandler())
	defer bare.Close()
	w.SetBaseURL(bare.URL + "/v1")
	_, err = Run(context.Background(), w, Options{})
	oneLine(t, "no listing", err, "checking the LoRA adapters of load.lora_traffic_split: GET "+bare.URL+"/v1/models answered 404 Not Found")
}
