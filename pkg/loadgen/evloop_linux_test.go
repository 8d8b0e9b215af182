package loadgen

import (
	"context"
	"net/http"
	"testing"
)

// The event loop serves plain http:// only; everything else stays on net/http.
func TestEvloopOnlyForPlainHTTP(t *testing.T) {
	s := &sender{clock: func() float64 { return 0 }}
	for _, u := range []string{"https://127.0.0.1:8443/v1/completions", "unix:///tmp/x"} {
		if ev, err := newEvloop(context.Background(), s, u, http.Header{}); ev != nil || err != nil {
			t.Errorf("%s: got an event loop (%v)", u, err)
		}
	}
	// (A proxy in the environment also keeps net/http, but net/http reads the environment once per
	// process, so it is not switched on here: every later test would lose the event loop.)
	ev, err := newEvloop(context.Background(), s, "http://127.0.0.1:1/v1/completions", http.Header{})
	if err != nil || ev == nil {
		t.Fatalf("plain http: %v", err)
	}
	ev.close()
	if _, err := newEvloop(context.Background(), s, "http://no-such-host.invalid/v1/completions", http.Header{}); err == nil {
		t.Error("an unresolvable host must fail the run at once")
	}
}
