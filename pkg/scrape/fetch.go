package scrape

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
)

// Fetcher reads one target's raw Prometheus text. Implementations honour ctx (the Scraper bounds
// every fetch with a timeout) and return an error for anything but a complete 2xx body.
type Fetcher interface {
	Fetch(ctx context.Context, t results.ServerTarget) ([]byte, error)
}

// MaxBody bounds a fetched exposition, bytes: 16 MiB, far above a model server's (the /metrics of
// llm-d-inference-sim v0.10.2 is about 20 KiB); a larger body is refused, not truncated.
const MaxBody = 16 << 20

// acceptText asks for the text format 0.0.4 Parse reads (not OpenMetrics or protobuf).
const acceptText = "text/plain;version=0.0.4;q=1,*/*;q=0.1"

// HTTPFetcher GETs t.URL with c (nil: http.DefaultClient), asking for the text format. A status
// other than 2xx is an error naming the status and the start of the body; a body larger than
// MaxBody is an error.
func HTTPFetcher(c *http.Client) Fetcher {
	if c == nil {
		c = http.DefaultClient
	}
	return httpFetcher{c}
}

type httpFetcher struct{ c *http.Client }

func (h httpFetcher) Fetch(ctx context.Context, t results.ServerTarget) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("metrics URL of pod %s: %w", t.Pod, err)
	}
	req.Header.Set("Accept", acceptText)
	resp, err := h.c.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		msg := strings.Join(strings.Fields(string(head)), " ")
		if msg != "" {
			msg = ": " + msg
		}
		return nil, fmt.Errorf("GET %s: HTTP %s%s", t.URL, resp.Status, msg)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading the body: %w", t.URL, err)
	}
	if len(body) > MaxBody {
		return nil, fmt.Errorf("GET %s: the body is larger than %d MiB", t.URL, MaxBody>>20)
	}
	return body, nil
}
