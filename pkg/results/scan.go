package results

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strconv"
	"unsafe"
)

// scanner is a minimal streaming JSON reader for the per-request file: it reads the few numbers
// the metrics need and skips everything else (prompts, responses, chunks), in a fixed 1 MiB
// buffer, so a multi-GB file costs neither its size in memory nor a full decode. About 1 GB/s
// on one core (BenchmarkScanPerRequest), because:
//   - strings are crossed eight bytes a time (closingQuote), long quote-free runs at vector
//     speed (bytes.IndexByte);
//   - a skipped array or object is crossed by matching its brackets (skipContainer), not walked
//     value by value: what lies inside is not checked against the JSON grammar, beyond its
//     strings ending and its brackets pairing up;
//   - the numbers read, nearly all plain decimals, are converted without strconv (decimal),
//     exactly: the same float64 as strconv.ParseFloat, which takes every other form.
//
// Object keys are compared decoded (escapes resolved), as encoding/json compares them.
type scanner struct {
	r        io.Reader
	buf      []byte
	pos, end int
	consumed int64 // bytes dropped from the front of buf, for error offsets
	eof      bool
	stack    []byte // open brackets of the container skipContainer is in
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
		if q := closingQuote(s.buf[:s.end], s.pos); q >= 0 {
			s.pos = q + 1
			return nil
		}
		// Keep a trailing run of backslashes: it decides whether the next quote is escaped.
		keep := 0
		for keep < s.end-s.pos && s.buf[s.end-1-keep] == '\\' {
			keep++
		}
		s.pos = s.end - keep
		if !s.fill() {
			return s.truncated()
		}
	}
}

// SWAR constants: a byte repeated in every lane of a uint64, the lanes' low seven bits, and
// their top bits.
const (
	lanes = 0x0101010101010101
	low7  = 0x7f7f7f7f7f7f7f7f
	tops  = 0x8080808080808080
)

// eqLanes sets the top bit of every lane of w (8 bytes, little-endian) that equals the byte
// repeated in pattern, and only those: the low seven bits of each lane are added apart from the
// top bit, so no carry crosses into the next lane.
func eqLanes(w, pattern uint64) uint64 {
	x := w ^ pattern
	return ^((x&low7 + low7) | x) & tops
}

// closingQuote returns the index in b of the first quote at or after i that no backslash
// escapes, or -1. A quote is escaped when an odd run of backslashes precedes it; the run is
// counted back from the quote inside b, which must therefore start inside the string (after
// its opening quote, or at backslashes kept from before).
//
// Escape-dense text (a JSON document inside a string, as response chunks are) has a quote every
// few bytes, most of them escaped: eight bytes at a time, the lanes holding a quote and those
// holding a backslash give, without a branch per quote, the quotes surely not escaped (no
// backslash before) and those that need their run counted (two or more backslashes before);
// a quote after exactly one backslash is escaped and passed over. A run of 16 bytes without a
// quote (a prompt) hands over to bytes.IndexByte, which crosses long text at vector speed.
func closingQuote(b []byte, i int) int {
	prev := slashesBefore(b, i) // the backslash lanes of the word before
	lastQuote := i              // where the last word holding a quote started
	for i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		qm, bm := eqLanes(w, lanes*'"'), eqLanes(w, lanes*'\\')
		after1 := bm<<8 | prev>>56  // lanes right after a backslash
		after2 := bm<<16 | prev>>48 // lanes two after a backslash
		free := qm &^ after1
		// One branch per word, rarely taken inside a string: escaped quotes pass through.
		if stop := free | qm&after1&after2; stop != 0 {
			for ; stop != 0; stop &= stop - 1 {
				q := i + bits.TrailingZeros64(stop)>>3
				if free&stop&-stop != 0 || evenSlashes(b, q) {
					return q
				}
			}
		}
		if qm != 0 {
			lastQuote = i
		}
		prev = bm
		i += 8
		if i-lastQuote > 16 { // a long run without quotes (a prompt): vector speed
			j := bytes.IndexByte(b[i:], '"')
			if j < 0 {
				return -1
			}
			i = i + j
			lastQuote, prev = i, slashesBefore(b, i)
		}
	}
	for ; i < len(b); i++ {
		if b[i] == '"' && evenSlashes(b, i) {
			return i
		}
	}
	return -1
}

// slashesBefore marks, in the top two lanes of a word, whether b[i-2] and b[i-1] are backslashes.
func slashesBefore(b []byte, i int) (m uint64) {
	if i >= 1 && b[i-1] == '\\' {
		m |= 0x80 << 56
	}
	if i >= 2 && b[i-2] == '\\' {
		m |= 0x80 << 48
	}
	return m
}

