package results

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseCapacitySLOs(t *testing.T) {
	got, err := ParseCapacitySLOs("ttft_p90=500ms, tpot_p90=50ms,e2e_p99=10s,itl_mean=20ms,errors=1%")
	if err != nil {
		t.Fatal(err)
	}
	want := []CapacitySLO{
		{Spec: "ttft_p90=500ms", Metric: "ttft", Percentile: 90, Limit: 0.5},
		{Spec: "tpot_p90=50ms", Metric: "tpot", Percentile: 90, Limit: 0.05},
		{Spec: "e2e_p99=10s", Metric: "e2e", Percentile: 99, Limit: 10},
		{Spec: "itl_mean=20ms", Metric: "itl", Percentile: 0, Limit: 0.02},
		{Spec: "errors=1%", Metric: "errors", Limit: 0.01},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	for _, bad := range []string{"", "ttft=500ms", "ttft_p95=500ms", "foo_p90=1s", "ttft_p90=0s", "ttft_p90=fast",
		"errors=1", "errors=100%", "errors=-1%", "ttft_p90", "ttft_p90=1s,ttft_p90=2s"} {
		if _, err := ParseCapacitySLOs(bad); !errors.Is(err, ErrCapacitySLO) {
			t.Errorf("%q: got %v, want ErrCapacitySLO", bad, err)
		}
	}
}

func TestJudgeCapacity(t *testing.T) {
	slos, err := ParseCapacitySLOs("ttft_p90=500ms,e2e_mean=2s,tpot_p99=50ms,errors=1%")
	if err != nil {
		t.Fatal(err)
	}
	lat := Latency{TTFT: &Dist{P90: f64(0.5)}, E2E: &Dist{Mean: f64(2.5)}}
	// 1 failed of 200: 0.5% <= 1%. TTFT p90 exactly at the limit passes; no TPOT measured fails.
	got := JudgeCapacity(slos, lat, &Requests{Succeeded: 199, Failed: 1})
	want := []CapacityVerdict{{Value: f64(0.5), Pass: true}, {Value: f64(2.5), Pass: false}, {Value: nil, Pass: false}, {Value: f64(0.005), Pass: true}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if v := JudgeCapacity(slos[3:], lat, &Requests{}); v[0].Value != nil || v[0].Pass {
		t.Errorf("no request: got %+v, want an unmeasured failing verdict", v[0])
	}
	for v, want := range map[float64]string{0.812: "812 ms", 0.12774826590000005: "127.7 ms", 0.0004567: "0.457 ms"} {
		if got := slos[0].Format(v); got != want {
			t.Errorf("Format(%g) = %q, want %q", v, got, want)
		}
	}
	if l := slos[0].Stat() + " " + slos[1].Stat() + " " + slos[3].Stat() + " " + slos[3].Format(0.015); l != "TTFT p90 E2E mean errors 1.5%" {
		t.Errorf("labels %q", l)
	}
}

func TestPerRequestSLOs(t *testing.T) {
	slos, err := ParseCapacitySLOs("ttft_p90=500ms,ttft_p99=1s,e2e_mean=3s,errors=5%")
	if err != nil {
		t.Fatal(err)
	}
	lim := PerRequestSLOs(slos)
	if !reflect.DeepEqual(lim, SLOs{"ttft": 0.5, "e2e": 3}) {
		t.Fatalf("limits %v", lim)
	}
	// Chunks at 10.4, 10.5, 11.0 for a request started at 10: TTFT 0.4 s, E2E 1.2 s (end 11.2).
	ok := RequestTiming{Start: 10, End: 11.2, TokenTimes: []float64{10.4, 10.5, 11.0}, OutputTokens: 3}
	if !lim.Meets(ok) {
		t.Error("TTFT 400 ms, E2E 1.2 s should meet ttft 500 ms, e2e 3 s")
	}
	late := ok
	late.TokenTimes = []float64{10.6, 10.7, 11.0} // TTFT 600 ms
	failed := ok
	failed.Failed = true
	noTimes := ok
	noTimes.TokenTimes = nil
	for name, r := range map[string]RequestTiming{"late": late, "failed": failed, "no chunk times": noTimes} {
		if lim.Meets(r) {
			t.Errorf("%s: met the limits", name)
		}
	}
}
