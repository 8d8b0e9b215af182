package loadgen

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
)

// Failure types of streams that cannot be measured (the "Type" of a RequestError, written in the
// failures' by_label as "200 - <type>").
const (
	// ErrTypeInvalidEvent: an event of the stream could not be read (invalid JSON, a field of
	// the wrong type, a stream that ends inside an event).
	ErrTypeInvalidEvent = "invalid_stream_event"
	// ErrTypeEmptyStream: the stream carried no generated token although tokens were asked
	// for, or the 200 response was not an event stream at all.
	ErrTypeEmptyStream = "empty_stream"
	// ErrTypeStreamError: the server reported an error in the stream (an "error" object, an
	// "event: error", or a JSON error body with status 200) without a type of its own.
	ErrTypeStreamError = "stream_error"
	// ErrTypeIncompleteStream: the body ended without [DONE], and no choice carried a
	// finish_reason and no usage block arrived: the stream was cut short.
	ErrTypeIncompleteStream = "incomplete_stream"
	// ErrTypeUsageMismatch: the usage block says the server generated no token although token
	// events arrived (and tokens were asked for).
	ErrTypeUsageMismatch = "usage_mismatch"
	// ErrTypeAborted: a choice ended with finish_reason "abort" or "error": the server gave the
	// request up, whatever tokens it had sent.
	ErrTypeAborted = "aborted"
)

const (
	// maxSSELine bounds one line of the stream (a usage event is ~300 bytes; vLLM's largest
	// events, with logprobs, are a few KiB).
	maxSSELine = 4 << 20
	// maxQuote bounds the quote of an unreadable event in a failure message.
	maxQuote = 120
)

var bom = []byte("\xEF\xBB\xBF")

// sseReader reads one streamed response, fed the bytes as they arrive, and records its tokens in
// rec: it is the one stream parser of both transports (net/http and the event loop).
//
// It follows the WHATWG HTML "event stream" interpretation: a UTF-8 BOM at the start is dropped;
// lines end with CRLF, LF or CR; a line starting with ':' is a comment; "field:value" strips one
// space after the colon, a line without colon is a field with an empty value; data lines are
// joined with "\n"; event sets the event's type; id and retry are read and ignored (nothing is
// reconnected); other fields are ignored; an event is dispatched at a blank line. Departures, for
// servers that do not end their events with a blank line: an event is dispatched as soon as its
// data is a complete JSON value (so one-newline servers work, and multi-line data still joins
// until its JSON is complete), and at the end of the stream a pending event is read rather than
// dropped (an incomplete one is unreadable). An event whose data is empty or only whitespace is a
// keep-alive and skipped. "[DONE]" ends the stream, as does a clean end of the body
// after a choice carried a finish_reason or a usage block arrived (servers that omit [DONE]);
// a body that ends without any of the three was cut short (ErrTypeIncompleteStream).
//
// Each event is read with parseEvent. The time of a token is the arrival time of the bytes that
// completed its event.
type sseReader struct {
	rec      *Record
	keepText bool

	line      []byte // the start of a line whose end has not arrived
	data      []byte // the current event's data, when its JSON spans lines
	hasData   bool   // a data line of the current event was seen
	errorType bool   // the current event's type is "error"
	skipLF    bool   // the last byte fed was a CR: a LF first in the next feed belongs to it
	started   bool
	done      bool // [DONE], an error or an unreadable event: the rest is ignored
	sawDone   bool // the stream ended with [DONE]
	finished  bool // a choice carried a non-null finish_reason

	events int    // events dispatched
	chunks int    // events that carried a generated token
	other  []byte // lines that are not SSE fields, while no event came (a JSON body sent with 200)
	text   []byte // the response text, escaped forms decoded (keepText)
}

func newSSEReader(rec *Record, keepText bool) sseReader {
	return sseReader{rec: rec, keepText: keepText}
}

