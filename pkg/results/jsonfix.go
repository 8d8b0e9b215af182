package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// nonFiniteToNull rewrites the bare tokens NaN, Infinity and -Infinity outside JSON strings to
// null. Python's json.dump writes them for a float that is not finite (inference-perf and GuideLLM
// are Python), and encoding/json refuses them; a value that is not a number is no measurement, so
// null is what it means. Line breaks are kept, so line numbers in later errors stay right. The
// input is returned as it is when it holds no such token.
func nonFiniteToNull(b []byte) []byte {
	if bytes.IndexByte(b, 'N') < 0 && bytes.IndexByte(b, 'I') < 0 {
		return b
	}
	var out []byte // allocated on the first rewrite
	last := 0
	inString, escaped := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		var n int
		switch {
		case c == '"':
			inString = true
			continue
		case c == 'N' && bytes.HasPrefix(b[i:], []byte("NaN")):
			n = 3
		case c == 'I' && bytes.HasPrefix(b[i:], []byte("Infinity")):
			n = 8
		case c == '-' && bytes.HasPrefix(b[i:], []byte("-Infinity")):
			n = 9
		default:
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(b))
		}
		out = append(out, b[last:i]...)
		out = append(out, "null"...)
		i += n - 1
		last = i + 1
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// lineCol gives the 1-based line and column of a byte offset.
func lineCol(b []byte, offset int64) (line, col int) {
	if offset > int64(len(b)) {
		offset = int64(len(b))
	}
	if offset < 0 {
		offset = 0
	}
	head := b[:offset]
	line = bytes.Count(head, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(head, '\n') + 1) + 1
	return line, col
}

// errTruncated says a JSON document stops inside a value.
var errTruncated = errors.New("the file ends in the middle of a JSON value (truncated?)")

// jsonError names the file and where in it a JSON decode failed, on one line: the line and
// column of a syntax error, or that the file is cut short.
func jsonError(path string, b []byte, err error) error {
	return fmt.Errorf("%s: %w", path, jsonDetail(b, err))
}

// jsonDetail is jsonError without the file name.
func jsonDetail(b []byte, err error) error {
	var syn *json.SyntaxError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errTruncated
	case errors.As(err, &syn):
		if syn.Error() == "unexpected end of JSON input" {
			return errTruncated
		}
		// Offset counts the bytes read when the error was found: the culprit is the last of them.
		line, col := lineCol(b, max(syn.Offset-1, 0))
		return fmt.Errorf("line %d, column %d: %w", line, col, err)
	}
	return err
}
