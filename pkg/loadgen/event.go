package loadgen

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// event is what one streamed event of an OpenAI-compatible server says. The fields are those of
// the chunk objects that vLLM, SGLang, TGI and OpenAI send (OpenAI API reference, "The chat
// completion chunk object" and "The completion object"):
//
//	{"choices": [{"text": "…",                                 // completions
//	              "delta": {"content": "…",                    // chat
//	                        "reasoning_content": "…",          // vLLM/SGLang reasoning parsers
//	                        "reasoning": "…",                  // vLLM ≥ 0.10, OpenRouter
//	                        "tool_calls": [ … ]}}],
//	 "usage": {"prompt_tokens": N, "completion_tokens": N,
//	           "prompt_tokens_details": {"cached_tokens": N},
//	           "completion_tokens_details": {"reasoning_tokens": N}},
//	 "error": {"message": "…", "type": "…"} | "…",              // vLLM/OpenAI | TGI
//	 "error_type": "…"}                                        // TGI
//
// Every other key is skipped (after checking that its value is valid JSON).
type event struct {
	// tokens is true when a choice carries a generated token: a non-empty text, content,
	// reasoning_content or reasoning, or a non-empty tool_calls list.
	tokens bool
	// usage is true when the event holds a non-null usage object.
	usage               bool
	prompt, completion  int
	cached              int
	reasoningTokens     int
	hasReasoningTokens  bool // completion_tokens_details.reasoning_tokens is present and not null
	hasError            bool // a non-null "error" value
	errType, errMessage string
	errTypeTop          string // the top-level "error_type" (TGI)
	// finished is true when a choice carries a non-null finish_reason.
	finished bool
	// abortReason is a finish_reason that says the server gave up ("abort", "error").
	abortReason string
	// objectError is true when the top-level "object" is "error": vLLM's error object sent as
	// an event, {"object":"error","message":"…","type":"…","param":null,"code":500}.
	objectError bool
	// topMessage and topType are the top-level "message" and "type" (vLLM's error object, or
	// the JSON data of an "event: error").
	topMessage, topType string
	// hasCached is true when usage.prompt_tokens_details.cached_tokens is present and not null.
	hasCached bool
}

// eventSyntaxError says why an event's JSON cannot be read, and where.
type eventSyntaxError struct {
	msg    string
	offset int
}

func (e *eventSyntaxError) Error() string { return e.msg + " at byte " + strconv.Itoa(e.offset) }

// errEventIncomplete is returned when the JSON ends before its value does: more data lines may
// still complete it.
var errEventIncomplete = errors.New("the event's JSON ends before its value does")

// maxEventDepth is the nesting limit of encoding/json, so that both refuse the same events.
const maxEventDepth = 10000

// parseEvent reads one event's JSON (the SSE data field) into ev. When text is not nil, the
// decoded choices[].text and choices[].delta.content are appended to it (per choice, text before
// content). It accepts exactly what encoding/json accepts when unmarshalling into a struct of the
// fields above (any whitespace, key order and escape; a top-level null is an empty event), with
// two exceptions that no server produces: keys match case-sensitively, and of a repeated key
// each occurrence is read in turn. It returns errEventIncomplete when the input ends early.
func parseEvent(b []byte, ev *event, text *[]byte) error {
	s := scanner{b: b}
	null, err := s.openObject()
	if err != nil {
		return err
	}
	if !null {
		for n := 0; ; {
			more, err := s.more(&n, '}')
			if err != nil {
				return err
			}
			if !more {
				break
			}
			key, err := s.key()
			if err != nil {
				return err
			}
			switch string(key) {
			case "choices":
				err = s.choices(ev, text)
			case "usage":
				err = s.usage(ev)
			case "error":
				err = s.errorValue(ev)
			case "error_type":
				err = s.textInto(&ev.errTypeTop)
			case "object":
				// Compared in place: every chunk has an "object", and reading it must not allocate.
				var raw []byte
				var esc bool
				if raw, esc, _, err = s.stringValue(); err == nil {
					ev.objectError = !esc && string(raw) == "error" ||
						esc && string(appendUnquoted(s.keyBuf[:0], raw, true)) == "error"
				}
			case "message":
				err = s.textInto(&ev.topMessage)
			case "type":
				err = s.textInto(&ev.topType)
			default:
				err = s.skip()
			}
			if err != nil {
				return err
			}
		}
	}
	s.space()
	if s.i < len(s.b) {
		return s.syntax("data after the JSON value")
	}
	if ev.objectError && !ev.hasError {
		// vLLM's top-level error object: {"object":"error","message":…,"type":…,"code":…}.
		ev.hasError, ev.errMessage, ev.errType = true, ev.topMessage, ev.topType
	}
	return nil
}

