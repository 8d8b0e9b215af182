package loadgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// refEvent is the event's shape for encoding/json: the reference that parseEvent must agree with.
type refEvent struct {
	Object     string `json:"object"`
	TopMessage string `json:"message"`
	TopType    string `json:"type"`
	Choices    []struct {
		Text         string  `json:"text"`
		FinishReason *string `json:"finish_reason"`
		Delta        *struct {
			Content          string            `json:"content"`
			ReasoningContent string            `json:"reasoning_content"`
			Reasoning        string            `json:"reasoning"`
			ToolCalls        []json.RawMessage `json:"tool_calls"`
		} `json:"delta"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens        int `json:"prompt_tokens"`
		CompletionTokens    int `json:"completion_tokens"`
		PromptTokensDetails *struct {
			CachedTokens *int `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
		CompletionTokensDetails *struct {
			ReasoningTokens *int `json:"reasoning_tokens"`
		} `json:"completion_tokens_details"`
	} `json:"usage"`
	Error     *refError `json:"error"`
	ErrorType string    `json:"error_type"`
}

// refError is an error object ({"message", "type"}) or a string (TGI).
type refError struct{ Message, Type string }

func (e *refError) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &e.Message)
	}
	var o struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	}
	err := json.Unmarshal(b, &o)
	e.Message, e.Type = o.Message, o.Type
	return err
}

// outcome is what both parsers must agree on.
type outcome struct {
	Valid                                bool
	Tokens                               bool
	Text                                 string
	Usage                                bool
	Prompt, Completion, Cached           int
	HasReasoningTokens                   bool
	ReasoningTokens                      int
	HasError                             bool
	ErrType, ErrMessage, ErrTypeTopLevel string
	Finished, HasCached                  bool
	TopMessage, TopType                  string
}

func referenceOutcome(data []byte) outcome {
	var r refEvent
	if json.Unmarshal(data, &r) != nil {
		return outcome{}
	}
	o := outcome{Valid: true, TopMessage: r.TopMessage, TopType: r.TopType}
	var text strings.Builder
	for _, c := range r.Choices {
		if c.FinishReason != nil {
			o.Finished = true
		}
		text.WriteString(c.Text)
		if c.Text != "" {
			o.Tokens = true
		}
		if d := c.Delta; d != nil {
			text.WriteString(d.Content)
			if d.Content != "" || d.ReasoningContent != "" || d.Reasoning != "" || len(d.ToolCalls) > 0 {
				o.Tokens = true
			}
		}
	}
	o.Text = text.String()
	if u := r.Usage; u != nil {
		o.Usage, o.Prompt, o.Completion = true, u.PromptTokens, u.CompletionTokens
		if d := u.PromptTokensDetails; d != nil && d.CachedTokens != nil {
			o.HasCached, o.Cached = true, *d.CachedTokens
		}
		if d := u.CompletionTokensDetails; d != nil && d.ReasoningTokens != nil {
			o.HasReasoningTokens, o.ReasoningTokens = true, *d.ReasoningTokens
		}
		// A deliberate difference: parseEvent refuses a negative token count.
		if o.Prompt < 0 || o.Completion < 0 || o.Cached < 0 || o.ReasoningTokens < 0 {
			return outcome{}
		}
	}
	if r.Error != nil {
		o.HasError, o.ErrType, o.ErrMessage = true, r.Error.Type, r.Error.Message
	}
	o.ErrTypeTopLevel = r.ErrorType
	if r.Object == "error" && r.Error == nil {
		// vLLM's top-level error object.
		o.HasError, o.ErrType, o.ErrMessage = true, r.TopType, r.TopMessage
	}
	return o
}

