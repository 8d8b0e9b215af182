package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// evloop is the generator's HTTP/1.1 transport on Linux. A streamed token is one small TCP
// segment. Through net/http each one wakes a goroutine, and on a VM every wake-up of an idle CPU
// is expensive: at 200 req/s × 64 tokens that is 13,000 wake-ups a second and most of a second of
// CPU per 1,000 requests. Here one thread owns every connection and polls them all at a fixed
// pace (pollInterval), reading whatever arrived; each read's time is the kernel's receive
// timestamp of its data (SO_TIMESTAMPNS), so pacing the reads costs no timing accuracy. Senders
// write their own requests, so sending is never delayed by the pace. It serves plain http://
// endpoints without a proxy; anything else goes through net/http.
type evloop struct {
	epfd int
	wake int // an eventfd in the epoll set: written to stop the loop
	// interval paces the polls; 0 (no kernel timestamps) reads as soon as data arrives.
	interval time.Duration
	// realBase and monoBase map kernel (CLOCK_REALTIME) timestamps onto the run's clock.
	realBase int64
	monoBase float64
	sa       unix.Sockaddr
	family   int
	head     []byte // request line and headers up to the Content-Length value
	s        *sender
	conns    []atomic.Pointer[evconn] // by file descriptor
	mu       sync.Mutex
	idle     []*evconn
	closed   atomic.Bool
	stopped  chan struct{}
}

// evconn is one connection; its parse state belongs to the loop while a request is on it.
type evconn struct {
	fd  int
	buf []byte // read buffer
	out []byte // request bytes not yet written
	in  []byte // bytes read, not yet parsed

	status      int
	headerDone  bool
	interim     int // 1xx responses skipped
	chunked     bool
	lengthKnown bool
	remaining   int64 // body bytes left (Content-Length), or in the current chunk
	chunk       chunkState
	excess      int64 // chunk overhead beyond what net/http tolerates (see chunkSize)
	closeAfter  bool
	body        []byte // non-streamed or error body
	streamDone  bool
	abandon     bool // the stream failed (an error or unreadable event): the rest is not read

	mu    sync.Mutex // orders a cancel's shutdown against the loop closing the descriptor
	ended bool
	req   *evreq
}

// evreq is one request: what the sender waits for and reads back.
type evreq struct {
	rec      *Record
	p        prompt
	stream   sseReader
	reused   bool
	gotBytes bool
	status   int // the response's status, once its headers are read
	done     chan struct{}
	result   error // set before done is closed
}

const (
	evReadBuffer = 64 << 10
	pollInterval = 2 * time.Millisecond
	connectLimit = 10 * time.Second
	// loopWaitMillis bounds one wait of the loop for events (see rawEpollWait).
	loopWaitMillis = 5
)

// newEvloop starts the event loop for w's endpoint, or returns nil when the endpoint needs
// net/http (https, a proxy, an unresolvable host).
func newEvloop(ctx context.Context, s *sender, rawURL string, headers http.Header) (*evloop, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" {
		return nil, nil
	}
	req, _ := http.NewRequest(http.MethodPost, rawURL, nil)
	if p, err := http.ProxyFromEnvironment(req); err != nil || p != nil {
		return nil, nil
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, u.Hostname())
	if err != nil || len(ips) == 0 {
		return nil, fmt.Errorf("resolving %s: %w", u.Hostname(), err)
	}
	p, _ := strconv.Atoi(port)
	ev := &evloop{s: s, conns: make([]atomic.Pointer[evconn], 1<<16), stopped: make(chan struct{})}
	if ip4 := ips[0].IP.To4(); ip4 != nil {
		sa := &unix.SockaddrInet4{Port: p}
		copy(sa.Addr[:], ip4)
		ev.sa, ev.family = sa, unix.AF_INET
	} else {
		sa := &unix.SockaddrInet6{Port: p}
		copy(sa.Addr[:], ips[0].IP.To16())
		ev.sa, ev.family = sa, unix.AF_INET6
	}
	var h bytes.Buffer
	fmt.Fprintf(&h, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: kubectl-llmdbench\r\n", u.RequestURI(), u.Host)
	for k, vs := range headers {
		for _, v := range vs {
			fmt.Fprintf(&h, "%s: %s\r\n", k, v)
		}
	}
	h.WriteString("Content-Length: ")
	ev.head = h.Bytes()
	if ev.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, err
	}
	if ev.wake, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		_ = unix.Close(ev.epfd)
		return nil, err
	}
	if err := unix.EpollCtl(ev.epfd, unix.EPOLL_CTL_ADD, ev.wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(ev.wake)}); err != nil {
		_ = unix.Close(ev.wake)
		_ = unix.Close(ev.epfd)
		return nil, err
	}
	ev.interval = pollInterval
	if !receiveTimestamps(ev.family) {
		ev.interval = 0 // no receive timestamps: read on arrival instead
	}
	ev.realBase, ev.monoBase = time.Now().UnixNano(), s.clock()
	// The loop keeps a P of its own (see rawEpollWait); one more keeps the rest of the program
	// (the dispatcher above all) from waiting for it.
	addProcs(1)
	go ev.loop()
	return ev, nil
}

