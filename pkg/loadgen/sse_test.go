package loadgen

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// readSSE feeds a stream to an sseReader in the given pieces, the i-th arriving at time i+1, and
// finishes it at the clean end of the body (time len(pieces)+1).
func readSSE(p prompt, pieces ...[]byte) Record {
	var rec Record
	r := newSSEReader(&rec, true)
	for i, b := range pieces {
		if r.feed(b, float64(i+1)) {
			break
		}
	}
	r.finish(p, float64(len(pieces)+1))
	return rec
}

func case17(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/sse-json-with-spaces.txt")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The case-17 stream (json.dumps spacing): 2 tokens "tok ", usage 20 prompt / 2 completion.
var case17Want = Record{InputTokens: 20, OutputTokens: 2, ServerUsage: true, ChunkTimes: []float64{1, 1}, Response: []byte("tok tok ")}

var asked = prompt{inputTokens: 20, outputTokens: 8}

func sameRecord(t *testing.T, what string, got, want Record) {
	t.Helper()
	if len(got.Response) == 0 {
		got.Response = nil
	}
	if len(want.Response) == 0 {
		want.Response = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %+v (err %+v)\n want %+v", what, got, got.Err, want)
	}
}

// Every form of the same events that the SSE spec allows reads the same, however the bytes are
// split between reads.
func TestSSEReaderReadsEverySpellingOfTheCase17Stream(t *testing.T) {
	lf := case17(t)
	spellings := map[string][]byte{
		"case 17 as sent (LF)": lf,
		"CRLF":                 bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n")),
		"CR":                   bytes.ReplaceAll(lf, []byte("\n"), []byte("\r")),
		"no space after data:": bytes.ReplaceAll(lf, []byte("data: "), []byte("data:")),
		"BOM, comments, event, id and retry fields, unknown fields": append([]byte("\xEF\xBB\xBF: hello\nretry: 3000\n"),
			bytes.ReplaceAll(lf, []byte("data: "), []byte(": keep-alive\r\nevent: message\nid: 7\nfoo: bar\nnocolon\ndata: "))...),
		"one newline per event, no [DONE], no final newline": bytes.TrimSuffix(bytes.ReplaceAll(lf, []byte("\n\n"), []byte("\n")), []byte("\ndata: [DONE]\n")),
		"keep-alive events": append([]byte("data:\n\ndata: \r\n\r\n"), lf...),
		"BOM before data":   append([]byte("\xEF\xBB\xBF"), lf...),
	}
	for name, stream := range spellings {
		sameRecord(t, name, readSSE(asked, stream), case17Want)
		// Split in two at every byte; the token times are those of the read that completed each event.
		for i := 1; i < len(stream); i++ {
			got := readSSE(asked, stream[:i], stream[i:])
			for k, at := range got.ChunkTimes {
				if at != 1 && at != 2 {
					t.Fatalf("%s split at %d: token %d at %v", name, i, k, at)
				}
			}
			got.ChunkTimes = nil
			want := case17Want
			want.ChunkTimes = nil
			sameRecord(t, name+" split", got, want)
		}
	}
	// Byte by byte (byte i arrives at time i+1): an event is read when the line end after its
	// JSON's closing brace arrives, without waiting for the blank line. The token events are the
	// first two lines.
	var ends []float64
	for _, line := range bytes.SplitAfter(lf, []byte("\n")) {
		if bytes.Contains(line, []byte(`"text": "tok "`)) {
			ends = append(ends, float64(bytes.Index(lf, line)+bytes.LastIndexByte(line, '}')+2))
		}
	}
	var pieces [][]byte
	for i := range lf {
		pieces = append(pieces, lf[i:i+1])
	}
	got := readSSE(asked, pieces...)
	if len(ends) != 2 || !reflect.DeepEqual(got.ChunkTimes, ends) {
		t.Errorf("byte by byte: token times %v, want %v", got.ChunkTimes, ends)
	}
}

func TestSSEReaderJoinsMultiLineData(t *testing.T) {
	// One JSON value over three data lines, joined with "\n"; the token arrives with its last line.
	got := readSSE(asked, []byte("data: {\"choices\":\n"), []byte("data:  [{\"text\": \"a\"}],\r\ndata: \"usage\": {\"prompt_tokens\": 3, \"completion_tokens\": 1}}\n"), []byte("\ndata: [DONE]\n\n"))
	sameRecord(t, "multi-line", got, Record{InputTokens: 3, OutputTokens: 1, ServerUsage: true, ChunkTimes: []float64{2}, Response: []byte("a")})
}

func TestSSEReaderReasoningToolCallsAndContinuousUsage(t *testing.T) {
	// A Qwen3-style chat stream through vLLM's reasoning parser, with continuous_usage_stats:
	// TTFT is the first reasoning token (read 1); the last usage block wins.
	got := readSSE(asked,
		[]byte(`data: {"choices":[{"delta":{"role":"assistant","content":""}}],"usage":{"prompt_tokens":9,"completion_tokens":0}}`+"\n\n"),
		[]byte(`data: {"choices":[{"delta":{"reasoning_content":"Okay"}}],"usage":{"prompt_tokens":9,"completion_tokens":1}}`+"\n\n"),
		[]byte(`data: {"choices":[{"delta":{"reasoning":" so"}}],"usage":{"prompt_tokens":9,"completion_tokens":2}}`+"\n\n"),
		[]byte(`data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}],"usage":{"prompt_tokens":9,"completion_tokens":3}}`+"\n\n"),
		[]byte(`data: {"choices":[{"delta":{"content":"Hi"}}],"usage":{"prompt_tokens":9,"completion_tokens":4,"completion_tokens_details":{"reasoning_tokens":2}}}`+"\n\ndata: [DONE]\n\n"))
	two := 2
	sameRecord(t, "reasoning", got, Record{InputTokens: 9, OutputTokens: 4, ServerUsage: true, ReasoningTokens: &two,
		ChunkTimes: []float64{2, 3, 4, 5}, Response: []byte("Hi")})
}

func TestSSEReaderFailsWhatItCannotMeasure(t *testing.T) {
	for _, tc := range []struct {
		name, stream, errType, msg string
		p                          prompt
	}{
		{"error object mid-stream", "data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: {\"error\": {\"message\": \"engine dead\", \"type\": \"InternalServerError\", \"code\": 500}}\n\ndata: {\"choices\":[{\"text\":\"b\"}]}\n\n",
			"InternalServerError", "engine dead", asked},
		{"TGI error string", "data:{\"error\":\"Request failed during generation: Server error\",\"error_type\":\"generation\"}\n\n",
			"generation", "Request failed during generation: Server error", asked},
		{"event: error with text", "event: error\ndata: upstream timed out\n\n", ErrTypeStreamError, `"upstream timed out"`, asked},
		{"event: error with an error object", "event: error\ndata: {\"error\":{\"message\":\"x\",\"type\":\"Overloaded\"}}\n\n", "Overloaded", "x", asked},
		{"garbage after the JSON", "data: {\"choices\": [{\"text\": \"a\"}]}garbage\n\n", ErrTypeInvalidEvent,
			`unreadable SSE event (data after the JSON value at byte 28): "{\"choices\": [{\"text\": \"a\"}]}garbage"`, asked},
		{"not JSON", "data: hello world\n\n", ErrTypeInvalidEvent, `unreadable SSE event (invalid character 'h' at byte 0): "hello world"`, asked},
		{"a field of the wrong type", "data: {\"choices\": [{\"text\": 7}]}\n\n", ErrTypeInvalidEvent,
			`unreadable SSE event (a text field is not a string at byte 22): "{\"choices\": [{\"text\": 7}]}"`, asked},
		{"cut inside an event", "data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: {\"choices\":[{\"te", ErrTypeInvalidEvent,
			`unreadable SSE event (the event's JSON ends before its value does): "{\"choices\":[{\"te"`, asked},
		{"blank line inside a JSON value", "data: {\"choices\":\n\n", ErrTypeInvalidEvent,
			`unreadable SSE event (the event's JSON ends before its value does): "{\"choices\":"`, asked},
		{"no token", "data: {\"choices\":[{\"text\":\"\"}]}\n\ndata: [DONE]\n\n", ErrTypeEmptyStream,
			"the stream held no generated token (1 events; 8 asked for)", asked},
		{"no event at all", "", ErrTypeEmptyStream, "the stream held no generated token (0 events; 8 asked for)", asked},
		{"an error as a JSON body with 200", "{\n  \"error\": {\n    \"message\": \"The model `x` does not exist.\",\n    \"type\": \"NotFoundError\"\n  }\n}\n",
			"NotFoundError", "The model `x` does not exist.", asked},
		{"a whole response to a streamed request", `{"choices":[{"text":"all at once"}]}`, ErrTypeEmptyStream,
			`the 200 response is not an event stream: "{\"choices\":[{\"text\":\"all at once\"}]}"`, asked},
	} {
		got := readSSE(tc.p, []byte(tc.stream))
		if got.Err == nil || got.Err.Status != 200 || got.Err.Type != tc.errType || got.Err.Message != tc.msg {
			t.Errorf("%s: got %+v, want 200 %s %q", tc.name, got.Err, tc.errType, tc.msg)
		}
	}
	// A long unreadable event is quoted in part: maxQuote bytes, then an ellipsis.
	long := "data: " + strings.Repeat("x", 500) + "\n\n"
	got := readSSE(asked, []byte(long))
	want := `unreadable SSE event (invalid character 'x' at byte 0): "` + strings.Repeat("x", 120) + `"…`
	if got.Err == nil || got.Err.Message != want {
		t.Errorf("long event: %+v", got.Err)
	}
	// Nothing asked for, nothing received: a success.
	if got := readSSE(prompt{inputTokens: 3}, []byte("data: [DONE]\n\n")); got.Err != nil || got.OutputTokens != 0 || got.InputTokens != 3 {
		t.Errorf("max_tokens 0: %+v", got)
	}
}

func TestSSEReaderWithoutUsageCountsTokenEvents(t *testing.T) {
	// No usage and no [DONE], but a finish_reason: complete (servers that omit [DONE]).
	got := readSSE(asked, []byte("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"\\u00e9\"},\"finish_reason\":\"length\"}]}\n\n"))
	sameRecord(t, "no usage", got, Record{InputTokens: 20, OutputTokens: 2, ChunkTimes: []float64{1, 1}, Response: []byte("a\xc3\xa9")})
}

// A vLLM-sized completions event (the simulator's shape), fed one per call as it arrives.
var benchEvent = []byte("data: {\"id\":\"cmpl-4f2a7c1e-9b3d-4e8a-a1c2-0d5e6f7a8b9c\",\"object\":\"text_completion\",\"created\":1764500000,\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"text\":\"quick \",\"logprobs\":null,\"finish_reason\":null}]}\n\n")

func BenchmarkSSEFeed(b *testing.B) {
	var rec Record
	r := newSSEReader(&rec, false)
	b.SetBytes(int64(len(benchEvent)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.feed(benchEvent, 1)
		if i%64 == 63 {
			rec.ChunkTimes = rec.ChunkTimes[:0]
		}
	}
	if r.chunks != b.N {
		b.Fatalf("%d tokens read of %d", r.chunks, b.N)
	}
}

// streamSeeds are whole streams: case 17 in every line-end spelling, comments, fields, multi-line
// data, one-newline events, reasoning, tool calls, surrogate pairs, errors and garbage.
var streamSeeds = []string{
	"data: {\"choices\": [{\"text\": \"tok \"}]}\n\ndata: {\"choices\": [], \"usage\": {\"prompt_tokens\": 20, \"completion_tokens\": 2}}\n\ndata: [DONE]\n\n",
	"data:{\"choices\":[{\"text\":\"a\"}]}\r\n\r\ndata:[DONE]\r\n\r\n",
	"data: {\"choices\":[{\"text\":\"a\"}]}\r\rdata: [DONE]\r\r",
	"\xEF\xBB\xBF: comment\nevent: message\nid: 1\nretry: 10\ndata: {\"choices\":\ndata: [{\"text\":\"\\ud83d\\ude00\"}]}\n\n",
	"data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"hm\"}}]}\ndata: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0}]}}]}\ndata: [DONE]\n",
	"event: error\ndata: {\"error\":{\"message\":\"x\",\"type\":\"T\"}}\n\n",
	"data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: {oops}\n\n",
	"{\"error\": {\"message\": \"not found\", \"type\": \"NotFoundError\"}}",
	"data: {\"choices\":[{\"text\":\"a\"",
}

// However a stream is cut into reads, and whichever line ends it uses, it reads the same.
func FuzzSSEStream(f *testing.F) {
	for _, s := range streamSeeds {
		f.Add([]byte(s), uint16(len(s)/2))
	}
	f.Add(case17(f), uint16(137))
	f.Fuzz(func(t *testing.T, stream []byte, cut uint16) {
		whole := readSSE(asked, stream)
		at := min(int(cut), len(stream))
		split := readSSE(asked, stream[:at], stream[at:])
		if len(whole.ChunkTimes) != len(split.ChunkTimes) {
			t.Fatalf("%q: %d tokens whole, %d cut at %d", stream, len(whole.ChunkTimes), len(split.ChunkTimes), at)
		}
		whole.ChunkTimes, split.ChunkTimes = nil, nil
		sameRecord(t, "split", split, whole)
		if bytes.IndexByte(stream, '\r') < 0 {
			for _, end := range []string{"\r\n", "\r"} {
				other := readSSE(asked, bytes.ReplaceAll(stream, []byte("\n"), []byte(end)))
				other.ChunkTimes = nil
				sameRecord(t, fmt.Sprintf("line ends %q", end), other, whole)
			}
		}
		if whole.Err != nil && strings.Contains(whole.Err.Message, "\n") {
			t.Errorf("a failure message of several lines: %q", whole.Err.Message)
		}
	})
}

// Issue 14 §1: streams that used to count as successes with a wrong figure. Expected values by
// hand from the tester's inputs (/tmp/fcsrv/sse).
func TestSSEReaderRefusesSilentWrongFigures(t *testing.T) {
	const tok = "data: {\"choices\":[{\"index\":0,\"text\":\"a\",\"finish_reason\":null}]}\n\n"
	const vllmErr = "data: {\"object\":\"error\",\"message\":\"engine dead\",\"type\":\"InternalServerError\",\"param\":null,\"code\":500}\n\n"
	for _, tc := range []struct {
		name, stream, errType, msg string
	}{
		{"vLLM error object after a token", tok + vllmErr + "data: [DONE]\n\n", "InternalServerError", "engine dead"},
		{"vLLM error object first", vllmErr, "InternalServerError", "engine dead"},
		{"cut after one token (close-delimited)", tok, ErrTypeIncompleteStream, "the stream ended before [DONE], a finish_reason or usage: cut short?"},
		{"usage says 0 tokens after 2 token events", tok + tok + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":0}}\n\ndata: [DONE]\n\n",
			ErrTypeUsageMismatch, "the usage says completion_tokens 0 but 2 token events arrived (8 asked for)"},
		{"negative prompt_tokens", tok + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":1}}\n\n",
			ErrTypeInvalidEvent, `unreadable SSE event (usage.prompt_tokens is negative at byte 39): "{\"choices\":[],\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":1}}"`},
		{"event: error with a JSON message", tok + "event: error\ndata: {\"message\": \"boom\"}\n\n", ErrTypeStreamError, "boom"},
		{"event: error with a JSON message and type", "event: error\ndata: {\"message\": \"boom\", \"type\": \"overloaded\"}\n\n", "overloaded", "boom"},
		{"event: error with plain text", "event: error\ndata: engine down\n\n", ErrTypeStreamError, `"engine down"`},
		{"finish_reason abort", tok + "data: {\"choices\":[{\"text\":\"\",\"finish_reason\":\"abort\"}]}\n\ndata: [DONE]\n\n", ErrTypeAborted, `the server ended the request with finish_reason "abort"`},
		{"finish_reason error", "data: {\"choices\":[{\"text\":\"a\",\"finish_reason\":\"error\"}]}\n\n", ErrTypeAborted, `the server ended the request with finish_reason "error"`},
	} {
		got := readSSE(asked, []byte(tc.stream))
		if got.Err == nil || got.Err.Status != 200 || got.Err.Type != tc.errType || got.Err.Message != tc.msg {
			t.Errorf("%s: got %+v, want 200 %s %q", tc.name, got.Err, tc.errType, tc.msg)
		}
	}
	// Still complete: [DONE] without finish_reason, usage without [DONE], finish_reason only.
	for name, stream := range map[string]string{
		"[DONE]":        tok + "data: [DONE]\n\n",
		"usage":         tok + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":1}}\n\n",
		"finish_reason": "data: {\"choices\":[{\"text\":\"a\",\"finish_reason\":\"stop\"}]}\n\n",
	} {
		if got := readSSE(asked, []byte(stream)); got.Err != nil || got.OutputTokens != 1 || got.InputTokens != 20 {
			t.Errorf("%s: %+v (err %+v), want a success with 20 in, 1 out", name, got, got.Err)
		}
	}
}

// Every kind of unmeasurable stream is counted for the warning; an unreadable event is named first.
func TestStreamFailuresCountsEveryUnmeasurableStream(t *testing.T) {
	cut := &RequestError{Status: 200, Type: ErrTypeIncompleteStream, Message: "cut"}
	mismatch := &RequestError{Status: 200, Type: ErrTypeUsageMismatch, Message: "0 vs 2"}
	bad := &RequestError{Status: 200, Type: ErrTypeInvalidEvent, Message: "bad"}
	refused := &RequestError{Status: 500, Type: "Internal Server Error"}
	res := &Result{Stages: []StageResult{{Records: []Record{{Err: cut}, {Err: refused}, {Err: mismatch}, {}}}}}
	if first, n := res.StreamFailures(); first != cut || n != 2 {
		t.Errorf("first %v, count %d; want the cut stream and 2", first, n)
	}
	res.Stages[0].Records = append(res.Stages[0].Records, Record{Err: bad})
	if first, n := res.StreamFailures(); first != bad || n != 3 {
		t.Errorf("first %v, count %d; want the unreadable event and 3", first, n)
	}
}