// textInto reads a string or null into *dst (null leaves it as it is, as encoding/json does).
func (s *scanner) textInto(dst *string) error {
	raw, esc, null, err := s.stringValue()
	if err == nil && !null {
		*dst = string(appendUnquoted(nil, raw, esc))
	}
	return err
}

// scanner walks one JSON text.
type scanner struct {
	b      []byte
	i      int
	depth  int
	keyBuf [32]byte
}

func (s *scanner) syntax(msg string) error {
	if s.i >= len(s.b) {
		return errEventIncomplete
	}
	return &eventSyntaxError{msg: msg, offset: s.i}
}

func (s *scanner) mismatch(field, want string) error {
	return &eventSyntaxError{msg: field + " is not " + want, offset: s.i}
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or errEventIncomplete.
func (s *scanner) peek() (byte, error) {
	s.space()
	if s.i >= len(s.b) {
		return 0, errEventIncomplete
	}
	return s.b[s.i], nil
}

// openObject consumes '{', or a null (reported as true).
func (s *scanner) openObject() (null bool, err error) {
	c, err := s.peek()
	if err != nil {
		return false, err
	}
	switch c {
	case 'n':
		return true, s.literal("null")
	case '{':
		return false, s.open()
	}
	if !validStart(c) {
		return false, s.syntax("invalid character " + strconv.QuoteRune(rune(c)))
	}
	return false, s.mismatch("the event", "an object")
}

// open consumes '{' or '[' (already checked).
func (s *scanner) open() error {
	s.i++
	if s.depth++; s.depth > maxEventDepth {
		return s.syntax("nested too deeply")
	}
	return nil
}

// more moves to the next member of an object or element of an array: it reports false at the
// closing byte end, which it consumes. n counts the members seen.
func (s *scanner) more(n *int, end byte) (bool, error) {
	c, err := s.peek()
	if err != nil {
		return false, err
	}
	if c == end {
		s.i++
		s.depth--
		return false, nil
	}
	if *n > 0 {
		if c != ',' {
			return false, s.syntax("missing ',' or closing bracket")
		}
		s.i++
	}
	*n++
	return true, nil
}

// key reads an object key and its colon; the key is unescaped (into a scratch buffer) if needed.
func (s *scanner) key() ([]byte, error) {
	c, err := s.peek()
	if err != nil {
		return nil, err
	}
	if c != '"' {
		return nil, s.syntax("an object key is not a string")
	}
	raw, esc, err := s.str()
	if err != nil {
		return nil, err
	}
	if esc {
		raw = appendUnquoted(s.keyBuf[:0], raw, true)
	}
	if c, err = s.peek(); err != nil {
		return nil, err
	}
	if c != ':' {
		return nil, s.syntax("missing ':' after an object key")
	}
	s.i++
	return raw, nil
}

// strSafe marks the bytes that a string holds without a second look.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// str reads a string at s.i (a '"'): its raw body between the quotes, and whether it has escapes.
func (s *scanner) str() (raw []byte, esc bool, err error) {
	b := s.b
	start := s.i + 1
	j := start
	for {
		// Eight bytes at a time while none of them is a quote, a backslash or a control
		// character (the SWAR "has zero byte" test; its lowest flag is exact).
		for j+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[j:])
			q, e := x^(lsb*'"'), x^(lsb*'\\')
			if t := ((x-lsb*0x20)&^x | (q-lsb)&^q | (e-lsb)&^e) & msb; t != 0 {
				j += bits.TrailingZeros64(t) >> 3
				break
			}
			j += 8
		}
		for j < len(b) && strSafe[b[j]] {
			j++
		}
		if j >= len(b) {
			s.i = j
			return nil, false, errEventIncomplete
		}
		switch c := b[j]; {
		case c == '"':
			s.i = j + 1
			return b[start:j], esc, nil
		case c == '\\':
			esc = true
			if j+1 >= len(b) {
				s.i = len(b)
				return nil, false, errEventIncomplete
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				for k := j + 2; k < j+6; k++ {
					if k >= len(b) {
						s.i = len(b)
						return nil, false, errEventIncomplete
					}
					if unhex(b[k]) < 0 {
						s.i = k
						return nil, false, s.syntax("invalid \\u escape")
					}
				}
				j += 6
			default:
				s.i = j + 1
				return nil, false, s.syntax("invalid escape in a string")
			}
		default: // a control character
			s.i = j
			return nil, false, s.syntax("control character in a string")
		}
	}
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func validStart(c byte) bool {
	switch c {
	case '{', '[', '"', 't', 'f', 'n', '-':
		return true
	}
	return '0' <= c && c <= '9'
}

