package results

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// sameAsStrconv checks decimal against strconv.ParseFloat, the reference: where decimal takes
// the text, the bits must be identical; strconv must never reject what decimal takes.
func sameAsStrconv(t *testing.T, text string) (taken bool) {
	t.Helper()
	got, ok := decimal([]byte(text))
	want, err := strconv.ParseFloat(text, 64)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("decimal takes %q, which strconv rejects: %v", text, err)
	}
	if math.Float64bits(got) != math.Float64bits(want) {
		t.Fatalf("%q: decimal %v (%#x), strconv %v (%#x)", text, got, math.Float64bits(got), want, math.Float64bits(want))
	}
	return true
}

func TestDecimalMatchesStrconv(t *testing.T) {
	for _, text := range []string{
		"0", "-0", "0.0", "-0.0", "1", "0.1", "1283.4567890123456", "1283.45678901234567",
		"9007199254740992", "9007199254740993", // 2^53 and 2^53+1: a tie, to even (2^53)
		"9007199254740995",                         // a tie, to even (2^53+4)
		"4503599627370496.5", "4503599627370497.5", // 2^52 + 1/2 and + 3/2: ties with a fraction
		"9999999999999999999", "1844674407370955161.5", "0.0000000000000000001", "-0.000000000000000001",
		"00.5", "123456789.123456789", "18446744073709551615",
	} {
		if !sameAsStrconv(t, text) && len(strings.Replace(strings.TrimLeft(text, "-"), ".", "", 1)) <= 19 {
			t.Errorf("%q was not taken", text)
		}
	}
	// Forms left to strconv.ParseFloat.
	for _, text := range []string{"", "-", ".5", "5.", "1e5", "+1", "1.5E-3", "12345678901234567890", "1.2.3", "1-2", "0x10", "Inf", "1_0"} {
		if _, ok := decimal([]byte(text)); ok {
			t.Errorf("decimal took %q", text)
		}
	}
	// Random decimals of every length and point position, and ones near a float64's halfway
	// points (the digits of the exact midpoint of two neighbouring floats, cut to 19 digits).
	rng := rand.New(rand.NewPCG(5, 6))
	for range 200000 {
		n := 1 + rng.IntN(19)
		digits := make([]byte, n)
		for i := range digits {
			digits[i] = byte('0' + rng.IntN(10))
		}
		text := string(digits)
		if p := rng.IntN(n + 1); p > 0 && p < n {
			text = text[:p] + "." + text[p:]
		}
		if rng.IntN(2) == 0 {
			text = "-" + text
		}
		if !sameAsStrconv(t, text) {
			t.Fatalf("%q was not taken", text)
		}
	}
	// Exact midpoints of neighbouring float64s from 2^50 to 2^64 (ties, which round to the
	// even neighbour), and the decimals one unit in their last digit above and below.
	ties := 0
	for range 20000 {
		f := math.Ldexp(1+rng.Float64(), 50+rng.IntN(14))
		mid := new(big.Float).SetPrec(200).SetFloat64(f)
		mid.Add(mid, new(big.Float).SetFloat64(math.Nextafter(f, math.Inf(1))))
		mid.Quo(mid, big.NewFloat(2))
		text := mid.Text('f', -1)
		if len(strings.Replace(text, ".", "", 1)) > 19 {
			continue
		}
		ties++
		sameAsStrconv(t, text)
		last := text[len(text)-1]
		if last > '0' && last < '9' {
			sameAsStrconv(t, text[:len(text)-1]+string(last-1))
			sameAsStrconv(t, text[:len(text)-1]+string(last+1))
		}
	}
	if ties < 1000 {
		t.Fatalf("only %d ties tried", ties)
	}
}

// naiveClosingQuote walks the string forwards with the escape state of a JSON string (the
// reference for closingQuote): a backslash escapes the next byte, whatever it is.
func naiveClosingQuote(b []byte, i int) int {
	escaped := false
	for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
		escaped = !escaped
	}
	for ; i < len(b); i++ {
		switch {
		case escaped:
			escaped = false
		case b[i] == '\\':
			escaped = true
		case b[i] == '"':
			return i
		}
	}
	return -1
}

func TestClosingQuoteMatchesAForwardWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabets := []string{`"\a`, `"\\\\ab`, `\\\\\"`, `abcdefgh"`, `"\`}
	for range 100000 {
		alpha := alphabets[rng.IntN(len(alphabets))]
		b := make([]byte, rng.IntN(70))
		for i := range b {
			b[i] = alpha[rng.IntN(len(alpha))]
		}
		if len(b) > 40 && rng.IntN(2) == 0 { // a long quiet run, for the IndexByte hand-over
			for i := 3; i < len(b)-3; i++ {
				b[i] = 'x'
			}
		}
		i := 0
		if len(b) > 0 {
			i = rng.IntN(len(b))
		}
		if got, want := closingQuote(b, i), naiveClosingQuote(b, i); got != want {
			t.Fatalf("%q from %d: got %d, want %d", b, i, got, want)
		}
	}
}

func FuzzDecimal(f *testing.F) {
	for _, s := range []string{"1283.4567890123456", "9007199254740993", "-0", "4503599627370497.5", "1e5", "12345678901234567890"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) { sameAsStrconv(t, text) })
}

func FuzzClosingQuote(f *testing.F) {
	f.Add([]byte(`{\"choices\":[{\"text\":\" the\"}]}" tail`), 0)
	f.Add([]byte(`ab\\\\\"cd\\"`), 2)
	f.Fuzz(func(t *testing.T, b []byte, i int) {
		if i < 0 || i > len(b) {
			return
		}
		if got, want := closingQuote(b, i), naiveClosingQuote(b, i); got != want {
			t.Fatalf("%q from %d: got %d, want %d", b, i, got, want)
		}
	})
}

// jnode is a JSON value decoded by encoding/json with its object keys in file order (the
// reference reader of the differential fuzz target below).
type jnode struct {
	kind byte // '{', '[', '"' (string), '0' (number), 'b' (true or false), 'z' (null)
	num  json.Number
	keys []string
	vals []*jnode
}

func decodeOrdered(d *json.Decoder) (*jnode, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &jnode{kind: byte(t)}
		for d.More() {
			if t == '{' {
				k, err := d.Token()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k.(string))
			}
			v, err := decodeOrdered(d)
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, v)
		}
		_, err := d.Token() // the closing delimiter
		return n, err
	case json.Number:
		return &jnode{kind: '0', num: t}, nil
	case string:
		return &jnode{kind: '"'}, nil
	case bool:
		return &jnode{kind: 'b'}, nil
	}
	return &jnode{kind: 'z'}, nil
}

// refRecords reads, from a valid JSON document, what the per-request scanner must extract from
// each record: keys in file order, a later key overriding an earlier one, null numbers as 0,
// null token times skipped. ok is false for a document the scanner must refuse (not an array
// of objects, or a wanted field of the wrong type, or a number outside float64).
func refRecords(data []byte) (recs []record, ok bool) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	root, err := decodeOrdered(d)
	if err != nil || root.kind != '[' {
		return nil, false
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, false
	}
	bad := false
	num := func(n *jnode) float64 {
		switch n.kind {
		case 'z':
			return 0
		case '0':
			v, err := strconv.ParseFloat(string(n.num), 64)
			bad = bad || err != nil
			return v
		}
		bad = true
		return 0
	}
	times := func(n *jnode) []float64 {
		out := []float64{}
		switch n.kind {
		case 'z':
		case '[':
			for _, e := range n.vals {
				if e.kind != 'z' {
					out = append(out, num(e))
				}
			}
		default:
			bad = true
		}
		return out
	}
	fields := func(n *jnode, f func(k string, v *jnode)) {
		if n.kind != '{' {
			bad = true
			return
		}
		for i, k := range n.keys {
			f(k, n.vals[i])
		}
	}
	for _, r := range root.vals {
		var rec record
		fields(r, func(k string, v *jnode) {
			switch k {
			case "start_time":
				rec.start = num(v)
			case "end_time":
				rec.end = num(v)
			case "error":
				rec.failed = v.kind != 'z'
			case "info":
				fields(v, func(k string, v *jnode) {
					switch k {
					case "input_tokens":
						rec.inTokens = num(v)
					case "output_tokens":
						rec.outToken = num(v)
					case "output_token_times":
						rec.times = times(v)
					case "response_info", "response_metrics":
						fields(v, func(k string, v *jnode) {
							switch k {
							case "output_tokens":
								rec.outToken = num(v)
							case "output_token_times":
								rec.times = times(v)
							}
						})
					case "request_metrics":
						fields(v, func(k string, v *jnode) {
							if k == "text" && v.kind != 'z' {
								fields(v, func(k string, v *jnode) {
									if k == "input_tokens" {
										rec.inTokens = num(v)
									}
								})
							}
						})
					}
				})
			}
		})
		recs = append(recs, rec)
	}
	return recs, !bad
}

// scanRecords reads the records with the scanner and the per-request readers, in a buffer of
// the given size (small ones put every token across reads).
func scanRecords(data []byte, bufSize int) ([]record, error) {
	s := &scanner{r: bytes.NewReader(data), buf: make([]byte, bufSize)} // newScanner's, smaller
	var recs []record
	err := s.array(func() error {
		var rec record
		err := s.object(func(k []byte) error { return readRecordField(s, k, &rec) })
		if rec.times == nil {
			rec.times = []float64{}
		}
		recs = append(recs, rec)
		return err
	})
	if err != nil {
		return nil, err
	}
	if c, perr := s.peek(); perr == nil {
		return nil, s.errorf("unexpected %q after the array", c)
	}
	return recs, nil
}

// The scanner, fuzzed against encoding/json: on valid JSON it extracts exactly the values the
// reference reader does (bit for bit) or, where the reference says it must, refuses; on any
// input it never panics and errs in one line.
func FuzzScannerAgainstEncodingJSON(f *testing.F) {
	for layout := 4; layout <= 6; layout++ {
		recs := generate(3, uint64(layout))
		for i := range recs { // few token times: small seeds mutate and minimize fast
			recs[i].times = recs[i].times[:min(3, len(recs[i].times))]
		}
		f.Add(write(recs, layout), uint16(64))
	}
	f.Add([]byte(`[{"start_time": 1e2, "end_time": -0.5E-3, "info": {"output_token_times": [1.5, null, 2e-7, 12345678901234567890123]}, "error": null}]`), uint16(9))
	f.Add([]byte(`[{"start\u005ftime": 7, "a\"b": [{"]": "}\\"}], "error": {"x": "\\\""}, "error": null}]`), uint16(16))
	f.Add([]byte(`[{"info": {"request_metrics": {"text": null}, "response_metrics": {"output_tokens": 3, "output_token_times": [1,2,3]}}, "end_time": 1e400}]`), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, bufSize uint16) {
		got, err := scanRecords(data, 1+int(bufSize)%4096)
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("error of several lines: %q", err)
		}
		if !json.Valid(data) {
			return // the scanner does not check the grammar of what it skips
		}
		want, ok := refRecords(data)
		switch {
		case !ok && err == nil:
			t.Fatalf("the scanner took what it must refuse: %+v", got)
		case ok && err != nil:
			t.Fatalf("the scanner refused valid input: %v", err)
		case ok:
			if len(got) != len(want) {
				t.Fatalf("%d records, want %d", len(got), len(want))
			}
			for i := range got {
				g, w := got[i], want[i]
				if w.times == nil {
					w.times = []float64{}
				}
				same := math.Float64bits(g.start) == math.Float64bits(w.start) && math.Float64bits(g.end) == math.Float64bits(w.end) &&
					g.failed == w.failed && math.Float64bits(g.inTokens) == math.Float64bits(w.inTokens) &&
					math.Float64bits(g.outToken) == math.Float64bits(w.outToken) && len(g.times) == len(w.times)
				for j := 0; same && j < len(g.times); j++ {
					same = math.Float64bits(g.times[j]) == math.Float64bits(w.times[j])
				}
				if !same {
					t.Fatalf("record %d: scanner %+v, encoding/json %+v", i, g, w)
				}
			}
		}
	})
}

// addGaps holds the same values, in the same order, with the same sum as the gaps added one by
// one, across block boundaries (runs longer than a block, and runs split between two blocks).
func TestAddGapsAcrossBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	var batched series
	var gaps []float64
	for _, n := range []int{0, 1, 2, 1500, blockSize + 3, 777, 5} {
		times := make([]float64, n)
		clock := rng.Float64() * 1000
		for i := range times {
			times[i] = clock
			clock += rng.Float64() * 0.03
		}
		batched.addGaps(times)
		for i := 1; i < n; i++ {
			gaps = append(gaps, times[i]-times[i-1])
		}
	}
	var all []float64
	for _, b := range batched.blocks {
		if len(b) > blockSize {
			t.Fatalf("a block of %d values", len(b))
		}
		all = append(all, b...)
	}
	sum := 0.0
	for _, g := range gaps {
		sum += g
	}
	if len(all) != len(gaps) || batched.n != len(gaps) || batched.sum != sum {
		t.Fatalf("%d values (n %d, sum %v), want %d (sum %v)", len(all), batched.n, batched.sum, len(gaps), sum)
	}
	for i := range all {
		if all[i] != gaps[i] {
			t.Fatalf("value %d: %v, want %v", i, all[i], gaps[i])
		}
	}
	sameDist(t, "itl", batched.dist(), oracle(gaps))
}

// The histogram of selectRanks is sized to the series: small and skewed series (one value many
// times, all values in one bucket) still give numpy's percentiles, computed here by oracle.
func TestDistOfSmallAndSkewedSeries(t *testing.T) {
	cases := map[string][]float64{
		"one":  {0.25},
		"two":  {3, 1},
		"same": make([]float64, 5000),
		"one bucket": func() (v []float64) {
			for i := range 3000 {
				v = append(v, 1+float64(i)*1e-12)
			}
			return v
		}(),
		"negative and positive": {-2, 5, -0.5, 0, 7, 1e-300, -1e300},
	}
	for name, vals := range cases {
		var s series
		for _, v := range vals {
			s.add(v)
		}
		sameDist(t, name, s.dist(), oracle(vals))
	}
}

// skipContainer crosses hard strings (quotes after runs of backslashes, long strings, brackets
// inside strings) and deep nesting, and stops right after the container, in buffers of every
// small size; unpaired brackets and an unterminated string are errors.
func TestSkipContainerHardCases(t *testing.T) {
	for _, doc := range []string{
		`["a\\\\", "b\\\"c]", "]}{[", {"k\\": ["\\\\\\"]}, 1.5e3, null]`,
		`{"p": "` + strings.Repeat("long prompt text ", 40) + `", "q": [[[], {}], "x\\"]}`,
		`[[[[[[[[[[1]]]]]]]]]]`,
		`{"a":"\\"}`,
	} {
		for size := 1; size <= 80; size++ {
			s := &scanner{r: strings.NewReader(doc + ` ,"after"`), buf: make([]byte, size)}
			if err := s.skipValue(); err != nil {
				t.Fatalf("%s (buffer %d): %v", doc, size, err)
			}
			if got := s.consumed + int64(s.pos); got != int64(len(doc)) {
				t.Fatalf("%s (buffer %d): stopped at %d, want %d", doc, size, got, len(doc))
			}
		}
	}
	for _, bad := range []string{`[1, 2}`, `{"a": [}`, `["unterminated]`, `[[]`} {
		s := &scanner{r: strings.NewReader(bad), buf: make([]byte, 16)}
		if err := s.skipValue(); err == nil || !strings.Contains(err.Error(), "per-request file, byte ") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
