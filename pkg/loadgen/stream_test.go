package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// streamServer answers every request with the given SSE events, waiting before each one: the
// first wait is the server's TTFT, the next ones its inter-token latency.
func streamServer(t *testing.T, events [][]byte, waits []time.Duration) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = bytes.NewBuffer(nil).ReadFrom(r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		for i, ev := range events {
			if i < len(waits) {
				time.Sleep(waits[i])
			}
			_, _ = w.Write(ev)
			fl.Flush()
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// splitEvents cuts a stream after each blank line, keeping every byte.
func splitEvents(stream []byte) [][]byte {
	var out [][]byte
	for len(stream) > 0 {
		i := bytes.Index(stream, []byte("\n\n"))
		if i < 0 {
			return append(out, stream)
		}
		out = append(out, stream[:i+2])
		stream = stream[i+2:]
	}
	return out
}

// compact rewrites each data line's JSON the way vLLM writes it.
func compact(t *testing.T, stream []byte) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(stream, []byte("\n")) {
		if d, ok := bytes.CutPrefix(line, []byte("data: {")); ok {
			var b bytes.Buffer
			if err := json.Compact(&b, append([]byte("{"), bytes.TrimSpace(d)...)); err != nil {
				t.Fatal(err)
			}
			line = append(append([]byte("data: "), b.Bytes()...), '\n')
		}
		out = append(out, line...)
	}
	return out
}

// shortWorkload is case 17's profile for half a second (5 requests).
func shortWorkload(t *testing.T, url string) *Workload {
	w := case17Workload(t, url)
	w.Load.Stages[0].Duration = 0.5
	return w
}

func case17Workload(t *testing.T, url string) *Workload {
	t.Helper()
	raw, err := os.ReadFile("testdata/sse-json-with-spaces-profile.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w, err := ParseWorkload(bytes.Replace(raw, []byte("http://127.0.0.1:18085"), []byte(url), 1))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// Case 17: a server whose events are json.dumps-spaced JSON gives the same numbers as one that
// writes compact JSON, on both transports: 20 requests (10 req/s for 2 s), each with 2 output
// tokens and 20 prompt tokens from usage, a TTFT of at least the server's 40 ms and an ITL (the
// second token no earlier than 40 + 25 ms).
func TestCase17SpacedJSONStreamMeasuresLikeCompact(t *testing.T) {
	transports(t, func(t *testing.T, o Options) {
		stream := case17(t)
		waits := []time.Duration{40 * time.Millisecond, 25 * time.Millisecond}
		for name, events := range map[string][][]byte{"spaced": splitEvents(stream), "compact": splitEvents(compact(t, stream))} {
			srv := streamServer(t, events, waits)
			res, err := Run(context.Background(), case17Workload(t, srv.URL), o)
			if err != nil {
				t.Fatal(err)
			}
			recs := res.Records()
			if len(recs) != 20 {
				t.Fatalf("%s: %d requests, want 20", name, len(recs))
			}
			for _, r := range recs {
				if r.Err != nil || !r.ServerUsage || r.OutputTokens != 2 || r.InputTokens != 20 || len(r.ChunkTimes) != 2 {
					t.Fatalf("%s: record %+v (err %+v)", name, r, r.Err)
				}
				// The second token cannot arrive before 0.065 s; a late first read (a loaded
				// machine) shortens the ITL but never the second token's time.
				ttft, second := r.ChunkTimes[0]-r.Start, r.ChunkTimes[1]-r.Start
				if ttft < 0.039 || ttft > 1 || second < 0.064 || second < ttft || second > 1 {
					t.Errorf("%s: tokens at %.4f and %.4f s; the server sends them at 0.040 and 0.065", name, ttft, second)
				}
			}
			if first, n := res.StreamFailures(); first != nil || n != 0 {
				t.Errorf("%s: stream failures %d, first %+v", name, n, first)
			}
		}
	})
}

// A server whose events cannot be read: every request fails with the label, and the result names
// the first unreadable event.
func TestUnreadableEventsFailRequestsWithALabel(t *testing.T) {
	transports(t, func(t *testing.T, o Options) {
		srv := streamServer(t, [][]byte{
			[]byte("data: {\"choices\": [{\"text\": \"tok \"}]}\n\n"),
			[]byte("data: {\"choices\": [{\"text\": \"tok \"}]\n\n"), // one bracket short
			[]byte("data: [DONE]\n\n"),
		}, nil)
		res, err := Run(context.Background(), shortWorkload(t, srv.URL), o)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Records() {
			if r.Err == nil || r.Err.label() != "200 - invalid_stream_event" {
				t.Fatalf("record %+v, err %+v", r, r.Err)
			}
		}
		first, n := res.StreamFailures()
		want := `unreadable SSE event (the event's JSON ends before its value does): "{\"choices\": [{\"text\": \"tok \"}]"`
		if n != 5 || first == nil || first.Message != want {
			t.Errorf("%d stream failures, first %+v; want 5, %s", n, first, want)
		}
	})
}

// A reasoning model (Qwen3 through vLLM's reasoning parser): TTFT is the first reasoning token,
// 30 ms in, not the first content token 300 ms later (far enough apart that a loaded machine
// still reads them separately); reasoning tokens come from usage.
func TestReasoningStreamTTFTAtTheFirstReasoningToken(t *testing.T) {
	transports(t, func(t *testing.T, o Options) {
		srv := streamServer(t, [][]byte{
			[]byte(`data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}` + "\n\n"),
			[]byte(`data: {"choices":[{"index":0,"delta":{"reasoning_content":"Okay"}}]}` + "\n\n"),
			[]byte(`data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}` + "\n\n"),
			[]byte(`data: {"choices":[],"usage":{"prompt_tokens":20,"completion_tokens":2,"completion_tokens_details":{"reasoning_tokens":1}}}` + "\n\ndata: [DONE]\n\n"),
		}, []time.Duration{0, 30 * time.Millisecond, 300 * time.Millisecond})
		w := shortWorkload(t, srv.URL)
		w.API.Type = APIChat
		res, err := Run(context.Background(), w, o)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Records() {
			if r.Err != nil || r.OutputTokens != 2 || r.ReasoningTokens == nil || *r.ReasoningTokens != 1 || len(r.ChunkTimes) != 2 {
				t.Fatalf("record %+v, err %+v", r, r.Err)
			}
			if ttft, content := r.ChunkTimes[0]-r.Start, r.ChunkTimes[1]-r.Start; ttft < 0.029 || content < 0.329 || ttft >= content {
				t.Errorf("tokens at %.4f and %.4f s, want the reasoning token's (sent at 0.030) before the content's (0.330)", ttft, content)
			}
		}
	})
}

// A 200 response carrying a JSON error instead of a stream (a gateway's answer), on both
// transports: a failure with the server's type and message.
func TestErrorBodyWithStatus200IsAFailure(t *testing.T) {
	transports(t, func(t *testing.T, o Options) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"error": {"message": "no healthy upstream", "type": "ServiceUnavailable", "code": 503}}`))
		}))
		t.Cleanup(srv.Close)
		res, err := Run(context.Background(), shortWorkload(t, srv.URL), o)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Records() {
			if r.Err == nil || r.Err.label() != "200 - ServiceUnavailable" || r.Err.Message != "no healthy upstream" {
				t.Fatalf("record %+v, err %+v", r, r.Err)
			}
		}
		if first, n := res.StreamFailures(); first != nil || n != 0 {
			t.Errorf("a server error is not a stream failure: %d, %+v", n, first)
		}
		// Without streaming too.
		w := shortWorkload(t, srv.URL)
		w.API.Streaming = false
		if res, err = Run(context.Background(), w, o); err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Records() {
			if r.Err == nil || r.Err.label() != "200 - ServiceUnavailable" {
				t.Fatalf("non-streamed record %+v, err %+v", r, r.Err)
			}
		}
	})
}

// A server that closes the connection in the middle of a chunked stream: a transport failure,
// not a success with what arrived.
func TestStreamCutMidwayIsAFailure(t *testing.T) {
	transports(t, func(t *testing.T, o Options) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write([]byte("data: {\"choices\": [{\"text\": \"tok \"}]}\n\n"))
			w.(http.Flusher).Flush()
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		}))
		t.Cleanup(srv.Close)
		res, err := Run(context.Background(), shortWorkload(t, srv.URL), o)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Records() {
			if r.Err == nil || r.Err.Status != 0 || !strings.Contains(r.Err.label(), "connection_error") {
				t.Fatalf("record %+v, err %+v", r, r.Err)
			}
		}
	})
}

// A stream that fails midway ends its request at once, even when the server goes on: the
// generator does not wait 1.5 s for the rest.
func TestFailedStreamEndsTheRequestAtOnce(t *testing.T) {
	transports(t, func(t *testing.T, o Options) {
		srv := streamServer(t, [][]byte{
			[]byte("data: {\"choices\": [{\"text\": \"tok \"}]}\n\n"),
			[]byte("data: {\"error\": {\"message\": \"KV cache exhausted\", \"type\": \"InternalServerError\"}}\n\n"),
			[]byte("data: {\"choices\": [{\"text\": \"late \"}]}\n\ndata: [DONE]\n\n"),
		}, []time.Duration{0, 0, 1500 * time.Millisecond})
		res, err := Run(context.Background(), shortWorkload(t, srv.URL), o)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Records() {
			if r.Err == nil || r.Err.label() != "200 - InternalServerError" || r.Err.Message != "KV cache exhausted" || r.End-r.Start > 1 {
				t.Fatalf("record %+v, err %+v, took %.3f s", r, r.Err, r.End-r.Start)
			}
		}
		// The last request is sent at 0.4 s; waiting for its stream would end the stage after 1.9 s.
		if took := res.Stages[0].Finished.Sub(res.Stages[0].Started); took > 1400*time.Millisecond {
			t.Errorf("the stage took %s: its requests waited for the rest of failed streams", took)
		}
	})
}

// Issue 14 §1 item 2: a close-delimited body (no Content-Length, not chunked) cut after one
// token event, with no finish_reason, no usage and no [DONE], is a failed request on both
// transports, not a success with 1 token.
func TestCloseDelimitedStreamCutShortIsIncomplete(t *testing.T) {
	transports(t, func(t *testing.T, o Options) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = bytes.NewBuffer(nil).ReadFrom(r.Body)
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n" +
				"data: {\"choices\": [{\"text\": \"tok \", \"finish_reason\": null}]}\n\n")
			_ = buf.Flush()
		}))
		t.Cleanup(srv.Close)
		res, err := Run(context.Background(), shortWorkload(t, srv.URL), o)
		if err != nil {
			t.Fatal(err)
		}
		recs := res.Records()
		if len(recs) == 0 {
			t.Fatal("no records")
		}
		for _, r := range recs {
			if r.Err == nil || r.Err.label() != "200 - incomplete_stream" ||
				r.Err.Message != "the stream ended before [DONE], a finish_reason or usage: cut short?" {
				t.Fatalf("record %+v, err %+v", r, r.Err)
			}
		}
	})
}