func (s *scanner) literal(word string) error {
	for k := 0; k < len(word); k++ {
		if s.i >= len(s.b) {
			return errEventIncomplete
		}
		if s.b[s.i] != word[k] {
			return s.syntax("invalid literal")
		}
		s.i++
	}
	return nil
}

// number reads a number; integer tells whether it has neither fraction nor exponent.
func (s *scanner) number() (raw []byte, integer bool, err error) {
	b, start := s.b, s.i
	digits := func() error {
		if s.i >= len(b) {
			return errEventIncomplete
		}
		if b[s.i] < '0' || b[s.i] > '9' {
			return s.syntax("invalid number")
		}
		for s.i < len(b) && '0' <= b[s.i] && b[s.i] <= '9' {
			s.i++
		}
		return nil
	}
	if b[s.i] == '-' {
		s.i++
	}
	if s.i < len(b) && b[s.i] == '0' {
		s.i++
	} else if err := digits(); err != nil {
		return nil, false, err
	}
	integer = true
	if s.i < len(b) && b[s.i] == '.' {
		s.i++
		integer = false
		if err := digits(); err != nil {
			return nil, false, err
		}
	}
	if s.i < len(b) && (b[s.i] == 'e' || b[s.i] == 'E') {
		s.i++
		integer = false
		if s.i < len(b) && (b[s.i] == '+' || b[s.i] == '-') {
			s.i++
		}
		if err := digits(); err != nil {
			return nil, false, err
		}
	}
	if s.i >= len(b) {
		// The number may go on in the next data line; a complete event never ends in one.
		return nil, false, errEventIncomplete
	}
	return b[start:s.i], integer, nil
}

// skip checks and skips one value.
func (s *scanner) skip() error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	switch c {
	case '{':
		if err := s.open(); err != nil {
			return err
		}
		for n := 0; ; {
			more, err := s.more(&n, '}')
			if err != nil || !more {
				return err
			}
			if _, err := s.key(); err != nil {
				return err
			}
			if err := s.skip(); err != nil {
				return err
			}
		}
	case '[':
		if err := s.open(); err != nil {
			return err
		}
		for n := 0; ; {
			more, err := s.more(&n, ']')
			if err != nil || !more {
				return err
			}
			if err := s.skip(); err != nil {
				return err
			}
		}
	case '"':
		_, _, err := s.str()
		return err
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	if c == '-' || '0' <= c && c <= '9' {
		_, _, err := s.number()
		return err
	}
	return s.syntax("invalid character " + strconv.QuoteRune(rune(c)))
}

// typed reads the start of a value that must be of kind want ('{', '[', '"', or '0' for an
// integer): it reports null, or checks that the value is valid JSON of another kind (encoding/json
// reports a syntax error before a type mismatch) and returns the mismatch.
func (s *scanner) typed(field string, want byte) (null bool, err error) {
	c, err := s.peek()
	if err != nil {
		return false, err
	}
	if c == 'n' {
		return true, s.literal("null")
	}
	if c == want || want == '0' && (c == '-' || '0' <= c && c <= '9') {
		return false, nil
	}
	at := s.i
	if err := s.skip(); err != nil {
		return false, err
	}
	s.i = at
	kind := map[byte]string{'{': "an object", '[': "an array", '"': "a string", '0': "an integer"}[want]
	return false, s.mismatch(field, kind)
}