// receiveTimestamps tells whether the kernel timestamps received data (SO_TIMESTAMPNS).
func receiveTimestamps(family int) bool {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer func() { _ = unix.Close(fd) }()
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) == nil
}

// at converts a kernel receive timestamp to the run's clock.
func (ev *evloop) at(realNanos int64) float64 {
	return ev.monoBase + float64(realNanos-ev.realBase)/1e9
}

// close stops the loop and every idle connection (none is busy: the run waited for its requests).
func (ev *evloop) close() {
	if ev.closed.Swap(true) {
		return
	}
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	_, _ = unix.Write(ev.wake, one)
	<-ev.stopped
	addProcs(-1)
	ev.mu.Lock()
	for _, c := range ev.idle {
		_ = unix.Close(c.fd)
	}
	ev.idle = nil
	ev.mu.Unlock()
	_ = unix.Close(ev.wake)
	_ = unix.Close(ev.epfd)
}

// send runs one request through the loop; like sender.send it records failures in rec.
func (ev *evloop) send(ctx context.Context, p prompt, rec *Record) {
	rec.RequestSize = len(p.body)
	if ev.s.keepBodies {
		rec.Request = p.body
	}
	run := ctx
	if ev.s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ev.s.timeout)
		defer cancel()
	}
	rec.Start = ev.s.clock()
	for attempt := 0; ; attempt++ {
		c, reused, err := ev.conn()
		if err != nil {
			rec.End = ev.s.clock()
			rec.Err = &RequestError{Type: "connection_error", Message: err.Error()}
			return
		}
		req := &evreq{rec: rec, p: p, stream: newSSEReader(rec, ev.s.keepBodies), reused: reused, done: make(chan struct{})}
		err = ev.do(ctx, c, req)
		// A kept-alive connection the server had already closed fails before any byte of the
		// response: send once more on a fresh one, as net/http does.
		if err != nil && req.reused && !req.gotBytes && attempt == 0 && ctx.Err() == nil {
			*rec = Record{Stage: rec.Stage, Scheduled: rec.Scheduled, Start: rec.Start, RequestSize: rec.RequestSize, Request: rec.Request}
			continue
		}
		if rec.End == 0 {
			rec.End = ev.s.clock()
		}
		if rec.Err == nil && err != nil {
			rec.Err = transportError(run, err)
		}
		if err == nil && ev.s.streaming && req.status == http.StatusOK {
			req.stream.finish(p, ev.s.clock())
		}
		return
	}
}

