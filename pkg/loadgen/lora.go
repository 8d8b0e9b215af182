package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"
)

// loraPicker draws each request's LoRA adapter by the weights of load.lora_traffic_split, as
// inference-perf's numpy.random.choice(adapters, p=splits) does, from its own seeded stream so
// that a seed gives the same adapters in the same order.
type loraPicker struct {
	names  []string
	cum    []float64 // cumulative splits
	fields [][]byte  // each adapter's `{"model":"<name>"` body prefix
	rng    *rand.Rand
}

func newLoRAPicker(split []LoRASplit, seed int64) *loraPicker {
	if len(split) == 0 {
		return nil
	}
	l := &loraPicker{rng: rand.New(rand.NewPCG(uint64(seed), 0x6c6f7261))}
	total := 0.0
	for _, s := range split {
		total += s.Split
		l.names = append(l.names, s.Name)
		l.cum = append(l.cum, total)
		l.fields = append(l.fields, modelField(s.Name))
	}
	return l
}

// pick returns the index of the next request's adapter.
func (l *loraPicker) pick() int {
	u := l.rng.Float64() * l.cum[len(l.cum)-1]
	for i, c := range l.cum {
		if u < c {
			return i
		}
	}
	// u equals the total only by rounding: the last adapter with a share takes it.
	for i := len(l.cum) - 1; i > 0; i-- {
		if l.cum[i] > l.cum[i-1] {
			return i
		}
	}
	return 0
}

// modelsURL is the server's model listing, next to the completions endpoint.
func modelsURL(w *Workload) string {
	base := strings.TrimRight(w.Server.BaseURL, "/")
	if strings.HasSuffix(base, "/v1") {
		return base + "/models"
	}
	return base + "/v1/models"
}

// checkAdapters asks the server which models it serves (GET /v1/models, the OpenAI listing
// `{"data":[{"id":…}]}`) and refuses, before any load is sent, a LoRA adapter it does not
// list — as inference-perf's client does at start.
func checkAdapters(ctx context.Context, client *http.Client, w *Workload, headers http.Header) error {
	url := modelsURL(w)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("checking the LoRA adapters of load.lora_traffic_split: %w", err)
	}
	for k, v := range headers {
		if k != "Content-Type" && k != "Accept" {
			req.Header[k] = v
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("checking the LoRA adapters of load.lora_traffic_split: GET %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("checking the LoRA adapters of load.lora_traffic_split: GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("checking the LoRA adapters of load.lora_traffic_split: GET %s answered %s", url, resp.Status)
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return fmt.Errorf("checking the LoRA adapters of load.lora_traffic_split: GET %s is not a model list: %w", url, err)
	}
	var served []string
	for _, m := range list.Data {
		served = append(served, m.ID)
	}
	for _, s := range w.Load.LoRATrafficSplit {
		if !slices.Contains(served, s.Name) {
			return fmt.Errorf("load.lora_traffic_split: adapter %q is not served by %s (GET %s lists %s): load it or fix the name",
				s.Name, w.Server.BaseURL, url, quoteList(served))
		}
	}
	return nil
}

func quoteList(names []string) string {
	if len(names) == 0 {
		return "no model"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// AdapterFile is adapter name's lifecycle file over the whole run, and AdapterStageFile its file
// for stage n, named as inference-perf names them (inference_perf/reportgen/base.py). A path
// separator in an adapter's name becomes "_" so that each file stays in the output folder.
func AdapterFile(name string) string {
	return "adapter_" + fileSafe(name) + "_lifecycle_metrics.json"
}

// AdapterStageFile is adapter name's lifecycle file for stage n.
func AdapterStageFile(name string, n int) string {
	return fmt.Sprintf("adapter_%s_stage_%d_lifecycle_metrics.json", fileSafe(name), n)
}

func fileSafe(name string) string {
	return strings.NewReplacer("/", "_", "\\", "_").Replace(name)
}
