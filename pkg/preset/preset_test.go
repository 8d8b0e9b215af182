package preset

import (
	"testing"
	"time"
)

// The catalogue reads wait_timeout with config's parser: the values below are the presets'
// own lines (wait_timeout: 1200 / 6000 / 1800), read by hand.
func TestWaitTimeout(t *testing.T) {
	for name, want := range map[string]time.Duration{
		"inference-scheduling": 1200 * time.Second,
		"pd":                   6000 * time.Second,
		"wide-ep":              1800 * time.Second,
	} {
		p, err := Get(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.WaitTimeout != want || p.WaitTimeoutSeconds != int(want/time.Second) {
			t.Errorf("%s: wait timeout %v (%d s), want %v", name, p.WaitTimeout, p.WaitTimeoutSeconds, want)
		}
	}
}