// conn takes an idle connection or opens one (non-blocking; the loop completes the connect).
func (ev *evloop) conn() (*evconn, bool, error) {
	ev.mu.Lock()
	if n := len(ev.idle); n > 0 {
		c := ev.idle[n-1]
		ev.idle = ev.idle[:n-1]
		ev.mu.Unlock()
		return c, true, nil
	}
	ev.mu.Unlock()
	fd, err := unix.Socket(ev.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, false, err
	}
	if fd >= len(ev.conns) {
		_ = unix.Close(fd)
		return nil, false, errors.New("too many open connections")
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) // probed in newEvloop
	if err := unix.Connect(fd, ev.sockaddr()); err != nil && err != unix.EINPROGRESS {
		_ = unix.Close(fd)
		return nil, false, err
	}
	// The sender waits for the connection itself (it writes its request at once), so the
	// loop's pace never delays a request.
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	for {
		n, err := unix.Poll(pfd, int(connectLimit/time.Millisecond))
		if err == unix.EINTR {
			continue
		}
		if err == nil && n == 0 {
			err = fmt.Errorf("connect: timed out after %s", connectLimit)
		}
		if err == nil {
			if soErr, gerr := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); gerr != nil {
				err = gerr
			} else if soErr != 0 {
				err = fmt.Errorf("connect: %w", syscall.Errno(soErr))
			}
		}
		if err != nil {
			_ = unix.Close(fd)
			return nil, false, err
		}
		break
	}
	return &evconn{fd: fd, buf: make([]byte, evReadBuffer)}, false, nil
}

// sockaddr copies the endpoint's address: unix.Sockaddr values carry a scratch buffer that
// Connect writes to, so one cannot be shared between goroutines.
func (ev *evloop) sockaddr() unix.Sockaddr {
	switch sa := ev.sa.(type) {
	case *unix.SockaddrInet4:
		return &unix.SockaddrInet4{Port: sa.Port, Addr: sa.Addr}
	case *unix.SockaddrInet6:
		return &unix.SockaddrInet6{Port: sa.Port, Addr: sa.Addr}
	}
	return ev.sa
}

// do hands the request to the loop and waits for its end, or for the context.
func (ev *evloop) do(ctx context.Context, c *evconn, req *evreq) error {
	c.reset(req)
	c.out = make([]byte, 0, len(ev.head)+len(req.p.body)+32)
	c.out = append(c.out, ev.head...)
	c.out = strconv.AppendInt(c.out, int64(len(req.p.body)), 10)
	c.out = append(c.out, "\r\n\r\n"...)
	c.out = append(c.out, req.p.body...)
	for len(c.out) > 0 {
		n, err := rawWrite(c.fd, c.out)
		if err == unix.EAGAIN {
			break // the loop writes the rest when the socket drains
		}
		if err != nil {
			_ = unix.Close(c.fd)
			return fmt.Errorf("write: %w", err)
		}
		c.out = c.out[n:]
	}
	events := uint32(unix.EPOLLIN | unix.EPOLLRDHUP)
	if len(c.out) > 0 {
		events |= unix.EPOLLOUT
	}
	ev.conns[c.fd].Store(c)
	if err := rawEpollCtl(ev.epfd, unix.EPOLL_CTL_ADD, c.fd, &unix.EpollEvent{Events: events, Fd: int32(c.fd)}); err != nil {
		ev.conns[c.fd].Store(nil)
		_ = unix.Close(c.fd)
		return err
	}
	select {
	case <-req.done:
	case <-ctx.Done():
		// Wakes the loop on this connection, which then ends the request; unless it already has
		// (and closed or pooled the descriptor).
		c.mu.Lock()
		if !c.ended {
			_ = unix.Shutdown(c.fd, unix.SHUT_RDWR)
		}
		c.mu.Unlock()
		<-req.done
		return ctx.Err()
	}
	return req.result
}

// reset readies a connection for a new request (its owner alone touches it here).
func (c *evconn) reset(req *evreq) {
	c.in, c.body = c.in[:0], c.body[:0]
	c.status, c.headerDone, c.interim, c.chunked, c.lengthKnown = 0, false, 0, false, false
	c.remaining, c.chunk, c.excess, c.closeAfter, c.streamDone, c.abandon = 0, chunkSize, 0, false, false, false
	c.ended, c.req = false, req
}

func (ev *evloop) loop() {
	runtime.LockOSThread()
	defer close(ev.stopped)
	events := make([]unix.EpollEvent, 256)
	for !ev.closed.Load() {
		n, err := rawEpollWait(ev.epfd, events, loopWaitMillis)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		if n == 0 {
			continue
		}
		if ev.interval > 0 && n < len(events) {
			// Let the next pace's worth of segments arrive, then read them all in one pass.
			rawNanosleep(ev.interval)
			if more, err := rawEpollPoll(ev.epfd, events); err == nil {
				n = more
			}
		}
		for i := range n {
			fd := int(events[i].Fd)
			if fd < 0 || fd >= len(ev.conns) {
				continue
			}
			if c := ev.conns[fd].Load(); c != nil {
				ev.handle(c, events[i].Events)
			}
		}
	}
}