// feed reads the bytes that arrived at now. It reports true once the stream is over ([DONE], an
// error event, an unreadable event); later bytes are ignored.
func (r *sseReader) feed(b []byte, now float64) bool {
	if !r.started {
		// A byte order mark at the start is dropped, also when it arrives in pieces.
		if len(r.line)+len(b) < len(bom) && bytes.HasPrefix(bom, append(r.line[:len(r.line):len(r.line)], b...)) {
			r.line = append(r.line, b...)
			return false
		}
		r.started = true
		if len(r.line) > 0 {
			b, r.line = append(r.line, b...), nil
		}
		b = bytes.TrimPrefix(b, bom)
	}
	if r.skipLF && len(b) > 0 {
		r.skipLF = false
		if b[0] == '\n' {
			b = b[1:]
		}
	}
	for len(b) > 0 && !r.done {
		var line []byte
		lf := bytes.IndexByte(b, '\n')
		end := lf
		if end < 0 {
			end = len(b)
		}
		if cr := bytes.IndexByte(b[:end], '\r'); cr >= 0 {
			// A CR ends the line; a LF right after it is part of the same line end.
			line, b = b[:cr], b[cr+1:]
			if cr == lf-1 {
				b = b[1:]
			} else if len(b) == 0 {
				r.skipLF = true
			}
		} else if lf >= 0 {
			line, b = b[:lf], b[lf+1:]
		} else {
			if len(r.line)+len(b) > maxSSELine {
				r.unreadable(r.line, fmt.Errorf("a line longer than %d bytes", maxSSELine))
				return true
			}
			r.line = append(r.line, b...)
			return false
		}
		if len(r.line) > 0 {
			r.line = append(r.line, line...)
			line = r.line
		}
		r.onLine(line, now)
		r.line = r.line[:0]
	}
	return r.done
}

// end reads what is left when the body ended cleanly: a last line without its line end and a
// pending event.
func (r *sseReader) end(now float64) {
	if r.done {
		return
	}
	if len(r.line) > 0 {
		r.onLine(r.line, now)
		r.line = r.line[:0]
	}
	if r.hasData && !r.done {
		r.dispatch(r.data, true, now)
	}
}

