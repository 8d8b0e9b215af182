package results

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"unsafe"
)

// scanner is a minimal streaming JSON reader for the per-request file: it reads the few numbers
// the metrics need and skips everything else (prompts, responses, chunks) at memchr speed, in a
// fixed buffer, so a multi-GB file costs neither its size in memory nor a full decode.
type scanner struct {
	r        io.Reader
	buf      []byte
	pos, end int
	consumed int64 // bytes dropped from the front of buf, for error offsets
	eof      bool
}

func newScanner(r io.Reader) *scanner {
	return &scanner{r: r, buf: make([]byte, 1<<20)}
}

// truncated is the error of a file that ends inside a value.
func (s *scanner) truncated() error {
	return s.errorf("the file ends in the middle of a JSON value (truncated?)")
}

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("per-request file, byte %d: %s", s.consumed+int64(s.pos), fmt.Sprintf(format, args...))
}

// fill keeps buf[pos:end] and reads more after it; false when nothing more can be read.
func (s *scanner) fill() bool {
	if s.eof {
		return false
	}
	if s.pos > 0 {
		n := copy(s.buf, s.buf[s.pos:s.end])
		s.consumed += int64(s.pos)
		s.pos, s.end = 0, n
	}
	if s.end == len(s.buf) {
		s.buf = append(s.buf, make([]byte, len(s.buf))...) // a single token longer than the buffer
	}
	n, err := s.r.Read(s.buf[s.end:])
	s.end += n
	if err != nil {
		s.eof = true
	}
	return n > 0 || !s.eof
}

// peek skips white space and returns the next byte without consuming it.
func (s *scanner) peek() (byte, error) {
	for {
		for s.pos < s.end {
			switch c := s.buf[s.pos]; c {
			case ' ', '\t', '\n', '\r':
				s.pos++
			default:
				return c, nil
			}
		}
		if !s.fill() {
			return 0, s.truncated()
		}
	}
}

func (s *scanner) expect(c byte) error {
	got, err := s.peek()
	if err != nil {
		return err
	}
	if got != c {
		return s.errorf("expected %q, found %q", c, got)
	}
	s.pos++
	return nil
}

// skipString consumes a string whose opening quote was consumed.
func (s *scanner) skipString() error {
	for {
		i := bytes.IndexByte(s.buf[s.pos:s.end], '"')
		if i < 0 {
			// Keep a trailing run of backslashes: it decides whether the next quote is escaped.
			keep := 0
			for keep < s.end-s.pos && s.buf[s.end-1-keep] == '\\' {
				keep++
			}
			s.pos = s.end - keep
			if !s.fill() {
				return s.truncated()
			}
			continue
		}
		q := s.pos + i
		slashes := 0
		for j := q - 1; j >= 0 && s.buf[j] == '\\'; j-- {
			slashes++
		}
		s.pos = q + 1
		if slashes%2 == 0 {
			return nil
		}
	}
}

// key reads an object key (keys here never contain escapes) and the colon after it.
func (s *scanner) key() ([]byte, error) {
	if err := s.expect('"'); err != nil {
		return nil, err
	}
	for {
		if i := bytes.IndexByte(s.buf[s.pos:s.end], '"'); i >= 0 {
			k := s.buf[s.pos : s.pos+i]
			s.pos += i + 1
			// The key stays valid until the next fill, which expect may cause: copy it.
			k = append([]byte(nil), k...)
			return k, s.expect(':')
		}
		if !s.fill() {
			return nil, s.truncated()
		}
	}
}

// numberBytes marks the bytes a JSON number can hold (a table: this runs for every digit).
var numberBytes = func() (t [256]bool) {
	for _, c := range []byte("0123456789+-.eE") {
		t[c] = true
	}
	return t
}()

func isNumberByte(c byte) bool { return numberBytes[c] }

// number reads a number, or null as (0, false).
func (s *scanner) number() (float64, bool, error) {
	c, err := s.peek()
	if err != nil {
		return 0, false, err
	}
	if c == 'n' {
		return 0, false, s.literal("null")
	}
	for {
		i := s.pos
		for i < s.end && isNumberByte(s.buf[i]) {
			i++
		}
		if i < s.end || s.eof {
			if i == s.pos {
				return 0, false, s.errorf("expected a number, found %q", c)
			}
			b := s.buf[s.pos:i]
			v, err := strconv.ParseFloat(unsafe.String(&b[0], len(b)), 64) // not retained
			if err != nil {
				return 0, false, s.errorf("bad number %q", b)
			}
			s.pos = i
			return v, true, nil
		}
		if !s.fill() {
			return 0, false, s.truncated()
		}
	}
}

func (s *scanner) literal(word string) error {
	for s.end-s.pos < len(word) {
		if !s.fill() {
			return s.truncated()
		}
	}
	if string(s.buf[s.pos:s.pos+len(word)]) != word {
		return s.errorf("expected %s", word)
	}
	s.pos += len(word)
	return nil
}

// skipValue consumes any value.
func (s *scanner) skipValue() error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	switch c {
	case '"':
		s.pos++
		return s.skipString()
	case '{':
		return s.object(func([]byte) error { return s.skipValue() })
	case '[':
		return s.array(s.skipValue)
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	return s.skipNumber()
}

// skipNumber consumes a number without converting it.
func (s *scanner) skipNumber() error {
	for {
		for s.pos < s.end {
			if !isNumberByte(s.buf[s.pos]) {
				return nil
			}
			s.pos++
		}
		if !s.fill() {
			return nil
		}
	}
}

// object walks an object, calling field for each key with the scanner at its value.
func (s *scanner) object(field func(key []byte) error) error {
	return s.sequence('{', '}', func() error {
		k, err := s.key()
		if err != nil {
			return err
		}
		return field(k)
	})
}

// array walks an array, calling elem with the scanner at each element.
func (s *scanner) array(elem func() error) error {
	return s.sequence('[', ']', elem)
}

// sequence walks the comma-separated items between open and close.
func (s *scanner) sequence(open, close byte, item func() error) error {
	if err := s.expect(open); err != nil {
		return err
	}
	c, err := s.peek()
	if err != nil {
		return err
	}
	if c == close {
		s.pos++
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		c, err := s.peek()
		if err != nil {
			return err
		}
		s.pos++
		switch c {
		case ',':
		case close:
			return nil
		default:
			return s.errorf("expected ',' or %q, found %q", close, c)
		}
	}
}