// handle writes what is pending and reads what arrived, ending the request when its response is
// complete or the connection fails.
func (ev *evloop) handle(c *evconn, events uint32) {
	if len(c.out) > 0 && events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		n, err := rawWrite(c.fd, c.out)
		if err != nil && err != unix.EAGAIN {
			ev.end(c, fmt.Errorf("write: %w", err), false)
			return
		}
		c.out = c.out[max(n, 0):]
		if len(c.out) == 0 {
			_ = rawEpollCtl(ev.epfd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(c.fd)})
		}
	}
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) == 0 {
		return
	}
	var oob [64]byte
	for {
		n, oobn, err := rawRecvmsg(c.fd, c.buf, oob[:])
		now := ev.received(oob[:max(oobn, 0)])
		if err == unix.EAGAIN {
			return
		}
		if err != nil {
			ev.end(c, fmt.Errorf("read: %w", err), false)
			return
		}
		if n == 0 {
			if c.headerDone && !c.chunked && !c.lengthKnown {
				_, err := ev.bodyEnd(c) // a body delimited by the connection's end
				ev.end(c, err, false)
			} else {
				ev.end(c, errors.New("the server closed the connection before the response ended"), false)
			}
			return
		}
		c.req.gotBytes = true
		done, err := ev.parse(c, c.buf[:n], now)
		if err != nil || done {
			ev.end(c, err, err == nil && !c.closeAfter)
			return
		}
		if c.abandon {
			ev.end(c, nil, false) // the connection goes with the rest of the failed stream
			return
		}
		if n < len(c.buf) {
			return // level-triggered: more data, if any, wakes us again
		}
	}
}

// received is when a read's data arrived: its kernel timestamp, else now.
func (ev *evloop) received(oob []byte) float64 {
	const hdr = unix.SizeofCmsghdr
	for len(oob) >= hdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if h.Len < hdr || int(h.Len) > len(oob) {
			break
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && h.Len >= hdr+16 {
			sec := int64(binary.NativeEndian.Uint64(oob[hdr:]))
			nsec := int64(binary.NativeEndian.Uint64(oob[hdr+8:]))
			return ev.at(sec*1e9 + nsec)
		}
		oob = oob[cmsgAlign(int(h.Len)):]
	}
	return ev.s.clock()
}

func cmsgAlign(n int) int { return (n + 7) &^ 7 }

// end finishes the request on c: the connection goes back to the idle pool when it can carry
// another request, else it is closed.
func (ev *evloop) end(c *evconn, err error, keep bool) {
	_ = rawEpollCtl(ev.epfd, unix.EPOLL_CTL_DEL, c.fd, &unix.EpollEvent{})
	ev.conns[c.fd].Store(nil)
	req := c.req
	req.result = err
	c.mu.Lock()
	c.ended = true
	if !keep || ev.closed.Load() {
		_ = unix.Close(c.fd)
	}
	c.mu.Unlock()
	close(req.done)
	if keep && !ev.closed.Load() {
		ev.mu.Lock()
		ev.idle = append(ev.idle, c)
		ev.mu.Unlock()
	}
}

// The response parser follows net/http exactly (FuzzEvloopResponseParse checks it against
// http.ReadResponse): the status line and headers go through http.ReadResponse itself (once per
// response, a few microseconds), and the chunked transfer coding below ports
// net/http/internal/chunked.go and body.readTrailer (Go 1.26): CRLF-terminated size lines of at
// most 4 KiB, extensions ignored, at most 16 hex digits, bounded overhead, CRLF after each
// chunk's data, and a trailer that ends within 4 KiB. Interim 1xx responses are skipped (at most
// 5, as net/http's Transport does); 101 is refused.

type chunkState uint8

