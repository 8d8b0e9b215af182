package results

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompareMatchesStagesAndMarksBeyondNoise(t *testing.T) {
	a, err := ReadDir(filepath.Join(fixtures, "inference-perf", "vllm"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ReadDir(filepath.Join(fixtures, "inference-perf", "vllm"))
	// b: the same run with TTFT 20% worse and throughput 3% better (within a 5% threshold).
	for i := range b.Stages {
		ttft := *b.Stages[i].Latency.TTFT.P50 * 1.2
		b.Stages[i].Latency.TTFT = &Dist{P50: &ttft}
		out := *b.Stages[i].Throughput.OutputTokensPerSec * 1.03
		b.Stages[i].Throughput.OutputTokensPerSec = &out
	}
	c, err := Compare([]*Report{a, b}, []string{"base", "new"}, CompareOptions{Stat: "p50", Threshold: 5})
	if err != nil {
		t.Fatal(err)
	}
	if c.Key != "requested_rate" || len(c.Rows) != len(a.Stages) {
		t.Fatalf("key %s, %d rows", c.Key, len(c.Rows))
	}
	for _, row := range c.Rows {
		ttft, out := row.Metrics["ttft_p50"], row.Metrics["output_tokens_per_sec"]
		if ttft.Verdict[1] != "worse" || *ttft.DeltaPct[1] < 19.99 || *ttft.DeltaPct[1] > 20.01 || ttft.Verdict[0] != "" {
			t.Errorf("rate %v: ttft %+v", row.Key, ttft)
		}
		if out.Verdict[1] != "" || *out.DeltaPct[1] < 2.99 || *out.DeltaPct[1] > 3.01 {
			t.Errorf("rate %v: a 3%% change under a 5%% threshold is noise: %+v", row.Key, out)
		}
	}
	// A better throughput beyond the threshold is marked better.
	c, _ = Compare([]*Report{a, b}, []string{"base", "new"}, CompareOptions{Stat: "p50", Threshold: 1})
	if v := c.Rows[0].Metrics["output_tokens_per_sec"].Verdict[1]; v != "better" {
		t.Errorf("verdict %q", v)
	}
	if _, err := Compare([]*Report{a}, nil, CompareOptions{}); err == nil {
		t.Error("one report cannot be compared")
	}
	if _, err := Compare([]*Report{a, b}, nil, CompareOptions{Stat: "p75"}); err == nil || !strings.Contains(err.Error(), "p75") {
		t.Errorf("got %v", err)
	}
	// Different sweeps share only some rates: the rest have a missing side, not a made-up match.
	q, _ := ReadDir(filepath.Join(fixtures, "inference-perf", "vllm-quantization"))
	c, _ = Compare([]*Report{a, q}, []string{"a", "q"}, CompareOptions{})
	missing := 0
	for _, row := range c.Rows {
		if row.Metrics["ttft_p50"].Values[0] == nil || row.Metrics["ttft_p50"].Values[1] == nil {
			missing++
		}
	}
	if missing == 0 || missing == len(c.Rows) {
		t.Errorf("%d of %d rows unmatched", missing, len(c.Rows))
	}
}

func TestCompareRefusesAnUnknownStat(t *testing.T) {
	a, err := ReadDir(filepath.Join(fixtures, "inference-perf", "vllm"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compare([]*Report{a, a}, []string{"a", "b"}, CompareOptions{Stat: "p95"})
	if !errors.Is(err, ErrUnknownStat) || err.Error() != `latency statistic "p95" is not one the comparison knows: use mean, p50, p90 or p99` {
		t.Errorf("error %v", err)
	}
}
