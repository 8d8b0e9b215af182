package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Record is one request's outcome. Times are seconds on the run's monotonic clock.
type Record struct {
	Stage     int
	Scheduled float64
	Start     float64
	End       float64
	// InputTokens and OutputTokens come from the server's usage block; without one, from the
	// prompt's word count and the number of content chunks.
	InputTokens int
	// CachedTokens is the server's usage.prompt_tokens_details.cached_tokens (part of
	// InputTokens), nil when its usage block does not say.
	CachedTokens *int
	OutputTokens int
	// ServerUsage is false when the server sent no usage block.
	ServerUsage bool
	// ReasoningTokens is the server's usage.completion_tokens_details.reasoning_tokens (part
	// of OutputTokens), nil when its usage block does not say.
	ReasoningTokens *int
	// ChunkTimes are the arrival times of the SSE events that carried a generated token (text,
	// content, reasoning or a tool call).
	ChunkTimes  []float64
	RequestSize int
	Err         *RequestError
	// Request and Response are kept only for the per-request file.
	Request  []byte
	Response []byte
}

// RequestError says why a request failed, in inference-perf's terms.
type RequestError struct {
	Status  int    // HTTP status; 0 when no response arrived
	Type    string // the server's error type, or a transport class
	Message string
}

func (e *RequestError) label() string { return fmt.Sprintf("%d - %s", e.Status, e.Type) }

// sender sends one request and times its stream.
type sender struct {
	client     *http.Client
	url        string
	headers    http.Header
	chat       bool
	streaming  bool
	keepBodies bool
	clock      func() float64
	timeout    time.Duration
}

func newHTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.DialContext,
		MaxIdleConnsPerHost: 4096, // open-loop load holds one connection per in-flight request
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}}
}

var doneMarker = []byte("[DONE]")

type usage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	PromptTokensDetails *struct {
		CachedTokens *int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails *struct {
		ReasoningTokens *int `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

type apiError struct {
	Error *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	} `json:"error"`
}

// send runs one request. It never returns an error: failures are part of the record.
func (s *sender) send(ctx context.Context, p prompt, rec *Record) {
	rec.RequestSize = len(p.body)
	if s.keepBodies {
		rec.Request = p.body
	}
	run := ctx // the run's context: its end is a cancel, not a request timeout
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(p.body))
	if err != nil {
		rec.Err = &RequestError{Type: "invalid_request", Message: err.Error()}
		return
	}
	req.Header = s.headers.Clone()
	rec.Start = s.clock()
	resp, err := s.client.Do(req)
	if err != nil {
		rec.End = s.clock()
		rec.Err = transportError(run, err)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		rec.End = s.clock()
		rec.Err = httpError(resp.StatusCode, body)
		return
	}
	if s.streaming {
		err = s.readStream(resp.Body, p, rec)
	} else {
		err = s.readWhole(resp.Body, p, rec)
	}
	rec.End = s.clock()
	if err != nil && rec.Err == nil {
		rec.Err = transportError(run, err)
	}
}

func transportError(run context.Context, err error) *RequestError {
	switch {
	case run.Err() != nil:
		return &RequestError{Type: "canceled", Message: err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return &RequestError{Type: "timeout", Message: err.Error()}
	}
	return &RequestError{Type: "connection_error", Message: err.Error()}
}

func httpError(status int, body []byte) *RequestError {
	e := &RequestError{Status: status, Type: http.StatusText(status), Message: string(bytes.TrimSpace(body))}
	var ae apiError
	if json.Unmarshal(body, &ae) == nil && ae.Error != nil {
		if ae.Error.Type != "" {
			e.Type = ae.Error.Type
		}
		e.Message = ae.Error.Message
	}
	return e
}

// readStream times each SSE event as it arrives (see sseReader): the bytes of one read are
// timed together, when the read returns.
func (s *sender) readStream(body io.Reader, p prompt, rec *Record) error {
	buf := make([]byte, 16<<10)
	sr := newSSEReader(rec, s.keepBodies)
	for {
		n, err := body.Read(buf)
		if n > 0 && sr.feed(buf[:n], s.clock()) {
			// [DONE], an error event or an unreadable event: the rest is not read.
			sr.finish(p, s.clock())
			return nil
		}
		if err == io.EOF {
			// Servers that omit [DONE] still end the stream cleanly.
			sr.finish(p, s.clock())
			return nil
		}
		if err != nil {
			return err
		}
	}
}

type wholeResponse struct {
	Choices []struct {
		Text    string `json:"text"`
		Message *struct {
			Content string `json:"content"`
		} `json:"message"`
	} `json:"choices"`
	Usage *usage          `json:"usage"`
	Error json.RawMessage `json:"error"`
}

func (s *sender) readWhole(body io.Reader, p prompt, rec *Record) error {
	raw, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	var w wholeResponse
	if err := json.Unmarshal(raw, &w); err != nil {
		rec.Err = &RequestError{Status: http.StatusOK, Type: "invalid_response", Message: err.Error()}
		return nil
	}
	if len(w.Error) > 0 && string(w.Error) != "null" {
		// An error sent with status 200.
		var ev event
		_ = parseEvent(raw, &ev, nil)
		rec.Err = &RequestError{Status: http.StatusOK, Type: ev.errorType(), Message: ev.errMessage}
		return nil
	}
	rec.InputTokens = p.inputTokens
	if w.Usage != nil {
		rec.ServerUsage = true
		rec.InputTokens, rec.OutputTokens = w.Usage.PromptTokens, w.Usage.CompletionTokens
		if w.Usage.PromptTokensDetails != nil {
			rec.CachedTokens = w.Usage.PromptTokensDetails.CachedTokens
		}
		if d := w.Usage.CompletionTokensDetails; d != nil {
			rec.ReasoningTokens = d.ReasoningTokens
		}
	}
	if s.keepBodies && len(w.Choices) > 0 {
		if m := w.Choices[0].Message; m != nil {
			rec.Response = []byte(m.Content)
		} else {
			rec.Response = []byte(w.Choices[0].Text)
		}
	}
	return nil
}