const (
	chunkSize    chunkState = iota // waiting for a chunk-size line
	chunkData                      // in a chunk's data (remaining bytes left)
	chunkDataEnd                   // waiting for the CRLF after a chunk's data
	chunkTrailer                   // after the last chunk: an empty line or trailer fields
)

const (
	maxChunkLine    = 4096 // net/http's maxLineLength and its reader's buffer size
	maxChunkExcess  = 16 << 10
	maxInterim      = 5
	maxHeaderBlock  = 64 << 10
	errChunkTooMuch = "chunked encoding contains too much non-data"
)

var (
	crlf       = []byte("\r\n")
	doubleCRLF = []byte("\r\n\r\n")
)

// parse consumes response bytes; it reports true when the response is complete.
func (ev *evloop) parse(c *evconn, data []byte, now float64) (bool, error) {
	for !c.headerDone {
		c.in = append(c.in, data...)
		data = nil
		end := headerBlockEnd(c.in)
		if end < 0 {
			if len(c.in) > maxHeaderBlock {
				return false, errors.New("response headers larger than 64 KiB")
			}
			return false, nil
		}
		resp, err := http.ReadResponse(bufio.NewReaderSize(bytes.NewReader(c.in[:end]), end), nil)
		if err != nil {
			return false, fmt.Errorf("reading the response head: %w", err)
		}
		rest := c.in[end:]
		switch {
		case resp.StatusCode == http.StatusSwitchingProtocols:
			return false, errors.New("the server switched protocols (101)")
		case resp.StatusCode >= 100 && resp.StatusCode < 200:
			// An interim response (100 Continue, 103 Early Hints): the real one follows.
			if c.interim++; c.interim > maxInterim {
				return false, errors.New("too many 1xx informational responses")
			}
			c.in = append(c.in[:0], rest...)
			if len(c.in) == 0 {
				return false, nil
			}
			continue
		}
		c.status = resp.StatusCode
		c.req.status = c.status
		c.headerDone = true
		c.closeAfter = resp.Close
		c.chunked = len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"
		c.lengthKnown = !c.chunked && resp.ContentLength >= 0
		c.remaining = max(resp.ContentLength, 0)
		data = append([]byte(nil), rest...)
		c.in = c.in[:0]
		if !bodyAllowed(c.status) || c.lengthKnown && c.remaining == 0 {
			return ev.bodyEnd(c)
		}
	}
	if !c.chunked {
		if c.lengthKnown {
			if int64(len(data)) > c.remaining {
				data = data[:c.remaining]
			}
			c.remaining -= int64(len(data))
		}
		ev.bodyBytes(c, data, now)
		if c.lengthKnown && c.remaining == 0 {
			return ev.bodyEnd(c)
		}
		return false, nil
	}
	c.in = append(c.in, data...)
	front := c.in[:0] // the buffer's start, where the unparsed tail goes back
	done, err := ev.chunks(c, now)
	if done || err != nil {
		c.in = c.in[:0]
		if err != nil {
			return false, err
		}
		return ev.bodyEnd(c)
	}
	// Move the unparsed tail to the front (an overlapping copy, no allocation per read).
	c.in = append(front, c.in...)
	return false, nil
}

