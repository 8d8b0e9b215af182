package loadgen

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
)

// No tokenizer can be downloaded where the generator runs, so prompts are built from words that
// BPE tokenizers of the common model families (Llama, Qwen, GPT-OSS, DeepSeek) encode as exactly
// one token each when preceded by a space, and the vLLM simulator's tokenizer counts one per word:
// a prompt of N words is about N tokens. The server's usage block, which the generator always
// asks for, is the truth that the reports use; the word count is only the request's target.
var vocabulary = strings.Fields(`the of and to in is was for on that with as it by at from his
an be are this which or had not but were have one all their they has been more she new other can
after first time two would who will its some there them also than into only over when made about
year out most people up may any world city such these where part used during many later before
under while state school life name work day both each well three back how should being high long
end between since small group water house game play home open line side form book order voice
music road light power system great hand point field place early still team case run number`)

// prompt is one request's input, ready to send.
type prompt struct {
	body         []byte // the JSON request body, built once and reused when prompts cycle
	inputTokens  int    // the word count, i.e. the approximate prompt length in tokens
	outputTokens int    // max_tokens
	modelEnd     int    // body[:modelEnd] is `{"model":"<name>"`, the body's first field
}

// withModel returns the prompt with its body's model replaced by the one that modelField
// (`{"model":"<name>"`, see modelField) names: a LoRA adapter, say. The body is copied.
func (p prompt) withModel(field []byte) prompt {
	body := make([]byte, 0, len(field)+len(p.body)-p.modelEnd)
	p.body = append(append(body, field...), p.body[p.modelEnd:]...)
	p.modelEnd = len(field)
	return p
}

// modelField is the start of a request body naming model.
func modelField(model string) []byte {
	name, _ := json.Marshal(model) // a string: cannot fail
	return append([]byte(`{"model":`), name...)
}

// promptSource hands out prompts in a fixed, seeded order, cycling when it runs out.
type promptSource struct {
	prompts []prompt
	next    int
}

func (s *promptSource) take() prompt {
	p := s.prompts[s.next%len(s.prompts)]
	s.next++
	return p
}

func words(rng *rand.Rand, n int) string {
	var b strings.Builder
	b.Grow(n * 6)
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(vocabulary[rng.IntN(len(vocabulary))])
	}
	return b.String()
}

// sample draws from a normal distribution truncated to [min, max], as inference-perf's
// random data does for its default (normal) distribution.
func sample(rng *rand.Rand, d Distribution) int {
	if d.Type == DistFixed {
		return int(d.Mean) // inference-perf: int(mean), truncated
	}
	if d.deviation() == 0 {
		return int(math.Round(d.Mean))
	}
	for range 100 {
		v := int(math.Round(rng.NormFloat64()*d.deviation() + d.Mean))
		if v >= d.Min && v <= d.Max {
			return v
		}
	}
	return int(math.Round(d.Mean))
}

// newPromptSource builds every prompt up front, so sending a request costs no generation work
// and the schedule is never delayed by it.
func newPromptSource(w *Workload, seed int64) *promptSource {
	if sp := w.Data.SharedPrefix; w.Data.Type == DataSharedPrefix && sp.Seed != nil {
		seed = *sp.Seed
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6c6c6d64))
	// After Split, the whole data set is drawn (the same on every launcher) and this launcher
	// keeps its part: prompts, or shared-prefix groups, whose number is its index modulo the count.
	mine := func(int) bool { return true }
	if sh := w.share; sh != nil {
		mine = func(i int) bool { return i%sh.count == sh.index }
	}
	var ps []prompt
	switch w.Data.Type {
	case DataRandom:
		for i := range randomPrompts(w.Data) {
			in := sample(rng, *w.Data.InputDistribution)
			out := sample(rng, *w.Data.OutputDistribution)
			text := words(rng, in)
			if mine(i) {
				ps = append(ps, newPrompt(w, "", text, in, out))
			}
		}
	case DataSharedPrefix:
		sp := w.Data.SharedPrefix
		for g := range sp.NumGroups {
			system := words(rng, sp.SystemPromptLen)
			for range sp.NumPromptsPerGroup {
				question := words(rng, sp.QuestionLen)
				if mine(g) {
					ps = append(ps, newPrompt(w, system, question, sp.SystemPromptLen+sp.QuestionLen, sp.OutputLen))
				}
			}
		}
		// Groups interleave in the send order, as they do when many users share a few prefixes.
		rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
	}
	return &promptSource{prompts: ps}
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type requestBody struct {
	Model         string         `json:"model"`
	Prompt        string         `json:"prompt,omitempty"`
	Messages      []chatMessage  `json:"messages,omitempty"`
	MaxTokens     int            `json:"max_tokens"`
	Stream        bool           `json:"stream"`
	StreamOptions *streamOptions `json:"stream_options,omitempty"`
	IgnoreEOS     bool           `json:"ignore_eos,omitempty"`
}

func newPrompt(w *Workload, system, text string, inputTokens, outputTokens int) prompt {
	body := requestBody{Model: w.Server.ModelName, MaxTokens: outputTokens, Stream: w.API.Streaming, IgnoreEOS: w.Server.IgnoreEOS}
	if w.API.Streaming {
		// The usage block is the token-count truth: the generator has no tokenizer.
		body.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	switch w.API.Type {
	case APIChat:
		if system != "" {
			body.Messages = append(body.Messages, chatMessage{Role: "system", Content: system})
		}
		body.Messages = append(body.Messages, chatMessage{Role: "user", Content: text})
	default:
		if system != "" {
			text = system + " " + text
		}
		body.Prompt = text
	}
	raw, err := json.Marshal(body)
	if err != nil {
		panic(err) // strings and ints only: cannot fail
	}
	// Model is requestBody's first field, so the body starts with it (withModel relies on it).
	field := modelField(w.Server.ModelName)
	if !bytes.HasPrefix(raw, field) {
		panic("request body does not start with its model")
	}
	return prompt{body: raw, inputTokens: inputTokens, outputTokens: outputTokens, modelEnd: len(field)}
}
