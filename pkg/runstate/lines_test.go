package runstate

import (
	"strings"
	"testing"
)

func TestLineBuffer(t *testing.T) {
	var b LineBuffer
	var got []string
	collect := func(lines [][]byte) {
		for _, l := range lines {
			got = append(got, string(l))
		}
	}
	// Chunks split mid-line, an empty chunk, a chunk that is only a newline, an empty line.
	for _, chunk := range []string{"ab", "c\nde", "", "f\n\nxy", "\n", "tail"} {
		collect(b.Lines([]byte(chunk)))
	}
	want := []string{"abc\n", "def\n", "\n", "xy\n"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines %q, want %q", got, want)
	}
	if rest := string(b.Flush()); rest != "tail\n" {
		t.Errorf("flush %q, want %q", rest, "tail\n")
	}
	if rest := b.Flush(); rest != nil {
		t.Errorf("a second flush gave %q", rest)
	}
	// A returned line is not overwritten by later input.
	var c LineBuffer
	first := c.Lines([]byte("one\ntw"))
	c.Lines([]byte("XXXXXXXX\n"))
	if string(first[0]) != "one\n" {
		t.Errorf("an earlier line changed to %q", first[0])
	}
}