func parserOutcome(data []byte) (outcome, error) {
	var ev event
	var text []byte
	if err := parseEvent(data, &ev, &text); err != nil {
		return outcome{}, err
	}
	return outcome{
		Valid: true, Tokens: ev.tokens, Text: string(text),
		Usage: ev.usage, Prompt: ev.prompt, Completion: ev.completion, Cached: ev.cached,
		HasReasoningTokens: ev.hasReasoningTokens, ReasoningTokens: ev.reasoningTokens,
		HasError: ev.hasError, ErrType: ev.errType, ErrMessage: ev.errMessage, ErrTypeTopLevel: ev.errTypeTop,
		Finished: ev.finished, HasCached: ev.hasCached, TopMessage: ev.topMessage, TopType: ev.topType,
	}, nil
}

// fieldNames are the keys parseEvent reads.
var fieldNames = []string{"choices", "text", "delta", "content", "reasoning_content", "reasoning", "tool_calls",
	"usage", "prompt_tokens", "completion_tokens", "prompt_tokens_details", "cached_tokens",
	"completion_tokens_details", "reasoning_tokens", "error", "error_type", "message", "type", "object", "finish_reason"}

// outsideContract reports inputs where parseEvent departs from encoding/json on purpose (see
// parseEvent): an object with a repeated key, or a key that matches a field only when case is
// folded (encoding/json's case-insensitive match, which no server relies on).
func outsideContract(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object bool
		keys   map[string]bool
		expect bool // the next token of an object is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expect {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return true
				}
				top.keys[k] = true
				for _, f := range fieldNames {
					if k != f && strings.EqualFold(k, f) {
						return true
					}
				}
				top.expect = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, expect: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].expect = true // a value ended: a key comes next
		}
	}
}

// eventSeeds are events of the field and of the formats' documentation.
var eventSeeds = []string{
	// case 17: Python json.dumps default spacing (testdata/sse-json-with-spaces.txt)
	`{"id": "x", "object": "text_completion", "model": "test/model", "choices": [{"index": 0, "text": "tok ", "finish_reason": null}]}`,
	`{"id": "x", "object": "text_completion", "model": "test/model", "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 2, "total_tokens": 22}}`,
	// vLLM compact, with usage null and a final usage block
	`{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" Paris","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":null}`,
	`{"id":"cmpl-1","choices":[],"usage":{"prompt_tokens":7,"total_tokens":11,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":3}}}`,
	// chat: role chunk, content, reasoning (vLLM reasoning parser, Qwen3), tool call
	`{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`,
	`{"choices":[{"index":0,"delta":{"content":"hi"}}]}`,
	`{"choices":[{"index":0,"delta":{"reasoning_content":"Okay, the user"}}]}`,
	`{"choices":[{"delta":{"reasoning":"Let me think","content":null}}]}`,
	`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}`,
	`{"choices":[{"delta":{"tool_calls":[]}}]}`,
	`{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":300,"completion_tokens_details":{"reasoning_tokens":250}}}`,
	`{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"completion_tokens_details":{"reasoning_tokens":null}}}`,
	// escapes, surrogate pairs, unpaired surrogates, invalid UTF-8
	`{"choices":[{"text":"\ud83d\ude00 \u00e9\n\"q\"\\\/\b\f\r\t"}]}`,
	`{"choices":[{"text":"\ud83d alone \ude00 low \ud83d\u0041"}]}`,
	"{\"choices\":[{\"text\":\"bad \xff\xfe utf8 \xe2\x82\"}]}",
	`{"ch\u006fices":[{"t\u0065xt":"escaped keys"}]}`,
	// errors: vLLM/OpenAI object, TGI string, null
	`{"error":{"object":"error","message":"max_tokens is too large","type":"BadRequestError","param":null,"code":400}}`,
	`{"error":"Input validation error: inputs tokens + max_new_tokens must be <= 4096","error_type":"validation"}`,
	`{"error":null,"choices":[{"text":"a"}]}`,
	`{"object":"error","message":"engine dead","type":"InternalServerError","param":null,"code":500}`,
	`{"object":"error","error":{"message":"inner"},"message":"outer"}`,
	`{"object":5}`,
	`{"object":"\u0065rror","message":"m"}`,
	`{"choices":[{"text":"a","finish_reason":"stop"}]}`,
	`{"choices":[{"text":"a","finish_reason":1}]}`,
	`{"usage":{"prompt_tokens":-5,"completion_tokens":1}}`,
	`{"usage":{"completion_tokens_details":{"reasoning_tokens":-1}}}`,
	// whitespace everywhere, null event, numbers
	" \t\r\n{ \"choices\" :\n[ { \"text\" : \"a\" } ] , \"usage\" : { \"prompt_tokens\" : -0 , \"completion_tokens\" : 9223372036854775807 } }\n ",
	`null`,
	`{"x":[1.5e-3,-0,0.0,1E+9,true,false,null,{"a":[[]]}],"choices":null,"usage":null}`,
	// invalid: syntax, types, truncation, trailing data
	`{"choices":[{"text":"unterminated`,
	`{"choices":[{"text":5}]}`,
	`{"usage":{"prompt_tokens":1.0}}`,
	`{"usage":{"prompt_tokens":1e2}}`,
	`{"usage":{"prompt_tokens":99999999999999999999}}`,
	`{"choices":{}}`,
	`{"choices":[1]}`,
	`{"error":5}`,
	`{"a":1}{"b":2}`,
	`{"a":1,}`,
	`{"a" 1}`,
	`{'a':1}`,
	`{"a":01}`,
	`{"a":"\x"}`,
	`{"a":"\u12G4"}`,
	"{\"a\":\"tab\there\"}",
	`[DONE]`,
	`"text"`,
	`{"a":tru}`,
	``,
}

