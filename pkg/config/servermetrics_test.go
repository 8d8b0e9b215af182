package config

import (
	"strings"
	"testing"
)

func TestServerMetricsOnlyInNativeProfiles(t *testing.T) {
	const profile = `
    load: {type: constant, stages: [{rate: 1, duration: 30}]}
    server_metrics: {interval_seconds: 5, targets: [{pod: sim-0, role: model-server, url: "http://10.0.0.5:8000/metrics"}]}`
	if _, _, err := mustParse(t, "c.yaml", sweepConfig(HarnessNative, profile)).Resolve(Options{}); err != nil {
		t.Errorf("native: %v", err)
	}
	_, _, err := mustParse(t, "c.yaml", sweepConfig(HarnessInferencePerf, profile)).Resolve(Options{})
	if err == nil || !strings.Contains(err.Error(), "server_metrics is read by the native generator only") {
		t.Errorf("inference-perf: %v, want server_metrics refused", err)
	}
}