// stringValue reads a string or null.
func (s *scanner) stringValue() (raw []byte, esc, null bool, err error) {
	if null, err = s.typed("a text field", '"'); err != nil || null {
		return nil, false, null, err
	}
	raw, esc, err = s.str()
	return raw, esc, false, err
}

// intValue reads an integer or null (null leaves the value at 0, as encoding/json does).
func (s *scanner) intValue(field string) (int, bool, error) {
	null, err := s.typed(field, '0')
	if err != nil || null {
		return 0, false, err
	}
	at := s.i
	raw, integer, err := s.number()
	if err != nil {
		return 0, false, err
	}
	if !integer {
		s.i = at
		return 0, false, s.mismatch(field, "an integer")
	}
	v, perr := strconv.ParseInt(string(raw), 10, strconv.IntSize)
	if perr != nil {
		s.i = at
		return 0, false, s.mismatch(field, "an integer in range")
	}
	if v < 0 {
		// A token count below zero is no count: refused, not turned into negative throughput.
		s.i = at
		return 0, false, &eventSyntaxError{msg: field + " is negative", offset: at}
	}
	return int(v), true, nil
}

func (s *scanner) choices(ev *event, text *[]byte) error {
	null, err := s.typed("choices", '[')
	if err != nil || null {
		return err
	}
	if err := s.open(); err != nil {
		return err
	}
	for n := 0; ; {
		more, err := s.more(&n, ']')
		if err != nil || !more {
			return err
		}
		if err := s.choice(ev, text); err != nil {
			return err
		}
	}
}

