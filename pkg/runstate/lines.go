package runstate

import "bytes"

// LineBuffer turns a launcher's log, read in chunks that may end mid-line, into whole lines. The
// zero value is ready to use; keep one per launcher.
type LineBuffer struct {
	partial []byte
}

// Lines appends data and returns the lines it completes, each ending in "\n". The bytes after the
// last newline are kept for the next call. The returned slices are fresh copies.
func (b *LineBuffer) Lines(data []byte) [][]byte {
	buf := append(b.partial, data...)
	lines := bytes.SplitAfter(buf, []byte("\n"))
	last := lines[len(lines)-1]
	b.partial = append([]byte(nil), last...)
	lines = lines[:len(lines)-1]
	for i, l := range lines {
		lines[i] = append([]byte(nil), l...)
	}
	return lines
}

// Flush returns what is left of an unfinished last line, ended with "\n", or nil when nothing is.
func (b *LineBuffer) Flush() []byte {
	if len(b.partial) == 0 {
		return nil
	}
	rest := append(b.partial, '\n')
	b.partial = nil
	return rest
}
