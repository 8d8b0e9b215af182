package loadgen

import (
	"encoding/json"
	"testing"
)

// Issue 14 §1 item 5: cached_tokens the server never sent is not written as 0. Expected JSON by
// hand: inference-perf omits prompt_tokens_details when the usage block has none.
func TestCachedTokensUnreportedIsNotZero(t *testing.T) {
	const tok = "data: {\"choices\":[{\"text\":\"a\"}]}\n\n"
	without := readSSE(asked, []byte(tok+"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n"))
	with := readSSE(asked, []byte(tok+"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":1,\"prompt_tokens_details\":{\"cached_tokens\":16}}}\n\ndata: [DONE]\n\n"))
	if without.Err != nil || without.CachedTokens != nil {
		t.Fatalf("no prompt_tokens_details: err %v, cached %v, want nil", without.Err, without.CachedTokens)
	}
	if with.Err != nil || with.CachedTokens == nil || *with.CachedTokens != 16 {
		t.Fatalf("cached_tokens 16: err %v, cached %v", with.Err, with.CachedTokens)
	}

	usage := func(rec Record) string {
		var v struct {
			Info struct {
				ResponseMetrics struct {
					ServerUsage json.RawMessage `json:"server_usage"`
				} `json:"response_metrics"`
			} `json:"info"`
		}
		b, err := json.Marshal(perRequestRecord(&rec, nil))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		return string(v.Info.ResponseMetrics.ServerUsage)
	}
	if got, want := usage(without), `{"prompt_tokens":20,"completion_tokens":1,"total_tokens":21}`; got != want {
		t.Errorf("server_usage without cached_tokens:\n got  %s\n want %s", got, want)
	}
	if got, want := usage(with), `{"prompt_tokens":20,"completion_tokens":1,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":16}}`; got != want {
		t.Errorf("server_usage with cached_tokens:\n got  %s\n want %s", got, want)
	}

	promptTokens := func(recs ...Record) string {
		b, err := json.Marshal(summarize(recs, 5).promptTokens())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// Two requests of 20 prompt tokens: 40 in all; 16 + 16 = 32 cached, 8 uncached.
	for name, tc := range map[string]struct {
		got, want string
	}{
		"none reported": {promptTokens(without, without), `{"total":40,"cached":null,"uncached":null}`},
		"all reported":  {promptTokens(with, with), `{"total":40,"cached":32,"uncached":8}`},
		"some reported": {promptTokens(with, without), `{"total":40,"cached":null,"uncached":null}`},
	} {
		if tc.got != tc.want {
			t.Errorf("%s:\n got  %s\n want %s", name, tc.got, tc.want)
		}
	}
}