func (s *scanner) choice(ev *event, text *[]byte) error {
	null, err := s.typed("a choice", '{')
	if err != nil || null {
		return err
	}
	if err := s.open(); err != nil {
		return err
	}
	var txt, content []byte
	var txtEsc, contentEsc bool
	for n := 0; ; {
		more, err := s.more(&n, '}')
		if err != nil {
			return err
		}
		if !more {
			break
		}
		key, err := s.key()
		if err != nil {
			return err
		}
		switch string(key) {
		case "text":
			var null bool
			if txt, txtEsc, null, err = s.stringValue(); err == nil && null {
				txt = nil
			}
		case "delta":
			content, contentEsc, err = s.delta(ev)
		case "finish_reason":
			var raw []byte
			var null bool
			if raw, _, null, err = s.stringValue(); err == nil && !null {
				ev.finished = true
				// vLLM ends a request it gave up on with "abort" (and "error" in newer releases).
				if r := string(raw); r == "abort" || r == "error" {
					ev.abortReason = r
				}
			}
		default:
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
	if len(txt) > 0 || len(content) > 0 {
		ev.tokens = true
		if text != nil {
			*text = appendUnquoted(*text, txt, txtEsc)
			*text = appendUnquoted(*text, content, contentEsc)
		}
	}
	return nil
}

// delta reads a chat chunk's delta; it returns the raw content.
func (s *scanner) delta(ev *event) (content []byte, esc bool, err error) {
	null, err := s.typed("delta", '{')
	if err != nil || null {
		return nil, false, err
	}
	if err := s.open(); err != nil {
		return nil, false, err
	}
	for n := 0; ; {
		more, err := s.more(&n, '}')
		if err != nil {
			return nil, false, err
		}
		if !more {
			return content, esc, nil
		}
		key, err := s.key()
		if err != nil {
			return nil, false, err
		}
		switch string(key) {
		case "content":
			content, esc, _, err = s.stringValue()
		case "reasoning_content", "reasoning":
			var raw []byte
			if raw, _, _, err = s.stringValue(); len(raw) > 0 {
				ev.tokens = true
			}
		case "tool_calls":
			err = s.toolCalls(ev)
		default:
			err = s.skip()
		}
		if err != nil {
			return nil, false, err
		}
	}
}

func (s *scanner) toolCalls(ev *event) error {
	null, err := s.typed("tool_calls", '[')
	if err != nil || null {
		return err
	}
	if err := s.open(); err != nil {
		return err
	}
	for n := 0; ; {
		more, err := s.more(&n, ']')
		if err != nil || !more {
			return err
		}
		ev.tokens = true
		if err := s.skip(); err != nil {
			return err
		}
	}
}

func (s *scanner) usage(ev *event) error {
	null, err := s.typed("usage", '{')
	if err != nil || null {
		return err
	}
	if err := s.open(); err != nil {
		return err
	}
	ev.usage = true
	for n := 0; ; {
		more, err := s.more(&n, '}')
		if err != nil || !more {
			return err
		}
		key, err := s.key()
		if err != nil {
			return err
		}
		switch string(key) {
		case "prompt_tokens":
			ev.prompt, _, err = s.intValue("usage.prompt_tokens")
		case "completion_tokens":
			ev.completion, _, err = s.intValue("usage.completion_tokens")
		case "prompt_tokens_details":
			err = s.details(ev, "cached_tokens")
		case "completion_tokens_details":
			err = s.details(ev, "reasoning_tokens")
		default:
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
}

// details reads usage.prompt_tokens_details (want "cached_tokens") or
// usage.completion_tokens_details (want "reasoning_tokens").
func (s *scanner) details(ev *event, want string) error {
	null, err := s.typed("usage details", '{')
	if err != nil || null {
		return err
	}
	if err := s.open(); err != nil {
		return err
	}
	for n := 0; ; {
		more, err := s.more(&n, '}')
		if err != nil || !more {
			return err
		}
		key, err := s.key()
		if err != nil {
			return err
		}
		if string(key) != want {
			err = s.skip()
		} else if want == "cached_tokens" {
			ev.cached, ev.hasCached, err = s.intValue("usage.prompt_tokens_details.cached_tokens")
		} else {
			ev.reasoningTokens, ev.hasReasoningTokens, err = s.intValue("usage.completion_tokens_details.reasoning_tokens")
		}
		if err != nil {
			return err
		}
	}
}

// errorValue reads "error": an object with message and type (vLLM, OpenAI), or a string (TGI).
func (s *scanner) errorValue(ev *event) error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	switch c {
	case 'n':
		return s.literal("null")
	case '"':
		raw, esc, err := s.str()
		if err == nil {
			ev.hasError, ev.errMessage = true, string(appendUnquoted(nil, raw, esc))
		}
		return err
	}
	null, err := s.typed("error", '{')
	if err != nil || null {
		return err
	}
	if err := s.open(); err != nil {
		return err
	}
	ev.hasError = true
	for n := 0; ; {
		more, err := s.more(&n, '}')
		if err != nil || !more {
			return err
		}
		key, err := s.key()
		if err != nil {
			return err
		}
		var raw []byte
		var esc bool
		switch string(key) {
		case "message":
			if raw, esc, _, err = s.stringValue(); err == nil {
				ev.errMessage = string(appendUnquoted(nil, raw, esc))
			}
		case "type":
			if raw, esc, _, err = s.stringValue(); err == nil {
				ev.errType = string(appendUnquoted(nil, raw, esc))
			}
		default:
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
}

// appendUnquoted appends the text of a JSON string body (checked by str) to dst, decoding
// escapes. Like encoding/json, it turns invalid UTF-8 and unpaired surrogates into U+FFFD.
func appendUnquoted(dst, raw []byte, esc bool) []byte {
	if !esc && utf8.Valid(raw) {
		return append(dst, raw...)
	}
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			switch raw[i+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(raw[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
						if d := utf16.DecodeRune(r, hex4(raw[i+2:])); d != utf8.RuneError {
							dst = utf8.AppendRune(dst, d)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, raw[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, raw[i:i+size]...)
			}
			i += size
		}
	}
	return dst
}

func hex4(b []byte) rune {
	return rune(unhex(b[0])<<12 | unhex(b[1])<<8 | unhex(b[2])<<4 | unhex(b[3]))
}
