//go:build !linux

package loadgen

import (
	"context"
	"net/http"
)

// evloop exists on Linux only; elsewhere every request goes through net/http.
type evloop struct{}

func newEvloop(context.Context, *sender, string, http.Header) (*evloop, error) { return nil, nil }

func (*evloop) close() {}

func (*evloop) send(context.Context, prompt, *Record) {}