func TestParseEventAgreesWithEncodingJSONOnSeeds(t *testing.T) {
	for _, s := range eventSeeds {
		checkAgainstEncodingJSON(t, []byte(s))
	}
}

func FuzzEventParse(f *testing.F) {
	for _, s := range eventSeeds {
		f.Add([]byte(s))
	}
	stream, err := os.ReadFile("testdata/sse-json-with-spaces.txt")
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range bytes.Split(stream, []byte("\n")) {
		if d, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			f.Add(d)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkAgainstEncodingJSON(t, data) })
}

func checkAgainstEncodingJSON(t *testing.T, data []byte) {
	t.Helper()
	if outsideContract(data) {
		return
	}
	want := referenceOutcome(data)
	got, err := parserOutcome(data)
	if got != want {
		t.Errorf("%q:\n parseEvent    %+v (%v)\n encoding/json %+v", data, got, err, want)
	}
	if !got.Valid {
		var se *eventSyntaxError
		if !errors.As(err, &se) && err != errEventIncomplete {
			t.Errorf("%q: error %v of an unexpected kind", data, err)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %q is not one line", data, err)
		}
	}
}

// Values by hand from the case-17 stream and the formats' documentation.
func TestParseEventReadsEachFieldAndPlace(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want outcome
	}{
		{`{"id": "x", "choices": [{"index": 0, "text": "tok ", "finish_reason": null}]}`,
			outcome{Valid: true, Tokens: true, Text: "tok "}},
		{`{"choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 2, "total_tokens": 22}}`,
			outcome{Valid: true, Usage: true, Prompt: 20, Completion: 2}},
		{`{"choices":[{"delta":{"role":"assistant","content":""}}]}`, outcome{Valid: true}},
		{`{"choices":[{"delta":{"reasoning_content":"Hmm"}}]}`, outcome{Valid: true, Tokens: true}},
		{`{"choices":[{"delta":{"reasoning":"Hmm"}}]}`, outcome{Valid: true, Tokens: true}},
		{`{"choices":[{"delta":{"tool_calls":[{"index":0}]}}]}`, outcome{Valid: true, Tokens: true}},
		{`{"choices":[{"delta":{"tool_calls":[]}}]}`, outcome{Valid: true}},
		{`{"usage":{"prompt_tokens":12,"completion_tokens":300,"prompt_tokens_details":{"cached_tokens":8},"completion_tokens_details":{"reasoning_tokens":250}}}`,
			outcome{Valid: true, Usage: true, Prompt: 12, Completion: 300, Cached: 8, HasCached: true, HasReasoningTokens: true, ReasoningTokens: 250}},
		// 😀 is U+1F600 = F0 9F 98 80 in UTF-8; a lone high surrogate is U+FFFD = EF BF BD.
		{`{"choices":[{"text":"\ud83d\ude00|\ud83d|\u00e9"}]}`, outcome{Valid: true, Tokens: true, Text: "\xf0\x9f\x98\x80|\xef\xbf\xbd|\xc3\xa9"}},
		{`{"choices":[{"text":"a","delta":{"content":"b"}},{"text":"c"}]}`, outcome{Valid: true, Tokens: true, Text: "abc"}},
		{`{"error": {"message": "boom", "type": "InternalServerError", "code": 500}}`,
			outcome{Valid: true, HasError: true, ErrType: "InternalServerError", ErrMessage: "boom"}},
		{`{"error":"overloaded","error_type":"generation"}`,
			outcome{Valid: true, HasError: true, ErrMessage: "overloaded", ErrTypeTopLevel: "generation"}},
		// vLLM's top-level error object sent as an event (issue 14 §1).
		{`{"object":"error","message":"engine dead","type":"InternalServerError","param":null,"code":500}`,
			outcome{Valid: true, HasError: true, ErrType: "InternalServerError", ErrMessage: "engine dead", TopMessage: "engine dead", TopType: "InternalServerError"}},
		{`{"object":"text_completion","message":"not an error"}`, outcome{Valid: true, TopMessage: "not an error"}},
		{`{"choices":[{"text":"","finish_reason":"stop"}]}`, outcome{Valid: true, Finished: true}},
		{`{"choices":[{"text":"a","finish_reason":null}]}`, outcome{Valid: true, Tokens: true, Text: "a"}},
		{`{"usage":{"prompt_tokens":3,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":null}}}`,
			outcome{Valid: true, Usage: true, Prompt: 3, Completion: 1}},
		{`{"usage":{"prompt_tokens":3,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":0}}}`,
			outcome{Valid: true, Usage: true, Prompt: 3, Completion: 1, HasCached: true}},
	} {
		got, err := parserOutcome([]byte(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("%s:\n got  %+v (%v)\n want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseEventTellsIncompleteFromInvalid(t *testing.T) {
	for _, in := range []string{`{"choices": [`, `{"choices":[{"text":"to`, `{"usage":{"prompt_tokens":12`, `{"a":tr`, `{"a":"\u00`, ` `, `{`} {
		if _, err := parserOutcome([]byte(in)); err != errEventIncomplete {
			t.Errorf("%q: %v, want incomplete", in, err)
		}
	}
	for in, want := range map[string]string{
		`{"choices": 5, `:                    "choices is not an array at byte 12",
		`{"a":1} x`:                          "data after the JSON value at byte 8",
		`{"a":[1 2]}`:                        "missing ',' or closing bracket at byte 8",
		`{"usage":{"prompt_tokens":2.5}}`:    "usage.prompt_tokens is not an integer at byte 26",
		`{"usage":{"prompt_tokens":-5}}`:     "usage.prompt_tokens is negative at byte 26",
		`{"usage":{"completion_tokens":-1}}`: "usage.completion_tokens is negative at byte 30",
		`{"usage":{"prompt_tokens_details":{"cached_tokens":-2}}}`: "usage.prompt_tokens_details.cached_tokens is negative at byte 51",
		"{\"a\":\"\x01\"}": "control character in a string at byte 6",
	} {
		if _, err := parserOutcome([]byte(in)); err == nil || err.Error() != want {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}
