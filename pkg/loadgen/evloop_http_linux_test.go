package loadgen

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
)

// evloopRead runs the event loop's response parser over raw, delivered in three reads cut at a
// and b, then a clean end of the connection, as handle does. Bodies are kept whole (no stream).
func evloopRead(raw []byte, a, b int) (status int, body []byte, err error) {
	ev := &evloop{s: &sender{clock: func() float64 { return 0 }}}
	c := &evconn{}
	c.reset(&evreq{rec: &Record{}, done: make(chan struct{})})
	a, b = min(a, len(raw)), min(b, len(raw))
	a, b = min(a, b), max(a, b)
	for _, piece := range [][]byte{raw[:a], raw[a:b], raw[b:]} {
		if len(piece) == 0 {
			continue
		}
		done, err := ev.parse(c, piece, 0)
		if err != nil {
			return 0, nil, err
		}
		if done {
			return c.status, c.body, nil
		}
	}
	if c.headerDone && !c.chunked && !c.lengthKnown {
		if _, err := ev.bodyEnd(c); err != nil {
			return 0, nil, err
		}
		return c.status, c.body, nil // a body delimited by the connection's end
	}
	return 0, nil, io.ErrUnexpectedEOF
}

// netHTTPRead reads the same bytes as net/http's Transport does: http.ReadResponse, skipping up
// to 5 interim 1xx responses, then the whole body.
func netHTTPRead(raw []byte) (status int, body []byte, err error) {
	br := bufio.NewReader(bytes.NewReader(raw))
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/v1/completions", nil)
	for interim := 0; ; interim++ {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return 0, nil, err
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return 0, nil, io.ErrUnexpectedEOF // the generator never asks to switch
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 {
			if interim == maxInterim {
				return 0, nil, io.ErrUnexpectedEOF
			}
			continue
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return 0, nil, err
		}
		return resp.StatusCode, body, nil
	}
}

var responseSeeds = []string{
	// vLLM through uvicorn: chunked SSE
	"HTTP/1.1 200 OK\r\ndate: Mon, 01 Dec 2025 10:00:00 GMT\r\nserver: uvicorn\r\ncontent-type: text/event-stream; charset=utf-8\r\ntransfer-encoding: chunked\r\n\r\n" +
		"46\r\ndata: {\"choices\":[{\"index\":0,\"text\":\" Paris\",\"finish_reason\":null}]}\n\n\r\n" +
		"e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n",
	// an error with Content-Length, and one with extra bytes after it
	"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: 58\r\n\r\n" +
		`{"error":{"message":"Rate limit reached","type":"TooMany"}}`,
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabcd",
	// close-delimited, HTTP/1.0, LF-only lines, no reason phrase
	"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: [DONE]\n\n",
	"HTTP/1.1 200 OK\nContent-Length: 3\n\nabc",
	"HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx",
	// interim responses, no-body statuses
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz",
	"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
	"HTTP/1.1 304 Not Modified\r\n\r\n",
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
	// chunk extensions, uppercase hex, trailers, whitespace after the size
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\nA \t\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n",
	// transfer-encoding wins over content-length; chunked ignored in HTTP/1.0
	"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
	"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
	// invalid: bare LF in a chunk line, CR inside one, no CRLF after data, bad hex, bad status,
	// differing lengths, unsupported coding, a cut body, a header without colon
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\na\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r;\r\na\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nx\r\na\r\n0\r\n\r\n",
	"HTTP/1.1 20 OK\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
	"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
	"SSH-2.0-OpenSSH_9.6\r\n\r\n",
}

func TestEvloopResponseParseAgreesWithNetHTTPOnSeeds(t *testing.T) {
	for _, s := range responseSeeds {
		for _, cut := range [][2]int{{0, 0}, {1, 2}, {len(s) / 3, 2 * len(s) / 3}, {len(s) - 1, len(s)}} {
			checkAgainstNetHTTP(t, []byte(s), cut[0], cut[1])
		}
	}
	// Values by hand: the SSE chunks decode to the two events, 70 + 14 bytes (python3: len of each).
	status, body, err := evloopRead([]byte(responseSeeds[0]), 100, 200)
	if err != nil || status != 200 || len(body) != 70+14 || !bytes.HasSuffix(body, []byte("data: [DONE]\n\n")) {
		t.Errorf("vLLM stream: %d %q %v", status, body, err)
	}
}

func FuzzEvloopResponseParse(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s), uint16(len(s)/3), uint16(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, raw []byte, a, b uint16) { checkAgainstNetHTTP(t, raw, int(a), int(b)) })
}

func checkAgainstNetHTTP(t *testing.T, raw []byte, a, b int) {
	t.Helper()
	wantStatus, wantBody, wantErr := netHTTPRead(raw)
	status, body, err := evloopRead(raw, a, b)
	if (err == nil) != (wantErr == nil) || status != wantStatus || !bytes.Equal(body, wantBody) {
		t.Errorf("%q cut at %d, %d:\n event loop %d %q %v\n net/http   %d %q %v", raw, a, b, status, body, err, wantStatus, wantBody, wantErr)
	}
}