func (r *sseReader) onLine(line []byte, now float64) {
	if len(line) == 0 {
		if r.hasData {
			r.dispatch(r.data, true, now)
		}
		r.errorType = false
		return
	}
	if line[0] == ':' {
		return // a comment
	}
	field, value := line, line[len(line):]
	if c := bytes.IndexByte(line, ':'); c >= 0 {
		field, value = line[:c], line[c+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(field) {
	case "data":
		if !r.hasData {
			r.hasData = true
			// The common case, one data line per event: read it in place.
			if r.dispatch(value, false, now) {
				return
			}
			r.data = append(r.data[:0], value...)
			return
		}
		r.data = append(append(r.data, '\n'), value...)
		if len(r.data) > maxSSELine {
			r.unreadable(r.data, fmt.Errorf("data longer than %d bytes", maxSSELine))
			return
		}
		r.dispatch(r.data, false, now)
	case "event":
		r.errorType = string(value) == "error"
	case "id", "retry":
	default:
		if r.events == 0 && len(r.other) < 64<<10 {
			r.other = append(append(r.other, line...), '\n')
		}
	}
}

// dispatch reads the current event's data; unless final (a blank line or the stream's end), an
// event whose JSON is not complete yet is left pending and false returned.
func (r *sseReader) dispatch(data []byte, final bool, now float64) bool {
	d := trimSpace(data)
	if len(d) == 0 && !final {
		return false
	}
	if len(d) > 0 && bytes.Equal(d, doneMarker) {
		r.reset()
		r.done, r.sawDone = true, true
		return true
	}
	if len(d) == 0 { // a keep-alive
		r.reset()
		return true
	}
	var ev event
	var text *[]byte
	if r.keepText {
		text = &r.text
	}
	mark := len(r.text)
	err := parseEvent(d, &ev, text)
	if err == errEventIncomplete && !final {
		r.text = r.text[:mark]
		return false
	}
	errorType := r.errorType
	r.reset()
	r.events++
	switch {
	case errorType:
		// "event: error": the data says why, as an error object or as plain text.
		t, msg := ErrTypeStreamError, quote(d)
		switch {
		case err == nil && ev.hasError:
			t, msg = ev.errorType(), ev.errMessage
		case err == nil && ev.topMessage != "":
			// {"message": "…", "type": "…"}: the message itself, not its JSON.
			msg = ev.topMessage
			if ev.topType != "" {
				t = ev.topType
			}
		}
		r.fail(t, msg)
	case err != nil:
		r.unreadable(d, err)
	case ev.hasError:
		r.fail(ev.errorType(), ev.errMessage)
	case ev.abortReason != "":
		r.fail(ErrTypeAborted, "the server ended the request with finish_reason "+strconv.Quote(ev.abortReason))
	default:
		r.apply(&ev, now)
	}
	return true
}

// trimSpace drops JSON whitespace at both ends.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func (r *sseReader) reset() {
	r.hasData, r.errorType = false, false
	r.data = r.data[:0]
}

func (ev *event) errorType() string {
	switch {
	case ev.errType != "":
		return ev.errType
	case ev.errTypeTop != "":
		return ev.errTypeTop
	}
	return ErrTypeStreamError
}

func (r *sseReader) apply(ev *event, now float64) {
	rec := r.rec
	if ev.finished {
		r.finished = true
	}
	if ev.tokens {
		r.chunks++
		rec.ChunkTimes = append(rec.ChunkTimes, now)
	}
	if ev.usage {
		// With vLLM's continuous_usage_stats every event holds the usage so far: the last wins.
		rec.ServerUsage = true
		rec.InputTokens, rec.OutputTokens = ev.prompt, ev.completion
		rec.CachedTokens = nil
		if ev.hasCached {
			n := ev.cached
			rec.CachedTokens = &n
		}
		rec.ReasoningTokens = nil
		if ev.hasReasoningTokens {
			n := ev.reasoningTokens
			rec.ReasoningTokens = &n
		}
	}
}

func (r *sseReader) fail(errType, msg string) {
	r.rec.Err = &RequestError{Status: http.StatusOK, Type: errType, Message: msg}
	r.done = true
}

// unreadable fails the request on an event that cannot be read, quoting it.
func (r *sseReader) unreadable(data []byte, err error) {
	r.fail(ErrTypeInvalidEvent, fmt.Sprintf("unreadable SSE event (%v): %s", err, quote(data)))
}

// quote returns data as a one-line Go-quoted string of at most maxQuote bytes of it.
func quote(data []byte) string {
	if len(data) > maxQuote {
		return strconv.Quote(string(data[:maxQuote])) + "…"
	}
	return strconv.Quote(string(data))
}

// finish ends the stream after a clean end of the body and decides the request's outcome: a
// 200 response that was no event stream, or a stream without a generated token when tokens were
// asked for, a stream cut short (no [DONE], finish_reason or usage), or a usage block that says 0
// tokens after token events, fails; counts fall back to the prompt's words and the token events without a usage
// block.
func (r *sseReader) finish(p prompt, now float64) {
	r.end(now)
	rec := r.rec
	if rec.Err == nil && r.events == 0 && len(bytes.TrimSpace(r.other)) > 0 {
		// Not an event stream: an error (or a whole response) sent as JSON with status 200.
		body := bytes.TrimSpace(r.other)
		var ev event
		if parseEvent(body, &ev, nil) == nil && ev.hasError {
			r.fail(ev.errorType(), ev.errMessage)
		} else {
			r.fail(ErrTypeEmptyStream, "the 200 response is not an event stream: "+quote(body))
		}
	}
	if rec.Err == nil && r.chunks == 0 && p.outputTokens > 0 {
		r.fail(ErrTypeEmptyStream, fmt.Sprintf("the stream held no generated token (%d events; %d asked for)", r.events, p.outputTokens))
	}
	if rec.Err == nil && !r.sawDone && !r.finished && !rec.ServerUsage {
		// Servers that omit [DONE] still send a finish_reason; a body that just stops does not.
		r.fail(ErrTypeIncompleteStream, "the stream ended before [DONE], a finish_reason or usage: cut short?")
	}
	if rec.Err == nil && rec.ServerUsage && rec.OutputTokens == 0 && r.chunks > 0 && p.outputTokens > 0 {
		r.fail(ErrTypeUsageMismatch, fmt.Sprintf("the usage says completion_tokens 0 but %d token events arrived (%d asked for)", r.chunks, p.outputTokens))
	}
	if !rec.ServerUsage {
		rec.InputTokens, rec.OutputTokens = p.inputTokens, r.chunks
	}
	if r.keepText {
		rec.Response = r.text
	}
}

// StreamFailures returns the failure of the first request, in schedule order, whose stream could
// not be measured (an unreadable event first; else a stream without a generated token, cut short,
// or whose usage contradicts its tokens), and how many requests failed so. Its Message quotes the event (at most maxQuote bytes, one line); nil and 0
// when every stream was read.
func (r *Result) StreamFailures() (first *RequestError, count int) {
	var firstEmpty *RequestError
	for _, s := range r.Stages {
		for i := range s.Records {
			switch e := s.Records[i].Err; {
			case e == nil || e.Status != http.StatusOK:
			case e.Type == ErrTypeInvalidEvent:
				if first == nil {
					first = e
				}
				count++
			case e.Type == ErrTypeEmptyStream || e.Type == ErrTypeIncompleteStream || e.Type == ErrTypeUsageMismatch:
				if firstEmpty == nil {
					firstEmpty = e
				}
				count++
			}
		}
	}
	if first == nil {
		first = firstEmpty
	}
	return first, count
}