// evenSlashes tells whether the run of backslashes right before b[q] is even (the quote there
// is not escaped).
func evenSlashes(b []byte, q int) bool {
	slashes := 0
	for j := q - 1; j >= 0 && b[j] == '\\'; j-- {
		slashes++
	}
	return slashes%2 == 0
}

// key reads an object key and the colon after it. The key is returned decoded (JSON escapes
// resolved, as encoding/json reads it) in memory of its own.
func (s *scanner) key() ([]byte, error) {
	if err := s.expect('"'); err != nil {
		return nil, err
	}
	s.pos-- // at the opening quote, which fill then keeps
	for {
		if q := closingQuote(s.buf[:s.end], s.pos+1); q >= 0 {
			raw := s.buf[s.pos : q+1] // with its quotes
			s.pos = q + 1
			var k []byte
			if bytes.IndexByte(raw, '\\') < 0 {
				// It stays valid until the next fill, which expect may cause: copy it.
				k = append([]byte(nil), raw[1:len(raw)-1]...)
			} else {
				var str string
				if err := json.Unmarshal(raw, &str); err != nil {
					return nil, s.errorf("bad object key %s", raw)
				}
				k = []byte(str)
			}
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
	// A plain decimal that ends inside the buffer: no second pass over its bytes.
	if v, n, ok := decimalPrefix(s.buf[s.pos:s.end]); ok && s.pos+n < s.end && !numberBytes[s.buf[s.pos+n]] {
		s.pos += n
		return v, true, nil
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
			v, ok := decimal(b)
			if !ok {
				var err error
				v, err = strconv.ParseFloat(unsafe.String(&b[0], len(b)), 64) // not retained
				if err != nil {
					return 0, false, s.errorf("bad number %q", b)
				}
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
	case '{', '[':
		return s.skipContainer()
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	return s.skipNumber()
}

// byteClass sorts the bytes skipContainer stops at: 1 a quote, 2 an opening and 3 a closing
// bracket; every other byte (numbers, literals, commas, colons, white space) is 0.
var byteClass = func() (t [256]uint8) {
	t['"'] = 1
	t['['], t['{'] = 2, 2
	t[']'], t['}'] = 3, 3
	return t
}()

// structural marks the lanes of w that hold a quote or a bracket: '[' and ']' are '{' and '}'
// without the 0x20 bit, and no other byte becomes '{' or '}' when it is set.
func structural(w uint64) uint64 {
	v := w | lanes*0x20
	return eqLanes(w, lanes*'"') | eqLanes(v, lanes*'{') | eqLanes(v, lanes*'}')
}

// skipContainer consumes the array or object at pos by matching its brackets (a stack, so that
// `[}` is an error) and jumping over strings; what lies between is not checked against the
// JSON grammar (its numbers are not parsed), which is what makes skipping fast.
func (s *scanner) skipContainer() error {
	s.stack = s.stack[:0]
	for {
		buf, i := s.buf[:s.end], s.pos
		for i < len(buf) {
			c := buf[i]
			switch byteClass[c] {
			case 0: // jump to the next quote or bracket, eight bytes at a time
				if i+8 > len(buf) {
					i++
				} else if m := structural(binary.LittleEndian.Uint64(buf[i:])); m != 0 {
					i += bits.TrailingZeros64(m) >> 3
				} else {
					i += 8
				}
				continue
			case 1:
				if q := closingQuote(buf, i+1); q >= 0 {
					i = q + 1
					continue
				}
				s.pos = i + 1
				if err := s.skipString(); err != nil {
					return err
				}
				buf, i = s.buf[:s.end], s.pos
				continue
			case 2:
				s.stack = append(s.stack, c+2) // '[' + 2 is ']', '{' + 2 is '}'
			case 3:
				n := len(s.stack)
				if n == 0 || s.stack[n-1] != c {
					s.pos = i
					if n == 0 {
						return s.errorf("unexpected %q", c)
					}
					return s.errorf("expected ',' or %q, found %q", s.stack[n-1], c)
				}
				s.stack = s.stack[:n-1]
				if n == 1 {
					s.pos = i + 1
					return nil
				}
			}
			i++
		}
		s.pos = i
		if !s.fill() {
			return s.truncated()
		}
	}
}

// pow10 holds 10^k for k = 0..19, every one exact in a uint64.
var pow10 = func() (t [20]uint64) {
	t[0] = 1
	for k := 1; k < len(t); k++ {
		t[k] = t[k-1] * 10
	}
	return t
}()

// pow10f holds 10^k for k = 0..19 as float64s, every one exact (10^22 is the last that is).
var pow10f = func() (t [20]float64) {
	for k := range t {
		t[k] = float64(pow10[k])
	}
	return t
}()

// decimal converts a plain decimal, -?D+(.D+)? with at most 19 digits in all, to the nearest
// float64 (ties to even), exactly as strconv.ParseFloat does; ok is false for any other form
// (exponents, more digits, signs other than a leading '-'), which the caller hands to
// strconv.ParseFloat.
func decimal(b []byte) (float64, bool) {
	v, n, ok := decimalPrefix(b)
	return v, ok && n == len(b)
}

// decimalPrefix converts the plain decimal at the start of b (see decimal) and says how many
// bytes it took; what follows is the caller's to check. The value is M/10^K for integers M < 2^64
// and K <= 19. Below 2^53 both are exact float64s and one IEEE 754 division rounds their
// quotient correctly (Clinger's fast path). Above, M is shifted left to 63 bits more than 10^K
// has and divided by 10^K in 128 bits (math/bits.Div64): the quotient holds 63 or 64
// significant bits; its top 53 are the significand, rounded by the bits below and the remainder
// (round half to even, IEEE 754 section 4.3.1). The results here (1e-19 up to 2^64) are all
// normal floats, so the exponent needs no range check.
func decimalPrefix(b []byte) (v float64, n int, ok bool) {
	i, neg := 0, false
	if len(b) > 0 && b[0] == '-' {
		neg, i = true, 1
	}
	var m uint64
	start := i
	i, m = digits(b, i, 0)
	intDigits := i - start
	if intDigits == 0 {
		return 0, 0, false
	}
	frac := 0
	if i < len(b) && b[i] == '.' {
		i++
		fracStart := i
		i, m = digits(b, i, m)
		frac = i - fracStart
		if frac == 0 {
			return 0, 0, false
		}
	}
	if intDigits+frac > 19 { // m may have wrapped: it is not used
		return 0, 0, false
	}
	switch {
	case m < 1<<53:
		v = float64(m) / pow10f[frac]
	default:
		d := pow10[frac]
		s := 63 + bits.Len64(d) - bits.Len64(m) // 0..126
		var hi, lo uint64
		if s >= 64 {
			hi = m << (s - 64)
		} else {
			hi, lo = m>>(64-s), m<<s
		}
		q, r := bits.Div64(hi, lo, d) // hi < d: m<<s < 2^(63+len(d)) <= 2^64 * d
		drop := bits.Len64(q) - 53    // 10 or 11
		mant, rest, half := q>>drop, q&(1<<drop-1), uint64(1)<<(drop-1)
		if rest > half || rest == half && (r != 0 || mant&1 == 1) {
			mant++
		}
		exp := drop - s // the value is mant * 2^exp
		if mant == 1<<53 {
			mant, exp = mant>>1, exp+1
		}
		v = math.Float64frombits(uint64(exp+52+1023)<<52 | mant&(1<<52-1))
	}
	if neg {
		v = -v
	}
	return v, i, true
}

// digits reads the decimal digits of b from i on into m (m*10 + digit each, wrapping past
// 2^64, which callers rule out by counting), eight at a time where it can, and returns where
// they end. A word of fewer than eight digits is read at once too: its digits shifted to the
// top lanes, '0's below them.
func digits(b []byte, i int, m uint64) (int, uint64) {
	for i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		// '0'..'9' are 0x30..0x39: high nibble 3, and no carry out of the low one when 6 is
		// added. A carry out of a lane above 0xf9 can only spoil the lanes after it, which the
		// lowest other byte ends before.
		other := (w&(lanes*0xf0) ^ lanes*0x30) | ((w+lanes*6)&(lanes*0xf0) ^ lanes*0x30)
		if other == 0 {
			m = m*100000000 + eightDigits(w)
			i += 8
			continue
		}
		n := bits.TrailingZeros64(((other&low7)+low7|other)&tops) >> 3 // digits before it
		if n > 0 {
			shift := 8 * (8 - n)
			m = m*pow10[n] + eightDigits(w<<shift|lanes*'0'>>(64-shift))
		}
		return i + n, m
	}
	for ; i < len(b) && b[i]-'0' < 10; i++ {
		m = m*10 + uint64(b[i]-'0')
	}
	return i, m
}

// eightDigits is the value of eight ASCII digits read little-endian (the first digit in the
// lowest byte): neighbouring lanes are combined pairwise three times (10*a+b in bytes, 100*a+b
// in 16-bit and 10000*a+b in 32-bit lanes), every partial sum below its lane's limit.
func eightDigits(w uint64) uint64 {
	w -= lanes * '0'
	w = (w*10 + w>>8) & 0x00ff00ff00ff00ff
	w = (w*100 + w>>16) & 0x0000ffff0000ffff
	return (w*10000 + w>>32) & 0xffffffff
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