// chunks decodes the chunked body in c.in as far as it goes; it reports true after the last
// chunk and its trailer.
func (ev *evloop) chunks(c *evconn, now float64) (bool, error) {
	for {
		switch c.chunk {
		case chunkSize:
			i := bytes.IndexByte(c.in, '\n')
			if i < 0 && len(c.in) < maxChunkLine {
				return false, nil
			}
			if i < 0 || i >= maxChunkLine {
				return false, errors.New("chunk size line too long")
			}
			line := c.in[:i+1]
			if cr := bytes.IndexByte(line, '\r'); cr < 0 {
				return false, errors.New("chunked line ends with bare LF")
			} else if cr != len(line)-2 {
				return false, errors.New("invalid CR in chunked line")
			}
			line = line[:len(line)-2]
			c.excess += int64(len(line)) + 2
			line = bytes.TrimRight(line, " \t")
			if semi := bytes.IndexByte(line, ';'); semi >= 0 {
				line = line[:semi] // a chunk extension, ignored
			}
			size, err := parseChunkSize(line)
			if err != nil {
				return false, err
			}
			if c.excess -= 16 + 2*size; c.excess < 0 {
				c.excess = 0
			}
			if c.excess > maxChunkExcess {
				return false, errors.New(errChunkTooMuch)
			}
			c.in = c.in[i+1:]
			if size == 0 {
				c.chunk = chunkTrailer
			} else {
				c.chunk, c.remaining = chunkData, size
			}
		case chunkData:
			take := min(int64(len(c.in)), c.remaining)
			ev.bodyBytes(c, c.in[:take], now)
			c.in = c.in[take:]
			if c.remaining -= take; c.remaining > 0 {
				return false, nil
			}
			c.chunk = chunkDataEnd
		case chunkDataEnd:
			if len(c.in) < 2 {
				return false, nil
			}
			if !bytes.HasPrefix(c.in, crlf) {
				return false, errors.New("malformed chunked encoding")
			}
			c.in = c.in[2:]
			c.chunk = chunkSize
		case chunkTrailer:
			if len(c.in) < 2 {
				return false, nil
			}
			if bytes.HasPrefix(c.in, crlf) {
				return true, nil
			}
			// Trailer fields (rare): they must end within net/http's 4 KiB window.
			window := c.in[:min(len(c.in), maxChunkLine)]
			j := bytes.Index(window, doubleCRLF)
			if j < 0 {
				if len(c.in) >= maxChunkLine {
					return false, errors.New("suspiciously long trailer after chunked body")
				}
				return false, nil
			}
			if _, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(c.in[:j+4]))).ReadMIMEHeader(); err != nil {
				return false, fmt.Errorf("reading the trailer: %w", err)
			}
			return true, nil
		}
	}
}

// parseChunkSize reads a chunk size: 1 to 16 hex digits (a size beyond int64 fails too).
func parseChunkSize(v []byte) (int64, error) {
	if len(v) == 0 {
		return 0, errors.New("empty hex number for chunk length")
	}
	if len(v) > 16 {
		return 0, errors.New("http chunk length too large")
	}
	var n uint64
	for _, b := range v {
		d := unhex(b)
		if d < 0 {
			return 0, errors.New("invalid byte in chunk length")
		}
		n = n<<4 | uint64(d)
	}
	if n > math.MaxInt64/4 {
		return 0, errors.New("http chunk length too large")
	}
	return int64(n), nil
}

// headerBlockEnd returns the length of the response head (through its empty line, which ends
// with LF or CRLF as textproto reads lines), or -1 while it is incomplete.
func headerBlockEnd(b []byte) int {
	if bytes.HasPrefix(b, []byte("\n")) {
		return 1
	}
	if bytes.HasPrefix(b, crlf) {
		return 2
	}
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		case i >= len(b) || i+1 >= len(b) && b[i] == '\r':
			return -1
		}
	}
}

// bodyAllowed reports whether a response with this status may have a body (RFC 9110 §6.4.1).
func bodyAllowed(status int) bool {
	return !(status >= 100 && status < 200 || status == http.StatusNoContent || status == http.StatusNotModified)
}

// bodyBytes feeds decoded body bytes: SSE lines of a streamed 200, else the body is kept.
func (ev *evloop) bodyBytes(c *evconn, data []byte, now float64) {
	if c.status != http.StatusOK || !ev.s.streaming {
		if len(c.body) < 1<<20 || c.status == http.StatusOK {
			c.body = append(c.body, data...)
		}
		return
	}
	if !c.streamDone && c.req.stream.feed(data, now) {
		c.streamDone = true
		c.req.rec.End = now
		c.abandon = c.req.rec.Err != nil
	}
}

// bodyEnd completes the response: errors and whole bodies are decoded here.
func (ev *evloop) bodyEnd(c *evconn) (bool, error) {
	switch {
	case c.status != http.StatusOK:
		c.req.rec.Err = httpError(c.status, c.body)
	case !ev.s.streaming:
		if err := ev.s.readWhole(bytes.NewReader(c.body), c.req.p, c.req.rec); err != nil {
			return true, err
		}
	}
	return true, nil
}
