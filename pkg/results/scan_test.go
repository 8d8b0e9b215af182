package results

import (
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
		"9007199254740995",                     // a tie, to even (2^53+4)
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
